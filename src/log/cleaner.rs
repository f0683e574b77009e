//! Log compaction (`cleanup.policy=compact`): keeps the newest record per key in closed segments,
//! merging consecutive segments into one while they fit `segment.bytes` (Kafka's `groupSegmentsBySize`).
//! The cleaner's position per partition is persisted in `cleaner-offset-checkpoint` by the store.
//!
//! Crash safety follows Kafka: cleaned output is written to `<base>.log.cleaned`, renamed to
//! `<base>.log.swap` once complete, then swapped in place of the segments it replaces. Recovery deletes
//! `.cleaned` files and completes `.swap` files (see [`finish_swaps`]).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::batch::{
    assemble_batch, compress, encode_record, BatchHeader, BatchRecords, HEADER_LEN,
};
use super::checkpoint::sync_dir;
use super::partition::{index_entries_max, PartitionLog};
use super::segment::{paths, Segment};
use super::txn_index::AbortedTxn;
use super::LogError;

/// Most distinct keys one cleaning pass indexes (16-byte hash + 8-byte offset each, so the key map stays
/// under ~64 MiB with HashMap overhead); a dirty section with more keys is cleaned in several passes.
pub const KEY_MAP_ENTRIES_MAX: usize = 1 << 21;

/// Completes interrupted swaps in a partition folder: each `<base>.log.swap` replaces the segments whose
/// base offsets are in `[base, next segment not covered)`; `bases` is updated to match.
pub(crate) fn finish_swaps(dir: &Path, bases: &mut Vec<i64>) -> Result<(), LogError> {
    let mut swaps = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(stem) = name.strip_suffix(".log.swap") {
            if let Ok(base) = stem.parse::<i64>() {
                swaps.push(base);
            }
        } else if name.ends_with(".swap") {
            crate::log::fs::remove_file(entry.path())?;
        }
    }
    for base in swaps {
        let (log, index, time) = super::segment::paths(dir, base);
        let swap = dir.join(format!("{:020}.log.swap", base));
        // The swap's last offset tells which old segments it covers.
        let covered_until = swap_next_offset(&swap)?;
        for old in bases
            .iter()
            .copied()
            .filter(|b| *b > base && *b < covered_until)
        {
            let (l, i, t) = super::segment::paths(dir, old);
            for p in [l, i, t] {
                let _ = crate::log::fs::remove_file(p);
            }
        }
        bases.retain(|b| *b <= base || *b >= covered_until);
        let _ = crate::log::fs::remove_file(&index);
        let _ = crate::log::fs::remove_file(&time);
        crate::log::fs::rename(&swap, &log)?;
        if !bases.contains(&base) {
            bases.push(base);
        }
        tracing::info!(dir = %dir.display(), base, "completed an interrupted compaction swap");
    }
    Ok(())
}

/// Offset after the last batch of a swap file (scanning headers).
fn swap_next_offset(path: &Path) -> Result<i64, LogError> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut pos = 0u64;
    let mut next = 0i64;
    let mut buf = [0u8; super::batch::HEADER_LEN];
    while pos + buf.len() as u64 <= len {
        file.read_exact_at(&mut buf, pos)?;
        let h = super::batch::BatchHeader::parse(&buf)?;
        let total = h.total_len() as u64;
        if total < buf.len() as u64 || pos + total > len {
            break;
        }
        next = h.next_offset();
        pos += total;
    }
    Ok(next)
}

/// 128-bit key digest (two independently seeded SipHashes); collisions would drop a record, so 64 bits
/// would not be enough at millions of keys.
struct KeyHasher {
    /// First hash state seed.
    a: std::collections::hash_map::RandomState,
    /// Second, independent seed.
    b: std::collections::hash_map::RandomState,
}

impl KeyHasher {
    fn new() -> KeyHasher {
        KeyHasher {
            a: Default::default(),
            b: Default::default(),
        }
    }
    fn digest(&self, key: &[u8]) -> u128 {
        let mut h1 = self.a.build_hasher();
        h1.write(key);
        let mut h2 = self.b.build_hasher();
        h2.write(key);
        (u128::from(h1.finish()) << 64) | u128::from(h2.finish())
    }
}

