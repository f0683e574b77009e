//! Every API × every version Weir advertises (iterating `weir::handler::list::SUPPORTED`): one request
//! encoded, sent over TCP, and the response decoded and checked field by field against what Apache Kafka
//! (KRaft mode, one broker, no authorizer) returns for the same request.
//!
//! `COVERED` lists the versions each checker knows the wire shape of; `every_advertised_version_has_a_case`
//! fails when the table advertises an API or version no checker handles, so a new API or a raised max
//! version cannot ship without a case here.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_topic_partitions_request::TopicRequest;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, BrokerId, CreatePartitionsRequest, CreateTopicsRequest,
    DeleteTopicsRequest, DescribeClusterRequest, DescribeTopicPartitionsRequest, FetchRequest,
    InitProducerIdRequest, ListOffsetsRequest, MetadataRequest, ProduceRequest, ProducerId,
};
use kafka_protocol::ResponseError;
use uuid::Uuid;
use weir::handler::list::SUPPORTED;
use weir_protocol_tests::*;

/// Versions each checker below handles. Must cover every advertised range.
const COVERED: &[(ApiKey, (i16, i16))] = &[
    (ApiKey::Produce, (3, 13)),
    (ApiKey::Fetch, (4, 18)),
    (ApiKey::ListOffsets, (1, 10)),
    (ApiKey::Metadata, (0, 13)),
    (ApiKey::ApiVersions, (0, 4)),
    (ApiKey::CreateTopics, (2, 7)),
    (ApiKey::DeleteTopics, (1, 6)),
    (ApiKey::InitProducerId, (0, 5)),
    (ApiKey::CreatePartitions, (0, 3)),
    (ApiKey::DescribeCluster, (0, 2)),
    (ApiKey::DescribeTopicPartitions, (0, 0)),
    (ApiKey::DescribeConfigs, (1, 4)),
    (ApiKey::AlterConfigs, (0, 2)),
    (ApiKey::IncrementalAlterConfigs, (0, 1)),
    (ApiKey::DeleteRecords, (0, 2)),
    (ApiKey::FindCoordinator, (0, 6)),
    (ApiKey::JoinGroup, (0, 9)),
    (ApiKey::SyncGroup, (0, 5)),
    (ApiKey::Heartbeat, (0, 4)),
    (ApiKey::LeaveGroup, (0, 5)),
    (ApiKey::OffsetCommit, (2, 10)),
    (ApiKey::OffsetFetch, (1, 10)),
    (ApiKey::OffsetDelete, (0, 0)),
    (ApiKey::DescribeGroups, (0, 6)),
    (ApiKey::ListGroups, (0, 5)),
    (ApiKey::DeleteGroups, (0, 2)),
    (ApiKey::ConsumerGroupHeartbeat, (0, 1)),
    (ApiKey::ConsumerGroupDescribe, (0, 1)),
    (ApiKey::OffsetForLeaderEpoch, (2, 4)),
    (ApiKey::DescribeLogDirs, (1, 4)),
    (ApiKey::ListPartitionReassignments, (0, 0)),
    (ApiKey::AlterPartitionReassignments, (0, 1)),
    (ApiKey::ElectLeaders, (0, 2)),
    (ApiKey::ListConfigResources, (0, 1)),
    (ApiKey::DescribeQuorum, (0, 2)),
    (ApiKey::DescribeTransactions, (0, 0)),
    (ApiKey::ListTransactions, (0, 1)),
    (ApiKey::AddPartitionsToTxn, (0, 5)),
    (ApiKey::AddOffsetsToTxn, (0, 4)),
    (ApiKey::EndTxn, (0, 5)),
    (ApiKey::WriteTxnMarkers, (1, 1)),
    (ApiKey::DescribeProducers, (0, 0)),
    (ApiKey::TxnOffsetCommit, (0, 5)),
];

/// Config and record-deletion APIs.
#[path = "api_matrix/configs.rs"]
mod configs;
/// The KIP-848 consumer-group APIs.
#[path = "api_matrix/consumer_groups.rs"]
mod consumer_groups;
/// The classic group APIs.
#[path = "api_matrix/groups.rs"]
mod groups;
/// OffsetCommit and OffsetFetch v10 (topic ids), built byte by byte.
#[path = "api_matrix/offsets_v10.rs"]
mod offsets_v10;
/// Leader epochs, log dirs, leadership and config-resource listing.
#[path = "api_matrix/surface.rs"]
mod surface;
/// Transactions end to end: markers, LSO, read_committed.
#[path = "api_matrix/txn_data.rs"]
mod txn_data;
/// The transaction admin APIs.
#[path = "api_matrix/txn_markers.rs"]
mod txn_markers;

#[path = "api_matrix/txns.rs"]
mod txns;

