//! The loop of one shard (operations, timers, appends resolving in order, revert on failure) and the
//! supervisor that loads and unloads it as leadership moves and reloads it when its loop panicked.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{FuturesOrdered, FuturesUnordered, StreamExt};
use futures_util::FutureExt;
use tokio::sync::{mpsc, watch};

use super::ctx::{Reply, Task, Write, WriteKind};
use super::{
    AppendFuture, Control, CoordinatorError, CoordinatorLog, CoordinatorShard, Ctx, LogEntry,
    ShardFactory, ShardStatus, Then,
};

/// An operation on the shard.
pub(super) type Op<S> = Box<dyn FnOnce(&mut S, &mut Ctx<S>) + Send>;
/// A read of the shard and its last committed state.
pub(super) type ReadOp<S> = Box<dyn FnOnce(&S, &<S as CoordinatorShard>::State) + Send>;

/// What a shard task receives.
pub(super) enum Msg<S: CoordinatorShard> {
    /// Run an operation.
    Op(Op<S>),
    /// Run a read.
    Read(ReadOp<S>),
    /// Stop the task.
    Shutdown,
}

/// First wait before reloading a failed shard; doubled per consecutive failure up to the max.
const RESTART_BACKOFF_MIN: Duration = Duration::from_millis(100);
/// Longest wait between reload attempts.
const RESTART_BACKOFF_MAX: Duration = Duration::from_secs(10);

/// A write whose append has not resolved yet.
struct Pending<S: CoordinatorShard> {
    /// Matches the append future's result.
    id: u64,
    /// The replayed state just before this write: what a failure reverts to, and what reads see while
    /// this is the oldest pending write.
    before: S::State,
    /// Runs on the shard when the append resolved.
    then: Option<Then<S>>,
    /// Callers waiting for durability.
    replies: Vec<Reply>,
}

/// One loaded shard with its runtime context.
pub(super) struct Loaded<S: CoordinatorShard> {
    shard: S,
    ctx: Ctx<S>,
}

/// Builds the shard of `partition` from its records (the same `replay` as at run time).
pub(super) fn load<S: CoordinatorShard>(
    partition: i32,
    epoch: i32,
    factory: &ShardFactory<S>,
    log: &Arc<dyn CoordinatorLog>,
) -> Result<Loaded<S>, CoordinatorError> {
    let records = log.read_all(partition)?;
    let mut shard = factory(partition);
    let mut ctx = Ctx::new(partition, epoch);
    let now_ms = ctx.now_ms();
    for entry in &records {
        match entry {
            LogEntry::Record {
                record,
                producer_id,
            } => shard.replay(record, *producer_id, now_ms),
            LogEntry::EndTxn {
                producer_id,
                commit,
            } => shard.replay_end_txn(*producer_id, *commit),
        }
    }
    shard.on_loaded(&mut ctx);
    tracing::debug!(
        partition,
        records = records.len(),
        "coordinator shard loaded"
    );
    Ok(Loaded { shard, ctx })
}

/// What a shard task is doing.
enum Phase<S: CoordinatorShard> {
    /// Not led here: operations are dropped (callers see NotCoordinator).
    Unloaded,
    /// Loading for leader epoch `epoch` after `pause` (a failure back-off; zero on election).
    Load { epoch: i32, pause: Duration },
    /// Serving under leader epoch `epoch`.
    Active { loaded: Loaded<S>, epoch: i32 },
}

impl<S: CoordinatorShard> Phase<S> {
    /// The phase a new target asks for.
    fn towards(target: Option<i32>) -> Self {
        match target {
            None => Phase::Unloaded,
            Some(epoch) => Phase::Load {
                epoch,
                pause: Duration::ZERO,
            },
        }
    }
}

/// Sets the shard's status if it is still asked to run under `epoch`; returns whether it is.
fn mark(control: &watch::Sender<Control>, epoch: i32, status: ShardStatus) -> bool {
    let mut current = false;
    control.send_if_modified(|c| {
        current = c.target == Some(epoch);
        if !current || c.status == status {
            return false;
        }
        c.status = status;
        true
    });
    current
}

