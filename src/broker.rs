//! Starts and stops a broker: opens the log store, joins the metadata quorum, binds the listener, accepts
//! connections; at shutdown, moves leadership away before it stops serving.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::cluster::{Cluster, ClusterError};
use crate::config::Config;
use crate::group::GroupCoordinator;
use crate::group_store::{ClusterProducerIds, ClusterTopics, CoordinatorElections, LogOffsets};
use crate::handler::fetch_session::FetchSessionCache;
use crate::handler::{Ctx, NodeInfo};
use crate::log::{LogError, LogStore};
use crate::metrics::admin::{self, AdminState};
use crate::net::limits::Limits;
use crate::net::session;
use crate::txn::{TxnCoordinator, TRANSACTION_STATE_TOPIC};

/// Why the broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("log store: {0}")]
    Log(#[from] LogError),
    #[error("metadata: {0}")]
    Cluster(#[from] ClusterError),
    #[error("configuration: {0}")]
    Config(String),
}

/// A running broker.
pub struct Broker {
    /// Address actually bound (useful with port 0).
    local_addr: SocketAddr,
    /// Flipped to true to stop accepting and close idle connections.
    shutdown_tx: watch::Sender<bool>,
    /// The accept loop; finishes after every session has ended.
    accept_task: tokio::task::JoinHandle<()>,
    /// The log store, flushed and marked clean at shutdown.
    store: Arc<LogStore>,
    /// The group coordinator, stopped before the store.
    groups: GroupCoordinator,
    /// Cluster membership: controlled shutdown first, quorum last.
    cluster: Arc<Cluster>,
    /// The transaction coordinator, stopped before the store.
    txns: TxnCoordinator,
}

/// How long start-up waits for the coordinator partitions this broker leads to load.
const COORDINATOR_LOAD_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// How long a single node waits at start-up to be unfenced by its own controller (milliseconds normally).
const SINGLE_NODE_READY: std::time::Duration = std::time::Duration::from_secs(10);

impl Broker {
    /// Opens storage, joins the metadata quorum, binds the listener and starts serving.
    pub async fn start(config: Config) -> Result<Broker, StartError> {
        // The admin endpoints come up first so /healthz answers (and /readyz says 503) during recovery.
        let _ = crate::metrics::global(); // uptime counts from here
        let admin = Arc::new(AdminState::default());
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        start_admin(&config, admin.clone(), shutdown_rx.clone()).await;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let local_addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
        // With port 0 the advertised port is the one actually bound.
        let (host, mut port) = config.advertised();
        if config.advertised_listener.is_none() {
            port = i32::from(local_addr.port());
        }
        let store = LogStore::open(config.store_options())?;
        // Retention, compaction and time-based flushing.
        store.spawn_background();
        let options = config
            .cluster_options(host.clone(), port)
            .map_err(|e| StartError::Config(e.to_string()))?;
        let cluster = Cluster::start(options, store.clone(), config.default_log_config()).await?;
        if cluster.is_single_node() && !cluster.wait_active(SINGLE_NODE_READY).await {
            tracing::warn!("this single node was not unfenced in time; serving anyway");
        }
        // A first block of producer ids, so coordinators that cannot wait for the controller have ids.
        let prefetch = cluster.clone();
        tokio::spawn(async move { prefetch.prefetch_producer_ids().await });
        let offsets = LogOffsets::new(cluster.clone());
        // Both coordinators load a partition when this broker becomes its leader, and unload it when it
        // stops leading it (a single node leads every partition).
        let groups = GroupCoordinator::start_unloaded(
            config.group_config(),
            Arc::new(offsets),
            Arc::new(ClusterTopics(cluster.clone())),
        );
        let txns = TxnCoordinator::start_unloaded(
            config.txn_config(),
            Arc::new(LogOffsets::for_topic(
                cluster.clone(),
                TRANSACTION_STATE_TOPIC,
            )),
            Arc::new(ClusterProducerIds(cluster.clone())),
            Arc::new(crate::group_store::ClusterMarkers {
                cluster: cluster.clone(),
                groups: groups.clone(),
                peers: Default::default(),
            }),
        );
        cluster
            .add_image_listener(Arc::new(CoordinatorElections {
                node_id: config.node_id,
                groups: groups.clone(),
                txns: txns.clone(),
            }))
            .await;
        // What this broker leads now is loaded before the first client is served.
        let loaded = async { tokio::join!(groups.wait_loaded(), txns.wait_loaded()) };
        if tokio::time::timeout(COORDINATOR_LOAD_WAIT, loaded)
            .await
            .is_err()
        {
            tracing::warn!("coordinator partitions still loading; serving anyway (clients retry)");
        }
        let ctx = Arc::new(Ctx {
            node: NodeInfo {
                node_id: config.node_id,
                host,
                port,
            },
            cluster: cluster.clone(),
            fetch_sessions: Mutex::new(FetchSessionCache::new(config.fetch_session_cache_slots)),
            groups: groups.clone(),
            txns: txns.clone(),
            peers: Default::default(),
            config,
        });
        admin.set_ready(ctx.clone());
        let accept_task = tokio::spawn(accept_loop(ctx, listener, shutdown_rx));
        tracing::info!(%local_addr, controller = ?cluster.controller_addr(), "weir broker listening");
        Ok(Broker {
            local_addr,
            shutdown_tx,
            accept_task,
            store,
            groups,
            cluster,
            txns,
        })
    }

    /// The node's cluster membership and metadata.
    pub fn cluster(&self) -> &Arc<Cluster> {
        &self.cluster
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, lets in-flight requests finish, flushes and writes the clean-shutdown marker.
    pub async fn shutdown(self) -> Result<(), LogError> {
        // Controlled shutdown first: the controller moves leadership away while this node still serves.
        self.cluster.shutdown().await;
        let _ = self.shutdown_tx.send(true);
        let _ = self.accept_task.await;
        self.groups.shutdown().await;
        self.txns.shutdown().await;
        self.store.stop_background().await;
        self.store.shutdown()?;
        tracing::info!("weir broker stopped cleanly");
        Ok(())
    }
}

/// Binds and serves the admin listener if configured; a taken port only warns (several brokers on one
/// machine share the default), so Kafka is served regardless.
async fn start_admin(config: &Config, state: Arc<AdminState>, shutdown: watch::Receiver<bool>) {
    let Ok(Some(addr)) = config.admin_addr() else {
        return;
    };
    match admin::bind(addr).await {
        Ok(listener) => {
            let bound = listener.local_addr().map_or(addr, |a| a);
            tracing::info!(%bound, "admin listener (/metrics, /healthz, /readyz)");
            tokio::spawn(admin::serve(listener, state, shutdown));
        }
        Err(e) => {
            tracing::warn!(%addr, error = %e, "admin listener not started; serving Kafka without /metrics (set admin.listeners to another port, or empty)");
        }
    }
}

async fn accept_loop(ctx: Arc<Ctx>, listener: TcpListener, mut shutdown: watch::Receiver<bool>) {
    let limit = Arc::new(Semaphore::new(ctx.config.max_connections));
    let limits = Limits::new(&ctx.config);
    let mut sessions = JoinSet::new();
    loop {
        let permit = tokio::select! {
            p = limit.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = shutdown.wait_for(|s| *s) => break,
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.wait_for(|s| *s) => break,
        };
        match accepted {
            Ok((stream, addr)) => {
                // Kafka closes a connection over `max.connections.per.ip` at once, with a log line.
                let Some(admitted) = limits.admit(addr.ip()) else {
                    tracing::warn!(peer = %addr, "closing: max.connections.per.ip reached");
                    drop(stream);
                    continue;
                };
                let ctx = ctx.clone();
                let rx = shutdown.clone();
                let limits = limits.clone();
                sessions.spawn(async move {
                    session::run(ctx, stream, rx, limits).await;
                    drop(admitted);
                    drop(permit);
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        // Reap finished sessions so the set stays small.
        while sessions.try_join_next().is_some() {}
    }
    drop(listener);
    while sessions.join_next().await.is_some() {}
}
