//! Metadata: live brokers, the active controller, topics with their partitions' leaders, replicas and ISR,
//! all from this node's metadata image; auto-creates topics (through the controller) when allowed.

use std::sync::Arc;

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use uuid::Uuid;

use super::errors::cluster_error_code;
use super::{Call, Ctx, Handler, Reply};
use crate::cluster::{topic_name, ClusterError, TopicMeta, NO_LEADER};

/// The Metadata handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct Metadata;

impl Handler for Metadata {
    type Request = MetadataRequest;
    const VERSIONS: (i16, i16) = (0, 13);

    async fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: MetadataRequest,
    ) -> Reply<MetadataResponse> {
        Reply::Now(handle(ctx, call.version, req).await)
    }
}

/// Kafka's "not requested" value for authorized-operations fields.
pub const AUTHORIZED_OPERATIONS_OMITTED: i32 = i32::MIN;
/// With no authorizer every topic operation is allowed: READ(3) WRITE(4) CREATE(5) DELETE(6) ALTER(7)
/// DESCRIBE(8) DESCRIBE_CONFIGS(10) ALTER_CONFIGS(11).
pub const TOPIC_OPERATIONS_ALL: i32 =
    (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);
/// Cluster operations with no authorizer: CREATE(5) ALTER(7) DESCRIBE(8) CLUSTER_ACTION(9)
/// DESCRIBE_CONFIGS(10) ALTER_CONFIGS(11) IDEMPOTENT_WRITE(12) (token operations belong to USER resources).
pub const CLUSTER_OPERATIONS_ALL: i32 =
    (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12);

/// Answers a Metadata request.
pub async fn handle(ctx: &Ctx, version: i16, req: MetadataRequest) -> MetadataResponse {
    let topic_ops = |requested: bool| {
        if requested {
            TOPIC_OPERATIONS_ALL
        } else {
            AUTHORIZED_OPERATIONS_OMITTED
        }
    };
    let include_ops = req.include_topic_authorized_operations;
    // v0: an empty list means all topics; v1+: null means all topics.
    let requested: Option<Vec<_>> = match req.topics {
        None => None,
        Some(t) if t.is_empty() && version == 0 => None,
        Some(t) => Some(t),
    };
    // Before v4 there is no flag and brokers auto-create when configured to.
    let allow_create =
        ctx.config.auto_create_topics && (version < 4 || req.allow_auto_topic_creation);
    let topics = match requested {
        None => ctx
            .cluster
            .topics()
            .iter()
            .map(|t| topic_response(ctx, t, topic_ops(include_ops)))
            .collect(),
        Some(list) => {
            let mut out = Vec::with_capacity(list.len());
            for t in list {
                out.push(match t.name {
                    Some(name) => by_name(ctx, name, allow_create, topic_ops(include_ops)).await,
                    None => by_id(ctx, t.topic_id, topic_ops(include_ops)),
                });
            }
            out
        }
    };
    let image = ctx.cluster.image();
    let brokers = image
        .live_brokers()
        .map(|b| {
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(b.id))
                .with_host(StrBytes::from_string(b.host.clone()))
                .with_port(b.port)
                .with_rack(b.rack.clone().map(StrBytes::from_string))
        })
        .collect();
    MetadataResponse::default()
        .with_brokers(brokers)
        .with_cluster_id(Some(StrBytes::from_string(image.cluster_id.clone())))
        .with_controller_id(BrokerId(ctx.cluster.controller_id()))
        .with_cluster_authorized_operations(if req.include_cluster_authorized_operations {
            CLUSTER_OPERATIONS_ALL
        } else {
            AUTHORIZED_OPERATIONS_OMITTED
        })
        .with_topics(topics)
}

async fn by_name(
    ctx: &Ctx,
    name: TopicName,
    allow_create: bool,
    ops: i32,
) -> MetadataResponseTopic {
    if let Some(t) = ctx.cluster.topic(&name) {
        return topic_response(ctx, &t, ops);
    }
    let error = |code: i16| {
        MetadataResponseTopic::default()
            .with_name(Some(name.clone()))
            .with_error_code(code)
            .with_topic_authorized_operations(ops)
    };
    if topic_name::validate(&name).is_err() {
        return error(ResponseError::InvalidTopicException.code());
    }
    if !allow_create {
        return error(ResponseError::UnknownTopicOrPartition.code());
    }
    let rf = ctx.config.default_replication_factor;
    let new = crate::cluster::NewTopic {
        name: name.to_string(),
        partitions: ctx.config.num_partitions,
        replication_factor: rf,
        ..Default::default()
    };
    match ctx
        .cluster
        .create_topic(new, crate::cluster::Cluster::internal_deadline())
        .await
    {
        Ok(t) => {
            tracing::info!(topic = %t.name, partitions = t.partition_count(), "auto-created topic");
            topic_response(ctx, &t, ops)
        }
        // Another request created it first.
        Err(ClusterError::TopicAlreadyExists(_)) => match ctx.cluster.topic(&name) {
            Some(t) => topic_response(ctx, &t, ops),
            None => error(ResponseError::UnknownTopicOrPartition.code()),
        },
        Err(e) => error(cluster_error_code(&e)),
    }
}

fn by_id(ctx: &Ctx, id: Uuid, ops: i32) -> MetadataResponseTopic {
    match ctx
        .cluster
        .topic_name(id)
        .and_then(|n| ctx.cluster.topic(&n))
    {
        Some(t) => topic_response(ctx, &t, ops),
        None => MetadataResponseTopic::default()
            .with_topic_id(id)
            .with_error_code(ResponseError::UnknownTopicId.code())
            .with_topic_authorized_operations(ops),
    }
}

/// One topic with every partition's leader, replicas and in-sync replicas.
pub fn topic_response(ctx: &Ctx, t: &TopicMeta, ops: i32) -> MetadataResponseTopic {
    let image = ctx.cluster.image();
    let ids = |v: &[i32]| v.iter().map(|id| BrokerId(*id)).collect::<Vec<_>>();
    let partitions = t
        .partitions
        .iter()
        .enumerate()
        .map(|(p, state)| {
            let offline: Vec<i32> = state
                .replicas
                .iter()
                .copied()
                .filter(|r| image.live_broker(*r).is_none())
                .collect();
            let error = if state.leader == NO_LEADER {
                ResponseError::LeaderNotAvailable.code()
            } else {
                0
            };
            MetadataResponsePartition::default()
                .with_error_code(error)
                .with_partition_index(i32::try_from(p).unwrap_or(i32::MAX))
                .with_leader_id(BrokerId(state.leader))
                .with_leader_epoch(state.leader_epoch)
                .with_replica_nodes(ids(&state.replicas))
                .with_isr_nodes(ids(&state.isr))
                .with_offline_replicas(ids(&offline))
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(StrBytes::from_string(t.name.clone()))))
        .with_topic_id(t.id)
        .with_is_internal(t.internal)
        .with_partitions(partitions)
        .with_topic_authorized_operations(ops)
}
