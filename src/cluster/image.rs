//! The metadata image: what every node knows about brokers, topics and partitions, built only by applying
//! the metadata log's records in order (the same path at start-up and at run time).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::records::{BrokerRegistration, MetadataRecord, PartitionChange};

/// "No leader" in Kafka's partition records and Metadata responses.
pub const NO_LEADER: i32 = -1;

/// A registered broker as the image knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerInfo {
    /// Registration as the broker sent it (id, endpoints, rack, incarnation).
    pub registration: BrokerRegistration,
    /// Broker epoch: the metadata offset of the registration record (Kafka's rule), so a zombie
    /// instance's requests, carrying an older epoch, are told apart from the live one's.
    pub epoch: i64,
    /// A fenced broker leads nothing and is left out of Metadata responses.
    pub fenced: bool,
    /// Set by a controlled shutdown until the broker registers again.
    pub in_controlled_shutdown: bool,
}

/// One partition's replica set and leadership.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionState {
    /// Replicas, preferred leader first.
    pub replicas: Vec<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
    /// Current leader, or [`NO_LEADER`].
    pub leader: i32,
    /// Bumped on every leader change (KIP-101/279): clients and followers fence on it.
    pub leader_epoch: i32,
    /// Bumped on every change of this partition's state (leader, ISR, replicas; KIP-497).
    pub partition_epoch: i32,
    /// Replicas a reassignment adds (also in `replicas`); empty when none is in progress (KIP-455).
    #[serde(default)]
    pub adding: Vec<i32>,
    /// Replicas a reassignment removes once the added ones are in sync (also in `replicas`).
    #[serde(default)]
    pub removing: Vec<i32>,
}

impl PartitionState {
    /// Whether a reassignment is in progress.
    pub fn reassigning(&self) -> bool {
        !self.adding.is_empty() || !self.removing.is_empty()
    }
}

/// One topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicMeta {
    /// Topic name.
    pub name: String,
    /// Topic id (KIP-516), stable across restarts.
    pub id: Uuid,
    /// Topic-level config overrides, Kafka names.
    pub configs: BTreeMap<String, String>,
    /// Internal topics (`__consumer_offsets`) are flagged in Metadata responses.
    pub internal: bool,
    /// Partitions, by index.
    pub partitions: Vec<PartitionState>,
}

impl TopicMeta {
    /// Number of partitions.
    pub fn partition_count(&self) -> i32 {
        i32::try_from(self.partitions.len()).unwrap_or(i32::MAX)
    }

    /// Replication factor (of partition 0; every partition is created with the same).
    pub fn replication_factor(&self) -> i16 {
        self.partitions
            .first()
            .map_or(0, |p| i16::try_from(p.replicas.len()).unwrap_or(i16::MAX))
    }

    /// One partition's state.
    pub fn partition(&self, partition: i32) -> Option<&PartitionState> {
        usize::try_from(partition)
            .ok()
            .and_then(|p| self.partitions.get(p))
    }
}

/// The whole image. Cheap to share (`Arc`); a new one is published after every applied batch of records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataImage {
    /// Cluster id, set by the first controller of the quorum.
    pub cluster_id: String,
    /// Registered brokers by id.
    pub brokers: BTreeMap<i32, BrokerInfo>,
    /// Topics by name.
    pub topics: BTreeMap<String, TopicMeta>,
    /// Topic names by id.
    #[serde(skip)]
    pub by_id: HashMap<Uuid, String>,
    /// Producer ids below this have been handed out in blocks.
    pub next_producer_id: i64,
    /// Offset (Raft log index) of the last record applied.
    pub offset: u64,
}

