//! Single-node cluster tests: the metadata survives restarts, changes go through the quorum.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::quorum::QuorumConfig;
use super::*;
use crate::log::StoreOptions;

fn options() -> ClusterOptions {
    ClusterOptions {
        node_id: 1,
        quorum: QuorumConfig {
            node_id: 1,
            voters: [(1, String::new())].into_iter().collect(),
            voter: true,
            listen: None,
            election_timeout: Duration::from_millis(1000),
            session_timeout: Duration::from_secs(9),
            leader_balance: Default::default(),
            log_defaults: LogConfig::default(),
            snapshot_every: quorum::SNAPSHOT_EVERY,
        },
        host: "127.0.0.1".into(),
        port: 9092,
        rack: None,
        heartbeat_interval: Duration::from_secs(2),
        replication: Default::default(),
    }
}

async fn open(dir: &Path) -> Arc<Cluster> {
    open_with(dir, options()).await
}

async fn open_with(dir: &Path, options: ClusterOptions) -> Arc<Cluster> {
    let store = LogStore::open(StoreOptions::new(dir)).unwrap();
    let c = Cluster::start(options, store, LogConfig::default())
        .await
        .unwrap();
    assert!(c.wait_active(Duration::from_secs(10)).await, "not unfenced");
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_and_ids_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path()).await;
    let t = c
        .create_topic(topic("a.b", 3, 1), Cluster::internal_deadline())
        .await
        .unwrap();
    assert!(matches!(
        c.create_topic(topic("a_b", 1, 1), Cluster::internal_deadline())
            .await,
        Err(ClusterError::InvalidTopic(_))
    ));
    assert!(matches!(
        c.create_topic(topic("a.b", 1, 1), Cluster::internal_deadline())
            .await,
        Err(ClusterError::TopicAlreadyExists(_))
    ));
    assert!(matches!(
        c.create_topic(topic("x", 1, 3), Cluster::internal_deadline())
            .await,
        Err(ClusterError::InvalidReplicationFactor(_))
    ));
    let cid = c.cluster_id();
    assert_eq!(cid.len(), 22);
    let pid = c.next_producer_id().await.unwrap();
    c.shutdown().await;
    drop(c);
    let c = open(dir.path()).await;
    assert_eq!(c.cluster_id(), cid);
    assert_eq!(c.topic("a.b").unwrap().id, t.id);
    assert_eq!(c.topic_name(t.id).as_deref(), Some("a.b"));
    assert!(c.next_producer_id().await.unwrap() > pid);
    // Every partition is led again by this node after the restart, one leader epoch later per fencing.
    for p in 0..3 {
        assert!(
            c.partition("a.b", p).is_some(),
            "partition {p} not led here"
        );
    }
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recreated_topic_does_not_inherit_checkpointed_log_start() {
    let dir = tempfile::tempdir().unwrap();
    let batch = || crate::log::batch::build_batch(&[(None, Some(&b"v"[..]))], 0, -1, -1, -1, 0);
    {
        let c = open(dir.path()).await;
        c.create_topic(topic("t", 1, 1), Cluster::internal_deadline())
            .await
            .unwrap();
        let log = c.partition("t", 0).unwrap();
        for _ in 0..20 {
            log.append(batch(), 0).unwrap();
        }
        log.delete_records(10).unwrap();
        c.store().write_checkpoints().unwrap();
        c.delete_topic("t", Cluster::internal_deadline())
            .await
            .unwrap();
        c.create_topic(topic("t", 1, 1), Cluster::internal_deadline())
            .await
            .unwrap();
        let log = c.partition("t", 0).unwrap();
        for _ in 0..20 {
            log.append(batch(), 0).unwrap();
        }
        // Crash of the log store: no store shutdown, no maintenance pass (the quorum stops cleanly).
        c.shutdown().await;
    }
    let c = open(dir.path()).await;
    assert_eq!(c.partition("t", 0).unwrap().offsets().log_start, 0);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_of_another_node_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path()).await;
    // The cluster id is recorded once the quorum has one.
    let props = dir.path().join(META_PROPERTIES);
    for _ in 0..200 {
        if props.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let text = std::fs::read_to_string(&props).unwrap();
    assert!(
        text.contains(&format!("cluster.id={}", c.cluster_id())),
        "{text}"
    );
    c.shutdown().await;
    drop(c);
    let store = LogStore::open(StoreOptions::new(dir.path())).unwrap();
    let mut other = options();
    other.node_id = 2;
    other.quorum.node_id = 2;
    other.quorum.voters = [(2, String::new())].into_iter().collect();
    let err = Cluster::start(other, store, LogConfig::default())
        .await
        .err();
    assert!(
        matches!(err, Some(ClusterError::WrongCluster(_))),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_compact_the_metadata_log_and_restore_the_image() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options();
    opts.quorum.snapshot_every = 10;
    let c = open_with(dir.path(), opts.clone()).await;
    for i in 0..40 {
        c.create_topic(topic(&format!("t{i}"), 1, 1), Cluster::internal_deadline())
            .await
            .unwrap();
    }
    c.delete_topic("t0", Cluster::internal_deadline())
        .await
        .unwrap();
    let before = c.image();
    c.shutdown().await;
    drop(c);
    let meta = dir.path().join(quorum::METADATA_DIR);
    assert!(meta.join("snapshot.json").exists(), "no snapshot taken");
    // The log behind the snapshot was purged: far fewer entries remain than were written.
    let log = std::fs::read(meta.join("raft.log")).unwrap();
    let entries = log.windows(9).filter(|w| w == b"\"log_id\":").count();
    assert!(entries < 25, "{entries} entries left in the metadata log");
    let c = open_with(dir.path(), opts).await;
    let after = c.image();
    assert_eq!(after.topics.len(), 39);
    assert!(!after.topics.contains_key("t0"));
    for (name, t) in &before.topics {
        assert_eq!(after.topics.get(name).map(|a| a.id), Some(t.id), "{name}");
    }
    assert_eq!(after.topic_name(before.topics["t7"].id), Some("t7"));
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stray_replicas_are_set_aside_once_the_metadata_has_caught_up() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path()).await;
    c.create_topic(topic("kept", 1, 1), Cluster::internal_deadline())
        .await
        .unwrap();
    // Written once, so the partition has a folder (created by its first write).
    let kept = c.store().get("kept", 0).unwrap();
    let one = crate::log::batch::build_batch(&[(None, Some(&b"x"[..]))], 0, -1, -1, -1, 0);
    kept.append(one, 0).unwrap();
    drop(kept);
    c.shutdown().await;
    drop(c);
    // Folders the metadata does not place here: a topic it does not know, a partition past the count.
    let store = LogStore::open(StoreOptions::new(dir.path())).unwrap();
    for (t, p) in [("gone", 0), ("kept", 3)] {
        store.get_or_create(t, p, LogConfig::default()).unwrap();
    }
    store.shutdown().unwrap();
    drop(store);
    assert!(dir.path().join("gone-0").exists());
    let c = open(dir.path()).await;
    // The lifecycle sets them aside after the image shows this broker's registration, before unfencing:
    // renamed `<name>.<uuid>-stray` (kept for an operator, as Kafka does), no longer served.
    assert!(!dir.path().join("gone-0").exists());
    assert!(!dir.path().join("kept-3").exists());
    assert!(dir.path().join("kept-0").exists());
    let aside: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with("-stray"))
        .collect();
    assert_eq!(aside.len(), 2, "{aside:?}");
    assert!(aside.iter().any(|n| n.starts_with("gone-0.")));
    assert!(c.store().get("gone", 0).is_none());
    c.shutdown().await;
}

