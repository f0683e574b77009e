//! Runtime tests with a toy coordinator (a replicated key → value map) on paused tokio time: replies
//! wait for durability, reads see committed state, failed appends revert, timers, and restart after a
//! panic.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;

use super::*;

/// Appends go to memory; in gated mode each append waits for the test to release it.
#[derive(Default)]
struct TestLog {
    /// Entries per partition in append order.
    records: Mutex<std::collections::HashMap<i32, Vec<LogEntry>>>,
    /// When set, appends wait for a release.
    gated: std::sync::atomic::AtomicBool,
    /// Releases of gated appends, oldest first.
    gates: Mutex<VecDeque<oneshot::Sender<Result<(), CoordinatorError>>>>,
}

impl TestLog {
    fn release(&self, result: Result<(), CoordinatorError>) {
        let gate = self
            .gates
            .lock()
            .unwrap()
            .pop_front()
            .expect("a gated append");
        let _ = gate.send(result);
    }
}

impl TestLog {
    fn push(&self, partition: i32, entries: impl IntoIterator<Item = LogEntry>) -> AppendFuture {
        self.records
            .lock()
            .unwrap()
            .entry(partition)
            .or_default()
            .extend(entries);
        if !self.gated.load(std::sync::atomic::Ordering::SeqCst) {
            return Box::pin(async { Ok(()) });
        }
        let (tx, rx) = oneshot::channel();
        self.gates.lock().unwrap().push_back(tx);
        Box::pin(async move { rx.await.unwrap_or(Err(CoordinatorError::NotAvailable)) })
    }
}

impl CoordinatorLog for TestLog {
    fn append(&self, partition: i32, records: Vec<Record>) -> AppendFuture {
        self.push(partition, records.into_iter().map(plain))
    }

    fn append_transactional(
        &self,
        partition: i32,
        producer_id: i64,
        _producer_epoch: i16,
        records: Vec<Record>,
    ) -> AppendFuture {
        let entries = records.into_iter().map(move |record| LogEntry::Record {
            record,
            producer_id: Some(producer_id),
        });
        self.push(partition, entries)
    }

    fn append_end_txn(&self, partition: i32, marker: TxnMarker) -> AppendFuture {
        self.push(
            partition,
            [LogEntry::EndTxn {
                producer_id: marker.producer_id,
                commit: marker.commit,
            }],
        )
    }

    fn read_all(&self, partition: i32) -> Result<Vec<LogEntry>, CoordinatorError> {
        Ok(self
            .records
            .lock()
            .unwrap()
            .get(&partition)
            .cloned()
            .unwrap_or_default())
    }
}

fn plain(record: Record) -> LogEntry {
    LogEntry::Record {
        record,
        producer_id: None,
    }
}

/// The toy coordinator's replayed state: the map, and per producer id the writes of its open
/// transaction (applied by a commit marker, dropped by an abort).
#[derive(Clone, Default)]
struct KvState {
    kv: imbl::HashMap<String, String>,
    pending: imbl::HashMap<i64, imbl::Vector<(String, Option<String>)>>,
}

impl KvState {
    fn get(&self, key: &str) -> Option<&String> {
        self.kv.get(key)
    }

    fn apply(&mut self, key: String, value: Option<String>) {
        match value {
            Some(v) => {
                self.kv.insert(key, v);
            }
            None => {
                self.kv.remove(&key);
            }
        }
    }
}

/// Toy coordinator: string keys to string values, replayed from `key` / `value` records.
struct KvShard {
    state: KvState,
    /// Names of timers that fired, in order (live, not replayed).
    fired: Vec<String>,
    /// Replies an operation left for later (a parked request).
    parked: Vec<oneshot::Sender<()>>,
}

fn kv(_partition: i32) -> KvShard {
    KvShard {
        state: KvState::default(),
        fired: Vec::new(),
        parked: Vec::new(),
    }
}

impl CoordinatorShard for KvShard {
    type State = KvState;
    type Timer = String;

