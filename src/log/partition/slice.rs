//! Reads whole batches as a range of a segment file instead of copying them: the Fetch response sends the
//! range with `sendfile`, so record bytes go from the page cache to the socket without a user-space copy.
//!
//! Only batch headers are read (one `pread` of 61 bytes per batch) to find where the range ends: at
//! `max_bytes` (at least one batch, KIP-74), before the first batch at or past the bound (high watermark,
//! log end or last stable offset), never inside a batch. A range of many small batches would cost more
//! header reads than one copy, so past [`HEADERS_MAX`] headers the read falls back to copying.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use super::super::batch::{BatchHeader, HEADER_LEN};
use super::super::segment::read_batches;
use super::super::{LogError, Offsets};
use super::{replica, PartitionLog};
use crate::log::txn_index::AbortedTxn;

/// Most batch headers read to delimit one range; beyond that the batches are copied (see module docs).
/// 128 headers cover a 1 MiB partition fetch of batches of 8 KiB and more.
const HEADERS_MAX: usize = 128;

/// Whole batches of a segment file: `len` bytes from `pos`. The `Arc` keeps the file open, so a range
/// still queued for a client when its segment is deleted reads the old inode (a truncated one ends early,
/// which the writer treats as an error and closes the connection: never a wrong byte).
#[derive(Debug, Clone)]
pub struct FileSlice {
    /// The segment's log file.
    pub file: Arc<File>,
    /// Position of the first batch.
    pub pos: u64,
    /// Bytes of whole batches from `pos`.
    pub len: u64,
}

impl FileSlice {
    /// Copies the range into memory (for callers that need the bytes themselves).
    pub fn to_bytes(&self) -> io::Result<Bytes> {
        let len = usize::try_from(self.len).map_err(io::Error::other)?;
        let mut buf = vec![0u8; len];
        self.file.read_exact_at(&mut buf, self.pos)?;
        Ok(Bytes::from(buf))
    }
}

/// Record batches of a read: in memory, or a file range to send as it is.
#[derive(Debug, Clone)]
pub enum Records {
    /// Bytes already in memory (copied from the file, or empty).
    Mem(Bytes),
    /// Whole batches in a segment file.
    File(FileSlice),
}

impl Records {
    /// Bytes of record batches.
    pub fn len(&self) -> usize {
        match self {
            Records::Mem(b) => b.len(),
            Records::File(f) => usize::try_from(f.len).unwrap_or(usize::MAX),
        }
    }

    /// True when there is no batch.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Where a read stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadBound {
    /// What consumers see (read_uncommitted).
    HighWatermark,
    /// What followers copy.
    LogEnd,
    /// What read_committed consumers see.
    LastStable,
}

/// Whole batches read as a file range where possible.
#[derive(Debug, Clone)]
pub struct SliceRead {
    /// The batches, from the one holding the requested offset.
    pub records: Records,
    /// Offsets of the partition at the time of the read.
    pub offsets: Offsets,
    /// Aborted transactions overlapping the batches (read_committed only).
    pub aborted: Vec<AbortedTxn>,
}

impl PartitionLog {
    /// Like [`read`](Self::read) (or [`read_to_log_end`](Self::read_to_log_end), or
    /// [`read_committed`](Self::read_committed), by `bound`), but the batches come back as a range of the
    /// segment file whenever that is cheaper than copying them.
    pub fn read_slice(
        &self,
        offset: i64,
        max_bytes: usize,
        bound: ReadBound,
    ) -> Result<SliceRead, LogError> {
        let offsets = self.offsets();
        let upto = match bound {
            ReadBound::HighWatermark => offsets.high_watermark,
            ReadBound::LogEnd => offsets.log_end,
            ReadBound::LastStable => offsets.last_stable,
        };
        if offset < offsets.log_start || offset > offsets.log_end {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start: offsets.log_start,
                log_end: offsets.log_end,
            });
        }
        let empty = SliceRead {
            records: Records::Mem(Bytes::new()),
            offsets,
            aborted: Vec::new(),
        };
        if offset >= upto {
            return Ok(empty);
        }
        let Some((view, pos, header)) = self.first_batch(offset)? else {
            return Ok(empty);
        };
        let (records, next_offset) =
            match delimit(&view.file, pos, view.end_pos, &header, max_bytes, upto)? {
                Some((len, next)) => (
                    Records::File(FileSlice {
                        file: view.file.clone(),
                        pos,
                        len,
                    }),
                    next,
                ),
                None => {
                    let first_len = header.total_len() as u64;
                    let copied = read_batches(&view.file, pos, view.end_pos, first_len, max_bytes)?;
                    let copied = replica::cut_at(copied, upto);
                    let next = super::super::batch::split_batches(&copied)
                        .last()
                        .map_or(offset, |(h, _)| h.next_offset());
                    (Records::Mem(copied), next)
                }
            };
        self.io
            .bytes_out
            .fetch_add(records.len() as u64, Ordering::Relaxed);
        let aborted = if bound == ReadBound::LastStable && !records.is_empty() {
            self.aborted_txns(offset, next_offset.min(upto))
        } else {
            Vec::new()
        };
        let records = if records.is_empty() {
            Records::Mem(Bytes::new())
        } else {
            records
        };
        Ok(SliceRead {
            records,
            offsets,
            aborted,
        })
    }
}

