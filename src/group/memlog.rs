//! An in-memory `__consumer_offsets` for tests and benchmarks: appends are "durable" immediately.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use super::{AppendFuture, OffsetsLog, OffsetsRecord};
use crate::coordinator::{CoordinatorError, LogEntry, TxnMarker};

/// Keeps every appended entry per partition in memory; can be told to fail appends.
#[derive(Default)]
pub struct InMemoryOffsetsLog {
    /// Entries per partition in append order (short critical sections, never held across `.await`).
    partitions: Mutex<HashMap<i32, Vec<LogEntry>>>,
    /// When set, `append` fails with a storage error (tests of the error paths).
    fail_appends: AtomicBool,
}

impl InMemoryOffsetsLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes later appends fail (`true`) or succeed (`false`).
    pub fn set_fail_appends(&self, fail: bool) {
        self.fail_appends.store(fail, Ordering::SeqCst);
    }

    /// A copy of the entries of `partition`.
    pub fn entries(&self, partition: i32) -> Vec<LogEntry> {
        self.partitions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&partition)
            .cloned()
            .unwrap_or_default()
    }

    /// A copy of the records of `partition` (markers left out).
    pub fn records(&self, partition: i32) -> Vec<OffsetsRecord> {
        self.entries(partition)
            .into_iter()
            .filter_map(|e| match e {
                LogEntry::Record { record, .. } => Some(record),
                LogEntry::EndTxn { .. } => None,
            })
            .collect()
    }

    fn push(&self, partition: i32, entries: impl IntoIterator<Item = LogEntry>) -> AppendFuture {
        if self.fail_appends.load(Ordering::SeqCst) {
            return Box::pin(async {
                Err(CoordinatorError::Storage("append failed (injected)".into()))
            });
        }
        self.partitions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(partition)
            .or_default()
            .extend(entries);
        Box::pin(async { Ok(()) })
    }
}

impl OffsetsLog for InMemoryOffsetsLog {
    fn append(&self, partition: i32, records: Vec<OffsetsRecord>) -> AppendFuture {
        let entries = records.into_iter().map(|record| LogEntry::Record {
            record,
            producer_id: None,
        });
        self.push(partition, entries)
    }

    fn append_transactional(
        &self,
        partition: i32,
        producer_id: i64,
        _producer_epoch: i16,
        records: Vec<OffsetsRecord>,
    ) -> AppendFuture {
        let entries = records.into_iter().map(move |record| LogEntry::Record {
            record,
            producer_id: Some(producer_id),
        });
        self.push(partition, entries)
    }

    fn append_end_txn(&self, partition: i32, marker: TxnMarker) -> AppendFuture {
        self.push(
            partition,
            [LogEntry::EndTxn {
                producer_id: marker.producer_id,
                commit: marker.commit,
            }],
        )
    }

    fn read_all(&self, partition: i32) -> Result<Vec<LogEntry>, CoordinatorError> {
        Ok(self.entries(partition))
    }
}
