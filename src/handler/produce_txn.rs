//! KIP-890 part 1 on Produce: a transactional batch for a partition where its producer has no open
//! transaction is appended only if the transaction coordinator confirms the partition was added to the
//! producer's transaction (Kafka's verify-only AddPartitionsToTxn from `ReplicaManager`); otherwise the
//! partition is refused, so a late or zombie write can never open a transaction nobody will close. When
//! the coordinator is on another broker, it is asked over the wire (`client::txn_verify`).

use kafka_protocol::messages::ProduceRequest;
use kafka_protocol::ResponseError;

use super::errors::txn_error_code;
use super::Ctx;
use crate::client::txn_verify::{verify_partitions, Verified};
use crate::cluster::NotServed;
use crate::log::batch::{BatchHeader, HEADER_LEN};

/// How long a partition leader waits for a remote coordinator's verification (Kafka's inter-broker
/// request timeout is 30 s; a producer retries NOT_ENOUGH_REPLICAS sooner than that).
const VERIFY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

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
    let Some(producer) = producer else {
        return Vec::new();
    };
    let state_partition = ctx.txns.partition_for(txn_id.as_str());
    let answered = match ctx
        .cluster
        .leader_log(crate::txn::TRANSACTION_STATE_TOPIC, state_partition)
    {
        // The coordinator is on another broker: ask it (Kafka's `AddPartitionsToTxnManager`).
        Err(NotServed::NotLeader { leader, .. }) => {
            remote(ctx, leader, txn_id.as_str(), producer, &need).await
        }
        _ => local(ctx, txn_id.as_str(), producer, need).await,
    };
    answered
        .into_iter()
        .filter(|(_, code)| *code != 0)
        .map(|(p, code)| (p, produce_error(code)))
        .collect()
}

/// This broker's own coordinator answers, per partition (an error of the whole call applies to each).
async fn local(
    ctx: &Ctx,
    txn_id: &str,
    (producer_id, producer_epoch): (i64, i16),
    need: Vec<(String, i32)>,
) -> Vec<((String, i32), i16)> {
    match ctx
        .txns
        .verify_partitions(txn_id, producer_id, producer_epoch, need.clone())
        .await
    {
        Ok(per) => per
            .into_iter()
            .map(|(p, e)| (p, e.as_ref().map_or(0, txn_error_code)))
            .collect(),
        Err(e) => {
            let code = txn_error_code(&e);
            need.into_iter().map(|p| (p, code)).collect()
        }
    }
}

/// Asks the coordinator on broker `coordinator` with a verify-only AddPartitionsToTxn.
async fn remote(
    ctx: &Ctx,
    coordinator: i32,
    txn_id: &str,
    producer: (i64, i16),
    need: &[(String, i32)],
) -> Vec<((String, i32), i16)> {
    let addr = ctx
        .cluster
        .image()
        .live_broker(coordinator)
        .map(|b| format!("{}:{}", b.host, b.port));
    let answer = match addr {
        None => Verified::Failed(ResponseError::CoordinatorNotAvailable.code()),
        Some(addr) => {
            verify_partitions(&ctx.peers, &addr, txn_id, producer, need, VERIFY_TIMEOUT).await
        }
    };
    match answer {
        // Partitions the coordinator did not name are not refused (as Kafka: only errors are listed).
        Verified::Partitions(per) => per,
        Verified::Unsupported => {
            tracing::warn!(
                coordinator,
                "transaction coordinator cannot verify partitions; appending unverified"
            );
            Vec::new()
        }
        Verified::Failed(code) => {
            tracing::warn!(
                coordinator,
                code,
                transactional_id = txn_id,
                "verifying partitions with the transaction coordinator failed"
            );
            // The client must not see CLUSTER_AUTHORIZATION_FAILED for a broker-to-broker call.
            let code = if code == ResponseError::ClusterAuthorizationFailed.code() {
                ResponseError::InvalidTxnState.code()
            } else {
                code
            };
            need.iter().map(|p| (p.clone(), code)).collect()
        }
    }
}

/// Kafka's translation of a verification error into the produce response (`ReplicaManager`): a fenced
/// producer gets INVALID_PRODUCER_EPOCH, and retriable coordinator trouble NOT_ENOUGH_REPLICAS (which
/// every client retries without a metadata refresh); anything else as the coordinator said.
fn produce_error(code: i16) -> i16 {
    match ResponseError::try_from_code(code) {
        Some(ResponseError::ProducerFenced) => ResponseError::InvalidProducerEpoch.code(),
        Some(
            ResponseError::ConcurrentTransactions
            | ResponseError::NetworkException
            | ResponseError::CoordinatorLoadInProgress
            | ResponseError::CoordinatorNotAvailable
            | ResponseError::NotCoordinator,
        ) => ResponseError::NotEnoughReplicas.code(),
        _ => code,
    }
}
