//! The coordinators' storage: `__consumer_offsets` / `__transaction_state` partitions in the log store,
//! topic lookups against the metadata image, producer ids from the cluster. This is the only place where
//! `group` and `txn` meet `log` and `cluster`.

use std::sync::Arc;

use uuid::Uuid;

use crate::cluster::publisher::ImageListener;
use crate::cluster::{Cluster, ClusterError, MetadataImage};
use crate::coordinator::{CoordinatorError, LogEntry, TxnMarker};
use crate::group::consumer::TopicInfo;
use crate::group::GroupError;
use crate::group::{AppendFuture, OffsetsLog, OffsetsRecord, TopicLookup};
use crate::log::batch::{build_batch, split_batches, BatchRecords, ATTR_TRANSACTIONAL};
use crate::log::producer_state::ControlType;
use crate::log::{LogError, PartitionLog};
use crate::txn::{MarkerError, TRANSACTION_STATE_TOPIC};

pub use crate::group::records::OFFSETS_TOPIC;
/// Bytes read per step while replaying a partition at start-up.
const REPLAY_READ_BYTES: usize = 1 << 20;

/// A coordinator's internal topic (`__consumer_offsets`, `__transaction_state`) over the log store.
pub struct LogOffsets {
    /// Metadata and partition logs.
    cluster: Arc<Cluster>,
    /// The internal topic (created by FindCoordinator, see [`ensure_internal_topic`]).
    topic: &'static str,
}

impl LogOffsets {
    /// `__consumer_offsets` over `cluster`.
    pub fn new(cluster: Arc<Cluster>) -> LogOffsets {
        Self::for_topic(cluster, OFFSETS_TOPIC)
    }

    /// Another coordinator's internal topic.
    pub fn for_topic(cluster: Arc<Cluster>, topic: &'static str) -> LogOffsets {
        LogOffsets { cluster, topic }
    }

    /// The log of one partition of the coordinator's topic that this broker leads. The topic itself is
    /// created by FindCoordinator ([`ensure_internal_topic`]), which every client calls first.
    fn partition_log(&self, partition: i32) -> Result<Arc<PartitionLog>, CoordinatorError> {
        self.cluster
            .partition(self.topic, partition)
            .ok_or_else(|| {
                CoordinatorError::Storage(format!(
                    "{}-{partition} is not led by this broker",
                    self.topic
                ))
            })
    }
}

