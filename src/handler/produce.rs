//! Produce: appends each partition's record batches (undecoded) and acknowledges per `acks`.

use std::sync::Arc;

use kafka_protocol::messages::produce_response::{
    LeaderIdAndEpoch, NodeEndpoint, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{BrokerId, ProduceRequest, ProduceResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::errors::log_error_code;
use super::leadership;
use super::{Call, Ctx, Handler, Reply};
use crate::log::batch::BatchHeader;
use crate::log::{Durability, LogError, PartitionLog};

/// The Produce handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct Produce;

impl Handler for Produce {
    type Request = ProduceRequest;
    const VERSIONS: (i16, i16) = (3, 13);

    async fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: ProduceRequest,
    ) -> Reply<ProduceResponse> {
        handle(ctx, call.version, req)
    }
}

/// Appends now (so requests on a connection are appended in order) and replies once durable as required.
pub fn handle(ctx: &Arc<Ctx>, version: i16, req: ProduceRequest) -> Reply<ProduceResponse> {
    let acks = req.acks;
    let now_ms = now_ms();
    let mut waits: Vec<(Arc<PartitionLog>, i64)> = Vec::new();
    // Leaders named in NOT_LEADER_OR_FOLLOWER answers (KIP-951): their endpoints go in the response.
    let mut leaders = Vec::new();
    let mut topics = Vec::with_capacity(req.topic_data.len());
    for topic in req.topic_data {
        // v13 names topics by id.
        let name = if version >= 13 {
            ctx.cluster.topic_name(topic.topic_id)
        } else {
            Some(topic.name.to_string())
        };
        let mut partitions = Vec::with_capacity(topic.partition_data.len());
        for p in topic.partition_data {
            let resp = PartitionProduceResponse::default()
                .with_index(p.index)
                .with_base_offset(-1);
            let resp = if !matches!(acks, -1..=1) {
                resp.with_error_code(ResponseError::InvalidRequiredAcks.code())
            } else {
                match (&name, p.records) {
                    (None, _) => resp.with_error_code(ResponseError::UnknownTopicId.code()),
                    (Some(name), records) => match ctx.cluster.leader_log(name, p.index) {
                        Err(e) => {
                            let resp = resp.with_error_code(leadership::error_code(&e));
                            match leadership::current_leader(&e) {
                                Some((id, epoch)) if version >= 10 => {
                                    leaders.push(id);
                                    resp.with_current_leader(
                                        LeaderIdAndEpoch::default()
                                            .with_leader_id(BrokerId(id))
                                            .with_leader_epoch(epoch),
                                    )
                                }
                                _ => resp,
                            }
                        }
                        Ok(log) => {
                            let durability = if acks == -1 {
                                Durability::Synced
                            } else {
                                Durability::Written
                            };
                            append(
                                &log,
                                records.unwrap_or_default(),
                                now_ms,
                                durability,
                                resp,
                                &mut waits,
                            )
                        }
                    },
                }
            };
            partitions.push(resp);
        }
        topics.push(
            TopicProduceResponse::default()
                .with_name(topic.name)
                .with_topic_id(topic.topic_id)
                .with_partition_responses(partitions),
        );
    }
    if acks == 0 {
        return Reply::None;
    }
    let endpoints = leadership::endpoints(ctx, &leaders)
        .into_iter()
        .map(|(id, host, port)| {
            NodeEndpoint::default()
                .with_node_id(id)
                .with_host(host)
                .with_port(port)
        })
        .collect();
    let response = ProduceResponse::default()
        .with_responses(topics)
        .with_node_endpoints(endpoints);
    if waits.is_empty() {
        return Reply::Now(response);
    }
    Reply::later(async move {
        let mut response = response;
        for (log, offset) in waits {
            if let Err(e) = log.wait_durable(offset).await {
                let code = log_error_code(&e);
                tracing::error!(error = %e, "fsync failed; failing the produce");
                for t in &mut response.responses {
                    for p in &mut t.partition_responses {
                        p.error_code = code;
                    }
                }
            }
        }
        response
    })
}

/// Kafka (`ProduceRequest.validateRecords`): v3+ carries exactly one record batch per partition.
fn exactly_one_batch(records: &bytes::Bytes) -> Result<(), LogError> {
    let header = BatchHeader::parse(records)?;
    if header.total_len() < records.len() {
        return Err(LogError::InvalidRecord(
            "Produce requests with version 3 and above must contain exactly one record batch"
                .into(),
        ));
    }
    Ok(())
}

fn append(
    log: &Arc<PartitionLog>,
    records: bytes::Bytes,
    now_ms: i64,
    durability: Durability,
    resp: PartitionProduceResponse,
    waits: &mut Vec<(Arc<PartitionLog>, i64)>,
) -> PartitionProduceResponse {
    match exactly_one_batch(&records).and_then(|()| log.append(records, now_ms)) {
        Ok(info) => {
            if durability == Durability::Synced {
                waits.push((log.clone(), info.last_offset));
            }
            resp.with_base_offset(info.base_offset)
                .with_log_append_time_ms(info.log_append_time_ms)
                .with_log_start_offset(info.log_start_offset)
        }
        Err(e) => {
            let code = log_error_code(&e);
            resp.with_error_code(code)
                .with_log_start_offset(log.offsets().log_start)
                .with_error_message(Some(StrBytes::from_string(e.to_string())))
        }
    }
}

/// Wall-clock milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
