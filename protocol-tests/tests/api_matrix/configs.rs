//! DescribeConfigs, AlterConfigs, IncrementalAlterConfigs and DeleteRecords, every advertised version,
//! against Kafka's `ConfigHelper.describeConfigs` / `createTopicConfigEntry`, the KRaft controller's
//! config validation, and `ReplicaManager.deleteRecords`.

use super::*;
use kafka_protocol::messages::alter_configs_request::{AlterConfigsResource, AlterableConfig};
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult,
};
use kafka_protocol::messages::incremental_alter_configs_request as iac;
use kafka_protocol::messages::{
    AlterConfigsRequest, DeleteRecordsRequest, DescribeConfigsRequest,
    IncrementalAlterConfigsRequest,
};

/// `ConfigResource.Type.TOPIC`.
const TOPIC: i8 = 2;
/// `ConfigResource.Type.BROKER`.
const BROKER: i8 = 4;
/// `ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG`.
const SOURCE_TOPIC: i8 = 1;
/// `ConfigEntry.ConfigSource.STATIC_BROKER_CONFIG`.
const SOURCE_STATIC_BROKER: i8 = 4;
/// `ConfigEntry.ConfigSource.DEFAULT_CONFIG`.
const SOURCE_DEFAULT: i8 = 5;
/// `DescribeConfigsResponse.ConfigType` ids.
const TYPE_BOOLEAN: i8 = 1;
const TYPE_STRING: i8 = 2;
const TYPE_INT: i8 = 3;
const TYPE_LONG: i8 = 5;
const TYPE_DOUBLE: i8 = 6;
const TYPE_LIST: i8 = 7;
/// `AlterConfigOp.OpType` ids.
const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;
const OP_APPEND: i8 = 2;
const OP_SUBTRACT: i8 = 3;

/// Kafka's defaults for topic configs every broker lists (`LogConfig` / `ServerLogConfigs`), with their
/// `ConfigDef.Type`.
const KAFKA_TOPIC_DEFAULTS: &[(&str, &str, i8)] = &[
    ("cleanup.policy", "delete", TYPE_LIST),
    ("compression.type", "producer", TYPE_STRING),
    ("delete.retention.ms", "86400000", TYPE_LONG),
    ("file.delete.delay.ms", "60000", TYPE_LONG),
    ("flush.messages", "9223372036854775807", TYPE_LONG),
    ("flush.ms", "9223372036854775807", TYPE_LONG),
    ("index.interval.bytes", "4096", TYPE_INT),
    ("max.compaction.lag.ms", "9223372036854775807", TYPE_LONG),
    ("max.message.bytes", "1048588", TYPE_INT),
    ("message.timestamp.type", "CreateTime", TYPE_STRING),
    ("min.cleanable.dirty.ratio", "0.5", TYPE_DOUBLE),
    ("min.compaction.lag.ms", "0", TYPE_LONG),
    ("min.insync.replicas", "1", TYPE_INT),
    ("preallocate", "false", TYPE_BOOLEAN),
    ("retention.bytes", "-1", TYPE_LONG),
    ("retention.ms", "604800000", TYPE_LONG),
    ("segment.bytes", "1073741824", TYPE_INT),
    ("segment.index.bytes", "10485760", TYPE_INT),
    ("segment.jitter.ms", "0", TYPE_LONG),
    ("segment.ms", "604800000", TYPE_LONG),
    ("unclean.leader.election.enable", "false", TYPE_BOOLEAN),
];

pub(crate) fn describe_topic(
    topic: &str,
    keys: Option<&[&str]>,
    synonyms: bool,
) -> DescribeConfigsRequest {
    DescribeConfigsRequest::default()
        .with_include_synonyms(synonyms)
        .with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(TOPIC)
            .with_resource_name(str_bytes(topic))
            .with_configuration_keys(
                keys.map(|k| k.iter().map(|s| str_bytes(s)).collect()),
            )])
}

fn entry<'a>(r: &'a DescribeConfigsResult, name: &str) -> &'a DescribeConfigsResourceResult {
    r.configs
        .iter()
        .find(|c| c.name.as_str() == name)
        .unwrap_or_else(|| panic!("{name} is described"))
}