/// Sizes of one closed segment, as the grouping needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegmentSizes {
    /// Base offset of the segment.
    pub base: i64,
    /// Where it ends: the next segment's base offset.
    pub end: i64,
    /// Bytes of its log.
    pub size: u64,
    /// Bytes of its offset and time indexes together.
    pub index_bytes: u64,
}

/// One closed segment chosen for cleaning (snapshot taken under the lock).
struct Candidate {
    /// Offsets and sizes (closed segments do not grow).
    sizes: SegmentSizes,
    /// Its log file.
    file: Arc<std::fs::File>,
}

/// Kafka's `groupSegmentsBySize`: splits consecutive segments into runs whose total log size stays
/// ≤ `max_bytes`, whose total index size stays ≤ `max_index_bytes` and whose offsets fit relative
/// offsets of the run's first base; each run is cleaned into one segment, so a long-compacted log does
/// not decay into many tiny segments. Index sizes are summed over both indexes (stricter than Kafka's
/// per-index check, and both share one entry limit here).
pub(crate) fn group_by_size(
    segs: &[SegmentSizes],
    max_bytes: u64,
    max_index_bytes: u64,
) -> Vec<std::ops::Range<usize>> {
    let mut groups = Vec::new();
    let mut i = 0;
    while i < segs.len() {
        let start = i;
        let mut size = segs[i].size;
        let mut index = segs[i].index_bytes;
        i += 1;
        while let Some(next) = segs.get(i) {
            // `end - 1` bounds the next segment's last offset without reading it (as Kafka does).
            let fits = size + next.size <= max_bytes
                && index + next.index_bytes <= max_index_bytes
                && (next.size == 0 || next.end - 1 - segs[start].base <= i64::from(i32::MAX));
            if !fits {
                break;
            }
            size += next.size;
            index += next.index_bytes;
            i += 1;
        }
        groups.push(start..i);
    }
    groups
}

/// Calls `f(position, batch bytes)` for each batch of a segment file, reading in 1 MiB chunks.
fn for_each_batch(
    file: &std::fs::File,
    size: u64,
    mut f: impl FnMut(&BatchHeader, Bytes) -> Result<(), LogError>,
) -> Result<(), LogError> {
    let mut pos = 0u64;
    let mut header = [0u8; HEADER_LEN];
    while pos + HEADER_LEN as u64 <= size {
        file.read_exact_at(&mut header, pos)?;
        let h = BatchHeader::parse(&header)?;
        let total = h.total_len() as u64;
        if total < HEADER_LEN as u64 || pos + total > size {
            return Err(LogError::CorruptMessage(format!(
                "bad batch at position {pos} while cleaning"
            )));
        }
        let mut buf = vec![0u8; total as usize];
        file.read_exact_at(&mut buf, pos)?;
        f(&h, Bytes::from(buf))?;
        pos += total;
    }
    Ok(())
}

/// The max timestamp of a segment file's first batch (Kafka's `LogSegment.getFirstBatchTimestamp`), `None`
/// when the segment is empty or the batch carries no timestamp.
fn first_batch_timestamp(file: &std::fs::File, size: u64) -> Result<Option<i64>, LogError> {
    if size < HEADER_LEN as u64 {
        return Ok(None);
    }
    let mut header = [0u8; HEADER_LEN];
    file.read_exact_at(&mut header, 0)?;
    let t = BatchHeader::parse(&header)?.max_timestamp;
    Ok((t > 0).then_some(t))
}

/// What cleaning did to one batch.
enum CleanedBatch {
    /// Nothing removed: copy the batch as is.
    Unchanged,
    /// Some records removed: the rebuilt batch (offsets, producer fields and timestamps kept).
    Rebuilt(Vec<u8>),
    /// Every record removed.
    Removed,
}

/// Whether `h` is a data batch of a transaction that was aborted (its producer's abort marker follows it).
fn is_aborted(h: &BatchHeader, aborted: &[AbortedTxn]) -> bool {
    h.is_transactional()
        && !h.is_control()
        && aborted.iter().any(|a| {
            a.producer_id == h.producer_id
                && a.first_offset <= h.base_offset
                && h.base_offset < a.last_offset
        })
}

