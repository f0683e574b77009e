//! WriteTxnMarkers 1 (v0 is gone since Kafka 4.0, and kafka-protocol decodes only v1): a transaction coordinator on another broker asks this partition leader to write
//! commit/abort markers (Kafka's `handleWriteTxnMarkersRequest`). A coordinator on this broker writes
//! its local markers in-process instead (`group_store::ClusterMarkers`).

use std::sync::Arc;

use kafka_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use kafka_protocol::messages::{WriteTxnMarkersRequest, WriteTxnMarkersResponse};

use super::errors::{group_error_code, log_error_code};
use super::{leadership, Call, Ctx, Handler, Reply};
use crate::log::producer_state::ControlType;

/// The WriteTxnMarkers handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct WriteTxnMarkers;

impl Handler for WriteTxnMarkers {
    type Request = WriteTxnMarkersRequest;
    const VERSIONS: (i16, i16) = (1, 1);

    async fn handle(
        ctx: &Arc<Ctx>,
        _call: &Call<'_>,
        req: WriteTxnMarkersRequest,
    ) -> Reply<WriteTxnMarkersResponse> {
        Reply::Now(handle(ctx, req).await)
    }
}

/// Appends each marker to each of its partitions (durably: Kafka writes markers with acks=all) and
/// answers per partition.
pub async fn handle(ctx: &Ctx, req: WriteTxnMarkersRequest) -> WriteTxnMarkersResponse {
    let now_ms = super::produce::now_ms();
    let mut resp = WriteTxnMarkersResponse::default();
    for marker in req.markers {
        let control = if marker.transaction_result {
            ControlType::Commit
        } else {
            ControlType::Abort
        };
        let (producer_id, commit) = (marker.producer_id.0, marker.transaction_result);
        let mut topics = Vec::with_capacity(marker.topics.len());
        for t in marker.topics {
            let mut partitions = Vec::with_capacity(t.partition_indexes.len());
            for p in t.partition_indexes {
                let code = match ctx.cluster.leader_log(t.name.as_str(), p) {
                    Err(e) => leadership::error_code(&e),
                    Ok(log) => {
                        let written = log.append_marker(
                            marker.producer_id.0,
                            marker.producer_epoch,
                            marker.coordinator_epoch,
                            control,
                            now_ms,
                        );
                        match written {
                            Ok(info) => match log
                                .wait_durable(info.last_offset, info.leader_epoch)
                                .await
                            {
                                Ok(()) => {
                                    complete_offsets(ctx, t.name.as_str(), p, producer_id, commit)
                                        .await
                                }
                                Err(e) => log_error_code(&e),
                            },
                            Err(e) => log_error_code(&e),
                        }
                    }
                };
                partitions.push(
                    WritableTxnMarkerPartitionResult::default()
                        .with_partition_index(p)
                        .with_error_code(code),
                );
            }
            topics.push(
                WritableTxnMarkerTopicResult::default()
                    .with_name(t.name)
                    .with_partitions(partitions),
            );
        }
        resp.markers.push(
            WritableTxnMarkerResult::default()
                .with_producer_id(marker.producer_id)
                .with_topics(topics),
        );
    }
    resp
}

/// A marker in `__consumer_offsets` ends the transaction's pending offsets there (TxnOffsetCommit).
async fn complete_offsets(
    ctx: &Ctx,
    topic: &str,
    partition: i32,
    producer_id: i64,
    commit: bool,
) -> i16 {
    if topic != crate::group_store::OFFSETS_TOPIC {
        return 0;
    }
    let done = ctx
        .groups
        .complete_txn(partition, producer_id, commit)
        .await;
    done.map_or_else(|e| group_error_code(&e), |()| 0)
}
