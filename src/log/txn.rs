//! The transaction side of a partition log: markers written by the transaction coordinator (Kafka's
//! `WriteTxnMarkers` on the partition leader), the last stable offset, the aborted transactions a
//! read_committed fetch must name, and the reads bounded by the LSO.

use bytes::Bytes;

use super::batch::{split_batches, BatchHeader};
use super::control::{end_marker, marker_batch, EndMarker};
use super::partition::{Inner, PartitionLog};
use super::producer_state::{CompletedTxn, ControlType};
use super::txn_index::AbortedTxn;
use super::validate::Origin;
use super::{AppendInfo, LogError, ReadResult};

/// A producer's state in this partition (DescribeProducers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerView {
    /// Producer id.
    pub producer_id: i64,
    /// Its epoch.
    pub producer_epoch: i16,
    /// Sequence of its last appended record, -1 if none is cached.
    pub last_sequence: i32,
    /// Time of its last append (ms since the epoch).
    pub last_timestamp_ms: i64,
    /// First offset of its open transaction, -1 if none.
    pub txn_start_offset: i64,
}

/// The marker of each control batch among `headers` (empty when there is none, which is every client
/// append: no allocation on the produce path).
pub(crate) fn end_markers(headers: &[BatchHeader], records: &Bytes) -> Vec<Option<EndMarker>> {
    if !headers.iter().any(BatchHeader::is_control) {
        return Vec::new();
    }
    let mut at = 0usize;
    headers
        .iter()
        .map(|h| {
            let len = h.total_len();
            let t = h
                .is_control()
                .then(|| records.get(at..at + len).map(|b| records.slice_ref(b)))
                .flatten()
                .and_then(|b| end_marker(&b));
            at += len;
            t
        })
        .collect()
}

/// Kafka's LSO: the first offset of the oldest open transaction, never above the high watermark.
pub(crate) fn last_stable_offset(inner: &Inner, high_watermark: i64) -> i64 {
    inner
        .producers
        .first_unstable_offset()
        .map_or(high_watermark, |f| f.min(high_watermark))
}

impl PartitionLog {
    /// Appends a commit or abort marker for `producer_id` (Kafka's `appendAsLeader` with
    /// `AppendOrigin.COORDINATOR`): closes its open transaction here, moves the LSO, and for an abort adds
    /// the transaction to the aborted-transaction index. A marker older than the producer's epoch is
    /// refused (`InvalidProducerEpoch`).
    pub fn append_marker(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        coordinator_epoch: i32,
        control: ControlType,
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        let batch = marker_batch(
            producer_id,
            producer_epoch,
            coordinator_epoch,
            control,
            now_ms,
        );
        self.append_from(Origin::Internal, batch, now_ms)
    }

    /// Indexes the aborted transactions among `completed` (markers just appended; the log end is `next`
    /// after them). Called under the partition lock, after producer state took the markers.
    pub(crate) fn index_aborted(&self, inner: &mut Inner, completed: &[CompletedTxn], next: i64) {
        let Some(segment_base) = inner.segments.last().map(|s| s.base_offset) else {
            return;
        };
        for c in completed.iter().filter(|c| c.aborted) {
            // Kafka's `lastStableOffset(completedTxn)`: the oldest other open transaction, else just
            // past the marker.
            let lso = inner
                .producers
                .first_unstable_offset()
                .unwrap_or(c.last_offset + 1)
                .min(next);
            let entry = AbortedTxn {
                producer_id: c.producer_id,
                first_offset: c.first_offset,
                last_offset: c.last_offset,
                last_stable_offset: lso,
            };
            if let Err(e) = inner.txn_index.append(self.dir(), segment_base, entry) {
                // The marker is in the log: recovery rebuilds the entry from it.
                tracing::error!(topic = self.topic(), partition = self.partition(), error = %e,
                    "writing the aborted-transaction index failed");
            }
        }
    }

    /// The aborted transactions a read_committed fetch of `[fetch_offset, upper_bound)` must name.
    pub fn aborted_txns(&self, fetch_offset: i64, upper_bound: i64) -> Vec<AbortedTxn> {
        self.lock().txn_index.collect(fetch_offset, upper_bound)
    }

