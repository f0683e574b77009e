//! DescribeGroups: wire ⇄ `GroupCoordinator::describe_group`, one group at a time.

use std::sync::Arc;

use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse, GroupId};

use super::group_common::{error_code, sb, NodeInfo};
use super::{Call, Ctx, Handler, Reply};
use crate::group::{GroupCoordinator, GroupState};
use kafka_protocol::ResponseError;

/// The DescribeGroups handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct DescribeGroups;

impl Handler for DescribeGroups {
    type Request = DescribeGroupsRequest;
    const VERSIONS: (i16, i16) = (0, 6);

    async fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: DescribeGroupsRequest,
    ) -> Reply<DescribeGroupsResponse> {
        Reply::Now(handle(&ctx.groups, &ctx.node, call.version, req).await)
    }
}

/// Group ACL operations Kafka reports without an authorizer: READ(3), DELETE(6), DESCRIBE(8).
const GROUP_AUTHORIZED_OPERATIONS: i32 = (1 << 3) | (1 << 6) | (1 << 8);

/// Handles DescribeGroups v0–6. Unknown groups are described as `Dead` with no error before v6, and with
/// GROUP_ID_NOT_FOUND from v6 (KIP-1043), as Kafka does.
pub async fn handle(
    groups: &GroupCoordinator,
    _node: &NodeInfo,
    version: i16,
    req: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let mut resp = DescribeGroupsResponse::default();
    for group_id in req.groups {
        let mut out = DescribedGroup::default();
        out.group_id = GroupId(group_id.0.clone());
        if version >= 3 {
            out.authorized_operations = if req.include_authorized_operations {
                GROUP_AUTHORIZED_OPERATIONS
            } else {
                i32::MIN
            };
        }
        match groups.describe_group(group_id.0.as_str()).await {
            Err(e) => {
                out.error_code = error_code(&e);
                out.group_state = sb(String::new());
            }
            Ok(d) if version >= 6 && d.state == GroupState::Dead => {
                out.error_code = ResponseError::GroupIdNotFound.code();
                out.error_message = Some(sb(format!("Group {} not found.", group_id.0.as_str())));
                out.group_state = d.state.as_str().into();
            }
            Ok(d) => {
                out.group_state = d.state.as_str().into();
                out.protocol_type = sb(d.protocol_type);
                out.protocol_data = sb(d.protocol);
                out.members = d
                    .members
                    .into_iter()
                    .map(|m| {
                        let mut member = DescribedGroupMember::default();
                        member.member_id = sb(m.member_id);
                        if version >= 4 {
                            member.group_instance_id = m.group_instance_id.map(sb);
                        }
                        member.client_id = sb(m.client_id);
                        member.client_host = sb(m.client_host);
                        member.member_metadata = m.metadata;
                        member.member_assignment = m.assignment;
                        member
                    })
                    .collect();
            }
        }
        resp.groups.push(out);
    }
    resp
}
