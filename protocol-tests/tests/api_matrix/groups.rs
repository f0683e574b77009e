//! The classic group APIs, every advertised version, against Kafka's group coordinator
//! (`GroupMetadataManager` / `OffsetMetadataManager` in `group-coordinator`, and `KafkaApis`).

use super::*;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    DeleteGroupsRequest, DescribeGroupsRequest, FindCoordinatorRequest, GroupId, HeartbeatRequest,
    JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest, ListGroupsRequest, OffsetCommitRequest,
    OffsetDeleteRequest, OffsetFetchRequest, OffsetFetchResponse, SyncGroupRequest,
};

const PROTOCOL_METADATA: &[u8] = b"\x00\x01subscription";
const ASSIGNMENT: &[u8] = b"\x00\x01assignment";

/// A broker whose empty groups rebalance at once.
/// Clients find a group's coordinator before anything else; that first lookup creates
/// `__consumer_offsets`, which the group requests below rely on.
pub(crate) async fn group_broker() -> TestBroker {
    let broker = TestBroker::start_with(|c| c.group_initial_rebalance_delay_ms = 0).await;
    broker.client().await.find_coordinator("any").await;
    broker
}

fn group_id(s: &str) -> GroupId {
    GroupId(str_bytes(s))
}

pub(crate) fn join_request(v: i16, group: &str, member_id: &str) -> JoinGroupRequest {
    let mut req = JoinGroupRequest::default()
        .with_group_id(group_id(group))
        .with_session_timeout_ms(10_000)
        .with_member_id(str_bytes(member_id))
        .with_protocol_type(str_bytes("consumer"))
        .with_protocols(vec![JoinGroupRequestProtocol::default()
            .with_name(str_bytes("range"))
            .with_metadata(Bytes::from_static(PROTOCOL_METADATA))]);
    if v >= 1 {
        req = req.with_rebalance_timeout_ms(10_000);
    }
    if v >= 8 {
        req = req.with_reason(Some(str_bytes("test")));
    }
    req
}

/// Joins as the only member (handling MEMBER_ID_REQUIRED at v4+) and returns the successful response.
pub(crate) async fn join(c: &mut Client, v: i16, group: &str) -> JoinGroupResponse {
    let mut resp = c.call(v, &join_request(v, group, "")).await;
    if v >= 4 {
        assert_eq!(
            resp.error_code,
            code(ResponseError::MemberIdRequired),
            "JoinGroup v{v}: first join needs a member id"
        );
        let member = resp.member_id.to_string();
        resp = c.call(v, &join_request(v, group, &member)).await;
        assert_eq!(
            resp.member_id.as_str(),
            member,
            "v{v} keeps the given member id"
        );
    }
    assert_eq!(resp.error_code, 0, "JoinGroup v{v} error");
    resp
}

pub(crate) fn sync_request(v: i16, group: &str, generation: i32, member: &str) -> SyncGroupRequest {
    let mut req = SyncGroupRequest::default()
        .with_group_id(group_id(group))
        .with_generation_id(generation)
        .with_member_id(str_bytes(member))
        .with_assignments(vec![SyncGroupRequestAssignment::default()
            .with_member_id(str_bytes(member))
            .with_assignment(Bytes::from_static(ASSIGNMENT))]);
    if v >= 5 {
        req = req
            .with_protocol_type(Some(str_bytes("consumer")))
            .with_protocol_name(Some(str_bytes("range")));
    }
    req
}

/// A Stable group with one member; returns (member id, generation).
pub(crate) async fn stable_group(c: &mut Client, group: &str) -> (String, i32) {
    let j = join(c, 9, group).await;
    let member = j.member_id.to_string();
    let s = c
        .call(5, &sync_request(5, group, j.generation_id, &member))
        .await;
    assert_eq!(s.error_code, 0, "sync {group}");
    (member, j.generation_id)
}

pub(crate) fn commit_request(
    v: i16,
    group: &str,
    generation: i32,
    member: &str,
    topic: &str,
    offsets: &[(i32, i64, Option<&str>)],
) -> OffsetCommitRequest {
    let mut req = OffsetCommitRequest::default()
        .with_group_id(group_id(group))
        .with_generation_id_or_member_epoch(generation)
        .with_member_id(str_bytes(member))
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(topic_name(topic))
            .with_partitions(
                offsets
                    .iter()
                    .map(|(p, o, m)| {
                        let mut part = OffsetCommitRequestPartition::default()
                            .with_partition_index(*p)
                            .with_committed_offset(*o)
                            .with_committed_metadata(m.map(str_bytes));
                        if v >= 6 {
                            part = part.with_committed_leader_epoch(0);
                        }
                        part
                    })
                    .collect(),
            )]);
    if v <= 4 {
        req = req.with_retention_time_ms(-1);
    }
    req
}

