//! OffsetForLeaderEpoch, DescribeLogDirs, ListPartitionReassignments, ElectLeaders and
//! ListConfigResources, every advertised version, against Kafka's `Partition.lastOffsetForLeaderEpoch`,
//! `ReplicaManager.describeLogDirs`, the KRaft controller's `listPartitionReassignments` / `electLeaders`
//! and `KafkaApis.handleListConfigResources`.

use super::*;
use kafka_protocol::messages::describe_log_dirs_request::DescribableLogDirTopic;
use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::list_partition_reassignments_request::ListPartitionReassignmentsTopics;
use kafka_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use kafka_protocol::messages::{
    DescribeLogDirsRequest, ElectLeadersRequest, ListConfigResourcesRequest,
    ListPartitionReassignmentsRequest, OffsetForLeaderEpochRequest,
};

/// `ConfigResource.Type` ids.
const TOPIC: i8 = 2;
const BROKER: i8 = 4;
const BROKER_LOGGER: i8 = 8;
/// `ElectionType` ids.
const PREFERRED: i8 = 0;
const UNCLEAN: i8 = 1;

fn epoch_request(topic: &str, parts: &[(i32, i32, i32)]) -> OffsetForLeaderTopic {
    OffsetForLeaderTopic::default()
        .with_topic(topic_name(topic))
        .with_partitions(
            parts
                .iter()
                .map(|(p, current, epoch)| {
                    OffsetForLeaderPartition::default()
                        .with_partition(*p)
                        .with_current_leader_epoch(*current)
                        .with_leader_epoch(*epoch)
                })
                .collect(),
        )
}