/// Kafka's authorized operations with no authorizer (`AclEntry.supportedOperations`): TOPIC = READ(3) WRITE(4)
/// CREATE(5) DELETE(6) ALTER(7) DESCRIBE(8) DESCRIBE_CONFIGS(10) ALTER_CONFIGS(11).
pub const KAFKA_TOPIC_OPERATIONS: i32 = 3576;
/// "Not requested" value of authorized-operations fields.
pub const OPS_NOT_REQUESTED: i32 = i32::MIN;

const NODE: BrokerId = BrokerId(1);

fn code(e: ResponseError) -> i16 {
    e.code()
}

#[test]
fn every_advertised_version_has_a_case() {
    let mut missing = Vec::new();
    for (api, (min, max)) in SUPPORTED {
        match COVERED.iter().find(|(k, _)| k == api) {
            None => missing.push(format!("{api:?} v{min}..=v{max}: no checker")),
            Some((_, (cmin, cmax))) => {
                for v in *min..=*max {
                    if v < *cmin || v > *cmax {
                        missing.push(format!("{api:?} v{v}: checker covers v{cmin}..=v{cmax}"));
                    }
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "advertised API versions without a protocol test case:\n{}",
        missing.join("\n")
    );
    let total: i32 = SUPPORTED
        .iter()
        .map(|(_, (a, b))| i32::from(b - a + 1))
        .sum();
    eprintln!("{total} advertised API×version cases");
}

/// The versions the table advertises for one API (the matrix iterates these, not `COVERED`).
fn advertised(api: ApiKey) -> std::ops::RangeInclusive<i16> {
    let (_, (min, max)) = SUPPORTED
        .iter()
        .find(|(k, _)| *k == api)
        .unwrap_or_else(|| panic!("{api:?} is not advertised"));
    *min..=*max
}

fn assert_cluster_id(id: &str) {
    assert_eq!(id.len(), 22, "cluster id {id:?} is 22 chars (base64 UUID)");
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "cluster id {id:?} is URL-safe base64"
    );
}

async fn cluster_id_of(client: &mut Client) -> String {
    client
        .metadata(&[])
        .await
        .cluster_id
        .expect("cluster id")
        .to_string()
}

// ------------------------------------------------------------------------------------------ ApiVersions

#[tokio::test]
async fn matrix_api_versions() {
    bounded(Duration::from_secs(20), async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        for v in advertised(ApiKey::ApiVersions) {
            eprintln!("case ApiVersions v{v}");
            let mut req = ApiVersionsRequest::default();
            if v >= 3 {
                req = req
                    .with_client_software_name(str_bytes("weir-protocol-tests"))
                    .with_client_software_version(str_bytes("0.1.0"));
            }
            let resp = c.call(v, &req).await;
            assert_eq!(resp.error_code, 0, "v{v} error");
            let got: Vec<(i16, i16, i16)> = resp
                .api_keys
                .iter()
                .map(|k| (k.api_key, k.min_version, k.max_version))
                .collect();
            let mut want: Vec<(i16, i16, i16)> = SUPPORTED
                .iter()
                .map(|(k, (a, b))| (*k as i16, *a, *b))
                .collect();
            want.sort();
            assert_eq!(
                got, want,
                "v{v}: api_keys lists exactly the table, by api key"
            );
            assert_eq!(resp.throttle_time_ms, 0, "v{v} throttle");
            if v >= 3 {
                assert!(!resp.zk_migration_ready, "v{v} zk_migration_ready");
            }
        }
        broker.shutdown().await;
    })
    .await;
}

// --------------------------------------------------------------------------------------------- Metadata

#[tokio::test]
async fn matrix_metadata() {
    bounded(Duration::from_secs(20), async {
        let broker = TestBroker::start().await;
        let port = i32::from(broker.addr().port());
        let mut c = broker.client().await;
        let id = c.create_topic("matrix-md", 2).await;
        let cluster_id = cluster_id_of(&mut c).await;
        assert_cluster_id(&cluster_id);
        for v in advertised(ApiKey::Metadata) {
            eprintln!("case Metadata v{v}");
            let with_unknown = v >= 4;
            let include_ops = v >= 8 && v % 2 == 0;
            let mut topics =
                vec![MetadataRequestTopic::default().with_name(Some(topic_name("matrix-md")))];
            if with_unknown {
                topics.push(
                    MetadataRequestTopic::default()
                        .with_name(Some(topic_name("matrix-md-missing"))),
                );
            }
            let mut req = MetadataRequest::default().with_topics(Some(topics));
            if v >= 4 {
                req = req.with_allow_auto_topic_creation(false);
            }
            if v >= 8 {
                req = req.with_include_topic_authorized_operations(include_ops);
            }
            let resp = c.call(v, &req).await;
            assert_eq!(resp.throttle_time_ms, 0, "v{v} throttle");
            assert_eq!(resp.brokers.len(), 1, "v{v} one broker");
            let b = &resp.brokers[0];
            assert_eq!(b.node_id, NODE, "v{v} node id");
            assert_eq!(b.host.as_str(), "127.0.0.1", "v{v} advertised host");
            assert_eq!(b.port, port, "v{v} advertised port");
            assert_eq!(b.rack, None, "v{v} rack");
            if v >= 2 {
                assert_eq!(
                    resp.cluster_id.as_deref(),
                    Some(cluster_id.as_str()),
                    "v{v} cluster id"
                );
            }
            if v >= 1 {
                assert_eq!(resp.controller_id, NODE, "v{v} controller id");
            }
            if (8..=10).contains(&v) {
                assert_eq!(
                    resp.cluster_authorized_operations, OPS_NOT_REQUESTED,
                    "v{v} cluster ops not requested"
                );
            }
            if v >= 13 {
                assert_eq!(resp.error_code, 0, "v{v} top-level error");
            }
            assert_eq!(
                resp.topics.len(),
                if with_unknown { 2 } else { 1 },
                "v{v} topics"
            );
            let t = &resp.topics[0];
            assert_eq!(t.error_code, 0, "v{v} topic error");
            assert_eq!(opt_name(&t.name), Some("matrix-md"), "v{v} name");
            assert!(!t.is_internal, "v{v} is_internal");
            if v >= 10 {
                assert_eq!(t.topic_id, id, "v{v} topic id equals CreateTopics'");
            }
            if v >= 8 {
                let want = if include_ops {
                    KAFKA_TOPIC_OPERATIONS
                } else {
                    OPS_NOT_REQUESTED
                };
                assert_eq!(
                    t.topic_authorized_operations, want,
                    "v{v} topic authorized ops"
                );
            }
            assert_eq!(t.partitions.len(), 2, "v{v} partitions");
            for (i, p) in t.partitions.iter().enumerate() {
                assert_eq!(p.error_code, 0, "v{v} p{i} error");
                assert_eq!(p.partition_index, i as i32, "v{v} p{i} index");
                assert_eq!(p.leader_id, NODE, "v{v} p{i} leader");
                if v >= 7 {
                    assert_eq!(p.leader_epoch, 0, "v{v} p{i} leader epoch of a new topic");
                }
                assert_eq!(p.replica_nodes, vec![NODE], "v{v} p{i} replicas");
                assert_eq!(p.isr_nodes, vec![NODE], "v{v} p{i} isr");
                assert!(p.offline_replicas.is_empty(), "v{v} p{i} offline");
            }
            if with_unknown {
                let u = &resp.topics[1];
                assert_eq!(
                    u.error_code,
                    code(ResponseError::UnknownTopicOrPartition),
                    "v{v} unknown topic"
                );
                assert_eq!(opt_name(&u.name), Some("matrix-md-missing"));
                assert!(
                    u.partitions.is_empty(),
                    "v{v} unknown topic has no partitions"
                );
                assert!(!u.is_internal);
                if v >= 10 {
                    assert!(u.topic_id.is_nil(), "v{v} unknown topic id is zero");
                }
            }
        }
        broker.shutdown().await;
    })
    .await;
}

// ----------------------------------------------------------------------------------------- CreateTopics

#[tokio::test]
async fn matrix_create_topics() {
    bounded(Duration::from_secs(20), async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        for v in advertised(ApiKey::CreateTopics) {
            eprintln!("case CreateTopics v{v}");
            let name = format!("matrix-ct-v{v}");
            let req = CreateTopicsRequest::default()
                .with_timeout_ms(30_000)
                .with_topics(vec![creatable_topic(
                    &name,
                    3,
                    1,
                    &[("retention.ms", "1000")],
                )]);
            let resp = c.call(v, &req).await;
            assert_eq!(resp.throttle_time_ms, 0, "v{v} throttle");
            assert_eq!(resp.topics.len(), 1);
            let t = &resp.topics[0];
            assert_eq!(t.name.as_str(), name, "v{v} name");
            assert_eq!(t.error_code, 0, "v{v} error");
            assert_eq!(
                t.error_message, None,
                "v{v} error message is null on success"
            );
            let md = c.metadata(&[&name]).await;
            assert_eq!(md.topics[0].error_code, 0, "v{v}: topic exists afterwards");
            assert_eq!(md.topics[0].partitions.len(), 3, "v{v}: with 3 partitions");
            if v >= 7 {
                assert!(!t.topic_id.is_nil(), "v{v} topic id");
                assert_eq!(
                    t.topic_id, md.topics[0].topic_id,
                    "v{v} topic id matches Metadata"
                );
            }
            if v >= 5 {
                assert_eq!(t.num_partitions, 3, "v{v} num_partitions");
                assert_eq!(t.replication_factor, 1, "v{v} replication_factor");
                assert_eq!(t.topic_config_error_code, 0, "v{v} topic_config_error_code");
                let configs = t.configs.as_ref().expect("configs present on success");
                let retention = configs
                    .iter()
                    .find(|c| c.name.as_str() == "retention.ms")
                    .unwrap_or_else(|| panic!("v{v}: retention.ms described"));
                assert_eq!(
                    retention.value.as_deref(),
                    Some("1000"),
                    "v{v} retention.ms value"
                );
                assert_eq!(
                    retention.config_source, 1,
                    "v{v} retention.ms source DYNAMIC_TOPIC_CONFIG"
                );
                assert!(
                    !retention.read_only && !retention.is_sensitive,
                    "v{v} retention.ms flags"
                );
            }
            // The same name again.
            let resp = c.call(v, &req).await;
            let t = &resp.topics[0];
            assert_eq!(
                t.error_code,
                code(ResponseError::TopicAlreadyExists),
                "v{v} exists"
            );
            assert_eq!(
                t.error_message.as_deref(),
                Some(format!("Topic '{name}' already exists.").as_str()),
                "v{v} exists message"
            );
            if v >= 5 {
                assert_eq!(t.num_partitions, -1, "v{v} failed num_partitions");
                assert_eq!(t.replication_factor, -1, "v{v} failed replication_factor");
            }
        }
        broker.shutdown().await;
    })
    .await;
}

