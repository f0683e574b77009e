//! The state machine of the metadata quorum: applies committed record batches to the
//! [`MetadataImage`](crate::cluster::image::MetadataImage) and hands every new image to the
//! [`Publisher`](crate::cluster::publisher::Publisher). Snapshots are the image itself, persisted as one
//! JSON file; the state machine is rebuilt from the snapshot plus the committed log at start-up.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openraft::storage::{RaftStateMachine, Snapshot, SnapshotMeta};
use openraft::{
    BasicNode, EntryPayload, LogId, RaftSnapshotBuilder, StorageIOError, StoredMembership,
};
use serde::{Deserialize, Serialize};

use super::{StorageError, TypeConfig};
use crate::cluster::image::MetadataImage;
use crate::cluster::publisher::Publisher;
use crate::cluster::write_atomically;

type Entry = openraft::Entry<TypeConfig>;

/// File holding the last snapshot.
const SNAPSHOT_FILE: &str = "snapshot.json";

/// A snapshot as stored and sent to followers.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SnapshotFile {
    image: MetadataImage,
    last_applied: Option<LogId<u64>>,
    membership: StoredMembership<u64, BasicNode>,
    snapshot_id: String,
}

/// The metadata state machine.
pub struct MetaStateMachine {
    dir: PathBuf,
    image: MetadataImage,
    last_applied: Option<LogId<u64>>,
    membership: StoredMembership<u64, BasicNode>,
    publisher: Arc<Publisher>,
}

fn sm_error(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::write_state_machine(&e).into()
}

impl MetaStateMachine {
    /// Loads the last snapshot from `dir`, if any, and publishes its image.
    pub fn open(dir: &Path, publisher: Arc<Publisher>) -> std::io::Result<MetaStateMachine> {
        let mut sm = MetaStateMachine {
            dir: dir.to_path_buf(),
            image: MetadataImage::default(),
            last_applied: None,
            membership: StoredMembership::default(),
            publisher,
        };
        match std::fs::read(dir.join(SNAPSHOT_FILE)) {
            Ok(bytes) => {
                let file: SnapshotFile =
                    serde_json::from_slice(&bytes).map_err(std::io::Error::other)?;
                sm.load(file);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        sm.publisher.publish_replayed(Arc::new(sm.image.clone()));
        Ok(sm)
    }

    fn load(&mut self, file: SnapshotFile) {
        self.image = file.image;
        self.image.reindex();
        self.last_applied = file.last_applied;
        self.membership = file.membership;
    }
}

impl RaftStateMachine<TypeConfig> for MetaStateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<u64>>, StoredMembership<u64, BasicNode>), StorageError> {
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<()>, StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut replies = Vec::new();
        let mut applied = Vec::new();
        for entry in entries {
            self.last_applied = Some(entry.log_id);
            match entry.payload {
                EntryPayload::Blank => self.image.offset = entry.log_id.index,
                EntryPayload::Normal(records) => {
                    // An entry may hold no record (a leaving leader's hand-off, see `Quorum::shutdown`).
                    self.image.offset = entry.log_id.index;
                    for r in &records {
                        self.image.apply(entry.log_id.index, r);
                    }
                    applied.extend(records);
                }
                EntryPayload::Membership(m) => {
                    self.image.offset = entry.log_id.index;
                    self.membership = StoredMembership::new(Some(entry.log_id), m);
                }
            }
            replies.push(());
        }
        self.publisher
            .publish(Arc::new(self.image.clone()), applied)
            .await;
        Ok(replies)
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        SnapshotBuilder {
            dir: self.dir.clone(),
            image: self.image.clone(),
            last_applied: self.last_applied,
            membership: self.membership.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        _meta: &SnapshotMeta<u64, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let bytes = snapshot.into_inner();
        let file: SnapshotFile = serde_json::from_slice(&bytes).map_err(sm_error)?;
        let path = self.dir.join(SNAPSHOT_FILE);
        let data = bytes.clone();
        tokio::task::spawn_blocking(move || write_atomically(&path, &data))
            .await
            .map_err(sm_error)?
            .map_err(sm_error)?;
        self.load(file);
        self.publisher
            .publish_snapshot(Arc::new(self.image.clone()))
            .await;
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let path = self.dir.join(SNAPSHOT_FILE);
        let bytes = match tokio::task::spawn_blocking(move || std::fs::read(path)).await {
            Ok(Ok(b)) => b,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Ok(Err(e)) => return Err(sm_error(e)),
            Err(e) => return Err(sm_error(e)),
        };
        let file: SnapshotFile = serde_json::from_slice(&bytes).map_err(sm_error)?;
        Ok(Some(Snapshot {
            meta: SnapshotMeta {
                last_log_id: file.last_applied,
                last_membership: file.membership,
                snapshot_id: file.snapshot_id,
            },
            snapshot: Box::new(Cursor::new(bytes)),
        }))
    }
}

/// Builds a snapshot from a copy of the image taken when openraft asked for it.
pub struct SnapshotBuilder {
    dir: PathBuf,
    image: MetadataImage,
    last_applied: Option<LogId<u64>>,
    membership: StoredMembership<u64, BasicNode>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let snapshot_id = format!(
            "{}-{}",
            self.last_applied.map_or(0, |l| l.leader_id.term),
            self.last_applied.map_or(0, |l| l.index)
        );
        let file = SnapshotFile {
            image: self.image.clone(),
            last_applied: self.last_applied,
            membership: self.membership.clone(),
            snapshot_id: snapshot_id.clone(),
        };
        let bytes = serde_json::to_vec(&file).map_err(sm_error)?;
        let path = self.dir.join(SNAPSHOT_FILE);
        let data = bytes.clone();
        tokio::task::spawn_blocking(move || write_atomically(&path, &data))
            .await
            .map_err(sm_error)?
            .map_err(sm_error)?;
        Ok(Snapshot {
            meta: SnapshotMeta {
                last_log_id: self.last_applied,
                last_membership: self.membership.clone(),
                snapshot_id,
            },
            snapshot: Box::new(Cursor::new(bytes)),
        })
    }
}
