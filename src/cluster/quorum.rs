//! Starts this node's part of the metadata quorum: the Raft node over the durable metadata log, the
//! controller listener serving peers, and the controller task. A single node is a quorum of one on the
//! same path.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use openraft::{BasicNode, SnapshotPolicy};
use tokio::net::TcpListener;

use super::controller::{self, ControllerConfig, ControllerHandle};
use super::publisher::Publisher;
use super::raft::log_store::MetaLogStore;
use super::raft::network::Network;
use super::raft::state_machine::MetaStateMachine;
use super::raft::Raft;
use super::server;
use super::ClusterError;
use crate::log::LogConfig;

/// Folder of the metadata log inside the data folder (no `-N` suffix, so the log store skips it).
/// How long a leaving quorum leader waits for the voters to hold its last commit.
const HAND_OFF_BOUND: Duration = Duration::from_millis(500);

pub const METADATA_DIR: &str = "__cluster_metadata";

/// What the quorum needs from the broker's configuration.
#[derive(Debug, Clone)]
pub struct QuorumConfig {
    pub node_id: u64,
    /// `controller.quorum.voters`: id → host:port of each voter's controller listener.
    pub voters: BTreeMap<u64, String>,
    /// Whether this node votes (`process.roles` includes `controller`); a broker-only node is added as a
    /// Raft learner by the active controller and only follows the log.
    pub voter: bool,
    /// `controller.listeners`: where this node serves peers; `None` for a single node without one.
    pub listen: Option<SocketAddr>,
    /// `controller.quorum.election.timeout.ms`.
    pub election_timeout: Duration,
    /// `broker.session.timeout.ms`.
    pub session_timeout: Duration,
    /// Automatic preferred-leader election.
    pub leader_balance: LeaderBalance,
    pub log_defaults: LogConfig,
    /// A snapshot of the image is taken after this many metadata log entries, and the log behind it is
    /// purged (Kafka bounds the same by bytes, `metadata.log.max.record.bytes.between.snapshots`).
    pub snapshot_every: u64,
}

/// The controller's automatic preferred-leader election (Kafka's `auto.leader.rebalance.enable`,
/// `leader.imbalance.check.interval.seconds`, `leader.imbalance.per.broker.percentage`).
#[derive(Debug, Clone, Copy)]
pub struct LeaderBalance {
    pub enabled: bool,
    /// Time between two checks.
    pub interval: Duration,
    /// A broker's partitions are moved back to it when more than this percentage of the partitions it is
    /// the preferred replica for are led elsewhere.
    pub per_broker_percentage: u32,
}

impl Default for LeaderBalance {
    fn default() -> Self {
        LeaderBalance {
            enabled: true,
            interval: Duration::from_secs(300),
            per_broker_percentage: 10,
        }
    }
}

/// Default for [`QuorumConfig::snapshot_every`].
pub const SNAPSHOT_EVERY: u64 = 5000;