// ----------------------------------------------------------------------------------------- DeleteTopics

#[tokio::test]
async fn matrix_delete_topics() {
    bounded(Duration::from_secs(20), async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        for v in advertised(ApiKey::DeleteTopics) {
            eprintln!("case DeleteTopics v{v}");
            let name = format!("matrix-dt-v{v}");
            let id = c.create_topic(&name, 2).await;
            let req = if v >= 6 {
                DeleteTopicsRequest::default().with_topics(vec![
                    DeleteTopicState::default().with_name(Some(topic_name(&name))),
                    DeleteTopicState::default().with_name(Some(topic_name("matrix-dt-missing"))),
                ])
            } else {
                DeleteTopicsRequest::default()
                    .with_topic_names(vec![topic_name(&name), topic_name("matrix-dt-missing")])
            }
            .with_timeout_ms(30_000);
            let resp = c.call(v, &req).await;
            assert_eq!(resp.throttle_time_ms, 0, "v{v} throttle");
            assert_eq!(resp.responses.len(), 2, "v{v} responses");
            let ok = &resp.responses[0];
            assert_eq!(opt_name(&ok.name), Some(name.as_str()), "v{v} name");
            assert_eq!(ok.error_code, 0, "v{v} error");
            if v >= 5 {
                assert_eq!(ok.error_message, None, "v{v} error message");
            }
            if v >= 6 {
                assert_eq!(ok.topic_id, id, "v{v} topic id of the deleted topic");
            }
            let missing = &resp.responses[1];
            assert_eq!(opt_name(&missing.name), Some("matrix-dt-missing"));
            assert_eq!(
                missing.error_code,
                code(ResponseError::UnknownTopicOrPartition),
                "v{v} unknown"
            );
            let md = c.metadata(&[&name]).await;
            assert_eq!(
                md.topics[0].error_code,
                code(ResponseError::UnknownTopicOrPartition),
                "v{v} gone"
            );
            if v >= 6 {
                // By id.
                let id = c.create_topic(&name, 1).await;
                let unknown = Uuid::from_u128(0x1234_5678);
                let req = DeleteTopicsRequest::default()
                    .with_timeout_ms(30_000)
                    .with_topics(vec![
                        DeleteTopicState::default().with_topic_id(id),
                        DeleteTopicState::default().with_topic_id(unknown),
                    ]);
                let resp = c.call(v, &req).await;
                let ok = &resp.responses[0];
                assert_eq!(ok.error_code, 0, "v{v} by id");
                assert_eq!(ok.topic_id, id, "v{v} by id: id");
                assert_eq!(
                    opt_name(&ok.name),
                    Some(name.as_str()),
                    "v{v} by id: name filled in"
                );
                let missing = &resp.responses[1];
                assert_eq!(
                    missing.error_code,
                    code(ResponseError::UnknownTopicId),
                    "v{v} unknown id"
                );
                assert_eq!(missing.topic_id, unknown, "v{v} unknown id echoed");
                assert_eq!(missing.name, None, "v{v} unknown id has no name");
                let md = c.metadata(&[&name]).await;
                assert_eq!(
                    md.topics[0].error_code,
                    code(ResponseError::UnknownTopicOrPartition),
                    "v{v} gone by id"
                );
            }
        }
        broker.shutdown().await;
    })
    .await;
}

