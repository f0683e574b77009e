//! OffsetCommit v10 and OffsetFetch v10 (KIP-848: topics named by id only). kafka-protocol 0.18 cannot
//! encode these requests, so each is built byte by byte here from Kafka's `OffsetCommitRequest.json` /
//! `OffsetFetchRequest.json` (v10: v9's layout with the topic entry's `Name` replaced by a 16-byte
//! `TopicId`); the responses are decoded with the crate at v10. Expected values are Kafka's
//! (`KafkaApis.handleOffsetCommitRequest` / `fetchOffsetsForGroup`, `ConsumerGroup.validateOffsetCommit`
//! and `validateOffsetFetch`).

use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::{ConsumerGroupHeartbeatRequest, DescribeGroupsRequest, GroupId};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest};

use super::*;

const V10: i16 = 10;

fn compact_str(b: &mut BytesMut, s: Option<&str>) {
    match s {
        None => b.put_u8(0),
        Some(s) => {
            assert!(s.len() < 127, "one-byte varint lengths only");
            b.put_u8(s.len() as u8 + 1);
            b.put_slice(s.as_bytes());
        }
    }
}

/// A whole request frame: length, request header v2 (key, version, correlation id, int16-length client
/// id, no tags), then `body`.
fn frame(api_key: ApiKey, correlation_id: i32, body: &[u8]) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i32(0);
    b.put_i16(api_key as i16);
    b.put_i16(V10);
    b.put_i32(correlation_id);
    b.put_i16(CLIENT_ID.len() as i16);
    b.put_slice(CLIENT_ID.as_bytes());
    b.put_u8(0);
    b.put_slice(body);
    let len = (b.len() - 4) as i32;
    b[0..4].copy_from_slice(&len.to_be_bytes());
    b.freeze()
}

/// One committed partition: (partition, offset, metadata).
type CommitPart<'a> = (i32, i64, Option<&'a str>);

/// OffsetCommit v10: group, member epoch, member id, null instance id, then topics by id, each with
/// (partition, offset, leader epoch, metadata).
fn commit_body(group: &str, epoch: i32, member: &str, topics: &[(Uuid, &[CommitPart])]) -> Bytes {
    let mut b = BytesMut::new();
    compact_str(&mut b, Some(group));
    b.put_i32(epoch);
    compact_str(&mut b, Some(member));
    compact_str(&mut b, None);
    b.put_u8(topics.len() as u8 + 1);
    for (id, parts) in topics {
        b.put_slice(id.as_bytes());
        b.put_u8(parts.len() as u8 + 1);
        for (p, o, meta) in *parts {
            b.put_i32(*p);
            b.put_i64(*o);
            b.put_i32(0);
            compact_str(&mut b, *meta);
            b.put_u8(0);
        }
        b.put_u8(0);
    }
    b.put_u8(0);
    b.freeze()
}

/// OffsetFetch v10 for one group: member id and epoch, then topics by id (`None`: every committed one).
fn fetch_body(
    group: &str,
    member: Option<&str>,
    epoch: i32,
    topics: Option<&[(Uuid, &[i32])]>,
) -> Bytes {
    let mut b = BytesMut::new();
    b.put_u8(2);
    compact_str(&mut b, Some(group));
    compact_str(&mut b, member);
    b.put_i32(epoch);
    match topics {
        None => b.put_u8(0),
        Some(topics) => {
            b.put_u8(topics.len() as u8 + 1);
            for (id, parts) in topics {
                b.put_slice(id.as_bytes());
                b.put_u8(parts.len() as u8 + 1);
                for p in *parts {
                    b.put_i32(*p);
                }
                b.put_u8(0);
            }
        }
    }
    b.put_u8(0);
    b.put_u8(0); // require_stable false
    b.put_u8(0);
    b.freeze()
}

/// Per topic id: its partitions' (index, error code).
async fn commit(c: &mut Client, body: Bytes) -> Vec<(Uuid, Vec<(i32, i16)>)> {
    let correlation_id = c.next_correlation_id();
    c.send_raw(&frame(ApiKey::OffsetCommit, correlation_id, &body))
        .await;
    let resp: OffsetCommitResponse = c.recv::<OffsetCommitRequest>(V10, correlation_id).await;
    assert_eq!(resp.throttle_time_ms, 0);
    resp.topics
        .iter()
        .map(|t| {
            assert!(t.name.is_empty(), "v10 answers by id only");
            let parts = t
                .partitions
                .iter()
                .map(|p| (p.partition_index, p.error_code))
                .collect();
            (t.topic_id, parts)
        })
        .collect()
}

/// The group's error and, per topic id, its partitions' (index, offset, metadata, error code).
type Fetched = (i16, Vec<(Uuid, Vec<(i32, i64, String, i16)>)>);

async fn fetch(c: &mut Client, body: Bytes) -> Fetched {
    let correlation_id = c.next_correlation_id();
    c.send_raw(&frame(ApiKey::OffsetFetch, correlation_id, &body))
        .await;
    let resp = c.recv::<OffsetFetchRequest>(V10, correlation_id).await;
    assert_eq!(resp.groups.len(), 1);
    let g = &resp.groups[0];
    let topics = g
        .topics
        .iter()
        .map(|t| {
            let parts = t
                .partitions
                .iter()
                .map(|p| {
                    let meta = p.metadata.as_deref().unwrap_or("?").to_string();
                    (p.partition_index, p.committed_offset, meta, p.error_code)
                })
                .collect();
            (t.topic_id, parts)
        })
        .collect();
    (g.error_code, topics)
}

