//! The coordinator runtime shared by every coordinator (groups, transactions), after Kafka's
//! `coordinator-common`: one shard per partition of the coordinator's internal topic, each owned by one
//! supervised task that runs operations, timers and appends.
//!
//! The contract with a coordinator ([`CoordinatorShard`]):
//! - Durable state changes only by replaying records ([`CoordinatorShard::replay`]) — the same function at
//!   load time and at run time. An operation never edits that state directly: it asks for records to be
//!   appended ([`Ctx::append`]) and the runtime replays them (when the write says so) and appends them.
//! - The replayed state ([`CoordinatorShard::State`]) is cheap to clone (persistent maps), so the runtime
//!   keeps the state as it was before each pending write; when an append fails, the shard reverts to the
//!   state before that write and every later pending write fails too (Kafka's snapshot revert).
//! - Replies wait for durability: a write's `then` callback (Kafka's append future) runs on the shard
//!   once the append resolved, and reads see the last committed state ([`Runtime::read`]).
//! - Timers are injected: [`Ctx::schedule`] on tokio time, so tests drive them with paused time.
//! - Supervision: a shard whose task panics is rebuilt from the log and serves again; callers of the
//!   lost operations see [`CoordinatorError::NotAvailable`] (retriable), never a silently dead shard.
//! - Leadership: a broker serves only the partitions it leads. [`Runtime::schedule_load`] (Kafka's
//!   `scheduleLoadOperation`) loads a partition's shard when this broker is elected its leader, answering
//!   [`CoordinatorError::LoadInProgress`] meanwhile; [`Runtime::schedule_unload`] drops it when leadership
//!   moves away, after which callers get [`CoordinatorError::NotCoordinator`].

mod ctx;
mod runner;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};

pub use ctx::{ms, Ctx, Followup, Then};
use runner::Msg;

/// `(key, value)` of one record of a coordinator topic; `None` value = tombstone.
pub type Record = (Bytes, Option<Bytes>);

/// A commit or abort marker a coordinator writes into its own partition (Kafka's `EndTransactionMarker`
/// written through the coordinator runtime): it ends `producer_id`'s transactional records there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnMarker {
    /// Producer id of the transaction.
    pub producer_id: i64,
    /// Producer epoch the marker carries.
    pub producer_epoch: i16,
    /// Epoch of the transaction coordinator that sent it (the partition fences older ones).
    pub coordinator_epoch: i32,
    /// Commit (true) or abort.
    pub commit: bool,
}

/// One entry of a coordinator partition as the runtime replays it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEntry {
    /// A record; `producer_id` is set when it belongs to a producer's transaction (Kafka's replay of a
    /// transactional batch), `None` for a plain coordinator write.
    Record {
        /// Key and value.
        record: Record,
        /// The transaction's producer id.
        producer_id: Option<i64>,
    },
    /// A commit or abort marker of `producer_id`'s transaction.
    EndTxn {
        /// Producer id.
        producer_id: i64,
        /// Commit (true) or abort.
        commit: bool,
    },
}

/// A boxed future resolving once an append is durable.
pub type AppendFuture = Pin<Box<dyn Future<Output = Result<(), CoordinatorError>> + Send>>;

/// What went wrong in the runtime itself (coordinators map it into their own error types).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CoordinatorError {
    /// Appending to or reading the coordinator topic failed.
    #[error("coordinator log: {0}")]
    Storage(String),
    /// The shard is gone or restarting (the operation was lost); the client should retry.
    #[error("coordinator not available")]
    NotAvailable,
    /// This broker does not lead the partition (any more): the client looks the coordinator up again.
    #[error("not coordinator")]
    NotCoordinator,
    /// The partition is being loaded after this broker became its leader; the client retries.
    #[error("coordinator load in progress")]
    LoadInProgress,
    /// A transactional write or marker carries an older producer epoch than the partition has seen.
    #[error("invalid producer epoch")]
    InvalidProducerEpoch,
    /// A marker comes from a transaction coordinator with an older epoch than the partition has seen.
    #[error("transaction coordinator fenced")]
    CoordinatorFenced,
}

/// Where a shard stands, which is what a caller is told when it cannot serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardStatus {
    /// Not led here: [`CoordinatorError::NotCoordinator`].
    Unloaded,
    /// Being loaded (or reloaded after a failure): [`CoordinatorError::LoadInProgress`].
    Loading,
    /// Serving.
    Active,
}

