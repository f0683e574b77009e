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

fn start_on(log: Arc<InMemoryOffsetsLog>, config: TxnConfig) -> TxnCoordinator {
    TxnCoordinator::start(config, log, Arc::new(Counter(AtomicI64::new(1000)))).unwrap()
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
