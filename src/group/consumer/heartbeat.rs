//! ConsumerGroupHeartbeat on a group shard, after Kafka's `GroupMetadataManager.consumerGroupHeartbeat`:
//! validate, find or create the group and the member, apply subscription changes (bumping the group
//! epoch), recompute the target assignment when the group epoch moved past it, then move the member one
//! reconciliation step towards its target. Session and revocation timeouts remove members.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use super::assignor::{self, MemberSpec};
use super::{
    from_wire, reconcile, to_wire, ConsumerGroup, ConsumerMember, HeartbeatRequest,
    HeartbeatResult, MemberState, LEAVE_EPOCH, STATIC_LEAVE_EPOCH,
};
use crate::group::shard::ConsumerDeadline;
use crate::group::shard::*;

type Outcome = Result<HeartbeatResult, (GroupError, String)>;

fn invalid(msg: impl Into<String>) -> (GroupError, String) {
    (GroupError::InvalidRequest, msg.into())
}

/// Kafka's `throwIfConsumerGroupHeartbeatRequestIsInvalid`; `assignors` are the offered ones.
fn validate(req: &HeartbeatRequest, assignors: &[String]) -> Result<(), (GroupError, String)> {
    if req.group_id.is_empty() {
        return Err(invalid("GroupId can't be empty."));
    }
    if req.instance_id.as_deref() == Some("") {
        return Err(invalid("InstanceId can't be empty."));
    }
    if req.rack_id.as_deref() == Some("") {
        return Err(invalid("RackId can't be empty."));
    }
    match req.member_epoch {
        0 => {
            if req.rebalance_timeout_ms == -1 {
                return Err(invalid(
                    "RebalanceTimeoutMs must be provided in first request.",
                ));
            }
            if req.owned.as_ref().is_none_or(|o| !o.is_empty()) {
                return Err(invalid("TopicPartitions must be empty when (re-)joining."));
            }
            if req.subscribed_topic_names.is_none() && req.subscribed_topic_regex.is_none() {
                return Err(invalid(
                    "SubscribedTopicNames or SubscribedTopicRegex must be set in first request.",
                ));
            }
        }
        STATIC_LEAVE_EPOCH if req.instance_id.is_none() => {
            return Err(invalid("InstanceId can't be null."));
        }
        e if e < STATIC_LEAVE_EPOCH => return Err(invalid(format!("MemberEpoch {e} is invalid."))),
        _ if req.member_id.is_empty() => return Err(invalid("MemberId can't be empty.")),
        _ => {}
    }
    if let Some(a) = &req.server_assignor {
        if !assignors.contains(a) {
            return Err((
                GroupError::UnsupportedAssignor,
                format!("ServerAssignor {a} is not supported. Supported assignors: {assignors:?}."),
            ));
        }
    }
    if let Some(r) = &req.subscribed_topic_regex {
        if compile(r).is_none() {
            return Err((
                GroupError::InvalidRegularExpression,
                format!("SubscribedTopicRegex `{r}` is not a valid regular expression."),
            ));
        }
    }
    Ok(())
}

/// A subscription regex as Kafka applies it (`Pattern.matcher(topic).matches()`: the whole name).
pub(crate) fn compile(regex: &str) -> Option<regex::Regex> {
    regex::Regex::new(&format!("^(?:{regex})$")).ok()
}

impl GroupShard {
    /// ConsumerGroupHeartbeat: the reply, the records that persist what changed, and a classic group
    /// the heartbeat upgraded (put back by [`GroupShard::consumer_write_failed`] if the records are
    /// not stored).
    pub(crate) fn consumer_heartbeat(
        &mut self,
        ctx: &mut GCtx,
        req: HeartbeatRequest,
    ) -> (HeartbeatResult, Vec<Record>, Option<ClassicGroup>) {
        let mut records = Vec::new();
        let mut upgraded = None;
        let result = validate(&req, &self.config.consumer_assignors).and_then(|()| {
            if req.member_epoch == LEAVE_EPOCH || req.member_epoch == STATIC_LEAVE_EPOCH {
                self.consumer_leave(ctx, &req, &mut records)
            } else {
                self.consumer_join_or_heartbeat(ctx, req, &mut records, &mut upgraded)
            }
        });
        match result {
            Ok(r) => (r, records, upgraded),
            Err((e, msg)) => (HeartbeatResult::error(e, msg), records, upgraded),
        }
    }

