//! Fetch: whole record batches from each partition, long-polling on appends until `min_bytes` or
//! `max_wait_ms`, with incremental fetch sessions (KIP-227) for v7+.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures_util::future::select_all;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, LeaderIdAndEpoch, NodeEndpoint, PartitionData,
};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, ProducerId, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use uuid::Uuid;

use super::errors::log_error_code;
use super::fetch_session::{FetchContext, FetchTarget, SessionError};
use super::leadership;
use super::{Call, Ctx, Handler, Reply};
use crate::log::{FileSlice, LogError, PartitionLog, ReadBound, Records, SliceRead};

/// The Fetch handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct Fetch;

impl Handler for Fetch {
    type Request = FetchRequest;
    const VERSIONS: (i16, i16) = (4, 18);

    async fn handle(ctx: &Arc<Ctx>, call: &Call<'_>, req: FetchRequest) -> Reply<FetchResponse> {
        let (response, slices) = handle(ctx, call.version, req).await;
        Reply::Records(response, slices)
    }
}

/// `isolation_level` value for read_committed.
const READ_COMMITTED: i8 = 1;

/// Answers a Fetch, waiting for data when the request asks to. Record sets read as file ranges are
/// returned beside the response: each partition whose `records` is `None` takes the next one, in order.
pub async fn handle(
    ctx: &Arc<Ctx>,
    version: i16,
    req: FetchRequest,
) -> (FetchResponse, Vec<FileSlice>) {
    let replica = if version >= 15 {
        req.replica_state.replica_id.0
    } else {
        req.replica_id.0
    };
    if replica >= 0 {
        return super::fetch_replica::handle(ctx, version, req, replica).await;
    }
    let uses_ids = version >= 13;
    let name_of = |name: &TopicName, id: Uuid| {
        if uses_ids {
            ctx.cluster.topic_name(id)
        } else {
            Some(name.to_string())
        }
    };
    let requested: Vec<FetchTarget> = req
        .topics
        .iter()
        .flat_map(|t| {
            let topic = name_of(&t.topic, t.topic_id);
            t.partitions.iter().map(move |p| FetchTarget {
                topic: topic.clone(),
                topic_id: t.topic_id,
                partition: p.partition,
                fetch_offset: p.fetch_offset,
                max_bytes: p.partition_max_bytes,
                current_leader_epoch: p.current_leader_epoch,
                last_sent: None,
            })
        })
        .collect();
    let fetch_ctx = if version >= 7 {
        let forgotten: Vec<_> = req
            .forgotten_topics_data
            .iter()
            .flat_map(|t| {
                let topic = name_of(&t.topic, t.topic_id);
                t.partitions
                    .iter()
                    .map(move |p| (t.topic_id, topic.clone(), *p))
            })
            .collect();
        let mut cache = ctx.fetch_sessions.lock().unwrap_or_else(|e| e.into_inner());
        cache.begin(
            req.session_id,
            req.session_epoch,
            requested,
            &forgotten,
            Instant::now(),
        )
    } else {
        Ok(FetchContext {
            session_id: 0,
            incremental: false,
            targets: requested,
        })
    };
    let fetch_ctx = match fetch_ctx {
        Ok(c) => c,
        Err(e) => {
            let code = match e {
                SessionError::NotFound => ResponseError::FetchSessionIdNotFound,
                SessionError::InvalidEpoch => ResponseError::InvalidFetchSessionEpoch,
            };
            return (
                FetchResponse::default().with_error_code(code.code()),
                Vec::new(),
            );
        }
    };

    let response_max_bytes = req.max_bytes.min(ctx.config.fetch_max_bytes).max(0) as usize;
    let read_committed = req.isolation_level == READ_COMMITTED;
    let deadline = tokio::time::Instant::now()
        + std::time::Duration::from_millis(req.max_wait_ms.max(0) as u64);
    let mut targets = fetch_ctx.targets;
    let results = loop {
        // Subscribe before reading so an append between the read and the wait is not missed.
        let mut watchers: Vec<_> = targets
            .iter()
            .filter_map(|t| {
                t.topic
                    .as_deref()
                    .and_then(|n| ctx.cluster.partition(n, t.partition))
            })
            .map(|log| log.subscribe())
            .collect();
        let (results, bytes, any_error) =
            read_all(ctx, &targets, response_max_bytes, read_committed);
        let done = req.max_wait_ms <= 0
            || targets.is_empty()
            || bytes >= req.min_bytes.max(0) as usize
            || any_error
            || tokio::time::Instant::now() >= deadline;
        if done || watchers.is_empty() {
            break results;
        }
        let changed = select_all(watchers.iter_mut().map(|w| Box::pin(w.changed())));
        if tokio::time::timeout_at(deadline, changed).await.is_err() {
            // Timed out: answer with whatever is there now.
            break read_all(ctx, &targets, response_max_bytes, read_committed).0;
        }
    };

    // Build the response, dropping unchanged partitions from incremental responses.
    let mut topics: Vec<FetchableTopicResponse> = Vec::new();
    let mut slices = Vec::new();
    for (target, (data, slice)) in targets.iter_mut().zip(results) {
        let now_sent = Some((
            data.high_watermark,
            data.last_stable_offset,
            data.log_start_offset,
        ));
        let changed = data.error_code != 0
            || data.records.as_ref().is_some_and(|r| !r.is_empty())
            || slice.is_some()
            || target.last_sent != now_sent;
        target.last_sent = now_sent;
        if fetch_ctx.incremental && !changed {
            continue;
        }
        let same_topic = topics.last().is_some_and(|t| {
            if uses_ids {
                t.topic_id == target.topic_id
            } else {
                Some(t.topic.as_str()) == target.topic.as_deref()
            }
        });
        if !same_topic {
            let mut t = FetchableTopicResponse::default();
            if uses_ids {
                t.topic_id = target.topic_id;
            } else {
                t.topic = TopicName(StrBytes::from_string(
                    target.topic.clone().unwrap_or_default(),
                ));
            }
            topics.push(t);
        }
        if let Some(t) = topics.last_mut() {
            t.partitions.push(data);
            slices.extend(slice);
        }
    }
    if fetch_ctx.session_id != 0 {
        ctx.fetch_sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .record_sent(fetch_ctx.session_id, &targets);
    }
    // KIP-951 (v16+): endpoints of the leaders named in NOT_LEADER_OR_FOLLOWER answers.
    let leaders: Vec<i32> = topics
        .iter()
        .flat_map(|t| t.partitions.iter())
        .map(|p| p.current_leader.leader_id.0)
        .filter(|id| *id >= 0)
        .collect();
    let endpoints = if version >= 16 {
        leadership::endpoints(ctx, &leaders)
            .into_iter()
            .map(|(id, host, port)| {
                NodeEndpoint::default()
                    .with_node_id(id)
                    .with_host(host)
                    .with_port(port)
            })
            .collect()
    } else {
        Vec::new()
    };
    let response = FetchResponse::default()
        .with_session_id(fetch_ctx.session_id)
        .with_responses(topics)
        .with_node_endpoints(endpoints);
    (response, slices)
}

