//! FindCoordinator: every group (and, for now, transactional id) is coordinated by this broker.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;

use super::group_common::NodeInfo;
use super::{Call, Ctx, Handler, Reply};
use crate::group::GroupCoordinator;

/// The FindCoordinator handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct FindCoordinator;

impl Handler for FindCoordinator {
    type Request = FindCoordinatorRequest;
    const VERSIONS: (i16, i16) = (0, 6);

    async fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: FindCoordinatorRequest,
    ) -> Reply<FindCoordinatorResponse> {
        Reply::Now(handle(&ctx.groups, &ctx.node, call.version, req).await)
    }
}

/// `key_type` of a consumer group.
const KEY_TYPE_GROUP: i8 = 0;
/// `key_type` of a transactional id.
const KEY_TYPE_TRANSACTION: i8 = 1;

/// Answers one coordinator lookup: `(error_code, error_message)`. On success Kafka sends the message
/// "NONE" (`Errors.NONE.message()`), and clients may log it, so do the same.
fn lookup(key_type: i8) -> (i16, Option<StrBytes>) {
    match key_type {
        KEY_TYPE_GROUP | KEY_TYPE_TRANSACTION => (0, Some(StrBytes::from_static_str("NONE"))),
        _ => (
            ResponseError::InvalidRequest.code(),
            Some(StrBytes::from_string(format!(
                "unsupported key type {key_type}"
            ))),
        ),
    }
}

/// Handles FindCoordinator v0–6 (v4+: batched `coordinator_keys`).
pub async fn handle(
    _groups: &GroupCoordinator,
    node: &NodeInfo,
    version: i16,
    req: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let key_type = if version >= 1 {
        req.key_type
    } else {
        KEY_TYPE_GROUP
    };
    let mut resp = FindCoordinatorResponse::default();
    if version >= 4 {
        resp.coordinators = req
            .coordinator_keys
            .into_iter()
            .map(|key| {
                let (error_code, error_message) = lookup(key_type);
                let mut c = Coordinator::default();
                c.key = key;
                c.error_code = error_code;
                c.error_message = error_message;
                if error_code == 0 {
                    c.node_id = BrokerId(node.node_id);
                    c.host = StrBytes::from_string(node.host.clone());
                    c.port = node.port;
                } else {
                    c.node_id = BrokerId(-1);
                    c.port = -1;
                }
                c
            })
            .collect();
        return resp;
    }
    let (error_code, error_message) = lookup(key_type);
    resp.error_code = error_code;
    if version >= 1 {
        resp.error_message = error_message;
    }
    if error_code == 0 {
        resp.node_id = BrokerId(node.node_id);
        resp.host = StrBytes::from_string(node.host.clone());
        resp.port = node.port;
    } else {
        resp.node_id = BrokerId(-1);
        resp.port = -1;
    }
    resp
}