    fn state(&self) -> &Self::State {
        &self.state
    }
    fn state_mut(&mut self) -> &mut Self::State {
        &mut self.state
    }
    fn replay(&mut self, (key, value): &Record, producer_id: Option<i64>, _now_ms: i64) {
        let key = String::from_utf8_lossy(key).into_owned();
        let value = value
            .as_ref()
            .map(|v| String::from_utf8_lossy(v).into_owned());
        match producer_id {
            None => self.state.apply(key, value),
            Some(pid) => self
                .state
                .pending
                .entry(pid)
                .or_default()
                .push_back((key, value)),
        }
    }
    fn replay_end_txn(&mut self, producer_id: i64, commit: bool) {
        let pending = self.state.pending.remove(&producer_id).unwrap_or_default();
        if commit {
            for (key, value) in pending {
                self.state.apply(key, value);
            }
        }
    }
    fn on_loaded(&mut self, _ctx: &mut Ctx<Self>) {}
    fn on_timer(&mut self, timer: String, _ctx: &mut Ctx<Self>) {
        self.fired.push(timer);
    }
}

fn put(key: &str, value: &str) -> Record {
    (
        Bytes::copy_from_slice(key.as_bytes()),
        Some(Bytes::copy_from_slice(value.as_bytes())),
    )
}

fn start(log: Arc<TestLog>) -> Runtime<KvShard> {
    Runtime::start(
        RuntimeConfig {
            partitions: 2,
            queue_capacity: 16,
        },
        Arc::new(kv),
        log,
    )
    .unwrap()
}

async fn get(rt: &Runtime<KvShard>, key: &'static str) -> Option<String> {
    rt.read(0, move |_, committed| committed.get(key).cloned())
        .await
        .unwrap()
}

async fn live(rt: &Runtime<KvShard>, key: &'static str) -> Option<String> {
    rt.read(0, move |s, _| s.state.get(key).cloned())
        .await
        .unwrap()
}

/// Yields until spawned work (the shard task) has run.
async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn write_replies_after_durable_and_reads_see_committed_state() {
    let log = Arc::new(TestLog::default());
    log.gated.store(true, std::sync::atomic::Ordering::SeqCst);
    let rt = start(log.clone());
    let rt2 = rt.clone();
    let write = tokio::spawn(async move {
        rt2.write(0, |_, ctx| {
            ctx.append(vec![put("a", "1")], true, None);
            "done"
        })
        .await
    });
    settle().await;
    assert!(!write.is_finished(), "reply waits for the append");
    // The operation's records were replayed (live state) but are not committed yet.
    assert_eq!(live(&rt, "a").await.as_deref(), Some("1"));
    assert_eq!(get(&rt, "a").await, None);
    log.release(Ok(()));
    assert_eq!(write.await.unwrap(), Ok("done"));
    assert_eq!(get(&rt, "a").await.as_deref(), Some("1"));
}

#[tokio::test(start_paused = true)]
async fn failed_append_reverts_it_and_every_later_pending_write() {
    let log = Arc::new(TestLog::default());
    let rt = start(log.clone());
    rt.write(0, |_, ctx| ctx.append(vec![put("a", "1")], true, None))
        .await
        .unwrap();
    log.gated.store(true, std::sync::atomic::Ordering::SeqCst);
    let spawn_write = |k: &'static str, v: &'static str| {
        let rt = rt.clone();
        tokio::spawn(async move {
            rt.write(0, move |_, ctx| ctx.append(vec![put(k, v)], true, None))
                .await
        })
    };
    let w1 = spawn_write("a", "2");
    settle().await;
    let w2 = spawn_write("b", "3");
    settle().await;
    assert_eq!(live(&rt, "b").await.as_deref(), Some("3"));
    log.release(Err(CoordinatorError::Storage("disk".into())));
    assert_eq!(
        w1.await.unwrap(),
        Err(CoordinatorError::Storage("disk".into()))
    );
    assert_eq!(
        w2.await.unwrap(),
        Err(CoordinatorError::Storage("disk".into()))
    );
    // Back to the last committed state, and the shard keeps serving.
    assert_eq!(live(&rt, "a").await.as_deref(), Some("1"));
    assert_eq!(live(&rt, "b").await, None);
    log.release(Ok(())); // w2's append resolving late changes nothing
    log.gated.store(false, std::sync::atomic::Ordering::SeqCst);
    rt.write(0, |_, ctx| ctx.append(vec![put("c", "4")], true, None))
        .await
        .unwrap();
    assert_eq!(get(&rt, "c").await.as_deref(), Some("4"));
    assert_eq!(get(&rt, "b").await, None);
}

