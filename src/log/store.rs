//! The store: all partition logs under one data folder; discovery and recovery at open, checkpoints,
//! the clean-shutdown marker, the flusher thread and the background retention / cleaner task.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tokio::sync::watch;

use super::checkpoint::{self, sync_dir, CLEANER_FILE, LOG_START_FILE, RECOVERY_POINT_FILE};
use super::data_dir::DataDirSync;
use super::file_cache::{FileCache, FileCacheStats};
use super::flush::Flusher;
use super::partition::{now_ms, Inner, PartitionLog};
use super::recovery::{self, LoadParams};
use super::{LogConfig, LogError, StoreOptions};

/// Marker written by a clean shutdown and removed at open (same name as Kafka's).
pub const CLEAN_SHUTDOWN_FILE: &str = ".kafka_cleanshutdown";

/// Below this many partition folders `open` loads them on the calling thread alone.
pub const PARALLEL_LOAD_MIN_PARTITIONS: usize = 256;

/// The background task's stop signal and handle.
struct Background {
    /// Set to true to stop the task.
    stop: watch::Sender<bool>,
    /// The task, awaited by [`LogStore::stop_background`].
    handle: tokio::task::JoinHandle<()>,
}

/// All partition logs under one data folder.
pub struct LogStore {
    /// Store-wide options, shared with every partition.
    options: Arc<StoreOptions>,
    /// Open partitions by (topic, partition).
    partitions: Mutex<HashMap<(String, i32), Arc<PartitionLog>>>,
    /// Partitions found on disk at open.
    existing: Vec<(String, i32)>,
    /// Group-commit flusher shared by all partitions.
    flusher: Arc<Flusher>,
    /// Bound on open segment files (`log.max.open.files`), shared by all partitions.
    files: Arc<FileCache>,
    /// Group-committed fsync of the data folder for partition folders created lazily.
    data_dir: Arc<DataDirSync>,
    /// The flusher thread, joined at shutdown.
    flusher_thread: Mutex<Option<JoinHandle<()>>>,
    /// The retention / cleaner task, if started.
    background: Mutex<Option<Background>>,
    /// Serialises maintenance passes with shutdown.
    maintenance: Mutex<()>,
    /// Serialises checkpoint-file writers (they share temp file names).
    checkpoint_files: Mutex<()>,
    /// Folders of deleted partitions (renamed `*-delete`) and when they may be removed from disk.
    doomed: Mutex<Vec<Doomed>>,
    /// Set at shutdown: a paced removal in progress stops (the folder is removed after the next start).
    stopping: AtomicBool,
}

/// A deleted partition's renamed folder awaiting removal (`log.segment.delete.delay.ms`).
struct Doomed {
    path: PathBuf,
    due_ms: i64,
}

impl Doomed {
    /// `path`, due `delay_ms` after `now_ms`.
    fn after(path: PathBuf, now_ms: i64, delay_ms: i64) -> Doomed {
        Doomed {
            path,
            due_ms: now_ms.saturating_add(delay_ms),
        }
    }
}

