//! One partition's log: validates and appends batches to the active segment, rolls segments, serves reads,
//! tracks offsets and producer state, and cooperates with the flusher for acks=all durability.
//!
//! Concurrency: all mutable state sits in one `std::sync::Mutex<Inner>` held only for short, non-blocking
//! sections (a `pwrite` to the page cache at most, never an fsync, never across `.await`). Reads take a
//! snapshot of the segment file and bounds under the lock and `pread` outside it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use bytes::{Bytes, BytesMut};
use tokio::sync::watch;

use super::batch::{
    stamp_base_offset, stamp_create_time_max, stamp_leader_epoch, stamp_log_append_time,
    validate_batches, BatchHeader, BatchRecords, HEADER_LEN,
};
use super::checkpoint::sync_dir;
use super::data_dir::DataDirSync;
use super::epoch_cache::EpochCache;
use super::file_cache::FileCache;
use super::flush::Flusher;
use super::page_cache::PageCacheTrim;
use super::producer_state::{write_snapshot, ProducerStateManager, Verdict};
use super::replication::Role;
use super::segment::{find_batch, read_batches, Segment, SegmentId};
use super::validate::{validate_batch, Origin, PartitionName, Rules};
use super::{AppendInfo, LogConfig, LogError, Offsets, ReadResult, StoreOptions};

mod replica;
mod slice;
pub use replica::{FollowerFetch, FollowerPosition};
pub use slice::{FileSlice, ReadBound, Records, SliceRead};

/// Leader epoch of a partition whose broker was never told another (a fresh single node).
pub const LEADER_EPOCH: i32 = 0;

/// Largest segment accepted, whatever `segment.bytes` says: index positions are 32-bit.
pub const SEGMENT_BYTES_MAX: u64 = i32::MAX as u64;

/// Mutable state of a partition, guarded by [`PartitionLog::inner`].
pub(crate) struct Inner {
    /// Segments in offset order; the last one is active (takes appends). Never empty.
    pub(crate) segments: Vec<Segment>,
    /// First readable offset; ≥ first segment's base offset, ≤ `log_end`.
    pub(crate) log_start: i64,
    /// Largest log start known to be in a durable `log-start-offset-checkpoint` (or implied by the
    /// segments on disk); DeleteRecords waits for this to reach the new start.
    pub(crate) log_start_durable: i64,
    /// Offset of the next record appended.
    pub(crate) log_end: i64,
    /// Records below this are committed and readable by consumers; ≤ `log_end`.
    pub(crate) high_watermark: i64,
    /// acks=all appends below this are answered: on every in-sync replica (and fsynced there when
    /// `acks.all.fsync`); ≤ `high_watermark`.
    pub(crate) acked: i64,
    /// High watermark read from `replication-offset-checkpoint` at open: a replicated partition starts
    /// from it when it first learns its role (a solo one never needs it).
    pub(crate) recovered_high_watermark: Option<i64>,
    /// This broker's role for the partition, and the leader's view of its followers.
    pub(crate) role: Role,
    /// First offset of each leader epoch (`leader-epoch-checkpoint`).
    pub(crate) epochs: EpochCache,
    /// Every offset below this is fdatasynced; ≤ `log_end`.
    pub(crate) durable_offset: i64,
    /// Offset from which recovery must rescan after a crash (data and indexes below it are durable).
    pub(crate) recovery_point: i64,
    /// Idempotent producer state, updated atomically with appends.
    pub(crate) producers: ProducerStateManager,
    /// Aborted transactions (`.txnindex` files), appended with abort markers.
    pub(crate) txn_index: super::txn_index::TxnIndex,
    /// Messages appended since the last flush (`flush.messages`).
    pub(crate) unflushed_messages: i64,
    /// Wall time of the last completed flush (`flush.ms`).
    pub(crate) last_flush_ms: i64,
    /// The folder gained or lost entries since its last fsync.
    pub(crate) dir_needs_sync: bool,
    /// False while the partition exists in memory only (created lazily, never written): its folder and
    /// first segment appear on the first append or truncation ([`PartitionLog::ensure_on_disk`]). A crash
    /// before that loses nothing: the metadata places the partition here again and it starts empty.
    pub(crate) on_disk: bool,
    /// Generation of this partition's folder creation in the data folder (`DataDirSync`) whose fsync the
    /// next flush must make before it publishes a durable offset; 0 when there is none.
    pub(crate) data_dir_sync: u64,
    /// Producer state to snapshot at this offset (taken at roll, written by the flusher).
    pub(crate) pending_snapshot: Option<(i64, ProducerStateManager)>,
    /// Set when the partition is deleted or the store shut down; appends then fail.
    pub(crate) closed: bool,
    /// Last fsync failure; once set, acks=all waiters fail (Kafka takes the log dir offline).
    pub(crate) flush_error: Option<String>,
    /// `segment.ms` clock of the active segment: its first batch's max timestamp (-1 if it has none);
    /// `None` until the first append or, after open, until read back from the file.
    pub(crate) active_first_timestamp: Option<i64>,
    /// `segment.jitter.ms` drawn for the active segment; `None` until first needed.
    pub(crate) active_roll_jitter_ms: Option<i64>,
    /// Topic settings in force.
    pub(crate) config: LogConfig,
    /// False for partitions found on disk at open until the first `get_or_create` supplies the config.
    pub(crate) config_set: bool,
    /// Compaction: offsets below this were cleaned by an earlier pass; persisted in
    /// `cleaner-offset-checkpoint`. `None` until the first cleaning (or checkpoint entry).
    pub(crate) cleaner_checkpoint: Option<i64>,
    /// Write-behind page-cache trimming (`log.page.cache.window.bytes`).
    pub(crate) page_cache: PageCacheTrim,
    /// Log end at a clean open whose producer snapshot sits at that offset; while `log_end` still equals
    /// it, nothing was appended and a shutdown need not rewrite the snapshot or fsync indexes again.
    pub(crate) clean_at: Option<i64>,
}

