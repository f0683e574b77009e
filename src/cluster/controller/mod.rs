//! The active controller: the node leading the Raft quorum turns broker and admin requests into metadata
//! records. One task per node processes requests one at a time (as Kafka's QuorumController does), so
//! every decision is made against an image that already holds every earlier decision.

mod admin;
mod brokers;
mod elections;
#[cfg(test)]
mod fixtures;
mod partitions;
mod reassign;

pub use elections::{ElectionError, ElectionKind, ElectionResult, ElectionTargets};
pub use reassign::{list as list_reassignments, ReassignError, ReassignResults, ReassignTargets};

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use openraft::BasicNode;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::image::{MetadataImage, TopicMeta};
use super::publisher::Publisher;
use super::raft::Raft;
use super::records::{BrokerRegistration, MetadataRecord};
use crate::log::LogConfig;

/// A request to the controller (from a broker, forwarded from a client's admin request).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ControllerRequest {
    /// A broker starts (Kafka's BrokerRegistration).
    Register(BrokerRegistration),
    /// A broker is alive (Kafka's BrokerHeartbeat).
    Heartbeat {
        id: i32,
        epoch: i64,
        /// Highest metadata offset the broker has applied.
        applied: u64,
        /// The broker wants to shut down (controlled shutdown).
        shutting_down: bool,
    },
    CreateTopic {
        name: String,
        partitions: i32,
        replication_factor: i16,
        configs: BTreeMap<String, String>,
        internal: bool,
        validate_only: bool,
        /// Replicas of each partition given by the client (CreateTopics `assignments`), in partition
        /// order; `partitions` and `replication_factor` are ignored then.
        #[serde(default)]
        assignments: Option<Vec<Vec<i32>>>,
    },
    DeleteTopic {
        name: String,
    },
    CreatePartitions {
        name: String,
        total: i32,
        validate_only: bool,
        /// Replicas of each added partition given by the client, if any.
        #[serde(default)]
        assignments: Option<Vec<Vec<i32>>>,
    },
    AlterTopicConfigs {
        name: String,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    },
    /// A block of producer ids for one broker (Kafka's AllocateProducerIds).
    AllocateProducerIds {
        id: i32,
        epoch: i64,
    },
    /// The quorum as the active controller sees it (Kafka's DescribeQuorum).
    DescribeQuorum,
    /// A partition leader changes its ISR (Kafka's AlterPartition): `isr` includes the leader.
    AlterPartition {
        broker: i32,
        broker_epoch: i64,
        topic_id: uuid::Uuid,
        partition: i32,
        leader_epoch: i32,
        partition_epoch: i32,
        isr: Vec<i32>,
    },
    /// Elect leaders for the named partitions, or every partition (Kafka's ElectLeaders).
    ElectLeaders {
        kind: ElectionKind,
        targets: Option<ElectionTargets>,
    },
    /// Start, change or cancel partition reassignments (Kafka's AlterPartitionReassignments).
    AlterReassignments {
        targets: ReassignTargets,
        /// KIP-860's `allowReplicationFactorChange = false`: a target of another length is refused.
        #[serde(default)]
        keep_replication_factor: bool,
    },
    /// A broker-only node asks to follow the metadata log: the active controller adds it as a Raft
    /// learner, sending the log to `addr` (its controller listener).
    AddObserver {
        id: u64,
        addr: String,
    },
}

/// The metadata quorum's state, from the active controller (Kafka's DescribeQuorum answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuorumState {
    /// The active controller.
    pub leader: u64,
    /// Its term (Kafka: the leader epoch of `__cluster_metadata`).
    pub term: u64,
    /// Highest committed metadata offset.
    pub high_watermark: u64,
    /// Each voter with the last log offset the leader knows it holds (-1 if unknown).
    pub voters: Vec<(u64, i64)>,
}

/// What the controller answers; `offset` is the metadata offset the change was committed at (the
/// caller waits until its own image has applied it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ControllerReply {
    Registered { epoch: i64 },
    Heartbeat { fenced: bool, shutdown_ready: bool },
    Topic(TopicMeta),
    Done,
    ProducerIds { start: i64, len: i64 },
    Quorum(QuorumState),
    Elections(Vec<ElectionResult>),
    Reassignments(ReassignResults),
}

