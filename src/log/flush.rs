//! The flusher: one dedicated thread that turns "please make offset N durable" requests into as few
//! `fdatasync` calls as possible (group commit), so tokio workers never block on a disk flush.
//!
//! An acks=all producer appends (page cache), then awaits [`PartitionLog::wait_durable`]; that queues the
//! partition here. The thread takes everything queued at that moment and, per partition, syncs once up to
//! the log end it sees — covering every batch written before, however many producers wrote them — then
//! publishes the new durable offset on a watch channel that wakes the waiters.

use std::collections::HashSet;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::JoinHandle;

use super::partition::PartitionLog;

/// Partitions waiting for a flush.
#[derive(Default)]
struct Queue {
    /// Partitions to flush, in request order; each at most once (see `queued`).
    pending: Vec<Weak<PartitionLog>>,
    /// Addresses of the partitions in `pending`, to deduplicate requests.
    queued: HashSet<usize>,
    /// Partitions whose page cache is due for trimming (after the flushes; see `page_cache`).
    trims: Vec<Weak<PartitionLog>>,
    /// Addresses of the partitions in `trims`.
    trims_queued: HashSet<usize>,
    /// Set by [`Flusher::stop`]; the thread drains the queue and exits.
    stop: bool,
}

/// Shared handle of the flusher thread.
#[derive(Default)]
pub struct Flusher {
    /// The queue, guarded by a short std mutex.
    queue: Mutex<Queue>,
    /// Wakes the thread when the queue becomes non-empty or on stop.
    wake: Condvar,
    /// Wakes the trimmer thread when `trims` becomes non-empty or on stop.
    wake_trimmer: Condvar,
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

    /// Queues a partition for flushing (no-op if already queued).
    pub fn request(&self, partition: Weak<PartitionLog>) {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let key = partition.as_ptr() as usize;
        if q.queued.insert(key) {
            q.pending.push(partition);
            self.wake.notify_one();
        }
    }

    /// Queues a partition for page-cache trimming (no-op if already queued).
    pub fn request_trim(&self, partition: Weak<PartitionLog>) {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let key = partition.as_ptr() as usize;
        if q.trims_queued.insert(key) {
            q.trims.push(partition);
            self.wake_trimmer.notify_one();
        }
    }

    /// Asks the thread to finish the queued work and exit.
    pub fn stop(&self) {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        q.stop = true;
        self.wake.notify_all();
        self.wake_trimmer.notify_all();
    }

    /// Trimmer thread: page-cache trims until stop (pending trims are dropped then: they are advice).
    fn run_trims(&self) {
        loop {
            let trims = {
                let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
                while q.trims.is_empty() && !q.stop {
                    q = self.wake_trimmer.wait(q).unwrap_or_else(|e| e.into_inner());
                }
                if q.stop {
                    return;
                }
                q.trims_queued.clear();
                std::mem::take(&mut q.trims)
            };
            for p in trims {
                if let Some(p) = p.upgrade() {
                    p.trim_page_cache();
                }
            }
        }
    }

    fn run(&self) {
        loop {
            let batch = {
                let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
                while q.pending.is_empty() && !q.stop {
                    q = self.wake.wait(q).unwrap_or_else(|e| e.into_inner());
                }
                if q.pending.is_empty() && q.stop {
                    return;
                }
                q.queued.clear();
                std::mem::take(&mut q.pending)
            };
            for p in batch {
                if let Some(p) = p.upgrade() {
                    // Errors are recorded on the partition and returned to its waiters.
                    let _ = p.flush_now();
                }
            }
        }
    }
}
