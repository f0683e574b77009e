//! The coordinators' storage: `__consumer_offsets` / `__transaction_state` partitions in the log store,
//! topic lookups against the metadata image, producer ids from the cluster. This is the only place where
//! `group` and `txn` meet `log` and `cluster`.

use std::sync::Arc;

use crate::cluster::{Cluster, ClusterError};
use crate::coordinator::CoordinatorError;
use crate::group::consumer::TopicInfo;
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
) -> Result<bool, ClusterError> {
    if cluster.image().topics.contains_key(topic) {
        return Ok(false);
    }
    let mut configs = std::collections::BTreeMap::new();
    configs.insert("cleanup.policy".to_string(), "compact".to_string());
    configs.insert("segment.bytes".to_string(), (100 * 1024 * 1024).to_string());
    match cluster
        .create_topic(topic, partitions, 1, configs, true, false)
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

/// The broker's marker writer until control batches, the LSO and read_committed exist in the log store:
/// it refuses, so a prepared transaction (only reachable from a `__transaction_state` written elsewhere,
/// since AddPartitionsToTxn / EndTxn are not served yet) stays prepared and is retried, never completed
/// without its markers.
pub struct UnbuiltMarkers;

impl crate::txn::MarkerWriter for UnbuiltMarkers {
    fn write_markers(&self, _markers: crate::txn::Markers) -> crate::txn::MarkersFuture {
        Box::pin(std::future::ready(Err(
            "transaction markers are not written by this broker yet".to_string(),
        )))
    }
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
