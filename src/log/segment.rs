//! One segment: a `.log` file of whole batches plus its offset and time indexes; append, locate, read, scan.
//!
//! A segment is only mutated under its partition's lock; reads clone the `Arc<File>` and `pread` outside the
//! lock, which is safe because bytes below a size observed under the lock never change.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use super::batch::{check_batch, BatchHeader, HEADER_LEN};
use super::index::{OffsetIndex, OFFSET_ENTRY_BYTES};
use super::time_index::{TimeIndex, TIME_ENTRY_BYTES};

/// Bytes read per `pread` while scanning a whole segment during recovery.
const SCAN_CHUNK_BYTES: usize = 1 << 20;

/// File name stem of a segment: the base offset as 20 digits, like Kafka.
pub fn file_stem(base_offset: i64) -> String {
    format!("{base_offset:020}")
}

/// Paths of a segment's three files.
pub fn paths(dir: &Path, base_offset: i64) -> (PathBuf, PathBuf, PathBuf) {
    let stem = file_stem(base_offset);
    (
        dir.join(format!("{stem}.log")),
        dir.join(format!("{stem}.index")),
        dir.join(format!("{stem}.timeindex")),
    )
}

/// What a full scan of a segment found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanOutcome {
    /// Bytes of valid batches kept.
    pub valid_bytes: u64,
    /// Bytes cut off after the last valid batch.
    pub dropped_bytes: u64,
    /// Why the scan stopped early, if it did.
    pub error: Option<String>,
}

/// One segment of a partition log.
#[derive(Debug)]
pub struct Segment {
    /// Offset of the first batch this segment may hold; names its files.
    pub base_offset: i64,
    /// Folder of the partition.
    dir: PathBuf,
    /// The `.log` file, shared with readers that `pread` outside the partition lock.
    log: Arc<File>,
    /// Bytes of whole, valid batches in the file; everything is appended here. ≤ `u32::MAX` (index positions).
    size_bytes: u64,
    /// Bytes known to be fdatasynced; ≤ `size_bytes`.
    synced_bytes: u64,
    /// True once a closed segment's index files are written and fsynced (so recovery may trust them).
    indexes_synced: bool,
    /// Sparse offset index (last offset of a batch → its position).
    index: OffsetIndex,
    /// Time index (max timestamp so far → offset).
    time_index: TimeIndex,
    /// Bytes appended since the last index entry; an entry is added once this exceeds `index.interval.bytes`.
    bytes_since_index_entry: u64,
    /// Offset after the last batch; equals `base_offset` when empty.
    pub next_offset: i64,
    /// Largest batch max timestamp in the segment; -1 when empty.
    pub max_timestamp_ms: i64,
    /// Last offset of the batch holding `max_timestamp_ms`; -1 when empty.
    pub offset_of_max_timestamp: i64,
    /// Wall time the segment was created or loaded; drives `segment.ms`.
    pub created_ms: i64,
}

/// A snapshot for reading outside the partition lock.
#[derive(Debug, Clone)]
pub struct ReadView {
    /// The segment's log file.
    pub file: Arc<File>,
    /// Position to start scanning for the wanted offset (from the offset index).
    pub start_pos: u64,
    /// Bytes readable (segment size when the view was taken, never past the high watermark).
    pub end_pos: u64,
}

