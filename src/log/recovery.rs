//! Opening a partition folder: finishes interrupted deletes and compaction swaps, loads segments (trusting
//! indexes only below the recovery point after a clean shutdown), truncates a torn or corrupt tail, and
//! rebuilds producer state from the newest snapshot plus the batch headers after it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::epoch_cache::EpochCache;
use super::file_cache::FileCache;
use super::partition::{index_entries_max, Inner};
use super::producer_state::{snapshot_path, ProducerStateManager};
use super::segment::{find_batch, Segment};
use super::txn_index::{AbortedTxn, TxnIndex};
use super::{LogConfig, LogError};

/// What the store knows about a partition before opening it.
pub(crate) struct LoadParams<'a> {
    /// The partition folder.
    pub dir: &'a Path,
    /// True when the store found the clean-shutdown marker.
    pub clean: bool,
    /// Checkpointed recovery point; segments from the one holding it on are rescanned (unclean only).
    pub recovery_point: Option<i64>,
    /// Checkpointed log start offset.
    pub log_start: Option<i64>,
    /// Checkpointed cleaner position (`cleaner-offset-checkpoint`).
    pub cleaner_offset: Option<i64>,
    /// Checkpointed high watermark (`replication-offset-checkpoint`); the log end when absent.
    pub high_watermark: Option<i64>,
    /// Settings to use (defaults until the topic config is supplied).
    pub config: LogConfig,
    /// Wall clock.
    pub now_ms: i64,
    /// `producer.id.expiration.ms`.
    pub producer_id_expiration_ms: i64,
    /// The store's bound on open segment files.
    pub files: &'a Arc<FileCache>,
}

fn parse_base(name: &str, suffix: &str) -> Option<i64> {
    name.strip_suffix(suffix)
        .filter(|s| s.len() == 20)
        .and_then(|s| s.parse::<i64>().ok())
}

/// Loads (recovering if needed) one partition folder.
pub(crate) fn load(p: LoadParams<'_>) -> Result<Inner, LogError> {
    let (bases, snapshots) = list(p.dir)?;
    build(p, bases, snapshots, false)
}

/// The state of a partition whose folder was just created (so is known to be empty): [`load`] without
/// listing the folder.
pub(crate) fn create(p: LoadParams<'_>) -> Result<Inner, LogError> {
    build(p, Vec::new(), Vec::new(), false)
}

/// The state of a partition whose folder does not exist and is not created yet: an empty log at offset 0
/// whose folder and first segment appear on first use (`PartitionLog::ensure_on_disk`). Nothing is
/// read or written here.
pub(crate) fn pending(p: LoadParams<'_>) -> Result<Inner, LogError> {
    build(p, Vec::new(), Vec::new(), true)
}

/// Lists a partition folder: segment base offsets (after completing interrupted compaction swaps) and
/// producer-snapshot offsets, both sorted; removes leftovers of interrupted deletes and compactions.
fn list(dir: &Path) -> Result<(Vec<i64>, Vec<i64>), LogError> {
    let mut bases = Vec::new();
    // Producer snapshots are listed in the same pass: one folder read per partition at start-up.
    let mut snapshots = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(".deleted") || name.ends_with(".cleaned") || name.ends_with(".tmp") {
            // Leftovers of an interrupted delete or compaction: never part of the log.
            remove_if_exists(&entry.path())?;
        } else if let Some(b) = parse_base(name, ".log") {
            bases.push(b);
        } else if let Some(o) = name
            .strip_suffix(".snapshot")
            .and_then(|s| s.parse::<i64>().ok())
        {
            snapshots.push(o);
        }
    }
    snapshots.sort_unstable();
    super::cleaner::finish_swaps(dir, &mut bases)?;
    bases.sort_unstable();
    bases.dedup();
    Ok((bases, snapshots))
}

