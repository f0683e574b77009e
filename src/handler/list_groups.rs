//! ListGroups: wire ⇄ `GroupCoordinator::list_groups`, with v4 state and v5 type filters.

use std::sync::Arc;

use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{GroupId, ListGroupsRequest, ListGroupsResponse};

use super::group_common::{error_code, sb, NodeInfo};
use super::{Call, Ctx, Handler, Reply};
use crate::group::{GroupCoordinator, GroupState};

/// The ListGroups handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct ListGroups;

impl Handler for ListGroups {
    type Request = ListGroupsRequest;
    const VERSIONS: (i16, i16) = (0, 5);

    async fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: ListGroupsRequest,
    ) -> Reply<ListGroupsResponse> {
        Reply::Now(handle(&ctx.groups, &ctx.node, call.version, req).await)
    }
}

/// The only group type Weir runs (KIP-848 `consumer` groups come later).
const CLASSIC_GROUP_TYPE: &str = "classic";

/// Handles ListGroups v0–5. Filters match case-insensitively; unknown names match nothing.
pub async fn handle(
    groups: &GroupCoordinator,
    _node: &NodeInfo,
    version: i16,
    req: ListGroupsRequest,
) -> ListGroupsResponse {
    let mut resp = ListGroupsResponse::default();
    if version >= 5
        && !req.types_filter.is_empty()
        && !req
            .types_filter
            .iter()
            .any(|t| t.as_str().eq_ignore_ascii_case(CLASSIC_GROUP_TYPE))
    {
        return resp;
    }
    let states: Vec<GroupState> = if version >= 4 {
        req.states_filter
            .iter()
            .filter_map(|s| GroupState::parse(s.as_str()))
            .collect()
    } else {
        Vec::new()
    };
    if version >= 4 && !req.states_filter.is_empty() && states.is_empty() {
        return resp;
    }
    match groups.list_groups(&states).await {
        Err(e) => resp.error_code = error_code(&e),
        Ok(list) => {
            resp.groups = list
                .into_iter()
                .map(|g| {
                    let mut out = ListedGroup::default();
                    out.group_id = GroupId(sb(g.group_id));
                    out.protocol_type = sb(g.protocol_type);
                    if version >= 4 {
                        out.group_state = g.state.as_str().into();
                    }
                    if version >= 5 {
                        out.group_type = CLASSIC_GROUP_TYPE.into();
                    }
                    out
                })
                .collect();
        }
    }
    resp
}
