//! Idempotent-producer state of one partition (Kafka's ProducerStateManager): per producer id the epoch and
//! the last five batches' sequence ranges, checked and updated atomically with each append.
//!
//! Rules (Kafka 2.5+ / KIP-360): a retried batch whose sequence range equals one of the cached five (same
//! epoch) is a duplicate and gets its original offsets; an older epoch is fenced (`InvalidProducerEpoch`); a
//! newer epoch must start at sequence 0; within an epoch the first sequence must be `lastSeq + 1` (wrapping at
//! `i32::MAX` to 0). A producer with no state (never seen, expired, or its data deleted) is accepted at any
//! sequence, as Kafka does since 2.5 — the broker never answers `UNKNOWN_PRODUCER_ID`.
//!
//! Transactions (KIP-98): a producer's first transactional batch opens its transaction at that batch's
//! first offset; the commit or abort marker (a control batch written by the coordinator) closes it. The
//! smallest open first offset is the partition's first unstable offset, which bounds the last stable
//! offset (LSO) read_committed consumers may read up to.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io;
use std::path::{Path, PathBuf};

use super::batch::{increment_sequence, BatchHeader};
use super::control::EndMarker;
use super::LogError;

/// Batches remembered per producer for duplicate detection (the client's max in-flight requests).
pub const BATCHES_CACHED: usize = 5;

/// Snapshot file format version: 3 adds each producer's coordinator epoch (after its open transaction).
const SNAPSHOT_VERSION: i16 = 3;

/// Version 2 snapshots (each producer's open transaction, first offset or -1) are still read.
const SNAPSHOT_VERSION_2: i16 = 2;

/// Version 1 snapshots (before transactions) are still read.
const SNAPSHOT_VERSION_1: i16 = 1;

/// Where one appended producer batch landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMetadata {
    /// Sequence of the first record.
    pub first_seq: i32,
    /// Sequence of the last record (wrapped).
    pub last_seq: i32,
    /// Offset given to the first record.
    pub first_offset: i64,
    /// Offset given to the last record.
    pub last_offset: i64,
}

/// What the log knows about one producer id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerEntry {
    /// Current epoch; older epochs are fenced.
    pub epoch: i16,
    /// Last batches appended in this epoch, oldest first; at most [`BATCHES_CACHED`].
    pub batches: VecDeque<BatchMetadata>,
    /// Time of the last append (wall clock; batch max timestamp when rebuilt from the log); drives expiry.
    pub last_timestamp_ms: i64,
    /// First offset of the producer's open transaction in this partition (Kafka's
    /// `currentTxnFirstOffset`); `None` when none is open.
    pub txn_first_offset: Option<i64>,
    /// Epoch of the transaction coordinator whose marker this partition last took from this producer
    /// (Kafka's `coordinatorEpoch`, -1 before any): a marker from an older one is fenced.
    pub coordinator_epoch: i32,
}

/// Type of a control record (the key of a transaction marker: version 0, then this as an int16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlType {
    /// Type 0: the transaction was aborted.
    Abort,
    /// Type 1: the transaction was committed.
    Commit,
}

/// A transaction closed by a marker in this partition (Kafka's `CompletedTxn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompletedTxn {
    /// The producer.
    pub producer_id: i64,
    /// First offset of the transaction (the marker's own offset if it wrote nothing here).
    pub first_offset: i64,
    /// Offset of the marker.
    pub last_offset: i64,
    /// True for an abort.
    pub aborted: bool,
}

/// Result of checking an append against producer state.
#[derive(Debug)]
pub enum Verdict {
    /// Append; commit these updated entries afterwards with [`ProducerStateManager::commit`].
    Append(Vec<(i64, ProducerEntry)>),
    /// A retry of an already appended batch: write nothing, answer with these offsets.
    Duplicate(BatchMetadata),
}

/// Producer state of one partition.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ProducerStateManager {
    /// State per producer id; bounded by expiry (`producer.id.expiration.ms`).
    producers: HashMap<i64, ProducerEntry>,
    /// Open transactions: first offset → producer id (derived from `producers`, kept in step with it).
    ongoing: BTreeMap<i64, i64>,
}