impl Inner {
    /// First offset the cleaner has not cleaned: its checkpoint, reset to the log start when that is
    /// below the log start or beyond the log end (Kafka's `LogCleanerManager.cleanableOffsets`).
    pub(crate) fn cleaner_first_dirty(&self) -> i64 {
        match self.cleaner_checkpoint {
            Some(o) if o >= self.log_start && o <= self.log_end => o,
            _ => self.log_start,
        }
    }
}

/// One partition's log.
pub struct PartitionLog {
    /// Topic name.
    topic: String,
    /// Partition number.
    partition: i32,
    /// `<data dir>/<topic>-<partition>`.
    dir: PathBuf,
    /// Weak self-reference handed to the flusher queue.
    self_ref: Weak<PartitionLog>,
    /// Store-wide options (durability, producer expiry).
    options: Arc<StoreOptions>,
    /// The store's flusher thread.
    flusher: Arc<Flusher>,
    /// The store's bound on open segment files.
    file_cache: Arc<FileCache>,
    /// The data folder's group-committed fsync (for this folder's entry when it is created lazily).
    data_dir: Arc<DataDirSync>,
    /// All mutable state; short critical sections only.
    pub(crate) inner: Mutex<Inner>,
    /// Serialises writes of the leader-epoch checkpoint (taken outside `inner`, around the file I/O): two
    /// writers sharing its temp file could fail, or leave the older text renamed last.
    epochs_writer: Mutex<()>,
    /// Publishes the high watermark; consumers' long-polling fetches wake on it.
    hw_tx: watch::Sender<i64>,
    /// Publishes the log end; followers' long-polling fetches wake on it.
    end_tx: watch::Sender<i64>,
    /// Publishes the durable (fsynced) offset; followers wait on it before reporting progress.
    durable_tx: watch::Sender<i64>,
    /// Publishes the acknowledgement point; acks=all waiters watch it.
    acked_tx: watch::Sender<i64>,
    /// Bytes and records in and out since start, for metrics (relaxed atomics, one add per call).
    io: IoStats,
}

/// Traffic counters of one partition (metrics sum them per topic).
#[derive(Debug, Default)]
struct IoStats {
    /// Record-batch bytes appended.
    bytes_in: AtomicU64,
    /// Records appended.
    records_in: AtomicU64,
    /// Record-batch bytes returned by reads.
    bytes_out: AtomicU64,
}

/// A partition's traffic counters at one moment.
#[derive(Debug, Default, Clone, Copy)]
pub struct IoStatsSnapshot {
    /// Record-batch bytes appended since start.
    pub bytes_in: u64,
    /// Records appended since start.
    pub records_in: u64,
    /// Record-batch bytes read since start.
    pub bytes_out: u64,
}

/// Wall clock in milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A segment's `segment.jitter.ms` draw: uniform below `min(segment.jitter.ms, segment.ms)`, as Kafka's
/// `LogConfig.randomSegmentJitter`.
fn roll_jitter_ms(config: &LogConfig) -> i64 {
    let bound = config.segment_jitter_ms.min(config.segment_ms);
    if bound <= 0 {
        0
    } else {
        rand::random_range(0..bound)
    }
}

/// Index capacity (entries) from `segment.index.bytes`.
pub(crate) fn index_entries_max(config: &LogConfig) -> usize {
    (config.segment_index_bytes as usize / super::index::OFFSET_ENTRY_BYTES).max(1)
}

