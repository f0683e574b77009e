//! The transaction coordinator on the coordinator runtime: one [`TxnShard`] per `__transaction_state`
//! partition holds that partition's transactional ids. State changes only by replaying
//! TransactionLog records, at load and at run time.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::records::{self, TxnLogValue};
use super::state::TxnState;
use super::{
    InitProducerIdRequest, MarkerError, MarkerWriter, Markers, ProducerIdAndEpoch,
    ProducerIdSource, TxnConfig, TxnError, Verified,
};
use crate::coordinator::{CoordinatorShard, Ctx, Followup, Record};

/// The runtime context of a transaction shard.
pub type TCtx = Ctx<TxnShard>;

/// A transactional id's producer and transaction (Kafka's `TransactionMetadata`, replayed part).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnMetadata {
    /// Producer id in use.
    pub producer_id: i64,
    /// Its current epoch; -1 before the first InitProducerId completed.
    pub producer_epoch: i16,
    /// `transaction.timeout.ms` of the current producer.
    pub timeout_ms: i32,
    /// Transaction state.
    pub state: TxnState,
    /// Partitions of the open transaction.
    pub partitions: BTreeSet<(String, i32)>,
    /// Last transition, ms since the epoch (`transactional.id.expiration.ms` counts from here).
    pub last_update_ms: i64,
    /// Start of the open transaction, -1 when none.
    pub start_ms: i64,
}

impl TxnMetadata {
    fn record(&self, transactional_id: &str) -> Record {
        let value = TxnLogValue {
            producer_id: self.producer_id,
            producer_epoch: self.producer_epoch,
            timeout_ms: self.timeout_ms,
            state: self.state,
            partitions: self.partitions.clone(),
            last_update_ms: self.last_update_ms,
            start_ms: self.start_ms,
        };
        (
            records::encode_key(transactional_id),
            Some(records::encode_value(&value)),
        )
    }
}

/// Transactional id → metadata; a persistent map, so the runtime's snapshot per write is O(1).
pub type TxnStates = imbl::HashMap<String, TxnMetadata>;

/// What a transaction-shard timer does.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Timer {
    /// Remove transactional ids idle longer than `transactional.id.expiration.ms`.
    ExpireIds,
    /// Abort transactions open longer than their `transaction.timeout.ms`.
    AbortTimedOut,
    /// Send the markers of a prepared transaction again (the last attempt failed).
    RetryMarkers {
        /// Transactional id.
        transactional_id: String,
    },
}

/// Pause before markers that could not be written are sent again.
const MARKER_RETRY_MS: i64 = 1_000;

/// Kafka's `isEpochExhausted`: the next bump could overflow, so a new producer id is needed.
fn epoch_exhausted(epoch: i16) -> bool {
    epoch >= i16::MAX - 1
}

/// The transactional ids of one `__transaction_state` partition.
pub struct TxnShard {
    /// Settings.
    config: Arc<TxnConfig>,
    /// Producer-id allocation (the cluster's producer-id blocks).
    ids: Arc<dyn ProducerIdSource>,
    /// Writes commit/abort markers into the partitions of a transaction.
    markers: Arc<dyn MarkerWriter>,
    /// Replayed state.
    txns: TxnStates,
    /// Kafka's `lastProducerEpoch` (live, not in the record, as in Kafka): the epoch the current instance
    /// had before its last InitProducerId, so that a retry of that call gets the same epoch back instead
    /// of being fenced. Keyed by transactional id, with the producer id it belongs to.
    last_epochs: HashMap<String, (i64, i16)>,
}

impl CoordinatorShard for TxnShard {
    type State = TxnStates;
    type Timer = Timer;

    fn state(&self) -> &TxnStates {
        &self.txns
    }

    fn state_mut(&mut self) -> &mut TxnStates {
        &mut self.txns
    }