/// The controller's answer with the offset to wait for.
pub type ControllerResponse = Result<(ControllerReply, u64), ControllerError>;

/// Why the controller refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum ControllerError {
    #[error("this node is not the active controller (leader: {0:?})")]
    NotController(Option<u64>),
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
    #[error("{0}")]
    InvalidReplicaAssignment(String),
    #[error("This server does not host this topic-partition.")]
    UnknownTopic,
    #[error("stale broker epoch")]
    StaleBrokerEpoch,
    #[error("the leader epoch of the request is not the partition's")]
    FencedLeaderEpoch,
    #[error("the partition epoch of the request is not the partition's")]
    InvalidUpdateVersion,
    #[error("{0}")]
    IneligibleReplica(String),
    #[error("the requesting broker does not lead the partition")]
    NotLeaderOrFollower,
    #[error("metadata quorum: {0}")]
    Quorum(String),
}

/// Controller settings.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    pub node_id: u64,
    /// `broker.session.timeout.ms`: a broker silent this long is fenced.
    pub session_timeout: Duration,
    /// Topic config defaults, for validating topic configs (and `unclean.leader.election.enable`).
    pub log_defaults: LogConfig,
    /// Automatic preferred-leader election.
    pub leader_balance: super::quorum::LeaderBalance,
}

type Job = (ControllerRequest, oneshot::Sender<ControllerResponse>);

/// Handle to this node's controller task.
#[derive(Clone)]
pub struct ControllerHandle {
    tx: mpsc::Sender<Job>,
}

impl ControllerHandle {
    /// Runs `req` on this node's controller.
    pub async fn call(&self, req: ControllerRequest) -> ControllerResponse {
        let (tx, rx) = oneshot::channel();
        if self.tx.send((req, tx)).await.is_err() {
            return Err(ControllerError::Quorum("controller stopped".into()));
        }
        rx.await
            .unwrap_or_else(|_| Err(ControllerError::Quorum("controller stopped".into())))
    }
}

