//! The data folder's fsync for partition folders created lazily: each new folder takes a generation
//! number, and one `fsync` of the data folder covers every folder created before it (group commit), so
//! the first appends to 1,000 new partitions cost one data-folder fsync, not 1,000.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::checkpoint::sync_dir;

/// Generations of folders created in the data folder and the newest one made durable.
#[derive(Debug)]
pub(crate) struct DataDirSync {
    /// The data folder.
    dir: PathBuf,
    /// Folders created so far (each creation takes the next number).
    created: AtomicU64,
    /// Every creation up to this generation is durable. Held across the fsync (only blocking threads
    /// call [`sync_upto`](Self::sync_upto)), so a second caller waits and then finds itself covered.
    synced: Mutex<u64>,
}

impl DataDirSync {
    /// Nothing created yet under `dir`.
    pub(crate) fn new(dir: PathBuf) -> DataDirSync {
        DataDirSync {
            dir,
            created: AtomicU64::new(0),
            synced: Mutex::new(0),
        }
    }

    /// Records that a folder was just created in the data folder; returns its generation (≥ 1).
    pub(crate) fn created(&self) -> u64 {
        self.created.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Makes every folder creation up to generation `generation` durable (0: nothing to do). Blocking.
    pub(crate) fn sync_upto(&self, generation: u64) -> std::io::Result<()> {
        if generation == 0 {
            return Ok(());
        }
        let mut synced = self.synced.lock().unwrap_or_else(|e| e.into_inner());
        if *synced >= generation {
            return Ok(());
        }
        // Read before the fsync: every folder created up to here is covered by it.
        let covers = self.created.load(Ordering::Acquire);
        sync_dir(&self.dir)?;
        *synced = (*synced).max(covers);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_fsync_covers_every_earlier_creation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sync = DataDirSync::new(dir.path().to_path_buf());
        let (a, b) = (sync.created(), sync.created());
        assert_eq!((a, b), (1, 2));
        sync.sync_upto(a).expect("sync");
        assert_eq!(*sync.synced.lock().expect("lock"), 2, "b is covered too");
        let c = sync.created();
        assert!(*sync.synced.lock().expect("lock") < c);
        sync.sync_upto(0).expect("nothing to do");
        sync.sync_upto(c).expect("sync");
        assert_eq!(*sync.synced.lock().expect("lock"), 3);
    }
}
