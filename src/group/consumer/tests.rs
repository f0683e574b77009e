//! Consumer-group (KIP-848) rules through the coordinator API, with an in-memory log and paused time.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use super::*;
use crate::group::{
    GroupConfig, GroupCoordinator, InMemoryOffsetsLog, OffsetCommitRequest, PartitionCommit,
    TopicLookup,
};

/// Topics the tests can add to while a group runs.
#[derive(Default)]
pub(super) struct Topics(Mutex<Vec<TopicInfo>>);

impl Topics {
    pub(super) fn add(&self, name: &str, partitions: i32) -> Uuid {
        let id = Uuid::new_v4();
        let mut all = self.0.lock().unwrap();
        all.push(TopicInfo {
            name: name.into(),
            id,
            partitions,
        });
        id
    }
}

impl TopicLookup for Arc<Topics> {
    fn partition_exists(&self, topic: &str, partition: i32) -> bool {
        self.topic_info(topic)
            .is_some_and(|t| (0..t.partitions).contains(&partition))
    }
    fn topic_info(&self, name: &str) -> Option<TopicInfo> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .find(|t| t.name == name)
            .cloned()
    }
    fn all_topics(&self) -> Vec<TopicInfo> {
        self.0.lock().unwrap().clone()
    }
}

pub(super) fn start(topics: &Arc<Topics>, log: &Arc<InMemoryOffsetsLog>) -> GroupCoordinator {
    GroupCoordinator::start(
        GroupConfig::default(),
        log.clone(),
        Arc::new(topics.clone()),
    )
    .unwrap()
}

pub(super) fn join(group: &str, topics: &[&str]) -> HeartbeatRequest {
    HeartbeatRequest {
        group_id: group.into(),
        member_epoch: 0,
        rebalance_timeout_ms: 300_000,
        subscribed_topic_names: Some(topics.iter().map(|t| t.to_string()).collect()),
        owned: Some(Vec::new()),
        ..Default::default()
    }
}

/// A member as a client drives it: it owns what the last assignment gave it.
pub(super) struct Client {
    pub(super) group: String,
    pub(super) id: String,
    pub(super) epoch: i32,
    pub(super) owned: Vec<(Uuid, Vec<i32>)>,
    pub(super) instance: Option<String>,
}

impl Client {
    pub(super) async fn join(c: &GroupCoordinator, req: HeartbeatRequest) -> Client {
        let instance = req.instance_id.clone();
        let group = req.group_id.clone();
        let r = c.consumer_heartbeat(req).await;
        assert_eq!(r.error, None, "{:?}", r.error_message);
        Client {
            group,
            id: r.member_id,
            epoch: r.member_epoch,
            owned: r.assignment.unwrap_or_default(),
            instance,
        }
    }

    pub(super) async fn beat(&mut self, c: &GroupCoordinator) -> HeartbeatResult {
        let r = c
            .consumer_heartbeat(HeartbeatRequest {
                group_id: self.group.clone(),
                member_id: self.id.clone(),
                member_epoch: self.epoch,
                instance_id: self.instance.clone(),
                rebalance_timeout_ms: -1,
                owned: Some(self.owned.clone()),
                ..Default::default()
            })
            .await;
        assert_eq!(r.error, None, "{:?}", r.error_message);
        self.epoch = r.member_epoch;
        if let Some(a) = &r.assignment {
            self.owned = a.clone();
        }
        r
    }

    pub(super) fn partitions(&self) -> BTreeSet<i32> {
        self.owned
            .iter()
            .flat_map(|(_, p)| p.iter().copied())
            .collect()
    }
}

/// Heartbeats every client in turn until no assignment changes, checking that no partition is ever
/// owned by two clients at once.
async fn settle(c: &GroupCoordinator, clients: &mut [Client]) {
    for _ in 0..10 {
        let mut changed = false;
        for i in 0..clients.len() {
            let before = clients[i].owned.clone();
            clients[i].beat(c).await;
            changed |= before != clients[i].owned;
            let mut seen = BTreeSet::new();
            for cl in clients.iter() {
                for p in cl.partitions() {
                    assert!(seen.insert(p), "partition {p} owned twice");
                }
            }
        }
        if !changed {
            return;
        }
    }
    panic!("group did not settle");
}

