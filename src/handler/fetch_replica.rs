//! Fetch from a follower (a request with a replica id, Kafka's `ReplicaManager.fetchMessages` for
//! followers): reads up to the log end rather than the high watermark, checks the follower's leader epoch
//! and its last fetched epoch (answering a diverging epoch, KIP-595, when its log parts from ours), and
//! records its progress, which moves the high watermark and may add it to the ISR. Long-polls on the log
//! end. Followers send full fetches (no KIP-227 session). A follower that learnt of an election before
//! this broker did waits for this broker's image rather than being refused.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::select_all;
use kafka_protocol::messages::fetch_response::{
    EpochEndOffset, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse};
use kafka_protocol::ResponseError;

use super::errors::log_error_code;
use super::fetch::epoch_error;
use super::{leadership, Ctx};
use crate::log::{FileSlice, FollowerPosition, PartitionLog, ReadBound, Records};

/// One requested partition, resolved.
struct Wanted {
    topic: Option<String>,
    partition: i32,
    fetch_offset: i64,
    current_leader_epoch: i32,
    last_fetched_epoch: i32,
    max_bytes: i32,
}

/// Answers a follower's fetch; record sets read as file ranges come beside the response, as in
/// [`super::fetch::handle`].
pub async fn handle(
    ctx: &Arc<Ctx>,
    version: i16,
    req: FetchRequest,
    replica: i32,
) -> (FetchResponse, Vec<FileSlice>) {
    let uses_ids = version >= 13;
    let mut wanted = Vec::new();
    let mut topics = Vec::new();
    for t in &req.topics {
        let name = if uses_ids {
            ctx.cluster.topic_name(t.topic_id)
        } else {
            Some(t.topic.to_string())
        };
        topics.push((t.topic.clone(), t.topic_id, t.partitions.len()));
        for p in &t.partitions {
            wanted.push(Wanted {
                topic: name.clone(),
                partition: p.partition,
                fetch_offset: p.fetch_offset,
                current_leader_epoch: p.current_leader_epoch,
                last_fetched_epoch: if version >= 12 {
                    p.last_fetched_epoch
                } else {
                    -1
                },
                max_bytes: p.partition_max_bytes,
            });
        }
    }
    let deadline = tokio::time::Instant::now()
        + std::time::Duration::from_millis(req.max_wait_ms.max(0) as u64);
    catch_up_with(ctx, &wanted, deadline).await;
    // The fetch offset is the follower's log end: record it first, so the high watermark moves as soon
    // as the follower has what the producers wait for. The high watermark before that is the newest the
    // follower may know: a later one ends the long poll (below).
    let mut known_hw = Vec::with_capacity(wanted.len());
    for w in &wanted {
        let log = w
            .topic
            .as_deref()
            .and_then(|n| ctx.cluster.partition(n, w.partition));
        known_hw.push(
            log.as_ref()
                .map_or(i64::MAX, |l| l.offsets().high_watermark),
        );
        if let Some(log) = log {
            // With acks.all.fsync a follower fetches only what it has fsynced: its log end is durable.
            let position = FollowerPosition {
                offset: w.fetch_offset,
                durable: w.fetch_offset,
                current_leader_epoch: w.current_leader_epoch,
                last_fetched_epoch: w.last_fetched_epoch,
            };
            let _ = ctx
                .cluster
                .replication()
                .on_follower_fetch(&log, replica, position);
        }
    }
    let response_max = req.max_bytes.max(0) as usize;
    let mut images = ctx.cluster.subscribe_image();
    images.mark_unchanged();
    let results = loop {
        let mut watchers: Vec<_> = wanted
            .iter()
            .filter_map(|w| {
                w.topic
                    .as_deref()
                    .and_then(|n| ctx.cluster.partition(n, w.partition))
            })
            .map(|log| log.subscribe_end())
            .collect();
        let (results, bytes, answered) = read_all(ctx, &wanted, response_max);
        // Followers learn the high watermark only from answers: a parked fetch completes when it moved
        // (as Kafka completes delayed fetches on a high watermark change), so an idle follower's high
        // watermark does not trail by up to `replica.fetch.wait.max.ms`. The watchers above wake on it:
        // the leader publishes its log end with every high watermark change.
        let hw_moved = results
            .iter()
            .zip(&known_hw)
            .any(|((d, _), known)| d.high_watermark > *known);
        let done = req.max_wait_ms <= 0
            || bytes >= req.min_bytes.max(1) as usize
            || answered
            || hw_moved
            || tokio::time::Instant::now() >= deadline
            || watchers.is_empty();
        if done {
            break results;
        }
        let changed = select_all(watchers.iter_mut().map(|w| Box::pin(w.changed())));
        tokio::select! {
            _ = changed => {}
            () = leads_more_for(ctx, replica, &wanted, &mut images) => {
                // This broker just became leader of a partition the follower does not fetch yet (a
                // failover, a new topic): answer now so its next fetch names it, instead of leaving it
                // out for the rest of this long poll (up to `replica.fetch.wait.max.ms` on every failover).
                break read_all(ctx, &wanted, response_max).0;
            }
            () = tokio::time::sleep_until(deadline) => {
                break read_all(ctx, &wanted, response_max).0;
            }
        }
    };
    let slices: Vec<FileSlice> = results.iter().filter_map(|(_, s)| s.clone()).collect();
    let mut results = results.into_iter().map(|(d, _)| d);
    let mut responses = Vec::with_capacity(topics.len());
    for (name, id, count) in topics {
        let mut t = FetchableTopicResponse::default();
        if uses_ids {
            t.topic_id = id;
        } else {
            t.topic = name;
        }
        t.partitions = results.by_ref().take(count).collect();
        responses.push(t);
    }
    (FetchResponse::default().with_responses(responses), slices)
}

