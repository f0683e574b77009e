//! The cluster: this node's view of the metadata (an image applied from the replicated metadata log),
//! its part in the controller quorum, and its standing as a broker. Handlers read the image and send
//! changes to the active controller through [`Cluster`]; nothing else reaches the quorum.
//!
//! A single node is a quorum of one on the same path: its controller is local, its metadata log is a
//! Raft log with one voter.

pub mod controller;
pub mod forward;
pub mod image;
pub mod lifecycle;
pub mod local;
pub mod placement;
pub mod publisher;
pub mod quorum;
pub mod raft;
pub mod records;
pub mod replication;
pub mod rpc;
pub mod server;
pub mod topic_config;
pub mod topic_name;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use crate::log::{LogConfig, LogError, LogStore, PartitionLog};
use controller::{ControllerError, ControllerReply, ControllerRequest};
use forward::ControllerClient;
pub use image::{MetadataImage, PartitionState, TopicMeta, NO_LEADER};
use lifecycle::{Lifecycle, Standing};
use publisher::Publisher;
use quorum::{Quorum, QuorumConfig};
use records::BrokerRegistration;

/// Most partitions one topic may have; bounds the files and memory a single request can create.
pub const PARTITIONS_PER_TOPIC_MAX: i32 = 10_000;
/// Longest a change the broker makes on its own (internal topics, producer ids) waits for the controller
/// and for this node's image; client requests bring their own `timeout_ms`.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest a stopping broker waits for the controller to move its leadership away (the last nodes of a
/// cluster stopping one by one have no quorum left to ask).
const CONTROLLED_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// Kafka's file recording which cluster and node a data folder belongs to.
const META_PROPERTIES: &str = "meta.properties";

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
    #[error("{0}")]
    InvalidReplicaAssignment(String),
    #[error("This server does not host this topic-partition.")]
    UnknownTopic,
    #[error("unknown topic id")]
    UnknownTopicId,
    /// The request's deadline (its `timeout_ms`) passed before the change was committed and applied.
    #[error("The request timed out.")]
    TimedOut,
    /// No active controller answered in time.
    #[error("the metadata quorum has no active controller: {0}")]
    NoController(String),
    #[error("metadata quorum: {0}")]
    Quorum(String),
    #[error("{0}")]
    WrongCluster(String),
    #[error("log store: {0}")]
    Log(#[from] LogError),
    #[error("metadata file: {0}")]
    Io(#[from] std::io::Error),
}

impl From<ControllerError> for ClusterError {
    fn from(e: ControllerError) -> ClusterError {
        match e {
            ControllerError::TopicAlreadyExists(n) => ClusterError::TopicAlreadyExists(n),
            ControllerError::InvalidTopic(m) => ClusterError::InvalidTopic(m),
            ControllerError::InvalidPartitions(m) => ClusterError::InvalidPartitions(m),
            ControllerError::InvalidReplicationFactor(m) => {
                ClusterError::InvalidReplicationFactor(m)
            }
            ControllerError::InvalidConfig(m) => ClusterError::InvalidConfig(m),
            ControllerError::InvalidReplicaAssignment(m) => {
                ClusterError::InvalidReplicaAssignment(m)
            }
            ControllerError::UnknownTopic => ClusterError::UnknownTopic,
            ControllerError::NotController(_) => ClusterError::NoController(e.to_string()),
            // Partition-state refusals answer brokers (AlterPartition), never clients.
            ControllerError::StaleBrokerEpoch
            | ControllerError::Quorum(_)
            | ControllerError::FencedLeaderEpoch
            | ControllerError::InvalidUpdateVersion
            | ControllerError::IneligibleReplica(_)
            | ControllerError::NotLeaderOrFollower => ClusterError::Quorum(e.to_string()),
        }
    }
}

/// A topic to create: by CreateTopics, auto-creation or for a coordinator.
#[derive(Debug, Clone, Default)]
pub struct NewTopic {
    /// Topic name.
    pub name: String,
    /// Partition count (ignored with `assignments`).
    pub partitions: i32,
    /// Replication factor (ignored with `assignments`).
    pub replication_factor: i16,
    /// The client's replica lists, one per partition in order, instead of the controller's placement.
    pub assignments: Option<Vec<Vec<i32>>>,
    /// Topic config overrides.
    pub configs: BTreeMap<String, String>,
    /// `__consumer_offsets` and the like.
    pub internal: bool,
    /// Only validate.
    pub validate_only: bool,
}

/// Why a partition request cannot be served here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotServed {
    /// No such topic or partition.
    Unknown,
    /// Another broker leads it (or none does: `leader` is [`NO_LEADER`]).
    NotLeader { leader: i32, leader_epoch: i32 },
}

