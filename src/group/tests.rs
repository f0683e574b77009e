//! Unit tests of the coordinator with paused tokio time: every state transition, error code and timer.

use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::time::{advance, Instant};

use super::*;

/// Every topic exists with 10 partitions, except `missing`.
struct Topics;
impl TopicLookup for Topics {
    fn partition_exists(&self, topic: &str, partition: i32) -> bool {
        topic != "missing" && (0..10).contains(&partition)
    }
}

fn config() -> GroupConfig {
    GroupConfig::default()
}

fn start(config: GroupConfig) -> (GroupCoordinator, Arc<InMemoryOffsetsLog>) {
    let log = Arc::new(InMemoryOffsetsLog::new());
    let c = GroupCoordinator::start(config, log.clone(), Arc::new(Topics)).unwrap();
    (c, log)
}

/// A ConsumerProtocolSubscription v0 for `topics`.
fn subscription(topics: &[&str]) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(0);
    b.put_i32(topics.len() as i32);
    for t in topics {
        b.put_i16(t.len() as i16);
        b.put_slice(t.as_bytes());
    }
    b.put_i32(-1);
    b.freeze()
}

fn join_req(group: &str, member: &str) -> JoinGroupRequest {
    JoinGroupRequest {
        group_id: group.into(),
        member_id: member.into(),
        group_instance_id: None,
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        protocol_type: "consumer".into(),
        protocols: vec![Protocol {
            name: "range".into(),
            metadata: subscription(&["t"]),
        }],
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 30_000,
        require_known_member_id: false,
        supports_skip_assignment: false,
        reason: None,
    }
}

fn static_req(group: &str, member: &str, instance: &str) -> JoinGroupRequest {
    JoinGroupRequest {
        group_instance_id: Some(instance.into()),
        ..join_req(group, member)
    }
}

fn sync_req(
    group: &str,
    member: &str,
    generation: i32,
    assignments: Vec<(String, Bytes)>,
) -> SyncGroupRequest {
    SyncGroupRequest {
        group_id: group.into(),
        generation_id: generation,
        member_id: member.into(),
        group_instance_id: None,
        protocol_type: None,
        protocol_name: None,
        assignments,
    }
}

fn hb(group: &str, member: &str, generation: i32) -> HeartbeatRequest {
    HeartbeatRequest {
        group_id: group.into(),
        generation_id: generation,
        member_id: member.into(),
        group_instance_id: None,
    }
}

