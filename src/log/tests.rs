//! Tests of the whole store: append/read, rolls, recovery, producer state, retention, durability.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use proptest::prelude::*;

use super::batch::{build_batch, split_batches, BatchHeader, BatchRecords};
use super::*;

fn opts(dir: &std::path::Path) -> StoreOptions {
    StoreOptions::new(dir)
}

/// A batch of `n` records with values "v<i>" and keys "k<i % keys>".
fn batch(n: usize, ts: i64) -> Bytes {
    let vals: Vec<Vec<u8>> = (0..n).map(|i| format!("v{i}").into_bytes()).collect();
    let recs: Vec<batch::KeyValue<'_>> = vals
        .iter()
        .map(|v| (Some(&b"k"[..]), Some(&v[..])))
        .collect();
    build_batch(&recs, ts, -1, -1, -1, 0)
}

fn idem(pid: i64, epoch: i16, seq: i32, n: usize) -> Bytes {
    let recs: Vec<batch::KeyValue<'_>> = (0..n).map(|_| (None, Some(&b"x"[..]))).collect();
    build_batch(&recs, now(), pid, epoch, seq, 0)
}

fn now() -> i64 {
    partition::now_ms()
}

/// All batch offset ranges from `from` to the end, walking reads.
fn walk(log: &PartitionLog, from: i64) -> Vec<(i64, i64)> {
    walk_reading(log, from, 1 << 20)
}

/// [`walk`] with reads of at most `max_bytes` (small reads cross many segments).
pub(super) fn walk_reading(log: &PartitionLog, from: i64, max_bytes: usize) -> Vec<(i64, i64)> {
    let mut next = from;
    let mut seen = Vec::new();
    while next < log.offsets().log_end {
        let r = log.read(next, max_bytes).expect("read");
        for (_, b) in split_batches(&r.records) {
            batch::check_batch(&b).expect("only valid batches");
        }
        let got = offsets_in(&r.records);
        next = got.last().map(|x| x.1 + 1).expect("progress");
        seen.extend(got);
    }
    seen
}

fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: 1024,
        index_interval_bytes: 128,
        retention_ms: -1,
        ..LogConfig::default()
    }
}

fn offsets_in(records: &Bytes) -> Vec<(i64, i64)> {
    split_batches(records)
        .map(|(h, _)| (h.base_offset, h.last_offset()))
        .collect()
}

#[test]
fn append_then_read_and_offsets() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = LogStore::open(opts(dir.path())).expect("open");
    let log = store
        .get_or_create("t", 0, LogConfig::default())
        .expect("create");
    let a = log.append(batch(3, 10), 100).expect("append");
    assert_eq!((a.base_offset, a.last_offset, a.duplicate), (0, 2, false));
    let b = log.append(batch(2, 20), 100).expect("append");
    assert_eq!((b.base_offset, b.last_offset), (3, 4));
    let o = log.offsets();
    assert_eq!((o.log_start, o.high_watermark, o.log_end), (0, 5, 5));
    let r = log.read(0, 1 << 20).expect("read");
    assert_eq!(offsets_in(&r.records), vec![(0, 2), (3, 4)]);
    // Mid-batch offset returns the whole containing batch.
    assert_eq!(
        offsets_in(&log.read(1, 1 << 20).expect("read").records),
        vec![(0, 2), (3, 4)]
    );
    assert_eq!(
        offsets_in(&log.read(4, 1 << 20).expect("read").records),
        vec![(3, 4)]
    );
    // max_bytes smaller than one batch still returns one whole batch.
    assert_eq!(
        offsets_in(&log.read(0, 1).expect("read").records),
        vec![(0, 2)]
    );
    // At the end: empty; beyond: out of range.
    assert!(log.read(5, 100).expect("read").records.is_empty());
    assert!(matches!(
        log.read(6, 100),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    assert!(matches!(
        log.read(-1, 100),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    // Records decode and the stored CRC is valid.
    let recs: Vec<_> = split_batches(&r.records)
        .flat_map(|(_, b)| {
            BatchRecords::new(&b)
                .expect("iter")
                .map(|r| r.expect("record"))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        recs.iter().map(|r| r.offset).collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4]
    );
    for (_, b) in split_batches(&r.records) {
        batch::check_batch(&b).expect("crc valid after stamping");
    }
}

#[test]
fn rejects_bad_input_without_writing() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = LogStore::open(opts(dir.path())).expect("open");
    let cfg = LogConfig {
        max_message_bytes: 200,
        ..LogConfig::default()
    };
    let log = store.get_or_create("t", 0, cfg).expect("create");
    assert!(matches!(
        log.append(batch(50, 0), 0),
        Err(LogError::MessageTooLarge { .. })
    ));
    let mut bad = batch(2, 0).to_vec();
    bad[70] ^= 1;
    assert!(matches!(
        log.append(Bytes::from(bad), 0),
        Err(LogError::CorruptMessage(_))
    ));
    assert_eq!(log.offsets().log_end, 0);
}

#[test]
fn log_append_time_is_stamped() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = LogStore::open(opts(dir.path())).expect("open");
    let log = store
        .get_or_create(
            "t",
            0,
            LogConfig {
                log_append_time: true,
                ..LogConfig::default()
            },
        )
        .expect("c");
    let info = log.append(batch(2, 5), 777).expect("append");
    assert_eq!(info.log_append_time_ms, 777);
    let r = log.read(0, 1 << 20).expect("read");
    let (h, b) = split_batches(&r.records).next().expect("batch");
    batch::check_batch(&b).expect("crc recomputed");
    assert!(h.is_log_append_time());
    assert_eq!(h.max_timestamp, 777);
    // The header the segment remembers for tail reads is the one in the file (new CRC included).
    assert_eq!(log.headers_from(0).expect("headers"), vec![h]);
}

#[test]
fn segments_roll_and_reads_cross_them() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = LogStore::open(opts(dir.path())).expect("open");
    let log = store
        .get_or_create("my-topic", 3, small_config())
        .expect("create");
    let mut expect = Vec::new();
    for i in 0..40 {
        let info = log.append(batch(3, i), 0).expect("append");
        expect.push((info.base_offset, info.last_offset));
    }
    let logs: Vec<_> = std::fs::read_dir(log.dir())
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
        .collect();
    assert!(
        logs.len() > 3,
        "expected several segments, got {}",
        logs.len()
    );
    assert!(log.dir().join("00000000000000000000.log").exists());
    // Read everything by walking.
    let mut next = 0;
    let mut seen = Vec::new();
    while next < log.offsets().log_end {
        let r = log.read(next, 300).expect("read");
        let got = offsets_in(&r.records);
        assert!(!got.is_empty());
        next = got.last().map(|x| x.1 + 1).unwrap_or(next);
        seen.extend(got);
    }
    assert_eq!(seen, expect);
    // segment.ms rolls too.
    let log2 = store
        .get_or_create(
            "ms",
            0,
            LogConfig {
                segment_ms: 10,
                ..LogConfig::default()
            },
        )
        .expect("c");
    log2.append(batch(1, 0), 1).expect("a");
    log2.append(batch(1, 11), 1).expect("a");
    assert!(log2.dir().join("00000000000000000001.log").exists());
}

