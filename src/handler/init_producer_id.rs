//! InitProducerId: producer ids for idempotent producers, and for transactional producers through the
//! transaction coordinator (epoch bump and fencing per transactional id).

use std::sync::Arc;

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use kafka_protocol::ResponseError;

use super::errors::{cluster_error_code, txn_error_code};
use super::{Call, Ctx, Handler, Reply};
use crate::txn;

/// The InitProducerId handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct InitProducerId;

impl Handler for InitProducerId {
    type Request = InitProducerIdRequest;
    const VERSIONS: (i16, i16) = (0, 5);

    async fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: InitProducerIdRequest,
    ) -> Reply<InitProducerIdResponse> {
        Reply::Now(handle(ctx, call.version, req).await)
    }
}

/// Answers an InitProducerId request.
pub async fn handle(ctx: &Ctx, version: i16, req: InitProducerIdRequest) -> InitProducerIdResponse {
    let resp = InitProducerIdResponse::default()
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let Some(transactional_id) = req.transactional_id else {
        // Like Kafka, a non-transactional producer always gets a fresh id with epoch 0 (also when it asks
        // to bump the epoch of an id it already has: a new id fences nothing and restarts sequences at 0).
        return match ctx.cluster.next_producer_id().await {
            Ok(id) => resp.with_producer_id(ProducerId(id)).with_producer_epoch(0),
            Err(e) => resp.with_error_code(cluster_error_code(&e)),
        };
    };
    if !ctx.config.transaction_coordinator_enable {
        // Transactions switched off on this broker: a fatal authorization error stops a transactional
        // client at once with a clear message, instead of at its first send.
        return resp.with_error_code(ResponseError::TransactionalIdAuthorizationFailed.code());
    }
    // v3+ (KIP-360): an instance re-initialising names the producer id and epoch it has.
    let expected = (version >= 3 && req.producer_id.0 != -1)
        .then_some((req.producer_id.0, req.producer_epoch));
    let request = txn::InitProducerIdRequest {
        transactional_id: transactional_id.to_string(),
        timeout_ms: req.transaction_timeout_ms,
        expected,
    };
    match ctx.txns.init_producer_id(request).await {
        Ok(p) => resp
            .with_producer_id(ProducerId(p.producer_id))
            .with_producer_epoch(p.producer_epoch),
        // KIP-588: clients before v4 do not know PRODUCER_FENCED; Kafka answers them INVALID_PRODUCER_EPOCH.
        Err(txn::TxnError::ProducerFenced) if version < 4 => {
            resp.with_error_code(txn_error_code(&txn::TxnError::InvalidProducerEpoch))
        }
        Err(e) => resp.with_error_code(txn_error_code(&e)),
    }
}