impl PartitionLog {
    /// Wraps recovered state (see `recovery::load`) of partition `(topic, partition)` in folder `dir`.
    pub(crate) fn from_inner(
        (topic, partition): (&str, i32),
        dir: PathBuf,
        options: Arc<StoreOptions>,
        flusher: Arc<Flusher>,
        file_cache: Arc<FileCache>,
        data_dir: Arc<DataDirSync>,
        mut inner: Inner,
    ) -> Arc<PartitionLog> {
        let active_size = inner.segments.last().map_or(0, Segment::size_bytes);
        inner.page_cache = PageCacheTrim::new(options.page_cache_window_bytes, active_size);
        let hw = inner.high_watermark;
        let end = inner.log_end;
        let durable = inner.durable_offset;
        let acked = inner.acked;
        Arc::new_cyclic(|self_ref| PartitionLog {
            topic: topic.to_string(),
            partition,
            dir,
            self_ref: self_ref.clone(),
            options,
            flusher,
            file_cache,
            data_dir,
            inner: Mutex::new(inner),
            epochs_writer: Mutex::new(()),
            hw_tx: watch::channel(hw).0,
            end_tx: watch::channel(end).0,
            durable_tx: watch::channel(durable).0,
            acked_tx: watch::channel(acked).0,
            io: IoStats::default(),
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Topic name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Partition number.
    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// The partition folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// True once the partition's folder and first segment exist (see [`ensure_on_disk`](Self::ensure_on_disk)).
    pub fn is_on_disk(&self) -> bool {
        self.lock().on_disk
    }

    /// Creates the folder and first segment of a partition created lazily, before the first thing that
    /// must persist (an append, a truncation); a no-op once they exist. The folder's fsync and the data
    /// folder's are left to the flusher, which makes both before it publishes a durable offset (as for a
    /// rolled segment). Two journal operations, paid by the first write rather than by CreateTopics.
    pub(crate) fn ensure_on_disk(&self, inner: &mut Inner) -> Result<(), LogError> {
        if inner.on_disk {
            return Ok(());
        }
        if inner.closed {
            return Err(LogError::Deleted);
        }
        for seg in &inner.segments {
            // The first use of a pending segment's file creates it, and the folder with it.
            seg.file()?;
        }
        inner.on_disk = true;
        inner.dir_needs_sync = true;
        inner.data_dir_sync = self.data_dir.created();
        tracing::debug!(topic = %self.topic, partition = self.partition, "created the partition folder");
        Ok(())
    }

    /// The store's file cache (segments created or reopened for this partition count against it).
    pub(crate) fn file_cache(&self) -> &Arc<FileCache> {
        &self.file_cache
    }

    /// Validates and appends one or more v2 batches from the broker's own writers (coordinators),
    /// stamping offsets in place; see [`append_from`](Self::append_from).
    pub fn append(&self, records: Bytes, now_ms: i64) -> Result<AppendInfo, LogError> {
        self.append_from(Origin::Internal, records, now_ms)
    }

    /// Validates and appends one or more v2 batches, stamping offsets in place.
    ///
    /// Checks batch headers (CRC, sizes) and walks every record as Kafka's `LogValidator` does
    /// (`validate.rs`; client batches also get the client-only rules), checks producer sequences, copies
    /// the input at most once, writes to the page cache and publishes the new high watermark. For
    /// acks=all, await [`wait_durable`](Self::wait_durable)`(info.last_offset, info.leader_epoch)` afterwards.
    pub fn append_from(
        &self,
        origin: Origin,
        records: Bytes,
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        let bytes = records.len() as u64;
        let info = self.append_batches(origin, records, now_ms)?;
        if !info.duplicate {
            self.count_in(
                bytes,
                (info.last_offset - info.base_offset + 1).max(0) as u64,
            );
        }
        Ok(info)
    }

    /// Counts appended bytes and records for metrics.
    fn count_in(&self, bytes: u64, records: u64) {
        self.io.bytes_in.fetch_add(bytes, Ordering::Relaxed);
        self.io.records_in.fetch_add(records, Ordering::Relaxed);
    }

    /// Traffic counters since start.
    pub fn io_stats(&self) -> IoStatsSnapshot {
        IoStatsSnapshot {
            bytes_in: self.io.bytes_in.load(Ordering::Relaxed),
            records_in: self.io.records_in.load(Ordering::Relaxed),
            bytes_out: self.io.bytes_out.load(Ordering::Relaxed),
        }
    }

    fn append_batches(
        &self,
        origin: Origin,
        records: Bytes,
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        let config = self.lock().config.clone();
        let log_append_time = config.log_append_time;
        let mut headers = validate_batches(&records, config.max_message_bytes as usize)?;
        // Kafka's `LogValidator`, outside the partition lock: it is the CPU-heavy part for compressed
        // batches. A CreateTime batch whose `maxTimestamp` is not its records' largest timestamp is
        // corrected, as Kafka's `setMaxTimestamp` does (the time index and retention read it).
        let rules = Rules {
            compacted: config.cleanup_compact,
            log_append_time,
            timestamp_before_max_ms: config.timestamp_before_max_ms,
            timestamp_after_max_ms: config.timestamp_after_max_ms,
            now_ms,
        };
        let name = PartitionName(&self.topic, self.partition);
        let mut fixes: Vec<Option<i64>> = Vec::with_capacity(headers.len());
        let mut at = 0usize;
        for h in &headers {
            let len = h.total_len();
            let v = validate_batch(h, &records[at..at + len], origin, &rules, name)?;
            let wrong = h.max_timestamp != v.max_timestamp || h.is_log_append_time();
            fixes.push((!log_append_time && wrong).then_some(v.max_timestamp));
            at += len;
        }
        let restamp = log_append_time || fixes.iter().any(Option::is_some);

        let mut inner = self.lock();
        if inner.closed {
            return Err(LogError::Deleted);
        }
        let base_offset = inner.log_end;
        let Role::Leader(leader) = &inner.role else {
            return Err(LogError::NotLeader);
        };
        let epoch = leader.leader_epoch;
        let controls = super::txn::end_markers(&headers, &records);
        let (verdict, completed) =
            inner
                .producers
                .validate_txn(&headers, &controls, base_offset, now_ms)?;
        let overlay = match verdict {
            Verdict::Duplicate(b) => {
                return Ok(AppendInfo {
                    base_offset: b.first_offset,
                    last_offset: b.last_offset,
                    log_append_time_ms: if log_append_time { now_ms } else { -1 },
                    log_start_offset: inner.log_start,
                    duplicate: true,
                    leader_epoch: epoch,
                });
            }
            Verdict::Append(overlay) => overlay,
        };
        // Base offset and leader epoch sit outside the CRC, in the 61-byte header: stamp a copy of each
        // header and write it ahead of the untouched body (pwritev), so the records are never copied.
        // LogAppendTime rewrites maxTimestamp and the CRC, which covers the body: that path copies.
        let mut stamped: Vec<[u8; HEADER_LEN]> = Vec::with_capacity(headers.len());
        let mut copied = restamp.then(|| BytesMut::from(&records[..]));
        let mut pos = 0usize;
        let mut next = base_offset;
        let mut messages = 0i64;
        for (h, fix) in headers.iter_mut().zip(&fixes) {
            let len = h.total_len();
            h.base_offset = next;
            h.partition_leader_epoch = epoch;
            match copied.as_mut() {
                Some(buf) => {
                    let batch = &mut buf[pos..pos + len];
                    stamp_base_offset(batch, next);
                    stamp_leader_epoch(batch, epoch);
                    if log_append_time {
                        stamp_log_append_time(batch, now_ms);
                    } else if let Some(max) = *fix {
                        stamp_create_time_max(batch, max);
                    }
                    // Attributes, maxTimestamp and the CRC may have changed: keep `h` equal to the
                    // header written.
                    *h = BatchHeader::parse(batch)?;
                }
                None => {
                    let mut header = [0u8; HEADER_LEN];
                    header.copy_from_slice(&records[pos..pos + HEADER_LEN]);
                    stamp_base_offset(&mut header, next);
                    stamp_leader_epoch(&mut header, epoch);
                    stamped.push(header);
                }
            }
            next = h.next_offset();
            messages += i64::from(h.record_count);
            pos += len;
        }
        let mut parts: Vec<&[u8]> = Vec::with_capacity(2 * headers.len());
        match &copied {
            Some(buf) => parts.push(&buf[..]),
            None => {
                let mut pos = 0usize;
                for (h, header) in headers.iter().zip(&stamped) {
                    let len = h.total_len();
                    parts.push(&header[..]);
                    parts.push(&records[pos + HEADER_LEN..pos + len]);
                    pos += len;
                }
            }
        }
        let last_offset = next - 1;
        let max_timestamp = headers.iter().map(|h| h.max_timestamp).max().unwrap_or(-1);
        self.ensure_on_disk(&mut inner)?;
        self.maybe_roll(
            &mut inner,
            records.len() as u64,
            last_offset,
            max_timestamp,
            now_ms,
        )?;
        let interval = u64::from(inner.config.index_interval_bytes);
        let Some(active) = inner.segments.last_mut() else {
            return Err(LogError::Io(std::io::Error::other(
                "partition has no segment",
            )));
        };
        let size_before = active.size_bytes();
        if let Err(e) = active.append_parts(&parts, &headers, interval) {
            // Never leave a partial batch behind: cut the file back (best effort; recovery also would).
            if let Ok(file) = active.file() {
                let _ = file.set_len(size_before);
            }
            tracing::error!(topic = %self.topic, partition = self.partition, error = %e, "append failed");
            return Err(LogError::Io(e));
        }
        let active_size = active.size_bytes();
        if size_before == 0 {
            inner.active_first_timestamp = headers.first().map(|h| h.max_timestamp);
        }
        let trim_due = inner.page_cache.due(active_size);
        inner.producers.commit(overlay);
        if !completed.is_empty() {
            self.index_aborted(&mut inner, &completed, next);
        }
        inner.epochs.assign(epoch, base_offset);
        inner.log_end = next;
        inner.unflushed_messages += messages;
        let flush_due = inner.unflushed_messages >= inner.config.flush_messages;
        let log_start = inner.log_start;
        self.publish_marks(&mut inner);
        drop(inner);
        if flush_due {
            self.request_flush();
        }
        if trim_due {
            self.flusher.request_trim(self.self_ref.clone());
        }
        Ok(AppendInfo {
            base_offset,
            last_offset,
            log_append_time_ms: if log_append_time { now_ms } else { -1 },
            log_start_offset: log_start,
            duplicate: false,
            leader_epoch: epoch,
        })
    }

    /// Rolls the active segment if the incoming `bytes` ending at `last_offset`, with largest timestamp
    /// `max_timestamp`, would break one of its limits: `segment.bytes`, `segment.ms` (Kafka's
    /// `LogSegment.shouldRoll`: measured from the first batch's max timestamp, or from the segment's
    /// creation or opening when it has none, minus `segment.jitter.ms`), a full index, or a relative
    /// offset above `i32::MAX`. Because the clock is read from the data, a reopened segment neither rolls
    /// at once nor waits a full `segment.ms` again.
    fn maybe_roll(
        &self,
        inner: &mut Inner,
        bytes: u64,
        last_offset: i64,
        max_timestamp: i64,
        now_ms: i64,
    ) -> Result<(), LogError> {
        let segment_bytes_max = inner.config.segment_bytes.clamp(1, SEGMENT_BYTES_MAX);
        let segment_ms = inner.config.max_segment_ms();
        let Some(active) = inner.segments.last() else {
            return Ok(());
        };
        if active.size_bytes() == 0 {
            return Ok(());
        }
        let first_timestamp = match inner.active_first_timestamp {
            Some(t) => t,
            None => {
                // Opened from disk: one header read, once per segment.
                let first = find_batch(&active.read_view(active.base_offset)?, i64::MIN)?;
                first.map_or(-1, |(_, h)| h.max_timestamp)
            }
        };
        let jitter_ms = match inner.active_roll_jitter_ms {
            Some(j) => j,
            None => roll_jitter_ms(&inner.config),
        };
        let waited_ms = if first_timestamp >= 0 {
            max_timestamp.saturating_sub(first_timestamp)
        } else {
            now_ms.saturating_sub(active.created_ms)
        };
        let roll = active.size_bytes() + bytes > segment_bytes_max
            || waited_ms > segment_ms.saturating_sub(jitter_ms)
            || active.indexes_full()
            || last_offset - active.base_offset > i64::from(i32::MAX);
        inner.active_first_timestamp = Some(first_timestamp);
        inner.active_roll_jitter_ms = Some(jitter_ms);
        if roll {
            self.roll(inner, now_ms)?;
        }
        Ok(())
    }

    /// Closes the active segment and starts a new one at the log end. The old segment's index files are
    /// written now (page cache); their fsync, the folder fsync and a producer-state snapshot are queued to
    /// the flusher so this never blocks on the disk.
    pub(crate) fn roll(&self, inner: &mut Inner, now_ms: i64) -> Result<(), LogError> {
        let base = inner.log_end;
        if let Some(active) = inner.segments.last_mut() {
            if active.base_offset == base {
                return Ok(());
            }
            active.write_indexes(true)?;
            let (file, size) = (active.file()?, active.size_bytes());
            inner.page_cache.rolled(file, size);
        }
        let seg = Segment::create(
            &self.dir,
            base,
            index_entries_max(&inner.config),
            now_ms,
            &self.file_cache,
        )?;
        inner.segments.push(seg);
        inner.active_first_timestamp = None;
        inner.active_roll_jitter_ms = None;
        inner.dir_needs_sync = true;
        inner.pending_snapshot = Some((base, inner.producers.clone()));
        tracing::debug!(topic = %self.topic, partition = self.partition, base, "rolled segment");
        self.request_flush();
        Ok(())
    }

    /// Flusher thread: hands written data older than the page-cache window back to the kernel.
    pub(crate) fn trim_page_cache(&self) {
        let work = {
            let mut inner = self.lock();
            let Some(active) = inner.segments.last() else {
                return;
            };
            // Best effort: a file that cannot be reopened is reported by the next append or read.
            let Ok(file) = active.file() else {
                return;
            };
            let size = active.size_bytes();
            inner.page_cache.take_work(file, size)
        };
        work.run();
    }

    /// Queues this partition on the flusher.
    pub(crate) fn request_flush(&self) {
        self.flusher.request(self.self_ref.clone());
    }

    /// Flusher thread: fsyncs everything written so far (group commit) and publishes the durable offset.
    pub(crate) fn flush_now(&self) -> Result<(), LogError> {
        let result = self.flush_inner();
        if let Err(e) = &result {
            tracing::error!(topic = %self.topic, partition = self.partition, error = %e, "log flush failed");
            let mut inner = self.lock();
            inner.flush_error = Some(e.to_string());
            drop(inner);
            self.durable_tx.send_modify(|_| {});
        }
        result
    }

    fn flush_inner(&self) -> Result<(), LogError> {
        struct Work {
            id: SegmentId,
            file: Arc<std::fs::File>,
            size: u64,
            index_paths: Option<[PathBuf; 2]>,
        }
        let (target, work, dir_sync, data_dir_sync, txn_dirty, snapshot) = {
            let mut inner = self.lock();
            if !inner.on_disk {
                // Never written: nothing to make durable (an empty log; its epochs come from the image).
                return Ok(());
            }
            let target = inner.log_end;
            let n = inner.segments.len();
            let mut work = Vec::new();
            for (i, seg) in inner.segments.iter_mut().enumerate() {
                let closed = i + 1 < n;
                let index_paths = if closed && !seg.indexes_synced() {
                    Some(seg.write_indexes(true)?)
                } else {
                    None
                };
                if seg.needs_sync() || index_paths.is_some() {
                    work.push(Work {
                        id: seg.id(),
                        file: seg.file()?,
                        size: seg.size_bytes(),
                        index_paths,
                    });
                }
            }
            let dir_sync = std::mem::take(&mut inner.dir_needs_sync);
            let data_dir_sync = inner.data_dir_sync;
            let txn_dirty = inner.txn_index.take_dirty();
            (
                target,
                work,
                dir_sync,
                data_dir_sync,
                txn_dirty,
                inner.pending_snapshot.take(),
            )
        };
        // Before the snapshot: recovery rebuilds only the aborted transactions above it.
        super::txn_index::sync_files(&self.dir, &txn_dirty)?;
        self.write_epochs_if_dirty()?;
        for w in &work {
            crate::log::fs::sync_data(&w.file)?;
            if let Some(paths) = &w.index_paths {
                for p in paths {
                    crate::log::fs::sync_all(&super::index::OffsetIndex::open_for_sync(p)?)?;
                }
            }
        }
        if let Some((offset, state)) = &snapshot {
            write_snapshot(&self.dir, *offset, state)?;
        }
        if dir_sync {
            sync_dir(&self.dir)?;
        }
        // The folder's own entry in the data folder (a lazily created partition's first flush).
        self.data_dir.sync_upto(data_dir_sync)?;
        let mut inner = self.lock();
        if inner.data_dir_sync == data_dir_sync {
            inner.data_dir_sync = 0;
        }
        for w in &work {
            // By identity, not base offset: the cleaner may have swapped in a new segment meanwhile.
            if let Some(seg) = inner.segments.iter_mut().find(|s| s.is(&w.id)) {
                seg.mark_synced(w.size);
                if w.index_paths.is_some() {
                    seg.mark_indexes_synced();
                }
            }
        }
        inner.durable_offset = inner.durable_offset.max(target);
        let n = inner.segments.len();
        let first_unsynced_closed = inner.segments[..n.saturating_sub(1)]
            .iter()
            .find(|s| !s.indexes_synced() || s.needs_sync())
            .map(|s| s.base_offset);
        inner.recovery_point = first_unsynced_closed
            .unwrap_or(inner.durable_offset)
            .min(inner.durable_offset);
        inner.unflushed_messages = 0;
        inner.last_flush_ms = now_ms();
        let durable = inner.durable_offset;
        self.publish_marks(&mut inner);
        drop(inner);
        self.durable_tx.send_replace(durable);
        Ok(())
    }

    /// Resolves once the append ending at `offset`, taken as leader of `leader_epoch`, may be acknowledged
    /// to an acks=all producer: held by every in-sync replica, and fsynced on each when `acks.all.fsync`
    /// (the store option `durable_acks_all`; group commit by the flusher). Fails as soon as this broker no
    /// longer leads in that epoch, even if it leads again later: a truncation in between may have put
    /// other records at those offsets (Kafka completes such waits when the leader steps down).
    pub async fn wait_durable(&self, offset: i64, leader_epoch: i32) -> Result<(), LogError> {
        let mut rx = self.acked_tx.subscribe();
        let mut flush_requested = false;
        loop {
            let acked = *rx.borrow_and_update();
            {
                let inner = self.lock();
                if inner.closed {
                    return Err(LogError::Deleted);
                }
                match &inner.role {
                    Role::Leader(s) if s.leader_epoch == leader_epoch => {}
                    _ => return Err(LogError::NotLeader),
                }
                if acked > offset {
                    return Ok(());
                }
                if let Some(e) = &inner.flush_error {
                    return Err(LogError::Io(std::io::Error::other(e.clone())));
                }
            }
            if self.options.durable_acks_all && !flush_requested {
                flush_requested = true;
                self.request_flush();
            }
            if rx.changed().await.is_err() {
                return Err(LogError::Deleted);
            }
        }
    }

    /// Resolves once everything below `end` is fsynced here (a follower, before it reports its progress).
    pub async fn wait_synced(&self, end: i64) -> Result<(), LogError> {
        let mut rx = self.durable_tx.subscribe();
        if *rx.borrow_and_update() >= end {
            return Ok(());
        }
        self.request_flush();
        loop {
            if rx.changed().await.is_err() {
                return Err(LogError::Deleted);
            }
            if *rx.borrow_and_update() >= end {
                return Ok(());
            }
            let inner = self.lock();
            if let Some(e) = &inner.flush_error {
                return Err(LogError::Io(std::io::Error::other(e.clone())));
            }
            if inner.closed {
                return Err(LogError::Deleted);
            }
        }
    }

    /// Reads whole batches from the one containing `offset`, up to `max_bytes` (at least one batch), never
    /// past the high watermark. `offset == log end` gives empty records; outside `[log start, log end]` is
    /// `OffsetOutOfRange`.
    pub fn read(&self, offset: i64, max_bytes: usize) -> Result<ReadResult, LogError> {
        let r = self.read_whole_batches(offset, max_bytes, false)?;
        self.io
            .bytes_out
            .fetch_add(r.records.len() as u64, Ordering::Relaxed);
        Ok(r)
    }

    /// Like [`read`](Self::read), but up to the log end rather than the high watermark: what a follower
    /// copies, and what a new leader's coordinator loads.
    pub fn read_to_log_end(&self, offset: i64, max_bytes: usize) -> Result<ReadResult, LogError> {
        let r = self.read_whole_batches(offset, max_bytes, true)?;
        self.io
            .bytes_out
            .fetch_add(r.records.len() as u64, Ordering::Relaxed);
        Ok(r)
    }

    fn read_whole_batches(
        &self,
        offset: i64,
        max_bytes: usize,
        to_log_end: bool,
    ) -> Result<ReadResult, LogError> {
        let offsets = self.offsets();
        let upto = if to_log_end {
            offsets.log_end
        } else {
            offsets.high_watermark
        };
        if offset < offsets.log_start || offset > offsets.log_end {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start: offsets.log_start,
                log_end: offsets.log_end,
            });
        }
        if offset >= upto {
            return Ok(ReadResult {
                records: Bytes::new(),
                offsets,
            });
        }
        let Some((view, pos, header)) = self.first_batch(offset)? else {
            return Ok(ReadResult {
                records: Bytes::new(),
                offsets,
            });
        };
        let records = read_batches(
            &view.file,
            pos,
            view.end_pos,
            header.total_len() as u64,
            max_bytes,
        )?;
        let records = if upto < offsets.log_end {
            replica::cut_at(records, upto)
        } else {
            records
        };
        Ok(ReadResult { records, offsets })
    }

    /// The batch holding `offset` (or the first one after it, past a gap): its segment's read view, its
    /// position and its header; `None` when no segment has such a batch.
    fn first_batch(
        &self,
        offset: i64,
    ) -> Result<Option<(super::segment::ReadView, u64, BatchHeader)>, LogError> {
        let mut from_base: Option<i64> = None;
        loop {
            // Pick the segment (the one holding `offset`, or the next one after a gap) under the lock.
            let view = {
                let inner = self.lock();
                let idx = match from_base {
                    None => inner
                        .segments
                        .partition_point(|s| s.base_offset <= offset)
                        .saturating_sub(1),
                    Some(b) => inner.segments.partition_point(|s| s.base_offset <= b),
                };
                match inner.segments.get(idx) {
                    Some(seg) => {
                        from_base = Some(seg.base_offset);
                        seg.read_view(offset)?
                    }
                    None => return Ok(None),
                }
            };
            if let Some((pos, header)) = find_batch(&view, offset)? {
                return Ok(Some((view, pos, header)));
            }
        }
    }

    /// Current offsets.
    pub fn offsets(&self) -> Offsets {
        let inner = self.lock();
        Offsets {
            log_start: inner.log_start,
            high_watermark: inner.high_watermark,
            last_stable: super::txn::last_stable_offset(&inner, inner.high_watermark),
            log_end: inner.log_end,
        }
    }

    /// Bytes of record data in the partition's segment files (Kafka's `UnifiedLog.size`).
    pub fn size_bytes(&self) -> u64 {
        self.lock().segments.iter().map(Segment::size_bytes).sum()
    }

    /// Recovery point and durable offset (for checkpoints and tests).
    pub fn recovery_point(&self) -> i64 {
        self.lock().recovery_point
    }

    /// First offset whose timestamp is >= `timestamp_ms`, with that timestamp (ListOffsets by time).
    pub fn offset_for_timestamp(&self, timestamp_ms: i64) -> Result<Option<(i64, i64)>, LogError> {
        let mut from_base: Option<i64> = None;
        loop {
            let (view, log_start) = {
                let inner = self.lock();
                let start = match from_base {
                    None => 0,
                    Some(b) => inner.segments.partition_point(|s| s.base_offset <= b),
                };
                let Some(seg) = inner.segments[start.min(inner.segments.len())..]
                    .iter()
                    .find(|s| {
                        s.max_timestamp_ms >= timestamp_ms && s.next_offset > inner.log_start
                    })
                else {
                    return Ok(None);
                };
                from_base = Some(seg.base_offset);
                (seg.time_view(timestamp_ms)?, inner.log_start)
            };
            let mut pos = view.start_pos;
            while let Some((at, h)) = find_batch(
                &super::segment::ReadView {
                    start_pos: pos,
                    ..view.clone()
                },
                log_start,
            )? {
                pos = at + h.total_len() as u64;
                if h.max_timestamp < timestamp_ms {
                    continue;
                }
                let batch = read_batches(&view.file, at, view.end_pos, h.total_len() as u64, 0)?;
                for r in BatchRecords::new(&batch)? {
                    let r = r?;
                    if r.timestamp_ms >= timestamp_ms && r.offset >= log_start {
                        return Ok(Some((r.offset, r.timestamp_ms)));
                    }
                }
            }
        }
    }

    /// Offset and timestamp of the record with the largest timestamp (ListOffsets `MAX_TIMESTAMP`).
    pub fn max_timestamp(&self) -> Result<Option<(i64, i64)>, LogError> {
        let (view, ts, batch_offset) = {
            let inner = self.lock();
            let Some(seg) = inner
                .segments
                .iter()
                .filter(|s| s.max_timestamp_ms >= 0 && s.next_offset > inner.log_start)
                .max_by_key(|s| (s.max_timestamp_ms, std::cmp::Reverse(s.base_offset)))
            else {
                return Ok(None);
            };
            (
                seg.read_view(seg.offset_of_max_timestamp)?,
                seg.max_timestamp_ms,
                seg.offset_of_max_timestamp,
            )
        };
        if let Some((at, h)) = find_batch(&view, batch_offset)? {
            let batch = read_batches(&view.file, at, view.end_pos, h.total_len() as u64, 0)?;
            if let Ok(records) = BatchRecords::new(&batch) {
                for r in records.flatten() {
                    if r.timestamp_ms == ts {
                        return Ok(Some((r.offset, ts)));
                    }
                }
            }
        }
        Ok(Some((batch_offset, ts)))
    }

    /// Watches the high watermark (long-poll fetches wait on it).
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.hw_tx.subscribe()
    }