    /// True when `producer_id` has an open transaction in this partition (KIP-890: no verification
    /// needed for its next transactional batch).
    pub fn has_ongoing_txn(&self, producer_id: i64) -> bool {
        self.lock().producers.has_ongoing_txn(producer_id)
    }

    /// The first sequence the next batch of `producer_id` at `producer_epoch` must carry: the coordinator
    /// numbers the transactional batches it writes (TxnOffsetCommit into `__consumer_offsets`).
    pub fn next_sequence(&self, producer_id: i64, producer_epoch: i16) -> i32 {
        let inner = self.lock();
        match inner.producers.get(producer_id) {
            Some(e) if e.epoch == producer_epoch => e
                .batches
                .back()
                .map_or(0, |b| super::batch::increment_sequence(b.last_seq, 1)),
            _ => 0,
        }
    }

    /// Open transactions as (producer id, first offset), oldest first.
    pub fn ongoing_txns(&self) -> Vec<(i64, i64)> {
        self.lock().producers.ongoing().collect()
    }

    /// Every producer this partition tracks (DescribeProducers).
    pub fn producers(&self) -> Vec<ProducerView> {
        let inner = self.lock();
        let mut out: Vec<ProducerView> = inner
            .producers
            .iter()
            .map(|(pid, e)| ProducerView {
                producer_id: pid,
                producer_epoch: e.epoch,
                last_sequence: e.batches.back().map_or(-1, |b| b.last_seq),
                last_timestamp_ms: e.last_timestamp_ms,
                txn_start_offset: e.txn_first_offset.unwrap_or(-1),
            })
            .collect();
        out.sort_by_key(|p| p.producer_id);
        out
    }

    /// A read_committed read (Kafka's `FetchIsolation.TXN_COMMITTED`): as [`read`](Self::read), but no
    /// batch at or past the LSO is returned; `aborted` lists the transactions the returned range may
    /// hold records of.
    pub fn read_committed(
        &self,
        offset: i64,
        max_bytes: usize,
    ) -> Result<(ReadResult, Vec<AbortedTxn>), LogError> {
        let mut r = self.read(offset, max_bytes)?;
        let lso = r.offsets.last_stable;
        if offset >= lso {
            r.records = Bytes::new();
            return Ok((r, Vec::new()));
        }
        let mut keep = 0usize;
        let mut upper = offset;
        for (h, b) in split_batches(&r.records) {
            if h.base_offset >= lso {
                break;
            }
            keep += b.len();
            upper = h.next_offset();
        }
        r.records.truncate(keep);
        let aborted = if keep == 0 {
            Vec::new()
        } else {
            self.aborted_txns(offset, upper.min(lso))
        };
        Ok((r, aborted))
    }
}

#[cfg(test)]
mod tests {
    use super::super::batch::{build_batch, ATTR_TRANSACTIONAL};
    use super::super::{LogConfig, LogStore, StoreOptions};
    use super::*;

    fn txn(pid: i64, epoch: i16, seq: i32, n: usize) -> Bytes {
        let recs: Vec<super::super::batch::KeyValue<'_>> =
            (0..n).map(|_| (None, Some(&b"t"[..]))).collect();
        build_batch(
            &recs,
            super::super::partition::now_ms(),
            pid,
            epoch,
            seq,
            ATTR_TRANSACTIONAL,
        )
    }

    fn small() -> LogConfig {
        LogConfig {
            segment_bytes: 600,
            retention_ms: -1,
            ..LogConfig::default()
        }
    }

    fn entry(pid: i64, first: i64, last: i64, lso: i64) -> AbortedTxn {
        AbortedTxn {
            producer_id: pid,
            first_offset: first,
            last_offset: last,
            last_stable_offset: lso,
        }
    }

