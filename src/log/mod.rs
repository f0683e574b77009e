//! The log store: per-partition append-only logs of record batches; knows bytes and offsets, never wire types.
//!
//! PLACEHOLDER (session 1, being replaced by the segmented on-disk store): this file fixes the public API the
//! handlers call. The in-memory body below exists only so the data plane can run while the real store is built.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use tokio::sync::watch;

/// Per-topic log settings, using Kafka's topic-config meaning (names in comments).
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    /// `segment.bytes`: roll the active segment once it reaches this size.
    pub segment_bytes: u64,
    /// `segment.ms`: roll the active segment once its first batch is this old.
    pub segment_ms: i64,
    /// `index.interval.bytes`: bytes of log between two offset-index entries.
    pub index_interval_bytes: u32,
    /// `segment.index.bytes`: max size of an index file; a full index rolls the segment.
    pub segment_index_bytes: u32,
    /// `retention.ms`: delete closed segments whose newest record is older; -1 = forever.
    pub retention_ms: i64,
    /// `retention.bytes`: delete oldest closed segments while the partition is larger; -1 = unlimited.
    pub retention_bytes: i64,
    /// `cleanup.policy` contains `delete`.
    pub cleanup_delete: bool,
    /// `cleanup.policy` contains `compact`.
    pub cleanup_compact: bool,
    /// `max.message.bytes`: largest batch accepted.
    pub max_message_bytes: u32,
    /// `message.timestamp.type` is `LogAppendTime` (else `CreateTime`).
    pub log_append_time: bool,
    /// `flush.messages`: fsync after this many messages; `i64::MAX` = leave it to the OS.
    pub flush_messages: i64,
    /// `flush.ms`: fsync at least this often; `i64::MAX` = leave it to the OS.
    pub flush_ms: i64,
    /// `delete.retention.ms`: how long tombstones survive compaction.
    pub delete_retention_ms: i64,
    /// `min.cleanable.dirty.ratio`.
    pub min_cleanable_dirty_ratio: f64,
    /// `min.compaction.lag.ms`.
    pub min_compaction_lag_ms: i64,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: 7 * 24 * 3600 * 1000,
            index_interval_bytes: 4096,
            segment_index_bytes: 10 * 1024 * 1024,
            retention_ms: 7 * 24 * 3600 * 1000,
            retention_bytes: -1,
            cleanup_delete: true,
            cleanup_compact: false,
            max_message_bytes: 1_048_588,
            log_append_time: false,
            flush_messages: i64::MAX,
            flush_ms: i64::MAX,
            delete_retention_ms: 24 * 3600 * 1000,
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
        }
    }
}

/// Store-wide options (broker config, not per topic).
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Root folder holding one `<topic>-<partition>` folder per partition.
    pub dir: PathBuf,
    /// `producer.id.expiration.ms`: forget idle producers after this long.
    pub producer_id_expiration_ms: i64,
    /// How often the retention / cleaner task wakes (`log.retention.check.interval.ms`).
    pub retention_check_interval_ms: u64,
}

/// Errors of the log store; the handler layer maps each to one Kafka error code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    #[error("corrupt record batch: {0}")]
    CorruptMessage(String),
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    #[error("batch of {size} bytes exceeds max.message.bytes {max}")]
    MessageTooLarge { size: usize, max: usize },
    #[error("offset {offset} out of range [{log_start}, {log_end}]")]
    OffsetOutOfRange {
        offset: i64,
        log_start: i64,
        log_end: i64,
    },
    #[error("out of order sequence: expected {expected}, got {got}")]
    OutOfOrderSequence { expected: i32, got: i32 },
    #[error("producer epoch {got} is older than current {current}")]
    InvalidProducerEpoch { got: i16, current: i16 },
    #[error("unknown producer id {0}")]
    UnknownProducerId(i64),
    #[error("partition is being deleted or was deleted")]
    Deleted,
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// How an append will be acknowledged; decides whether the caller must wait for fsync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// acks=1 / acks=0: acknowledged once in the page cache.
    Written,
    /// acks=all: acknowledged only after fsync (unless the topic opted out via flush settings).
    Synced,
}

/// Outcome of appending one request's worth of batches to a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset given to the first record.
    pub base_offset: i64,
    /// Offset given to the last record.
    pub last_offset: i64,
    /// Broker time stamped into the batch if the topic uses LogAppendTime, else -1.
    pub log_append_time_ms: i64,
    /// Log start offset after the append.
    pub log_start_offset: i64,
    /// True when this was a retried idempotent batch: nothing was written, offsets are the original ones.
    pub duplicate: bool,
}

/// Offsets of a partition; invariant: log_start <= last_stable <= high_watermark <= log_end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Offsets {
    pub log_start: i64,
    pub high_watermark: i64,
    pub last_stable: i64,
    pub log_end: i64,
}

/// Whole record batches read from a partition.
#[derive(Debug, Clone, Default)]
pub struct ReadResult {
    /// Concatenated batches starting with the one that contains the requested offset; may be empty.
    pub records: Bytes,
    pub offsets: Offsets,
}

/// All partition logs under one data folder.
pub struct LogStore {
    /// Where partitions live on disk.
    options: StoreOptions,
    /// Open partitions by (topic, partition).
    partitions: Mutex<HashMap<(String, i32), Arc<PartitionLog>>>,
}

