//! DescribeTransactions: wire ⇄ `TxnCoordinator::describe` (what `kafka-transactions.sh describe` uses).

use std::sync::Arc;

use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use kafka_protocol::messages::{
    DescribeTransactionsRequest, DescribeTransactionsResponse, ProducerId, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::errors::txn_error_code;
use super::{Call, Ctx, Handler, Reply};
use crate::txn::{TxnMetadata, TxnState};

/// The DescribeTransactions handler: the versions it serves and its entry point (named once in
/// `list.rs`).
pub struct DescribeTransactions;

impl Handler for DescribeTransactions {
    type Request = DescribeTransactionsRequest;
    const VERSIONS: (i16, i16) = (0, 0);

    async fn handle(
        ctx: &Arc<Ctx>,
        _call: &Call<'_>,
        req: DescribeTransactionsRequest,
    ) -> Reply<DescribeTransactionsResponse> {
        Reply::Now(handle(ctx, req).await)
    }
}

/// Handles DescribeTransactions v0: one state per requested id, in request order; unknown (or expiring)
/// ids get TRANSACTIONAL_ID_NOT_FOUND, an empty id INVALID_REQUEST, as in Kafka.
pub async fn handle(ctx: &Ctx, req: DescribeTransactionsRequest) -> DescribeTransactionsResponse {
    let mut resp = DescribeTransactionsResponse::default();
    for id in req.transactional_ids {
        let mut out = TransactionState::default();
        out.transaction_state = StrBytes::from_static_str("");
        out.producer_id = ProducerId(-1);
        out.producer_epoch = -1;
        out.transaction_start_time_ms = -1;
        let result = if id.is_empty() {
            Err(ResponseError::InvalidRequest.code())
        } else {
            match ctx.txns.describe(id.as_str()).await {
                Ok(Some(m)) if m.state != TxnState::Dead => Ok(m),
                Ok(_) => Err(ResponseError::TransactionalIdNotFound.code()),
                Err(e) => Err(txn_error_code(&e)),
            }
        };
        match result {
            Ok(m) => fill(&mut out, m),
            Err(code) => out.error_code = code,
        }
        out.transactional_id = id;
        resp.transaction_states.push(out);
    }
    resp
}

fn fill(out: &mut TransactionState, m: TxnMetadata) {
    out.transaction_state = StrBytes::from_static_str(m.state.name());
    out.transaction_timeout_ms = m.timeout_ms;
    out.transaction_start_time_ms = m.start_ms;
    out.producer_id = ProducerId(m.producer_id);
    out.producer_epoch = m.producer_epoch;
    for (topic, partition) in m.partitions {
        match out.topics.last_mut() {
            Some(t) if t.topic.as_str() == topic => t.partitions.push(partition),
            _ => {
                let mut t = TopicData::default();
                t.topic = TopicName(StrBytes::from_string(topic));
                t.partitions.push(partition);
                out.topics.push(t);
            }
        }
    }
}