/// Opens the segments at `bases` (creating the first one if there is none) and restores producer state.
fn build(
    p: LoadParams<'_>,
    bases: Vec<i64>,
    snapshots: Vec<i64>,
    lazy: bool,
) -> Result<Inner, LogError> {
    let dir = p.dir;

    let entries_max = index_entries_max(&p.config);
    let interval = u64::from(p.config.index_interval_bytes);
    let mut segments: Vec<Segment> = Vec::with_capacity(bases.len().max(1));
    let recovery_point = p.recovery_point.unwrap_or(0);
    for (i, &base) in bases.iter().enumerate() {
        let next_base = bases.get(i + 1).copied();
        let trust = p.clean || next_base.is_some_and(|nb| nb <= recovery_point);
        let (seg, outcome) =
            Segment::open(dir, base, entries_max, interval, trust, p.now_ms, p.files)?;
        let mut stop = false;
        if let Some(o) = outcome {
            if o.dropped_bytes > 0 || o.error.is_some() {
                if next_base.is_none() {
                    tracing::warn!(
                        dir = %dir.display(), segment = base, bytes_dropped = o.dropped_bytes,
                        reason = o.error.as_deref().unwrap_or("torn tail"),
                        "truncated the log tail after an unclean shutdown"
                    );
                } else {
                    tracing::error!(
                        dir = %dir.display(), segment = base, bytes_dropped = o.dropped_bytes,
                        reason = o.error.as_deref().unwrap_or("corrupt batch"),
                        "corrupt batch inside a closed segment: the log is cut there and later segments are \
                         moved aside as *.corrupt; serving the valid prefix"
                    );
                    for later in &bases[i + 1..] {
                        move_aside(dir, *later)?;
                    }
                    stop = true;
                }
            }
        }
        // A segment must continue where the previous one ended.
        if let Some(prev) = segments.last() {
            if seg.base_offset < prev.next_offset {
                tracing::error!(dir = %dir.display(), segment = base, "segment overlaps its predecessor; moved aside");
                move_aside(dir, base)?;
                for later in &bases[i + 1..] {
                    move_aside(dir, *later)?;
                }
                break;
            }
        }
        segments.push(seg);
        if stop {
            break;
        }
    }
    let mut dir_needs_sync = false;
    if segments.is_empty() {
        let base = p.log_start.unwrap_or(0).max(0);
        if lazy {
            segments.push(Segment::pending(dir, base, entries_max, p.now_ms, p.files));
        } else {
            segments.push(Segment::create(dir, base, entries_max, p.now_ms, p.files)?);
            dir_needs_sync = true;
        }
    }
    let end = segments
        .last()
        .map_or(0, |s| s.next_offset.max(s.base_offset));
    let restarted = p.log_start.filter(|s| *s > end);
    if let Some(start) = restarted {
        segments = restart_at(dir, segments, start, end, entries_max, &p)?;
        dir_needs_sync = true;
    }
    let first_base = segments[0].base_offset;
    let log_end = segments
        .last()
        .map_or(first_base, |s| s.next_offset.max(s.base_offset));
    let log_start = p.log_start.unwrap_or(first_base).clamp(first_base, log_end);

    let mut txn_index = TxnIndex::default();
    for seg in segments.iter().filter(|_| !lazy) {
        for t in super::txn_index::read_file(dir, seg.base_offset)? {
            txn_index.push_loaded(seg.base_offset, t);
        }
    }
    let mut producers = load_producers(
        dir,
        &segments,
        &snapshots,
        p.clean,
        first_base,
        log_end,
        &mut txn_index,
    )?;
    producers.expire(p.now_ms, p.producer_id_expiration_ms);
    // After a clean shutdown the snapshot at the log end and the fsynced files are what the next clean
    // shutdown would write again, as long as nothing is appended: then it can skip them.
    let clean_at = (p.clean && snapshots.binary_search(&log_end).is_ok()).then_some(log_end);

    let recovery_point = if p.clean {
        log_end
    } else {
        recovery_point.clamp(first_base, log_end)
    };
    let mut epochs = if lazy {
        EpochCache::default()
    } else {
        EpochCache::load(dir)
    };
    epochs.truncate_from_end(log_end);
    if restarted.is_some() {
        epochs.truncate_from_start(log_start);
    }
    // Epochs of batches written after the last checkpoint of the cache: read back from their headers.
    let rebuild_from = epochs
        .entries()
        .last()
        .map_or(recovery_point, |e| e.1.max(recovery_point));
    rebuild_epochs(&segments, rebuild_from, &mut epochs)?;

    Ok(Inner {
        segments,
        log_start,
        log_start_durable: log_start,
        log_end,
        // Solo until told otherwise (see `PartitionLog::become_leader`): everything written is committed.
        high_watermark: log_end,
        acked: log_end,
        recovered_high_watermark: p.high_watermark.map(|h| h.clamp(log_start, log_end)),
        role: Default::default(),
        epochs,
        durable_offset: log_end,
        recovery_point,
        producers,
        txn_index,
        unflushed_messages: 0,
        last_flush_ms: p.now_ms,
        dir_needs_sync,
        on_disk: !lazy,
        data_dir_sync: 0,
        pending_snapshot: None,
        closed: false,
        flush_error: None,
        active_first_timestamp: None,
        active_roll_jitter_ms: None,
        config: p.config,
        config_set: false,
        // Out of range (segments lost or the log start moved past it): forgotten, i.e. the log start.
        cleaner_checkpoint: p
            .cleaner_offset
            .filter(|o| (log_start..=log_end).contains(o)),
        page_cache: Default::default(),
        clean_at,
    })
}

