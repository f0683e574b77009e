//! The metadata quorum on openraft: type configuration, the durable Raft log, the state machine that
//! builds the metadata image, and the TCP transport between controllers.

pub mod log_store;
pub mod network;
pub mod state_machine;

use std::io::Cursor;

use super::records::MetadataRecord;

openraft::declare_raft_types!(
    /// Raft types of the metadata log: an entry carries a batch of metadata records, applied atomically.
    pub TypeConfig:
        D = Vec<MetadataRecord>,
        R = (),
        NodeId = u64,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// The Raft handle of this node.
pub type Raft = openraft::Raft<TypeConfig>;
/// What this node's Raft reports about itself (role, commit, replication to each follower).
pub type Metrics = openraft::RaftMetrics<u64, openraft::BasicNode>;
/// Openraft's storage error for this configuration.
pub type StorageError = openraft::StorageError<u64>;

/// Maps an I/O failure of the metadata log to openraft's storage error.
fn write_error(e: impl std::error::Error + 'static) -> StorageError {
    openraft::StorageIOError::write_logs(&e).into()
}
