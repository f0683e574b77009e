//! Admin-side behaviour against Kafka's: Metadata (auto-creation, names, ids, authorized operations),
//! CreateTopics / DeleteTopics / CreatePartitions error cases, DescribeCluster, DescribeTopicPartitions paging.

use std::time::Duration;

use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::describe_topic_partitions_request::{Cursor, TopicRequest};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreateTopicsRequest, DescribeClusterRequest,
    DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse, MetadataRequest,
};
use kafka_protocol::ResponseError;
use weir_protocol_tests::*;

const LIMIT: Duration = Duration::from_secs(20);
/// Kafka's TOPIC operations with no authorizer (see api_matrix.rs).
const KAFKA_TOPIC_OPERATIONS: i32 = 3576;
/// Kafka's CLUSTER operations with no authorizer (`AclEntry.supportedOperations(CLUSTER)`): CREATE(5) ALTER(7)
/// DESCRIBE(8) CLUSTER_ACTION(9) DESCRIBE_CONFIGS(10) ALTER_CONFIGS(11) IDEMPOTENT_WRITE(12). CREATE_TOKENS(13)
/// and DESCRIBE_TOKENS(14) belong to the USER resource type, not CLUSTER.
const KAFKA_CLUSTER_OPERATIONS: i32 = 8096;

fn metadata_req(names: &[&str], allow_auto: bool) -> MetadataRequest {
    MetadataRequest::default()
        .with_topics(Some(
            names
                .iter()
                .map(|n| MetadataRequestTopic::default().with_name(Some(topic_name(n))))
                .collect(),
        ))
        .with_allow_auto_topic_creation(allow_auto)
}

#[tokio::test]
async fn metadata_all_topics_and_stable_topic_ids() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        let a = c.create_topic("ids-a", 1).await;
        let b = c.create_topic("ids-b", 3).await;
        for v in [1i16, 9, 12] {
            // v1+: null topics = all topics; v0 uses an empty list (see below).
            let resp = c
                .call(v, &MetadataRequest::default().with_topics(None))
                .await;
            let mut got: Vec<(String, usize)> = resp
                .topics
                .iter()
                .map(|t| (opt_name(&t.name).unwrap().to_string(), t.partitions.len()))
                .collect();
            got.sort();
            assert_eq!(got, vec![("ids-a".into(), 1), ("ids-b".into(), 3)], "v{v}");
        }
        let resp = c
            .call(0, &MetadataRequest::default().with_topics(Some(vec![])))
            .await;
        assert_eq!(resp.topics.len(), 2, "v0 empty list means all topics");
        for _ in 0..2 {
            let md = c.metadata(&["ids-a", "ids-b"]).await;
            assert_eq!(md.topics[0].topic_id, a);
            assert_eq!(md.topics[1].topic_id, b);
        }
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn metadata_auto_creates_only_when_allowed() {
    bounded(LIMIT, async {
        let broker = TestBroker::start_with(|c| c.num_partitions = 2).await;
        let mut c = broker.client().await;
        // v4+: the request flag decides.
        let resp = c.call(12, &metadata_req(&["auto-no"], false)).await;
        assert_eq!(
            resp.topics[0].error_code,
            ResponseError::UnknownTopicOrPartition.code()
        );
        assert!(resp.topics[0].partitions.is_empty());
        let resp = c.call(12, &metadata_req(&["auto-no"], false)).await;
        assert_eq!(
            resp.topics[0].error_code,
            ResponseError::UnknownTopicOrPartition.code(),
            "not created by the first request"
        );
        for (v, name) in [(12i16, "auto-v12"), (4, "auto-v4")] {
            let resp = c.call(v, &metadata_req(&[name], true)).await;
            // Kafka (KRaft) answers LEADER_NOT_AVAILABLE while the controller creates the topic; answering with
            // the created topic right away is equally valid for clients.
            let e = resp.topics[0].error_code;
            assert!(
                e == 0 || e == ResponseError::LeaderNotAvailable.code(),
                "v{v} auto-create: error {e}"
            );
            let md = c.metadata(&[name]).await;
            assert_eq!(md.topics[0].error_code, 0, "v{v}: {name} exists");
            assert_eq!(
                md.topics[0].partitions.len(),
                2,
                "v{v}: num.partitions partitions"
            );
        }
        // v0-3 have no flag: brokers auto-create when configured to.
        let req = MetadataRequest::default().with_topics(Some(vec![
            MetadataRequestTopic::default().with_name(Some(topic_name("auto-v1"))),
        ]));
        c.call(1, &req).await;
        assert_eq!(c.metadata(&["auto-v1"]).await.topics[0].error_code, 0);
        broker.shutdown().await;

        // auto.create.topics.enable=false wins over the request flag.
        let broker = TestBroker::start_with(|c| c.auto_create_topics = false).await;
        let mut c = broker.client().await;
        let resp = c.call(12, &metadata_req(&["auto-off"], true)).await;
        assert_eq!(
            resp.topics[0].error_code,
            ResponseError::UnknownTopicOrPartition.code()
        );
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn metadata_invalid_topic_names() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        let long = "x".repeat(250);
        for allow in [true, false] {
            for name in ["bad name!", ".", "..", long.as_str()] {
                let resp = c.call(12, &metadata_req(&[name], allow)).await;
                assert_eq!(
                    resp.topics[0].error_code,
                    ResponseError::InvalidTopicException.code(),
                    "{name:?} allow_auto={allow}"
                );
            }
        }
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn metadata_cluster_authorized_operations_match_kafka() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        for v in 8i16..=10 {
            let req = MetadataRequest::default()
                .with_topics(Some(vec![]))
                .with_include_cluster_authorized_operations(true);
            let resp = c.call(v, &req).await;
            assert_eq!(
                resp.cluster_authorized_operations, KAFKA_CLUSTER_OPERATIONS,
                "v{v}: CLUSTER operations without an authorizer"
            );
        }
        broker.shutdown().await;
    })
    .await;
}

