//! The classic group coordinator on the coordinator runtime: one [`GroupShard`] per
//! `__consumer_offsets` partition holds that partition's groups, applies Kafka's classic-group rules,
//! runs their timers through [`Ctx`] and asks for records to be appended.
//!
//! Committed offsets are replayed state ([`Offsets`]): a commit, an offset deletion or expiry appends
//! records that the runtime replays, so a failed append reverts them. Classic group membership is live
//! state (parked replies, timers) that the rules change directly, as Kafka's `GroupMetadataManager` does;
//! its GroupMetadata records are written for the next load (`replay = false`), and what to do when such an
//! append fails is the write's `then` callback.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::classic::{ClassicGroup, CommittedOffset, JoinTimer, Member, CONSUMER_PROTOCOL_TYPE};
use super::records::{self, GroupMetadataValue, MemberRecord, OffsetCommitValue, RecordKey};
use super::state::GroupState;
use super::{
    FetchedOffset, GroupConfig, GroupDescription, GroupError, GroupListing, HeartbeatRequest,
    JoinGroupRequest, JoinGroupResult, LeavingMember, MemberDescription, OffsetCommitRequest,
    OffsetsRecord, PartitionResult, Protocol, SyncGroupRequest, SyncGroupResult, TopicLookup,
};
use crate::coordinator::{CoordinatorShard, Ctx, Record};

/// The runtime context of a group shard.
pub type GCtx = Ctx<GroupShard>;

/// Committed offsets per group, then per (topic, partition). Persistent maps: the runtime's snapshot
/// before each write is an O(1) clone.
pub type Offsets = imbl::HashMap<String, imbl::HashMap<(String, i32), CommittedOffset>>;

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
}

/// What a static member's rejoin needs once its record's append resolved (Kafka captures the same in
/// the append future's closure): the new member's answer, or the old member id to put back.
pub struct StaticRejoin {
    /// Group id.
    group_id: String,
    /// The replacing member id.
    new_member_id: String,
    /// The replaced member id (restored if the append failed).
    old_member_id: String,
    /// Protocols before the rejoin (restored if the append failed).
    old_protocols: Vec<Protocol>,
    /// Rebalance timeout before the rejoin.
    old_rebalance_timeout_ms: i32,
    /// Session timeout before the rejoin.
    old_session_timeout_ms: i32,
    /// The leader before the replacement (returned to pre-KIP-814 clients).
    previous_leader: String,
    /// The client understands `skip_assignment` (JoinGroup v9+).
    supports_skip_assignment: bool,
}

/// The groups of one `__consumer_offsets` partition.
pub struct GroupShard {
    /// Settings.
    config: Arc<GroupConfig>,
    /// Topic existence for commits.
    topics: Arc<dyn TopicLookup>,
    /// The live classic groups of this partition.
    groups: HashMap<String, ClassicGroup>,
    /// Committed offsets (replayed state).
    offsets: Offsets,
}

fn ms(d: i64) -> std::time::Duration {
    crate::coordinator::ms(d)
}

impl CoordinatorShard for GroupShard {
    type State = Offsets;
    type Timer = Timer;

    fn state(&self) -> &Offsets {
        &self.offsets
    }

    fn state_mut(&mut self) -> &mut Offsets {
        &mut self.offsets
    }

