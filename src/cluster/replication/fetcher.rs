//! A replica fetcher (Kafka's `ReplicaFetcherThread`): one task per source broker (and fetcher index)
//! that fetches every partition this broker follows there in one Fetch request, appends the leader's
//! batches byte for byte, truncates a diverging tail (KIP-595's diverging epoch) and takes the leader's
//! high watermark. With `acks.all.fsync` a follower fsyncs what it appended before its next fetch, so
//! the offset it fetches from is what it holds durably: the leader counts it for acks=all as such.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::{BrokerId, FetchRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use tokio::sync::Notify;

use super::ReplicationConfig;
use crate::client::conn::Conn;
use crate::log::partition::now_ms;
use crate::log::PartitionLog;

/// Fetch version used between brokers: the newest that names topics (v13+ name them by id).
const FETCH_VERSION: i16 = 12;

/// Wait after a failed fetch or a partition error before trying again (`replica.fetch.backoff.ms`).
const BACKOFF: Duration = Duration::from_millis(200);

/// One followed partition.
#[derive(Clone)]
pub struct Followed {
    pub log: Arc<PartitionLog>,
    /// The leader epoch this broker follows (sent as `current_leader_epoch`).
    pub leader_epoch: i32,
    /// Not fetched again before this time (after an error).
    pub retry_at_ms: i64,
}

/// What a fetcher task and the replication manager share.
pub struct FetcherState {
    /// Leader's client address.
    pub addr: String,
    pub partitions: BTreeMap<(String, i32), Followed>,
    /// Set when the task should end.
    pub stopped: bool,
}

/// Handle to one fetcher task.
pub struct Fetcher {
    pub state: Arc<Mutex<FetcherState>>,
    pub wake: Arc<Notify>,
}

impl Fetcher {
    /// Starts a fetcher for the broker at `addr`.
    pub fn spawn(addr: String, node_id: i32, config: ReplicationConfig) -> Fetcher {
        let state = Arc::new(Mutex::new(FetcherState {
            addr,
            partitions: BTreeMap::new(),
            stopped: false,
        }));
        let wake = Arc::new(Notify::new());
        let task = Task {
            state: state.clone(),
            wake: wake.clone(),
            node_id,
            config,
            conn: None,
        };
        tokio::spawn(task.run());
        Fetcher { state, wake }
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, FetcherState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ends the task (after its fetch in flight).
    pub fn stop(&self) {
        self.lock().stopped = true;
        self.wake.notify_one();
    }
}

struct Task {
    state: Arc<Mutex<FetcherState>>,
    wake: Arc<Notify>,
    node_id: i32,
    config: ReplicationConfig,
    conn: Option<Conn>,
}

impl Task {
    fn lock(&self) -> std::sync::MutexGuard<'_, FetcherState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn run(mut self) {
        loop {
            let (addr, due) = {
                let st = self.lock();
                if st.stopped {
                    break;
                }
                let now = now_ms();
                let due: Vec<_> = st
                    .partitions
                    .iter()
                    .filter(|(_, f)| f.retry_at_ms <= now)
                    .map(|(k, f)| (k.clone(), f.clone()))
                    .collect();
                (st.addr.clone(), due)
            };
            if due.is_empty() {
                // Nothing to fetch (or all backing off): wait for a change or the next retry.
                let _ = tokio::time::timeout(BACKOFF, self.wake.notified()).await;
                continue;
            }
            if let Err(e) = self.fetch_once(&addr, &due).await {
                tracing::debug!(leader = %addr, error = %e, "replica fetch failed; retrying");
                self.conn = None;
                let _ = tokio::time::timeout(BACKOFF, self.wake.notified()).await;
            }
        }
    }

    async fn connection(&mut self, addr: &str) -> Result<&mut Conn, String> {
        if self.conn.is_none() {
            let conn = Conn::connect(addr, Duration::from_secs(30))
                .await
                .map_err(|e| e.to_string())?;
            self.conn = Some(conn);
        }
        self.conn.as_mut().ok_or_else(|| "no connection".into())
    }

    fn request(&self, due: &[((String, i32), Followed)]) -> FetchRequest {
        let mut topics: Vec<FetchTopic> = Vec::new();
        for ((topic, partition), f) in due {
            let o = f.log.offsets();
            let p = FetchPartition::default()
                .with_partition(*partition)
                .with_current_leader_epoch(f.leader_epoch)
                .with_fetch_offset(o.log_end)
                .with_last_fetched_epoch(f.log.latest_epoch().unwrap_or(-1))
                .with_log_start_offset(o.log_start)
                .with_partition_max_bytes(self.config.fetch_max_bytes);
            match topics.last_mut() {
                Some(t) if t.topic.0.as_str() == topic => t.partitions.push(p),
                _ => topics.push(
                    FetchTopic::default()
                        .with_topic(TopicName(StrBytes::from_string(topic.clone())))
                        .with_partitions(vec![p]),
                ),
            }
        }
        FetchRequest::default()
            .with_replica_id(BrokerId(self.node_id))
            .with_max_wait_ms(self.config.fetch_wait_max_ms)
            .with_min_bytes(1)
            .with_max_bytes(self.config.fetch_response_max_bytes)
            .with_isolation_level(0)
            .with_session_id(0)
            .with_session_epoch(-1)
            .with_topics(topics)
    }

