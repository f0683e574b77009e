//! Records of the metadata log (Kafka's KRaft record types, trimmed to what Weir keeps). The controller
//! writes them through the Raft quorum; every node applies them to its [`MetadataImage`](super::image).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a broker tells the controller about itself when it starts (Kafka's BrokerRegistrationRequest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerRegistration {
    /// `node.id`.
    pub id: i32,
    /// Random per process start: tells a restarted broker from a retry of the same one.
    pub incarnation: Uuid,
    /// Advertised host for clients.
    pub host: String,
    /// Advertised port for clients.
    pub port: i32,
    /// `broker.rack`, if set.
    pub rack: Option<String>,
}

/// A change to one partition's leadership, ISR or replicas (Kafka's PartitionChangeRecord).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionChange {
    /// Topic id.
    pub topic_id: Uuid,
    /// Partition index.
    pub partition: i32,
    /// New leader (bumps the leader epoch when it differs), if changed.
    pub leader: Option<i32>,
    /// New ISR, if changed.
    pub isr: Option<Vec<i32>>,
    /// New replica list, if changed (a reassignment starting, completing or cancelled).
    #[serde(default)]
    pub replicas: Option<Vec<i32>>,
    /// Replicas being added by a reassignment, if changed.
    #[serde(default)]
    pub adding: Option<Vec<i32>>,
    /// Replicas being removed by a reassignment, if changed.
    #[serde(default)]
    pub removing: Option<Vec<i32>>,
    /// Bumps the leader epoch although the leader stays (Kafka writes the unchanged leader into the
    /// record for this): replicas leave the partition, and the new epoch fences them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bump_leader_epoch: bool,
}

/// One metadata record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetadataRecord {
    /// The cluster id, written once by the quorum's first controller.
    ClusterId { id: String },
    /// A broker (re)registered; it starts fenced.
    RegisterBroker(BrokerRegistration),
    /// A broker missed its session timeout or shut down: it leads nothing.
    FenceBroker { id: i32, epoch: i64 },
    /// A registered broker caught up with the metadata log and heartbeats.
    UnfenceBroker { id: i32, epoch: i64 },
    /// A broker asked to shut down; leadership has been moved off it.
    ControlledShutdown { id: i32, epoch: i64 },
    /// A topic and its partitions' replica assignments (preferred leader first).
    CreateTopic {
        name: String,
        id: Uuid,
        configs: BTreeMap<String, String>,
        internal: bool,
        assignments: Vec<Vec<i32>>,
    },
    /// Partitions added to a topic.
    CreatePartitions {
        id: Uuid,
        assignments: Vec<Vec<i32>>,
    },
    /// A topic removed.
    DeleteTopic { id: Uuid },
    /// A topic's config overrides replaced.
    TopicConfigs {
        id: Uuid,
        configs: BTreeMap<String, String>,
    },
    /// Leader or ISR of one partition changed.
    PartitionChange(PartitionChange),
    /// Producer ids below `next` are handed out (one block to one broker).
    ProducerIds { next: i64 },
}
