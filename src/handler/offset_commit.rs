//! OffsetCommit: wire ⇄ `GroupCoordinator::commit_offsets`; acknowledged once the commit is durable.

use std::sync::Arc;

use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};

use super::group_common::{code_of, own, NodeInfo};
use super::{Call, Ctx, Handler, Reply};
use crate::group::{self, GroupCoordinator, PartitionCommit};

/// The OffsetCommit handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct OffsetCommit;

impl Handler for OffsetCommit {
    type Request = OffsetCommitRequest;
    const VERSIONS: (i16, i16) = (2, 9);

    async fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: OffsetCommitRequest,
    ) -> Reply<OffsetCommitResponse> {
        Reply::Now(handle(&ctx.groups, &ctx.node, call.version, req).await)
    }
}

/// Handles OffsetCommit v2–9 (v9's KIP-848 member epoch is treated as a classic generation id).
pub async fn handle(
    groups: &GroupCoordinator,
    _node: &NodeInfo,
    version: i16,
    req: OffsetCommitRequest,
) -> OffsetCommitResponse {
    let shape: Vec<(kafka_protocol::messages::TopicName, usize)> = req
        .topics
        .iter()
        .map(|t| (t.name.clone(), t.partitions.len()))
        .collect();
    let partitions: Vec<PartitionCommit> = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| PartitionCommit {
                topic: own(&t.name.0),
                partition: p.partition_index,
                offset: p.committed_offset,
                leader_epoch: if version >= 6 {
                    p.committed_leader_epoch
                } else {
                    -1
                },
                metadata: p.committed_metadata.as_ref().map(own).unwrap_or_default(),
            })
        })
        .collect();
    let request = group::OffsetCommitRequest {
        group_id: own(&req.group_id.0),
        generation_id: req.generation_id_or_member_epoch,
        member_id: own(&req.member_id),
        group_instance_id: if version >= 7 {
            req.group_instance_id.as_ref().map(own)
        } else {
            None
        },
        retention_time_ms: if version <= 4 {
            req.retention_time_ms
        } else {
            -1
        },
        partitions,
    };
    let mut results = groups.commit_offsets(request).await.into_iter();
    let mut resp = OffsetCommitResponse::default();
    resp.topics = shape
        .into_iter()
        .map(|(name, n)| {
            let mut topic = OffsetCommitResponseTopic::default();
            topic.name = name;
            topic.partitions = results
                .by_ref()
                .take(n)
                .map(|r| {
                    let mut p = OffsetCommitResponsePartition::default();
                    p.partition_index = r.partition;
                    p.error_code = code_of(&r.error);
                    p
                })
                .collect();
            topic
        })
        .collect();
    resp
}
