//! Write-behind page-cache trimming: keeps only the newest `log.page.cache.window.bytes` of each
//! partition's writes in the page cache; older written data is handed back to the kernel.
//!
//! Why: a log only appends, so its page cache grows by fresh pages. On virtual machines that return free
//! guest memory to the hypervisor (virtio-balloon free page reporting, as on the machines Weir is
//! measured on) every fresh page costs a hypervisor fault; writing 2 GiB into a growing page cache took
//! 4.3 s of system time there, against 0.9–1.4 s when the written pages are dropped a window behind the
//! write head and the freed pages are reused (BENCHMARKS.md). Tailing consumers read inside the window;
//! consumers further behind read from disk, as they would once Kafka's page cache is cold.
//!
//! Mechanism: every quarter window of growth, the trimmer thread (beside the flusher, off the append path)
//! advises `posix_fadvise(DONTNEED)` on the range that left the window — which starts writeback of its
//! dirty pages and drops the clean ones — waits for the writeback (`fdatasync`) and advises again, so the
//! pages are really freed (advice alone skips pages under writeback: measured, it freed almost nothing at
//! 200 MB/s). The previous range is re-advised once more as a safety net. Advice never affects
//! durability bookkeeping; a failed call only leaves pages cached.

use std::fs::File;
use std::sync::Arc;

/// Trimming state of one partition (inside the partition lock).
#[derive(Debug, Default)]
pub(crate) struct PageCacheTrim {
    /// Bytes to keep cached behind the log end; 0 disables trimming.
    window: u64,
    /// Active-segment size at which the next trim is due.
    next_trim_at: u64,
    /// Range advised last time (re-advised next time to drop pages that were still dirty).
    advised: (u64, u64),
    /// A rolled segment not yet dropped: its file and the position from which it is still cached.
    closed: Option<(Arc<File>, u64)>,
}

/// Work for the flusher thread: ranges to advise, taken under the partition lock, run outside it.
#[derive(Debug, Default)]
pub(crate) struct TrimWork {
    ranges: Vec<(Arc<File>, u64, u64)>,
}

impl PageCacheTrim {
    /// State for a partition whose active segment currently holds `active_size` bytes.
    pub(crate) fn new(window: u64, active_size: u64) -> PageCacheTrim {
        PageCacheTrim {
            window,
            next_trim_at: active_size.saturating_add(step(window)),
            advised: (0, 0),
            closed: None,
        }
    }

    /// After an append left the active segment at `active_size`: whether a trim is due now.
    pub(crate) fn due(&mut self, active_size: u64) -> bool {
        if self.window == 0 || active_size < self.next_trim_at {
            return false;
        }
        self.next_trim_at = active_size.saturating_add(step(self.window));
        true
    }

    /// The active segment (of `size` bytes, file `file`) was just closed by a roll.
    pub(crate) fn rolled(&mut self, file: Arc<File>, size: u64) {
        if self.window == 0 {
            return;
        }
        // A still-cached older closed segment is dropped whole now: the window is measured from the end.
        let start = self.advised.0.min(size);
        self.closed = Some((file, start));
        self.advised = (0, 0);
        self.next_trim_at = step(self.window);
    }

    /// Ranges to advise now, given the active segment's file and size.
    pub(crate) fn take_work(&mut self, active: Arc<File>, active_size: u64) -> TrimWork {
        let mut work = TrimWork::default();
        if self.window == 0 {
            return work;
        }
        // The closed segment lies wholly outside the window once the active one holds a window.
        if active_size >= self.window {
            if let Some((file, start)) = self.closed.take() {
                work.ranges.push((file, start, 0));
            }
        }
        let end = active_size.saturating_sub(self.window);
        let start = self.advised.0;
        if end > start {
            work.ranges.push((active, start, end - start));
            self.advised = (self.advised.1.min(end), end);
        }
        work
    }
}

impl TrimWork {
    /// Drops the ranges from the page cache: advise (starts writeback of dirty pages and drops the clean
    /// ones), wait for the writeback, advise again. Errors are ignored: this is advice, and durability is
    /// the flusher's business. Runs on the trimmer thread, never under the partition lock.
    pub(crate) fn run(self) {
        let advise = |file: &File, offset: u64, len: u64| {
            // len 0 means "to the end of the file".
            let len = std::num::NonZeroU64::new(len);
            let _ = rustix::fs::fadvise(file, offset, len, rustix::fs::Advice::DontNeed);
        };
        for (file, offset, len) in &self.ranges {
            advise(file, *offset, *len);
        }
        for (file, offset, len) in &self.ranges {
            // Pages still under writeback are skipped by the advice: wait for them, then drop them.
            let _ = crate::log::fs::sync_data(file);
            advise(file, *offset, *len);
        }
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

/// Growth between two trims of one partition: a quarter window (at least 1 MiB).
fn step(window: u64) -> u64 {
    (window / 4).max(1 << 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> Arc<File> {
        // Only the ranges are checked here; nothing is advised.
        Arc::new(File::open("/dev/null").expect("/dev/null"))
    }

    const MIB: u64 = 1 << 20;

    #[test]
    fn disabled_never_trims() {
        let mut t = PageCacheTrim::new(0, 0);
        assert!(!t.due(u64::MAX));
        assert!(t.take_work(file(), 10 * MIB).is_empty());
    }

    #[test]
    fn ranges_trail_the_window_and_are_advised_twice() {
        let mut t = PageCacheTrim::new(64 * MIB, 0);
        assert!(!t.due(15 * MIB));
        assert!(t.due(16 * MIB));
        // Nothing lies outside the window yet.
        assert!(t.take_work(file(), 16 * MIB).is_empty());
        assert!(!t.due(31 * MIB));
        assert!(t.due(80 * MIB));
        let w = t.take_work(file(), 80 * MIB);
        assert_eq!(ranges(&w), vec![(0, 16 * MIB)]);
        let w = t.take_work(file(), 96 * MIB);
        // The first range again (pages that were dirty), then the new one.
        assert_eq!(ranges(&w), vec![(0, 32 * MIB)]);
        let w = t.take_work(file(), 112 * MIB);
        assert_eq!(ranges(&w), vec![(16 * MIB, 32 * MIB)]);
    }

    #[test]
    fn a_rolled_segment_is_dropped_once_the_window_has_moved_past_it() {
        let mut t = PageCacheTrim::new(8 * MIB, 0);
        let _ = t.take_work(file(), 20 * MIB);
        t.rolled(file(), 20 * MIB);
        // The new active segment holds less than a window: the old one's tail is still inside it.
        assert!(t.take_work(file(), 4 * MIB).is_empty());
        let w = t.take_work(file(), 9 * MIB);
        assert_eq!(ranges(&w), vec![(0, 0), (0, MIB)]);
        assert!(t.closed.is_none());
    }

    fn ranges(w: &TrimWork) -> Vec<(u64, u64)> {
        w.ranges.iter().map(|(_, o, l)| (*o, *l)).collect()
    }
}
