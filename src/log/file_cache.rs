//! Store-wide bound on open segments (`log.max.open.files`): at most that many segments hold an open `.log`
//! descriptor and in-memory indexes at once; the others reopen on demand. Eviction is second chance (clock).
//!
//! Locking: the queue lock is held only to push or pop entries, never while an entry is evicted. An entry's
//! own lock (see `segment::SegmentFiles`) is innermost: nothing is locked while holding it, so an evictor
//! holding a partition lock cannot deadlock; a busy entry is simply skipped (`try_lock`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicIsize, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// Default `log.max.open.files`.
pub const DEFAULT_MAX_OPEN_FILES: usize = 4096;

/// What an eviction attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Evicted {
    /// Resources released.
    Released,
    /// In use right now (or its indexes could not be written back): keep it, try another.
    Busy,
    /// Nothing was open.
    NotResident,
}

/// Something the cache can close: a segment's open file and indexes.
pub(crate) trait Evictable: Send + Sync {
    /// Clears the referenced bit, returning its old value (a set bit buys a second chance).
    fn take_referenced(&self) -> bool;
    /// Releases the resources unless busy; calls [`FileCache::released`] when it does.
    fn evict(&self) -> Evicted;
}

/// Counters, for tests and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileCacheStats {
    /// Segments holding an open file right now.
    pub resident: usize,
    /// Times a segment's file was (re)opened.
    pub opens: u64,
    /// Times the cache closed a segment to stay under its capacity.
    pub evictions: u64,
}

/// The cache: a capacity, a count of resident entries and a second-chance queue.
pub struct FileCache {
    /// Most resident entries wanted (`log.max.open.files`).
    capacity: usize,
    /// Entries holding resources; changed under each entry's own lock, so it never drifts.
    resident: AtomicIsize,
    /// Resident entries, oldest first; may hold dead or stale entries, skipped when popped.
    queue: Mutex<VecDeque<Weak<dyn Evictable>>>,
    /// See [`FileCacheStats::opens`].
    opens: AtomicU64,
    /// See [`FileCacheStats::evictions`].
    evictions: AtomicU64,
}

impl FileCache {
    /// A cache keeping at most `capacity` (at least 1) entries resident.
    pub fn new(capacity: usize) -> Arc<FileCache> {
        Arc::new(FileCache {
            capacity: capacity.max(1),
            resident: AtomicIsize::new(0),
            queue: Mutex::new(VecDeque::new()),
            opens: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        })
    }