    fn replay(&mut self, (key, value): &Record, _producer_id: Option<i64>, _now_ms: i64) {
        let decoded = records::decode_key(key).and_then(|id| {
            let value = value.as_deref().map(records::decode_value).transpose()?;
            Ok(id.map(|id| (id, value)))
        });
        match decoded {
            Ok(Some((id, Some(v)))) => {
                self.txns.insert(
                    id,
                    TxnMetadata {
                        producer_id: v.producer_id,
                        producer_epoch: v.producer_epoch,
                        timeout_ms: v.timeout_ms,
                        state: v.state,
                        partitions: v.partitions,
                        last_update_ms: v.last_update_ms,
                        start_ms: v.start_ms,
                    },
                );
            }
            Ok(Some((id, None))) => {
                self.txns.remove(&id);
                self.last_epochs.remove(&id);
            }
            Ok(None) => {}
            // One bad record must not keep the partition's other transactional ids from loading.
            Err(e) => {
                tracing::error!(error = %e, "skipping undecodable __transaction_state record")
            }
        }
    }

    /// Arms the sweeps, and finishes transactions that were prepared but not completed before the
    /// restart (as Kafka does when it loads a partition).
    fn on_loaded(&mut self, ctx: &mut TCtx) {
        ctx.schedule_in(self.config.cleanup_interval_ms, Timer::ExpireIds);
        ctx.schedule_in(self.config.abort_interval_ms, Timer::AbortTimedOut);
        let prepared: Vec<String> = self
            .txns
            .iter()
            .filter(|(_, m)| matches!(m.state, TxnState::PrepareCommit | TxnState::PrepareAbort))
            .map(|(id, _)| id.clone())
            .collect();
        for id in prepared {
            self.send_markers(ctx, &id);
        }
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut TCtx) {
        match timer {
            Timer::ExpireIds => {
                self.expire_ids(ctx);
                ctx.schedule_in(self.config.cleanup_interval_ms, Timer::ExpireIds);
            }
            Timer::AbortTimedOut => {
                self.abort_timed_out(ctx);
                ctx.schedule_in(self.config.abort_interval_ms, Timer::AbortTimedOut);
            }
            Timer::RetryMarkers { transactional_id } => self.send_markers(ctx, &transactional_id),
        }
    }
}

impl TxnShard {
    /// A shard with no transactional ids yet (the runtime replays its partition into it).
    pub fn new(
        config: Arc<TxnConfig>,
        ids: Arc<dyn ProducerIdSource>,
        markers: Arc<dyn MarkerWriter>,
    ) -> Self {
        TxnShard {
            config,
            ids,
            markers,
            txns: TxnStates::new(),
            last_epochs: HashMap::new(),
        }
    }