/// OffsetFetch for one group and topic at any version; returns per partition
/// (index, offset, leader epoch, metadata, error) and the group-level error (v2+).
pub(crate) async fn fetch_offsets(
    c: &mut Client,
    v: i16,
    group: &str,
    topic: &str,
    partitions: &[i32],
) -> (Vec<(i32, i64, i32, Option<String>, i16)>, i16) {
    let req = if v >= 8 {
        OffsetFetchRequest::default().with_groups(vec![OffsetFetchRequestGroup::default()
            .with_group_id(group_id(group))
            .with_topics(Some(vec![OffsetFetchRequestTopics::default()
                .with_name(topic_name(topic))
                .with_partition_indexes(partitions.to_vec())]))])
    } else {
        OffsetFetchRequest::default()
            .with_group_id(group_id(group))
            .with_topics(Some(vec![OffsetFetchRequestTopic::default()
                .with_name(topic_name(topic))
                .with_partition_indexes(partitions.to_vec())]))
    };
    let resp: OffsetFetchResponse = c.call(v, &req).await;
    if v >= 3 {
        assert_eq!(resp.throttle_time_ms, 0, "OffsetFetch v{v} throttle");
    }
    if v >= 8 {
        assert_eq!(resp.groups.len(), 1, "v{v} one group");
        let g = &resp.groups[0];
        assert_eq!(g.group_id.as_str(), group, "v{v} group id");
        assert_eq!(g.topics.len(), 1, "v{v} one topic");
        assert_eq!(g.topics[0].name.as_str(), topic, "v{v} topic");
        let parts = g.topics[0]
            .partitions
            .iter()
            .map(|p| {
                (
                    p.partition_index,
                    p.committed_offset,
                    p.committed_leader_epoch,
                    p.metadata.as_ref().map(|m| m.to_string()),
                    p.error_code,
                )
            })
            .collect();
        (parts, g.error_code)
    } else {
        assert_eq!(resp.topics.len(), 1, "v{v} one topic");
        assert_eq!(resp.topics[0].name.as_str(), topic, "v{v} topic");
        let parts = resp.topics[0]
            .partitions
            .iter()
            .map(|p| {
                (
                    p.partition_index,
                    p.committed_offset,
                    if v >= 5 { p.committed_leader_epoch } else { -1 },
                    p.metadata.as_ref().map(|m| m.to_string()),
                    p.error_code,
                )
            })
            .collect();
        (parts, resp.error_code)
    }
}

// ------------------------------------------------------------------------------------- FindCoordinator

#[tokio::test]
async fn matrix_find_coordinator() {
    bounded(Duration::from_secs(20), async {
        let broker = group_broker().await;
        let port = i32::from(broker.addr().port());
        let mut c = broker.client().await;
        for v in advertised(ApiKey::FindCoordinator) {
            eprintln!("case FindCoordinator v{v}");
            let mut req = FindCoordinatorRequest::default();
            if v >= 4 {
                req = req.with_coordinator_keys(vec![str_bytes("fc-a"), str_bytes("fc-b")]);
            } else {
                req = req.with_key(str_bytes("fc-a"));
            }
            if v >= 1 {
                req = req.with_key_type(0);
            }
            let resp = c.call(v, &req).await;
            if v >= 1 {
                assert_eq!(resp.throttle_time_ms, 0, "v{v} throttle");
            }
            if v >= 4 {
                assert_eq!(resp.coordinators.len(), 2, "v{v} one entry per key");
                for (k, want) in resp.coordinators.iter().zip(["fc-a", "fc-b"]) {
                    assert_eq!(k.key.as_str(), want, "v{v} key");
                    assert_eq!(k.error_code, 0, "v{v} {want} error");
                    assert_eq!(k.node_id, NODE, "v{v} {want} node");
                    assert_eq!(k.host.as_str(), "127.0.0.1", "v{v} {want} host");
                    assert_eq!(k.port, port, "v{v} {want} port");
                }
            } else {
                assert_eq!(resp.error_code, 0, "v{v} error");
                assert_eq!(resp.node_id, NODE, "v{v} node");
                assert_eq!(resp.host.as_str(), "127.0.0.1", "v{v} host");
                assert_eq!(resp.port, port, "v{v} port");
            }
        }
        broker.shutdown().await;
    })
    .await;
}