#[tokio::test(start_paused = true)]
async fn three_members_share_six_partitions_and_revocation_comes_first() {
    let topics = Arc::new(Topics::default());
    topics.add("t", 6);
    let log = Arc::new(InMemoryOffsetsLog::new());
    let c = start(&topics, &log);
    let mut a = Client::join(&c, join("g", &["t"])).await;
    assert_eq!(a.partitions().len(), 6);
    let b = Client::join(&c, join("g", &["t"])).await;
    assert!(b.partitions().is_empty(), "b waits for a to release");
    // a must give up three partitions before b gets any; it keeps its epoch meanwhile.
    let old_epoch = a.epoch;
    let r = a.beat(&c).await;
    assert_eq!(r.member_epoch, old_epoch);
    assert_eq!(a.partitions().len(), 3);
    let mut clients = vec![a, b, Client::join(&c, join("g", &["t"])).await];
    settle(&c, &mut clients).await;
    let all: BTreeSet<i32> = clients.iter().flat_map(Client::partitions).collect();
    assert_eq!(all, (0..6).collect());
    assert!(clients.iter().all(|cl| cl.partitions().len() == 2));
    let d = c.consumer_describe("g").await;
    assert_eq!(d.state, ConsumerGroupState::Stable);
    assert_eq!(d.members.len(), 3);
    assert_eq!(
        c.list_consumer_groups().await.unwrap(),
        vec![("g".to_string(), "Stable")]
    );

    // A member leaving hands its partitions to the others.
    let leaving = clients.remove(0);
    let r = c
        .consumer_heartbeat(HeartbeatRequest {
            group_id: "g".into(),
            member_id: leaving.id.clone(),
            member_epoch: LEAVE_EPOCH,
            ..Default::default()
        })
        .await;
    assert_eq!((r.error, r.member_epoch), (None, LEAVE_EPOCH));
    settle(&c, &mut clients).await;
    let all: BTreeSet<i32> = clients.iter().flat_map(Client::partitions).collect();
    assert_eq!(all, (0..6).collect());
    assert!(clients.iter().all(|cl| cl.partitions().len() == 3));
}

