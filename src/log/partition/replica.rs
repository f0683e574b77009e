//! The partition log's replication side: becoming leader or follower, follower appends of the leader's
//! bytes, truncation to a common prefix, follower progress, the high watermark and the acknowledgement
//! point (Kafka's `Partition` and `UnifiedLog` leader/follower methods).

use bytes::Bytes;
use tokio::sync::watch;

use super::super::batch::{validate_batches, BatchHeader, HEADER_LEN};
use super::super::replication::{LeaderState, Role};
use super::super::segment::{find_batch, Segment};
use super::{index_entries_max, Inner, PartitionLog};
use crate::log::LogError;

/// What the leader learned from one follower fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowerFetch {
    /// The follower caught up: the caller asks the controller to add it to the ISR.
    pub may_join: bool,
    /// Leader and partition epochs of the leader's state (the AlterPartition request carries them).
    pub leader_epoch: i32,
    pub partition_epoch: i32,
}

/// Where a follower's fetch says its log stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowerPosition {
    /// The fetch offset: the follower's log end.
    pub offset: i64,
    /// Below this its log is fsynced.
    pub durable: i64,
    /// The leader epoch the follower fetches in (-1: not given).
    pub current_leader_epoch: i32,
    /// The epoch of the last batch in its log (-1: not given).
    pub last_fetched_epoch: i32,
}

/// Keeps the whole batches of `records` that start below `upto`.
pub(super) fn cut_at(records: Bytes, upto: i64) -> Bytes {
    let mut cut = 0usize;
    while cut + HEADER_LEN <= records.len() {
        let Ok(h) = BatchHeader::parse(&records[cut..]) else {
            break;
        };
        if h.base_offset >= upto || cut + h.total_len() > records.len() {
            break;
        }
        cut += h.total_len();
    }
    records.slice(..cut)
}

impl Inner {
    /// A replicated partition starts from its checkpointed high watermark, not from the solo default
    /// (everything it holds), so it never exposes records its old leader had not committed.
    fn lower_high_watermark(&mut self, recovered: Option<i64>) {
        if let Some(h) = recovered {
            self.high_watermark = self.high_watermark.min(h);
            self.acked = self.acked.min(h);
        }
    }
}

impl PartitionLog {
    /// Recomputes the high watermark and the acknowledgement point after anything they depend on
    /// changed (an append, an fsync, a follower fetch, an ISR change) and wakes whoever waits on them.
    /// On a leader both only move forward (Kafka's `maybeIncrementLeaderHW`).
    pub(super) fn publish_marks(&self, inner: &mut Inner) {
        let Role::Leader(state) = &inner.role else {
            // Followers take the high watermark from their leader; the log end moved.
            self.end_tx.send_replace(inner.log_end);
            return;
        };
        let fsync = self.options.durable_acks_all;
        let hw = state
            .high_watermark(inner.log_end)
            .max(inner.high_watermark)
            .min(inner.log_end);
        let acked = state
            .acked(inner.log_end, inner.durable_offset, fsync)
            .max(inner.acked)
            .min(hw);
        self.end_tx.send_replace(inner.log_end);
        if hw != inner.high_watermark {
            inner.high_watermark = hw;
            self.hw_tx.send_replace(hw);
        }
        if acked != inner.acked {
            inner.acked = acked;
            self.acked_tx.send_replace(acked);
        }
    }

    /// Writes `leader-epoch-checkpoint` if an epoch was added or cut since it was last written. Called by
    /// the flusher before it publishes a new durable offset, and by truncations (off the async workers).
    pub(crate) fn write_epochs_if_dirty(&self) -> Result<(), LogError> {
        let _writer = self.epochs_writer.lock().unwrap_or_else(|e| e.into_inner());
        let text = {
            let mut inner = self.lock();
            if !inner.epochs.is_dirty() {
                return Ok(());
            }
            inner.epochs.mark_clean();
            inner.epochs.to_text()
        };
        let written = crate::log::checkpoint::write_text(
            self.dir(),
            crate::log::epoch_cache::FILE_NAME,
            &text,
        );
        if let Err(e) = written {
            // Written again by the next flush.
            self.lock().epochs.mark_dirty();
            return Err(LogError::Io(e));
        }
        Ok(())
    }