// ------------------------------------------------------------------------------------- CreatePartitions

#[tokio::test]
async fn matrix_create_partitions() {
    bounded(Duration::from_secs(20), async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        for v in advertised(ApiKey::CreatePartitions) {
            eprintln!("case CreatePartitions v{v}");
            let name = format!("matrix-cp-v{v}");
            c.create_topic(&name, 1).await;
            let req = |count: i32| {
                CreatePartitionsRequest::default()
                    .with_timeout_ms(30_000)
                    .with_topics(vec![
                        CreatePartitionsTopic::default()
                            .with_name(topic_name(&name))
                            .with_count(count)
                            .with_assignments(None),
                        CreatePartitionsTopic::default()
                            .with_name(topic_name("matrix-cp-missing"))
                            .with_count(count)
                            .with_assignments(None),
                    ])
            };
            let resp = c.call(v, &req(3)).await;
            assert_eq!(resp.throttle_time_ms, 0, "v{v} throttle");
            assert_eq!(resp.results.len(), 2);
            let r = &resp.results[0];
            assert_eq!(r.name.as_str(), name, "v{v} name");
            assert_eq!(r.error_code, 0, "v{v} error");
            assert_eq!(r.error_message, None, "v{v} error message");
            let missing = &resp.results[1];
            assert_eq!(missing.name.as_str(), "matrix-cp-missing");
            assert_eq!(
                missing.error_code,
                code(ResponseError::UnknownTopicOrPartition),
                "v{v} unknown"
            );
            let md = c.metadata(&[&name]).await;
            assert_eq!(md.topics[0].partitions.len(), 3, "v{v} grown to 3");
            // Not growing.
            let resp = c.call(v, &req(2)).await;
            let r = &resp.results[0];
            assert_eq!(
                r.error_code,
                code(ResponseError::InvalidPartitions),
                "v{v} shrink"
            );
            assert!(
                r.error_message.as_deref().is_some_and(|m| !m.is_empty()),
                "v{v} shrink message"
            );
            let md = c.metadata(&[&name]).await;
            assert_eq!(md.topics[0].partitions.len(), 3, "v{v} still 3");
        }
        broker.shutdown().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------------- Produce

fn produce_by_version(v: i16, topic: &str, id: Uuid, batch: Bytes, acks: i16) -> ProduceRequest {
    if v >= 13 {
        ProduceRequest::default()
            .with_acks(acks)
            .with_timeout_ms(10_000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_topic_id(id)
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(batch))])])
    } else {
        produce_request(topic, 0, batch, acks)
    }
}