#[tokio::test(start_paused = true)]
async fn then_runs_on_the_shard_once_durable() {
    let log = Arc::new(TestLog::default());
    let rt = start(log.clone());
    let got = rt
        .call(
            0,
            |_, ctx, reply: oneshot::Sender<Result<(), CoordinatorError>>| {
                ctx.append(
                    vec![put("x", "1")],
                    false,
                    Some(Box::new(move |s: &mut KvShard, result, _ctx| {
                        s.fired.push("then".into());
                        let _ = reply.send(result);
                    })),
                );
            },
        )
        .await
        .unwrap();
    assert_eq!(got, Ok(()));
    // Not replayed at run time (replay = false), but in the log for the next load.
    assert_eq!(live(&rt, "x").await, None);
    assert_eq!(log.read_all(0).unwrap(), vec![plain(put("x", "1"))]);
    let fired = rt.read(0, |s, _| s.fired.clone()).await.unwrap();
    assert_eq!(fired, vec!["then".to_string()]);
}

#[tokio::test(start_paused = true)]
async fn timers_fire_on_tokio_time_in_order() {
    let rt = start(Arc::new(TestLog::default()));
    rt.call(0, |_, ctx, reply: oneshot::Sender<()>| {
        ctx.schedule_in(2_000, "late".into());
        ctx.schedule_in(1_000, "early".into());
        let _ = reply.send(());
    })
    .await
    .unwrap();
    let fired = || rt.read(0, |s, _| s.fired.clone());
    tokio::time::advance(Duration::from_millis(999)).await;
    settle().await;
    assert!(fired().await.unwrap().is_empty());
    tokio::time::advance(Duration::from_millis(1)).await;
    settle().await;
    assert_eq!(fired().await.unwrap(), vec!["early".to_string()]);
    tokio::time::advance(Duration::from_millis(1_000)).await;
    settle().await;
    assert_eq!(
        fired().await.unwrap(),
        vec!["early".to_string(), "late".to_string()]
    );
}

#[tokio::test(start_paused = true)]
async fn panicking_shard_is_reloaded_from_the_log_and_serves_again() {
    let log = Arc::new(TestLog::default());
    let rt = start(log.clone());
    rt.write(0, |_, ctx| ctx.append(vec![put("a", "1")], true, None))
        .await
        .unwrap();
    let lost: Result<(), _> = rt
        .call(0, |_, _, _reply: oneshot::Sender<()>| panic!("injected"))
        .await;
    // The shard is reloading by the time the caller looks: retriable either way.
    assert_eq!(lost, Err(CoordinatorError::LoadInProgress));
    // The other partition's shard never noticed.
    assert_eq!(rt.read(1, |_, c| c.kv.len()).await, Ok(0));
    // After the restart pause the shard is back with its state rebuilt from the log.
    tokio::time::advance(RESTART_PAUSE).await;
    rt.wait_loaded().await;
    assert_eq!(get(&rt, "a").await.as_deref(), Some("1"));
    rt.write(0, |_, ctx| ctx.append(vec![put("b", "2")], true, None))
        .await
        .unwrap();
    assert_eq!(get(&rt, "b").await.as_deref(), Some("2"));
}

/// Longer than the first restart back-off.
const RESTART_PAUSE: Duration = Duration::from_millis(200);

#[tokio::test(start_paused = true)]
async fn reply_without_records_waits_for_earlier_pending_writes() {
    let log = Arc::new(TestLog::default());
    log.gated.store(true, std::sync::atomic::Ordering::SeqCst);
    let rt = start(log.clone());
    let (rt1, rt2) = (rt.clone(), rt.clone());
    let first = tokio::spawn(async move {
        rt1.write(0, |_, ctx| ctx.append(vec![put("a", "1")], true, None))
            .await
    });
    settle().await;
    // Sees "a" (live state) and answers from it: that answer must not overtake a's durability.
    let second = tokio::spawn(async move {
        rt2.write(0, |s: &mut KvShard, _| s.state.get("a").cloned())
            .await
    });
    settle().await;
    assert!(!second.is_finished());
    log.release(Ok(()));
    assert_eq!(first.await.unwrap(), Ok(()));
    assert_eq!(second.await.unwrap(), Ok(Some("1".to_string())));
}