    /// Replaces the topic settings.
    pub fn set_config(&self, config: LogConfig) {
        let mut inner = self.lock();
        inner.config = config;
        inner.config_set = true;
    }

    /// Applies `config` if this partition was found on disk and has not been configured yet.
    pub(crate) fn set_config_if_unset(&self, config: LogConfig) {
        let mut inner = self.lock();
        if !inner.config_set {
            inner.config = config;
            inner.config_set = true;
        }
    }

    /// The topic settings in force.
    pub fn config(&self) -> LogConfig {
        self.lock().config.clone()
    }

    /// DeleteRecords (API 21): moves the log start offset up to `before_offset` (which must be ≤ the high
    /// watermark); segments wholly below it are removed by the next retention pass. Returns the new log
    /// start offset, which is not durable yet: acknowledge through
    /// [`LogStore::delete_records`](super::LogStore::delete_records), which waits for the checkpoint.
    pub fn delete_records(&self, before_offset: i64) -> Result<i64, LogError> {
        let mut inner = self.lock();
        if inner.closed {
            return Err(LogError::Deleted);
        }
        if before_offset < 0 || before_offset > inner.log_end {
            return Err(LogError::OffsetOutOfRange {
                offset: before_offset,
                log_start: inner.log_start,
                log_end: inner.log_end,
            });
        }
        inner.log_start = inner.log_start.max(before_offset);
        Ok(inner.log_start)
    }