#[tokio::test]
async fn matrix_produce() {
    bounded(Duration::from_secs(20), async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        let id = c.create_topic("matrix-p", 1).await;
        let mut next_offset = 0i64;
        for v in advertised(ApiKey::Produce) {
            eprintln!("case Produce v{v}");
            let batch = value_batch(&format!("p{v}"), 3, 1_700_000_000_000);
            let resp = c
                .call(v, &produce_by_version(v, "matrix-p", id, batch, -1))
                .await;
            assert_eq!(resp.throttle_time_ms, 0, "v{v} throttle");
            assert_eq!(resp.responses.len(), 1);
            let t = &resp.responses[0];
            if v >= 13 {
                assert_eq!(t.topic_id, id, "v{v} topic id");
            } else {
                assert_eq!(t.name.as_str(), "matrix-p", "v{v} name");
            }
            assert_eq!(t.partition_responses.len(), 1);
            let p = &t.partition_responses[0];
            assert_eq!(p.index, 0, "v{v} index");
            assert_eq!(p.error_code, 0, "v{v} error: {:?}", p.error_message);
            assert_eq!(p.base_offset, next_offset, "v{v} base offset");
            assert_eq!(
                p.log_append_time_ms, -1,
                "v{v} log append time (CreateTime topic)"
            );
            if v >= 5 {
                assert_eq!(p.log_start_offset, 0, "v{v} log start offset");
            }
            if v >= 8 {
                assert!(p.record_errors.is_empty(), "v{v} record errors");
                assert_eq!(p.error_message, None, "v{v} error message");
            }
            if v >= 10 {
                assert_eq!(
                    p.current_leader,
                    Default::default(),
                    "v{v} current leader only on NOT_LEADER"
                );
                assert!(
                    resp.node_endpoints.is_empty(),
                    "v{v} node endpoints only on NOT_LEADER"
                );
            }
            next_offset += 3;
        }
        broker.shutdown().await;
    })
    .await;
}

// ------------------------------------------------------------------------------------------------ Fetch

fn fetch_by_version(v: i16, topic: &str, id: Uuid, offset: i64) -> FetchRequest {
    let partition = FetchPartition::default()
        .with_partition(0)
        .with_fetch_offset(offset)
        .with_partition_max_bytes(1 << 20);
    let t = if v >= 13 {
        FetchTopic::default().with_topic_id(id)
    } else {
        FetchTopic::default().with_topic(topic_name(topic))
    };
    FetchRequest::default()
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_topics(vec![t.with_partitions(vec![partition])])
}

