//! SyncGroup: wire ⇄ `GroupCoordinator::sync_group`; followers wait for the leader's assignment.

use std::sync::Arc;

use kafka_protocol::messages::{SyncGroupRequest, SyncGroupResponse};

use super::group_common::{code_of, own, sb_opt, NodeInfo};
use super::{Call, Ctx, Handler, Reply};
use crate::group::{self, GroupCoordinator};

/// The SyncGroup handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct SyncGroup;

impl Handler for SyncGroup {
    type Request = SyncGroupRequest;
    const VERSIONS: (i16, i16) = (0, 5);

    async fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: SyncGroupRequest,
    ) -> Reply<SyncGroupResponse> {
        Reply::Now(handle(&ctx.groups, &ctx.node, call.version, req).await)
    }
}

/// Handles SyncGroup v0–5.
pub async fn handle(
    groups: &GroupCoordinator,
    _node: &NodeInfo,
    version: i16,
    req: SyncGroupRequest,
) -> SyncGroupResponse {
    let request = group::SyncGroupRequest {
        group_id: own(&req.group_id.0),
        generation_id: req.generation_id,
        member_id: own(&req.member_id),
        group_instance_id: if version >= 3 {
            req.group_instance_id.as_ref().map(own)
        } else {
            None
        },
        protocol_type: if version >= 5 {
            req.protocol_type.as_ref().map(own)
        } else {
            None
        },
        protocol_name: if version >= 5 {
            req.protocol_name.as_ref().map(own)
        } else {
            None
        },
        assignments: req
            .assignments
            .into_iter()
            .map(|a| (own(&a.member_id), a.assignment))
            .collect(),
    };
    let r = groups.sync_group(request).await;
    let mut resp = SyncGroupResponse::default();
    resp.error_code = code_of(&r.error);
    if version >= 5 {
        resp.protocol_type = sb_opt(r.protocol_type);
        resp.protocol_name = sb_opt(r.protocol_name);
    }
    resp.assignment = r.assignment;
    resp
}