#[test]
fn segment_ms_counts_from_the_first_batch_timestamp() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = LogConfig {
        segment_ms: 1000,
        ..LogConfig::default()
    };
    let segs = |log: &PartitionLog| log.lock().segments.len();
    {
        let store = LogStore::open(opts(dir.path())).expect("open");
        let log = store.get_or_create("t", 0, cfg.clone()).expect("c");
        log.append(batch(1, 10_000), 0).expect("a");
        // The wall clock does not matter while batches carry timestamps.
        log.append(batch(1, 10_900), i64::MAX / 2).expect("a");
        // Exactly segment.ms later is not past it (Kafka compares with `>`).
        log.append(batch(1, 11_000), 0).expect("a");
        assert_eq!(segs(&log), 1);
        store.shutdown().expect("shutdown");
    }
    let store = LogStore::open(opts(dir.path())).expect("reopen");
    let log = store.get_or_create("t", 0, cfg.clone()).expect("c");
    // Reopened: the clock is the first batch's timestamp read back from the file, not the open time
    // (which would postpone the roll) nor an old file time (which would roll at once).
    log.append(batch(1, 10_950), i64::MAX / 2).expect("a");
    assert_eq!(segs(&log), 1);
    let info = log.append(batch(1, 11_001), 0).expect("a");
    assert_eq!(segs(&log), 2);
    assert_eq!(log.lock().segments[1].base_offset, info.base_offset);
    // The new segment's clock starts at its own first batch.
    log.append(batch(1, 11_500), 0).expect("a");
    assert_eq!(segs(&log), 2);
    log.append(batch(1, 12_002), 0).expect("a");
    assert_eq!(segs(&log), 3);

    // Without timestamps (-1): wall time since the segment was created or opened.
    let log = store.get_or_create("n", 0, cfg.clone()).expect("c");
    let created = log.lock().segments[0].created_ms;
    log.append(batch(1, -1), created).expect("a");
    log.append(batch(1, -1), created + 1000).expect("a");
    assert_eq!(segs(&log), 1);
    log.append(batch(1, -1), created + 1001).expect("a");
    assert_eq!(segs(&log), 2);

    // segment.jitter.ms: each segment draws a jitter below min(jitter, segment.ms) and rolls earlier by it.
    let log = store
        .get_or_create(
            "j",
            0,
            LogConfig {
                segment_jitter_ms: 500,
                ..cfg
            },
        )
        .expect("c");
    log.append(batch(1, 10_000), 0).expect("a");
    log.append(batch(1, 10_000), 0).expect("a");
    let jitter = log.lock().active_roll_jitter_ms.expect("drawn");
    assert!((0..500).contains(&jitter));
    log.append(batch(1, 10_000 + 1000 - jitter), 0).expect("a");
    assert_eq!(segs(&log), 1);
    log.append(batch(1, 10_001 + 1000 - jitter), 0).expect("a");
    assert_eq!(segs(&log), 2);
}

#[test]
fn reopen_after_clean_shutdown_keeps_everything() {
    let dir = tempfile::tempdir().expect("tmp");
    {
        let store = LogStore::open(opts(dir.path())).expect("open");
        let log = store
            .get_or_create("a-b", 1, small_config())
            .expect("create");
        for i in 0..20 {
            log.append(batch(2, i), 0).expect("append");
        }
        log.append(idem(7, 0, 0, 2), now()).expect("idem");
        store.shutdown().expect("shutdown");
        assert!(matches!(log.append(batch(1, 0), 0), Err(LogError::Deleted)));
    }
    assert!(dir.path().join(store::CLEAN_SHUTDOWN_FILE).exists());
    let store = LogStore::open(opts(dir.path())).expect("reopen");
    assert!(!dir.path().join(store::CLEAN_SHUTDOWN_FILE).exists());
    assert_eq!(store.existing(), vec![("a-b".to_string(), 1)]);
    let log = store.get_or_create("a-b", 1, small_config()).expect("get");
    assert_eq!(log.offsets().log_end, 42);
    assert_eq!(
        offsets_in(&log.read(17, 1).expect("read").records),
        vec![(16, 17)]
    );
    // Producer state survived: the retry is a duplicate.
    let dup = log.append(idem(7, 0, 0, 2), now()).expect("dup");
    assert!(dup.duplicate);
    assert_eq!((dup.base_offset, dup.last_offset), (40, 41));
    assert_eq!(log.append(batch(1, 0), 0).expect("append").base_offset, 42);
}

fn last_segment_path(dir: &std::path::Path) -> std::path::PathBuf {
    let mut logs: Vec<_> = std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    logs.sort();
    logs.pop().expect("a segment")
}

/// Writes 30 batches without a clean shutdown, then damages the last segment with `damage`.
fn unclean_then(
    damage: impl FnOnce(&std::path::Path),
) -> (tempfile::TempDir, Arc<PartitionLog>, Arc<LogStore>) {
    let dir = tempfile::tempdir().expect("tmp");
    let part_dir;
    {
        let store = LogStore::open(opts(dir.path())).expect("open");
        let log = store.get_or_create("t", 0, small_config()).expect("create");
        for i in 0..30 {
            log.append(idem(1, 0, i * 2, 2), now()).expect("append");
        }
        part_dir = log.dir().to_path_buf();
        // No shutdown: simulate a crash (the store is dropped without the marker).
    }
    damage(&last_segment_path(&part_dir));
    let store = LogStore::open(opts(dir.path())).expect("reopen");
    let log = store.get_or_create("t", 0, small_config()).expect("get");
    (dir, log, store)
}

#[test]
fn recovery_truncates_torn_tail() {
    let (_d, log, _s) = unclean_then(|p| {
        let len = std::fs::metadata(p).expect("meta").len();
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(p)
            .expect("open");
        f.set_len(len - 5).expect("truncate");
    });
    let end = log.offsets().log_end;
    assert_eq!(end, 58, "the torn last batch (offsets 58..59) is dropped");
    let all = log.read(0, 1 << 20).expect("read");
    assert!(!all.records.is_empty());
    // Index rebuilt: reading every offset works and returns the containing batch.
    for o in 0..end {
        let r = log.read(o, 1).expect("read");
        let (b, l) = offsets_in(&r.records)[0];
        assert!(b <= o && o <= l);
    }
    // Producer state rebuilt from headers: sequence continues at 58.
    assert!(matches!(
        log.append(idem(1, 0, 60, 2), now()),
        Err(LogError::OutOfOrderSequence { .. })
    ));
    assert_eq!(
        log.append(idem(1, 0, 58, 2), now())
            .expect("append")
            .base_offset,
        58
    );
}

#[test]
fn recovery_truncates_at_flipped_byte() {
    let (_d, log, _s) = unclean_then(|p| {
        let mut bytes = std::fs::read(p).expect("read");
        let at = bytes.len() - 100;
        bytes[at] ^= 0x40;
        std::fs::write(p, bytes).expect("write");
    });
    let end = log.offsets().log_end;
    assert!(
        end < 60 && end > 0,
        "log cut before the corrupt batch: {end}"
    );
    assert_eq!(walk(&log, 0).last().map(|x| x.1 + 1), Some(end));
}

/// A batch's base offset is outside its CRC, so a damaged file can carry any value there; one near
/// `i64::MAX` once overflowed the last-offset sum (found by fuzzing segment recovery). Recovery must cut
/// the log at that batch like any other invalid one.
#[test]
fn recovery_truncates_at_base_offset_beyond_range() {
    let (_d, log, _s) = unclean_then(|p| {
        let mut bytes = std::fs::read(p).expect("read");
        let mut pos = 0usize;
        let mut last = 0usize;
        while pos + 12 <= bytes.len() {
            last = pos;
            let len = i32::from_be_bytes(bytes[pos + 8..pos + 12].try_into().expect("4 bytes"));
            pos += 12 + usize::try_from(len).expect("valid length");
        }
        bytes[last..last + 8].copy_from_slice(&i64::MAX.to_be_bytes());
        std::fs::write(p, bytes).expect("write");
    });
    assert_eq!(
        log.offsets().log_end,
        58,
        "cut before the out-of-range batch"
    );
    assert_eq!(walk(&log, 0).last().map(|x| x.1 + 1), Some(58));
}