/// How this node takes part in the cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// `node.id`.
    pub node_id: i32,
    /// Quorum settings (voters, controller listener, timeouts).
    pub quorum: QuorumConfig,
    /// Advertised host and port for clients.
    pub host: String,
    pub port: i32,
    /// `broker.rack`.
    pub rack: Option<String>,
    /// `broker.heartbeat.interval.ms`.
    pub heartbeat_interval: Duration,
    /// Replica fetchers and ISR settings.
    pub replication: replication::ReplicationConfig,
}

/// This node's cluster membership and metadata.
pub struct Cluster {
    node_id: i32,
    publisher: Arc<Publisher>,
    client: Arc<ControllerClient>,
    quorum: tokio::sync::Mutex<Option<Quorum>>,
    lifecycle: tokio::sync::Mutex<Option<Lifecycle>>,
    standing: tokio::sync::watch::Receiver<Standing>,
    /// Bound controller listener, if any.
    controller_addr: Option<std::net::SocketAddr>,
    store: Arc<LogStore>,
    log_defaults: LogConfig,
    /// Next producer id to hand out and the end of this broker's block.
    producer_ids: std::sync::Mutex<(i64, i64)>,
    /// Leader and follower roles of this broker's partitions.
    replication: Arc<replication::Replication>,
    single_voter: bool,
    /// `controller.quorum.voters`, id → controller listener address.
    voters: Vec<(u64, String)>,
}

impl Cluster {
    /// Replays the metadata log, joins the quorum, opens this node's replicas and starts registering.
    pub async fn start(
        options: ClusterOptions,
        store: Arc<LogStore>,
        log_defaults: LogConfig,
    ) -> Result<Arc<Cluster>, ClusterError> {
        let dir = store.dir().to_path_buf();
        let stored_cluster = check_meta_properties(&dir, options.node_id)?;
        let publisher = Publisher::new();
        let quorum = Quorum::start(&options.quorum, &dir, publisher.clone()).await?;
        let replayed = publisher.current();
        if let Some(stored) = &stored_cluster {
            if !replayed.cluster_id.is_empty() && &replayed.cluster_id != stored {
                return Err(wrong_cluster(&dir, stored, &replayed.cluster_id));
            }
        }
        let replication = replication::Replication::new(
            options.node_id,
            store.clone(),
            options.replication.clone(),
        );
        publisher
            .go_live(local::LocalReplicas::new(
                options.node_id,
                store.clone(),
                log_defaults.clone(),
                replication.clone(),
            ))
            .await;
        let client = Arc::new(ControllerClient::new(
            options.quorum.node_id,
            quorum.raft.clone(),
            quorum.controller.clone(),
            quorum.peers.clone(),
        ));
        if !options.quorum.voter {
            tokio::spawn(join_as_observer(
                client.clone(),
                options.quorum.node_id,
                quorum.controller_addr,
            ));
        }
        let registration = BrokerRegistration {
            id: options.node_id,
            incarnation: Uuid::new_v4(),
            host: options.host.clone(),
            port: options.port,
            rack: options.rack.clone(),
        };
        let lifecycle = Lifecycle::spawn(
            client.clone(),
            publisher.clone(),
            registration,
            options.heartbeat_interval,
        );
        replication.link(client.clone(), lifecycle.standing(), publisher.clone());
        tokio::spawn(keep_meta_properties(
            publisher.clone(),
            dir,
            options.node_id,
            stored_cluster,
        ));
        Ok(Arc::new(Cluster {
            node_id: options.node_id,
            standing: lifecycle.standing(),
            controller_addr: quorum.controller_addr,
            publisher,
            client,
            quorum: tokio::sync::Mutex::new(Some(quorum)),
            lifecycle: tokio::sync::Mutex::new(Some(lifecycle)),
            store,
            log_defaults,
            producer_ids: std::sync::Mutex::new((0, 0)),
            replication,
            single_voter: options.quorum.voter && options.quorum.voters.len() == 1,
            voters: options.quorum.voters.clone().into_iter().collect(),
        }))
    }

