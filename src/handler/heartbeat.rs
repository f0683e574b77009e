//! Heartbeat: wire ⇄ `GroupCoordinator::heartbeat`.

use std::sync::Arc;

use kafka_protocol::messages::{HeartbeatRequest, HeartbeatResponse};

use super::group_common::{error_code, own, NodeInfo};
use super::{Call, Ctx, Handler, Reply};
use crate::group::{self, GroupCoordinator};

/// The Heartbeat handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct Heartbeat;

impl Handler for Heartbeat {
    type Request = HeartbeatRequest;
    const VERSIONS: (i16, i16) = (0, 4);

    async fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: HeartbeatRequest,
    ) -> Reply<HeartbeatResponse> {
        Reply::Now(handle(&ctx.groups, &ctx.node, call.version, req).await)
    }
}

/// Handles Heartbeat v0–4.
pub async fn handle(
    groups: &GroupCoordinator,
    _node: &NodeInfo,
    version: i16,
    req: HeartbeatRequest,
) -> HeartbeatResponse {
    let request = group::HeartbeatRequest {
        group_id: own(&req.group_id.0),
        generation_id: req.generation_id,
        member_id: own(&req.member_id),
        group_instance_id: if version >= 3 {
            req.group_instance_id.as_ref().map(own)
        } else {
            None
        },
    };
    let mut resp = HeartbeatResponse::default();
    resp.error_code = match groups.heartbeat(request).await {
        Ok(()) => 0,
        Err(e) => error_code(&e),
    };
    resp
}