#[tokio::test]
async fn matrix_fetch() {
    bounded(Duration::from_secs(20), async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        let id = c.create_topic("matrix-f", 1).await;
        let sent = [value_batch("a", 3, 1000), value_batch("b", 2, 2000)];
        for b in &sent {
            assert_eq!(c.produce("matrix-f", 0, b.clone()).await.error_code, 0);
        }
        for v in advertised(ApiKey::Fetch) {
            eprintln!("case Fetch v{v}");
            // Offset 1 is inside the first batch: the whole batch comes back.
            let resp = c.call(v, &fetch_by_version(v, "matrix-f", id, 1)).await;
            assert_eq!(resp.throttle_time_ms, 0, "v{v} throttle");
            if v >= 7 {
                assert_eq!(resp.error_code, 0, "v{v} error");
                assert_eq!(resp.session_id, 0, "v{v} sessionless fetch has no session");
            }
            if v >= 16 {
                assert!(resp.node_endpoints.is_empty(), "v{v} node endpoints");
            }
            assert_eq!(resp.responses.len(), 1, "v{v} topics");
            let t = &resp.responses[0];
            if v >= 13 {
                assert_eq!(t.topic_id, id, "v{v} topic id");
            } else {
                assert_eq!(t.topic.as_str(), "matrix-f", "v{v} topic");
            }
            assert_eq!(t.partitions.len(), 1);
            let p = &t.partitions[0];
            assert_eq!(p.partition_index, 0, "v{v} index");
            assert_eq!(p.error_code, 0, "v{v} error");
            assert_eq!(p.high_watermark, 5, "v{v} high watermark");
            assert_eq!(p.last_stable_offset, 5, "v{v} last stable offset");
            if v >= 5 {
                assert_eq!(p.log_start_offset, 0, "v{v} log start");
            }
            assert_eq!(
                p.aborted_transactions, None,
                "v{v} aborted txns null for read_uncommitted"
            );
            if v >= 11 {
                assert_eq!(
                    p.preferred_read_replica,
                    BrokerId(-1),
                    "v{v} preferred read replica"
                );
            }
            if v >= 12 {
                assert_eq!(
                    p.diverging_epoch,
                    Default::default(),
                    "v{v} diverging epoch"
                );
                assert_eq!(p.current_leader, Default::default(), "v{v} current leader");
                assert_eq!(p.snapshot_id, Default::default(), "v{v} snapshot id");
            }
            let records = p.records.clone().expect("records");
            let batches = split_batches(&records);
            assert_eq!(batches.len(), 2, "v{v} both batches");
            assert_eq!(batch_base_offset(&batches[0]), 0, "v{v} first batch base");
            assert_eq!(batch_base_offset(&batches[1]), 3, "v{v} second batch base");
            for (s, f) in sent.iter().zip(&batches) {
                assert!(
                    same_batch_except_stamped(s, f),
                    "v{v}: batch bytes as produced"
                );
            }
            let decoded = decode_batches(&records);
            let values: Vec<_> = decoded
                .iter()
                .flat_map(|s| {
                    s.records
                        .iter()
                        .map(|r| (r.offset, r.value.clone().unwrap()))
                })
                .collect();
            assert_eq!(
                values,
                vec![
                    (0, Bytes::from("a-0")),
                    (1, Bytes::from("a-1")),
                    (2, Bytes::from("a-2")),
                    (3, Bytes::from("b-0")),
                    (4, Bytes::from("b-1")),
                ],
                "v{v} decoded records"
            );
        }
        broker.shutdown().await;
    })
    .await;
}

// ------------------------------------------------------------------------------------------ ListOffsets

fn list_offsets(topic: &str, timestamp: i64) -> ListOffsetsRequest {
    ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(topic_name(topic))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(0)
                .with_timestamp(timestamp)])])
}

#[tokio::test]
async fn matrix_list_offsets() {
    bounded(Duration::from_secs(20), async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        c.create_topic("matrix-lo", 1).await;
        c.produce("matrix-lo", 0, value_batch("a", 3, 1000)).await;
        c.produce("matrix-lo", 0, value_batch("b", 2, 2000)).await;
        for v in advertised(ApiKey::ListOffsets) {
            eprintln!("case ListOffsets v{v}");
            for (ts, want_offset) in [(-2i64, 0i64), (-1, 5)] {
                let resp = c.call(v, &list_offsets("matrix-lo", ts)).await;
                assert_eq!(resp.throttle_time_ms, 0, "v{v} throttle");
                assert_eq!(resp.topics.len(), 1);
                assert_eq!(resp.topics[0].name.as_str(), "matrix-lo", "v{v} name");
                let p = &resp.topics[0].partitions[0];
                assert_eq!(p.partition_index, 0, "v{v} index");
                assert_eq!(p.error_code, 0, "v{v} ts {ts} error");
                assert_eq!(p.offset, want_offset, "v{v} ts {ts} offset");
                assert_eq!(
                    p.timestamp, -1,
                    "v{v} ts {ts} timestamp is unknown for earliest/latest"
                );
                if v >= 4 {
                    assert_eq!(p.leader_epoch, 0, "v{v} ts {ts} leader epoch");
                }
            }
            let resp = c.call(v, &list_offsets("matrix-lo-missing", -1)).await;
            let p = &resp.topics[0].partitions[0];
            assert_eq!(
                p.error_code,
                code(ResponseError::UnknownTopicOrPartition),
                "v{v} unknown"
            );
            assert_eq!((p.offset, p.timestamp), (-1, -1), "v{v} unknown offsets");
            if v >= 4 {
                assert_eq!(p.leader_epoch, -1, "v{v} unknown epoch");
            }
        }
        broker.shutdown().await;
    })
    .await;
}