#[tokio::test]
async fn offset_commit_and_fetch_v10_by_topic_id() {
    bounded(Duration::from_secs(30), async {
        let broker = groups::group_broker().await;
        let mut c = broker.client().await;
        let topic = c.create_topic("v10-t", 2).await;
        let unknown = Uuid::from_u128(0xdead_beef);
        let unknown_id = code(ResponseError::UnknownTopicId);

        // A standalone commit by id; the unknown id fails alone, before the coordinator.
        let got = commit(
            &mut c,
            commit_body(
                "v10-g",
                -1,
                "",
                &[
                    (topic, &[(0, 42, Some("m")), (1, 7, None)]),
                    (unknown, &[(3, 1, None)]),
                ],
            ),
        )
        .await;
        assert_eq!(
            got,
            vec![
                (topic, vec![(0, 0), (1, 0)]),
                (unknown, vec![(3, unknown_id)])
            ]
        );
        // Only unknown ids: nothing reaches the coordinator (no group is made).
        let got = commit(
            &mut c,
            commit_body("v10-none", -1, "", &[(unknown, &[(0, 1, None)])]),
        )
        .await;
        assert_eq!(got, vec![(unknown, vec![(0, unknown_id)])]);
        let described = c
            .call(
                5,
                &DescribeGroupsRequest::default().with_groups(vec![GroupId(str_bytes("v10-none"))]),
            )
            .await;
        assert_eq!(
            described.groups[0].group_state.as_str(),
            "Dead",
            "no group was made for a commit of unknown ids only"
        );

        // Fetch by id: the committed offsets, then the unknown id's partitions after the known topics.
        let (err, topics) = fetch(
            &mut c,
            fetch_body(
                "v10-g",
                None,
                -1,
                Some(&[(unknown, &[0]), (topic, &[0, 1])]),
            ),
        )
        .await;
        assert_eq!(err, 0);
        assert_eq!(
            topics,
            vec![
                (
                    topic,
                    vec![(0, 42, "m".into(), 0), (1, 7, String::new(), 0)]
                ),
                (unknown, vec![(0, -1, String::new(), unknown_id)]),
            ]
        );
        // Every committed partition, named by id.
        let (err, topics) = fetch(&mut c, fetch_body("v10-g", None, -1, None)).await;
        assert_eq!(err, 0);
        assert_eq!(topics.len(), 1);
        assert_eq!(topics[0].0, topic);
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn offset_commit_and_fetch_v10_check_member_epochs() {
    bounded(Duration::from_secs(30), async {
        let broker = groups::group_broker().await;
        let mut c = broker.client().await;
        let topic = c.create_topic("v10-cg", 1).await;
        let member = Uuid::new_v4().to_string();
        let join = ConsumerGroupHeartbeatRequest::default()
            .with_group_id(GroupId(str_bytes("v10-cg")))
            .with_member_id(str_bytes(&member))
            .with_member_epoch(0)
            .with_rebalance_timeout_ms(30_000)
            .with_subscribed_topic_names(Some(vec![topic_name("v10-cg")]))
            .with_topic_partitions(Some(Vec::new()));
        let resp = c.call(1, &join).await;
        assert_eq!(resp.error_code, 0, "{:?}", resp.error_message);
        let epoch = resp.member_epoch;
        assert!(epoch > 0);

        let parts: &[(i32, i64, Option<&str>)] = &[(0, 5, None)];
        let commit_at =
            |epoch: i32, member: &str| commit_body("v10-cg", epoch, member, &[(topic, parts)]);
        let ok = commit(&mut c, commit_at(epoch, &member)).await;
        assert_eq!(ok, vec![(topic, vec![(0, 0)])], "current epoch");
        let stale = commit(&mut c, commit_at(epoch + 1, &member)).await;
        assert_eq!(
            stale,
            vec![(topic, vec![(0, code(ResponseError::StaleMemberEpoch))])],
            "another epoch is stale (Kafka 4.1's validateOffsetCommit)"
        );
        let unknown = commit(&mut c, commit_at(epoch, "nobody")).await;
        assert_eq!(
            unknown,
            vec![(topic, vec![(0, code(ResponseError::UnknownMemberId))])]
        );

        let wanted: &[(Uuid, &[i32])] = &[(topic, &[0])];
        let (err, topics) = fetch(
            &mut c,
            fetch_body("v10-cg", Some(&member), epoch, Some(wanted)),
        )
        .await;
        assert_eq!(err, 0);
        assert_eq!(topics, vec![(topic, vec![(0, 5, String::new(), 0)])]);
        let (err, topics) = fetch(
            &mut c,
            fetch_body("v10-cg", Some(&member), epoch + 1, Some(wanted)),
        )
        .await;
        assert_eq!(err, code(ResponseError::StaleMemberEpoch));
        assert!(topics.is_empty(), "a group error carries no topics");
        let (err, _) = fetch(
            &mut c,
            fetch_body("v10-cg", Some("nobody"), epoch, Some(wanted)),
        )
        .await;
        assert_eq!(err, code(ResponseError::UnknownMemberId));
        broker.shutdown().await;
    })
    .await;
}

/// A v10 body announcing more topics than bytes remain closes the connection (Kafka's readers refuse
/// the size before allocating; nothing is committed).
#[tokio::test]
async fn offset_commit_v10_oversized_count_closes_the_connection() {
    bounded(Duration::from_secs(30), async {
        let broker = groups::group_broker().await;
        let mut c = broker.client().await;
        let mut b = BytesMut::new();
        compact_str(&mut b, Some("v10-bad"));
        b.put_i32(-1);
        compact_str(&mut b, Some(""));
        compact_str(&mut b, None);
        b.put_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        let correlation_id = c.next_correlation_id();
        c.send_raw(&frame(ApiKey::OffsetCommit, correlation_id, &b))
            .await;
        c.expect_closed().await;
        broker.shutdown().await;
    })
    .await;
}