/// Creates a coordinator's internal topic (compacted) with `partitions` partitions through the
/// controller if it does not exist yet, as Kafka does on the first FindCoordinator. Returns whether it was
/// created by this call.
pub async fn ensure_internal_topic(
    cluster: &Cluster,
    topic: &str,
    partitions: i32,
    replication_factor: i16,
) -> Result<bool, ClusterError> {
    let image = cluster.image();
    if image.topics.contains_key(topic) {
        return Ok(false);
    }
    // Capped by the brokers there are, so a single node (or a small dev cluster) works out of the box.
    let live = i16::try_from(image.live_brokers().count()).unwrap_or(i16::MAX);
    let rf = replication_factor.min(live).max(1);
    let mut configs = std::collections::BTreeMap::new();
    configs.insert("cleanup.policy".to_string(), "compact".to_string());
    configs.insert("segment.bytes".to_string(), (100 * 1024 * 1024).to_string());
    let new = crate::cluster::NewTopic {
        name: topic.to_string(),
        partitions,
        replication_factor: rf,
        configs,
        internal: true,
        ..Default::default()
    };
    match cluster
        .create_topic(new, Cluster::internal_deadline())
        .await
    {
        Ok(_) => {
            tracing::info!(partitions, "created {topic}");
            Ok(true)
        }
        Err(ClusterError::TopicAlreadyExists(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

fn storage(e: LogError) -> CoordinatorError {
    match e {
        LogError::InvalidProducerEpoch { .. } => CoordinatorError::InvalidProducerEpoch,
        LogError::TransactionCoordinatorFenced { .. } => CoordinatorError::CoordinatorFenced,
        e => CoordinatorError::Storage(e.to_string()),
    }
}

impl LogOffsets {
    /// Appends `records` as one batch of `producer` (id, epoch, first sequence) or as a plain batch.
    fn append_batch(
        &self,
        partition: i32,
        producer: Option<(i64, i16)>,
        records: &[OffsetsRecord],
    ) -> AppendFuture {
        let log = match self.partition_log(partition) {
            Ok(log) => log,
            Err(e) => return Box::pin(async move { Err(e) }),
        };
        let pairs: Vec<_> = records
            .iter()
            .map(|(k, v)| (Some(&k[..]), v.as_deref()))
            .collect();
        let now = crate::log::partition::now_ms();
        let batch = match producer {
            None => build_batch(&pairs, now, -1, -1, -1, 0),
            // The shard is this partition's only writer, so the sequence read here is still the
            // producer's next one when the batch is appended below (Kafka's coordinator appends skip the
            // sequence check; Weir's log checks every producer batch, so the coordinator numbers them).
            Some((pid, epoch)) => {
                let seq = log.next_sequence(pid, epoch);
                build_batch(&pairs, now, pid, epoch, seq, ATTR_TRANSACTIONAL)
            }
        };
        // Appended now, so records land in call order; the future only waits for the fsync.
        let appended = log.append(batch, now);
        Box::pin(async move {
            let info = appended.map_err(storage)?;
            log.wait_durable(info.last_offset, info.leader_epoch)
                .await
                .map_err(storage)
        })
    }
}

impl OffsetsLog for LogOffsets {
    fn append(&self, partition: i32, records: Vec<OffsetsRecord>) -> AppendFuture {
        self.append_batch(partition, None, &records)
    }

    fn append_transactional(
        &self,
        partition: i32,
        producer_id: i64,
        producer_epoch: i16,
        records: Vec<OffsetsRecord>,
    ) -> AppendFuture {
        self.append_batch(partition, Some((producer_id, producer_epoch)), &records)
    }

    fn append_end_txn(&self, partition: i32, marker: TxnMarker) -> AppendFuture {
        let log = match self.partition_log(partition) {
            Ok(log) => log,
            Err(e) => return Box::pin(async move { Err(e) }),
        };
        let control = if marker.commit {
            ControlType::Commit
        } else {
            ControlType::Abort
        };
        let appended = log.append_marker(
            marker.producer_id,
            marker.producer_epoch,
            marker.coordinator_epoch,
            control,
            crate::log::partition::now_ms(),
        );
        Box::pin(async move {
            let info = appended.map_err(storage)?;
            log.wait_durable(info.last_offset, info.leader_epoch)
                .await
                .map_err(storage)
        })
    }

    fn read_all(&self, partition: i32) -> Result<Vec<LogEntry>, CoordinatorError> {
        // Replays what this node holds, led or not: the coordinator serves only what this broker leads
        // (checked per request), but loads every local partition.
        let Some(log) = self.cluster.local_partition(self.topic, partition) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let mut offset = log.offsets().log_start;
        loop {
            // To the log end, not the high watermark (Kafka's coordinator loader): a new leader's high
            // watermark trails until its followers fetch, but its whole log is what it will commit.
            let read = log
                .read_to_log_end(offset, REPLAY_READ_BYTES)
                .map_err(storage)?;
            if read.records.is_empty() {
                break;
            }
            let mut next = offset;
            for (header, batch) in split_batches(&read.records) {
                next = header.last_offset() + 1;
                if header.is_control() {
                    // Kafka's loader replays commit and abort markers; other control records are skipped.
                    if let Some(control) = crate::log::control::control_type(&batch) {
                        out.push(LogEntry::EndTxn {
                            producer_id: header.producer_id,
                            commit: control == ControlType::Commit,
                        });
                    }
                    continue;
                }
                let producer_id = header.is_transactional().then_some(header.producer_id);
                for record in BatchRecords::new(&batch).map_err(storage)? {
                    let record = record.map_err(storage)?;
                    if record.offset < offset {
                        continue;
                    }
                    if let Some(key) = record.key {
                        out.push(LogEntry::Record {
                            record: (key, record.value),
                            producer_id,
                        });
                    }
                }
            }
            if next <= offset {
                break;
            }
            offset = next;
        }
        Ok(out)
    }
}

/// Producer ids for the transaction coordinator, from the cluster's producer-id blocks.
pub struct ClusterProducerIds(pub Arc<Cluster>);

impl crate::txn::ProducerIdSource for ClusterProducerIds {
    fn next_producer_id(&self) -> Result<i64, String> {
        self.0.try_next_producer_id().map_err(|e| e.to_string())
    }
}

/// Writes transaction markers (Kafka's `TransactionMarkerChannelManager`, one round per transaction):
/// in-process into the partitions this broker leads, with WriteTxnMarkers to the leader of the others;
/// each append is durable before the round succeeds (Kafka writes markers with acks=all). A partition
/// that no longer exists is skipped, as Kafka drops markers for deleted partitions. A marker in a
/// `__consumer_offsets` partition also ends the transaction's pending offsets there (TxnOffsetCommit).
pub struct ClusterMarkers {
    /// Metadata and partition logs.
    pub cluster: Arc<Cluster>,
    /// The group coordinator holding pending transactional offsets.
    pub groups: crate::group::GroupCoordinator,
    /// Connections to the other partition leaders.
    pub peers: Arc<crate::client::pool::ConnPool>,
}

impl crate::txn::MarkerWriter for ClusterMarkers {
    fn write_markers(&self, markers: crate::txn::Markers) -> crate::txn::MarkersFuture {
        let (cluster, groups) = (self.cluster.clone(), self.groups.clone());
        let peers = self.peers.clone();
        Box::pin(async move { write_markers(&cluster, &groups, &peers, markers).await })
    }
}

/// One partition's (or one remote leader's) share of a marker round.
type MarkerWrite<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), MarkerError>> + Send + 'a>>;

/// A local partition's refusal sorted as Kafka's marker completion handler does: a newer producer epoch or
/// coordinator there means this coordinator is fenced; anything else is retried.
fn log_marker_error(at: &str, e: LogError) -> MarkerError {
    match e {
        LogError::InvalidProducerEpoch { .. } | LogError::TransactionCoordinatorFenced { .. } => {
            MarkerError::Fenced(format!("{at}: {e}"))
        }
        _ => MarkerError::Retriable(format!("{at}: {e}")),
    }
}

/// Writes one round of markers into every partition at once (Kafka's marker channel sends to every leader
/// in parallel): local appends are made in partition order here, then their durability, the
/// `__consumer_offsets` markers and the WriteTxnMarkers to other leaders are awaited together. Every
/// partition is attempted even when one fails; the round fails if any did (the coordinator resends it).
async fn write_markers(
    cluster: &Cluster,
    groups: &crate::group::GroupCoordinator,
    peers: &crate::client::pool::ConnPool,
    m: crate::txn::Markers,
) -> Result<(), MarkerError> {
    use crate::cluster::NotServed;
    let control = if m.commit {
        ControlType::Commit
    } else {
        ControlType::Abort
    };
    let now_ms = crate::log::partition::now_ms();
    let mut remote: Vec<(i32, Vec<(String, i32)>)> = Vec::new();
    let marker = TxnMarker {
        producer_id: m.producer_id,
        producer_epoch: m.producer_epoch,
        coordinator_epoch: m.coordinator_epoch,
        commit: m.commit,
    };
    let mut writes: Vec<MarkerWrite<'_>> = Vec::new();
    for (topic, partition) in &m.partitions {
        let at = format!("{topic}-{partition}");
        match cluster.leader_log(topic, *partition) {
            // A `__consumer_offsets` marker goes through the group coordinator, which writes and replays
            // it (the transaction's pending offsets there become committed or are dropped).
            Ok(_) if topic == OFFSETS_TOPIC => {
                let done = groups.complete_txn(*partition, marker);
                writes.push(Box::pin(async move {
                    done.await.map_err(|e| match e {
                        GroupError::InvalidProducerEpoch
                        | GroupError::TransactionCoordinatorFenced => {
                            MarkerError::Fenced(format!("{at}: {e}"))
                        }
                        _ => MarkerError::Retriable(format!("{at}: {e}")),
                    })
                }));
            }
            Ok(log) => {
                let appended = log.append_marker(
                    m.producer_id,
                    m.producer_epoch,
                    m.coordinator_epoch,
                    control,
                    now_ms,
                );
                writes.push(Box::pin(async move {
                    let info = appended.map_err(|e| log_marker_error(&at, e))?;
                    log.wait_durable(info.last_offset, info.leader_epoch)
                        .await
                        .map_err(|e| log_marker_error(&at, e))
                }));
            }
            Err(NotServed::Unknown) => {
                tracing::warn!(%topic, partition, producer_id = m.producer_id,
                    "transaction marker skipped: the partition no longer exists");
            }
            Err(NotServed::NotLeader { leader, .. }) => {
                let p = (topic.clone(), *partition);
                match remote.iter_mut().find(|(l, _)| *l == leader) {
                    Some((_, ps)) => ps.push(p),
                    None => remote.push((leader, vec![p])),
                }
            }
        }
    }
    for (leader, partitions) in remote {
        let addr = cluster
            .image()
            .live_broker(leader)
            .map(|b| format!("{}:{}", b.host, b.port));
        let m = &m;
        writes.push(Box::pin(async move {
            let addr = addr.ok_or_else(|| {
                MarkerError::Retriable(format!(
                    "leader {leader} of a transaction partition is not live"
                ))
            })?;
            crate::client::markers::write_txn_markers(
                peers,
                &addr,
                m.producer_id,
                m.producer_epoch,
                m.commit,
                m.coordinator_epoch,
                &partitions,
            )
            .await
        }));
    }
    let failed: Vec<MarkerError> = futures_util::future::join_all(writes)
        .await
        .into_iter()
        .filter_map(Result::err)
        .collect();
    MarkerError::combine(failed).map_or(Ok(()), Err)
}

/// Topic lookups for the coordinator (commits for unknown partitions are rejected).
pub struct ClusterTopics(pub Arc<Cluster>);

impl TopicLookup for ClusterTopics {
    fn partition_exists(&self, topic: &str, partition: i32) -> bool {
        self.0
            .topic(topic)
            .is_some_and(|t| (0..t.partition_count()).contains(&partition))
    }

    fn topic_info(&self, name: &str) -> Option<TopicInfo> {
        let image = self.0.image();
        let t = image.topics.get(name)?;
        Some(TopicInfo {
            name: t.name.clone(),
            id: t.id,
            partitions: t.partition_count(),
        })
    }

    fn all_topics(&self) -> Vec<TopicInfo> {
        let image = self.0.image();
        image
            .topics
            .values()
            .filter(|t| !t.internal)
            .map(|t| TopicInfo {
                name: t.name.clone(),
                id: t.id,
                partitions: t.partition_count(),
            })
            .collect()
    }

    fn topic_name(&self, id: uuid::Uuid) -> Option<String> {
        self.0.topic_name(id)
    }
}

/// Loads and unloads coordinator partitions as this broker gains and loses leadership of
/// `__consumer_offsets` / `__transaction_state` partitions (Kafka's `BrokerMetadataPublisher` calling
/// `onElection` / `onResignation`). Told of every image in order, before handlers see it, so a broker
/// that FindCoordinator names is already loading.
pub struct CoordinatorElections {
    /// This broker.
    pub node_id: i32,
    /// The group coordinator (`__consumer_offsets`).
    pub groups: crate::group::GroupCoordinator,
    /// The transaction coordinator (`__transaction_state`).
    pub txns: crate::txn::TxnCoordinator,
}

/// Per partition of `topic`: `Some(leader epoch)` where `node_id` leads it; the topic's id.
fn led(image: &MetadataImage, topic: &str, node_id: i32) -> (Option<Uuid>, Vec<Option<i32>>) {
    match image.topics.get(topic) {
        None => (None, Vec::new()),
        Some(t) => (
            Some(t.id),
            t.partitions
                .iter()
                .map(|p| (p.leader == node_id).then_some(p.leader_epoch))
                .collect(),
        ),
    }
}

/// A change of leadership of one coordinator partition on this broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leadership {
    /// Elected at this leader epoch.
    Elected(i32),
    /// Resigned; the new leader epoch (`None`: the partition is gone).
    Resigned(Option<i32>),
}

/// The leadership changes of `topic`'s partitions on `node_id` from `old` to `new`.
fn leadership_changes(
    old: &MetadataImage,
    new: &MetadataImage,
    topic: &str,
    node_id: i32,
) -> Vec<(i32, Leadership)> {
    let (old_id, mut before) = led(old, topic, node_id);
    let (new_id, after) = led(new, topic, node_id);
    let mut out = Vec::new();
    if old_id.is_some() && old_id != new_id {
        // Deleted or re-created (its epochs start over): whatever was led before is resigned first.
        out.extend(
            (0..)
                .zip(&before)
                .filter(|(_, e)| e.is_some())
                .map(|(p, _)| (p, Leadership::Resigned(None))),
        );
        before.clear();
    }
    out.extend(elections(&before, &after, new, topic));
    out
}

/// Changes between the partitions led `before` and `after` (`Some(leader epoch)` where led).
fn elections(
    before: &[Option<i32>],
    after: &[Option<i32>],
    new: &MetadataImage,
    topic: &str,
) -> Vec<(i32, Leadership)> {
    let mut out = Vec::new();
    for p in 0..before.len().max(after.len()) {
        let (was, is) = (
            before.get(p).copied().flatten(),
            after.get(p).copied().flatten(),
        );
        let Ok(index) = i32::try_from(p) else { break };
        match (was, is) {
            (_, Some(epoch)) if was != Some(epoch) => out.push((index, Leadership::Elected(epoch))),
            (Some(_), None) => {
                let epoch = new
                    .topics
                    .get(topic)
                    .and_then(|t| t.partition(index))
                    .map(|s| s.leader_epoch);
                out.push((index, Leadership::Resigned(epoch)));
            }
            _ => {}
        }
    }
    out
}

impl ImageListener for CoordinatorElections {
    fn on_image(&self, old: &MetadataImage, new: &MetadataImage) {
        for (p, change) in leadership_changes(old, new, OFFSETS_TOPIC, self.node_id) {
            tracing::debug!(
                partition = p,
                ?change,
                "{OFFSETS_TOPIC} leadership changed here"
            );
            match change {
                Leadership::Elected(epoch) => self.groups.on_election(p, epoch),
                Leadership::Resigned(epoch) => self.groups.on_resignation(p, epoch),
            }
        }
        for (p, change) in leadership_changes(old, new, TRANSACTION_STATE_TOPIC, self.node_id) {
            tracing::debug!(
                partition = p,
                ?change,
                "{TRANSACTION_STATE_TOPIC} leadership changed here"
            );
            match change {
                Leadership::Elected(epoch) => self.txns.on_election(p, epoch),
                Leadership::Resigned(epoch) => self.txns.on_resignation(p, epoch),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::records::{MetadataRecord, PartitionChange};

    fn create(image: &mut MetadataImage, id: Uuid, leaders: &[i32]) {
        image.apply(
            image.offset + 1,
            &MetadataRecord::CreateTopic {
                name: OFFSETS_TOPIC.into(),
                id,
                configs: Default::default(),
                internal: true,
                assignments: leaders.iter().map(|l| vec![*l]).collect(),
            },
        );
    }

    fn lead(image: &mut MetadataImage, id: Uuid, partition: i32, leader: i32) {
        image.apply(
            image.offset + 1,
            &MetadataRecord::PartitionChange(PartitionChange {
                topic_id: id,
                partition,
                leader: Some(leader),
                ..Default::default()
            }),
        );
    }

    #[test]
    fn elections_and_resignations_follow_the_image() {
        let id = Uuid::new_v4();
        let empty = MetadataImage::default();
        let mut a = empty.clone();
        create(&mut a, id, &[1, 2, 1]);
        let changes = |old: &MetadataImage, new: &MetadataImage| {
            leadership_changes(old, new, OFFSETS_TOPIC, 1)
        };
        let e0 = a.topics[OFFSETS_TOPIC].partitions[0].leader_epoch;
        assert_eq!(
            changes(&empty, &a),
            vec![(0, Leadership::Elected(e0)), (2, Leadership::Elected(e0))]
        );
        // Partition 0 moves to broker 2 (resigned, with the new epoch), partition 1 comes here.
        let mut b = a.clone();
        lead(&mut b, id, 0, 2);
        lead(&mut b, id, 1, 1);
        let e1 = b.topics[OFFSETS_TOPIC].partitions[0].leader_epoch;
        assert!(e1 > e0);
        assert_eq!(
            changes(&a, &b),
            vec![
                (0, Leadership::Resigned(Some(e1))),
                (1, Leadership::Elected(e1))
            ]
        );
        assert_eq!(changes(&b, &b), vec![], "no change, nothing to do");
        // Leadership lost and regained between two images seen: a newer epoch is a new election.
        let mut c = b.clone();
        lead(&mut c, id, 1, -1);
        lead(&mut c, id, 1, 1);
        let e2 = c.topics[OFFSETS_TOPIC].partitions[1].leader_epoch;
        assert_eq!(changes(&b, &c), vec![(1, Leadership::Elected(e2))]);
        // Re-created under a new id: everything led before is resigned, the new partitions elected.
        let mut d = c.clone();
        d.apply(d.offset + 1, &MetadataRecord::DeleteTopic { id });
        let id2 = Uuid::new_v4();
        create(&mut d, id2, &[1]);
        let e3 = d.topics[OFFSETS_TOPIC].partitions[0].leader_epoch;
        assert_eq!(
            changes(&c, &d),
            vec![
                (1, Leadership::Resigned(None)),
                (2, Leadership::Resigned(None)),
                (0, Leadership::Elected(e3)),
            ]
        );
    }
}
