//! The aborted-transaction index (Kafka's `TransactionIndex`): one `<base>.txnindex` file per segment
//! listing the transactions aborted by a marker in that segment, 34 bytes each — `version:int16 = 0,
//! producerId:int64, firstOffset:int64, lastOffset:int64, lastStableOffset:int64` — plus an in-memory
//! copy of every entry of the partition, ordered by marker offset. read_committed fetches take the
//! transactions aborted within their range from it so the client can drop their records.
//!
//! Durability: entries are appended to the page cache with the marker; the flusher fsyncs touched files
//! before it writes a producer snapshot, and recovery rebuilds the entries above its snapshot from the log.

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::segment::file_stem;

/// Bytes per entry.
pub const ENTRY_BYTES: usize = 34;

/// Entry format version.
const ENTRY_VERSION: i16 = 0;

/// One aborted transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    /// The producer.
    pub producer_id: i64,
    /// First offset the transaction wrote in this partition.
    pub first_offset: i64,
    /// Offset of its abort marker.
    pub last_offset: i64,
    /// The partition's LSO just after the marker (Kafka's bound for ending a search early).
    pub last_stable_offset: i64,
}

impl AbortedTxn {
    /// The 34-byte file entry.
    pub fn encode(&self) -> [u8; ENTRY_BYTES] {
        let mut b = [0u8; ENTRY_BYTES];
        b[..2].copy_from_slice(&ENTRY_VERSION.to_be_bytes());
        b[2..10].copy_from_slice(&self.producer_id.to_be_bytes());
        b[10..18].copy_from_slice(&self.first_offset.to_be_bytes());
        b[18..26].copy_from_slice(&self.last_offset.to_be_bytes());
        b[26..34].copy_from_slice(&self.last_stable_offset.to_be_bytes());
        b
    }

    /// Parses one entry; `None` for an unknown version.
    pub fn decode(b: &[u8; ENTRY_BYTES]) -> Option<AbortedTxn> {
        let i64_at = |at: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[at..at + 8]);
            i64::from_be_bytes(a)
        };
        (i16::from_be_bytes([b[0], b[1]]) == ENTRY_VERSION).then(|| AbortedTxn {
            producer_id: i64_at(2),
            first_offset: i64_at(10),
            last_offset: i64_at(18),
            last_stable_offset: i64_at(26),
        })
    }
}

/// Path of a segment's index.
pub fn path(dir: &Path, segment_base: i64) -> PathBuf {
    dir.join(format!("{}.txnindex", file_stem(segment_base)))
}

/// The aborted transactions of one partition.
#[derive(Debug, Default)]
pub struct TxnIndex {
    /// (segment base, entry), ordered by marker offset.
    entries: Vec<(i64, AbortedTxn)>,
    /// Segments whose file was written since its last fsync.
    dirty: BTreeSet<i64>,
}