/// Kafka (`KafkaApis.handleFindCoordinatorRequest`) fills the error message with `Errors.message()`, which
/// for `Errors.NONE` (no exception) is `toString()` = "NONE", at v1-3 and per coordinator at v4+.
#[tokio::test]
async fn find_coordinator_error_message_is_none_string_like_kafka() {
    bounded(Duration::from_secs(10), async {
        let broker = group_broker().await;
        let mut c = broker.client().await;
        for v in 1..=3 {
            let req = FindCoordinatorRequest::default()
                .with_key(str_bytes("fc-m"))
                .with_key_type(0);
            let resp = c.call(v, &req).await;
            assert_eq!(resp.error_message.as_deref(), Some("NONE"), "v{v}");
        }
        let req = FindCoordinatorRequest::default()
            .with_key_type(0)
            .with_coordinator_keys(vec![str_bytes("fc-m")]);
        let resp = c.call(6, &req).await;
        assert_eq!(
            resp.coordinators[0].error_message.as_deref(),
            Some("NONE"),
            "v6"
        );
        broker.shutdown().await;
    })
    .await;
}

/// Kafka records a member's client host as `InetAddress.toString()` of the peer: "/127.0.0.1", no port.
#[tokio::test]
async fn describe_groups_client_host_has_no_port_like_kafka() {
    bounded(Duration::from_secs(10), async {
        let broker = group_broker().await;
        let mut c = broker.client().await;
        stable_group(&mut c, "dg-host").await;
        let resp = c
            .call(
                5,
                &DescribeGroupsRequest::default().with_groups(vec![group_id("dg-host")]),
            )
            .await;
        assert_eq!(resp.groups[0].members[0].client_host.as_str(), "/127.0.0.1");
        broker.shutdown().await;
    })
    .await;
}

// ------------------------------------------------------------------------------------------- JoinGroup

#[tokio::test]
async fn matrix_join_group() {
    bounded(Duration::from_secs(30), async {
        let broker = group_broker().await;
        let mut c = broker.client().await;
        for v in advertised(ApiKey::JoinGroup) {
            eprintln!("case JoinGroup v{v}");
            let group = format!("matrix-jg-v{v}");
            let first = c.call(v, &join_request(v, &group, "")).await;
            if v >= 2 {
                assert_eq!(first.throttle_time_ms, 0, "v{v} throttle");
            }
            let member = if v >= 4 {
                assert_eq!(
                    first.error_code,
                    code(ResponseError::MemberIdRequired),
                    "v{v} first join"
                );
                assert!(!first.member_id.is_empty(), "v{v} member id handed out");
                assert!(
                    first.member_id.starts_with(CLIENT_ID),
                    "v{v} member id is client id + uuid: {}",
                    first.member_id.as_str()
                );
                assert_eq!(first.generation_id, -1, "v{v} no generation yet");
                assert_eq!(first.leader.as_str(), "", "v{v} no leader yet");
                assert!(first.members.is_empty(), "v{v} no members yet");
                let member = first.member_id.to_string();
                let resp = c.call(v, &join_request(v, &group, &member)).await;
                assert_eq!(resp.member_id.as_str(), member, "v{v} same member id");
                resp
            } else {
                first
            };
            let resp = member;
            assert_eq!(resp.error_code, 0, "v{v} error");
            assert_eq!(resp.generation_id, 1, "v{v} generation");
            assert_eq!(resp.leader, resp.member_id, "v{v} the only member leads");
            if v >= 7 {
                assert_eq!(
                    resp.protocol_type.as_deref(),
                    Some("consumer"),
                    "v{v} protocol type"
                );
            }
            assert_eq!(
                resp.protocol_name.as_deref(),
                Some("range"),
                "v{v} protocol name"
            );
            if v >= 9 {
                assert!(!resp.skip_assignment, "v{v} skip assignment");
            }
            assert_eq!(resp.members.len(), 1, "v{v} the leader sees the members");
            let m = &resp.members[0];
            assert_eq!(m.member_id, resp.member_id, "v{v} member id");
            assert_eq!(
                m.metadata.as_ref(),
                PROTOCOL_METADATA,
                "v{v} member metadata"
            );
            if v >= 5 {
                assert_eq!(m.group_instance_id, None, "v{v} group instance id");
            }
            // An unknown member id.
            let resp = c.call(v, &join_request(v, &group, "nobody")).await;
            assert_eq!(
                resp.error_code,
                code(ResponseError::UnknownMemberId),
                "v{v} unknown member"
            );
        }
        broker.shutdown().await;
    })
    .await;
}

// ------------------------------------------------------------------------------------------- SyncGroup

