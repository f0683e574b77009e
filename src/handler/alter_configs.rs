//! AlterConfigs (replace all overrides) and IncrementalAlterConfigs (set/delete/append/subtract) on topics.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::{
    alter_configs_response, incremental_alter_configs_request, incremental_alter_configs_response,
    AlterConfigsRequest, AlterConfigsResponse, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
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
        Reply::Now(handle_alter(ctx, call.version, req).await)
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
        Reply::Now(handle_incremental(ctx, call.version, req).await)
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
pub async fn handle_alter(
    ctx: &Ctx,
    _version: i16,
    req: AlterConfigsRequest,
) -> AlterConfigsResponse {
    let mut responses = Vec::with_capacity(req.resources.len());
    for r in req.resources {
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
                    None => apply(ctx, &r.resource_name, configs, req.validate_only).await,
                }
            }
        };
        responses.push(
            alter_configs_response::AlterConfigsResourceResponse::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name)
                .with_error_code(outcome.0)
                .with_error_message(outcome.1.map(StrBytes::from_string)),
        );
    }
    AlterConfigsResponse::default().with_responses(responses)
}

/// Answers IncrementalAlterConfigs: each op edits the topic's current overrides, after Kafka's
/// `ConfigAdminManager.preprocess` checks (a resource at most once, a key at most once per resource, a value
/// for every op but DELETE), all as INVALID_REQUEST.
pub async fn handle_incremental(
    ctx: &Ctx,
    _version: i16,
    req: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let mut seen = std::collections::HashSet::new();
    let repeated: std::collections::HashSet<(i8, String)> = req
        .resources
        .iter()
        .map(|r| (r.resource_type, r.resource_name.to_string()))
        .filter(|key| !seen.insert(key.clone()))
        .collect();
    let mut responses = Vec::with_capacity(req.resources.len());
    for r in req.resources {
        let outcome = if repeated.contains(&(r.resource_type, r.resource_name.to_string())) {
            invalid_request("Each resource must appear at most once.")
        } else {
            match check_resource(r.resource_type).and_then(|()| preprocess(&r.configs)) {
                Err(o) => o,
                Ok(()) => alter_incrementally(ctx, &r, req.validate_only).await,
            }
        };
        responses.push(
            incremental_alter_configs_response::AlterConfigsResourceResponse::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name)
                .with_error_code(outcome.0)
                .with_error_message(outcome.1.map(StrBytes::from_string)),
        );
    }
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

fn invalid_request(message: &str) -> Outcome {
    (
        ResponseError::InvalidRequest.code(),
        Some(message.to_string()),
    )
}

/// Kafka's request-level checks of one resource's ops.
fn preprocess(
    configs: &[incremental_alter_configs_request::AlterableConfig],
) -> Result<(), Outcome> {
    if !super::repeated_names(configs.iter().map(|c| c.name.as_str())).is_empty() {
        return Err(invalid_request("Error due to duplicate config keys"));
    }
    let null_updates: Vec<&str> = configs
        .iter()
        .filter(|c| c.config_operation != OP_DELETE && c.value.is_none())
        .map(|c| c.name.as_str())
        .collect();
    if !null_updates.is_empty() {
        return Err(invalid_request(&format!(
            "Null value not supported for : {}",
            null_updates.join(", ")
        )));
    }
    Ok(())
}