#[tokio::test]
async fn matrix_offset_for_leader_epoch() {
    bounded(Duration::from_secs(20), async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        c.create_topic("matrix-ofle", 2).await;
        assert_eq!(
            c.produce("matrix-ofle", 0, value_batch("a", 3, 1_000))
                .await
                .error_code,
            0
        );
        for v in advertised(ApiKey::OffsetForLeaderEpoch) {
            eprintln!("case OffsetForLeaderEpoch v{v}");
            let mut req = OffsetForLeaderEpochRequest::default().with_topics(vec![
                // (partition, current_leader_epoch, leader_epoch)
                epoch_request(
                    "matrix-ofle",
                    &[
                        (0, 0, 0),
                        (1, -1, 0),
                        (0, -1, 1),
                        (0, -1, -1),
                        (0, 1, 0),
                        (9, -1, 0),
                    ],
                ),
                epoch_request("matrix-ofle-missing", &[(0, -1, 0)]),
            ]);
            if v >= 3 {
                // A consumer (Kafka's CONSUMER_REPLICA_ID).
                req = req.with_replica_id(BrokerId(-1));
            }
            let resp = c.call(v, &req).await;
            assert_eq!(resp.throttle_time_ms, 0);
            let got: Vec<(&str, i32, i16, i32, i64)> = resp
                .topics
                .iter()
                .flat_map(|t| {
                    t.partitions.iter().map(|p| {
                        (
                            t.topic.as_str(),
                            p.partition,
                            p.error_code,
                            p.leader_epoch,
                            p.end_offset,
                        )
                    })
                })
                .collect();
            let unknown = code(ResponseError::UnknownTopicOrPartition);
            assert_eq!(
                got,
                vec![
                    // The current epoch ends at the log end.
                    ("matrix-ofle", 0, 0, 0, 3),
                    ("matrix-ofle", 1, 0, 0, 0),
                    // A later epoch and no epoch: UNDEFINED, no error.
                    ("matrix-ofle", 0, 0, -1, -1),
                    ("matrix-ofle", 0, 0, -1, -1),
                    // The caller knows a newer leader epoch than the broker.
                    (
                        "matrix-ofle",
                        0,
                        code(ResponseError::UnknownLeaderEpoch),
                        -1,
                        -1
                    ),
                    ("matrix-ofle", 9, unknown, -1, -1),
                    ("matrix-ofle-missing", 0, unknown, -1, -1),
                ],
                "v{v}"
            );
        }
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn matrix_describe_log_dirs() {
    bounded(Duration::from_secs(20), async {
        let dir = tempfile::tempdir().expect("tempdir");
        let broker = TestBroker::start_in(dir.path(), |_| {}).await;
        let mut c = broker.client().await;
        c.create_topic("matrix-ldirs", 2).await;
        let batch = value_batch("a", 3, 1_000);
        let batch_len = batch.len() as i64;
        assert_eq!(c.produce("matrix-ldirs", 1, batch).await.error_code, 0);
        for v in advertised(ApiKey::DescribeLogDirs) {
            eprintln!("case DescribeLogDirs v{v}");
            // Every partition.
            let resp = c
                .call(v, &DescribeLogDirsRequest::default().with_topics(None))
                .await;
            assert_eq!((resp.error_code, resp.results.len()), (0, 1), "v{v}");
            let r = &resp.results[0];
            assert_eq!(r.error_code, 0);
            assert_eq!(
                r.log_dir.as_str(),
                dir.path().display().to_string(),
                "v{v} log dir is the absolute data folder"
            );
            let t = r
                .topics
                .iter()
                .find(|t| t.name.as_str() == "matrix-ldirs")
                .expect("topic listed");
            let parts: Vec<(i32, i64, i64, bool)> = t
                .partitions
                .iter()
                .map(|p| {
                    (
                        p.partition_index,
                        p.partition_size,
                        p.offset_lag,
                        p.is_future_key,
                    )
                })
                .collect();
            assert_eq!(
                parts,
                vec![(0, 0, 0, false), (1, batch_len, 0, false)],
                "v{v}"
            );
            if v >= 4 {
                assert!(r.total_bytes > 0, "v{v} total bytes {}", r.total_bytes);
                assert!(
                    (0..=r.total_bytes).contains(&r.usable_bytes),
                    "v{v} usable bytes {}",
                    r.usable_bytes
                );
            } else {
                assert_eq!((r.total_bytes, r.usable_bytes), (-1, -1), "v{v}");
            }
            // Named partitions: the existing ones only, unknown ones left out without an error.
            let req = DescribeLogDirsRequest::default().with_topics(Some(vec![
                DescribableLogDirTopic::default()
                    .with_topic(topic_name("matrix-ldirs"))
                    .with_partitions(vec![1, 7]),
                DescribableLogDirTopic::default()
                    .with_topic(topic_name("matrix-ldirs-missing"))
                    .with_partitions(vec![0]),
            ]));
            let resp = c.call(v, &req).await;
            let topics: Vec<(&str, Vec<i32>)> = resp.results[0]
                .topics
                .iter()
                .map(|t| {
                    (
                        t.name.as_str(),
                        t.partitions.iter().map(|p| p.partition_index).collect(),
                    )
                })
                .collect();
            assert_eq!(topics, vec![("matrix-ldirs", vec![1])], "v{v}");
        }
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn matrix_list_partition_reassignments() {
    bounded(Duration::from_secs(20), async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        c.create_topic("matrix-lpr", 2).await;
        for v in advertised(ApiKey::ListPartitionReassignments) {
            eprintln!("case ListPartitionReassignments v{v}");
            for topics in [
                None,
                Some(vec![
                    ListPartitionReassignmentsTopics::default()
                        .with_name(topic_name("matrix-lpr"))
                        .with_partition_indexes(vec![0, 1, 5]),
                    ListPartitionReassignmentsTopics::default()
                        .with_name(topic_name("matrix-lpr-missing"))
                        .with_partition_indexes(vec![0]),
                ]),
            ] {
                let req = ListPartitionReassignmentsRequest::default()
                    .with_timeout_ms(30_000)
                    .with_topics(topics);
                let resp = c.call(v, &req).await;
                // Nothing is being reassigned; unknown topics are not errors (KRaft controller).
                assert_eq!(resp.error_code, 0, "v{v}");
                assert_eq!(resp.error_message, None, "v{v}");
                assert!(resp.topics.is_empty(), "v{v}");
            }
        }
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn matrix_alter_partition_reassignments() {
    use kafka_protocol::messages::alter_partition_reassignments_request::{
        ReassignablePartition, ReassignableTopic,
    };
    use kafka_protocol::messages::AlterPartitionReassignmentsRequest;
    bounded(Duration::from_secs(20), async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        c.create_topic("matrix-apr", 1).await;
        let part = |p: i32, replicas: Option<Vec<i32>>| {
            ReassignablePartition::default()
                .with_partition_index(p)
                .with_replicas(replicas.map(|r| r.into_iter().map(BrokerId).collect()))
        };
        for v in advertised(ApiKey::AlterPartitionReassignments) {
            eprintln!("case AlterPartitionReassignments v{v}");
            let cases = [
                // The replicas it has: accepted, nothing changes.
                (0, Some(vec![1]), 0, None),
                (
                    0,
                    Some(vec![1, 1]),
                    code(ResponseError::InvalidReplicaAssignment),
                    Some("The manual partition assignment includes the broker 1 more than once."),
                ),
                (
                    0,
                    Some(vec![2]),
                    code(ResponseError::InvalidReplicaAssignment),
                    Some(
                        "The manual partition assignment includes broker 2, but no such broker is \
                         registered.",
                    ),
                ),
                (
                    0,
                    Some(vec![]),
                    code(ResponseError::InvalidReplicaAssignment),
                    Some("The manual partition assignment includes an empty replica list."),
                ),
                (
                    0,
                    None,
                    code(ResponseError::NoReassignmentInProgress),
                    Some("No partition reassignment is in progress."),
                ),
                (
                    9,
                    Some(vec![1]),
                    code(ResponseError::UnknownTopicOrPartition),
                    Some("Unable to find partition matrix-apr:9."),
                ),
            ];
            for (p, replicas, want_code, want_message) in cases {
                let req = AlterPartitionReassignmentsRequest::default()
                    .with_timeout_ms(30_000)
                    .with_topics(vec![ReassignableTopic::default()
                        .with_name(topic_name("matrix-apr"))
                        .with_partitions(vec![part(p, replicas.clone())])]);
                let resp = c.call(v, &req).await;
                assert_eq!((resp.error_code, resp.error_message.as_deref()), (0, None));
                let r = &resp.responses[0].partitions[0];
                assert_eq!(
                    (r.partition_index, r.error_code, r.error_message.as_deref()),
                    (p, want_code, want_message),
                    "v{v} {replicas:?}"
                );
            }
            if v >= 1 {
                // KIP-860: with allowReplicationFactorChange false, another length is refused first.
                let req = AlterPartitionReassignmentsRequest::default()
                    .with_timeout_ms(30_000)
                    .with_allow_replication_factor_change(false)
                    .with_topics(vec![ReassignableTopic::default()
                        .with_name(topic_name("matrix-apr"))
                        .with_partitions(vec![part(0, Some(vec![1, 1]))])]);
                let resp = c.call(v, &req).await;
                assert!(!resp.allow_replication_factor_change);
                let r = &resp.responses[0].partitions[0];
                assert_eq!(
                    (r.error_code, r.error_message.as_deref()),
                    (
                        code(ResponseError::InvalidReplicationFactor),
                        Some("The replication factor is changed from 1 to 2")
                    ),
                    "v{v}"
                );
            }
            let req = AlterPartitionReassignmentsRequest::default()
                .with_timeout_ms(30_000)
                .with_topics(vec![ReassignableTopic::default()
                    .with_name(topic_name("matrix-apr-missing"))
                    .with_partitions(vec![part(0, Some(vec![1]))])]);
            let resp = c.call(v, &req).await;
            let r = &resp.responses[0].partitions[0];
            assert_eq!(
                (r.error_code, r.error_message.as_deref()),
                (
                    code(ResponseError::UnknownTopicOrPartition),
                    Some("Unable to find a topic named matrix-apr-missing.")
                ),
                "v{v}"
            );
        }
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn matrix_elect_leaders() {
    bounded(Duration::from_secs(20), async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        c.create_topic("matrix-el", 2).await;
        let not_needed = (
            code(ResponseError::ElectionNotNeeded),
            Some("Leader election not needed for topic partition.".to_string()),
        );
        for v in advertised(ApiKey::ElectLeaders) {
            let types: &[i8] = if v >= 1 {
                &[PREFERRED, UNCLEAN]
            } else {
                &[PREFERRED]
            };
            for election_type in types {
                eprintln!("case ElectLeaders v{v} type {election_type}");
                let req = ElectLeadersRequest::default()
                    .with_election_type(*election_type)
                    .with_timeout_ms(30_000)
                    .with_topic_partitions(Some(vec![
                        TopicPartitions::default()
                            .with_topic(topic_name("matrix-el"))
                            .with_partitions(vec![1, 0, 4]),
                        TopicPartitions::default()
                            .with_topic(topic_name("matrix-el-missing"))
                            .with_partitions(vec![0]),
                    ]));
                let resp = c.call(v, &req).await;
                assert_eq!(resp.error_code, 0, "v{v}");
                type Election<'a> = (&'a str, i32, (i16, Option<String>));
                let got: Vec<Election<'_>> = resp
                    .replica_election_results
                    .iter()
                    .flat_map(|t| {
                        t.partition_result.iter().map(|p| {
                            (
                                t.topic.as_str(),
                                p.partition_id,
                                (
                                    p.error_code,
                                    p.error_message.as_ref().map(|m| m.to_string()),
                                ),
                            )
                        })
                    })
                    .collect();
                let unknown = |m: &str| {
                    (
                        code(ResponseError::UnknownTopicOrPartition),
                        Some(m.to_string()),
                    )
                };
                assert_eq!(
                    got,
                    vec![
                        ("matrix-el", 1, not_needed.clone()),
                        ("matrix-el", 0, not_needed.clone()),
                        ("matrix-el", 4, unknown("No such partition as matrix-el-4")),
                        (
                            "matrix-el-missing",
                            0,
                            unknown("No such topic as matrix-el-missing")
                        ),
                    ],
                    "v{v}"
                );
            }
            // Every partition: each topic listed, without the partitions that needed no election.
            let req = ElectLeadersRequest::default().with_topic_partitions(None);
            let resp = c.call(v, &req).await;
            let t = resp
                .replica_election_results
                .iter()
                .find(|t| t.topic.as_str() == "matrix-el")
                .expect("topic listed");
            assert!(t.partition_result.is_empty(), "v{v}");
            if v >= 1 {
                // An election type Kafka does not know fails the request and every named partition.
                let req = ElectLeadersRequest::default()
                    .with_election_type(7)
                    .with_topic_partitions(Some(vec![TopicPartitions::default()
                        .with_topic(topic_name("matrix-el"))
                        .with_partitions(vec![0])]));
                let resp = c.call(v, &req).await;
                assert_eq!(resp.error_code, code(ResponseError::InvalidRequest), "v{v}");
                let p = &resp.replica_election_results[0].partition_result[0];
                assert_eq!(
                    (p.error_code, p.error_message.as_deref()),
                    (
                        code(ResponseError::InvalidRequest),
                        Some("Unknown election type 7")
                    ),
                    "v{v}"
                );
            }
        }
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn matrix_list_config_resources() {
    bounded(Duration::from_secs(20), async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        c.create_topic("matrix-lcr-b", 1).await;
        c.create_topic("matrix-lcr-a", 1).await;
        for v in advertised(ApiKey::ListConfigResources) {
            eprintln!("case ListConfigResources v{v}");
            let list = |resp: &kafka_protocol::messages::ListConfigResourcesResponse| {
                resp.config_resources
                    .iter()
                    .map(|r| (r.resource_type, r.resource_name.to_string()))
                    .filter(|(_, n)| !n.starts_with("__"))
                    .collect::<Vec<_>>()
            };
            let resp = c.call(v, &ListConfigResourcesRequest::default()).await;
            assert_eq!(resp.error_code, 0, "v{v}");
            if v == 0 {
                // v0 lists client-metrics subscriptions only: Weir has none.
                assert!(resp.config_resources.is_empty(), "v{v}");
                continue;
            }
            // Brokers before topics, topics by name.
            assert_eq!(
                list(&resp),
                vec![
                    (BROKER, "1".to_string()),
                    (TOPIC, "matrix-lcr-a".to_string()),
                    (TOPIC, "matrix-lcr-b".to_string()),
                ],
                "v{v}"
            );
            let req = ListConfigResourcesRequest::default().with_resource_types(vec![TOPIC, TOPIC]);
            let resp = c.call(v, &req).await;
            assert_eq!(
                list(&resp),
                vec![
                    (TOPIC, "matrix-lcr-a".to_string()),
                    (TOPIC, "matrix-lcr-b".to_string())
                ],
                "v{v} a repeated type lists once"
            );
            let req = ListConfigResourcesRequest::default()
                .with_resource_types(vec![BROKER, BROKER_LOGGER]);
            let resp = c.call(v, &req).await;
            assert_eq!(list(&resp), vec![(BROKER, "1".to_string())], "v{v}");
            // A type Kafka does not list fails the whole request.
            let req = ListConfigResourcesRequest::default().with_resource_types(vec![TOPIC, 64]);
            let resp = c.call(v, &req).await;
            assert_eq!(
                resp.error_code,
                code(ResponseError::UnsupportedVersion),
                "v{v}"
            );
            assert!(resp.config_resources.is_empty(), "v{v}");
        }
        broker.shutdown().await;
    })
    .await;
}

/// DescribeConfigs for this broker (Kafka's `ConfigHelper.createBrokerConfigEntry`): every setting,
/// including the broker-level fallbacks of topic configs; a setting from the config file has source
/// STATIC_BROKER_CONFIG and synonyms [static, default]; a default one DEFAULT_CONFIG and [default]. The empty
/// name describes the cluster-wide dynamic defaults (none); a name that is not a number is INVALID_REQUEST.
#[tokio::test]
async fn describe_configs_broker_lists_every_setting_with_source_and_synonyms() {
    use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
    use kafka_protocol::messages::DescribeConfigsRequest;
    bounded(Duration::from_secs(20), async {
        let broker = TestBroker::start_with(|c| c.num_partitions = 3).await;
        let mut c = broker.client().await;
        let describe = |name: &str| {
            DescribeConfigsRequest::default()
                .with_include_synonyms(true)
                .with_resources(vec![DescribeConfigsResource::default()
                    .with_resource_type(BROKER)
                    .with_resource_name(str_bytes(name))
                    .with_configuration_keys(None)])
        };
        let resp = c.call(4, &describe("1")).await;
        let r = &resp.results[0];
        assert_eq!(r.error_code, 0);
        let find = |name: &str| {
            r.configs
                .iter()
                .find(|e| e.name.as_str() == name)
                .unwrap_or_else(|| panic!("{name} described"))
        };
        let synonyms = |name: &str| {
            find(name)
                .synonyms
                .iter()
                .map(|s| {
                    (
                        s.name.to_string(),
                        s.value.as_ref().map(|v| v.to_string()),
                        s.source,
                    )
                })
                .collect::<Vec<_>>()
        };
        let set = find("num.partitions");
        assert_eq!((set.value.as_deref(), set.config_source), (Some("3"), 4));
        assert!(set.read_only, "no dynamic broker configs");
        assert_eq!(
            synonyms("num.partitions"),
            vec![
                ("num.partitions".to_string(), Some("3".to_string()), 4),
                ("num.partitions".to_string(), Some("1".to_string()), 5),
            ]
        );
        let default = find("log.segment.bytes");
        assert_eq!(default.config_source, 5);
        assert_eq!(
            synonyms("log.segment.bytes"),
            vec![(
                "log.segment.bytes".to_string(),
                Some("1073741824".to_string()),
                5
            )]
        );
        // Broker synonyms of topic configs are broker settings too.
        for (name, value) in [
            ("log.cleaner.delete.retention.ms", "86400000"),
            ("log.cleaner.min.compaction.lag.ms", "0"),
            ("log.cleaner.max.compaction.lag.ms", "9223372036854775807"),
            ("log.cleaner.min.cleanable.ratio", "0.5"),
        ] {
            let e = find(name);
            assert_eq!(
                (e.value.as_deref(), e.config_source),
                (Some(value), 5),
                "{name}"
            );
        }
        let mut names: Vec<&str> = r.configs.iter().map(|e| e.name.as_str()).collect();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count, "each setting once");

        let resp = c.call(4, &describe("")).await;
        assert_eq!(resp.results[0].error_code, 0);
        assert!(resp.results[0].configs.is_empty(), "no dynamic defaults");
        let resp = c.call(4, &describe("one")).await;
        assert_eq!(
            resp.results[0].error_code,
            code(ResponseError::InvalidRequest)
        );
        assert_eq!(
            resp.results[0].error_message.as_deref(),
            Some("Broker id must be an integer, but it is: one")
        );
        broker.shutdown().await;
    })
    .await;
}

/// IncrementalAlterConfigs on a LIST config as Kafka's controller applies it (`incrementalAlterConfigResource`
/// and `ConfigAdminManager.preprocess`): APPEND of several items skips those present, SUBTRACT removes, the
/// result takes effect on the partitions; duplicate keys, a repeated resource and a missing value are
/// INVALID_REQUEST, APPEND to a non-LIST config INVALID_CONFIG with Kafka's message.
#[tokio::test]
async fn incremental_alter_configs_list_ops_like_kafka() {
    use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
    use kafka_protocol::messages::incremental_alter_configs_request::{
        AlterConfigsResource, AlterableConfig,
    };
    use kafka_protocol::messages::DescribeConfigsRequest;
    const APPEND: i8 = 2;
    const SUBTRACT: i8 = 3;
    fn resource(topic: &str, ops: &[(&str, i8, Option<&str>)]) -> AlterConfigsResource {
        AlterConfigsResource::default()
            .with_resource_type(TOPIC)
            .with_resource_name(str_bytes(topic))
            .with_configs(
                ops.iter()
                    .map(|(n, op, v)| {
                        AlterableConfig::default()
                            .with_name(str_bytes(n))
                            .with_config_operation(*op)
                            .with_value(v.map(str_bytes))
                    })
                    .collect(),
            )
    }
    bounded(Duration::from_secs(20), async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        let t = "matrix-iac-list";
        c.create_topic(t, 1).await;
        for v in advertised(ApiKey::IncrementalAlterConfigs) {
            let ok = vec![(0, None)];
            assert_eq!(
                alter(
                    &mut c,
                    v,
                    vec![resource(
                        t,
                        &[("cleanup.policy", APPEND, Some("compact,delete"))]
                    )]
                )
                .await,
                ok
            );
            assert_eq!(
                alter(
                    &mut c,
                    v,
                    vec![resource(t, &[("cleanup.policy", SUBTRACT, Some("delete"))])]
                )
                .await,
                ok
            );
            let invalid_request =
                |m: &str| (code(ResponseError::InvalidRequest), Some(m.to_string()));
            assert_eq!(
                alter(
                    &mut c,
                    v,
                    vec![resource(
                        t,
                        &[
                            ("cleanup.policy", APPEND, Some("delete")),
                            ("cleanup.policy", SUBTRACT, Some("compact"))
                        ]
                    )]
                )
                .await,
                vec![invalid_request("Error due to duplicate config keys")],
                "v{v}"
            );
            assert_eq!(
                alter(
                    &mut c,
                    v,
                    vec![resource(t, &[("cleanup.policy", APPEND, None)])]
                )
                .await,
                vec![invalid_request(
                    "Null value not supported for : cleanup.policy"
                )],
                "v{v}"
            );
            let twice = resource(t, &[("cleanup.policy", APPEND, Some("delete"))]);
            assert_eq!(
                alter(&mut c, v, vec![twice.clone(), twice]).await,
                vec![invalid_request("Each resource must appear at most once."); 2],
                "v{v}"
            );
            assert_eq!(
                alter(
                    &mut c,
                    v,
                    vec![resource(t, &[("retention.ms", APPEND, Some("1"))])]
                )
                .await,
                vec![(
                    code(ResponseError::InvalidConfig),
                    Some(
                        "Can't APPEND to key retention.ms because its type is not LIST."
                            .to_string()
                    )
                )],
                "v{v}"
            );
            let req = DescribeConfigsRequest::default().with_resources(vec![
                DescribeConfigsResource::default()
                    .with_resource_type(TOPIC)
                    .with_resource_name(str_bytes(t))
                    .with_configuration_keys(Some(vec![str_bytes("cleanup.policy")])),
            ]);
            let resp = c.call(4, &req).await;
            let e = &resp.results[0].configs[0];
            assert_eq!(
                (e.value.as_deref(), e.config_source),
                (Some("compact"), 1),
                "v{v}"
            );
            // Back to the default for the next version.
            assert_eq!(
                alter(&mut c, v, vec![resource(t, &[("cleanup.policy", 1, None)])]).await,
                ok
            );
        }
        broker.shutdown().await;
    })
    .await;
}

/// One IncrementalAlterConfigs call; (error code, message) per resource.
async fn alter(
    c: &mut Client,
    v: i16,
    resources: Vec<
        kafka_protocol::messages::incremental_alter_configs_request::AlterConfigsResource,
    >,
) -> Vec<(i16, Option<String>)> {
    let req = kafka_protocol::messages::IncrementalAlterConfigsRequest::default()
        .with_resources(resources);
    let resp = c.call(v, &req).await;
    resp.responses
        .iter()
        .map(|r| {
            (
                r.error_code,
                r.error_message.as_ref().map(|m| m.to_string()),
            )
        })
        .collect()
}

// ------------------------------------------------------------------------------------- DescribeQuorum

#[tokio::test]
async fn matrix_describe_quorum() {
    use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
    use kafka_protocol::messages::DescribeQuorumRequest;
    bounded(Duration::from_secs(20), async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        c.create_topic("matrix-dq", 1).await;
        let ask = |topic: &str| {
            DescribeQuorumRequest::default().with_topics(vec![TopicData::default()
                .with_topic_name(topic_name(topic))
                .with_partitions(vec![PartitionData::default().with_partition_index(0)])])
        };
        for v in advertised(ApiKey::DescribeQuorum) {
            eprintln!("case DescribeQuorum v{v}");
            let resp = c.call(v, &ask("__cluster_metadata")).await;
            assert_eq!(resp.error_code, 0, "v{v}");
            let p = &resp.topics[0].partitions[0];
            // A single node is a quorum of one: it leads, in a term of at least 1, and its high watermark
            // covers every record written so far (registration, the topic, ...).
            assert_eq!(
                (p.partition_index, p.error_code, p.leader_id.0),
                (0, 0, 1),
                "v{v}"
            );
            assert!(p.leader_epoch >= 1 && p.high_watermark >= 3, "v{v}: {p:?}");
            let voters: Vec<(i32, i64)> = p
                .current_voters
                .iter()
                .map(|r| (r.replica_id.0, r.log_end_offset))
                .collect();
            assert_eq!(voters.len(), 1, "v{v}");
            assert_eq!(voters[0].0, 1, "v{v}");
            assert!(p.observers.is_empty());
            // Only the metadata log can be described.
            let resp = c.call(v, &ask("matrix-dq")).await;
            assert_eq!(resp.error_code, code(ResponseError::InvalidRequest), "v{v}");
        }
    })
    .await;
}
