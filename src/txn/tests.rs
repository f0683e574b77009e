//! Transaction-coordinator tests on paused tokio time with an in-memory `__transaction_state`.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::group::InMemoryOffsetsLog;

/// Producer ids from a counter starting at 1000.
struct Counter(AtomicI64);
impl ProducerIdSource for Counter {
    fn next_producer_id(&self) -> Result<i64, String> {
        Ok(self.0.fetch_add(1, Ordering::SeqCst))
    }
}

/// Records the markers it is asked to write; fails while `fail` is set, as fenced while `fenced` is set.
#[derive(Default)]
struct RecordingMarkers {
    written: std::sync::Mutex<Vec<Markers>>,
    fail: std::sync::atomic::AtomicBool,
    fenced: std::sync::atomic::AtomicBool,
    attempts: std::sync::atomic::AtomicUsize,
}

impl MarkerWriter for RecordingMarkers {
    fn write_markers(&self, markers: Markers) -> MarkersFuture {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        if self.fenced.load(Ordering::SeqCst) {
            let e = MarkerError::Fenced("a-0: TRANSACTION_COORDINATOR_FENCED".into());
            return Box::pin(std::future::ready(Err(e)));
        }
        if self.fail.load(Ordering::SeqCst) {
            return Box::pin(std::future::ready(Err(MarkerError::Retriable(
                "injected".into(),
            ))));
        }
        self.written.lock().unwrap().push(markers);
        Box::pin(std::future::ready(Ok(())))
    }
}

impl RecordingMarkers {
    fn taken(&self) -> Vec<Markers> {
        std::mem::take(&mut *self.written.lock().unwrap())
    }
}

fn start_with(
    log: Arc<InMemoryOffsetsLog>,
    config: TxnConfig,
    markers: Arc<RecordingMarkers>,
) -> TxnCoordinator {
    TxnCoordinator::start(
        config,
        log,
        Arc::new(Counter(AtomicI64::new(1000))),
        markers,
    )
    .unwrap()
}

fn start_on(log: Arc<InMemoryOffsetsLog>, config: TxnConfig) -> TxnCoordinator {
    start_with(log, config, Arc::new(RecordingMarkers::default()))
}

/// Lets the shard tasks run (marker futures, follow-up writes).
async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

fn tp(topic: &str, partition: i32) -> (String, i32) {
    (topic.to_string(), partition)
}

async fn state_of(c: &TxnCoordinator, id: &str) -> TxnMetadata {
    c.describe(id).await.unwrap().unwrap()
}

fn init(id: &str, expected: Option<(i64, i16)>) -> InitProducerIdRequest {
    InitProducerIdRequest {
        transactional_id: id.into(),
        timeout_ms: 60_000,
        expected,
    }
}

fn pe(producer_id: i64, producer_epoch: i16) -> ProducerIdAndEpoch {
    ProducerIdAndEpoch {
        producer_id,
        producer_epoch,
    }
}

#[tokio::test(start_paused = true)]
async fn every_init_bumps_the_epoch_and_fences_older_instances() {
    let c = start_on(Arc::new(InMemoryOffsetsLog::new()), TxnConfig::default());
    assert_eq!(c.init_producer_id(init("tx", None)).await, Ok(pe(1000, 0)));
    // A second instance with the same id: same producer id, next epoch.
    assert_eq!(c.init_producer_id(init("tx", None)).await, Ok(pe(1000, 1)));
    // The first instance re-initialising with its old epoch (KIP-360) is fenced.
    assert_eq!(
        c.init_producer_id(init("tx", Some((1000, 0)))).await,
        Err(TxnError::ProducerFenced)
    );
    // So is one claiming another producer id.
    assert_eq!(
        c.init_producer_id(init("tx", Some((77, 1)))).await,
        Err(TxnError::ProducerFenced)
    );
    // The current instance recovering from an error gets the next epoch; a retry of that call (the
    // answer was lost) gets the same answer, not a second bump.
    assert_eq!(
        c.init_producer_id(init("tx", Some((1000, 1)))).await,
        Ok(pe(1000, 2))
    );
    assert_eq!(
        c.init_producer_id(init("tx", Some((1000, 1)))).await,
        Ok(pe(1000, 2))
    );
    // Other transactional ids get their own producer ids.
    assert_eq!(
        c.init_producer_id(init("other", None)).await,
        Ok(pe(1001, 0))
    );
    let m = c.describe("tx").await.unwrap().unwrap();
    assert_eq!(
        (m.producer_id, m.producer_epoch, m.state),
        (1000, 2, TxnState::Empty)
    );
}

