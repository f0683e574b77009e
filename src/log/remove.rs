//! Paced removal of large files (deleted partitions, segments past retention), so freeing their blocks
//! does not stall acks=all producers.
//!
//! Unlinking a 1 GiB segment frees all its extents in one journal transaction and drops all its cached
//! pages at once; on a filesystem mounted with `discard` (as here) the commit that follows also discards
//! every freed block before it completes, and every producer's `fdatasync` waits behind that commit.
//! Shrinking the file in bounded steps, each made durable on its own (so its discard is paid there, by
//! this thread) and followed by a pause as long as the step took, bounds what any one commit carries and
//! leaves the device at least half its time for everyone else.

use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

/// Bytes freed per step.
const STEP_BYTES: u64 = 16 << 20;

/// Shortest pause between steps.
const PAUSE_MIN: Duration = Duration::from_millis(2);

/// Removes a file, shrinking it in paced steps first when it is larger than one step. Blocking: call
/// it from a background thread, holding no lock the append or flush path takes. A file already gone
/// is not an error.
pub fn remove_file_paced(path: &Path) -> io::Result<()> {
    remove_file_until(path, &|| false)
}

/// [`remove_file_paced`] that gives up with `Interrupted` between steps once `stop` returns true.
fn remove_file_until(path: &Path, stop: &dyn Fn() -> bool) -> io::Result<()> {
    match shrink_paced(path, stop) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    match crate::log::fs::remove_file(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

/// Removes a folder and everything in it, each large file shrunk in paced steps first. Gives up with
/// `Interrupted` between steps once `stop` returns true (what is left stays for a later attempt).
pub fn remove_dir_paced(dir: &Path, stop: &dyn Fn() -> bool) -> io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        r => r?,
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            remove_dir_paced(&entry.path(), stop)?;
        } else {
            remove_file_until(&entry.path(), stop)?;
        }
    }
    match crate::log::fs::remove_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

/// Truncates `path` from its end, one step at a time, down to at most one step.
fn shrink_paced(path: &Path, stop: &dyn Fn() -> bool) -> io::Result<()> {
    let file = std::fs::OpenOptions::new().write(true).open(path)?;
    let mut len = file.metadata()?.len();
    while len > STEP_BYTES {
        if stop() {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let started = Instant::now();
        len -= STEP_BYTES;
        file.set_len(len)?;
        // The size change is what makes this step's freed blocks (and their discard) part of a commit
        // now, paid here, rather than piling up into one a producer's fsync would wait for.
        crate::log::fs::sync_data(&file)?;
        std::thread::sleep(started.elapsed().max(PAUSE_MIN));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_large_and_small_files_and_nested_folders() {
        let dir = tempfile::tempdir().expect("tempdir");
        let doomed = dir.path().join("t-0.abc-delete");
        std::fs::create_dir_all(doomed.join("nested")).expect("mkdir");
        let big = doomed.join("00000000000000000000.log");
        let f = std::fs::File::create(&big).expect("create");
        f.set_len(3 * STEP_BYTES + 123).expect("set_len");
        std::fs::write(doomed.join("00000000000000000000.index"), b"x").expect("write");
        std::fs::write(doomed.join("nested").join("f"), b"y").expect("write");
        let stopped = std::fs::File::create(doomed.join("big")).expect("create");
        stopped.set_len(2 * STEP_BYTES).expect("set_len");
        let err = remove_dir_paced(&doomed, &|| true).expect_err("stopped");
        assert_eq!(err.kind(), io::ErrorKind::Interrupted);
        assert!(doomed.exists());
        remove_dir_paced(&doomed, &|| false).expect("remove");
        assert!(!doomed.exists());
        assert!(dir.path().exists());
        // Gone already: not an error.
        remove_dir_paced(&doomed, &|| false).expect("remove again");
        remove_file_paced(&big).expect("remove a missing file");
    }
}