fn in_sequence(last_seq: i32, next_seq: i32) -> bool {
    next_seq == increment_sequence(last_seq, 1) && last_seq >= 0
}

impl ProducerStateManager {
    /// No producers.
    pub fn new() -> ProducerStateManager {
        ProducerStateManager::default()
    }

    /// Number of producers tracked.
    pub fn len(&self) -> usize {
        self.producers.len()
    }

    /// True when no producer is tracked.
    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    /// State of one producer.
    pub fn get(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    /// Checks the batches of one append (`headers`, which will get offsets from `next_offset` on) without
    /// changing state.
    pub fn validate(
        &self,
        headers: &[BatchHeader],
        next_offset: i64,
        now_ms: i64,
    ) -> Result<Verdict, LogError> {
        self.validate_txn(headers, &[], next_offset, now_ms)
            .map(|(v, _)| v)
    }

    /// [`validate`](Self::validate) with the marker of each control batch among `headers` (`controls[i]`
    /// for `headers[i]`, `None` for data batches; may be empty when there is none). Also returns the
    /// transactions the markers close. A marker from an older transaction coordinator than the last one
    /// this producer's markers came from is refused (`TransactionCoordinatorFenced`), as Kafka's
    /// `checkCoordinatorEpoch` does for appends that are not replication.
    pub fn validate_txn(
        &self,
        headers: &[BatchHeader],
        controls: &[Option<EndMarker>],
        next_offset: i64,
        now_ms: i64,
    ) -> Result<(Verdict, Vec<CompletedTxn>), LogError> {
        let mut completed = Vec::new();
        let mut overlay: Vec<(i64, ProducerEntry)> = Vec::new();
        let mut offset = next_offset;
        for (i, h) in headers.iter().enumerate() {
            let first_offset = offset;
            let last_offset = offset + i64::from(h.last_offset_delta);
            offset = last_offset + 1;
            if !h.has_producer_id() {
                continue;
            }
            let pid = h.producer_id;
            let current = overlay
                .iter()
                .find(|(p, _)| *p == pid)
                .map(|(_, e)| e)
                .or_else(|| self.producers.get(&pid));
            if let Some(e) = current {
                if e.epoch == h.producer_epoch {
                    let last_seq = h.last_sequence();
                    if let Some(b) = e
                        .batches
                        .iter()
                        .find(|b| b.first_seq == h.base_sequence && b.last_seq == last_seq)
                    {
                        return Ok((Verdict::Duplicate(*b), completed));
                    }
                }
                if h.producer_epoch < e.epoch {
                    return Err(LogError::InvalidProducerEpoch {
                        got: h.producer_epoch,
                        current: e.epoch,
                    });
                }
                if let Some(m) = controls.get(i).copied().flatten() {
                    if e.coordinator_epoch > m.coordinator_epoch {
                        return Err(LogError::TransactionCoordinatorFenced {
                            got: m.coordinator_epoch,
                            current: e.coordinator_epoch,
                        });
                    }
                }
                if !h.is_control() {
                    if h.producer_epoch != e.epoch {
                        if h.base_sequence != 0 {
                            return Err(LogError::OutOfOrderSequence {
                                expected: 0,
                                got: h.base_sequence,
                            });
                        }
                    } else {
                        let last = e.batches.back().map_or(-1, |b| b.last_seq);
                        if !(in_sequence(last, h.base_sequence) || last < 0 && h.base_sequence == 0)
                        {
                            return Err(LogError::OutOfOrderSequence {
                                expected: increment_sequence(last.max(-1), 1).max(0),
                                got: h.base_sequence,
                            });
                        }
                    }
                }
            }
            let mut entry = current.cloned().unwrap_or(ProducerEntry {
                epoch: h.producer_epoch,
                batches: VecDeque::with_capacity(BATCHES_CACHED),
                last_timestamp_ms: now_ms,
                txn_first_offset: None,
                coordinator_epoch: -1,
            });
            let control = controls.get(i).copied().flatten();
            if let Some(done) = apply(&mut entry, h, control, first_offset, last_offset, now_ms) {
                completed.push(done);
            }
            match overlay.iter_mut().find(|(p, _)| *p == pid) {
                Some(slot) => slot.1 = entry,
                None => overlay.push((pid, entry)),
            }
        }
        Ok((Verdict::Append(overlay), completed))
    }

    /// Installs entries produced by [`validate`](Self::validate) once the append is written.
    pub fn commit(&mut self, overlay: Vec<(i64, ProducerEntry)>) {
        for (pid, e) in overlay {
            self.set(pid, e);
        }
    }

    /// Replaces one producer's entry, keeping the open-transaction map in step.
    fn set(&mut self, pid: i64, e: ProducerEntry) {
        let new_first = e.txn_first_offset;
        if let Some(old) = self.producers.insert(pid, e) {
            if let Some(first) = old.txn_first_offset.filter(|f| Some(*f) != new_first) {
                self.ongoing.remove(&first);
            }
        }
        if let Some(first) = new_first {
            self.ongoing.insert(first, pid);
        }
    }

    /// Recovery: applies an already stamped batch header from the log without checks (`control` is the
    /// marker type of a control batch). Returns the transaction a marker closed.
    pub fn replay(&mut self, h: &BatchHeader, control: Option<EndMarker>) -> Option<CompletedTxn> {
        if !h.has_producer_id() {
            return None;
        }
        let mut entry = self
            .producers
            .get(&h.producer_id)
            .cloned()
            .unwrap_or_else(|| ProducerEntry {
                epoch: h.producer_epoch,
                batches: VecDeque::with_capacity(BATCHES_CACHED),
                last_timestamp_ms: h.max_timestamp,
                txn_first_offset: None,
                coordinator_epoch: -1,
            });
        if h.producer_epoch < entry.epoch {
            return None;
        }
        let done = apply(
            &mut entry,
            h,
            control,
            h.base_offset,
            h.last_offset(),
            h.max_timestamp,
        );
        self.set(h.producer_id, entry);
        done
    }

    /// True when `producer_id` has an open transaction in this partition.
    pub fn has_ongoing_txn(&self, producer_id: i64) -> bool {
        self.producers
            .get(&producer_id)
            .is_some_and(|e| e.txn_first_offset.is_some())
    }

    /// Smallest first offset of an open transaction (Kafka's `firstUnstableOffset`).
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.ongoing.keys().next().copied()
    }

