//! The classic group coordinator on the coordinator runtime: one [`GroupShard`] per
//! `__consumer_offsets` partition holds that partition's groups, applies Kafka's classic-group rules,
//! runs their timers through [`Ctx`] and asks for records to be appended.
//!
//! Committed offsets are replayed state ([`Offsets`]): a commit, an offset deletion or expiry appends
//! records that the runtime replays, so a failed append reverts them. Classic group membership is live
//! state (parked replies, timers) that the rules change directly, as Kafka's `GroupMetadataManager` does;
//! its GroupMetadata records are written for the next load (`replay = false`), and what to do when such an
//! append fails is the write's `then` callback.
//!
//! This file holds the shard, its timers and small helpers; the rules are in `join`, `members`,
//! `offsets`, `admin`, `stored` (append completions) and `replay` (records in and out).

// The rule files (`join`, `members`, `offsets`, `admin`, `stored`, `replay`) extend `GroupShard` and share
// these names through `use super::shard::*`.
pub(super) use std::collections::HashMap;
pub(super) use std::sync::Arc;

pub(super) use bytes::Bytes;
pub(super) use tokio::sync::oneshot;
pub(super) use tokio::time::Instant;

pub(super) use super::classic::{
    ClassicGroup, CommittedOffset, JoinTimer, Member, CONSUMER_PROTOCOL_TYPE,
};
pub(super) use super::records::{
    self, GroupMetadataValue, MemberRecord, OffsetCommitValue, RecordKey,
};
pub(super) use super::replay::{group_record, tombstones};
pub(super) use super::state::GroupState;
pub(super) use super::{
    FetchedOffset, GroupConfig, GroupDescription, GroupError, GroupListing, HeartbeatRequest,
    JoinGroupRequest, JoinGroupResult, LeavingMember, MemberDescription, OffsetCommitRequest,
    OffsetsRecord, PartitionResult, Protocol, SyncGroupRequest, SyncGroupResult, TopicLookup,
};
pub(super) use crate::coordinator::{CoordinatorShard, Ctx, Record};

/// The runtime context of a group shard.
pub type GCtx = Ctx<GroupShard>;

/// Committed offsets per group, then per (topic, partition). Persistent maps: the runtime's snapshot
/// before each write is an O(1) clone.
pub type Offsets = imbl::HashMap<String, imbl::HashMap<(String, i32), CommittedOffset>>;

/// The replayed offsets of a partition: committed ones, and those of open transactions
/// (TxnOffsetCommit), which a commit marker makes committed and an abort marker drops.
#[derive(Debug, Clone, Default)]
pub struct OffsetsState {
    /// Committed offsets.
    pub committed: Offsets,
    /// Pending transactional offsets per producer id (Kafka's `pendingTransactionalOffsets`).
    pub pending: imbl::HashMap<i64, Offsets>,
    /// Offset records replayed so far: each record's number is its place in the partition, which is
    /// what Kafka's record offset decides with (the newer of a transactional and a plain commit wins).
    pub replayed: u64,
    /// The live consumer (KIP-848) groups of this partition. Operations change them directly (their
    /// records are written for the next load); they live in the snapshotted state so that a failed
    /// append reverts them with everything else the operation did.
    pub consumer: imbl::HashMap<String, super::consumer::ConsumerGroup>,
}

impl OffsetsState {
    /// Whether an open transaction holds an offset for this partition of `group_id`.
    pub fn has_pending(&self, group_id: &str, topic: &str, partition: i32) -> bool {
        let key = (topic.to_string(), partition);
        self.pending
            .values()
            .any(|o| o.get(group_id).is_some_and(|g| g.contains_key(&key)))
    }