    /// This broker leads the partition in `leader_epoch` with `isr` (followers only) in sync among
    /// `followers`. A new epoch starts at the log end (Kafka's `makeLeader`); the same epoch with a newer
    /// partition epoch only updates the ISR.
    ///
    /// The epoch checkpoint is left dirty for the partition's next flush (which writes it before it
    /// publishes a durable offset) or its close, not written here: a fsynced file per partition made
    /// CreateTopics of 1,000 partitions pay 2,000 fsyncs before it answered. Losing the entry in a crash
    /// loses nothing: records of the new epoch above the recovery point carry it in their batch headers
    /// (recovery rebuilds it from them), and with none the entry would say "epoch E starts at the log
    /// end", which the image's leadership, applied again at start-up, assigns again.
    pub fn become_leader(
        &self,
        leader_epoch: i32,
        partition_epoch: i32,
        isr: Vec<i32>,
        followers: &[i32],
        now_ms: i64,
    ) {
        {
            let mut inner = self.lock();
            match &mut inner.role {
                Role::Leader(s) if s.leader_epoch == leader_epoch => {
                    // The default role (a solo leader of epoch 0) never assigned its epoch: do it once.
                    let end = inner.log_end;
                    inner.epochs.assign(leader_epoch, end);
                    let Role::Leader(s) = &mut inner.role else {
                        return;
                    };
                    s.partition_epoch = partition_epoch;
                    s.pending_add.retain(|id| !isr.contains(id));
                    s.pending_remove.retain(|id| isr.contains(id));
                    s.isr = isr;
                    for id in followers {
                        s.followers
                            .entry(*id)
                            .or_insert_with(|| super::super::replication::Progress::new(now_ms));
                    }
                    s.followers.retain(|id, _| followers.contains(id));
                }
                _ => {
                    let end = inner.log_end;
                    let recovered = inner.recovered_high_watermark.take();
                    if !followers.is_empty() {
                        inner.lower_high_watermark(recovered);
                    }
                    inner.epochs.assign(leader_epoch, end);
                    inner.role = Role::Leader(LeaderState::new(
                        leader_epoch,
                        partition_epoch,
                        isr,
                        followers,
                        end,
                        now_ms,
                    ));
                }
            }
            self.publish_marks(&mut inner);
        }
    }

    /// This broker follows the partition's leader of `leader_epoch` (or waits for one). Pending acks=all
    /// waiters are woken and fail with NOT_LEADER_OR_FOLLOWER, as Kafka answers them.
    pub fn become_follower(&self, leader_epoch: i32) {
        let mut inner = self.lock();
        let recovered = inner.recovered_high_watermark.take();
        inner.lower_high_watermark(recovered);
        inner.role = Role::Follower { leader_epoch };
        drop(inner);
        self.acked_tx.send_modify(|_| {});
    }

    /// The leader epoch this broker last knew for the partition, and whether it leads.
    pub fn role_epoch(&self) -> (i32, bool) {
        match &self.lock().role {
            Role::Leader(s) => (s.leader_epoch, true),
            Role::Follower { leader_epoch } => (*leader_epoch, false),
        }
    }

    /// `min.insync.replicas` in force for the partition.
    pub fn min_insync_replicas(&self) -> i32 {
        self.lock().config.min_insync_replicas
    }

    /// Number of in-sync replicas, the leader included (1 on a follower).
    pub fn isr_size(&self) -> usize {
        match &self.lock().role {
            Role::Leader(s) => s.isr_size(),
            Role::Follower { .. } => 1,
        }
    }

    /// A fetch from follower `replica` at `fetch_offset`, its log fsynced below `durable`: updates its
    /// progress, moves the high watermark, and says whether it may join the ISR. `Err(NotLeader)` when
    /// this broker does not lead the partition in `fetch.current_leader_epoch` (when given) or the fetcher
    /// is not one of its replicas. A follower whose log diverges from ours (its last fetched epoch ends
    /// before its fetch offset here) is not counted: its offsets hold other records until it truncates
    /// (Kafka updates the follower's fetch state only when there is no diverging epoch).
    /// `isr_eligible`: the follower's broker may join the ISR (registered, unfenced, not shutting down;
    /// Kafka's `isReplicaIsrEligible`, KIP-841). A pending addition counts towards the high watermark
    /// until the controller answers, so proposing a broker that is leaving would hold every acks=all
    /// produce until a controller refuses it — seconds when the leaving broker was the controller.
    pub fn on_follower_fetch(
        &self,
        replica: i32,
        fetch: FollowerPosition,
        isr_eligible: bool,
        now_ms: i64,
    ) -> Result<FollowerFetch, LogError> {
        let mut inner = self.lock();
        let end = inner.log_end;
        let diverges = fetch.last_fetched_epoch >= 0 && {
            let (e, epoch_end) = inner.epochs.end_offset_for(fetch.last_fetched_epoch, end);
            e < 0 || epoch_end < 0 || e < fetch.last_fetched_epoch || epoch_end < fetch.offset
        };
        let Role::Leader(s) = &mut inner.role else {
            return Err(LogError::NotLeader);
        };
        if fetch.current_leader_epoch >= 0 && fetch.current_leader_epoch != s.leader_epoch {
            return Err(LogError::NotLeader);
        }
        if diverges {
            return Ok(FollowerFetch {
                may_join: false,
                leader_epoch: s.leader_epoch,
                partition_epoch: s.partition_epoch,
            });
        }
        if !s.on_fetch(replica, fetch.offset.min(end), fetch.durable, end, now_ms) {
            return Err(LogError::NotLeader);
        }
        let (leader_epoch, partition_epoch) = (s.leader_epoch, s.partition_epoch);
        self.publish_marks(&mut inner);
        let hw = inner.high_watermark;
        let may_join = match &mut inner.role {
            Role::Leader(s) if isr_eligible && s.may_join(replica, hw) => {
                s.pending_add.push(replica);
                true
            }
            _ => false,
        };
        Ok(FollowerFetch {
            may_join,
            leader_epoch,
            partition_epoch,
        })
    }