async fn create_one(
    c: &mut Client,
    v: i16,
    name: &str,
    partitions: i32,
    rf: i16,
    configs: &[(&str, &str)],
    validate_only: bool,
) -> kafka_protocol::messages::create_topics_response::CreatableTopicResult {
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(30_000)
        .with_validate_only(validate_only)
        .with_topics(vec![creatable_topic(name, partitions, rf, configs)]);
    let mut resp = c.call(v, &req).await;
    assert_eq!(resp.topics.len(), 1);
    resp.topics.remove(0)
}

#[tokio::test]
async fn create_topics_rejects_like_kafka() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        let invalid = ResponseError::InvalidTopicException.code();
        let too_long = "y".repeat(250);
        let longest = "z".repeat(249);
        for (name, want) in [
            ("has space", invalid),
            ("slash/no", invalid),
            ("ünïcode", invalid),
            (too_long.as_str(), invalid),
            (".", invalid),
            ("..", invalid),
            ("", invalid),
            (longest.as_str(), 0),
            ("ok.name_with-all.chars09", 0),
        ] {
            let r = create_one(&mut c, 7, name, 1, 1, &[], false).await;
            assert_eq!(r.error_code, want, "name {name:?}: {:?}", r.error_message);
        }
        // '.' and '_' collide.
        assert_eq!(
            create_one(&mut c, 7, "dot.under", 1, 1, &[], false)
                .await
                .error_code,
            0
        );
        let r = create_one(&mut c, 7, "dot_under", 1, 1, &[], false).await;
        assert_eq!(r.error_code, invalid, "collision: {:?}", r.error_message);
        // Partitions and replication factor.
        for p in [0, -2] {
            let r = create_one(&mut c, 7, "bad-partitions", p, 1, &[], false).await;
            assert_eq!(
                r.error_code,
                ResponseError::InvalidPartitions.code(),
                "partitions {p}"
            );
        }
        for rf in [0i16, 3] {
            let r = create_one(&mut c, 7, "bad-rf", 1, rf, &[], false).await;
            assert_eq!(
                r.error_code,
                ResponseError::InvalidReplicationFactor.code(),
                "rf {rf}"
            );
        }
        // -1 means the broker defaults.
        let r = create_one(&mut c, 7, "defaults", -1, -1, &[], false).await;
        assert_eq!(
            (r.error_code, r.num_partitions, r.replication_factor),
            (0, 1, 1)
        );
        // Unknown config.
        let r = create_one(
            &mut c,
            7,
            "bad-config",
            1,
            1,
            &[("no.such.config", "1")],
            false,
        )
        .await;
        assert_eq!(r.error_code, ResponseError::InvalidConfig.code());
        let r = create_one(
            &mut c,
            7,
            "bad-value",
            1,
            1,
            &[("retention.ms", "soon")],
            false,
        )
        .await;
        assert_eq!(r.error_code, ResponseError::InvalidConfig.code());
        // Duplicate names in one request.
        let req = CreateTopicsRequest::default().with_topics(vec![
            creatable_topic("dup", 1, 1, &[]),
            creatable_topic("dup", 1, 1, &[]),
        ]);
        let resp = c.call(7, &req).await;
        assert!(resp
            .topics
            .iter()
            .all(|t| t.error_code == ResponseError::InvalidRequest.code()));
        // None of the failed names exist.
        let md = c
            .metadata(&["bad-partitions", "bad-rf", "bad-config", "dup", "dot_under"])
            .await;
        assert!(md
            .topics
            .iter()
            .all(|t| t.error_code == ResponseError::UnknownTopicOrPartition.code()));
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn create_topics_validate_only_creates_nothing() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        for v in [2i16, 5, 7] {
            let name = format!("validate-v{v}");
            let r = create_one(&mut c, v, &name, 4, 1, &[], true).await;
            assert_eq!(r.error_code, 0, "v{v}");
            if v >= 5 {
                assert_eq!((r.num_partitions, r.replication_factor), (4, 1), "v{v}");
            }
            let md = c.metadata(&[&name]).await;
            assert_eq!(
                md.topics[0].error_code,
                ResponseError::UnknownTopicOrPartition.code(),
                "v{v} nothing created"
            );
            // Validation still applies.
            let r = create_one(&mut c, v, "bad name", 1, 1, &[], true).await;
            assert_eq!(r.error_code, ResponseError::InvalidTopicException.code());
        }
        broker.shutdown().await;
    })
    .await;
}

