//! This node's replicas: turns metadata changes into log-store changes for the partitions hosted here
//! (created, deleted, reconfigured). Runs on a blocking thread, one change at a time.

use std::sync::{Arc, Mutex};

use super::image::{MetadataImage, TopicMeta};
use super::records::MetadataRecord;
use super::replication::Replication;
use super::topic_config;
use crate::log::{LogConfig, LogStore};

/// The log store as seen by the metadata publisher.
pub struct LocalReplicas {
    node_id: i32,
    store: Arc<LogStore>,
    defaults: LogConfig,
    /// Leader and follower roles of the hosted partitions.
    replication: Arc<Replication>,
    /// Serialises changes (a reconcile and a record's effects never interleave).
    busy: Mutex<()>,
}

impl LocalReplicas {
    /// Replicas of `node_id` in `store`; topic configs fall back to `defaults`.
    pub fn new(
        node_id: i32,
        store: Arc<LogStore>,
        defaults: LogConfig,
        replication: Arc<Replication>,
    ) -> LocalReplicas {
        LocalReplicas {
            node_id,
            store,
            defaults,
            replication,
            busy: Mutex::new(()),
        }
    }

    fn config(&self, t: &TopicMeta) -> LogConfig {
        topic_config::log_config(&self.defaults, &t.configs).unwrap_or_else(|e| {
            tracing::warn!(topic = %t.name, error = %e, "invalid stored topic config; using defaults");
            self.defaults.clone()
        })
    }

    /// Opens (creating if needed) every partition of `t` from index `from` that has a replica here, as
    /// one batch (one fsync of the data folder for all new partition folders).
    fn open_hosted(&self, t: &TopicMeta, from: usize) {
        let config = self.config(t);
        let hosted: Vec<i32> = t
            .partitions
            .iter()
            .enumerate()
            .skip(from)
            .filter(|(_, state)| state.replicas.contains(&self.node_id))
            .filter_map(|(p, _)| i32::try_from(p).ok())
            .collect();
        let items = hosted.iter().map(|&p| (t.name.clone(), p, config.clone()));
        for (p, r) in hosted.iter().zip(self.store.get_or_create_many(items)) {
            if let Err(e) = r {
                tracing::error!(topic = %t.name, partition = p, error = %e, "cannot open partition");
            }
        }
    }

    /// Brings the store in line with `image`: every hosted partition open with its topic's config.
    /// Partitions on disk that the image does not know are left alone (logged): absence in an image that
    /// may lag the quorum is no proof of deletion, and deleting data on a guess is how brokers lose it
    /// ([`delete_strays`](Self::delete_strays) deletes them once the image is known to be caught up).
    pub fn reconcile(&self, image: &MetadataImage) {
        let _busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        for t in image.topics.values() {
            self.open_hosted(t, 0);
            let config = self.config(t);
            for p in 0..t.partition_count() {
                if let Some(log) = self.store.get(&t.name, p) {
                    log.set_config(config.clone());
                }
            }
        }
        for (topic, p) in self.store.existing() {
            let known = image
                .topics
                .get(&topic)
                .and_then(|t| t.partition(p))
                .is_some_and(|s| s.replicas.contains(&self.node_id));
            if !known {
                tracing::warn!(%topic, partition = p, "partition on disk is not assigned here by the metadata; left untouched until the metadata has caught up");
            }
        }
        self.replication.apply(image);
    }

    /// Kafka's stray replica handling: given an image known to be caught up with the quorum (the first
    /// one showing this broker's registration, or a leader's snapshot), a partition this broker holds
    /// that the image does not place here (its topic was deleted, or a reassignment moved it away, while
    /// this broker was down or behind) is closed and its folder renamed `*-stray` — kept, not deleted, as
    /// Kafka 3.7+ does, so a lost or wrong metadata log cannot cost data.
    pub fn delete_strays(&self, image: &MetadataImage) {
        let _busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        let mut deleted = false;
        for log in self.store.partitions() {
            let (topic, p) = (log.topic().to_string(), log.partition());
            drop(log);
            if image.topics.get(&topic).is_some_and(|t| self.hosted(t, p)) {
                continue;
            }
            match self.store.set_aside_stray(&topic, p) {
                Ok(Some(aside)) => tracing::warn!(%topic, partition = p, folder = %aside.display(),
                    "stray replica: the caught-up metadata does not place it here; set aside (delete it by hand once not needed)"),
                Ok(None) => tracing::info!(%topic, partition = p,
                    "stray replica never written here (no folder): dropped"),
                Err(e) => {
                    tracing::error!(%topic, partition = p, error = %e, "cannot set aside stray replica")
                }
            }
            deleted = true;
        }
        if deleted {
            if let Err(e) = self.store.write_checkpoints() {
                tracing::error!(error = %e, "checkpoint write after stray replica removal failed");
            }
        }
    }