/// Effective value of one topic config (DescribeConfigs v4).
async fn topic_value(c: &mut Client, topic: &str, name: &str) -> (Option<String>, i8) {
    let resp = c
        .call(4, &describe_topic(topic, Some(&[name]), false))
        .await;
    let r = &resp.results[0];
    assert_eq!(r.error_code, 0, "describe {topic}");
    let e = entry(r, name);
    (e.value.as_ref().map(|v| v.to_string()), e.config_source)
}

#[tokio::test]
async fn matrix_describe_configs() {
    bounded(Duration::from_secs(20), async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        c.create_topic_with_configs("matrix-dc", 1, &[("retention.ms", "123456")])
            .await;
        for v in advertised(ApiKey::DescribeConfigs) {
            eprintln!("case DescribeConfigs v{v}");
            for synonyms in [false, true] {
                let resp = c
                    .call(v, &describe_topic("matrix-dc", None, synonyms))
                    .await;
                assert_eq!(resp.throttle_time_ms, 0, "v{v} throttle");
                assert_eq!(resp.results.len(), 1);
                let r = &resp.results[0];
                assert_eq!(r.error_code, 0, "v{v} error");
                assert_eq!(
                    r.error_message.as_deref(),
                    Some(""),
                    "v{v} error message: Kafka leaves the schema default (\"\")"
                );
                assert_eq!(r.resource_type, TOPIC, "v{v} resource type");
                assert_eq!(r.resource_name.as_str(), "matrix-dc", "v{v} resource name");
                let mut names: Vec<&str> = r.configs.iter().map(|c| c.name.as_str()).collect();
                let n = names.len();
                names.sort();
                names.dedup();
                assert_eq!(names.len(), n, "v{v}: each config once");
                for c in &r.configs {
                    let name = c.name.as_str();
                    assert!(c.value.is_some(), "v{v} {name}: value (nothing sensitive)");
                    assert!(
                        !c.read_only,
                        "v{v} {name}: topic configs are never read-only"
                    );
                    assert!(!c.is_sensitive, "v{v} {name}: not sensitive");
                    if v >= 3 {
                        assert_ne!(c.config_type, 0, "v{v} {name}: config type known");
                    }
                    if !synonyms {
                        assert!(c.synonyms.is_empty(), "v{v} {name}: synonyms not requested");
                    }
                }
                let over = entry(r, "retention.ms");
                assert_eq!(over.value.as_deref(), Some("123456"), "v{v} override value");
                assert_eq!(over.config_source, SOURCE_TOPIC, "v{v} override source");
                if synonyms {
                    let s = over.synonyms.first().expect("override synonym first");
                    assert_eq!(
                        (s.name.as_str(), s.value.as_deref(), s.source),
                        ("retention.ms", Some("123456"), SOURCE_TOPIC),
                        "v{v} first synonym of an override is the topic config itself"
                    );
                }
                for (name, value, ty) in KAFKA_TOPIC_DEFAULTS {
                    if *name == "retention.ms" {
                        assert_eq!(over.config_type, if v >= 3 { *ty } else { 0 }, "v{v} type");
                        continue;
                    }
                    let e = entry(r, name);
                    assert_eq!(
                        e.value.as_deref(),
                        Some(*value),
                        "v{v} {name} default value"
                    );
                    assert_eq!(e.config_source, SOURCE_DEFAULT, "v{v} {name} source");
                    if v >= 3 {
                        assert_eq!(e.config_type, *ty, "v{v} {name} config type");
                    }
                    if synonyms {
                        assert!(
                            e.synonyms.iter().all(|s| s.source != SOURCE_TOPIC),
                            "v{v} {name}: no topic-level synonym for a default"
                        );
                    }
                }
            }
            // Only the requested keys.
            let resp = c
                .call(
                    v,
                    &describe_topic(
                        "matrix-dc",
                        Some(&["segment.bytes", "cleanup.policy"]),
                        false,
                    ),
                )
                .await;
            let mut got: Vec<&str> = resp.results[0]
                .configs
                .iter()
                .map(|c| c.name.as_str())
                .collect();
            got.sort();
            assert_eq!(
                got,
                vec!["cleanup.policy", "segment.bytes"],
                "v{v} configuration_keys filter"
            );
            // Unknown topic.
            let resp = c
                .call(v, &describe_topic("matrix-dc-missing", None, false))
                .await;
            let r = &resp.results[0];
            assert_eq!(
                r.error_code,
                code(ResponseError::UnknownTopicOrPartition),
                "v{v} unknown topic"
            );
            assert_eq!(
                r.resource_name.as_str(),
                "matrix-dc-missing",
                "v{v} unknown name"
            );
            assert_eq!(r.resource_type, TOPIC);
            assert!(r.configs.is_empty(), "v{v} unknown topic has no configs");
            // This broker.
            let req = DescribeConfigsRequest::default().with_resources(vec![
                DescribeConfigsResource::default()
                    .with_resource_type(BROKER)
                    .with_resource_name(str_bytes("1"))
                    .with_configuration_keys(None),
            ]);
            let resp = c.call(v, &req).await;
            let r = &resp.results[0];
            assert_eq!(r.error_code, 0, "v{v} broker error {:?}", r.error_message);
            assert_eq!(r.resource_type, BROKER);
            assert_eq!(r.resource_name.as_str(), "1");
            let seg = entry(r, "log.segment.bytes");
            assert_eq!(
                seg.value.as_deref(),
                Some("1073741824"),
                "v{v} log.segment.bytes"
            );
            assert_eq!(
                seg.config_source, SOURCE_DEFAULT,
                "v{v} log.segment.bytes source"
            );
            let dirs = entry(r, "log.dirs");
            assert_eq!(
                dirs.config_source, SOURCE_STATIC_BROKER,
                "v{v} log.dirs is set statically"
            );
            // Another broker id.
            let req = DescribeConfigsRequest::default().with_resources(vec![
                DescribeConfigsResource::default()
                    .with_resource_type(BROKER)
                    .with_resource_name(str_bytes("7"))
                    .with_configuration_keys(None),
            ]);
            let resp = c.call(v, &req).await;
            assert_eq!(
                resp.results[0].error_code,
                code(ResponseError::InvalidRequest),
                "v{v} other broker id"
            );
        }
        broker.shutdown().await;
    })
    .await;
}