impl Segment {
    /// Creates a new empty segment's files (the caller fsyncs the folder).
    pub fn create(
        dir: &Path,
        base_offset: i64,
        index_entries_max: usize,
        now_ms: i64,
    ) -> io::Result<Segment> {
        let (log_path, index_path, time_path) = paths(dir, base_offset);
        let log = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&log_path)?;
        File::create(&index_path)?;
        File::create(&time_path)?;
        Ok(Segment::empty(
            dir,
            base_offset,
            Arc::new(log),
            index_entries_max,
            now_ms,
        ))
    }

    fn empty(
        dir: &Path,
        base_offset: i64,
        log: Arc<File>,
        index_entries_max: usize,
        now_ms: i64,
    ) -> Segment {
        Segment {
            base_offset,
            dir: dir.to_path_buf(),
            log,
            size_bytes: 0,
            synced_bytes: 0,
            indexes_synced: false,
            index: OffsetIndex::new(base_offset, index_entries_max),
            time_index: TimeIndex::new(base_offset, index_entries_max),
            bytes_since_index_entry: 0,
            next_offset: base_offset,
            max_timestamp_ms: -1,
            offset_of_max_timestamp: -1,
            created_ms: now_ms,
        }
    }

    /// Opens an existing segment. With `trust_indexes` the index files are loaded and only the headers after
    /// the last index entry are scanned; otherwise (or if an index is unusable) every batch is CRC-checked
    /// and the indexes are rebuilt, and a torn or corrupt tail is truncated (see the returned outcome).
    pub fn open(
        dir: &Path,
        base_offset: i64,
        index_entries_max: usize,
        index_interval_bytes: u64,
        trust_indexes: bool,
        now_ms: i64,
    ) -> io::Result<(Segment, Option<ScanOutcome>)> {
        let (log_path, index_path, time_path) = paths(dir, base_offset);
        let log = OpenOptions::new().read(true).write(true).open(&log_path)?;
        let file_len = log.metadata()?.len();
        let mut seg = Segment::empty(dir, base_offset, Arc::new(log), index_entries_max, now_ms);
        if trust_indexes {
            let index = OffsetIndex::load(&index_path, base_offset, index_entries_max, file_len)?;
            let time_index = TimeIndex::load(&time_path, base_offset, index_entries_max)?;
            if let (Some(index), Some(time_index)) = (index, time_index) {
                seg.index = index;
                seg.time_index = time_index;
                if seg.scan_tail(file_len)? {
                    seg.synced_bytes = seg.size_bytes;
                    seg.indexes_synced = true;
                    return Ok((seg, None));
                }
                tracing::warn!(segment = %log_path.display(), "segment tail does not match its index; rebuilding");
            } else {
                tracing::warn!(segment = %log_path.display(), "index files missing or invalid; rebuilding");
            }
            let log = seg.log.clone();
            seg = Segment::empty(dir, base_offset, log, index_entries_max, now_ms);
        }
        let outcome = seg.rebuild(file_len, index_interval_bytes)?;
        Ok((seg, Some(outcome)))
    }

    /// Trusting the indexes: walks headers from the last index entry to the end of the file to learn the
    /// next offset and max timestamp. Returns false if the tail is not a clean run of headers.
    fn scan_tail(&mut self, file_len: u64) -> io::Result<bool> {
        let mut pos = u64::from(self.index.entries().last().map_or(0, |(_, p)| p));
        if let Some((ts, off)) = self.time_index.last() {
            self.max_timestamp_ms = ts;
            self.offset_of_max_timestamp = off;
        }
        let mut header_buf = [0u8; HEADER_LEN];
        while pos < file_len {
            if file_len - pos < HEADER_LEN as u64 {
                return Ok(false);
            }
            self.log.read_exact_at(&mut header_buf, pos)?;
            let Ok(h) = BatchHeader::parse(&header_buf) else {
                return Ok(false);
            };
            let total = h.total_len() as u64;
            if total < HEADER_LEN as u64
                || pos + total > file_len
                || h.base_offset < self.next_offset
            {
                return Ok(false);
            }
            self.note_batch(&h);
            pos += total;
        }
        self.size_bytes = file_len;
        Ok(true)
    }

    fn note_batch(&mut self, h: &BatchHeader) {
        self.next_offset = h.next_offset();
        if h.max_timestamp > self.max_timestamp_ms {
            self.max_timestamp_ms = h.max_timestamp;
            self.offset_of_max_timestamp = h.last_offset();
        }
    }

    /// Full recovery scan: verifies every batch (CRC, length, increasing offsets), rebuilds both indexes and
    /// truncates the file after the last valid batch.
    fn rebuild(&mut self, file_len: u64, index_interval_bytes: u64) -> io::Result<ScanOutcome> {
        let mut pos = 0u64;
        let mut error = None;
        let mut chunk: Vec<u8> = Vec::new();
        let mut chunk_start = 0u64;
        while pos < file_len {
            let remaining = file_len - pos;
            if remaining < HEADER_LEN as u64 {
                error = Some(format!("{remaining} bytes of a torn batch header"));
                break;
            }
            // Make sure the chunk holds the header, then the whole batch.
            let in_chunk = |need: u64, chunk: &Vec<u8>, chunk_start: u64| {
                pos >= chunk_start && pos + need <= chunk_start + chunk.len() as u64
            };
            if !in_chunk(HEADER_LEN as u64, &chunk, chunk_start) {
                let len = remaining.min(SCAN_CHUNK_BYTES as u64) as usize;
                chunk = vec![0u8; len];
                self.log.read_exact_at(&mut chunk, pos)?;
                chunk_start = pos;
            }
            let at = (pos - chunk_start) as usize;
            let header = match BatchHeader::parse(&chunk[at..]) {
                Ok(h) => h,
                Err(e) => {
                    error = Some(e.to_string());
                    break;
                }
            };
            let total = header.total_len() as u64;
            if total < HEADER_LEN as u64 || total > remaining {
                error = Some(format!(
                    "batch at position {pos} claims {total} bytes, {remaining} remain"
                ));
                break;
            }
            if !in_chunk(total, &chunk, chunk_start) {
                let len = remaining.min((SCAN_CHUNK_BYTES as u64).max(total)) as usize;
                chunk = vec![0u8; len];
                self.log.read_exact_at(&mut chunk, pos)?;
                chunk_start = pos;
            }
            let at = (pos - chunk_start) as usize;
            let header = match check_batch(&chunk[at..at + total as usize]) {
                Ok(h) => h,
                Err(e) => {
                    error = Some(format!("batch at position {pos}: {e}"));
                    break;
                }
            };
            if header.base_offset < self.next_offset
                || header.last_offset_delta < 0
                || header.last_offset() - self.base_offset > i64::from(i32::MAX)
                || pos + total > u64::from(u32::MAX)
            {
                error = Some(format!(
                    "batch at position {pos} has offsets {}..={} out of order (expected ≥ {})",
                    header.base_offset,
                    header.last_offset(),
                    self.next_offset
                ));
                break;
            }
            self.index_batch(&header, pos, total, index_interval_bytes);
            pos += total;
        }
        self.size_bytes = pos;
        let dropped_bytes = file_len - pos;
        if dropped_bytes > 0 {
            self.log.set_len(pos)?;
            self.log.sync_all()?;
        }
        Ok(ScanOutcome {
            valid_bytes: pos,
            dropped_bytes,
            error,
        })
    }

    fn index_batch(&mut self, h: &BatchHeader, pos: u64, len: u64, index_interval_bytes: u64) {
        if self.bytes_since_index_entry > index_interval_bytes {
            self.index.append(h.last_offset(), pos as u32);
            self.time_index.maybe_append(
                self.max_timestamp_ms.max(h.max_timestamp),
                if h.max_timestamp > self.max_timestamp_ms {
                    h.last_offset()
                } else {
                    self.offset_of_max_timestamp
                },
            );
            self.bytes_since_index_entry = 0;
        }
        self.bytes_since_index_entry += len;
        self.note_batch(h);
    }

    /// Appends whole batches (already stamped) at the end of the segment and indexes them.
    pub fn append(
        &mut self,
        buf: &[u8],
        headers: &[BatchHeader],
        index_interval_bytes: u64,
    ) -> io::Result<()> {
        self.append_parts(&[buf], headers, index_interval_bytes)
    }

    /// Like [`append`](Self::append), but the batches arrive as consecutive slices (e.g. a stamped header
    /// copy followed by the untouched rest of the batch), written with `pwritev` so the body is never
    /// copied in user space.
    pub fn append_parts(
        &mut self,
        parts: &[&[u8]],
        headers: &[BatchHeader],
        index_interval_bytes: u64,
    ) -> io::Result<()> {
        debug_assert!(headers
            .first()
            .is_none_or(|h| h.base_offset >= self.next_offset));
        write_all_vectored_at(&self.log, parts, self.size_bytes)?;
        let total: u64 = parts.iter().map(|p| p.len() as u64).sum();
        let mut pos = self.size_bytes;
        for h in headers {
            let len = h.total_len() as u64;
            self.index_batch(h, pos, len, index_interval_bytes);
            pos += len;
        }
        debug_assert_eq!(pos, self.size_bytes + total);
        self.size_bytes = pos;
        Ok(())
    }

    /// Bytes of batches in the segment.
    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    /// True when neither index can take another entry.
    pub fn indexes_full(&self) -> bool {
        self.index.is_full() || self.time_index.is_full()
    }

    /// The log file handle (for fsync and reads).
    pub fn file(&self) -> Arc<File> {
        self.log.clone()
    }

    /// A read view starting at the index position for `offset`, bounded by the current size.
    pub fn read_view(&self, offset: i64) -> ReadView {
        ReadView {
            file: self.log.clone(),
            start_pos: u64::from(self.index.lookup(offset)),
            end_pos: self.size_bytes,
        }
    }

    /// A read view starting at the time index's position for `timestamp_ms`.
    pub fn time_view(&self, timestamp_ms: i64) -> ReadView {
        let offset = self.time_index.lookup(timestamp_ms);
        self.read_view(offset)
    }

    /// True when bytes or indexes still need an fsync.
    pub fn needs_sync(&self) -> bool {
        self.synced_bytes < self.size_bytes
    }

    /// Records that the first `bytes` are on disk.
    pub fn mark_synced(&mut self, bytes: u64) {
        self.synced_bytes = self.synced_bytes.max(bytes.min(self.size_bytes));
    }

    /// True when this (closed) segment's index files are written and fsynced.
    pub fn indexes_synced(&self) -> bool {
        self.indexes_synced
    }

    /// Writes the index files (adding a final time-index entry for the max timestamp, as Kafka does when a
    /// segment becomes inactive). Returns the paths to fsync.
    pub fn write_indexes(&mut self, closing: bool) -> io::Result<[PathBuf; 2]> {
        if closing && self.max_timestamp_ms >= 0 {
            self.time_index
                .maybe_append(self.max_timestamp_ms, self.offset_of_max_timestamp);
        }
        let (_, index_path, time_path) = paths(&self.dir, self.base_offset);
        self.index.write(&index_path, false)?;
        self.time_index.write(&time_path, false)?;
        Ok([index_path, time_path])
    }

    /// Marks the index files as durable.
    pub fn mark_indexes_synced(&mut self) {
        self.indexes_synced = true;
    }

    /// Renames the three files to `*.deleted` (a crash leaves them for recovery to remove) and returns the
    /// new paths, for the caller to remove outside the partition lock.
    pub fn rename_deleted(&self) -> io::Result<Vec<PathBuf>> {
        let (a, b, c) = paths(&self.dir, self.base_offset);
        let mut out = Vec::with_capacity(3);
        for p in [a, b, c] {
            let mut d = p.clone().into_os_string();
            d.push(".deleted");
            let d = PathBuf::from(d);
            match std::fs::rename(&p, &d) {
                Ok(()) => out.push(d),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Bytes the index files take (for sizing checks in tests and metrics).
    pub fn index_bytes(&self) -> usize {
        self.index.len() * OFFSET_ENTRY_BYTES + self.time_index.len() * TIME_ENTRY_BYTES
    }
}

/// Finds the first batch with `last offset ≥ offset` between `view.start_pos` and `view.end_pos`, reading
/// one header per `pread`. Returns its position and header, or `None` if the segment has no such batch.
pub fn find_batch(view: &ReadView, offset: i64) -> io::Result<Option<(u64, BatchHeader)>> {
    let mut pos = view.start_pos;
    let mut header_buf = [0u8; HEADER_LEN];
    while pos + HEADER_LEN as u64 <= view.end_pos {
        view.file.read_exact_at(&mut header_buf, pos)?;
        let Ok(h) = BatchHeader::parse(&header_buf) else {
            return Ok(None);
        };
        let total = h.total_len() as u64;
        if total < HEADER_LEN as u64 || pos + total > view.end_pos {
            return Ok(None);
        }
        if h.last_offset() >= offset {
            return Ok(Some((pos, h)));
        }
        pos += total;
    }
    Ok(None)
}

/// Reads whole batches starting at `pos` (where a batch of `first_len` bytes starts) in one `pread`: up to
/// `max_bytes`, at least the first batch, never past `end_pos`, never a partial batch.
pub fn read_batches(
    file: &File,
    pos: u64,
    end_pos: u64,
    first_len: u64,
    max_bytes: usize,
) -> io::Result<Bytes> {
    let available = end_pos.saturating_sub(pos);
    let want = available.min((max_bytes as u64).max(first_len));
    let mut buf = vec![0u8; want as usize];
    file.read_exact_at(&mut buf, pos)?;
    // Cut after the last whole batch.
    let mut cut = 0usize;
    while cut + HEADER_LEN <= buf.len() {
        let Ok(h) = BatchHeader::parse(&buf[cut..]) else {
            break;
        };
        let total = h.total_len();
        if total < HEADER_LEN || cut + total > buf.len() {
            break;
        }
        cut += total;
    }
    buf.truncate(cut);
    Ok(Bytes::from(buf))
}

/// Most slices handed to one `pwritev` (Linux's `IOV_MAX` is 1024).
const IOVECS_PER_WRITE_MAX: usize = 1024;

/// Writes `parts` back to back at `pos`, resuming after short writes; no slice is copied.
fn write_all_vectored_at(file: &File, parts: &[&[u8]], mut pos: u64) -> io::Result<()> {
    let mut rest: Vec<&[u8]> = parts.iter().copied().filter(|p| !p.is_empty()).collect();
    let mut first = 0usize;
    while first < rest.len() {
        let slices: Vec<io::IoSlice<'_>> = rest[first..]
            .iter()
            .take(IOVECS_PER_WRITE_MAX)
            .map(|p| io::IoSlice::new(p))
            .collect();
        let mut written = rustix::io::pwritev(file, &slices, pos).map_err(io::Error::from)?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        pos += written as u64;
        while written > 0 {
            let len = rest[first].len();
            if written >= len {
                written -= len;
                first += 1;
            } else {
                rest[first] = &rest[first][written..];
                written = 0;
            }
        }
    }
    Ok(())
}
