//! LeaveGroup: wire ⇄ `GroupCoordinator::leave_group`; v3+ leaves a batch of (static) members.

use std::sync::Arc;

use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};

use super::group_common::{code_of, error_code, own, sb, NodeInfo};
use super::{Call, Ctx, Handler, Reply};
use crate::group::{GroupCoordinator, LeavingMember};

/// The LeaveGroup handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct LeaveGroup;

impl Handler for LeaveGroup {
    type Request = LeaveGroupRequest;
    const VERSIONS: (i16, i16) = (0, 5);

    async fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: LeaveGroupRequest,
    ) -> Reply<LeaveGroupResponse> {
        Reply::Now(handle(&ctx.groups, &ctx.node, call.version, req).await)
    }
}

/// Handles LeaveGroup v0–5. For v0–2 (one member, no per-member results) the member's error becomes the
/// top-level error, as Kafka does.
pub async fn handle(
    groups: &GroupCoordinator,
    _node: &NodeInfo,
    version: i16,
    req: LeaveGroupRequest,
) -> LeaveGroupResponse {
    let group_id = own(&req.group_id.0);
    let members: Vec<LeavingMember> = if version >= 3 {
        req.members
            .iter()
            .map(|m| LeavingMember {
                member_id: own(&m.member_id),
                group_instance_id: m.group_instance_id.as_ref().map(own),
                reason: if version >= 5 {
                    m.reason.as_ref().map(own)
                } else {
                    None
                },
            })
            .collect()
    } else {
        vec![LeavingMember {
            member_id: own(&req.member_id),
            group_instance_id: None,
            reason: None,
        }]
    };
    let mut resp = LeaveGroupResponse::default();
    match groups.leave_group(&group_id, members.clone()).await {
        Err(e) => resp.error_code = error_code(&e),
        Ok(results) if version >= 3 => {
            resp.members = members
                .into_iter()
                .zip(results)
                .map(|(m, r)| {
                    let mut out = MemberResponse::default();
                    out.member_id = sb(m.member_id);
                    out.group_instance_id = m.group_instance_id.map(sb);
                    out.error_code = code_of(&r);
                    out
                })
                .collect();
        }
        Ok(results) => {
            resp.error_code = results.iter().map(code_of).find(|&c| c != 0).unwrap_or(0);
        }
    }
    resp
}
