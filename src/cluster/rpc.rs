//! Messages between nodes on the controller listener: Raft RPCs and broker → controller requests, as
//! length-prefixed JSON frames (small and rare: metadata, not record data).

use std::time::Duration;

use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::controller::{ControllerRequest, ControllerResponse};
use super::raft::TypeConfig;

/// Largest frame accepted from a peer (a snapshot chunk is at most 3 MiB by default).
pub const FRAME_MAX_BYTES: usize = 64 << 20;

/// A request from one node to another.
#[derive(Debug, Serialize, Deserialize)]
pub enum RpcRequest {
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<u64>),
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    Controller(ControllerRequest),
}

/// The answer to an [`RpcRequest`], same variant.
#[derive(Debug, Serialize, Deserialize)]
pub enum RpcResponse {
    AppendEntries(Result<AppendEntriesResponse<u64>, RaftError<u64>>),
    Vote(Result<VoteResponse<u64>, RaftError<u64>>),
    InstallSnapshot(Result<InstallSnapshotResponse<u64>, RaftError<u64, InstallSnapshotError>>),
    Controller(ControllerResponse),
}

/// Writes one frame.
pub async fn write_frame<T: Serialize>(stream: &mut TcpStream, msg: &T) -> std::io::Result<()> {
    let payload = serde_json::to_vec(msg).map_err(std::io::Error::other)?;
    let len = u32::try_from(payload.len()).map_err(std::io::Error::other)?;
    let mut buf = Vec::with_capacity(4 + payload.len());
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(&payload);
    stream.write_all(&buf).await
}

/// Reads one frame; `Ok(None)` on a clean end of stream.
pub async fn read_frame<T: DeserializeOwned>(stream: &mut TcpStream) -> std::io::Result<Option<T>> {
    let mut len = [0u8; 4];
    match stream.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > FRAME_MAX_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds {FRAME_MAX_BYTES}"),
        ));
    }
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).await?;
    serde_json::from_slice(&payload)
        .map(Some)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// One connection to a peer, reopened after any failure; calls are sequential on it.
#[derive(Debug)]
pub struct PeerConnection {
    addr: String,
    stream: Option<TcpStream>,
}

impl PeerConnection {
    /// A connection to `addr`, opened on first use.
    pub fn new(addr: String) -> PeerConnection {
        PeerConnection { addr, stream: None }
    }

    /// Sends `req` and waits for its response, within `timeout`.
    pub async fn call(
        &mut self,
        req: &RpcRequest,
        timeout: Duration,
    ) -> std::io::Result<RpcResponse> {
        let result = tokio::time::timeout(timeout, self.call_inner(req)).await;
        let result = result.unwrap_or_else(|_| {
            Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "rpc timed out",
            ))
        });
        if result.is_err() {
            // The stream may hold half a frame; never reuse it.
            self.stream = None;
        }
        result
    }

    async fn call_inner(&mut self, req: &RpcRequest) -> std::io::Result<RpcResponse> {
        if self.stream.is_none() {
            let s = TcpStream::connect(&self.addr).await?;
            s.set_nodelay(true)?;
            self.stream = Some(s);
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err(std::io::Error::other("no connection"));
        };
        write_frame(stream, req).await?;
        read_frame(stream)
            .await?
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "peer closed"))
    }
}