/// Runs the shard of `partition` until shutdown, following its control block: loads it when asked
/// (answering "load in progress" meanwhile), drops it when told this broker no longer leads it, and
/// reloads it from the log when its loop panicked (after a growing pause, during which queued operations
/// are dropped so their callers retry).
pub(super) async fn supervise<S: CoordinatorShard>(
    partition: i32,
    factory: ShardFactory<S>,
    log: Arc<dyn CoordinatorLog>,
    mut rx: mpsc::Receiver<Msg<S>>,
    control: Arc<watch::Sender<Control>>,
    first: Option<Loaded<S>>,
) {
    let mut watch = control.subscribe();
    let mut backoff = RESTART_BACKOFF_MIN;
    let mut phase = match (first, control.borrow().target) {
        (Some(loaded), Some(epoch)) => Phase::Active { loaded, epoch },
        _ => Phase::Unloaded,
    };
    loop {
        phase = match phase {
            Phase::Unloaded => match idle(&mut rx, &mut watch).await {
                Some(epoch) => Phase::towards(Some(epoch)),
                None => return,
            },
            Phase::Load { epoch, pause } => {
                if !mark(&control, epoch, ShardStatus::Loading) {
                    Phase::towards(watch.borrow_and_update().target)
                } else {
                    let outcome =
                        loading(partition, &factory, &log, &mut rx, &mut watch, epoch, pause);
                    match outcome.await {
                        LoadEnd::Shutdown => return,
                        LoadEnd::Retarget(target) => Phase::towards(target),
                        LoadEnd::Loaded(loaded) => Phase::Active { loaded, epoch },
                        LoadEnd::Failed => {
                            let pause = backoff;
                            backoff = (backoff * 2).min(RESTART_BACKOFF_MAX);
                            Phase::Load { epoch, pause }
                        }
                    }
                }
            }
            Phase::Active { loaded, epoch } => {
                if !mark(&control, epoch, ShardStatus::Active) {
                    Phase::towards(watch.borrow_and_update().target)
                } else {
                    let shard = Shard {
                        partition,
                        log: &log,
                        rx: &mut rx,
                        watch: &mut watch,
                        control: &control,
                    };
                    match serve(shard, loaded, epoch).await {
                        ServeEnd::Shutdown => return,
                        ServeEnd::Retarget(target) => {
                            backoff = RESTART_BACKOFF_MIN;
                            Phase::towards(target)
                        }
                        ServeEnd::Panicked => {
                            let pause = backoff;
                            backoff = (backoff * 2).min(RESTART_BACKOFF_MAX);
                            Phase::Load { epoch, pause }
                        }
                    }
                }
            }
        };
    }
}

/// What a serving shard task works with.
struct Shard<'a, S: CoordinatorShard> {
    partition: i32,
    log: &'a Arc<dyn CoordinatorLog>,
    rx: &'a mut mpsc::Receiver<Msg<S>>,
    watch: &'a mut watch::Receiver<Control>,
    control: &'a watch::Sender<Control>,
}

/// How serving a loaded shard ended.
enum ServeEnd {
    Shutdown,
    /// Asked to unload (`None`) or to reload under a newer epoch.
    Retarget(Option<i32>),
    /// Its loop panicked (it is reloaded after a pause).
    Panicked,
}

/// Serves a loaded shard under `epoch` until it stops, is retargeted or panics.
async fn serve<S: CoordinatorShard>(s: Shard<'_, S>, loaded: Loaded<S>, epoch: i32) -> ServeEnd {
    let mut runner = Runner {
        shard: loaded.shard,
        ctx: loaded.ctx,
        log: s.log.clone(),
        pending: VecDeque::new(),
        appends: FuturesOrdered::new(),
        tasks: FuturesUnordered::new(),
        next_write: 0,
    };
    let run = runner.run(s.rx, s.watch, epoch);
    match AssertUnwindSafe(run).catch_unwind().await {
        Ok(RunEnd::Shutdown) => ServeEnd::Shutdown,
        Ok(RunEnd::Retarget) => {
            let target = s.watch.borrow_and_update().target;
            // The status says why before parked callers see their replies dropped.
            if let Some(next) = target {
                mark(s.control, next, ShardStatus::Loading);
            }
            tracing::info!(
                partition = s.partition,
                ?target,
                "coordinator shard unloaded"
            );
            drop(runner);
            ServeEnd::Retarget(target)
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(partition = s.partition, panic = %what,
                "coordinator shard failed; reloading it from the log");
            drop(runner);
            ServeEnd::Panicked
        }
    }
}

/// Waits, dropping operations, until the shard is asked to load (its epoch) or to stop (`None`).
async fn idle<S: CoordinatorShard>(
    rx: &mut mpsc::Receiver<Msg<S>>,
    watch: &mut watch::Receiver<Control>,
) -> Option<i32> {
    loop {
        if let Some(epoch) = watch.borrow_and_update().target {
            return Some(epoch);
        }
        tokio::select! {
            biased;
            _ = watch.changed() => {}
            msg = rx.recv() => match msg {
                None | Some(Msg::Shutdown) => return None,
                Some(_) => {}
            },
        }
    }
}

