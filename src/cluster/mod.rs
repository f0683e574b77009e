//! The cluster metadata image: topics, their ids, partitions and configs, and producer-id allocation.
//!
//! Single node for now: this broker leads every partition. The image is persisted as one JSON file in the
//! data folder, replaced atomically (write, fsync, rename, fsync the folder) on every change.

pub mod topic_config;
pub mod topic_name;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::log::{LogConfig, LogError, LogStore, PartitionLog};

/// File in the data folder holding the metadata image.
const METADATA_FILE: &str = "weir-metadata.json";
/// Producer ids are reserved on disk in blocks of this many, so a restart never reuses one.
const PRODUCER_ID_BLOCK: i64 = 1000;
/// Most partitions one topic may have; bounds the files and memory a single request can create.
pub const PARTITIONS_PER_TOPIC_MAX: i32 = 10_000;

/// Errors of metadata operations; handlers map each to a Kafka error code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    #[error("Topic '{0}' already exists.")]
    TopicAlreadyExists(String),
    #[error("{0}")]
    InvalidTopic(String),
    #[error("{0}")]
    InvalidPartitions(String),
    #[error("{0}")]
    InvalidReplicationFactor(String),
    #[error("{0}")]
    InvalidConfig(String),
    #[error("This server does not host this topic-partition.")]
    UnknownTopic,
    #[error("unknown topic id")]
    UnknownTopicId,
    #[error("log store: {0}")]
    Log(#[from] LogError),
    #[error("metadata file: {0}")]
    Io(#[from] std::io::Error),
}

/// One topic as the metadata image knows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TopicMeta {
    /// Topic name.
    pub name: String,
    /// Topic id (KIP-516), stable across restarts.
    pub id: Uuid,
    /// Number of partitions, 0..partitions.
    pub partitions: i32,
    /// Replication factor as requested (this node holds the only replica).
    pub replication_factor: i16,
    /// Topic-level config overrides, Kafka names.
    pub configs: BTreeMap<String, String>,
    /// Internal topics (`__consumer_offsets`) are flagged in Metadata responses.
    pub internal: bool,
}

/// What is persisted.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Image {
    /// Cluster id, generated at first start (Kafka: 22-char base64 of a UUID).
    cluster_id: String,
    /// Topics by name.
    topics: BTreeMap<String, TopicMeta>,
    /// End of the last reserved producer-id block; ids below it may have been handed out.
    producer_id_reserved_end: i64,
}

/// The metadata image with its persistence; the log store holds the partitions' data.
pub struct Cluster {
    /// This broker's node id.
    node_id: i32,
    /// Path of the persisted image.
    path: PathBuf,
    /// The image; writers hold the lock only while changing memory and writing the small file.
    image: RwLock<Image>,
    /// Index by topic id.
    by_id: RwLock<HashMap<Uuid, String>>,
    /// Next producer id to hand out and the end of its reserved block.
    producer_ids: Mutex<(i64, i64)>,
    /// Partition data.
    store: Arc<LogStore>,
    /// Broker-level defaults for topic configs.
    log_defaults: LogConfig,
}

