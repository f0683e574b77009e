//! Online migration between the classic and the consumer protocol (upgrade, classic members inside a
//! consumer group, downgrade) through the coordinator API, with an in-memory log and paused time.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use super::embedded;
use super::tests::{join, start, Client, Topics};
use super::*;
use crate::group::{
    GroupConfig, GroupCoordinator, GroupState, HeartbeatRequest as ClassicHeartbeat,
    InMemoryOffsetsLog, JoinGroupRequest, JoinGroupResult, LeavingMember, OffsetCommitRequest,
    PartitionCommit, Protocol, SyncGroupRequest,
};

/// A classic consumer as the Java client drives it, with an eager assignor (it owns nothing when it
/// rejoins) or a cooperative one (it reports what it owns).
struct Classic {
    id: String,
    generation: i32,
    owned: Vec<(String, Vec<i32>)>,
    cooperative: bool,
}

fn join_req(member: &str, owned: &[(String, Vec<i32>)]) -> JoinGroupRequest {
    let owned: Vec<(&str, Vec<i32>)> = owned.iter().map(|(t, p)| (t.as_str(), p.clone())).collect();
    JoinGroupRequest {
        group_id: "g".into(),
        member_id: member.into(),
        group_instance_id: None,
        client_id: "classic".into(),
        client_host: "/127.0.0.1".into(),
        protocol_type: "consumer".into(),
        protocols: vec![Protocol {
            name: "range".into(),
            metadata: embedded::encode_subscription(1, &["t"], &owned, None),
        }],
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 30_000,
        require_known_member_id: false,
        supports_skip_assignment: false,
        reason: None,
    }
}

fn sync_req(
    member: &str,
    generation: i32,
    assignments: Vec<(String, bytes::Bytes)>,
) -> SyncGroupRequest {
    SyncGroupRequest {
        group_id: "g".into(),
        generation_id: generation,
        member_id: member.into(),
        group_instance_id: None,
        protocol_type: Some("consumer".into()),
        protocol_name: Some("range".into()),
        assignments,
    }
}

impl Classic {
    fn from_join(r: &JoinGroupResult, cooperative: bool) -> Classic {
        assert_eq!(r.error, None);
        Classic {
            id: r.member_id.clone(),
            generation: r.generation_id,
            owned: Vec::new(),
            cooperative,
        }
    }

    async fn heartbeat(&self, c: &GroupCoordinator) -> Result<(), GroupError> {
        c.heartbeat(ClassicHeartbeat {
            group_id: "g".into(),
            generation_id: self.generation,
            member_id: self.id.clone(),
            group_instance_id: None,
        })
        .await
    }

    /// JoinGroup then SyncGroup, as after REBALANCE_IN_PROGRESS.
    async fn rejoin(&mut self, c: &GroupCoordinator) {
        let owned = if self.cooperative {
            self.owned.clone()
        } else {
            Vec::new()
        };
        let r = c.join_group(join_req(&self.id, &owned)).await;
        assert_eq!(r.error, None);
        assert_eq!(r.protocol_name.as_deref(), Some("range"));
        assert_eq!(r.leader_id, "", "the broker assigns: no member leads");
        self.generation = r.generation_id;
        let s = c
            .sync_group(sync_req(&self.id, self.generation, vec![]))
            .await;
        assert_eq!(s.error, None);
        self.owned = embedded::decode_assignment(&s.assignment).unwrap();
    }

    fn partitions(&self) -> BTreeSet<i32> {
        self.owned
            .iter()
            .flat_map(|(_, p)| p.iter().copied())
            .collect()
    }
}

/// A Stable classic group of two members owning all of `t`, 0–2 and 3–5, at generation 1.
async fn classic_pair(c: &GroupCoordinator, cooperative: bool) -> (Classic, Classic) {
    let c1 = c.clone();
    let first = tokio::spawn(async move { c1.join_group(join_req("", &[])).await });
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    let second = c.join_group(join_req("", &[])).await;
    let first = first.await.unwrap();
    let (mut a, mut b) = (
        Classic::from_join(&first, cooperative),
        Classic::from_join(&second, cooperative),
    );
    if second.leader_id == second.member_id {
        std::mem::swap(&mut a, &mut b);
    }
    let half = |ps: Vec<i32>| embedded::encode_assignment(1, &[("t".to_string(), ps)]);
    let assignments = vec![
        (a.id.clone(), half(vec![0, 1, 2])),
        (b.id.clone(), half(vec![3, 4, 5])),
    ];
    let c2 = c.clone();
    let (a_id, b_id) = (a.id.clone(), b.id.clone());
    let follower = tokio::spawn(async move { c2.sync_group(sync_req(&b_id, 1, vec![])).await });
    let s = c.sync_group(sync_req(&a_id, 1, assignments)).await;
    a.owned = embedded::decode_assignment(&s.assignment).unwrap();
    b.owned = embedded::decode_assignment(&follower.await.unwrap().assignment).unwrap();
    assert_eq!(
        (a.generation, a.partitions()),
        (1, BTreeSet::from([0, 1, 2]))
    );
    assert_eq!(b.partitions(), BTreeSet::from([3, 4, 5]));
    (a, b)
}

