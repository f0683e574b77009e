//! One segment: a `.log` file of whole batches plus its offset and time indexes; append, locate, read, scan.
//!
//! The open `.log` descriptor and the in-memory indexes live in [`SegmentFiles`], which the store-wide
//! [`FileCache`] may close at any time (writing unwritten index entries back first); the next use reopens
//! and reloads them. Sizes, offsets and timestamps stay in the `Segment`, mutated only under its
//! partition's lock. Reads clone the `Arc<File>` and `pread` outside the lock, which is safe because bytes
//! below a size observed under the lock never change and an evicted descriptor stays open until its last
//! clone drops.
//!
//! Durability across eviction: the flusher may fsync through a descriptor opened after the write. Linux
//! syncs the inode's dirty pages whatever descriptor asks, and (since 4.16) reports a writeback error not
//! yet seen by anyone to the next `fsync`, even on a newly opened descriptor.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError, Weak};

use bytes::Bytes;

use super::batch::{check_batch, BatchHeader, HEADER_LEN};
use super::file_cache::{Evictable, Evicted, FileCache};
use super::index::{OffsetIndex, OFFSET_ENTRY_BYTES};
use super::time_index::{TimeIndex, TIME_ENTRY_BYTES};

/// Bytes read per `pread` while scanning a whole segment during recovery.
const SCAN_CHUNK_BYTES: usize = 1 << 20;

/// Index interval used when an index file found unusable while running is rebuilt from the log (the
/// topic's `index.interval.bytes` is not at hand there; any interval gives a correct sparse index).
const REBUILD_INDEX_INTERVAL_BYTES: u64 = 4096;

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
    /// The open file and indexes, closed and reopened by the store's file cache.
    files: Arc<SegmentFiles>,
    /// Bytes of whole, valid batches in the file; everything is appended here. ≤ `u32::MAX` (index positions).
    size_bytes: u64,
    /// Bytes known to be fdatasynced; ≤ `size_bytes`.
    synced_bytes: u64,
    /// True once a closed segment's index files are written and fsynced (so recovery may trust them).
    indexes_synced: bool,
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
    /// Position and header of the last few batches appended in this process, oldest first, so a consumer
    /// reading at the tail finds its batch without reading headers back from the file.
    recent: VecDeque<(u64, BatchHeader)>,
}

/// Batches remembered in [`Segment::recent`] (a tailing consumer's offset is nearly always among them).
const RECENT_BATCHES: usize = 8;

/// Identity of one segment object, stable across file reopenings. The flusher keeps it over its unlocked
/// fsync so it can tell "the segment I synced" from a cleaned segment swapped in under the same base offset.
#[derive(Debug)]
pub(crate) struct SegmentId(Arc<SegmentFiles>);

/// A snapshot for reading outside the partition lock.
#[derive(Debug, Clone)]
pub struct ReadView {
    /// The segment's log file.
    pub file: Arc<File>,
    /// Position to start scanning for the wanted offset (from the offset index).
    pub start_pos: u64,
    /// Bytes readable (segment size when the view was taken, never past the high watermark).
    pub end_pos: u64,
    /// The batch [`find_batch`] would find for this offset, when the segment knew it from a recent append.
    pub hint: Option<ReadHint>,
}

/// A known answer of [`find_batch`]: for `offset`, the batch at `pos` with `header`.
#[derive(Debug, Clone, Copy)]
pub struct ReadHint {
    pub offset: i64,
    pub pos: u64,
    pub header: BatchHeader,
}

/// The parts of a segment that indexing a batch updates (copied out so the file lock can be held).
#[derive(Debug, Clone, Copy)]
struct Tail {
    next_offset: i64,
    max_timestamp_ms: i64,
    offset_of_max_timestamp: i64,
    bytes_since_index_entry: u64,
}

impl Tail {
    fn note_batch(&mut self, h: &BatchHeader) {
        self.next_offset = h.next_offset();
        if h.max_timestamp > self.max_timestamp_ms {
            self.max_timestamp_ms = h.max_timestamp;
            self.offset_of_max_timestamp = h.last_offset();
        }
    }

