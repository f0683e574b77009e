//! The transaction coordinator: transactional ids, their producer ids and epochs (fencing), persisted
//! in `__transaction_state` in Kafka's TransactionLog format and replayed at load. Runs on the
//! coordinator runtime ([`crate::coordinator`]), one shard per `__transaction_state` partition.
//!
//! Built so far: InitProducerId with a transactional id (epoch bump on every init, fencing of older
//! instances, producer-id rotation at epoch exhaustion, `transaction.max.timeout.ms`) and expiry of idle
//! ids (`transactional.id.expiration.ms`). Not yet: AddPartitionsToTxn / AddOffsetsToTxn / EndTxn /
//! TxnOffsetCommit, markers, LSO and read_committed (see NOTES.md).

mod error;
pub mod records;
mod shard;
pub mod state;
#[cfg(test)]
mod tests;

use std::sync::Arc;

pub use error::TxnError;
pub use shard::TxnMetadata;
pub use state::TxnState;

use crate::coordinator::{CoordinatorLog, Runtime, RuntimeConfig, ShardFactory};
use shard::TxnShard;

/// Kafka's internal topic for transaction state.
pub const TRANSACTION_STATE_TOPIC: &str = "__transaction_state";

/// Hands out producer ids (the cluster's producer-id blocks in the broker, a counter in tests).
pub trait ProducerIdSource: Send + Sync + 'static {
    /// A producer id never handed out before.
    fn next_producer_id(&self) -> Result<i64, String>;
}

/// The markers that finish one transaction: a control batch in each of its partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Markers {
    /// Producer id of the transaction.
    pub producer_id: i64,
    /// Producer epoch the markers carry (bumped when the abort fenced the producer).
    pub producer_epoch: i16,
    /// Commit (true) or abort.
    pub commit: bool,
    /// The coordinator's epoch (the leader epoch of its `__transaction_state` partition): a partition
    /// refuses a marker older than the last one it took from this producer's coordinator.
    pub coordinator_epoch: i32,
    /// The transaction's partitions.
    pub partitions: Vec<(String, i32)>,
}

/// Why a round of markers was not written, as Kafka's `TransactionMarkerRequestCompletionHandler` sorts
/// the partitions' error codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarkerError {
    /// A partition took a marker from a newer coordinator or a newer producer epoch
    /// (TRANSACTION_COORDINATOR_FENCED, INVALID_PRODUCER_EPOCH): another coordinator owns the
    /// transaction now, so this one stops sending (Kafka's `abortSending`) instead of retrying forever.
    #[error("fenced: {0}")]
    Fenced(String),
    /// Anything else (leader moved, not enough replicas, broker down): sent again later.
    #[error("{0}")]
    Retriable(String),
}

impl MarkerError {
    /// Combines the failures of one round: fenced if any partition fenced it (retrying cannot help).
    pub fn combine(errors: Vec<MarkerError>) -> Option<MarkerError> {
        let fenced = errors.iter().any(|e| matches!(e, MarkerError::Fenced(_)));
        let text = errors
            .iter()
            .map(|e| match e {
                MarkerError::Fenced(s) | MarkerError::Retriable(s) => s.as_str(),
            })
            .collect::<Vec<_>>()
            .join("; ");
        match (errors.is_empty(), fenced) {
            (true, _) => None,
            (false, true) => Some(MarkerError::Fenced(text)),
            (false, false) => Some(MarkerError::Retriable(text)),
        }
    }
}

/// A future resolving once markers are written (Kafka's WriteTxnMarkers round).
pub type MarkersFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), MarkerError>> + Send>>;

/// Writes transaction markers into partitions (the log store in the broker, a recorder in tests).
pub trait MarkerWriter: Send + Sync + 'static {
    /// Writes a commit or abort marker into every partition of `markers`; resolves once all are written.
    fn write_markers(&self, markers: Markers) -> MarkersFuture;
}

