//! Tests of the store at scale: many partitions and segments through a tiny `log.max.open.files`, evicted
//! segments reopened (indexes written back and reloaded), clean and unclean restarts, cheap shutdown of
//! idle partitions.

use std::sync::Arc;

use bytes::Bytes;

use super::batch::{build_batch, split_batches, KeyValue};
use super::*;

fn capped(dir: &std::path::Path, max_open_files: usize) -> StoreOptions {
    let mut o = StoreOptions::new(dir);
    o.max_open_files = max_open_files;
    o
}

fn batch(n: usize, ts: i64) -> Bytes {
    let vals: Vec<Vec<u8>> = (0..n).map(|i| format!("v{i}").into_bytes()).collect();
    let recs: Vec<KeyValue<'_>> = vals.iter().map(|v| (None, Some(&v[..]))).collect();
    build_batch(&recs, ts, -1, -1, -1, 0)
}

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 400,
        index_interval_bytes: 100,
        retention_ms: -1,
        ..LogConfig::default()
    }
}

/// Every batch's (first, last) offset, walking 300-byte reads from `from` to the log end.
fn walk(log: &PartitionLog, from: i64) -> Vec<(i64, i64)> {
    super::tests::walk_reading(log, from, 300)
}

fn segments(log: &PartitionLog) -> usize {
    log.lock().segments.len()
}

fn resident(log: &PartitionLog) -> usize {
    log.lock()
        .segments
        .iter()
        .filter(|s| s.is_resident())
        .count()
}

/// The flusher thread may sit between reopening a file and evicting another one: one over the cap, briefly.
fn assert_within_cap(store: &LogStore, cap: usize) {
    let stats = store.file_cache_stats();
    assert!(stats.resident <= cap + 1, "{stats:?}");
}

const PARTITIONS: i32 = 50;

/// Appends `rounds` batches of 3 records to each partition, round-robin, so consecutive appends to one
/// partition are separated by 49 others (more than the cache holds).
fn fill(store: &LogStore, rounds: i64) -> Vec<Arc<PartitionLog>> {
    let logs: Vec<_> = (0..PARTITIONS)
        .map(|p| store.get_or_create("many", p, config()).expect("create"))
        .collect();
    for round in 0..rounds {
        for log in &logs {
            log.append(batch(3, 1000 + round), 0).expect("append");
        }
    }
    logs
}

fn expected(rounds: i64) -> Vec<(i64, i64)> {
    (0..rounds).map(|r| (r * 3, r * 3 + 2)).collect()
}

#[test]
fn eight_open_files_serve_fifty_partitions() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = LogStore::open(capped(dir.path(), 8)).expect("open");
    let logs = fill(&store, 12);
    assert_within_cap(&store, 8);
    let stats = store.file_cache_stats();
    assert!(stats.evictions > 0 && stats.opens > 50, "{stats:?}");
    assert!(logs.iter().all(|l| segments(l) > 2), "small segments roll");
    for log in &logs {
        assert_eq!(walk(log, 0), expected(12));
        // Mid-batch offsets and timestamp lookups on segments whose files were closed.
        let r = log.read(7, 1).expect("read");
        let (h, _) = split_batches(&r.records).next().expect("batch");
        assert_eq!((h.base_offset, h.last_offset()), (6, 8));
        assert_eq!(
            log.offset_for_timestamp(1005).expect("ts"),
            Some((15, 1005))
        );
        assert_eq!(log.max_timestamp().expect("max").map(|x| x.1), Some(1011));
    }
    assert_within_cap(&store, 8);
    let open: usize = logs.iter().map(|l| resident(l)).sum();
    assert!(open <= 8 + 1, "{open} segments hold files");

    // Clean restart: nothing is opened until used, everything is still there, appends continue.
    store.shutdown().expect("shutdown");
    drop(logs);
    drop(store);
    let store = LogStore::open(capped(dir.path(), 8)).expect("reopen");
    assert_eq!(store.file_cache_stats().resident, 0);
    let logs: Vec<_> = (0..PARTITIONS)
        .map(|p| store.get_or_create("many", p, config()).expect("get"))
        .collect();
    for log in &logs {
        assert_eq!(log.offsets().log_end, 36);
        assert_eq!(
            log.append(batch(3, 2000), 0).expect("append").base_offset,
            36
        );
    }
    for log in &logs {
        let mut want = expected(12);
        want.push((36, 38));
        assert_eq!(walk(log, 0), want);
        assert_eq!(log.max_timestamp().expect("max").map(|x| x.1), Some(2000));
    }
    assert_within_cap(&store, 8);
}