    /// Two interleaved transactions (pids 1 and 2) plus plain data, one aborted and one committed.
    fn write_interleaved(log: &PartitionLog) {
        let now = super::super::partition::now_ms();
        log.append(txn(1, 0, 0, 2), now).expect("t1"); // 0..1
        log.append(txn(2, 0, 0, 1), now).expect("t2"); // 2
        assert_eq!(log.offsets().last_stable, 0);
        assert!(log.has_ongoing_txn(1) && log.has_ongoing_txn(2));
        log.append_marker(1, 0, 0, ControlType::Abort, now)
            .expect("abort 1"); // 3
                                // pid 2 still open from offset 2: the LSO stops there, and the abort entry says so.
        assert_eq!(log.offsets().last_stable, 2);
        log.append_marker(2, 0, 0, ControlType::Commit, now)
            .expect("commit 2"); // 4
        assert_eq!(log.offsets().last_stable, 5);
        assert_eq!(log.offsets().log_end, 5);
    }

    #[test]
    fn lso_follows_open_transactions_and_aborts_are_indexed() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = LogStore::open(StoreOptions::new(dir.path())).expect("open");
        let log = store.get_or_create("t", 0, small()).expect("create");
        write_interleaved(&log);
        assert_eq!(log.aborted_txns(0, 5), vec![entry(1, 0, 3, 2)]);
        assert_eq!(log.aborted_txns(4, 5), vec![]);
        // A stale marker (older epoch than the producer's) is refused.
        let now = super::super::partition::now_ms();
        log.append(txn(1, 3, 0, 1), now).expect("t1 epoch 3");
        assert!(matches!(
            log.append_marker(1, 2, 0, ControlType::Commit, now),
            Err(LogError::InvalidProducerEpoch { .. })
        ));
        // read_committed stops before the open transaction at 5.
        let (r, aborted) = log.read_committed(0, 1 << 20).expect("read");
        let last = split_batches(&r.records)
            .last()
            .map(|(h, _)| h.last_offset());
        assert_eq!(last, Some(4));
        assert_eq!(aborted, vec![entry(1, 0, 3, 2)]);
        let (r, _) = log.read_committed(5, 1 << 20).expect("read at LSO");
        assert!(r.records.is_empty());
        assert_eq!(log.ongoing_txns(), vec![(1, 5)]);
    }

    /// A follower cutting a diverged tail undoes what the tail did to producer state (Kafka rebuilds it
    /// from a snapshot and the log): a transaction whose abort marker was cut is open again and holds
    /// the LSO, its aborted-index entry is gone, and an epoch bump in the tail is forgotten.
    #[test]
    fn truncation_reopens_a_transaction_whose_marker_was_cut() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = LogStore::open(StoreOptions::new(dir.path())).expect("open");
        let log = store.get_or_create("t", 0, small()).expect("create");
        let now = super::super::partition::now_ms();
        log.append(txn(1, 0, 0, 2), now).expect("txn"); // 0..1
        log.append_marker(1, 0, 0, ControlType::Abort, now)
            .expect("abort"); // 2
        log.append(txn(1, 1, 0, 1), now).expect("next txn, epoch 1"); // 3
        assert_eq!(log.aborted_txns(0, 4).len(), 1);
        assert_eq!(log.offsets().last_stable, 3);
        log.truncate_to(2).expect("truncate");
        assert_eq!(log.offsets().log_end, 2);
        assert!(log.has_ongoing_txn(1), "the transaction at 0 is open again");
        assert_eq!(log.offsets().last_stable, 0);
        assert_eq!(log.aborted_txns(0, 2), vec![]);
        // The producer is back at epoch 0: the leader's marker for that transaction is taken.
        log.append_marker(1, 0, 0, ControlType::Commit, now)
            .expect("marker at the restored epoch");
        assert_eq!(log.offsets().last_stable, 3);
        assert!(!log.has_ongoing_txn(1));
    }

    #[test]
    fn crash_recovery_rebuilds_open_transactions_and_the_index() {
        let dir = tempfile::tempdir().expect("tmp");
        let part_dir;
        {
            let store = LogStore::open(StoreOptions::new(dir.path())).expect("open");
            let log = store.get_or_create("t", 0, small()).expect("create");
            write_interleaved(&log);
            let now = super::super::partition::now_ms();
            log.append(txn(7, 0, 0, 3), now).expect("open txn"); // 5..7
            part_dir = log.dir().to_path_buf();
            // No shutdown: a crash. Also damage the index files as a torn write would.
            for e in std::fs::read_dir(&part_dir).expect("dir").flatten() {
                let p = e.path();
                if p.extension()
                    .is_some_and(|x| x == "txnindex" || x == "snapshot")
                {
                    std::fs::remove_file(p).expect("rm");
                }
            }
        }
        let store = LogStore::open(StoreOptions::new(dir.path())).expect("reopen");
        let log = store.get_or_create("t", 0, small()).expect("get");
        assert_eq!(log.offsets().last_stable, 5, "open transaction of pid 7");
        assert_eq!(log.ongoing_txns(), vec![(7, 5)]);
        assert_eq!(log.aborted_txns(0, 8), vec![entry(1, 0, 3, 2)]);
        // The rebuilt entry is back on disk in Kafka's format.
        let on_disk: Vec<AbortedTxn> = std::fs::read_dir(&part_dir)
            .expect("dir")
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "txnindex"))
            .flat_map(|e| {
                let bytes = std::fs::read(e.path()).expect("read");
                bytes
                    .chunks_exact(super::super::txn_index::ENTRY_BYTES)
                    .filter_map(|c| <&[u8; 34]>::try_from(c).ok())
                    .filter_map(AbortedTxn::decode)
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(on_disk, vec![entry(1, 0, 3, 2)]);
        // The coordinator's abort later closes it.
        let now = super::super::partition::now_ms();
        log.append_marker(7, 1, 0, ControlType::Abort, now)
            .expect("abort");
        assert_eq!(log.offsets().last_stable, 9);
        assert_eq!(log.aborted_txns(4, 9), vec![entry(7, 5, 8, 9)]);
    }

    #[test]
    fn clean_reopen_keeps_open_transactions_from_the_snapshot() {
        let dir = tempfile::tempdir().expect("tmp");
        {
            let store = LogStore::open(StoreOptions::new(dir.path())).expect("open");
            let log = store.get_or_create("t", 0, small()).expect("create");
            write_interleaved(&log);
            let now = super::super::partition::now_ms();
            log.append(txn(7, 0, 0, 3), now).expect("open txn");
            store.shutdown().expect("shutdown");
        }
        let store = LogStore::open(StoreOptions::new(dir.path())).expect("reopen");
        let log = store.get_or_create("t", 0, small()).expect("get");
        assert_eq!(log.ongoing_txns(), vec![(7, 5)]);
        assert_eq!(log.offsets().last_stable, 5);
        assert_eq!(log.aborted_txns(0, 8), vec![entry(1, 0, 3, 2)]);
    }

    /// Kafka's `checkCoordinatorEpoch`: a marker from an older transaction coordinator than the one this
    /// producer's last marker came from is refused, and the partition remembers the newest coordinator
    /// across a clean reopen (snapshot) and a crash (log replay).
    #[test]
    fn markers_from_an_older_coordinator_are_fenced_across_restarts() {
        let now = super::super::partition::now_ms();
        let fenced = |log: &PartitionLog, coordinator_epoch: i32, newest: i32| {
            let r = log.append_marker(1, 0, coordinator_epoch, ControlType::Commit, now);
            assert!(
                matches!(r, Err(LogError::TransactionCoordinatorFenced { got, current })
                    if (got, current) == (coordinator_epoch, newest)),
                "{r:?}"
            );
        };
        for crash in [false, true] {
            let dir = tempfile::tempdir().expect("tmp");
            {
                let store = LogStore::open(StoreOptions::new(dir.path())).expect("open");
                let log = store.get_or_create("t", 0, small()).expect("create");
                log.append(txn(1, 0, 0, 1), now).expect("t1"); // 0
                log.append_marker(1, 0, 5, ControlType::Commit, now)
                    .expect("coordinator 5"); // 1
                log.append(txn(1, 0, 1, 1), now).expect("t1 again"); // 2
                fenced(&log, 4, 5);
                assert_eq!(
                    log.ongoing_txns(),
                    vec![(1, 2)],
                    "the fenced marker closed nothing"
                );
                if crash {
                    for e in std::fs::read_dir(log.dir()).expect("dir").flatten() {
                        if e.path().extension().is_some_and(|x| x == "snapshot") {
                            std::fs::remove_file(e.path()).expect("rm");
                        }
                    }
                } else {
                    store.shutdown().expect("shutdown");
                }
            }
            let store = LogStore::open(StoreOptions::new(dir.path())).expect("reopen");
            let log = store.get_or_create("t", 0, small()).expect("get");
            fenced(&log, 4, 5);
            // The same or a newer coordinator's marker is taken (a coordinator resends after a move).
            log.append_marker(1, 0, 5, ControlType::Abort, now)
                .expect("coordinator 5 again");
            assert_eq!(log.ongoing_txns(), vec![], "crash {crash}");
            log.append_marker(1, 0, 6, ControlType::Abort, now)
                .expect("coordinator 6");
            fenced(&log, 5, 6);
        }
    }
}

