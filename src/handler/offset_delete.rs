//! OffsetDelete: wire ⇄ `GroupCoordinator::delete_offsets`.

use std::sync::Arc;

use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse, TopicName};

use super::group_common::{code_of, error_code, own, NodeInfo};
use super::{Call, Ctx, Handler, Reply};
use crate::group::GroupCoordinator;

/// The OffsetDelete handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct OffsetDelete;

impl Handler for OffsetDelete {
    type Request = OffsetDeleteRequest;
    const VERSIONS: (i16, i16) = (0, 0);

    async fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: OffsetDeleteRequest,
    ) -> Reply<OffsetDeleteResponse> {
        Reply::Now(handle(&ctx.groups, &ctx.node, call.version, req).await)
    }
}

/// Handles OffsetDelete v0: a top-level error (no topics), or per-partition results.
pub async fn handle(
    groups: &GroupCoordinator,
    _node: &NodeInfo,
    _version: i16,
    req: OffsetDeleteRequest,
) -> OffsetDeleteResponse {
    let shape: Vec<(TopicName, usize)> = req
        .topics
        .iter()
        .map(|t| (t.name.clone(), t.partitions.len()))
        .collect();
    let partitions = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (own(&t.name.0), p.partition_index))
        })
        .collect();
    let mut resp = OffsetDeleteResponse::default();
    match groups
        .delete_offsets(req.group_id.0.as_str(), partitions)
        .await
    {
        Err(e) => resp.error_code = error_code(&e),
        Ok(results) => {
            let mut results = results.into_iter();
            resp.topics = shape
                .into_iter()
                .map(|(name, n)| {
                    let mut t = OffsetDeleteResponseTopic::default();
                    t.name = name;
                    t.partitions = results
                        .by_ref()
                        .take(n)
                        .map(|r| {
                            let mut p = OffsetDeleteResponsePartition::default();
                            p.partition_index = r.partition;
                            p.error_code = code_of(&r.error);
                            p
                        })
                        .collect();
                    t
                })
                .collect();
        }
    }
    resp
}