/// Applies every op of one topic resource to its current overrides, then validates and stores the result.
async fn alter_incrementally(
    ctx: &Ctx,
    r: &incremental_alter_configs_request::AlterConfigsResource,
    validate_only: bool,
) -> Outcome {
    let Some(meta) = ctx.cluster.topic(&r.resource_name) else {
        return (ResponseError::UnknownTopicOrPartition.code(), None);
    };
    let mut configs = meta.configs.clone();
    for c in &r.configs {
        if let Err(msg) = edit(
            &mut configs,
            c.name.as_str(),
            c.config_operation,
            c.value.as_deref(),
        ) {
            return (ResponseError::InvalidConfig.code(), Some(msg));
        }
    }
    apply(ctx, &r.resource_name, configs, validate_only).await
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

async fn apply(
    ctx: &Ctx,
    topic: &str,
    configs: BTreeMap<String, String>,
    validate_only: bool,
) -> Outcome {
    // AlterConfigs carries no timeout: the broker's own bound, as a forwarding Kafka broker has.
    let deadline = crate::cluster::Cluster::internal_deadline();
    match ctx
        .cluster
        .alter_topic_configs(topic, configs, validate_only, deadline)
        .await
    {
        Ok(()) => (0, None),
        Err(e) => (cluster_error_code(&e), Some(e.to_string())),
    }
}

/// Topic configs of Kafka's LIST type, the only ones APPEND and SUBTRACT accept.
const LIST_CONFIGS: &[&str] = &[
    "cleanup.policy",
    "follower.replication.throttled.replicas",
    "leader.replication.throttled.replicas",
];

/// Applies one incremental op as Kafka's `ConfigurationControlManager.incrementalAlterConfigResource`:
/// APPEND adds each comma-separated item not yet in the list, SUBTRACT removes each; an absent override
/// starts from the topic config's own default (not the broker's), as Kafka's `getParts` does.
fn edit(
    configs: &mut BTreeMap<String, String>,
    name: &str,
    op: i8,
    value: Option<&str>,
) -> Result<(), String> {
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
                let op = if op == OP_APPEND {
                    "APPEND"
                } else {
                    "SUBTRACT"
                };
                return Err(format!(
                    "Can't {op} to key {name} because its type is not LIST."
                ));
            }
            let current = configs
                .get(name)
                .map(String::as_str)
                .unwrap_or_else(|| list_default(name));
            let mut items: Vec<&str> = current.split(',').filter(|s| !s.is_empty()).collect();
            for v in java_split(value.unwrap_or_default()) {
                if op == OP_APPEND && !items.contains(&v) {
                    items.push(v);
                }
                if op == OP_SUBTRACT {
                    // Java's `List.remove(Object)`: the first occurrence only.
                    if let Some(i) = items.iter().position(|i| *i == v) {
                        items.remove(i);
                    }
                }
            }
            let joined = items.join(",");
            configs.insert(name.to_string(), joined);
        }
        other => return Err(format!("Unknown config operation {other}")),
    }
    Ok(())
}

/// The topic-level default of a LIST config (`LogConfig`'s ConfigDef).
fn list_default(name: &str) -> &'static str {
    match name {
        "cleanup.policy" => "delete",
        _ => "",
    }
}

/// Java's `String.split(",")`: empty items kept, except trailing ones.
fn java_split(value: &str) -> impl Iterator<Item = &str> {
    let trimmed = value.trim_end_matches(',');
    trimmed.split(',').filter(move |_| !trimmed.is_empty())
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
        assert_eq!(
            edit(&mut m, "retention.ms", OP_APPEND, Some("1")),
            Err("Can't APPEND to key retention.ms because its type is not LIST.".into())
        );
    }

    #[test]
    fn append_and_subtract_follow_kafkas_list_semantics() {
        let mut m = BTreeMap::new();
        // Several items at once; an item already present is not added twice.
        edit(&mut m, "cleanup.policy", OP_APPEND, Some("compact,delete")).unwrap();
        assert_eq!(m["cleanup.policy"], "delete,compact");
        // Subtracting an absent item changes nothing; trailing commas are ignored as Java's split does.
        edit(&mut m, "cleanup.policy", OP_SUBTRACT, Some("nothing,")).unwrap();
        assert_eq!(m["cleanup.policy"], "delete,compact");
        edit(
            &mut m,
            "cleanup.policy",
            OP_SUBTRACT,
            Some("compact,delete"),
        )
        .unwrap();
        assert_eq!(m["cleanup.policy"], "");
        // An explicit override is the starting point, not the default.
        m.insert("cleanup.policy".into(), "compact".into());
        edit(&mut m, "cleanup.policy", OP_APPEND, Some("delete")).unwrap();
        assert_eq!(m["cleanup.policy"], "compact,delete");
        assert_eq!(java_split("a,,b,").collect::<Vec<_>>(), vec!["a", "", "b"]);
        assert_eq!(java_split("").count(), 0);
    }
}