/// Kafka (`ReplicationControlManager.createTopics`) sets only name, error code and message on a failed topic:
/// `topic_config_error_code` stays 0 (it reports a failure to *describe* configs, e.g. not authorized).
#[tokio::test]
async fn create_topics_failure_leaves_topic_config_error_code_zero() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        for v in 5i16..=7 {
            let r = create_one(&mut c, v, "bad name", 1, 1, &[], false).await;
            assert_eq!(r.error_code, ResponseError::InvalidTopicException.code());
            assert_eq!(
                r.topic_config_error_code, 0,
                "v{v}: topic_config_error_code of a failed creation"
            );
        }
        broker.shutdown().await;
    })
    .await;
}

/// Kafka v5+ returns the topic's full effective config (every topic config, sorted by name, with its source),
/// not only the overrides given in the request.
#[tokio::test]
async fn create_topics_v5_describes_effective_configs() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        let r = create_one(
            &mut c,
            7,
            "described",
            1,
            1,
            &[("retention.ms", "1000")],
            false,
        )
        .await;
        assert_eq!(r.error_code, 0);
        let configs = r.configs.expect("configs");
        let names: Vec<&str> = configs.iter().map(|c| c.name.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted, "sorted by name");
        let get = |n: &str| {
            configs
                .iter()
                .find(|c| c.name.as_str() == n)
                .unwrap_or_else(|| panic!("{n} described; got {names:?}"))
        };
        assert_eq!(get("retention.ms").value.as_deref(), Some("1000"));
        assert_eq!(get("retention.ms").config_source, 1, "DYNAMIC_TOPIC_CONFIG");
        assert_eq!(get("cleanup.policy").value.as_deref(), Some("delete"));
        assert_eq!(get("max.message.bytes").value.as_deref(), Some("1048588"));
        assert_ne!(
            get("cleanup.policy").config_source,
            1,
            "a default is not a topic override"
        );
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn create_partitions_rules() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        c.create_topic("cp", 2).await;
        let req = |count: i32, validate_only: bool| {
            CreatePartitionsRequest::default()
                .with_timeout_ms(30_000)
                .with_validate_only(validate_only)
                .with_topics(vec![CreatePartitionsTopic::default()
                    .with_name(topic_name("cp"))
                    .with_count(count)
                    .with_assignments(None)])
        };
        for count in [2, 1] {
            let r = c.call(3, &req(count, false)).await;
            assert_eq!(
                r.results[0].error_code,
                ResponseError::InvalidPartitions.code(),
                "count {count}"
            );
        }
        let r = c.call(3, &req(5, true)).await;
        assert_eq!(r.results[0].error_code, 0);
        assert_eq!(
            c.metadata(&["cp"]).await.topics[0].partitions.len(),
            2,
            "validate_only grows nothing"
        );
        let r = c.call(3, &req(5, false)).await;
        assert_eq!(r.results[0].error_code, 0);
        let md = c.metadata(&["cp"]).await;
        let idx: Vec<i32> = md.topics[0]
            .partitions
            .iter()
            .map(|p| p.partition_index)
            .collect();
        assert_eq!(idx, vec![0, 1, 2, 3, 4]);
        // The new partitions take writes.
        let p = c.produce("cp", 4, value_batch("new", 1, 1)).await;
        assert_eq!((p.error_code, p.base_offset), (0, 0));
        broker.shutdown().await;
    })
    .await;
}