    /// Writes indexes, fsyncs everything, snapshots producer state at the log end and refuses further
    /// appends. Used by `LogStore::shutdown` (before the clean-shutdown marker) and partition deletion.
    pub(crate) fn close(&self, flush: bool) -> Result<(), LogError> {
        {
            let mut inner = self.lock();
            if !inner.on_disk {
                // Never written: nothing to persist, and no folder to create for it.
                inner.closed = true;
                drop(inner);
                self.durable_tx.send_modify(|_| {});
                return Ok(());
            }
        }
        if flush {
            {
                let mut inner = self.lock();
                for seg in inner.segments.iter_mut() {
                    seg.write_indexes(false)?;
                }
            }
            self.flush_now()?;
            let (offset, state, paths) = {
                let mut inner = self.lock();
                inner.closed = true;
                if inner.clean_at == Some(inner.log_end) {
                    // Untouched since a clean open (the common idle partition): all of it is on disk.
                    drop(inner);
                    self.durable_tx.send_modify(|_| {});
                    return Ok(());
                }
                let n = inner.segments.len();
                let mut paths = Vec::new();
                if let Some(active) = inner.segments.get_mut(n.saturating_sub(1)) {
                    paths.extend(active.write_indexes(true)?);
                }
                (inner.log_end, inner.producers.clone(), paths)
            };
            for p in paths {
                crate::log::fs::sync_all(&super::index::OffsetIndex::open_for_sync(&p)?)?;
            }
            write_snapshot(&self.dir, offset, &state)?;
            sync_dir(&self.dir)?;
        } else {
            self.lock().closed = true;
        }
        self.durable_tx.send_modify(|_| {});
        Ok(())
    }

