//! DescribeTopicPartitions (API 75): paged topic/partition descriptions used by Kafka 3.9+ `kafka-topics.sh`.

use std::collections::BTreeSet;
use std::sync::Arc;

use kafka_protocol::messages::describe_topic_partitions_response::{
    Cursor, DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use kafka_protocol::messages::{
    BrokerId, DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::metadata::TOPIC_OPERATIONS_ALL;
use super::{Call, Ctx, Handler, Reply};
use crate::cluster::topic_name;

/// The DescribeTopicPartitions handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct DescribeTopicPartitions;

impl Handler for DescribeTopicPartitions {
    type Request = DescribeTopicPartitionsRequest;
    const VERSIONS: (i16, i16) = (0, 0);

    async fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: DescribeTopicPartitionsRequest,
    ) -> Reply<DescribeTopicPartitionsResponse> {
        Reply::Now(handle(ctx, call.version, req))
    }
}

/// Answers a DescribeTopicPartitions request, at most `response_partition_limit` partitions per page.
pub fn handle(
    ctx: &Ctx,
    _version: i16,
    req: DescribeTopicPartitionsRequest,
) -> DescribeTopicPartitionsResponse {
    let limit = req.response_partition_limit.max(1) as usize;
    let names: BTreeSet<String> = if req.topics.is_empty() {
        ctx.cluster.topics().into_iter().map(|t| t.name).collect()
    } else {
        req.topics.iter().map(|t| t.name.to_string()).collect()
    };
    let (cursor_topic, cursor_partition) = match &req.cursor {
        Some(c) => (Some(c.topic_name.to_string()), c.partition_index.max(0)),
        None => (None, 0),
    };
    let mut topics = Vec::new();
    let mut remaining = limit;
    let mut next_cursor = None;
    for name in names.iter().filter(|n| {
        cursor_topic
            .as_ref()
            .is_none_or(|c| n.as_str() >= c.as_str())
    }) {
        let tn = TopicName(StrBytes::from_string(name.clone()));
        let Some(meta) = ctx.cluster.topic(name) else {
            let code = if topic_name::validate(name).is_err() {
                ResponseError::InvalidTopicException
            } else {
                ResponseError::UnknownTopicOrPartition
            };
            topics.push(
                DescribeTopicPartitionsResponseTopic::default()
                    .with_name(Some(tn))
                    .with_error_code(code.code())
                    .with_topic_authorized_operations(TOPIC_OPERATIONS_ALL),
            );
            continue;
        };
        if remaining == 0 {
            next_cursor = Some(
                Cursor::default()
                    .with_topic_name(tn)
                    .with_partition_index(0),
            );
            break;
        }
        let start = if cursor_topic.as_deref() == Some(name.as_str()) {
            cursor_partition
        } else {
            0
        };
        let end = meta
            .partition_count()
            .min(start.saturating_add(remaining as i32));
        let ids = |v: &[i32]| v.iter().map(|id| BrokerId(*id)).collect::<Vec<_>>();
        let partitions: Vec<_> = (start..end)
            .filter_map(|p| Some((p, meta.partition(p)?)))
            .map(|(p, state)| {
                DescribeTopicPartitionsResponsePartition::default()
                    .with_partition_index(p)
                    .with_leader_id(BrokerId(state.leader))
                    .with_leader_epoch(state.leader_epoch)
                    .with_replica_nodes(ids(&state.replicas))
                    .with_isr_nodes(ids(&state.isr))
                    .with_eligible_leader_replicas(Some(vec![]))
                    .with_last_known_elr(Some(vec![]))
            })
            .collect();
        remaining -= partitions.len();
        topics.push(
            DescribeTopicPartitionsResponseTopic::default()
                .with_name(Some(tn.clone()))
                .with_topic_id(meta.id)
                .with_is_internal(meta.internal)
                .with_partitions(partitions)
                .with_topic_authorized_operations(TOPIC_OPERATIONS_ALL),
        );
        if end < meta.partition_count() {
            next_cursor = Some(
                Cursor::default()
                    .with_topic_name(tn)
                    .with_partition_index(end),
            );
            break;
        }
    }
    DescribeTopicPartitionsResponse::default()
        .with_topics(topics)
        .with_next_cursor(next_cursor)
}