    /// Partitions of `group_id` with committed or pending offsets (what deleting the group tombstones).
    pub fn keys_of(&self, group_id: &str) -> Vec<(String, i32)> {
        let mut out: Vec<(String, i32)> = self
            .committed
            .get(group_id)
            .into_iter()
            .chain(self.pending.values().filter_map(|o| o.get(group_id)))
            .flat_map(|o| o.keys().cloned())
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// What a timer entry does when it fires. Entries are never removed; stale ones are recognised by id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Timer {
    /// Session expiry check of a member.
    Heartbeat {
        group: String,
        member: String,
        id: u64,
    },
    /// Expiry of a member id handed out with MEMBER_ID_REQUIRED.
    Pending {
        group: String,
        member: String,
        id: u64,
    },
    /// Rebalance completion (initial delay or rebalance timeout).
    Join { group: String, id: u64 },
    /// Members that did not SyncGroup within the rebalance timeout.
    Sync { group: String, id: u64 },
    /// Periodic offset-retention sweep.
    Retention,
    /// A deadline of a consumer-group (KIP-848) member: the member is removed if it is still current.
    Consumer {
        group: String,
        member: String,
        id: u64,
        kind: ConsumerDeadline,
    },
}

/// Which deadline of a consumer-group member a [`Timer::Consumer`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ConsumerDeadline {
    /// Its session expired.
    Session,
    /// It did not revoke partitions within its rebalance timeout.
    Revocation,
    /// A classic member told to rejoin did not send JoinGroup within its rebalance timeout.
    ClassicJoin,
    /// A classic member did not send SyncGroup within its rebalance timeout after joining.
    ClassicSync,
}

/// What a static member's rejoin needs once its record's append resolved (Kafka captures the same in
/// the append future's closure): the new member's answer, or the old member id to put back.
pub struct StaticRejoin {
    /// Group id.
    pub(super) group_id: String,
    /// The replacing member id.
    pub(super) new_member_id: String,
    /// The replaced member id (restored if the append failed).
    pub(super) old_member_id: String,
    /// Protocols before the rejoin (restored if the append failed).
    pub(super) old_protocols: Vec<Protocol>,
    /// Rebalance timeout before the rejoin.
    pub(super) old_rebalance_timeout_ms: i32,
    /// Session timeout before the rejoin.
    pub(super) old_session_timeout_ms: i32,
    /// The leader before the replacement (returned to pre-KIP-814 clients).
    pub(super) previous_leader: String,
    /// The client understands `skip_assignment` (JoinGroup v9+).
    pub(super) supports_skip_assignment: bool,
}

/// The groups of one `__consumer_offsets` partition.
pub struct GroupShard {
    /// Settings.
    pub(super) config: Arc<GroupConfig>,
    /// Topic existence for commits.
    pub(super) topics: Arc<dyn TopicLookup>,
    /// The live classic groups of this partition.
    pub(super) groups: HashMap<String, ClassicGroup>,
    /// Committed and pending transactional offsets (replayed state) and the consumer groups.
    pub(super) offsets: OffsetsState,
}

pub(super) fn ms(d: i64) -> std::time::Duration {
    crate::coordinator::ms(d)
}

impl CoordinatorShard for GroupShard {
    type State = OffsetsState;
    type Timer = Timer;

    fn state(&self) -> &OffsetsState {
        &self.offsets
    }

    fn state_mut(&mut self) -> &mut OffsetsState {
        &mut self.offsets
    }

    fn replay(&mut self, record: &Record, producer_id: Option<i64>, now_ms: i64) {
        self.replay_record(record, producer_id, now_ms);
    }

    fn replay_end_txn(&mut self, producer_id: i64, commit: bool) {
        self.replay_txn_marker(producer_id, commit);
    }

    /// Loaded members must heartbeat within their session timeout; the retention sweep starts.
    fn on_loaded(&mut self, ctx: &mut GCtx) {
        let loaded: Vec<(String, String, i32)> = self
            .groups
            .values()
            .flat_map(|g| {
                g.members.values().map(|m| {
                    (
                        g.group_id.clone(),
                        m.member_id.clone(),
                        m.session_timeout_ms,
                    )
                })
            })
            .collect();
        for (group, member, session_ms) in loaded {
            if let Some(mut g) = self.groups.remove(&group) {
                self.arm_heartbeat(ctx, &mut g, &member, i64::from(session_ms));
                self.groups.insert(group, g);
            }
        }
        self.consumer_loaded(ctx);
        ctx.schedule_in(
            self.config.offsets_retention_check_interval_ms,
            Timer::Retention,
        );
        tracing::debug!(
            partition = ctx.partition(),
            groups = self.groups.len(),
            "group shard loaded"
        );
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut GCtx) {
        let now = ctx.now();
        self.fire(ctx, timer, now);
    }
}