#[tokio::test(start_paused = true)]
async fn invalid_requests() {
    let c = start_on(Arc::new(InMemoryOffsetsLog::new()), TxnConfig::default());
    assert!(matches!(
        c.init_producer_id(init("", None)).await,
        Err(TxnError::InvalidRequest(_))
    ));
    for timeout_ms in [0, -1, 900_001] {
        let mut req = init("tx", None);
        req.timeout_ms = timeout_ms;
        assert_eq!(
            c.init_producer_id(req).await,
            Err(TxnError::InvalidTransactionTimeout),
            "{timeout_ms}"
        );
    }
    let mut req = init("tx", None);
    req.timeout_ms = 900_000;
    assert_eq!(c.init_producer_id(req).await, Ok(pe(1000, 0)));
}

#[tokio::test(start_paused = true)]
async fn state_is_replayed_from_kafka_records_after_a_restart() {
    let log = Arc::new(InMemoryOffsetsLog::new());
    let c = start_on(log.clone(), TxnConfig::default());
    c.init_producer_id(init("tx", None)).await.unwrap();
    c.init_producer_id(init("tx", None)).await.unwrap();
    c.shutdown().await;
    // The log holds TransactionLog records: key v0 with the id, value v0 in state Empty.
    let partition = c.partition_for("tx");
    let recs = log.records(partition);
    assert_eq!(recs.len(), 2);
    assert_eq!(
        records::decode_key(&recs[1].0).unwrap().as_deref(),
        Some("tx")
    );
    let v = records::decode_value(recs[1].1.as_ref().unwrap()).unwrap();
    assert_eq!(
        (v.producer_id, v.producer_epoch, v.state, v.timeout_ms),
        (1000, 1, TxnState::Empty, 60_000)
    );
    let c2 = TxnCoordinator::start(
        TxnConfig::default(),
        log,
        Arc::new(Counter(AtomicI64::new(5000))),
        Arc::new(RecordingMarkers::default()),
    )
    .unwrap();
    assert_eq!(c2.init_producer_id(init("tx", None)).await, Ok(pe(1000, 2)));
    // The instance fenced before the restart stays fenced.
    assert_eq!(
        c2.init_producer_id(init("tx", Some((1000, 1)))).await,
        Err(TxnError::ProducerFenced)
    );
}

#[tokio::test(start_paused = true)]
async fn exhausted_epoch_rotates_the_producer_id() {
    let log = Arc::new(InMemoryOffsetsLog::new());
    let c = start_on(log.clone(), TxnConfig::default());
    let partition = c.partition_for("tx");
    c.shutdown().await;
    let value = records::TxnLogValue {
        producer_id: 7,
        producer_epoch: i16::MAX - 1,
        timeout_ms: 60_000,
        state: TxnState::CompleteCommit,
        partitions: Default::default(),
        last_update_ms: 0,
        start_ms: -1,
    };
    use crate::coordinator::CoordinatorLog;
    log.append(
        partition,
        vec![(
            records::encode_key("tx"),
            Some(records::encode_value(&value)),
        )],
    )
    .await
    .unwrap();
    let c = start_on(log, TxnConfig::default());
    assert_eq!(c.init_producer_id(init("tx", None)).await, Ok(pe(1000, 0)));
}

#[tokio::test(start_paused = true)]
async fn failed_append_fails_the_init_and_reverts_the_epoch() {
    let log = Arc::new(InMemoryOffsetsLog::new());
    let c = start_on(log.clone(), TxnConfig::default());
    assert_eq!(c.init_producer_id(init("tx", None)).await, Ok(pe(1000, 0)));
    log.set_fail_appends(true);
    assert!(matches!(
        c.init_producer_id(init("tx", None)).await,
        Err(TxnError::Storage(_))
    ));
    log.set_fail_appends(false);
    // The failed bump never happened: the next init gets epoch 1, not 2.
    assert_eq!(c.init_producer_id(init("tx", None)).await, Ok(pe(1000, 1)));
}

