//! The group coordinator: Kafka's classic consumer-group protocol and committed offsets, behind
//! `handler::{join_group, sync_group, heartbeat, …}` and in front of `__consumer_offsets`.
//!
//! It runs on the coordinator runtime ([`crate::coordinator`]): one [`shard::GroupShard`] per
//! `__consumer_offsets` partition, each owned by one supervised task. JoinGroup and SyncGroup replies
//! are parked in the group and answered on state transitions. Timers (session, rebalance, initial delay,
//! pending sync, offset retention) run on tokio time, so tests drive them with paused time. Every change
//! that must survive a restart is appended to `__consumer_offsets` in Kafka's record formats
//! ([`records`]) and replayed at load.

mod admin;
mod classic;
pub mod consumer;
mod error;
mod join;
mod members;
mod memlog;
mod offsets;
pub mod records;
mod replay;
mod shard;
pub mod state;
mod stored;
#[cfg(test)]
mod tests;
mod txn_offsets;
#[cfg(test)]
mod txn_offsets_tests;

use std::sync::Arc;

use bytes::Bytes;

pub use crate::coordinator::{AppendFuture, CoordinatorLog as OffsetsLog, Record as OffsetsRecord};
use crate::coordinator::{Runtime, RuntimeConfig};
pub use error::GroupError;
pub use memlog::InMemoryOffsetsLog;
pub use state::GroupState;

use shard::GroupShard;

/// Topic metadata the coordinator needs: whether a committed partition exists.
pub trait TopicLookup: Send + Sync + 'static {
    /// Whether `topic` has a partition `partition`.
    fn partition_exists(&self, topic: &str, partition: i32) -> bool;
    /// A topic by name, for consumer-group (KIP-848) assignments.
    fn topic_info(&self, _name: &str) -> Option<consumer::TopicInfo> {
        None
    }
    /// Every non-internal topic (regex subscriptions match against these).
    fn all_topics(&self) -> Vec<consumer::TopicInfo> {
        Vec::new()
    }
    /// The name of the topic with this id.
    fn topic_name(&self, id: uuid::Uuid) -> Option<String> {
        self.all_topics()
            .into_iter()
            .find(|t| t.id == id)
            .map(|t| t.name)
    }
}

