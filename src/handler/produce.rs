//! Produce: appends each partition's record batches (undecoded) and acknowledges per `acks`.

use std::sync::Arc;

use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, LeaderIdAndEpoch, NodeEndpoint, PartitionProduceResponse,
    TopicProduceResponse,
};
use kafka_protocol::messages::{BrokerId, ProduceRequest, ProduceResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::errors::log_error_code;
use super::leadership;
use super::{Call, Ctx, Handler, Reply};
use crate::log::batch::{BatchHeader, Compression};
use crate::log::validate::Origin;
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
        let refused = super::produce_txn::verify(ctx, call.version, &req).await;
        if refused.is_empty() {
            handle(ctx, call.version, req)
        } else {
            handle_verified(ctx, call.version, req, &refused)
        }
    }
}

/// Appends now (so requests on a connection are appended in order) and replies once durable as required.
pub fn handle(ctx: &Arc<Ctx>, version: i16, req: ProduceRequest) -> Reply<ProduceResponse> {
    handle_verified(ctx, version, req, &[])
}

/// [`handle`], with the partitions transaction verification refused (KIP-890) answered with their code.
pub fn handle_verified(
    ctx: &Arc<Ctx>,
    version: i16,
    req: ProduceRequest,
    refused: &[((String, i32), i16)],
) -> Reply<ProduceResponse> {
    let acks = req.acks;
    let timeout_ms = req.timeout_ms;
    let now_ms = now_ms();
    // acks=all appends to wait for: (topic index, partition index, log, last offset).
    let mut waits: Vec<Wait> = Vec::new();
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
            let p_index = p.index;
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
                        Ok(_) if refused.iter().any(|((t, p), _)| t == name && *p == p_index) => {
                            let code = refused
                                .iter()
                                .find(|((t, p), _)| t == name && *p == p_index)
                                .map_or(0, |(_, c)| *c);
                            resp.with_error_code(code)
                        }
                        Ok(log) => {
                            let durability = if acks == -1 {
                                Durability::Synced
                            } else {
                                Durability::Written
                            };
                            let at = (topics.len(), partitions.len());
                            if durability == Durability::Synced && !enough_replicas(&log) {
                                // Kafka refuses before appending when the ISR is too small.
                                resp.with_error_code(ResponseError::NotEnoughReplicas.code())
                                    .with_log_start_offset(log.offsets().log_start)
                            } else {
                                append(
                                    &log,
                                    version,
                                    records.unwrap_or_default(),
                                    now_ms,
                                    durability,
                                    resp,
                                    &mut waits,
                                    at,
                                )
                            }
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
        // Kafka (`KafkaApis.handleProduceRequest`): an acks=0 produce with any partition error closes
        // the connection, the only way such a client hears of it.
        let failed = topics
            .iter()
            .flat_map(|t| &t.partition_responses)
            .find(|p| p.error_code != 0);
        return match failed {
            Some(p) => Reply::Close(format!(
                "acks=0 produce failed with error {}: {}",
                p.error_code,
                p.error_message.as_deref().unwrap_or("")
            )),
            None => Reply::None,
        };
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
    let deadline = tokio::time::Instant::now()
        + std::time::Duration::from_millis(u64::try_from(timeout_ms.max(0)).unwrap_or(0));
    Reply::later(async move {
        let mut response = response;
        for (t, p, log, offset, epoch) in waits {
            let code = match tokio::time::timeout_at(deadline, log.wait_durable(offset, epoch))
                .await
            {
                // Replicated (and fsynced as configured), but the ISR shrank below the minimum
                // meanwhile: Kafka's NOT_ENOUGH_REPLICAS_AFTER_APPEND.
                Ok(Ok(())) if !enough_replicas(&log) => {
                    ResponseError::NotEnoughReplicasAfterAppend.code()
                }
                Ok(Ok(())) => continue,
                Ok(Err(e)) => {
                    tracing::warn!(topic = log.topic(), partition = log.partition(), error = %e, "acks=all produce failed");
                    log_error_code(&e)
                }
                Err(_) => ResponseError::RequestTimedOut.code(),
            };
            if let Some(r) = response
                .responses
                .get_mut(t)
                .and_then(|t| t.partition_responses.get_mut(p))
            {
                r.error_code = code;
            }
        }
        response
    })
}

/// An acks=all append to wait for: topic and partition index in the response, the log, its last offset
/// and the leader epoch it was appended in.
type Wait = (usize, usize, Arc<PartitionLog>, i64, i32);

/// Whether the partition has `min.insync.replicas` in sync (the leader included).
fn enough_replicas(log: &PartitionLog) -> bool {
    log.isr_size() >= usize::try_from(log.min_insync_replicas()).unwrap_or(usize::MAX)
}

/// Why a partition's records are refused before they reach the log (Kafka's
/// `ProduceRequest.validateRecords`).
enum Refused {
    /// Anything the log store would also say.
    Log(LogError),
    /// zstd before Produce v7 (UNSUPPORTED_COMPRESSION_TYPE).
    Zstd,
}

/// Kafka (`ProduceRequest.validateRecords`, reading batches as `ByteBufferLogInputStream` does): v3+
/// carries exactly one complete magic-2 batch per partition (a truncated one counts as none), and zstd
/// needs v7+. A length field below the smallest legacy record is corrupt.
fn validate_records(version: i16, records: &bytes::Bytes) -> Result<(), Refused> {
    const LOG_OVERHEAD: usize = 12;
    const HEADER_SIZE_UP_TO_MAGIC: usize = 17;
    const RECORD_OVERHEAD_V0: i64 = 14;
    let invalid = |m: String| Refused::Log(LogError::InvalidRecord(m));
    let no_batch = || {
        invalid(format!(
            "Produce requests with version {version} must have at least one record batch per partition"
        ))
    };
    if records.len() < LOG_OVERHEAD {
        return Err(no_batch());
    }
    let length = i64::from(i32::from_be_bytes([
        records[8],
        records[9],
        records[10],
        records[11],
    ]));
    if length < RECORD_OVERHEAD_V0 {
        return Err(Refused::Log(LogError::CorruptMessage(format!(
            "record size {length} is less than the minimum record overhead ({RECORD_OVERHEAD_V0})"
        ))));
    }
    let total = length as usize + LOG_OVERHEAD;
    if records.len() < HEADER_SIZE_UP_TO_MAGIC || total > records.len() {
        return Err(no_batch());
    }
    if records[16] != 2 {
        return Err(invalid(format!(
            "Produce requests with version {version} are only allowed to contain record batches with magic version 2"
        )));
    }
    if total < records.len() {
        return Err(invalid(format!(
            "Produce requests with version {version} are only allowed to contain exactly one record batch per partition"
        )));
    }
    let header = BatchHeader::parse(records).map_err(Refused::Log)?;
    if version < 7 && header.compression() == Some(Compression::Zstd) {
        return Err(Refused::Zstd);
    }
    Ok(())
}

/// The failed partition's response: error code, message and, for record-level failures, which records.
fn refusal(resp: PartitionProduceResponse, e: &LogError) -> PartitionProduceResponse {
    let resp = resp
        .with_error_code(log_error_code(e))
        .with_error_message(Some(StrBytes::from_string(e.to_string())));
    match e {
        LogError::RecordErrors { errors, .. } => resp.with_record_errors(
            errors
                .iter()
                .map(|r| {
                    BatchIndexAndErrorMessage::default()
                        .with_batch_index(r.batch_index)
                        .with_batch_index_error_message(Some(StrBytes::from_string(
                            r.message.clone(),
                        )))
                })
                .collect(),
        ),
        _ => resp,
    }
}

#[allow(clippy::too_many_arguments)]
fn append(
    log: &Arc<PartitionLog>,
    version: i16,
    records: bytes::Bytes,
    now_ms: i64,
    durability: Durability,
    resp: PartitionProduceResponse,
    waits: &mut Vec<Wait>,
    at: (usize, usize),
) -> PartitionProduceResponse {
    let appended = validate_records(version, &records).and_then(|()| {
        log.append_from(Origin::Client, records, now_ms)
            .map_err(Refused::Log)
    });
    match appended {
        Ok(info) => {
            if durability == Durability::Synced {
                waits.push((at.0, at.1, log.clone(), info.last_offset, info.leader_epoch));
            }
            resp.with_base_offset(info.base_offset)
                .with_log_append_time_ms(info.log_append_time_ms)
                .with_log_start_offset(info.log_start_offset)
        }
        Err(Refused::Zstd) => resp
            .with_error_code(ResponseError::UnsupportedCompressionType.code())
            .with_log_start_offset(log.offsets().log_start),
        Err(Refused::Log(e)) => refusal(resp, &e).with_log_start_offset(log.offsets().log_start),
    }
}

/// Wall-clock milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