impl LogStore {
    /// Opens (and recovers) every partition folder under `options.dir`.
    pub fn open(options: StoreOptions) -> Result<Arc<LogStore>, LogError> {
        std::fs::create_dir_all(&options.dir)?;
        Ok(Arc::new(LogStore {
            options,
            partitions: Mutex::new(HashMap::new()),
        }))
    }

    /// The data folder.
    pub fn dir(&self) -> &Path {
        &self.options.dir
    }

    /// Partitions found on disk at open (topic, partition).
    pub fn existing(&self) -> Vec<(String, i32)> {
        self.partitions
            .lock()
            .expect("poisoned")
            .keys()
            .cloned()
            .collect()
    }

    /// Returns the partition, creating its folder if it does not exist yet.
    pub fn get_or_create(
        &self,
        topic: &str,
        partition: i32,
        config: LogConfig,
    ) -> Result<Arc<PartitionLog>, LogError> {
        let mut map = self.partitions.lock().expect("poisoned");
        let log = map
            .entry((topic.to_string(), partition))
            .or_insert_with(|| Arc::new(PartitionLog::new(config)))
            .clone();
        Ok(log)
    }

    /// An open partition, if it exists.
    pub fn get(&self, topic: &str, partition: i32) -> Option<Arc<PartitionLog>> {
        self.partitions
            .lock()
            .expect("poisoned")
            .get(&(topic.to_string(), partition))
            .cloned()
    }

    /// Removes a partition and its files.
    pub fn delete(&self, topic: &str, partition: i32) -> Result<(), LogError> {
        self.partitions
            .lock()
            .expect("poisoned")
            .remove(&(topic.to_string(), partition));
        Ok(())
    }

    /// Flushes everything and writes the clean-shutdown marker.
    pub fn shutdown(&self) -> Result<(), LogError> {
        Ok(())
    }
}

/// One partition's log.
pub struct PartitionLog {
    /// Settings in force.
    config: Mutex<LogConfig>,
    /// (base offset, batch bytes) in offset order.
    batches: Mutex<Vec<(i64, Bytes)>>,
    /// Publishes the high watermark so long-polling fetches wake on append.
    hw_tx: watch::Sender<i64>,
}

impl PartitionLog {
    fn new(config: LogConfig) -> PartitionLog {
        PartitionLog {
            config: Mutex::new(config),
            batches: Mutex::new(Vec::new()),
            hw_tx: watch::channel(0).0,
        }
    }

    /// Validates and appends one or more v2 batches, stamping offsets in place.
    pub fn append(&self, records: Bytes, _now_ms: i64) -> Result<AppendInfo, LogError> {
        let max = self.config.lock().expect("poisoned").max_message_bytes as usize;
        if records.len() > max {
            return Err(LogError::MessageTooLarge {
                size: records.len(),
                max,
            });
        }
        if records.len() < 61 {
            return Err(LogError::CorruptMessage("short batch".into()));
        }
        let mut buf = BytesMut::from(&records[..]);
        let last_delta = i32::from_be_bytes([buf[23], buf[24], buf[25], buf[26]]) as i64;
        let mut batches = self.batches.lock().expect("poisoned");
        let base = *self.hw_tx.borrow();
        buf[0..8].copy_from_slice(&base.to_be_bytes());
        batches.push((base, buf.freeze()));
        self.hw_tx.send_replace(base + last_delta + 1);
        Ok(AppendInfo {
            base_offset: base,
            last_offset: base + last_delta,
            log_append_time_ms: -1,
            log_start_offset: 0,
            duplicate: false,
        })
    }

    /// Resolves once everything up to and including `offset` is fsynced.
    pub async fn wait_durable(&self, _offset: i64) -> Result<(), LogError> {
        Ok(())
    }

    /// Reads whole batches from the one containing `offset`, up to `max_bytes` (at least one batch).
    pub fn read(&self, offset: i64, max_bytes: usize) -> Result<ReadResult, LogError> {
        let offsets = self.offsets();
        if offset < offsets.log_start || offset > offsets.high_watermark {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start: offsets.log_start,
                log_end: offsets.log_end,
            });
        }
        let batches = self.batches.lock().expect("poisoned");
        let mut out = BytesMut::new();
        for (base, b) in batches.iter() {
            let last = base + i32::from_be_bytes([b[23], b[24], b[25], b[26]]) as i64;
            if last < offset {
                continue;
            }
            if !out.is_empty() && out.len() + b.len() > max_bytes {
                break;
            }
            out.extend_from_slice(b);
        }
        Ok(ReadResult {
            records: out.freeze(),
            offsets,
        })
    }

    /// Current offsets.
    pub fn offsets(&self) -> Offsets {
        let hw = *self.hw_tx.borrow();
        Offsets {
            log_start: 0,
            high_watermark: hw,
            last_stable: hw,
            log_end: hw,
        }
    }

    /// First offset whose timestamp is >= `timestamp_ms`, with that timestamp.
    pub fn offset_for_timestamp(&self, _timestamp_ms: i64) -> Result<Option<(i64, i64)>, LogError> {
        Ok(None)
    }

    /// Offset and timestamp of the record with the largest timestamp.
    pub fn max_timestamp(&self) -> Result<Option<(i64, i64)>, LogError> {
        Ok(None)
    }

    /// Watches the high watermark (long-poll fetches wait on it).
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.hw_tx.subscribe()
    }

    /// Replaces the topic settings.
    pub fn set_config(&self, config: LogConfig) {
        *self.config.lock().expect("poisoned") = config;
    }
}
