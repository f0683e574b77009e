//! Sends controller requests to whichever node is the active controller: this node's own controller task
//! when it leads the quorum, else the leader's controller listener. Retries while there is no leader or
//! the leader changes, up to a deadline.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::controller::{ControllerError, ControllerHandle, ControllerRequest, ControllerResponse};
use super::raft::Raft;
use super::rpc::{PeerConnection, RpcRequest, RpcResponse};

/// First wait between attempts while the quorum has no reachable leader (doubling up to [`RETRY_MAX`]):
/// short, because a single node elects itself within milliseconds of starting.
const RETRY_MIN: Duration = Duration::from_millis(2);
/// Longest wait between attempts.
const RETRY_MAX: Duration = Duration::from_millis(50);
/// Longest one forwarded call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Routes requests to the active controller.
pub struct ControllerClient {
    node_id: u64,
    raft: Raft,
    local: ControllerHandle,
    peers: Arc<HashMap<u64, String>>,
    conns: Mutex<HashMap<u64, Arc<tokio::sync::Mutex<PeerConnection>>>>,
}

impl ControllerClient {
    /// A client for this node.
    pub fn new(
        node_id: u64,
        raft: Raft,
        local: ControllerHandle,
        peers: Arc<HashMap<u64, String>>,
    ) -> ControllerClient {
        ControllerClient {
            node_id,
            raft,
            local,
            peers,
            conns: Mutex::new(HashMap::new()),
        }
    }

    /// The active controller's node id, if known.
    pub fn leader(&self) -> Option<u64> {
        self.raft.metrics().borrow().current_leader
    }

    /// Runs `req` on the active controller, retrying until `timeout` passes.
    pub async fn call(&self, req: ControllerRequest, timeout: Duration) -> ControllerResponse {
        let deadline = Instant::now() + timeout;
        let mut wait = RETRY_MIN;
        // Where to go while this node's Raft knows no leader: a broker-only node not yet following the
        // log asks the voters in turn, then the leader they name.
        let mut hint: Option<u64> = None;
        let mut next_voter = 0usize;
        loop {
            let target = self
                .leader()
                .or(hint)
                .or_else(|| self.some_voter(&mut next_voter));
            let result = match target {
                Some(id) if id == self.node_id => self.local.call(req.clone()).await,
                Some(id) => self.remote(id, &req).await,
                None => Err(ControllerError::NotController(None)),
            };
            hint = match &result {
                Err(ControllerError::NotController(leader)) => *leader,
                _ => None,
            };
            let retriable = matches!(
                result,
                Err(ControllerError::NotController(_)) | Err(ControllerError::Quorum(_))
            );
            if !retriable || Instant::now() + wait >= deadline {
                return result;
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(RETRY_MAX);
        }
    }

    /// For a node that is not a voter: the voters in turn (`None` for a voter, which learns the leader
    /// from its own Raft).
    fn some_voter(&self, next: &mut usize) -> Option<u64> {
        if self.peers.contains_key(&self.node_id) || self.peers.is_empty() {
            return None;
        }
        let mut ids: Vec<u64> = self.peers.keys().copied().collect();
        ids.sort_unstable();
        let id = ids.get(*next % ids.len()).copied();
        *next += 1;
        id
    }

    async fn remote(&self, id: u64, req: &ControllerRequest) -> ControllerResponse {
        let Some(addr) = self.peers.get(&id) else {
            return Err(ControllerError::Quorum(format!(
                "no address for controller {id}"
            )));
        };
        let conn = {
            let mut conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
            conns
                .entry(id)
                .or_insert_with(|| {
                    Arc::new(tokio::sync::Mutex::new(PeerConnection::new(addr.clone())))
                })
                .clone()
        };
        let mut conn = conn.lock().await;
        match conn
            .call(&RpcRequest::Controller(req.clone()), CALL_TIMEOUT)
            .await
        {
            Ok(RpcResponse::Controller(r)) => r,
            Ok(_) => Err(ControllerError::Quorum(
                "mismatched controller response".into(),
            )),
            Err(e) => Err(ControllerError::Quorum(format!(
                "controller {id} unreachable: {e}"
            ))),
        }
    }
}