#[test]
fn evicted_active_segment_writes_its_index_back() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = LogStore::open(capped(dir.path(), 1)).expect("open");
    let big = LogConfig {
        index_interval_bytes: 100,
        retention_ms: -1,
        ..LogConfig::default()
    };
    let a = store.get_or_create("a", 0, big.clone()).expect("a");
    for i in 0..40 {
        a.append(batch(3, 1000 + i), 0).expect("append");
    }
    let index_file = a.dir().join("00000000000000000000.index");
    // Entries stay in memory until the segment is evicted (the file is created when first written).
    assert_eq!(std::fs::metadata(&index_file).map_or(0, |m| m.len()), 0);
    assert_eq!(resident(&a), 1);
    // Opening another partition's segment evicts `a`'s: its index entries go to the file.
    let b = store.get_or_create("b", 0, big).expect("b");
    b.append(batch(1, 0), 0).expect("append");
    assert_eq!(resident(&a), 0);
    assert!(std::fs::metadata(&index_file).expect("meta").len() > 0);
    // Reloaded from the file: every offset is still found, and appends index on top of it.
    for o in 0..120 {
        let r = a.read(o, 1).expect("read");
        let (h, _) = split_batches(&r.records).next().expect("batch");
        assert!(h.base_offset <= o && o <= h.last_offset());
    }
    for i in 40..60 {
        a.append(batch(3, 1000 + i), 0).expect("append");
    }
    assert_eq!(walk(&a, 0), expected(60));
    assert_eq!(a.offset_for_timestamp(1050).expect("ts"), Some((150, 1050)));
    assert_within_cap(&store, 1);
}

#[test]
fn unclean_restart_with_a_small_cache_recovers() {
    let dir = tempfile::tempdir().expect("tmp");
    let torn;
    {
        let store = LogStore::open(capped(dir.path(), 4)).expect("open");
        let logs = fill(&store, 10);
        torn = logs[3].dir().to_path_buf();
        // No shutdown: the store is dropped as in a crash.
    }
    let mut logs: Vec<_> = std::fs::read_dir(&torn)
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    logs.sort();
    let last = logs.pop().expect("a segment");
    let len = std::fs::metadata(&last).expect("meta").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&last)
        .expect("open")
        .set_len(len - 5)
        .expect("truncate");

    let store = LogStore::open(capped(dir.path(), 4)).expect("reopen");
    assert_within_cap(&store, 4);
    for p in 0..PARTITIONS {
        let log = store.get_or_create("many", p, config()).expect("get");
        let mut want = expected(10);
        if p == 3 {
            want.pop();
        }
        assert_eq!(walk(&log, 0), want, "partition {p}");
        let end = log.offsets().log_end;
        assert_eq!(log.append(batch(3, 0), 0).expect("append").base_offset, end);
    }
    assert_within_cap(&store, 4);
}