    /// A write about consumer group `group_id` failed and the runtime reverted the consumer groups to
    /// before it; classic groups, which live outside the reverted state, follow: a downgrade's classic
    /// group goes, an upgraded classic group (`upgraded`) comes back.
    pub(crate) fn consumer_write_failed(&mut self, group_id: &str, upgraded: Option<ClassicGroup>) {
        if self.offsets.consumer.contains_key(group_id) {
            if self.groups.remove(group_id).is_some() {
                tracing::warn!(group = %group_id, "downgrade to a classic group not stored; the consumer group stays");
            }
        } else if let Some(classic) = upgraded {
            tracing::warn!(group = %group_id, "upgrade to a consumer group not stored; the classic group stays");
            self.groups.insert(group_id.to_string(), classic);
        }
    }

    /// The consumer group for a heartbeat, created when `create` (Kafka's `getOrMaybeCreateConsumerGroup`).
    /// A classic group gives way to it: an empty one whatever its protocol type and the migration policy
    /// (Kafka's `maybeDeleteEmptyClassicGroup`), a non-empty one when the policy allows an upgrade
    /// (`convertToConsumerGroup`). The classic group is returned too, so a refused heartbeat can put it
    /// back and an accepted one writes the conversion's records. Committed offsets stay with the group id.
    fn consumer_group_for(
        &mut self,
        group_id: &str,
        create: bool,
    ) -> Result<(ConsumerGroup, Option<super::migration::Replaced>), (GroupError, String)> {
        if let Some(g) = self.offsets.consumer.remove(group_id) {
            return Ok((g, None));
        }
        let not_consumer = || {
            (
                GroupError::GroupIdNotFound,
                format!("Group {group_id} is not a consumer group."),
            )
        };
        let Some(classic) = self.groups.remove(group_id) else {
            if !create {
                return Err((
                    GroupError::GroupIdNotFound,
                    format!("Consumer group {group_id} not found."),
                ));
            }
            return Ok((ConsumerGroup::new(group_id.to_string()), None));
        };
        if !create {
            self.groups.insert(group_id.to_string(), classic);
            return Err(not_consumer());
        }
        if classic.is(GroupState::Empty) {
            tracing::info!(group = %group_id, "converted the empty classic group to a consumer group");
            let records = vec![(crate::group::records::encode_group_key(group_id), None)];
            let replaced = super::migration::Replaced { classic, records };
            return Ok((ConsumerGroup::new(group_id.to_string()), Some(replaced)));
        }
        match self.upgrade(&classic) {
            Ok((g, records)) => Ok((g, Some(super::migration::Replaced { classic, records }))),
            Err(e) => {
                self.groups.insert(group_id.to_string(), classic);
                Err(e.unwrap_or_else(not_consumer))
            }
        }
    }

    fn consumer_leave(
        &mut self,
        ctx: &mut GCtx,
        req: &HeartbeatRequest,
        records: &mut Vec<Record>,
    ) -> Outcome {
        let (mut g, _) = self.consumer_group_for(&req.group_id, false)?;
        let outcome = leave(&mut g, req);
        match outcome {
            Ok(STATIC_LEAVE_EPOCH) => {
                records.extend(super::records::member_records(&g, &req.member_id));
                self.arm_consumer_session(ctx, &mut g, &req.member_id);
                self.offsets.consumer.insert(g.group_id.clone(), g);
            }
            Ok(_) => {
                tracing::info!(group = %g.group_id, member = %req.member_id, "member left the consumer group");
                records.extend(self.fence_consumer_member(ctx, g, &req.member_id));
            }
            Err(_) => {
                self.offsets.consumer.insert(g.group_id.clone(), g);
            }
        }
        outcome.map(|member_epoch| HeartbeatResult {
            member_id: req.member_id.clone(),
            member_epoch,
            heartbeat_interval_ms: 0,
            ..Default::default()
        })
    }

    fn consumer_join_or_heartbeat(
        &mut self,
        ctx: &mut GCtx,
        req: HeartbeatRequest,
        records: &mut Vec<Record>,
        upgraded: &mut Option<ClassicGroup>,
    ) -> Outcome {
        let existed = self.offsets.consumer.contains_key(&req.group_id);
        let (mut g, replaced) = self.consumer_group_for(&req.group_id, req.member_epoch == 0)?;
        let outcome = self.heartbeat_in(ctx, &mut g, req, records);
        if outcome.is_err() && !existed {
            // Kafka creates nothing for a refused first heartbeat: the classic group stays.
            if let Some(r) = replaced {
                self.groups.insert(r.classic.group_id.clone(), r.classic);
            }
            return outcome;
        }
        if let Some(r) = replaced {
            // The conversion's records (the classic group's tombstone, the new group) come first.
            records.splice(0..0, r.records);
            *upgraded = Some(self.upgraded(ctx, &mut g, r.classic));
        }
        self.offsets.consumer.insert(g.group_id.clone(), g);
        outcome
    }

