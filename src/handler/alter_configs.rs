//! AlterConfigs (replace all overrides) and IncrementalAlterConfigs (set/delete/append/subtract) on topics.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::{
    alter_configs_response, incremental_alter_configs_response, AlterConfigsRequest,
    AlterConfigsResponse, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::describe_configs::{RESOURCE_BROKER, RESOURCE_TOPIC};
use super::errors::cluster_error_code;
use super::{Call, Ctx, Handler, Reply};

/// The AlterConfigs handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct AlterConfigs;

impl Handler for AlterConfigs {
    type Request = AlterConfigsRequest;
    const VERSIONS: (i16, i16) = (0, 2);

    async fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: AlterConfigsRequest,
    ) -> Reply<AlterConfigsResponse> {
        Reply::Now(handle_alter(ctx, call.version, req))
    }
}
/// The IncrementalAlterConfigs handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct IncrementalAlterConfigs;

impl Handler for IncrementalAlterConfigs {
    type Request = IncrementalAlterConfigsRequest;
    const VERSIONS: (i16, i16) = (0, 1);

    async fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: IncrementalAlterConfigsRequest,
    ) -> Reply<IncrementalAlterConfigsResponse> {
        Reply::Now(handle_incremental(ctx, call.version, req))
    }
}

/// Incremental operations (Kafka's `AlterConfigOp.OpType` ids).
const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;
const OP_APPEND: i8 = 2;
const OP_SUBTRACT: i8 = 3;

/// Error code and message for one resource.
type Outcome = (i16, Option<String>);

/// Answers AlterConfigs: the given configs replace every override of the topic.
pub fn handle_alter(ctx: &Ctx, _version: i16, req: AlterConfigsRequest) -> AlterConfigsResponse {
    let responses = req
        .resources
        .into_iter()
        .map(|r| {
            let outcome = match check_resource(r.resource_type) {
                Err(o) => o,
                Ok(()) => {
                    let mut configs = BTreeMap::new();
                    let mut bad = None;
                    for c in r.configs {
                        match c.value {
                            Some(v) => {
                                configs.insert(c.name.to_string(), v.to_string());
                            }
                            None => {
                                bad = Some(format!(
                                    "Null value not supported for : {}",
                                    c.name.as_str()
                                ))
                            }
                        }
                    }
                    match bad {
                        Some(msg) => (ResponseError::InvalidRequest.code(), Some(msg)),
                        None => apply(ctx, &r.resource_name, configs, req.validate_only),
                    }
                }
            };
            alter_configs_response::AlterConfigsResourceResponse::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name)
                .with_error_code(outcome.0)
                .with_error_message(outcome.1.map(StrBytes::from_string))
        })
        .collect();
    AlterConfigsResponse::default().with_responses(responses)
}

/// Answers IncrementalAlterConfigs: each op edits the topic's current overrides.
pub fn handle_incremental(
    ctx: &Ctx,
    _version: i16,
    req: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let responses = req
        .resources
        .into_iter()
        .map(|r| {
            let outcome = match check_resource(r.resource_type) {
                Err(o) => o,
                Ok(()) => match ctx.cluster.topic(&r.resource_name) {
                    None => (ResponseError::UnknownTopicOrPartition.code(), None),
                    Some(meta) => {
                        let mut configs = meta.configs.clone();
                        let mut failure = None;
                        for c in &r.configs {
                            if let Err(msg) = edit(
                                &mut configs,
                                c.name.as_str(),
                                c.config_operation,
                                c.value.as_deref(),
                            ) {
                                failure = Some((ResponseError::InvalidConfig.code(), Some(msg)));
                                break;
                            }
                        }
                        failure.unwrap_or_else(|| {
                            apply(ctx, &r.resource_name, configs, req.validate_only)
                        })
                    }
                },
            };
            incremental_alter_configs_response::AlterConfigsResourceResponse::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name)
                .with_error_code(outcome.0)
                .with_error_message(outcome.1.map(StrBytes::from_string))
        })
        .collect();
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

fn check_resource(resource_type: i8) -> Result<(), Outcome> {
    match resource_type {
        RESOURCE_TOPIC => Ok(()),
        RESOURCE_BROKER => Err((
            ResponseError::InvalidRequest.code(),
            Some("Dynamic broker configs are not supported; set them in the config file".into()),
        )),
        other => Err((
            ResponseError::InvalidRequest.code(),
            Some(format!("Unsupported resource type {other}")),
        )),
    }
}

fn apply(
    ctx: &Ctx,
    topic: &str,
    configs: BTreeMap<String, String>,
    validate_only: bool,
) -> Outcome {
    match ctx
        .cluster
        .alter_topic_configs(topic, configs, validate_only)
    {
        Ok(()) => (0, None),
        Err(e) => (cluster_error_code(&e), Some(e.to_string())),
    }
}

/// Applies one incremental op; APPEND/SUBTRACT work on list-valued configs (comma-separated).
fn edit(
    configs: &mut BTreeMap<String, String>,
    name: &str,
    op: i8,
    value: Option<&str>,
) -> Result<(), String> {
    const LIST_CONFIGS: &[&str] = &["cleanup.policy"];
    match op {
        OP_SET => {
            let v = value.ok_or_else(|| format!("Null value not supported for : {name}"))?;
            configs.insert(name.to_string(), v.to_string());
        }
        OP_DELETE => {
            configs.remove(name);
        }
        OP_APPEND | OP_SUBTRACT => {
            if !LIST_CONFIGS.contains(&name) {
                return Err(format!(
                    "Config value append/subtract is not allowed for config key {name}"
                ));
            }
            let current = configs
                .get(name)
                .cloned()
                .unwrap_or_else(|| "delete".to_string());
            let mut items: Vec<String> = current
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            for v in value
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                if op == OP_APPEND && !items.iter().any(|i| i == v) {
                    items.push(v.to_string());
                }
                if op == OP_SUBTRACT {
                    items.retain(|i| i != v);
                }
            }
            configs.insert(name.to_string(), items.join(","));
        }
        other => return Err(format!("Unknown config operation {other}")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incremental_ops() {
        let mut m = BTreeMap::new();
        edit(&mut m, "retention.ms", OP_SET, Some("5")).unwrap();
        assert_eq!(m["retention.ms"], "5");
        edit(&mut m, "cleanup.policy", OP_APPEND, Some("compact")).unwrap();
        assert_eq!(m["cleanup.policy"], "delete,compact");
        edit(&mut m, "cleanup.policy", OP_SUBTRACT, Some("delete")).unwrap();
        assert_eq!(m["cleanup.policy"], "compact");
        edit(&mut m, "retention.ms", OP_DELETE, None).unwrap();
        assert!(!m.contains_key("retention.ms"));
        assert!(edit(&mut m, "retention.ms", OP_APPEND, Some("1")).is_err());
    }
}