/// Length of the whole batches from `pos` (where `first` starts) that fit in `max_bytes` (at least the
/// first), end before `end_pos` and start below offset `upto`, with the offset after the last of them.
/// `None` when that takes more than [`HEADERS_MAX`] header reads.
fn delimit(
    file: &File,
    pos: u64,
    end_pos: u64,
    first: &BatchHeader,
    max_bytes: usize,
    upto: i64,
) -> io::Result<Option<(u64, i64)>> {
    if first.base_offset >= upto {
        return Ok(Some((0, first.base_offset)));
    }
    let first_len = first.total_len() as u64;
    let limit = end_pos.min(pos + (max_bytes as u64).max(first_len));
    let (mut at, mut next) = (pos + first_len, first.next_offset());
    let mut header_buf = [0u8; HEADER_LEN];
    for _ in 0..HEADERS_MAX {
        if at + HEADER_LEN as u64 > limit {
            return Ok(Some((at - pos, next)));
        }
        file.read_exact_at(&mut header_buf, at)?;
        let Ok(h) = BatchHeader::parse(&header_buf) else {
            return Ok(Some((at - pos, next)));
        };
        let total = h.total_len() as u64;
        if total < HEADER_LEN as u64 || at + total > limit || h.base_offset >= upto {
            return Ok(Some((at - pos, next)));
        }
        at += total;
        next = h.next_offset();
    }
    Ok((at + HEADER_LEN as u64 > limit).then_some((at - pos, next)))
}

#[cfg(test)]
mod tests {
    use super::super::super::batch::{build_batch, KeyValue, ATTR_TRANSACTIONAL};
    use super::super::super::producer_state::ControlType;
    use super::super::super::{LogConfig, LogStore, StoreOptions};
    use super::super::now_ms;
    use super::*;

    fn batch(n: usize, value: &[u8]) -> Bytes {
        let recs: Vec<KeyValue<'_>> = (0..n).map(|_| (None, Some(value))).collect();
        build_batch(&recs, now_ms(), -1, -1, -1, 0)
    }

    fn txn(pid: i64, seq: i32, n: usize) -> Bytes {
        let recs: Vec<KeyValue<'_>> = (0..n).map(|_| (None, Some(&b"t"[..]))).collect();
        build_batch(&recs, now_ms(), pid, 0, seq, ATTR_TRANSACTIONAL)
    }

    /// read_committed as a range: the same batches and aborted transactions as the copying read.
    #[test]
    fn read_committed_ranges_match_the_copying_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LogStore::open(StoreOptions::new(dir.path())).expect("store");
        let log = store
            .get_or_create("t", 0, LogConfig::default())
            .expect("partition");
        let now = now_ms();
        log.append(txn(1, 0, 2), now).expect("t1"); // 0..1
        log.append(batch(2, b"plain"), now).expect("plain"); // 2..3
        log.append(txn(2, 0, 1), now).expect("t2"); // 4
        log.append_marker(1, 0, 0, ControlType::Abort, now)
            .expect("abort 1"); // 5
        log.append(batch(1, b"more"), now).expect("plain"); // 6, LSO stays at 4 (pid 2 open)
        assert_eq!(log.offsets().last_stable, 4);
        for offset in 0..=log.offsets().log_end {
            for max in [1usize, 1 << 20] {
                let (copied, aborted) = log.read_committed(offset, max).expect("copying");
                let sliced = log
                    .read_slice(offset, max, ReadBound::LastStable)
                    .expect("slice");
                assert_eq!(bytes_of(&sliced.records), copied.records, "{offset} {max}");
                assert_eq!(sliced.aborted, aborted, "{offset} {max}");
            }
        }
    }

    fn bytes_of(r: &Records) -> Bytes {
        match r {
            Records::Mem(b) => b.clone(),
            Records::File(f) => f.to_bytes().expect("read range"),
        }
    }

    /// Every (offset, max_bytes) read as a range returns the same bytes as the copying read.
    #[test]
    fn a_range_holds_exactly_what_the_copying_read_returns() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LogStore::open(StoreOptions::new(dir.path())).expect("store");
        let log = store
            .get_or_create("t", 0, LogConfig::default())
            .expect("partition");
        for i in 0..40 {
            log.append(batch(1 + i % 4, &[i as u8; 300]), now_ms())
                .expect("append");
        }
        let end = log.offsets().log_end;
        for offset in 0..end {
            for max in [1usize, 400, 1000, 5000, 1 << 20] {
                let copied = log.read(offset, max).expect("read");
                let sliced = log
                    .read_slice(offset, max, ReadBound::HighWatermark)
                    .expect("slice");
                assert!(matches!(sliced.records, Records::File(_)));
                assert_eq!(bytes_of(&sliced.records), copied.records, "{offset} {max}");
            }
        }
        let at_end = log.read_slice(end, 1000, ReadBound::LogEnd).expect("end");
        assert!(at_end.records.is_empty());
    }

    /// More small batches than `HEADERS_MAX` in the budget are copied, with the same bytes.
    #[test]
    fn many_small_batches_are_copied() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LogStore::open(StoreOptions::new(dir.path())).expect("store");
        let log = store
            .get_or_create("t", 0, LogConfig::default())
            .expect("partition");
        for _ in 0..(HEADERS_MAX + 50) {
            log.append(batch(1, b"v"), now_ms()).expect("append");
        }
        let copied = log.read(3, 1 << 20).expect("read");
        let sliced = log
            .read_slice(3, 1 << 20, ReadBound::HighWatermark)
            .expect("slice");
        assert!(matches!(sliced.records, Records::Mem(_)));
        assert_eq!(bytes_of(&sliced.records), copied.records);
    }
}
