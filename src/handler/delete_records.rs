//! DeleteRecords: moves partitions' log start offsets forward (AdminClient `deleteRecords`).

use std::sync::Arc;

use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};
use kafka_protocol::ResponseError;

use super::errors::log_error_code;
use super::{Call, Ctx, Handler, Reply};

/// The DeleteRecords handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct DeleteRecords;

impl Handler for DeleteRecords {
    type Request = DeleteRecordsRequest;
    const VERSIONS: (i16, i16) = (0, 2);

    async fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: DeleteRecordsRequest,
    ) -> Reply<DeleteRecordsResponse> {
        Reply::Now(handle(ctx, call.version, req).await)
    }
}

/// Kafka's "up to the high watermark" offset.
const HIGH_WATERMARK: i64 = -1;

/// Answers a DeleteRecords request once every new log start offset is durable.
pub async fn handle(ctx: &Ctx, _version: i16, req: DeleteRecordsRequest) -> DeleteRecordsResponse {
    // Move every start first, then wait: the first checkpoint write covers them all (group commit).
    let mut moved = Vec::new();
    let mut topics: Vec<DeleteRecordsTopicResult> = req
        .topics
        .into_iter()
        .enumerate()
        .map(|(ti, t)| {
            let partitions = t
                .partitions
                .iter()
                .enumerate()
                .map(|(pi, p)| {
                    let result = DeleteRecordsPartitionResult::default()
                        .with_partition_index(p.partition_index)
                        .with_low_watermark(-1);
                    let log = match ctx.cluster.leader_log(&t.name, p.partition_index) {
                        Ok(log) => log,
                        Err(e) => return result.with_error_code(super::leadership::error_code(&e)),
                    };
                    let hw = log.offsets().high_watermark;
                    let offset = if p.offset == HIGH_WATERMARK {
                        hw
                    } else {
                        p.offset
                    };
                    if offset < 0 || offset > hw {
                        return result.with_error_code(ResponseError::OffsetOutOfRange.code());
                    }
                    match log.delete_records(offset) {
                        Ok(low) => {
                            moved.push((ti, pi, log, low));
                            result.with_low_watermark(low)
                        }
                        Err(e) => result.with_error_code(log_error_code(&e)),
                    }
                })
                .collect();
            DeleteRecordsTopicResult::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    let store = ctx.cluster.store();
    for (ti, pi, log, low) in moved {
        if let Err(e) = store.wait_log_start_durable(&log, low).await {
            tracing::error!(topic = log.topic(), partition = log.partition(), error = %e, "log start checkpoint failed");
            if let Some(p) = topics.get_mut(ti).and_then(|t| t.partitions.get_mut(pi)) {
                p.error_code = log_error_code(&e);
                p.low_watermark = -1;
            }
        }
    }
    DeleteRecordsResponse::default().with_topics(topics)
}