/// Kafka (`createTopicConfigEntry`) sets documentation only when `include_documentation` (v3+) asks for it;
/// otherwise it is null.
#[tokio::test]
async fn describe_configs_documentation_is_null_unless_requested() {
    bounded(Duration::from_secs(10), async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        c.create_topic("dc-doc", 1).await;
        for v in 3..=4 {
            let resp = c.call(v, &describe_topic("dc-doc", None, false)).await;
            for e in &resp.results[0].configs {
                assert_eq!(e.documentation, None, "v{v} {}", e.name.as_str());
            }
        }
        broker.shutdown().await;
    })
    .await;
}

/// Kafka (`ConfigHelper.describeConfigs`) sets no error message for an unknown topic, so it keeps the
/// schema default, the empty string.
#[tokio::test]
async fn describe_configs_unknown_topic_has_empty_message_like_kafka() {
    bounded(Duration::from_secs(10), async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        let resp = c.call(4, &describe_topic("dc-missing", None, false)).await;
        let r = &resp.results[0];
        assert_eq!(r.error_code, code(ResponseError::UnknownTopicOrPartition));
        assert_eq!(
            r.error_message.as_deref(),
            Some(""),
            "Kafka leaves the schema default"
        );
        broker.shutdown().await;
    })
    .await;
}

