//! The KIP-848 consumer-group APIs, every advertised version, against Kafka's group coordinator
//! (`GroupMetadataManager.consumerGroupHeartbeat` / `consumerGroupDescribe`).

use super::*;
use kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions as OwnedPartitions;
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse,
    GroupId,
};

/// `group.consumer.heartbeat.interval.ms` default.
const HEARTBEAT_INTERVAL_MS: i32 = 5_000;

fn join_request(group: &str, member_id: &str, topics: &[&str]) -> ConsumerGroupHeartbeatRequest {
    ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(str_bytes(group)))
        .with_member_id(str_bytes(member_id))
        .with_member_epoch(0)
        .with_rebalance_timeout_ms(30_000)
        .with_subscribed_topic_names(Some(topics.iter().map(|t| topic_name(t)).collect()))
        .with_topic_partitions(Some(Vec::new()))
}

fn heartbeat(group: &str, member_id: &str, epoch: i32) -> ConsumerGroupHeartbeatRequest {
    ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(str_bytes(group)))
        .with_member_id(str_bytes(member_id))
        .with_member_epoch(epoch)
        .with_rebalance_timeout_ms(-1)
}

fn assigned(resp: &ConsumerGroupHeartbeatResponse) -> Option<Vec<(uuid::Uuid, Vec<i32>)>> {
    resp.assignment.as_ref().map(|a| {
        a.topic_partitions
            .iter()
            .map(|t| (t.topic_id, t.partitions.clone()))
            .collect()
    })
}

/// Joins a new group with one member (client-generated id at v1, coordinator-generated at v0).
async fn join_alone(
    c: &mut Client,
    v: i16,
    group: &str,
    topic: &str,
) -> ConsumerGroupHeartbeatResponse {
    let id = if v >= 1 {
        uuid::Uuid::new_v4().to_string()
    } else {
        String::new()
    };
    let resp = c.call(v, &join_request(group, &id, &[topic])).await;
    assert_eq!(resp.error_code, 0, "v{v} join: {:?}", resp.error_message);
    if v >= 1 {
        assert_eq!(
            resp.member_id.as_deref(),
            Some(id.as_str()),
            "v{v} keeps the client's id"
        );
    }
    resp
}

