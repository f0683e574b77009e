//! DescribeConfigs: effective topic configs (with their source) and broker settings.

use std::sync::Arc;

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::{Call, Ctx, Handler, Reply};
use crate::cluster::topic_config::{self, ConfigSource, ConfigType};

/// The DescribeConfigs handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct DescribeConfigs;

impl Handler for DescribeConfigs {
    type Request = DescribeConfigsRequest;
    const VERSIONS: (i16, i16) = (1, 4);

    async fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: DescribeConfigsRequest,
    ) -> Reply<DescribeConfigsResponse> {
        Reply::Now(handle(ctx, call.version, req))
    }
}

/// Resource types (Kafka's `ConfigResource.Type` ids).
pub const RESOURCE_TOPIC: i8 = 2;
/// Broker resource.
pub const RESOURCE_BROKER: i8 = 4;

/// Answers a DescribeConfigs request.
pub fn handle(ctx: &Ctx, _version: i16, req: DescribeConfigsRequest) -> DescribeConfigsResponse {
    let results = req
        .resources
        .into_iter()
        .map(|r| {
            let result = DescribeConfigsResult::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone());
            let wanted = |name: &str| {
                r.configuration_keys
                    .as_ref()
                    .is_none_or(|keys| keys.iter().any(|k| k.as_str() == name))
            };
            // Synonyms, most specific first (Kafka: topic override, then the broker setting it falls back to).
            let entry = |name: &str,
                         value: String,
                         source: i8,
                         config_type: i8,
                         synonyms: Vec<(String, String, i8)>| {
                let value = Some(StrBytes::from_string(value));
                let synonyms = if req.include_synonyms {
                    synonyms
                        .into_iter()
                        .map(|(n, v, src)| {
                            DescribeConfigsSynonym::default()
                                .with_name(StrBytes::from_string(n))
                                .with_value(Some(StrBytes::from_string(v)))
                                .with_source(src)
                        })
                        .collect()
                } else {
                    vec![]
                };
                DescribeConfigsResourceResult::default()
                    .with_name(StrBytes::from_string(name.to_string()))
                    .with_value(value)
                    .with_config_source(source)
                    .with_config_type(config_type)
                    .with_synonyms(synonyms)
                    // Kafka sends null documentation unless asked; Weir has none to send.
                    .with_documentation(None)
            };
            match r.resource_type {
                RESOURCE_TOPIC => match ctx.cluster.topic(&r.resource_name) {
                    // Kafka sets only the code here; the message keeps its default.
                    None => result.with_error_code(ResponseError::UnknownTopicOrPartition.code()),
                    Some(meta) => result.with_configs(
                        topic_config::describe(ctx.cluster.log_defaults(), &meta.configs)
                            .into_iter()
                            .filter(|e| wanted(e.name))
                            .map(|e| {
                                let fallback = topic_config::broker_synonym(e.name).to_string();
                                let (broker_value, broker_source) = e.broker_value.clone();
                                let mut synonyms = Vec::new();
                                if e.source == ConfigSource::Topic {
                                    synonyms.push((
                                        e.name.to_string(),
                                        e.value.clone(),
                                        ConfigSource::Topic as i8,
                                    ));
                                }
                                if !fallback.is_empty() {
                                    synonyms.push((fallback, broker_value, broker_source as i8));
                                }
                                entry(
                                    e.name,
                                    e.value,
                                    e.source as i8,
                                    e.config_type as i8,
                                    synonyms,
                                )
                            })
                            .collect(),
                    ),
                },
                RESOURCE_BROKER => match broker_resource(ctx, r.resource_name.as_str()) {
                    Err(message) => result
                        .with_error_code(ResponseError::InvalidRequest.code())
                        .with_error_message(Some(StrBytes::from_string(message))),
                    // The empty name is the cluster-wide dynamic defaults: Weir has none.
                    Ok(false) => result,
                    Ok(true) => result.with_configs(
                        broker_entries(ctx)
                            .into_iter()
                            .filter(|e| wanted(&e.name))
                            .map(|e| {
                                // Kafka's `configSynonyms`: the static setting, then the default, each
                                // only when it has a value; the first one is the source.
                                let mut synonyms = Vec::new();
                                if e.is_set {
                                    synonyms.push((
                                        e.name.clone(),
                                        e.value.clone(),
                                        ConfigSource::Broker as i8,
                                    ));
                                }
                                if let Some(default) = &e.default {
                                    synonyms.push((
                                        e.name.clone(),
                                        default.clone(),
                                        ConfigSource::Default as i8,
                                    ));
                                }
                                let source = synonyms
                                    .first()
                                    .map_or(ConfigSource::Default as i8, |s| s.2);
                                // Broker settings are read from the config file only (no dynamic
                                // broker configs), so all are read-only.
                                entry(&e.name, e.value, source, e.config_type as i8, synonyms)
                                    .with_read_only(true)
                            })
                            .collect(),
                    ),
                },
                other => result
                    .with_error_code(ResponseError::InvalidRequest.code())
                    .with_error_message(Some(StrBytes::from_string(format!(
                        "Unsupported resource type {other}"
                    )))),
            }
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

/// Kafka's declared type of a broker setting Weir describes.
fn broker_config_type(name: &str) -> ConfigType {
    match name {
        "auto.create.topics.enable" | "acks.all.fsync" | "admin.console.write.enabled" => {
            ConfigType::Boolean
        }
        "listeners"
        | "advertised.listeners"
        | "log.dirs"
        | "log.cleanup.policy"
        | "group.consumer.assignors" => ConfigType::List,
        "group.consumer.migration.policy" => ConfigType::String,
        "group.consumer.session.timeout.ms" | "group.consumer.heartbeat.interval.ms" => {
            ConfigType::Int
        }
        n if n.ends_with(".ms")
            || n == "log.retention.bytes"
            || n == "log.flush.interval.messages"
            || n == "log.page.cache.window.bytes"
            || n == "offsets.retention.minutes" =>
        {
            ConfigType::Long
        }
        _ => ConfigType::Int,
    }
}

/// Which broker a BROKER resource names (Kafka's `ConfigHelper.describeConfigs`): `Ok(true)` for this
/// node, `Ok(false)` for the empty name (cluster-wide dynamic defaults), otherwise Kafka's message.
fn broker_resource(ctx: &Ctx, name: &str) -> Result<bool, String> {
    if name.is_empty() {
        return Ok(false);
    }
    let id: i32 = name
        .parse()
        .map_err(|_| format!("Broker id must be an integer, but it is: {name}"))?;
    if id != ctx.node.node_id {
        return Err(format!(
            "Unexpected broker id, expected {} or empty string, but received {name}",
            ctx.node.node_id
        ));
    }
    Ok(true)
}

/// One broker setting as DescribeConfigs shows it.
struct BrokerEntry {
    /// Kafka name.
    name: String,
    /// Effective value.
    value: String,
    /// The value when nothing sets it.
    default: Option<String>,
    /// Set in the config file, flags or `--set`.
    is_set: bool,
    config_type: ConfigType,
}

/// Every broker setting: Weir's own, then the broker-level fallbacks of topic configs that the config file
/// does not carry (e.g. `log.cleaner.delete.retention.ms`), so a topic config's broker synonym can always be
/// described on the broker too. Sorted by name.
fn broker_entries(ctx: &Ctx) -> Vec<BrokerEntry> {
    let defaults: std::collections::HashMap<String, String> = crate::config::Config::default()
        .describe()
        .into_iter()
        .map(|(k, v, _)| (k, v))
        .collect();
    let mut entries: std::collections::BTreeMap<String, BrokerEntry> = ctx
        .config
        .describe()
        .into_iter()
        .map(|(name, value, is_default)| {
            let entry = BrokerEntry {
                config_type: broker_config_type(&name),
                default: defaults.get(&name).cloned(),
                is_set: !is_default,
                name: name.clone(),
                value,
            };
            (name, entry)
        })
        .collect();
    let kafka_defaults = topic_config::describe(
        &crate::log::LogConfig::default(),
        &std::collections::BTreeMap::new(),
    );
    for (e, kafka) in topic_config::describe(ctx.cluster.log_defaults(), &Default::default())
        .into_iter()
        .zip(kafka_defaults)
    {
        let name = topic_config::broker_synonym(e.name);
        if name.is_empty() || entries.contains_key(name) {
            continue;
        }
        let (value, source) = e.broker_value;
        entries.insert(
            name.to_string(),
            BrokerEntry {
                name: name.to_string(),
                value,
                default: Some(kafka.broker_value.0),
                is_set: source == ConfigSource::Broker,
                config_type: e.config_type,
            },
        );
    }
    entries.into_values().collect()
}