/// Kafka's `AuthHelper.computeDescribeClusterResponse` on a broker: endpoint type CONTROLLER (2) →
/// MISMATCHED_ENDPOINT_TYPE (114); an unknown type → UNSUPPORTED_ENDPOINT_TYPE (115). The error response
/// carries only the error code and message (other fields at their defaults).
#[tokio::test]
async fn describe_cluster_endpoint_types_like_kafka() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        for v in 1i16..=2 {
            let resp = c
                .call(v, &DescribeClusterRequest::default().with_endpoint_type(3))
                .await;
            assert_eq!(
                resp.error_code,
                ResponseError::UnsupportedEndpointType.code(),
                "v{v} type 3"
            );
            let resp = c
                .call(v, &DescribeClusterRequest::default().with_endpoint_type(2))
                .await;
            assert_eq!(
                resp.error_code,
                ResponseError::MismatchedEndpointType.code(),
                "v{v} type 2 (CONTROLLER) sent to a broker"
            );
            assert_eq!(
                resp.error_message.as_deref(),
                Some("The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER")
            );
            assert!(resp.brokers.is_empty(), "v{v} no brokers on error");
        }
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn describe_cluster_authorized_operations_match_kafka() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        for v in 0i16..=2 {
            let mut req =
                DescribeClusterRequest::default().with_include_cluster_authorized_operations(true);
            if v >= 1 {
                req = req.with_endpoint_type(1);
            }
            let resp = c.call(v, &req).await;
            assert_eq!(resp.error_code, 0);
            assert_eq!(
                resp.cluster_authorized_operations, KAFKA_CLUSTER_OPERATIONS,
                "v{v}"
            );
        }
        broker.shutdown().await;
    })
    .await;
}

fn dtp(topics: &[&str], limit: i32, cursor: Option<(&str, i32)>) -> DescribeTopicPartitionsRequest {
    DescribeTopicPartitionsRequest::default()
        .with_topics(
            topics
                .iter()
                .map(|t| TopicRequest::default().with_name(topic_name(t)))
                .collect(),
        )
        .with_response_partition_limit(limit)
        .with_cursor(cursor.map(|(t, p)| {
            Cursor::default()
                .with_topic_name(topic_name(t))
                .with_partition_index(p)
        }))
}

/// A (topic, partition) pair.
type Tp = (String, i32);

fn page(resp: &DescribeTopicPartitionsResponse) -> (Vec<Tp>, Option<Tp>) {
    let parts = resp
        .topics
        .iter()
        .flat_map(|t| {
            let name = opt_name(&t.name).unwrap().to_string();
            t.partitions
                .iter()
                .map(move |p| (name.clone(), p.partition_index))
        })
        .collect();
    let cursor = resp
        .next_cursor
        .as_ref()
        .map(|c| (c.topic_name.0.to_string(), c.partition_index));
    (parts, cursor)
}

fn tp(list: &[(&str, i32)]) -> Vec<(String, i32)> {
    list.iter().map(|(t, p)| (t.to_string(), *p)).collect()
}