/// Waits, until `deadline` at most, while the follower names a leader epoch newer than this broker's image
/// has for one of its partitions: the follower applied an election first and asks a moment before this
/// broker, its new leader, has taken it in. Kafka answers at once (UNKNOWN_LEADER_EPOCH, or
/// NOT_LEADER_OR_FOLLOWER before it leads) and its follower backs off `replica.fetch.backoff.ms`; that
/// back-off lands on every failover where the follower is first, while the image is milliseconds away.
async fn catch_up_with(ctx: &Ctx, wanted: &[Wanted], deadline: tokio::time::Instant) {
    let mut images = ctx.cluster.subscribe_image();
    loop {
        let image = images.borrow_and_update().clone();
        let behind = wanted.iter().any(|w| {
            w.topic
                .as_deref()
                .and_then(|n| image.topics.get(n))
                .and_then(|t| t.partition(w.partition))
                .is_some_and(|p| p.leader_epoch < w.current_leader_epoch)
        });
        if !behind {
            return;
        }
        tokio::select! {
            changed = images.changed() => if changed.is_err() { return },
            () = tokio::time::sleep_until(deadline) => return,
        }
    }
}

/// Reads every partition once; returns the answers, the record bytes, and whether any partition has
/// something other than records to say (an error or a diverging epoch), which ends a long poll.
fn read_all(
    ctx: &Ctx,
    wanted: &[Wanted],
    response_max: usize,
) -> (Vec<(PartitionData, Option<FileSlice>)>, usize, bool) {
    let mut out = Vec::with_capacity(wanted.len());
    let mut total = 0usize;
    let mut answered = false;
    for w in wanted {
        let base = PartitionData::default()
            .with_partition_index(w.partition)
            .with_high_watermark(-1)
            .with_last_stable_offset(-1)
            .with_log_start_offset(-1)
            .with_preferred_read_replica(BrokerId(-1))
            .with_records(Some(Bytes::new()));
        let log = match w
            .topic
            .as_deref()
            .map(|n| ctx.cluster.leader_log(n, w.partition))
        {
            None => Err(ResponseError::UnknownTopicId.code()),
            Some(Err(e)) => Err(leadership::error_code(&e)),
            Some(Ok(log)) => Ok(log),
        };
        let data = log.and_then(|log| {
            let limit = (w.max_bytes.max(0) as usize).min(response_max.saturating_sub(total));
            read_one(&log, w, base.clone(), limit, total == 0)
        });
        match data {
            Ok((d, slice)) => {
                let len = d.records.as_ref().map_or(0, Bytes::len)
                    + slice.as_ref().map_or(0, |s| s.len as usize);
                answered |= d.diverging_epoch.epoch >= 0 || d.error_code != 0;
                total += len;
                out.push((d, slice));
            }
            Err(code) => {
                answered = true;
                out.push((base.with_error_code(code), None));
            }
        }
    }
    (out, total, answered)
}

