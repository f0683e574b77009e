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

/// Classic groups' type name (ListGroups v5).
const CLASSIC_GROUP_TYPE: &str = "classic";
/// KIP-848 consumer groups' type name.
const CONSUMER_GROUP_TYPE: &str = "consumer";

fn listed(
    group_id: String,
    protocol_type: String,
    state: &str,
    group_type: &str,
    version: i16,
) -> ListedGroup {
    let mut out = ListedGroup::default();
    out.group_id = GroupId(sb(group_id));
    out.protocol_type = sb(protocol_type);
    if version >= 4 {
        out.group_state = state.to_string().into();
    }
    if version >= 5 {
        out.group_type = group_type.to_string().into();
    }
    out
}

/// Handles ListGroups v0–5. Filters match case-insensitively; unknown names match nothing.
pub async fn handle(
    groups: &GroupCoordinator,
    _node: &NodeInfo,
    version: i16,
    req: ListGroupsRequest,
) -> ListGroupsResponse {
    let mut resp = ListGroupsResponse::default();
    let wants = |group_type: &str| {
        version < 5
            || req.types_filter.is_empty()
            || req
                .types_filter
                .iter()
                .any(|t| t.as_str().eq_ignore_ascii_case(group_type))
    };
    let state_names: Vec<&str> = if version >= 4 {
        req.states_filter.iter().map(|s| s.as_str()).collect()
    } else {
        Vec::new()
    };
    if wants(CONSUMER_GROUP_TYPE) {
        match groups.list_consumer_groups().await {
            Err(e) => {
                resp.error_code = error_code(&e);
                return resp;
            }
            Ok(list) => resp.groups.extend(
                list.into_iter()
                    .filter(|(_, state)| {
                        state_names.is_empty()
                            || state_names.iter().any(|s| s.eq_ignore_ascii_case(state))
                    })
                    .map(|(id, state)| {
                        listed(
                            id,
                            CONSUMER_GROUP_TYPE.to_string(),
                            state,
                            CONSUMER_GROUP_TYPE,
                            version,
                        )
                    }),
            ),
        }
    }
    if !wants(CLASSIC_GROUP_TYPE) {
        return resp;
    }
    let states: Vec<GroupState> = state_names
        .iter()
        .filter_map(|s| GroupState::parse(s))
        .collect();
    if !state_names.is_empty() && states.is_empty() {
        return resp;
    }
    match groups.list_groups(&states).await {
        Err(e) => resp.error_code = error_code(&e),
        Ok(list) => resp.groups.extend(list.into_iter().map(|g| {
            listed(
                g.group_id,
                g.protocol_type,
                g.state.as_str(),
                CLASSIC_GROUP_TYPE,
                version,
            )
        })),
    }
    resp
}
