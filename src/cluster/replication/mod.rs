//! Partition replication, the Kafka way (Kafka's `ReplicaManager`): every metadata image tells each
//! hosted partition whether this broker leads or follows it; followers fetch from leaders through
//! [`fetcher`] tasks; leaders track their followers, move the high watermark, and change the ISR through
//! the controller (AlterPartition semantics, fenced by leader and partition epochs).

pub mod fetcher;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::watch;

use self::fetcher::{Fetcher, Followed};
use super::controller::{ControllerError, ControllerRequest};
use super::forward::ControllerClient;
use super::image::{MetadataImage, NO_LEADER};
use super::lifecycle::Standing;
use super::publisher::Publisher;
use crate::log::partition::now_ms;
use crate::log::{FollowerPosition, LogError, LogStore, PartitionLog};

/// Replication settings (Kafka's names and defaults).
#[derive(Debug, Clone)]
pub struct ReplicationConfig {
    /// `num.replica.fetchers`: fetcher tasks per source broker.
    pub fetchers: usize,
    /// `replica.fetch.max.bytes`: bytes per partition per fetch.
    pub fetch_max_bytes: i32,
    /// `replica.fetch.response.max.bytes`: bytes per fetch response.
    pub fetch_response_max_bytes: i32,
    /// `replica.fetch.wait.max.ms`: how long a follower's fetch waits for data at the leader.
    pub fetch_wait_max_ms: i32,
    /// `replica.lag.time.max.ms`: a follower not caught up for this long leaves the ISR.
    pub lag_time_max_ms: i64,
    /// `acks.all.fsync`: followers fsync before reporting progress, and leaders count fsynced offsets.
    pub fsync: bool,
}

impl Default for ReplicationConfig {
    fn default() -> Self {
        ReplicationConfig {
            fetchers: 1,
            fetch_max_bytes: 1_048_576,
            fetch_response_max_bytes: 10 * 1_048_576,
            fetch_wait_max_ms: 500,
            lag_time_max_ms: 30_000,
            fsync: true,
        }
    }
}

/// How this broker reaches the controller, once it is registered.
struct Links {
    client: Arc<ControllerClient>,
    standing: watch::Receiver<Standing>,
    publisher: Arc<Publisher>,
}

/// Where a followed partition is fetched from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Source {
    leader: i32,
    addr: String,
    index: usize,
    leader_epoch: i32,
}

/// This broker's replication manager.
pub struct Replication {
    node_id: i32,
    store: Arc<LogStore>,
    config: ReplicationConfig,
    links: OnceLock<Links>,
    /// Fetcher tasks by (source broker, index).
    fetchers: Mutex<HashMap<(i32, usize), Fetcher>>,
    /// Followed partitions and where from.
    following: Mutex<HashMap<(String, i32), Source>>,
}

impl Replication {
    /// A manager for `node_id`'s replicas in `store`.
    pub fn new(node_id: i32, store: Arc<LogStore>, config: ReplicationConfig) -> Arc<Replication> {
        Arc::new(Replication {
            node_id,
            store,
            config,
            links: OnceLock::new(),
            fetchers: Mutex::new(HashMap::new()),
            following: Mutex::new(HashMap::new()),
        })
    }