    /// In-sync followers that fell behind for longer than `lag_max_ms`; they are marked as being removed
    /// (still counted until the controller commits the new ISR). Returns the ISR to propose with its
    /// epochs, or `None` when nothing changes.
    pub fn shrink_isr(&self, now_ms: i64, lag_max_ms: i64) -> Option<(Vec<i32>, i32, i32)> {
        let mut inner = self.lock();
        let Role::Leader(s) = &mut inner.role else {
            return None;
        };
        let lagging = s.lagging(now_ms, lag_max_ms);
        if lagging.is_empty() {
            return None;
        }
        s.pending_remove.extend(&lagging);
        let isr = s
            .isr
            .iter()
            .copied()
            .filter(|id| !s.pending_remove.contains(id))
            .collect();
        Some((isr, s.leader_epoch, s.partition_epoch))
    }

    /// An AlterPartition failed or was superseded: forget the changes in flight so they are proposed
    /// again if still needed.
    pub fn clear_pending_isr(&self) {
        let mut inner = self.lock();
        if let Role::Leader(s) = &mut inner.role {
            s.pending_add.clear();
            s.pending_remove.clear();
        }
        self.publish_marks(&mut inner);
    }

    /// The ISR the leader would propose with `replica` added (followers only), with its epochs.
    pub fn isr_with(&self, replica: i32) -> Option<(Vec<i32>, i32, i32)> {
        let inner = self.lock();
        let Role::Leader(s) = &inner.role else {
            return None;
        };
        let mut isr: Vec<i32> = s
            .isr
            .iter()
            .copied()
            .filter(|id| !s.pending_remove.contains(id))
            .collect();
        if !isr.contains(&replica) {
            isr.push(replica);
        }
        Some((isr, s.leader_epoch, s.partition_epoch))
    }

    /// Follower: the leader's high watermark, capped by what this replica holds.
    pub fn set_follower_high_watermark(&self, leader_hw: i64) {
        let mut inner = self.lock();
        if matches!(inner.role, Role::Leader(_)) {
            return;
        }
        let hw = leader_hw.min(inner.log_end).max(inner.log_start);
        if hw != inner.high_watermark {
            inner.high_watermark = hw;
            drop(inner);
            self.hw_tx.send_replace(hw);
        }
    }

