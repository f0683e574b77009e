//! What an operation may ask of the runtime: the time, timers, and records to append (the effects the
//! runtime carries out once the operation returned).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use tokio::time::Instant;

use super::{CoordinatorError, CoordinatorShard, Record, TxnMarker};

/// Runs on the shard once an append resolved (Kafka's append future): `Ok` once durable, the append's
/// error otherwise (the replayed state has then already been reverted).
pub type Then<S> = Box<dyn FnOnce(&mut S, Result<(), CoordinatorError>, &mut Ctx<S>) + Send>;

/// Work on the shard once an outside future (e.g. markers written to other partitions) resolved.
pub type Followup<S> = Box<dyn FnOnce(&mut S, &mut Ctx<S>) + Send>;

/// An outside future whose outcome comes back to the shard as a [`Followup`].
pub(super) type Task<S> = std::pin::Pin<Box<dyn std::future::Future<Output = Followup<S>> + Send>>;

/// A reply waiting for a write to become durable.
pub(super) type Reply = Box<dyn FnOnce(Result<(), CoordinatorError>) + Send>;

/// What a write appends.
#[derive(Clone, Copy)]
pub(super) enum WriteKind {
    /// Plain coordinator records.
    Plain,
    /// Records of a producer's transaction (one transactional batch).
    Transactional {
        /// Producer id.
        producer_id: i64,
        /// Producer epoch.
        producer_epoch: i16,
    },
    /// A marker ending a producer's transaction (no records).
    EndTxn(TxnMarker),
}

/// One batch an operation asked to append.
pub(super) struct Write<S: CoordinatorShard> {
    /// How the batch is written.
    pub kind: WriteKind,
    /// The records, appended as one batch.
    pub records: Vec<Record>,
    /// Replay the records into the shard now (Kafka's `replayRecords`). Coordinators whose live objects
    /// already hold the change (classic groups) write records for the next load only.
    pub replay: bool,
    /// Runs on the shard when the append resolved.
    pub then: Option<Then<S>>,
    /// Callers answered when the append resolved.
    pub replies: Vec<Reply>,
}

/// The runtime's side of one shard, handed to every operation, timer and callback.
pub struct Ctx<S: CoordinatorShard> {
    /// The coordinator-topic partition this shard owns.
    partition: i32,
    /// The leader epoch of that partition this shard was loaded under (the coordinator epoch).
    epoch: i32,
    /// Armed timers, earliest first (ties in arming order).
    pub(super) timers: BinaryHeap<Reverse<(Instant, u64, S::Timer)>>,
    /// Source of timer sequence numbers and of ids coordinators hand out ([`Ctx::next_id`]).
    next_id: u64,
    /// Wall-clock ms at `instant_base`; wall time advances with tokio time so tests control it.
    wall_base_ms: i64,
    /// Tokio instant matching `wall_base_ms`.
    instant_base: Instant,
    /// Writes asked for by the running operation, carried out by the runtime when it returns.
    pub(super) writes: Vec<Write<S>>,
    /// Outside futures started by the running operation, polled by the runtime.
    pub(super) tasks: Vec<Task<S>>,
}

fn wall_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl<S: CoordinatorShard> Ctx<S> {
    pub(super) fn new(partition: i32, epoch: i32) -> Self {
        Ctx {
            partition,
            epoch,
            timers: BinaryHeap::new(),
            next_id: 1,
            wall_base_ms: wall_now_ms(),
            instant_base: Instant::now(),
            writes: Vec::new(),
            tasks: Vec::new(),
        }
    }

    /// The coordinator-topic partition of this shard.
    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// The leader epoch of the partition this shard serves under (Kafka's coordinator epoch; 0 for a
    /// coordinator that owns every partition).
    pub fn epoch(&self) -> i32 {
        self.epoch.max(0)
    }

    /// Now, on tokio time.
    pub fn now(&self) -> Instant {
        Instant::now()
    }

    /// Wall-clock ms since the epoch, advancing with tokio time.
    pub fn now_ms(&self) -> i64 {
        self.wall_base_ms + self.instant_base.elapsed().as_millis() as i64
    }

    /// A fresh id, unique within this shard's life (timer identities, stale-entry checks).
    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Arms a timer: `on_timer(timer)` runs at `at` (entries are never cancelled; coordinators
    /// recognise stale ones by the ids they carry).
    pub fn schedule(&mut self, at: Instant, timer: S::Timer) {
        let seq = self.next_id();
        self.timers.push(Reverse((at, seq, timer)));
    }

    /// Arms a timer `after_ms` from now.
    pub fn schedule_in(&mut self, after_ms: i64, timer: S::Timer) {
        self.schedule(Instant::now() + ms(after_ms), timer);
    }

    /// Asks for `records` to be appended as one batch once the operation returns. With `replay`, they
    /// are replayed into the shard first (state changes only that way); `then` runs when the append
    /// resolved. With no records, `then` still runs after every earlier write is durable.
    pub fn append(&mut self, records: Vec<Record>, replay: bool, then: Option<Then<S>>) {
        self.writes.push(Write {
            kind: WriteKind::Plain,
            records,
            replay,
            then,
            replies: Vec::new(),
        });
    }

    /// Asks for `records` to be appended as one transactional batch of `producer_id` (Kafka's
    /// `scheduleTransactionalWriteOperation`); they are replayed with that producer id, so the shard keeps
    /// them pending until the transaction's marker is replayed.
    pub fn append_transactional(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        records: Vec<Record>,
        then: Option<Then<S>>,
    ) {
        self.writes.push(Write {
            kind: WriteKind::Transactional {
                producer_id,
                producer_epoch,
            },
            records,
            replay: true,
            then,
            replies: Vec::new(),
        });
    }

    /// Asks for a commit or abort marker to be appended to this partition (Kafka's
    /// `scheduleTransactionCompletion`): replayed at once ([`CoordinatorShard::replay_end_txn`]) and
    /// reverted if the append fails, so the marker's place among this shard's records is the same at run
    /// time and at load.
    pub fn append_end_txn(&mut self, marker: TxnMarker, then: Option<Then<S>>) {
        self.writes.push(Write {
            kind: WriteKind::EndTxn(marker),
            records: Vec::new(),
            replay: true,
            then,
            replies: Vec::new(),
        });
    }

    /// Runs `work` off the shard (it must not touch shard state); its output runs on the shard when it
    /// resolves. Lost if the shard restarts: coordinators redo such work from their replayed state in
    /// `on_loaded`.
    pub fn spawn(&mut self, work: impl std::future::Future<Output = Followup<S>> + Send + 'static) {
        self.tasks.push(Box::pin(work));
    }

    /// Answers once the writes this operation asked for are durable. With none, the answer still waits
    /// for every earlier pending write (its result may rest on them), as Kafka's runtime defers it to
    /// the last written offset.
    pub(super) fn reply_when_durable(
        &mut self,
        reply: impl FnOnce(Result<(), CoordinatorError>) + Send + 'static,
    ) {
        if self.writes.is_empty() {
            self.append(Vec::new(), false, None);
        }
        if let Some(last) = self.writes.last_mut() {
            last.replies.push(Box::new(reply));
        }
    }
}

/// A non-negative duration of `d` ms.
pub fn ms(d: i64) -> Duration {
    Duration::from_millis(d.max(0) as u64)
}