fn assert_disjoint_and_complete(classic: &[&Classic], consumer: &[&Client], partitions: i32) {
    let mut seen = BTreeSet::new();
    for p in classic
        .iter()
        .flat_map(|m| m.partitions())
        .chain(consumer.iter().flat_map(|m| m.partitions()))
    {
        assert!(seen.insert(p), "partition {p} owned twice");
    }
    assert_eq!(seen, (0..partitions).collect());
}

fn commit(member: &str, generation: i32) -> OffsetCommitRequest {
    OffsetCommitRequest {
        group_id: "g".into(),
        generation_id: generation,
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
    }
}

/// Classic members and a consumer-protocol member settle: classic members rejoin when told to until
/// nobody is told to any more, the consumer member heartbeats; no partition is ever owned twice.
async fn settle(c: &GroupCoordinator, classic: &mut [&mut Classic], consumer: &mut Client) {
    for _ in 0..10 {
        let mut moved = false;
        for m in classic.iter_mut() {
            match m.heartbeat(c).await {
                Ok(()) => {}
                Err(GroupError::RebalanceInProgress) => {
                    m.rejoin(c).await;
                    moved = true;
                }
                Err(e) => panic!("classic heartbeat: {e}"),
            }
        }
        let before = consumer.owned.clone();
        consumer.beat(c).await;
        moved |= before != consumer.owned;
        let view: Vec<&Classic> = classic.iter().map(|m| &**m).collect();
        let mut seen = BTreeSet::new();
        for p in view
            .iter()
            .flat_map(|m| m.partitions())
            .chain(consumer.partitions())
        {
            assert!(seen.insert(p), "partition {p} owned twice");
        }
        if !moved {
            return;
        }
    }
    panic!("group did not settle");
}

async fn upgraded(
    cooperative: bool,
) -> (
    GroupCoordinator,
    Arc<Topics>,
    Arc<InMemoryOffsetsLog>,
    Classic,
    Classic,
    Client,
) {
    let topics = Arc::new(Topics::default());
    topics.add("t", 6);
    let log = Arc::new(InMemoryOffsetsLog::new());
    let c = start(&topics, &log);
    let (a, b) = classic_pair(&c, cooperative).await;
    let consumer = Client::join(&c, join("g", &["t"])).await;
    (c, topics, log, a, b, consumer)
}

#[tokio::test(start_paused = true)]
async fn a_consumer_member_upgrades_a_live_classic_group_whose_members_keep_their_partitions() {
    for cooperative in [false, true] {
        let (c, _topics, log, mut a, mut b, mut consumer) = upgraded(cooperative).await;
        let d = c.consumer_describe("g").await;
        assert_eq!(d.error, None);
        assert_eq!(d.members.len(), 3);
        assert_eq!(
            d.group_epoch, 2,
            "the classic generation, bumped by the joining member"
        );
        assert!(
            consumer.partitions().is_empty(),
            "every partition is still owned by a classic member"
        );
        let partition = c.partition_for("g");
        assert!(log
            .records(partition)
            .iter()
            .any(|(k, v)| *k == crate::group::records::encode_group_key("g") && v.is_none()));
        // The classic members' generation is still valid for commits until they rejoin.
        assert_eq!(c.commit_offsets(commit(&a.id, 1)).await[0].error, None);
        assert_eq!(a.heartbeat(&c).await, Err(GroupError::RebalanceInProgress));
        settle(&c, &mut [&mut a, &mut b], &mut consumer).await;
        assert_disjoint_and_complete(&[&a, &b], &[&consumer], 6);
        assert!(
            [
                a.partitions().len(),
                b.partitions().len(),
                consumer.partitions().len()
            ] == [2, 2, 2]
        );
        assert_eq!(
            c.consumer_describe("g").await.state,
            ConsumerGroupState::Stable
        );
        // A classic member's generation is its member epoch: an old one is ILLEGAL_GENERATION.
        assert_eq!(
            c.commit_offsets(commit(&a.id, a.generation)).await[0].error,
            None
        );
        assert_eq!(
            c.commit_offsets(commit(&a.id, 1)).await[0].error,
            Some(GroupError::IllegalGeneration)
        );

        // The group, classic members included, is rebuilt from its records.
        let before = c.consumer_describe("g").await;
        c.shutdown().await;
        let topics2 = _topics.clone();
        let c = start(&topics2, &log);
        assert_eq!(c.consumer_describe("g").await, before);
        assert_eq!(a.heartbeat(&c).await, Ok(()));
        c.shutdown().await;
    }
}

