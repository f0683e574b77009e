//! An in-memory `__consumer_offsets` for tests and benchmarks: appends are "durable" immediately.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use super::{AppendFuture, OffsetsLog, OffsetsRecord};
use crate::coordinator::CoordinatorError;

/// Keeps every appended record per partition in memory; can be told to fail appends.
#[derive(Default)]
pub struct InMemoryOffsetsLog {
    /// Records per partition in append order (short critical sections, never held across `.await`).
    partitions: Mutex<HashMap<i32, Vec<OffsetsRecord>>>,
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

    /// A copy of the records of `partition`.
    pub fn records(&self, partition: i32) -> Vec<OffsetsRecord> {
        self.partitions
            .lock()
            .expect("offsets log mutex poisoned")
            .get(&partition)
            .cloned()
            .unwrap_or_default()
    }
}

impl OffsetsLog for InMemoryOffsetsLog {
    fn append(&self, partition: i32, records: Vec<OffsetsRecord>) -> AppendFuture {
        if self.fail_appends.load(Ordering::SeqCst) {
            return Box::pin(async {
                Err(CoordinatorError::Storage("append failed (injected)".into()))
            });
        }
        self.partitions
            .lock()
            .expect("offsets log mutex poisoned")
            .entry(partition)
            .or_default()
            .extend(records);
        Box::pin(async { Ok(()) })
    }

    fn read_all(&self, partition: i32) -> Result<Vec<OffsetsRecord>, CoordinatorError> {
        Ok(self.records(partition))
    }
}
