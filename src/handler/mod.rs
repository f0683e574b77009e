//! Request handlers: one file per API family, mapping wire types to plain calls on the cluster, log and
//! group layers. Handlers never touch sockets or files.

pub mod alter_configs;
pub mod api_versions;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_groups;
pub mod delete_records;
pub mod delete_topics;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_groups;
pub mod describe_topic_partitions;
pub mod errors;
pub mod fetch;
pub mod fetch_session;
pub mod find_coordinator;
pub mod group_common;
pub mod heartbeat;
pub mod init_producer_id;
pub mod join_group;
pub mod leave_group;
pub mod list_groups;
pub mod list_offsets;
pub mod metadata;
pub mod offset_commit;
pub mod offset_delete;
pub mod offset_fetch;
pub mod produce;
pub mod sync_group;

#[cfg(test)]
mod group_handler_tests;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use kafka_protocol::messages::{RequestKind, ResponseKind};

use crate::cluster::Cluster;
use crate::config::Config;
use crate::group::GroupCoordinator;
use crate::protocol::Request;

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
}

/// A response that is ready, one still waiting on an event (fsync), or none at all (acks=0 produce).
// Moved once per request; boxing the large variant would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum Reply {
    /// Send this now (after earlier responses on the connection).
    Now(ResponseKind),
    /// Send this when the future resolves; later requests on the connection keep being processed.
    Later(Pin<Box<dyn Future<Output = ResponseKind> + Send>>),
    /// The client expects no response.
    None,
    /// Close the connection after the replies before this one (Kafka's answer to an acks=0 produce that
    /// failed: the client gets no response, so closing is how it learns).
    Close(String),
}

/// Runs the handler for one request. Requests of a connection are dispatched in arrival order.
pub async fn dispatch(ctx: &Arc<Ctx>, request: Request, peer: &str) -> Reply {
    let version = request.version();
    let (groups, node) = (&ctx.groups, &ctx.node);
    let client_id = request
        .header
        .client_id
        .as_ref()
        .map(|c| c.to_string())
        .unwrap_or_default();
    match request.body {
        RequestKind::ApiVersions(r) => {
            Reply::Now(ResponseKind::ApiVersions(api_versions::handle(version, r)))
        }
        RequestKind::Metadata(r) => {
            Reply::Now(ResponseKind::Metadata(metadata::handle(ctx, version, r)))
        }
        RequestKind::CreateTopics(r) => Reply::Now(ResponseKind::CreateTopics(
            create_topics::handle(ctx, version, r),
        )),
        RequestKind::DeleteTopics(r) => Reply::Now(ResponseKind::DeleteTopics(
            delete_topics::handle(ctx, version, r),
        )),
        RequestKind::CreatePartitions(r) => Reply::Now(ResponseKind::CreatePartitions(
            create_partitions::handle(ctx, version, r),
        )),
        RequestKind::Produce(r) => produce::handle(ctx, version, r),
        RequestKind::Fetch(r) => {
            Reply::Now(ResponseKind::Fetch(fetch::handle(ctx, version, r).await))
        }
        RequestKind::ListOffsets(r) => Reply::Now(ResponseKind::ListOffsets(list_offsets::handle(
            ctx, version, r,
        ))),
        RequestKind::InitProducerId(r) => Reply::Now(ResponseKind::InitProducerId(
            init_producer_id::handle(ctx, version, r),
        )),
        RequestKind::DescribeCluster(r) => Reply::Now(ResponseKind::DescribeCluster(
            describe_cluster::handle(ctx, version, r),
        )),
        RequestKind::DescribeTopicPartitions(r) => {
            Reply::Now(ResponseKind::DescribeTopicPartitions(
                describe_topic_partitions::handle(ctx, version, r),
            ))
        }
        RequestKind::DeleteRecords(r) => Reply::Now(ResponseKind::DeleteRecords(
            delete_records::handle(ctx, version, r).await,
        )),
        RequestKind::DescribeConfigs(r) => Reply::Now(ResponseKind::DescribeConfigs(
            describe_configs::handle(ctx, version, r),
        )),
        RequestKind::AlterConfigs(r) => Reply::Now(ResponseKind::AlterConfigs(
            alter_configs::handle_alter(ctx, version, r),
        )),
        RequestKind::IncrementalAlterConfigs(r) => {
            Reply::Now(ResponseKind::IncrementalAlterConfigs(
                alter_configs::handle_incremental(ctx, version, r),
            ))
        }
        RequestKind::FindCoordinator(r) => Reply::Now(ResponseKind::FindCoordinator(
            find_coordinator::handle(groups, node, version, r).await,
        )),
        RequestKind::JoinGroup(r) => {
            let client = ClientInfo {
                client_id: client_id.clone(),
                // Kafka shows the client's address without the port.
                client_host: format!("/{}", peer.rsplit_once(':').map_or(peer, |(ip, _)| ip)),
            };
            Reply::Now(ResponseKind::JoinGroup(
                join_group::handle(groups, node, &client, version, r).await,
            ))
        }
        RequestKind::SyncGroup(r) => Reply::Now(ResponseKind::SyncGroup(
            sync_group::handle(groups, node, version, r).await,
        )),
        RequestKind::Heartbeat(r) => Reply::Now(ResponseKind::Heartbeat(
            heartbeat::handle(groups, node, version, r).await,
        )),
        RequestKind::LeaveGroup(r) => Reply::Now(ResponseKind::LeaveGroup(
            leave_group::handle(groups, node, version, r).await,
        )),
        RequestKind::OffsetCommit(r) => Reply::Now(ResponseKind::OffsetCommit(
            offset_commit::handle(groups, node, version, r).await,
        )),
        RequestKind::OffsetFetch(r) => Reply::Now(ResponseKind::OffsetFetch(
            offset_fetch::handle(groups, node, version, r).await,
        )),
        RequestKind::OffsetDelete(r) => Reply::Now(ResponseKind::OffsetDelete(
            offset_delete::handle(groups, node, version, r).await,
        )),
        RequestKind::DescribeGroups(r) => Reply::Now(ResponseKind::DescribeGroups(
            describe_groups::handle(groups, node, version, r).await,
        )),
        RequestKind::ListGroups(r) => Reply::Now(ResponseKind::ListGroups(
            list_groups::handle(groups, node, version, r).await,
        )),
        RequestKind::DeleteGroups(r) => Reply::Now(ResponseKind::DeleteGroups(
            delete_groups::handle(groups, node, version, r).await,
        )),
        other => {
            // The version table and this match are built from the same handler list; reaching here is a bug.
            tracing::error!(
                client_id,
                "no handler for {:?}",
                std::mem::discriminant(&other)
            );
            Reply::None
        }
    }
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