/// Keeps the records of one batch that are the newest for their key (per `map`) and are not tombstones
/// older than the horizon; control batches are kept whole.
fn clean_batch(
    h: &BatchHeader,
    batch: &Bytes,
    map: &HashMap<u128, i64>,
    hasher: &KeyHasher,
    tombstone_horizon_ms: i64,
) -> Result<CleanedBatch, LogError> {
    if h.is_control() {
        return Ok(CleanedBatch::Unchanged);
    }
    let mut kept = BytesMut::new();
    let mut kept_count = 0i32;
    let mut dropped = false;
    for r in BatchRecords::new(batch)? {
        let r = r?;
        let newest = match &r.key {
            Some(k) => map.get(&hasher.digest(k)).is_none_or(|&o| o <= r.offset),
            None => true,
        };
        let expired_tombstone = r.value.is_none() && h.max_timestamp <= tombstone_horizon_ms;
        if newest && !expired_tombstone {
            let headers: &[u8] = &r.headers;
            encode_record(
                &mut kept,
                (r.offset - h.base_offset) as i32,
                if h.is_log_append_time() {
                    0
                } else {
                    r.timestamp_ms - h.base_timestamp
                },
                r.key.as_deref(),
                r.value.as_deref(),
                headers,
            );
            kept_count += 1;
        } else {
            dropped = true;
        }
    }
    if !dropped {
        return Ok(CleanedBatch::Unchanged);
    }
    if kept_count == 0 {
        return Ok(CleanedBatch::Removed);
    }
    let codec = h.compression().unwrap_or(super::batch::Compression::None);
    let section = compress(codec, &kept)?;
    let mut rebuilt = assemble_batch(
        &section,
        kept_count,
        h.last_offset_delta,
        h.base_timestamp,
        h.max_timestamp,
        h.producer_id,
        h.producer_epoch,
        h.base_sequence,
        h.attributes,
    )
    .to_vec();
    super::batch::stamp_base_offset(&mut rebuilt, h.base_offset);
    super::batch::stamp_leader_epoch(&mut rebuilt, h.partition_leader_epoch);
    Ok(CleanedBatch::Rebuilt(rebuilt))
}

/// Links `path` under its `.deleted` name (replacing a leftover of that name) and returns that name.
fn keep_alive(path: &Path) -> Result<std::path::PathBuf, LogError> {
    let mut d = path.to_path_buf().into_os_string();
    d.push(".deleted");
    let d = std::path::PathBuf::from(d);
    remove_if_exists(&d)?;
    std::fs::hard_link(path, &d)?;
    Ok(d)
}