/// One partition's answer, and the file range its records (`None` there) are in, if any.
fn read_one(
    log: &Arc<PartitionLog>,
    w: &Wanted,
    base: PartitionData,
    limit: usize,
    first: bool,
) -> Result<(PartitionData, Option<FileSlice>), i16> {
    let (epoch, leading) = log.role_epoch();
    if !leading {
        return Err(ResponseError::NotLeaderOrFollower.code());
    }
    if let Some(code) = epoch_error(w.current_leader_epoch, epoch) {
        return Err(code);
    }
    let o = log.offsets();
    let base = base
        .with_high_watermark(o.high_watermark)
        .with_last_stable_offset(o.last_stable)
        .with_log_start_offset(o.log_start);
    // Kafka answers OFFSET_OUT_OF_RANGE below the log start whether or not epochs diverge
    // (`Partition.readRecords`). Weir keeps the log start (and high watermark) in that answer, so its
    // follower can restart there without asking ListOffsets.
    if w.fetch_offset < o.log_start {
        return Ok((
            base.with_error_code(ResponseError::OffsetOutOfRange.code()),
            None,
        ));
    }
    if w.last_fetched_epoch >= 0 {
        // KIP-595: where does the follower's last epoch end in our log? Before its fetch offset (or an
        // older epoch than it has): it must truncate there first.
        let (e, end) = log.end_offset_for_epoch(w.last_fetched_epoch);
        if e < 0 || end < 0 {
            return Err(ResponseError::OffsetOutOfRange.code());
        }
        if e < w.last_fetched_epoch || end < w.fetch_offset {
            return Ok((
                base.with_diverging_epoch(
                    EpochEndOffset::default().with_epoch(e).with_end_offset(end),
                ),
                None,
            ));
        }
    }
    match log.read_slice(w.fetch_offset, limit.max(1), ReadBound::LogEnd) {
        Ok(r) if r.records.len() > limit && !first => Ok((base, None)),
        Ok(r) => Ok(match r.records {
            Records::Mem(b) => (base.with_records(Some(b)), None),
            Records::File(f) => (base.with_records(None), Some(f)),
        }),
        Err(e) => Ok((base.with_error_code(log_error_code(&e)), None)),
    }
}

/// Resolves once an image arrives in which this broker leads a partition `replica` follows that the
/// fetch does not name; never when the image stream ends (the deadline ends the poll then).
async fn leads_more_for(
    ctx: &Ctx,
    replica: i32,
    wanted: &[Wanted],
    images: &mut tokio::sync::watch::Receiver<Arc<crate::cluster::MetadataImage>>,
) {
    let node = ctx.node.node_id;
    while images.changed().await.is_ok() {
        let image = images.borrow_and_update().clone();
        let more = image.topics.values().any(|t| {
            t.partitions.iter().enumerate().any(|(i, p)| {
                p.leader == node
                    && p.replicas.contains(&replica)
                    && !wanted.iter().any(|w| {
                        w.partition as usize == i && w.topic.as_deref() == Some(t.name.as_str())
                    })
            })
        });
        if more {
            return;
        }
    }
    std::future::pending::<()>().await;
}
