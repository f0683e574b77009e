//! Produce-path validation cost per codec: the header + CRC check alone (what the produce path did before
//! records were walked) against header + CRC + Kafka's `LogValidator` walk (`weir::log::validate`), on
//! the same batch in the same run.
//!
//! Run: `cargo bench --bench validate`. Batches: 64 records of ~1 KiB JSON-like values (half random hex,
//! half repeated text: compresses ~2–3×), each codec as the Java client frames it (snappy: xerial).

use std::time::Duration;

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::Rng;
use weir::log::batch::{
    assemble_batch, check_batch, compress, encode_record, validate_batches, Compression,
};
use weir::log::validate::{validate_batch, Origin, PartitionName, Rules};

const NOW: i64 = 1_700_000_000_000;
const RECORDS: i32 = 64;

fn section() -> BytesMut {
    let mut rng = rand::rng();
    let mut body = BytesMut::new();
    for i in 0..RECORDS {
        let hex: String = (0..256)
            .map(|_| format!("{:02x}", rng.random::<u8>()))
            .collect();
        let value = format!(
            "{{\"id\":{i},\"user\":\"user-{}\",\"payload\":\"{hex}\",\"note\":\"{}\"}}",
            i % 7,
            "the quick brown fox jumps over the lazy dog ".repeat(10)
        );
        let key = format!("key-{i}");
        encode_record(
            &mut body,
            i,
            i64::from(i),
            Some(key.as_bytes()),
            Some(value.as_bytes()),
            &[],
        );
    }
    body
}

fn validation(c: &mut Criterion) {
    let body = section();
    let rules = Rules {
        compacted: false,
        log_append_time: false,
        timestamp_before_max_ms: i64::MAX,
        timestamp_after_max_ms: i64::MAX,
        now_ms: NOW,
    };
    let mut g = c.benchmark_group("validate_64x1k");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    // Throughput is the uncompressed records section, so codecs compare per byte of record data.
    g.throughput(Throughput::Bytes(body.len() as u64));
    for codec in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let data = compress(codec, &body).expect("compress");
        let b = assemble_batch(
            &data,
            RECORDS,
            RECORDS - 1,
            NOW,
            NOW + i64::from(RECORDS) - 1,
            -1,
            -1,
            -1,
            codec.attribute_bits(),
        );
        let name = format!("{codec:?}").to_lowercase();
        g.bench_with_input(BenchmarkId::new("crc_only", &name), &b, |bench, b| {
            bench.iter(|| validate_batches(b, 1 << 20).expect("valid"))
        });
        g.bench_with_input(
            BenchmarkId::new("crc_and_records", &name),
            &b,
            |bench, b| {
                bench.iter(|| {
                    validate_batches(b, 1 << 20).expect("valid");
                    let h = check_batch(b).expect("valid");
                    validate_batch(&h, b, Origin::Client, &rules, PartitionName("t", 0))
                        .expect("valid")
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, validation);
criterion_main!(benches);
