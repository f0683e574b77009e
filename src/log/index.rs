//! The sparse offset index of one segment (`.index`): 4-byte relative offset → 4-byte file position.
//!
//! Entries live in memory (8 bytes per `index.interval.bytes` of log, so about 0.2% of the segment) and are
//! written to the file on flush, roll and shutdown; after an unclean stop the index of every segment at or
//! after the recovery point is rebuilt from the log, so the file never needs to be fsynced per append.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Bytes per offset-index entry.
pub const OFFSET_ENTRY_BYTES: usize = 8;

/// In-memory offset index of one segment, mirrored to its `.index` file.
#[derive(Debug, Clone)]
pub struct OffsetIndex {
    /// Offset the relative offsets are relative to (the segment's base offset).
    base_offset: i64,
    /// (relative offset, position) pairs, both strictly increasing.
    entries: Vec<(u32, u32)>,
    /// How many leading entries are already in the file; the rest is written on the next flush.
    entries_written: usize,
    /// Capacity from `segment.index.bytes`; a full index rolls the segment.
    entries_max: usize,
}

impl OffsetIndex {
    /// An empty index.
    pub fn new(base_offset: i64, entries_max: usize) -> OffsetIndex {
        OffsetIndex {
            base_offset,
            entries: Vec::new(),
            entries_written: 0,
            entries_max: entries_max.max(1),
        }
    }

    /// Loads an index file's bytes; `None` if the contents are not a valid index (not a multiple of the
    /// entry size or not strictly increasing), in which case the caller rebuilds it from the log.
    pub fn from_bytes(
        base_offset: i64,
        bytes: &[u8],
        entries_max: usize,
        log_size: u64,
    ) -> Option<OffsetIndex> {
        if bytes.len() % OFFSET_ENTRY_BYTES != 0 {
            return None;
        }
        let mut entries = Vec::with_capacity(bytes.len() / OFFSET_ENTRY_BYTES);
        for chunk in bytes.chunks_exact(OFFSET_ENTRY_BYTES) {
            let rel = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            let pos = u32::from_be_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
            if let Some(&(r, p)) = entries.last() {
                if rel <= r || pos <= p {
                    return None;
                }
            }
            if u64::from(pos) >= log_size.max(1) || rel > i32::MAX as u32 {
                return None;
            }
            entries.push((rel, pos));
        }
        let n = entries.len();
        Some(OffsetIndex {
            base_offset,
            entries,
            entries_written: n,
            entries_max: entries_max.max(1),
        })
    }