#[tokio::test]
async fn matrix_sync_group() {
    bounded(Duration::from_secs(30), async {
        let broker = group_broker().await;
        let mut c = broker.client().await;
        for v in advertised(ApiKey::SyncGroup) {
            eprintln!("case SyncGroup v{v}");
            let group = format!("matrix-sg-v{v}");
            let j = join(&mut c, 9, &group).await;
            let member = j.member_id.to_string();
            let resp = c
                .call(v, &sync_request(v, &group, j.generation_id, &member))
                .await;
            if v >= 1 {
                assert_eq!(resp.throttle_time_ms, 0, "v{v} throttle");
            }
            assert_eq!(resp.error_code, 0, "v{v} error");
            assert_eq!(resp.assignment.as_ref(), ASSIGNMENT, "v{v} assignment");
            if v >= 5 {
                assert_eq!(
                    resp.protocol_type.as_deref(),
                    Some("consumer"),
                    "v{v} protocol type"
                );
                assert_eq!(
                    resp.protocol_name.as_deref(),
                    Some("range"),
                    "v{v} protocol name"
                );
            }
            let resp = c
                .call(v, &sync_request(v, &group, j.generation_id + 1, &member))
                .await;
            assert_eq!(
                resp.error_code,
                code(ResponseError::IllegalGeneration),
                "v{v} wrong generation"
            );
            let resp = c
                .call(v, &sync_request(v, &group, j.generation_id, "nobody"))
                .await;
            assert_eq!(
                resp.error_code,
                code(ResponseError::UnknownMemberId),
                "v{v} unknown member"
            );
        }
        broker.shutdown().await;
    })
    .await;
}

// ------------------------------------------------------------------------------------------- Heartbeat

#[tokio::test]
async fn matrix_heartbeat() {
    bounded(Duration::from_secs(30), async {
        let broker = group_broker().await;
        let mut c = broker.client().await;
        for v in advertised(ApiKey::Heartbeat) {
            eprintln!("case Heartbeat v{v}");
            let group = format!("matrix-hb-v{v}");
            let (member, generation) = stable_group(&mut c, &group).await;
            let hb = |generation: i32, member: &str| {
                HeartbeatRequest::default()
                    .with_group_id(group_id(&group))
                    .with_generation_id(generation)
                    .with_member_id(str_bytes(member))
            };
            let resp = c.call(v, &hb(generation, &member)).await;
            if v >= 1 {
                assert_eq!(resp.throttle_time_ms, 0, "v{v} throttle");
            }
            assert_eq!(resp.error_code, 0, "v{v} ok");
            let resp = c.call(v, &hb(generation, "nobody")).await;
            assert_eq!(
                resp.error_code,
                code(ResponseError::UnknownMemberId),
                "v{v} unknown member"
            );
            let resp = c.call(v, &hb(generation + 1, &member)).await;
            assert_eq!(
                resp.error_code,
                code(ResponseError::IllegalGeneration),
                "v{v} wrong generation"
            );
        }
        broker.shutdown().await;
    })
    .await;
}

// ------------------------------------------------------------------------------------------ LeaveGroup