/// A partition's answer, and the file range its records (`None` there) are in, if any.
type Answer = (PartitionData, Option<FileSlice>);

/// Reads every target once; returns the partition responses, total record bytes and whether any failed.
fn read_all(
    ctx: &Ctx,
    targets: &[FetchTarget],
    response_max_bytes: usize,
    read_committed: bool,
) -> (Vec<Answer>, usize, bool) {
    let mut out = Vec::with_capacity(targets.len());
    let mut total = 0usize;
    let mut any_error = false;
    for t in targets {
        let base = PartitionData::default()
            .with_partition_index(t.partition)
            .with_high_watermark(-1)
            .with_last_stable_offset(-1)
            .with_log_start_offset(-1)
            .with_preferred_read_replica(BrokerId(-1))
            .with_aborted_transactions(read_committed.then(Vec::new))
            .with_records(Some(Bytes::new()));
        let Some(name) = &t.topic else {
            any_error = true;
            out.push((
                base.with_error_code(ResponseError::UnknownTopicId.code()),
                None,
            ));
            continue;
        };
        let log = match ctx.cluster.leader_log(name, t.partition) {
            Ok(log) => log,
            Err(e) => {
                any_error = true;
                let mut data = base.with_error_code(leadership::error_code(&e));
                if let Some((id, epoch)) = leadership::current_leader(&e) {
                    data = data.with_current_leader(
                        LeaderIdAndEpoch::default()
                            .with_leader_id(BrokerId(id))
                            .with_leader_epoch(epoch),
                    );
                }
                out.push((data, None));
                continue;
            }
        };
        if let Some(code) = epoch_error(t.current_leader_epoch, log.role_epoch().0) {
            any_error = true;
            let o = log.offsets();
            out.push((
                base.with_error_code(code)
                    .with_high_watermark(o.high_watermark)
                    .with_last_stable_offset(o.last_stable)
                    .with_log_start_offset(o.log_start),
                None,
            ));
            continue;
        }
        // KIP-74: the first non-empty partition returns at least one whole batch even over the limits.
        let min_one = total == 0;
        let limit = (t.max_bytes.max(0) as usize).min(response_max_bytes.saturating_sub(total));
        match read_isolated(&log, t.fetch_offset, limit.max(1), read_committed) {
            Ok((r, aborted)) => {
                let base = match aborted {
                    Some(a) if !a.is_empty() => base.with_aborted_transactions(Some(a)),
                    _ => base,
                };
                let records = if r.records.len() > limit && !min_one {
                    Records::Mem(Bytes::new())
                } else {
                    r.records
                };
                total += records.len();
                let o = r.offsets;
                let base = base
                    .with_high_watermark(o.high_watermark)
                    .with_last_stable_offset(o.last_stable)
                    .with_log_start_offset(o.log_start);
                out.push(match records {
                    Records::Mem(b) => (base.with_records(Some(b)), None),
                    Records::File(f) => (base.with_records(None), Some(f)),
                });
            }
            Err(e) => {
                any_error = true;
                let o = log.offsets();
                if !matches!(e, LogError::OffsetOutOfRange { .. }) {
                    tracing::warn!(topic = name, partition = t.partition, error = %e, "fetch read failed");
                }
                out.push((
                    base.with_error_code(log_error_code(&e))
                        .with_high_watermark(o.high_watermark)
                        .with_last_stable_offset(o.last_stable)
                        .with_log_start_offset(o.log_start),
                    None,
                ));
            }
        }
    }
    (out, total, any_error)
}