#[tokio::test(start_paused = true)]
async fn idle_transactional_ids_expire() {
    let log = Arc::new(InMemoryOffsetsLog::new());
    let config = TxnConfig {
        id_expiration_ms: 10_000,
        cleanup_interval_ms: 1_000,
        ..TxnConfig::default()
    };
    let c = start_on(log.clone(), config);
    c.init_producer_id(init("tx", None)).await.unwrap();
    tokio::time::advance(Duration::from_millis(9_000)).await;
    assert!(c.describe("tx").await.unwrap().is_some());
    tokio::time::advance(Duration::from_millis(2_000)).await;
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert_eq!(c.describe("tx").await.unwrap(), None);
    let recs = log.records(c.partition_for("tx"));
    assert_eq!(recs.last().unwrap().1, None, "a tombstone was written");
    // The id starts over with a new producer id.
    assert_eq!(c.init_producer_id(init("tx", None)).await, Ok(pe(1001, 0)));
}

#[tokio::test(start_paused = true)]
async fn commit_goes_empty_ongoing_prepare_complete_with_markers() {
    let markers = Arc::new(RecordingMarkers::default());
    let c = start_with(
        Arc::new(InMemoryOffsetsLog::new()),
        TxnConfig::default(),
        markers.clone(),
    );
    let p = c.init_producer_id(init("tx", None)).await.unwrap();
    let (pid, epoch) = (p.producer_id, p.producer_epoch);
    c.add_partitions("tx", pid, epoch, vec![tp("a", 0)])
        .await
        .unwrap();
    c.add_partitions("tx", pid, epoch, vec![tp("b", 1), tp("a", 0)])
        .await
        .unwrap();
    let m = state_of(&c, "tx").await;
    assert_eq!(m.state, TxnState::Ongoing);
    assert_eq!(
        m.partitions.iter().cloned().collect::<Vec<_>>(),
        vec![tp("a", 0), tp("b", 1)]
    );
    assert!(m.start_ms > 0);
    c.end_txn("tx", pid, epoch, true).await.unwrap();
    settle().await;
    assert_eq!(
        markers.taken(),
        vec![Markers {
            producer_id: pid,
            producer_epoch: epoch,
            commit: true,
            coordinator_epoch: 0,
            partitions: vec![tp("a", 0), tp("b", 1)],
        }]
    );
    let m = state_of(&c, "tx").await;
    assert_eq!((m.state, m.partitions.len()), (TxnState::CompleteCommit, 0));
    // Retries of the finished EndTxn: the same result is fine, the other one is not.
    assert_eq!(c.end_txn("tx", pid, epoch, true).await, Ok(()));
    assert_eq!(
        c.end_txn("tx", pid, epoch, false).await,
        Err(TxnError::InvalidTxnState)
    );
    // The next transaction starts from CompleteCommit; an abort completes as CompleteAbort.
    c.add_partitions("tx", pid, epoch, vec![tp("c", 0)])
        .await
        .unwrap();
    c.end_txn("tx", pid, epoch, false).await.unwrap();
    settle().await;
    assert!(!markers.taken()[0].commit);
    assert_eq!(state_of(&c, "tx").await.state, TxnState::CompleteAbort);
    // No open transaction: EndTxn is refused.
    assert_eq!(
        c.end_txn("tx", pid, epoch, true).await,
        Err(TxnError::InvalidTxnState)
    );
}

#[tokio::test(start_paused = true)]
async fn producer_checks_on_add_partitions_and_end_txn() {
    let c = start_on(Arc::new(InMemoryOffsetsLog::new()), TxnConfig::default());
    assert_eq!(
        c.add_partitions("nope", 1, 0, vec![tp("a", 0)]).await,
        Err(TxnError::InvalidProducerIdMapping)
    );
    let p = c.init_producer_id(init("tx", None)).await.unwrap();
    assert_eq!(
        c.add_partitions("tx", p.producer_id + 1, 0, vec![tp("a", 0)])
            .await,
        Err(TxnError::InvalidProducerIdMapping)
    );
    assert_eq!(
        c.add_partitions("tx", p.producer_id, 1, vec![tp("a", 0)])
            .await,
        Err(TxnError::ProducerFenced)
    );
    assert_eq!(
        c.end_txn("tx", p.producer_id, 0, true).await,
        Err(TxnError::InvalidTxnState),
        "no transaction open"
    );
    // Verify-only form (KIP-890): only partitions of the open transaction pass.
    c.add_partitions("tx", p.producer_id, 0, vec![tp("a", 0)])
        .await
        .unwrap();
    let v = c
        .verify_partitions("tx", p.producer_id, 0, vec![tp("a", 0), tp("b", 0)])
        .await
        .unwrap();
    assert_eq!(
        v,
        vec![
            (tp("a", 0), None),
            (tp("b", 0), Some(TxnError::InvalidTxnState))
        ]
    );
    assert_eq!(
        c.verify_partitions("tx", p.producer_id, 3, vec![tp("a", 0)])
            .await,
        Err(TxnError::ProducerFenced)
    );
}

