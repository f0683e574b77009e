//! OffsetForLeaderEpoch: the end offset of a leader epoch, which the Java consumer uses to validate its
//! position after a metadata change (KIP-320), answered from the partition's leader-epoch cache.

use std::sync::Arc;

use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};

use super::fetch::epoch_error;
use super::{Call, Ctx, Handler, Reply};

/// The OffsetForLeaderEpoch handler: the versions it serves and its entry point (named once in `list.rs`).
/// kafka-protocol 0.18 (like Kafka 4, KIP-896) decodes only v2 and later.
pub struct OffsetForLeaderEpoch;

impl Handler for OffsetForLeaderEpoch {
    type Request = OffsetForLeaderEpochRequest;
    const VERSIONS: (i16, i16) = (2, 4);

    async fn handle(
        ctx: &Arc<Ctx>,
        _call: &Call<'_>,
        req: OffsetForLeaderEpochRequest,
    ) -> Reply<OffsetForLeaderEpochResponse> {
        Reply::Now(handle(ctx, req))
    }
}

/// "No epoch" in requests and answers (Kafka's `RecordBatch.NO_PARTITION_LEADER_EPOCH`).
const UNDEFINED_EPOCH: i32 = -1;
/// "No offset" in answers (Kafka's `UNDEFINED_EPOCH_OFFSET`).
const UNDEFINED_EPOCH_OFFSET: i64 = -1;

/// Answers each partition as Kafka's `Partition.lastOffsetForLeaderEpoch` does on the leader.
pub fn handle(ctx: &Ctx, req: OffsetForLeaderEpochRequest) -> OffsetForLeaderEpochResponse {
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let answer = EpochEndOffset::default()
                        .with_partition(p.partition)
                        .with_leader_epoch(UNDEFINED_EPOCH)
                        .with_end_offset(UNDEFINED_EPOCH_OFFSET);
                    let log = match ctx.cluster.leader_log(&t.topic, p.partition) {
                        Ok(log) => log,
                        Err(e) => return answer.with_error_code(super::leadership::error_code(&e)),
                    };
                    if let Some(code) = epoch_error(p.current_leader_epoch, log.role_epoch().0) {
                        return answer.with_error_code(code);
                    }
                    // Kafka's `LeaderEpochFileCache.endOffsetFor`, from the partition's epoch cache.
                    let (epoch, end) = log.end_offset_for_epoch(p.leader_epoch);
                    answer.with_leader_epoch(epoch).with_end_offset(end)
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(t.topic)
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}
