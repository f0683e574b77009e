//! Metadata: brokers, controller, topics with partitions and leaders; auto-creates topics when allowed.

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
use crate::cluster::{topic_name, ClusterError, TopicMeta};

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
        Reply::Now(handle(ctx, call.version, req))
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
pub fn handle(ctx: &Ctx, version: i16, req: MetadataRequest) -> MetadataResponse {
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
        Some(list) => list
            .into_iter()
            .map(|t| match t.name {
                Some(name) => by_name(ctx, name, allow_create, topic_ops(include_ops)),
                None => by_id(ctx, t.topic_id, topic_ops(include_ops)),
            })
            .collect(),
    };
    let node = &ctx.node;
    MetadataResponse::default()
        .with_brokers(vec![MetadataResponseBroker::default()
            .with_node_id(BrokerId(node.node_id))
            .with_host(StrBytes::from_string(node.host.clone()))
            .with_port(node.port)])
        .with_cluster_id(Some(StrBytes::from_string(ctx.cluster.cluster_id())))
        .with_controller_id(BrokerId(node.node_id))
        .with_cluster_authorized_operations(if req.include_cluster_authorized_operations {
            CLUSTER_OPERATIONS_ALL
        } else {
            AUTHORIZED_OPERATIONS_OMITTED
        })
        .with_topics(topics)
}

fn by_name(ctx: &Ctx, name: TopicName, allow_create: bool, ops: i32) -> MetadataResponseTopic {
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
    match ctx.cluster.create_topic(
        &name,
        ctx.config.num_partitions,
        rf,
        Default::default(),
        false,
        false,
    ) {
        Ok(t) => {
            tracing::info!(topic = %t.name, partitions = t.partitions, "auto-created topic");
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

/// One topic with all its partitions led by this node.
pub fn topic_response(ctx: &Ctx, t: &TopicMeta, ops: i32) -> MetadataResponseTopic {
    let node = BrokerId(ctx.node.node_id);
    let partitions = (0..t.partitions)
        .map(|p| {
            MetadataResponsePartition::default()
                .with_partition_index(p)
                .with_leader_id(node)
                .with_leader_epoch(0)
                .with_replica_nodes(vec![node])
                .with_isr_nodes(vec![node])
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(StrBytes::from_string(t.name.clone()))))
        .with_topic_id(t.id)
        .with_is_internal(t.internal)
        .with_partitions(partitions)
        .with_topic_authorized_operations(ops)
}