/// Kafka (`createTopicConfigEntry` + `configSynonyms`) lists a topic config's synonyms as the topic
/// override (if any) followed by the broker configs it falls back to; a default topic config never has a
/// synonym carrying the topic config's own name when the broker name differs (`segment.bytes` →
/// `log.segment.bytes`).
#[tokio::test]
async fn describe_configs_synonyms_name_the_broker_fallback_like_kafka() {
    bounded(Duration::from_secs(10), async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        c.create_topic_with_configs("dc-syn", 1, &[("segment.bytes", "1048576")])
            .await;
        c.create_topic("dc-syn-default", 1).await;
        let syn = |r: &DescribeConfigsResult| -> Vec<(String, Option<String>, i8)> {
            entry(r, "segment.bytes")
                .synonyms
                .iter()
                .map(|s| {
                    (
                        s.name.to_string(),
                        s.value.as_ref().map(|v| v.to_string()),
                        s.source,
                    )
                })
                .collect()
        };
        let broker_default = (
            "log.segment.bytes".to_string(),
            Some("1073741824".to_string()),
            SOURCE_DEFAULT,
        );
        let resp = c
            .call(4, &describe_topic("dc-syn", Some(&["segment.bytes"]), true))
            .await;
        assert_eq!(
            syn(&resp.results[0]),
            vec![
                (
                    "segment.bytes".to_string(),
                    Some("1048576".to_string()),
                    SOURCE_TOPIC
                ),
                broker_default.clone()
            ],
            "override: topic config, then the broker fallback"
        );
        let resp = c
            .call(
                4,
                &describe_topic("dc-syn-default", Some(&["segment.bytes"]), true),
            )
            .await;
        assert_eq!(
            syn(&resp.results[0]),
            vec![broker_default],
            "default: the broker config only"
        );
        broker.shutdown().await;
    })
    .await;
}

