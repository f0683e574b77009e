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
                    let Some(log) = ctx.cluster.partition(&t.topic, p.partition) else {
                        return answer
                            .with_error_code(ResponseError::UnknownTopicOrPartition.code());
                    };
                    if let Err(e) = check_current_epoch(p.current_leader_epoch) {
                        return answer.with_error_code(e.code());
                    }
                    match end_offset_for(p.leader_epoch, &log.offsets()) {
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

/// Kafka's `Partition.checkCurrentLeaderEpoch`: a caller behind the leader's epoch is fenced, one ahead of
/// it knows of a leader this broker has not heard of yet; -1 skips the check.
fn check_current_epoch(current: i32) -> Result<(), ResponseError> {
    if current == UNDEFINED_EPOCH {
        Ok(())
    } else if current < LEADER_EPOCH {
        Err(ResponseError::FencedLeaderEpoch)
    } else if current > LEADER_EPOCH {
        Err(ResponseError::UnknownLeaderEpoch)
    } else {
        Ok(())
    }
}

/// Kafka's `LeaderEpochFileCache.endOffsetFor` over this node's cache, which has one entry: the leader
/// epoch starting at the log start (the leader assigns it when it takes over; retention moves it forward).
/// `None` is UNDEFINED (-1, -1), answered with no error.
fn end_offset_for(requested: i32, offsets: &Offsets) -> Option<(i32, i64)> {
    if requested == UNDEFINED_EPOCH || requested > LEADER_EPOCH {
        // No epoch asked, or one after the latest: Kafka knows no end for it.
        None
    } else if requested == LEADER_EPOCH {
        // The current epoch ends at the log end.
        Some((requested, offsets.log_end))
    } else {
        // An epoch before the first one known ends where the first known one starts.
        Some((requested, offsets.log_start))
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
    fn epochs_end_as_in_kafkas_epoch_cache() {
        let o = offsets(5, 42);
        assert_eq!(end_offset_for(LEADER_EPOCH, &o), Some((LEADER_EPOCH, 42)));
        assert_eq!(end_offset_for(LEADER_EPOCH + 1, &o), None);
        assert_eq!(end_offset_for(UNDEFINED_EPOCH, &o), None);
        assert_eq!(end_offset_for(-7, &o), Some((-7, 5)));
    }

    #[test]
    fn current_epoch_is_checked_against_the_leaders() {
        assert_eq!(check_current_epoch(UNDEFINED_EPOCH), Ok(()));
        assert_eq!(check_current_epoch(LEADER_EPOCH), Ok(()));
        assert_eq!(
            check_current_epoch(LEADER_EPOCH + 1),
            Err(ResponseError::UnknownLeaderEpoch)
        );
        assert_eq!(
            check_current_epoch(LEADER_EPOCH - 2),
            Err(ResponseError::FencedLeaderEpoch)
        );
    }
}