/// The log ends below its log-start checkpoint (a crash lost unsynced records that a DeleteRecords or
/// retention had already moved the log start past): deletes every segment and starts an empty log at the
/// checkpoint, as Kafka's `LogLoader` does, so offsets below an acknowledged log start are never handed
/// out again.
fn restart_at(
    dir: &Path,
    segments: Vec<Segment>,
    start: i64,
    end: i64,
    entries_max: usize,
    p: &LoadParams<'_>,
) -> Result<Vec<Segment>, LogError> {
    tracing::warn!(
        dir = %dir.display(), log_end = end, log_start = start,
        "log end below the log-start checkpoint (its tail was lost): deleting all segments, the log restarts \
         empty at the log start"
    );
    for seg in &segments {
        for path in seg.rename_deleted()? {
            remove_if_exists(&path)?;
        }
        remove_if_exists(&super::txn_index::path(dir, seg.base_offset))?;
    }
    drop(segments);
    Ok(vec![Segment::create(
        dir,
        start,
        entries_max,
        p.now_ms,
        p.files,
    )?])
}

/// Assigns the leader epochs of the batches from `from` to the log end (a header walk of the part written
/// after the epoch cache was last saved; nothing after a clean shutdown).
fn rebuild_epochs(
    segments: &[Segment],
    from: i64,
    epochs: &mut EpochCache,
) -> Result<(), LogError> {
    for seg in segments.iter().filter(|s| s.next_offset > from) {
        let mut offset = from.max(seg.base_offset);
        let mut view = seg.read_view(offset)?;
        while let Some((pos, h)) = find_batch(&view, offset)? {
            epochs.assign(h.partition_leader_epoch, h.base_offset);
            offset = h.next_offset();
            view.start_pos = pos + h.total_len() as u64;
            view.hint = None;
        }
    }
    Ok(())
}

/// Removes a file that may already be gone (the folder was listed earlier; a snapshot or temp file can be
/// replaced meanwhile, e.g. by a previous store instance's flusher in tests).
fn remove_if_exists(path: &Path) -> Result<(), LogError> {
    match crate::log::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn move_aside(dir: &Path, base: i64) -> Result<(), LogError> {
    let (a, b, c) = super::segment::paths(dir, base);
    for path in [a, b, c] {
        let mut to = path.clone().into_os_string();
        to.push(".corrupt");
        match crate::log::fs::rename(&path, PathBuf::from(to)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Newest usable snapshot within `[first_base, log_end]`, then replay of batch headers after it (and of
/// the markers' types, read from their control batches). The aborted-transaction index is rebuilt above
/// the snapshot from the same replay: entries there may be missing or torn after a crash.
/// Snapshots above the log end (the log was truncated) or below the first segment (their segments were
/// deleted, so replaying after them would miss batches) are deleted. Without a snapshot, replays from the
/// start of the last two segments (as Kafka does) to bound startup time.
pub(crate) fn load_producers(
    dir: &Path,
    segments: &[Segment],
    snapshots: &[i64],
    clean: bool,
    first_base: i64,
    log_end: i64,
    txn_index: &mut TxnIndex,
) -> Result<ProducerStateManager, LogError> {
    let mut state = None;
    let mut from = None;
    for &offset in snapshots.iter().rev() {
        if offset > log_end || offset < first_base {
            remove_if_exists(&snapshot_path(dir, offset))?;
            continue;
        }
        if state.is_none() {
            match std::fs::read(snapshot_path(dir, offset))
                .ok()
                .and_then(|b| ProducerStateManager::from_bytes(&b))
            {
                Some(s) => {
                    state = Some(s);
                    from = Some(offset);
                }
                None => {
                    tracing::warn!(dir = %dir.display(), offset, "unreadable producer snapshot ignored")
                }
            }
        }
    }
    let mut state = state.unwrap_or_default();
    let from = match from {
        Some(o) => o,
        None => segments
            .iter()
            .rev()
            .nth(1)
            .or(segments.last())
            .map_or(0, |s| s.base_offset),
    };
    if clean && from == log_end {
        return Ok(state);
    }
    let mut touched = txn_index.truncate_from(from);
    for seg in segments.iter().filter(|s| s.next_offset > from) {
        let mut view = seg.read_view(from)?;
        while let Some((at, h)) = super::segment::find_batch(&view, from)? {
            view.start_pos = at + h.total_len() as u64;
            if h.base_offset < from {
                continue;
            }
            let control = if h.is_control() && h.has_producer_id() {
                let len = h.total_len() as u64;
                let batch = super::segment::read_batches(&view.file, at, view.end_pos, len, 0)?;
                super::control::end_marker(&batch)
            } else {
                None
            };
            if let Some(c) = state.replay(&h, control).filter(|c| c.aborted) {
                let lso = state.first_unstable_offset().unwrap_or(c.last_offset + 1);
                txn_index.push_loaded(
                    seg.base_offset,
                    AbortedTxn {
                        producer_id: c.producer_id,
                        first_offset: c.first_offset,
                        last_offset: c.last_offset,
                        last_stable_offset: lso,
                    },
                );
                touched.insert(seg.base_offset);
            }
        }
    }
    for base in touched {
        txn_index.rewrite(dir, base)?;
    }
    Ok(state)
}