/// Kafka describes broker configs with their `ConfigDef.Type` (v3+), e.g. `log.segment.bytes` is INT and
/// `auto.create.topics.enable` BOOLEAN.
#[tokio::test]
async fn describe_configs_broker_config_types_like_kafka() {
    bounded(Duration::from_secs(10), async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        let req = DescribeConfigsRequest::default().with_resources(vec![
            DescribeConfigsResource::default()
                .with_resource_type(BROKER)
                .with_resource_name(str_bytes("1"))
                .with_configuration_keys(None),
        ]);
        let resp = c.call(4, &req).await;
        let r = &resp.results[0];
        for (name, ty) in [
            ("log.segment.bytes", TYPE_INT),
            ("num.partitions", TYPE_INT),
            ("auto.create.topics.enable", TYPE_BOOLEAN),
            ("log.retention.bytes", TYPE_LONG),
            ("log.cleanup.policy", TYPE_LIST),
        ] {
            assert_eq!(entry(r, name).config_type, ty, "{name} config type");
        }
        broker.shutdown().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------- AlterConfigs

fn alter(topic: &str, configs: &[(&str, &str)], validate_only: bool) -> AlterConfigsRequest {
    AlterConfigsRequest::default()
        .with_validate_only(validate_only)
        .with_resources(vec![AlterConfigsResource::default()
            .with_resource_type(TOPIC)
            .with_resource_name(str_bytes(topic))
            .with_configs(
                configs
                    .iter()
                    .map(|(k, v)| {
                        AlterableConfig::default()
                            .with_name(str_bytes(k))
                            .with_value(Some(str_bytes(v)))
                    })
                    .collect(),
            )])
}

#[tokio::test]
async fn matrix_alter_configs() {
    bounded(Duration::from_secs(20), async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        for v in advertised(ApiKey::AlterConfigs) {
            eprintln!("case AlterConfigs v{v}");
            let topic = format!("matrix-ac-v{v}");
            c.create_topic_with_configs(&topic, 1, &[("segment.ms", "3600000")])
                .await;
            // validate_only changes nothing.
            let resp = c
                .call(v, &alter(&topic, &[("retention.ms", "5000")], true))
                .await;
            assert_eq!(resp.throttle_time_ms, 0, "v{v} throttle");
            assert_eq!(resp.responses.len(), 1);
            let r = &resp.responses[0];
            assert_eq!(r.error_code, 0, "v{v} validate error {:?}", r.error_message);
            assert_eq!(r.error_message, None, "v{v} message");
            assert_eq!(r.resource_type, TOPIC);
            assert_eq!(r.resource_name.as_str(), topic);
            assert_eq!(
                topic_value(&mut c, &topic, "retention.ms").await,
                (Some("604800000".into()), SOURCE_DEFAULT),
                "v{v} validate_only left retention.ms alone"
            );
            // A real change replaces the whole set of overrides.
            let resp = c
                .call(v, &alter(&topic, &[("retention.ms", "5000")], false))
                .await;
            let r = &resp.responses[0];
            assert_eq!(r.error_code, 0, "v{v} error {:?}", r.error_message);
            assert_eq!(r.error_message, None, "v{v} message");
            assert_eq!(
                topic_value(&mut c, &topic, "retention.ms").await,
                (Some("5000".into()), SOURCE_TOPIC),
                "v{v} retention.ms set"
            );
            assert_eq!(
                topic_value(&mut c, &topic, "segment.ms").await,
                (Some("604800000".into()), SOURCE_DEFAULT),
                "v{v} AlterConfigs dropped the segment.ms override"
            );
            // Bad value, unknown name: INVALID_CONFIG, nothing changes.
            for bad in [("retention.ms", "soon"), ("no.such.config", "1")] {
                let resp = c.call(v, &alter(&topic, &[bad], false)).await;
                let r = &resp.responses[0];
                assert_eq!(
                    r.error_code,
                    code(ResponseError::InvalidConfig),
                    "v{v} {bad:?}"
                );
                assert!(r.error_message.is_some(), "v{v} {bad:?} says why");
                assert_eq!(
                    topic_value(&mut c, &topic, "retention.ms")
                        .await
                        .0
                        .as_deref(),
                    Some("5000"),
                    "v{v} {bad:?} changed nothing"
                );
            }
            // Unknown topic.
            let resp = c
                .call(
                    v,
                    &alter("matrix-ac-missing", &[("retention.ms", "1")], false),
                )
                .await;
            assert_eq!(
                resp.responses[0].error_code,
                code(ResponseError::UnknownTopicOrPartition),
                "v{v} unknown topic"
            );
        }
        broker.shutdown().await;
    })
    .await;
}

fn incremental(
    topic: &str,
    ops: &[(&str, i8, Option<&str>)],
    validate_only: bool,
) -> IncrementalAlterConfigsRequest {
    IncrementalAlterConfigsRequest::default()
        .with_validate_only(validate_only)
        .with_resources(vec![iac::AlterConfigsResource::default()
            .with_resource_type(TOPIC)
            .with_resource_name(str_bytes(topic))
            .with_configs(
                ops.iter()
                    .map(|(k, op, v)| {
                        iac::AlterableConfig::default()
                            .with_name(str_bytes(k))
                            .with_config_operation(*op)
                            .with_value(v.map(str_bytes))
                    })
                    .collect(),
            )])
}

#[tokio::test]
async fn matrix_incremental_alter_configs() {
    bounded(Duration::from_secs(20), async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        for v in advertised(ApiKey::IncrementalAlterConfigs) {
            eprintln!("case IncrementalAlterConfigs v{v}");
            let topic = format!("matrix-iac-v{v}");
            c.create_topic_with_configs(&topic, 1, &[("segment.ms", "3600000")])
                .await;
            let ok = |resp: &kafka_protocol::messages::IncrementalAlterConfigsResponse,
                      what: &str| {
                assert_eq!(resp.throttle_time_ms, 0, "v{v} {what} throttle");
                assert_eq!(resp.responses.len(), 1);
                let r = &resp.responses[0];
                assert_eq!(r.error_code, 0, "v{v} {what}: {:?}", r.error_message);
                assert_eq!(r.error_message, None, "v{v} {what} message");
                assert_eq!(r.resource_type, TOPIC);
                assert_eq!(r.resource_name.as_str(), topic);
            };
            // validate_only.
            let resp = c
                .call(
                    v,
                    &incremental(&topic, &[("retention.ms", OP_SET, Some("7000"))], true),
                )
                .await;
            ok(&resp, "validate_only SET");
            assert_eq!(
                topic_value(&mut c, &topic, "retention.ms").await.1,
                SOURCE_DEFAULT,
                "v{v} validate_only changed nothing"
            );
            // SET keeps other overrides.
            let resp = c
                .call(
                    v,
                    &incremental(&topic, &[("retention.ms", OP_SET, Some("7000"))], false),
                )
                .await;
            ok(&resp, "SET");
            assert_eq!(
                topic_value(&mut c, &topic, "retention.ms").await,
                (Some("7000".into()), SOURCE_TOPIC),
                "v{v} SET"
            );
            assert_eq!(
                topic_value(&mut c, &topic, "segment.ms").await,
                (Some("3600000".into()), SOURCE_TOPIC),
                "v{v} SET kept the other override"
            );
            // DELETE reverts to the default.
            let resp = c
                .call(
                    v,
                    &incremental(&topic, &[("segment.ms", OP_DELETE, None)], false),
                )
                .await;
            ok(&resp, "DELETE");
            assert_eq!(
                topic_value(&mut c, &topic, "segment.ms").await,
                (Some("604800000".into()), SOURCE_DEFAULT),
                "v{v} DELETE"
            );
            // APPEND / SUBTRACT on a list config.
            let resp = c
                .call(
                    v,
                    &incremental(
                        &topic,
                        &[("cleanup.policy", OP_APPEND, Some("compact"))],
                        false,
                    ),
                )
                .await;
            ok(&resp, "APPEND");
            assert_eq!(
                topic_value(&mut c, &topic, "cleanup.policy").await,
                (Some("delete,compact".into()), SOURCE_TOPIC),
                "v{v} APPEND to the default list"
            );
            let resp = c
                .call(
                    v,
                    &incremental(
                        &topic,
                        &[("cleanup.policy", OP_SUBTRACT, Some("delete"))],
                        false,
                    ),
                )
                .await;
            ok(&resp, "SUBTRACT");
            assert_eq!(
                topic_value(&mut c, &topic, "cleanup.policy").await,
                (Some("compact".into()), SOURCE_TOPIC),
                "v{v} SUBTRACT"
            );
            // Errors: bad value, unknown name, APPEND to a non-list config.
            for (what, op) in [
                ("bad value", ("retention.ms", OP_SET, Some("soon"))),
                ("unknown name", ("no.such.config", OP_SET, Some("1"))),
                ("APPEND to a LONG", ("retention.ms", OP_APPEND, Some("1"))),
            ] {
                let resp = c.call(v, &incremental(&topic, &[op], false)).await;
                let r = &resp.responses[0];
                assert_eq!(
                    r.error_code,
                    code(ResponseError::InvalidConfig),
                    "v{v} {what}"
                );
                assert!(r.error_message.is_some(), "v{v} {what} says why");
                assert_eq!(
                    topic_value(&mut c, &topic, "retention.ms")
                        .await
                        .0
                        .as_deref(),
                    Some("7000"),
                    "v{v} {what} changed nothing"
                );
            }
            let resp = c
                .call(
                    v,
                    &incremental(
                        "matrix-iac-missing",
                        &[("retention.ms", OP_SET, Some("1"))],
                        false,
                    ),
                )
                .await;
            assert_eq!(
                resp.responses[0].error_code,
                code(ResponseError::UnknownTopicOrPartition),
                "v{v} unknown topic"
            );
        }
        broker.shutdown().await;
    })
    .await;
}

