//! Openraft's network over [`PeerConnection`]s. Peer addresses come from this node's
//! `controller.quorum.voters` (as in KRaft), not from the replicated membership, so each node may reach
//! a peer through its own route (a test proxy, for one).

use std::collections::HashMap;
use std::sync::Arc;

use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;

use super::TypeConfig;
use crate::cluster::rpc::{PeerConnection, RpcRequest, RpcResponse};

/// Creates one client per peer.
#[derive(Clone)]
pub struct Network {
    /// Controller addresses by node id.
    pub peers: Arc<HashMap<u64, String>>,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerClient;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> PeerClient {
        let addr = self
            .peers
            .get(&target)
            .cloned()
            .unwrap_or_else(|| node.addr.clone());
        PeerClient {
            conn: PeerConnection::new(addr),
        }
    }
}

/// Raft RPCs to one peer.
pub struct PeerClient {
    conn: PeerConnection,
}

type RpcResult<T, E = openraft::error::Infallible> =
    Result<T, RPCError<u64, BasicNode, RaftError<u64, E>>>;

impl PeerClient {
    async fn send(
        &mut self,
        req: RpcRequest,
        option: &RPCOption,
    ) -> Result<RpcResponse, std::io::Error> {
        self.conn.call(&req, option.hard_ttl()).await
    }
}

/// Connection failures make openraft back off; other I/O failures are retried at once.
fn io_error<E: std::error::Error>(
    e: std::io::Error,
) -> RPCError<u64, BasicNode, RaftError<u64, E>> {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused | ConnectionReset | NotConnected | AddrNotAvailable => {
            RPCError::Unreachable(Unreachable::new(&e))
        }
        _ => RPCError::Network(NetworkError::new(&e)),
    }
}

fn unexpected<E: std::error::Error>() -> RPCError<u64, BasicNode, RaftError<u64, E>> {
    io_error(std::io::Error::other("mismatched rpc response"))
}

impl RaftNetwork<TypeConfig> for PeerClient {
    /// Retry an unreachable peer every 100 ms (openraft's default is 500 ms): a voter that starts a
    /// moment after the leader must hear from it well within its election timeout.
    fn backoff(&self) -> openraft::network::Backoff {
        openraft::network::Backoff::new(std::iter::repeat(std::time::Duration::from_millis(100)))
    }

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<u64>> {
        match self.send(RpcRequest::AppendEntries(rpc), &option).await {
            Ok(RpcResponse::AppendEntries(r)) => {
                r.map_err(|e| RPCError::RemoteError(openraft::error::RemoteError::new(0, e)))
            }
            Ok(_) => Err(unexpected()),
            Err(e) => Err(io_error(e)),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<u64>, InstallSnapshotError> {
        match self.send(RpcRequest::InstallSnapshot(rpc), &option).await {
            Ok(RpcResponse::InstallSnapshot(r)) => {
                r.map_err(|e| RPCError::RemoteError(openraft::error::RemoteError::new(0, e)))
            }
            Ok(_) => Err(unexpected()),
            Err(e) => Err(io_error(e)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<u64>> {
        match self.send(RpcRequest::Vote(rpc), &option).await {
            Ok(RpcResponse::Vote(r)) => {
                r.map_err(|e| RPCError::RemoteError(openraft::error::RemoteError::new(0, e)))
            }
            Ok(_) => Err(unexpected()),
            Err(e) => Err(io_error(e)),
        }
    }
}