impl GroupShard {
    /// A shard with no groups yet (the runtime replays its partition into it).
    pub fn new(config: Arc<GroupConfig>, topics: Arc<dyn TopicLookup>) -> Self {
        GroupShard {
            config,
            topics,
            groups: HashMap::new(),
            offsets: OffsetsState::default(),
        }
    }

    /// Whether `group_id` has committed offsets or offsets in an open transaction (live state, pending
    /// writes included).
    pub(super) fn has_offsets(&self, group_id: &str) -> bool {
        let has = |o: &Offsets| o.get(group_id).is_some_and(|g| !g.is_empty());
        has(&self.offsets.committed) || self.offsets.pending.values().any(has)
    }

    /// Returns a group taken out with `groups.remove` unless it is dead or holds nothing worth keeping.
    pub(super) fn put_back(&mut self, g: ClassicGroup) {
        if g.is(GroupState::Dead) || g.is_disposable(self.has_offsets(&g.group_id)) {
            return;
        }
        self.groups.insert(g.group_id.clone(), g);
    }

    // ---------------------------------------------------------------- timers

    pub(super) fn fire(&mut self, ctx: &mut GCtx, timer: Timer, now: Instant) {
        match timer {
            Timer::Heartbeat { group, member, id } => {
                let Some(mut g) = self.groups.remove(&group) else {
                    return;
                };
                let state = g
                    .members
                    .get(&member)
                    .filter(|m| m.heartbeat_timer_id == id)
                    .map(|m| {
                        (
                            m.keeps_alive(now),
                            m.heartbeat_deadline,
                            m.session_timeout_ms,
                        )
                    });
                match state {
                    Some((true, deadline, session_ms)) => {
                        let at = if deadline > now {
                            deadline
                        } else {
                            now + ms(i64::from(session_ms))
                        };
                        if let Some(m) = g.members.get_mut(&member) {
                            m.heartbeat_timer_at = at;
                        }
                        ctx.schedule(at, Timer::Heartbeat { group, member, id });
                    }
                    Some((false, _, _)) => {
                        tracing::info!(group = %g.group_id, member = %member, "member session expired");
                        self.remove_member_and_update_group(ctx, &mut g, &member);
                    }
                    None => {}
                }
                self.put_back(g);
            }
            Timer::Pending { group, member, id } => {
                let Some(mut g) = self.groups.remove(&group) else {
                    return;
                };
                if g.pending_members.get(&member) == Some(&id) {
                    g.pending_members.remove(&member);
                    if g.is(GroupState::PreparingRebalance) {
                        self.try_complete_join(ctx, &mut g);
                    }
                }
                self.put_back(g);
            }
            Timer::Join { group, id } => {
                let Some(mut g) = self.groups.remove(&group) else {
                    return;
                };
                match g.join_timer {
                    Some(JoinTimer::Initial {
                        id: current,
                        delay_ms,
                        configured_delay_ms,
                        remaining_ms,
                    }) if current == id => {
                        if g.new_member_added && remaining_ms != 0 {
                            g.new_member_added = false;
                            let delay = configured_delay_ms.min(remaining_ms);
                            let remaining = (remaining_ms - delay_ms).max(0);
                            let id = ctx.next_id();
                            g.join_timer = Some(JoinTimer::Initial {
                                id,
                                delay_ms: delay,
                                configured_delay_ms,
                                remaining_ms: remaining,
                            });
                            ctx.schedule(
                                now + ms(delay),
                                Timer::Join {
                                    group: g.group_id.clone(),
                                    id,
                                },
                            );
                        } else {
                            self.on_complete_join(ctx, &mut g);
                        }
                    }
                    Some(JoinTimer::Regular { id: current }) if current == id => {
                        self.on_complete_join(ctx, &mut g)
                    }
                    _ => {}
                }
                self.put_back(g);
            }
            Timer::Sync { group, id } => {
                let Some(mut g) = self.groups.remove(&group) else {
                    return;
                };
                if g.sync_timer == Some(id) {
                    g.sync_timer = None;
                    if (g.is(GroupState::CompletingRebalance) || g.is(GroupState::Stable))
                        && !g.pending_sync.is_empty()
                    {
                        let pending: Vec<String> = g.pending_sync.iter().cloned().collect();
                        tracing::info!(group = %g.group_id, ?pending, "members did not sync in time");
                        for member in pending {
                            if let Some(m) = g.remove_member(&member) {
                                answer_removed(m);
                            }
                        }
                        self.prepare_rebalance(ctx, &mut g);
                    }
                }
                self.put_back(g);
            }
            Timer::Consumer {
                group,
                member,
                id,
                kind,
            } => self.consumer_timer(ctx, group, member, id, kind),
            Timer::Retention => {
                self.expire_offsets(ctx);
                ctx.schedule(
                    now + ms(self.config.offsets_retention_check_interval_ms),
                    Timer::Retention,
                );
            }
        }
    }