#[tokio::test(start_paused = true)]
async fn epochs_are_checked() {
    let topics = Arc::new(Topics::default());
    topics.add("t", 2);
    let log = Arc::new(InMemoryOffsetsLog::new());
    let c = start(&topics, &log);
    let mut a = Client::join(&c, join("g", &["t"])).await;
    a.epoch += 5;
    let r = c
        .consumer_heartbeat(HeartbeatRequest {
            group_id: "g".into(),
            member_id: a.id.clone(),
            member_epoch: a.epoch,
            rebalance_timeout_ms: -1,
            ..Default::default()
        })
        .await;
    assert_eq!(r.error, Some(GroupError::FencedMemberEpoch));
    let r = c
        .consumer_heartbeat(HeartbeatRequest {
            group_id: "g".into(),
            member_id: "nobody".into(),
            member_epoch: 1,
            rebalance_timeout_ms: -1,
            ..Default::default()
        })
        .await;
    assert_eq!(r.error, Some(GroupError::UnknownMemberId));
    let mut bad = join("g", &["t"]);
    bad.server_assignor = Some("sticky".into());
    assert_eq!(
        c.consumer_heartbeat(bad).await.error,
        Some(GroupError::UnsupportedAssignor)
    );
    let mut bad = join("g", &["t"]);
    bad.subscribed_topic_regex = Some("(".into());
    bad.subscribed_topic_names = None;
    assert_eq!(
        c.consumer_heartbeat(bad).await.error,
        Some(GroupError::InvalidRegularExpression)
    );

    // OffsetCommit checks the member epoch.
    let commit = |member: &str, epoch: i32| OffsetCommitRequest {
        group_id: "g".into(),
        generation_id: epoch,
        member_id: member.into(),
        group_instance_id: None,
        retention_time_ms: -1,
        partitions: vec![PartitionCommit {
            topic: "t".into(),
            partition: 0,
            offset: 5,
            leader_epoch: -1,
            metadata: String::new(),
        }],
    };
    let real_epoch = a.epoch - 5;
    let r = c.commit_offsets(commit(&a.id, real_epoch - 1)).await;
    assert_eq!(r[0].error, Some(GroupError::StaleMemberEpoch));
    let r = c.commit_offsets(commit("nobody", real_epoch)).await;
    assert_eq!(r[0].error, Some(GroupError::UnknownMemberId));
    let r = c.commit_offsets(commit(&a.id, real_epoch)).await;
    assert_eq!(r[0].error, None);

    // OffsetFetch v9 likewise.
    let fetch =
        |member: Option<&str>, epoch| c.check_fetch_member("g", member.map(String::from), epoch);
    assert_eq!(
        fetch(Some(&a.id), real_epoch - 1).await,
        Err(GroupError::StaleMemberEpoch)
    );
    assert_eq!(
        fetch(Some("nobody"), real_epoch).await,
        Err(GroupError::UnknownMemberId)
    );
    assert_eq!(fetch(Some(&a.id), real_epoch).await, Ok(()));
    assert_eq!(fetch(None, -1).await, Ok(()), "admin fetches pass");

    // DeleteGroups: refused while the member is there, then the group and its offsets go.
    let deleted = c.delete_groups(vec!["g".into()]).await;
    assert_eq!(deleted[0].1, Some(GroupError::NonEmptyGroup));
    let r = c
        .consumer_heartbeat(HeartbeatRequest {
            group_id: "g".into(),
            member_id: a.id.clone(),
            member_epoch: LEAVE_EPOCH,
            ..Default::default()
        })
        .await;
    assert_eq!(r.error, None);
    assert_eq!(c.delete_groups(vec!["g".into()]).await[0].1, None);
    assert_eq!(
        c.consumer_describe("g").await.error,
        Some(GroupError::GroupIdNotFound)
    );
    assert!(c.fetch_offsets("g", None).await.unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn static_member_restarts_without_a_rebalance() {
    let topics = Arc::new(Topics::default());
    topics.add("t", 4);
    let log = Arc::new(InMemoryOffsetsLog::new());
    let c = start(&topics, &log);
    let mut req = join("g", &["t"]);
    req.instance_id = Some("i1".into());
    let mut a = Client::join(&c, req.clone()).await;
    let mut b = Client::join(&c, join("g", &["t"])).await;
    let mut clients = vec![a, b];
    settle(&c, &mut clients).await;
    b = clients.pop().unwrap();
    a = clients.pop().unwrap();
    let epoch_before = c.consumer_describe("g").await.group_epoch;
    let r = c
        .consumer_heartbeat(HeartbeatRequest {
            group_id: "g".into(),
            member_id: a.id.clone(),
            member_epoch: STATIC_LEAVE_EPOCH,
            instance_id: Some("i1".into()),
            ..Default::default()
        })
        .await;
    assert_eq!(r.member_epoch, STATIC_LEAVE_EPOCH);
    let a2 = Client::join(&c, req.clone()).await;
    assert_ne!(a2.id, a.id);
    assert_eq!(a2.partitions(), a.partitions(), "takes over its assignment");
    assert_eq!(
        c.consumer_describe("g").await.group_epoch,
        epoch_before,
        "no rebalance"
    );
    // The replacement survives a reload with its inherited target.
    let described = c.consumer_describe("g").await;
    c.shutdown().await;
    let c = start(&topics, &log);
    assert_eq!(c.consumer_describe("g").await, described);
    // While a2 is live, another incarnation is refused.
    assert_eq!(
        c.consumer_heartbeat(req).await.error,
        Some(GroupError::UnreleasedInstanceId)
    );
    b.beat(&c).await;
}

#[tokio::test(start_paused = true)]
async fn session_expiry_removes_a_member() {
    let topics = Arc::new(Topics::default());
    topics.add("t", 2);
    let log = Arc::new(InMemoryOffsetsLog::new());
    let c = start(&topics, &log);
    let _a = Client::join(&c, join("g", &["t"])).await;
    tokio::time::advance(std::time::Duration::from_millis(
        SESSION_TIMEOUT_MS as u64 + 100,
    ))
    .await;
    tokio::task::yield_now().await;
    let d = c.consumer_describe("g").await;
    assert_eq!((d.state, d.members.len()), (ConsumerGroupState::Empty, 0));
}

#[tokio::test(start_paused = true)]
async fn regex_subscription_picks_up_a_later_topic() {
    let topics = Arc::new(Topics::default());
    topics.add("orders-1", 2);
    topics.add("other", 2);
    let log = Arc::new(InMemoryOffsetsLog::new());
    let c = start(&topics, &log);
    let mut req = join("g", &[]);
    req.subscribed_topic_names = None;
    req.subscribed_topic_regex = Some("orders-.*".into());
    let mut a = Client::join(&c, req).await;
    assert_eq!(a.owned.len(), 1, "only orders-1");
    let later = topics.add("orders-2", 3);
    a.beat(&c).await;
    assert!(a.owned.iter().any(|(t, p)| *t == later && p.len() == 3));
}

#[tokio::test(start_paused = true)]
async fn groups_are_rebuilt_from_their_records() {
    let topics = Arc::new(Topics::default());
    topics.add("t", 4);
    let log = Arc::new(InMemoryOffsetsLog::new());
    let c = start(&topics, &log);
    let mut clients = vec![
        Client::join(&c, join("g", &["t"])).await,
        Client::join(&c, join("g", &["t"])).await,
    ];
    settle(&c, &mut clients).await;
    let before = c.consumer_describe("g").await;
    c.shutdown().await;
    let c = start(&topics, &log);
    let after = c.consumer_describe("g").await;
    assert_eq!(after, before);
    // Members carry on at their epochs with no rebalance.
    for cl in &mut clients {
        let owned = cl.owned.clone();
        cl.beat(&c).await;
        assert_eq!(cl.owned, owned);
    }
    assert_eq!(
        c.consumer_describe("g").await.group_epoch,
        before.group_epoch
    );
}

#[tokio::test(start_paused = true)]
async fn configured_assignors_and_intervals_apply() {
    let topics = Arc::new(Topics::default());
    topics.add("t", 4);
    let log = Arc::new(InMemoryOffsetsLog::new());
    let config = GroupConfig {
        consumer_assignors: vec!["range".into()],
        consumer_heartbeat_interval_ms: 700,
        consumer_session_timeout_ms: 2_000,
        ..GroupConfig::default()
    };
    let c = GroupCoordinator::start(config, log.clone(), Arc::new(topics.clone())).unwrap();
    let mut uniform = join("g", &["t"]);
    uniform.server_assignor = Some("uniform".into());
    assert_eq!(
        c.consumer_heartbeat(uniform).await.error,
        Some(GroupError::UnsupportedAssignor)
    );
    let r = c.consumer_heartbeat(join("g", &["t"])).await;
    assert_eq!(r.heartbeat_interval_ms, 700);
    assert_eq!(c.consumer_describe("g").await.assignor_name, "range");
    tokio::time::advance(std::time::Duration::from_millis(2_100)).await;
    tokio::task::yield_now().await;
    assert!(
        c.consumer_describe("g").await.members.is_empty(),
        "session of 2 s"
    );
}

#[test]
fn assignor_list_parses_names_and_kafka_class_names() {
    use super::assignor::parse_list;
    assert_eq!(
        parse_list("range, org.apache.kafka.coordinator.group.assignor.UniformAssignor"),
        Some(vec!["range".to_string(), "uniform".to_string()])
    );
    assert_eq!(parse_list(""), None);
    assert_eq!(parse_list("uniform,sticky"), None);
}

/// Kafka's `cleanupGroupMetadata` for a consumer group: offsets of topics no member subscribes to expire
/// `offsets.retention.minutes` after their commit; an empty group whose offsets all expired is deleted.
#[tokio::test(start_paused = true)]
async fn consumer_group_offsets_expire_and_the_empty_group_goes() {
    let topics = Arc::new(Topics::default());
    topics.add("t", 1);
    topics.add("old", 1);
    let log = Arc::new(InMemoryOffsetsLog::new());
    let config = GroupConfig {
        offsets_retention_ms: 60_000,
        offsets_retention_check_interval_ms: 10_000,
        ..GroupConfig::default()
    };
    let c = GroupCoordinator::start(config.clone(), log.clone(), Arc::new(topics.clone())).unwrap();
    let mut a = Client::join(&c, join("g", &["t"])).await;
    let commit = |topic: &str, epoch: i32, member: &str| OffsetCommitRequest {
        group_id: "g".into(),
        generation_id: epoch,
        member_id: member.into(),
        group_instance_id: None,
        retention_time_ms: -1,
        partitions: vec![PartitionCommit {
            topic: topic.into(),
            partition: 0,
            offset: 5,
            leader_epoch: -1,
            metadata: String::new(),
        }],
    };
    for topic in ["t", "old"] {
        let r = c.commit_offsets(commit(topic, a.epoch, &a.id)).await;
        assert_eq!(r[0].error, None);
    }
    let committed = |c: &GroupCoordinator| {
        let c = c.clone();
        async move {
            let mut topics: Vec<String> = c
                .fetch_offsets("g", None)
                .await
                .unwrap()
                .into_iter()
                .map(|o| o.topic)
                .collect();
            topics.sort();
            topics
        }
    };
    // Keep the member alive past the retention time: only the unsubscribed topic's offset expires.
    for _ in 0..14 {
        tokio::time::advance(std::time::Duration::from_millis(5_000)).await;
        a.beat(&c).await;
    }
    assert_eq!(committed(&c).await, vec!["t".to_string()]);
    assert_eq!(c.consumer_describe("g").await.members.len(), 1);

    // Once the member leaves, "t" is unsubscribed and already past retention: the next sweep removes it
    // and the group with it.
    let r = c
        .consumer_heartbeat(HeartbeatRequest {
            group_id: "g".into(),
            member_id: a.id.clone(),
            member_epoch: LEAVE_EPOCH,
            ..Default::default()
        })
        .await;
    assert_eq!(r.error, None);
    assert_eq!(
        c.consumer_describe("g").await.state,
        ConsumerGroupState::Empty
    );
    tokio::time::advance(std::time::Duration::from_millis(10_000)).await;
    tokio::task::yield_now().await;
    assert!(committed(&c).await.is_empty());
    assert_eq!(
        c.consumer_describe("g").await.error,
        Some(GroupError::GroupIdNotFound)
    );
    // It stays gone after a reload from the log.
    c.shutdown().await;
    let c = GroupCoordinator::start(config, log.clone(), Arc::new(topics.clone())).unwrap();
    assert_eq!(
        c.consumer_describe("g").await.error,
        Some(GroupError::GroupIdNotFound)
    );
    assert!(committed(&c).await.is_empty());
}