#[cfg(test)]
mod cleaner_tests {
    use super::super::batch::{build_batch, BatchRecords, ATTR_TRANSACTIONAL};
    use super::super::{LogConfig, LogStore, StoreOptions};
    use super::*;

    fn keyed(key: &str, value: &str, pid: i64, seq: i32, attributes: i16, ts: i64) -> Bytes {
        build_batch(
            &[(Some(key.as_bytes()), Some(value.as_bytes()))],
            ts,
            pid,
            0,
            seq,
            attributes,
        )
    }

    /// Every (key, value) a reader gets, control records left out.
    fn contents(log: &PartitionLog) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut next = log.offsets().log_start;
        while next < log.offsets().log_end {
            let r = log.read(next, 1 << 20).expect("read");
            for (h, b) in split_batches(&r.records) {
                next = h.next_offset();
                if h.is_control() {
                    continue;
                }
                for rec in BatchRecords::new(&b).expect("batch").flatten() {
                    let s = |x: &Option<Bytes>| {
                        String::from_utf8_lossy(x.as_deref().unwrap_or(b"")).into_owned()
                    };
                    out.push((s(&rec.key), s(&rec.value)));
                }
            }
        }
        out
    }

    #[test]
    fn compaction_removes_aborted_records_and_never_lets_them_shadow_committed_ones() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = LogStore::open(StoreOptions::new(dir.path())).expect("open");
        let config = LogConfig {
            cleanup_compact: true,
            cleanup_delete: false,
            segment_bytes: 200,
            min_compaction_lag_ms: 0,
            min_cleanable_dirty_ratio: 0.0,
            retention_ms: -1,
            ..LogConfig::default()
        };
        let log = store.get_or_create("c", 0, config).expect("create");
        let now = super::super::partition::now_ms();
        log.append(keyed("k", "committed", -1, -1, 0, now), now)
            .expect("plain");
        log.append(keyed("k", "aborted", 5, 0, ATTR_TRANSACTIONAL, now), now)
            .expect("txn");
        log.append_marker(5, 0, 0, ControlType::Abort, now)
            .expect("abort");
        log.append(keyed("j", "open", 6, 0, ATTR_TRANSACTIONAL, now), now)
            .expect("open txn");
        for i in 0..6 {
            log.append(keyed("f", &format!("filler{i}"), -1, -1, 0, now), now)
                .expect("filler");
        }
        // The open transaction at offset 3 bounds what the cleaner may touch.
        log.clean_pass(now).expect("clean");
        let got = contents(&log);
        assert!(got.contains(&("k".into(), "committed".into())), "{got:?}");
        assert!(!got.iter().any(|(_, v)| v == "aborted"), "{got:?}");
        assert!(got.contains(&("j".into(), "open".into())), "{got:?}");
        // The abort marker stays (readers and recovery need it).
        let markers = log
            .headers_from(0)
            .expect("headers")
            .into_iter()
            .filter(|h| h.is_control())
            .count();
        assert_eq!(markers, 1);
    }
}
