//! DescribeProducers 0: the producers a partition leader tracks, with their open transactions (what
//! `kafka-transactions.sh describe-producers` and `find-hanging` use).

use std::sync::Arc;

use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::{DescribeProducersRequest, DescribeProducersResponse, ProducerId};

use super::{leadership, Call, Ctx, Handler, Reply};

/// The DescribeProducers handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct DescribeProducers;

impl Handler for DescribeProducers {
    type Request = DescribeProducersRequest;
    const VERSIONS: (i16, i16) = (0, 0);

    async fn handle(
        ctx: &Arc<Ctx>,
        _call: &Call<'_>,
        req: DescribeProducersRequest,
    ) -> Reply<DescribeProducersResponse> {
        Reply::Now(handle(ctx, req))
    }
}

/// Answers DescribeProducers from each partition's producer state (coordinator epoch -1: not tracked).
pub fn handle(ctx: &Ctx, req: DescribeProducersRequest) -> DescribeProducersResponse {
    let mut resp = DescribeProducersResponse::default();
    for t in req.topics {
        let mut partitions = Vec::with_capacity(t.partition_indexes.len());
        for p in t.partition_indexes {
            let out = PartitionResponse::default().with_partition_index(p);
            let out = match ctx.cluster.leader_log(t.name.as_str(), p) {
                Err(e) => out.with_error_code(leadership::error_code(&e)),
                Ok(log) => out.with_active_producers(
                    log.producers()
                        .into_iter()
                        .map(|v| {
                            ProducerState::default()
                                .with_producer_id(ProducerId(v.producer_id))
                                .with_producer_epoch(i32::from(v.producer_epoch))
                                .with_last_sequence(v.last_sequence)
                                .with_last_timestamp(v.last_timestamp_ms)
                                .with_coordinator_epoch(-1)
                                .with_current_txn_start_offset(v.txn_start_offset)
                        })
                        .collect(),
                ),
            };
            partitions.push(out);
        }
        resp.topics.push(
            TopicResponse::default()
                .with_name(t.name)
                .with_partitions(partitions),
        );
    }
    resp
}