#[tokio::test]
async fn matrix_consumer_group_heartbeat() {
    bounded(Duration::from_secs(30), async {
        let broker = groups::group_broker().await;
        let mut c = broker.client().await;
        let topic = c.create_topic("matrix-cgh", 6).await;
        for v in advertised(ApiKey::ConsumerGroupHeartbeat) {
            eprintln!("case ConsumerGroupHeartbeat v{v}");
            let group = format!("matrix-cgh-{v}");
            let resp = join_alone(&mut c, v, &group, "matrix-cgh").await;
            assert_eq!(resp.throttle_time_ms, 0, "v{v} throttle");
            assert_eq!(resp.error_message, None, "v{v} error message");
            let member = resp.member_id.clone().expect("member id").to_string();
            assert!(!member.is_empty(), "v{v} member id");
            assert_eq!(resp.member_epoch, 1, "v{v} first epoch");
            assert_eq!(
                resp.heartbeat_interval_ms, HEARTBEAT_INTERVAL_MS,
                "v{v} interval"
            );
            assert_eq!(
                assigned(&resp),
                Some(vec![(topic, (0..6).collect())]),
                "v{v} assignment"
            );

            // An unchanged heartbeat carries no assignment.
            let owned = OwnedPartitions::default()
                .with_topic_id(topic)
                .with_partitions((0..6).collect());
            let resp = c
                .call(
                    v,
                    &heartbeat(&group, &member, 1).with_topic_partitions(Some(vec![owned])),
                )
                .await;
            assert_eq!(
                (resp.error_code, resp.member_epoch),
                (0, 1),
                "v{v} heartbeat"
            );
            assert_eq!(assigned(&resp), None, "v{v} no assignment when unchanged");

            let resp = c.call(v, &heartbeat(&group, &member, 7)).await;
            assert_eq!(
                resp.error_code,
                code(ResponseError::FencedMemberEpoch),
                "v{v} epoch ahead"
            );
            let resp = c.call(v, &heartbeat(&group, "stranger", 1)).await;
            assert_eq!(
                resp.error_code,
                code(ResponseError::UnknownMemberId),
                "v{v} unknown member"
            );
            let resp = c
                .call(
                    v,
                    &join_request(&group, "", &[]).with_rebalance_timeout_ms(-1),
                )
                .await;
            assert_eq!(
                resp.error_code,
                code(ResponseError::InvalidRequest),
                "v{v} join without timeout"
            );
            assert!(resp.error_message.is_some(), "v{v} says why");
            let resp = c
                .call(
                    v,
                    &join_request(&group, "", &["matrix-cgh"])
                        .with_server_assignor(Some(str_bytes("sticky"))),
                )
                .await;
            assert_eq!(
                resp.error_code,
                code(ResponseError::UnsupportedAssignor),
                "v{v} assignor"
            );
            let resp = c
                .call(v, &heartbeat(&format!("{group}-missing"), &member, 1))
                .await;
            assert_eq!(
                resp.error_code,
                code(ResponseError::GroupIdNotFound),
                "v{v} unknown group"
            );

            let resp = c.call(v, &heartbeat(&group, &member, -1)).await;
            assert_eq!((resp.error_code, resp.member_epoch), (0, -1), "v{v} leave");
        }
        // v1: regex subscriptions (whole-name match, as Java's Pattern.matches).
        let regex_req = join_request("matrix-cgh-regex", "regex-member", &[])
            .with_subscribed_topic_names(None)
            .with_subscribed_topic_regex(Some(str_bytes("matrix-cg.")));
        let resp = c.call(1, &regex_req).await;
        assert_eq!(resp.error_code, 0);
        assert_eq!(
            assigned(&resp),
            Some(vec![(topic, (0..6).collect())]),
            "v1 regex matches matrix-cgh"
        );
        let bad = join_request("matrix-cgh-regex", "bad-regex", &[])
            .with_subscribed_topic_names(None)
            .with_subscribed_topic_regex(Some(str_bytes("(")));
        let resp = c.call(1, &bad).await;
        assert_eq!(
            resp.error_code,
            code(ResponseError::InvalidRegularExpression),
            "v1 invalid regex"
        );
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn matrix_consumer_group_describe() {
    bounded(Duration::from_secs(30), async {
        let broker = groups::group_broker().await;
        let mut c = broker.client().await;
        let topic = c.create_topic("matrix-cgd", 3).await;
        let resp = join_alone(&mut c, 1, "matrix-cgd", "matrix-cgd").await;
        let member = resp.member_id.clone().expect("member id").to_string();
        for v in advertised(ApiKey::ConsumerGroupDescribe) {
            eprintln!("case ConsumerGroupDescribe v{v}");
            let req = ConsumerGroupDescribeRequest::default().with_group_ids(vec![
                GroupId(str_bytes("matrix-cgd")),
                GroupId(str_bytes("matrix-cgd-missing")),
            ]);
            let resp = c.call(v, &req).await;
            assert_eq!(resp.throttle_time_ms, 0, "v{v} throttle");
            assert_eq!(resp.groups.len(), 2, "v{v} groups");
            let g = &resp.groups[0];
            assert_eq!(
                (g.error_code, g.error_message.as_deref()),
                (0, None),
                "v{v} error"
            );
            assert_eq!(g.group_id.as_str(), "matrix-cgd");
            assert_eq!(g.group_state.as_str(), "Stable", "v{v} state");
            assert_eq!((g.group_epoch, g.assignment_epoch), (1, 1), "v{v} epochs");
            assert_eq!(g.assignor_name.as_str(), "uniform", "v{v} assignor");
            assert_eq!(g.authorized_operations, OPS_NOT_REQUESTED, "v{v} ops");
            assert_eq!(g.members.len(), 1, "v{v} members");
            let m = &g.members[0];
            assert_eq!(m.member_id.as_str(), member, "v{v} member id");
            assert_eq!(m.member_epoch, 1, "v{v} member epoch");
            assert_eq!(m.client_id.as_str(), CLIENT_ID, "v{v} client id");
            assert_eq!(
                m.subscribed_topic_names
                    .iter()
                    .map(|t| t.as_str())
                    .collect::<Vec<_>>(),
                vec!["matrix-cgd"],
                "v{v} subscription"
            );
            for a in [&m.assignment, &m.target_assignment] {
                assert_eq!(a.topic_partitions.len(), 1, "v{v} assignment topics");
                let tp = &a.topic_partitions[0];
                assert_eq!(
                    (tp.topic_id, tp.topic_name.as_str()),
                    (topic, "matrix-cgd"),
                    "v{v} topic"
                );
                assert_eq!(tp.partitions, vec![0, 1, 2], "v{v} partitions");
            }
            let want_type = if v >= 1 { 1 } else { -1 };
            assert_eq!(m.member_type, want_type, "v{v} member type (consumer)");
            let u = &resp.groups[1];
            assert_eq!(
                u.error_code,
                code(ResponseError::GroupIdNotFound),
                "v{v} unknown group"
            );
            assert!(u.members.is_empty(), "v{v} unknown group members");
        }
        broker.shutdown().await;
    })
    .await;
}