    /// Connects the manager to the controller (after the broker's lifecycle started) and starts the
    /// periodic ISR check.
    pub fn link(
        self: &Arc<Self>,
        client: Arc<ControllerClient>,
        standing: watch::Receiver<Standing>,
        publisher: Arc<Publisher>,
    ) {
        let _ = self.links.set(Links {
            client,
            standing,
            publisher,
        });
        let this = Arc::downgrade(self);
        let every = Duration::from_millis((self.config.lag_time_max_ms / 2).max(50) as u64);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let Some(this) = this.upgrade() else { break };
                this.shrink_lagging();
            }
        });
    }

    /// Settings in force.
    pub fn config(&self) -> &ReplicationConfig {
        &self.config
    }

    /// Brings every hosted partition's role in line with `image` (Kafka's `applyDelta`): leaders take
    /// their epoch and ISR, followers fetch from their leader. Runs on the publisher's blocking thread
    /// before the image is published, so no handler sees a leadership the log does not know yet.
    pub fn apply(&self, image: &MetadataImage) {
        let now = now_ms();
        let mut wanted: HashMap<(String, i32), (Arc<PartitionLog>, Source)> = HashMap::new();
        for t in image.topics.values() {
            for (p, st) in t.partitions.iter().enumerate() {
                if !st.replicas.contains(&self.node_id) {
                    continue;
                }
                let Ok(p) = i32::try_from(p) else { continue };
                let Some(log) = self.store.get(&t.name, p) else {
                    continue;
                };
                let followers: Vec<i32> = st
                    .replicas
                    .iter()
                    .copied()
                    .filter(|r| *r != self.node_id)
                    .collect();
                if st.leader == self.node_id {
                    let isr = st
                        .isr
                        .iter()
                        .copied()
                        .filter(|r| *r != self.node_id)
                        .collect();
                    if log.role_epoch() != (st.leader_epoch, true) {
                        tracing::debug!(topic = %t.name, partition = p, leader_epoch = st.leader_epoch, "leading");
                    }
                    log.become_leader(st.leader_epoch, st.partition_epoch, isr, &followers, now);
                    continue;
                }
                let (epoch, leading) = log.role_epoch();
                if leading || epoch != st.leader_epoch {
                    log.become_follower(st.leader_epoch);
                }
                if st.leader == NO_LEADER {
                    continue;
                }
                let Some(b) = image.live_broker(st.leader) else {
                    continue;
                };
                let index = fetcher_index(&t.name, p, self.config.fetchers);
                let source = Source {
                    leader: st.leader,
                    addr: format!("{}:{}", b.host, b.port),
                    index,
                    leader_epoch: st.leader_epoch,
                };
                wanted.insert((t.name.clone(), p), (log, source));
            }
        }
        self.follow(wanted);
    }

    /// Moves partitions between fetchers so that exactly `wanted` are fetched, each from its source.
    fn follow(&self, wanted: HashMap<(String, i32), (Arc<PartitionLog>, Source)>) {
        let mut following = self.following.lock().unwrap_or_else(|p| p.into_inner());
        let mut fetchers = self.fetchers.lock().unwrap_or_else(|p| p.into_inner());
        following.retain(|key, source| {
            let keep = wanted.get(key).is_some_and(|(_, s)| s == source);
            if !keep {
                if let Some(f) = fetchers.get(&(source.leader, source.index)) {
                    f.lock().partitions.remove(key);
                }
            }
            keep
        });
        for (key, (log, source)) in wanted {
            if following.contains_key(&key) {
                continue;
            }
            let slot = (source.leader, source.index);
            let stale = fetchers
                .get(&slot)
                .is_some_and(|f| f.lock().addr != source.addr);
            if stale {
                // The leader registered again on another endpoint: start over with a fresh connection.
                if let Some(f) = fetchers.remove(&slot) {
                    f.stop();
                }
            }
            let fetcher = fetchers.entry(slot).or_insert_with(|| {
                Fetcher::spawn(source.addr.clone(), self.node_id, self.config.clone())
            });
            tracing::debug!(topic = %key.0, partition = key.1, leader = source.leader, leader_epoch = source.leader_epoch, "following");
            fetcher.add(key.clone(), Followed::new(log, source.leader_epoch));
            following.insert(key, source);
        }
        fetchers.retain(|_, f| {
            let idle = f.lock().partitions.is_empty();
            if idle {
                f.stop();
            }
            !idle
        });
    }

    /// A follower fetched `log` from `fetch_offset`: records its progress and, when it caught up, asks
    /// the controller to add it to the ISR.
    pub fn on_follower_fetch(
        &self,
        log: &Arc<PartitionLog>,
        replica: i32,
        fetch: FollowerPosition,
    ) -> Result<(), LogError> {
        let eligible = self.links.get().is_none_or(|l| {
            l.publisher
                .current()
                .brokers
                .get(&replica)
                .is_some_and(|b| !b.fenced && !b.in_controlled_shutdown)
        });
        let got = log.on_follower_fetch(replica, fetch, eligible, now_ms())?;
        if got.may_join {
            if let Some((isr, leader_epoch, partition_epoch)) = log.isr_with(replica) {
                self.propose_isr(log.clone(), isr, leader_epoch, partition_epoch);
            }
        }
        Ok(())
    }

    /// Proposes shrinking the ISR of every led partition with followers that fell behind.
    fn shrink_lagging(&self) {
        let now = now_ms();
        for log in self.store.partitions() {
            if let Some((isr, leader_epoch, partition_epoch)) =
                log.shrink_isr(now, self.config.lag_time_max_ms)
            {
                tracing::info!(
                    topic = log.topic(),
                    partition = log.partition(),
                    ?isr,
                    "shrinking the ISR: followers fell behind"
                );
                self.propose_isr(log, isr, leader_epoch, partition_epoch);
            }
        }
    }

    /// Sends an AlterPartition for `log` with ISR `isr` (followers; the leader is added) to the
    /// controller. The new ISR takes effect when this broker applies the committed change; a refusal
    /// drops the pending change so it is proposed again if still needed.
    fn propose_isr(
        &self,
        log: Arc<PartitionLog>,
        isr: Vec<i32>,
        leader_epoch: i32,
        partition_epoch: i32,
    ) {
        let Some(links) = self.links.get() else {
            log.clear_pending_isr();
            return;
        };
        let client = links.client.clone();
        let standing = *links.standing.borrow();
        let image = links.publisher.current();
        let Some(topic_id) = image.topics.get(log.topic()).map(|t| t.id) else {
            log.clear_pending_isr();
            return;
        };
        let Some(broker_epoch) = standing.epoch else {
            log.clear_pending_isr();
            return;
        };
        let mut new_isr = vec![self.node_id];
        new_isr.extend(isr);
        let req = ControllerRequest::AlterPartition {
            broker: self.node_id,
            broker_epoch,
            topic_id,
            partition: log.partition(),
            leader_epoch,
            partition_epoch,
            isr: new_isr,
        };
        tokio::spawn(async move {
            match client.call(req, Duration::from_secs(5)).await {
                Ok(_) => {}
                Err(e) => {
                    let level_debug = matches!(e, ControllerError::InvalidUpdateVersion);
                    if level_debug {
                        tracing::debug!(topic = log.topic(), partition = log.partition(), error = %e, "ISR change superseded");
                    } else {
                        tracing::warn!(topic = log.topic(), partition = log.partition(), error = %e, "ISR change refused");
                    }
                    log.clear_pending_isr();
                }
            }
        });
    }
}

/// Which of a source broker's fetchers serves a partition (Kafka hashes topic and partition).
fn fetcher_index(topic: &str, partition: i32, fetchers: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (topic, partition).hash(&mut h);
    (h.finish() % fetchers.max(1) as u64) as usize
}