    async fn fetch_once(
        &mut self,
        addr: &str,
        due: &[((String, i32), Followed)],
    ) -> Result<(), String> {
        let req = self.request(due);
        let wake = self.wake.clone();
        let conn = self.connection(addr).await?;
        let resp = conn
            .send_version(&req, FETCH_VERSION)
            .await
            .map_err(|e| e.to_string())?;
        if resp.error_code != 0 {
            return Err(format!("fetch error {}", resp.error_code));
        }
        let mut appended: Vec<(Arc<PartitionLog>, i64)> = Vec::new();
        for t in resp.responses {
            for p in t.partitions {
                let key = (t.topic.0.to_string(), p.partition_index);
                let Some((_, f)) = due.iter().find(|(k, _)| *k == key) else {
                    continue;
                };
                match self.handle_partition(f, p).await {
                    Ok(Some(end)) => appended.push((f.log.clone(), end)),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::debug!(topic = %key.0, partition = key.1, error = %e, "replica fetch partition error");
                        if let Some(f) = self.lock().partitions.get_mut(&key) {
                            f.retry_at_ms = now_ms() + BACKOFF.as_millis() as i64;
                        }
                    }
                }
            }
        }
        if self.config.fsync {
            // Report only fsynced progress: the next fetch offset is what the leader counts as durable.
            for (log, end) in appended {
                if let Err(e) = log.wait_synced(end).await {
                    tracing::warn!(topic = log.topic(), partition = log.partition(), error = %e, "follower fsync failed");
                }
            }
        }
        drop(wake);
        Ok(())
    }

    /// Applies one partition's answer; `Ok(Some(end))` when records were appended.
    async fn handle_partition(
        &self,
        f: &Followed,
        p: PartitionData,
    ) -> Result<Option<i64>, String> {
        if p.error_code != 0 {
            let err = ResponseError::try_from_code(p.error_code)
                .map_or_else(|| p.error_code.to_string(), |e| format!("{e:?}"));
            if p.error_code == ResponseError::OffsetOutOfRange.code() {
                return self.out_of_range(f, &p).await.map(|()| None);
            }
            return Err(err);
        }
        if p.diverging_epoch.epoch >= 0 {
            // Our tail diverges from the leader's: cut it where the two agree (KIP-101/595).
            let (epoch, end) = f.log.end_offset_for_epoch(p.diverging_epoch.epoch);
            let to = if epoch == p.diverging_epoch.epoch {
                end.min(p.diverging_epoch.end_offset)
            } else {
                end.min(p.diverging_epoch.end_offset).max(0)
            };
            let log = f.log.clone();
            tokio::task::spawn_blocking(move || log.truncate_to(to))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            return Ok(None);
        }
        let records = p.records.unwrap_or_default();
        let end = if records.is_empty() {
            None
        } else {
            Some(
                f.log
                    .append_as_follower(records, now_ms())
                    .map_err(|e| e.to_string())?,
            )
        };
        f.log.set_follower_high_watermark(p.high_watermark);
        Ok(end)
    }

    /// The leader does not have our fetch offset: our log runs past its end (an unclean election:
    /// truncate to its high watermark) or fell below its log start (retention ran while we were away:
    /// restart at its log start).
    async fn out_of_range(&self, f: &Followed, p: &PartitionData) -> Result<(), String> {
        let ours = f.log.offsets();
        let log = f.log.clone();
        if p.high_watermark >= 0 && ours.log_end > p.high_watermark && p.log_start_offset >= 0 {
            let to = p.high_watermark.max(ours.log_start);
            tracing::warn!(
                topic = log.topic(),
                partition = log.partition(),
                to,
                "follower log ahead of its leader; truncating"
            );
            tokio::task::spawn_blocking(move || log.truncate_to(to))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            return Ok(());
        }
        if p.log_start_offset > ours.log_end {
            // Kafka's `fetchOffsetAndTruncate`: what we miss is gone from the leader too; start over at
            // its log start.
            let start = p.log_start_offset;
            tokio::task::spawn_blocking(move || log.truncate_fully_and_start_at(start))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            return Ok(());
        }
        Err(format!(
            "fetch offset {} outside the leader's log (start {}, high watermark {})",
            ours.log_end, p.log_start_offset, p.high_watermark
        ))
    }
}