#[test]
fn corrupt_closed_segment_serves_valid_prefix() {
    let dir = tempfile::tempdir().expect("tmp");
    let part_dir;
    {
        let store = LogStore::open(opts(dir.path())).expect("open");
        let log = store.get_or_create("t", 0, small_config()).expect("create");
        for i in 0..30 {
            log.append(batch(2, i), 0).expect("append");
        }
        part_dir = log.dir().to_path_buf();
    }
    // Damage the FIRST segment (closed) in the middle.
    let first = part_dir.join("00000000000000000000.log");
    let mut bytes = std::fs::read(&first).expect("read");
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    std::fs::write(&first, bytes).expect("write");
    let store = LogStore::open(opts(dir.path())).expect("reopen");
    let log = store.get_or_create("t", 0, small_config()).expect("get");
    let end = log.offsets().log_end;
    assert!(end > 0 && end < 60);
    assert_eq!(walk(&log, 0).last().map(|x| x.1 + 1), Some(end));
    assert_eq!(log.append(batch(1, 0), 0).expect("append").base_offset, end);
}

#[test]
fn idempotent_duplicates_and_errors_through_the_log() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = LogStore::open(opts(dir.path())).expect("open");
    let log = store
        .get_or_create("t", 0, LogConfig::default())
        .expect("create");
    log.append(batch(1, 0), 0).expect("plain");
    let a = log.append(idem(5, 2, 0, 3), 0).expect("first");
    assert_eq!((a.base_offset, a.last_offset), (1, 3));
    let d = log.append(idem(5, 2, 0, 3), 0).expect("retry");
    assert!(d.duplicate);
    assert_eq!((d.base_offset, d.last_offset), (1, 3));
    assert_eq!(log.offsets().log_end, 4, "duplicate writes nothing");
    assert!(matches!(
        log.append(idem(5, 1, 3, 1), 0),
        Err(LogError::InvalidProducerEpoch { .. })
    ));
    assert!(matches!(
        log.append(idem(5, 2, 7, 1), 0),
        Err(LogError::OutOfOrderSequence { .. })
    ));
    assert_eq!(
        log.append(idem(5, 2, 3, 1), 0).expect("next").base_offset,
        4
    );
}

#[test]
fn retention_by_time_bytes_and_delete_records() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = LogStore::open(opts(dir.path())).expect("open");
    let cfg = LogConfig {
        retention_ms: 1000,
        ..small_config()
    };
    let log = store.get_or_create("t", 0, cfg.clone()).expect("create");
    for i in 0..40 {
        log.append(batch(3, i * 100), 0).expect("append");
    }
    let segs = |log: &PartitionLog| log.lock().segments.len();
    let before = segs(&log);
    // Nothing old enough.
    assert_eq!(log.retention_pass(1000).expect("pass").segments_deleted, 0);
    // Everything old: all closed segments go, never the active one.
    let out = log.retention_pass(1_000_000).expect("pass");
    assert_eq!(out.segments_deleted, before - 1);
    assert_eq!(segs(&log), 1);
    assert_eq!(log.offsets().log_start, out.log_start);
    assert!(matches!(
        log.read(0, 100),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    // Size retention.
    let log = store
        .get_or_create(
            "s",
            0,
            LogConfig {
                retention_bytes: 2048,
                ..small_config()
            },
        )
        .expect("c");
    for i in 0..40 {
        log.append(batch(3, i), 0).expect("append");
    }
    log.retention_pass(0).expect("pass");
    let total: u64 = log.lock().segments.iter().map(|s| s.size_bytes()).sum();
    assert!((2048..2048 + 1024).contains(&total), "total {total}");
    // DeleteRecords.
    let end = log.offsets().log_end;
    assert!(matches!(
        log.delete_records(end + 1),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    let start = log.delete_records(end - 2).expect("delete");
    assert_eq!(start, end - 2);
    assert_eq!(log.offsets().log_start, end - 2);
    log.retention_pass(0).expect("pass");
    assert_eq!(log.lock().segments.len(), 1);
    // The log start offset survives a restart via the checkpoint.
    store.shutdown().expect("shutdown");
    let store = LogStore::open(opts(dir.path())).expect("reopen");
    assert_eq!(store.get("s", 0).expect("s").offsets().log_start, end - 2);
}

#[test]
fn timestamps_lookup() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = LogStore::open(opts(dir.path())).expect("open");
    let log = store.get_or_create("t", 0, small_config()).expect("create");
    for i in 0..30 {
        log.append(batch(2, 1000 + i * 10), 0).expect("append");
    }
    assert_eq!(log.offset_for_timestamp(0).expect("ok"), Some((0, 1000)));
    assert_eq!(
        log.offset_for_timestamp(1105).expect("ok"),
        Some((22, 1110))
    );
    assert_eq!(log.offset_for_timestamp(5000).expect("ok"), None);
    assert_eq!(log.max_timestamp().expect("ok"), Some((58, 1290)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_all_waits_for_group_commit_and_watch_fires() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = LogStore::open(opts(dir.path())).expect("open");
    let log = store
        .get_or_create("t", 0, LogConfig::default())
        .expect("create");
    let mut hw = log.subscribe();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let info = log.append(batch(2, 0), 0)?;
            log.wait_durable(info.last_offset, info.leader_epoch)
                .await?;
            Ok::<_, LogError>(info.last_offset)
        }));
    }
    for t in tasks {
        t.await.expect("join").expect("durable");
    }
    assert!(hw.has_changed().expect("open"));
    assert_eq!(*hw.borrow_and_update(), 32);
    assert_eq!(log.lock().durable_offset, 32);
    store.shutdown().expect("shutdown");
}

#[tokio::test]
async fn background_task_runs_and_stops() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut o = opts(dir.path());
    o.retention_check_interval_ms = 10;
    let store = LogStore::open(o).expect("open");
    store
        .get_or_create("t", 0, LogConfig::default())
        .expect("create");
    store.spawn_background();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    store.stop_background().await;
    assert!(dir.path().join(checkpoint::RECOVERY_POINT_FILE).exists());
}

#[test]
fn delete_partition_removes_folder() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = LogStore::open(opts(dir.path())).expect("open");
    let log = store
        .get_or_create("gone", 0, LogConfig::default())
        .expect("create");
    log.append(batch(1, 0), 0).expect("append");
    store.delete("gone", 0).expect("delete");
    // Taken after the delete: its due time counts from inside `delete`, which fsyncs the data folder
    // (milliseconds under load), so a clock read before it could be more than 1 ms early.
    let deleted_at = now();
    assert!(!dir.path().join("gone-0").exists());
    assert!(store.get("gone", 0).is_none());
    assert!(matches!(log.append(batch(1, 0), 0), Err(LogError::Deleted)));
    // Renamed out of the way at once; the files go only after `log.segment.delete.delay.ms`.
    assert_eq!(doomed_dirs(dir.path()).len(), 1);
    assert_eq!(store.remove_deleted_partitions(deleted_at), 0);
    assert_eq!(doomed_dirs(dir.path()).len(), 1);
    assert_eq!(store.remove_deleted_partitions(deleted_at + 60_001), 1);
    assert!(doomed_dirs(dir.path()).is_empty());
}