/// Renames the folder of a closed partition to `to`; false when it has none (a partition created lazily
/// and never written).
fn rename_folder(log: &PartitionLog, to: &Path) -> Result<bool, LogError> {
    let on_disk = log.is_on_disk();
    match crate::log::fs::rename(log.dir(), to) {
        Ok(()) => Ok(true),
        // A read may have created the folder of a pending segment without marking it on disk: try the
        // rename whatever the flag says, and accept a missing folder only where none was made.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !on_disk => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Splits `<topic>-<partition>` on the last `-` (topic names may contain `-`).
pub fn parse_partition_dir(name: &str) -> Option<(String, i32)> {
    let (topic, partition) = name.rsplit_once('-')?;
    let partition = partition.parse::<i32>().ok().filter(|p| *p >= 0)?;
    if topic.is_empty() || topic.contains('.') && topic.ends_with("-delete") {
        return None;
    }
    Some((topic.to_string(), partition))
}

impl LogStore {
    /// Opens (and recovers) every partition folder under `options.dir`.
    pub fn open(options: StoreOptions) -> Result<Arc<LogStore>, LogError> {
        let started = std::time::Instant::now();
        let dir = options.dir.clone();
        std::fs::create_dir_all(&dir)?;
        let marker = dir.join(CLEAN_SHUTDOWN_FILE);
        let clean = marker.exists();
        let recovery_points = checkpoint::read(&dir, RECOVERY_POINT_FILE)?;
        let log_starts = checkpoint::read(&dir, LOG_START_FILE)?;
        // Entries of partitions no longer on disk are dropped by the next write.
        let cleaner_offsets = checkpoint::read(&dir, CLEANER_FILE)?;
        let high_watermarks = checkpoint::read(&dir, checkpoint::HIGH_WATERMARK_FILE)?;
        let (flusher, flusher_thread) = Flusher::start()?;
        let files = FileCache::new(options.max_open_files);
        let data_dir = Arc::new(DataDirSync::new(dir.clone()));
        let options = Arc::new(options);
        let now = now_ms();
        let mut found = Vec::new();
        let mut doomed = Vec::new();
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if !entry.file_type()?.is_dir() {
                continue;
            }
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.ends_with("-delete") {
                // A partition whose deletion was interrupted: rescheduled, as Kafka does, not removed here
                // (removing gigabytes would hold up start-up).
                doomed.push(Doomed::after(
                    entry.path(),
                    now,
                    options.segment_delete_delay_ms,
                ));
                continue;
            }
            let Some(key) = parse_partition_dir(name) else {
                continue;
            };
            found.push((key, entry.path()));
        }
        let load = |(key, path): &((String, i32), PathBuf)| {
            recovery::load(LoadParams {
                dir: path,
                clean,
                recovery_point: recovery_points.get(key).copied(),
                log_start: log_starts.get(key).copied(),
                cleaner_offset: cleaner_offsets.get(key).copied(),
                high_watermark: high_watermarks.get(key).copied(),
                config: LogConfig::default(),
                now_ms: now,
                producer_id_expiration_ms: options.producer_id_expiration_ms,
                files: &files,
            })
        };
        // Loading is CPU-bound folder and header reads (most of a 10,000-partition start-up): spread the
        // partitions over the cores.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        let loaded: Vec<Inner> = if threads < 2 || found.len() < PARALLEL_LOAD_MIN_PARTITIONS {
            found.iter().map(load).collect::<Result<_, _>>()?
        } else {
            let chunk = found.len().div_ceil(threads);
            std::thread::scope(|s| {
                let workers: Vec<_> = found
                    .chunks(chunk)
                    .map(|part| {
                        s.spawn(move || part.iter().map(load).collect::<Result<Vec<_>, _>>())
                    })
                    .collect();
                let mut all = Vec::with_capacity(found.len());
                for w in workers {
                    match w.join() {
                        Ok(part) => all.extend(part?),
                        Err(_) => {
                            return Err(LogError::Io(std::io::Error::other(
                                "a partition loader thread panicked",
                            )))
                        }
                    }
                }
                Ok(all)
            })?
        };
        let mut partitions = HashMap::with_capacity(found.len());
        let mut existing = Vec::with_capacity(found.len());
        for ((key, path), inner) in found.into_iter().zip(loaded) {
            let log = PartitionLog::from_inner(
                (&key.0, key.1),
                path,
                options.clone(),
                flusher.clone(),
                files.clone(),
                data_dir.clone(),
                inner,
            );
            if !clean {
                log.request_flush();
            }
            existing.push(key.clone());
            partitions.insert(key, log);
        }
        existing.sort();
        if clean {
            crate::log::fs::remove_file(&marker)?;
        }
        sync_dir(&dir)?;
        tracing::info!(
            dir = %dir.display(),
            partitions = existing.len(),
            clean,
            elapsed_ms = started.elapsed().as_millis(),
            "log store opened"
        );
        Ok(Arc::new(LogStore {
            options,
            partitions: Mutex::new(partitions),
            existing,
            flusher,
            files,
            data_dir,
            flusher_thread: Mutex::new(Some(flusher_thread)),
            background: Mutex::new(None),
            maintenance: Mutex::new(()),
            checkpoint_files: Mutex::new(()),
            doomed: Mutex::new(doomed),
            stopping: AtomicBool::new(false),
        }))
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<(String, i32), Arc<PartitionLog>>> {
        self.partitions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The data folder.
    pub fn dir(&self) -> &Path {
        &self.options.dir
    }

    /// Open-segment counters of the store's file cache (`log.max.open.files`).
    pub fn file_cache_stats(&self) -> FileCacheStats {
        self.files.stats()
    }

    /// Partitions found on disk at open (topic, partition), sorted.
    pub fn existing(&self) -> Vec<(String, i32)> {
        self.existing.clone()
    }

    /// Returns the partition, creating its folder if it does not exist yet. A partition found on disk at
    /// open takes `config` on its first call here; later calls leave the config alone (use `set_config`).
    pub fn get_or_create(
        &self,
        topic: &str,
        partition: i32,
        config: LogConfig,
    ) -> Result<Arc<PartitionLog>, LogError> {
        let (log, created) = self.open_or_create(topic, partition, config, false)?;
        if created {
            sync_dir(&self.options.dir)?;
        }
        Ok(log)
    }

    /// [`get_or_create`](Self::get_or_create) for many partitions at once (a topic's creation, the
    /// metadata's partitions for this broker), lazily: a partition without a folder exists in memory at
    /// once, as an empty log at offset 0, and its folder and first segment are created by its first
    /// append or truncation (`PartitionLog::ensure_on_disk`); the flusher fsyncs the new folder and the
    /// data folder (one fsync for many) before the first acks=all acknowledgement. A crash before that
    /// loses only empty partitions, which the metadata (committed before this runs) places here again on
    /// the next start. So CreateTopics of 1,000 partitions touches no disk beyond the metadata log.
    /// Folders found on disk are loaded. One result per item, in order.
    pub fn get_or_create_many(
        &self,
        items: impl IntoIterator<Item = (String, i32, LogConfig)>,
    ) -> Vec<Result<Arc<PartitionLog>, LogError>> {
        let mut created = false;
        let mut out: Vec<_> = items
            .into_iter()
            .map(|(topic, partition, config)| {
                let (log, new) = self.open_or_create(&topic, partition, config, true)?;
                created |= new;
                Ok(log)
            })
            .collect();
        if created {
            if let Err(e) = sync_dir(&self.options.dir) {
                // Not durable yet: report it for every partition created by this call.
                let msg = e.to_string();
                for r in &mut out {
                    if r.is_ok() {
                        *r = Err(LogError::Io(std::io::Error::other(msg.clone())));
                    }
                }
            }
        }
        out
    }

    /// Opens or creates one partition; true when its folder was created here (the data folder then
    /// needs an fsync, which the caller does once for a batch). The new folder's own fsync is left to
    /// the flusher (`dir_needs_sync` is set when its first segment is created). `lazy`: a partition with
    /// no folder is created in memory only (see [`get_or_create_many`](Self::get_or_create_many)).
    fn open_or_create(
        &self,
        topic: &str,
        partition: i32,
        config: LogConfig,
        lazy: bool,
    ) -> Result<(Arc<PartitionLog>, bool), LogError> {
        let key = (topic.to_string(), partition);
        let mut map = self.map();
        if let Some(log) = map.get(&key) {
            log.set_config_if_unset(config);
            return Ok((log.clone(), false));
        }
        if topic.is_empty() || topic.contains('/') || topic == "." || topic == ".." || partition < 0
        {
            return Err(LogError::InvalidRecord(format!(
                "invalid partition name {topic}-{partition}"
            )));
        }
        let dir = self.options.dir.join(format!("{topic}-{partition}"));
        // A lookup in the data folder (no journal operation), to load a folder a lazy partition's first
        // write made before the partition left the map (e.g. an earlier store instance's).
        let pending = lazy && !dir.exists();
        let created = !pending
            && match std::fs::create_dir(&dir) {
                Ok(()) => true,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
                Err(e) => return Err(e.into()),
            };
        let params = LoadParams {
            dir: &dir,
            clean: true,
            recovery_point: None,
            log_start: None,
            cleaner_offset: None,
            high_watermark: None,
            config: config.clone(),
            now_ms: now_ms(),
            producer_id_expiration_ms: self.options.producer_id_expiration_ms,
            files: &self.files,
        };
        // A folder made just now is empty: nothing to list or recover.
        let inner = if pending {
            recovery::pending(params)?
        } else if created {
            recovery::create(params)?
        } else {
            recovery::load(params)?
        };
        let log = PartitionLog::from_inner(
            (topic, partition),
            dir,
            self.options.clone(),
            self.flusher.clone(),
            self.files.clone(),
            self.data_dir.clone(),
            inner,
        );
        log.set_config(config);
        map.insert(key, log.clone());
        Ok((log, created))
    }

    /// An open partition, if it exists.
    pub fn get(&self, topic: &str, partition: i32) -> Option<Arc<PartitionLog>> {
        self.map().get(&(topic.to_string(), partition)).cloned()
    }

    /// All open partitions.
    pub fn partitions(&self) -> Vec<Arc<PartitionLog>> {
        self.map().values().cloned().collect()
    }

    /// Removes a partition and its files (rename to `<name>.<uuid>-delete`, then remove, like Kafka).
    pub fn delete(&self, topic: &str, partition: i32) -> Result<(), LogError> {
        let Some(log) = self.map().remove(&(topic.to_string(), partition)) else {
            return Ok(());
        };
        log.close(false)?;
        let doomed = self.options.dir.join(format!(
            "{topic}-{partition}.{}-delete",
            uuid::Uuid::new_v4().simple()
        ));
        if !rename_folder(&log, &doomed)? {
            // Created lazily and never written: no folder, nothing to remove.
            return Ok(());
        }
        sync_dir(&self.options.dir)?;
        // Removed later by the background task (Kafka's `log.segment.delete.delay.ms`): unlinking a large
        // partition truncates its page cache and frees its blocks, which must not stall the caller (a
        // request handler) and lets readers still holding its files finish.
        self.lock_doomed().push(Doomed::after(
            doomed,
            now_ms(),
            self.options.segment_delete_delay_ms,
        ));
        Ok(())
    }

    /// Closes a partition the metadata does not place on this broker and renames its folder
    /// `<name>.<uuid>-stray`, where it stays for an operator to look at (Kafka 3.7+ keeps stray logs
    /// rather than deleting them: a lost or wrong metadata log must not cost data). Loading skips it.
    /// `None` when the partition had no folder (created lazily and never written): nothing to keep.
    pub fn set_aside_stray(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<Option<PathBuf>, LogError> {
        let Some(log) = self.map().remove(&(topic.to_string(), partition)) else {
            return Err(LogError::Io(std::io::Error::from(
                std::io::ErrorKind::NotFound,
            )));
        };
        log.close(false)?;
        let aside = self.options.dir.join(format!(
            "{topic}-{partition}.{}-stray",
            uuid::Uuid::new_v4().simple()
        ));
        if !rename_folder(&log, &aside)? {
            return Ok(None);
        }
        sync_dir(&self.options.dir)?;
        Ok(Some(aside))
    }

    fn lock_doomed(&self) -> std::sync::MutexGuard<'_, Vec<Doomed>> {
        self.doomed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Removes the folders of deleted partitions whose delay has passed by `now_ms`; returns how many.
    /// Blocking (run by the background task); a folder that cannot be removed is logged and retried.
    pub fn remove_deleted_partitions(&self, now_ms: i64) -> usize {
        let due: Vec<PathBuf> = {
            let mut doomed = self.lock_doomed();
            let (due, later) = std::mem::take(&mut *doomed)
                .into_iter()
                .partition(|d| d.due_ms <= now_ms);
            *doomed = later;
            due.into_iter().map(|d| d.path).collect()
        };
        let mut removed = 0;
        for path in due {
            let stopping = || self.stopping.load(Ordering::Acquire);
            match super::remove::remove_dir_paced(&path, &stopping) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                    // Shutting down: the `*-delete` folder is found again at the next start.
                    break;
                }
                Err(e) => {
                    tracing::error!(dir = %path.display(), error = %e, "removing a deleted partition failed");
                    self.lock_doomed().push(Doomed::after(
                        path,
                        now_ms,
                        self.options.segment_delete_delay_ms,
                    ));
                }
            }
        }
        removed
    }

    /// Flushes everything, writes checkpoints and the clean-shutdown marker. Appends fail afterwards.
    pub fn shutdown(&self) -> Result<(), LogError> {
        self.stopping.store(true, Ordering::Release);
        if let Some(bg) = self
            .background
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let _ = bg.stop.send(true);
            bg.handle.abort();
        }
        let _pass = self.maintenance.lock().unwrap_or_else(|e| e.into_inner());
        let parts = self.partitions();
        let mut first_error = None;
        for p in &parts {
            if let Err(e) = p.close(true) {
                tracing::error!(topic = p.topic(), partition = p.partition(), error = %e, "flush at shutdown failed");
                first_error.get_or_insert(e);
            }
        }
        self.write_checkpoints()?;
        if let Some(e) = first_error {
            return Err(e);
        }
        self.flusher.stop();
        if let Some(t) = self
            .flusher_thread
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let _ = t.join();
        }
        crate::log::fs::sync_all(&std::fs::File::create(
            self.options.dir.join(CLEAN_SHUTDOWN_FILE),
        )?)?;
        sync_dir(&self.options.dir)?;
        tracing::info!(dir = %self.options.dir.display(), "log store shut down cleanly");
        Ok(())
    }

    /// Blocks until the flusher has no queued work (tests).
    #[cfg(test)]
    pub(crate) fn wait_flusher_idle(&self) {
        self.flusher.wait_idle();
    }

    /// Writes the recovery-point, log-start and cleaner checkpoint files.
    pub fn write_checkpoints(&self) -> Result<(), LogError> {
        let _files = self
            .checkpoint_files
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut points: Vec<_> = self
            .partitions()
            .iter()
            .map(|p| {
                let key = (p.topic().to_string(), p.partition());
                (key, p.checkpoint_offsets().1)
            })
            .collect();
        points.sort();
        self.write_log_starts_locked()?;
        checkpoint::write(&self.options.dir, RECOVERY_POINT_FILE, &points)?;
        let mut marks: Vec<_> = self
            .partitions()
            .iter()
            .map(|p| {
                let key = (p.topic().to_string(), p.partition());
                (key, p.offsets().high_watermark)
            })
            .collect();
        marks.sort();
        checkpoint::write(&self.options.dir, checkpoint::HIGH_WATERMARK_FILE, &marks)?;
        self.write_cleaner_checkpoint_locked()
    }

    /// Writes `log-start-offset-checkpoint` and records, per partition, the start it made durable.
    fn write_log_starts_locked(&self) -> Result<(), LogError> {
        let parts = self.partitions();
        let mut starts: Vec<_> = parts
            .iter()
            .map(|p| {
                let key = (p.topic().to_string(), p.partition());
                (key, p.checkpoint_offsets().0)
            })
            .collect();
        starts.sort();
        checkpoint::write(&self.options.dir, LOG_START_FILE, &starts)?;
        for p in &parts {
            let key = (p.topic().to_string(), p.partition());
            if let Ok(i) = starts.binary_search_by(|(k, _)| k.cmp(&key)) {
                p.mark_log_start_durable(starts[i].1);
            }
        }
        Ok(())
    }

    /// DeleteRecords: moves `log`'s start offset to `before_offset` and resolves once the new start is
    /// durable, so an acknowledged deletion never comes back after a crash (Kafka only checkpoints it
    /// every `log.flush.start.offset.checkpoint.interval.ms` and relies on replicas). Returns the new
    /// log start offset.
    pub async fn delete_records(
        self: &Arc<Self>,
        log: &Arc<PartitionLog>,
        before_offset: i64,
    ) -> Result<i64, LogError> {
        let start = log.delete_records(before_offset)?;
        self.wait_log_start_durable(log, start).await?;
        Ok(start)
    }

    /// Resolves once `log`'s start offset `log_start` is in a durable checkpoint. The write (temp file,
    /// fsync, rename, folder fsync) runs on a blocking thread, never a tokio worker, and is a group
    /// commit: one write covers every partition whose start moved before it began. Returns at once when
    /// `durable_acks_all` is off (stock Kafka's page-cache semantics).
    pub async fn wait_log_start_durable(
        self: &Arc<Self>,
        log: &Arc<PartitionLog>,
        log_start: i64,
    ) -> Result<(), LogError> {
        if !self.options.durable_acks_all || log.log_start_durable() >= log_start {
            return Ok(());
        }
        let store = self.clone();
        let log = log.clone();
        tokio::task::spawn_blocking(move || {
            let _files = store
                .checkpoint_files
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            // A write that began while this one waited for the lock may already cover it.
            if log.log_start_durable() < log_start {
                store.write_log_starts_locked()?;
            }
            if log.log_start_durable() < log_start {
                // Not in the store any more: deleted meanwhile.
                return Err(LogError::Deleted);
            }
            Ok(())
        })
        .await
        .map_err(|e| LogError::Io(std::io::Error::other(e.to_string())))?
    }

    /// Writes `cleaner-offset-checkpoint` from the open partitions (so deleted ones drop out).
    fn write_cleaner_checkpoint(&self) -> Result<(), LogError> {
        let _files = self
            .checkpoint_files
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        self.write_cleaner_checkpoint_locked()
    }

    fn write_cleaner_checkpoint_locked(&self) -> Result<(), LogError> {
        let mut entries: Vec<_> = self
            .partitions()
            .iter()
            .filter_map(|p| {
                let key = (p.topic().to_string(), p.partition());
                p.cleaner_checkpoint().map(|o| (key, o))
            })
            .collect();
        entries.sort();
        checkpoint::write(&self.options.dir, CLEANER_FILE, &entries)?;
        Ok(())
    }

    /// One maintenance pass at `now_ms`: retention, `flush.ms`, producer expiry, compaction, checkpoints.
    /// Blocking (file I/O); the background task runs it on a blocking thread. Tests call it directly.
    pub fn run_maintenance(&self, now_ms: i64) -> Result<(), LogError> {
        let _pass = self.maintenance.lock().unwrap_or_else(|e| e.into_inner());
        for p in self.partitions() {
            match p.retention_pass(now_ms) {
                Ok(_) | Err(LogError::Deleted) => {}
                Err(e) => {
                    tracing::error!(topic = p.topic(), partition = p.partition(), error = %e, "retention failed")
                }
            }
            p.maybe_time_flush(now_ms);
            p.expire_producers(now_ms);
        }
        self.clean_partitions(now_ms);
        self.write_checkpoints()
    }

    /// One round of the cleaner at `now_ms` over every partition (Kafka's cleaner thread); true when some
    /// partition was cleaned, so the caller looks again without waiting `log.cleaner.backoff.ms`.
    /// Blocking (file I/O), like [`run_maintenance`](Self::run_maintenance).
    pub fn run_cleaner(&self, now_ms: i64) -> bool {
        let _pass = self.maintenance.lock().unwrap_or_else(|e| e.into_inner());
        self.clean_partitions(now_ms)
    }

    /// Compaction pass of every partition; the caller holds the maintenance lock.
    fn clean_partitions(&self, now_ms: i64) -> bool {
        let mut cleaned = false;
        for p in self.partitions() {
            let cleaned_before = p.cleaner_checkpoint();
            match p.clean_pass(now_ms) {
                Ok(_) | Err(LogError::Deleted) => {}
                Err(e) => {
                    tracing::error!(topic = p.topic(), partition = p.partition(), error = %e, "cleaner failed")
                }
            }
            // Persisted after each cleaning (Kafka's `doneCleaning`), so a restart neither re-cleans nor
            // counts cleaned bytes as dirty.
            if p.cleaner_checkpoint() != cleaned_before {
                cleaned = true;
                if let Err(e) = self.write_cleaner_checkpoint() {
                    tracing::error!(error = %e, "writing the cleaner checkpoint failed");
                }
            }
        }
        cleaned
    }

    /// Starts the background maintenance task: retention every `retention_check_interval_ms`, the cleaner
    /// every `cleaner_backoff_ms` (at once again after a round that cleaned something), and a tick of at
    /// most 1 s for time-based flushing.
    pub fn spawn_background(self: &Arc<Self>) {
        let (stop, mut stop_rx) = watch::channel(false);
        let store = Arc::downgrade(self);
        let interval_ms = self.options.retention_check_interval_ms.max(10);
        let backoff_ms = self.options.cleaner_backoff_ms.max(10);
        let removing = Arc::new(AtomicBool::new(false));
        let handle = tokio::spawn(async move {
            let now = tokio::time::Instant::now;
            let after = |ms: u64| now() + tokio::time::Duration::from_millis(ms);
            let (mut next_maintenance, mut next_clean) = (now(), now());
            loop {
                let tick =
                    tokio::time::Duration::from_millis(interval_ms.min(backoff_ms).min(1000));
                tokio::select! {
                    _ = tokio::time::sleep(tick) => {}
                    _ = stop_rx.changed() => return,
                }
                let Some(store) = store.upgrade() else { return };
                let full = now() >= next_maintenance;
                if full {
                    next_maintenance = after(interval_ms);
                }
                let clean = !full && now() >= next_clean;
                // Removal is paced and may take seconds for a large topic: on its own blocking thread,
                // so retention and time-based flushes keep their schedule meanwhile.
                if !removing.swap(true, Ordering::AcqRel) {
                    let (store, removing) = (store.clone(), removing.clone());
                    tokio::task::spawn_blocking(move || {
                        store.remove_deleted_partitions(now_ms());
                        removing.store(false, Ordering::Release);
                    });
                }
                let res = tokio::task::spawn_blocking(move || {
                    let now = now_ms();
                    if full {
                        return store.run_maintenance(now).map(|()| false);
                    }
                    for p in store.partitions() {
                        p.maybe_time_flush(now);
                    }
                    Ok(clean && store.run_cleaner(now))
                })
                .await;
                match res {
                    Ok(Ok(cleaned)) if clean || full => {
                        next_clean = if cleaned { now() } else { after(backoff_ms) };
                    }
                    Ok(Err(e)) => tracing::error!(error = %e, "log maintenance pass failed"),
                    _ => {}
                }
            }
        });
        if let Some(old) = self
            .background
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(Background { stop, handle })
        {
            let _ = old.stop.send(true);
        }
    }

    /// Stops the background task and waits for it.
    pub async fn stop_background(&self) {
        let bg = self
            .background
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(bg) = bg {
            let _ = bg.stop.send(true);
            let _ = bg.handle.await;
        }
    }
}
