//! Retention: deletes whole closed segments that are past `retention.ms` (by their largest timestamp),
//! beyond `retention.bytes`, or wholly below the log start offset (DeleteRecords); never the active segment.
//! Producer-state snapshots below the first remaining segment go with them.
//!
//! Deletion renames the files to `*.deleted` under the partition lock (readers holding the open file keep
//! reading), then removes them and fsyncs the folder outside the lock. Time is a parameter.

use super::checkpoint::sync_dir;
use super::partition::PartitionLog;
use super::producer_state::delete_snapshots_below;
use super::LogError;

/// What one retention pass removed from a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetentionOutcome {
    /// Segments deleted.
    pub segments_deleted: usize,
    /// Bytes of log deleted.
    pub bytes_deleted: u64,
    /// Log start offset after the pass.
    pub log_start: i64,
    /// Base offset of the first remaining segment.
    pub first_base: i64,
}

impl PartitionLog {
    /// One retention pass at time `now_ms`.
    pub fn retention_pass(&self, now_ms: i64) -> Result<RetentionOutcome, LogError> {
        let (removed_paths, outcome) = {
            let mut inner = self.lock();
            if inner.closed {
                return Err(LogError::Deleted);
            }
            let closed = inner.segments.len().saturating_sub(1);
            let mut k = 0usize;
            // Below the log start offset (DeleteRecords, or a previous pass).
            while k < closed && inner.segments[k + 1].base_offset <= inner.log_start {
                k += 1;
            }
            if inner.config.cleanup_delete {
                let retention_ms = inner.config.retention_ms;
                if retention_ms >= 0 {
                    while k < closed
                        && now_ms.saturating_sub(inner.segments[k].max_timestamp_ms) > retention_ms
                    {
                        k += 1;
                    }
                }
                let retention_bytes = inner.config.retention_bytes;
                if retention_bytes >= 0 {
                    let mut remaining: u64 =
                        inner.segments[k..].iter().map(|s| s.size_bytes()).sum();
                    while k < closed
                        && remaining - inner.segments[k].size_bytes() >= retention_bytes as u64
                    {
                        remaining -= inner.segments[k].size_bytes();
                        k += 1;
                    }
                }
            }
            let mut paths = Vec::new();
            let mut bytes_deleted = 0;
            for seg in &inner.segments[..k] {
                paths.extend(seg.rename_deleted()?);
                bytes_deleted += seg.size_bytes();
            }
            inner.segments.drain(..k);
            let first_base = inner
                .segments
                .first()
                .map_or(inner.log_end, |s| s.base_offset);
            inner.log_start = inner.log_start.max(first_base);
            inner.recovery_point = inner.recovery_point.max(first_base);
            (
                paths,
                RetentionOutcome {
                    segments_deleted: k,
                    bytes_deleted,
                    log_start: inner.log_start,
                    first_base,
                },
            )
        };
        if !removed_paths.is_empty() {
            for p in &removed_paths {
                super::remove::remove_file_paced(p)?;
            }
            delete_snapshots_below(self.dir(), outcome.first_base)?;
            self.lock()
                .txn_index
                .delete_below(self.dir(), outcome.first_base)?;
            sync_dir(self.dir())?;
            tracing::info!(
                topic = self.topic(),
                partition = self.partition(),
                segments = outcome.segments_deleted,
                bytes = outcome.bytes_deleted,
                log_start = outcome.log_start,
                "retention deleted segments"
            );
        }
        Ok(outcome)
    }
}