/// Renamed folders of deleted partitions (`<topic>-<partition>.<id>-delete`).
fn doomed_dirs(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with("-delete"))
        .collect()
}

#[test]
fn deletion_interrupted_by_a_restart_is_rescheduled_not_loaded() {
    let dir = tempfile::tempdir().expect("tmp");
    {
        let store = LogStore::open(opts(dir.path())).expect("open");
        let log = store
            .get_or_create("gone", 0, LogConfig::default())
            .expect("create");
        log.append(batch(1, 0), 0).expect("append");
        store.delete("gone", 0).expect("delete");
        store.shutdown().expect("shutdown");
    }
    let store = LogStore::open(opts(dir.path())).expect("reopen");
    // Read after the open, which schedules the removal: the margin below is 1 ms.
    let reopened_at = now();
    assert!(store.existing().is_empty());
    assert!(store.get("gone", 0).is_none());
    // Still on disk after open (removing it there would hold up start-up), gone once due.
    assert_eq!(doomed_dirs(dir.path()).len(), 1);
    assert_eq!(store.remove_deleted_partitions(reopened_at), 0);
    assert_eq!(store.remove_deleted_partitions(reopened_at + 60_001), 1);
    assert!(doomed_dirs(dir.path()).is_empty());
}

#[test]
fn partition_dir_names_split_on_last_dash() {
    assert_eq!(
        store::parse_partition_dir("a-b-c-12"),
        Some(("a-b-c".to_string(), 12))
    );
    assert_eq!(store::parse_partition_dir("nodash"), None);
    assert_eq!(store::parse_partition_dir("t-x"), None);
}

fn kv_batch(key: &[u8], value: Option<&[u8]>, ts: i64) -> Bytes {
    build_batch(&[(Some(key), value)], ts, -1, -1, -1, 0)
}

/// (offset, key, value) of every record from offset 0 to the end.
fn all_records(log: &PartitionLog) -> Vec<(i64, Vec<u8>, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    let mut next = log.offsets().log_start;
    while next < log.offsets().log_end {
        let r = log.read(next, 1 << 20).expect("read");
        if r.records.is_empty() {
            break;
        }
        for (h, b) in split_batches(&r.records) {
            for rec in BatchRecords::new(&b).expect("iter") {
                let rec = rec.expect("rec");
                if rec.offset >= next {
                    out.push((
                        rec.offset,
                        rec.key.map(|k| k.to_vec()).unwrap_or_default(),
                        rec.value.map(|v| v.to_vec()),
                    ));
                }
            }
            next = h.next_offset();
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]
    /// After cleaning, the closed segments hold exactly the newest record per key (tombstones kept while
    /// young), in offset order, and the active segment is untouched.
    #[test]
    fn compaction_keeps_newest_per_key(ops in proptest::collection::vec((0u8..8, proptest::option::weighted(0.9, 0u8..255)), 5..120)) {
        let dir = tempfile::tempdir().expect("tmp");
        let store = LogStore::open(opts(dir.path())).expect("open");
        let cfg = LogConfig {
            cleanup_compact: true, cleanup_delete: false, segment_bytes: 700, min_cleanable_dirty_ratio: 0.0,
            min_compaction_lag_ms: 0, ..small_config()
        };
        let log = store.get_or_create("c", 0, cfg).expect("create");
        let mut written = Vec::new();
        for (k, v) in &ops {
            let key = vec![b'k', *k];
            let value = v.map(|v| vec![v; 3]);
            let info = log.append(kv_batch(&key, value.as_deref(), 1_000), 0).expect("append");
            written.push((info.base_offset, key, value));
        }
        let active_base = log.lock().segments.last().map(|s| s.base_offset).expect("active");
        let before = all_records(&log);
        prop_assert_eq!(&before, &written);
        let closed_bytes: u64 = {
            let inner = log.lock();
            inner.segments[..inner.segments.len() - 1].iter().map(|s| s.size_bytes()).sum()
        };
        log.clean_pass(10_000).expect("clean");
        // Cleaned segments are merged: greedy grouping leaves no two neighbouring groups that would fit
        // together, so at most 2 groups per `segment.bytes` of input (+1 for the remainder).
        let closed_after = log.lock().segments.len() - 1;
        prop_assert!(closed_after as u64 <= 2 * closed_bytes / 700 + 1, "{} closed segments", closed_after);
        prop_assert!(log.lock().segments.iter().all(|s| s.size_bytes() <= 700));
        let after = all_records(&log);
        let (closed, tail): (Vec<_>, Vec<_>) = written.iter().cloned().partition(|(o, _, _)| *o < active_base);
        let mut expect: Vec<_> = closed
            .iter()
            .filter(|(o, k, _)| !closed.iter().any(|(o2, k2, _)| k2 == k && o2 > o))
            .cloned()
            .collect();
        expect.extend(tail);
        prop_assert_eq!(after, expect);
        // A second pass with expired tombstones removes them from the closed segments.
        log.lock().cleaner_checkpoint = None;
        log.clean_pass(10_000 + LogConfig::default().delete_retention_ms).expect("clean");
        let again = all_records(&log);
        prop_assert!(again.iter().all(|(o, _, v)| v.is_some() || *o >= active_base));
        // Survives a restart.
        store.shutdown().expect("shutdown");
        let store = LogStore::open(opts(dir.path())).expect("reopen");
        let log = store.get("c", 0).expect("c");
        prop_assert_eq!(all_records(&log), again);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    /// Reading at any offset returns whole batches starting with the one containing it, within max_bytes
    /// unless a single batch is larger.
    #[test]
    fn read_at_any_offset(sizes in proptest::collection::vec(1usize..6, 1..40), probe in 0usize..200, max_bytes in 1usize..2000) {
        let dir = tempfile::tempdir().expect("tmp");
        let store = LogStore::open(opts(dir.path())).expect("open");
        let log = store.get_or_create("p", 0, small_config()).expect("create");
        let mut ranges = Vec::new();
        for (i, n) in sizes.iter().enumerate() {
            let info = log.append(batch(*n, i as i64), 0).expect("append");
            ranges.push((info.base_offset, info.last_offset));
        }
        let end = log.offsets().log_end;
        let offset = (probe as i64) % (end + 2);
        match log.read(offset, max_bytes) {
            Ok(r) if offset == end => prop_assert!(r.records.is_empty()),
            Ok(r) => {
                let got = offsets_in(&r.records);
                prop_assert!(!got.is_empty());
                prop_assert!(got[0].0 <= offset && offset <= got[0].1);
                prop_assert!(got.len() == 1 || r.records.len() <= max_bytes);
                let start = ranges.iter().position(|x| *x == got[0]).expect("a real batch");
                prop_assert_eq!(&ranges[start..start + got.len()], &got[..]);
                let mut pos = 0;
                for (h, b) in split_batches(&r.records) {
                    prop_assert_eq!(BatchHeader::parse(&b).expect("h"), h);
                    pos += b.len();
                }
                prop_assert_eq!(pos, r.records.len());
            }
            Err(LogError::OffsetOutOfRange { .. }) => prop_assert!(offset > end),
            Err(e) => prop_assert!(false, "unexpected {e}"),
        }
    }
}

#[test]
fn tail_reads_find_recent_batches_without_a_scan_and_agree_with_one() {
    use super::segment::{find_batch, ReadView};
    let dir = tempfile::tempdir().expect("tmp");
    let store = LogStore::open(opts(dir.path())).expect("open");
    let log = store
        .get_or_create("t", 0, LogConfig::default())
        .expect("create");
    for i in 0..20 {
        log.append(batch(1 + (i % 3) as usize, i), 0)
            .expect("append");
    }
    let end = log.offsets().log_end;
    let all = log.headers_from(0).expect("headers");
    assert_eq!(all.len(), 20);
    let inner = log.lock();
    let seg = inner.segments.last().expect("segment");
    let mut hinted = 0;
    for offset in 0..end {
        let view = seg.read_view(offset).expect("view");
        hinted += usize::from(view.hint.is_some());
        let scanned = find_batch(
            &ReadView {
                hint: None,
                ..view.clone()
            },
            offset,
        )
        .expect("scan");
        assert_eq!(
            find_batch(&view, offset).expect("find"),
            scanned,
            "offset {offset}"
        );
        // A walk that moves past the first batch ignores the hint and still visits every later batch.
        let mut walked = Vec::new();
        let mut v = view.clone();
        while let Some((at, h)) = find_batch(&v, offset).expect("walk") {
            v.start_pos = at + h.total_len() as u64;
            walked.push(h);
        }
        let expected: Vec<_> = all
            .iter()
            .filter(|h| h.last_offset() >= offset)
            .copied()
            .collect();
        assert_eq!(walked, expected, "offset {offset}");
    }
    // Exactly the offsets of the last 8 batches are answered from memory.
    let recent: i64 = all[12..]
        .iter()
        .map(|h| h.last_offset() - h.base_offset + 1)
        .sum();
    assert_eq!(hinted as i64, recent);
}

#[test]
fn appended_bytes_are_the_sent_batches_with_only_offset_and_epoch_stamped() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = LogStore::open(opts(dir.path())).expect("open");
    let log = store
        .get_or_create("t", 0, LogConfig::default())
        .expect("c");
    log.append(batch(3, 1), 0).expect("first");
    // Two batches in one append go out as four slices (stamped header, body, stamped header, body).
    let (a, b) = (batch(2, 2), batch(5, 3));
    let mut both = a.to_vec();
    both.extend_from_slice(&b);
    let info = log.append(Bytes::from(both.clone()), 0).expect("two");
    assert_eq!((info.base_offset, info.last_offset), (3, 9));
    let r = log.read(3, 1 << 20).expect("read");
    assert_eq!(r.records.len(), both.len());
    let stored: Vec<_> = split_batches(&r.records).collect();
    assert_eq!(stored.len(), 2);
    let mut sent_pos = 0usize;
    for ((h, stored_batch), base) in stored.iter().zip([3i64, 5]) {
        batch::check_batch(stored_batch).expect("crc still valid");
        assert_eq!(h.base_offset, base);
        assert_eq!(h.partition_leader_epoch, 0);
        let sent = &both[sent_pos..sent_pos + stored_batch.len()];
        // Everything from the magic byte on is exactly what the client sent.
        assert_eq!(&stored_batch[16..], &sent[16..]);
        sent_pos += stored_batch.len();
    }
}

#[test]
fn page_cache_trimming_keeps_every_record_readable() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = LogStore::open(StoreOptions {
        page_cache_window_bytes: 1 << 20,
        ..opts(dir.path())
    })
    .expect("open");
    let cfg = LogConfig {
        segment_bytes: 3 << 20,
        ..LogConfig::default()
    };
    let log = store.get_or_create("t", 0, cfg).expect("create");
    let value = vec![7u8; 1000];
    let recs: Vec<batch::KeyValue<'_>> = (0..64).map(|_| (None, Some(&value[..]))).collect();
    for _ in 0..200 {
        // ~64 KiB per batch, ~12.5 MiB in all: four rolls and a dozen trims.
        log.append(build_batch(&recs, now(), -1, -1, -1, 0), now())
            .expect("append");
        log.trim_page_cache();
    }
    let seen = walk(&log, 0);
    assert_eq!(seen.len(), 200);
    assert!(seen.windows(2).all(|w| w[1].0 == w[0].1 + 1), "contiguous");
    let r = log.read(64 * 100, 1 << 16).expect("read");
    for (_, b) in split_batches(&r.records) {
        let header = batch::check_batch(&b).expect("valid");
        assert_eq!(header.base_offset, 6400);
    }
    assert!(log.lock().segments.len() >= 4, "rolled");
}