    /// Kafka's `handleInitProducerId` for a transactional id: a new producer id on first use, else the
    /// epoch bumped (which fences every older instance), or a new producer id once the epoch is
    /// exhausted. The answer is sent once the new state is durable.
    pub fn init_producer_id(
        &mut self,
        ctx: &mut TCtx,
        req: InitProducerIdRequest,
    ) -> Result<ProducerIdAndEpoch, TxnError> {
        if req.transactional_id.is_empty() {
            return Err(TxnError::InvalidRequest("empty transactional id"));
        }
        if req.timeout_ms <= 0 || i64::from(req.timeout_ms) > self.config.max_timeout_ms {
            return Err(TxnError::InvalidTransactionTimeout);
        }
        let id = req.transactional_id;
        let current = match self.txns.get(&id) {
            Some(m) => m.clone(),
            None => TxnMetadata {
                producer_id: self.ids.next_producer_id().map_err(TxnError::ProducerIds)?,
                producer_epoch: -1,
                timeout_ms: req.timeout_ms,
                state: TxnState::Empty,
                partitions: BTreeSet::new(),
                last_update_ms: ctx.now_ms(),
                start_ms: -1,
            },
        };
        if let Some((pid, _)) = req.expected {
            // Kafka's `isValidProducerId`: a new id, or the current one (its epoch is checked below).
            if current.producer_epoch != -1 && pid != current.producer_id {
                return Err(TxnError::ProducerFenced);
            }
        }
        if current.state == TxnState::Ongoing {
            // Kafka's PrepareEpochFence: abort the open transaction under a bumped epoch (fencing the
            // old instance), and let the new one retry once the abort is complete.
            self.abort_fenced(ctx, &id);
            return Err(TxnError::ConcurrentTransactions);
        }
        if !current.state.is_idle() {
            // Markers are being written; the client backs off and retries.
            return Err(TxnError::ConcurrentTransactions);
        }
        let expected_epoch = req.expected.map(|(_, epoch)| epoch);
        let (producer_id, epoch, last_epoch) = if epoch_exhausted(current.producer_epoch)
            && expected_epoch.is_none_or(|e| e == current.producer_epoch)
        {
            let pid = self.ids.next_producer_id().map_err(TxnError::ProducerIds)?;
            (pid, 0, -1)
        } else {
            let last = self
                .last_epochs
                .get(&id)
                .filter(|(pid, _)| *pid == current.producer_id);
            let (epoch, last_epoch) = next_epoch(current.producer_epoch, expected_epoch, last)?;
            (current.producer_id, epoch, last_epoch)
        };
        let next = TxnMetadata {
            producer_id,
            producer_epoch: epoch,
            timeout_ms: req.timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            last_update_ms: ctx.now_ms(),
            start_ms: -1,
        };
        debug_assert!(next.state.can_follow(current.state));
        let record = next.record(&id);
        ctx.append(
            vec![record],
            true,
            Some(Box::new(move |s: &mut TxnShard, result, _| {
                if result.is_ok() {
                    tracing::info!(transactional_id = %id, producer_id, epoch, "initialized transactional id");
                    s.last_epochs.insert(id, (producer_id, last_epoch));
                }
            })),
        );
        Ok(ProducerIdAndEpoch {
            producer_id,
            producer_epoch: epoch,
        })
    }

    /// The metadata of `id` if `producer_id` / `producer_epoch` are its current ones (Kafka's checks
    /// shared by AddPartitionsToTxn, AddOffsetsToTxn, EndTxn and TxnOffsetCommit).
    fn check_producer(
        txns: &TxnStates,
        id: &str,
        producer_id: i64,
        producer_epoch: i16,
    ) -> Result<TxnMetadata, TxnError> {
        if id.is_empty() {
            return Err(TxnError::InvalidRequest("empty transactional id"));
        }
        let m = txns.get(id).ok_or(TxnError::InvalidProducerIdMapping)?;
        if m.producer_id != producer_id {
            return Err(TxnError::InvalidProducerIdMapping);
        }
        if m.producer_epoch != producer_epoch {
            return Err(TxnError::ProducerFenced);
        }
        Ok(m.clone())
    }

    /// Kafka's `handleAddPartitionsToTransaction` (AddOffsetsToTxn adds the group's `__consumer_offsets`
    /// partition the same way): the transaction becomes Ongoing with the partitions added; answered
    /// once durable.
    pub fn add_partitions(
        &mut self,
        ctx: &mut TCtx,
        id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: Vec<(String, i32)>,
    ) -> Result<(), TxnError> {
        let current = Self::check_producer(&self.txns, id, producer_id, producer_epoch)?;
        match current.state {
            TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence => {
                return Err(TxnError::ConcurrentTransactions)
            }
            TxnState::Ongoing if partitions.iter().all(|p| current.partitions.contains(p)) => {
                return Ok(());
            }
            TxnState::Dead => return Err(TxnError::InvalidProducerIdMapping),
            _ => {}
        }
        let now_ms = ctx.now_ms();
        let mut next = current.clone();
        if current.state.is_idle() {
            next.start_ms = now_ms;
            next.partitions.clear();
        }
        next.state = TxnState::Ongoing;
        next.partitions.extend(partitions);
        next.last_update_ms = now_ms;
        debug_assert!(next.state.can_follow(current.state));
        ctx.append(vec![next.record(id)], true, None);
        Ok(())
    }