/// KIP-320: a request naming an older leader epoch than the partition's gets FENCED_LEADER_EPOCH (its
/// sender must refresh metadata), a newer one UNKNOWN_LEADER_EPOCH (this broker has not caught up yet);
/// -1 means the client does not say.
pub fn epoch_error(requested: i32, current: i32) -> Option<i16> {
    if requested < 0 || requested == current {
        None
    } else if requested < current {
        Some(ResponseError::FencedLeaderEpoch.code())
    } else {
        Some(ResponseError::UnknownLeaderEpoch.code())
    }
}

/// A read at the fetch's isolation level: read_committed stops at the LSO and names the aborted
/// transactions in the returned range (Kafka's `FetchIsolation.TXN_COMMITTED`).
fn read_isolated(
    log: &PartitionLog,
    offset: i64,
    max_bytes: usize,
    read_committed: bool,
) -> Result<(SliceRead, Option<Vec<AbortedTransaction>>), LogError> {
    if !read_committed {
        return log
            .read_slice(offset, max_bytes, ReadBound::HighWatermark)
            .map(|r| (r, None));
    }
    let mut r = log.read_slice(offset, max_bytes, ReadBound::LastStable)?;
    let aborted = std::mem::take(&mut r.aborted)
        .into_iter()
        .map(|a| {
            AbortedTransaction::default()
                .with_producer_id(ProducerId(a.producer_id))
                .with_first_offset(a.first_offset)
        })
        .collect();
    Ok((r, Some(aborted)))
}