// --------------------------------------------------------------------------------------- InitProducerId

#[tokio::test]
async fn matrix_init_producer_id() {
    bounded(Duration::from_secs(20), async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        let mut seen = Vec::new();
        for v in advertised(ApiKey::InitProducerId) {
            eprintln!("case InitProducerId v{v}");
            let mut req = InitProducerIdRequest::default()
                .with_transactional_id(None)
                .with_transaction_timeout_ms(60_000);
            if v >= 3 {
                req = req.with_producer_id(ProducerId(-1)).with_producer_epoch(-1);
            }
            let resp = c.call(v, &req).await;
            assert_eq!(resp.throttle_time_ms, 0, "v{v} throttle");
            assert_eq!(resp.error_code, 0, "v{v} error");
            assert!(resp.producer_id.0 >= 0, "v{v} producer id");
            assert_eq!(resp.producer_epoch, 0, "v{v} epoch");
            assert!(!seen.contains(&resp.producer_id.0), "v{v} fresh id");
            seen.push(resp.producer_id.0);
        }
        broker.shutdown().await;
    })
    .await;
}

/// Transactional InitProducerId at every version: the epoch is bumped by every init (fencing the older
/// instance, which gets PRODUCER_FENCED, or INVALID_PRODUCER_EPOCH before v4 as in Kafka), timeouts above
/// `transaction.max.timeout.ms` are refused, and the state survives a restart (`__transaction_state`).
#[tokio::test]
async fn matrix_init_producer_id_transactional() {
    bounded(Duration::from_secs(30), async {
        let mut broker = TestBroker::start_with(|c| c.transaction_coordinator_enable = true).await;
        // Clients find the transaction coordinator first; that creates `__transaction_state`.
        let find = kafka_protocol::messages::FindCoordinatorRequest::default()
            .with_key(str_bytes("tx-any"))
            .with_key_type(1);
        assert_eq!(broker.client().await.call(3, &find).await.error_code, 0);
        let init = |id: &str, timeout_ms: i32, expected: Option<(i64, i16)>, v: i16| {
            let mut req = InitProducerIdRequest::default()
                .with_transactional_id(Some(str_bytes(id).into()))
                .with_transaction_timeout_ms(timeout_ms);
            if v >= 3 {
                let (pid, epoch) = expected.unwrap_or((-1, -1));
                req = req
                    .with_producer_id(ProducerId(pid))
                    .with_producer_epoch(epoch);
            }
            req
        };
        let mut ids = Vec::new();
        for v in advertised(ApiKey::InitProducerId) {
            eprintln!("case transactional InitProducerId v{v}");
            let mut c = broker.client().await;
            let id = format!("tx-v{v}");
            let first = c.call(v, &init(&id, 60_000, None, v)).await;
            assert_eq!(
                (first.error_code, first.producer_epoch),
                (0, 0),
                "v{v} first"
            );
            assert!(first.producer_id.0 >= 0 && !ids.contains(&first.producer_id.0));
            ids.push(first.producer_id.0);
            let second = c.call(v, &init(&id, 60_000, None, v)).await;
            assert_eq!(second.error_code, 0, "v{v} second");
            assert_eq!(
                (second.producer_id, second.producer_epoch),
                (first.producer_id, 1)
            );
            if v >= 3 {
                let old = Some((first.producer_id.0, 0));
                let fenced = c.call(v, &init(&id, 60_000, old, v)).await;
                let code = if v >= 4 {
                    ResponseError::ProducerFenced.code()
                } else {
                    ResponseError::InvalidProducerEpoch.code()
                };
                assert_eq!(fenced.error_code, code, "v{v} fenced");
                assert_eq!((fenced.producer_id.0, fenced.producer_epoch), (-1, -1));
            }
            let too_long = c.call(v, &init("tx-long", 900_001, None, v)).await;
            assert_eq!(
                too_long.error_code,
                ResponseError::InvalidTransactionTimeout.code(),
                "v{v} timeout"
            );
        }
        broker = broker.restart().await;
        let mut c = broker.client().await;
        let again = c.call(5, &init("tx-v5", 60_000, None, 5)).await;
        assert_eq!(again.error_code, 0);
        assert_eq!((again.producer_id.0, again.producer_epoch), (ids[5], 2));
        broker.shutdown().await;
    })
    .await;
}