    fn heartbeat_in(
        &mut self,
        ctx: &mut GCtx,
        g: &mut ConsumerGroup,
        req: HeartbeatRequest,
        records: &mut Vec<Record>,
    ) -> Outcome {
        let (mut member, replaced) = find_member(g, &req)?;
        let is_new = member.member_epoch == 0 && !g.members.contains_key(&member.member_id);
        let subscription_changed = apply_request(&mut member, &req);
        if let Some(old) = &replaced {
            // A static member's new incarnation takes over its predecessor's assignment and epoch.
            tracing::info!(group = %g.group_id, old = %old, new = %member.member_id, "static member rejoined");
            records.extend(super::records::member_tombstones(&g.group_id, old));
            g.members.remove(old);
            if let Some(t) = g.target.remove(old) {
                g.target.insert(member.member_id.clone(), t);
            }
            records.extend(super::records::target_member_record(g, &member.member_id));
        }
        if let Some(i) = &member.instance_id {
            g.static_members.insert(i.clone(), member.member_id.clone());
        }
        g.members.insert(member.member_id.clone(), member.clone());
        let mut bump = is_new || subscription_changed;
        let metadata = self.subscription_metadata(g);
        if metadata != g.subscription_metadata {
            g.subscription_metadata = metadata;
            bump = true;
        }
        if bump {
            g.group_epoch += 1;
            records.push(super::records::group_epoch_record(g));
            tracing::info!(group = %g.group_id, epoch = g.group_epoch, member = %member.member_id, is_new, "consumer group epoch bumped");
        }
        if g.group_epoch > g.assignment_epoch {
            update_target(g, &member.server_assignor, &self.config.consumer_assignors);
            records.extend(super::records::target_records(g));
        }
        let owned = req.owned.as_deref().map(from_wire);
        let before = member.clone();
        member = reconcile_member(g, &before, owned.as_ref());
        if member.state != before.state || member.member_epoch != before.member_epoch {
            tracing::debug!(group = %g.group_id, member = %member.member_id, state = member.state.as_str(), epoch = member.member_epoch, "member reconciled");
        }
        self.arm_revocation(ctx, g, &mut member, &before);
        g.members.insert(member.member_id.clone(), member.clone());
        self.arm_consumer_session(ctx, g, &member.member_id);
        if member != before || is_new || replaced.is_some() || subscription_changed {
            records.extend(super::records::member_records(g, &member.member_id));
        }
        let full = req.rebalance_timeout_ms != -1
            && req.subscribed_topic_names.is_some()
            && req.owned.is_some();
        let send_assignment = req.member_epoch == 0
            || full
            || member.assigned != before.assigned
            || replaced.is_some();
        Ok(HeartbeatResult {
            member_id: member.member_id.clone(),
            member_epoch: member.member_epoch,
            heartbeat_interval_ms: self.config.consumer_heartbeat_interval_ms,
            assignment: send_assignment.then(|| to_wire(&member.assigned)),
            ..Default::default()
        })
    }

    /// Every topic some member subscribes to (by name or regex), with its id and partition count.
    pub(crate) fn subscription_metadata(
        &mut self,
        g: &mut ConsumerGroup,
    ) -> BTreeMap<String, (Uuid, i32)> {
        let mut out = BTreeMap::new();
        let mut regexes = Vec::new();
        for m in g.members.values() {
            for name in &m.subscribed_topic_names {
                if let Some(t) = self.topics.topic_info(name) {
                    out.insert(t.name, (t.id, t.partitions));
                }
            }
            if let Some(r) = &m.subscribed_topic_regex {
                regexes.push(r.clone());
            }
        }
        if !regexes.is_empty() {
            let compiled: Vec<regex::Regex> = regexes.iter().filter_map(|r| compile(r)).collect();
            for t in self.topics.all_topics() {
                if compiled.iter().any(|r| r.is_match(&t.name)) {
                    out.insert(t.name, (t.id, t.partitions));
                }
            }
        }
        out
    }