fn start_unloaded(log: Arc<TestLog>) -> Runtime<KvShard> {
    Runtime::start_unloaded(
        RuntimeConfig {
            partitions: 2,
            queue_capacity: 16,
        },
        Arc::new(kv),
        log,
    )
}

#[tokio::test(start_paused = true)]
async fn a_partition_serves_only_between_its_election_and_its_resignation() {
    let log = Arc::new(TestLog::default());
    log.records
        .lock()
        .unwrap()
        .insert(0, vec![plain(put("a", "1"))]);
    let rt = start_unloaded(log.clone());
    // Not led here yet: the client must look the coordinator up again.
    assert_eq!(get_err(&rt, 0).await, CoordinatorError::NotCoordinator);
    rt.schedule_load(0, 3);
    // Answered at once while the load runs (Kafka's COORDINATOR_LOAD_IN_PROGRESS).
    assert_eq!(rt.status(0), ShardStatus::Loading);
    assert_eq!(get_err(&rt, 0).await, CoordinatorError::LoadInProgress);
    rt.wait_loaded().await;
    assert_eq!(get(&rt, "a").await.as_deref(), Some("1"));
    assert_eq!(
        rt.status(1),
        ShardStatus::Unloaded,
        "only the elected partition"
    );
    // A parked operation (answered later) is failed with NotCoordinator when leadership moves away.
    let rt2 = rt.clone();
    let parked = tokio::spawn(async move {
        rt2.call(0, |s: &mut KvShard, _, reply| s.parked.push(reply))
            .await
    });
    settle().await;
    assert!(!parked.is_finished());
    // An older epoch's resignation is ignored (a newer election already happened).
    rt.schedule_unload(0, Some(3));
    assert_eq!(rt.status(0), ShardStatus::Active);
    rt.schedule_unload(0, Some(4));
    assert_eq!(rt.status(0), ShardStatus::Unloaded);
    assert_eq!(parked.await.unwrap(), Err(CoordinatorError::NotCoordinator));
    assert_eq!(get_err(&rt, 0).await, CoordinatorError::NotCoordinator);
    let write = rt
        .write(0, |_, ctx| ctx.append(vec![put("b", "2")], true, None))
        .await;
    assert_eq!(write, Err(CoordinatorError::NotCoordinator));
}

#[tokio::test(start_paused = true)]
async fn a_newer_election_reloads_what_another_leader_wrote_meanwhile() {
    let log = Arc::new(TestLog::default());
    let rt = start_unloaded(log.clone());
    rt.schedule_load(0, 1);
    rt.wait_loaded().await;
    rt.write(0, |_, ctx| ctx.append(vec![put("a", "1")], true, None))
        .await
        .unwrap();
    // Leadership went elsewhere and came back (the resignation was not seen): records written by the
    // other leader meanwhile are in the log, and a load with the newer epoch replays them.
    log.records
        .lock()
        .unwrap()
        .get_mut(&0)
        .unwrap()
        .push(plain(put("b", "2")));
    rt.schedule_load(0, 1); // same epoch: nothing to do
    assert_eq!(get(&rt, "b").await, None);
    rt.schedule_load(0, 5);
    rt.wait_loaded().await;
    assert_eq!(get(&rt, "a").await.as_deref(), Some("1"));
    assert_eq!(get(&rt, "b").await.as_deref(), Some("2"));
    // Resigned, then elected again with a lower epoch (a re-created topic): loaded again.
    rt.schedule_unload(0, None);
    rt.schedule_load(0, 0);
    rt.wait_loaded().await;
    assert_eq!(get(&rt, "b").await.as_deref(), Some("2"));
}

/// The error a read of `partition` gets.
async fn get_err(rt: &Runtime<KvShard>, partition: i32) -> CoordinatorError {
    rt.read(partition, |_, _| ())
        .await
        .expect_err("the shard should not serve")
}