#[tokio::test(start_paused = true)]
async fn new_instance_aborts_the_open_transaction_and_fences_the_old_one() {
    let markers = Arc::new(RecordingMarkers::default());
    let c = start_with(
        Arc::new(InMemoryOffsetsLog::new()),
        TxnConfig::default(),
        markers.clone(),
    );
    let old = c.init_producer_id(init("tx", None)).await.unwrap();
    c.add_partitions("tx", old.producer_id, 0, vec![tp("a", 0)])
        .await
        .unwrap();
    // The new instance must retry while the open transaction is aborted under epoch 1.
    assert_eq!(
        c.init_producer_id(init("tx", None)).await,
        Err(TxnError::ConcurrentTransactions)
    );
    settle().await;
    assert_eq!(
        markers.taken(),
        vec![Markers {
            producer_id: old.producer_id,
            producer_epoch: 1,
            commit: false,
            coordinator_epoch: 0,
            partitions: vec![tp("a", 0)],
        }]
    );
    assert_eq!(state_of(&c, "tx").await.state, TxnState::CompleteAbort);
    assert_eq!(
        c.init_producer_id(init("tx", None)).await,
        Ok(pe(old.producer_id, 2))
    );
    // The old instance is fenced everywhere.
    assert_eq!(
        c.add_partitions("tx", old.producer_id, 0, vec![tp("a", 0)])
            .await,
        Err(TxnError::ProducerFenced)
    );
    assert_eq!(
        c.end_txn("tx", old.producer_id, 0, true).await,
        Err(TxnError::ProducerFenced)
    );
}

#[tokio::test(start_paused = true)]
async fn expired_transaction_is_aborted_with_a_fencing_bump() {
    let markers = Arc::new(RecordingMarkers::default());
    let c = start_with(
        Arc::new(InMemoryOffsetsLog::new()),
        TxnConfig::default(),
        markers.clone(),
    );
    let mut req = init("tx", None);
    req.timeout_ms = 15_000;
    let p = c.init_producer_id(req).await.unwrap();
    c.add_partitions("tx", p.producer_id, 0, vec![tp("a", 0)])
        .await
        .unwrap();
    // The sweep runs every 10 s: still open at 10 s, aborted by the 20 s sweep.
    tokio::time::advance(Duration::from_millis(10_001)).await;
    settle().await;
    assert_eq!(state_of(&c, "tx").await.state, TxnState::Ongoing);
    tokio::time::advance(Duration::from_millis(10_000)).await;
    settle().await;
    let m = state_of(&c, "tx").await;
    assert_eq!((m.state, m.producer_epoch), (TxnState::CompleteAbort, 1));
    let written = markers.taken();
    assert_eq!(written.len(), 1);
    assert!(!written[0].commit);
    assert_eq!(written[0].producer_epoch, 1);
    assert_eq!(
        c.end_txn("tx", p.producer_id, 0, true).await,
        Err(TxnError::ProducerFenced)
    );
}