#[test]
fn shutdown_skips_partitions_untouched_since_a_clean_open() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = LogStore::open(capped(dir.path(), 8)).expect("open");
    let idle = store.get_or_create("idle", 0, config()).expect("idle");
    let busy = store.get_or_create("busy", 0, config()).expect("busy");
    for log in [&idle, &busy] {
        log.append(batch(3, 1000), 0).expect("append");
    }
    store.shutdown().expect("shutdown");
    let snapshot = |log: &PartitionLog, at: i64| {
        log.dir()
            .join(format!("{at:020}.snapshot"))
            .metadata()
            .and_then(|m| m.modified())
            .ok()
    };
    // Back-date the idle snapshot so any rewrite shows in its mtime, whatever the clock's granularity.
    let idle_snap = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
    std::fs::File::options()
        .write(true)
        .open(idle.dir().join(format!("{:020}.snapshot", 3)))
        .and_then(|f| f.set_modified(idle_snap))
        .expect("back-date snapshot");
    assert_eq!(snapshot(&idle, 3), Some(idle_snap));
    drop((idle, busy, store));

    let store = LogStore::open(capped(dir.path(), 8)).expect("reopen");
    let idle = store.get_or_create("idle", 0, config()).expect("idle");
    let busy = store.get_or_create("busy", 0, config()).expect("busy");
    assert_eq!(walk(&idle, 0), expected(1), "reads do not count as changes");
    busy.append(batch(3, 2000), 0).expect("append");
    store.shutdown().expect("shutdown");
    assert_eq!(
        snapshot(&idle, 3),
        Some(idle_snap),
        "idle partition left alone"
    );
    assert!(
        snapshot(&busy, 6).is_some(),
        "changed partition snapshotted"
    );
    drop((idle, busy, store));

    let store = LogStore::open(capped(dir.path(), 8)).expect("reopen");
    assert!(dir.path().join("idle-0").exists());
    for (name, end) in [("idle", 3), ("busy", 6)] {
        let log = store.get_or_create(name, 0, config()).expect("get");
        assert_eq!(log.offsets().log_end, end);
        assert_eq!(log.append(batch(1, 0), 0).expect("append").base_offset, end);
    }
}

#[test]
fn many_partitions_load_in_parallel_after_clean_and_unclean_stops() {
    let n = store::PARALLEL_LOAD_MIN_PARTITIONS as i32 + 44;
    let dir = tempfile::tempdir().expect("tmp");
    {
        let store = LogStore::open(capped(dir.path(), 16)).expect("open");
        for p in 0..n {
            let log = store.get_or_create("wide", p, config()).expect("create");
            for i in 0..=(i64::from(p) % 3) {
                log.append(batch(2, i), 0).expect("append");
            }
        }
        store.shutdown().expect("shutdown");
    }
    for clean in [true, false] {
        let store = LogStore::open(capped(dir.path(), 16)).expect("reopen");
        assert_eq!(store.existing().len(), n as usize);
        for p in 0..n {
            let log = store.get("wide", p).expect("loaded");
            let batches = i64::from(p) % 3 + 1 + i64::from(!clean);
            assert_eq!(log.offsets().log_end, 2 * batches, "partition {p}");
            assert_eq!(walk(&log, 0).len() as i64, batches);
            if clean {
                // Written before the unclean stop below; found again by its recovery.
                log.append(batch(2, 9), 0).expect("append");
            }
        }
        assert_within_cap(&store, 16);
        // No shutdown after the first round: the second open recovers.
    }
}

#[test]
fn an_index_found_bad_on_reopen_is_rebuilt_from_the_log() {
    let dir = tempfile::tempdir().expect("tmp");
    let big = LogConfig {
        index_interval_bytes: 100,
        retention_ms: -1,
        ..LogConfig::default()
    };
    let index_file;
    {
        let store = LogStore::open(capped(dir.path(), 4)).expect("open");
        let log = store.get_or_create("t", 0, big.clone()).expect("create");
        for i in 0..30 {
            log.append(batch(3, 1000 + i), 0).expect("append");
        }
        index_file = log.dir().join("00000000000000000000.index");
        store.shutdown().expect("shutdown");
    }
    // Keep the (plausible) last entry, which a clean open checks, but break the order before it, which
    // only the full load on first use sees.
    let mut bytes = std::fs::read(&index_file).expect("index");
    assert!(bytes.len() >= 16, "several index entries");
    bytes[..8].copy_from_slice(&[0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff]);
    std::fs::write(&index_file, &bytes).expect("write");
    let store = LogStore::open(capped(dir.path(), 4)).expect("reopen");
    let log = store.get_or_create("t", 0, big).expect("get");
    assert_eq!(log.offsets().log_end, 90);
    for o in 0..90 {
        let r = log.read(o, 1).expect("read");
        let (h, _) = split_batches(&r.records).next().expect("batch");
        assert!(h.base_offset <= o && o <= h.last_offset(), "offset {o}");
    }
    assert_eq!(walk(&log, 0), expected(30));
}
