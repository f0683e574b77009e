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

mod ctx;
mod runner;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

pub use ctx::{ms, Ctx, Followup, Then};
use runner::Msg;

/// `(key, value)` of one record of a coordinator topic; `None` value = tombstone.
pub type Record = (Bytes, Option<Bytes>);

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
}

/// Where a coordinator persists its records: a compacted internal topic in the log store, or an in-memory
/// log in tests. Narrow on purpose: the runtime appends batches and replays partitions, nothing else.
pub trait CoordinatorLog: Send + Sync + 'static {
    /// Appends the records to `partition` as one batch. The order of records in the partition must be the
    /// order of `append` calls (enqueue on call, not on first poll); the future resolves once durable.
    fn append(&self, partition: i32, records: Vec<Record>) -> AppendFuture;
    /// Every record of `partition` in offset order (load and reload).
    fn read_all(&self, partition: i32) -> Result<Vec<Record>, CoordinatorError>;
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
    /// the records of writes that ask for it. `now_ms` is the wall clock (for timestamps of new entries).
    fn replay(&mut self, record: &Record, now_ms: i64);
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
    /// One operation queue per partition.
    shards: Arc<[mpsc::Sender<Msg<S>>]>,
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
    /// supervised task per partition. Must be called within a tokio runtime.
    pub fn start(
        config: RuntimeConfig,
        factory: ShardFactory<S>,
        log: Arc<dyn CoordinatorLog>,
    ) -> Result<Self, CoordinatorError> {
        assert!(config.partitions > 0 && config.queue_capacity > 0);
        let mut senders = Vec::with_capacity(config.partitions as usize);
        let mut loaded = Vec::with_capacity(config.partitions as usize);
        for partition in 0..config.partitions {
            loaded.push(runner::load(partition, &factory, &log)?);
        }
        for (partition, shard) in (0..config.partitions).zip(loaded) {
            let (tx, rx) = mpsc::channel(config.queue_capacity);
            senders.push(tx);
            tokio::spawn(runner::supervise(
                partition,
                factory.clone(),
                log.clone(),
                rx,
                shard,
            ));
        }
        Ok(Runtime {
            shards: senders.into(),
        })
    }

    /// Partitions (= shards) of this coordinator.
    pub fn partitions(&self) -> i32 {
        self.shards.len() as i32
    }

    async fn send(&self, partition: i32, msg: Msg<S>) -> Result<(), CoordinatorError> {
        let shard = usize::try_from(partition)
            .ok()
            .and_then(|p| self.shards.get(p))
            .ok_or(CoordinatorError::NotAvailable)?;
        shard
            .send(msg)
            .await
            .map_err(|_| CoordinatorError::NotAvailable)
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
        rx.await.map_err(|_| CoordinatorError::NotAvailable)
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
        rx.await.map_err(|_| CoordinatorError::NotAvailable)?
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
        rx.await.map_err(|_| CoordinatorError::NotAvailable)
    }

    /// Stops every shard task (parked requests are dropped, so their callers see NotAvailable).
    pub async fn shutdown(&self) {
        for shard in self.shards.iter() {
            let _ = shard.send(Msg::Shutdown).await;
        }
    }
}
