//! The produce-path batch validator: arbitrary bytes as a partition's records. Header/CRC checks, then
//! Kafka's LogValidator walk (with the CRC check bypassed half the time by re-signing the input, so the
//! fuzzer reaches the record walk and the decompressors), then the cleaner's record iterator.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use weir::log::batch::{check_batch, compute_crc, validate_batches, BatchRecords};
use weir::log::validate::{validate_batch, Origin, PartitionName, Rules};

fuzz_target!(|data: &[u8]| {
    let mut buf = data.to_vec();
    // Re-sign the first batch when the input asks for it (first byte odd): its CRC then matches.
    if buf.first().is_some_and(|b| b & 1 == 1) && buf.len() >= 61 {
        let crc = compute_crc(&buf);
        buf[17..21].copy_from_slice(&crc.to_be_bytes());
    }
    let rules = Rules {
        compacted: buf.len() % 3 == 0,
        log_append_time: buf.len() % 5 == 0,
        timestamp_before_max_ms: 3_600_000,
        timestamp_after_max_ms: i64::MAX,
        now_ms: 1_700_000_000_000,
    };
    if let Ok(headers) = validate_batches(&buf, 1 << 20) {
        let mut at = 0;
        for h in headers {
            let len = h.total_len();
            let batch = &buf[at..at + len];
            if validate_batch(&h, batch, Origin::Client, &rules, PartitionName("t", 0)).is_ok() {
                // What the validator accepts, the cleaner must be able to iterate.
                let records = BatchRecords::new(&Bytes::copy_from_slice(batch)).expect("iterable");
                for r in records {
                    r.expect("a validated batch has well-formed records");
                }
            }
            at += len;
        }
    }
    if check_batch(&buf).is_ok() {
        if let Ok(it) = BatchRecords::new(&Bytes::from(buf)) {
            for r in it {
                let _ = r;
            }
        }
    }
});
