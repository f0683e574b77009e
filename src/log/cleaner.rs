//! Log compaction (`cleanup.policy=compact`): keeps the newest record per key in closed segments.
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
            std::fs::remove_file(entry.path())?;
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
                let _ = std::fs::remove_file(p);
            }
        }
        bases.retain(|b| *b <= base || *b >= covered_until);
        let _ = std::fs::remove_file(&index);
        let _ = std::fs::remove_file(&time);
        std::fs::rename(&swap, &log)?;
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

/// One closed segment chosen for cleaning (snapshot taken under the lock).
struct Candidate {
    /// Base offset of the segment.
    base: i64,
    /// Its log file.
    file: Arc<std::fs::File>,
    /// Its size when chosen (closed segments do not grow).
    size: u64,
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

impl PartitionLog {
    /// One compaction pass at `now_ms` (no-op unless the topic is `cleanup_compact`). Cleans the closed
    /// segments older than `min.compaction.lag.ms` when the dirty ratio reaches
    /// `min.cleanable.dirty.ratio`; never touches the active segment. Returns bytes freed.
    pub fn clean_pass(&self, now_ms: i64) -> Result<u64, LogError> {
        let (candidates, first_dirty, config) = {
            let inner = self.lock();
            if inner.closed || !inner.config.cleanup_compact {
                return Ok(0);
            }
            let n = inner.segments.len();
            let lag_ms = inner.config.min_compaction_lag_ms;
            let mut out = Vec::new();
            for seg in &inner.segments[..n.saturating_sub(1)] {
                if seg.max_timestamp_ms > now_ms.saturating_sub(lag_ms) {
                    break;
                }
                out.push(Candidate {
                    base: seg.base_offset,
                    file: seg.file()?,
                    size: seg.size_bytes(),
                });
            }
            (out, inner.cleaner_first_dirty, inner.config.clone())
        };
        let Some(end_offset) = self.cleanable_end(&candidates) else {
            return Ok(0);
        };
        let total: u64 = candidates.iter().map(|c| c.size).sum();
        let dirty: u64 = candidates
            .iter()
            .filter(|c| self.segment_end(c.base).unwrap_or(i64::MAX) > first_dirty)
            .map(|c| c.size)
            .sum();
        if total == 0
            || dirty == 0
            || (dirty as f64 / total as f64) < config.min_cleanable_dirty_ratio
        {
            return Ok(0);
        }
        // 1. Key map over the dirty section: newest offset per key.
        let hasher = KeyHasher::new();
        let mut map: HashMap<u128, i64> = HashMap::new();
        let mut map_end = end_offset;
        'build: for c in candidates
            .iter()
            .filter(|c| self.segment_end(c.base).unwrap_or(i64::MAX) > first_dirty)
        {
            let mut full_at = None;
            for_each_batch(&c.file, c.size, |h, batch| {
                if full_at.is_some() || h.is_control() {
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
        // 2. Rewrite every cleanable segment wholly below `map_end`.
        let tombstone_horizon_ms = now_ms.saturating_sub(config.delete_retention_ms);
        let mut freed = 0u64;
        for c in &candidates {
            let seg_end = self.segment_end(c.base).unwrap_or(i64::MAX);
            if seg_end > map_end {
                break;
            }
            freed += self.clean_segment(c, &map, &hasher, tombstone_horizon_ms)?;
        }
        self.lock().cleaner_first_dirty = first_dirty.max(map_end.min(end_offset));
        Ok(freed)
    }

    fn cleanable_end(&self, candidates: &[Candidate]) -> Option<i64> {
        let last = candidates.last()?;
        self.segment_end(last.base)
    }

    /// Offset where the segment based at `base` ends (the next segment's base).
    fn segment_end(&self, base: i64) -> Option<i64> {
        let inner = self.lock();
        let i = inner.segments.iter().position(|s| s.base_offset == base)?;
        inner.segments.get(i + 1).map(|s| s.base_offset)
    }

    fn clean_segment(
        &self,
        c: &Candidate,
        map: &HashMap<u128, i64>,
        hasher: &KeyHasher,
        tombstone_horizon_ms: i64,
    ) -> Result<u64, LogError> {
        let dir = self.dir();
        let (log_path, index_path, time_path) = paths(dir, c.base);
        let cleaned_path = dir.join(format!("{:020}.log.cleaned", c.base));
        let swap_path = dir.join(format!("{:020}.log.swap", c.base));
        let mut out = std::io::BufWriter::new(std::fs::File::create(&cleaned_path)?);
        let mut written = 0u64;
        let mut changed = false;
        for_each_batch(&c.file, c.size, |h, batch| {
            if h.is_control() {
                written += batch.len() as u64;
                return out.write_all(&batch).map_err(LogError::Io);
            }
            let mut kept = BytesMut::new();
            let mut kept_count = 0i32;
            let mut dropped = false;
            let mut records = BatchRecords::new(&batch)?;
            let codec = h.compression().unwrap_or(super::batch::Compression::None);
            for r in &mut records {
                let r = r?;
                let newest = match &r.key {
                    Some(k) => map.get(&hasher.digest(k)).is_none_or(|&o| o <= r.offset),
                    None => true,
                };
                let expired_tombstone =
                    r.value.is_none() && h.max_timestamp <= tombstone_horizon_ms;
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
                written += batch.len() as u64;
                return out.write_all(&batch).map_err(LogError::Io);
            }
            changed = true;
            if kept_count == 0 {
                return Ok(());
            }
            let section = compress(codec, &kept)?;
            let rebuilt = assemble_batch(
                &section,
                kept_count,
                h.last_offset_delta,
                h.base_timestamp,
                h.max_timestamp,
                h.producer_id,
                h.producer_epoch,
                h.base_sequence,
                h.attributes,
            );
            let mut rebuilt = rebuilt.to_vec();
            super::batch::stamp_base_offset(&mut rebuilt, h.base_offset);
            super::batch::stamp_leader_epoch(&mut rebuilt, h.partition_leader_epoch);
            written += rebuilt.len() as u64;
            out.write_all(&rebuilt).map_err(LogError::Io)
        })?;
        let file = out.into_inner().map_err(|e| LogError::Io(e.into_error()))?;
        if !changed {
            drop(file);
            std::fs::remove_file(&cleaned_path)?;
            return Ok(0);
        }
        file.sync_all()?;
        drop(file);
        std::fs::rename(&cleaned_path, &swap_path)?;
        sync_dir(dir)?;
        let mut inner = self.lock();
        let Some(i) = inner.segments.iter().position(|s| s.base_offset == c.base) else {
            drop(inner);
            std::fs::remove_file(&swap_path)?;
            return Ok(0);
        };
        if i + 1 >= inner.segments.len() {
            drop(inner);
            std::fs::remove_file(&swap_path)?;
            return Ok(0);
        }
        // Old indexes go first: a crash from here on rebuilds them from the (old or new) log.
        for p in [&index_path, &time_path] {
            match std::fs::remove_file(p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        std::fs::rename(&swap_path, &log_path)?;
        let entries_max = index_entries_max(&inner.config);
        let interval = u64::from(inner.config.index_interval_bytes);
        // Known limitation: the re-index scan runs under the partition lock (stalls appends for the
        // duration of one segment scan).
        let (mut seg, _) = Segment::open(
            dir,
            c.base,
            entries_max,
            interval,
            false,
            super::partition::now_ms(),
            self.file_cache(),
        )?;
        seg.write_indexes(true)?;
        inner.segments[i] = seg;
        inner.dir_needs_sync = true;
        inner.recovery_point = inner.recovery_point.min(c.base);
        drop(inner);
        self.request_flush();
        tracing::info!(
            topic = self.topic(),
            partition = self.partition(),
            base = c.base,
            before = c.size,
            after = written,
            "compacted segment"
        );
        Ok(c.size.saturating_sub(written))
    }
}
