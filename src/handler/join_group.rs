//! JoinGroup: wire ⇄ `GroupCoordinator::join_group`; the reply may be parked until the rebalance completes.

use std::sync::Arc;

use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{JoinGroupRequest, JoinGroupResponse};
use kafka_protocol::protocol::StrBytes;

use super::group_common::{code_of, own, sb, sb_opt, ClientInfo, NodeInfo};
use super::{Call, Ctx, Handler, Reply};
use crate::group::{self, GroupCoordinator, Protocol};

/// The JoinGroup handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct JoinGroup;

impl Handler for JoinGroup {
    type Request = JoinGroupRequest;
    const VERSIONS: (i16, i16) = (0, 9);

    async fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: JoinGroupRequest,
    ) -> Reply<JoinGroupResponse> {
        Reply::Now(handle(&ctx.groups, &ctx.node, &call.client(), call.version, req).await)
    }
}

/// Handles JoinGroup v0–9. `client` carries the header's client id and the peer address, which the
/// coordinator uses for member ids and DescribeGroups.
pub async fn handle(
    groups: &GroupCoordinator,
    _node: &NodeInfo,
    client: &ClientInfo,
    version: i16,
    req: JoinGroupRequest,
) -> JoinGroupResponse {
    let request = group::JoinGroupRequest {
        group_id: own(&req.group_id.0),
        member_id: own(&req.member_id),
        group_instance_id: if version >= 5 {
            req.group_instance_id.as_ref().map(own)
        } else {
            None
        },
        client_id: client.client_id.clone(),
        client_host: client.client_host.clone(),
        protocol_type: own(&req.protocol_type),
        protocols: req
            .protocols
            .into_iter()
            .map(|p| Protocol {
                name: own(&p.name),
                metadata: p.metadata,
            })
            .collect(),
        session_timeout_ms: req.session_timeout_ms,
        rebalance_timeout_ms: if version >= 1 {
            req.rebalance_timeout_ms
        } else {
            req.session_timeout_ms
        },
        require_known_member_id: version >= 4,
        supports_skip_assignment: version >= 9,
        reason: if version >= 8 {
            req.reason.as_ref().map(own)
        } else {
            None
        },
    };
    let r = groups.join_group(request).await;
    let mut resp = JoinGroupResponse::default();
    resp.error_code = code_of(&r.error);
    resp.generation_id = r.generation_id;
    if version >= 7 {
        resp.protocol_type = sb_opt(r.protocol_type);
        resp.protocol_name = sb_opt(r.protocol_name);
    } else {
        resp.protocol_type = None;
        resp.protocol_name = Some(sb(r.protocol_name.unwrap_or_default()));
    }
    resp.leader = sb(r.leader_id);
    resp.skip_assignment = version >= 9 && r.skip_assignment;
    resp.member_id = sb(r.member_id);
    resp.members = r
        .members
        .into_iter()
        .map(|m| {
            let mut member = JoinGroupResponseMember::default();
            member.member_id = sb(m.member_id);
            member.group_instance_id = if version >= 5 {
                m.group_instance_id.map(StrBytes::from_string)
            } else {
                None
            };
            member.metadata = m.metadata;
            member
        })
        .collect();
    resp
}
