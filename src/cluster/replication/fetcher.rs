//! A replica fetcher (Kafka's `ReplicaFetcherThread`): one task per source broker (and fetcher index)
//! that fetches every partition this broker follows there in one Fetch request, appends the leader's
//! batches byte for byte, truncates a diverging tail (KIP-595's diverging epoch) and takes the leader's
//! high watermark. With `acks.all.fsync` a follower fsyncs what it appended before its next fetch, so
//! the offset it fetches from is what it holds durably: the leader counts it for acks=all as such.
//!
//! A partition added while a fetch is parked at the leader (a failover moved it here) does not wait for
//! that long poll (`replica.fetch.wait.max.ms`) to end: the fetch is abandoned with its connection and
//! the next one names the new partition at once. Kafka's `AbstractFetcherThread` adds partitions between
//! fetches only; the wait it saves is most of what a follower adds to a failover.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::{BrokerId, FetchRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use tokio::sync::watch;

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
    /// Whether a fetch from this leader has answered for the partition yet (logged once).
    pub answered: bool,
}

impl Followed {
    /// A partition to fetch from its leader at `leader_epoch`, from now on.
    pub fn new(log: Arc<PartitionLog>, leader_epoch: i32) -> Followed {
        Followed {
            log,
            leader_epoch,
            retry_at_ms: 0,
            answered: false,
        }
    }
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
    /// Bumped when a partition is added or the task should stop: wakes an idle task and abandons a
    /// fetch in flight (which does not name the new partition).
    changed: watch::Sender<u64>,
}