fn commit_req(
    group: &str,
    member: &str,
    generation: i32,
    parts: &[(&str, i32, i64)],
) -> OffsetCommitRequest {
    OffsetCommitRequest {
        group_id: group.into(),
        generation_id: generation,
        member_id: member.into(),
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

async fn state(c: &GroupCoordinator, group: &str) -> GroupState {
    c.describe_group(group).await.unwrap().state
}

/// Lets the shard run until every spawned task is idle (paused time does not advance while tasks run).
async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

/// Two dynamic members join, the leader syncs `{a: "A", b: "B"}`; returns (leader, follower) ids.
async fn stable_pair(c: &GroupCoordinator, group: &str) -> (String, String) {
    let c1 = c.clone();
    let g1 = group.to_string();
    let first = tokio::spawn(async move { c1.join_group(join_req(&g1, "")).await });
    settle().await;
    let c2 = c.clone();
    let g2 = group.to_string();
    let second = tokio::spawn(async move { c2.join_group(join_req(&g2, "")).await });
    let (r1, r2) = (first.await.unwrap(), second.await.unwrap());
    assert_eq!(r1.error, None);
    assert_eq!(r2.error, None);
    assert_eq!(r1.generation_id, 1);
    let (leader, follower) = if r1.leader_id == r1.member_id {
        (r1, r2)
    } else {
        (r2, r1)
    };
    assert_eq!(leader.members.len(), 2);
    assert!(follower.members.is_empty());
    let assignments = vec![
        (leader.member_id.clone(), Bytes::from_static(b"A")),
        (follower.member_id.clone(), Bytes::from_static(b"B")),
    ];
    let s1 = c
        .sync_group(sync_req(group, &leader.member_id, 1, assignments))
        .await;
    assert_eq!(s1.assignment, Bytes::from_static(b"A"));
    let s2 = c
        .sync_group(sync_req(group, &follower.member_id, 1, vec![]))
        .await;
    assert_eq!(s2.assignment, Bytes::from_static(b"B"));
    assert_eq!(state(c, group).await, GroupState::Stable);
    (leader.member_id, follower.member_id)
}

#[tokio::test(start_paused = true)]
async fn member_id_required_then_join_with_given_id() {
    let (c, _) = start(config());
    let first = c
        .join_group(JoinGroupRequest {
            require_known_member_id: true,
            ..join_req("g", "")
        })
        .await;
    assert_eq!(first.error, Some(GroupError::MemberIdRequired));
    assert!(
        first.member_id.starts_with("client-"),
        "{}",
        first.member_id
    );
    assert_eq!(first.generation_id, -1);
    let t0 = Instant::now();
    let second = c
        .join_group(JoinGroupRequest {
            require_known_member_id: true,
            ..join_req("g", &first.member_id)
        })
        .await;
    assert_eq!(second.error, None);
    assert_eq!(second.member_id, first.member_id);
    assert_eq!(second.leader_id, first.member_id);
    assert_eq!(second.generation_id, 1);
    assert_eq!(second.protocol_name.as_deref(), Some("range"));
    assert_eq!(second.members.len(), 1);
    assert_eq!(
        t0.elapsed(),
        Duration::from_millis(3000),
        "initial rebalance delay"
    );
    assert_eq!(state(&c, "g").await, GroupState::CompletingRebalance);
}

#[tokio::test(start_paused = true)]
async fn unknown_member_id_for_missing_group_and_invalid_requests() {
    let (c, _) = start(config());
    let r = c.join_group(join_req("g", "nobody")).await;
    assert_eq!(r.error, Some(GroupError::UnknownMemberId));
    let r = c.join_group(join_req("", "")).await;
    assert_eq!(r.error, Some(GroupError::InvalidGroupId));
    let r = c
        .join_group(JoinGroupRequest {
            session_timeout_ms: 10,
            ..join_req("g", "")
        })
        .await;
    assert_eq!(r.error, Some(GroupError::InvalidSessionTimeout));
    // No phantom group is left behind by failed joins.
    assert!(c.list_groups(&[]).await.unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn initial_delay_extends_while_members_arrive() {
    let (c, _) = start(config());
    let t0 = Instant::now();
    let c1 = c.clone();
    let a = tokio::spawn(async move { c1.join_group(join_req("g", "")).await });
    settle().await;
    advance(Duration::from_millis(2000)).await;
    let c2 = c.clone();
    let b = tokio::spawn(async move { c2.join_group(join_req("g", "")).await });
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    // First delay fires at 3 s with a new member added → one more 3 s delay.
    assert_eq!(t0.elapsed(), Duration::from_millis(6000));
    assert_eq!(a.generation_id, 1);
    assert_eq!(b.generation_id, 1);
}

#[tokio::test(start_paused = true)]
async fn initial_delay_capped_by_rebalance_timeout() {
    let (c, _) = start(config());
    let t0 = Instant::now();
    let req = |m: &str| JoinGroupRequest {
        rebalance_timeout_ms: 4000,
        ..join_req("g", m)
    };
    let c1 = c.clone();
    let r1 = req("");
    let a = tokio::spawn(async move { c1.join_group(r1).await });
    settle().await;
    advance(Duration::from_millis(1000)).await;
    let c2 = c.clone();
    let r2 = req("");
    let b = tokio::spawn(async move { c2.join_group(r2).await });
    settle().await;
    advance(Duration::from_millis(2000)).await; // t = 3 s: first delay fires, extends by the 1 s left
    settle().await;
    advance(Duration::from_millis(500)).await; // t = 3.5 s: one more member after the extension
    let c3 = c.clone();
    let r3 = req("");
    let d = tokio::spawn(async move { c3.join_group(r3).await });
    let (a, _b, d) = (a.await.unwrap(), b.await.unwrap(), d.await.unwrap());
    assert_eq!(
        t0.elapsed(),
        Duration::from_millis(4000),
        "remaining = 4000 - 3000"
    );
    assert_eq!(a.generation_id, 1);
    assert_eq!(d.generation_id, 1);
}

#[tokio::test(start_paused = true)]
async fn join_sync_heartbeat_happy_path_and_errors() {
    let (c, _) = start(config());
    let (leader, follower) = stable_pair(&c, "g").await;
    assert_eq!(c.heartbeat(hb("g", &leader, 1)).await, Ok(()));
    assert_eq!(c.heartbeat(hb("g", &follower, 1)).await, Ok(()));
    assert_eq!(
        c.heartbeat(hb("g", &leader, 0)).await,
        Err(GroupError::IllegalGeneration)
    );
    assert_eq!(
        c.heartbeat(hb("g", "x", 1)).await,
        Err(GroupError::UnknownMemberId)
    );
    assert_eq!(
        c.heartbeat(hb("nope", "x", 1)).await,
        Err(GroupError::UnknownMemberId)
    );
    assert_eq!(
        c.heartbeat(hb("", "x", 1)).await,
        Err(GroupError::InvalidGroupId)
    );
    // Sync errors.
    let s = c.sync_group(sync_req("g", &leader, 7, vec![])).await;
    assert_eq!(s.error, Some(GroupError::IllegalGeneration));
    let s = c.sync_group(sync_req("g", "x", 1, vec![])).await;
    assert_eq!(s.error, Some(GroupError::UnknownMemberId));
    let s = c.sync_group(sync_req("nope", "x", 1, vec![])).await;
    assert_eq!(s.error, Some(GroupError::UnknownMemberId));
    let s = c
        .sync_group(SyncGroupRequest {
            protocol_type: Some("connect".into()),
            ..sync_req("g", &leader, 1, vec![])
        })
        .await;
    assert_eq!(s.error, Some(GroupError::InconsistentGroupProtocol));
    let s = c
        .sync_group(SyncGroupRequest {
            protocol_name: Some("roundrobin".into()),
            ..sync_req("g", &leader, 1, vec![])
        })
        .await;
    assert_eq!(s.error, Some(GroupError::InconsistentGroupProtocol));
    let s = c
        .sync_group(SyncGroupRequest {
            protocol_type: Some("consumer".into()),
            protocol_name: Some("range".into()),
            ..sync_req("g", &follower, 1, vec![])
        })
        .await;
    assert_eq!((s.error, s.assignment), (None, Bytes::from_static(b"B")));
    // A follower rejoining with unchanged metadata in Stable gets the current generation, no rebalance.
    let r = c.join_group(join_req("g", &follower)).await;
    assert_eq!((r.error, r.generation_id), (None, 1));
    assert!(r.members.is_empty());
    assert_eq!(state(&c, "g").await, GroupState::Stable);
    // The leader rejoining triggers a rebalance: heartbeats say REBALANCE_IN_PROGRESS, sync too.
    let c1 = c.clone();
    let l = leader.clone();
    let lj = tokio::spawn(async move { c1.join_group(join_req("g", &l)).await });
    settle().await;
    assert_eq!(state(&c, "g").await, GroupState::PreparingRebalance);
    assert_eq!(
        c.heartbeat(hb("g", &follower, 1)).await,
        Err(GroupError::RebalanceInProgress)
    );
    let s = c.sync_group(sync_req("g", &follower, 1, vec![])).await;
    assert_eq!(s.error, Some(GroupError::RebalanceInProgress));
    let fj = c.join_group(join_req("g", &follower)).await;
    let lj = lj.await.unwrap();
    assert_eq!((lj.generation_id, fj.generation_id), (2, 2));
    assert_eq!(state(&c, "g").await, GroupState::CompletingRebalance);
    // Heartbeats are accepted in CompletingRebalance.
    assert_eq!(c.heartbeat(hb("g", &follower, 2)).await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn follower_sync_parked_until_leader_syncs() {
    let (c, _) = start(config());
    let c1 = c.clone();
    let a = tokio::spawn(async move { c1.join_group(join_req("g", "")).await });
    settle().await;
    let b = c.join_group(join_req("g", "")).await;
    let a = a.await.unwrap();
    let (leader, follower) = if a.leader_id == a.member_id {
        (a, b)
    } else {
        (b, a)
    };
    let c2 = c.clone();
    let f = follower.member_id.clone();
    let parked = tokio::spawn(async move { c2.sync_group(sync_req("g", &f, 1, vec![])).await });
    settle().await;
    assert!(!parked.is_finished());
    let s = c
        .sync_group(sync_req(
            "g",
            &leader.member_id,
            1,
            vec![(follower.member_id.clone(), Bytes::from_static(b"F"))],
        ))
        .await;
    assert_eq!(
        s.assignment,
        Bytes::new(),
        "missing members get an empty assignment"
    );
    assert_eq!(parked.await.unwrap().assignment, Bytes::from_static(b"F"));
}

#[tokio::test(start_paused = true)]
async fn inconsistent_protocols_rejected() {
    let (c, _) = start(config());
    let (leader, _) = stable_pair(&c, "g").await;
    let r = c
        .join_group(JoinGroupRequest {
            protocol_type: "connect".into(),
            ..join_req("g", "")
        })
        .await;
    assert_eq!(r.error, Some(GroupError::InconsistentGroupProtocol));
    let r = c
        .join_group(JoinGroupRequest {
            protocols: vec![Protocol {
                name: "sticky".into(),
                metadata: Bytes::new(),
            }],
            ..join_req("g", &leader)
        })
        .await;
    assert_eq!(r.error, Some(GroupError::InconsistentGroupProtocol));
    let r = c
        .join_group(JoinGroupRequest {
            protocol_type: String::new(),
            ..join_req("other", "")
        })
        .await;
    assert_eq!(r.error, Some(GroupError::InconsistentGroupProtocol));
}

#[tokio::test(start_paused = true)]
async fn protocol_chosen_by_vote_among_common_protocols() {
    let (c, _) = start(config());
    let with = |names: &[&str]| JoinGroupRequest {
        protocols: names
            .iter()
            .map(|n| Protocol {
                name: n.to_string(),
                metadata: Bytes::from(n.to_string()),
            })
            .collect(),
        ..join_req("g", "")
    };
    let mut tasks = Vec::new();
    for names in [
        vec!["range", "rr", "sticky"],
        vec!["rr", "range"],
        vec!["rr", "range"],
    ] {
        let c = c.clone();
        let req = with(&names);
        tasks.push(tokio::spawn(async move { c.join_group(req).await }));
        settle().await;
    }
    let mut leader_members = None;
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.protocol_name.as_deref(), Some("rr"));
        if !r.members.is_empty() {
            leader_members = Some(r.members);
        }
    }
    let members = leader_members.expect("leader got the members");
    assert!(members
        .iter()
        .all(|m| m.metadata == Bytes::from_static(b"rr")));
}

#[tokio::test(start_paused = true)]
async fn session_timeout_removes_member_and_rebalances() {
    let (c, _) = start(config());
    let (leader, follower) = stable_pair(&c, "g").await;
    // Only the leader heartbeats, every 3 s.
    for _ in 0..4 {
        advance(Duration::from_millis(3000)).await;
        settle().await;
        let r = c.heartbeat(hb("g", &leader, 1)).await;
        if r.is_err() {
            assert_eq!(r, Err(GroupError::RebalanceInProgress));
            break;
        }
    }
    assert_eq!(state(&c, "g").await, GroupState::PreparingRebalance);
    assert_eq!(
        c.heartbeat(hb("g", &follower, 1)).await,
        Err(GroupError::UnknownMemberId)
    );
    let r = c.join_group(join_req("g", &leader)).await;
    assert_eq!((r.error, r.generation_id, r.members.len()), (None, 2, 1));
}

#[tokio::test(start_paused = true)]
async fn rebalance_timeout_removes_members_that_did_not_rejoin() {
    let (c, _) = start(config());
    let (leader, follower) = stable_pair(&c, "g").await;
    let t0 = Instant::now();
    let c1 = c.clone();
    let l = leader.clone();
    let lj = tokio::spawn(async move { c1.join_group(join_req("g", &l)).await });
    // The follower keeps heartbeating (so its session stays alive) but never rejoins.
    let c2 = c.clone();
    let f = follower.clone();
    let beats = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(3000)).await;
            if c2.heartbeat(hb("g", &f, 1)).await == Err(GroupError::UnknownMemberId) {
                break;
            }
        }
    });
    let r = lj.await.unwrap();
    assert_eq!(
        t0.elapsed(),
        Duration::from_millis(30_000),
        "rebalance timeout"
    );
    assert_eq!((r.generation_id, r.members.len()), (2, 1));
    assert_eq!(r.leader_id, leader);
    beats.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn pending_sync_timeout_removes_members_that_never_synced() {
    let (c, _) = start(config());
    let c1 = c.clone();
    let a = tokio::spawn(async move { c1.join_group(join_req("g", "")).await });
    settle().await;
    let b = c.join_group(join_req("g", "")).await;
    let a = a.await.unwrap();
    let (leader, follower) = if a.leader_id == a.member_id {
        (a, b)
    } else {
        (b, a)
    };
    // Leader syncs; follower never does (but heartbeats).
    c.sync_group(sync_req("g", &leader.member_id, 1, vec![]))
        .await;
    for _ in 0..11 {
        advance(Duration::from_millis(3000)).await;
        settle().await;
        let _ = c.heartbeat(hb("g", &leader.member_id, 1)).await;
        let _ = c.heartbeat(hb("g", &follower.member_id, 1)).await;
    }
    assert_eq!(
        c.heartbeat(hb("g", &follower.member_id, 1)).await,
        Err(GroupError::UnknownMemberId)
    );
    assert_eq!(state(&c, "g").await, GroupState::PreparingRebalance);
}

#[tokio::test(start_paused = true)]
async fn static_member_rejoin_keeps_assignment_without_rebalance() {
    let (c, log) = start(config());
    let c1 = c.clone();
    let a = tokio::spawn(async move { c1.join_group(static_req("g", "", "i1")).await });
    settle().await;
    let b = c.join_group(static_req("g", "", "i2")).await;
    let b_id = b.member_id.clone();
    let a = a.await.unwrap();
    let (leader, follower) = if a.leader_id == a.member_id {
        (a, b)
    } else {
        (b, a)
    };
    let assignments = vec![
        (leader.member_id.clone(), Bytes::from_static(b"L")),
        (follower.member_id.clone(), Bytes::from_static(b"F")),
    ];
    c.sync_group(sync_req("g", &leader.member_id, 1, assignments))
        .await;
    let follower_instance = if follower.member_id == b_id {
        "i2"
    } else {
        "i1"
    };
    let records_before = log.records(c.partition_for("g")).len();
    // The follower restarts: it joins with no member id and its instance id.
    let r = c.join_group(static_req("g", "", follower_instance)).await;
    assert_eq!(r.error, None);
    assert_ne!(r.member_id, follower.member_id);
    assert_eq!(r.generation_id, 1, "no new generation");
    assert_eq!(r.leader_id, leader.member_id);
    assert!(r.members.is_empty());
    assert_eq!(state(&c, "g").await, GroupState::Stable);
    assert_eq!(
        log.records(c.partition_for("g")).len(),
        records_before + 1,
        "group record stored"
    );
    let s = c
        .sync_group(SyncGroupRequest {
            group_instance_id: Some(follower_instance.into()),
            ..sync_req("g", &r.member_id, 1, vec![])
        })
        .await;
    assert_eq!((s.error, s.assignment), (None, Bytes::from_static(b"F")));
    // The old incarnation is fenced everywhere.
    let old = HeartbeatRequest {
        group_instance_id: Some(follower_instance.into()),
        ..hb("g", &follower.member_id, 1)
    };
    assert_eq!(c.heartbeat(old).await, Err(GroupError::FencedInstanceId));
    let j = c
        .join_group(static_req("g", &follower.member_id, follower_instance))
        .await;
    assert_eq!(j.error, Some(GroupError::FencedInstanceId));
    let mut commit = commit_req("g", &follower.member_id, 1, &[("t", 0, 1)]);
    commit.group_instance_id = Some(follower_instance.into());
    assert_eq!(
        c.commit_offsets(commit).await[0].error,
        Some(GroupError::FencedInstanceId)
    );
    let leave = c
        .leave_group(
            "g",
            vec![LeavingMember {
                member_id: follower.member_id.clone(),
                group_instance_id: Some(follower_instance.into()),
                reason: None,
            }],
        )
        .await
        .unwrap();
    assert_eq!(leave, vec![Some(GroupError::FencedInstanceId)]);
    // An unknown instance id with a known-looking member id is UNKNOWN_MEMBER_ID.
    let j = c.join_group(static_req("g", &leader.member_id, "i9")).await;
    assert_eq!(j.error, Some(GroupError::UnknownMemberId));
}

#[tokio::test(start_paused = true)]
async fn static_leader_rejoin_v9_gets_skip_assignment() {
    let (c, _) = start(config());
    let r = c.join_group(static_req("g", "", "i1")).await;
    c.sync_group(sync_req("g", &r.member_id, 1, vec![])).await;
    let again = c
        .join_group(JoinGroupRequest {
            supports_skip_assignment: true,
            ..static_req("g", "", "i1")
        })
        .await;
    assert_eq!(again.error, None);
    assert!(again.skip_assignment);
    assert_eq!(again.leader_id, again.member_id);
    assert_eq!(again.members.len(), 1);
    // Pre-KIP-814 clients get the old leader id so they do not assign.
    let old = c.join_group(static_req("g", "", "i1")).await;
    assert!(!old.skip_assignment);
    assert_eq!(old.leader_id, again.member_id);
    assert!(old.members.is_empty());
    assert_eq!(state(&c, "g").await, GroupState::Stable);
}

#[tokio::test(start_paused = true)]
async fn static_member_rejoin_during_completing_rebalance_triggers_rebalance() {
    let (c, _) = start(config());
    let r = c.join_group(static_req("g", "", "i1")).await;
    assert_eq!(state(&c, "g").await, GroupState::CompletingRebalance);
    // The rejoin forces a new rebalance (the only member has rejoined, so it completes at once).
    let rejoin = c.join_group(static_req("g", "", "i1")).await;
    assert_eq!(rejoin.generation_id, 2);
    assert_ne!(rejoin.member_id, r.member_id);
    assert_eq!(state(&c, "g").await, GroupState::CompletingRebalance);
    let s = c
        .sync_group(SyncGroupRequest {
            group_instance_id: Some("i1".into()),
            ..sync_req("g", &r.member_id, 1, vec![])
        })
        .await;
    assert_eq!(s.error, Some(GroupError::FencedInstanceId));
}

#[tokio::test(start_paused = true)]
async fn leave_group_dynamic_and_batch_static() {
    let (c, _) = start(config());
    let mut tasks = Vec::new();
    for i in ["i1", "i2"] {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            c.join_group(static_req("g", "", i)).await
        }));
        settle().await;
    }
    let c3 = c.clone();
    tasks.push(tokio::spawn(async move {
        c3.join_group(join_req("g", "")).await
    }));
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap().member_id);
    }
    let leave = |m: &str, i: Option<&str>| LeavingMember {
        member_id: m.into(),
        group_instance_id: i.map(Into::into),
        reason: Some("bye".into()),
    };
    let r = c
        .leave_group(
            "g",
            vec![
                leave("", Some("i1")),
                leave("", Some("i2")),
                leave("ghost", None),
                leave("", Some("i7")),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        r,
        vec![
            None,
            None,
            Some(GroupError::UnknownMemberId),
            Some(GroupError::UnknownMemberId)
        ]
    );
    assert_eq!(state(&c, "g").await, GroupState::PreparingRebalance);
    let r = c
        .leave_group("g", vec![leave(&ids[2], None)])
        .await
        .unwrap();
    assert_eq!(r, vec![None]);
    settle().await;
    let d = c.describe_group("g").await.unwrap();
    assert_eq!(d.state, GroupState::Empty);
    assert!(d.members.is_empty());
    let r = c.leave_group("nope", vec![leave("x", None)]).await.unwrap();
    assert_eq!(r, vec![Some(GroupError::UnknownMemberId)]);
    assert_eq!(
        c.leave_group("", vec![]).await,
        Err(GroupError::InvalidGroupId)
    );
}