impl Cluster {
    /// Loads (or creates) the image and opens every partition's log.
    pub fn open(
        node_id: i32,
        store: Arc<LogStore>,
        log_defaults: LogConfig,
    ) -> Result<Cluster, ClusterError> {
        let path = store.dir().join(METADATA_FILE);
        let mut image: Image = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Image::default(),
            Err(e) => return Err(e.into()),
        };
        if image.cluster_id.is_empty() {
            image.cluster_id = new_cluster_id();
        }
        let next = image.producer_id_reserved_end;
        let by_id = image
            .topics
            .values()
            .map(|t| (t.id, t.name.clone()))
            .collect();
        let cluster = Cluster {
            node_id,
            path,
            image: RwLock::new(image),
            by_id: RwLock::new(by_id),
            producer_ids: Mutex::new((next, next)),
            store,
            log_defaults,
        };
        let topics: Vec<TopicMeta> = cluster.topics();
        for t in &topics {
            let config = topic_config::log_config(&cluster.log_defaults, &t.configs)
                .unwrap_or_else(|_| cluster.log_defaults.clone());
            for p in 0..t.partitions {
                cluster.store.get_or_create(&t.name, p, config.clone())?;
            }
        }
        cluster.persist(&cluster.image.read().expect("poisoned"))?;
        Ok(cluster)
    }

    /// This broker's node id (the controller and leader of everything while single-node).
    pub fn node_id(&self) -> i32 {
        self.node_id
    }

    /// The cluster id.
    pub fn cluster_id(&self) -> String {
        self.image.read().expect("poisoned").cluster_id.clone()
    }

    /// All topics, by name.
    pub fn topics(&self) -> Vec<TopicMeta> {
        self.image
            .read()
            .expect("poisoned")
            .topics
            .values()
            .cloned()
            .collect()
    }

    /// One topic.
    pub fn topic(&self, name: &str) -> Option<TopicMeta> {
        self.image
            .read()
            .expect("poisoned")
            .topics
            .get(name)
            .cloned()
    }

    /// Name of the topic with this id.
    pub fn topic_name(&self, id: Uuid) -> Option<String> {
        self.by_id.read().expect("poisoned").get(&id).cloned()
    }

    /// The log of a partition this broker hosts.
    pub fn partition(&self, topic: &str, partition: i32) -> Option<Arc<PartitionLog>> {
        self.store.get(topic, partition)
    }

    /// The log store holding every partition.
    pub fn store(&self) -> &Arc<LogStore> {
        &self.store
    }

    /// The broker's default topic settings.
    pub fn log_defaults(&self) -> &LogConfig {
        &self.log_defaults
    }

    /// Creates a topic (or only validates the request); returns what was (or would be) created.
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: BTreeMap<String, String>,
        internal: bool,
        validate_only: bool,
    ) -> Result<TopicMeta, ClusterError> {
        topic_name::validate(name).map_err(ClusterError::InvalidTopic)?;
        if !(1..=PARTITIONS_PER_TOPIC_MAX).contains(&partitions) {
            return Err(ClusterError::InvalidPartitions(format!(
                "Number of partitions must be between 1 and {PARTITIONS_PER_TOPIC_MAX}, was {partitions}."
            )));
        }
        if replication_factor < 1 {
            return Err(ClusterError::InvalidReplicationFactor(
                "Replication factor must be larger than 0.".into(),
            ));
        }
        if replication_factor > 1 {
            return Err(ClusterError::InvalidReplicationFactor(format!(
                "Unable to replicate the partition {replication_factor} time(s): The target replication factor \
                 of {replication_factor} cannot be reached because only 1 broker(s) are registered."
            )));
        }
        let log_config = topic_config::log_config(&self.log_defaults, &configs)
            .map_err(ClusterError::InvalidConfig)?;
        let mut image = self.image.write().expect("poisoned");
        if image.topics.contains_key(name) {
            return Err(ClusterError::TopicAlreadyExists(name.to_string()));
        }
        let key = topic_name::collision_key(name);
        if let Some(other) = image
            .topics
            .keys()
            .find(|t| topic_name::collision_key(t) == key)
        {
            return Err(ClusterError::InvalidTopic(format!(
                "Topic '{name}' collides with existing topic: {other}"
            )));
        }
        let meta = TopicMeta {
            name: name.to_string(),
            id: Uuid::new_v4(),
            partitions,
            replication_factor,
            configs,
            internal,
        };
        if validate_only {
            return Ok(meta);
        }
        for p in 0..partitions {
            self.store.get_or_create(name, p, log_config.clone())?;
        }
        image.topics.insert(name.to_string(), meta.clone());
        self.by_id
            .write()
            .expect("poisoned")
            .insert(meta.id, name.to_string());
        self.persist(&image)?;
        Ok(meta)
    }

    /// Deletes a topic and its partitions' data.
    pub fn delete_topic(&self, name: &str) -> Result<TopicMeta, ClusterError> {
        let mut image = self.image.write().expect("poisoned");
        let meta = image
            .topics
            .remove(name)
            .ok_or(ClusterError::UnknownTopic)?;
        self.by_id.write().expect("poisoned").remove(&meta.id);
        self.persist(&image)?;
        drop(image);
        for p in 0..meta.partitions {
            self.store.delete(name, p)?;
        }
        // Drop the deleted partitions from the checkpoint files now (once per topic, as Kafka's
        // LogManager.asyncDelete does): a same-named topic created before the next maintenance pass must
        // not inherit their log start offsets after a crash.
        if let Err(e) = self.store.write_checkpoints() {
            tracing::error!(topic = name, error = %e, "checkpoint write after topic deletion failed");
        }
        Ok(meta)
    }

    /// Grows a topic to `total` partitions.
    pub fn create_partitions(
        &self,
        name: &str,
        total: i32,
        validate_only: bool,
    ) -> Result<(), ClusterError> {
        let mut image = self.image.write().expect("poisoned");
        let meta = image.topics.get(name).ok_or(ClusterError::UnknownTopic)?;
        if total <= meta.partitions {
            return Err(ClusterError::InvalidPartitions(format!(
                "Topic currently has {} partitions, which is higher than the requested {total}.",
                meta.partitions
            )));
        }
        if total > PARTITIONS_PER_TOPIC_MAX {
            return Err(ClusterError::InvalidPartitions(format!(
                "Number of partitions must be at most {PARTITIONS_PER_TOPIC_MAX}, was {total}."
            )));
        }
        if validate_only {
            return Ok(());
        }
        let config = topic_config::log_config(&self.log_defaults, &meta.configs)
            .map_err(ClusterError::InvalidConfig)?;
        for p in meta.partitions..total {
            self.store.get_or_create(name, p, config.clone())?;
        }
        if let Some(meta) = image.topics.get_mut(name) {
            meta.partitions = total;
        }
        self.persist(&image)?;
        Ok(())
    }

    /// Replaces a topic's config overrides (validated first) and applies them to its partitions.
    pub fn alter_topic_configs(
        &self,
        name: &str,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), ClusterError> {
        let log_config = topic_config::log_config(&self.log_defaults, &configs)
            .map_err(ClusterError::InvalidConfig)?;
        let mut image = self.image.write().expect("poisoned");
        let meta = image
            .topics
            .get_mut(name)
            .ok_or(ClusterError::UnknownTopic)?;
        if validate_only {
            return Ok(());
        }
        meta.configs = configs;
        let partitions = meta.partitions;
        self.persist(&image)?;
        drop(image);
        for p in 0..partitions {
            if let Some(log) = self.store.get(name, p) {
                log.set_config(log_config.clone());
            }
        }
        Ok(())
    }

    /// Hands out a new producer id; blocks of ids are reserved on disk first.
    pub fn next_producer_id(&self) -> Result<i64, ClusterError> {
        let mut ids = self.producer_ids.lock().expect("poisoned");
        if ids.0 >= ids.1 {
            let mut image = self.image.write().expect("poisoned");
            image.producer_id_reserved_end = ids.1 + PRODUCER_ID_BLOCK;
            self.persist(&image)?;
            ids.1 = image.producer_id_reserved_end;
        }
        let id = ids.0;
        ids.0 += 1;
        Ok(id)
    }

    fn persist(&self, image: &Image) -> Result<(), ClusterError> {
        let bytes = serde_json::to_vec_pretty(image).map_err(std::io::Error::other)?;
        write_atomically(&self.path, &bytes)?;
        Ok(())
    }
}

