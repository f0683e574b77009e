//! EndTxn 0–5: commits or aborts the producer's transaction. Answered once PrepareCommit/PrepareAbort is
//! durable in `__transaction_state`; the coordinator then writes the markers and completes it.

use std::sync::Arc;

use kafka_protocol::messages::{EndTxnRequest, EndTxnResponse, ProducerId};

use super::errors::txn_error_code;
use super::{Call, Ctx, Handler, Reply};
use crate::txn::TxnError;

/// The EndTxn handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct EndTxn;

impl Handler for EndTxn {
    type Request = EndTxnRequest;
    const VERSIONS: (i16, i16) = (0, 5);

    async fn handle(ctx: &Arc<Ctx>, call: &Call<'_>, req: EndTxnRequest) -> Reply<EndTxnResponse> {
        Reply::Now(handle(ctx, call.version, req).await)
    }
}

/// Answers EndTxn. v5's producer id and epoch are only set under transaction version 2 (KIP-890 part 2),
/// which this broker does not advertise: -1 as Kafka answers under version 1.
pub async fn handle(ctx: &Ctx, version: i16, req: EndTxnRequest) -> EndTxnResponse {
    let result = ctx
        .txns
        .end_txn(
            req.transactional_id.as_str(),
            req.producer_id.0,
            req.producer_epoch,
            req.committed,
        )
        .await;
    let code = match result {
        Ok(()) => 0,
        Err(TxnError::ProducerFenced) if version < 2 => {
            txn_error_code(&TxnError::InvalidProducerEpoch)
        }
        Err(e) => txn_error_code(&e),
    };
    EndTxnResponse::default()
        .with_error_code(code)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1)
}
