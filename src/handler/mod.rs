//! Request handlers: one file per API family, mapping wire types to plain calls on the cluster, log and
//! group layers. Handlers never touch sockets or files.

pub mod add_offsets_to_txn;
pub mod add_partitions_to_txn;
pub mod alter_configs;
pub mod api_versions;
pub mod consumer_group_describe;
pub mod consumer_group_heartbeat;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_groups;
pub mod delete_records;
pub mod delete_topics;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_groups;
pub mod describe_log_dirs;
pub mod describe_producers;
pub mod describe_quorum;
pub mod describe_topic_partitions;
pub mod describe_transactions;
pub mod end_txn;
pub mod errors;
pub mod fetch;
pub mod fetch_replica;
pub mod fetch_session;
pub mod find_coordinator;
pub mod group_common;
pub mod heartbeat;
pub mod init_producer_id;
pub mod join_group;
pub mod leadership;
pub mod leave_group;
pub mod list;
pub mod list_config_resources;
pub mod list_groups;
pub mod list_offsets;
pub mod list_transactions;
pub mod metadata;
pub mod offset_commit;
pub mod offset_delete;
pub mod offset_fetch;
pub mod offset_for_leader_epoch;
pub mod partition_placement;
pub mod produce;
pub mod produce_txn;
pub mod sync_group;
pub mod txn_offset_commit;
pub mod write_txn_markers;

#[cfg(test)]
mod group_handler_tests;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use kafka_protocol::messages::ResponseKind;

use crate::cluster::Cluster;
use crate::config::Config;
use crate::group::GroupCoordinator;
use crate::log::FileSlice;
use crate::protocol::Request;
use crate::txn::TxnCoordinator;

pub use group_common::{ClientInfo, NodeInfo};

/// Shared state every handler may use.
pub struct Ctx {
    /// Broker configuration.
    pub config: Config,
    /// This broker's advertised address.
    pub node: NodeInfo,
    /// Topic metadata and partition logs.
    pub cluster: Arc<Cluster>,
    /// Incremental fetch sessions (KIP-227); short critical sections only.
    pub fetch_sessions: Mutex<fetch_session::FetchSessionCache>,
    /// Consumer group coordinator (handle to its shard actors).
    pub groups: GroupCoordinator,
    /// Transaction coordinator (handle to its shard actors).
    pub txns: TxnCoordinator,
    /// Connections to other brokers' transaction coordinators (KIP-890 verification).
    pub peers: crate::client::pool::ConnPool,
}

/// A response that is ready, one still waiting on an event (fsync), or none at all (acks=0 produce).
/// `R` is the handler's own response type, so a handler cannot answer with another API's body; dispatch
/// turns it into a `Reply<ResponseKind>` for the connection.
// Moved once per request; boxing the large variant would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum Reply<R = ResponseKind> {
    /// Send this now (after earlier responses on the connection).
    Now(R),
    /// Send this now, its record sets from files: each partition whose `records` is `None` is the next
    /// of these ranges, in encoding order (Fetch only; the connection writes them with `sendfile`).
    Records(R, Vec<FileSlice>),
    /// Send this when the future resolves; later requests on the connection keep being processed.
    /// Built with [`Reply::later`], which fixes the body type.
    Later(Pin<Box<dyn Future<Output = ResponseKind> + Send>>),
    /// The client expects no response.
    None,
    /// Close the connection after the replies before this one (Kafka's answer to an acks=0 produce that
    /// failed: the client gets no response, so closing is how it learns).
    Close(String),
}

impl<R: Into<ResponseKind>> Reply<R> {
    /// A reply sent when `response` resolves.
    pub fn later(response: impl Future<Output = R> + Send + 'static) -> Self {
        Reply::Later(Box::pin(async move { response.await.into() }))
    }

    /// The same reply with its body as the connection sends it.
    fn erase(self) -> Reply {
        match self {
            Reply::Now(body) => Reply::Now(body.into()),
            Reply::Records(body, slices) => Reply::Records(body.into(), slices),
            Reply::Later(body) => Reply::Later(body),
            Reply::None => Reply::None,
            Reply::Close(reason) => Reply::Close(reason),
        }
    }
}

/// What a handler may know about the request besides its body.
pub struct Call<'a> {
    /// The request's API version.
    pub version: i16,
    /// The header's client id ("" when absent).
    pub client_id: &'a str,
    /// The client's address, `ip:port`.
    pub peer: &'a str,
}

impl Call<'_> {
    /// Client id and host as the group coordinator records them (Kafka shows the host without the port).
    pub fn client(&self) -> ClientInfo {
        let host = self.peer.rsplit_once(':').map_or(self.peer, |(ip, _)| ip);
        ClientInfo {
            client_id: self.client_id.to_string(),
            client_host: format!("/{host}"),
        }
    }
}

/// One served API. Each handler file declares its implementor once; `list.rs` names every implementor
/// once, and dispatch and the ApiVersions table are both generated from that list.
pub trait Handler {
    /// The wire request; its `KEY` is the API key (checked against the list at compile time).
    type Request: kafka_protocol::protocol::Request;
    /// Versions served, inclusive: checked before decoding and advertised by ApiVersions.
    const VERSIONS: (i16, i16);
    /// Answers one request. Requests of a connection are handled in arrival order.
    fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        request: Self::Request,
    ) -> impl Future<Output = Reply<<Self::Request as kafka_protocol::protocol::Request>::Response>> + Send;
}

/// Runs the handler for one request. Requests of a connection are dispatched in arrival order.
pub async fn dispatch(ctx: &Arc<Ctx>, request: Request, peer: &str) -> Reply {
    let call = Call {
        version: request.version(),
        client_id: request.header.client_id.as_deref().unwrap_or_default(),
        peer,
    };
    match list::dispatch(ctx, &call, request.body).await {
        Some(reply) => reply,
        None => {
            // Decoding admits only listed APIs, and dispatch is generated from the same list.
            tracing::error!(client_id = call.client_id, api_key = ?request.api_key, "no handler");
            Reply::None
        }
    }
}

/// The deadline of an admin request from its `timeout_ms` (Kafka's controller deadline: 0 or less has
/// already passed, so nothing is changed and the answer is REQUEST_TIMED_OUT).
pub fn deadline(timeout_ms: i32) -> tokio::time::Instant {
    let ms = u64::try_from(timeout_ms).unwrap_or(0);
    tokio::time::Instant::now() + std::time::Duration::from_millis(ms)
}

/// Names that occur more than once in a request (Kafka fails every occurrence with INVALID_REQUEST).
pub fn repeated_names<'a>(
    names: impl Iterator<Item = &'a str>,
) -> std::collections::HashSet<String> {
    let mut seen = std::collections::HashSet::new();
    names
        .filter(|n| !seen.insert(*n))
        .map(str::to_string)
        .collect()
}