    /// Kafka's `completeAndScheduleNextExpiration`: the member must heartbeat within `timeout_ms`.
    pub(super) fn arm_heartbeat(
        &mut self,
        ctx: &mut GCtx,
        g: &mut ClassicGroup,
        member_id: &str,
        timeout_ms: i64,
    ) {
        let deadline = Instant::now() + ms(timeout_ms);
        let Some(m) = g.members.get_mut(member_id) else {
            return;
        };
        m.heartbeat_deadline = deadline;
        if m.heartbeat_timer_id == 0 || deadline < m.heartbeat_timer_at {
            let id = ctx.next_id();
            m.heartbeat_timer_id = id;
            m.heartbeat_timer_at = deadline;
            ctx.schedule(
                deadline,
                Timer::Heartbeat {
                    group: g.group_id.clone(),
                    member: member_id.to_string(),
                    id,
                },
            );
        }
    }
}

/// Answers whatever a removed member had parked.
pub(super) fn answer_removed(mut m: Member) {
    if let Some(tx) = m.awaiting_join.take() {
        let _ = tx.send(JoinGroupResult::error(
            String::new(),
            GroupError::UnknownMemberId,
        ));
    }
    if let Some(tx) = m.awaiting_sync.take() {
        let _ = tx.send(SyncGroupResult::error(GroupError::UnknownMemberId));
    }
}

/// A successful JoinGroup reply describing the current generation.
pub(super) fn current_generation_result(
    g: &ClassicGroup,
    member_id: &str,
    members: Vec<super::JoinedMember>,
) -> JoinGroupResult {
    JoinGroupResult {
        error: None,
        member_id: member_id.to_string(),
        generation_id: g.generation_id,
        protocol_type: g.protocol_type.clone(),
        protocol_name: g.protocol_name.clone(),
        leader_id: g.leader_or_empty(),
        skip_assignment: false,
        members,
    }
}

/// Kafka's `resetAndPropagateAssignmentError`: clear assignments, fail parked syncs.
pub(super) fn reset_and_propagate_assignment_error(g: &mut ClassicGroup, error: GroupError) {
    let ids: Vec<String> = g.members.keys().cloned().collect();
    for id in ids {
        if let Some(m) = g.members.get_mut(&id) {
            m.assignment = Bytes::new();
        }
        g.complete_sync(&id, SyncGroupResult::error(error.clone()));
    }
}

/// Kafka's `replaceStaticMember`: move a static member to a new member id, fencing parked requests of
/// the old id when `fence` is set.
pub(super) fn replace_member_id(
    g: &mut ClassicGroup,
    instance: &str,
    old_id: &str,
    new_id: &str,
    fence: bool,
) {
    let Some(mut m) = g.members.remove(old_id) else {
        return;
    };
    if fence {
        if let Some(tx) = m.awaiting_join.take() {
            g.num_awaiting_join -= 1;
            let _ = tx.send(JoinGroupResult::error(
                old_id.to_string(),
                GroupError::FencedInstanceId,
            ));
        }
        if let Some(tx) = m.awaiting_sync.take() {
            let _ = tx.send(SyncGroupResult::error(GroupError::FencedInstanceId));
        }
    }
    m.member_id = new_id.to_string();
    m.heartbeat_timer_id = 0;
    g.members.insert(new_id.to_string(), m);
    if g.is_leader(old_id) {
        g.leader_id = Some(new_id.to_string());
    }
    g.static_members
        .insert(instance.to_string(), new_id.to_string());
    if g.pending_sync.remove(old_id) {
        g.pending_sync.insert(new_id.to_string());
    }
}