/// How a load ended.
enum LoadEnd<S: CoordinatorShard> {
    Loaded(Loaded<S>),
    Failed,
    /// The target changed meanwhile (to this).
    Retarget(Option<i32>),
    Shutdown,
}

/// Loads the shard for `epoch` after `pause`, dropping operations meanwhile and giving up as soon as
/// the target changes.
async fn loading<S: CoordinatorShard>(
    partition: i32,
    factory: &ShardFactory<S>,
    log: &Arc<dyn CoordinatorLog>,
    rx: &mut mpsc::Receiver<Msg<S>>,
    watch: &mut watch::Receiver<Control>,
    epoch: i32,
    pause: Duration,
) -> LoadEnd<S> {
    let until = tokio::time::Instant::now() + pause;
    let load = async {
        tokio::time::sleep_until(until).await;
        reload(partition, epoch, factory, log).await
    };
    tokio::pin!(load);
    loop {
        tokio::select! {
            biased;
            _ = watch.changed() => {
                let target = watch.borrow_and_update().target;
                if target != Some(epoch) {
                    return LoadEnd::Retarget(target);
                }
            }
            msg = rx.recv() => match msg {
                None | Some(Msg::Shutdown) => return LoadEnd::Shutdown,
                Some(_) => {}
            },
            loaded = &mut load => return match loaded {
                Ok(loaded) => LoadEnd::Loaded(loaded),
                Err(e) => {
                    tracing::error!(partition, error = %e, "coordinator shard failed to load; retrying");
                    LoadEnd::Failed
                }
            },
        }
    }
}

/// How a running shard's loop ended.
enum RunEnd {
    Shutdown,
    /// It was asked to unload, or to reload under a newer epoch.
    Retarget,
}

/// Reads the partition on a blocking thread (disk I/O stays off the tokio workers) and replays it.
async fn reload<S: CoordinatorShard>(
    partition: i32,
    epoch: i32,
    factory: &ShardFactory<S>,
    log: &Arc<dyn CoordinatorLog>,
) -> Result<Loaded<S>, CoordinatorError> {
    let (factory, log) = (factory.clone(), log.clone());
    let loaded = tokio::task::spawn_blocking(move || {
        std::panic::catch_unwind(AssertUnwindSafe(|| load(partition, epoch, &factory, &log)))
    })
    .await;
    match loaded {
        Ok(Ok(result)) => result,
        _ => Err(CoordinatorError::Storage("shard load panicked".into())),
    }
}

/// The loop state of one running shard.
struct Runner<S: CoordinatorShard> {
    shard: S,
    ctx: Ctx<S>,
    log: Arc<dyn CoordinatorLog>,
    /// Writes whose append has not resolved, oldest first.
    pending: VecDeque<Pending<S>>,
    /// Their append futures, resolved in submission order (one partition is durable in order).
    appends: FuturesOrdered<IdFuture>,
    /// Outside futures started with `Ctx::spawn`.
    tasks: FuturesUnordered<Task<S>>,
    /// Source of write ids.
    next_write: u64,
}

/// An append future tagged with its write id.
type IdFuture = std::pin::Pin<
    Box<dyn std::future::Future<Output = (u64, Result<(), CoordinatorError>)> + Send>,
>;

