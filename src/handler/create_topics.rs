//! CreateTopics: validates names, partition counts, replication factors and configs, then creates.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::errors::cluster_error_code;
use super::{Call, Ctx, Handler, Reply};
use crate::cluster::{topic_config, ClusterError};

/// The CreateTopics handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct CreateTopics;

impl Handler for CreateTopics {
    type Request = CreateTopicsRequest;
    const VERSIONS: (i16, i16) = (2, 7);

    async fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: CreateTopicsRequest,
    ) -> Reply<CreateTopicsResponse> {
        Reply::Now(handle(ctx, call.version, req).await)
    }
}

/// Answers a CreateTopics request: each topic is created by the active controller, and answered once
/// this node's metadata image holds it.
pub async fn handle(ctx: &Ctx, version: i16, req: CreateTopicsRequest) -> CreateTopicsResponse {
    let duplicates = super::repeated_names(req.topics.iter().map(|t| t.name.as_str()));
    let mut results = Vec::with_capacity(req.topics.len());
    // One deadline for the whole request, as Kafka's controller sets from `timeout_ms`.
    let deadline = super::deadline(req.timeout_ms);
    for t in req.topics {
        let duplicated = duplicates.contains(t.name.as_str());
        let one = create_one(ctx, version, t, duplicated, req.validate_only, deadline);
        results.push(one.await);
    }
    CreateTopicsResponse::default().with_topics(results)
}

async fn create_one(
    ctx: &Ctx,
    version: i16,
    t: CreatableTopic,
    duplicated: bool,
    validate_only: bool,
    deadline: tokio::time::Instant,
) -> CreatableTopicResult {
    let name = t.name.clone();
    let fail = |code: i16, msg: String| {
        CreatableTopicResult::default()
            .with_name(name.clone())
            .with_error_code(code)
            .with_error_message(Some(StrBytes::from_string(msg)))
            .with_num_partitions(-1)
            .with_replication_factor(-1)
    };
    if duplicated {
        return fail(
            ResponseError::InvalidRequest.code(),
            format!(
                "Create topics request from client contains duplicate topic {}",
                name.as_str()
            ),
        );
    }
    let (partitions, replication_factor, assignments) = if t.assignments.is_empty() {
        let p = if t.num_partitions == -1 {
            ctx.config.num_partitions
        } else {
            t.num_partitions
        };
        let rf = if t.replication_factor == -1 {
            ctx.config.default_replication_factor
        } else {
            t.replication_factor
        };
        (p, rf, None)
    } else {
        // KRaft's checks, in its order (ReplicationControlManager.createTopic).
        if t.replication_factor != -1 {
            return fail(
                ResponseError::InvalidRequest.code(),
                "A manual partition assignment was specified, but replication factor was not set to -1."
                    .into(),
            );
        }
        if t.num_partitions != -1 {
            return fail(
                ResponseError::InvalidRequest.code(),
                "A manual partition assignment was specified, but numPartitions was not set to -1."
                    .into(),
            );
        }
        match manual_assignments(&t) {
            Ok(a) => (-1, -1, Some(a)),
            Err(msg) => return fail(ResponseError::InvalidReplicaAssignment.code(), msg),
        }
    };
    let mut configs = BTreeMap::new();
    for c in &t.configs {
        match &c.value {
            Some(v) => {
                configs.insert(c.name.to_string(), v.to_string());
            }
            None => {
                return fail(
                    ResponseError::InvalidConfig.code(),
                    format!(
                        "Null value not supported for topic configs: {}",
                        c.name.as_str()
                    ),
                )
            }
        }
    }
    let new = crate::cluster::NewTopic {
        name: name.to_string(),
        partitions,
        replication_factor,
        assignments,
        configs,
        internal: false,
        validate_only,
    };
    match ctx.cluster.create_topic(new, deadline).await {
        Ok(meta) => {
            if !validate_only {
                tracing::info!(topic = %meta.name, partitions, "created topic");
            }
            // v5+: the topic's full effective config, as DescribeConfigs would show it.
            let described = (version >= 5).then(|| {
                topic_config::describe(ctx.cluster.log_defaults(), &meta.configs)
                    .into_iter()
                    .map(|e| {
                        CreatableTopicConfigs::default()
                            .with_name(StrBytes::from_static_str(e.name))
                            .with_value(Some(StrBytes::from_string(e.value)))
                            .with_config_source(e.source as i8)
                    })
                    .collect()
            });
            CreatableTopicResult::default()
                .with_name(name)
                .with_error_message(None)
                .with_topic_id(meta.id)
                .with_num_partitions(meta.partition_count())
                .with_replication_factor(meta.replication_factor())
                .with_configs(described)
        }
        Err(e) => {
            let msg = match &e {
                ClusterError::Io(_) | ClusterError::Log(_) => {
                    "Internal error creating topic".to_string()
                }
                other => other.to_string(),
            };
            fail(cluster_error_code(&e), msg)
        }
    }
}

/// The client's replica lists in partition order: partitions 0..n each exactly once (Kafka's checks;
/// the brokers themselves are checked by the controller).
fn manual_assignments(t: &CreatableTopic) -> Result<Vec<Vec<i32>>, String> {
    let mut by_partition: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for a in &t.assignments {
        let replicas = a.broker_ids.iter().map(|b| b.0).collect();
        if by_partition.insert(a.partition_index, replicas).is_some() {
            return Err(format!(
                "Found multiple manual partition assignments for partition {}",
                a.partition_index
            ));
        }
    }
    if by_partition
        .keys()
        .copied()
        .ne(0..by_partition.len() as i32)
    {
        return Err("partitions should be a consecutive 0-based integer sequence".into());
    }
    Ok(by_partition.into_values().collect())
}