/// One shard's control block: what it was asked to be (`target`: loaded at that leader epoch, or not
/// loaded) and where it stands. The scheduler writes the target, the shard task the status; both through
/// one `watch`, so each change is one atomic step and the task wakes on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Control {
    pub(crate) target: Option<i32>,
    pub(crate) status: ShardStatus,
}

/// The leader epoch a shard loaded by [`Runtime::start`] (it owns every partition) runs under.
const OWNED_EPOCH: i32 = -1;

/// The handles of one shard.
struct Shard<S: CoordinatorShard> {
    /// Its operation queue.
    ops: mpsc::Sender<Msg<S>>,
    /// Its control block.
    control: Arc<watch::Sender<Control>>,
}

impl<S: CoordinatorShard> Shard<S> {
    /// What a caller is told when this shard cannot serve (or lost the operation).
    fn unavailable(&self) -> CoordinatorError {
        match self.control.borrow().status {
            ShardStatus::Unloaded => CoordinatorError::NotCoordinator,
            ShardStatus::Loading => CoordinatorError::LoadInProgress,
            ShardStatus::Active => CoordinatorError::NotAvailable,
        }
    }
}

/// Where a coordinator persists its records: a compacted internal topic in the log store, or an in-memory
/// log in tests. Narrow on purpose: the runtime appends batches and replays partitions, nothing else.
pub trait CoordinatorLog: Send + Sync + 'static {
    /// Appends the records to `partition` as one batch. The order of records in the partition must be the
    /// order of the append calls (of all three kinds: enqueue on call, not on first poll); the future
    /// resolves once durable.
    fn append(&self, partition: i32, records: Vec<Record>) -> AppendFuture;
    /// Appends the records as one transactional batch of `producer_id` at `producer_epoch` (Kafka's
    /// transactional offset commits); they stay pending until a marker of that producer follows.
    fn append_transactional(
        &self,
        partition: i32,
        producer_id: i64,
        producer_epoch: i16,
        records: Vec<Record>,
    ) -> AppendFuture;
    /// Appends a commit or abort marker.
    fn append_end_txn(&self, partition: i32, marker: TxnMarker) -> AppendFuture;
    /// Every entry of `partition` in offset order (load and reload).
    fn read_all(&self, partition: i32) -> Result<Vec<LogEntry>, CoordinatorError>;
}

/// One coordinator's state for one partition of its topic, as the runtime drives it.
pub trait CoordinatorShard: Sized + Send + 'static {
    /// What replayed records build. Its clone is the snapshot a failed write reverts to, so cloning must
    /// be cheap (persistent maps, O(1) clone).
    type State: Clone + Send;
    /// What a timer carries back to [`CoordinatorShard::on_timer`].
    type Timer: Ord + Send;

    /// The replayed state.
    fn state(&self) -> &Self::State;
    /// The replayed state, for the runtime's revert.
    fn state_mut(&mut self) -> &mut Self::State;
    /// Applies one record of the partition: at load for every record in offset order, at run time for
    /// the records of writes that ask for it. `producer_id` is set for a record of a producer's
    /// transaction (pending until [`CoordinatorShard::replay_end_txn`]). `now_ms` is the wall clock (for
    /// timestamps of new entries).
    fn replay(&mut self, record: &Record, producer_id: Option<i64>, now_ms: i64);
    /// Applies a commit or abort marker of `producer_id` (Kafka's `replayEndTransactionMarker`): at load,
    /// and at run time for markers written with [`Ctx::append_end_txn`]. Coordinators that never write
    /// transactional records ignore it.
    fn replay_end_txn(&mut self, producer_id: i64, commit: bool) {
        let _ = (producer_id, commit);
    }
    /// Called once the partition is loaded (first start and every restart): arm timers.
    fn on_loaded(&mut self, ctx: &mut Ctx<Self>);
    /// A timer armed with [`Ctx::schedule`] is due.
    fn on_timer(&mut self, timer: Self::Timer, ctx: &mut Ctx<Self>);
}

/// Builds the empty shard of a partition (before its records are replayed).
pub type ShardFactory<S> = Arc<dyn Fn(i32) -> S + Send + Sync>;

