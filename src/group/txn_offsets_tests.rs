//! Transactional offsets (TxnOffsetCommit) on an in-memory `__consumer_offsets`: pending in the log
//! until their marker, at run time and after a reload, and Kafka's rules where they meet plain commits,
//! tombstones and expiry.

use std::sync::Arc;

use super::*;
use crate::coordinator::{LogEntry, TxnMarker};

struct Topics;
impl TopicLookup for Topics {
    fn partition_exists(&self, topic: &str, partition: i32) -> bool {
        topic != "missing" && (0..10).contains(&partition)
    }
}

fn start_on(log: &Arc<InMemoryOffsetsLog>) -> GroupCoordinator {
    GroupCoordinator::start(GroupConfig::default(), log.clone(), Arc::new(Topics)).unwrap()
}

fn commit(group: &str, parts: &[(&str, i32, i64)]) -> OffsetCommitRequest {
    OffsetCommitRequest {
        group_id: group.into(),
        generation_id: -1,
        member_id: String::new(),
        group_instance_id: None,
        retention_time_ms: -1,
        partitions: parts
            .iter()
            .map(|&(t, p, o)| PartitionCommit {
                topic: t.into(),
                partition: p,
                offset: o,
                leader_epoch: -1,
                metadata: String::new(),
            })
            .collect(),
    }
}

fn marker(producer_id: i64, commit: bool) -> TxnMarker {
    TxnMarker {
        producer_id,
        producer_epoch: 0,
        coordinator_epoch: 0,
        commit,
    }
}

async fn offset(c: &GroupCoordinator, group: &str, partition: i32) -> i64 {
    let f = c
        .fetch_offsets(group, Some(vec![("t".into(), partition)]))
        .await
        .unwrap();
    f[0].offset
}

async fn txn_commit(c: &GroupCoordinator, pid: i64, group: &str, parts: &[(&str, i32, i64)]) {
    let results = c.txn_commit_offsets((pid, 0), commit(group, parts)).await;
    assert!(results.iter().all(|r| r.error.is_none()), "{results:?}");
}

#[tokio::test(start_paused = true)]
async fn pending_offsets_are_transactional_records_until_their_marker() {
    let log = Arc::new(InMemoryOffsetsLog::new());
    let c = start_on(&log);
    let partition = c.partition_for("g");
    c.commit_offsets(commit("g", &[("t", 0, 1)])).await;
    txn_commit(&c, 7, "g", &[("t", 0, 10), ("t", 1, 11)]).await;
    let r = c
        .txn_commit_offsets((7, 0), commit("g", &[("missing", 0, 1)]))
        .await;
    assert_eq!(r[0].error, Some(GroupError::UnknownTopicOrPartition));
    // Written as a transactional batch of producer 7: durable, but not committed.
    let entries = log.entries(partition);
    let txn: Vec<_> = entries
        .iter()
        .filter(|e| {
            matches!(
                e,
                LogEntry::Record {
                    producer_id: Some(7),
                    ..
                }
            )
        })
        .collect();
    assert_eq!(txn.len(), 2);
    assert_eq!(offset(&c, "g", 0).await, 1);
    assert_eq!(offset(&c, "g", 1).await, -1);
    let unstable = vec![("t".to_string(), 0), ("t".to_string(), 1)];
    assert_eq!(c.pending_txn_partitions("g").await.unwrap(), unstable);

    // The coordinator moves (or restarts) before the marker: the new one holds them pending too.
    c.shutdown().await;
    let moved = start_on(&log);
    assert_eq!(moved.pending_txn_partitions("g").await.unwrap(), unstable);
    assert_eq!(offset(&moved, "g", 0).await, 1);
    moved
        .complete_txn(partition, marker(7, true))
        .await
        .unwrap();
    assert_eq!(offset(&moved, "g", 0).await, 10);
    assert_eq!(offset(&moved, "g", 1).await, 11);
    assert!(moved.pending_txn_partitions("g").await.unwrap().is_empty());
    assert!(matches!(
        log.entries(partition).last(),
        Some(LogEntry::EndTxn {
            producer_id: 7,
            commit: true
        })
    ));

    // An aborted transaction's offsets never land, and a reload agrees with the run time.
    txn_commit(&moved, 8, "g", &[("t", 0, 99)]).await;
    moved
        .complete_txn(partition, marker(8, false))
        .await
        .unwrap();
    assert_eq!(offset(&moved, "g", 0).await, 10);
    moved.shutdown().await;
    let again = start_on(&log);
    assert_eq!(offset(&again, "g", 0).await, 10);
    assert_eq!(offset(&again, "g", 1).await, 11);
    assert!(again.pending_txn_partitions("g").await.unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_newer_of_a_transactional_and_a_plain_commit_wins() {
    let log = Arc::new(InMemoryOffsetsLog::new());
    let c = start_on(&log);
    let partition = c.partition_for("g");
    // Transactional offset first, plain commit after it, then the commit marker: the plain one is newer
    // in the log and stays (Kafka compares record offsets).
    txn_commit(&c, 7, "g", &[("t", 0, 5)]).await;
    c.commit_offsets(commit("g", &[("t", 0, 7)])).await;
    // Plain commit first, transactional after: the transactional one lands.
    c.commit_offsets(commit("g", &[("t", 1, 3)])).await;
    txn_commit(&c, 7, "g", &[("t", 1, 4)]).await;
    c.complete_txn(partition, marker(7, true)).await.unwrap();
    assert_eq!(offset(&c, "g", 0).await, 7);
    assert_eq!(offset(&c, "g", 1).await, 4);
    c.shutdown().await;
    let reloaded = start_on(&log);
    assert_eq!(offset(&reloaded, "g", 0).await, 7);
    assert_eq!(offset(&reloaded, "g", 1).await, 4);
}

#[tokio::test(start_paused = true)]
async fn deleting_the_group_drops_its_pending_offsets() {
    let log = Arc::new(InMemoryOffsetsLog::new());
    let c = start_on(&log);
    let partition = c.partition_for("g");
    txn_commit(&c, 7, "g", &[("t", 0, 5)]).await;
    // Only pending offsets: the group exists (Empty) and is deleted with them.
    assert_eq!(
        c.delete_groups(vec!["g".into()]).await,
        vec![("g".into(), None)]
    );
    assert!(c.pending_txn_partitions("g").await.unwrap().is_empty());
    c.complete_txn(partition, marker(7, true)).await.unwrap();
    assert_eq!(offset(&c, "g", 0).await, -1, "the marker revives nothing");
    c.shutdown().await;
    assert_eq!(offset(&start_on(&log), "g", 0).await, -1);
}

#[tokio::test(start_paused = true)]
async fn a_failed_transactional_append_leaves_nothing_pending() {
    let log = Arc::new(InMemoryOffsetsLog::new());
    let c = start_on(&log);
    log.set_fail_appends(true);
    let r = c
        .txn_commit_offsets((7, 0), commit("g", &[("t", 0, 5)]))
        .await;
    assert!(matches!(r[0].error, Some(GroupError::Storage(_))), "{r:?}");
    log.set_fail_appends(false);
    assert!(c.pending_txn_partitions("g").await.unwrap().is_empty());
    assert_eq!(
        c.describe_group("g").await.unwrap().state,
        state::GroupState::Dead,
        "the group the failed commit created is gone"
    );
}
