//! The log store: per-partition append-only logs of record batches; knows bytes and offsets, never wire types.
//!
//! Layout follows Apache Kafka: `<dir>/<topic>-<partition>/` holds segments named by base offset (20 digits),
//! each a `.log` of batches exactly as producers sent them (base offset stamped), a sparse `.index` and a
//! `.timeindex`; `<offset>.snapshot` files hold idempotent-producer state; the data folder holds the
//! `recovery-point-offset-checkpoint`, `log-start-offset-checkpoint`, `cleaner-offset-checkpoint` and
//! `.kafka_cleanshutdown` marker.
//!
//! # Durability
//!
//! * `acks=0` / `acks=1` ([`Durability::Written`]): the produce response is sent once the batches are
//!   written to the page cache (`pwrite`). A process crash loses nothing; a machine crash may lose the
//!   unflushed tail, which recovery truncates cleanly (never a partial batch).
//! * `acks=all` ([`Durability::Synced`]): the handler awaits [`PartitionLog::wait_durable`]`(last_offset)`,
//!   which resolves only after an `fdatasync` covering that offset. Syncs are group commits done by one
//!   flusher thread: every batch written before a sync starts is covered by it, so N concurrent acks=all
//!   producers cost about one `fdatasync` per disk round trip, not N. Tokio workers never block on a sync.
//! * Opting out: the store option [`StoreOptions::durable_acks_all`] (default `true`). When `false`,
//!   `wait_durable` returns at once and acks=all means "in the page cache", as in stock Kafka (which relies
//!   on replication rather than fsync).
//! * Topic `flush.messages` / `flush.ms` additionally force periodic syncs (queued to the same flusher,
//!   so they never block the append path); the default `i64::MAX` leaves flushing to the OS.
//! * DeleteRecords ([`LogStore::delete_records`]) resolves only once the new log start is in the fsynced
//!   `log-start-offset-checkpoint` (group commit on a blocking thread); off with `durable_acks_all`.
//! * Creating a segment or partition folder, and deleting segments, fsyncs the folder; closed segments
//!   get their log and index files fsynced by the flusher right after a roll.
//! * Recovery: `shutdown()` flushes everything and writes `.kafka_cleanshutdown`; `open()` removes it.
//!   Without the marker, segments from the recovery point on are rescanned (CRC of every batch), a torn or
//!   corrupt tail is truncated and their indexes rebuilt.

pub mod batch;
pub mod checkpoint;
pub mod cleaner;
pub mod control;
pub(crate) mod data_dir;
pub mod epoch_cache;
pub mod file_cache;
pub mod flush;
pub(crate) mod fs;
pub mod index;
pub mod page_cache;
pub mod partition;
pub mod producer_state;
pub mod recovery;
pub mod remove;
pub mod replication;
pub mod retention;
pub mod segment;
pub mod store;
pub mod time_index;
pub mod txn;
pub mod txn_index;
pub mod validate;

use std::path::PathBuf;

use bytes::Bytes;

pub use partition::{FileSlice, FollowerPosition, PartitionLog, ReadBound, Records, SliceRead};
pub use store::LogStore;

/// Per-topic log settings, using Kafka's topic-config meaning (names in comments).
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    /// `segment.bytes`: roll the active segment once it reaches this size.
    pub segment_bytes: u64,
    /// `segment.ms`: roll the active segment once an appended batch's max timestamp is more than this
    /// past its first batch's (wall time since the segment was created or opened if that has none).
    pub segment_ms: i64,
    /// `segment.jitter.ms`: a random amount below this (and below `segment.ms`), drawn per segment, is
    /// subtracted from `segment.ms` so many partitions do not roll at once.
    pub segment_jitter_ms: i64,
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
    /// `message.timestamp.before.max.ms`: oldest CreateTime accepted, relative to the broker's clock.
    pub timestamp_before_max_ms: i64,
    /// `message.timestamp.after.max.ms`: newest CreateTime accepted, relative to the broker's clock.
    pub timestamp_after_max_ms: i64,
    /// `flush.messages`: fsync after this many messages; `i64::MAX` = leave it to the OS.
    pub flush_messages: i64,
    /// `flush.ms`: fsync at least this often; `i64::MAX` = leave it to the OS.
    pub flush_ms: i64,
    /// `delete.retention.ms`: how long tombstones survive compaction.
    pub delete_retention_ms: i64,
    /// `min.cleanable.dirty.ratio`.
    pub min_cleanable_dirty_ratio: f64,
    /// `min.compaction.lag.ms`: records younger than this are not compacted.
    pub min_compaction_lag_ms: i64,
    /// `max.compaction.lag.ms`: a dirty record older than this is compacted whatever the dirty ratio, and
    /// on a compacted topic the active segment rolls at this age (Kafka's `LogConfig.maxSegmentMs`).
    pub max_compaction_lag_ms: i64,
    /// `min.insync.replicas`: fewest in-sync replicas (leader included) for an acks=all produce.
    pub min_insync_replicas: i32,
    /// `unclean.leader.election.enable`: a partition whose in-sync replicas are all gone may be led by an
    /// out-of-sync live replica (read by the controller; the log itself never looks at it).
    pub unclean_leader_election_enable: bool,
}