impl TxnIndex {
    /// Number of entries (tests).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True without entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Records an abort whose marker sits in the segment at `segment_base`, appending it to that
    /// segment's file (page cache only).
    pub fn append(&mut self, dir: &Path, segment_base: i64, txn: AbortedTxn) -> io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path(dir, segment_base))?;
        f.write_all(&txn.encode())?;
        self.entries.push((segment_base, txn));
        self.dirty.insert(segment_base);
        Ok(())
    }

    /// Recovery: records an entry already in its file.
    pub(crate) fn push_loaded(&mut self, segment_base: i64, txn: AbortedTxn) {
        self.entries.push((segment_base, txn));
    }

    /// Kafka's `collectAbortedTxns`: the transactions that may have records in `[fetch_offset,
    /// upper_bound)`, i.e. aborted at or after `fetch_offset` and started before `upper_bound`.
    pub fn collect(&self, fetch_offset: i64, upper_bound: i64) -> Vec<AbortedTxn> {
        let start = self
            .entries
            .partition_point(|(_, t)| t.last_offset < fetch_offset);
        let mut out = Vec::new();
        for (_, t) in &self.entries[start..] {
            if t.first_offset < upper_bound {
                out.push(*t);
            }
            if t.last_stable_offset >= upper_bound {
                break;
            }
        }
        out
    }

    /// Drops entries whose marker is at or after `offset` (recovery replays them again); returns the
    /// segments whose files must be rewritten.
    pub(crate) fn truncate_from(&mut self, offset: i64) -> BTreeSet<i64> {
        let keep = self
            .entries
            .partition_point(|(_, t)| t.last_offset < offset);
        self.entries.drain(keep..).map(|(base, _)| base).collect()
    }

    /// Writes the file of `segment_base` afresh from memory (recovery, after a replay).
    pub(crate) fn rewrite(&mut self, dir: &Path, segment_base: i64) -> io::Result<()> {
        let mut buf = Vec::new();
        for (_, t) in self.entries.iter().filter(|(b, _)| *b == segment_base) {
            buf.extend_from_slice(&t.encode());
        }
        let p = path(dir, segment_base);
        if buf.is_empty() {
            return match crate::log::fs::remove_file(&p) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            };
        }
        std::fs::write(&p, &buf)?;
        self.dirty.insert(segment_base);
        Ok(())
    }

    /// Forgets entries of segments below `first_base` (deleted by retention) and removes their files.
    pub(crate) fn delete_below(&mut self, dir: &Path, first_base: i64) -> io::Result<()> {
        let gone: BTreeSet<i64> = self
            .entries
            .iter()
            .map(|(b, _)| *b)
            .filter(|b| *b < first_base)
            .collect();
        self.entries.retain(|(b, _)| *b >= first_base);
        for base in gone {
            self.dirty.remove(&base);
            match crate::log::fs::remove_file(path(dir, base)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    /// Segments written since their last fsync (the flusher syncs them).
    pub(crate) fn take_dirty(&mut self) -> BTreeSet<i64> {
        std::mem::take(&mut self.dirty)
    }
}

/// Reads the entries of one segment's file (missing file: none). A torn last entry is ignored.
pub(crate) fn read_file(dir: &Path, segment_base: i64) -> io::Result<Vec<AbortedTxn>> {
    let bytes = match std::fs::read(path(dir, segment_base)) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(bytes
        .chunks_exact(ENTRY_BYTES)
        .filter_map(|c| <&[u8; ENTRY_BYTES]>::try_from(c).ok())
        .filter_map(AbortedTxn::decode)
        .collect())
}

/// Fsyncs the files of `bases` (flusher thread).
pub(crate) fn sync_files(dir: &Path, bases: &BTreeSet<i64>) -> io::Result<()> {
    for base in bases {
        match std::fs::File::open(path(dir, *base)) {
            Ok(f) => crate::log::fs::sync_all(&f)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(pid: i64, first: i64, last: i64, lso: i64) -> AbortedTxn {
        AbortedTxn {
            producer_id: pid,
            first_offset: first,
            last_offset: last,
            last_stable_offset: lso,
        }
    }

    #[test]
    fn entry_is_kafkas_34_bytes() {
        let e = t(0x0102, 3, 9, 10);
        let b = e.encode();
        assert_eq!(&b[..2], &[0, 0]);
        assert_eq!(&b[2..10], &0x0102i64.to_be_bytes());
        assert_eq!(AbortedTxn::decode(&b), Some(e));
        let mut bad = b;
        bad[1] = 1;
        assert_eq!(AbortedTxn::decode(&bad), None);
    }

    #[test]
    fn files_roundtrip_and_collect_bounds() {
        let dir = tempfile::tempdir().expect("dir");
        let mut idx = TxnIndex::default();
        idx.append(dir.path(), 0, t(1, 0, 5, 6)).expect("append");
        idx.append(dir.path(), 0, t(2, 3, 8, 9)).expect("append");
        idx.append(dir.path(), 10, t(1, 12, 20, 21))
            .expect("append");
        assert_eq!(read_file(dir.path(), 0).expect("read").len(), 2);
        assert_eq!(
            read_file(dir.path(), 10).expect("read"),
            vec![t(1, 12, 20, 21)]
        );
        // Fetching [6, 12): the txn aborted at 8 overlaps; the one at 5 ended before; the one at 20
        // started at 12 (not before the bound).
        assert_eq!(idx.collect(6, 12), vec![t(2, 3, 8, 9)]);
        assert_eq!(idx.collect(0, 100).len(), 3);
        assert_eq!(idx.collect(21, 100), vec![]);
        // Recovery drops entries from an offset on and rewrites their files.
        let touched = idx.truncate_from(8);
        assert_eq!(touched.into_iter().collect::<Vec<_>>(), vec![0, 10]);
        idx.rewrite(dir.path(), 0).expect("rewrite");
        idx.rewrite(dir.path(), 10).expect("rewrite");
        assert_eq!(read_file(dir.path(), 0).expect("read"), vec![t(1, 0, 5, 6)]);
        assert!(!path(dir.path(), 10).exists());
        idx.delete_below(dir.path(), 10).expect("delete");
        assert!(idx.is_empty() && !path(dir.path(), 0).exists());
    }
}
