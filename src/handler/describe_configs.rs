//! DescribeConfigs: effective topic configs (with their source) and broker settings.

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::Ctx;
use crate::cluster::topic_config::{self, ConfigSource, ConfigType};

/// Versions served.
pub const VERSIONS: (i16, i16) = (1, 4);

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
            let entry = |name: &str, value: String, source: i8, config_type: i8| {
                let value = Some(StrBytes::from_string(value));
                let synonyms = if req.include_synonyms {
                    vec![DescribeConfigsSynonym::default()
                        .with_name(StrBytes::from_string(name.to_string()))
                        .with_value(value.clone())
                        .with_source(source)]
                } else {
                    vec![]
                };
                DescribeConfigsResourceResult::default()
                    .with_name(StrBytes::from_string(name.to_string()))
                    .with_value(value)
                    .with_config_source(source)
                    .with_config_type(config_type)
                    .with_synonyms(synonyms)
            };
            match r.resource_type {
                RESOURCE_TOPIC => match ctx.cluster.topic(&r.resource_name) {
                    None => result
                        .with_error_code(ResponseError::UnknownTopicOrPartition.code())
                        .with_error_message(Some(StrBytes::from_static_str(
                            "The topic does not exist.",
                        ))),
                    Some(meta) => result.with_configs(
                        topic_config::describe(ctx.cluster.log_defaults(), &meta.configs)
                            .into_iter()
                            .filter(|e| wanted(e.name))
                            .map(|e| entry(e.name, e.value, e.source as i8, e.config_type as i8))
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
                                entry(&k, v, source as i8, ConfigType::String as i8)
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