    /// KIP-890 verification: for each partition, whether `producer_id` / `producer_epoch` have an open
    /// transaction containing it (read from the committed state).
    pub fn verify_partitions(
        committed: &TxnStates,
        id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: Vec<(String, i32)>,
    ) -> Result<Verified, TxnError> {
        let current = Self::check_producer(committed, id, producer_id, producer_epoch)?;
        Ok(partitions
            .into_iter()
            .map(|p| {
                let open = current.state == TxnState::Ongoing && current.partitions.contains(&p);
                let error = (!open).then_some(TxnError::InvalidTxnState);
                (p, error)
            })
            .collect())
    }

    /// Kafka's `endTransaction` from a client: Ongoing → PrepareCommit / PrepareAbort, answered once
    /// that is durable; the markers follow, then CompleteCommit / CompleteAbort. Retries of a finished
    /// (or finishing) EndTxn get Kafka's answers.
    pub fn end_txn(
        &mut self,
        ctx: &mut TCtx,
        id: &str,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
    ) -> Result<(), TxnError> {
        let current = Self::check_producer(&self.txns, id, producer_id, producer_epoch)?;
        match (current.state, commit) {
            (TxnState::Ongoing, _) => {
                let state = if commit {
                    TxnState::PrepareCommit
                } else {
                    TxnState::PrepareAbort
                };
                self.prepare(ctx, id, current, state, producer_epoch);
                Ok(())
            }
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => Ok(()),
            (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
                Err(TxnError::ConcurrentTransactions)
            }
            _ => Err(TxnError::InvalidTxnState),
        }
    }

    /// Aborts the open transaction of `id` under a bumped epoch, which fences the producer that opened
    /// it (Kafka's `prepareFenceProducerEpoch` then abort: timeouts and InitProducerId).
    fn abort_fenced(&mut self, ctx: &mut TCtx, id: &str) {
        let Some(current) = self.txns.get(id).cloned() else {
            return;
        };
        if current.state != TxnState::Ongoing || current.producer_epoch == i16::MAX {
            return;
        }
        let epoch = current.producer_epoch + 1;
        tracing::info!(transactional_id = %id, producer_id = current.producer_id, epoch,
            "aborting open transaction with a fencing epoch bump");
        self.last_epochs.remove(id);
        self.prepare(ctx, id, current, TxnState::PrepareAbort, epoch);
    }

    /// Writes the Prepare* record (with `epoch`), then sends the markers once it is durable.
    fn prepare(
        &mut self,
        ctx: &mut TCtx,
        id: &str,
        current: TxnMetadata,
        state: TxnState,
        epoch: i16,
    ) {
        let next = TxnMetadata {
            producer_epoch: epoch,
            state,
            last_update_ms: ctx.now_ms(),
            ..current
        };
        let txn_id = id.to_string();
        ctx.append(
            vec![next.record(id)],
            true,
            Some(Box::new(move |s: &mut TxnShard, result, ctx| {
                if result.is_ok() {
                    s.send_markers(ctx, &txn_id);
                }
            })),
        );
    }

    /// Starts writing the markers of `id`'s prepared transaction into every one of its partitions.
    fn send_markers(&mut self, ctx: &mut TCtx, id: &str) {
        let Some(m) = self.txns.get(id) else {
            return;
        };
        let commit = match m.state {
            TxnState::PrepareCommit => true,
            TxnState::PrepareAbort => false,
            _ => return,
        };
        let markers = Markers {
            producer_id: m.producer_id,
            producer_epoch: m.producer_epoch,
            commit,
            coordinator_epoch: ctx.epoch(),
            partitions: m.partitions.iter().cloned().collect(),
        };
        let (txn_id, writer) = (id.to_string(), self.markers.clone());
        let (producer_id, producer_epoch) = (m.producer_id, m.producer_epoch);
        ctx.spawn(async move {
            let result = writer.write_markers(markers).await;
            let followup: Followup<TxnShard> = Box::new(move |s, ctx| {
                s.markers_written(ctx, txn_id, producer_id, producer_epoch, result)
            });
            followup
        });
    }