    /// Applies idle-producer expiry (`producer.id.expiration.ms`).
    pub(crate) fn expire_producers(&self, now_ms: i64) {
        let expiration_ms = self.options.producer_id_expiration_ms;
        self.lock().producers.expire(now_ms, expiration_ms);
    }

    /// Queues a flush if `flush.ms` has elapsed with unflushed data.
    pub(crate) fn maybe_time_flush(&self, now_ms: i64) {
        let due = {
            let inner = self.lock();
            inner.durable_offset < inner.log_end
                && now_ms.saturating_sub(inner.last_flush_ms) >= inner.config.flush_ms
        };
        if due {
            self.request_flush();
        }
    }

    /// Log start and recovery point, for checkpoint files.
    pub(crate) fn checkpoint_offsets(&self) -> (i64, i64) {
        let inner = self.lock();
        (inner.log_start, inner.recovery_point)
    }

    /// The largest log start offset known to survive a crash.
    pub(crate) fn log_start_durable(&self) -> i64 {
        self.lock().log_start_durable
    }

    /// Records that a checkpoint holding `log_start` is durable.
    pub(crate) fn mark_log_start_durable(&self, log_start: i64) {
        let mut inner = self.lock();
        inner.log_start_durable = inner.log_start_durable.max(log_start);
    }

    /// Headers of all batches from `from_offset` on (tests and diagnostics).
    pub fn headers_from(&self, from_offset: i64) -> Result<Vec<BatchHeader>, LogError> {
        let mut out = Vec::new();
        let views: Vec<_> = {
            let inner = self.lock();
            inner
                .segments
                .iter()
                .filter(|s| s.next_offset > from_offset)
                .map(|s| s.read_view(from_offset))
                .collect::<Result<_, _>>()?
        };
        for view in views {
            let mut v = view.clone();
            while let Some((at, h)) = find_batch(&v, from_offset)? {
                v.start_pos = at + h.total_len() as u64;
                out.push(h);
            }
        }
        Ok(out)
    }
}
