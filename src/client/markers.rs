//! Sending transaction markers to another partition leader (WriteTxnMarkers), for a transaction
//! coordinator whose transaction spans partitions led elsewhere. Plain types in, a plain result out.

use std::time::Duration;

use kafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use kafka_protocol::messages::{ProducerId, WriteTxnMarkersRequest};

use super::pool::ConnPool;
use super::topic;
use crate::txn::MarkerError;

/// INVALID_PRODUCER_EPOCH (47) and TRANSACTION_COORDINATOR_FENCED (52): Kafka's marker handler stops
/// sending the transaction's markers on these.
const FENCED: [i16; 2] = [47, 52];

/// Per-request time limit of a marker round to another broker.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Writes one commit/abort marker into `partitions` on the broker at `addr`; `Err` names the first
/// partition that failed, fenced (TRANSACTION_COORDINATOR_FENCED, INVALID_PRODUCER_EPOCH: the coordinator
/// stops) or retriable (it retries the whole round).
pub async fn write_txn_markers(
    pool: &ConnPool,
    addr: &str,
    producer_id: i64,
    producer_epoch: i16,
    commit: bool,
    coordinator_epoch: i32,
    partitions: &[(String, i32)],
) -> Result<(), MarkerError> {
    let mut topics: Vec<WritableTxnMarkerTopic> = Vec::new();
    for (name, p) in partitions {
        match topics.iter_mut().find(|t| t.name.as_str() == name) {
            Some(t) => t.partition_indexes.push(*p),
            None => topics.push(
                WritableTxnMarkerTopic::default()
                    .with_name(topic(name))
                    .with_partition_indexes(vec![*p]),
            ),
        }
    }
    let marker = WritableTxnMarker::default()
        .with_producer_id(ProducerId(producer_id))
        .with_producer_epoch(producer_epoch)
        .with_transaction_result(commit)
        .with_coordinator_epoch(coordinator_epoch)
        .with_topics(topics);
    let req = WriteTxnMarkersRequest::default().with_markers(vec![marker]);
    let resp = pool
        .send(addr, TIMEOUT, &req, 0)
        .await
        .map_err(|e| MarkerError::Retriable(e.to_string()))?
        .ok_or_else(|| MarkerError::Retriable(format!("{addr}: WriteTxnMarkers not served")))?;
    for m in resp.markers {
        for t in m.topics {
            if let Some(p) = t.partitions.iter().find(|p| p.error_code != 0) {
                let text = format!(
                    "{}-{}: {}",
                    t.name.as_str(),
                    p.partition_index,
                    super::error::code_name(p.error_code)
                );
                return Err(if FENCED.contains(&p.error_code) {
                    MarkerError::Fenced(text)
                } else {
                    MarkerError::Retriable(text)
                });
            }
        }
    }
    Ok(())
}
