//! KIP-890 part 1 on Produce: a transactional batch for a partition where its producer has no open
//! transaction is appended only if the transaction coordinator confirms the partition was added to the
//! producer's transaction (Kafka's verify-only AddPartitionsToTxn from `ReplicaManager`); otherwise the
//! partition is refused, so a late or zombie write can never open a transaction nobody will close.

use kafka_protocol::messages::ProduceRequest;
use kafka_protocol::ResponseError;

use super::Ctx;
use crate::cluster::NotServed;
use crate::log::batch::{BatchHeader, HEADER_LEN};
use crate::txn::TxnError;

/// Partitions of the request refused by verification, with their error code.
pub type Refusals = Vec<((String, i32), i16)>;

/// Asks the coordinator about every partition of `req` that needs verification; empty when the request
/// is not transactional or every partition already has the producer's open transaction.
pub async fn verify(ctx: &Ctx, version: i16, req: &ProduceRequest) -> Refusals {
    let Some(txn_id) = req.transactional_id.as_ref() else {
        return Vec::new();
    };
    let mut need: Vec<(String, i32)> = Vec::new();
    let mut producer = None;
    for topic in &req.topic_data {
        let name = if version >= 13 {
            match ctx.cluster.topic_name(topic.topic_id) {
                Some(n) => n,
                None => continue,
            }
        } else {
            topic.name.to_string()
        };
        for p in &topic.partition_data {
            let Some(records) = p.records.as_ref().filter(|r| r.len() >= HEADER_LEN) else {
                continue;
            };
            let Ok(h) = BatchHeader::parse(records) else {
                continue;
            };
            if !h.is_transactional() || !h.has_producer_id() {
                continue;
            }
            let Ok(log) = ctx.cluster.leader_log(&name, p.index) else {
                continue;
            };
            if !log.has_ongoing_txn(h.producer_id) {
                need.push((name.clone(), p.index));
                producer = Some((h.producer_id, h.producer_epoch));
            }
        }
    }
    let Some((producer_id, producer_epoch)) = producer else {
        return Vec::new();
    };
    let state_partition = ctx.txns.partition_for(txn_id.as_str());
    if let Err(NotServed::NotLeader { .. }) = ctx
        .cluster
        .leader_log(crate::txn::TRANSACTION_STATE_TOPIC, state_partition)
    {
        // The coordinator is on another broker. Kafka asks it with a verify-only AddPartitionsToTxn; Weir
        // does not send that request yet and appends unverified, as Kafka before 3.6 did (see NOTES.md).
        return Vec::new();
    }
    let invalid = ResponseError::InvalidTxnState.code();
    match ctx
        .txns
        .verify_partitions(txn_id.as_str(), producer_id, producer_epoch, need.clone())
        .await
    {
        Ok(per) => per
            .into_iter()
            .filter_map(|(p, e)| e.map(|_| (p, invalid)))
            .collect(),
        Err(e) => {
            // Kafka's `AddPartitionsToTxnManager`: coordinator trouble becomes a retriable error, a
            // fenced producer INVALID_PRODUCER_EPOCH, anything else INVALID_TXN_STATE.
            let code = match e {
                TxnError::CoordinatorNotAvailable | TxnError::Storage(_) => {
                    ResponseError::NotEnoughReplicas.code()
                }
                TxnError::ProducerFenced | TxnError::InvalidProducerEpoch => {
                    ResponseError::InvalidProducerEpoch.code()
                }
                _ => invalid,
            };
            need.into_iter().map(|p| (p, code)).collect()
        }
    }
}