    /// A member that must revoke partitions gets its rebalance timeout to do so (Kafka fences it after).
    fn arm_revocation(
        &mut self,
        ctx: &mut GCtx,
        g: &ConsumerGroup,
        member: &mut ConsumerMember,
        before: &ConsumerMember,
    ) {
        let entering = member.state == MemberState::UnrevokedPartitions
            && (before.state != MemberState::UnrevokedPartitions
                || before.revoking != member.revoking);
        if member.state != MemberState::UnrevokedPartitions {
            member.rebalance_timer_id = 0;
        } else if entering {
            let id = ctx.next_id();
            member.rebalance_timer_id = id;
            ctx.schedule_in(
                i64::from(member.rebalance_timeout_ms.max(0)),
                Timer::Consumer {
                    group: g.group_id.clone(),
                    member: member.member_id.clone(),
                    id,
                    kind: ConsumerDeadline::Revocation,
                },
            );
        }
    }

    /// (Re)starts a member's session: it must heartbeat within `group.consumer.session.timeout.ms`, or
    /// within the session timeout of its JoinGroup if it speaks the classic protocol.
    pub(crate) fn arm_consumer_session(
        &mut self,
        ctx: &mut GCtx,
        g: &mut ConsumerGroup,
        member: &str,
    ) {
        let Some(m) = g.members.get_mut(member) else {
            return;
        };
        let id = ctx.next_id();
        m.session_timer_id = id;
        let timeout_ms = m
            .classic
            .as_ref()
            .map_or(self.config.consumer_session_timeout_ms, |c| {
                c.session_timeout_ms
            });
        ctx.schedule_in(
            i64::from(timeout_ms),
            Timer::Consumer {
                group: g.group_id.clone(),
                member: member.to_string(),
                id,
                kind: ConsumerDeadline::Session,
            },
        );
    }

    /// A consumer-group member's deadline fired: fence the member if the deadline is still current.
    pub(crate) fn consumer_timer(
        &mut self,
        ctx: &mut GCtx,
        group: String,
        member: String,
        id: u64,
        kind: ConsumerDeadline,
    ) {
        let Some(g) = self.offsets.consumer.remove(&group) else {
            return;
        };
        let due = g.members.get(&member).is_some_and(|m| match kind {
            ConsumerDeadline::Session => m.session_timer_id == id,
            ConsumerDeadline::Revocation => {
                m.rebalance_timer_id == id && m.state == MemberState::UnrevokedPartitions
            }
            ConsumerDeadline::ClassicJoin => m.join_timer_id == id,
            ConsumerDeadline::ClassicSync => m.sync_timer_id == id,
        });
        if !due {
            self.offsets.consumer.insert(group, g);
            return;
        }
        let why = match kind {
            ConsumerDeadline::Session => "session expired",
            ConsumerDeadline::Revocation => "did not revoke in time",
            ConsumerDeadline::ClassicJoin => "classic member did not rejoin in time",
            ConsumerDeadline::ClassicSync => "classic member did not sync in time",
        };
        tracing::info!(group = %group, member = %member, "consumer group member removed: {why}");
        let records = self.fence_consumer_member(ctx, g, &member);
        ctx.append(
            records,
            false,
            Some(Box::new(move |s: &mut GroupShard, result, _| {
                if result.is_err() {
                    s.consumer_write_failed(&group, None);
                }
            })),
        );
    }

    /// Kafka's `consumerGroupFenceMember`: removes a member (bumping the group epoch), or, when it is the
    /// last member speaking the consumer protocol among classic ones and the migration policy allows,
    /// turns the group back into a classic group. The shard keeps whichever group results; returns the
    /// records that say so.
    pub(crate) fn fence_consumer_member(
        &mut self,
        ctx: &mut GCtx,
        mut g: ConsumerGroup,
        member_id: &str,
    ) -> Vec<Record> {
        if self.downgrade_allowed(&g, member_id) {
            return self.convert_to_classic(ctx, g, member_id);
        }
        let records = remove_member(&mut g, member_id);
        self.offsets.consumer.insert(g.group_id.clone(), g);
        records
    }
}

