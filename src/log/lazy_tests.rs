//! Tests of partitions created lazily (`LogStore::get_or_create_many`): no folder until the first write,
//! crash and restart with partitions never written, deletion and strays without a folder.

use std::path::Path;

use bytes::Bytes;

use super::batch::{build_batch, split_batches};
use super::*;

fn one_record(value: &[u8]) -> Bytes {
    build_batch(&[(None, Some(value))], partition::now_ms(), -1, -1, -1, 0)
}

fn create(store: &LogStore, topic: &str, n: i32) -> Vec<std::sync::Arc<PartitionLog>> {
    let items = (0..n).map(|p| (topic.to_string(), p, LogConfig::default()));
    store
        .get_or_create_many(items)
        .into_iter()
        .map(|r| r.expect("create"))
        .collect()
}

fn values(log: &PartitionLog) -> Vec<Vec<u8>> {
    let r = log.read(log.offsets().log_start, 1 << 20).expect("read");
    split_batches(&r.records)
        .flat_map(|(_, b)| {
            batch::BatchRecords::new(&b)
                .expect("records")
                .map(|r| {
                    r.expect("record")
                        .value
                        .map(|v| v.to_vec())
                        .unwrap_or_default()
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn folder(dir: &Path, topic: &str, p: i32) -> std::path::PathBuf {
    dir.join(format!("{topic}-{p}"))
}

#[test]
fn no_folder_until_the_first_append() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = LogStore::open(StoreOptions::new(dir.path())).expect("open");
    let logs = create(&store, "t", 3);
    for (p, log) in logs.iter().enumerate() {
        assert!(
            !folder(dir.path(), "t", p as i32).exists(),
            "t-{p} created eagerly"
        );
        assert!(!log.is_on_disk());
        let o = log.offsets();
        assert_eq!((o.log_start, o.high_watermark, o.log_end), (0, 0, 0));
        assert!(log.read(0, 1024).expect("read").records.is_empty());
        assert_eq!(log.size_bytes(), 0);
        assert_eq!(log.offset_for_timestamp(0).expect("by time"), None);
        assert_eq!(log.max_timestamp().expect("max"), None);
    }
    // A flush of a partition never written (a follower's wait, `flush.ms`) makes nothing.
    logs[0].flush_now().expect("flush");
    assert!(!folder(dir.path(), "t", 0).exists());

    let info = logs[1]
        .append(one_record(b"first"), partition::now_ms())
        .expect("append");
    assert_eq!(info.base_offset, 0);
    assert!(folder(dir.path(), "t", 1)
        .join("00000000000000000000.log")
        .exists());
    assert!(logs[1].is_on_disk());
    assert!(
        logs[1].lock().data_dir_sync > 0,
        "the data folder's fsync is owed"
    );
    logs[1].flush_now().expect("flush");
    assert_eq!(logs[1].lock().data_dir_sync, 0, "paid by the flush");
    assert_eq!(values(&logs[1]), vec![b"first".to_vec()]);
    assert!(!folder(dir.path(), "t", 0).exists() && !folder(dir.path(), "t", 2).exists());
    // The same call again finds the partitions in memory.
    let again = create(&store, "t", 3);
    assert!(std::sync::Arc::ptr_eq(&again[0], &logs[0]));
}

#[test]
fn a_partition_never_written_survives_a_crash_and_takes_its_first_append() {
    let dir = tempfile::tempdir().expect("tmp");
    {
        let store = LogStore::open(StoreOptions::new(dir.path())).expect("open");
        let logs = create(&store, "t", 2);
        logs[0].become_leader(3, 1, vec![], &[], partition::now_ms());
        logs[1]
            .append(one_record(b"kept"), partition::now_ms())
            .expect("append");
        logs[1].flush_now().expect("flush");
        // No shutdown: the store is dropped as a SIGKILL would leave it.
    }
    let store = LogStore::open(StoreOptions::new(dir.path())).expect("reopen");
    assert_eq!(store.existing(), vec![("t".to_string(), 1)]);
    // What the metadata's reconcile does at start-up: every partition placed here, folder or not.
    let logs = create(&store, "t", 2);
    assert!(!logs[0].is_on_disk());
    assert_eq!(logs[0].offsets().log_end, 0);
    assert_eq!(values(&logs[1]), vec![b"kept".to_vec()]);
    // The image's leadership applies again; the first append creates the folder and the epoch entry.
    logs[0].become_leader(3, 1, vec![], &[], partition::now_ms());
    let info = logs[0]
        .append(one_record(b"after"), partition::now_ms())
        .expect("append");
    assert_eq!((info.base_offset, info.leader_epoch), (0, 3));
    logs[0].flush_now().expect("flush");
    let epochs = std::fs::read_to_string(folder(dir.path(), "t", 0).join(epoch_cache::FILE_NAME))
        .expect("leader-epoch-checkpoint");
    assert!(epochs.lines().any(|l| l == "3 0"), "{epochs}");
    // A clean shutdown with a partition never written makes no folder for it.
    let idle = create(&store, "idle", 1);
    store.shutdown().expect("shutdown");
    assert!(!folder(dir.path(), "idle", 0).exists());
    assert!(!idle[0].is_on_disk());
    drop(store);

    let store = LogStore::open(StoreOptions::new(dir.path())).expect("reopen");
    let logs = create(&store, "t", 2);
    assert_eq!(values(&logs[0]), vec![b"after".to_vec()]);
    let idle = create(&store, "idle", 1);
    assert_eq!(
        idle[0]
            .append(one_record(b"x"), partition::now_ms())
            .expect("append")
            .base_offset,
        0
    );
}

#[test]
fn deleting_or_setting_aside_a_partition_without_a_folder() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = LogStore::open(StoreOptions::new(dir.path())).expect("open");
    let logs = create(&store, "t", 2);
    store.delete("t", 0).expect("delete");
    assert!(store.get("t", 0).is_none());
    assert!(matches!(
        logs[0].append(one_record(b"x"), partition::now_ms()),
        Err(LogError::Deleted)
    ));
    assert!(!folder(dir.path(), "t", 0).exists());
    assert_eq!(store.set_aside_stray("t", 1).expect("stray"), None);
    assert!(store.get("t", 1).is_none());
    // With a folder, the stray is kept under a new name.
    let logs = create(&store, "u", 1);
    logs[0]
        .append(one_record(b"x"), partition::now_ms())
        .expect("append");
    let aside = store
        .set_aside_stray("u", 0)
        .expect("stray")
        .expect("a folder");
    assert!(aside.exists() && !folder(dir.path(), "u", 0).exists());
    let kept: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("t-"))
        .collect();
    assert!(kept.is_empty(), "nothing left for t: {kept:?}");
}

#[test]
fn a_follower_truncation_or_restart_creates_the_folder() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = LogStore::open(StoreOptions::new(dir.path())).expect("open");
    let logs = create(&store, "t", 1);
    logs[0].become_follower(2);
    // Its leader's log starts at 50: the follower restarts there, which must persist.
    logs[0].truncate_fully_and_start_at(50).expect("restart at");
    assert!(logs[0].is_on_disk());
    assert!(folder(dir.path(), "t", 0)
        .join("00000000000000000050.log")
        .exists());
    assert!(!folder(dir.path(), "t", 0)
        .join("00000000000000000000.log")
        .exists());
    assert_eq!(logs[0].offsets().log_start, 50);
}