/// Runtime settings.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Partitions of the coordinator topic, one shard each.
    pub partitions: i32,
    /// Capacity of each shard's operation queue (back-pressure on callers beyond this).
    pub queue_capacity: usize,
}

/// Handle to the shards of one coordinator; cheap to clone, shared by all connections.
pub struct Runtime<S: CoordinatorShard> {
    /// One per partition.
    shards: Arc<[Shard<S>]>,
}

impl<S: CoordinatorShard> Clone for Runtime<S> {
    fn clone(&self) -> Self {
        Runtime {
            shards: self.shards.clone(),
        }
    }
}

impl<S: CoordinatorShard> Runtime<S> {
    /// Loads every partition (synchronously, so start-up errors surface to the caller) and starts one
    /// supervised task per partition: a coordinator that owns every partition (tests, tools). Must be
    /// called within a tokio runtime.
    pub fn start(
        config: RuntimeConfig,
        factory: ShardFactory<S>,
        log: Arc<dyn CoordinatorLog>,
    ) -> Result<Self, CoordinatorError> {
        assert!(config.partitions > 0 && config.queue_capacity > 0);
        let mut loaded = Vec::with_capacity(config.partitions as usize);
        for partition in 0..config.partitions {
            loaded.push(Some(runner::load(partition, OWNED_EPOCH, &factory, &log)?));
        }
        Ok(Self::spawn(config, factory, log, loaded))
    }

    /// Starts one supervised task per partition with nothing loaded: a broker loads each partition when
    /// it is elected its leader ([`Runtime::schedule_load`]). Must be called within a tokio runtime.
    pub fn start_unloaded(
        config: RuntimeConfig,
        factory: ShardFactory<S>,
        log: Arc<dyn CoordinatorLog>,
    ) -> Self {
        assert!(config.partitions > 0 && config.queue_capacity > 0);
        let none = (0..config.partitions).map(|_| None).collect();
        Self::spawn(config, factory, log, none)
    }

    fn spawn(
        config: RuntimeConfig,
        factory: ShardFactory<S>,
        log: Arc<dyn CoordinatorLog>,
        loaded: Vec<Option<runner::Loaded<S>>>,
    ) -> Self {
        let mut shards = Vec::with_capacity(loaded.len());
        for (partition, first) in (0..config.partitions).zip(loaded) {
            let (tx, rx) = mpsc::channel(config.queue_capacity);
            let control = Arc::new(watch::Sender::new(match first {
                Some(_) => Control {
                    target: Some(OWNED_EPOCH),
                    status: ShardStatus::Active,
                },
                None => Control {
                    target: None,
                    status: ShardStatus::Unloaded,
                },
            }));
            tokio::spawn(runner::supervise(
                partition,
                factory.clone(),
                log.clone(),
                rx,
                control.clone(),
                first,
            ));
            shards.push(Shard { ops: tx, control });
        }
        Runtime {
            shards: shards.into(),
        }
    }

    fn shard(&self, partition: i32) -> Option<&Shard<S>> {
        usize::try_from(partition)
            .ok()
            .and_then(|p| self.shards.get(p))
    }

    /// This broker became the leader of `partition` at `epoch` (Kafka's `scheduleLoadOperation`): its
    /// shard is loaded from the log, answering [`CoordinatorError::LoadInProgress`] meanwhile. A loaded
    /// shard is reloaded when the epoch is newer (leadership went away and came back in between); an
    /// older or equal epoch is ignored.
    pub fn schedule_load(&self, partition: i32, epoch: i32) {
        let Some(shard) = self.shard(partition) else {
            return;
        };
        shard.control.send_if_modified(|c| {
            if c.target.is_some_and(|current| current >= epoch) {
                return false;
            }
            // Loading from now on, so a caller never reaches the state of the older epoch.
            c.target = Some(epoch);
            c.status = ShardStatus::Loading;
            true
        });
    }