#[tokio::test]
async fn describe_topic_partitions_pages_with_cursor() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        c.create_topic("dtp-a", 3).await;
        c.create_topic("dtp-b", 2).await;
        c.create_topic("dtp-c", 1).await;
        // All topics (empty list), two partitions per page. Kafka's KRaftMetadataCache walks topics by name and
        // stops with a cursor at the first partition that does not fit.
        let (p1, c1) = page(&c.call(0, &dtp(&[], 2, None)).await);
        assert_eq!(p1, tp(&[("dtp-a", 0), ("dtp-a", 1)]));
        assert_eq!(c1, Some(("dtp-a".into(), 2)));
        let (p2, c2) = page(&c.call(0, &dtp(&[], 2, Some(("dtp-a", 2)))).await);
        assert_eq!(p2, tp(&[("dtp-a", 2), ("dtp-b", 0)]));
        assert_eq!(c2, Some(("dtp-b".into(), 1)));
        let (p3, c3) = page(&c.call(0, &dtp(&[], 2, Some(("dtp-b", 1)))).await);
        assert_eq!(p3, tp(&[("dtp-b", 1), ("dtp-c", 0)]));
        assert_eq!(c3, None, "last page has no cursor");
        // A page that ends exactly at a topic boundary points at the next topic's partition 0.
        let (p, cur) = page(&c.call(0, &dtp(&["dtp-a", "dtp-b"], 3, None)).await);
        assert_eq!(p, tp(&[("dtp-a", 0), ("dtp-a", 1), ("dtp-a", 2)]));
        assert_eq!(cur, Some(("dtp-b".into(), 0)));
        // Named topics are returned sorted regardless of request order.
        let (p, cur) = page(&c.call(0, &dtp(&["dtp-c", "dtp-a"], 100, None)).await);
        assert_eq!(
            p,
            tp(&[("dtp-a", 0), ("dtp-a", 1), ("dtp-a", 2), ("dtp-c", 0)])
        );
        assert_eq!(cur, None);
        broker.shutdown().await;
    })
    .await;
}

/// Kafka validates unknown names (INVALID_TOPIC_EXCEPTION for illegal ones, else UNKNOWN_TOPIC_OR_PARTITION) and
/// sets `topic_authorized_operations` on every topic of the response, errors included.
#[tokio::test]
async fn describe_topic_partitions_unknown_and_invalid_topics() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        let resp = c
            .call(0, &dtp(&["bad name!", "dtp-missing"], 100, None))
            .await;
        assert_eq!(resp.topics.len(), 2);
        let by = |n: &str| {
            resp.topics
                .iter()
                .find(|t| opt_name(&t.name) == Some(n))
                .unwrap_or_else(|| panic!("{n} in response"))
        };
        assert_eq!(
            by("dtp-missing").error_code,
            ResponseError::UnknownTopicOrPartition.code()
        );
        assert!(by("dtp-missing").topic_id.is_nil());
        assert_eq!(
            by("dtp-missing").topic_authorized_operations,
            KAFKA_TOPIC_OPERATIONS
        );
        assert_eq!(
            by("bad name!").error_code,
            ResponseError::InvalidTopicException.code()
        );
        broker.shutdown().await;
    })
    .await;
}

/// Broker-to-broker calls (transaction markers, KIP-890 verification) reuse idle connections
/// (`client::pool`), and a pooled connection the peer has closed — here the broker restarted on the same
/// port — is replaced by a new one instead of failing the call.
#[tokio::test]
async fn peer_connections_are_reused_and_replaced_when_closed() {
    bounded(LIMIT, async {
        let listen = free_addr();
        let broker = TestBroker::start_with(|c| c.listen = listen).await;
        let pool = weir::client::pool::ConnPool::default();
        let addr = listen.to_string();
        let req = MetadataRequest::default();
        for _ in 0..3 {
            let answer = pool.send(&addr, LIMIT, &req, 0).await.expect("metadata");
            assert!(answer.is_some());
        }
        assert_eq!(pool.idle_count(&addr), 1, "one connection served all three");
        let broker = broker.stop().await.start().await;
        let answer = pool.send(&addr, LIMIT, &req, 0).await;
        assert!(matches!(answer, Ok(Some(_))), "stale connection replaced");
        assert_eq!(pool.idle_count(&addr), 1);
        // A broker that does not speak a new enough version is told apart from a failure.
        let answer = pool.send(&addr, LIMIT, &req, i16::MAX).await;
        assert!(matches!(answer, Ok(None)));
        broker.shutdown().await;
    })
    .await;
}
