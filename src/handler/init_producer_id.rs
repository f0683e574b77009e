//! InitProducerId: producer ids for idempotent producers (transactional ids wait for the txn coordinator).

use std::sync::Arc;

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use kafka_protocol::ResponseError;

use super::errors::cluster_error_code;
use super::{Call, Ctx, Handler, Reply};

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
pub async fn handle(
    ctx: &Ctx,
    _version: i16,
    req: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let resp = InitProducerIdResponse::default()
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    if req.transactional_id.is_some() {
        // Transactions are not built yet; a fatal authorization error stops the client with a clear message
        // instead of letting it retry forever.
        return resp.with_error_code(ResponseError::TransactionalIdAuthorizationFailed.code());
    }
    // Like Kafka, a non-transactional producer always gets a fresh id with epoch 0 (also when it asks to
    // bump the epoch of an id it already has: a new id fences nothing and restarts sequences at 0).
    match ctx.cluster.next_producer_id().await {
        Ok(id) => resp.with_producer_id(ProducerId(id)).with_producer_epoch(0),
        Err(e) => resp.with_error_code(cluster_error_code(&e)),
    }
}
