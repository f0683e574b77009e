//! Log store benchmarks: append vs raw sequential write (same bytes, same disk, same run), read
//! throughput, reads at the tail, offset-index lookup, and acks=all group-commit throughput with concurrent appenders.
//!
//! Run: `cargo bench --bench log_store`. Files go under `target/bench-data` (the same disk as the build).

use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use weir::log::batch::{build_batch, KeyValue};
use weir::log::index::OffsetIndex;
use weir::log::{LogConfig, LogStore, StoreOptions};

/// 16 records of 1 KiB: one ~16 KiB batch.
fn batch_16k() -> Bytes {
    let value = vec![0xabu8; 1024];
    let recs: Vec<KeyValue<'_>> = (0..16).map(|_| (None, Some(&value[..]))).collect();
    build_batch(&recs, 1_700_000_000_000, -1, -1, -1, 0)
}

/// Batches per iteration of the append benchmarks (4 MiB).
const BATCHES_PER_ITER: usize = 256;

fn bench_dir() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("bench-data");
    std::fs::create_dir_all(&root).expect("bench dir");
    root
}

fn store(dir: &std::path::Path, durable: bool) -> Arc<LogStore> {
    let mut o = StoreOptions::new(dir);
    o.durable_acks_all = durable;
    // The raw writer beside it never trims its page cache (its file is deleted before writeback), so
    // neither does the store here: the comparison is of the append path alone.
    o.page_cache_window_bytes = 0;
    LogStore::open(o).expect("open")
}

fn append_vs_raw(c: &mut Criterion) {
    let b = batch_16k();
    let mut g = c.benchmark_group("append_16k_batches");
    g.sample_size(10).measurement_time(Duration::from_secs(6));
    g.throughput(Throughput::Bytes((b.len() * BATCHES_PER_ITER) as u64));
    g.bench_function("raw_pwrite", |bench| {
        bench.iter_custom(|iters| {
            let dir = tempfile::tempdir_in(bench_dir()).expect("tmp");
            let f = std::fs::File::create(dir.path().join("raw.log")).expect("file");
            let mut pos = 0u64;
            let start = Instant::now();
            for _ in 0..iters {
                for _ in 0..BATCHES_PER_ITER {
                    f.write_all_at(&b, pos).expect("write");
                    pos += b.len() as u64;
                }
            }
            start.elapsed()
        })
    });
    g.bench_function("log_append", |bench| {
        bench.iter_custom(|iters| {
            let dir = tempfile::tempdir_in(bench_dir()).expect("tmp");
            let s = store(dir.path(), false);
            let log = s
                .get_or_create("bench", 0, LogConfig::default())
                .expect("create");
            let start = Instant::now();
            for _ in 0..iters {
                for _ in 0..BATCHES_PER_ITER {
                    log.append(b.clone(), 0).expect("append");
                }
            }
            let t = start.elapsed();
            drop(log);
            drop(s);
            t
        })
    });
    g.finish();
}

fn read_throughput(c: &mut Criterion) {
    let b = batch_16k();
    let dir = tempfile::tempdir_in(bench_dir()).expect("tmp");
    let s = store(dir.path(), false);
    let log = s
        .get_or_create("read", 0, LogConfig::default())
        .expect("create");
    let batches = 64 * 1024 * 1024 / b.len();
    for _ in 0..batches {
        log.append(b.clone(), 0).expect("append");
    }
    let end = log.offsets().log_end;
    let total_bytes = (batches * b.len()) as u64;
    let mut g = c.benchmark_group("read");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Bytes(total_bytes));
    g.bench_function("sequential_1MiB_fetches_64MiB", |bench| {
        bench.iter(|| {
            let mut next = 0;
            let mut n = 0usize;
            while next < end {
                let r = log.read(next, 1 << 20).expect("read");
                n += r.records.len();
                next += (r.records.len() / b.len()) as i64 * 16;
            }
            n
        })
    });
    g.finish();
    let mut g = c.benchmark_group("lookup");
    g.bench_function("read_1_batch_at_random_offset", |bench| {
        let mut x = 12345u64;
        bench.iter(|| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let o = (x >> 33) as i64 % end;
            log.read(o, 1).expect("read").records.len()
        })
    });
    // A tailing consumer: 1 KiB single-record batches (a `linger.ms=0` producer), each read at one of the
    // last four offsets, as a consumer polling right behind the producer asks.
    let tail = s
        .get_or_create("tail", 0, LogConfig::default())
        .expect("create");
    let value = vec![0xcdu8; 1024];
    let one = build_batch(
        &[(None, Some(&value[..]))],
        1_700_000_000_000,
        -1,
        -1,
        -1,
        0,
    );
    for _ in 0..4096 {
        tail.append(one.clone(), 0).expect("append");
    }
    let tail_end = tail.offsets().log_end;
    g.bench_function("read_at_tail_1KiB_batches", |bench| {
        let mut k = 0i64;
        bench.iter(|| {
            k = (k + 1) % 4;
            tail.read(tail_end - 1 - k, 1 << 20)
                .expect("read")
                .records
                .len()
        })
    });
    let mut idx = OffsetIndex::new(0, 1 << 20);
    for i in 0..262_144u32 {
        idx.append(i64::from(i) * 16 + 15, (i + 1) * 4096);
    }
    g.bench_function("offset_index_lookup_262k_entries", |bench| {
        let mut x = 987u64;
        bench.iter(|| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            idx.lookup((x >> 33) as i64 % (262_144 * 16))
        })
    });
    g.finish();
}

fn group_commit(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("rt");
    let value = vec![7u8; 1024];
    let recs: Vec<KeyValue<'_>> = vec![(None, Some(&value[..]))];
    let one = build_batch(&recs, 0, -1, -1, -1, 0);
    let mut g = c.benchmark_group("acks_all_group_commit");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    for producers in [1usize, 16, 64] {
        // Each iteration: every producer appends one 1 KiB batch and awaits durability.
        g.throughput(Throughput::Elements(producers as u64));
        g.bench_with_input(
            BenchmarkId::from_parameter(producers),
            &producers,
            |bench, &producers| {
                let dir = tempfile::tempdir_in(bench_dir()).expect("tmp");
                let s = store(dir.path(), true);
                let log = s
                    .get_or_create("gc", 0, LogConfig::default())
                    .expect("create");
                bench.to_async(&rt).iter(|| {
                    let log = log.clone();
                    let one = one.clone();
                    async move {
                        let mut tasks = Vec::with_capacity(producers);
                        for _ in 0..producers {
                            let log = log.clone();
                            let one = one.clone();
                            tasks.push(tokio::spawn(async move {
                                let info = log.append(one, 0).expect("append");
                                log.wait_durable(info.last_offset, info.leader_epoch)
                                    .await
                                    .expect("durable");
                            }));
                        }
                        for t in tasks {
                            t.await.expect("join");
                        }
                    }
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, append_vs_raw, read_throughput, group_commit);
criterion_main!(benches);
