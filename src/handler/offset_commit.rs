//! OffsetCommit: wire ⇄ `GroupCoordinator::commit_offsets`; acknowledged once the commit is durable.

use std::sync::Arc;

use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};

use super::group_common::{code_of, own, TopicIds};
use super::{Call, Ctx, Handler, Reply};
use crate::group::{self, GroupCoordinator, GroupError, PartitionCommit};

/// The OffsetCommit handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct OffsetCommit;

impl Handler for OffsetCommit {
    type Request = OffsetCommitRequest;
    /// v10 is decoded by `protocol::offsets_v10` (the crate stops at v9).
    const VERSIONS: (i16, i16) = (2, 10);

    async fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: OffsetCommitRequest,
    ) -> Reply<OffsetCommitResponse> {
        Reply::Now(handle(&ctx.groups, ctx.cluster.as_ref(), call.version, req).await)
    }
}

/// First version that names topics by id only (KIP-848).
pub const TOPIC_IDS_FROM: i16 = 10;

/// Handles OffsetCommit v2–10 (v9+'s KIP-848 member epoch is checked by a consumer group, treated as a
/// generation by a classic one). v10 names topics by id: an id no topic has fails that topic's partitions
/// with UNKNOWN_TOPIC_ID before the coordinator sees the request, and a request left with nothing to
/// commit never reaches it, as in Kafka's `KafkaApis.handleOffsetCommitRequest`.
pub async fn handle(
    groups: &GroupCoordinator,
    topics: &dyn TopicIds,
    version: i16,
    req: OffsetCommitRequest,
) -> OffsetCommitResponse {
    let names: Vec<Option<String>> = req
        .topics
        .iter()
        .map(|t| {
            if version >= TOPIC_IDS_FROM {
                topics.name_of(t.topic_id)
            } else {
                Some(own(&t.name.0))
            }
        })
        .collect();
    let partitions: Vec<PartitionCommit> = req
        .topics
        .iter()
        .zip(&names)
        .filter_map(|(t, name)| Some((t, name.as_ref()?)))
        .flat_map(|(t, name)| {
            t.partitions.iter().map(move |p| PartitionCommit {
                topic: name.clone(),
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
    let any_unknown = names.iter().any(Option::is_none);
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
    let results = if any_unknown && request.partitions.is_empty() {
        Vec::new()
    } else {
        groups.commit_offsets(request).await
    };
    let mut results = results.into_iter();
    let mut resp = OffsetCommitResponse::default();
    resp.topics = req
        .topics
        .into_iter()
        .zip(names)
        .map(|(t, name)| {
            let mut topic = OffsetCommitResponseTopic::default();
            topic.topic_id = t.topic_id;
            topic.name = t.name;
            topic.partitions = match name {
                None => t
                    .partitions
                    .iter()
                    .map(|p| partition(p.partition_index, &Some(GroupError::UnknownTopicId)))
                    .collect(),
                Some(_) => results
                    .by_ref()
                    .take(t.partitions.len())
                    .map(|r| partition(r.partition, &r.error))
                    .collect(),
            };
            topic
        })
        .collect();
    resp
}

fn partition(index: i32, error: &Option<GroupError>) -> OffsetCommitResponsePartition {
    let mut p = OffsetCommitResponsePartition::default();
    p.partition_index = index;
    p.error_code = code_of(error);
    p
}
