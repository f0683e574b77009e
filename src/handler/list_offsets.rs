//! ListOffsets: earliest, latest, max-timestamp and by-timestamp offset lookups.

use std::sync::Arc;

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};
use kafka_protocol::ResponseError;

use super::errors::log_error_code;
use super::{Call, Ctx, Handler, Reply};

/// The ListOffsets handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct ListOffsets;

impl Handler for ListOffsets {
    type Request = ListOffsetsRequest;
    const VERSIONS: (i16, i16) = (1, 10);

    async fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: ListOffsetsRequest,
    ) -> Reply<ListOffsetsResponse> {
        Reply::Now(handle(ctx, call.version, req))
    }
}

/// Special timestamps (Kafka's `ListOffsetsRequest` constants).
const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;

/// Answers a ListOffsets request.
pub fn handle(ctx: &Ctx, version: i16, req: ListOffsetsRequest) -> ListOffsetsResponse {
    let read_committed = req.isolation_level == 1;
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let resp = ListOffsetsPartitionResponse::default()
                        .with_partition_index(p.partition_index)
                        .with_timestamp(-1)
                        .with_offset(-1)
                        .with_leader_epoch(-1);
                    let log = match ctx.cluster.leader_log(&t.name, p.partition_index) {
                        Ok(log) => log,
                        Err(e) => return resp.with_error_code(super::leadership::error_code(&e)),
                    };
                    let o = log.offsets();
                    let found = match p.timestamp {
                        LATEST => Ok(Some((
                            if read_committed {
                                o.last_stable
                            } else {
                                o.high_watermark
                            },
                            -1,
                        ))),
                        EARLIEST | EARLIEST_LOCAL => Ok(Some((o.log_start, -1))),
                        // No tiered storage: nothing is tiered, so the latest tiered offset is "none".
                        LATEST_TIERED => Ok(None),
                        MAX_TIMESTAMP => log.max_timestamp(),
                        ts if ts >= 0 => log.offset_for_timestamp(ts),
                        _ => return resp.with_error_code(ResponseError::InvalidRequest.code()),
                    };
                    match found {
                        Ok(Some((offset, timestamp))) => {
                            // Leader epochs exist from v4; the field must stay at its default before.
                            let epoch = if version >= 4 { 0 } else { -1 };
                            resp.with_offset(offset)
                                .with_timestamp(timestamp)
                                .with_leader_epoch(epoch)
                        }
                        Ok(None) => resp,
                        Err(e) => resp.with_error_code(log_error_code(&e)),
                    }
                })
                .collect();
            ListOffsetsTopicResponse::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}
