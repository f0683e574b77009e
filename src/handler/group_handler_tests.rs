//! Group-API handlers end to end over an in-memory coordinator, every served version, and every response
//! encodable at the version it answers.

use std::sync::Arc;

use bytes::BytesMut;
use kafka_protocol::error::ResponseError;
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
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Encodable, StrBytes};

use super::group_common::{ClientInfo, NodeInfo, TopicIds};
use super::*;
use crate::group::{GroupConfig, GroupCoordinator, InMemoryOffsetsLog, TopicLookup};

struct Topics;
impl TopicLookup for Topics {
    fn partition_exists(&self, topic: &str, partition: i32) -> bool {
        topic != "missing" && (0..4).contains(&partition)
    }
}

/// Topic ids for the offset APIs' v10: "t" and "u" have ids, "missing" has none.
struct Ids;
const T_ID: uuid::Uuid = uuid::Uuid::from_u128(0x7);
const U_ID: uuid::Uuid = uuid::Uuid::from_u128(0x8);
/// The id a v10 request names "missing" by: no topic has it.
const MISSING_ID: uuid::Uuid = uuid::Uuid::from_u128(0x9);
impl TopicIds for Ids {
    fn name_of(&self, id: uuid::Uuid) -> Option<String> {
        [(T_ID, "t"), (U_ID, "u")]
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, n)| n.to_string())
    }

    fn id_of(&self, name: &str) -> Option<uuid::Uuid> {
        match name {
            "t" => Some(T_ID),
            "u" => Some(U_ID),
            _ => None,
        }
    }
}

fn coordinator() -> GroupCoordinator {
    GroupCoordinator::start(
        GroupConfig::default(),
        Arc::new(InMemoryOffsetsLog::new()),
        Arc::new(Topics),
    )
    .unwrap()
}

fn node() -> NodeInfo {
    NodeInfo {
        node_id: 7,
        host: "broker.local".into(),
        port: 9092,
    }
}

fn client() -> ClientInfo {
    ClientInfo {
        client_id: "rdkafka".into(),
        client_host: "/10.0.0.1".into(),
    }
}

