//! KIP-890 part 1 verification across brokers: a partition leader asks the transaction coordinator on
//! another broker whether partitions are in a producer's open transaction (a verify-only
//! AddPartitionsToTxn v4+, what Kafka's `AddPartitionsToTxnManager` sends). Plain types in, Kafka error
//! codes out.

use std::time::Duration;

use kafka_protocol::messages::add_partitions_to_txn_request::{
    AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction,
};
use kafka_protocol::messages::{AddPartitionsToTxnRequest, ProducerId, TransactionalId};
use kafka_protocol::ResponseError;

use super::pool::ConnPool;
use super::{s, topic};

/// The first AddPartitionsToTxn version with the batched, verify-only form.
const VERIFY_VERSION: i16 = 4;

/// What the coordinator answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// Per partition its error code (0: in the transaction), in request order.
    Partitions(Vec<((String, i32), i16)>),
    /// The coordinator's broker does not speak verify-only AddPartitionsToTxn (Kafka then appends
    /// unverified).
    Unsupported,
    /// The request failed as a whole with this code (NETWORK_EXCEPTION when the coordinator could not
    /// be reached or did not answer in time).
    Failed(i16),
}

/// Asks the coordinator at `addr` whether `partitions` are in the open transaction of
/// `transactional_id` at (`producer_id`, `producer_epoch`).
pub async fn verify_partitions(
    pool: &ConnPool,
    addr: &str,
    transactional_id: &str,
    (producer_id, producer_epoch): (i64, i16),
    partitions: &[(String, i32)],
    timeout: Duration,
) -> Verified {
    let network = ResponseError::NetworkException.code();
    let mut topics: Vec<AddPartitionsToTxnTopic> = Vec::new();
    for (name, p) in partitions {
        match topics.iter_mut().find(|t| t.name.as_str() == name) {
            Some(t) => t.partitions.push(*p),
            None => topics.push(
                AddPartitionsToTxnTopic::default()
                    .with_name(topic(name))
                    .with_partitions(vec![*p]),
            ),
        }
    }
    let req = AddPartitionsToTxnRequest::default().with_transactions(vec![
        AddPartitionsToTxnTransaction::default()
            .with_transactional_id(TransactionalId(s(transactional_id)))
            .with_producer_id(ProducerId(producer_id))
            .with_producer_epoch(producer_epoch)
            .with_verify_only(true)
            .with_topics(topics),
    ]);
    let call = async {
        let Some(resp) = pool.send(addr, timeout, &req, VERIFY_VERSION).await.ok()? else {
            return Some(Verified::Unsupported);
        };
        if resp.error_code != 0 {
            return Some(Verified::Failed(resp.error_code));
        }
        let mut out = Vec::with_capacity(partitions.len());
        for txn in &resp.results_by_transaction {
            for t in &txn.topic_results {
                for p in &t.results_by_partition {
                    out.push((
                        (t.name.to_string(), p.partition_index),
                        p.partition_error_code,
                    ));
                }
            }
        }
        Some(Verified::Partitions(out))
    };
    match tokio::time::timeout(timeout, call).await {
        Ok(Some(v)) => v,
        Ok(None) | Err(_) => Verified::Failed(network),
    }
}
