//! DeleteGroups: wire ⇄ `GroupCoordinator::delete_groups`.

use std::sync::Arc;

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse, GroupId};

use super::group_common::{code_of, own, sb, NodeInfo};
use super::{Call, Ctx, Handler, Reply};
use crate::group::GroupCoordinator;

/// The DeleteGroups handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct DeleteGroups;

impl Handler for DeleteGroups {
    type Request = DeleteGroupsRequest;
    const VERSIONS: (i16, i16) = (0, 2);

    async fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: DeleteGroupsRequest,
    ) -> Reply<DeleteGroupsResponse> {
        Reply::Now(handle(&ctx.groups, &ctx.node, call.version, req).await)
    }
}

/// Handles DeleteGroups v0–2.
pub async fn handle(
    groups: &GroupCoordinator,
    _node: &NodeInfo,
    _version: i16,
    req: DeleteGroupsRequest,
) -> DeleteGroupsResponse {
    let ids = req.groups_names.iter().map(|g| own(&g.0)).collect();
    let mut resp = DeleteGroupsResponse::default();
    resp.results = groups
        .delete_groups(ids)
        .await
        .into_iter()
        .map(|(group_id, error)| {
            let mut r = DeletableGroupResult::default();
            r.group_id = GroupId(sb(group_id));
            r.error_code = code_of(&error);
            r
        })
        .collect();
    resp
}
