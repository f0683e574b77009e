//! The durable Raft log of the metadata quorum: one append-only file of checksummed frames plus a small
//! state file (vote and purged log ids), both fsynced before openraft is told they are written; the committed
//! log id goes to a file of its own without fsync (losing it only delays a restarted node's replay).
//!
//! The metadata log is small (a snapshot is taken every few thousand entries and the log behind it purged),
//! so the entries also stay in memory for reads. A torn or corrupt tail found at start-up is truncated:
//! an entry that was never fsynced was never acknowledged to the leader.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{LogId, RaftLogReader, Vote};
use serde::{Deserialize, Serialize};

use super::{write_error, StorageError, TypeConfig};
use crate::cluster::write_atomically;

type Entry = openraft::Entry<TypeConfig>;

/// Name of the entries file.
const LOG_FILE: &str = "raft.log";
/// Name of the committed-log-id file (not fsynced; read leniently).
const COMMITTED_FILE: &str = "raft-committed.json";
/// Name of the vote/purged state file.
const STATE_FILE: &str = "raft-state.json";
/// Largest frame accepted when reading the file back; larger means corruption.
const FRAME_MAX_BYTES: u32 = 64 << 20;

/// What is kept beside the entries.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    vote: Option<Vote<u64>>,
    #[serde(skip)]
    committed: Option<LogId<u64>>,
    last_purged: Option<LogId<u64>>,
}

/// Entries in memory with where each starts in the file.
#[derive(Default)]
struct Entries {
    map: BTreeMap<u64, (Entry, u64)>,
    /// File length: where the next frame goes.
    end: u64,
}

/// The metadata log's storage (one per node).
#[derive(Clone)]
pub struct MetaLogStore {
    dir: PathBuf,
    entries: Arc<Mutex<Entries>>,
    state: Arc<Mutex<State>>,
    file: Arc<Mutex<File>>,
}

impl MetaLogStore {
    /// Opens (or creates) the log in `dir`, truncating a torn tail.
    pub fn open(dir: &Path) -> std::io::Result<MetaLogStore> {
        std::fs::create_dir_all(dir)?;
        let mut state: State = match std::fs::read(dir.join(STATE_FILE)) {
            Ok(b) => serde_json::from_slice(&b).map_err(std::io::Error::other)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => return Err(e),
        };
        // Torn or missing after a crash is fine: the node then learns what is committed from the quorum.
        state.committed = std::fs::read(dir.join(COMMITTED_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let path = dir.join(LOG_FILE);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let (entries, valid) = parse_frames(&bytes);
        if valid < bytes.len() {
            tracing::warn!(
                dropped = bytes.len() - valid,
                "metadata log: truncating a torn tail"
            );
            file.set_len(valid as u64)?;
            file.sync_all()?;
        }
        let purged = state.last_purged.map_or(0, |l| l.index + 1);
        let map = entries
            .into_iter()
            .filter(|(e, _)| e.log_id.index >= purged)
            .map(|(e, pos)| (e.log_id.index, (e, pos)))
            .collect();
        Ok(MetaLogStore {
            dir: dir.to_path_buf(),
            entries: Arc::new(Mutex::new(Entries {
                map,
                end: valid as u64,
            })),
            state: Arc::new(Mutex::new(state)),
            file: Arc::new(Mutex::new(file)),
        })
    }

    /// True when nothing was ever written (a node's first start).
    pub fn is_empty(&self) -> bool {
        let state = lock(&self.state);
        lock(&self.entries).map.is_empty() && state.last_purged.is_none() && state.vote.is_none()
    }

    /// Writes the state file (atomically, fsynced) on a blocking thread.
    async fn save_state(&self, change: impl FnOnce(&mut State)) -> Result<(), StorageError> {
        let bytes = {
            let mut state = lock(&self.state);
            change(&mut state);
            serde_json::to_vec(&*state).map_err(write_error)?
        };
        let path = self.dir.join(STATE_FILE);
        blocking(move || write_atomically(&path, &bytes)).await
    }

    /// Rewrites the file with only the entries kept in memory (after a purge or a truncation).
    fn rewrite(&self) -> std::io::Result<()> {
        let mut entries = lock(&self.entries);
        let mut buf = Vec::new();
        let mut positions = Vec::new();
        for (index, (entry, _)) in entries.map.iter() {
            positions.push((*index, buf.len() as u64));
            frame(entry, &mut buf)?;
        }
        let path = self.dir.join(LOG_FILE);
        write_atomically(&path, &buf)?;
        let file = OpenOptions::new().read(true).write(true).open(&path)?;
        *lock(&self.file) = file;
        for (index, pos) in positions {
            if let Some(e) = entries.map.get_mut(&index) {
                e.1 = pos;
            }
        }
        entries.end = buf.len() as u64;
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs file work off the tokio workers.
async fn blocking(
    f: impl FnOnce() -> std::io::Result<()> + Send + 'static,
) -> Result<(), StorageError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(write_error)?
        .map_err(write_error)
}

/// Appends one frame: length, CRC-32C of the payload, JSON payload.
fn frame(entry: &Entry, out: &mut Vec<u8>) -> std::io::Result<()> {
    let payload = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
    let len = u32::try_from(payload.len()).map_err(std::io::Error::other)?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&crate::log::batch::crc32c(&payload).to_be_bytes());
    out.extend_from_slice(&payload);
    Ok(())
}

/// Reads frames until the first torn or corrupt one; returns the entries with their positions and the
/// length of the valid prefix.
fn parse_frames(bytes: &[u8]) -> (Vec<(Entry, u64)>, usize) {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while let Some(head) = bytes.get(pos..pos + 8) {
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let crc = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
        if len > FRAME_MAX_BYTES {
            break;
        }
        let Some(payload) = bytes.get(pos + 8..pos + 8 + len as usize) else {
            break;
        };
        let actual = crate::log::batch::crc32c(payload);
        if actual != crc {
            break;
        }
        let Ok(entry) = serde_json::from_slice::<Entry>(payload) else {
            break;
        };
        out.push((entry, pos as u64));
        pos += 8 + len as usize;
    }
    (out, pos)
}

impl RaftLogReader<TypeConfig> for MetaLogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + std::fmt::Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        Ok(lock(&self.entries)
            .map
            .range(range)
            .map(|(_, (e, _))| e.clone())
            .collect())
    }
}