/// Bases and sizes of a partition's `.log` files, and any other files, sorted.
fn files_of(dir: &std::path::Path) -> Vec<(String, u64)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| {
            let len = e.metadata().map(|m| m.len()).unwrap_or(0);
            (e.file_name().to_string_lossy().into_owned(), len)
        })
        // Producer snapshots (and their `.tmp` while being written) belong to the flusher, which may
        // still be writing one for an earlier roll, or for the store dropped before a simulated crash.
        .filter(|(n, _)| !n.ends_with(".snapshot") && !n.ends_with(".snapshot.tmp"))
        .collect();
    out.sort();
    out
}

fn compact_config() -> LogConfig {
    LogConfig {
        cleanup_compact: true,
        cleanup_delete: false,
        segment_bytes: 300,
        min_compaction_lag_ms: 0,
        ..small_config()
    }
}

#[test]
fn cleaner_checkpoint_survives_restart_and_keeps_dirty_ratio() {
    let dir = tempfile::tempdir().expect("tmp");
    let part_dir;
    let cleaned_to;
    {
        let store = LogStore::open(opts(dir.path())).expect("open");
        let log = store.get_or_create("c", 0, compact_config()).expect("c");
        part_dir = log.dir().to_path_buf();
        for i in 0..40u8 {
            log.append(kv_batch(&[b'k', i], Some(b"old"), 1_000), 0)
                .expect("append");
        }
        store.run_maintenance(now()).expect("maintenance");
        cleaned_to = log.cleaner_checkpoint().expect("cleaned");
        let active_base = log.lock().segments.last().map(|s| s.base_offset);
        assert_eq!(Some(cleaned_to), active_base);
        let file = checkpoint::read(dir.path(), checkpoint::CLEANER_FILE).expect("read");
        assert_eq!(file.get(&("c".to_string(), 0)), Some(&cleaned_to));
        // Crash: no shutdown, no final checkpoint write.
    }
    let store = LogStore::open(opts(dir.path())).expect("reopen");
    let log = store.get_or_create("c", 0, compact_config()).expect("c");
    assert_eq!(log.cleaner_checkpoint(), Some(cleaned_to));
    assert_eq!(log.lock().cleaner_first_dirty(), cleaned_to);
    // A little new dirt (updates of 3 keys) is below min.cleanable.dirty.ratio 0.5 of the whole log: no
    // cleaning, so the old values stay. Had the position been lost, everything would count as dirty.
    for i in 0..3u8 {
        log.append(kv_batch(&[b'k', i], Some(b"new"), 1_000), 0)
            .expect("append");
    }
    log.roll(&mut log.lock(), 0).expect("roll");
    let files = files_of(&part_dir);
    assert_eq!(log.clean_pass(now()).expect("pass"), 0);
    assert_eq!(files_of(&part_dir), files);
    assert_eq!(log.cleaner_checkpoint(), Some(cleaned_to));
    let old_k0 = |log: &PartitionLog| {
        all_records(log)
            .iter()
            .any(|(_, k, v)| k == b"k\0" && v.as_deref() == Some(&b"old"[..]))
    };
    assert!(old_k0(&log));
    // A second cleaning once the dirty section is large enough: continues from the checkpoint.
    log.set_config(LogConfig {
        min_cleanable_dirty_ratio: 0.0,
        ..compact_config()
    });
    store.run_maintenance(now()).expect("maintenance");
    assert!(!old_k0(&log));
    let second = log.cleaner_checkpoint().expect("cleaned");
    assert!(second > cleaned_to);
    let file = checkpoint::read(dir.path(), checkpoint::CLEANER_FILE).expect("read");
    assert_eq!(file.get(&("c".to_string(), 0)), Some(&second));
    // Clamped to the log start like Kafka: a position below it counts from the log start.
    let end = log.offsets().log_end;
    log.delete_records(end).expect("delete records");
    assert_eq!(log.lock().cleaner_first_dirty(), end);
    // Deleted partitions drop out of the file.
    store.delete("c", 0).expect("delete");
    store.run_maintenance(now()).expect("maintenance");
    let file = checkpoint::read(dir.path(), checkpoint::CLEANER_FILE).expect("read");
    assert!(file.is_empty());
}