#[tokio::test(start_paused = true)]
async fn markers_are_retried_and_resent_after_a_restart() {
    let log = Arc::new(InMemoryOffsetsLog::new());
    let markers = Arc::new(RecordingMarkers::default());
    markers.fail.store(true, Ordering::SeqCst);
    let c = start_with(log.clone(), TxnConfig::default(), markers.clone());
    let p = c.init_producer_id(init("tx", None)).await.unwrap();
    c.add_partitions("tx", p.producer_id, 0, vec![tp("a", 0)])
        .await
        .unwrap();
    c.end_txn("tx", p.producer_id, 0, true).await.unwrap();
    settle().await;
    // Markers failed: the transaction stays prepared; everything else waits.
    assert_eq!(state_of(&c, "tx").await.state, TxnState::PrepareCommit);
    assert_eq!(
        c.end_txn("tx", p.producer_id, 0, true).await,
        Err(TxnError::ConcurrentTransactions)
    );
    assert_eq!(
        c.add_partitions("tx", p.producer_id, 0, vec![tp("b", 0)])
            .await,
        Err(TxnError::ConcurrentTransactions)
    );
    assert_eq!(
        c.init_producer_id(init("tx", None)).await,
        Err(TxnError::ConcurrentTransactions)
    );
    // A restart reloads the prepared transaction and sends its markers again.
    c.shutdown().await;
    let markers2 = Arc::new(RecordingMarkers::default());
    let c2 = start_with(log.clone(), TxnConfig::default(), markers2.clone());
    settle().await;
    assert_eq!(markers2.taken().len(), 1);
    assert_eq!(state_of(&c2, "tx").await.state, TxnState::CompleteCommit);
    // And a retry after a failure completes it without a restart.
    let p2 = c2.init_producer_id(init("tx2", None)).await.unwrap();
    c2.add_partitions("tx2", p2.producer_id, 0, vec![tp("a", 1)])
        .await
        .unwrap();
    markers2.fail.store(true, Ordering::SeqCst);
    c2.end_txn("tx2", p2.producer_id, 0, false).await.unwrap();
    settle().await;
    assert_eq!(state_of(&c2, "tx2").await.state, TxnState::PrepareAbort);
    markers2.fail.store(false, Ordering::SeqCst);
    tokio::time::advance(Duration::from_millis(1_000)).await;
    settle().await;
    assert_eq!(state_of(&c2, "tx2").await.state, TxnState::CompleteAbort);
}

#[tokio::test(start_paused = true)]
async fn fenced_markers_are_not_retried() {
    let markers = Arc::new(RecordingMarkers::default());
    markers.fenced.store(true, Ordering::SeqCst);
    let log = Arc::new(InMemoryOffsetsLog::new());
    let c = start_with(log, TxnConfig::default(), markers.clone());
    let p = c.init_producer_id(init("tx", None)).await.unwrap();
    c.add_partitions("tx", p.producer_id, 0, vec![tp("a", 0)])
        .await
        .unwrap();
    c.end_txn("tx", p.producer_id, 0, true).await.unwrap();
    settle().await;
    assert_eq!(markers.attempts.load(Ordering::SeqCst), 1);
    // A retriable failure is sent again within a second; a fenced one never is (Kafka's abortSending):
    // the newer coordinator owns the transaction and this one's partition is about to be unloaded.
    for _ in 0..10 {
        tokio::time::advance(Duration::from_millis(1_000)).await;
        settle().await;
    }
    assert_eq!(markers.attempts.load(Ordering::SeqCst), 1);
    assert_eq!(state_of(&c, "tx").await.state, TxnState::PrepareCommit);
}

#[test]
fn a_round_is_fenced_if_any_partition_fenced_it() {
    let retry = MarkerError::Retriable("b-0: NOT_LEADER_OR_FOLLOWER".into());
    let fenced = MarkerError::Fenced("a-0: TRANSACTION_COORDINATOR_FENCED".into());
    assert_eq!(MarkerError::combine(vec![]), None);
    assert!(matches!(
        MarkerError::combine(vec![retry.clone()]),
        Some(MarkerError::Retriable(_))
    ));
    assert_eq!(
        MarkerError::combine(vec![retry, fenced]),
        Some(MarkerError::Fenced(
            "b-0: NOT_LEADER_OR_FOLLOWER; a-0: TRANSACTION_COORDINATOR_FENCED".into()
        ))
    );
}

#[tokio::test(start_paused = true)]
async fn add_offsets_adds_the_groups_offsets_partition() {
    let c = start_on(Arc::new(InMemoryOffsetsLog::new()), TxnConfig::default());
    let p = c.init_producer_id(init("tx", None)).await.unwrap();
    c.add_offsets("tx", p.producer_id, 0, "my-group")
        .await
        .unwrap();
    let expected = crate::group::records::partition_for("my-group", 50);
    let m = state_of(&c, "tx").await;
    assert_eq!(m.state, TxnState::Ongoing);
    assert_eq!(
        m.partitions.into_iter().collect::<Vec<_>>(),
        vec![tp("__consumer_offsets", expected)]
    );
    assert_eq!(
        c.add_offsets("tx", p.producer_id, 1, "my-group").await,
        Err(TxnError::ProducerFenced)
    );
}