impl RaftLogStorage<TypeConfig> for MetaLogStore {
    type LogReader = MetaLogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged = lock(&self.state).last_purged;
        let last = lock(&self.entries)
            .map
            .values()
            .next_back()
            .map(|(e, _)| e.log_id);
        Ok(LogState {
            last_purged_log_id: last_purged,
            last_log_id: last.or(last_purged),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError> {
        let vote = *vote;
        self.save_state(|s| s.vote = Some(vote)).await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError> {
        Ok(lock(&self.state).vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId<u64>>) -> Result<(), StorageError> {
        // Kept so a restarted node applies what it knows to be committed before any election, and serves
        // its last image at once. Not fsynced: a lost or torn update only delays that replay until the
        // quorum tells the node again, and skipping two device round trips per commit matters more.
        // It never runs ahead of the durable log: entries are fsynced before they count toward a commit.
        lock(&self.state).committed = committed;
        let bytes = serde_json::to_vec(&committed).map_err(write_error)?;
        let dir = self.dir.clone();
        blocking(move || {
            let tmp = dir.join(COMMITTED_FILE).with_extension("tmp");
            std::fs::write(&tmp, &bytes)?;
            std::fs::rename(&tmp, dir.join(COMMITTED_FILE))
        })
        .await
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<u64>>, StorageError> {
        Ok(lock(&self.state).committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut buf = Vec::new();
        let start = lock(&self.entries).end;
        let mut added = Vec::new();
        for entry in entries {
            let pos = start + buf.len() as u64;
            frame(&entry, &mut buf).map_err(write_error)?;
            added.push((entry, pos));
        }
        let file = self.file.clone();
        let len = buf.len() as u64;
        let result = tokio::task::spawn_blocking(move || {
            use std::os::unix::fs::FileExt;
            let f = lock(&file);
            f.write_all_at(&buf, start)?;
            f.sync_data()
        })
        .await
        .map_err(write_error)?;
        if result.is_ok() {
            let mut e = lock(&self.entries);
            e.end = start + len;
            for (entry, pos) in added {
                e.map.insert(entry.log_id.index, (entry, pos));
            }
        }
        let failed = result
            .as_ref()
            .err()
            .map(|e| std::io::Error::new(e.kind(), e.to_string()));
        callback.log_io_completed(result);
        match failed {
            Some(e) => Err(write_error(e)),
            None => Ok(()),
        }
    }

    async fn truncate(&mut self, log_id: LogId<u64>) -> Result<(), StorageError> {
        let cut = {
            let mut e = lock(&self.entries);
            let Some(pos) = e.map.get(&log_id.index).map(|(_, p)| *p) else {
                return Ok(());
            };
            e.map.split_off(&log_id.index);
            e.end = pos;
            pos
        };
        let file = self.file.clone();
        blocking(move || {
            let f = lock(&file);
            f.set_len(cut)?;
            f.sync_all()
        })
        .await
    }

    async fn purge(&mut self, log_id: LogId<u64>) -> Result<(), StorageError> {
        self.save_state(|s| s.last_purged = Some(log_id)).await?;
        {
            let mut e = lock(&self.entries);
            let keep = e.map.split_off(&(log_id.index + 1));
            e.map = keep;
        }
        let this = self.clone();
        blocking(move || this.rewrite()).await
    }
}

/// Appends raw bytes to a file (tests: a torn frame).
#[cfg(test)]
fn append_raw(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = OpenOptions::new().append(true).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::{CommittedLeaderId, EntryPayload};

    fn entry(index: u64) -> Entry {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Blank,
        }
    }

    fn frames(entries: &[Entry]) -> Vec<u8> {
        let mut buf = Vec::new();
        for e in entries {
            frame(e, &mut buf).unwrap();
        }
        buf
    }

    #[test]
    fn torn_tail_is_truncated_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOG_FILE);
        std::fs::write(&path, frames(&[entry(1), entry(2)])).unwrap();
        let whole = std::fs::metadata(&path).unwrap().len();
        let third = frames(&[entry(3)]);
        append_raw(&path, &third[..third.len() - 3]).unwrap();
        let store = MetaLogStore::open(dir.path()).unwrap();
        assert_eq!(lock(&store.entries).map.len(), 2);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), whole);
    }

    #[test]
    fn corrupt_frame_ends_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOG_FILE);
        let mut bytes = frames(&[entry(1), entry(2), entry(3)]);
        let second = frames(&[entry(1)]).len();
        bytes[second + 10] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
        let store = MetaLogStore::open(dir.path()).unwrap();
        let kept: Vec<u64> = lock(&store.entries).map.keys().copied().collect();
        assert_eq!(kept, vec![1]);
    }
}