#[test]
fn cleaner_checkpoint_beyond_log_end_is_ignored_at_open() {
    let dir = tempfile::tempdir().expect("tmp");
    {
        let store = LogStore::open(opts(dir.path())).expect("open");
        let log = store.get_or_create("c", 0, compact_config()).expect("c");
        log.append(kv_batch(b"k", Some(b"v"), 1_000), 0)
            .expect("append");
        store.shutdown().expect("shutdown");
    }
    let entries = vec![(("c".to_string(), 0), 99), (("gone".to_string(), 0), 5)];
    checkpoint::write(dir.path(), checkpoint::CLEANER_FILE, &entries).expect("write");
    let store = LogStore::open(opts(dir.path())).expect("reopen");
    let log = store.get("c", 0).expect("c");
    assert_eq!(log.cleaner_checkpoint(), None);
    assert_eq!(log.lock().cleaner_first_dirty(), 0);
    store.write_checkpoints().expect("write");
    assert!(checkpoint::read(dir.path(), checkpoint::CLEANER_FILE)
        .expect("read")
        .is_empty());
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("dir").filter_map(|e| e.ok()) {
        std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
    }
}

/// Every intermediate state of a merging swap recovers to either the old or the cleaned log.
#[test]
fn merged_swap_recovers_from_every_intermediate_state() {
    let src = tempfile::tempdir().expect("tmp");
    let part = src.path().join("c-0");
    let pre = tempfile::tempdir().expect("tmp");
    let post = tempfile::tempdir().expect("tmp");
    let (before, after, old_bases, base) = {
        let store = LogStore::open(opts(src.path())).expect("open");
        let log = store.get_or_create("c", 0, compact_config()).expect("c");
        for i in 0..60u8 {
            log.append(kv_batch(&[b'k', i % 7], Some(&[i; 4]), 1_000), 0)
                .expect("append");
        }
        let before = all_records(&log);
        store.shutdown().expect("shutdown");
        copy_dir(&part, pre.path());
        let store = LogStore::open(opts(src.path())).expect("reopen");
        // Written in small segments, cleaned into one: every closed segment forms one group.
        let log = store.get_or_create("c", 0, compact_config()).expect("c");
        log.set_config(LogConfig {
            segment_bytes: 1 << 20,
            min_cleanable_dirty_ratio: 0.0,
            ..compact_config()
        });
        let old_bases: Vec<i64> = {
            let inner = log.lock();
            inner.segments[..inner.segments.len() - 1]
                .iter()
                .map(|s| s.base_offset)
                .collect()
        };
        assert!(old_bases.len() > 3);
        log.clean_pass(now()).expect("clean");
        assert_eq!(
            log.lock().segments.len(),
            2,
            "closed segments merged into one"
        );
        let after = all_records(&log);
        assert!(after.len() < before.len());
        store.shutdown().expect("shutdown");
        copy_dir(&part, post.path());
        (before, after, old_bases, 0i64)
    };
    let name = |b: i64, ext: &str| format!("{b:020}.{ext}");
    let recover = |setup: &dyn Fn(&std::path::Path)| {
        let root = tempfile::tempdir().expect("tmp");
        let d = root.path().join("c-0");
        copy_dir(pre.path(), &d);
        setup(&d);
        let store = LogStore::open(opts(root.path())).expect("recover");
        let log = store.get("c", 0).expect("c");
        let got = all_records(&log);
        let leftovers = files_of(&d)
            .into_iter()
            .filter(|(n, _)| {
                n.ends_with(".swap") || n.ends_with(".deleted") || n.ends_with(".cleaned")
            })
            .count();
        assert_eq!(leftovers, 0);
        // Appends continue after the recovered log.
        let end = log.offsets().log_end;
        assert_eq!(
            log.append(kv_batch(b"x", None, 1), 0)
                .expect("append")
                .base_offset,
            end
        );
        got
    };
    let merged = post.path().join(name(base, "log"));
    // 1. Crash while writing the cleaned file: the old log.
    assert_eq!(
        recover(&|d| {
            std::fs::copy(&merged, d.join(name(base, "log.cleaned"))).expect("copy");
        }),
        before
    );
    // 2. Swap file complete, nothing else done: recovery completes the swap.
    assert_eq!(
        recover(&|d| {
            std::fs::copy(&merged, d.join(name(base, "log.swap"))).expect("copy");
        }),
        after
    );
    // 3. Swap complete, first segment's indexes gone, some old segments renamed `.deleted`.
    assert_eq!(
        recover(&|d| {
            std::fs::copy(&merged, d.join(name(base, "log.swap"))).expect("copy");
            std::fs::remove_file(d.join(name(base, "index"))).expect("rm");
            std::fs::remove_file(d.join(name(base, "timeindex"))).expect("rm");
            for b in &old_bases[1..3] {
                for ext in ["log", "index", "timeindex"] {
                    std::fs::rename(
                        d.join(name(*b, ext)),
                        d.join(name(*b, &format!("{ext}.deleted"))),
                    )
                    .expect("rename");
                }
            }
        }),
        after
    );
    // 4. Swap renamed into place, old segments all `.deleted`, no indexes yet.
    assert_eq!(
        recover(&|d| {
            std::fs::copy(&merged, d.join(name(base, "log"))).expect("copy");
            std::fs::remove_file(d.join(name(base, "index"))).expect("rm");
            std::fs::remove_file(d.join(name(base, "timeindex"))).expect("rm");
            for b in &old_bases[1..] {
                for ext in ["log", "index", "timeindex"] {
                    std::fs::rename(
                        d.join(name(*b, ext)),
                        d.join(name(*b, &format!("{ext}.deleted"))),
                    )
                    .expect("rename");
                }
            }
        }),
        after
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_records_is_durable_when_acknowledged() {
    let dir = tempfile::tempdir().expect("tmp");
    {
        let store = LogStore::open(opts(dir.path())).expect("open");
        let mut logs = Vec::new();
        for p in 0..8 {
            let log = store.get_or_create("t", p, small_config()).expect("create");
            for i in 0..20 {
                log.append(batch(2, i), 0).expect("append");
            }
            logs.push(log);
        }
        // Concurrent DeleteRecords on several partitions: each returns only once its start is durable.
        let mut tasks = Vec::new();
        for (p, log) in logs.iter().enumerate() {
            let (store, log) = (store.clone(), log.clone());
            tasks.push(tokio::spawn(async move {
                store.delete_records(&log, 10 + p as i64).await
            }));
        }
        for (p, t) in tasks.into_iter().enumerate() {
            assert_eq!(t.await.expect("join").expect("delete"), 10 + p as i64);
        }
        // In the checkpoint file already, without any maintenance pass or shutdown.
        let file = checkpoint::read(dir.path(), checkpoint::LOG_START_FILE).expect("read");
        for p in 0..8 {
            assert_eq!(file.get(&("t".to_string(), p)), Some(&(10 + i64::from(p))));
        }
        assert!(matches!(
            store.delete_records(&logs[0], 41).await,
            Err(LogError::OffsetOutOfRange { .. })
        ));
        // Crash: the store is dropped without shutdown.
    }
    let store = LogStore::open(opts(dir.path())).expect("reopen");
    for p in 0..8 {
        let log = store.get_or_create("t", p, small_config()).expect("get");
        assert_eq!(log.offsets().log_start, 10 + i64::from(p));
        assert!(matches!(
            log.read(9, 100),
            Err(LogError::OffsetOutOfRange { .. })
        ));
    }
}

#[test]
fn producer_snapshots_below_the_log_go_with_their_segments() {
    use super::producer_state::{list_snapshot_files, snapshot_path, write_snapshot};
    let dir = tempfile::tempdir().expect("tmp");
    let part_dir;
    {
        let store = LogStore::open(opts(dir.path())).expect("open");
        let log = store.get_or_create("t", 0, small_config()).expect("create");
        part_dir = log.dir().to_path_buf();
        // Producer 1 writes only into the first segments, producer 2 keeps writing after it.
        for i in 0..10 {
            log.append(idem(1, 0, i * 2, 2), now()).expect("append");
        }
        let p1_state = log.lock().producers.clone();
        // A snapshot as of offset 2 (producer 1 at sequence 1), as a roll there would have left.
        write_snapshot(&part_dir, 2, &p1_state).expect("snapshot");
        for i in 0..40 {
            log.append(idem(2, 0, i * 2, 2), now()).expect("append");
        }
        // Roll snapshots are written by the flusher thread; a flush run here could finish while that
        // thread is still writing one. Awaiting durability waits for the flusher's own pass instead
        // (it writes the snapshot before publishing the durable offset).
        let end = log.offsets().log_end;
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(log.wait_durable(end - 1, 0))
            .expect("durable");
        assert!(list_snapshot_files(&part_dir).expect("list").len() >= 2);
        // DeleteRecords past producer 1's data, then retention removes those segments.
        let end = log.offsets().log_end;
        log.delete_records(end - 4).expect("delete");
        let out = log.retention_pass(0).expect("retention");
        assert!(out.segments_deleted > 0);
        let first_base = log.lock().segments[0].base_offset;
        let snaps = list_snapshot_files(&part_dir).expect("list");
        assert!(
            snaps.iter().all(|o| *o >= first_base),
            "{snaps:?} below {first_base}"
        );
        // In memory producer 1 is kept (Kafka since KIP-360): its retry is still a duplicate.
        let dup = log.append(idem(1, 0, 18, 2), now()).expect("retry");
        assert!(dup.duplicate);
        // A stale snapshot left below the log (e.g. by an older version) and unreadable newer ones.
        write_snapshot(&part_dir, 2, &p1_state).expect("snapshot");
        for o in list_snapshot_files(&part_dir).expect("list") {
            if o > 2 {
                std::fs::write(snapshot_path(&part_dir, o), b"garbage").expect("corrupt");
            }
        }
        // Crash.
    }
    let store = LogStore::open(opts(dir.path())).expect("reopen");
    let log = store.get_or_create("t", 0, small_config()).expect("get");
    assert!(!snapshot_path(&part_dir, 2).exists());
    // Producer 1's state is not rewound to sequence 1: it is unknown, so its next batch is accepted.
    log.append(idem(1, 0, 20, 2), now())
        .expect("next batch of producer 1 accepted");
    // Producer 2's state was rebuilt from the remaining segments.
    assert!(matches!(
        log.append(idem(2, 0, 200, 1), now()),
        Err(LogError::OutOfOrderSequence { .. })
    ));
}

/// Kafka's `LogConfig.maxSegmentMs`: on a compacted topic the active segment rolls once a batch arrives
/// `max.compaction.lag.ms` after its first one (the active segment is never cleaned); not on a delete topic.
#[test]
fn compacted_topic_rolls_at_max_compaction_lag() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = LogStore::open(opts(dir.path())).expect("open");
    let lagged = |compact| LogConfig {
        cleanup_compact: compact,
        cleanup_delete: !compact,
        segment_bytes: 1 << 20,
        segment_ms: 60_000,
        max_compaction_lag_ms: 100,
        ..small_config()
    };
    for (topic, compact, segments) in [("c", true, 2), ("d", false, 1)] {
        let log = store
            .get_or_create(topic, 0, lagged(compact))
            .expect("create");
        log.append(kv_batch(b"k", Some(b"1"), 1_000), 0)
            .expect("append");
        log.append(kv_batch(b"k", Some(b"2"), 1_050), 0)
            .expect("append");
        assert_eq!(log.lock().segments.len(), 1, "{topic}: within the lag");
        log.append(kv_batch(b"k", Some(b"3"), 1_101), 0)
            .expect("append");
        assert_eq!(log.lock().segments.len(), segments, "{topic}");
    }
}

/// Kafka's `LogCleanerManager.maxCompactionDelay`: dirt below `min.cleanable.dirty.ratio` is cleaned anyway
/// once its first batch is older than `max.compaction.lag.ms`.
#[test]
fn max_compaction_lag_cleans_below_the_dirty_ratio() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = LogStore::open(opts(dir.path())).expect("open");
    let cfg = LogConfig {
        min_cleanable_dirty_ratio: 0.9,
        max_compaction_lag_ms: 10_000,
        ..compact_config()
    };
    let log = store.get_or_create("c", 0, cfg).expect("c");
    for i in 0..40u8 {
        log.append(kv_batch(&[b'k', i], Some(b"old"), 1_000), 0)
            .expect("append");
    }
    log.roll(&mut log.lock(), 0).expect("roll");
    log.clean_pass(2_000).expect("first clean (all dirty)");
    for i in 0..3u8 {
        log.append(kv_batch(&[b'k', i], Some(b"new"), 5_000), 0)
            .expect("append");
    }
    log.roll(&mut log.lock(), 0).expect("roll");
    let old_k0 = |log: &PartitionLog| {
        all_records(log)
            .iter()
            .any(|(_, k, v)| k == b"k\0" && v.as_deref() == Some(&b"old"[..]))
    };
    // Little dirt, and younger than the lag: nothing to do yet.
    log.clean_pass(14_000).expect("pass");
    assert!(old_k0(&log));
    // The dirty batch (timestamp 5 000) is now older than the lag.
    log.clean_pass(15_001).expect("pass");
    assert!(!old_k0(&log));
    let values: Vec<_> = all_records(&log)
        .into_iter()
        .filter(|(_, k, _)| k == b"k\0")
        .collect();
    assert_eq!(values.len(), 1);
}