impl<S: CoordinatorShard> Runner<S> {
    async fn run(
        &mut self,
        rx: &mut mpsc::Receiver<Msg<S>>,
        watch: &mut watch::Receiver<Control>,
        epoch: i32,
    ) -> RunEnd {
        // Whatever `on_loaded` asked for (rewrites, outside work such as resending markers).
        self.carry_out_writes();
        loop {
            self.fire_due_timers();
            let next_timer = self.ctx.timers.peek().map(|t| t.0 .0);
            let sleep = async {
                match next_timer {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                Some((id, result)) = self.appends.next(), if !self.appends.is_empty() => {
                    self.resolved(id, result);
                }
                Some(followup) = self.tasks.next(), if !self.tasks.is_empty() => {
                    let pre = self.shard.state().clone();
                    followup(&mut self.shard, &mut self.ctx);
                    self.carry_out_writes_from(Some(pre));
                }
                _ = watch.changed() => {
                    if watch.borrow_and_update().target != Some(epoch) {
                        return RunEnd::Retarget;
                    }
                }
                msg = rx.recv() => match msg {
                    None | Some(Msg::Shutdown) => return RunEnd::Shutdown,
                    Some(Msg::Op(op)) => {
                        let pre = self.shard.state().clone();
                        op(&mut self.shard, &mut self.ctx);
                        self.carry_out_writes_from(Some(pre));
                    }
                    Some(Msg::Read(read)) => {
                        let committed = match self.pending.front() {
                            Some(p) => &p.before,
                            None => self.shard.state(),
                        };
                        read(&self.shard, committed);
                    }
                },
                _ = sleep => {}
            }
        }
    }

    fn fire_due_timers(&mut self) {
        let now = tokio::time::Instant::now();
        while self.ctx.timers.peek().is_some_and(|t| t.0 .0 <= now) {
            let Some(std::cmp::Reverse((_, _, timer))) = self.ctx.timers.pop() else {
                break;
            };
            let pre = self.shard.state().clone();
            self.shard.on_timer(timer, &mut self.ctx);
            self.carry_out_writes_from(Some(pre));
        }
    }

    /// The effects of the operation that just returned: snapshot, replay, append, remember.
    fn carry_out_writes(&mut self) {
        self.carry_out_writes_from(None);
    }

    /// Same, with the state as it was before the operation ran (`pre`): the first write reverts to it,
    /// so a failed append also undoes what the operation changed in the state directly (consumer
    /// groups, which Kafka keeps in its snapshot registry), not only what its records replay.
    fn carry_out_writes_from(&mut self, mut pre: Option<S::State>) {
        self.tasks.extend(self.ctx.tasks.drain(..));
        let writes = std::mem::take(&mut self.ctx.writes);
        for Write {
            kind,
            records,
            replay,
            then,
            replies,
        } in writes
        {
            let before = pre.take().unwrap_or_else(|| self.shard.state().clone());
            if replay {
                let now_ms = self.ctx.now_ms();
                let producer_id = match kind {
                    WriteKind::Transactional { producer_id, .. } => Some(producer_id),
                    _ => None,
                };
                for record in &records {
                    self.shard.replay(record, producer_id, now_ms);
                }
                if let WriteKind::EndTxn(m) = kind {
                    self.shard.replay_end_txn(m.producer_id, m.commit);
                }
            }
            self.next_write += 1;
            let id = self.next_write;
            let partition = self.ctx.partition();
            let fut: AppendFuture = match kind {
                // Nothing to append still resolves in order, after the writes before it.
                WriteKind::Plain | WriteKind::Transactional { .. } if records.is_empty() => {
                    Box::pin(std::future::ready(Ok(())))
                }
                WriteKind::Plain => self.log.append(partition, records),
                WriteKind::Transactional {
                    producer_id,
                    producer_epoch,
                } => self
                    .log
                    .append_transactional(partition, producer_id, producer_epoch, records),
                WriteKind::EndTxn(marker) => self.log.append_end_txn(partition, marker),
            };
            self.appends
                .push_back(Box::pin(async move { (id, fut.await) }));
            self.pending.push_back(Pending {
                id,
                before,
                then,
                replies,
            });
        }
    }

    /// An append resolved. Success: the write is committed. Failure: revert to the state before it and
    /// fail it and every later pending write (their state was built on it).
    fn resolved(&mut self, id: u64, result: Result<(), CoordinatorError>) {
        if self.pending.front().is_none_or(|p| p.id != id) {
            return; // already failed with an earlier write
        }
        let failed: Vec<Pending<S>> = match result {
            Ok(()) => {
                let Some(done) = self.pending.pop_front() else {
                    return;
                };
                self.finish(done, Ok(()));
                return;
            }
            Err(_) => self.pending.drain(..).collect(),
        };
        let error = match result {
            Err(e) => e,
            Ok(()) => return,
        };
        tracing::warn!(partition = self.ctx.partition(), error = %error,
            writes = failed.len(), "coordinator append failed; reverting to the last committed state");
        if let Some(first) = failed.first() {
            *self.shard.state_mut() = first.before.clone();
        }
        for p in failed {
            self.finish(p, Err(error.clone()));
        }
    }

    fn finish(&mut self, p: Pending<S>, result: Result<(), CoordinatorError>) {
        if let Some(then) = p.then {
            let pre = self.shard.state().clone();
            then(&mut self.shard, result.clone(), &mut self.ctx);
            self.carry_out_writes_from(Some(pre));
        }
        for reply in p.replies {
            reply(result.clone());
        }
    }
}