/// Coordinator settings, with Kafka's broker-config names and defaults.
#[derive(Debug, Clone)]
pub struct TxnConfig {
    /// `transaction.state.log.num.partitions`.
    pub partitions: i32,
    /// `transaction.max.timeout.ms`: the largest `transaction.timeout.ms` a producer may ask for.
    pub max_timeout_ms: i64,
    /// `transactional.id.expiration.ms`: idle transactional ids are removed after this.
    pub id_expiration_ms: i64,
    /// `transaction.remove.expired.transaction.cleanup.interval.ms`: how often expiry runs.
    pub cleanup_interval_ms: i64,
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`: how often timed-out transactions
    /// are looked for.
    pub abort_interval_ms: i64,
    /// Capacity of each shard's operation queue.
    pub queue_capacity: usize,
    /// `offsets.topic.num.partitions`: AddOffsetsToTxn adds the group's `__consumer_offsets` partition.
    pub offsets_topic_partitions: i32,
}

impl Default for TxnConfig {
    fn default() -> Self {
        TxnConfig {
            partitions: 50,
            max_timeout_ms: 900_000,
            id_expiration_ms: 604_800_000,
            cleanup_interval_ms: 3_600_000,
            abort_interval_ms: 10_000,
            queue_capacity: 1024,
            offsets_topic_partitions: 50,
        }
    }
}

/// An InitProducerId with a transactional id, in plain types.
#[derive(Debug, Clone)]
pub struct InitProducerIdRequest {
    /// The transactional id.
    pub transactional_id: String,
    /// `transaction.timeout.ms` of the producer.
    pub timeout_ms: i32,
    /// v3+ (KIP-360): the producer id and epoch the instance already has, when it re-initialises.
    pub expected: Option<(i64, i16)>,
}

/// Per partition of a verify-only AddPartitionsToTxn: `None` when it is in the open transaction.
pub type Verified = Vec<((String, i32), Option<TxnError>)>;

/// A producer id with its epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerIdAndEpoch {
    /// Producer id.
    pub producer_id: i64,
    /// Epoch.
    pub producer_epoch: i16,
}

/// Handle to the coordinator's shards; cheap to clone, shared by all connections.
#[derive(Clone)]
pub struct TxnCoordinator {
    /// One shard per `__transaction_state` partition.
    runtime: Runtime<TxnShard>,
    /// `offsets.topic.num.partitions` (AddOffsetsToTxn).
    offsets_partitions: i32,
}

impl TxnCoordinator {
    /// Replays `__transaction_state` (every partition, synchronously) and starts the shard tasks: a
    /// coordinator of every transactional id (tests). Must be called within a tokio runtime.
    pub fn start(
        config: TxnConfig,
        log: Arc<dyn CoordinatorLog>,
        ids: Arc<dyn ProducerIdSource>,
        markers: Arc<dyn MarkerWriter>,
    ) -> Result<Self, TxnError> {
        let offsets_partitions = config.offsets_topic_partitions;
        let (runtime_config, factory) = Self::parts(config, ids, markers);
        Ok(TxnCoordinator {
            runtime: Runtime::start(runtime_config, factory, log)?,
            offsets_partitions,
        })
    }

    /// Starts the shard tasks with nothing loaded: the broker loads a partition when it becomes that
    /// `__transaction_state` partition's leader ([`TxnCoordinator::on_election`]).
    pub fn start_unloaded(
        config: TxnConfig,
        log: Arc<dyn CoordinatorLog>,
        ids: Arc<dyn ProducerIdSource>,
        markers: Arc<dyn MarkerWriter>,
    ) -> Self {
        let offsets_partitions = config.offsets_topic_partitions;
        let (runtime_config, factory) = Self::parts(config, ids, markers);
        TxnCoordinator {
            runtime: Runtime::start_unloaded(runtime_config, factory, log),
            offsets_partitions,
        }
    }

    fn parts(
        config: TxnConfig,
        ids: Arc<dyn ProducerIdSource>,
        markers: Arc<dyn MarkerWriter>,
    ) -> (RuntimeConfig, ShardFactory<TxnShard>) {
        assert!(config.partitions > 0);
        let runtime_config = RuntimeConfig {
            partitions: config.partitions,
            queue_capacity: config.queue_capacity,
        };
        let config = Arc::new(config);
        let factory: ShardFactory<TxnShard> =
            Arc::new(move |_| TxnShard::new(config.clone(), ids.clone(), markers.clone()));
        (runtime_config, factory)
    }

    /// This broker became the leader of `__transaction_state` partition `partition` at `leader_epoch`:
    /// its transactional ids are loaded (COORDINATOR_LOAD_IN_PROGRESS meanwhile).
    pub fn on_election(&self, partition: i32, leader_epoch: i32) {
        self.runtime.schedule_load(partition, leader_epoch);
    }

    /// This broker no longer leads `partition` (the new leader epoch, `None` when it is gone): its
    /// transactional ids are unloaded and their requests get NOT_COORDINATOR.
    pub fn on_resignation(&self, partition: i32, leader_epoch: Option<i32>) {
        self.runtime.schedule_unload(partition, leader_epoch);
    }

    /// Resolves once every partition this broker was elected for is loaded.
    pub async fn wait_loaded(&self) {
        self.runtime.wait_loaded().await;
    }

    /// The `__transaction_state` partition that holds `transactional_id` (Kafka's
    /// `abs(hashCode) % partitions`, as for groups).
    pub fn partition_for(&self, transactional_id: &str) -> i32 {
        crate::group::records::partition_for(transactional_id, self.runtime.partitions())
    }

    /// InitProducerId with a transactional id; answers once the new epoch is durable.
    pub async fn init_producer_id(
        &self,
        req: InitProducerIdRequest,
    ) -> Result<ProducerIdAndEpoch, TxnError> {
        let partition = self.partition_for(&req.transactional_id);
        self.runtime
            .write(partition, move |s, ctx| s.init_producer_id(ctx, req))
            .await?
    }

    /// AddPartitionsToTxn (and AddOffsetsToTxn, with the group's `__consumer_offsets` partition): answers
    /// once the transaction's new partitions are durable.
    pub async fn add_partitions(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: Vec<(String, i32)>,
    ) -> Result<(), TxnError> {
        let id = transactional_id.to_string();
        self.runtime
            .write(self.partition_for(transactional_id), move |s, ctx| {
                s.add_partitions(ctx, &id, producer_id, producer_epoch, partitions)
            })
            .await?
    }

    /// AddOffsetsToTxn: adds the `__consumer_offsets` partition of `group_id` to the transaction, as
    /// Kafka's `handleAddOffsetsToTransaction` does.
    pub async fn add_offsets(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        group_id: &str,
    ) -> Result<(), TxnError> {
        let partition = crate::group::records::partition_for(group_id, self.offsets_partitions);
        let offsets = (crate::group::records::OFFSETS_TOPIC.to_string(), partition);
        self.add_partitions(transactional_id, producer_id, producer_epoch, vec![offsets])
            .await
    }

    /// KIP-890 verify-only AddPartitionsToTxn: per partition, `None` when it is in the producer's open
    /// transaction.
    pub async fn verify_partitions(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: Vec<(String, i32)>,
    ) -> Result<Verified, TxnError> {
        let id = transactional_id.to_string();
        self.runtime
            .read(self.partition_for(transactional_id), move |_, committed| {
                TxnShard::verify_partitions(committed, &id, producer_id, producer_epoch, partitions)
            })
            .await?
    }

    /// EndTxn: answers once PrepareCommit / PrepareAbort is durable; markers and the Complete state
    /// follow in the background.
    pub async fn end_txn(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
    ) -> Result<(), TxnError> {
        let id = transactional_id.to_string();
        self.runtime
            .write(self.partition_for(transactional_id), move |s, ctx| {
                s.end_txn(ctx, &id, producer_id, producer_epoch, commit)
            })
            .await?
    }

    /// ListTransactions: every transactional id (committed state) of the partitions this broker leads
    /// matching the filters, as Kafka's `listTransactionStates` does (empty filters match everything; a
    /// negative duration disables that filter; Dead ids are never listed). Returns `(transactional id, producer id, state)`.
    pub async fn list_transactions(
        &self,
        states: Vec<TxnState>,
        producer_ids: Vec<i64>,
        duration_ms: i64,
    ) -> Result<Vec<(String, i64, TxnState)>, TxnError> {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let filter = Arc::new((states, producer_ids));
        let mut out = Vec::new();
        for partition in 0..self.runtime.partitions() {
            let filter = filter.clone();
            let listed = self
                .runtime
                .read(partition, move |_, committed| {
                    let (states, producer_ids) = &*filter;
                    committed
                        .iter()
                        .filter(|(_, m)| {
                            m.state != TxnState::Dead
                                && (producer_ids.is_empty()
                                    || producer_ids.contains(&m.producer_id))
                                && (states.is_empty() || states.contains(&m.state))
                                && (duration_ms < 0 || now_ms - m.start_ms > duration_ms)
                        })
                        .map(|(id, m)| (id.clone(), m.producer_id, m.state))
                        .collect::<Vec<_>>()
                })
                .await;
            // Partitions led elsewhere are skipped, one still loading fails the listing (as Kafka).
            match listed {
                Ok(part) => out.extend(part),
                Err(crate::coordinator::CoordinatorError::NotCoordinator) => {}
                Err(e) => return Err(e.into()),
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// The committed state of a transactional id, if it exists.
    pub async fn describe(&self, transactional_id: &str) -> Result<Option<TxnMetadata>, TxnError> {
        let id = transactional_id.to_string();
        Ok(self
            .runtime
            .read(self.partition_for(transactional_id), move |_, committed| {
                shard::describe(committed, &id)
            })
            .await?)
    }

    /// Stops the shard tasks.
    pub async fn shutdown(&self) {
        self.runtime.shutdown().await;
    }
}