    fn replay(&mut self, record: &Record, now_ms: i64) {
        self.replay_record(record, now_ms);
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
            offsets: Offsets::new(),
        }
    }

    /// Whether `group_id` has committed offsets (live state, pending writes included).
    fn has_offsets(&self, group_id: &str) -> bool {
        self.offsets.get(group_id).is_some_and(|o| !o.is_empty())
    }

    /// Returns a group taken out with `groups.remove` unless it is dead or holds nothing worth keeping.
    fn put_back(&mut self, g: ClassicGroup) {
        if g.is(GroupState::Dead) || g.is_disposable(self.has_offsets(&g.group_id)) {
            return;
        }
        self.groups.insert(g.group_id.clone(), g);
    }

    // ---------------------------------------------------------------- timers

    fn fire(&mut self, ctx: &mut GCtx, timer: Timer, now: Instant) {
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
    fn arm_heartbeat(
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

    // ---------------------------------------------------------------- join

    pub fn join(
        &mut self,
        ctx: &mut GCtx,
        req: JoinGroupRequest,
        reply: oneshot::Sender<JoinGroupResult>,
    ) {
        let fail = |reply: oneshot::Sender<JoinGroupResult>, id: &str, e| {
            let _ = reply.send(JoinGroupResult::error(id.to_string(), e));
        };
        if req.group_id.is_empty() {
            return fail(reply, &req.member_id, GroupError::InvalidGroupId);
        }
        if req.session_timeout_ms < self.config.group_min_session_timeout_ms
            || req.session_timeout_ms > self.config.group_max_session_timeout_ms
        {
            return fail(reply, &req.member_id, GroupError::InvalidSessionTimeout);
        }
        let is_unknown = req.member_id.is_empty();
        let now_ms = ctx.now_ms();
        let mut g = match self.groups.remove(&req.group_id) {
            Some(g) => g,
            None if is_unknown => ClassicGroup::new(req.group_id.clone(), now_ms),
            None => return fail(reply, &req.member_id, GroupError::UnknownMemberId),
        };
        if !self.accept_joining_member(&g, &req.member_id) {
            if g.members.contains_key(&req.member_id) {
                self.remove_member_and_update_group(ctx, &mut g, &req.member_id);
            }
            fail(reply, "", GroupError::GroupMaxSizeReached);
        } else if is_unknown {
            self.new_member_join(ctx, &mut g, req, reply);
        } else {
            self.current_member_join(ctx, &mut g, req, reply);
        }
        if g.is(GroupState::PreparingRebalance) {
            self.try_complete_join(ctx, &mut g);
        }
        self.put_back(g);
    }

    fn accept_joining_member(&self, g: &ClassicGroup, member_id: &str) -> bool {
        let max = self.config.group_max_size;
        match g.state {
            GroupState::Empty | GroupState::Dead => true,
            GroupState::PreparingRebalance => {
                g.members
                    .get(member_id)
                    .is_some_and(|m| m.awaiting_join.is_some())
                    || g.num_awaiting_join < max
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                g.members.contains_key(member_id) || g.members.len() < max
            }
        }
    }

    fn new_member_join(
        &mut self,
        ctx: &mut GCtx,
        g: &mut ClassicGroup,
        req: JoinGroupRequest,
        reply: oneshot::Sender<JoinGroupResult>,
    ) {
        if g.is(GroupState::Dead) {
            let _ = reply.send(JoinGroupResult::error(
                req.member_id,
                GroupError::CoordinatorNotAvailable,
            ));
            return;
        }
        if !g.supports_protocols(&req.protocol_type, &req.protocols) {
            let _ = reply.send(JoinGroupResult::error(
                req.member_id,
                GroupError::InconsistentGroupProtocol,
            ));
            return;
        }
        let new_member_id = format!("{}-{}", req.client_id, uuid::Uuid::new_v4());
        if let Some(instance) = req.group_instance_id.clone() {
            match g.static_members.get(&instance).cloned() {
                Some(old_member_id) => self.update_static_member_and_rebalance(
                    ctx,
                    g,
                    req,
                    old_member_id,
                    new_member_id,
                    reply,
                ),
                None => self.add_member_and_rebalance(ctx, g, req, new_member_id, reply),
            }
        } else if req.require_known_member_id {
            let id = ctx.next_id();
            g.pending_members.insert(new_member_id.clone(), id);
            ctx.schedule(
                Instant::now() + ms(i64::from(req.session_timeout_ms)),
                Timer::Pending {
                    group: g.group_id.clone(),
                    member: new_member_id.clone(),
                    id,
                },
            );
            let _ = reply.send(JoinGroupResult::error(
                new_member_id,
                GroupError::MemberIdRequired,
            ));
        } else {
            self.add_member_and_rebalance(ctx, g, req, new_member_id, reply);
        }
    }

    fn current_member_join(
        &mut self,
        ctx: &mut GCtx,
        g: &mut ClassicGroup,
        req: JoinGroupRequest,
        reply: oneshot::Sender<JoinGroupResult>,
    ) {
        let member_id = req.member_id.clone();
        let fail = |reply: oneshot::Sender<JoinGroupResult>, e| {
            let _ = reply.send(JoinGroupResult::error(member_id.clone(), e));
        };
        if g.is(GroupState::Dead) {
            return fail(reply, GroupError::CoordinatorNotAvailable);
        }
        if !g.supports_protocols(&req.protocol_type, &req.protocols) {
            return fail(reply, GroupError::InconsistentGroupProtocol);
        }
        if g.pending_members.contains_key(&member_id) {
            if req.group_instance_id.is_some() {
                // Pending ids are only handed to dynamic members.
                return fail(reply, GroupError::UnknownMemberId);
            }
            return self.add_member_and_rebalance(ctx, g, req, member_id.clone(), reply);
        }
        let instance = req.group_instance_id.as_deref();
        let instance_unknown = instance.is_some_and(|i| !g.static_members.contains_key(i));
        if g.is_static_member_fenced(instance, &member_id) {
            return fail(reply, GroupError::FencedInstanceId);
        }
        if !g.members.contains_key(&member_id) || instance_unknown {
            return fail(reply, GroupError::UnknownMemberId);
        }
        let matches = g.members[&member_id].matches(&req.protocols);
        match g.state {
            GroupState::PreparingRebalance => self.update_member_and_rebalance(ctx, g, req, reply),
            GroupState::CompletingRebalance => {
                if matches {
                    let members = if g.is_leader(&member_id) {
                        g.current_member_metadata()
                    } else {
                        Vec::new()
                    };
                    let _ = reply.send(current_generation_result(g, &member_id, members));
                } else {
                    self.update_member_and_rebalance(ctx, g, req, reply);
                }
            }
            GroupState::Stable => {
                if g.is_leader(&member_id) || !matches {
                    self.update_member_and_rebalance(ctx, g, req, reply);
                } else {
                    let _ = reply.send(current_generation_result(g, &member_id, Vec::new()));
                }
            }
            GroupState::Empty | GroupState::Dead => fail(reply, GroupError::UnknownMemberId),
        }
    }

    fn add_member_and_rebalance(
        &mut self,
        ctx: &mut GCtx,
        g: &mut ClassicGroup,
        req: JoinGroupRequest,
        member_id: String,
        reply: oneshot::Sender<JoinGroupResult>,
    ) {
        let member = Member {
            member_id: member_id.clone(),
            group_instance_id: req.group_instance_id,
            client_id: req.client_id,
            client_host: req.client_host,
            rebalance_timeout_ms: req.rebalance_timeout_ms,
            session_timeout_ms: req.session_timeout_ms,
            protocol_type: req.protocol_type,
            protocols: req.protocols,
            assignment: Bytes::new(),
            awaiting_join: Some(reply),
            awaiting_sync: None,
            is_new: true,
            heartbeat_deadline: Instant::now(),
            heartbeat_timer_id: 0,
            heartbeat_timer_at: Instant::now(),
        };
        if g.is(GroupState::PreparingRebalance) && g.generation_id == 0 {
            g.new_member_added = true;
        }
        g.add_member(member);
        self.arm_heartbeat(ctx, g, &member_id, self.config.new_member_join_timeout_ms);
        tracing::debug!(group = %g.group_id, member = %member_id, reason = ?req.reason, "member added");
        self.maybe_prepare_rebalance(ctx, g);
    }

    fn update_member_and_rebalance(
        &mut self,
        ctx: &mut GCtx,
        g: &mut ClassicGroup,
        req: JoinGroupRequest,
        reply: oneshot::Sender<JoinGroupResult>,
    ) {
        g.update_member(
            &req.member_id,
            req.protocols,
            req.rebalance_timeout_ms,
            req.session_timeout_ms,
            Some(reply),
        );
        self.maybe_prepare_rebalance(ctx, g);
    }

    /// Kafka's `updateStaticMemberAndRebalance`: a static member came back with a new member id.
    fn update_static_member_and_rebalance(
        &mut self,
        ctx: &mut GCtx,
        g: &mut ClassicGroup,
        req: JoinGroupRequest,
        old_member_id: String,
        new_member_id: String,
        reply: oneshot::Sender<JoinGroupResult>,
    ) {
        let previous_leader = g.leader_or_empty();
        let instance = req.group_instance_id.clone().expect("static member");
        let Some(old) = g.members.get(&old_member_id) else {
            let _ = reply.send(JoinGroupResult::error(
                new_member_id,
                GroupError::UnknownMemberId,
            ));
            return;
        };
        let (old_protocols, old_rebalance_timeout_ms, old_session_timeout_ms) = (
            old.protocols.clone(),
            old.rebalance_timeout_ms,
            old.session_timeout_ms,
        );
        replace_member_id(g, &instance, &old_member_id, &new_member_id, true);
        self.arm_heartbeat(ctx, g, &new_member_id, i64::from(req.session_timeout_ms));
        g.update_member(
            &new_member_id,
            req.protocols,
            req.rebalance_timeout_ms,
            req.session_timeout_ms,
            Some(reply),
        );
        match g.state {
            GroupState::Stable => {
                if g.select_protocol() == g.protocol_name {
                    tracing::info!(group = %g.group_id, instance = %instance, old = %old_member_id,
                        new = %new_member_id, "static member rejoined; no rebalance");
                    let record = group_record(g, None);
                    let rejoin = StaticRejoin {
                        group_id: g.group_id.clone(),
                        new_member_id,
                        old_member_id,
                        old_protocols,
                        old_rebalance_timeout_ms,
                        old_session_timeout_ms,
                        previous_leader,
                        supports_skip_assignment: req.supports_skip_assignment,
                    };
                    ctx.append(
                        vec![record],
                        false,
                        Some(Box::new(move |s: &mut GroupShard, result, ctx| {
                            s.static_rejoin_stored(ctx, rejoin, result.map_err(GroupError::from))
                        })),
                    );
                } else {
                    self.maybe_prepare_rebalance(ctx, g);
                }
            }
            GroupState::CompletingRebalance => self.prepare_rebalance(ctx, g),
            GroupState::PreparingRebalance => {}
            GroupState::Empty | GroupState::Dead => {
                debug_assert!(false, "static member in a group without members");
            }
        }
    }

    fn maybe_prepare_rebalance(&mut self, ctx: &mut GCtx, g: &mut ClassicGroup) {
        if GroupState::PreparingRebalance.can_follow(g.state) {
            self.prepare_rebalance(ctx, g);
        }
    }

    fn prepare_rebalance(&mut self, ctx: &mut GCtx, g: &mut ClassicGroup) {
        if g.is(GroupState::CompletingRebalance) {
            reset_and_propagate_assignment_error(g, GroupError::RebalanceInProgress);
        }
        g.sync_timer = None;
        g.pending_sync.clear();
        let was_empty = g.is(GroupState::Empty);
        g.transition_to(GroupState::PreparingRebalance, ctx.now_ms());
        let id = ctx.next_id();
        let now = Instant::now();
        if was_empty {
            let delay_ms = self.config.group_initial_rebalance_delay_ms;
            g.join_timer = Some(JoinTimer::Initial {
                id,
                delay_ms,
                configured_delay_ms: delay_ms,
                remaining_ms: (g.rebalance_timeout_ms() - delay_ms).max(0),
            });
            ctx.schedule(
                now + ms(delay_ms),
                Timer::Join {
                    group: g.group_id.clone(),
                    id,
                },
            );
        } else {
            g.join_timer = Some(JoinTimer::Regular { id });
            ctx.schedule(
                now + ms(g.rebalance_timeout_ms()),
                Timer::Join {
                    group: g.group_id.clone(),
                    id,
                },
            );
        }
        tracing::info!(group = %g.group_id, generation = g.generation_id, "preparing to rebalance");
    }

    /// Kafka's `DelayedJoin.tryComplete`: finish the join phase early once everyone is in.
    fn try_complete_join(&mut self, ctx: &mut GCtx, g: &mut ClassicGroup) {
        if g.is(GroupState::PreparingRebalance)
            && matches!(g.join_timer, Some(JoinTimer::Regular { .. }))
            && g.has_all_members_joined()
        {
            self.on_complete_join(ctx, g);
        }
    }

    /// Kafka's `onCompleteJoin`: drop members that did not rejoin, start the next generation, answer
    /// the parked joins.
    fn on_complete_join(&mut self, ctx: &mut GCtx, g: &mut ClassicGroup) {
        g.join_timer = None;
        let not_rejoined: Vec<String> = g
            .members
            .values()
            .filter(|m| m.awaiting_join.is_none() && m.group_instance_id.is_none())
            .map(|m| m.member_id.clone())
            .collect();
        for member_id in not_rejoined {
            if let Some(m) = g.remove_member(&member_id) {
                answer_removed(m);
            }
        }
        if !g.elect_joined_leader() && !g.members.is_empty() {
            tracing::warn!(group = %g.group_id, "no members rejoined; waiting for session timeouts");
            let id = ctx.next_id();
            g.join_timer = Some(JoinTimer::Regular { id });
            ctx.schedule(
                Instant::now() + ms(g.rebalance_timeout_ms()),
                Timer::Join {
                    group: g.group_id.clone(),
                    id,
                },
            );
            return;
        }
        g.generation_id += 1;
        let now_ms = ctx.now_ms();
        if g.members.is_empty() {
            g.protocol_name = None;
            g.leader_id = None;
            g.compute_subscribed_topics();
            g.transition_to(GroupState::Empty, now_ms);
            tracing::info!(group = %g.group_id, generation = g.generation_id, "group is now empty");
            let record = group_record(g, None);
            let group_id = g.group_id.clone();
            ctx.append(
                vec![record],
                false,
                Some(Box::new(move |_: &mut GroupShard, result, _| {
                    if let Err(e) = result {
                        tracing::warn!(group = %group_id, error = %e, "failed to store empty group");
                    }
                })),
            );
            return;
        }
        g.protocol_name = g.select_protocol();
        g.compute_subscribed_topics();
        g.transition_to(GroupState::CompletingRebalance, now_ms);
        tracing::info!(group = %g.group_id, generation = g.generation_id,
            members = g.members.len(), "join phase complete");
        let ids: Vec<String> = g.members.keys().cloned().collect();
        let all_metadata = g.current_member_metadata();
        for member_id in &ids {
            let members = if g.is_leader(member_id) {
                all_metadata.clone()
            } else {
                Vec::new()
            };
            let result = current_generation_result(g, member_id, members);
            g.complete_join(member_id, result);
            let session_ms = {
                let m = g.members.get_mut(member_id).expect("member listed");
                m.is_new = false;
                m.session_timeout_ms
            };
            self.arm_heartbeat(ctx, g, member_id, i64::from(session_ms));
        }
        g.pending_sync = ids.into_iter().collect();
        let id = ctx.next_id();
        g.sync_timer = Some(id);
        ctx.schedule(
            Instant::now() + ms(g.rebalance_timeout_ms()),
            Timer::Sync {
                group: g.group_id.clone(),
                id,
            },
        );
    }

    /// Kafka's `removeMemberAndUpdateGroup`.
    fn remove_member_and_update_group(
        &mut self,
        ctx: &mut GCtx,
        g: &mut ClassicGroup,
        member_id: &str,
    ) {
        if let Some(m) = g.remove_member(member_id) {
            answer_removed(m);
        }
        match g.state {
            GroupState::Dead | GroupState::Empty => {}
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.maybe_prepare_rebalance(ctx, g)
            }
            GroupState::PreparingRebalance => self.try_complete_join(ctx, g),
        }
    }

    // ---------------------------------------------------------------- sync

    pub fn sync(
        &mut self,
        ctx: &mut GCtx,
        req: SyncGroupRequest,
        reply: oneshot::Sender<SyncGroupResult>,
    ) {
        let fail = |reply: oneshot::Sender<SyncGroupResult>, e| {
            let _ = reply.send(SyncGroupResult::error(e));
        };
        if req.group_id.is_empty() {
            return fail(reply, GroupError::InvalidGroupId);
        }
        let Some(mut g) = self.groups.remove(&req.group_id) else {
            return fail(reply, GroupError::UnknownMemberId);
        };
        let instance = req.group_instance_id.as_deref();
        if g.is(GroupState::Dead) {
            fail(reply, GroupError::CoordinatorNotAvailable);
        } else if g.is_static_member_fenced(instance, &req.member_id) {
            fail(reply, GroupError::FencedInstanceId);
        } else if !g.members.contains_key(&req.member_id) {
            fail(reply, GroupError::UnknownMemberId);
        } else if req.generation_id != g.generation_id {
            fail(reply, GroupError::IllegalGeneration);
        } else if req
            .protocol_type
            .as_ref()
            .is_some_and(|t| g.protocol_type.as_ref() != Some(t))
            || req
                .protocol_name
                .as_ref()
                .is_some_and(|n| g.protocol_name.as_ref() != Some(n))
        {
            fail(reply, GroupError::InconsistentGroupProtocol);
        } else {
            match g.state {
                GroupState::Empty => fail(reply, GroupError::UnknownMemberId),
                GroupState::PreparingRebalance => fail(reply, GroupError::RebalanceInProgress),
                GroupState::CompletingRebalance => {
                    let m = g.members.get_mut(&req.member_id).expect("checked");
                    if let Some(previous) = m.awaiting_sync.replace(reply) {
                        let _ =
                            previous.send(SyncGroupResult::error(GroupError::RebalanceInProgress));
                    }
                    self.remove_pending_sync(&mut g, &req.member_id);
                    if g.is_leader(&req.member_id) {
                        let mut assignment: HashMap<String, Bytes> = req
                            .assignments
                            .into_iter()
                            .filter(|(id, _)| g.members.contains_key(id))
                            .collect();
                        for id in g.members.keys() {
                            assignment.entry(id.clone()).or_default();
                        }
                        let record = group_record(&g, Some(&assignment));
                        let group_id = g.group_id.clone();
                        let generation_id = g.generation_id;
                        ctx.append(
                            vec![record],
                            false,
                            Some(Box::new(move |s: &mut GroupShard, result, ctx| {
                                let result = result.map_err(GroupError::from);
                                s.assignment_stored(
                                    ctx,
                                    &group_id,
                                    generation_id,
                                    assignment,
                                    result,
                                )
                            })),
                        );
                    }
                }
                GroupState::Stable => {
                    self.remove_pending_sync(&mut g, &req.member_id);
                    let m = &g.members[&req.member_id];
                    let _ = reply.send(SyncGroupResult {
                        error: None,
                        protocol_type: g.protocol_type.clone(),
                        protocol_name: g.protocol_name.clone(),
                        assignment: m.assignment.clone(),
                    });
                    let session_ms = i64::from(m.session_timeout_ms);
                    self.arm_heartbeat(ctx, &mut g, &req.member_id, session_ms);
                }
                GroupState::Dead => unreachable!("checked above"),
            }
        }
        self.put_back(g);
    }

    fn remove_pending_sync(&mut self, g: &mut ClassicGroup, member_id: &str) {
        g.pending_sync.remove(member_id);
        if g.pending_sync.is_empty() {
            g.sync_timer = None;
        }
    }

    // ---------------------------------------------------------------- heartbeat, leave

    pub fn heartbeat(&mut self, ctx: &mut GCtx, req: &HeartbeatRequest) -> Result<(), GroupError> {
        if req.group_id.is_empty() {
            return Err(GroupError::InvalidGroupId);
        }
        let now = Instant::now();
        let g = self
            .groups
            .get_mut(&req.group_id)
            .ok_or(GroupError::UnknownMemberId)?;
        if g.is(GroupState::Dead) {
            return Err(GroupError::CoordinatorNotAvailable);
        }
        if g.is_static_member_fenced(req.group_instance_id.as_deref(), &req.member_id) {
            return Err(GroupError::FencedInstanceId);
        }
        let generation_id = g.generation_id;
        let state = g.state;
        let m = g
            .members
            .get_mut(&req.member_id)
            .ok_or(GroupError::UnknownMemberId)?;
        if req.generation_id != generation_id {
            return Err(GroupError::IllegalGeneration);
        }
        match state {
            GroupState::Empty => Err(GroupError::UnknownMemberId),
            GroupState::CompletingRebalance
            | GroupState::Stable
            | GroupState::PreparingRebalance => {
                // The member's timer entry re-arms itself at a later deadline; only an earlier one
                // (e.g. after the new-member join timeout) needs a new entry.
                let deadline = now + ms(i64::from(m.session_timeout_ms));
                m.heartbeat_deadline = deadline;
                if deadline < m.heartbeat_timer_at {
                    let id = ctx.next_id();
                    m.heartbeat_timer_id = id;
                    m.heartbeat_timer_at = deadline;
                    let timer = Timer::Heartbeat {
                        group: req.group_id.clone(),
                        member: req.member_id.clone(),
                        id,
                    };
                    ctx.schedule(deadline, timer);
                }
                if state == GroupState::PreparingRebalance {
                    Err(GroupError::RebalanceInProgress)
                } else {
                    Ok(())
                }
            }
            GroupState::Dead => Err(GroupError::CoordinatorNotAvailable),
        }
    }

    pub fn leave(
        &mut self,
        ctx: &mut GCtx,
        group_id: &str,
        members: Vec<LeavingMember>,
    ) -> Result<Vec<Option<GroupError>>, GroupError> {
        if group_id.is_empty() {
            return Err(GroupError::InvalidGroupId);
        }
        let Some(mut g) = self.groups.remove(group_id) else {
            return Ok(members
                .iter()
                .map(|_| Some(GroupError::UnknownMemberId))
                .collect());
        };
        if g.is(GroupState::Dead) {
            self.put_back(g);
            return Err(GroupError::CoordinatorNotAvailable);
        }
        let mut results = Vec::with_capacity(members.len());
        for leaving in members {
            let instance = leaving.group_instance_id.as_deref();
            let r = if leaving.member_id.is_empty() {
                match instance.and_then(|i| g.static_members.get(i)).cloned() {
                    Some(current) => {
                        self.remove_member_and_update_group(ctx, &mut g, &current);
                        None
                    }
                    None => Some(GroupError::UnknownMemberId),
                }
            } else if g.pending_members.remove(&leaving.member_id).is_some() {
                if g.is(GroupState::PreparingRebalance) {
                    self.try_complete_join(ctx, &mut g);
                }
                None
            } else if g.is_static_member_fenced(instance, &leaving.member_id) {
                Some(GroupError::FencedInstanceId)
            } else if g.members.contains_key(&leaving.member_id) {
                tracing::info!(group = %g.group_id, member = %leaving.member_id,
                    reason = ?leaving.reason, "member left");
                self.remove_member_and_update_group(ctx, &mut g, &leaving.member_id);
                None
            } else {
                Some(GroupError::UnknownMemberId)
            };
            results.push(r);
        }
        self.put_back(g);
        Ok(results)
    }

    // ---------------------------------------------------------------- offsets

    pub fn commit(
        &mut self,
        ctx: &mut GCtx,
        req: OffsetCommitRequest,
        reply: oneshot::Sender<Vec<PartitionResult>>,
    ) {
        let result_for = |p: &super::PartitionCommit, error| PartitionResult {
            topic: p.topic.clone(),
            partition: p.partition,
            error,
        };
        // Like Kafka, an empty group id is valid for the offset APIs (old consumers used it).
        let group_error: Option<GroupError> = None;
        let now_ms = ctx.now_ms();
        let mut g = match (group_error.is_some(), self.groups.remove(&req.group_id)) {
            (false, Some(g)) => Some(g),
            (false, None) if req.generation_id < 0 => {
                Some(ClassicGroup::new(req.group_id.clone(), now_ms))
            }
            _ => None,
        };
        let group_error = group_error.or_else(|| match &mut g {
            None => Some(GroupError::IllegalGeneration),
            Some(g) => self.validate_commit(ctx, g, &req),
        });
        let mut results = Vec::with_capacity(req.partitions.len());
        let mut records: Vec<OffsetsRecord> = Vec::new();
        for p in &req.partitions {
            let error = if !self.topics.partition_exists(&p.topic, p.partition) {
                Some(GroupError::UnknownTopicOrPartition)
            } else if let Some(e) = &group_error {
                Some(e.clone())
            } else if p.metadata.len() > self.config.offset_metadata_max_bytes {
                Some(GroupError::OffsetMetadataTooLarge)
            } else {
                None
            };
            if error.is_none() {
                let value = OffsetCommitValue {
                    offset: p.offset,
                    leader_epoch: p.leader_epoch,
                    metadata: p.metadata.clone(),
                    commit_timestamp_ms: now_ms,
                    expire_timestamp_ms: (req.retention_time_ms >= 0)
                        .then(|| now_ms.saturating_add(req.retention_time_ms)),
                };
                records.push((
                    records::encode_offset_key(&req.group_id, &p.topic, p.partition),
                    Some(records::encode_offset_value(&value)),
                ));
            }
            results.push(result_for(p, error));
        }
        if let Some(g) = g {
            self.put_back(g);
        }
        if records.is_empty() {
            let _ = reply.send(results);
            return;
        }
        // Replayed into `offsets` by the runtime; visible to OffsetFetch once durable.
        let group_id = req.group_id;
        ctx.append(
            records,
            true,
            Some(Box::new(move |s: &mut GroupShard, result, _| {
                if let Err(e) = result {
                    let e = GroupError::from(e);
                    tracing::warn!(group = %group_id, error = %e, "offset commit append failed");
                    for r in results.iter_mut().filter(|r| r.error.is_none()) {
                        r.error = Some(e.clone());
                    }
                    // A group created by this commit holds nothing now.
                    if let Some(g) = s.groups.remove(&group_id) {
                        s.put_back(g);
                    }
                }
                let _ = reply.send(results);
            })),
        );
    }

    fn validate_commit(
        &mut self,
        ctx: &mut GCtx,
        g: &mut ClassicGroup,
        req: &OffsetCommitRequest,
    ) -> Option<GroupError> {
        if g.is(GroupState::Dead) {
            Some(GroupError::CoordinatorNotAvailable)
        } else if g.is_static_member_fenced(req.group_instance_id.as_deref(), &req.member_id) {
            Some(GroupError::FencedInstanceId)
        } else if req.generation_id < 0 && g.is(GroupState::Empty) {
            None
        } else if !g.members.contains_key(&req.member_id) {
            Some(GroupError::UnknownMemberId)
        } else if req.generation_id != g.generation_id {
            Some(GroupError::IllegalGeneration)
        } else {
            match g.state {
                GroupState::Stable | GroupState::PreparingRebalance => {
                    let session_ms = i64::from(g.members[&req.member_id].session_timeout_ms);
                    self.arm_heartbeat(ctx, g, &req.member_id, session_ms);
                    None
                }
                GroupState::CompletingRebalance => Some(GroupError::RebalanceInProgress),
                GroupState::Empty | GroupState::Dead => Some(GroupError::UnknownMemberId),
            }
        }
    }

    /// OffsetFetch, from the last committed offsets (`committed`: writes not yet durable are not seen).
    pub fn fetch(
        committed: &Offsets,
        group_id: &str,
        partitions: Option<Vec<(String, i32)>>,
    ) -> Result<Vec<FetchedOffset>, GroupError> {
        let offsets = committed.get(group_id);
        let partitions = match partitions {
            Some(p) => p,
            None => {
                let mut all: Vec<(String, i32)> = offsets
                    .map(|o| o.keys().cloned().collect())
                    .unwrap_or_default();
                all.sort();
                all
            }
        };
        Ok(partitions
            .into_iter()
            .map(|(topic, partition)| {
                match offsets.and_then(|o| o.get(&(topic.clone(), partition))) {
                    Some(o) => FetchedOffset {
                        topic,
                        partition,
                        offset: o.offset,
                        leader_epoch: o.leader_epoch,
                        metadata: o.metadata.clone(),
                        error: None,
                    },
                    None => FetchedOffset {
                        topic,
                        partition,
                        offset: -1,
                        leader_epoch: -1,
                        metadata: String::new(),
                        error: None,
                    },
                }
            })
            .collect())
    }

    pub fn delete_offsets(
        &mut self,
        ctx: &mut GCtx,
        group_id: &str,
        partitions: Vec<(String, i32)>,
        reply: oneshot::Sender<Result<Vec<PartitionResult>, GroupError>>,
    ) {
        if group_id.is_empty() {
            let _ = reply.send(Err(GroupError::InvalidGroupId));
            return;
        }
        let Some(g) = self.groups.remove(group_id) else {
            let _ = reply.send(Err(GroupError::GroupIdNotFound));
            return;
        };
        let consumer_in_use = g.protocol_type.as_deref() == Some(CONSUMER_PROTOCOL_TYPE);
        let top_error = match g.state {
            GroupState::Dead => Some(GroupError::GroupIdNotFound),
            GroupState::Empty => None,
            _ if consumer_in_use => None,
            _ => Some(GroupError::NonEmptyGroup),
        };
        if let Some(e) = top_error {
            self.put_back(g);
            let _ = reply.send(Err(e));
            return;
        }
        let empty = g.is(GroupState::Empty);
        let offsets = self.offsets.get(group_id);
        let mut records = Vec::new();
        let results: Vec<PartitionResult> = partitions
            .into_iter()
            .map(|(topic, partition)| {
                let error = if !self.topics.partition_exists(&topic, partition) {
                    Some(GroupError::UnknownTopicOrPartition)
                } else if !empty && g.is_subscribed_to(&topic) {
                    Some(GroupError::GroupSubscribedToTopic)
                } else {
                    let key = (topic.clone(), partition);
                    if offsets.is_some_and(|o| o.contains_key(&key)) {
                        records.push((
                            records::encode_offset_key(group_id, &topic, partition),
                            None,
                        ));
                    }
                    None
                };
                PartitionResult {
                    topic,
                    partition,
                    error,
                }
            })
            .collect();
        self.put_back(g);
        // Tombstones, replayed at once (reverted if the append fails); the reply waits for durability.
        ctx.append(
            records,
            true,
            Some(Box::new(move |_: &mut GroupShard, result, _| {
                let _ = reply.send(result.map(|()| results).map_err(GroupError::from));
            })),
        );
    }

    // ---------------------------------------------------------------- admin

    pub fn delete_group(
        &mut self,
        ctx: &mut GCtx,
        group_id: &str,
        reply: oneshot::Sender<Result<(), GroupError>>,
    ) {
        let Some(mut g) = self.groups.remove(group_id) else {
            let _ = reply.send(Err(GroupError::GroupIdNotFound));
            return;
        };
        match g.state {
            GroupState::Dead => {
                let _ = reply.send(Err(GroupError::GroupIdNotFound));
            }
            GroupState::Empty => {
                g.transition_to(GroupState::Dead, ctx.now_ms());
                let records = match self.offsets.get(group_id) {
                    Some(o) => tombstones(group_id, o.keys()),
                    None => tombstones(group_id, [].iter()),
                };
                tracing::info!(group = %group_id, "group deleted");
                ctx.append(
                    records,
                    true,
                    Some(Box::new(move |_: &mut GroupShard, result, _| {
                        let _ = reply.send(result.map_err(GroupError::from));
                    })),
                );
            }
            _ => {
                self.put_back(g);
                let _ = reply.send(Err(GroupError::NonEmptyGroup));
            }
        }
    }

    pub fn describe(&self, group_id: &str) -> GroupDescription {
        let dead = GroupDescription {
            group_id: group_id.to_string(),
            state: GroupState::Dead,
            protocol_type: String::new(),
            protocol: String::new(),
            members: Vec::new(),
        };
        let Some(g) = self.groups.get(group_id) else {
            return dead;
        };
        let stable = g.is(GroupState::Stable);
        let protocol = if stable {
            g.protocol_name.clone().unwrap_or_default()
        } else {
            String::new()
        };
        GroupDescription {
            group_id: group_id.to_string(),
            state: g.state,
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            members: g
                .members
                .values()
                .map(|m| MemberDescription {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    metadata: if stable {
                        m.metadata(&protocol)
                    } else {
                        Bytes::new()
                    },
                    assignment: if stable {
                        m.assignment.clone()
                    } else {
                        Bytes::new()
                    },
                })
                .collect(),
            protocol,
        }
    }

    pub fn list(&self) -> Vec<GroupListing> {
        self.groups
            .values()
            .filter(|g| !g.is(GroupState::Dead))
            .map(|g| GroupListing {
                group_id: g.group_id.clone(),
                protocol_type: g.protocol_type.clone().unwrap_or_default(),
                state: g.state,
            })
            .collect()
    }

    /// Kafka's `cleanupGroupMetadata` for expired offsets; empty groups with no offsets left die.
    fn expire_offsets(&mut self, ctx: &mut GCtx) {
        let now_ms = ctx.now_ms();
        let retention_ms = self.config.offsets_retention_ms;
        let ids: Vec<String> = self.groups.keys().cloned().collect();
        for id in ids {
            let Some(mut g) = self.groups.remove(&id) else {
                continue;
            };
            let offsets = self.offsets.get(&id);
            let expired: Vec<(String, i32)> = offsets
                .iter()
                .flat_map(|o| o.iter())
                .filter(|((topic, _), o)| {
                    let base = match (&g.protocol_type, g.state) {
                        (Some(_), GroupState::Empty) => Some(g.state_timestamp_ms),
                        (Some(t), GroupState::Stable)
                            if t == CONSUMER_PROTOCOL_TYPE
                                && g.subscribed_topics.is_some()
                                && !g.is_subscribed_to(topic) =>
                        {
                            Some(o.commit_timestamp_ms)
                        }
                        (None, _) => Some(o.commit_timestamp_ms),
                        _ => None,
                    };
                    base.is_some_and(|base| match o.expire_timestamp_ms {
                        Some(expire) => now_ms >= expire,
                        None => now_ms - base >= retention_ms,
                    })
                })
                .map(|(k, _)| k.clone())
                .collect();
            let remaining = offsets.map_or(0, |o| o.len()) - expired.len();
            let dies = g.is(GroupState::Empty) && remaining == 0 && g.pending_members.is_empty();
            if dies {
                g.transition_to(GroupState::Dead, now_ms);
            }
            if !expired.is_empty() || dies {
                let records = if dies {
                    tombstones(&id, expired.iter())
                } else {
                    expired
                        .iter()
                        .map(|(t, p)| (records::encode_offset_key(&id, t, *p), None))
                        .collect()
                };
                tracing::info!(group = %id, expired = expired.len(), removed = dies, "offsets expired");
                ctx.append(
                    records,
                    true,
                    Some(Box::new(|_: &mut GroupShard, result, _| {
                        if let Err(e) = result {
                            tracing::warn!(error = %e, "failed to write offset expiry tombstones");
                        }
                    })),
                );
            }
            self.put_back(g);
        }
    }

    // ---------------------------------------------------------------- persistence

    /// The leader's assignment append resolved (Kafka's SyncGroup append future).
    fn assignment_stored(
        &mut self,
        ctx: &mut GCtx,
        group_id: &str,
        generation_id: i32,
        assignment: HashMap<String, Bytes>,
        result: Result<(), GroupError>,
    ) {
        let Some(mut g) = self.groups.remove(group_id) else {
            return;
        };
        if g.is(GroupState::CompletingRebalance) && g.generation_id == generation_id {
            match result {
                Err(e) => {
                    tracing::warn!(group = %group_id, error = %e, "storing assignment failed");
                    reset_and_propagate_assignment_error(&mut g, e);
                    self.maybe_prepare_rebalance(ctx, &mut g);
                }
                Ok(()) => self.complete_sync_phase(ctx, &mut g, assignment),
            }
        }
        self.put_back(g);
    }

    /// The assignment is durable: the group is Stable and every parked SyncGroup gets its part.
    fn complete_sync_phase(
        &mut self,
        ctx: &mut GCtx,
        g: &mut ClassicGroup,
        assignment: HashMap<String, Bytes>,
    ) {
        for m in g.members.values_mut() {
            m.assignment = assignment.get(&m.member_id).cloned().unwrap_or_default();
        }
        g.transition_to(GroupState::Stable, ctx.now_ms());
        tracing::info!(group = %g.group_id, generation = g.generation_id, "group stable");
        let ids: Vec<String> = g.members.keys().cloned().collect();
        for id in ids {
            let result = SyncGroupResult {
                error: None,
                protocol_type: g.protocol_type.clone(),
                protocol_name: g.protocol_name.clone(),
                assignment: g.members[&id].assignment.clone(),
            };
            let had_sync = g.members[&id].awaiting_sync.is_some();
            g.complete_sync(&id, result);
            if had_sync {
                let session_ms = i64::from(g.members[&id].session_timeout_ms);
                self.arm_heartbeat(ctx, g, &id, session_ms);
            }
        }
    }

    /// The record of a static member's rejoin under a new member id resolved: answer the parked join,
    /// or put the old member id back if the append failed (Kafka's revert in
    /// `updateStaticMemberThenRebalanceOrCompleteJoin`).
    fn static_rejoin_stored(
        &mut self,
        ctx: &mut GCtx,
        rejoin: StaticRejoin,
        result: Result<(), GroupError>,
    ) {
        let Some(mut g) = self.groups.remove(&rejoin.group_id) else {
            return;
        };
        let parked = g.is(GroupState::Stable)
            && g.members
                .get(&rejoin.new_member_id)
                .is_some_and(|m| m.awaiting_join.is_some());
        if parked {
            match result {
                Err(e) => self.revert_static_rejoin(ctx, &mut g, rejoin, e),
                Ok(()) => {
                    let new_member_id = &rejoin.new_member_id;
                    let is_leader = g.is_leader(new_member_id);
                    let mut r = current_generation_result(&g, new_member_id, Vec::new());
                    if rejoin.supports_skip_assignment {
                        if is_leader {
                            r.members = g.current_member_metadata();
                            r.skip_assignment = true;
                        }
                    } else {
                        r.leader_id = rejoin.previous_leader;
                    }
                    g.complete_join(new_member_id, r);
                }
            }
        }
        self.put_back(g);
    }

    fn revert_static_rejoin(
        &mut self,
        ctx: &mut GCtx,
        g: &mut ClassicGroup,
        rejoin: StaticRejoin,
        e: GroupError,
    ) {
        tracing::warn!(group = %g.group_id, error = %e, "storing static member failed");
        let reply = g
            .members
            .get_mut(&rejoin.new_member_id)
            .and_then(|m| m.awaiting_join.take());
        g.num_awaiting_join -= 1;
        g.update_member(
            &rejoin.new_member_id,
            rejoin.old_protocols,
            rejoin.old_rebalance_timeout_ms,
            rejoin.old_session_timeout_ms,
            None,
        );
        let Some(instance) = g
            .members
            .get(&rejoin.new_member_id)
            .and_then(|m| m.group_instance_id.clone())
        else {
            return;
        };
        replace_member_id(
            g,
            &instance,
            &rejoin.new_member_id,
            &rejoin.old_member_id,
            false,
        );
        let session_ms = i64::from(rejoin.old_session_timeout_ms);
        self.arm_heartbeat(ctx, g, &rejoin.old_member_id, session_ms);
        if let Some(reply) = reply {
            let mut r = JoinGroupResult::error(String::new(), e);
            r.generation_id = g.generation_id;
            r.protocol_type = g.protocol_type.clone();
            r.protocol_name = g.protocol_name.clone();
            r.leader_id = rejoin.previous_leader;
            let _ = reply.send(r);
        }
    }

    // ---------------------------------------------------------------- replay

    /// Applies one `__consumer_offsets` record (at load, and at run time for replayed writes). A record
    /// that does not decode is reported and skipped: one bad record must not keep every other group of
    /// the partition (or the broker) from loading.
    fn replay_record(&mut self, (key, value): &Record, now_ms: i64) {
        let key = match records::decode_key(key) {
            Ok(Some(key)) => key,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(error = %e, "skipping undecodable __consumer_offsets record");
                return;
            }
        };
        let result = match key {
            RecordKey::Offset {
                group,
                topic,
                partition,
            } => value
                .as_ref()
                .map(|v| records::decode_offset_value(v))
                .transpose()
                .map(|v| self.replay_offset(group, topic, partition, v, now_ms)),
            RecordKey::Group { group } => value
                .as_ref()
                .map(|v| records::decode_group_value(v))
                .transpose()
                .map(|v| self.replay_group(group, v, now_ms)),
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "skipping undecodable __consumer_offsets record");
        }
    }

    fn replay_offset(
        &mut self,
        group: String,
        topic: String,
        partition: i32,
        value: Option<OffsetCommitValue>,
        now_ms: i64,
    ) {
        match value {
            Some(v) => {
                self.groups
                    .entry(group.clone())
                    .or_insert_with(|| ClassicGroup::new(group.clone(), now_ms));
                self.offsets.entry(group).or_default().insert(
                    (topic, partition),
                    CommittedOffset {
                        offset: v.offset,
                        leader_epoch: v.leader_epoch,
                        metadata: v.metadata,
                        commit_timestamp_ms: v.commit_timestamp_ms,
                        expire_timestamp_ms: v.expire_timestamp_ms,
                    },
                );
            }
            None => {
                let now_empty = self.offsets.get_mut(&group).is_some_and(|o| {
                    o.remove(&(topic, partition));
                    o.is_empty()
                });
                if now_empty {
                    self.offsets.remove(&group);
                }
            }
        }
    }

    /// A GroupMetadata record replaces the group (as Kafka's replay does); a tombstone removes it.
    fn replay_group(&mut self, group: String, value: Option<GroupMetadataValue>, now_ms: i64) {
        match value {
            Some(v) => {
                let mut g = ClassicGroup::new(group.clone(), now_ms);
                load_group(&mut g, v, now_ms);
                self.groups.insert(group, g);
            }
            None => {
                self.groups.remove(&group);
            }
        }
    }
}

