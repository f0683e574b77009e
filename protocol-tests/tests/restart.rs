//! Committed offsets survive a restart: clean (shutdown, then a new broker on the same data folder) and
//! unclean (the broker's runtime is dropped without shutdown, so no flush and no clean-shutdown marker;
//! the new broker recovers `__consumer_offsets` from the log).

use std::time::Duration;

use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::{GroupId, OffsetCommitRequest, OffsetFetchRequest};
use weir_protocol_tests::*;

const TOPIC: &str = "restart-t";

/// (group, partition, offset, metadata) committed before the restart.
const COMMITS: &[(&str, i32, i64, &str)] = &[
    ("restart-g1", 0, 17, "first"),
    ("restart-g1", 1, 5, ""),
    ("restart-g1", 2, 99, "ünïcødé metadata"),
    ("restart-g2", 0, 3, "other group"),
];

async fn commit_all(c: &mut Client) {
    c.find_coordinator("restart-g1").await;
    for (group, partition, offset, meta) in COMMITS {
        let req = OffsetCommitRequest::default()
            .with_group_id(GroupId(str_bytes(group)))
            .with_generation_id_or_member_epoch(-1)
            .with_member_id(str_bytes(""))
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(topic_name(TOPIC))
                .with_partitions(vec![OffsetCommitRequestPartition::default()
                    .with_partition_index(*partition)
                    .with_committed_offset(*offset)
                    .with_committed_leader_epoch(0)
                    .with_committed_metadata(Some(str_bytes(meta)))])]);
        let resp = c.call(9, &req).await;
        assert_eq!(resp.topics[0].partitions[0].error_code, 0, "commit {group}");
    }
    assert_eq!(fetch_all(c).await, expected(), "before the restart");
}

/// (group, partition, offset, leader epoch, metadata) for every partition of TOPIC in both groups.
async fn fetch_all(c: &mut Client) -> Vec<(String, i32, i64, i32, String)> {
    let req = OffsetFetchRequest::default().with_groups(
        ["restart-g1", "restart-g2"]
            .iter()
            .map(|g| {
                OffsetFetchRequestGroup::default()
                    .with_group_id(GroupId(str_bytes(g)))
                    .with_topics(Some(vec![OffsetFetchRequestTopics::default()
                        .with_name(topic_name(TOPIC))
                        .with_partition_indexes(vec![0, 1, 2])]))
            })
            .collect(),
    );
    let resp = c.call(9, &req).await;
    let mut out = Vec::new();
    for g in &resp.groups {
        assert_eq!(g.error_code, 0, "group {}", g.group_id.as_str());
        for t in &g.topics {
            for p in &t.partitions {
                assert_eq!(p.error_code, 0);
                out.push((
                    g.group_id.to_string(),
                    p.partition_index,
                    p.committed_offset,
                    p.committed_leader_epoch,
                    p.metadata.as_deref().unwrap_or("<null>").to_string(),
                ));
            }
        }
    }
    out
}

fn expected() -> Vec<(String, i32, i64, i32, String)> {
    let mut out = Vec::new();
    for group in ["restart-g1", "restart-g2"] {
        for partition in 0..3 {
            let found = COMMITS
                .iter()
                .find(|(g, p, _, _)| *g == group && *p == partition);
            out.push(match found {
                Some((_, _, offset, meta)) => {
                    (group.to_string(), partition, *offset, 0, meta.to_string())
                }
                None => (group.to_string(), partition, -1, -1, String::new()),
            });
        }
    }
    out
}

#[tokio::test]
async fn committed_offsets_survive_a_clean_restart() {
    bounded(Duration::from_secs(30), async {
        let broker = TestBroker::start_with(|c| c.group_initial_rebalance_delay_ms = 0).await;
        let mut c = broker.client().await;
        c.create_topic(TOPIC, 3).await;
        commit_all(&mut c).await;
        drop(c);
        let broker = broker.restart().await;
        let mut c = broker.client().await;
        assert_eq!(fetch_all(&mut c).await, expected(), "after a clean restart");
        // And the group still takes new commits on top.
        commit_all(&mut c).await;
        broker.shutdown().await;
    })
    .await;
}

/// The first broker runs on a runtime of its own; dropping that runtime cancels every task of the broker
/// at its next await point without running shutdown (no flush, no clean-shutdown marker), which is what a
/// killed process leaves behind apart from the page cache.
#[test]
fn committed_offsets_survive_an_unclean_stop() {
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
    };
    let first = runtime();
    first.block_on(bounded(Duration::from_secs(20), async {
        let broker =
            TestBroker::start_in(dir.path(), |c| c.group_initial_rebalance_delay_ms = 0).await;
        let mut c = broker.client().await;
        c.create_topic(TOPIC, 3).await;
        commit_all(&mut c).await;
        broker.abandon();
    }));
    first.shutdown_timeout(Duration::from_secs(5));
    assert!(
        !dir.path().join(".kafka_cleanshutdown").exists(),
        "an abandoned broker leaves no clean-shutdown marker"
    );
    let second = runtime();
    second.block_on(bounded(Duration::from_secs(20), async {
        let broker =
            TestBroker::start_in(dir.path(), |c| c.group_initial_rebalance_delay_ms = 0).await;
        let mut c = broker.client().await;
        assert_eq!(fetch_all(&mut c).await, expected(), "after an unclean stop");
        broker.shutdown().await;
    }));
}
