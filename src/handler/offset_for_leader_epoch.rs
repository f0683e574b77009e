//! OffsetForLeaderEpoch: the end offset of a leader epoch, which the Java consumer uses to validate its
//! position after a metadata change (KIP-320). A single node has one leader epoch per partition.

use std::sync::Arc;

use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};
use kafka_protocol::ResponseError;

use super::{Call, Ctx, Handler, Reply};
use crate::log::partition::LEADER_EPOCH;
use crate::log::Offsets;

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
                    let (log, current) = match ctx.cluster.leader_log(&t.topic, p.partition) {
                        Ok(log) => {
                            let epoch = ctx
                                .cluster
                                .topic(&t.topic)
                                .and_then(|m| m.partition(p.partition).map(|s| s.leader_epoch));
                            (log, epoch.unwrap_or(LEADER_EPOCH))
                        }
                        Err(e) => return answer.with_error_code(super::leadership::error_code(&e)),
                    };
                    if let Err(e) = check_current_epoch(p.current_leader_epoch, current) {
                        return answer.with_error_code(e.code());
                    }
                    match end_offset_for(p.leader_epoch, current, &log.offsets()) {
                        Some((epoch, offset)) => {
                            answer.with_leader_epoch(epoch).with_end_offset(offset)
                        }
                        None => answer,
                    }
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(t.topic)
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}

/// Kafka's `Partition.checkCurrentLeaderEpoch`: a caller behind the leader's epoch (`leader`, from the
/// metadata image) is fenced, one ahead of it knows of a leader this broker has not heard of yet; -1 skips
/// the check.
fn check_current_epoch(current: i32, leader: i32) -> Result<(), ResponseError> {
    if current == UNDEFINED_EPOCH {
        Ok(())
    } else if current < leader {
        Err(ResponseError::FencedLeaderEpoch)
    } else if current > leader {
        Err(ResponseError::UnknownLeaderEpoch)
    } else {
        Ok(())
    }
}

/// Kafka's `LeaderEpochFileCache.endOffsetFor`. Until partitions replicate, a partition's log never
/// diverges: every epoch up to the current one (`leader`) ends at the log end (batches are stamped with
/// epoch 0 and later epochs wrote nothing else), so no client ever sees a truncation that did not happen.
/// The per-partition epoch cache (`leader-epoch-checkpoint`) comes with replication. `None` is UNDEFINED
/// (-1, -1), answered with no error.
fn end_offset_for(requested: i32, leader: i32, offsets: &Offsets) -> Option<(i32, i64)> {
    if requested == UNDEFINED_EPOCH || requested > leader || requested < LEADER_EPOCH {
        // No epoch asked, or one after the latest: Kafka knows no end for it.
        None
    } else {
        Some((requested, offsets.log_end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets(log_start: i64, log_end: i64) -> Offsets {
        Offsets {
            log_start,
            high_watermark: log_end,
            last_stable: log_end,
            log_end,
        }
    }

    #[test]
    fn epochs_up_to_the_current_end_at_the_log_end() {
        let o = offsets(5, 42);
        assert_eq!(
            end_offset_for(LEADER_EPOCH, 0, &o),
            Some((LEADER_EPOCH, 42))
        );
        // After leader changes (epoch 3 now), older epochs still end at the log end: no divergence.
        assert_eq!(end_offset_for(0, 3, &o), Some((0, 42)));
        assert_eq!(end_offset_for(2, 3, &o), Some((2, 42)));
        assert_eq!(end_offset_for(3, 3, &o), Some((3, 42)));
        assert_eq!(end_offset_for(4, 3, &o), None);
        assert_eq!(end_offset_for(UNDEFINED_EPOCH, 3, &o), None);
    }

    #[test]
    fn current_epoch_is_checked_against_the_leaders() {
        assert_eq!(check_current_epoch(UNDEFINED_EPOCH, 2), Ok(()));
        assert_eq!(check_current_epoch(2, 2), Ok(()));
        assert_eq!(
            check_current_epoch(3, 2),
            Err(ResponseError::UnknownLeaderEpoch)
        );
        assert_eq!(
            check_current_epoch(0, 2),
            Err(ResponseError::FencedLeaderEpoch)
        );
    }
}