/// Answers whatever a removed member had parked.
fn answer_removed(mut m: Member) {
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
fn current_generation_result(
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
fn reset_and_propagate_assignment_error(g: &mut ClassicGroup, error: GroupError) {
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
fn replace_member_id(
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

/// Tombstones for the given offsets and for the group's metadata record.
fn tombstones<'a>(
    group_id: &str,
    offsets: impl Iterator<Item = &'a (String, i32)>,
) -> Vec<OffsetsRecord> {
    let mut records: Vec<OffsetsRecord> = offsets
        .map(|(t, p)| (records::encode_offset_key(group_id, t, *p), None))
        .collect();
    records.push((records::encode_group_key(group_id), None));
    records
}

/// Restores a group from its GroupMetadataValue: Stable with its members if it had any (they must
/// heartbeat within their session timeout), else Empty.
fn load_group(g: &mut ClassicGroup, v: GroupMetadataValue, now_ms: i64) {
    g.generation_id = v.generation;
    g.protocol_type = (!v.protocol_type.is_empty()).then_some(v.protocol_type.clone());
    g.protocol_name = v.protocol.clone();
    g.leader_id = v.leader.clone();
    g.state_timestamp_ms = if v.current_state_timestamp_ms >= 0 {
        v.current_state_timestamp_ms
    } else {
        now_ms
    };
    g.state = if v.members.is_empty() {
        GroupState::Empty
    } else {
        GroupState::Stable
    };
    let protocol = v.protocol.clone().unwrap_or_default();
    for m in v.members {
        let member = Member {
            member_id: m.member_id,
            group_instance_id: m.group_instance_id,
            client_id: m.client_id,
            client_host: m.client_host,
            rebalance_timeout_ms: m.rebalance_timeout_ms,
            session_timeout_ms: m.session_timeout_ms,
            protocol_type: v.protocol_type.clone(),
            protocols: vec![Protocol {
                name: protocol.clone(),
                metadata: m.subscription,
            }],
            assignment: m.assignment,
            awaiting_join: None,
            awaiting_sync: None,
            is_new: false,
            heartbeat_deadline: Instant::now(),
            heartbeat_timer_id: 0,
            heartbeat_timer_at: Instant::now(),
        };
        g.add_member(member);
    }
    if g.leader_id
        .as_ref()
        .is_some_and(|l| !g.members.contains_key(l))
    {
        g.leader_id = g.members.keys().next().cloned();
    }
    g.compute_subscribed_topics();
}

/// The GroupMetadataValue record of `g`, with `assignment` overriding the members' current ones.
fn group_record(g: &ClassicGroup, assignment: Option<&HashMap<String, Bytes>>) -> OffsetsRecord {
    let protocol = g.protocol_name.clone().unwrap_or_default();
    let value = GroupMetadataValue {
        protocol_type: g.protocol_type.clone().unwrap_or_default(),
        generation: g.generation_id,
        protocol: g.protocol_name.clone(),
        leader: g.leader_id.clone(),
        current_state_timestamp_ms: g.state_timestamp_ms,
        members: g
            .members
            .values()
            .map(|m| MemberRecord {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                rebalance_timeout_ms: m.rebalance_timeout_ms,
                session_timeout_ms: m.session_timeout_ms,
                subscription: m.metadata(&protocol),
                assignment: assignment
                    .and_then(|a| a.get(&m.member_id).cloned())
                    .unwrap_or_else(|| m.assignment.clone()),
            })
            .collect(),
    };
    (
        records::encode_group_key(&g.group_id),
        Some(records::encode_group_value(&value)),
    )
}
