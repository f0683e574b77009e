//! WriteTxnMarkers 1 (v0 is gone since Kafka 4.0, and kafka-protocol decodes only v1): a transaction coordinator on another broker asks this partition leader to write
//! commit/abort markers (Kafka's `handleWriteTxnMarkersRequest`). A coordinator on this broker writes
//! its local markers in-process instead (`group_store::ClusterMarkers`).

use std::sync::Arc;

use kafka_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use kafka_protocol::messages::{WriteTxnMarkersRequest, WriteTxnMarkersResponse};

use kafka_protocol::ResponseError;

use super::errors::{group_error_code, log_error_code};
use super::{leadership, Call, Ctx, Handler, Reply};
use crate::coordinator::TxnMarker;
use crate::group::GroupError;
use crate::group_store::OFFSETS_TOPIC;
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
        let end = TxnMarker {
            producer_id: marker.producer_id.0,
            producer_epoch: marker.producer_epoch,
            coordinator_epoch: marker.coordinator_epoch,
            commit: marker.transaction_result,
        };
        let mut topics = Vec::with_capacity(marker.topics.len());
        for t in marker.topics {
            let mut partitions = Vec::with_capacity(t.partition_indexes.len());
            for p in t.partition_indexes {
                let code = match ctx.cluster.leader_log(t.name.as_str(), p) {
                    Err(e) => leadership::error_code(&e),
                    Ok(_) if t.name.as_str() == OFFSETS_TOPIC => offsets_marker(ctx, p, end).await,
                    Ok(log) => {
                        let written = log.append_marker(
                            end.producer_id,
                            end.producer_epoch,
                            end.coordinator_epoch,
                            control,
                            now_ms,
                        );
                        match written {
                            Ok(info) => {
                                match log.wait_durable(info.last_offset, info.leader_epoch).await {
                                    Ok(()) => 0,
                                    Err(e) => log_error_code(&e),
                                }
                            }
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

/// A marker in `__consumer_offsets` goes through the group coordinator, which writes and replays it
/// (the transaction's pending offsets there become committed or are dropped). As Kafka, coordinator
/// states the transaction coordinator does not expect become NOT_LEADER_OR_FOLLOWER (it retries).
async fn offsets_marker(ctx: &Ctx, partition: i32, marker: TxnMarker) -> i16 {
    match ctx.groups.complete_txn(partition, marker).await {
        Ok(()) => 0,
        Err(
            GroupError::CoordinatorNotAvailable
            | GroupError::CoordinatorLoadInProgress
            | GroupError::NotCoordinator,
        ) => ResponseError::NotLeaderOrFollower.code(),
        Err(e) => group_error_code(&e),
    }
}