#[tokio::test]
async fn matrix_leave_group() {
    bounded(Duration::from_secs(30), async {
        let broker = group_broker().await;
        let mut c = broker.client().await;
        for v in advertised(ApiKey::LeaveGroup) {
            eprintln!("case LeaveGroup v{v}");
            let group = format!("matrix-lg-v{v}");
            let (member, _) = stable_group(&mut c, &group).await;
            let leave = |member: &str| {
                let req = LeaveGroupRequest::default().with_group_id(group_id(&group));
                if v >= 3 {
                    let mut m = MemberIdentity::default().with_member_id(str_bytes(member));
                    if v >= 5 {
                        m = m.with_reason(Some(str_bytes("done")));
                    }
                    req.with_members(vec![m])
                } else {
                    req.with_member_id(str_bytes(member))
                }
            };
            let resp = c.call(v, &leave(&member)).await;
            if v >= 1 {
                assert_eq!(resp.throttle_time_ms, 0, "v{v} throttle");
            }
            assert_eq!(resp.error_code, 0, "v{v} error");
            if v >= 3 {
                assert_eq!(resp.members.len(), 1, "v{v} one member result");
                let m = &resp.members[0];
                assert_eq!(m.member_id.as_str(), member, "v{v} member id");
                assert_eq!(m.group_instance_id, None, "v{v} instance id");
                assert_eq!(m.error_code, 0, "v{v} member error");
            }
            let d = c
                .call(
                    5,
                    &DescribeGroupsRequest::default().with_groups(vec![group_id(&group)]),
                )
                .await;
            assert_eq!(
                d.groups[0].group_state.as_str(),
                "Empty",
                "v{v} group empty after leave"
            );
            // The member is gone now.
            let resp = c.call(v, &leave(&member)).await;
            if v >= 3 {
                assert_eq!(resp.error_code, 0, "v{v} top-level error");
                assert_eq!(
                    resp.members[0].error_code,
                    code(ResponseError::UnknownMemberId),
                    "v{v} unknown member"
                );
            } else {
                assert_eq!(
                    resp.error_code,
                    code(ResponseError::UnknownMemberId),
                    "v{v} unknown member"
                );
            }
        }
        broker.shutdown().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------- OffsetCommit

#[tokio::test]
async fn matrix_offset_commit() {
    bounded(Duration::from_secs(30), async {
        let broker = group_broker().await;
        let mut c = broker.client().await;
        c.create_topic("matrix-oc", 2).await;
        // v10 names topics by id and the crate cannot encode it: `offsets_v10.rs` builds those bytes.
        for v in advertised(ApiKey::OffsetCommit).filter(|v| *v < 10) {
            eprintln!("case OffsetCommit v{v}");
            // Standalone (simple consumer): generation -1, empty member id.
            let group = format!("matrix-oc-v{v}");
            let meta = format!("meta-v{v}");
            let req = commit_request(
                v,
                &group,
                -1,
                "",
                "matrix-oc",
                &[(0, 10 + i64::from(v), Some(&meta)), (1, 20, None)],
            );
            let resp = c.call(v, &req).await;
            if v >= 3 {
                assert_eq!(resp.throttle_time_ms, 0, "v{v} throttle");
            }
            assert_eq!(resp.topics.len(), 1);
            assert_eq!(resp.topics[0].name.as_str(), "matrix-oc", "v{v} topic");
            let parts: Vec<(i32, i16)> = resp.topics[0]
                .partitions
                .iter()
                .map(|p| (p.partition_index, p.error_code))
                .collect();
            assert_eq!(parts, vec![(0, 0), (1, 0)], "v{v} committed");
            let (got, err) = fetch_offsets(&mut c, 9, &group, "matrix-oc", &[0, 1]).await;
            assert_eq!(err, 0);
            let epoch = if v >= 6 { 0 } else { -1 };
            assert_eq!(
                got,
                vec![
                    (0, 10 + i64::from(v), epoch, Some(meta.clone()), 0),
                    (1, 20, epoch, Some(String::new()), 0)
                ],
                "v{v} committed offsets, metadata and leader epoch (null metadata reads back empty)"
            );
            // A member of an active group commits with its generation.
            let active = format!("matrix-oc-active-v{v}");
            let (member, generation) = stable_group(&mut c, &active).await;
            let resp = c
                .call(
                    v,
                    &commit_request(
                        v,
                        &active,
                        generation,
                        &member,
                        "matrix-oc",
                        &[(0, 5, None)],
                    ),
                )
                .await;
            assert_eq!(
                resp.topics[0].partitions[0].error_code, 0,
                "v{v} member commit"
            );
            let resp = c
                .call(
                    v,
                    &commit_request(
                        v,
                        &active,
                        generation + 1,
                        &member,
                        "matrix-oc",
                        &[(0, 6, None)],
                    ),
                )
                .await;
            assert_eq!(
                resp.topics[0].partitions[0].error_code,
                code(ResponseError::IllegalGeneration),
                "v{v} stale generation"
            );
            let resp = c
                .call(
                    v,
                    &commit_request(
                        v,
                        &active,
                        generation,
                        "nobody",
                        "matrix-oc",
                        &[(0, 6, None)],
                    ),
                )
                .await;
            assert_eq!(
                resp.topics[0].partitions[0].error_code,
                code(ResponseError::UnknownMemberId),
                "v{v} unknown member"
            );
            // Unknown topic.
            let resp = c
                .call(
                    v,
                    &commit_request(v, &group, -1, "", "matrix-oc-missing", &[(0, 1, None)]),
                )
                .await;
            assert_eq!(resp.topics[0].name.as_str(), "matrix-oc-missing");
            assert_eq!(
                resp.topics[0].partitions[0].error_code,
                code(ResponseError::UnknownTopicOrPartition),
                "v{v} unknown topic"
            );
        }
        broker.shutdown().await;
    })
    .await;
}

// ----------------------------------------------------------------------------------------- OffsetFetch

#[tokio::test]
async fn matrix_offset_fetch() {
    bounded(Duration::from_secs(30), async {
        let broker = group_broker().await;
        let mut c = broker.client().await;
        c.create_topic("matrix-of", 3).await;
        let req = commit_request(
            9,
            "matrix-of-g",
            -1,
            "",
            "matrix-of",
            &[(0, 42, Some("hello")), (1, 7, Some(""))],
        );
        let resp = c.call(9, &req).await;
        assert!(resp.topics[0].partitions.iter().all(|p| p.error_code == 0));
        // v10 names topics by id and the crate cannot encode it: `offsets_v10.rs` builds those bytes.
        for v in advertised(ApiKey::OffsetFetch).filter(|v| *v < 10) {
            eprintln!("case OffsetFetch v{v}");
            let (got, err) = fetch_offsets(&mut c, v, "matrix-of-g", "matrix-of", &[0, 1, 2]).await;
            if v >= 2 {
                assert_eq!(err, 0, "v{v} group error");
            }
            let epoch = if v >= 5 { 0 } else { -1 };
            assert_eq!(
                got,
                vec![
                    (0, 42, epoch, Some("hello".to_string()), 0),
                    (1, 7, epoch, Some(String::new()), 0),
                    (2, -1, -1, Some(String::new()), 0),
                ],
                "v{v} committed + never committed"
            );
            // A group that never committed.
            let (got, err) = fetch_offsets(&mut c, v, "matrix-of-none", "matrix-of", &[0]).await;
            if v >= 2 {
                assert_eq!(err, 0, "v{v} unknown group is no error");
            }
            assert_eq!(
                got,
                vec![(0, -1, -1, Some(String::new()), 0)],
                "v{v} unknown group"
            );
            // v2+: null topics = every committed partition of the group.
            if (2..8).contains(&v) {
                let resp = c
                    .call(
                        v,
                        &OffsetFetchRequest::default()
                            .with_group_id(group_id("matrix-of-g"))
                            .with_topics(None),
                    )
                    .await;
                assert_eq!(resp.error_code, 0);
                assert_eq!(resp.topics.len(), 1, "v{v} all topics");
                let mut parts: Vec<(i32, i64)> = resp.topics[0]
                    .partitions
                    .iter()
                    .map(|p| (p.partition_index, p.committed_offset))
                    .collect();
                parts.sort();
                assert_eq!(
                    parts,
                    vec![(0, 42), (1, 7)],
                    "v{v} all committed partitions"
                );
            }
            // v8+: several groups in one request.
            if v >= 8 {
                let req = OffsetFetchRequest::default().with_groups(vec![
                    OffsetFetchRequestGroup::default()
                        .with_group_id(group_id("matrix-of-g"))
                        .with_topics(None),
                    OffsetFetchRequestGroup::default()
                        .with_group_id(group_id("matrix-of-none"))
                        .with_topics(Some(vec![OffsetFetchRequestTopics::default()
                            .with_name(topic_name("matrix-of"))
                            .with_partition_indexes(vec![2])])),
                ]);
                let resp = c.call(v, &req).await;
                assert_eq!(resp.groups.len(), 2, "v{v} two groups");
                let g = &resp.groups[0];
                assert_eq!(g.group_id.as_str(), "matrix-of-g");
                assert_eq!(g.error_code, 0);
                let mut parts: Vec<(i32, i64, Option<String>)> = g.topics[0]
                    .partitions
                    .iter()
                    .map(|p| {
                        (
                            p.partition_index,
                            p.committed_offset,
                            p.metadata.as_ref().map(|m| m.to_string()),
                        )
                    })
                    .collect();
                parts.sort();
                assert_eq!(
                    parts,
                    vec![(0, 42, Some("hello".into())), (1, 7, Some(String::new()))],
                    "v{v} first group, all topics"
                );
                let g = &resp.groups[1];
                assert_eq!(g.group_id.as_str(), "matrix-of-none");
                assert_eq!(g.error_code, 0);
                let p = &g.topics[0].partitions[0];
                assert_eq!(
                    (p.partition_index, p.committed_offset, p.error_code),
                    (2, -1, 0)
                );
            }
        }
        broker.shutdown().await;
    })
    .await;
}

// -------------------------------------------------------------------------------------- DescribeGroups

#[tokio::test]
async fn matrix_describe_groups() {
    bounded(Duration::from_secs(30), async {
        let broker = group_broker().await;
        let mut c = broker.client().await;
        let (member, _) = stable_group(&mut c, "matrix-dg").await;
        for v in advertised(ApiKey::DescribeGroups) {
            eprintln!("case DescribeGroups v{v}");
            let req = DescribeGroupsRequest::default()
                .with_groups(vec![group_id("matrix-dg"), group_id("matrix-dg-missing")]);
            let resp = c.call(v, &req).await;
            if v >= 1 {
                assert_eq!(resp.throttle_time_ms, 0, "v{v} throttle");
            }
            assert_eq!(resp.groups.len(), 2);
            let g = &resp.groups[0];
            assert_eq!(g.error_code, 0, "v{v} error");
            if v >= 6 {
                assert_eq!(g.error_message, None, "v{v} error message");
            }
            assert_eq!(g.group_id.as_str(), "matrix-dg");
            assert_eq!(g.group_state.as_str(), "Stable", "v{v} state");
            assert_eq!(g.protocol_type.as_str(), "consumer", "v{v} protocol type");
            assert_eq!(g.protocol_data.as_str(), "range", "v{v} protocol");
            if v >= 3 {
                assert_eq!(
                    g.authorized_operations, OPS_NOT_REQUESTED,
                    "v{v} ops not requested"
                );
            }
            assert_eq!(g.members.len(), 1, "v{v} members");
            let m = &g.members[0];
            assert_eq!(m.member_id.as_str(), member, "v{v} member id");
            if v >= 4 {
                assert_eq!(m.group_instance_id, None, "v{v} instance id");
            }
            assert_eq!(m.client_id.as_str(), CLIENT_ID, "v{v} client id");
            assert_eq!(
                m.member_metadata.as_ref(),
                PROTOCOL_METADATA,
                "v{v} metadata"
            );
            assert_eq!(m.member_assignment.as_ref(), ASSIGNMENT, "v{v} assignment");
            let u = &resp.groups[1];
            assert_eq!(u.group_id.as_str(), "matrix-dg-missing");
            if v >= 6 {
                assert_eq!(
                    u.error_code,
                    code(ResponseError::GroupIdNotFound),
                    "v{v} unknown group"
                );
            } else {
                assert_eq!(u.error_code, 0, "v{v} unknown group is Dead, not an error");
                assert_eq!(u.group_state.as_str(), "Dead", "v{v} unknown group state");
            }
            assert_eq!(u.protocol_type.as_str(), "", "v{v} unknown protocol type");
            assert!(u.members.is_empty(), "v{v} unknown group members");
        }
        broker.shutdown().await;
    })
    .await;
}

// ------------------------------------------------------------------------------------------ ListGroups

#[tokio::test]
async fn matrix_list_groups() {
    bounded(Duration::from_secs(30), async {
        let broker = group_broker().await;
        let mut c = broker.client().await;
        c.create_topic("matrix-lsg", 1).await;
        stable_group(&mut c, "matrix-lsg-stable").await;
        let resp = c
            .call(
                9,
                &commit_request(9, "matrix-lsg-empty", -1, "", "matrix-lsg", &[(0, 1, None)]),
            )
            .await;
        assert_eq!(resp.topics[0].partitions[0].error_code, 0);
        for v in advertised(ApiKey::ListGroups) {
            eprintln!("case ListGroups v{v}");
            let resp = c.call(v, &ListGroupsRequest::default()).await;
            if v >= 1 {
                assert_eq!(resp.throttle_time_ms, 0, "v{v} throttle");
            }
            assert_eq!(resp.error_code, 0, "v{v} error");
            let mut groups: Vec<(String, String, String, String)> = resp
                .groups
                .iter()
                .map(|g| {
                    (
                        g.group_id.to_string(),
                        g.protocol_type.to_string(),
                        g.group_state.to_string(),
                        g.group_type.to_string(),
                    )
                })
                .collect();
            groups.sort();
            let state = |s: &str| if v >= 4 { s.to_string() } else { String::new() };
            let ty = if v >= 5 { "classic" } else { "" };
            assert_eq!(
                groups,
                vec![
                    (
                        "matrix-lsg-empty".into(),
                        "".into(),
                        state("Empty"),
                        ty.into()
                    ),
                    (
                        "matrix-lsg-stable".into(),
                        "consumer".into(),
                        state("Stable"),
                        ty.into()
                    ),
                ],
                "v{v} groups"
            );
            if v >= 4 {
                let req =
                    ListGroupsRequest::default().with_states_filter(vec![str_bytes("Stable")]);
                let resp = c.call(v, &req).await;
                let names: Vec<&str> = resp.groups.iter().map(|g| g.group_id.as_str()).collect();
                assert_eq!(names, vec!["matrix-lsg-stable"], "v{v} state filter");
            }
            if v >= 5 {
                let req =
                    ListGroupsRequest::default().with_types_filter(vec![str_bytes("consumer")]);
                let resp = c.call(v, &req).await;
                assert!(resp.groups.is_empty(), "v{v} no KIP-848 consumer groups");
            }
        }
        broker.shutdown().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------- DeleteGroups

#[tokio::test]
async fn matrix_delete_groups() {
    bounded(Duration::from_secs(30), async {
        let broker = group_broker().await;
        let mut c = broker.client().await;
        c.create_topic("matrix-dg2", 1).await;
        for v in advertised(ApiKey::DeleteGroups) {
            eprintln!("case DeleteGroups v{v}");
            let active = format!("matrix-delg-active-v{v}");
            let empty = format!("matrix-delg-empty-v{v}");
            stable_group(&mut c, &active).await;
            let resp = c
                .call(
                    9,
                    &commit_request(9, &empty, -1, "", "matrix-dg2", &[(0, 3, Some("x"))]),
                )
                .await;
            assert_eq!(resp.topics[0].partitions[0].error_code, 0);
            let req = DeleteGroupsRequest::default().with_groups_names(vec![
                group_id(&active),
                group_id(&empty),
                group_id("matrix-delg-missing"),
            ]);
            let resp = c.call(v, &req).await;
            assert_eq!(resp.throttle_time_ms, 0, "v{v} throttle");
            let got: Vec<(String, i16)> = resp
                .results
                .iter()
                .map(|r| (r.group_id.to_string(), r.error_code))
                .collect();
            assert_eq!(
                got,
                vec![
                    (active.clone(), code(ResponseError::NonEmptyGroup)),
                    (empty.clone(), 0),
                    (
                        "matrix-delg-missing".into(),
                        code(ResponseError::GroupIdNotFound)
                    ),
                ],
                "v{v} results"
            );
            // The deleted group's offsets are gone.
            let (got, _) = fetch_offsets(&mut c, 9, &empty, "matrix-dg2", &[0]).await;
            assert_eq!(
                got,
                vec![(0, -1, -1, Some(String::new()), 0)],
                "v{v} offsets deleted"
            );
        }
        broker.shutdown().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------- OffsetDelete

fn offset_delete(group: &str, topic: &str, partitions: &[i32]) -> OffsetDeleteRequest {
    OffsetDeleteRequest::default()
        .with_group_id(group_id(group))
        .with_topics(vec![OffsetDeleteRequestTopic::default()
            .with_name(topic_name(topic))
            .with_partitions(
                partitions
                    .iter()
                    .map(|p| OffsetDeleteRequestPartition::default().with_partition_index(*p))
                    .collect(),
            )])
}

#[tokio::test]
async fn matrix_offset_delete() {
    bounded(Duration::from_secs(30), async {
        let broker = group_broker().await;
        let mut c = broker.client().await;
        c.create_topic("matrix-od", 2).await;
        for v in advertised(ApiKey::OffsetDelete) {
            eprintln!("case OffsetDelete v{v}");
            let group = format!("matrix-od-v{v}");
            let resp = c
                .call(
                    9,
                    &commit_request(
                        9,
                        &group,
                        -1,
                        "",
                        "matrix-od",
                        &[(0, 3, None), (1, 4, None)],
                    ),
                )
                .await;
            assert!(resp.topics[0].partitions.iter().all(|p| p.error_code == 0));
            let resp = c.call(v, &offset_delete(&group, "matrix-od", &[0])).await;
            assert_eq!(resp.error_code, 0, "v{v} error");
            assert_eq!(resp.throttle_time_ms, 0, "v{v} throttle");
            assert_eq!(resp.topics.len(), 1);
            assert_eq!(resp.topics[0].name.as_str(), "matrix-od");
            let parts: Vec<(i32, i16)> = resp.topics[0]
                .partitions
                .iter()
                .map(|p| (p.partition_index, p.error_code))
                .collect();
            assert_eq!(parts, vec![(0, 0)], "v{v} partition results");
            let (got, _) = fetch_offsets(&mut c, 9, &group, "matrix-od", &[0, 1]).await;
            let offsets: Vec<(i32, i64)> = got.iter().map(|p| (p.0, p.1)).collect();
            assert_eq!(
                offsets,
                vec![(0, -1), (1, 4)],
                "v{v} only partition 0 deleted"
            );
            let resp = c
                .call(v, &offset_delete("matrix-od-missing", "matrix-od", &[0]))
                .await;
            assert_eq!(
                resp.error_code,
                code(ResponseError::GroupIdNotFound),
                "v{v} unknown group"
            );
            assert!(resp.topics.is_empty(), "v{v} no topics on a group error");
        }
        broker.shutdown().await;
    })
    .await;
}