#[test]
fn a_wrong_max_timestamp_from_a_client_is_corrected_and_invalid_batches_are_not_stored() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = LogStore::open(opts(dir.path())).expect("open");
    let log = store
        .get_or_create("t", 0, LogConfig::default())
        .expect("c");
    // build_batch gives every record the same timestamp: claim a later maxTimestamp in the header.
    let mut b = batch(3, 5_000).to_vec();
    b[35..43].copy_from_slice(&9_999_999i64.to_be_bytes());
    let crc = batch::compute_crc(&b);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    log.append_from(validate::Origin::Client, Bytes::from(b), now())
        .expect("append");
    let r = log.read(0, 1 << 20).expect("read");
    let (h, stored) = split_batches(&r.records).next().expect("batch");
    batch::check_batch(&stored).expect("crc recomputed");
    assert_eq!(h.max_timestamp, 5_000);
    assert_eq!(log.headers_from(0).expect("headers"), vec![h]);
    // A count that disagrees with the records is refused and leaves the log as it was.
    let good = batch(1, 5_000);
    let mut bad = good.to_vec();
    bad[57..61].copy_from_slice(&5i32.to_be_bytes());
    bad[23..27].copy_from_slice(&4i32.to_be_bytes());
    let crc = batch::compute_crc(&bad);
    bad[17..21].copy_from_slice(&crc.to_be_bytes());
    assert!(matches!(
        log.append_from(validate::Origin::Client, Bytes::from(bad), now()),
        Err(LogError::RecordErrors { .. })
    ));
    assert_eq!(log.offsets().log_end, 3);
}