    /// Markers are in every partition: Prepare* → Complete*. On failure they are sent again later
    /// (Kafka retries until they are written), unless a partition fenced them: a newer coordinator owns
    /// the transaction and this one's partition is about to be unloaded, so it stops sending.
    fn markers_written(
        &mut self,
        ctx: &mut TCtx,
        id: String,
        producer_id: i64,
        producer_epoch: i16,
        result: Result<(), MarkerError>,
    ) {
        let Some(current) = self.txns.get(&id).cloned() else {
            return;
        };
        let state = match current.state {
            TxnState::PrepareCommit => TxnState::CompleteCommit,
            TxnState::PrepareAbort => TxnState::CompleteAbort,
            _ => return,
        };
        if (current.producer_id, current.producer_epoch) != (producer_id, producer_epoch) {
            return;
        }
        if let Err(MarkerError::Fenced(e)) = result {
            tracing::warn!(transactional_id = %id, error = %e,
                "transaction markers fenced by a newer coordinator; no longer sending them");
            return;
        }
        if let Err(e) = result {
            tracing::warn!(transactional_id = %id, error = %e, "writing transaction markers failed; retrying");
            ctx.schedule_in(
                MARKER_RETRY_MS,
                Timer::RetryMarkers {
                    transactional_id: id,
                },
            );
            return;
        }
        let next = TxnMetadata {
            state,
            partitions: BTreeSet::new(),
            last_update_ms: ctx.now_ms(),
            ..current
        };
        debug_assert!(next.state.can_follow(current.state));
        ctx.append(vec![next.record(&id)], true, None);
    }

    /// Kafka's `abortTimedOutTransactions`: open transactions older than their timeout are aborted
    /// with a fencing epoch bump.
    fn abort_timed_out(&mut self, ctx: &mut TCtx) {
        let now_ms = ctx.now_ms();
        let expired: Vec<String> = self
            .txns
            .iter()
            .filter(|(_, m)| {
                m.state == TxnState::Ongoing
                    && m.start_ms >= 0
                    && now_ms.saturating_sub(m.start_ms) >= i64::from(m.timeout_ms)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            self.abort_fenced(ctx, &id);
        }
    }

    /// Tombstones for idle transactional ids not used for `transactional.id.expiration.ms` (Kafka's
    /// `removeExpiredTransactionalIds`).
    fn expire_ids(&mut self, ctx: &mut TCtx) {
        let now_ms = ctx.now_ms();
        let expiration_ms = self.config.id_expiration_ms;
        let expired: Vec<Record> = self
            .txns
            .iter()
            .filter(|(_, m)| m.state.is_idle() && now_ms - m.last_update_ms >= expiration_ms)
            .map(|(id, _)| (records::encode_key(id), None))
            .collect();
        if expired.is_empty() {
            return;
        }
        tracing::info!(
            partition = ctx.partition(),
            expired = expired.len(),
            "transactional ids expired"
        );
        ctx.append(
            expired,
            true,
            Some(Box::new(|_: &mut TxnShard, result, _| {
                if let Err(e) = result {
                    tracing::warn!(error = %e, "failed to write transactional id expiry tombstones");
                }
            })),
        );
    }
}

/// Kafka's `prepareIncrementProducerEpoch`: `(new epoch, last epoch)` for an InitProducerId of an idle
/// transactional id whose epoch is `current`. `last` is the live record of the instance's previous
/// epoch (Kafka's `lastProducerEpoch`).
fn next_epoch(
    current: i16,
    expected: Option<i16>,
    last: Option<&(i64, i16)>,
) -> Result<(i16, i16), TxnError> {
    let bumped = current + 1;
    match expected {
        // A new instance: bump, and forget the previous instance's epoch (it is fenced now).
        None => Ok((bumped, -1)),
        // The current instance recovering from an error (KIP-360), or the very first producer.
        Some(e) if current == -1 || e == current => Ok((bumped, current)),
        // A retry of a call that already bumped the epoch: same answer, no second bump.
        Some(e) if last.is_some_and(|(_, l)| *l == e && *l != -1) => Ok((current, e)),
        Some(_) => Err(TxnError::ProducerFenced),
    }
}

/// The transaction of `transactional_id`, from the committed state (reads and tests).
pub fn describe(committed: &TxnStates, transactional_id: &str) -> Option<TxnMetadata> {
    committed.get(transactional_id).cloned()
}