    /// Open transactions as (producer id, first offset), oldest first.
    pub fn ongoing(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.ongoing.iter().map(|(first, pid)| (*pid, *first))
    }

    /// All producers (DescribeProducers).
    pub fn iter(&self) -> impl Iterator<Item = (i64, &ProducerEntry)> {
        self.producers.iter().map(|(pid, e)| (*pid, e))
    }

    /// Forgets producers idle for at least `expiration_ms`; never one with an open transaction (Kafka's
    /// `isProducerExpired`).
    pub fn expire(&mut self, now_ms: i64, expiration_ms: i64) {
        self.producers.retain(|_, e| {
            e.txn_first_offset.is_some()
                || now_ms.saturating_sub(e.last_timestamp_ms) < expiration_ms
        });
    }

    fn rebuild_ongoing(&mut self) {
        self.ongoing = self
            .producers
            .iter()
            .filter_map(|(pid, e)| e.txn_first_offset.map(|f| (f, *pid)))
            .collect();
    }

    /// Serialises the state (with a CRC-32C) for a `.snapshot` file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(4 + self.producers.len() * 64);
        body.extend_from_slice(&(self.producers.len() as i32).to_be_bytes());
        let mut ids: Vec<_> = self.producers.keys().copied().collect();
        ids.sort_unstable();
        for pid in ids {
            let Some(e) = self.producers.get(&pid) else {
                continue;
            };
            body.extend_from_slice(&pid.to_be_bytes());
            body.extend_from_slice(&e.epoch.to_be_bytes());
            body.extend_from_slice(&e.last_timestamp_ms.to_be_bytes());
            body.extend_from_slice(&e.txn_first_offset.unwrap_or(-1).to_be_bytes());
            body.extend_from_slice(&e.coordinator_epoch.to_be_bytes());
            body.push(e.batches.len() as u8);
            for b in &e.batches {
                body.extend_from_slice(&b.first_seq.to_be_bytes());
                body.extend_from_slice(&b.last_seq.to_be_bytes());
                body.extend_from_slice(&b.first_offset.to_be_bytes());
                body.extend_from_slice(&b.last_offset.to_be_bytes());
            }
        }
        let mut out = Vec::with_capacity(body.len() + 6);
        out.extend_from_slice(&SNAPSHOT_VERSION.to_be_bytes());
        out.extend_from_slice(&super::batch::crc32c(&body).to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Parses a snapshot; `None` if the version, CRC or layout is wrong.
    pub fn from_bytes(bytes: &[u8]) -> Option<ProducerStateManager> {
        let mut r = Reader { buf: bytes, pos: 0 };
        let version = r.i16()?;
        if !(SNAPSHOT_VERSION_1..=SNAPSHOT_VERSION).contains(&version) {
            return None;
        }
        let crc = r.u32()?;
        if super::batch::crc32c(bytes.get(6..)?) != crc {
            return None;
        }
        let n = usize::try_from(r.i32()?).ok()?;
        let mut producers = HashMap::with_capacity(n.min(1 << 16));
        for _ in 0..n {
            let pid = r.i64()?;
            let epoch = r.i16()?;
            let last_timestamp_ms = r.i64()?;
            let txn_first_offset = if version >= SNAPSHOT_VERSION_2 {
                Some(r.i64()?).filter(|o| *o >= 0)
            } else {
                None
            };
            let coordinator_epoch = if version >= SNAPSHOT_VERSION {
                r.i32()?
            } else {
                -1
            };
            let count = usize::from(r.u8()?).min(BATCHES_CACHED);
            let mut batches = VecDeque::with_capacity(count);
            for _ in 0..count {
                batches.push_back(BatchMetadata {
                    first_seq: r.i32()?,
                    last_seq: r.i32()?,
                    first_offset: r.i64()?,
                    last_offset: r.i64()?,
                });
            }
            producers.insert(
                pid,
                ProducerEntry {
                    epoch,
                    batches,
                    last_timestamp_ms,
                    txn_first_offset,
                    coordinator_epoch,
                },
            );
        }
        let mut state = ProducerStateManager {
            producers,
            ongoing: BTreeMap::new(),
        };
        state.rebuild_ongoing();
        Some(state)
    }
}

/// Applies one batch to its producer's entry (Kafka's `ProducerAppendInfo.append`): a marker closes the
/// open transaction (returned), a transactional data batch opens one if none is open.
fn apply(
    entry: &mut ProducerEntry,
    h: &BatchHeader,
    control: Option<EndMarker>,
    first_offset: i64,
    last_offset: i64,
    now_ms: i64,
) -> Option<CompletedTxn> {
    if h.producer_epoch != entry.epoch {
        entry.epoch = h.producer_epoch;
        entry.batches.clear();
    }
    entry.last_timestamp_ms = entry.last_timestamp_ms.max(now_ms);
    if h.is_control() {
        let marker = control?;
        entry.coordinator_epoch = marker.coordinator_epoch;
        let first = entry.txn_first_offset.take().unwrap_or(last_offset);
        return Some(CompletedTxn {
            producer_id: h.producer_id,
            first_offset: first,
            last_offset,
            aborted: marker.control == ControlType::Abort,
        });
    }
    if h.is_transactional() && entry.txn_first_offset.is_none() {
        entry.txn_first_offset = Some(first_offset);
    }
    if entry.batches.len() >= BATCHES_CACHED {
        entry.batches.pop_front();
    }
    entry.batches.push_back(BatchMetadata {
        first_seq: h.base_sequence,
        last_seq: h.last_sequence(),
        first_offset,
        last_offset,
    });
    None
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let s = self.buf.get(self.pos..self.pos + N)?;
        self.pos += N;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|a| a[0])
    }
    fn i16(&mut self) -> Option<i16> {
        self.take().map(i16::from_be_bytes)
    }
    fn i32(&mut self) -> Option<i32> {
        self.take().map(i32::from_be_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_be_bytes)
    }
    fn i64(&mut self) -> Option<i64> {
        self.take().map(i64::from_be_bytes)
    }
}