/// The member a heartbeat is about, and for a static member's new incarnation the id it replaces.
fn find_member(
    g: &ConsumerGroup,
    req: &HeartbeatRequest,
) -> Result<(ConsumerMember, Option<String>), (GroupError, String)> {
    if let Some(instance) = &req.instance_id {
        let existing = g
            .static_members
            .get(instance)
            .and_then(|id| g.members.get(id));
        if req.member_epoch == 0 {
            let id = member_id_or_new(&req.member_id);
            return match existing {
                None => Ok((ConsumerMember::new(id), None)),
                Some(old) if old.member_id == id => Ok((old.clone(), None)),
                // A classic predecessor is replaced at once (it cannot send a static leave).
                Some(old) if old.member_epoch != STATIC_LEAVE_EPOCH && !old.uses_classic() => {
                    Err((
                        GroupError::UnreleasedInstanceId,
                        format!(
                            "Static member {} with instance id {instance} is not released yet.",
                            old.member_id
                        ),
                    ))
                }
                Some(old) => {
                    let mut m = old.clone();
                    m.member_id = id;
                    if !old.uses_classic() {
                        m.member_epoch = m.previous_member_epoch.max(0);
                    }
                    Ok((m, Some(old.member_id.clone())))
                }
            };
        }
        let Some(m) = existing else {
            return Err((
                GroupError::UnknownMemberId,
                format!("Instance id {instance} is unknown."),
            ));
        };
        if m.member_id != req.member_id {
            return Err((
                GroupError::FencedInstanceId,
                format!("Static member {} was replaced.", req.member_id),
            ));
        }
        check_epoch(m, req)?;
        return Ok((m.clone(), None));
    }
    if req.member_epoch == 0 {
        let id = member_id_or_new(&req.member_id);
        return Ok((
            g.members
                .get(&id)
                .cloned()
                .unwrap_or_else(|| ConsumerMember::new(id)),
            None,
        ));
    }
    let m = g.members.get(&req.member_id).ok_or_else(|| {
        (
            GroupError::UnknownMemberId,
            format!(
                "Member {} is not a member of group {}.",
                req.member_id, g.group_id
            ),
        )
    })?;
    check_epoch(m, req)?;
    Ok((m.clone(), None))
}

fn member_id_or_new(id: &str) -> String {
    if id.is_empty() {
        Uuid::new_v4().simple().to_string()
    } else {
        id.to_string()
    }
}

/// Kafka's `throwIfMemberEpochIsInvalid`: an older epoch is accepted only as the previous one with a
/// subset of the current assignment owned (the reply carrying the new epoch may have been lost).
fn check_epoch(m: &ConsumerMember, req: &HeartbeatRequest) -> Result<(), (GroupError, String)> {
    let fenced = || {
        (
            GroupError::FencedMemberEpoch,
            format!("The consumer group member has a greater member epoch ({}) than the one known by the group coordinator ({}) or is fenced.", req.member_epoch, m.member_epoch),
        )
    };
    if req.member_epoch > m.member_epoch {
        return Err(fenced());
    }
    if req.member_epoch < m.member_epoch {
        let subset = req.owned.as_deref().map(from_wire).is_some_and(|owned| {
            owned
                .iter()
                .all(|(t, ps)| m.assigned.get(t).is_some_and(|a| ps.is_subset(a)))
        });
        if req.member_epoch != m.previous_member_epoch || !subset {
            return Err(fenced());
        }
    }
    Ok(())
}

/// Applies the non-null fields of the request; whether the subscription changed.
fn apply_request(m: &mut ConsumerMember, req: &HeartbeatRequest) -> bool {
    let mut changed = false;
    if let Some(names) = &req.subscribed_topic_names {
        let mut names = names.clone();
        names.sort_unstable();
        names.dedup();
        changed |= names != m.subscribed_topic_names;
        m.subscribed_topic_names = names;
    }
    if let Some(r) = &req.subscribed_topic_regex {
        let r = (!r.is_empty()).then(|| r.clone());
        changed |= r != m.subscribed_topic_regex;
        m.subscribed_topic_regex = r;
    }
    if let Some(a) = &req.server_assignor {
        changed |= m.server_assignor.as_ref() != Some(a);
        m.server_assignor = Some(a.clone());
    }
    if req.instance_id.is_some() {
        m.instance_id = req.instance_id.clone();
    }
    if req.rack_id.is_some() {
        m.rack_id = req.rack_id.clone();
    }
    if req.rebalance_timeout_ms != -1 {
        m.rebalance_timeout_ms = req.rebalance_timeout_ms;
    }
    m.client_id = req.client_id.clone();
    m.client_host = req.client_host.clone();
    // A member heartbeating with ConsumerGroupHeartbeat speaks the consumer protocol from now on.
    m.classic = None;
    m.join_timer_id = 0;
    m.sync_timer_id = 0;
    changed
}