    /// This broker no longer leads `partition` (Kafka's `scheduleUnloadOperation`; `epoch` is the new
    /// leader epoch, `None` when the partition is gone): its shard is dropped, parked requests fail with
    /// [`CoordinatorError::NotCoordinator`], and so does every later call. Ignored when the shard runs
    /// under a newer epoch than `epoch`.
    pub fn schedule_unload(&self, partition: i32, epoch: Option<i32>) {
        let Some(shard) = self.shard(partition) else {
            return;
        };
        shard.control.send_if_modified(|c| {
            let stale = matches!((c.target, epoch), (Some(current), Some(e)) if current >= e);
            if c.target.is_none() || stale {
                return false;
            }
            c.target = None;
            c.status = ShardStatus::Unloaded;
            true
        });
    }

    /// Where the shard of `partition` stands.
    pub fn status(&self, partition: i32) -> ShardStatus {
        self.shard(partition)
            .map_or(ShardStatus::Unloaded, |s| s.control.borrow().status)
    }

    /// Resolves once every shard asked to load has loaded (a failing load keeps this waiting: callers
    /// bound it).
    pub async fn wait_loaded(&self) {
        for shard in self.shards.iter() {
            let mut control = shard.control.subscribe();
            let _ = control
                .wait_for(|c| c.target.is_none() || c.status == ShardStatus::Active)
                .await;
        }
    }

    /// Partitions (= shards) of this coordinator.
    pub fn partitions(&self) -> i32 {
        self.shards.len() as i32
    }

    /// Queues `msg` on the shard of `partition` if it serves.
    async fn send(&self, partition: i32, msg: Msg<S>) -> Result<(), CoordinatorError> {
        let shard = self
            .shard(partition)
            .ok_or(CoordinatorError::NotAvailable)?;
        if shard.control.borrow().status != ShardStatus::Active {
            return Err(shard.unavailable());
        }
        shard.ops.send(msg).await.map_err(|_| shard.unavailable())
    }

    /// What the caller of an operation the shard dropped is told: by then the shard's status says why
    /// (unloaded, reloading, or a failure).
    fn lost(&self, partition: i32) -> CoordinatorError {
        self.shard(partition)
            .map_or(CoordinatorError::NotAvailable, Shard::unavailable)
    }

    /// Runs `op` on the shard of `partition`. The op answers through the given sender whenever it
    /// decides: at once, from a parked request later, or from a write's `then` once durable. If the shard
    /// fails before answering, the caller gets [`CoordinatorError::NotAvailable`].
    pub async fn call<R: Send + 'static>(
        &self,
        partition: i32,
        op: impl FnOnce(&mut S, &mut Ctx<S>, oneshot::Sender<R>) + Send + 'static,
    ) -> Result<R, CoordinatorError> {
        let (tx, rx) = oneshot::channel();
        self.send(partition, Msg::Op(Box::new(move |s, ctx| op(s, ctx, tx))))
            .await?;
        rx.await.map_err(|_| self.lost(partition))
    }

    /// Runs `op` and answers with its result once every record it asked to append is durable, or with
    /// the append's error (the shard state is then reverted).
    pub async fn write<R: Send + 'static>(
        &self,
        partition: i32,
        op: impl FnOnce(&mut S, &mut Ctx<S>) -> R + Send + 'static,
    ) -> Result<R, CoordinatorError> {
        let (tx, rx) = oneshot::channel();
        self.send(
            partition,
            Msg::Op(Box::new(move |s, ctx| {
                let reply = op(s, ctx);
                ctx.reply_when_durable(move |result| {
                    let _ = tx.send(result.map(|()| reply));
                });
            })),
        )
        .await?;
        rx.await.map_err(|_| self.lost(partition))?
    }

    /// Reads the shard of `partition`: `f` gets the shard and the last committed replayed state (writes
    /// not yet durable are not visible there).
    pub async fn read<R: Send + 'static>(
        &self,
        partition: i32,
        f: impl FnOnce(&S, &S::State) -> R + Send + 'static,
    ) -> Result<R, CoordinatorError> {
        let (tx, rx) = oneshot::channel();
        self.send(
            partition,
            Msg::Read(Box::new(move |s, committed| {
                let _ = tx.send(f(s, committed));
            })),
        )
        .await?;
        rx.await.map_err(|_| self.lost(partition))
    }

    /// Stops every shard task (parked requests are dropped, so their callers see NotAvailable).
    pub async fn shutdown(&self) {
        for shard in self.shards.iter() {
            let _ = shard.ops.send(Msg::Shutdown).await;
        }
    }
}