fn encodes<T: Encodable>(resp: &T, version: i16) {
    let mut buf = BytesMut::new();
    resp.encode(&mut buf, version)
        .unwrap_or_else(|e| panic!("encode at v{version}: {e}"));
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

// FindCoordinator needs the cluster's metadata: protocol-tests' `matrix_find_coordinator` covers it.

fn join_request(group: &str, member: &str) -> JoinGroupRequest {
    let mut p = JoinGroupRequestProtocol::default();
    p.name = s("range");
    p.metadata = bytes::Bytes::from_static(&[0, 0, 0, 0, 0, 1, 0, 1, b't', 0xff, 0xff, 0xff, 0xff]);
    let mut req = JoinGroupRequest::default();
    req.group_id = GroupId(s(group));
    req.member_id = s(member);
    req.session_timeout_ms = 10_000;
    req.rebalance_timeout_ms = 20_000;
    req.protocol_type = s("consumer");
    req.protocols = vec![p];
    req
}

#[tokio::test(start_paused = true)]
async fn join_sync_heartbeat_leave_every_version() {
    let c = coordinator();
    for v in join_group::JoinGroup::VERSIONS.0..=join_group::JoinGroup::VERSIONS.1 {
        let group = format!("g{v}");
        let mut resp =
            join_group::handle(&c, &node(), &client(), v, join_request(&group, "")).await;
        encodes(&resp, v);
        if v >= 4 {
            assert_eq!(resp.error_code, ResponseError::MemberIdRequired.code());
            assert!(resp.member_id.starts_with("rdkafka-"));
            let id = resp.member_id.to_string();
            resp = join_group::handle(&c, &node(), &client(), v, join_request(&group, &id)).await;
            encodes(&resp, v);
        }
        assert_eq!(resp.error_code, 0, "v{v}");
        assert_eq!(resp.generation_id, 1);
        assert_eq!(resp.leader, resp.member_id);
        assert_eq!(resp.members.len(), 1);
        assert_eq!(resp.protocol_name.as_deref(), Some("range"));
        if v >= 7 {
            assert_eq!(resp.protocol_type.as_deref(), Some("consumer"));
        }
        let member_id = resp.member_id.clone();

        let sv = v.min(sync_group::SyncGroup::VERSIONS.1);
        let mut a = SyncGroupRequestAssignment::default();
        a.member_id = member_id.clone();
        a.assignment = bytes::Bytes::from_static(b"assignment");
        let mut sync = SyncGroupRequest::default();
        sync.group_id = GroupId(s(&group));
        sync.generation_id = 1;
        sync.member_id = member_id.clone();
        sync.assignments = vec![a];
        if sv >= 5 {
            sync.protocol_type = Some(s("consumer"));
            sync.protocol_name = Some(s("range"));
        }
        let sresp = sync_group::handle(&c, &node(), sv, sync).await;
        encodes(&sresp, sv);
        assert_eq!(sresp.error_code, 0);
        assert_eq!(&sresp.assignment[..], b"assignment");
        if sv >= 5 {
            assert_eq!(sresp.protocol_name.as_deref(), Some("range"));
        }

        let hv = v.min(heartbeat::Heartbeat::VERSIONS.1);
        let mut hb = HeartbeatRequest::default();
        hb.group_id = GroupId(s(&group));
        hb.generation_id = 1;
        hb.member_id = member_id.clone();
        let hresp = heartbeat::handle(&c, &node(), hv, hb.clone()).await;
        encodes(&hresp, hv);
        assert_eq!(hresp.error_code, 0);
        hb.generation_id = 5;
        let hresp = heartbeat::handle(&c, &node(), hv, hb).await;
        assert_eq!(hresp.error_code, ResponseError::IllegalGeneration.code());

        let lv = v.min(leave_group::LeaveGroup::VERSIONS.1);
        let mut leave = LeaveGroupRequest::default();
        leave.group_id = GroupId(s(&group));
        if lv >= 3 {
            let mut m = MemberIdentity::default();
            m.member_id = member_id.clone();
            let mut ghost = MemberIdentity::default();
            ghost.member_id = s("ghost");
            leave.members = vec![m, ghost];
        } else {
            leave.member_id = member_id.clone();
        }
        let lresp = leave_group::handle(&c, &node(), lv, leave).await;
        encodes(&lresp, lv);
        if lv >= 3 {
            assert_eq!(lresp.error_code, 0);
            let codes: Vec<i16> = lresp.members.iter().map(|m| m.error_code).collect();
            assert_eq!(codes, vec![0, ResponseError::UnknownMemberId.code()]);
        } else {
            assert_eq!(lresp.error_code, 0);
            // v0–2: a per-member error becomes the top-level error.
            let mut again = LeaveGroupRequest::default();
            again.group_id = GroupId(s(&group));
            again.member_id = member_id.clone();
            let lresp = leave_group::handle(&c, &node(), lv, again).await;
            assert_eq!(lresp.error_code, ResponseError::UnknownMemberId.code());
        }
    }
}

fn commit_request(group: &str, topics: &[(&str, i32, i64, &str)]) -> OffsetCommitRequest {
    let mut req = OffsetCommitRequest::default();
    req.group_id = GroupId(s(group));
    req.generation_id_or_member_epoch = -1;
    for &(t, p, o, m) in topics {
        let mut part = OffsetCommitRequestPartition::default();
        part.partition_index = p;
        part.committed_offset = o;
        part.committed_leader_epoch = 3;
        part.committed_metadata = Some(s(m));
        match req.topics.iter_mut().find(|x| x.name.0.as_str() == t) {
            Some(topic) => topic.partitions.push(part),
            None => {
                let mut topic = OffsetCommitRequestTopic::default();
                topic.name = TopicName(s(t));
                topic.topic_id = Ids.id_of(t).unwrap_or(MISSING_ID);
                topic.partitions.push(part);
                req.topics.push(topic);
            }
        }
    }
    req
}

#[tokio::test(start_paused = true)]
async fn offset_commit_fetch_every_version() {
    let c = coordinator();
    for v in offset_commit::OffsetCommit::VERSIONS.0..=offset_commit::OffsetCommit::VERSIONS.1 {
        let group = format!("o{v}");
        let req = commit_request(
            &group,
            &[
                ("t", 0, 10 + i64::from(v), "meta"),
                ("t", 1, 5, ""),
                ("missing", 0, 1, ""),
            ],
        );
        let resp = offset_commit::handle(&c, &Ids, v, req).await;
        encodes(&resp, v);
        let codes: Vec<Vec<i16>> = resp
            .topics
            .iter()
            .map(|t| t.partitions.iter().map(|p| p.error_code).collect())
            .collect();
        // v10 names topics by id: an id no topic has is UNKNOWN_TOPIC_ID (Kafka's KafkaApis).
        let missing = if v >= 10 {
            ResponseError::UnknownTopicId
        } else {
            ResponseError::UnknownTopicOrPartition
        };
        assert_eq!(codes, vec![vec![0, 0], vec![missing.code()]], "v{v}");
        if v >= 10 {
            let ids: Vec<uuid::Uuid> = resp.topics.iter().map(|t| t.topic_id).collect();
            assert_eq!(ids, vec![T_ID, MISSING_ID], "v{v} answers by id");
        }
    }
    for v in offset_fetch::OffsetFetch::VERSIONS.0..=offset_fetch::OffsetFetch::VERSIONS.1 {
        let mut req = OffsetFetchRequest::default();
        let wanted = [0, 1, 2];
        if v >= 8 {
            let mut g = OffsetFetchRequestGroup::default();
            g.group_id = GroupId(s("o6"));
            let mut t = OffsetFetchRequestTopics::default();
            t.name = TopicName(s("t"));
            t.topic_id = T_ID;
            t.partition_indexes = wanted.to_vec();
            g.topics = Some(vec![t]);
            let mut all = OffsetFetchRequestGroup::default();
            all.group_id = GroupId(s("o2"));
            all.topics = None;
            req.groups = vec![g, all];
        } else {
            req.group_id = GroupId(s("o6"));
            let mut t = OffsetFetchRequestTopic::default();
            t.name = TopicName(s("t"));
            t.partition_indexes = wanted.to_vec();
            req.topics = Some(vec![t]);
        }
        let resp = offset_fetch::handle(&c, &Ids, v, req).await;
        encodes(&resp, v);
        let parts: Vec<(i32, i64, i32, String)> = if v >= 8 {
            assert_eq!(resp.groups.len(), 2);
            if v >= 10 {
                assert_eq!(resp.groups[0].topics[0].topic_id, T_ID, "v{v} by id");
                assert_eq!(resp.groups[1].topics[0].topic_id, T_ID, "v{v} all, by id");
            }
            let all: Vec<i64> = resp.groups[1].topics[0]
                .partitions
                .iter()
                .map(|p| p.committed_offset)
                .collect();
            assert_eq!(
                all,
                vec![12, 5],
                "topics: null returns all committed partitions"
            );
            resp.groups[0].topics[0]
                .partitions
                .iter()
                .map(|p| {
                    (
                        p.partition_index,
                        p.committed_offset,
                        p.committed_leader_epoch,
                        p.metadata.as_deref().unwrap_or("?").to_string(),
                    )
                })
                .collect()
        } else {
            resp.topics[0]
                .partitions
                .iter()
                .map(|p| {
                    (
                        p.partition_index,
                        p.committed_offset,
                        p.committed_leader_epoch,
                        p.metadata.as_deref().unwrap_or("?").to_string(),
                    )
                })
                .collect()
        };
        let epoch = if v >= 5 { 3 } else { -1 };
        assert_eq!(
            parts,
            vec![
                (0, 16, epoch, "meta".to_string()),
                (1, 5, epoch, String::new()),
                (2, -1, -1, String::new())
            ],
            "v{v}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn admin_apis_every_version() {
    let c = coordinator();
    let resp = join_group::handle(&c, &node(), &client(), 3, join_request("busy", "")).await;
    assert_eq!(resp.error_code, 0);
    offset_commit::handle(
        &c,
        &Ids,
        8,
        commit_request("idle", &[("t", 0, 1, ""), ("u", 0, 1, "")]),
    )
    .await;

    for v in
        describe_groups::DescribeGroups::VERSIONS.0..=describe_groups::DescribeGroups::VERSIONS.1
    {
        let mut req = DescribeGroupsRequest::default();
        req.groups = vec![GroupId(s("busy")), GroupId(s("nope"))];
        req.include_authorized_operations = v >= 3;
        let resp = describe_groups::handle(&c, &node(), v, req).await;
        encodes(&resp, v);
        assert_eq!(resp.groups[0].group_state.as_str(), "CompletingRebalance");
        assert_eq!(resp.groups[0].members.len(), 1);
        assert_eq!(resp.groups[0].members[0].client_id.as_str(), "rdkafka");
        assert_eq!(resp.groups[1].group_state.as_str(), "Dead");
        if v >= 3 {
            assert_eq!(resp.groups[0].authorized_operations, 328);
        }
    }
    for v in list_groups::ListGroups::VERSIONS.0..=list_groups::ListGroups::VERSIONS.1 {
        let mut req = ListGroupsRequest::default();
        if v >= 4 {
            req.states_filter = vec![s("empty")];
        }
        let resp = list_groups::handle(&c, &node(), v, req).await;
        encodes(&resp, v);
        let ids: Vec<&str> = resp.groups.iter().map(|g| g.group_id.0.as_str()).collect();
        if v >= 4 {
            assert_eq!(ids, vec!["idle"]);
            assert_eq!(resp.groups[0].group_state.as_str(), "Empty");
        } else {
            assert_eq!(ids, vec!["busy", "idle"]);
        }
        if v >= 5 {
            assert_eq!(resp.groups[0].group_type.as_str(), "classic");
            let mut req = ListGroupsRequest::default();
            req.types_filter = vec![s("consumer")];
            let resp = list_groups::handle(&c, &node(), v, req).await;
            assert!(resp.groups.is_empty());
        }
    }
    let mut req = OffsetDeleteRequest::default();
    req.group_id = GroupId(s("idle"));
    let mut t = OffsetDeleteRequestTopic::default();
    t.name = TopicName(s("t"));
    let mut p = OffsetDeleteRequestPartition::default();
    p.partition_index = 0;
    t.partitions = vec![p];
    req.topics = vec![t];
    let resp = offset_delete::handle(&c, &node(), 0, req.clone()).await;
    encodes(&resp, 0);
    assert_eq!(
        (resp.error_code, resp.topics[0].partitions[0].error_code),
        (0, 0)
    );
    req.group_id = GroupId(s("ghost"));
    let resp = offset_delete::handle(&c, &node(), 0, req).await;
    assert_eq!(resp.error_code, ResponseError::GroupIdNotFound.code());
    assert!(resp.topics.is_empty());

    for v in delete_groups::DeleteGroups::VERSIONS.0..=delete_groups::DeleteGroups::VERSIONS.1 {
        let mut req = DeleteGroupsRequest::default();
        req.groups_names = vec![GroupId(s("busy")), GroupId(s("idle")), GroupId(s("ghost"))];
        let resp = delete_groups::handle(&c, &node(), v, req).await;
        encodes(&resp, v);
        let codes: Vec<i16> = resp.results.iter().map(|r| r.error_code).collect();
        let idle = if v == 0 {
            0
        } else {
            ResponseError::GroupIdNotFound.code()
        };
        assert_eq!(
            codes,
            vec![
                ResponseError::NonEmptyGroup.code(),
                idle,
                ResponseError::GroupIdNotFound.code()
            ]
        );
    }
}