/// Handles a leave (epoch -1) or a static member's temporary leave (-2); the epoch to answer with.
fn leave(g: &mut ConsumerGroup, req: &HeartbeatRequest) -> Result<i32, (GroupError, String)> {
    let unknown = || {
        (
            GroupError::UnknownMemberId,
            format!(
                "Member {} is not a member of group {}.",
                req.member_id, g.group_id
            ),
        )
    };
    let m = match &req.instance_id {
        Some(instance) => {
            let m = g
                .static_members
                .get(instance)
                .and_then(|id| g.members.get(id))
                .ok_or_else(unknown)?;
            if m.member_id != req.member_id {
                return Err((
                    GroupError::FencedInstanceId,
                    format!("Static member {} was replaced.", req.member_id),
                ));
            }
            m
        }
        None => g.members.get(&req.member_id).ok_or_else(unknown)?,
    };
    if req.member_epoch == STATIC_LEAVE_EPOCH {
        let id = m.member_id.clone();
        if let Some(m) = g.members.get_mut(&id) {
            // Keeps its assignment (and its partitions stay owned) until it rejoins or its session ends.
            m.previous_member_epoch = m.member_epoch;
            m.member_epoch = STATIC_LEAVE_EPOCH;
        }
        return Ok(STATIC_LEAVE_EPOCH);
    }
    Ok(LEAVE_EPOCH)
}

/// Removes a member, frees its partitions and bumps the group epoch; the records that say so.
pub(crate) fn remove_member(g: &mut ConsumerGroup, member_id: &str) -> Vec<Record> {
    let Some(m) = g.members.remove(member_id) else {
        return Vec::new();
    };
    g.track_owned(&m, true);
    if let Some(i) = &m.instance_id {
        if g.static_members.get(i).is_some_and(|id| id == member_id) {
            g.static_members.remove(i);
        }
    }
    g.target.remove(member_id);
    g.group_epoch += 1;
    let mut records = super::records::member_tombstones(&g.group_id, member_id);
    records.push(super::records::group_epoch_record(g));
    records
}

/// Recomputes the target assignment with the member's assignor or else the first offered one.
pub(crate) fn update_target(
    g: &mut ConsumerGroup,
    preferred: &Option<String>,
    assignors: &[String],
) {
    let default = assignors.first().map_or("uniform", String::as_str);
    compute_target(g, preferred, default);
}

/// One reconciliation step of `member` towards its target (Kafka's `maybeReconcile`), keeping the
/// group's partition owners in step. `owned`: what the member reported owning, if it did.
pub(crate) fn reconcile_member(
    g: &mut ConsumerGroup,
    member: &ConsumerMember,
    owned: Option<&super::Assignment>,
) -> ConsumerMember {
    let target = g.target.get(&member.member_id).cloned().unwrap_or_default();
    let updated = {
        let owners = &g.owners;
        reconcile::next(member, g.assignment_epoch, &target, owned, |t, p| {
            owners.get(&(t, p)).copied()
        })
    };
    g.track_owned(member, true);
    g.track_owned(&updated, false);
    updated
}

/// Recomputes the target assignment for the current group epoch (Kafka's `TargetAssignmentBuilder`).
fn compute_target(g: &mut ConsumerGroup, preferred: &Option<String>, default: &str) {
    let assignor = preferred
        .clone()
        .or_else(|| g.members.values().find_map(|m| m.server_assignor.clone()))
        .unwrap_or_else(|| default.to_string());
    let topics: BTreeMap<Uuid, i32> = g.subscription_metadata.values().copied().collect();
    let regexes: BTreeMap<&str, Option<regex::Regex>> = g
        .members
        .values()
        .filter_map(|m| m.subscribed_topic_regex.as_deref())
        .map(|r| (r, compile(r)))
        .collect();
    let specs: Vec<MemberSpec<'_>> = g
        .members
        .values()
        .map(|m| {
            let regex = m
                .subscribed_topic_regex
                .as_deref()
                .and_then(|r| regexes.get(r))
                .and_then(Option::as_ref);
            let subscribed: BTreeSet<Uuid> = g
                .subscription_metadata
                .iter()
                .filter(|(name, _)| m.subscribes_to(name, regex))
                .map(|(_, (id, _))| *id)
                .collect();
            MemberSpec {
                member_id: &m.member_id,
                subscribed,
                current: g.target.get(&m.member_id),
            }
        })
        .collect();
    let target = assignor::assign(&assignor, &specs, &topics);
    g.target = target.into_iter().collect();
    g.assignment_epoch = g.group_epoch;
    g.assignor = assignor;
    tracing::info!(group = %g.group_id, epoch = g.assignment_epoch, assignor = %g.assignor, "consumer group target assignment computed");
}