/// Coordinator settings, with Kafka's broker-config names and defaults.
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// `offsets.topic.num.partitions`: partitions of `__consumer_offsets` (group → partition mapping).
    pub offsets_topic_partitions: i32,
    /// Capacity of each shard's (partition's) operation queue (back-pressure on handlers beyond this).
    pub shard_queue_capacity: usize,
    /// `group.min.session.timeout.ms`.
    pub group_min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`.
    pub group_max_session_timeout_ms: i32,
    /// `group.initial.rebalance.delay.ms`: how long the first rebalance of an empty group waits.
    pub group_initial_rebalance_delay_ms: i64,
    /// `group.max.size`: members per group.
    pub group_max_size: usize,
    /// `offsets.retention.minutes` in ms: offsets of an empty group expire this long after it emptied.
    pub offsets_retention_ms: i64,
    /// `offsets.retention.check.interval.ms`: how often expired offsets are purged.
    pub offsets_retention_check_interval_ms: i64,
    /// `offset.metadata.max.bytes`: longest commit metadata string.
    pub offset_metadata_max_bytes: usize,
    /// How long a new member's parked JoinGroup may wait (Kafka's `NewMemberJoinTimeoutMs`).
    pub new_member_join_timeout_ms: i64,
    /// `group.consumer.session.timeout.ms`: a consumer-protocol member is removed after this silence.
    pub consumer_session_timeout_ms: i32,
    /// `group.consumer.heartbeat.interval.ms`: handed to consumer-protocol members.
    pub consumer_heartbeat_interval_ms: i32,
    /// `group.consumer.assignors`: offered server-side assignors, default first.
    pub consumer_assignors: Vec<String>,
    /// `group.consumer.migration.policy`: whether a non-empty classic group may become a consumer group
    /// (upgrade) and back (downgrade) while members are in it.
    pub consumer_migration_policy: consumer::MigrationPolicy,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            offsets_topic_partitions: 50,
            shard_queue_capacity: 1024,
            group_min_session_timeout_ms: 6_000,
            group_max_session_timeout_ms: 1_800_000,
            group_initial_rebalance_delay_ms: 3_000,
            group_max_size: i32::MAX as usize,
            offsets_retention_ms: 7 * 24 * 60 * 60 * 1000,
            offsets_retention_check_interval_ms: 600_000,
            offset_metadata_max_bytes: 4096,
            new_member_join_timeout_ms: 300_000,
            consumer_session_timeout_ms: consumer::SESSION_TIMEOUT_MS,
            consumer_heartbeat_interval_ms: consumer::HEARTBEAT_INTERVAL_MS,
            consumer_assignors: consumer::assignor::ASSIGNORS
                .iter()
                .map(|a| a.to_string())
                .collect(),
            consumer_migration_policy: consumer::MigrationPolicy::Bidirectional,
        }
    }
}

/// One protocol a member supports (name + opaque metadata, e.g. a consumer subscription).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protocol {
    /// Protocol (assignor) name.
    pub name: String,
    /// The member's metadata for this protocol.
    pub metadata: Bytes,
}

/// A JoinGroup, in plain types.
#[derive(Debug, Clone)]
pub struct JoinGroupRequest {
    /// Group id.
    pub group_id: String,
    /// Member id, empty on a first join.
    pub member_id: String,
    /// `group.instance.id` of a static member (v5+).
    pub group_instance_id: Option<String>,
    /// Client id from the request header (prefix of generated member ids).
    pub client_id: String,
    /// Client address.
    pub client_host: String,
    /// Protocol type (e.g. `consumer`).
    pub protocol_type: String,
    /// Supported protocols in preference order.
    pub protocols: Vec<Protocol>,
    /// Session timeout.
    pub session_timeout_ms: i32,
    /// Rebalance timeout (v0 requests: the session timeout).
    pub rebalance_timeout_ms: i32,
    /// KIP-394 (v4+): a first join gets MEMBER_ID_REQUIRED.
    pub require_known_member_id: bool,
    /// KIP-814 (v9+): the client understands `skip_assignment`.
    pub supports_skip_assignment: bool,
    /// Why the client joins (v8+), for logs.
    pub reason: Option<String>,
}

/// A member as the leader sees it in the JoinGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedMember {
    /// Member id.
    pub member_id: String,
    /// `group.instance.id`, if static.
    pub group_instance_id: Option<String>,
    /// The member's metadata for the selected protocol.
    pub metadata: Bytes,
}

/// A JoinGroup outcome; on error only `member_id` is meaningful (MEMBER_ID_REQUIRED carries the new id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGroupResult {
    /// `None` on success.
    pub error: Option<GroupError>,
    /// The member's id.
    pub member_id: String,
    /// The new generation, -1 on error.
    pub generation_id: i32,
    /// The group's protocol type.
    pub protocol_type: Option<String>,
    /// The selected protocol.
    pub protocol_name: Option<String>,
    /// The leader's member id, "" when none.
    pub leader_id: String,
    /// KIP-814: the leader must not compute a new assignment.
    pub skip_assignment: bool,
    /// All members' metadata, for the leader only.
    pub members: Vec<JoinedMember>,
}

impl JoinGroupResult {
    /// An error reply as Kafka sends it (generation -1, no leader).
    pub fn error(member_id: String, error: GroupError) -> Self {
        JoinGroupResult {
            error: Some(error),
            member_id,
            generation_id: -1,
            protocol_type: None,
            protocol_name: None,
            leader_id: String::new(),
            skip_assignment: false,
            members: Vec::new(),
        }
    }
}

/// A SyncGroup, in plain types.
#[derive(Debug, Clone)]
pub struct SyncGroupRequest {
    /// Group id.
    pub group_id: String,
    /// Generation the member believes current.
    pub generation_id: i32,
    /// Member id.
    pub member_id: String,
    /// `group.instance.id`, if static.
    pub group_instance_id: Option<String>,
    /// v5+: must match the group's protocol type when given.
    pub protocol_type: Option<String>,
    /// v5+: must match the selected protocol when given.
    pub protocol_name: Option<String>,
    /// The leader's assignments (empty from followers).
    pub assignments: Vec<(String, Bytes)>,
}

/// A SyncGroup outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroupResult {
    /// `None` on success.
    pub error: Option<GroupError>,
    /// The group's protocol type.
    pub protocol_type: Option<String>,
    /// The selected protocol.
    pub protocol_name: Option<String>,
    /// The member's assignment.
    pub assignment: Bytes,
}

impl SyncGroupResult {
    /// An error reply.
    pub fn error(error: GroupError) -> Self {
        SyncGroupResult {
            error: Some(error),
            protocol_type: None,
            protocol_name: None,
            assignment: Bytes::new(),
        }
    }
}

/// A Heartbeat, in plain types.
#[derive(Debug, Clone)]
pub struct HeartbeatRequest {
    /// Group id.
    pub group_id: String,
    /// Generation the member believes current.
    pub generation_id: i32,
    /// Member id.
    pub member_id: String,
    /// `group.instance.id`, if static.
    pub group_instance_id: Option<String>,
}

/// One member leaving (LeaveGroup v3+ batches several; v0–2 have one with no instance id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeavingMember {
    /// Member id; empty to remove a static member by instance id.
    pub member_id: String,
    /// `group.instance.id`, if static.
    pub group_instance_id: Option<String>,
    /// Why it leaves (v5+), for logs.
    pub reason: Option<String>,
}

/// One partition's offset in an OffsetCommit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionCommit {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// Offset to commit.
    pub offset: i64,
    /// Leader epoch (v6+), -1 if unknown.
    pub leader_epoch: i32,
    /// Metadata string (`None` on the wire is stored as "").
    pub metadata: String,
}

/// An OffsetCommit, in plain types.
#[derive(Debug, Clone)]
pub struct OffsetCommitRequest {
    /// Group id.
    pub group_id: String,
    /// Generation, -1 for standalone (simple) consumers.
    pub generation_id: i32,
    /// Member id, empty for standalone consumers.
    pub member_id: String,
    /// `group.instance.id`, if static (v7+).
    pub group_instance_id: Option<String>,
    /// v2–4 `retention_time_ms`; -1 = broker default.
    pub retention_time_ms: i64,
    /// Offsets to commit.
    pub partitions: Vec<PartitionCommit>,
}

/// A per-partition outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionResult {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// `None` on success.
    pub error: Option<GroupError>,
}

/// A committed offset as OffsetFetch returns it; never-committed partitions have offset -1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedOffset {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// Committed offset or -1.
    pub offset: i64,
    /// Leader epoch or -1.
    pub leader_epoch: i32,
    /// Metadata string ("" when none).
    pub metadata: String,
    /// Per-partition error.
    pub error: Option<GroupError>,
}

/// One member in DescribeGroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    /// Member id.
    pub member_id: String,
    /// `group.instance.id`, if static.
    pub group_instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client address.
    pub client_host: String,
    /// Metadata for the selected protocol (empty unless Stable, as Kafka does).
    pub metadata: Bytes,
    /// Assignment (empty unless Stable).
    pub assignment: Bytes,
}

/// A group as DescribeGroups shows it; unknown groups are described as `Dead` with no members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// Group id.
    pub group_id: String,
    /// State name.
    pub state: GroupState,
    /// Protocol type ("" when none).
    pub protocol_type: String,
    /// Selected protocol ("" unless Stable).
    pub protocol: String,
    /// Members.
    pub members: Vec<MemberDescription>,
}

/// A group as ListGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    /// Group id.
    pub group_id: String,
    /// Protocol type ("" for offsets-only groups).
    pub protocol_type: String,
    /// Current state.
    pub state: GroupState,
}

/// Handle to the coordinator's shards; cheap to clone, shared by all connections.
#[derive(Clone)]
pub struct GroupCoordinator {
    /// One shard per `__consumer_offsets` partition.
    runtime: Runtime<GroupShard>,
}

impl GroupCoordinator {
    /// Replays `__consumer_offsets` (every partition, synchronously) and starts the shard tasks: a
    /// coordinator of every group (tests). Must be called within a tokio runtime.
    pub fn start(
        config: GroupConfig,
        log: Arc<dyn OffsetsLog>,
        topics: Arc<dyn TopicLookup>,
    ) -> Result<Self, GroupError> {
        let (runtime_config, factory) = Self::parts(config, topics);
        let runtime = Runtime::start(runtime_config, factory, log)?;
        Ok(GroupCoordinator { runtime })
    }

    /// Starts the shard tasks with nothing loaded: the broker loads a partition's groups when it becomes
    /// that `__consumer_offsets` partition's leader ([`GroupCoordinator::on_election`]).
    pub fn start_unloaded(
        config: GroupConfig,
        log: Arc<dyn OffsetsLog>,
        topics: Arc<dyn TopicLookup>,
    ) -> Self {
        let (runtime_config, factory) = Self::parts(config, topics);
        GroupCoordinator {
            runtime: Runtime::start_unloaded(runtime_config, factory, log),
        }
    }

    fn parts(
        config: GroupConfig,
        topics: Arc<dyn TopicLookup>,
    ) -> (RuntimeConfig, crate::coordinator::ShardFactory<GroupShard>) {
        assert!(config.offsets_topic_partitions > 0);
        let runtime_config = RuntimeConfig {
            partitions: config.offsets_topic_partitions,
            queue_capacity: config.shard_queue_capacity,
        };
        let config = Arc::new(config);
        let factory: crate::coordinator::ShardFactory<GroupShard> =
            Arc::new(move |_| GroupShard::new(config.clone(), topics.clone()));
        (runtime_config, factory)
    }

    /// This broker became the leader of `__consumer_offsets` partition `partition` at `leader_epoch`
    /// (Kafka's `onElection`): its groups are loaded (COORDINATOR_LOAD_IN_PROGRESS meanwhile).
    pub fn on_election(&self, partition: i32, leader_epoch: i32) {
        self.runtime.schedule_load(partition, leader_epoch);
    }

    /// This broker no longer leads `partition` (Kafka's `onResignation`; the new leader epoch, `None`
    /// when the partition is gone): its groups are unloaded and their requests get NOT_COORDINATOR.
    pub fn on_resignation(&self, partition: i32, leader_epoch: Option<i32>) {
        self.runtime.schedule_unload(partition, leader_epoch);
    }

    /// Resolves once every partition this broker was elected for is loaded.
    pub async fn wait_loaded(&self) {
        self.runtime.wait_loaded().await;
    }

    /// The `__consumer_offsets` partition that holds `group_id`.
    pub fn partition_for(&self, group_id: &str) -> i32 {
        records::partition_for(group_id, self.runtime.partitions())
    }

    async fn call<T: Send + 'static>(
        &self,
        group_id: &str,
        op: impl FnOnce(&mut GroupShard, &mut shard::GCtx, tokio::sync::oneshot::Sender<T>)
            + Send
            + 'static,
    ) -> Result<T, GroupError> {
        Ok(self.runtime.call(self.partition_for(group_id), op).await?)
    }

    /// JoinGroup; resolves when the rebalance completes (or at once for errors and MEMBER_ID_REQUIRED).
    pub async fn join_group(&self, req: JoinGroupRequest) -> JoinGroupResult {
        let member_id = req.member_id.clone();
        let group_id = req.group_id.clone();
        self.call(&group_id, |s, ctx, tx| s.join(ctx, req, tx))
            .await
            .unwrap_or_else(|e| JoinGroupResult::error(member_id, e))
    }

    /// SyncGroup; followers resolve once the leader's assignment is stored.
    pub async fn sync_group(&self, req: SyncGroupRequest) -> SyncGroupResult {
        let group_id = req.group_id.clone();
        self.call(&group_id, |s, ctx, tx| s.sync(ctx, req, tx))
            .await
            .unwrap_or_else(SyncGroupResult::error)
    }

    /// Heartbeat.
    pub async fn heartbeat(&self, req: HeartbeatRequest) -> Result<(), GroupError> {
        let group_id = req.group_id.clone();
        self.call(&group_id, move |s, ctx, tx| {
            let _ = tx.send(s.heartbeat(ctx, &req));
        })
        .await?
    }

    /// LeaveGroup: a top-level error, or one result per leaving member (in request order).
    pub async fn leave_group(
        &self,
        group_id: &str,
        members: Vec<LeavingMember>,
    ) -> Result<Vec<Option<GroupError>>, GroupError> {
        let g = group_id.to_string();
        self.call(group_id, move |s, ctx, tx| {
            let _ = tx.send(s.leave(ctx, &g, members));
        })
        .await?
    }

    /// OffsetCommit: resolves once the commit is durable; one result per partition in request order.
    pub async fn commit_offsets(&self, req: OffsetCommitRequest) -> Vec<PartitionResult> {
        let group_id = req.group_id.clone();
        let parts: Vec<(String, i32)> = req
            .partitions
            .iter()
            .map(|p| (p.topic.clone(), p.partition))
            .collect();
        match self
            .call(&group_id, |s, ctx, tx| s.commit(ctx, req, tx))
            .await
        {
            Ok(results) => results,
            Err(e) => parts
                .into_iter()
                .map(|(topic, partition)| PartitionResult {
                    topic,
                    partition,
                    error: Some(e.clone()),
                })
                .collect(),
        }
    }

    /// OffsetFetch: the listed partitions (-1 for never committed) or, with `None`, every committed one.
    /// Reads the last committed offsets (commits not yet durable are not seen).
    pub async fn fetch_offsets(
        &self,
        group_id: &str,
        partitions: Option<Vec<(String, i32)>>,
    ) -> Result<Vec<FetchedOffset>, GroupError> {
        let g = group_id.to_string();
        self.runtime
            .read(self.partition_for(group_id), move |_, committed| {
                GroupShard::fetch(&committed.committed, &g, partitions)
            })
            .await?
    }

    /// OffsetFetch v9's member check for consumer (KIP-848) groups (Kafka's `validateOffsetFetch`): a
    /// request with a member id or epoch must name a current member at its current epoch. Classic and
    /// unknown groups pass.
    pub async fn check_fetch_member(
        &self,
        group_id: &str,
        member_id: Option<String>,
        member_epoch: i32,
    ) -> Result<(), GroupError> {
        if member_id.is_none() && member_epoch < 0 {
            return Ok(());
        }
        let g = group_id.to_string();
        let member = member_id.unwrap_or_default();
        let check = self
            .runtime
            .read(self.partition_for(group_id), move |s, _| {
                s.consumer_group(&g)
                    .and_then(|cg| cg.validate_offset_fetch(&member, member_epoch))
            })
            .await?;
        if let Some(e) = &check {
            tracing::debug!(group = %group_id, member_epoch, error = %e, "offset fetch refused");
        }
        check.map_or(Ok(()), Err)
    }

    /// OffsetDelete: a top-level error, or one result per partition.
    pub async fn delete_offsets(
        &self,
        group_id: &str,
        partitions: Vec<(String, i32)>,
    ) -> Result<Vec<PartitionResult>, GroupError> {
        let g = group_id.to_string();
        self.call(group_id, move |s, ctx, tx| {
            s.delete_offsets(ctx, &g, partitions, tx)
        })
        .await?
    }

    /// DeleteGroups: one result per group, in request order; resolves once the tombstones are durable.
    pub async fn delete_groups(&self, group_ids: Vec<String>) -> Vec<(String, Option<GroupError>)> {
        let mut out = Vec::with_capacity(group_ids.len());
        for group_id in group_ids {
            let g = group_id.clone();
            let r = self
                .call(&group_id, move |s, ctx, tx| s.delete_group(ctx, &g, tx))
                .await
                .and_then(|r| r);
            out.push((group_id, r.err()));
        }
        out
    }

    /// DescribeGroups for one group (unknown groups come back as `Dead`).
    pub async fn describe_group(&self, group_id: &str) -> Result<GroupDescription, GroupError> {
        let g = group_id.to_string();
        Ok(self
            .runtime
            .read(self.partition_for(group_id), move |s, _| s.describe(&g))
            .await?)
    }

    /// ListGroups across the shards this broker coordinates, filtered by state when `states` is
    /// non-empty. As Kafka's `listGroups`, partitions led elsewhere are skipped and one still loading
    /// fails the whole listing (COORDINATOR_LOAD_IN_PROGRESS, retriable).
    pub async fn list_groups(
        &self,
        states: &[GroupState],
    ) -> Result<Vec<GroupListing>, GroupError> {
        let mut all = Vec::new();
        for partition in 0..self.runtime.partitions() {
            match self.runtime.read(partition, |s, _| s.list()).await {
                Ok(groups) => all.extend(groups),
                Err(crate::coordinator::CoordinatorError::NotCoordinator) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if !states.is_empty() {
            all.retain(|g| states.contains(&g.state));
        }
        all.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        Ok(all)
    }

    /// ConsumerGroupHeartbeat (KIP-848); answers once the records it wrote are durable.
    pub async fn consumer_heartbeat(
        &self,
        req: consumer::HeartbeatRequest,
    ) -> consumer::HeartbeatResult {
        let group_id = req.group_id.clone();
        if group_id.is_empty() {
            return consumer::HeartbeatResult::error(
                GroupError::InvalidRequest,
                "GroupId can't be empty.",
            );
        }
        let group = group_id.clone();
        self.call(&group_id, |s, ctx, tx| {
            let (reply, records, upgraded) = s.consumer_heartbeat(ctx, req);
            ctx.append(
                records,
                false,
                Some(Box::new(move |s: &mut GroupShard, written, _| {
                    let _ = tx.send(match written {
                        Ok(()) => reply,
                        Err(e) => {
                            // The runtime reverted the consumer groups; classic groups follow.
                            s.consumer_write_failed(&group, upgraded);
                            consumer::HeartbeatResult::error(e.into(), "storing the group failed")
                        }
                    });
                })),
            );
        })
        .await
        .unwrap_or_else(|e| consumer::HeartbeatResult::error(e, "coordinator unavailable"))
    }

    /// ConsumerGroupDescribe for one group (GROUP_ID_NOT_FOUND for unknown or classic groups).
    pub async fn consumer_describe(&self, group_id: &str) -> consumer::GroupDescription {
        let g = group_id.to_string();
        let partition = self.partition_for(group_id);
        // The shard's status answers NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS for partitions this
        // broker does not (yet) serve.
        let described = self
            .runtime
            .read(partition, move |s, _| {
                s.consumer_describe(&g, s.topics.as_ref())
            })
            .await
            .map_err(GroupError::from);
        described.unwrap_or_else(|e| consumer::GroupDescription::not_found(group_id, e, None))
    }

    /// Consumer (KIP-848) groups across all shards with their state names, by group id.
    pub async fn list_consumer_groups(&self) -> Result<Vec<(String, &'static str)>, GroupError> {
        let mut all = Vec::new();
        for partition in 0..self.runtime.partitions() {
            all.extend(
                self.runtime
                    .read(partition, |s, _| s.list_consumer_groups())
                    .await?,
            );
        }
        all.sort();
        Ok(all)
    }

    /// Stops the shard tasks (parked requests get COORDINATOR_NOT_AVAILABLE).
    pub async fn shutdown(&self) {
        self.runtime.shutdown().await;
    }
}

#[cfg(test)]
impl GroupCoordinator {
    /// Makes the task of `group_id`'s shard panic (supervision tests).
    pub(crate) async fn crash_shard_of(&self, group_id: &str) -> Result<(), GroupError> {
        self.call(group_id, |_, _, _: tokio::sync::oneshot::Sender<()>| {
            panic!("injected shard failure")
        })
        .await
    }
}
