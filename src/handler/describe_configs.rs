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
                RESOURCE_BROKER => {
                    let name = r.resource_name.as_str();
                    if !name.is_empty() && name != ctx.node.node_id.to_string() {
                        return result
                            .with_error_code(ResponseError::InvalidRequest.code())
                            .with_error_message(Some(StrBytes::from_string(format!(
                                "Unknown broker {name}"
                            ))));
                    }
                    result.with_configs(
                        ctx.config
                            .describe()
                            .into_iter()
                            .filter(|(k, _, _)| wanted(k))
                            .map(|(k, v, is_default)| {
                                let source = if is_default {
                                    ConfigSource::Default
                                } else {
                                    ConfigSource::Broker
                                };
                                let synonyms = vec![(k.clone(), v.clone(), source as i8)];
                                entry(&k, v, source as i8, broker_config_type(&k) as i8, synonyms)
                            })
                            .collect(),
                    )
                }
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
        "auto.create.topics.enable" | "acks.all.fsync" => ConfigType::Boolean,
        "listeners" | "advertised.listeners" | "log.dirs" | "log.cleanup.policy" => {
            ConfigType::List
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