// --------------------------------------------------------------------------------------- DeleteRecords

fn delete_records(topic: &str, partitions: &[(i32, i64)]) -> DeleteRecordsRequest {
    DeleteRecordsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![DeleteRecordsTopic::default()
            .with_name(topic_name(topic))
            .with_partitions(
                partitions
                    .iter()
                    .map(|(p, o)| {
                        DeleteRecordsPartition::default()
                            .with_partition_index(*p)
                            .with_offset(*o)
                    })
                    .collect(),
            )])
}

#[tokio::test]
async fn matrix_delete_records() {
    bounded(Duration::from_secs(20), async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        for v in advertised(ApiKey::DeleteRecords) {
            eprintln!("case DeleteRecords v{v}");
            let topic = format!("matrix-dr-v{v}");
            let id = c.create_topic(&topic, 2).await;
            for i in 0..4 {
                let b = value_batch(&format!("b{i}"), 3, 1_000 + i);
                assert_eq!(c.produce(&topic, 0, b).await.error_code, 0);
            }
            assert_eq!(
                c.produce(&topic, 1, value_batch("q", 2, 1_000))
                    .await
                    .error_code,
                0
            );
            // Partition 0: to offset 4 (inside the second batch). Partition 1: -1 = high watermark.
            let resp = c.call(v, &delete_records(&topic, &[(0, 4), (1, -1)])).await;
            assert_eq!(resp.throttle_time_ms, 0, "v{v} throttle");
            assert_eq!(resp.topics.len(), 1);
            let t = &resp.topics[0];
            assert_eq!(t.name.as_str(), topic, "v{v} name");
            let mut parts: Vec<(i32, i64, i16)> = t
                .partitions
                .iter()
                .map(|p| (p.partition_index, p.low_watermark, p.error_code))
                .collect();
            parts.sort();
            assert_eq!(parts, vec![(0, 4, 0), (1, 2, 0)], "v{v} low watermarks");
            // The new log start shows in ListOffsets and Fetch.
            let lo = c.call(10, &list_offsets(&topic, -2)).await;
            assert_eq!(
                lo.topics[0].partitions[0].offset, 4,
                "v{v} earliest is the new log start"
            );
            let resp = c.call(18, &fetch_by_version(18, &topic, id, 4)).await;
            let p = &resp.responses[0].partitions[0];
            assert_eq!(p.error_code, 0, "v{v} fetch at the new start");
            assert_eq!(p.log_start_offset, 4, "v{v} fetch log start");
            let offsets: Vec<i64> = decode_batches(&p.records.clone().expect("records"))
                .iter()
                .flat_map(|s| s.records.iter().map(|r| r.offset))
                .filter(|o| *o >= 4)
                .collect();
            assert_eq!(
                offsets,
                (4..12).collect::<Vec<_>>(),
                "v{v} records from 4 on"
            );
            let resp = c.call(18, &fetch_by_version(18, &topic, id, 2)).await;
            let p = &resp.responses[0].partitions[0];
            assert_eq!(
                p.error_code,
                code(ResponseError::OffsetOutOfRange),
                "v{v} fetch below the log start"
            );
            // Moving backwards keeps the low watermark.
            let resp = c.call(v, &delete_records(&topic, &[(0, 1)])).await;
            let p = &resp.topics[0].partitions[0];
            assert_eq!(
                (p.low_watermark, p.error_code),
                (4, 0),
                "v{v} backwards is a no-op"
            );
            // Beyond the high watermark.
            let resp = c.call(v, &delete_records(&topic, &[(0, 13)])).await;
            let p = &resp.topics[0].partitions[0];
            assert_eq!(
                (p.partition_index, p.low_watermark, p.error_code),
                (0, -1, code(ResponseError::OffsetOutOfRange)),
                "v{v} beyond the high watermark"
            );
            // Unknown partition and topic.
            let resp = c.call(v, &delete_records(&topic, &[(5, 0)])).await;
            let p = &resp.topics[0].partitions[0];
            assert_eq!(
                (p.partition_index, p.low_watermark, p.error_code),
                (5, -1, code(ResponseError::UnknownTopicOrPartition)),
                "v{v} unknown partition"
            );
            let resp = c
                .call(v, &delete_records("matrix-dr-missing", &[(0, 0)]))
                .await;
            assert_eq!(resp.topics[0].name.as_str(), "matrix-dr-missing");
            let p = &resp.topics[0].partitions[0];
            assert_eq!(
                (p.partition_index, p.low_watermark, p.error_code),
                (0, -1, code(ResponseError::UnknownTopicOrPartition)),
                "v{v} unknown topic"
            );
        }
        broker.shutdown().await;
    })
    .await;
}