    /// Loads the index file at `path` (a missing file is an empty index).
    pub fn load(
        path: &Path,
        base_offset: i64,
        entries_max: usize,
        log_size: u64,
    ) -> io::Result<Option<OffsetIndex>> {
        match std::fs::read(path) {
            Ok(bytes) => Ok(OffsetIndex::from_bytes(
                base_offset,
                &bytes,
                entries_max,
                log_size,
            )),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// True when another entry would exceed `segment.index.bytes`.
    pub fn is_full(&self) -> bool {
        self.entries.len() >= self.entries_max
    }

    /// Adds an entry for the batch ending at `offset` that starts at `position`; ignored unless both grow.
    pub fn append(&mut self, offset: i64, position: u32) {
        let rel = offset - self.base_offset;
        debug_assert!(
            (0..=i64::from(i32::MAX)).contains(&rel),
            "relative offset {rel} out of range"
        );
        let Ok(rel) = u32::try_from(rel) else { return };
        if let Some(&(r, p)) = self.entries.last() {
            if rel <= r || position <= p {
                return;
            }
        }
        if !self.is_full() {
            self.entries.push((rel, position));
        }
    }

    /// Position to start scanning for `offset`: that of the largest entry whose offset ≤ `offset`, else 0.
    pub fn lookup(&self, offset: i64) -> u32 {
        let rel = offset - self.base_offset;
        if rel < 0 {
            return 0;
        }
        let rel = u32::try_from(rel).unwrap_or(u32::MAX);
        let idx = self.entries.partition_point(|&(r, _)| r <= rel);
        if idx == 0 {
            0
        } else {
            self.entries[idx - 1].1
        }
    }

    /// The entries as (absolute offset, position).
    pub fn entries(&self) -> impl Iterator<Item = (i64, u32)> + '_ {
        self.entries
            .iter()
            .map(move |&(r, p)| (self.base_offset + i64::from(r), p))
    }

    /// Writes entries not yet in the file (the whole file if `rewrite`); does not fsync.
    pub fn write(&mut self, path: &Path, rewrite: bool) -> io::Result<()> {
        if !rewrite && self.entries_written == self.entries.len() {
            return Ok(());
        }
        let from = if rewrite { 0 } else { self.entries_written };
        write_entries(
            path,
            rewrite,
            from,
            &self.entries,
            OFFSET_ENTRY_BYTES,
            |buf, &(r, p)| {
                buf.extend_from_slice(&r.to_be_bytes());
                buf.extend_from_slice(&p.to_be_bytes());
            },
        )?;
        self.entries_written = self.entries.len();
        Ok(())
    }

    /// Opens the file for an fsync.
    pub fn open_for_sync(path: &Path) -> io::Result<File> {
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
    }
}

/// Writes `entries[from..]` (each `entry_bytes` long once encoded) into an index file at their fixed
/// positions and trims the file to the entry count; shared by the offset and time indexes. No fsync.
pub(crate) fn write_entries<E>(
    path: &Path,
    rewrite: bool,
    from: usize,
    entries: &[E],
    entry_bytes: usize,
    mut encode: impl FnMut(&mut Vec<u8>, &E),
) -> io::Result<()> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(rewrite)
        .open(path)?;
    let mut buf = Vec::with_capacity((entries.len() - from) * entry_bytes);
    for e in &entries[from..] {
        encode(&mut buf, e);
    }
    file.write_all_at(&buf, (from * entry_bytes) as u64)?;
    file.set_len((entries.len() * entry_bytes) as u64)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lookup_basics() {
        let mut idx = OffsetIndex::new(100, 10);
        assert_eq!(idx.lookup(150), 0);
        idx.append(110, 4096);
        idx.append(120, 8192);
        idx.append(115, 9000); // not increasing: ignored
        assert_eq!(idx.len(), 2);
        assert_eq!(idx.lookup(99), 0);
        assert_eq!(idx.lookup(109), 0);
        assert_eq!(idx.lookup(110), 4096);
        assert_eq!(idx.lookup(119), 4096);
        assert_eq!(idx.lookup(120), 8192);
        assert_eq!(idx.lookup(i64::MAX), 8192);
    }

    #[test]
    fn full_and_file_roundtrip() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("0.index");
        let mut idx = OffsetIndex::new(0, 3);
        for i in 1..=5 {
            idx.append(i * 10, (i * 1000) as u32);
        }
        assert!(idx.is_full());
        assert_eq!(idx.len(), 3);
        idx.write(&path, false).expect("write");
        let loaded = OffsetIndex::load(&path, 0, 3, 1 << 20)
            .expect("io")
            .expect("valid");
        assert_eq!(
            loaded.entries().collect::<Vec<_>>(),
            idx.entries().collect::<Vec<_>>()
        );
        // Garbage is refused, not trusted.
        std::fs::write(&path, [0u8; 12]).expect("write");
        assert!(OffsetIndex::load(&path, 0, 3, 1 << 20)
            .expect("io")
            .is_none());
    }

    proptest! {
        /// lookup(o) returns the position of the greatest entry ≤ o, for any set of increasing entries.
        #[test]
        fn lookup_is_floor(base in 0i64..1_000_000, gaps in proptest::collection::vec((1u32..1000, 1u32..100_000), 0..200), probe in 0i64..3_000_000) {
            let mut idx = OffsetIndex::new(base, 10_000);
            let mut model = Vec::new();
            let (mut rel, mut pos) = (0u32, 0u32);
            for (dr, dp) in gaps {
                rel += dr;
                pos += dp;
                idx.append(base + i64::from(rel), pos);
                model.push((base + i64::from(rel), pos));
            }
            let expect = model.iter().rev().find(|(o, _)| *o <= probe).map_or(0, |&(_, p)| p);
            prop_assert_eq!(idx.lookup(probe), expect);
            let bytes: Vec<u8> = model.iter().flat_map(|&(o, p)| {
                let mut v = ((o - base) as u32).to_be_bytes().to_vec();
                v.extend_from_slice(&p.to_be_bytes());
                v
            }).collect();
            let loaded = OffsetIndex::from_bytes(base, &bytes, 10_000, u64::MAX);
            prop_assert!(loaded.is_some());
            prop_assert_eq!(loaded.map(|l| l.lookup(probe)), Some(expect));
        }
    }
}