    /// `(epoch, end offset)` for a requested leader epoch (OffsetForLeaderEpoch, diverging-epoch checks).
    pub fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64) {
        let inner = self.lock();
        inner.epochs.end_offset_for(epoch, inner.log_end)
    }

    /// The newest leader epoch in the log (what a follower sends as its last fetched epoch).
    pub fn latest_epoch(&self) -> Option<i32> {
        self.lock().epochs.latest_epoch()
    }

    /// Watches the log end (a leader's follower fetches long-poll on it).
    pub fn subscribe_end(&self) -> watch::Receiver<i64> {
        self.end_tx.subscribe()
    }

    /// Follower: appends the leader's batches byte for byte (offsets, epochs and CRCs as the leader wrote
    /// them), replaying producer state and leader epochs from their headers. Returns the new log end.
    pub fn append_as_follower(&self, records: Bytes, now_ms: i64) -> Result<i64, LogError> {
        if records.is_empty() {
            return Ok(self.offsets().log_end);
        }
        let headers = validate_batches(&records, usize::MAX)?;
        let mut inner = self.lock();
        if inner.closed {
            return Err(LogError::Deleted);
        }
        if matches!(inner.role, Role::Leader(_)) {
            return Err(LogError::NotLeader);
        }
        // Batches wholly below the log end were fetched before a truncation raced: skip them.
        let skip = headers
            .iter()
            .take_while(|h| h.last_offset() < inner.log_end)
            .count();
        let Some(first) = headers.get(skip) else {
            return Ok(inner.log_end);
        };
        if first.base_offset != inner.log_end {
            return Err(LogError::NotContiguous {
                got: first.base_offset,
                log_end: inner.log_end,
            });
        }
        let from: usize = headers[..skip].iter().map(BatchHeader::total_len).sum();
        let headers = &headers[skip..];
        let last = headers[headers.len() - 1];
        let bytes = (records.len() - from) as u64;
        let max_timestamp = headers.iter().map(|h| h.max_timestamp).max().unwrap_or(-1);
        self.ensure_on_disk(&mut inner)?;
        self.maybe_roll(&mut inner, bytes, last.last_offset(), max_timestamp, now_ms)?;
        let interval = u64::from(inner.config.index_interval_bytes);
        let Some(active) = inner.segments.last_mut() else {
            return Err(LogError::Io(std::io::Error::other(
                "partition has no segment",
            )));
        };
        let size_before = active.size_bytes();
        if let Err(e) = active.append(&records[from..], headers, interval) {
            if let Ok(file) = active.file() {
                let _ = file.set_len(size_before);
            }
            return Err(LogError::Io(e));
        }
        if size_before == 0 {
            inner.active_first_timestamp = Some(first.max_timestamp);
        }
        let mut messages = 0i64;
        let controls = crate::log::txn::end_markers(headers, &records.slice(from..));
        let mut completed = Vec::new();
        for (i, h) in headers.iter().enumerate() {
            inner.epochs.assign(h.partition_leader_epoch, h.base_offset);
            let control = controls.get(i).copied().flatten();
            completed.extend(inner.producers.replay(h, control));
            messages += i64::from(h.record_count);
        }
        if !completed.is_empty() {
            self.index_aborted(&mut inner, &completed, last.next_offset());
        }
        inner.log_end = last.next_offset();
        inner.unflushed_messages += messages;
        let end = inner.log_end;
        self.publish_marks(&mut inner);
        drop(inner);
        self.count_in(
            bytes,
            (last.last_offset() - first.base_offset + 1).max(0) as u64,
        );
        if self.options.durable_acks_all {
            // Followers report fsynced progress: flush now rather than on the flush.* schedule.
            self.request_flush();
        }
        Ok(end)
    }

    /// Empties the log and restarts it at `offset` (Kafka's `truncateFullyAndStartAt`): a follower whose log
    /// end fell below its leader's log start (retention or DeleteRecords ran there while it was away) can
    /// neither fetch what it misses nor keep what it has. Every segment goes; one empty segment starts at
    /// `offset`, which becomes log start, log end and high watermark; producer state, epochs and the
    /// aborted-transaction index are cleared (they are rebuilt from the leader's batches). Blocking.
    pub fn truncate_fully_and_start_at(&self, offset: i64) -> Result<(), LogError> {
        let mut removed = Vec::new();
        {
            let mut inner = self.lock();
            if inner.closed {
                return Err(LogError::Deleted);
            }
            // The log start must persist (in the folder's first segment name).
            self.ensure_on_disk(&mut inner)?;
            // Old files first: a segment based at `offset` would share the new one's file names.
            for seg in std::mem::take(&mut inner.segments) {
                removed.extend(seg.rename_deleted()?);
            }
            inner.txn_index.delete_below(self.dir(), i64::MAX)?;
            let now = crate::log::partition::now_ms();
            let entries_max = index_entries_max(&inner.config);
            let seg = Segment::create(self.dir(), offset, entries_max, now, self.file_cache())?;
            inner.segments.push(seg);
            inner.log_start = offset;
            inner.log_end = offset;
            inner.high_watermark = offset;
            inner.acked = offset;
            inner.durable_offset = offset;
            inner.recovery_point = offset;
            inner.producers = super::super::producer_state::ProducerStateManager::new();
            inner.epochs.clear();
            inner.pending_snapshot = None;
            inner.active_first_timestamp = None;
            inner.active_roll_jitter_ms = None;
            inner.cleaner_checkpoint = None;
            inner.dir_needs_sync = true;
            inner.clean_at = None;
            tracing::warn!(topic = %self.topic(), partition = self.partition(), offset, "follower log below its leader's log start: emptied it to restart there");
            self.end_tx.send_replace(offset);
            self.hw_tx.send_replace(offset);
        }
        for p in removed {
            if let Err(e) = crate::log::fs::remove_file(&p) {
                tracing::warn!(path = %p.display(), error = %e, "cannot remove truncated segment");
            }
        }
        super::super::producer_state::delete_snapshots_above(self.dir(), -1)?;
        self.write_epochs_if_dirty()?;
        self.request_flush();
        Ok(())
    }

    /// Producer state and the aborted-transaction index after a truncation to `end`, rebuilt from the
    /// newest snapshot at or below `end` plus the log after it, as Kafka's `rebuildProducerState`: what
    /// the cut tail did (an epoch bump, a marker closing a transaction, a coordinator epoch) is undone,
    /// so a transaction whose marker was cut is open again and holds the LSO.
    fn rebuild_producers(&self, inner: &mut Inner, end: i64, now_ms: i64) -> Result<(), LogError> {
        super::super::producer_state::delete_snapshots_above(self.dir(), end)?;
        let snapshots = super::super::producer_state::list_snapshot_files(self.dir())?;
        let first_base = inner.segments.first().map_or(end, |s| s.base_offset);
        let mut producers = super::super::recovery::load_producers(
            self.dir(),
            &inner.segments,
            &snapshots,
            false,
            first_base,
            end,
            &mut inner.txn_index,
        )?;
        producers.expire(now_ms, self.options.producer_id_expiration_ms);
        inner.producers = producers;
        Ok(())
    }

    /// Cuts the log back to `offset` (a follower whose tail diverges from its new leader's, KIP-101):
    /// segments wholly above go, the one holding `offset` is cut at the batch containing it and its
    /// indexes rebuilt; producer state, epochs and watermarks follow. Blocking (file I/O).
    pub fn truncate_to(&self, offset: i64) -> Result<(), LogError> {
        let mut removed = Vec::new();
        {
            let mut inner = self.lock();
            if offset >= inner.log_end {
                return Ok(());
            }
            self.ensure_on_disk(&mut inner)?;
            let offset = offset.max(inner.log_start);
            while inner.segments.len() > 1
                && inner
                    .segments
                    .last()
                    .is_some_and(|s| s.base_offset >= offset)
            {
                if let Some(seg) = inner.segments.pop() {
                    removed.extend(seg.rename_deleted()?);
                }
            }
            let now = crate::log::partition::now_ms();
            let entries_max = index_entries_max(&inner.config);
            let interval = u64::from(inner.config.index_interval_bytes);
            let Some(active) = inner.segments.last() else {
                return Err(LogError::Io(std::io::Error::other(
                    "partition has no segment",
                )));
            };
            let base = active.base_offset;
            let cut = if offset <= base {
                0
            } else {
                find_batch(&active.read_view(offset)?, offset)?
                    .map_or(active.size_bytes(), |(pos, _)| pos)
            };
            active.file()?.set_len(cut)?;
            inner.segments.pop();
            let (seg, _) = Segment::open(
                self.dir(),
                base,
                entries_max,
                interval,
                false,
                now,
                self.file_cache(),
            )?;
            let end = seg.next_offset.max(seg.base_offset);
            inner.segments.push(seg);
            inner.log_end = end;
            inner.high_watermark = inner.high_watermark.min(end);
            inner.acked = inner.acked.min(end);
            inner.durable_offset = inner.durable_offset.min(end);
            inner.recovery_point = inner.recovery_point.min(end);
            self.rebuild_producers(&mut inner, end, now)?;
            inner.epochs.truncate_from_end(end);
            inner.pending_snapshot = None;
            inner.active_first_timestamp = None;
            inner.dir_needs_sync = true;
            inner.clean_at = None;
            tracing::info!(topic = %self.topic(), partition = self.partition(), offset = end, "truncated the log to match the leader");
            self.end_tx.send_replace(end);
            self.hw_tx.send_replace(inner.high_watermark);
        }
        for p in removed {
            if let Err(e) = crate::log::fs::remove_file(&p) {
                tracing::warn!(path = %p.display(), error = %e, "cannot remove truncated segment");
            }
        }
        super::super::producer_state::delete_snapshots_above(self.dir(), self.offsets().log_end)?;
        self.write_epochs_if_dirty()?;
        self.request_flush();
        Ok(())
    }
}