/// Path of the snapshot taken at `offset`.
pub fn snapshot_path(dir: &Path, offset: i64) -> PathBuf {
    dir.join(format!("{offset:020}.snapshot"))
}

/// Snapshot offsets present in `dir`, ascending.
pub fn list_snapshot_files(dir: &Path) -> io::Result<Vec<i64>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(stem) = name.strip_suffix(".snapshot") {
            if let Ok(o) = stem.parse::<i64>() {
                out.push(o);
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Removes the snapshots taken below `offset` (the first offset still in the log), as Kafka does for the
/// snapshots of deleted segments. Such a snapshot describes producers as of data that is gone, and
/// replaying the log after it would miss what they wrote in between: a producer would look stuck at an
/// old sequence and its next batch be refused. In-memory state is kept (Kafka since KIP-360: producers
/// leave only by `producer.id.expiration.ms`, so retries after a deletion are still deduplicated).
/// Returns how many were removed.
pub fn delete_snapshots_below(dir: &Path, offset: i64) -> io::Result<usize> {
    let mut removed = 0;
    for o in list_snapshot_files(dir)?
        .into_iter()
        .filter(|o| *o < offset)
    {
        match crate::log::fs::remove_file(snapshot_path(dir, o)) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

/// Removes the snapshots taken above `offset` (the log was truncated there: they describe records that
/// are gone, and recovery must never load them).
pub fn delete_snapshots_above(dir: &Path, offset: i64) -> io::Result<usize> {
    let mut removed = 0;
    for o in list_snapshot_files(dir)?
        .into_iter()
        .filter(|o| *o > offset)
    {
        match crate::log::fs::remove_file(snapshot_path(dir, o)) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

/// Writes a snapshot atomically (temp file, fsync, rename) and keeps only the newest two.
pub fn write_snapshot(dir: &Path, offset: i64, state: &ProducerStateManager) -> io::Result<()> {
    use std::io::Write;
    let path = snapshot_path(dir, offset);
    let tmp = path.with_extension("snapshot.tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&state.to_bytes())?;
        crate::log::fs::sync_data(&f)?;
    }
    crate::log::fs::rename(&tmp, &path)?;
    let all = list_snapshot_files(dir)?;
    if all.len() > 2 {
        for o in &all[..all.len() - 2] {
            let _ = crate::log::fs::remove_file(snapshot_path(dir, *o));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::build_batch;

    fn header(pid: i64, epoch: i16, seq: i32, n: usize) -> BatchHeader {
        let recs: Vec<crate::log::batch::KeyValue<'_>> =
            (0..n).map(|_| (None, Some(&b"v"[..]))).collect();
        BatchHeader::parse(&build_batch(&recs, 0, pid, epoch, seq, 0)).expect("header")
    }

    fn append(
        m: &mut ProducerStateManager,
        h: BatchHeader,
        next: i64,
    ) -> Result<Option<BatchMetadata>, LogError> {
        match m.validate(&[h], next, 0)? {
            Verdict::Append(o) => {
                m.commit(o);
                Ok(None)
            }
            Verdict::Duplicate(b) => Ok(Some(b)),
        }
    }

    #[test]
    fn dedup_of_last_five() {
        let mut m = ProducerStateManager::new();
        for i in 0..7 {
            assert_eq!(
                append(&mut m, header(1, 0, i * 2, 2), i64::from(i) * 2).expect("ok"),
                None
            );
        }
        // Seq 12..13 at offsets 12..13 is cached: duplicate with original offsets.
        let dup = append(&mut m, header(1, 0, 12, 2), 100)
            .expect("ok")
            .expect("duplicate");
        assert_eq!((dup.first_offset, dup.last_offset), (12, 13));
        // Seq 4..5 is the 3rd-newest-but-two... batches 4..13 cached (5 batches: seq 4,6,8,10,12).
        assert!(append(&mut m, header(1, 0, 4, 2), 100)
            .expect("ok")
            .is_some());
        // Seq 2..3 fell out of the cache: out of order now.
        assert!(matches!(
            append(&mut m, header(1, 0, 2, 2), 100),
            Err(LogError::OutOfOrderSequence { .. })
        ));
    }

    #[test]
    fn ordering_and_epochs() {
        let mut m = ProducerStateManager::new();
        // Unknown producer: any sequence accepted (Kafka 2.5+).
        append(&mut m, header(9, 3, 40, 1), 0).expect("unknown producer accepted");
        // Gap.
        assert!(matches!(
            append(&mut m, header(9, 3, 42, 1), 1),
            Err(LogError::OutOfOrderSequence {
                expected: 41,
                got: 42
            })
        ));
        append(&mut m, header(9, 3, 41, 1), 1).expect("in sequence");
        // Older epoch fenced.
        assert!(matches!(
            append(&mut m, header(9, 2, 0, 1), 2),
            Err(LogError::InvalidProducerEpoch { .. })
        ));
        // Newer epoch must restart at 0.
        assert!(matches!(
            append(&mut m, header(9, 4, 5, 1), 2),
            Err(LogError::OutOfOrderSequence { .. })
        ));
        append(&mut m, header(9, 4, 0, 1), 2).expect("new epoch at 0");
        assert_eq!(m.get(9).map(|e| e.epoch), Some(4));
        // Two batches of one producer in one append are checked in order.
        let v = m
            .validate(&[header(9, 4, 1, 2), header(9, 4, 3, 1)], 3, 0)
            .expect("ok");
        assert!(matches!(v, Verdict::Append(ref o) if o.len() == 1));
        assert!(m
            .validate(&[header(9, 4, 1, 2), header(9, 4, 4, 1)], 3, 0)
            .is_err());
    }

    #[test]
    fn sequence_wraps_at_max() {
        let mut m = ProducerStateManager::new();
        append(&mut m, header(5, 0, i32::MAX - 1, 2), 0).expect("ok");
        assert_eq!(
            m.get(5).and_then(|e| e.batches.back().map(|b| b.last_seq)),
            Some(i32::MAX)
        );
        append(&mut m, header(5, 0, 0, 1), 2).expect("wrapped to 0");
    }

    #[test]
    fn expiry_and_snapshot_roundtrip() {
        let mut m = ProducerStateManager::new();
        m.commit(
            match m.validate(&[header(1, 0, 0, 3)], 0, 1_000).expect("ok") {
                Verdict::Append(o) => o,
                Verdict::Duplicate(_) => Vec::new(),
            },
        );
        m.commit(
            match m.validate(&[header(2, 0, 0, 1)], 3, 5_000).expect("ok") {
                Verdict::Append(o) => o,
                Verdict::Duplicate(_) => Vec::new(),
            },
        );
        let bytes = m.to_bytes();
        assert_eq!(ProducerStateManager::from_bytes(&bytes), Some(m.clone()));
        let mut bad = bytes.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(ProducerStateManager::from_bytes(&bad), None);
        m.expire(6_000, 2_000);
        assert!(m.get(1).is_none());
        assert!(m.get(2).is_some());
    }

    #[test]
    fn version_2_snapshots_still_load_without_a_coordinator_epoch() {
        let mut m = ProducerStateManager::new();
        m.commit(
            match m.validate(&[header(1, 0, 0, 3)], 0, 1_000).expect("ok") {
                Verdict::Append(o) => o,
                Verdict::Duplicate(_) => Vec::new(),
            },
        );
        m.producers.get_mut(&1).expect("pid 1").coordinator_epoch = 9;
        let v3 = m.to_bytes();
        // Version 2: the same layout without the producer's coordinator epoch (body bytes 30..34).
        let mut body = v3[6..].to_vec();
        assert_eq!(body[30..34], 9i32.to_be_bytes());
        body.drain(30..34);
        let mut v2 = SNAPSHOT_VERSION_2.to_be_bytes().to_vec();
        v2.extend_from_slice(&super::super::batch::crc32c(&body).to_be_bytes());
        v2.extend_from_slice(&body);
        let loaded = ProducerStateManager::from_bytes(&v2).expect("v2 loads");
        m.producers.get_mut(&1).expect("pid 1").coordinator_epoch = -1;
        assert_eq!(loaded, m);
    }
}
