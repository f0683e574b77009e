//! The flusher: one dedicated thread that turns "please make offset N durable" requests into as few
//! `fdatasync` calls as possible (group commit), so tokio workers never block on a disk flush; beside it,
//! the trimmer thread runs page-cache trims (`page_cache`), which wait for writeback.
//!
//! An acks=all producer appends (page cache), then awaits [`PartitionLog::wait_durable`]; that queues the
//! partition here. The thread takes everything queued at that moment and, per partition, syncs once up to
//! the log end it sees — covering every batch written before, however many producers wrote them — then
//! publishes the new durable offset on a watch channel that wakes the waiters.

use std::collections::HashSet;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;

use super::partition::PartitionLog;

/// Partitions waiting for one kind of work, in request order, each at most once.
#[derive(Default)]
struct WorkList {
    partitions: Vec<Weak<PartitionLog>>,
    /// Addresses of the partitions in `partitions`, to deduplicate requests.
    queued: HashSet<usize>,
}

impl WorkList {
    /// Adds a partition; false when it is already waiting.
    fn push(&mut self, partition: Weak<PartitionLog>) -> bool {
        let fresh = self.queued.insert(partition.as_ptr() as usize);
        if fresh {
            self.partitions.push(partition);
        }
        fresh
    }

    fn take(&mut self) -> Vec<Weak<PartitionLog>> {
        self.queued.clear();
        std::mem::take(&mut self.partitions)
    }
}

/// Work for the two threads.
#[derive(Default)]
struct Queue {
    /// Partitions to flush.
    flushes: WorkList,
    /// Partitions whose page cache is due for trimming.
    trims: WorkList,
    /// Set by [`Flusher::stop`]: the flusher drains its queue and exits; the trimmer exits at once.
    stop: bool,
    /// True while the flusher works on partitions it took from `flushes`.
    busy: bool,
}

/// Shared handle of the flusher and trimmer threads.
#[derive(Default)]
pub struct Flusher {
    /// The queue, guarded by a short std mutex.
    queue: Mutex<Queue>,
    /// Wakes the flusher when `flushes` becomes non-empty or on stop.
    wake: Condvar,
    /// Wakes the trimmer when `trims` becomes non-empty or on stop.
    wake_trimmer: Condvar,
    /// Notified when the flusher has finished its work and found the queue empty (tests wait on it).
    idle: Condvar,
}

impl Flusher {
    /// Starts the flusher thread and its page-cache trimmer thread; the handle joins both.
    pub fn start() -> std::io::Result<(Arc<Flusher>, JoinHandle<()>)> {
        let flusher = Arc::new(Flusher::default());
        // Trimming waits for writeback (see `page_cache`), so it has its own thread: a trim never delays
        // an acks=all group commit.
        let worker = flusher.clone();
        let trimmer = std::thread::Builder::new()
            .name("weir-log-trimmer".into())
            .spawn(move || worker.run_trims())?;
        let worker = flusher.clone();
        let handle = std::thread::Builder::new()
            .name("weir-log-flusher".into())
            .spawn(move || {
                worker.run();
                let _ = trimmer.join();
            })?;
        Ok((flusher, handle))
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a partition for flushing (no-op if already queued).
    pub fn request(&self, partition: Weak<PartitionLog>) {
        if self.lock().flushes.push(partition) {
            self.wake.notify_one();
        }
    }

    /// Queues a partition for page-cache trimming (no-op if already queued).
    pub fn request_trim(&self, partition: Weak<PartitionLog>) {
        if self.lock().trims.push(partition) {
            self.wake_trimmer.notify_one();
        }
    }

    /// Asks the threads to finish (the flusher drains its queue first) and exit.
    pub fn stop(&self) {
        self.lock().stop = true;
        self.wake.notify_all();
        self.wake_trimmer.notify_all();
    }

    /// Blocks until every queued flush is done (tests: a deterministic moment to cut the power at).
    #[cfg(test)]
    pub(crate) fn wait_idle(&self) {
        let mut q = self.lock();
        while q.busy || !q.flushes.partitions.is_empty() {
            q = self.idle.wait(q).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Trimmer thread: page-cache trims until stop (pending trims are dropped then: they are advice).
    fn run_trims(&self) {
        loop {
            let trims = {
                let mut q = self.lock();
                while q.trims.partitions.is_empty() && !q.stop {
                    q = self.wake_trimmer.wait(q).unwrap_or_else(|e| e.into_inner());
                }
                if q.stop {
                    return;
                }
                q.trims.take()
            };
            for p in trims.iter().filter_map(Weak::upgrade) {
                p.trim_page_cache();
            }
        }
    }

    fn run(&self) {
        loop {
            let batch = {
                let mut q = self.lock();
                q.busy = false;
                if q.flushes.partitions.is_empty() {
                    self.idle.notify_all();
                }
                while q.flushes.partitions.is_empty() && !q.stop {
                    q = self.wake.wait(q).unwrap_or_else(|e| e.into_inner());
                }
                if q.flushes.partitions.is_empty() && q.stop {
                    return;
                }
                q.busy = true;
                q.flushes.take()
            };
            let metrics = crate::metrics::global();
            let mut synced = 0;
            for p in batch.iter().filter_map(Weak::upgrade) {
                let started = std::time::Instant::now();
                // Errors are recorded on the partition and returned to its waiters.
                let _ = p.flush_now();
                metrics.flush_latency.observe(started.elapsed());
                synced += 1;
            }
            metrics.flush_batch_partitions.observe(synced);
        }
    }
}
