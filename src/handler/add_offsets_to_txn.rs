//! AddOffsetsToTxn 0–4: adds a group's `__consumer_offsets` partition to the producer's transaction
//! (`sendOffsetsToTransaction`), so the commit marker also lands where its offsets are.

use std::sync::Arc;

use kafka_protocol::messages::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse};

use super::errors::txn_error_code;
use super::{Call, Ctx, Handler, Reply};
use crate::txn::TxnError;

/// The AddOffsetsToTxn handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct AddOffsetsToTxn;

impl Handler for AddOffsetsToTxn {
    type Request = AddOffsetsToTxnRequest;
    const VERSIONS: (i16, i16) = (0, 4);

    async fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: AddOffsetsToTxnRequest,
    ) -> Reply<AddOffsetsToTxnResponse> {
        Reply::Now(handle(ctx, call.version, req).await)
    }
}

/// Answers AddOffsetsToTxn; PRODUCER_FENCED is INVALID_PRODUCER_EPOCH before v2 (KIP-588).
pub async fn handle(
    ctx: &Ctx,
    version: i16,
    req: AddOffsetsToTxnRequest,
) -> AddOffsetsToTxnResponse {
    let result = ctx
        .txns
        .add_offsets(
            req.transactional_id.as_str(),
            req.producer_id.0,
            req.producer_epoch,
            req.group_id.as_str(),
        )
        .await;
    let code = match result {
        Ok(()) => 0,
        Err(TxnError::ProducerFenced) if version < 2 => {
            txn_error_code(&TxnError::InvalidProducerEpoch)
        }
        Err(e) => txn_error_code(&e),
    };
    AddOffsetsToTxnResponse::default().with_error_code(code)
}