#[tokio::test(start_paused = true)]
async fn pending_member_leaves_or_expires() {
    let (c, _) = start(config());
    let req = JoinGroupRequest {
        require_known_member_id: true,
        ..join_req("g", "")
    };
    let first = c.join_group(req.clone()).await;
    assert_eq!(first.error, Some(GroupError::MemberIdRequired));
    let leave = LeavingMember {
        member_id: first.member_id.clone(),
        group_instance_id: None,
        reason: None,
    };
    assert_eq!(c.leave_group("g", vec![leave]).await.unwrap(), vec![None]);
    // Expiry: the pending id is forgotten after the session timeout.
    let second = c.join_group(req.clone()).await;
    advance(Duration::from_millis(10_001)).await;
    settle().await;
    let r = c
        .join_group(JoinGroupRequest {
            member_id: second.member_id.clone(),
            ..req
        })
        .await;
    assert_eq!(r.error, Some(GroupError::UnknownMemberId));
}

#[tokio::test(start_paused = true)]
async fn group_max_size() {
    let (c, _) = start(GroupConfig {
        group_max_size: 1,
        ..config()
    });
    let c1 = c.clone();
    let a = tokio::spawn(async move { c1.join_group(join_req("g", "")).await });
    settle().await;
    let b = c.join_group(join_req("g", "")).await;
    assert_eq!(b.error, Some(GroupError::GroupMaxSizeReached));
    assert_eq!(a.await.unwrap().error, None);
}