    fn index_batch(
        &mut self,
        open: &mut OpenFiles,
        h: &BatchHeader,
        pos: u64,
        len: u64,
        index_interval_bytes: u64,
    ) {
        if self.bytes_since_index_entry > index_interval_bytes {
            open.index.append(h.last_offset(), pos as u32);
            open.time_index.maybe_append(
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
}

/// A segment's open descriptor and in-memory indexes.
#[derive(Debug)]
struct OpenFiles {
    /// The `.log` file, shared with readers that `pread` outside the partition lock.
    log: Arc<File>,
    /// Sparse offset index (last offset of a batch → its position).
    index: OffsetIndex,
    /// Time index (max timestamp so far → offset).
    time_index: TimeIndex,
}

/// Guarded state of [`SegmentFiles`].
#[derive(Debug, Default)]
struct FilesState {
    /// Open file and indexes, while resident in the cache.
    open: Option<OpenFiles>,
    /// While closed: entries in the `.index` file.
    offset_entries: usize,
    /// While closed: entries in the `.timeindex` file.
    time_entries: usize,
    /// While closed: the time index's last entry (timestamp, absolute offset).
    time_last: Option<(i64, i64)>,
    /// The files are being renamed away for deletion: never reopen, never write indexes back.
    retired: bool,
    /// The `.log` file (and maybe the partition folder) does not exist yet: the first use creates both
    /// instead of reopening (a lazily created partition, see `PartitionLog::ensure_on_disk`).
    pending: bool,
}

/// The reopenable resources of one segment; an entry of the store's [`FileCache`]. Its lock is innermost.
#[derive(Debug)]
pub(crate) struct SegmentFiles {
    /// The store-wide cache this entry counts against.
    cache: Arc<FileCache>,
    /// Folder of the partition.
    dir: PathBuf,
    /// Base offset (names the files).
    base_offset: i64,
    /// Index capacity from `segment.index.bytes`.
    entries_max: usize,
    /// Second-chance bit, set on every use.
    referenced: AtomicBool,
    /// The open resources (if any) and what is known of the files while closed.
    state: Mutex<FilesState>,
}

impl SegmentFiles {
    fn new(
        cache: &Arc<FileCache>,
        dir: &Path,
        base_offset: i64,
        entries_max: usize,
    ) -> Arc<SegmentFiles> {
        Arc::new(SegmentFiles {
            cache: cache.clone(),
            dir: dir.to_path_buf(),
            base_offset,
            entries_max: entries_max.max(1),
            referenced: AtomicBool::new(true),
            state: Mutex::new(FilesState::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, FilesState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn touch(&self) {
        // A load first: the bit is usually already set, and a store would dirty a shared cache line.
        if !self.referenced.load(Ordering::Relaxed) {
            self.referenced.store(true, Ordering::Relaxed);
        }
    }

    /// Makes `open` the resident state (a new or just rebuilt segment) and admits it to the cache.
    fn install(self: &Arc<Self>, open: OpenFiles) {
        {
            let mut st = self.lock();
            if st.open.replace(open).is_none() {
                self.cache.acquired();
            }
        }
        self.touch();
        let weak: Weak<dyn Evictable> = Arc::downgrade(self) as Weak<SegmentFiles>;
        self.cache.admit(weak);
    }

    /// Runs `f` on the open resources, reopening the file and reloading the indexes (of a log `log_size`
    /// bytes long) first if the cache had closed them.
    fn with<R>(
        self: &Arc<Self>,
        log_size: u64,
        f: impl FnOnce(&mut OpenFiles) -> R,
    ) -> io::Result<R> {
        let mut loaded = false;
        let r = {
            let mut st = self.lock();
            let open = match st.open.take() {
                Some(o) => st.open.insert(o),
                None => {
                    if st.retired {
                        return Err(io::Error::new(
                            io::ErrorKind::NotFound,
                            "segment was deleted",
                        ));
                    }
                    let o = if st.pending {
                        self.create_pending()?
                    } else {
                        self.load(log_size)?
                    };
                    st.pending = false;
                    self.cache.acquired();
                    loaded = true;
                    st.open.insert(o)
                }
            };
            f(open)
        };
        self.touch();
        if loaded {
            let weak: Weak<dyn Evictable> = Arc::downgrade(self) as Weak<SegmentFiles>;
            self.cache.admit(weak);
        }
        Ok(r)
    }

    /// Creates the partition folder (if missing) and this empty segment's `.log` file: the first use of a
    /// segment made by [`Segment::pending`]. Index files are created when first written, as for
    /// [`Segment::create`].
    fn create_pending(&self) -> io::Result<OpenFiles> {
        match std::fs::create_dir(&self.dir) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
        let (log_path, _, _) = paths(&self.dir, self.base_offset);
        let log = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&log_path)?;
        Ok(OpenFiles {
            log: Arc::new(log),
            index: OffsetIndex::new(self.base_offset, self.entries_max),
            time_index: TimeIndex::new(self.base_offset, self.entries_max),
        })
    }

    /// Reopens the log and reads both index files; an unusable index is rebuilt from the batch headers.
    fn load(&self, log_size: u64) -> io::Result<OpenFiles> {
        let (log_path, index_path, time_path) = paths(&self.dir, self.base_offset);
        let log = OpenOptions::new().read(true).write(true).open(&log_path)?;
        let index = OffsetIndex::load(&index_path, self.base_offset, self.entries_max, log_size)?;
        let time_index = TimeIndex::load(&time_path, self.base_offset, self.entries_max)?;
        if let (Some(index), Some(time_index)) = (index, time_index) {
            return Ok(OpenFiles {
                log: Arc::new(log),
                index,
                time_index,
            });
        }
        tracing::warn!(segment = %log_path.display(), "index files missing or invalid on reopen; rebuilding");
        let mut open = OpenFiles {
            log: Arc::new(log),
            index: OffsetIndex::new(self.base_offset, self.entries_max),
            time_index: TimeIndex::new(self.base_offset, self.entries_max),
        };
        let mut tail = Tail {
            next_offset: self.base_offset,
            max_timestamp_ms: -1,
            offset_of_max_timestamp: -1,
            bytes_since_index_entry: 0,
        };
        let view = ReadView {
            file: open.log.clone(),
            start_pos: 0,
            end_pos: log_size,
            hint: None,
        };
        let mut pos = 0;
        while let Some((at, h)) = find_batch(
            &ReadView {
                start_pos: pos,
                ..view.clone()
            },
            i64::MIN,
        )? {
            let len = h.total_len() as u64;
            tail.index_batch(&mut open, &h, at, len, REBUILD_INDEX_INTERVAL_BYTES);
            pos = at + len;
        }
        Ok(open)
    }

    /// Index entry counts (resident or not).
    fn index_counts(&self) -> (usize, usize) {
        let st = self.lock();
        match &st.open {
            Some(o) => (o.index.len(), o.time_index.len()),
            None => (st.offset_entries, st.time_entries),
        }
    }

    /// Marks the files as being deleted: an open descriptor keeps serving until the segment is dropped
    /// or evicted, but nothing reopens them or writes index entries to their old paths.
    fn retire(&self) {
        self.lock().retired = true;
    }
}

impl Evictable for SegmentFiles {
    fn take_referenced(&self) -> bool {
        self.referenced.swap(false, Ordering::Relaxed)
    }

    fn evict(&self) -> Evicted {
        let mut st = match self.state.try_lock() {
            Ok(st) => st,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return Evicted::Busy,
        };
        let retired = st.retired;
        let Some(open) = st.open.as_mut() else {
            return Evicted::NotResident;
        };
        // Entries not yet in the files go there first (page cache only; see `index.rs` on durability).
        let (_, index_path, time_path) = paths(&self.dir, self.base_offset);
        if retired {
            // Deleted: nothing to keep.
        } else if let Err(e) = open
            .index
            .write(&index_path, false)
            .and_then(|()| open.time_index.write(&time_path, false))
        {
            tracing::warn!(segment = %index_path.display(), error = %e, "cannot write index back; segment kept open");
            return Evicted::Busy;
        }
        let (offset_entries, time_entries, time_last) = (
            open.index.len(),
            open.time_index.len(),
            open.time_index.last(),
        );
        st.open = None;
        st.offset_entries = offset_entries;
        st.time_entries = time_entries;
        st.time_last = time_last;
        self.cache.released();
        Evicted::Released
    }
}

impl Drop for SegmentFiles {
    fn drop(&mut self) {
        let st = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        if st.open.take().is_some() {
            self.cache.released();
        }
    }
}

/// Entry count and last entry of an index file; `None` if missing or not a whole number of entries.
/// An empty file (common: a small segment has no index entry) costs one `statx` and no descriptor.
fn index_file_tail(path: &Path, entry_bytes: usize) -> io::Result<Option<(usize, Vec<u8>)>> {
    let len = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if len % entry_bytes as u64 != 0 {
        return Ok(None);
    }
    let count = usize::try_from(len / entry_bytes as u64).map_err(io::Error::other)?;
    if count == 0 {
        return Ok(Some((0, Vec::new())));
    }
    let mut last = vec![0u8; entry_bytes];
    File::open(path)?.read_exact_at(&mut last, len - entry_bytes as u64)?;
    Ok(Some((count, last)))
}

impl Segment {
    /// Creates a new empty segment's files (the caller fsyncs the folder); it starts resident in `cache`.
    pub fn create(
        dir: &Path,
        base_offset: i64,
        index_entries_max: usize,
        now_ms: i64,
        cache: &Arc<FileCache>,
    ) -> io::Result<Segment> {
        let (log_path, index_path, time_path) = paths(dir, base_offset);
        let log = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&log_path)?;
        // The index files are created when first written (at roll, eviction or shutdown; a crash before
        // that rebuilds them from the log): creating a partition costs one file, not three. Stale ones
        // from an earlier segment at this base must not survive to describe the new one.
        for stale in [&index_path, &time_path] {
            match crate::log::fs::remove_file(stale) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        let seg = Segment::empty(dir, base_offset, index_entries_max, now_ms, cache);
        seg.files.install(OpenFiles {
            log: Arc::new(log),
            index: OffsetIndex::new(base_offset, index_entries_max),
            time_index: TimeIndex::new(base_offset, index_entries_max),
        });
        Ok(seg)
    }

    /// An empty segment whose folder and files do not exist yet: nothing touches the disk until the
    /// first use of its file creates them (the partition folder included). A topic of 1,000 partitions
    /// is then created without 2,000 journal operations on the request path.
    pub fn pending(
        dir: &Path,
        base_offset: i64,
        index_entries_max: usize,
        now_ms: i64,
        cache: &Arc<FileCache>,
    ) -> Segment {
        let seg = Segment::empty(dir, base_offset, index_entries_max, now_ms, cache);
        seg.files.lock().pending = true;
        seg
    }

    fn empty(
        dir: &Path,
        base_offset: i64,
        index_entries_max: usize,
        now_ms: i64,
        cache: &Arc<FileCache>,
    ) -> Segment {
        Segment {
            base_offset,
            files: SegmentFiles::new(cache, dir, base_offset, index_entries_max),
            size_bytes: 0,
            synced_bytes: 0,
            indexes_synced: false,
            bytes_since_index_entry: 0,
            next_offset: base_offset,
            max_timestamp_ms: -1,
            offset_of_max_timestamp: -1,
            created_ms: now_ms,
            recent: VecDeque::new(),
        }
    }

    /// This segment's identity (holding it keeps the identity from being reused).
    pub(crate) fn id(&self) -> SegmentId {
        SegmentId(self.files.clone())
    }

    /// Whether this is the segment `id` was taken from.
    pub(crate) fn is(&self, id: &SegmentId) -> bool {
        Arc::ptr_eq(&self.files, &id.0)
    }

    fn tail(&self) -> Tail {
        Tail {
            next_offset: self.next_offset,
            max_timestamp_ms: self.max_timestamp_ms,
            offset_of_max_timestamp: self.offset_of_max_timestamp,
            bytes_since_index_entry: self.bytes_since_index_entry,
        }
    }

    fn set_tail(&mut self, t: Tail) {
        self.next_offset = t.next_offset;
        self.max_timestamp_ms = t.max_timestamp_ms;
        self.offset_of_max_timestamp = t.offset_of_max_timestamp;
        self.bytes_since_index_entry = t.bytes_since_index_entry;
    }

    /// Opens an existing segment. With `trust_indexes` only the last entry of each index file is read and
    /// the headers after the last offset-index entry are scanned; nothing stays open (the indexes load on
    /// first use). Otherwise (or if an index is unusable) every batch is CRC-checked, the indexes are
    /// rebuilt and kept resident, and a torn or corrupt tail is truncated (see the returned outcome).
    pub fn open(
        dir: &Path,
        base_offset: i64,
        index_entries_max: usize,
        index_interval_bytes: u64,
        trust_indexes: bool,
        now_ms: i64,
        cache: &Arc<FileCache>,
    ) -> io::Result<(Segment, Option<ScanOutcome>)> {
        let (log_path, index_path, time_path) = paths(dir, base_offset);
        let log = OpenOptions::new().read(true).write(true).open(&log_path)?;
        let file_len = log.metadata()?.len();
        let mut seg = Segment::empty(dir, base_offset, index_entries_max, now_ms, cache);
        if trust_indexes {
            if seg.open_trusted(&log, file_len, &index_path, &time_path)? {
                return Ok((seg, None));
            }
            seg = Segment::empty(dir, base_offset, index_entries_max, now_ms, cache);
        }
        let mut open = OpenFiles {
            log: Arc::new(log),
            index: OffsetIndex::new(base_offset, index_entries_max),
            time_index: TimeIndex::new(base_offset, index_entries_max),
        };
        let outcome = seg.rebuild(&mut open, file_len, index_interval_bytes)?;
        // The files on disk may hold entries of what the crash cut away: replace them now. Later writes
        // only append entries not yet written, so a rebuilt index with none would never truncate them,
        // and the next load (file-cache reopen, trusted restart) would seek to positions that no longer
        // start a batch (found by the power-loss simulator).
        open.index.write(&index_path, true)?;
        open.time_index.write(&time_path, true)?;
        seg.files.install(open);
        Ok((seg, Some(outcome)))
    }

    /// The trusted (clean) open: last index entries plus a header walk after the last offset-index entry.
    /// Returns false (with a warning) when the files do not agree, so the caller rebuilds.
    fn open_trusted(
        &mut self,
        log: &File,
        file_len: u64,
        index_path: &Path,
        time_path: &Path,
    ) -> io::Result<bool> {
        let (Some((offset_entries, last)), Some((time_entries, time_last))) = (
            index_file_tail(index_path, OFFSET_ENTRY_BYTES)?,
            index_file_tail(time_path, TIME_ENTRY_BYTES)?,
        ) else {
            tracing::warn!(segment = %index_path.display(), "index files missing or invalid; rebuilding");
            return Ok(false);
        };
        let mut start = 0u64;
        if let [a, b, c, d, e, f, g, h] = last[..] {
            let rel = u32::from_be_bytes([a, b, c, d]);
            let pos = u32::from_be_bytes([e, f, g, h]);
            if u64::from(pos) >= file_len || rel > i32::MAX as u32 {
                tracing::warn!(segment = %index_path.display(), "index points past the log; rebuilding");
                return Ok(false);
            }
            start = u64::from(pos);
        }
        let mut time_last_entry = None;
        if let [t @ .., a, b, c, d] = &time_last[..] {
            let mut ts = [0u8; 8];
            ts.copy_from_slice(t);
            let rel = u32::from_be_bytes([*a, *b, *c, *d]);
            time_last_entry = Some((i64::from_be_bytes(ts), self.base_offset + i64::from(rel)));
        }
        let mut tail = self.tail();
        if let Some((ts, off)) = time_last_entry {
            tail.max_timestamp_ms = ts;
            tail.offset_of_max_timestamp = off;
        }
        if !scan_tail(log, &mut tail, start, file_len)? {
            tracing::warn!(segment = %index_path.display(), "segment tail does not match its index; rebuilding");
            return Ok(false);
        }
        self.set_tail(tail);
        self.size_bytes = file_len;
        self.synced_bytes = file_len;
        self.indexes_synced = true;
        let mut st = self.files.lock();
        st.offset_entries = offset_entries;
        st.time_entries = time_entries;
        st.time_last = time_last_entry;
        Ok(true)
    }

    /// Full recovery scan: verifies every batch (CRC, length, increasing offsets), rebuilds both indexes and
    /// truncates the file after the last valid batch.
    fn rebuild(
        &mut self,
        open: &mut OpenFiles,
        file_len: u64,
        index_interval_bytes: u64,
    ) -> io::Result<ScanOutcome> {
        let log = open.log.clone();
        let mut tail = self.tail();
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
                log.read_exact_at(&mut chunk, pos)?;
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
                log.read_exact_at(&mut chunk, pos)?;
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
            if header.base_offset < tail.next_offset
                || header.last_offset_delta < 0
                || header.last_offset() - self.base_offset > i64::from(i32::MAX)
                || pos + total > u64::from(u32::MAX)
            {
                error = Some(format!(
                    "batch at position {pos} has offsets {}..={} out of order (expected ≥ {})",
                    header.base_offset,
                    header.last_offset(),
                    tail.next_offset
                ));
                break;
            }
            tail.index_batch(open, &header, pos, total, index_interval_bytes);
            pos += total;
        }
        self.set_tail(tail);
        self.size_bytes = pos;
        let dropped_bytes = file_len - pos;
        if dropped_bytes > 0 {
            log.set_len(pos)?;
            crate::log::fs::sync_all(&log)?;
        }
        Ok(ScanOutcome {
            valid_bytes: pos,
            dropped_bytes,
            error,
        })
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
        let size_before = self.size_bytes;
        let mut tail = self.tail();
        let recent = &mut self.recent;
        // One lock of the (uncontended) entry for the write and the index entries.
        let end = self.files.with(size_before, |open| -> io::Result<u64> {
            write_all_vectored_at(&open.log, parts, size_before)?;
            let mut pos = size_before;
            for h in headers {
                let len = h.total_len() as u64;
                tail.index_batch(open, h, pos, len, index_interval_bytes);
                if recent.len() == RECENT_BATCHES {
                    recent.pop_front();
                }
                recent.push_back((pos, *h));
                pos += len;
            }
            Ok(pos)
        })??;
        debug_assert_eq!(
            end,
            size_before + parts.iter().map(|p| p.len() as u64).sum::<u64>()
        );
        self.set_tail(tail);
        self.size_bytes = end;
        Ok(())
    }

    /// The recent batch holding `offset` (or the next one), if the recent batches cover it: every batch
    /// before it then ends below `offset`, so it is what [`find_batch`] would return.
    fn recent_hint(&self, offset: i64) -> Option<ReadHint> {
        let (_, oldest) = self.recent.front()?;
        if oldest.base_offset > offset {
            return None;
        }
        let (pos, header) = self
            .recent
            .iter()
            .find(|(_, h)| h.last_offset() >= offset)?;
        Some(ReadHint {
            offset,
            pos: *pos,
            header: *header,
        })
    }

    /// Bytes of batches in the segment.
    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    /// True when neither index can take another entry.
    pub fn indexes_full(&self) -> bool {
        let st = self.files.lock();
        match &st.open {
            Some(o) => o.index.is_full() || o.time_index.is_full(),
            None => {
                st.offset_entries >= self.files.entries_max
                    || st.time_entries >= self.files.entries_max
            }
        }
    }

    /// The log file handle (for fsync and reads); reopens it if the file cache had closed it.
    pub fn file(&self) -> io::Result<Arc<File>> {
        self.files.with(self.size_bytes, |open| open.log.clone())
    }

    /// A read view starting at the index position for `offset`, bounded by the current size.
    pub fn read_view(&self, offset: i64) -> io::Result<ReadView> {
        let end_pos = self.size_bytes;
        let hint = self.recent_hint(offset);
        self.files.with(end_pos, |open| ReadView {
            file: open.log.clone(),
            start_pos: u64::from(open.index.lookup(offset)),
            end_pos,
            hint,
        })
    }

    /// A read view starting at the time index's position for `timestamp_ms`.
    pub fn time_view(&self, timestamp_ms: i64) -> io::Result<ReadView> {
        let end_pos = self.size_bytes;
        self.files.with(end_pos, |open| {
            let offset = open.time_index.lookup(timestamp_ms);
            ReadView {
                file: open.log.clone(),
                start_pos: u64::from(open.index.lookup(offset)),
                end_pos,
                hint: None,
            }
        })
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
    /// segment becomes inactive). Returns the paths to fsync. A segment the cache closed has its entries in
    /// the files already; it is reopened only if the final time-index entry is missing.
    pub fn write_indexes(&mut self, closing: bool) -> io::Result<[PathBuf; 2]> {
        let (_, index_path, time_path) = paths(&self.files.dir, self.base_offset);
        let closing_entry = (closing && self.max_timestamp_ms >= 0)
            .then_some((self.max_timestamp_ms, self.offset_of_max_timestamp));
        {
            let st = self.files.lock();
            let entry_missing = closing_entry.is_some_and(|(ts, _)| {
                st.time_entries < self.files.entries_max
                    && st.time_last.is_none_or(|(last, _)| ts > last)
            });
            if st.open.is_none() && !entry_missing {
                return Ok([index_path, time_path]);
            }
        }
        self.files
            .with(self.size_bytes, |open| -> io::Result<()> {
                if let Some((ts, offset)) = closing_entry {
                    open.time_index.maybe_append(ts, offset);
                }
                open.index.write(&index_path, false)?;
                open.time_index.write(&time_path, false)
            })??;
        Ok([index_path, time_path])
    }

    /// Marks the index files as durable.
    pub fn mark_indexes_synced(&mut self) {
        self.indexes_synced = true;
    }

    /// Renames the three files to `*.deleted` (a crash leaves them for recovery to remove) and returns the
    /// new paths, for the caller to remove outside the partition lock. Marks the files retired first so the
    /// file cache never writes index entries to the old paths (readers holding the descriptor keep reading).
    pub fn rename_deleted(&self) -> io::Result<Vec<PathBuf>> {
        self.files.retire();
        let (a, b, c) = paths(&self.files.dir, self.base_offset);
        let mut out = Vec::with_capacity(3);
        for p in [a, b, c] {
            let mut d = p.clone().into_os_string();
            d.push(".deleted");
            let d = PathBuf::from(d);
            match crate::log::fs::rename(&p, &d) {
                Ok(()) => out.push(d),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Bytes the index files take (for sizing checks in tests and metrics).
    pub fn index_bytes(&self) -> usize {
        let (offsets, times) = self.files.index_counts();
        offsets * OFFSET_ENTRY_BYTES + times * TIME_ENTRY_BYTES
    }

    /// True while the file cache holds this segment's descriptor and indexes (tests, metrics).
    pub fn is_resident(&self) -> bool {
        self.files.lock().open.is_some()
    }
}

/// Trusting the indexes: walks headers from `start` (the last offset-index entry) to the end of the file
/// to learn the next offset and max timestamp. Returns false if the tail is not a clean run of headers.
fn scan_tail(log: &File, tail: &mut Tail, start: u64, file_len: u64) -> io::Result<bool> {
    let mut pos = start;
    let mut header_buf = [0u8; HEADER_LEN];
    while pos < file_len {
        if file_len - pos < HEADER_LEN as u64 {
            return Ok(false);
        }
        log.read_exact_at(&mut header_buf, pos)?;
        let Ok(h) = BatchHeader::parse(&header_buf) else {
            return Ok(false);
        };
        let total = h.total_len() as u64;
        if total < HEADER_LEN as u64 || pos + total > file_len || h.base_offset < tail.next_offset {
            return Ok(false);
        }
        tail.note_batch(&h);
        pos += total;
    }
    Ok(true)
}

/// Finds the first batch with `last offset ≥ offset` between `view.start_pos` and `view.end_pos`, reading
/// one header per `pread`. Returns its position and header, or `None` if the segment has no such batch.
pub fn find_batch(view: &ReadView, offset: i64) -> io::Result<Option<(u64, BatchHeader)>> {
    if let Some(h) = &view.hint {
        // Only for the scan it was made for: callers walking on move `start_pos` past it.
        if h.offset == offset
            && h.pos >= view.start_pos
            && h.pos + h.header.total_len() as u64 <= view.end_pos
        {
            return Ok(Some((h.pos, h.header)));
        }
    }
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
    let want = available.min((max_bytes as u64).max(first_len)) as usize;
    // Read into the spare capacity, not a zeroed buffer (zeroing a 1 MiB fetch costs a third of its copy).
    let mut buf = Vec::with_capacity(want);
    while buf.len() < want {
        let at = pos + buf.len() as u64;
        if rustix::io::pread(file, rustix::buffer::spare_capacity(&mut buf), at)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
    // The capacity may exceed `want`: anything read past it (past `end_pos`) is dropped here.
    buf.truncate(want);
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