impl MetadataImage {
    /// Applies one record at `offset`. Records are validated by the controller before they are written,
    /// so one that no longer fits (a replay racing a deletion) is skipped rather than trusted.
    pub fn apply(&mut self, offset: u64, record: &MetadataRecord) {
        self.offset = offset;
        match record {
            MetadataRecord::ClusterId { id } => {
                if self.cluster_id.is_empty() {
                    self.cluster_id = id.clone();
                }
            }
            MetadataRecord::RegisterBroker(reg) => {
                self.brokers.insert(
                    reg.id,
                    BrokerInfo {
                        registration: reg.clone(),
                        epoch: i64::try_from(offset).unwrap_or(i64::MAX),
                        fenced: true,
                        in_controlled_shutdown: false,
                    },
                );
            }
            MetadataRecord::FenceBroker { id, epoch } => self.set_fenced(*id, *epoch, true),
            MetadataRecord::UnfenceBroker { id, epoch } => self.set_fenced(*id, *epoch, false),
            MetadataRecord::ControlledShutdown { id, epoch } => {
                if let Some(b) = self.brokers.get_mut(id).filter(|b| b.epoch == *epoch) {
                    b.in_controlled_shutdown = true;
                }
            }
            MetadataRecord::CreateTopic {
                name,
                id,
                configs,
                internal,
                assignments,
            } => {
                let partitions = assignments.iter().map(|r| initial_state(r)).collect();
                self.by_id.insert(*id, name.clone());
                self.topics.insert(
                    name.clone(),
                    TopicMeta {
                        name: name.clone(),
                        id: *id,
                        configs: configs.clone(),
                        internal: *internal,
                        partitions,
                    },
                );
            }
            MetadataRecord::CreatePartitions { id, assignments } => {
                if let Some(t) = self.topic_by_id_mut(*id) {
                    t.partitions
                        .extend(assignments.iter().map(|r| initial_state(r)));
                }
            }
            MetadataRecord::DeleteTopic { id } => {
                if let Some(name) = self.by_id.remove(id) {
                    self.topics.remove(&name);
                }
            }
            MetadataRecord::TopicConfigs { id, configs } => {
                if let Some(t) = self.topic_by_id_mut(*id) {
                    t.configs = configs.clone();
                }
            }
            MetadataRecord::PartitionChange(change) => self.change_partition(change),
            MetadataRecord::ProducerIds { next } => {
                self.next_producer_id = self.next_producer_id.max(*next);
            }
        }
    }

    fn set_fenced(&mut self, id: i32, epoch: i64, fenced: bool) {
        if let Some(b) = self.brokers.get_mut(&id).filter(|b| b.epoch == epoch) {
            b.fenced = fenced;
        }
    }

    fn topic_by_id_mut(&mut self, id: Uuid) -> Option<&mut TopicMeta> {
        let name = self.by_id.get(&id)?;
        self.topics.get_mut(name)
    }

    fn change_partition(&mut self, c: &PartitionChange) {
        let Some(p) = self
            .topic_by_id_mut(c.topic_id)
            .and_then(|t| t.partitions.get_mut(usize::try_from(c.partition).ok()?))
        else {
            return;
        };
        if let Some(isr) = &c.isr {
            p.isr = isr.clone();
        }
        if let Some(replicas) = &c.replicas {
            p.replicas = replicas.clone();
        }
        if let Some(adding) = &c.adding {
            p.adding = adding.clone();
        }
        if let Some(removing) = &c.removing {
            p.removing = removing.clone();
        }
        match c.leader {
            Some(leader) if leader != p.leader => {
                p.leader = leader;
                p.leader_epoch += 1;
            }
            _ if c.bump_leader_epoch => p.leader_epoch += 1,
            _ => {}
        }
        p.partition_epoch += 1;
    }

    /// Rebuilds the derived index after a snapshot is loaded.
    pub fn reindex(&mut self) {
        self.by_id = self
            .topics
            .values()
            .map(|t| (t.id, t.name.clone()))
            .collect();
    }

    /// Topic name for an id.
    pub fn topic_name(&self, id: Uuid) -> Option<&str> {
        self.by_id.get(&id).map(String::as_str)
    }

    /// A live (registered, unfenced) broker.
    pub fn live_broker(&self, id: i32) -> Option<&BrokerRegistration> {
        self.brokers
            .get(&id)
            .filter(|b| !b.fenced)
            .map(|b| &b.registration)
    }

    /// Live brokers, by id.
    pub fn live_brokers(&self) -> impl Iterator<Item = &BrokerRegistration> {
        self.brokers
            .values()
            .filter(|b| !b.fenced)
            .map(|b| &b.registration)
    }
}

/// A new partition starts with every replica in sync and its preferred replica leading (the controller
/// only places partitions on live brokers).
pub fn initial_state(replicas: &[i32]) -> PartitionState {
    PartitionState {
        replicas: replicas.to_vec(),
        isr: replicas.to_vec(),
        leader: replicas.first().copied().unwrap_or(NO_LEADER),
        leader_epoch: 0,
        partition_epoch: 0,
        adding: Vec::new(),
        removing: Vec::new(),
    }
}