/// Longest the controller waits for the quorum on one step (a commit, or confirming its leadership).
const QUORUM_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the controller runs its periodic checks (unclean elections, leader rebalance, and broker
/// sessions as a fallback: each session's expiry also has a timer of its own).
const TICK: Duration = Duration::from_millis(250);

/// Shortest wait before a session expiry timer fires again (a broker whose fencing could not be
/// committed yet is not re-checked in a busy loop).
const EXPIRY_RECHECK: Duration = Duration::from_millis(20);

/// The controller's state while this node leads the quorum.
struct Controller {
    config: ControllerConfig,
    raft: Raft,
    publisher: Arc<Publisher>,
    /// Term in which this node last confirmed its image is current; `None` until then.
    ready_term: Option<u64>,
    /// Last heartbeat per broker, known only to the active controller (Kafka's BrokerHeartbeatManager).
    heartbeats: BTreeMap<i32, Instant>,
    /// When the next leader rebalance check is due (`leader.imbalance.check.interval.seconds` after the
    /// last one, or after this node became the active controller).
    next_rebalance: Instant,
}

/// Starts the controller task of this node.
pub fn spawn(config: ControllerConfig, raft: Raft, publisher: Arc<Publisher>) -> ControllerHandle {
    let (tx, rx) = mpsc::channel(256);
    let controller = Controller {
        config,
        raft,
        publisher,
        ready_term: None,
        heartbeats: BTreeMap::new(),
        next_rebalance: Instant::now(),
    };
    tokio::spawn(controller.run(rx));
    ControllerHandle { tx }
}

impl Controller {
    async fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // Fencing at the moment a session expires rather than at the next tick: failover time is
            // the session timeout plus whatever comes after it.
            let expiry = self
                .next_expiry()
                .map(|at| at.max(Instant::now() + EXPIRY_RECHECK));
            let expired = async move {
                match expiry {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                job = rx.recv() => {
                    let Some((req, reply)) = job else { break };
                    let result = self.handle(req).await;
                    let _ = reply.send(result);
                }
                _ = tick.tick() => self.on_tick().await,
                _ = expired => self.on_tick().await,
            }
        }
    }

    /// When the first live broker's session runs out, while this node is the active controller.
    fn next_expiry(&self) -> Option<Instant> {
        self.ready_term?;
        let image = self.image();
        image
            .brokers
            .iter()
            .filter(|(_, b)| !b.fenced)
            .filter_map(|(id, _)| self.heartbeats.get(id))
            .min()
            .map(|last| *last + self.config.session_timeout + Duration::from_millis(1))
    }

    /// The image as of everything this controller has committed.
    fn image(&self) -> Arc<MetadataImage> {
        self.publisher.current()
    }

    /// Confirms this node leads the quorum and its image holds every committed record.
    async fn ensure_active(&mut self) -> Result<(), ControllerError> {
        let metrics = self.raft.metrics().borrow().clone();
        if metrics.current_leader != Some(self.config.node_id) {
            self.ready_term = None;
            return Err(ControllerError::NotController(metrics.current_leader));
        }
        if self.ready_term == Some(metrics.current_term) {
            return Ok(());
        }
        // A new term: wait until everything committed before it is applied here, and give every broker a
        // full session from now (the previous controller's heartbeat times died with it).
        self.raft.ensure_linearizable().await.map_err(|e| {
            ControllerError::NotController(e.forward_to_leader().and_then(|f| f.leader_id))
        })?;
        let now = Instant::now();
        self.heartbeats = self.image().brokers.keys().map(|id| (*id, now)).collect();
        self.ready_term = Some(metrics.current_term);
        self.next_rebalance = now + self.config.leader_balance.interval;
        tracing::info!(
            term = metrics.current_term,
            "this node is the active controller"
        );
        if self.image().cluster_id.is_empty() {
            // The quorum's first controller names the cluster, before anything else is decided.
            let id = super::new_cluster_id();
            self.write(vec![MetadataRecord::ClusterId { id }]).await?;
        }
        Ok(())
    }

    /// Commits `records` as one entry; returns its offset.
    /// A write that cannot reach a quorum (this node cut off, or deposed meanwhile) gives up after
    /// [`QUORUM_TIMEOUT`]: the controller task must not stall; the caller retries against whoever leads.
    async fn write(&self, records: Vec<MetadataRecord>) -> Result<u64, ControllerError> {
        match tokio::time::timeout(QUORUM_TIMEOUT, self.raft.client_write(records)).await {
            Ok(Ok(resp)) => Ok(resp.log_id.index),
            Ok(Err(e)) => Err(match e.forward_to_leader() {
                Some(f) => ControllerError::NotController(f.leader_id),
                None => ControllerError::Quorum(e.to_string()),
            }),
            Err(_) => Err(ControllerError::NotController(None)),
        }
    }

    async fn handle(&mut self, req: ControllerRequest) -> ControllerResponse {
        self.ensure_active().await?;
        let image = self.image();
        let (reply, records) = match req {
            ControllerRequest::Register(reg) => self.register(&image, reg)?,
            ControllerRequest::Heartbeat {
                id,
                epoch,
                applied,
                shutting_down,
            } => self.heartbeat(&image, id, epoch, applied, shutting_down)?,
            ControllerRequest::AllocateProducerIds { id, epoch } => {
                brokers::check_epoch(&image, id, epoch)?;
                let start = image.next_producer_id;
                let len = PRODUCER_ID_BLOCK;
                let records = vec![MetadataRecord::ProducerIds { next: start + len }];
                (ControllerReply::ProducerIds { start, len }, records)
            }
            ControllerRequest::AlterPartition {
                broker,
                broker_epoch,
                topic_id,
                partition,
                leader_epoch,
                partition_epoch,
                isr,
            } => {
                brokers::check_epoch(&image, broker, broker_epoch)?;
                let change = partitions::AlterPartition {
                    broker,
                    topic_id,
                    partition,
                    leader_epoch,
                    partition_epoch,
                    isr,
                };
                (ControllerReply::Done, partitions::alter(&image, &change)?)
            }
            ControllerRequest::ElectLeaders { kind, targets } => {
                let (results, records) = elections::elect_leaders(&image, kind, targets);
                (ControllerReply::Elections(results), records)
            }
            ControllerRequest::AlterReassignments {
                targets,
                keep_replication_factor,
            } => {
                let (results, records) = reassign::alter(&image, targets, keep_replication_factor);
                (ControllerReply::Reassignments(results), records)
            }
            ControllerRequest::DescribeQuorum => {
                (ControllerReply::Quorum(self.quorum_state()), Vec::new())
            }
            ControllerRequest::AddObserver { id, addr } => {
                let offset = self.add_observer(id, addr).await?;
                return Ok((ControllerReply::Done, offset));
            }
            admin => admin::handle(&self.config, &image, admin)?,
        };
        if records.is_empty() {
            return Ok((reply, image.offset));
        }
        let offset = self.write(records).await?;
        // Register's epoch is the offset of its record: known only now.
        let reply = match reply {
            ControllerReply::Registered { .. } => ControllerReply::Registered {
                epoch: i64::try_from(offset).unwrap_or(i64::MAX),
            },
            other => other,
        };
        Ok((reply, offset))
    }

    /// Adds broker-only node `id` as a Raft learner (once; a voter id is refused). Returns the offset of
    /// the membership change, or the current one when nothing changed.
    async fn add_observer(&self, id: u64, addr: String) -> Result<u64, ControllerError> {
        let membership = self.raft.metrics().borrow().membership_config.clone();
        if membership.membership().voter_ids().any(|v| v == id) {
            return Err(ControllerError::Quorum(format!(
                "node {id} is a voter of the metadata quorum, not a broker-only node"
            )));
        }
        if membership
            .membership()
            .get_node(&id)
            .is_some_and(|n| n.addr == addr)
        {
            return Ok(self.image().offset);
        }
        tracing::info!(node = id, %addr, "adding a broker-only node to the metadata quorum as a learner");
        let added = self.raft.add_learner(id, BasicNode { addr }, false);
        match tokio::time::timeout(QUORUM_TIMEOUT, added).await {
            Ok(Ok(resp)) => Ok(resp.log_id.index),
            Ok(Err(e)) => Err(match e.forward_to_leader() {
                Some(f) => ControllerError::NotController(f.leader_id),
                None => ControllerError::Quorum(e.to_string()),
            }),
            Err(_) => Err(ControllerError::NotController(None)),
        }
    }

    fn quorum_state(&self) -> QuorumState {
        let m = self.raft.metrics().borrow().clone();
        let matched = m.replication.unwrap_or_default();
        let voters = m
            .membership_config
            .membership()
            .voter_ids()
            .map(|id| {
                let end = matched
                    .get(&id)
                    .and_then(|l| l.as_ref())
                    .map_or(-1, |l| i64::try_from(l.index + 1).unwrap_or(i64::MAX));
                (id, end)
            })
            .collect();
        QuorumState {
            leader: self.config.node_id,
            term: m.current_term,
            high_watermark: m.last_applied.map_or(0, |l| l.index + 1),
            voters,
        }
    }

    async fn on_tick(&mut self) {
        if self.ensure_active().await.is_err() {
            return;
        }
        let image = self.image();
        let mut records = Vec::new();
        let now = Instant::now();
        for (id, b) in &image.brokers {
            let last = *self.heartbeats.entry(*id).or_insert(now);
            if !b.fenced && now.duration_since(last) > self.config.session_timeout {
                tracing::warn!(broker = id, "broker session expired; fencing it");
                records.extend(brokers::fence(&image, *id, b.epoch));
            }
        }
        if records.is_empty() {
            records = self.elections_due(&image, now);
        }
        if !records.is_empty() {
            if let Err(e) = self.write(records).await {
                tracing::warn!(error = %e, "controller tick could not commit");
            }
        }
    }
}

impl Controller {
    /// Elections the controller makes on its own: unclean ones where a topic allows them (every tick),
    /// and the preferred-leader rebalance once per check interval.
    fn elections_due(&mut self, image: &MetadataImage, now: Instant) -> Vec<MetadataRecord> {
        let mut records = elections::unclean_where_enabled(image, &self.config.log_defaults);
        let balance = self.config.leader_balance;
        if balance.enabled && now >= self.next_rebalance {
            self.next_rebalance = now + balance.interval;
            let moves = elections::rebalance(image, balance.per_broker_percentage);
            if !moves.is_empty() {
                tracing::info!(
                    partitions = moves.len(),
                    "moving leadership back to preferred replicas"
                );
            }
            records.extend(moves);
        }
        records
    }
}

/// Producer ids handed to a broker at a time (Kafka's block size).
const PRODUCER_ID_BLOCK: i64 = 1000;
