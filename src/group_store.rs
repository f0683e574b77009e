//! The coordinators' storage: `__consumer_offsets` / `__transaction_state` partitions in the log store,
//! topic lookups against the metadata image, producer ids from the cluster. This is the only place where
//! `group` and `txn` meet `log` and `cluster`.

use std::sync::Arc;

use crate::cluster::{Cluster, ClusterError};
use crate::coordinator::CoordinatorError;
use crate::group::{AppendFuture, OffsetsLog, OffsetsRecord, TopicLookup};
use crate::log::batch::{build_batch, split_batches, BatchRecords};
use crate::log::{LogError, PartitionLog};

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
    match cluster
        .create_topic(topic, partitions, rf, configs, true, false)
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
    CoordinatorError::Storage(e.to_string())
}

impl OffsetsLog for LogOffsets {
    fn append(&self, partition: i32, records: Vec<OffsetsRecord>) -> AppendFuture {
        let log = match self.partition_log(partition) {
            Ok(log) => log,
            Err(e) => return Box::pin(async move { Err(e) }),
        };
        let pairs: Vec<_> = records
            .iter()
            .map(|(k, v)| (Some(&k[..]), v.as_deref()))
            .collect();
        let now = crate::log::partition::now_ms();
        let batch = build_batch(&pairs, now, -1, -1, -1, 0);
        // Appended now, so records land in call order; the future only waits for the fsync.
        let appended = log.append(batch, now);
        Box::pin(async move {
            let info = appended.map_err(storage)?;
            log.wait_durable(info.last_offset).await.map_err(storage)
        })
    }

    fn read_all(&self, partition: i32) -> Result<Vec<OffsetsRecord>, CoordinatorError> {
        // Replays what this node holds, led or not: the coordinator serves only what this broker leads
        // (checked per request), but loads every local partition.
        let Some(log) = self.cluster.local_partition(self.topic, partition) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let mut offset = log.offsets().log_start;
        loop {
            let read = log.read(offset, REPLAY_READ_BYTES).map_err(storage)?;
            if read.records.is_empty() {
                break;
            }
            let mut next = offset;
            for (header, batch) in split_batches(&read.records) {
                next = header.last_offset() + 1;
                if header.is_control() {
                    continue;
                }
                for record in BatchRecords::new(&batch).map_err(storage)? {
                    let record = record.map_err(storage)?;
                    if record.offset < offset {
                        continue;
                    }
                    if let Some(key) = record.key {
                        out.push((key, record.value));
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
}

impl crate::txn::MarkerWriter for ClusterMarkers {
    fn write_markers(&self, markers: crate::txn::Markers) -> crate::txn::MarkersFuture {
        let (cluster, groups) = (self.cluster.clone(), self.groups.clone());
        Box::pin(async move { write_markers(&cluster, &groups, markers).await })
    }
}

async fn write_markers(
    cluster: &Cluster,
    groups: &crate::group::GroupCoordinator,
    m: crate::txn::Markers,
) -> Result<(), String> {
    use crate::cluster::NotServed;
    use crate::log::producer_state::ControlType;
    let control = if m.commit {
        ControlType::Commit
    } else {
        ControlType::Abort
    };
    let now_ms = crate::log::partition::now_ms();
    let mut remote: Vec<(i32, Vec<(String, i32)>)> = Vec::new();
    for (topic, partition) in &m.partitions {
        match cluster.leader_log(topic, *partition) {
            Ok(log) => {
                let info = log
                    .append_marker(m.producer_id, m.producer_epoch, 0, control, now_ms)
                    .map_err(|e| format!("{topic}-{partition}: {e}"))?;
                log.wait_durable(info.last_offset)
                    .await
                    .map_err(|e| format!("{topic}-{partition}: {e}"))?;
                if topic == OFFSETS_TOPIC {
                    groups
                        .complete_txn(*partition, m.producer_id, m.commit)
                        .await
                        .map_err(|e| format!("{topic}-{partition}: {e}"))?;
                }
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
        let addr = {
            let image = cluster.image();
            let b = image
                .live_broker(leader)
                .ok_or_else(|| format!("leader {leader} of a transaction partition is not live"))?;
            format!("{}:{}", b.host, b.port)
        };
        crate::client::markers::write_txn_markers(
            &addr,
            m.producer_id,
            m.producer_epoch,
            m.commit,
            0,
            &partitions,
        )
        .await?;
    }
    Ok(())
}

/// Topic lookups for the coordinator (commits for unknown partitions are rejected).
pub struct ClusterTopics(pub Arc<Cluster>);

impl TopicLookup for ClusterTopics {
    fn partition_exists(&self, topic: &str, partition: i32) -> bool {
        self.0
            .topic(topic)
            .is_some_and(|t| (0..t.partition_count()).contains(&partition))
    }

    fn coordinates(&self, partition: i32) -> bool {
        self.0.partition(OFFSETS_TOPIC, partition).is_some()
    }
}