#[tokio::test(start_paused = true)]
async fn offsets_standalone_commit_and_fetch() {
    let (c, _) = start(config());
    let mut req = commit_req(
        "s",
        "",
        -1,
        &[("t", 0, 42), ("t", 1, 7), ("missing", 0, 1), ("t", 99, 1)],
    );
    req.partitions[0].metadata = "meta ✓".into();
    req.partitions[0].leader_epoch = 5;
    let r = c.commit_offsets(req).await;
    let errors: Vec<_> = r.iter().map(|p| p.error.clone()).collect();
    assert_eq!(
        errors,
        vec![
            None,
            None,
            Some(GroupError::UnknownTopicOrPartition),
            Some(GroupError::UnknownTopicOrPartition)
        ]
    );
    let f = c
        .fetch_offsets("s", Some(vec![("t".into(), 0), ("t".into(), 2)]))
        .await
        .unwrap();
    assert_eq!(
        (f[0].offset, f[0].leader_epoch, f[0].metadata.as_str()),
        (42, 5, "meta ✓")
    );
    assert_eq!(
        (
            f[1].offset,
            f[1].leader_epoch,
            f[1].metadata.as_str(),
            &f[1].error
        ),
        (-1, -1, "", &None)
    );
    let all = c.fetch_offsets("s", None).await.unwrap();
    assert_eq!(
        all.iter()
            .map(|o| (o.partition, o.offset))
            .collect::<Vec<_>>(),
        vec![(0, 42), (1, 7)]
    );
    let none = c
        .fetch_offsets("unknown", Some(vec![("t".into(), 0)]))
        .await
        .unwrap();
    assert_eq!(none[0].offset, -1);
    assert!(c.fetch_offsets("unknown", None).await.unwrap().is_empty());
    assert_eq!(c.fetch_offsets("", None).await, Ok(vec![]));
    // Offsets-only group shows up as Empty with no protocol type.
    let listed = c.list_groups(&[]).await.unwrap();
    assert_eq!(
        listed,
        vec![GroupListing {
            group_id: "s".into(),
            protocol_type: String::new(),
            state: GroupState::Empty
        }]
    );
    // Too-large metadata.
    let mut big = commit_req("s", "", -1, &[("t", 0, 1)]);
    big.partitions[0].metadata = "x".repeat(5000);
    assert_eq!(
        c.commit_offsets(big).await[0].error,
        Some(GroupError::OffsetMetadataTooLarge)
    );
}