/// With `transaction.coordinator.enable=false`, a transactional producer is stopped at InitProducerId
/// with a fatal error rather than failing later at its first send.
#[tokio::test]
async fn transactional_init_is_refused_when_switched_off() {
    bounded(Duration::from_secs(20), async {
        let broker = TestBroker::start_with(|c| c.transaction_coordinator_enable = false).await;
        let mut c = broker.client().await;
        for v in advertised(ApiKey::InitProducerId) {
            let req = InitProducerIdRequest::default()
                .with_transactional_id(Some(str_bytes("tx").into()))
                .with_transaction_timeout_ms(60_000)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1);
            let resp = c.call(v, &req).await;
            assert_eq!(
                resp.error_code,
                ResponseError::TransactionalIdAuthorizationFailed.code(),
                "v{v}"
            );
        }
        broker.shutdown().await;
    })
    .await;
}

// -------------------------------------------------------------------------------------- DescribeCluster

#[tokio::test]
async fn matrix_describe_cluster() {
    bounded(Duration::from_secs(20), async {
        let broker = TestBroker::start().await;
        let port = i32::from(broker.addr().port());
        let mut c = broker.client().await;
        let cluster_id = cluster_id_of(&mut c).await;
        for v in advertised(ApiKey::DescribeCluster) {
            eprintln!("case DescribeCluster v{v}");
            let mut req = DescribeClusterRequest::default();
            if v >= 1 {
                req = req.with_endpoint_type(1);
            }
            let resp = c.call(v, &req).await;
            assert_eq!(resp.throttle_time_ms, 0, "v{v} throttle");
            assert_eq!(resp.error_code, 0, "v{v} error");
            assert_eq!(resp.error_message, None, "v{v} error message");
            if v >= 1 {
                assert_eq!(resp.endpoint_type, 1, "v{v} endpoint type BROKER");
            }
            assert_eq!(resp.cluster_id.as_str(), cluster_id, "v{v} cluster id");
            assert_eq!(resp.controller_id, NODE, "v{v} controller id");
            assert_eq!(resp.brokers.len(), 1, "v{v} brokers");
            let b = &resp.brokers[0];
            assert_eq!(b.broker_id, NODE, "v{v} broker id");
            assert_eq!(b.host.as_str(), "127.0.0.1", "v{v} host");
            assert_eq!(b.port, port, "v{v} port");
            assert_eq!(b.rack, None, "v{v} rack");
            assert!(!b.is_fenced, "v{v} fenced");
            assert_eq!(
                resp.cluster_authorized_operations, OPS_NOT_REQUESTED,
                "v{v} ops not requested"
            );
        }
        broker.shutdown().await;
    })
    .await;
}

// ------------------------------------------------------------------------------ DescribeTopicPartitions

#[tokio::test]
async fn matrix_describe_topic_partitions() {
    bounded(Duration::from_secs(20), async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        let id = c.create_topic("matrix-dtp", 2).await;
        for v in advertised(ApiKey::DescribeTopicPartitions) {
            eprintln!("case DescribeTopicPartitions v{v}");
            let req = DescribeTopicPartitionsRequest::default()
                .with_topics(vec![
                    TopicRequest::default().with_name(topic_name("matrix-dtp"))
                ])
                .with_response_partition_limit(2000);
            let resp = c.call(v, &req).await;
            assert_eq!(resp.throttle_time_ms, 0, "v{v} throttle");
            assert_eq!(resp.next_cursor, None, "v{v} no next cursor");
            assert_eq!(resp.topics.len(), 1);
            let t = &resp.topics[0];
            assert_eq!(t.error_code, 0, "v{v} error");
            assert_eq!(opt_name(&t.name), Some("matrix-dtp"), "v{v} name");
            assert_eq!(t.topic_id, id, "v{v} id");
            assert!(!t.is_internal, "v{v} internal");
            assert_eq!(
                t.topic_authorized_operations, KAFKA_TOPIC_OPERATIONS,
                "v{v} topic ops"
            );
            assert_eq!(t.partitions.len(), 2, "v{v} partitions");
            for (i, p) in t.partitions.iter().enumerate() {
                assert_eq!(p.error_code, 0);
                assert_eq!(p.partition_index, i as i32);
                assert_eq!(p.leader_id, NODE);
                assert_eq!(p.leader_epoch, 0);
                assert_eq!(p.replica_nodes, vec![NODE]);
                assert_eq!(p.isr_nodes, vec![NODE]);
                assert_eq!(p.eligible_leader_replicas, Some(vec![]), "v{v} p{i} elr");
                assert_eq!(p.last_known_elr, Some(vec![]), "v{v} p{i} last known elr");
                assert!(p.offline_replicas.is_empty());
            }
        }
        broker.shutdown().await;
    })
    .await;
}
