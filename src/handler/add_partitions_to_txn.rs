//! AddPartitionsToTxn 0–5: a producer adds partitions to its open transaction (v0–3), or a broker asks
//! whether partitions are in one (v4+, batched, `verify_only` per KIP-890 part 1).

use std::sync::Arc;

use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, TopicName, TransactionalId,
};
use kafka_protocol::ResponseError;

use super::errors::txn_error_code;
use super::{Call, Ctx, Handler, Reply};
use crate::txn::TxnError;

/// The AddPartitionsToTxn handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct AddPartitionsToTxn;

impl Handler for AddPartitionsToTxn {
    type Request = AddPartitionsToTxnRequest;
    const VERSIONS: (i16, i16) = (0, 5);

    async fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: AddPartitionsToTxnRequest,
    ) -> Reply<AddPartitionsToTxnResponse> {
        Reply::Now(handle(ctx, call.version, req).await)
    }
}

/// One transaction of the request, in plain types.
struct Txn {
    id: TransactionalId,
    producer_id: i64,
    producer_epoch: i16,
    verify_only: bool,
    topics: Vec<AddPartitionsToTxnTopic>,
}

/// Answers AddPartitionsToTxn: v0–3 carry one transaction (results by topic), v4+ several.
pub async fn handle(
    ctx: &Ctx,
    version: i16,
    req: AddPartitionsToTxnRequest,
) -> AddPartitionsToTxnResponse {
    let mut resp = AddPartitionsToTxnResponse::default();
    if version < 4 {
        let txn = Txn {
            id: req.v3_and_below_transactional_id,
            producer_id: req.v3_and_below_producer_id.0,
            producer_epoch: req.v3_and_below_producer_epoch,
            verify_only: false,
            topics: req.v3_and_below_topics,
        };
        resp.results_by_topic_v3_and_below = one(ctx, version, txn).await.topic_results;
        return resp;
    }
    for t in req.transactions {
        let txn = Txn {
            id: t.transactional_id,
            producer_id: t.producer_id.0,
            producer_epoch: t.producer_epoch,
            verify_only: t.verify_only,
            topics: t.topics,
        };
        resp.results_by_transaction
            .push(one(ctx, version, txn).await);
    }
    resp
}

/// Kafka's `handleAddPartitionsToTransaction` for one transaction: unknown partitions get
/// UNKNOWN_TOPIC_OR_PARTITION and the others OPERATION_NOT_ATTEMPTED; otherwise one coordinator answer
/// for all (or, verify-only, one per partition).
async fn one(ctx: &Ctx, version: i16, txn: Txn) -> AddPartitionsToTxnResult {
    let mut partitions: Vec<(String, i32)> = Vec::new();
    let mut unknown: Vec<(String, i32)> = Vec::new();
    for t in &txn.topics {
        let count = ctx
            .cluster
            .topic(t.name.as_str())
            .map_or(0, |m| m.partition_count());
        for p in &t.partitions {
            let key = (t.name.to_string(), *p);
            if (0..count).contains(p) {
                partitions.push(key);
            } else {
                unknown.push(key);
            }
        }
    }
    let id = txn.id.to_string();
    let codes: Vec<((String, i32), i16)> = if !unknown.is_empty() {
        let not_attempted = ResponseError::OperationNotAttempted.code();
        let unknown_code = ResponseError::UnknownTopicOrPartition.code();
        partitions
            .into_iter()
            .map(|p| (p, not_attempted))
            .chain(unknown.into_iter().map(|p| (p, unknown_code)))
            .collect()
    } else if txn.verify_only {
        match ctx
            .txns
            .verify_partitions(&id, txn.producer_id, txn.producer_epoch, partitions.clone())
            .await
        {
            Ok(per) => per
                .into_iter()
                .map(|(p, e)| (p, e.map_or(0, |e| code(version, &e))))
                .collect(),
            Err(e) => all(partitions, code(version, &e)),
        }
    } else {
        let result = ctx
            .txns
            .add_partitions(&id, txn.producer_id, txn.producer_epoch, partitions.clone())
            .await;
        all(
            partitions,
            result.map_or_else(|e| code(version, &e), |()| 0),
        )
    };
    AddPartitionsToTxnResult::default()
        .with_transactional_id(txn.id)
        .with_topic_results(by_topic(codes))
}

/// Kafka answers PRODUCER_FENCED as INVALID_PRODUCER_EPOCH to clients before v2 (KIP-588).
fn code(version: i16, e: &TxnError) -> i16 {
    match e {
        TxnError::ProducerFenced if version < 2 => txn_error_code(&TxnError::InvalidProducerEpoch),
        e => txn_error_code(e),
    }
}

fn all(partitions: Vec<(String, i32)>, code: i16) -> Vec<((String, i32), i16)> {
    partitions.into_iter().map(|p| (p, code)).collect()
}

/// Groups per-partition codes by topic, in first-seen order.
fn by_topic(codes: Vec<((String, i32), i16)>) -> Vec<AddPartitionsToTxnTopicResult> {
    let mut out: Vec<AddPartitionsToTxnTopicResult> = Vec::new();
    for ((topic, partition), code) in codes {
        let result = AddPartitionsToTxnPartitionResult::default()
            .with_partition_index(partition)
            .with_partition_error_code(code);
        match out.iter_mut().find(|t| t.name.as_str() == topic) {
            Some(t) => t.results_by_partition.push(result),
            None => out.push(
                AddPartitionsToTxnTopicResult::default()
                    .with_name(TopicName(topic.into()))
                    .with_results_by_partition(vec![result]),
            ),
        }
    }
    out
}