fn remove_if_exists(path: &Path) -> Result<(), LogError> {
    match crate::log::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

impl PartitionLog {
    /// One compaction pass at `now_ms` (no-op unless the topic is `cleanup_compact`). Cleans the closed
    /// segments older than `min.compaction.lag.ms` when the dirty ratio reaches
    /// `min.cleanable.dirty.ratio`; never touches the active segment. Consecutive segments are merged
    /// into one cleaned segment while they fit `segment.bytes` ([`group_by_size`]). Afterwards the
    /// partition's cleaner position ([`cleaner_checkpoint`](Self::cleaner_checkpoint)) is the end of the
    /// cleaned range. Returns bytes freed.
    pub fn clean_pass(&self, now_ms: i64) -> Result<u64, LogError> {
        // Decided from in-memory sizes, so an idle compacted partition costs no file access per round.
        let Some((closed, first_dirty, config)) = self.cleanable_segments(now_ms) else {
            return Ok(0);
        };
        let total: u64 = closed.iter().map(|(s, _)| s.size).sum();
        let dirty: u64 = closed
            .iter()
            .filter(|(s, _)| s.end > first_dirty)
            .map(|(s, _)| s.size)
            .sum();
        // Kafka's `grabFilthiestCompactedLog`: clean when dirty enough, or when a dirty record has waited
        // longer than `max.compaction.lag.ms` (`LogCleanerManager.maxCompactionDelay`).
        let clean_until_ms = now_ms.saturating_sub(config.max_compaction_lag_ms.max(0));
        if total == 0
            || dirty == 0
            || ((dirty as f64 / total as f64) < config.min_cleanable_dirty_ratio
                && !self.dirt_overdue(&closed, first_dirty, clean_until_ms)?)
        {
            return Ok(0);
        }
        let Some(candidates) = self.candidate_files(&closed)? else {
            return Ok(0);
        };
        let Some(end_offset) = candidates.last().map(|c| c.sizes.end) else {
            return Ok(0);
        };
        // Records of aborted transactions are removed and their keys never shadow committed records
        // (Kafka's cleaner drops aborted batches via the transaction index).
        let aborted = self.lock().txn_index.collect(0, end_offset);
        // 1. Key map over the dirty section: newest offset per key.
        let hasher = KeyHasher::new();
        let mut map: HashMap<u128, i64> = HashMap::new();
        let mut map_end = end_offset;
        'build: for c in candidates.iter().filter(|c| c.sizes.end > first_dirty) {
            let mut full_at = None;
            for_each_batch(&c.file, c.sizes.size, |h, batch| {
                if full_at.is_some() || h.is_control() || is_aborted(h, &aborted) {
                    return Ok(());
                }
                for r in BatchRecords::new(&batch)? {
                    let r = r?;
                    if r.offset < first_dirty {
                        continue;
                    }
                    if let Some(k) = &r.key {
                        if map.len() >= KEY_MAP_ENTRIES_MAX && !map.contains_key(&hasher.digest(k))
                        {
                            full_at = Some(h.base_offset);
                            return Ok(());
                        }
                        map.insert(hasher.digest(k), r.offset);
                    }
                }
                Ok(())
            })?;
            if let Some(at) = full_at {
                map_end = at;
                break 'build;
            }
        }
        // 2. Rewrite every cleanable segment wholly below `map_end`, merged into size-bounded groups.
        let tombstone_horizon_ms = now_ms.saturating_sub(config.delete_retention_ms);
        let cleanable = candidates
            .iter()
            .take_while(|c| c.sizes.end <= map_end)
            .count();
        let sizes: Vec<SegmentSizes> = candidates[..cleanable].iter().map(|c| c.sizes).collect();
        let max_bytes = config
            .segment_bytes
            .clamp(1, super::partition::SEGMENT_BYTES_MAX);
        let mut freed = 0u64;
        for group in group_by_size(&sizes, max_bytes, u64::from(config.segment_index_bytes)) {
            let group = &candidates[group];
            freed += self.clean_group(group, &map, &hasher, tombstone_horizon_ms, &aborted)?;
        }
        self.lock().cleaner_checkpoint = Some(first_dirty.max(map_end.min(end_offset)));
        Ok(freed)
    }

    /// The closed segments old enough to clean (`min.compaction.lag.ms` against each one's newest
    /// timestamp), with those timestamps, the first dirty offset and the config; `None` when the partition is
    /// not compacted.
    #[allow(clippy::type_complexity)]
    fn cleanable_segments(
        &self,
        now_ms: i64,
    ) -> Option<(Vec<(SegmentSizes, i64)>, i64, super::LogConfig)> {
        let mut inner = self.lock();
        if inner.closed || !inner.config.cleanup_compact {
            return None;
        }
        let first_dirty = inner.cleaner_first_dirty();
        if inner.cleaner_checkpoint.is_some_and(|o| o != first_dirty) {
            // Out of range (the log start moved past it): reset, as Kafka's `cleanableOffsets` does.
            inner.cleaner_checkpoint = Some(first_dirty);
        }
        let lag_ms = inner.config.min_compaction_lag_ms;
        // Kafka's `firstUncleanableDirtyOffset`: never past the oldest open transaction, whose records
        // may still be aborted.
        let first_unstable = inner.producers.first_unstable_offset().unwrap_or(i64::MAX);
        let closed = inner
            .segments
            .windows(2)
            .take_while(|pair| pair[0].max_timestamp_ms <= now_ms.saturating_sub(lag_ms))
            .take_while(|pair| pair[1].base_offset <= first_unstable)
            .map(|pair| {
                let seg = &pair[0];
                let sizes = SegmentSizes {
                    base: seg.base_offset,
                    end: pair[1].base_offset,
                    size: seg.size_bytes(),
                    index_bytes: seg.index_bytes() as u64,
                };
                (sizes, seg.max_timestamp_ms)
            })
            .collect();
        Some((closed, first_dirty, inner.config.clone()))
    }

    /// Whether a dirty segment's first batch is older than `clean_until_ms`; reads a header only when the
    /// segment's newest timestamp does not settle it.
    fn dirt_overdue(
        &self,
        closed: &[(SegmentSizes, i64)],
        first_dirty: i64,
        clean_until_ms: i64,
    ) -> Result<bool, LogError> {
        for (s, max_timestamp_ms) in closed.iter().filter(|(s, _)| s.end > first_dirty) {
            if *max_timestamp_ms > 0 && *max_timestamp_ms < clean_until_ms {
                return Ok(true);
            }
            let Some(file) = self.candidate_files(std::slice::from_ref(&(*s, 0)))? else {
                return Ok(false);
            };
            if first_batch_timestamp(&file[0].file, s.size)?.is_some_and(|t| t < clean_until_ms) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The log files of `closed`, or `None` if a segment changed since it was sized (DeleteRecords or
    /// retention removed it): the next round starts over.
    fn candidate_files(
        &self,
        closed: &[(SegmentSizes, i64)],
    ) -> Result<Option<Vec<Candidate>>, LogError> {
        let inner = self.lock();
        let mut out = Vec::with_capacity(closed.len());
        for (sizes, _) in closed {
            let found = inner
                .segments
                .binary_search_by_key(&sizes.base, |s| s.base_offset)
                .ok()
                .map(|i| &inner.segments[i])
                .filter(|s| s.size_bytes() == sizes.size);
            let Some(seg) = found else {
                return Ok(None);
            };
            out.push(Candidate {
                sizes: *sizes,
                file: seg.file()?,
            });
        }
        Ok(Some(out))
    }

    /// The cleaner's position to persist (`cleaner-offset-checkpoint`): `None` until this partition was
    /// cleaned or a position was loaded at open.
    pub fn cleaner_checkpoint(&self) -> Option<i64> {
        self.lock().cleaner_checkpoint
    }

    /// Cleans `group` (consecutive closed segments) into one segment based at the first one's base and
    /// swaps it in. Crash safety: the output is complete and fsynced as `<base>.log.cleaned`, renamed to
    /// `<base>.log.swap` (folder fsynced: from here recovery completes the swap), then, under the lock,
    /// the first segment's indexes are removed, the others renamed `*.deleted` (folder fsynced, so no old
    /// segment can outlive the swap and overlap it), and the swap renamed to `<base>.log`. Every
    /// intermediate state is handled by `recovery::load` and [`finish_swaps`].
    fn clean_group(
        &self,
        group: &[Candidate],
        map: &HashMap<u128, i64>,
        hasher: &KeyHasher,
        tombstone_horizon_ms: i64,
        aborted: &[AbortedTxn],
    ) -> Result<u64, LogError> {
        let Some(first) = group.first() else {
            return Ok(0);
        };
        let base = first.sizes.base;
        let dir = self.dir();
        let (log_path, index_path, time_path) = paths(dir, base);
        let cleaned_path = dir.join(format!("{:020}.log.cleaned", base));
        let swap_path = dir.join(format!("{:020}.log.swap", base));
        let before: u64 = group.iter().map(|c| c.sizes.size).sum();
        let mut out = std::io::BufWriter::new(std::fs::File::create(&cleaned_path)?);
        let mut written = 0u64;
        // Merging is worth a rewrite even when no record goes.
        let mut changed = group.len() > 1;
        let mut copy = || -> Result<(), LogError> {
            for c in group {
                for_each_batch(&c.file, c.sizes.size, |h, batch| {
                    let cleaned = if is_aborted(h, aborted) {
                        CleanedBatch::Removed
                    } else {
                        clean_batch(h, &batch, map, hasher, tombstone_horizon_ms)?
                    };
                    let bytes: &[u8] = match cleaned {
                        CleanedBatch::Unchanged => &batch,
                        CleanedBatch::Removed => {
                            changed = true;
                            return Ok(());
                        }
                        CleanedBatch::Rebuilt(b) => {
                            changed = true;
                            written += b.len() as u64;
                            return out.write_all(&b).map_err(LogError::Io);
                        }
                    };
                    written += bytes.len() as u64;
                    out.write_all(bytes).map_err(LogError::Io)
                })?;
            }
            out.flush().map_err(LogError::Io)
        };
        if let Err(e) = copy() {
            // Unreadable input (or a full disk): leave no partial output behind.
            let _ = crate::log::fs::remove_file(&cleaned_path);
            return Err(e);
        }
        let file = out.into_inner().map_err(|e| LogError::Io(e.into_error()))?;
        if !changed {
            drop(file);
            crate::log::fs::remove_file(&cleaned_path)?;
            return Ok(0);
        }
        crate::log::fs::sync_all(&file)?;
        drop(file);
        crate::log::fs::rename(&cleaned_path, &swap_path)?;
        sync_dir(dir)?;
        let mut inner = self.lock();
        let i = inner.segments.iter().position(|s| s.base_offset == base);
        let still_there = i.is_some_and(|i| {
            // The whole group, still consecutive and still closed.
            i + group.len() < inner.segments.len()
                && group
                    .iter()
                    .zip(&inner.segments[i..])
                    .all(|(c, s)| s.base_offset == c.sizes.base)
        });
        let (Some(i), true) = (i, still_there) else {
            drop(inner);
            crate::log::fs::remove_file(&swap_path)?;
            return Ok(0);
        };
        // Old indexes go first: a crash from here on rebuilds them from the (old or new) log.
        remove_if_exists(&index_path)?;
        remove_if_exists(&time_path)?;
        // A second name keeps the old first segment's blocks allocated through the swap's rename (which
        // would otherwise free them all, here, under the partition lock); they are freed in paced steps
        // below, with the merged segments. A `.deleted` leftover is removed at the next start.
        let mut doomed = vec![keep_alive(&log_path)?];
        for seg in &inner.segments[i + 1..i + group.len()] {
            doomed.extend(seg.rename_deleted()?);
        }
        sync_dir(dir)?;
        crate::log::fs::rename(&swap_path, &log_path)?;
        let entries_max = index_entries_max(&inner.config);
        let interval = u64::from(inner.config.index_interval_bytes);
        // Known limitation: the re-index scan runs under the partition lock (stalls appends for the
        // duration of one segment scan, at most `segment.bytes`).
        let (mut seg, _) = Segment::open(
            dir,
            base,
            entries_max,
            interval,
            false,
            super::partition::now_ms(),
            self.file_cache(),
        )?;
        seg.write_indexes(true)?;
        inner.segments.splice(i..i + group.len(), [seg]);
        inner.dir_needs_sync = true;
        inner.recovery_point = inner.recovery_point.min(base);
        drop(inner);
        for p in &doomed {
            // Paced (see `log::remove`): freeing a whole segment at once stalls producers' fsyncs.
            super::remove::remove_file_paced(p)?;
        }
        self.request_flush();
        tracing::info!(
            topic = self.topic(),
            partition = self.partition(),
            base,
            segments = group.len(),
            before,
            after = written,
            "compacted segments"
        );
        Ok(before.saturating_sub(written))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(list: &[(i64, u64)], last_end: i64) -> Vec<SegmentSizes> {
        list.iter()
            .enumerate()
            .map(|(i, &(base, size))| SegmentSizes {
                base,
                end: list.get(i + 1).map_or(last_end, |n| n.0),
                size,
                index_bytes: 8,
            })
            .collect()
    }

    #[test]
    fn groups_by_size_index_and_offset_span() {
        let segs = sizes(&[(0, 300), (10, 300), (20, 500), (30, 100), (40, 700)], 50);
        assert_eq!(group_by_size(&segs, 700, 1 << 20), vec![0..2, 2..4, 4..5]);
        // Index limit: at most two segments' index bytes per group.
        assert_eq!(group_by_size(&segs, 10_000, 16), vec![0..2, 2..4, 4..5]);
        // Relative offsets must fit in 32 bits from the group's base.
        let far = sizes(
            &[(0, 1), (10, 1), (i64::from(i32::MAX), 1)],
            i64::from(i32::MAX) + 5,
        );
        assert_eq!(group_by_size(&far, 1 << 20, 1 << 20), vec![0..2, 2..3]);
        assert!(group_by_size(&[], 10, 10).is_empty());
    }
}
