//! The time index of one segment (`.timeindex`): 8-byte max timestamp so far → 4-byte relative offset.
//!
//! Timestamps only grow (an entry is added only when the segment's max timestamp grew), so a lookup is a
//! binary search; like the offset index it is kept in memory and rebuilt from the log after an unclean stop.

use std::io;
use std::path::Path;

/// Bytes per time-index entry.
pub const TIME_ENTRY_BYTES: usize = 12;

/// In-memory time index of one segment, mirrored to its `.timeindex` file.
#[derive(Debug, Clone)]
pub struct TimeIndex {
    /// Offset the relative offsets are relative to (the segment's base offset).
    base_offset: i64,
    /// (max timestamp so far, relative offset of the batch holding it); timestamps strictly increasing.
    entries: Vec<(i64, u32)>,
    /// How many leading entries are already in the file.
    entries_written: usize,
    /// Capacity from `segment.index.bytes`; a full index rolls the segment.
    entries_max: usize,
}

impl TimeIndex {
    /// An empty index.
    pub fn new(base_offset: i64, entries_max: usize) -> TimeIndex {
        TimeIndex {
            base_offset,
            entries: Vec::new(),
            entries_written: 0,
            entries_max: entries_max.max(1),
        }
    }

    /// Loads a file's bytes; `None` if they are not a valid (monotonic) time index.
    pub fn from_bytes(base_offset: i64, bytes: &[u8], entries_max: usize) -> Option<TimeIndex> {
        if bytes.len() % TIME_ENTRY_BYTES != 0 {
            return None;
        }
        let mut entries: Vec<(i64, u32)> = Vec::with_capacity(bytes.len() / TIME_ENTRY_BYTES);
        for c in bytes.chunks_exact(TIME_ENTRY_BYTES) {
            let ts = i64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            let rel = u32::from_be_bytes([c[8], c[9], c[10], c[11]]);
            if let Some(&(t, r)) = entries.last() {
                if ts <= t || rel < r {
                    return None;
                }
            }
            entries.push((ts, rel));
        }
        let n = entries.len();
        Some(TimeIndex {
            base_offset,
            entries,
            entries_written: n,
            entries_max: entries_max.max(1),
        })
    }

    /// Loads the file at `path`; `Ok(None)` when missing or invalid.
    pub fn load(
        path: &Path,
        base_offset: i64,
        entries_max: usize,
    ) -> io::Result<Option<TimeIndex>> {
        match std::fs::read(path) {
            Ok(bytes) => Ok(TimeIndex::from_bytes(base_offset, &bytes, entries_max)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// True when another entry would exceed `segment.index.bytes`.
    pub fn is_full(&self) -> bool {
        self.entries.len() >= self.entries_max
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds (timestamp, offset) if the timestamp is larger than the last entry's.
    pub fn maybe_append(&mut self, timestamp_ms: i64, offset: i64) {
        let Ok(rel) = u32::try_from(offset - self.base_offset) else {
            return;
        };
        if let Some(&(t, r)) = self.entries.last() {
            if timestamp_ms <= t || rel < r {
                return;
            }
        }
        if !self.is_full() {
            self.entries.push((timestamp_ms, rel));
        }
    }

    /// Offset to start scanning from for the first record with timestamp ≥ `timestamp_ms`: the offset of
    /// the last entry whose timestamp is < target (records before it are all older), else the base offset.
    pub fn lookup(&self, timestamp_ms: i64) -> i64 {
        let idx = self.entries.partition_point(|&(t, _)| t < timestamp_ms);
        if idx == 0 {
            self.base_offset
        } else {
            self.base_offset + i64::from(self.entries[idx - 1].1)
        }
    }

    /// The last entry as (timestamp, absolute offset).
    pub fn last(&self) -> Option<(i64, i64)> {
        self.entries
            .last()
            .map(|&(t, r)| (t, self.base_offset + i64::from(r)))
    }

    /// Writes entries not yet in the file (the whole file if `rewrite`); does not fsync.
    pub fn write(&mut self, path: &Path, rewrite: bool) -> io::Result<()> {
        if !rewrite && self.entries_written == self.entries.len() {
            return Ok(());
        }
        let from = if rewrite { 0 } else { self.entries_written };
        super::index::write_entries(
            path,
            rewrite,
            from,
            &self.entries,
            TIME_ENTRY_BYTES,
            |buf, &(t, r)| {
                buf.extend_from_slice(&t.to_be_bytes());
                buf.extend_from_slice(&r.to_be_bytes());
            },
        )?;
        self.entries_written = self.entries.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_and_lookup() {
        let mut t = TimeIndex::new(1000, 10);
        t.maybe_append(50, 1000);
        t.maybe_append(40, 1005); // older: ignored
        t.maybe_append(80, 1010);
        t.maybe_append(120, 1020);
        assert_eq!(t.len(), 3);
        assert_eq!(t.lookup(10), 1000);
        assert_eq!(t.lookup(50), 1000);
        assert_eq!(t.lookup(51), 1000);
        assert_eq!(t.lookup(81), 1010);
        assert_eq!(t.lookup(1000), 1020);
        assert_eq!(t.last(), Some((120, 1020)));
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("x.timeindex");
        t.write(&p, false).expect("write");
        let l = TimeIndex::load(&p, 1000, 10).expect("io").expect("valid");
        assert_eq!(l.last(), Some((120, 1020)));
    }
}