/// This node's quorum member.
pub struct Quorum {
    pub raft: Raft,
    pub controller: ControllerHandle,
    pub peers: Arc<HashMap<u64, String>>,
    /// Bound controller listener address, if any.
    pub controller_addr: Option<SocketAddr>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl Quorum {
    /// Opens the metadata log under `data_dir`, replays it into `publisher`, and joins the quorum.
    pub async fn start(
        config: &QuorumConfig,
        data_dir: &Path,
        publisher: Arc<Publisher>,
    ) -> Result<Quorum, ClusterError> {
        let dir = data_dir.join(METADATA_DIR);
        let log = MetaLogStore::open(&dir)?;
        let first_start = log.is_empty();
        let sm = MetaStateMachine::open(&dir, publisher.clone())?;
        let peers: Arc<HashMap<u64, String>> =
            Arc::new(config.voters.iter().map(|(k, v)| (*k, v.clone())).collect());
        let raft_config = raft_config(config)?;
        let network = Network {
            peers: peers.clone(),
        };
        let raft = Raft::new(config.node_id, raft_config, network, log, sm)
            .await
            .map_err(|e| ClusterError::Quorum(e.to_string()))?;
        let controller = controller::spawn(
            ControllerConfig {
                node_id: config.node_id,
                session_timeout: config.session_timeout,
                leader_balance: config.leader_balance,
                log_defaults: config.log_defaults.clone(),
            },
            raft.clone(),
            publisher,
        );
        let (server, controller_addr) = match config.listen {
            Some(addr) => {
                let listener = TcpListener::bind(addr).await.map_err(|e| {
                    ClusterError::Quorum(format!("cannot listen on controller address {addr}: {e}"))
                })?;
                let local = listener.local_addr()?;
                let server = server::spawn(listener, raft.clone(), controller.clone());
                (Some(server), Some(local))
            }
            None => (None, None),
        };
        let quorum = Quorum {
            raft,
            controller,
            peers,
            controller_addr,
            server,
        };
        if first_start && config.voter {
            // Initialising makes a voter stand for election at once; if every voter of a new cluster did that
            // together they would split the vote. The lowest id goes first; the others only step in if it has
            // not reached them after a while (it may be down), which openraft allows: all propose the same
            // membership, and an initialised node ignores the call.
            let rank = config
                .voters
                .keys()
                .position(|id| *id == config.node_id)
                .unwrap_or(0);
            if rank == 0 {
                quorum.initialize(config).await?;
            } else {
                let (raft, members) = (quorum.raft.clone(), members(config));
                let delay = config.election_timeout * u32::try_from(rank).unwrap_or(1) * 2;
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    if !raft.is_initialized().await.unwrap_or(true) {
                        tracing::info!(
                            "the first voter has not initialised the quorum; initialising it"
                        );
                        let _ = raft.initialize(members).await;
                    }
                });
            }
        }
        if config.voter && config.voters.len() == 1 {
            // Alone, there is nobody to wait for: elect now instead of after an election timeout, so a
            // restarted single node serves writes within milliseconds.
            let _ = quorum.raft.trigger().elect().await;
        }
        Ok(quorum)
    }

    /// First start: every voter proposes the same initial membership; openraft accepts it once.
    async fn initialize(&self, config: &QuorumConfig) -> Result<(), ClusterError> {
        match self.raft.initialize(members(config)).await {
            Ok(()) => Ok(()),
            Err(openraft::error::RaftError::APIError(
                openraft::error::InitializeError::NotAllowed(_),
            )) => Ok(()),
            Err(e) => Err(ClusterError::Quorum(format!(
                "cannot initialise the quorum: {e}"
            ))),
        }
    }

    /// Leaves the quorum (stops Raft and the controller listener), after a bounded hand-off when this
    /// node leads it.
    pub async fn shutdown(self) {
        self.hand_off(HAND_OFF_BOUND).await;
        if let Some(s) = self.server {
            s.abort();
        }
        let _ = self.raft.shutdown().await;
    }

    /// A leader that leaves right after committing (a controlled shutdown's leadership moves) leaves the
    /// voters outside that commit's majority unaware of it until a new leader is elected, seconds later;
    /// they would go on serving the old leadership. So the leader appends one empty entry and waits
    /// until every voter holds it: the requests carrying it also carry the commit index, so every
    /// survivor applies what was committed. Kafka's KRaft leader resigns with EndQuorumEpoch instead;
    /// openraft 0.9 has no leadership transfer.
    async fn hand_off(&self, bound: Duration) {
        let metrics = self.raft.metrics().borrow().clone();
        let me = metrics.id;
        let voters: Vec<u64> = metrics
            .membership_config
            .membership()
            .voter_ids()
            .filter(|v| *v != me)
            .collect();
        if metrics.state != openraft::ServerState::Leader || voters.is_empty() {
            return;
        }
        let deadline = tokio::time::Instant::now() + bound;
        let Ok(Ok(written)) =
            tokio::time::timeout_at(deadline, self.raft.client_write(Vec::new())).await
        else {
            return;
        };
        let index = written.log_id.index;
        let mut rx = self.raft.metrics();
        let everyone_holds_it = |m: &super::raft::Metrics| {
            m.replication.as_ref().is_some_and(|r| {
                voters.iter().all(|v| {
                    r.get(v)
                        .and_then(|matched| matched.as_ref())
                        .is_some_and(|l| l.index >= index)
                })
            })
        };
        if tokio::time::timeout_at(deadline, rx.wait_for(everyone_holds_it))
            .await
            .is_err()
        {
            tracing::warn!("not every controller voter confirmed the last commit before leaving");
        }
    }
}

/// The initial membership: every configured voter.
fn members(config: &QuorumConfig) -> BTreeMap<u64, BasicNode> {
    config
        .voters
        .iter()
        .map(|(id, addr)| (*id, BasicNode { addr: addr.clone() }))
        .collect()
}

fn raft_config(config: &QuorumConfig) -> Result<Arc<openraft::Config>, ClusterError> {
    let election = u64::try_from(config.election_timeout.as_millis())
        .unwrap_or(1000)
        .max(100);
    let c = openraft::Config {
        cluster_name: "weir".into(),
        // Kafka's controller.quorum.election.timeout.ms is the minimum; the wait is random up to twice it.
        election_timeout_min: election,
        election_timeout_max: election * 2,
        heartbeat_interval: (election / 5).max(20),
        snapshot_policy: SnapshotPolicy::LogsSinceLast(config.snapshot_every.max(1)),
        // Keep a short tail behind the snapshot so a follower slightly behind catches up from the log.
        max_in_snapshot_log_to_keep: config.snapshot_every / 5,
        ..Default::default()
    };
    c.validate()
        .map(Arc::new)
        .map_err(|e| ClusterError::Quorum(format!("raft settings: {e}")))
}