#[tokio::test(start_paused = true)]
async fn the_last_consumer_member_leaving_downgrades_the_group() {
    let (c, _topics, log, mut a, mut b, mut consumer) = upgraded(false).await;
    settle(&c, &mut [&mut a, &mut b], &mut consumer).await;
    let r = c
        .consumer_heartbeat(HeartbeatRequest {
            group_id: "g".into(),
            member_id: consumer.id.clone(),
            member_epoch: LEAVE_EPOCH,
            ..Default::default()
        })
        .await;
    assert_eq!(r.error, None);
    assert_eq!(
        c.consumer_describe("g").await.error,
        Some(GroupError::GroupIdNotFound)
    );
    let d = c.describe_group("g").await.unwrap();
    assert_eq!(
        (d.state, d.members.len()),
        (GroupState::PreparingRebalance, 2)
    );
    // The classic members rejoin the classic group: one leads and assigns all six partitions.
    let c1 = c.clone();
    let a_id = a.id.clone();
    let ja = tokio::spawn(async move { c1.join_group(join_req(&a_id, &[])).await });
    let jb = c.join_group(join_req(&b.id, &[])).await;
    let ja = ja.await.unwrap();
    assert_eq!((ja.error.clone(), jb.error.clone()), (None, None));
    assert_eq!(ja.generation_id, jb.generation_id);
    let leader = if ja.leader_id == ja.member_id {
        &ja
    } else {
        &jb
    };
    assert_eq!(leader.members.len(), 2);
    assert_eq!(
        c.describe_group("g").await.unwrap().state,
        GroupState::CompletingRebalance
    );
    // Rebuilt from the log as a classic group.
    c.shutdown().await;
    let c = start(&_topics, &log);
    assert_eq!(
        c.consumer_describe("g").await.error,
        Some(GroupError::GroupIdNotFound)
    );
    assert_eq!(c.describe_group("g").await.unwrap().members.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_migration_policy_decides_which_way_groups_convert() {
    let topics = Arc::new(Topics::default());
    topics.add("t", 6);
    for policy in [
        MigrationPolicy::Disabled,
        MigrationPolicy::Downgrade,
        MigrationPolicy::Upgrade,
    ] {
        let log = Arc::new(InMemoryOffsetsLog::new());
        let config = GroupConfig {
            consumer_migration_policy: policy,
            ..GroupConfig::default()
        };
        let c = GroupCoordinator::start(config, log.clone(), Arc::new(topics.clone())).unwrap();
        let (a, _b) = classic_pair(&c, false).await;
        let r = c.consumer_heartbeat(join("g", &["t"])).await;
        if policy != MigrationPolicy::Upgrade {
            assert_eq!(r.error, Some(GroupError::GroupIdNotFound), "{policy:?}");
            assert_eq!(
                a.heartbeat(&c).await,
                Ok(()),
                "the classic group is untouched"
            );
            c.shutdown().await;
            continue;
        }
        // Upgrade only: the consumer member leaving leaves a consumer group of classic members.
        assert_eq!(r.error, None);
        let left = c
            .consumer_heartbeat(HeartbeatRequest {
                group_id: "g".into(),
                member_id: r.member_id,
                member_epoch: LEAVE_EPOCH,
                ..Default::default()
            })
            .await;
        assert_eq!(left.error, None);
        let d = c.consumer_describe("g").await;
        assert_eq!((d.error, d.members.len()), (None, 2));
        c.shutdown().await;
    }
    assert_eq!(
        MigrationPolicy::parse("BIDIRECTIONAL"),
        Some(MigrationPolicy::Bidirectional)
    );
    assert_eq!(MigrationPolicy::parse("both"), None);
}

#[tokio::test(start_paused = true)]
async fn classic_members_of_a_consumer_group_are_checked_and_timed_out() {
    let (c, _topics, _log, a, b, mut consumer) = upgraded(false).await;
    // Wrong generation, unknown member, consumer-protocol member through the classic API.
    let stale = Classic {
        id: a.id.clone(),
        generation: 0,
        owned: vec![],
        cooperative: false,
    };
    assert_eq!(
        stale.heartbeat(&c).await,
        Err(GroupError::IllegalGeneration)
    );
    let s = c
        .sync_group(sync_req(&consumer.id, consumer.epoch, vec![]))
        .await;
    assert_eq!(s.error, Some(GroupError::UnknownMemberId));
    let bad = JoinGroupRequest {
        protocols: vec![Protocol {
            name: "roundrobin".into(),
            metadata: embedded::encode_subscription(0, &["t"], &[], None),
        }],
        ..join_req("", &[])
    };
    assert_eq!(
        c.join_group(bad).await.error,
        Some(GroupError::InconsistentGroupProtocol)
    );
    let required = c
        .join_group(JoinGroupRequest {
            require_known_member_id: true,
            ..join_req("", &[])
        })
        .await;
    assert_eq!(required.error, Some(GroupError::MemberIdRequired));
    assert!(!required.member_id.is_empty());
    // b leaves with LeaveGroup; a stops heartbeating and is removed after its 10 s session.
    let left = c
        .leave_group(
            "g",
            vec![LeavingMember {
                member_id: b.id.clone(),
                group_instance_id: None,
                reason: None,
            }],
        )
        .await
        .unwrap();
    assert_eq!(left, vec![None]);
    assert_eq!(b.heartbeat(&c).await, Err(GroupError::UnknownMemberId));
    for _ in 0..6 {
        tokio::time::advance(Duration::from_millis(3_000)).await;
        consumer.beat(&c).await;
    }
    let d = c.consumer_describe("g").await;
    assert_eq!(d.members.len(), 1, "only the consumer member is left");
    assert_eq!(consumer.partitions().len(), 6);
}

/// Kafka's snapshot revert: a heartbeat whose records fail to persist leaves the groups as they were,
/// the classic side included (an upgrade keeps the classic group, a downgrade keeps the consumer group).
#[tokio::test(start_paused = true)]
async fn a_heartbeat_whose_records_fail_to_persist_changes_nothing() {
    let topics = Arc::new(Topics::default());
    topics.add("t", 6);
    let log = Arc::new(InMemoryOffsetsLog::new());
    let c = start(&topics, &log);
    let (mut a, mut b) = classic_pair(&c, false).await;

    log.set_fail_appends(true);
    let refused = c.consumer_heartbeat(join("g", &["t"])).await;
    assert!(refused.error.is_some());
    assert_eq!(
        c.consumer_describe("g").await.error,
        Some(GroupError::GroupIdNotFound)
    );
    assert_eq!(
        a.heartbeat(&c).await,
        Ok(()),
        "the classic group is back, untouched"
    );
    assert_eq!(
        c.describe_group("g").await.unwrap().state,
        GroupState::Stable
    );

    log.set_fail_appends(false);
    let mut consumer = Client::join(&c, join("g", &["t"])).await;
    settle(&c, &mut [&mut a, &mut b], &mut consumer).await;
    let before = c.consumer_describe("g").await;

    // A new member whose join is not stored is not in the group, and the epoch did not move.
    log.set_fail_appends(true);
    let refused = c.consumer_heartbeat(join("g", &["t"])).await;
    assert!(refused.error.is_some());
    assert_eq!(c.consumer_describe("g").await, before);
    // The last consumer-protocol member's leave is not stored: no downgrade.
    let left = c
        .consumer_heartbeat(HeartbeatRequest {
            group_id: "g".into(),
            member_id: consumer.id.clone(),
            member_epoch: LEAVE_EPOCH,
            ..Default::default()
        })
        .await;
    assert!(left.error.is_some());
    assert_eq!(c.consumer_describe("g").await, before);
    assert_eq!(c.describe_group("g").await.unwrap().state, GroupState::Dead);

    log.set_fail_appends(false);
    let joined = c.consumer_heartbeat(join("g", &["t"])).await;
    assert_eq!(joined.error, None);
    assert_eq!(
        c.consumer_describe("g").await.group_epoch,
        before.group_epoch + 1
    );
}