    /// The configured capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Current counters.
    pub fn stats(&self) -> FileCacheStats {
        FileCacheStats {
            resident: usize::try_from(self.resident.load(Ordering::Relaxed)).unwrap_or(0),
            opens: self.opens.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
        }
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<Weak<dyn Evictable>>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An entry acquired resources (called under the entry's lock).
    pub(crate) fn acquired(&self) {
        self.resident.fetch_add(1, Ordering::Relaxed);
        self.opens.fetch_add(1, Ordering::Relaxed);
    }

    /// An entry released its resources (called under the entry's lock).
    pub(crate) fn released(&self) {
        self.resident.fetch_sub(1, Ordering::Relaxed);
    }

    /// Queues an entry that just became resident (call with no entry lock held), then evicts down to the
    /// capacity.
    pub(crate) fn admit(&self, entry: Weak<dyn Evictable>) {
        {
            let mut q = self.queue();
            q.push_back(entry);
            // Entries dropped while resident leave dead weak pointers behind; purge them now and then.
            if q.len() > 2 * self.capacity + 64 {
                q.retain(|w| w.strong_count() > 0);
            }
        }
        self.evict_excess();
    }

    fn over(&self) -> bool {
        self.resident.load(Ordering::Relaxed) > self.capacity as isize
    }

    /// Second-chance sweep until at most `capacity` entries are resident. Gives up after two passes over
    /// the queue (every entry busy or just referenced): the bound is then exceeded briefly, never blocked on.
    fn evict_excess(&self) {
        if !self.over() {
            return;
        }
        let mut budget = 2 * self.queue().len() + 2;
        while self.over() && budget > 0 {
            budget -= 1;
            let Some(weak) = self.queue().pop_front() else {
                return;
            };
            // Dead: the segment was dropped (and released its resources itself).
            let Some(entry) = weak.upgrade() else {
                continue;
            };
            if entry.take_referenced() {
                self.queue().push_back(weak);
                continue;
            }
            match entry.evict() {
                Evicted::Released => {
                    self.evictions.fetch_add(1, Ordering::Relaxed);
                }
                Evicted::Busy => self.queue().push_back(weak),
                Evicted::NotResident => {}
            }
            // `entry` may be the last reference: dropped here, with no lock held.
        }
    }
}

impl std::fmt::Debug for FileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileCache")
            .field("capacity", &self.capacity)
            .field("stats", &self.stats())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    /// A fake entry: resident until evicted; `busy` refuses eviction.
    struct Fake {
        cache: Arc<FileCache>,
        resident: Mutex<bool>,
        referenced: AtomicBool,
        busy: AtomicBool,
    }

    impl Fake {
        fn open(cache: &Arc<FileCache>) -> Arc<Fake> {
            Fake::open_as(cache, false)
        }
        fn open_as(cache: &Arc<FileCache>, busy: bool) -> Arc<Fake> {
            let f = Arc::new(Fake {
                cache: cache.clone(),
                resident: Mutex::new(true),
                referenced: AtomicBool::new(true),
                busy: AtomicBool::new(busy),
            });
            cache.acquired();
            let weak: Weak<dyn Evictable> = Arc::downgrade(&(f.clone() as Arc<dyn Evictable>));
            cache.admit(weak);
            f
        }
        fn is_resident(&self) -> bool {
            *self.resident.lock().expect("lock")
        }
    }

    impl Evictable for Fake {
        fn take_referenced(&self) -> bool {
            self.referenced.swap(false, Ordering::Relaxed)
        }
        fn evict(&self) -> Evicted {
            if self.busy.load(Ordering::Relaxed) {
                return Evicted::Busy;
            }
            let mut r = self.resident.lock().expect("lock");
            if !*r {
                return Evicted::NotResident;
            }
            *r = false;
            self.cache.released();
            Evicted::Released
        }
    }

    #[test]
    fn stays_at_capacity_and_gives_second_chances() {
        let cache = FileCache::new(3);
        let a = Fake::open(&cache);
        let b = Fake::open(&cache);
        let c = Fake::open(&cache);
        assert_eq!(cache.stats().resident, 3);
        // All referenced: one pass clears the bits, then the oldest (`a`) goes.
        let d = Fake::open(&cache);
        assert_eq!(cache.stats().resident, 3);
        assert_eq!(cache.stats().evictions, 1);
        assert!(!a.is_resident());
        // `c` is used again, so `b` (the oldest unreferenced) goes next, then `d`.
        c.referenced.store(true, Ordering::Relaxed);
        let _e = Fake::open(&cache);
        assert!(!b.is_resident());
        assert!(c.is_resident() && d.is_resident());
        let _f = Fake::open(&cache);
        assert!(c.is_resident() && !d.is_resident());
        assert_eq!(cache.stats().resident, 3);
        assert_eq!(cache.stats().opens, 6);
    }

    #[test]
    fn busy_entries_are_skipped_and_dead_ones_ignored() {
        let cache = FileCache::new(2);
        let a = Fake::open_as(&cache, true);
        let b = Fake::open(&cache);
        let _c = Fake::open(&cache);
        assert!(a.is_resident(), "a busy entry is never closed");
        assert!(!b.is_resident());
        assert_eq!(cache.stats().resident, 2);
        // A dropped entry leaves a dead queue slot that is skipped (it released its own resources).
        let cache = FileCache::new(2);
        let x = Fake::open(&cache);
        drop(x);
        cache.released();
        let _y = Fake::open(&cache);
        let _z = Fake::open(&cache);
        assert_eq!(cache.stats().resident, 2);
        assert_eq!(cache.stats().evictions, 0);
        // Everything busy: the bound is exceeded rather than blocking.
        let cache = FileCache::new(1);
        let _x = Fake::open_as(&cache, true);
        let _y = Fake::open_as(&cache, true);
        assert_eq!(cache.stats().resident, 2);
    }
}