impl Fetcher {
    /// Starts a fetcher for the broker at `addr`.
    pub fn spawn(addr: String, node_id: i32, config: ReplicationConfig) -> Fetcher {
        let state = Arc::new(Mutex::new(FetcherState {
            addr,
            partitions: BTreeMap::new(),
            stopped: false,
        }));
        let (changed, changes) = watch::channel(0);
        let task = Task {
            state: state.clone(),
            changes,
            node_id,
            config,
            conn: None,
        };
        tokio::spawn(task.run());
        Fetcher { state, changed }
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, FetcherState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts fetching a partition (or replaces how it is fetched), without waiting for the fetch in
    /// flight to end.
    pub fn add(&self, key: (String, i32), followed: Followed) {
        self.lock().partitions.insert(key, followed);
        self.changed.send_modify(|n| *n += 1);
    }

    /// Ends the task, abandoning its fetch in flight.
    pub fn stop(&self) {
        self.lock().stopped = true;
        self.changed.send_modify(|n| *n += 1);
    }
}

/// How a fetch ended without an error.
enum Fetched {
    /// The leader answered and the answer was applied.
    Answered,
    /// The partition set changed while the fetch was in flight; it was abandoned.
    Abandoned,
}

struct Task {
    state: Arc<Mutex<FetcherState>>,
    /// Changes to the partition set; the version seen is the one the current fetch was built from.
    changes: watch::Receiver<u64>,
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
            if self.changes.has_changed().is_err() {
                break; // The manager is gone.
            }
            // Seen before the partitions are read: an addition after this point abandons the fetch.
            self.changes.borrow_and_update();
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
                let _ = tokio::time::timeout(BACKOFF, self.changes.changed()).await;
                continue;
            }
            match self.fetch_once(&addr, &due).await {
                Ok(Fetched::Answered) => {}
                Ok(Fetched::Abandoned) => {
                    // The leader still holds the abandoned request: its answer would come on this
                    // connection, ahead of the next one. A fresh connection gets the next fetch served
                    // at once.
                    tracing::debug!(leader = %addr, "partitions added; abandoning the fetch in flight");
                    self.conn = None;
                }
                Err(e) => {
                    tracing::debug!(leader = %addr, error = %e, "replica fetch failed; retrying");
                    self.conn = None;
                    let _ = tokio::time::timeout(BACKOFF, self.changes.changed()).await;
                }
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
    ) -> Result<Fetched, String> {
        let req = self.request(due);
        let mut changes = self.changes.clone();
        let conn = self.connection(addr).await?;
        let resp = tokio::select! {
            resp = conn.send_version(&req, FETCH_VERSION) => resp.map_err(|e| e.to_string())?,
            _ = changes.changed() => return Ok(Fetched::Abandoned),
        };
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
                let answered = self.handle_partition(f, p).await;
                if answered.is_ok() && !f.answered {
                    self.first_answer(&key, f.leader_epoch);
                }
                match answered {
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
        Ok(Fetched::Answered)
    }

    /// Notes the first answer from this leader for a partition: replication of it resumed (the last
    /// step of a failover a follower takes part in).
    fn first_answer(&self, key: &(String, i32), leader_epoch: i32) {
        let mut st = self.lock();
        if let Some(f) = st.partitions.get_mut(key) {
            f.answered = true;
        }
        tracing::debug!(topic = %key.0, partition = key.1, leader_epoch, leader = %st.addr, "replica fetch from the leader answered");
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{LogConfig, LogStore, StoreOptions};
    use bytes::{Buf, BufMut, Bytes, BytesMut};
    use kafka_protocol::messages::api_versions_response::ApiVersion;
    use kafka_protocol::messages::{ApiKey, ApiVersionsResponse, RequestHeader};
    use kafka_protocol::protocol::{Decodable, Encodable};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::mpsc;

    /// A leader that answers ApiVersions and parks every Fetch for good (a long poll that never ends),
    /// reporting the partitions each Fetch names.
    async fn parking_leader() -> (String, mpsc::UnboundedReceiver<Vec<(String, i32)>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, tx.clone()));
            }
        });
        (addr, rx)
    }

    async fn serve(mut s: TcpStream, named: mpsc::UnboundedSender<Vec<(String, i32)>>) {
        while let Ok(len) = s.read_i32().await {
            let mut frame = vec![0u8; len as usize];
            if s.read_exact(&mut frame).await.is_err() {
                return;
            }
            let mut body = Bytes::from(frame);
            let (key, version) = (
                i16::from_be_bytes([body[0], body[1]]),
                i16::from_be_bytes([body[2], body[3]]),
            );
            let key = ApiKey::try_from(key).expect("api key");
            let header = RequestHeader::decode(&mut body, key.request_header_version(version))
                .expect("header");
            match key {
                ApiKey::ApiVersions => {
                    let range = |k: ApiKey, hi: i16| {
                        ApiVersion::default()
                            .with_api_key(k as i16)
                            .with_max_version(hi)
                    };
                    let resp = ApiVersionsResponse::default().with_api_keys(vec![
                        range(ApiKey::ApiVersions, 3),
                        range(ApiKey::Fetch, FETCH_VERSION),
                    ]);
                    let mut out = BytesMut::new();
                    out.put_i32(0);
                    out.put_i32(header.correlation_id);
                    resp.encode(&mut out, version).expect("encode");
                    let n = (out.len() - 4) as i32;
                    out[0..4].copy_from_slice(&n.to_be_bytes());
                    if s.write_all(&out).await.is_err() {
                        return;
                    }
                }
                ApiKey::Fetch => {
                    let req = FetchRequest::decode(&mut body, version).expect("fetch");
                    assert_eq!(body.remaining(), 0);
                    let mut names: Vec<(String, i32)> = req
                        .topics
                        .iter()
                        .flat_map(|t| {
                            t.partitions
                                .iter()
                                .map(|p| (t.topic.0.to_string(), p.partition))
                        })
                        .collect();
                    names.sort();
                    let _ = named.send(names);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    fn key(topic: &str) -> (String, i32) {
        (topic.to_string(), 0)
    }

    /// A partition added while the fetcher's long poll is parked at the leader (a failover moved it to
    /// this leader) is fetched at once, not when the poll ends (`replica.fetch.wait.max.ms`, here a
    /// minute; the fake leader never answers).
    #[tokio::test]
    async fn a_partition_added_during_a_long_poll_is_fetched_at_once() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = LogStore::open(StoreOptions::new(dir.path())).expect("store");
        let log = |t: &str| {
            store
                .get_or_create(t, 0, LogConfig::default())
                .expect("log")
        };
        let (addr, mut named) = parking_leader().await;
        let config = ReplicationConfig {
            fetch_wait_max_ms: 60_000,
            fsync: false,
            ..ReplicationConfig::default()
        };
        let fetcher = Fetcher::spawn(addr, 2, config);
        let within = Duration::from_secs(10);
        fetcher.add(key("a"), Followed::new(log("a"), 0));
        let first = tokio::time::timeout(within, named.recv()).await;
        assert_eq!(first.expect("first fetch"), Some(vec![key("a")]));
        fetcher.add(key("b"), Followed::new(log("b"), 0));
        let next = tokio::time::timeout(within, named.recv()).await;
        assert_eq!(
            next.expect("a fetch naming the added partition before the long poll ended"),
            Some(vec![key("a"), key("b")])
        );
        fetcher.stop();
    }
}