/// A topic of `partitions` partitions with `rf` replicas.
fn topic(name: &str, partitions: i32, rf: i16) -> NewTopic {
    NewTopic {
        name: name.to_string(),
        partitions,
        replication_factor: rf,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_assignments_are_honoured_and_validated_as_kafka_does() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path()).await;
    let manual = |name: &str, a: Vec<Vec<i32>>| NewTopic {
        name: name.to_string(),
        partitions: -1,
        replication_factor: -1,
        assignments: Some(a),
        ..Default::default()
    };
    let dl = Cluster::internal_deadline;
    let t = c.create_topic(manual("m", vec![vec![1], vec![1]]), dl());
    let t = t.await.unwrap();
    assert_eq!(t.partition_count(), 2);
    assert_eq!(c.topic("m").unwrap().partitions[1].replicas, vec![1]);
    fn refused<T: std::fmt::Debug>(r: Result<T, ClusterError>) -> String {
        match r {
            Err(ClusterError::InvalidReplicaAssignment(m)) => m,
            other => panic!("expected INVALID_REPLICA_ASSIGNMENT, got {other:?}"),
        }
    }
    let unknown = c.create_topic(manual("u", vec![vec![7]]), dl()).await;
    assert_eq!(
        refused(unknown),
        "The manual partition assignment includes broker 7, but no such broker is registered."
    );
    let twice = c.create_topic(manual("d", vec![vec![1, 1]]), dl()).await;
    assert_eq!(
        refused(twice),
        "The manual partition assignment includes the broker 1 more than once."
    );
    let empty = c
        .create_topic(manual("e", vec![vec![1], vec![]]), dl())
        .await;
    assert_eq!(
        refused(empty),
        "The manual partition assignment includes an empty replica list."
    );
    assert!(c.topic("u").is_none() && c.topic("d").is_none() && c.topic("e").is_none());
    // CreatePartitions: one list per added partition, with the topic's replication factor.
    let few = c
        .create_partitions("m", 4, Some(vec![vec![1]]), false, dl())
        .await;
    assert_eq!(
        refused(few),
        "Attempted to add 2 additional partition(s), but only 1 assignment(s) were specified."
    );
    let wider = c
        .create_partitions("m", 3, Some(vec![vec![1, 7]]), false, dl())
        .await;
    assert!(refused(wider).contains("no such broker"));
    c.create_partitions("m", 3, Some(vec![vec![1]]), false, dl())
        .await
        .unwrap();
    assert_eq!(c.topic("m").unwrap().partitions[2].replicas, vec![1]);
    // A deadline already passed (timeout_ms 0) changes nothing and times out, as Kafka's controller does.
    let late = c
        .create_topic(topic("late", 1, 1), tokio::time::Instant::now())
        .await;
    assert!(matches!(late, Err(ClusterError::TimedOut)), "{late:?}");
    assert!(c.topic("late").is_none());
    c.shutdown().await;
}