/// Replaces `path` with `bytes` so a crash leaves either the old or the new file, never a torn one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Kafka's cluster ids are a UUID in URL-safe base64 without padding (22 characters).
fn new_cluster_id() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bits = Uuid::new_v4().as_u128();
    (0..22)
        .map(|i| ALPHABET[((bits >> (122 - 6 * i).max(0)) & 63) as usize] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::StoreOptions;

    fn open(dir: &Path) -> Cluster {
        let store = LogStore::open(StoreOptions::new(dir)).unwrap();
        Cluster::open(1, store, LogConfig::default()).unwrap()
    }

    #[test]
    fn topics_and_ids_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let c = open(dir.path());
        let t = c
            .create_topic("a.b", 3, 1, BTreeMap::new(), false, false)
            .unwrap();
        assert!(matches!(
            c.create_topic("a_b", 1, 1, BTreeMap::new(), false, false),
            Err(ClusterError::InvalidTopic(_))
        ));
        assert!(matches!(
            c.create_topic("a.b", 1, 1, BTreeMap::new(), false, false),
            Err(ClusterError::TopicAlreadyExists(_))
        ));
        assert!(matches!(
            c.create_topic("x", 1, 3, BTreeMap::new(), false, false),
            Err(ClusterError::InvalidReplicationFactor(_))
        ));
        let cid = c.cluster_id();
        let pid = c.next_producer_id().unwrap();
        drop(c);
        let c = open(dir.path());
        assert_eq!(c.cluster_id(), cid);
        assert_eq!(c.topic("a.b").unwrap().id, t.id);
        assert_eq!(c.topic_name(t.id).as_deref(), Some("a.b"));
        assert!(c.next_producer_id().unwrap() > pid);
    }

    #[test]
    fn recreated_topic_does_not_inherit_checkpointed_log_start() {
        let dir = tempfile::tempdir().unwrap();
        let batch = || crate::log::batch::build_batch(&[(None, Some(&b"v"[..]))], 0, -1, -1, -1, 0);
        {
            let c = open(dir.path());
            c.create_topic("t", 1, 1, BTreeMap::new(), false, false)
                .unwrap();
            let log = c.partition("t", 0).unwrap();
            for _ in 0..20 {
                log.append(batch(), 0).unwrap();
            }
            log.delete_records(10).unwrap();
            c.store().write_checkpoints().unwrap();
            c.delete_topic("t").unwrap();
            c.create_topic("t", 1, 1, BTreeMap::new(), false, false)
                .unwrap();
            let log = c.partition("t", 0).unwrap();
            for _ in 0..20 {
                log.append(batch(), 0).unwrap();
            }
            // Crash: no shutdown, no maintenance pass.
        }
        let c = open(dir.path());
        assert_eq!(c.partition("t", 0).unwrap().offsets().log_start, 0);
    }

    #[test]
    fn cluster_id_is_22_chars() {
        let id = new_cluster_id();
        assert_eq!(id.len(), 22);
    }
}