/// Pending transactional writes of `producer_id`, in the live state.
async fn pending(rt: &Runtime<KvShard>, producer_id: i64) -> usize {
    rt.read(0, move |s, _| {
        s.state.pending.get(&producer_id).map_or(0, |p| p.len())
    })
    .await
    .unwrap()
}

fn marker(producer_id: i64, commit: bool) -> TxnMarker {
    TxnMarker {
        producer_id,
        producer_epoch: 0,
        coordinator_epoch: 0,
        commit,
    }
}

#[tokio::test(start_paused = true)]
async fn transactional_writes_wait_for_their_marker_at_run_time_and_at_load() {
    let log = Arc::new(TestLog::default());
    let rt = start(log.clone());
    for (pid, key) in [(7, "a"), (8, "b")] {
        rt.write(0, move |_, ctx| {
            ctx.append_transactional(pid, 0, vec![put(key, "txn")], None)
        })
        .await
        .unwrap();
    }
    assert_eq!(get(&rt, "a").await, None, "pending until the marker");
    assert_eq!((pending(&rt, 7).await, pending(&rt, 8).await), (1, 1));
    rt.write(0, |_, ctx| ctx.append_end_txn(marker(7, true), None))
        .await
        .unwrap();
    rt.write(0, |_, ctx| ctx.append_end_txn(marker(8, false), None))
        .await
        .unwrap();
    assert_eq!(get(&rt, "a").await.as_deref(), Some("txn"));
    assert_eq!(get(&rt, "b").await, None, "aborted");
    assert_eq!((pending(&rt, 7).await, pending(&rt, 8).await), (0, 0));
    // A load replays the same entries to the same state (what a coordinator move does).
    let reloaded = start(log.clone());
    assert_eq!(get(&reloaded, "a").await.as_deref(), Some("txn"));
    assert_eq!(get(&reloaded, "b").await, None);
    // A transaction still open when the partition is loaded stays pending there.
    rt.write(0, |_, ctx| {
        ctx.append_transactional(9, 0, vec![put("c", "open")], None)
    })
    .await
    .unwrap();
    let moved = start(log.clone());
    assert_eq!(get(&moved, "c").await, None);
    assert_eq!(pending(&moved, 9).await, 1);
    moved
        .write(0, |_, ctx| ctx.append_end_txn(marker(9, true), None))
        .await
        .unwrap();
    assert_eq!(get(&moved, "c").await.as_deref(), Some("open"));
}

#[tokio::test(start_paused = true)]
async fn a_failed_marker_append_reverts_to_pending() {
    let log = Arc::new(TestLog::default());
    let rt = start(log.clone());
    rt.write(0, |_, ctx| {
        ctx.append_transactional(7, 0, vec![put("a", "txn")], None)
    })
    .await
    .unwrap();
    log.gated.store(true, std::sync::atomic::Ordering::SeqCst);
    let rt2 = rt.clone();
    let end = tokio::spawn(async move {
        rt2.write(0, |_, ctx| ctx.append_end_txn(marker(7, true), None))
            .await
    });
    settle().await;
    // Replayed at once (live), not committed until durable.
    assert_eq!(live(&rt, "a").await.as_deref(), Some("txn"));
    assert_eq!(get(&rt, "a").await, None);
    log.release(Err(CoordinatorError::CoordinatorFenced));
    assert_eq!(end.await.unwrap(), Err(CoordinatorError::CoordinatorFenced));
    assert_eq!(live(&rt, "a").await, None);
    assert_eq!(
        pending(&rt, 7).await,
        1,
        "still pending: the marker is resent"
    );
}

#[tokio::test(start_paused = true)]
async fn operations_see_the_leader_epoch_they_were_loaded_under() {
    let rt = start_unloaded(Arc::new(TestLog::default()));
    rt.schedule_load(0, 6);
    rt.wait_loaded().await;
    let epoch = rt.write(0, |_, ctx| ctx.epoch()).await.unwrap();
    assert_eq!(epoch, 6);
    let owned = start(Arc::new(TestLog::default()));
    assert_eq!(owned.write(0, |_, ctx| ctx.epoch()).await.unwrap(), 0);
}