    /// Waits (up to `timeout`) until the controller has unfenced this broker; true if it did.
    pub async fn wait_active(&self, timeout: Duration) -> bool {
        let mut standing = self.standing.clone();
        tokio::time::timeout(timeout, standing.wait_for(|s| s.active))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// True when this node is the only voter (the embedded single-node default).
    pub fn is_single_node(&self) -> bool {
        self.single_voter
    }

    /// Controlled shutdown (leadership moves away first), then leaves the quorum.
    pub async fn shutdown(&self) {
        if let Some(l) = self.lifecycle.lock().await.take() {
            l.shutdown(CONTROLLED_SHUTDOWN_TIMEOUT).await;
        }
        if let Some(q) = self.quorum.lock().await.take() {
            q.shutdown().await;
        }
    }

    /// This broker's node id.
    pub fn node_id(&self) -> i32 {
        self.node_id
    }

    /// The bound controller listener address, if this node has one.
    pub fn controller_addr(&self) -> Option<std::net::SocketAddr> {
        self.controller_addr
    }

    /// Tells `listener` of every image change from now on, starting with the current image (see
    /// [`publisher::ImageListener`]).
    pub async fn add_image_listener(&self, listener: Arc<dyn publisher::ImageListener>) {
        self.publisher.add_listener(listener).await;
    }

    /// Wakes on every new image (a follower fetch parked here ends when it should fetch more partitions).
    pub fn subscribe_image(&self) -> tokio::sync::watch::Receiver<Arc<MetadataImage>> {
        self.publisher.subscribe()
    }

    /// The current metadata image.
    pub fn image(&self) -> Arc<MetadataImage> {
        self.publisher.current()
    }

    /// The `controller_id` Metadata and DescribeCluster report to clients. As in KRaft, clients cannot
    /// reach the quorum itself; any live broker forwards what they send to the "controller", so this is a
    /// live broker: this one if it is unfenced, else the lowest live id (-1 if none).
    pub fn controller_id(&self) -> i32 {
        let image = self.image();
        if image.live_broker(self.node_id).is_some() {
            return self.node_id;
        }
        let first = image.live_brokers().next().map_or(-1, |b| b.id);
        first
    }

    /// The metadata quorum as the active controller sees it (DescribeQuorum).
    pub async fn describe_quorum(&self) -> Result<controller::QuorumState, ClusterError> {
        let (reply, _) = self
            .client
            .call(ControllerRequest::DescribeQuorum, Duration::from_secs(5))
            .await?;
        match reply {
            ControllerReply::Quorum(q) => Ok(q),
            other => Err(unexpected(other)),
        }
    }

    /// Controller listener addresses of the voters, by id (from `controller.quorum.voters`).
    pub fn voter_addresses(&self) -> Vec<(u64, String)> {
        self.voters.clone()
    }

    /// The cluster id.
    pub fn cluster_id(&self) -> String {
        self.image().cluster_id.clone()
    }

    /// All topics, by name.
    pub fn topics(&self) -> Vec<TopicMeta> {
        self.image().topics.values().cloned().collect()
    }

    /// One topic.
    pub fn topic(&self, name: &str) -> Option<TopicMeta> {
        self.image().topics.get(name).cloned()
    }

    /// Name of the topic with this id.
    pub fn topic_name(&self, id: Uuid) -> Option<String> {
        self.image().topic_name(id).map(str::to_string)
    }

    /// The log of a partition this broker leads.
    pub fn partition(&self, topic: &str, partition: i32) -> Option<Arc<PartitionLog>> {
        self.leader_log(topic, partition).ok()
    }

    /// The log of a partition this broker leads, or why it cannot serve it.
    pub fn leader_log(&self, topic: &str, partition: i32) -> Result<Arc<PartitionLog>, NotServed> {
        let image = self.image();
        let state = image
            .topics
            .get(topic)
            .and_then(|t| t.partition(partition))
            .ok_or(NotServed::Unknown)?;
        if state.leader != self.node_id {
            return Err(NotServed::NotLeader {
                leader: state.leader,
                leader_epoch: state.leader_epoch,
            });
        }
        self.store.get(topic, partition).ok_or(NotServed::Unknown)
    }

    /// A partition's local log whether or not this broker leads it (coordinator state replay).
    pub fn local_partition(&self, topic: &str, partition: i32) -> Option<Arc<PartitionLog>> {
        self.store.get(topic, partition)
    }

    /// The replication manager (follower fetches reach it through the Fetch handler).
    pub fn replication(&self) -> &Arc<replication::Replication> {
        &self.replication
    }

    /// The log store holding every partition.
    pub fn store(&self) -> &Arc<LogStore> {
        &self.store
    }

    /// The broker's default topic settings.
    pub fn log_defaults(&self) -> &LogConfig {
        &self.log_defaults
    }

    /// The deadline of a change the broker makes on its own.
    pub fn internal_deadline() -> tokio::time::Instant {
        tokio::time::Instant::now() + ADMIN_TIMEOUT
    }

    /// Sends `req` to the active controller and waits until this node's image has applied the result, as
    /// long as `deadline` allows (Kafka's controller deadline from the request's `timeout_ms`: a deadline
    /// already passed changes nothing).
    async fn change(
        &self,
        req: ControllerRequest,
        deadline: tokio::time::Instant,
    ) -> Result<ControllerReply, ClusterError> {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return Err(ClusterError::TimedOut);
        }
        let (reply, offset) = tokio::time::timeout_at(deadline, self.client.call(req, left))
            .await
            .map_err(|_| ClusterError::TimedOut)??;
        self.wait_applied_until(offset, deadline).await?;
        Ok(reply)
    }

