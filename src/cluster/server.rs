//! The controller listener: serves peers' Raft RPCs and brokers' controller requests, one frame at a time
//! per connection.

use tokio::net::{TcpListener, TcpStream};

use super::controller::ControllerHandle;
use super::raft::Raft;
use super::rpc::{read_frame, write_frame, RpcRequest, RpcResponse};

/// Accepts peers until aborted. Connections are served in a `JoinSet` owned by the accept task, so
/// aborting it closes them too: a stopped node must not keep answering its peers (from a stopped Raft
/// instance) on connections they would otherwise reuse forever.
pub fn spawn(
    listener: TcpListener,
    raft: Raft,
    controller: ControllerHandle,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        loop {
            while conns.try_join_next().is_some() {}
            match listener.accept().await {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let (raft, controller) = (raft.clone(), controller.clone());
                    conns.spawn(async move {
                        if let Err(e) = serve(stream, raft, controller).await {
                            tracing::debug!(%peer, error = %e, "controller connection closed");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "controller listener accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    })
}

async fn serve(
    mut stream: TcpStream,
    raft: Raft,
    controller: ControllerHandle,
) -> std::io::Result<()> {
    while let Some(req) = read_frame::<RpcRequest>(&mut stream).await? {
        let resp = match req {
            RpcRequest::AppendEntries(r) => {
                RpcResponse::AppendEntries(raft.append_entries(r).await)
            }
            RpcRequest::Vote(r) => RpcResponse::Vote(raft.vote(r).await),
            RpcRequest::InstallSnapshot(r) => {
                RpcResponse::InstallSnapshot(raft.install_snapshot(r).await)
            }
            RpcRequest::Controller(r) => RpcResponse::Controller(controller.call(r).await),
        };
        write_frame(&mut stream, &resp).await?;
    }
    Ok(())
}
