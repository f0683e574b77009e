//! FindCoordinator: a group's coordinator is the leader of its `__consumer_offsets` partition, a
//! transactional id's the leader of its `__transaction_state` partition (each topic created on first use,
//! as Kafka does).

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;

use super::{Call, Ctx, Handler, Reply};
use crate::cluster::NO_LEADER;
use crate::group_store::{ensure_internal_topic, OFFSETS_TOPIC};
use crate::txn::TRANSACTION_STATE_TOPIC;

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
        Reply::Now(handle(ctx, call.version, req).await)
    }
}

/// `key_type` of a consumer group.
const KEY_TYPE_GROUP: i8 = 0;
/// `key_type` of a transactional id.
const KEY_TYPE_TRANSACTION: i8 = 1;

/// One coordinator lookup: the coordinator's `(node_id, host, port)` or `(error_code, error_message)`.
/// On success Kafka sends the message "NONE" (`Errors.NONE.message()`), and clients may log it.
fn lookup(ctx: &Ctx, key_type: i8, key: &str) -> Result<(i32, String, i32), (i16, String)> {
    match key_type {
        KEY_TYPE_GROUP | KEY_TYPE_TRANSACTION => {
            let (topic, partition) = if key_type == KEY_TYPE_GROUP {
                (OFFSETS_TOPIC, ctx.groups.partition_for(key))
            } else {
                let n = ctx.config.transaction_state_log_num_partitions;
                (
                    TRANSACTION_STATE_TOPIC,
                    crate::group::records::partition_for(key, n),
                )
            };
            let image = ctx.cluster.image();
            let leader = image
                .topics
                .get(topic)
                .and_then(|t| t.partition(partition))
                .map_or(NO_LEADER, |p| p.leader);
            match image.live_broker(leader) {
                Some(b) => Ok((b.id, b.host.clone(), b.port)),
                None => Err((
                    ResponseError::CoordinatorNotAvailable.code(),
                    "The coordinator is not available.".into(),
                )),
            }
        }
        _ => Err((
            ResponseError::InvalidRequest.code(),
            format!("unsupported key type {key_type}"),
        )),
    }
}

fn coordinator(ctx: &Ctx, key_type: i8, key: StrBytes, creating: bool) -> Coordinator {
    let mut c = Coordinator::default();
    let found = if creating {
        Err((
            ResponseError::CoordinatorNotAvailable.code(),
            "The coordinator is not available.".to_string(),
        ))
    } else {
        lookup(ctx, key_type, &key)
    };
    match found {
        Ok((id, host, port)) => {
            c.node_id = BrokerId(id);
            c.host = StrBytes::from_string(host);
            c.port = port;
            c.error_message = Some(StrBytes::from_static_str("NONE"));
        }
        Err((code, msg)) => {
            c.node_id = BrokerId(-1);
            c.port = -1;
            c.error_code = code;
            c.error_message = Some(StrBytes::from_string(msg));
        }
    }
    c.key = key;
    c
}

/// Handles FindCoordinator v0–6 (v4+: batched `coordinator_keys`).
pub async fn handle(
    ctx: &Ctx,
    version: i16,
    req: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let key_type = if version >= 1 {
        req.key_type
    } else {
        KEY_TYPE_GROUP
    };
    // Kafka answers COORDINATOR_NOT_AVAILABLE (retriable) while it creates `__consumer_offsets`: the
    // other brokers have not necessarily applied the new partitions yet, so naming a leader now could send
    // the client to a broker that does not know it coordinates the group. A single node has applied them.
    let internal = match key_type {
        KEY_TYPE_GROUP => Some((OFFSETS_TOPIC, ctx.config.offsets_topic_num_partitions)),
        KEY_TYPE_TRANSACTION => Some((
            TRANSACTION_STATE_TOPIC,
            ctx.config.transaction_state_log_num_partitions,
        )),
        _ => None,
    };
    let creating = match internal {
        None => false,
        Some((topic, partitions)) => {
            // `transaction.state.log.replication.factor` shares Kafka's default (3) with offsets.
            let rf = ctx.config.offsets_topic_replication_factor;
            match ensure_internal_topic(&ctx.cluster, topic, partitions, rf).await {
                Ok(created) => created && !ctx.cluster.is_single_node(),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot create {topic}");
                    true
                }
            }
        }
    };
    let mut resp = FindCoordinatorResponse::default();
    if version >= 4 {
        resp.coordinators = req
            .coordinator_keys
            .into_iter()
            .map(|key| coordinator(ctx, key_type, key, creating))
            .collect();
        return resp;
    }
    let c = coordinator(ctx, key_type, req.key, creating);
    resp.error_code = c.error_code;
    if version >= 1 {
        resp.error_message = c.error_message;
    }
    resp.node_id = c.node_id;
    resp.host = c.host;
    resp.port = c.port;
    resp
}