impl LogConfig {
    /// The age at which the active segment rolls: `segment.ms`, or `max.compaction.lag.ms` on a compacted
    /// topic when that is shorter, so no record waits in the (never cleaned) active segment past its lag.
    pub fn max_segment_ms(&self) -> i64 {
        if self.cleanup_compact && self.max_compaction_lag_ms > 0 {
            self.segment_ms.min(self.max_compaction_lag_ms)
        } else {
            self.segment_ms
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: 7 * 24 * 3600 * 1000,
            segment_jitter_ms: 0,
            index_interval_bytes: 4096,
            segment_index_bytes: 10 * 1024 * 1024,
            retention_ms: 7 * 24 * 3600 * 1000,
            retention_bytes: -1,
            cleanup_delete: true,
            cleanup_compact: false,
            max_message_bytes: 1_048_588,
            log_append_time: false,
            timestamp_before_max_ms: i64::MAX,
            timestamp_after_max_ms: i64::MAX,
            flush_messages: i64::MAX,
            flush_ms: i64::MAX,
            delete_retention_ms: 24 * 3600 * 1000,
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
            min_insync_replicas: 1,
            unclean_leader_election_enable: false,
        }
    }
}

/// Default `log.page.cache.window.bytes`: off (the kernel manages the page cache, as under Kafka). Turning
/// it on did not lower broker CPU per MB measurably (BENCHMARKS.md), and it sends lagging consumers to disk.
pub const PAGE_CACHE_WINDOW_DEFAULT: u64 = 0;

/// Store-wide options (broker config, not per topic).
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Root folder holding one `<topic>-<partition>` folder per partition.
    pub dir: PathBuf,
    /// `producer.id.expiration.ms`: forget idle producers after this long.
    pub producer_id_expiration_ms: i64,
    /// How often retention runs (`log.retention.check.interval.ms`).
    pub retention_check_interval_ms: u64,
    /// `log.cleaner.backoff.ms`: how long the cleaner sleeps when no partition needed cleaning (it looks
    /// again at once after a pass that cleaned something, as Kafka's cleaner thread does).
    pub cleaner_backoff_ms: u64,
    /// When true (the default) acks=all appends are acknowledged only after fdatasync (group commit); when
    /// false `wait_durable` returns at once (page-cache durability, like stock Kafka).
    pub durable_acks_all: bool,
    /// `log.max.open.files` (Weir): most segments holding an open `.log` descriptor and in-memory indexes
    /// at once, store-wide; the others reopen on demand.
    pub max_open_files: usize,
    /// Bytes of each partition's newest writes kept in the page cache; older written data is dropped from
    /// it (`log.page.cache.window.bytes`, Weir-specific; 0 leaves caching to the kernel, as Kafka does).
    pub page_cache_window_bytes: u64,
    /// `log.segment.delete.delay.ms`: how long a deleted partition's renamed folder stays on disk before
    /// the background task removes it.
    pub segment_delete_delay_ms: i64,
}

impl StoreOptions {
    /// Options with Kafka's defaults for everything but the folder.
    pub fn new(dir: impl Into<PathBuf>) -> StoreOptions {
        StoreOptions {
            dir: dir.into(),
            producer_id_expiration_ms: 24 * 3600 * 1000,
            retention_check_interval_ms: 300_000,
            cleaner_backoff_ms: 15_000,
            durable_acks_all: true,
            max_open_files: file_cache::DEFAULT_MAX_OPEN_FILES,
            page_cache_window_bytes: PAGE_CACHE_WINDOW_DEFAULT,
            segment_delete_delay_ms: 60_000,
        }
    }
}

/// Errors of the log store; the handler layer maps each to one Kafka error code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    #[error("corrupt record batch: {0}")]
    CorruptMessage(String),
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    /// Records of a batch broke Kafka's rules (its `RecordValidationException`): INVALID_TIMESTAMP when
    /// a timestamp was among the reasons, else INVALID_RECORD; `errors` name the records.
    #[error("{message}")]
    RecordErrors {
        timestamp: bool,
        message: String,
        errors: Vec<validate::RecordError>,
    },
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
    /// A marker from a transaction coordinator older than the one this producer's markers last came from.
    #[error("transaction coordinator epoch {got} is older than current {current}")]
    TransactionCoordinatorFenced { got: i32, current: i32 },
    #[error("invalid transaction state: {0}")]
    InvalidTxnState(String),
    #[error("unknown producer id {0}")]
    UnknownProducerId(i64),
    #[error("partition is being deleted or was deleted")]
    Deleted,
    /// This broker no longer (or does not yet) lead the partition.
    #[error("this broker is not the partition's leader")]
    NotLeader,
    /// A follower was sent batches that do not continue its log.
    #[error("batches at offset {got} do not continue the log ending at {log_end}")]
    NotContiguous { got: i64, log_end: i64 },
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
    /// Leader epoch the append was taken in: an acks=all wait succeeds only while this broker still
    /// leads in that epoch (the offsets may hold other records after a truncation and re-election).
    pub leader_epoch: i32,
}

/// Offsets of a partition; invariant: log_start <= last_stable <= high_watermark <= log_end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Offsets {
    /// First offset readable (moved by retention and DeleteRecords).
    pub log_start: i64,
    /// Offset after the last committed (readable) record; = log end on a single node.
    pub high_watermark: i64,
    /// High watermark for read_committed consumers; = high watermark until transactions exist.
    pub last_stable: i64,
    /// Offset the next appended record will get.
    pub log_end: i64,
}

/// Whole record batches read from a partition.
#[derive(Debug, Clone, Default)]
pub struct ReadResult {
    /// Concatenated batches starting with the one that contains the requested offset; may be empty.
    pub records: Bytes,
    /// Offsets of the partition at the time of the read.
    pub offsets: Offsets,
}

#[cfg(test)]
mod lazy_tests;
#[cfg(test)]
mod scale_tests;
#[cfg(test)]
pub(crate) mod sim;
#[cfg(test)]
mod tests;