#[test]
fn a_diverging_follower_fetch_does_not_move_the_high_watermark() {
    use super::FollowerPosition;
    let dir = tempfile::tempdir().expect("tmp");
    let store = LogStore::open(opts(dir.path())).expect("open");
    let log = store
        .get_or_create("t", 0, LogConfig::default())
        .expect("create");
    let now = now();
    log.become_leader(1, 0, vec![2], &[2], now);
    for _ in 0..3 {
        log.append(batch(2, now), now).expect("append");
    }
    // Epoch 3 starts at offset 6 (epoch 2 was another leader's, never in this log).
    log.become_leader(3, 1, vec![2], &[2], now);
    for _ in 0..2 {
        log.append(batch(2, now), now).expect("append");
    }
    let at = |offset, last_fetched_epoch, current_leader_epoch| FollowerPosition {
        offset,
        durable: offset,
        current_leader_epoch,
        last_fetched_epoch,
    };
    let hw = log.offsets().high_watermark;
    // The follower holds offsets 6..8 from epoch 2: other records than ours there.
    let got = log
        .on_follower_fetch(2, at(8, 2, 3), true, now)
        .expect("leader");
    assert!(!got.may_join);
    assert_eq!(
        log.offsets().high_watermark,
        hw,
        "a diverging log counts for nothing"
    );
    assert!(
        matches!(
            log.on_follower_fetch(2, at(10, 3, 2), true, now),
            Err(LogError::NotLeader)
        ),
        "a fetch in an older leader epoch is fenced"
    );
    assert_eq!(log.offsets().high_watermark, hw);
    log.on_follower_fetch(2, at(6, 1, 3), true, now)
        .expect("leader");
    assert_eq!(
        log.offsets().high_watermark,
        6,
        "truncated to where epoch 1 ends"
    );
    log.on_follower_fetch(2, at(10, 3, 3), true, now)
        .expect("leader");
    assert_eq!(log.offsets().high_watermark, 10);
}

/// A caught-up follower whose broker is leaving (fenced, or in controlled shutdown) is not proposed
/// for the ISR: a pending addition holds the high watermark until the controller answers (KIP-841).
#[test]
fn a_leaving_broker_is_not_proposed_for_the_isr() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = LogStore::open(opts(dir.path())).expect("open");
    let log = store
        .get_or_create("t", 0, LogConfig::default())
        .expect("create");
    let now = now();
    log.become_leader(1, 0, vec![], &[2], now);
    log.append(batch(2, now), now).expect("append");
    let caught_up = FollowerPosition {
        offset: 2,
        durable: 2,
        current_leader_epoch: 1,
        last_fetched_epoch: 1,
    };
    let leaving = log
        .on_follower_fetch(2, caught_up, false, now)
        .expect("leader");
    assert!(!leaving.may_join);
    assert_eq!(log.offsets().high_watermark, 2, "nothing pending holds it");
    let eligible = log
        .on_follower_fetch(2, caught_up, true, now)
        .expect("leader");
    assert!(
        eligible.may_join,
        "an eligible caught-up follower is proposed"
    );
}

/// A batch as a leader wrote it: `n` records from `base_offset`, stamped with leader epoch `epoch`.
fn leader_batch(n: usize, base_offset: i64, epoch: i32) -> Bytes {
    let mut b = batch(n, now()).to_vec();
    batch::stamp_base_offset(&mut b, base_offset);
    batch::stamp_leader_epoch(&mut b, epoch);
    Bytes::from(b)
}

#[test]
fn a_follower_below_its_leaders_log_start_restarts_there() {
    let dir = tempfile::tempdir().expect("tmp");
    {
        let store = LogStore::open(opts(dir.path())).expect("open");
        let log = store.get_or_create("t", 0, small_config()).expect("c");
        log.become_follower(1);
        for i in 0..20 {
            log.append_as_follower(leader_batch(3, i * 3, 1), now())
                .expect("append");
        }
        assert!(log.lock().segments.len() > 1, "several segments");
        // The leader's log starts at 500: nothing here is of use any more.
        log.truncate_fully_and_start_at(500).expect("truncate");
        let o = log.offsets();
        assert_eq!((o.log_start, o.log_end, o.high_watermark), (500, 500, 500));
        assert_eq!(log.lock().segments.len(), 1);
        assert_eq!(log.end_offset_for_epoch(1).0, -1, "epochs forgotten");
        assert!(matches!(
            log.read(0, 1 << 20),
            Err(LogError::OffsetOutOfRange { .. })
        ));
        let end = log
            .append_as_follower(leader_batch(2, 500, 2), now())
            .expect("append at the leader's start");
        assert_eq!(end, 502);
        store.shutdown().expect("shutdown");
    }
    // Only the new segment is on disk, and the log reopens from it.
    let logs: Vec<_> = std::fs::read_dir(dir.path().join("t-0"))
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".log"))
        .collect();
    assert_eq!(logs, vec![format!("{:020}.log", 500)]);
    let store = LogStore::open(opts(dir.path())).expect("reopen");
    let log = store.get_or_create("t", 0, small_config()).expect("c");
    let o = log.offsets();
    assert_eq!((o.log_start, o.log_end), (500, 502));
    assert_eq!(walk(&log, 500), vec![(500, 501)]);
    assert_eq!(log.end_offset_for_epoch(2), (2, 502));
}

#[test]
fn a_log_end_lost_below_the_log_start_restarts_the_log_at_the_log_start() {
    let dir = tempfile::tempdir().expect("tmp");
    let part_dir;
    {
        let store = LogStore::open(opts(dir.path())).expect("open");
        let log = store
            .get_or_create("t", 0, LogConfig::default())
            .expect("create");
        for _ in 0..5 {
            log.append(batch(1, now()), now()).expect("append");
        }
        assert_eq!(log.delete_records(4).expect("delete"), 4);
        store.write_checkpoints().expect("checkpoints");
        part_dir = log.dir().to_path_buf();
        // No shutdown: the power goes and the unflushed records with it.
    }
    std::fs::OpenOptions::new()
        .write(true)
        .open(last_segment_path(&part_dir))
        .expect("open")
        .set_len(0)
        .expect("truncate");
    let store = LogStore::open(opts(dir.path())).expect("reopen");
    let log = store
        .get_or_create("t", 0, LogConfig::default())
        .expect("get");
    let o = log.offsets();
    // Kafka's LogLoader: the log restarts empty at the checkpointed log start, offsets 0..4 are never
    // handed out again.
    assert_eq!((o.log_start, o.log_end), (4, 4));
    assert_eq!(
        log.append(batch(1, now()), now())
            .expect("append")
            .base_offset,
        4
    );
    assert_eq!(walk(&log, 4), vec![(4, 4)]);
}