#[tokio::test(start_paused = true)]
async fn offset_commit_generation_rules() {
    let (c, _) = start(config());
    // Nonexistent group with a real generation: ILLEGAL_GENERATION.
    let r = c
        .commit_offsets(commit_req("g", "m", 3, &[("t", 0, 1)]))
        .await;
    assert_eq!(r[0].error, Some(GroupError::IllegalGeneration));
    // CompletingRebalance: REBALANCE_IN_PROGRESS.
    let j = c.join_group(join_req("c", "")).await;
    let r = c
        .commit_offsets(commit_req("c", &j.member_id, 1, &[("t", 0, 1)]))
        .await;
    assert_eq!(r[0].error, Some(GroupError::RebalanceInProgress));
    let (leader, _follower) = stable_pair(&c, "g").await;
    let j = JoinGroupResult {
        member_id: leader,
        ..j
    };
    let r = c
        .commit_offsets(commit_req("g", &j.member_id, 1, &[("t", 0, 1)]))
        .await;
    assert_eq!(r[0].error, None);
    let r = c
        .commit_offsets(commit_req("g", &j.member_id, 0, &[("t", 0, 1)]))
        .await;
    assert_eq!(r[0].error, Some(GroupError::IllegalGeneration));
    let r = c
        .commit_offsets(commit_req("g", "other", 1, &[("t", 0, 1)]))
        .await;
    assert_eq!(r[0].error, Some(GroupError::UnknownMemberId));
    // Standalone commit into a non-empty group: UNKNOWN_MEMBER_ID.
    let r = c
        .commit_offsets(commit_req("g", "", -1, &[("t", 0, 1)]))
        .await;
    assert_eq!(r[0].error, Some(GroupError::UnknownMemberId));
    // PreparingRebalance still accepts commits from the current generation.
    let c1 = c.clone();
    let m = j.member_id.clone();
    let rejoin = tokio::spawn(async move { c1.join_group(join_req("g", &m)).await });
    settle().await;
    assert_eq!(state(&c, "g").await, GroupState::PreparingRebalance);
    let r = c
        .commit_offsets(commit_req("g", &j.member_id, 1, &[("t", 1, 9)]))
        .await;
    assert_eq!(r[0].error, None);
    rejoin.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn commit_fails_when_append_fails() {
    let (c, log) = start(config());
    log.set_fail_appends(true);
    let r = c
        .commit_offsets(commit_req("s", "", -1, &[("t", 0, 1)]))
        .await;
    assert!(matches!(r[0].error, Some(GroupError::Storage(_))));
    log.set_fail_appends(false);
    assert_eq!(
        c.fetch_offsets("s", Some(vec![("t".into(), 0)]))
            .await
            .unwrap()[0]
            .offset,
        -1
    );
}

#[tokio::test(start_paused = true)]
async fn sync_store_failure_fails_syncs_and_rebalances() {
    let (c, log) = start(config());
    let j = c.join_group(join_req("g", "")).await;
    log.set_fail_appends(true);
    let s = c.sync_group(sync_req("g", &j.member_id, 1, vec![])).await;
    assert!(matches!(s.error, Some(GroupError::Storage(_))));
    assert_eq!(state(&c, "g").await, GroupState::PreparingRebalance);
}

#[tokio::test(start_paused = true)]
async fn persistence_round_trip() {
    let (c, log) = start(config());
    let (leader, follower) = stable_pair(&c, "g").await;
    let mut req = commit_req("g", &leader, 1, &[("t", 3, 100)]);
    req.partitions[0].metadata = "m".into();
    req.partitions[0].leader_epoch = 2;
    assert_eq!(c.commit_offsets(req).await[0].error, None);
    assert_eq!(
        c.commit_offsets(commit_req("solo", "", -1, &[("t", 1, 5)]))
            .await[0]
            .error,
        None
    );
    c.shutdown().await;

    let c2 = GroupCoordinator::start(config(), log.clone(), Arc::new(Topics)).unwrap();
    let f = c2
        .fetch_offsets("g", Some(vec![("t".into(), 3)]))
        .await
        .unwrap();
    assert_eq!(
        (f[0].offset, f[0].leader_epoch, f[0].metadata.as_str()),
        (100, 2, "m")
    );
    let f = c2.fetch_offsets("solo", None).await.unwrap();
    assert_eq!((f.len(), f[0].offset), (1, 5));
    let d = c2.describe_group("g").await.unwrap();
    assert_eq!(d.state, GroupState::Stable);
    assert_eq!(d.members.len(), 2);
    assert_eq!(d.protocol, "range");
    // Members resume with their generation and assignment.
    assert_eq!(c2.heartbeat(hb("g", &leader, 1)).await, Ok(()));
    let s = c2.sync_group(sync_req("g", &follower, 1, vec![])).await;
    assert_eq!(s.assignment, Bytes::from_static(b"B"));
    // Members that do not heartbeat after the restart expire.
    advance(Duration::from_millis(10_001)).await;
    settle().await;
    assert_eq!(
        c2.heartbeat(hb("g", &leader, 1)).await,
        Err(GroupError::UnknownMemberId)
    );
}

#[tokio::test(start_paused = true)]
async fn delete_groups_and_offsets() {
    let (c, log) = start(config());
    let (leader, _) = stable_pair(&c, "g").await;
    c.commit_offsets(commit_req("g", &leader, 1, &[("t", 0, 1), ("other", 0, 2)]))
        .await;
    c.commit_offsets(commit_req("solo", "", -1, &[("t", 0, 3)]))
        .await;
    let r = c
        .delete_groups(vec!["g".into(), "solo".into(), "ghost".into(), "".into()])
        .await;
    assert_eq!(
        r,
        vec![
            ("g".into(), Some(GroupError::NonEmptyGroup)),
            ("solo".into(), None),
            ("ghost".into(), Some(GroupError::GroupIdNotFound)),
            ("".into(), Some(GroupError::GroupIdNotFound)),
        ]
    );
    assert_eq!(c.fetch_offsets("solo", None).await.unwrap(), vec![]);
    // OffsetDelete: subscribed topic refused, others deleted.
    let r = c
        .delete_offsets(
            "g",
            vec![("t".into(), 0), ("other".into(), 0), ("missing".into(), 0)],
        )
        .await
        .unwrap();
    let errors: Vec<_> = r.into_iter().map(|p| p.error).collect();
    assert_eq!(
        errors,
        vec![
            Some(GroupError::GroupSubscribedToTopic),
            None,
            Some(GroupError::UnknownTopicOrPartition)
        ]
    );
    let left = c.fetch_offsets("g", None).await.unwrap();
    assert_eq!(
        left.iter().map(|o| o.topic.as_str()).collect::<Vec<_>>(),
        vec!["t"]
    );
    assert_eq!(
        c.delete_offsets("ghost", vec![]).await,
        Err(GroupError::GroupIdNotFound)
    );
    // Restart: deleted state stays deleted.
    c.shutdown().await;
    let c2 = GroupCoordinator::start(config(), log, Arc::new(Topics)).unwrap();
    assert!(c2.fetch_offsets("solo", None).await.unwrap().is_empty());
    assert_eq!(c2.fetch_offsets("g", None).await.unwrap().len(), 1);
    assert_eq!(
        c2.describe_group("solo").await.unwrap().state,
        GroupState::Dead
    );
}

#[tokio::test(start_paused = true)]
async fn describe_and_list_groups() {
    let (c, _) = start(config());
    let (leader, _) = stable_pair(&c, "a").await;
    c.commit_offsets(commit_req("b", "", -1, &[("t", 0, 1)]))
        .await;
    let d = c.describe_group("a").await.unwrap();
    assert_eq!(
        (d.state, d.protocol_type.as_str(), d.protocol.as_str()),
        (GroupState::Stable, "consumer", "range")
    );
    let me = d.members.iter().find(|m| m.member_id == leader).unwrap();
    assert_eq!(me.assignment, Bytes::from_static(b"A"));
    assert_eq!(me.metadata, subscription(&["t"]));
    assert_eq!(me.client_id, "client");
    let ghost = c.describe_group("ghost").await.unwrap();
    assert_eq!((ghost.state, ghost.members.len()), (GroupState::Dead, 0));
    let all = c.list_groups(&[]).await.unwrap();
    assert_eq!(
        all.iter().map(|g| g.group_id.as_str()).collect::<Vec<_>>(),
        vec!["a", "b"]
    );
    let stable = c.list_groups(&[GroupState::Stable]).await.unwrap();
    assert_eq!(stable.len(), 1);
    assert_eq!(stable[0].protocol_type, "consumer");
    let empty = c.list_groups(&[GroupState::Empty]).await.unwrap();
    assert_eq!(empty[0].group_id, "b");
}

#[tokio::test(start_paused = true)]
async fn offsets_expire_after_retention_once_group_is_empty() {
    let (c, log) = start(GroupConfig {
        offsets_retention_ms: 60_000,
        offsets_retention_check_interval_ms: 10_000,
        ..config()
    });
    c.commit_offsets(commit_req("solo", "", -1, &[("t", 0, 1)]))
        .await;
    let (leader, follower) = stable_pair(&c, "g").await;
    c.commit_offsets(commit_req("g", &leader, 1, &[("t", 0, 9)]))
        .await;
    // Stable consumer group subscribed to "t": its offsets stay.
    advance(Duration::from_millis(50_000)).await;
    settle().await;
    for m in [&leader, &follower] {
        let leave = LeavingMember {
            member_id: m.clone(),
            group_instance_id: None,
            reason: None,
        };
        c.leave_group("g", vec![leave]).await.unwrap();
    }
    settle().await;
    assert_eq!(state(&c, "g").await, GroupState::Empty);
    advance(Duration::from_millis(20_000)).await;
    settle().await;
    assert!(
        c.fetch_offsets("solo", None).await.unwrap().is_empty(),
        "standalone: commit time + retention"
    );
    assert_eq!(
        c.fetch_offsets("g", None).await.unwrap().len(),
        1,
        "empty for 20 s only"
    );
    advance(Duration::from_millis(50_000)).await;
    settle().await;
    assert!(c.fetch_offsets("g", None).await.unwrap().is_empty());
    assert_eq!(state(&c, "g").await, GroupState::Dead);
    let tombstones = log
        .records(c.partition_for("g"))
        .iter()
        .filter(|(_, v)| v.is_none())
        .count();
    assert!(tombstones >= 2);
}

#[tokio::test(start_paused = true)]
async fn dynamic_member_rejoin_with_new_metadata_in_stable_rebalances() {
    let (c, _) = start(config());
    let (leader, follower) = stable_pair(&c, "g").await;
    let mut req = join_req("g", &follower);
    req.protocols[0].metadata = subscription(&["t", "u"]);
    let c1 = c.clone();
    let fj = tokio::spawn(async move { c1.join_group(req).await });
    settle().await;
    assert_eq!(state(&c, "g").await, GroupState::PreparingRebalance);
    let lj = c.join_group(join_req("g", &leader)).await;
    let fj = fj.await.unwrap();
    assert_eq!((lj.generation_id, fj.generation_id), (2, 2));
    let meta = lj.members.iter().find(|m| m.member_id == follower).unwrap();
    assert_eq!(meta.metadata, subscription(&["t", "u"]));
}

/// Kafka's `classicGroupJoinExistingMember`: a known member re-sending JoinGroup with unchanged metadata
/// gets the current generation back without a rebalance, in Stable (followers) and in CompletingRebalance
/// (the leader again with every member's metadata); only the leader's re-join in Stable starts one, since
/// that is how a leader asks for a new assignment.
#[tokio::test(start_paused = true)]
async fn known_member_rejoin_with_unchanged_metadata_keeps_the_generation() {
    let (c, _) = start(config());
    let (leader, follower) = stable_pair(&c, "g").await;
    let again = c.join_group(join_req("g", &follower)).await;
    assert_eq!(again.error, None);
    assert_eq!(
        (again.generation_id, again.leader_id.as_str()),
        (1, leader.as_str())
    );
    assert!(again.members.is_empty());
    assert_eq!(state(&c, "g").await, GroupState::Stable);

    // The leader's re-join in Stable rebalances; both rejoin for generation 2.
    let c1 = c.clone();
    let lid = leader.clone();
    let lj = tokio::spawn(async move { c1.join_group(join_req("g", &lid)).await });
    settle().await;
    assert_eq!(state(&c, "g").await, GroupState::PreparingRebalance);
    let fj = c.join_group(join_req("g", &follower)).await;
    let lj = lj.await.unwrap();
    assert_eq!((lj.generation_id, fj.generation_id), (2, 2));
    assert_eq!(state(&c, "g").await, GroupState::CompletingRebalance);

    // Before the leader syncs, both re-send JoinGroup: same generation, no rebalance.
    let fj = c.join_group(join_req("g", &follower)).await;
    assert_eq!((fj.error, fj.generation_id), (None, 2));
    assert!(fj.members.is_empty());
    let lj = c.join_group(join_req("g", &leader)).await;
    assert_eq!((lj.error, lj.generation_id), (None, 2));
    assert_eq!(
        lj.members.len(),
        2,
        "the leader gets every member's metadata again"
    );
    assert_eq!(state(&c, "g").await, GroupState::CompletingRebalance);
}

#[tokio::test(start_paused = true)]
async fn failed_shard_is_restarted_and_serves_its_groups_again() {
    let (c, _log) = start(config());
    let (leader, follower) = stable_pair(&c, "g").await;
    assert_eq!(
        c.commit_offsets(commit_req("g", &leader, 1, &[("t", 0, 42)]))
            .await[0]
            .error,
        None
    );
    // The operation that crashed the task is answered (the shard is reloading: retriable), not left
    // hanging.
    assert_eq!(
        c.crash_shard_of("g").await,
        Err(GroupError::CoordinatorLoadInProgress)
    );
    // Groups of other shards are unaffected meanwhile.
    let other = (0..)
        .map(|i| format!("other-{i}"))
        .find(|g| c.partition_for(g) != c.partition_for("g"))
        .unwrap();
    assert_eq!(
        c.commit_offsets(commit_req(&other, "", -1, &[("t", 0, 7)]))
            .await[0]
            .error,
        None
    );
    // After the restart pause the shard is reloaded from __consumer_offsets and serves "g" again.
    advance(Duration::from_millis(200)).await;
    c.wait_loaded().await;
    let f = c.fetch_offsets("g", Some(vec![("t".into(), 0)])).await;
    assert_eq!(f.unwrap()[0].offset, 42);
    let d = c.describe_group("g").await.unwrap();
    assert_eq!((d.state, d.members.len()), (GroupState::Stable, 2));
    assert_eq!(c.heartbeat(hb("g", &leader, 1)).await, Ok(()));
    let s = c.sync_group(sync_req("g", &follower, 1, vec![])).await;
    assert_eq!(s.error, None);
    assert_eq!(s.assignment, Bytes::from_static(b"B"));
}

#[tokio::test(start_paused = true)]
async fn groups_follow_the_leadership_of_their_partition() {
    let log = Arc::new(InMemoryOffsetsLog::new());
    let c = GroupCoordinator::start_unloaded(config(), log.clone(), Arc::new(Topics));
    let p = c.partition_for("g");
    // Not elected yet: NOT_COORDINATOR, so the client looks the coordinator up again.
    let j = c.join_group(join_req("g", "")).await;
    assert_eq!(j.error, Some(GroupError::NotCoordinator));
    c.on_election(p, 0);
    c.wait_loaded().await;
    let (leader, _follower) = stable_pair(&c, "g").await;
    let commit = c.commit_offsets(commit_req("g", &leader, 1, &[("t", 0, 42)]));
    assert_eq!(commit.await[0].error, None);
    // A new member's JoinGroup parks (a rebalance waits for the others) until leadership moves away:
    // then it is answered NOT_COORDINATOR, as are later requests and ListGroups skips the partition.
    let c1 = c.clone();
    let parked = tokio::spawn(async move { c1.join_group(join_req("g", "")).await });
    settle().await;
    c.on_resignation(p, Some(1));
    assert_eq!(
        parked.await.unwrap().error,
        Some(GroupError::NotCoordinator)
    );
    assert_eq!(
        c.heartbeat(hb("g", &leader, 1)).await,
        Err(GroupError::NotCoordinator)
    );
    assert_eq!(
        c.fetch_offsets("g", None).await,
        Err(GroupError::NotCoordinator)
    );
    assert_eq!(c.list_groups(&[]).await, Ok(Vec::new()));
    // Elected again: the group and its offsets are loaded from the log.
    c.on_election(p, 2);
    assert_eq!(
        c.fetch_offsets("g", None).await,
        Err(GroupError::CoordinatorLoadInProgress)
    );
    c.wait_loaded().await;
    let fetched = c.fetch_offsets("g", Some(vec![("t".into(), 0)])).await;
    assert_eq!(fetched.unwrap()[0].offset, 42);
    assert_eq!(state(&c, "g").await, GroupState::Stable);
}

/// A ConsumerGroupHeartbeat joining `group` with the consumer (KIP-848) protocol.
fn consumer_join(group: &str) -> consumer::HeartbeatRequest {
    consumer::HeartbeatRequest {
        group_id: group.into(),
        member_epoch: 0,
        rebalance_timeout_ms: 30_000,
        subscribed_topic_names: Some(vec!["t".into()]),
        owned: Some(Vec::new()),
        ..Default::default()
    }
}

/// Kafka converts empty groups between the classic and the consumer protocol whatever
/// `group.consumer.migration.policy` says (`maybeDeleteEmptyClassicGroup`, `maybeDeleteEmptyConsumerGroup`),
/// writing the replaced group's tombstones; committed offsets stay with the group id.
#[tokio::test(start_paused = true)]
async fn empty_groups_convert_between_the_classic_and_consumer_protocols() {
    let (c, log) = start(GroupConfig {
        consumer_migration_policy: consumer::MigrationPolicy::Disabled,
        ..config()
    });
    let (leader, follower) = stable_pair(&c, "g").await;
    c.commit_offsets(commit_req("g", &leader, 1, &[("t", 0, 7)]))
        .await;
    // A live classic group is not taken over: the policy forbids an online upgrade.
    let refused = c.consumer_heartbeat(consumer_join("g")).await;
    assert_eq!(refused.error, Some(GroupError::GroupIdNotFound));
    for m in [&leader, &follower] {
        let leave = LeavingMember {
            member_id: m.clone(),
            group_instance_id: None,
            reason: None,
        };
        c.leave_group("g", vec![leave]).await.unwrap();
    }
    settle().await;
    assert_eq!(state(&c, "g").await, GroupState::Empty);

    // Empty classic group (protocol type "consumer") -> consumer group.
    let joined = c.consumer_heartbeat(consumer_join("g")).await;
    assert_eq!(joined.error, None, "{:?}", joined.error_message);
    assert_eq!(joined.member_epoch, 1);
    assert_eq!(c.consumer_describe("g").await.members.len(), 1);
    assert_eq!(state(&c, "g").await, GroupState::Dead, "classic group gone");
    let offsets = c.fetch_offsets("g", None).await.unwrap();
    assert_eq!(offsets.len(), 1, "offsets stay with the group id");
    let group_key = records::encode_group_key("g");
    let partition = c.partition_for("g");
    assert!(log
        .records(partition)
        .iter()
        .any(|(k, v)| *k == group_key && v.is_none()));

    // Empty consumer group -> classic group.
    let left = c
        .consumer_heartbeat(consumer::HeartbeatRequest {
            group_id: "g".into(),
            member_id: joined.member_id.clone(),
            member_epoch: consumer::LEAVE_EPOCH,
            ..Default::default()
        })
        .await;
    assert_eq!(left.error, None);
    let c1 = c.clone();
    let rejoin = tokio::spawn(async move { c1.join_group(join_req("g", "")).await });
    settle().await;
    advance(Duration::from_millis(3_100)).await;
    let rejoined = rejoin.await.unwrap();
    assert_eq!(rejoined.error, None);
    assert_eq!(rejoined.generation_id, 1, "a new classic group");
    let assignment = vec![(rejoined.member_id.clone(), Bytes::from_static(b"A"))];
    let synced = c
        .sync_group(sync_req("g", &rejoined.member_id, 1, assignment))
        .await;
    assert_eq!(synced.error, None);
    assert_eq!(
        c.consumer_describe("g").await.error,
        Some(GroupError::GroupIdNotFound)
    );
    assert_eq!(c.fetch_offsets("g", None).await.unwrap().len(), 1);
    let consumer_tombstones = consumer::records::group_tombstones("g");
    let written = log.records(partition);
    assert!(consumer_tombstones.iter().all(|t| written.contains(t)));

    // The log rebuilds the classic group, not the consumer group.
    c.shutdown().await;
    let c = GroupCoordinator::start(config(), log.clone(), Arc::new(Topics)).unwrap();
    assert_eq!(
        c.consumer_describe("g").await.error,
        Some(GroupError::GroupIdNotFound)
    );
    let described = c.describe_group("g").await.unwrap();
    assert_eq!(described.protocol_type, "consumer");
    assert_eq!(described.members.len(), 1, "the synced classic member");
    assert_eq!(c.fetch_offsets("g", None).await.unwrap().len(), 1);
}