    /// Waits until this node's image includes metadata offset `offset`.
    pub async fn wait_applied(&self, offset: u64) -> Result<(), ClusterError> {
        self.wait_applied_until(offset, Self::internal_deadline())
            .await
    }

    async fn wait_applied_until(
        &self,
        offset: u64,
        deadline: tokio::time::Instant,
    ) -> Result<(), ClusterError> {
        let mut images = self.publisher.subscribe();
        let applied = async move { images.wait_for(|i| i.offset >= offset).await.is_ok() };
        match tokio::time::timeout_at(deadline, applied).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(ClusterError::Quorum("metadata publisher stopped".into())),
            Err(_) => Err(ClusterError::TimedOut),
        }
    }

    /// Creates a topic (or only validates the request) by `deadline`; returns what was (or would be)
    /// created.
    pub async fn create_topic(
        &self,
        topic: NewTopic,
        deadline: tokio::time::Instant,
    ) -> Result<TopicMeta, ClusterError> {
        let validate_only = topic.validate_only;
        let req = ControllerRequest::CreateTopic {
            name: topic.name,
            partitions: topic.partitions,
            replication_factor: topic.replication_factor,
            configs: topic.configs,
            internal: topic.internal,
            validate_only,
            assignments: topic.assignments,
        };
        match self.change(req, deadline).await? {
            ControllerReply::Topic(t) if validate_only => Ok(t),
            ControllerReply::Topic(t) => Ok(self.topic(&t.name).unwrap_or(t)),
            other => Err(unexpected(other)),
        }
    }

    /// Deletes a topic; every broker hosting it removes its partitions when it applies the deletion.
    pub async fn delete_topic(
        &self,
        name: &str,
        deadline: tokio::time::Instant,
    ) -> Result<TopicMeta, ClusterError> {
        let req = ControllerRequest::DeleteTopic {
            name: name.to_string(),
        };
        match self.change(req, deadline).await? {
            ControllerReply::Topic(t) => Ok(t),
            other => Err(unexpected(other)),
        }
    }

    /// Grows a topic to `total` partitions, placed by the controller or on the given replicas (one list
    /// per added partition).
    pub async fn create_partitions(
        &self,
        name: &str,
        total: i32,
        assignments: Option<Vec<Vec<i32>>>,
        validate_only: bool,
        deadline: tokio::time::Instant,
    ) -> Result<(), ClusterError> {
        let req = ControllerRequest::CreatePartitions {
            name: name.to_string(),
            total,
            validate_only,
            assignments,
        };
        self.change(req, deadline).await.map(|_| ())
    }

    /// Replaces a topic's config overrides (validated by the controller).
    pub async fn alter_topic_configs(
        &self,
        name: &str,
        configs: BTreeMap<String, String>,
        validate_only: bool,
        deadline: tokio::time::Instant,
    ) -> Result<(), ClusterError> {
        let req = ControllerRequest::AlterTopicConfigs {
            name: name.to_string(),
            configs,
            validate_only,
        };
        self.change(req, deadline).await.map(|_| ())
    }

    /// Elects leaders of `kind` for the named partitions (all when `None`), as Kafka's ElectLeaders; the
    /// answer comes once this node's image shows the new leaders.
    pub async fn elect_leaders(
        &self,
        kind: controller::ElectionKind,
        targets: Option<controller::ElectionTargets>,
        deadline: tokio::time::Instant,
    ) -> Result<Vec<controller::ElectionResult>, ClusterError> {
        match self
            .change(ControllerRequest::ElectLeaders { kind, targets }, deadline)
            .await?
        {
            ControllerReply::Elections(results) => Ok(results),
            other => Err(unexpected(other)),
        }
    }

    /// Starts, changes or cancels partition reassignments (Kafka's AlterPartitionReassignments); the
    /// answer comes once this node's image shows the accepted ones.
    pub async fn alter_reassignments(
        &self,
        targets: controller::ReassignTargets,
        keep_replication_factor: bool,
        deadline: tokio::time::Instant,
    ) -> Result<controller::ReassignResults, ClusterError> {
        let req = ControllerRequest::AlterReassignments {
            targets,
            keep_replication_factor,
        };
        match self.change(req, deadline).await? {
            ControllerReply::Reassignments(results) => Ok(results),
            other => Err(unexpected(other)),
        }
    }

    /// Hands out a new producer id from this broker's block; a new block comes from the controller.
    pub async fn next_producer_id(&self) -> Result<i64, ClusterError> {
        loop {
            if let Some(id) = self.take_producer_id() {
                return Ok(id);
            }
            self.fetch_producer_ids().await?;
        }
    }

    /// A producer id from the current block without waiting (for coordinators that cannot await); when
    /// the block is used up, a new one is fetched in the background and this call fails (retriable), as
    /// Kafka's ProducerIdManager answers while its next block is on the way.
    pub fn try_next_producer_id(self: &Arc<Self>) -> Result<i64, ClusterError> {
        if let Some(id) = self.take_producer_id() {
            return Ok(id);
        }
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(e) = this.fetch_producer_ids().await {
                tracing::warn!(error = %e, "cannot fetch a producer id block");
            }
        });
        Err(ClusterError::NoController(
            "a new block of producer ids is being fetched".into(),
        ))
    }

    /// Fetches a block of producer ids once this broker is registered (retried until it is).
    pub async fn prefetch_producer_ids(&self) {
        let mut standing = self.standing.clone();
        if standing.wait_for(|s| s.epoch.is_some()).await.is_err() {
            return;
        }
        for _ in 0..50 {
            if self.fetch_producer_ids().await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn take_producer_id(&self) -> Option<i64> {
        let mut ids = self.producer_ids.lock().unwrap_or_else(|p| p.into_inner());
        (ids.0 < ids.1).then(|| {
            ids.0 += 1;
            ids.0 - 1
        })
    }

    /// Asks the controller for a block of producer ids and makes it current.
    async fn fetch_producer_ids(&self) -> Result<(), ClusterError> {
        let epoch = self
            .standing
            .borrow()
            .epoch
            .ok_or_else(|| ClusterError::Quorum("broker not registered yet".into()))?;
        let req = ControllerRequest::AllocateProducerIds {
            id: self.node_id,
            epoch,
        };
        match self.change(req, Self::internal_deadline()).await? {
            ControllerReply::ProducerIds { start, len } => {
                let mut ids = self.producer_ids.lock().unwrap_or_else(|p| p.into_inner());
                if ids.0 >= ids.1 {
                    *ids = (start, start + len);
                }
                Ok(())
            }
            other => Err(unexpected(other)),
        }
    }
}

/// A broker-only node asks the active controller (found through the voters) to send it the metadata
/// log, until it does. Registration waits for nothing: it is forwarded the same way, and the controller
/// unfences the broker only once it has applied the log up to its registration.
async fn join_as_observer(
    client: Arc<ControllerClient>,
    id: u64,
    listen: Option<std::net::SocketAddr>,
) {
    let Some(addr) = listen else {
        tracing::error!(
            "a broker-only node needs controller.listeners; it cannot follow the quorum"
        );
        return;
    };
    let req = ControllerRequest::AddObserver {
        id,
        addr: addr.to_string(),
    };
    loop {
        match client.call(req.clone(), Duration::from_secs(10)).await {
            Ok(_) => {
                tracing::info!("following the metadata quorum as a broker-only node");
                return;
            }
            Err(e) => tracing::warn!(error = %e, "cannot join the metadata quorum yet; retrying"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn unexpected(reply: ControllerReply) -> ClusterError {
    ClusterError::Quorum(format!("unexpected controller reply {reply:?}"))
}

fn wrong_cluster(dir: &Path, stored: &str, actual: &str) -> ClusterError {
    ClusterError::WrongCluster(format!(
        "data folder {} belongs to cluster {stored}, but the metadata quorum is cluster {actual}; \
         refusing to start (use an empty data folder to join this cluster)",
        dir.display()
    ))
}

/// Reads `meta.properties`: refuses a folder of another node; returns its cluster id, if recorded.
fn check_meta_properties(dir: &Path, node_id: i32) -> Result<Option<String>, ClusterError> {
    let text = match std::fs::read_to_string(dir.join(META_PROPERTIES)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let get = |key: &str| {
        text.lines()
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim().to_string())
    };
    if let Some(stored) = get("node.id") {
        if stored != node_id.to_string() {
            return Err(ClusterError::WrongCluster(format!(
                "data folder {} belongs to node {stored}, not node {node_id}; refusing to start",
                dir.display()
            )));
        }
    }
    Ok(get("cluster.id"))
}

/// Records the cluster id in `meta.properties` once the quorum has one; a quorum of another cluster
/// than the folder's is fatal (Kafka refuses to start in that case too).
async fn keep_meta_properties(
    publisher: Arc<Publisher>,
    dir: std::path::PathBuf,
    node_id: i32,
    stored: Option<String>,
) {
    let mut images = publisher.subscribe();
    let cluster_id = match images.wait_for(|i| !i.cluster_id.is_empty()).await {
        Ok(image) => image.cluster_id.clone(),
        Err(_) => return,
    };
    match stored {
        Some(s) if s == cluster_id => {}
        Some(s) => {
            tracing::error!("{}", wrong_cluster(&dir, &s, &cluster_id));
            std::process::exit(2);
        }
        None => {
            let text = format!(
                "#Written by weir\nversion=1\nnode.id={node_id}\ncluster.id={cluster_id}\n"
            );
            let path = dir.join(META_PROPERTIES);
            let result =
                tokio::task::spawn_blocking(move || write_atomically(&path, text.as_bytes())).await;
            if !matches!(result, Ok(Ok(()))) {
                tracing::error!("cannot write {META_PROPERTIES}");
            }
        }
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
mod tests;
