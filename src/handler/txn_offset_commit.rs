//! TxnOffsetCommit 0–5: a transactional producer's offsets for a group (`sendOffsetsToTransaction`),
//! pending until the transaction's marker reaches the group's `__consumer_offsets` partition.

use std::sync::Arc;

use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{TopicName, TxnOffsetCommitRequest, TxnOffsetCommitResponse};

use super::errors::group_error_code;
use super::{Call, Ctx, Handler, Reply};
use crate::group::{OffsetCommitRequest, PartitionCommit};

/// The TxnOffsetCommit handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct TxnOffsetCommit;

impl Handler for TxnOffsetCommit {
    type Request = TxnOffsetCommitRequest;
    const VERSIONS: (i16, i16) = (0, 5);

    async fn handle(
        ctx: &Arc<Ctx>,
        _call: &Call<'_>,
        req: TxnOffsetCommitRequest,
    ) -> Reply<TxnOffsetCommitResponse> {
        Reply::Now(handle(ctx, req).await)
    }
}

/// Answers TxnOffsetCommit per partition, in request order. v3+ carry the member id, generation and
/// instance id (KIP-447), checked as the group coordinator checks a commit; before v3 they are absent
/// (empty member, generation -1) and only the group is looked up.
pub async fn handle(ctx: &Ctx, req: TxnOffsetCommitRequest) -> TxnOffsetCommitResponse {
    let partitions = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(move |p| PartitionCommit {
                topic: t.name.to_string(),
                partition: p.partition_index,
                offset: p.committed_offset,
                leader_epoch: p.committed_leader_epoch,
                metadata: p
                    .committed_metadata
                    .as_ref()
                    .map(|m| m.to_string())
                    .unwrap_or_default(),
            })
        })
        .collect();
    let commit = OffsetCommitRequest {
        group_id: req.group_id.to_string(),
        generation_id: req.generation_id,
        member_id: req.member_id.to_string(),
        group_instance_id: req.group_instance_id.as_ref().map(|s| s.to_string()),
        retention_time_ms: -1,
        partitions,
    };
    let results = ctx
        .groups
        .txn_commit_offsets((req.producer_id.0, req.producer_epoch), commit)
        .await;
    let mut topics: Vec<TxnOffsetCommitResponseTopic> = Vec::new();
    for r in results {
        let p = TxnOffsetCommitResponsePartition::default()
            .with_partition_index(r.partition)
            .with_error_code(r.error.as_ref().map_or(0, group_error_code));
        match topics.last_mut().filter(|t| t.name.as_str() == r.topic) {
            Some(t) => t.partitions.push(p),
            None => topics.push(
                TxnOffsetCommitResponseTopic::default()
                    .with_name(TopicName(r.topic.into()))
                    .with_partitions(vec![p]),
            ),
        }
    }
    TxnOffsetCommitResponse::default().with_topics(topics)
}
