//! ListTransactions: wire ⇄ `TxnCoordinator::list_transactions` (what `kafka-transactions.sh list` uses).

use std::sync::Arc;

use kafka_protocol::messages::list_transactions_response::TransactionState;
use kafka_protocol::messages::{
    ListTransactionsRequest, ListTransactionsResponse, ProducerId, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;

use super::errors::txn_error_code;
use super::{Call, Ctx, Handler, Reply};
use crate::txn::TxnState;

/// The ListTransactions handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct ListTransactions;

impl Handler for ListTransactions {
    type Request = ListTransactionsRequest;
    /// v2 (KIP-1152 transactional-id pattern) is not served.
    const VERSIONS: (i16, i16) = (0, 1);

    async fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: ListTransactionsRequest,
    ) -> Reply<ListTransactionsResponse> {
        Reply::Now(handle(ctx, call.version, req).await)
    }
}

/// Handles ListTransactions v0–1. Unknown state names are echoed in `unknown_state_filters` and match
/// nothing, as in Kafka.
pub async fn handle(
    ctx: &Ctx,
    version: i16,
    req: ListTransactionsRequest,
) -> ListTransactionsResponse {
    let mut resp = ListTransactionsResponse::default();
    let mut states = Vec::with_capacity(req.state_filters.len());
    for name in &req.state_filters {
        match TxnState::from_name(name.as_str()) {
            Some(state) => states.push(state),
            None => resp.unknown_state_filters.push(name.clone()),
        }
    }
    if !req.state_filters.is_empty() && states.is_empty() {
        return resp;
    }
    let producer_ids = req.producer_id_filters.iter().map(|p| p.0).collect();
    let duration_ms = if version >= 1 {
        req.duration_filter
    } else {
        -1
    };
    match ctx
        .txns
        .list_transactions(states, producer_ids, duration_ms)
        .await
    {
        Err(e) => resp.error_code = txn_error_code(&e),
        Ok(list) => {
            resp.transaction_states = list
                .into_iter()
                .map(|(id, producer_id, state)| {
                    let mut t = TransactionState::default();
                    t.transactional_id = TransactionalId(StrBytes::from_string(id));
                    t.producer_id = ProducerId(producer_id);
                    t.transaction_state = StrBytes::from_static_str(state.name());
                    t
                })
                .collect();
        }
    }
    resp
}
