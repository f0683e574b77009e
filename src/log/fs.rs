//! The log store's seam to the filesystem for every call a crash's outcome depends on: fsyncs of files
//! and folders, renames and removals. Production builds call the kernel directly through [`RealDisk`]
//! (a zero-sized type, static dispatch: the same machine code as calling `std` in place); test builds
//! route the same calls through the power-loss simulator (`log::sim`), which keeps what was made durable
//! and decides at a simulated power cut what of the rest survives.
//!
//! Writes, `set_len`, reads and creates need no seam: the simulator lets them reach a scratch folder
//! (playing the page cache) and learns of new files when it next looks, so the append path is untouched.

use std::fs::File;
use std::io;
use std::path::Path;

/// The durability-relevant filesystem calls of the log store.
pub(crate) trait Disk {
    /// `fdatasync`: the file's data (and the size needed to read it) survive a crash.
    fn sync_data(&self, file: &File) -> io::Result<()>;
    /// `fsync`: data and metadata.
    fn sync_all(&self, file: &File) -> io::Result<()>;
    /// Fsyncs a folder so entries created, renamed or removed in it survive a crash.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Renames a file or folder (atomically replacing `to`); durable only after [`Disk::sync_dir`].
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Unlinks a file; durable only after [`Disk::sync_dir`].
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Removes an empty folder; durable only after a sync of its parent.
    fn remove_dir(&self, path: &Path) -> io::Result<()>;
}

/// The kernel's filesystem: what production uses.
pub(crate) struct RealDisk;

impl Disk for RealDisk {
    #[inline]
    fn sync_data(&self, file: &File) -> io::Result<()> {
        file.sync_data()
    }
    #[inline]
    fn sync_all(&self, file: &File) -> io::Result<()> {
        file.sync_all()
    }
    #[inline]
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
    #[inline]
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }
    #[inline]
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }
    #[inline]
    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir(path)
    }
}

/// The implementation every call below goes to, chosen at compile time.
#[cfg(not(test))]
const DISK: RealDisk = RealDisk;
#[cfg(test)]
const DISK: super::sim::disk::SimDisk = super::sim::disk::SimDisk;

/// [`Disk::sync_data`] on the build's disk.
#[inline]
pub(crate) fn sync_data(file: &File) -> io::Result<()> {
    DISK.sync_data(file)
}

/// [`Disk::sync_all`] on the build's disk.
#[inline]
pub(crate) fn sync_all(file: &File) -> io::Result<()> {
    DISK.sync_all(file)
}

/// [`Disk::sync_dir`] on the build's disk.
#[inline]
pub(crate) fn sync_dir(dir: impl AsRef<Path>) -> io::Result<()> {
    DISK.sync_dir(dir.as_ref())
}

/// [`Disk::rename`] on the build's disk.
#[inline]
pub(crate) fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    DISK.rename(from.as_ref(), to.as_ref())
}

/// [`Disk::remove_file`] on the build's disk.
#[inline]
pub(crate) fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    DISK.remove_file(path.as_ref())
}

/// [`Disk::remove_dir`] on the build's disk.
#[inline]
pub(crate) fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    DISK.remove_dir(path.as_ref())
}