    /// Applies the effects of `records`, which turned `old` into `new`.
    pub fn apply(&self, old: &MetadataImage, new: &MetadataImage, records: &[MetadataRecord]) {
        let _busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        for r in records {
            match r {
                MetadataRecord::CreateTopic { name, .. } => {
                    if let Some(t) = new.topics.get(name) {
                        self.open_hosted(t, 0);
                    }
                }
                MetadataRecord::CreatePartitions { id, .. } => {
                    let before = old
                        .topic_name(*id)
                        .and_then(|n| old.topics.get(n))
                        .map_or(0, |t| t.partitions.len());
                    if let Some(t) = new.topic_name(*id).and_then(|n| new.topics.get(n)) {
                        self.open_hosted(t, before);
                    }
                }
                MetadataRecord::DeleteTopic { id } => {
                    if let Some(t) = old.topic_name(*id).and_then(|n| old.topics.get(n)) {
                        self.delete(t);
                    }
                }
                MetadataRecord::PartitionChange(c) if c.replicas.is_some() => {
                    if let Some(t) = new.topic_name(c.topic_id).and_then(|n| new.topics.get(n)) {
                        if self.hosted(t, c.partition) {
                            self.open_one(t, c.partition);
                        }
                    }
                }
                MetadataRecord::TopicConfigs { id, .. } => {
                    if let Some(t) = new.topic_name(*id).and_then(|n| new.topics.get(n)) {
                        let config = self.config(t);
                        for p in 0..t.partition_count() {
                            if let Some(log) = self.store.get(&t.name, p) {
                                log.set_config(config.clone());
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        // Leadership, ISR, replica sets and broker endpoints decide who leads and who fetches from whom.
        let roles_changed = records.iter().any(|r| {
            matches!(
                r,
                MetadataRecord::PartitionChange(_)
                    | MetadataRecord::CreateTopic { .. }
                    | MetadataRecord::CreatePartitions { .. }
                    | MetadataRecord::DeleteTopic { .. }
                    | MetadataRecord::RegisterBroker(_)
                    | MetadataRecord::FenceBroker { .. }
                    | MetadataRecord::UnfenceBroker { .. }
            )
        });
        if roles_changed {
            self.replication.apply(new);
        }
        // Replicas a completed reassignment moved off this broker: fetchers have let go (above), so the
        // log goes, as Kafka's StopReplica with deletion.
        for r in records {
            let MetadataRecord::PartitionChange(c) = r else {
                continue;
            };
            if c.replicas.is_none() {
                continue;
            }
            let Some(t) = new.topic_name(c.topic_id).and_then(|n| new.topics.get(n)) else {
                continue;
            };
            if !self.hosted(t, c.partition) && self.store.get(&t.name, c.partition).is_some() {
                tracing::info!(topic = %t.name, partition = c.partition, "replica reassigned away; deleting it here");
                if let Err(e) = self.store.delete(&t.name, c.partition) {
                    tracing::error!(topic = %t.name, partition = c.partition, error = %e, "cannot delete partition");
                }
                if let Err(e) = self.store.write_checkpoints() {
                    tracing::error!(topic = %t.name, error = %e, "checkpoint write after replica removal failed");
                }
            }
        }
    }

    /// Whether partition `p` of `t` has a replica on this broker.
    fn hosted(&self, t: &TopicMeta, p: i32) -> bool {
        t.partition(p)
            .is_some_and(|s| s.replicas.contains(&self.node_id))
    }

    /// Opens (creating if needed) one hosted partition, e.g. a replica a reassignment adds here.
    fn open_one(&self, t: &TopicMeta, p: i32) {
        if self.store.get(&t.name, p).is_some() {
            return;
        }
        let items = std::iter::once((t.name.clone(), p, self.config(t)));
        for r in self.store.get_or_create_many(items) {
            if let Err(e) = r {
                tracing::error!(topic = %t.name, partition = p, error = %e, "cannot open partition");
            }
        }
    }

    fn delete(&self, t: &TopicMeta) {
        for p in 0..t.partition_count() {
            if let Err(e) = self.store.delete(&t.name, p) {
                tracing::error!(topic = %t.name, partition = p, error = %e, "cannot delete partition");
            }
        }
        // Drop the deleted partitions from the checkpoint files now (once per topic, as Kafka's
        // LogManager.asyncDelete does): a same-named topic created before the next maintenance pass must
        // not inherit their log start offsets after a crash.
        if let Err(e) = self.store.write_checkpoints() {
            tracing::error!(topic = %t.name, error = %e, "checkpoint write after topic deletion failed");
        }
    }
}
