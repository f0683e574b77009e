//! Classic-protocol members inside a consumer group (Kafka's `classicGroupJoinToConsumerGroup`,
//! `classicGroupSyncToConsumerGroup`, `classicGroupHeartbeatToConsumerGroup`,
//! `classicGroupLeaveToConsumerGroup`): a JoinGroup is one reconciliation step towards the member's
//! target assignment, answered at once with the member epoch as generation; SyncGroup hands out the
//! partitions the member may own now; a Heartbeat answers REBALANCE_IN_PROGRESS when the member should
//! rejoin to take its next step. The broker-side assignor decides; no member leads.

use super::embedded;
use super::{ClassicMetadata, ConsumerGroup, ConsumerMember, MemberState};
use crate::group::shard::ConsumerDeadline;
use crate::group::shard::*;

type Refusal = (GroupError, String);

impl GroupShard {
    /// JoinGroup to a non-empty consumer group. The reply is sent once the records are durable.
    pub(crate) fn classic_join_to_consumer(
        &mut self,
        ctx: &mut GCtx,
        mut g: ConsumerGroup,
        req: JoinGroupRequest,
        reply: oneshot::Sender<JoinGroupResult>,
    ) {
        let mut records = Vec::new();
        let joined = self.classic_join_in(&mut g, &req, &mut records);
        self.offsets.consumer.insert(g.group_id.clone(), g);
        let response = match joined {
            Err((GroupError::MemberIdRequired, new_id)) => {
                // The member must rejoin with the id it is handed (nothing is stored for it yet).
                let _ = reply.send(JoinGroupResult::error(new_id, GroupError::MemberIdRequired));
                return;
            }
            Err((e, msg)) => {
                tracing::debug!(group = %req.group_id, member = %req.member_id, error = %e, "classic join refused: {msg}");
                let _ = reply.send(JoinGroupResult::error(req.member_id, e));
                return;
            }
            Ok(r) => r,
        };
        let (session_ms, rebalance_ms) = (req.session_timeout_ms, req.rebalance_timeout_ms);
        let group_id = req.group_id;
        ctx.append(
            records,
            false,
            Some(Box::new(move |s: &mut GroupShard, result, ctx| {
                if let Err(e) = result {
                    let _ = reply.send(JoinGroupResult::error(response.member_id, e.into()));
                    return;
                }
                s.classic_joined(
                    ctx,
                    &group_id,
                    &response.member_id,
                    session_ms,
                    rebalance_ms,
                );
                let _ = reply.send(response);
            })),
        );
    }

    /// The rules of a classic join: the reply, or why not (MEMBER_ID_REQUIRED carries the new id).
    fn classic_join_in(
        &mut self,
        g: &mut ConsumerGroup,
        req: &JoinGroupRequest,
        records: &mut Vec<Record>,
    ) -> Result<JoinGroupResult, Refusal> {
        let unknown = req.member_id.is_empty();
        let member_id = if unknown {
            uuid::Uuid::new_v4().to_string()
        } else {
            req.member_id.clone()
        };
        if !g.supports_classic_protocols(&req.protocol_type, &req.protocols) {
            return Err((
                GroupError::InconsistentGroupProtocol,
                format!("Member {member_id}'s protocols are not supported."),
            ));
        }
        if req.require_known_member_id && unknown && req.group_instance_id.is_none() {
            return Err((GroupError::MemberIdRequired, member_id));
        }
        let subscription = req
            .protocols
            .first()
            .map(|p| embedded::decode_subscription(&p.metadata))
            .transpose()
            .map_err(|e| (GroupError::InconsistentGroupProtocol, e.to_string()))?
            .unwrap_or_default();
        let (mut member, replaced) = classic_member(g, req, &member_id, unknown)?;
        let before = member.clone();
        let is_new = !g.members.contains_key(&member.member_id);
        let mut topics = subscription.topics.clone();
        topics.sort_unstable();
        topics.dedup();
        let subscription_changed = topics != member.subscribed_topic_names;
        member.subscribed_topic_names = topics;
        if req.group_instance_id.is_some() {
            member.instance_id = req.group_instance_id.clone();
        }
        if subscription.rack_id.is_some() {
            member.rack_id = subscription.rack_id.clone();
        }
        if req.rebalance_timeout_ms != -1 {
            member.rebalance_timeout_ms = req.rebalance_timeout_ms;
        }
        member.client_id = req.client_id.clone();
        member.client_host = req.client_host.clone();
        member.classic = Some(ClassicMetadata {
            session_timeout_ms: req.session_timeout_ms,
            protocols: req.protocols.clone(),
        });
        if let Some(old) = &replaced {
            tracing::info!(group = %g.group_id, old = %old, new = %member.member_id, "static member rejoined with the classic protocol");
            records.extend(super::records::member_tombstones(&g.group_id, old));
            g.members.remove(old);
            if let Some(t) = g.target.remove(old) {
                g.target.insert(member.member_id.clone(), t);
            }
            records.extend(super::records::target_member_record(g, &member.member_id));
        }
        let owned = self.by_topic_id(&subscription.owned);
        let updated = self.member_step(
            g,
            member,
            is_new || subscription_changed,
            Some(owned),
            records,
        );
        if updated != before || is_new || replaced.is_some() {
            records.extend(super::records::member_records(g, &updated.member_id));
        }
        tracing::info!(group = %g.group_id, member = %updated.member_id, epoch = updated.member_epoch,
            state = updated.state.as_str(), "classic member joined the consumer group");
        let protocol = req.protocols.first().map(|p| p.name.clone());
        Ok(JoinGroupResult {
            error: None,
            member_id: updated.member_id.clone(),
            generation_id: updated.member_epoch,
            protocol_type: Some(CONSUMER_PROTOCOL_TYPE.to_string()),
            protocol_name: protocol,
            leader_id: String::new(),
            skip_assignment: false,
            members: Vec::new(),
        })
    }

    /// After a classic join is durable: the member must sync within its rebalance timeout and heartbeat
    /// within its session timeout; a pending rejoin deadline is met.
    fn classic_joined(
        &mut self,
        ctx: &mut GCtx,
        group_id: &str,
        member_id: &str,
        session_ms: i32,
        rebalance_ms: i32,
    ) {
        let Some(mut g) = self.offsets.consumer.remove(group_id) else {
            return;
        };
        if let Some(m) = g.members.get_mut(member_id) {
            if let Some(c) = &mut m.classic {
                c.session_timeout_ms = session_ms;
            }
            m.join_timer_id = 0;
            let id = ctx.next_id();
            m.sync_timer_id = id;
            ctx.schedule_in(
                i64::from(rebalance_ms.max(0)),
                Timer::Consumer {
                    group: group_id.to_string(),
                    member: member_id.to_string(),
                    id,
                    kind: ConsumerDeadline::ClassicSync,
                },
            );
            self.arm_consumer_session(ctx, &mut g, member_id);
        }
        self.offsets.consumer.insert(group_id.to_string(), g);
    }

    /// SyncGroup from a classic member of a consumer group: its current assignment, once every earlier
    /// write is durable.
    pub(crate) fn classic_sync_to_consumer(
        &mut self,
        ctx: &mut GCtx,
        req: SyncGroupRequest,
        reply: oneshot::Sender<SyncGroupResult>,
    ) {
        let Some(mut g) = self.offsets.consumer.remove(&req.group_id) else {
            let _ = reply.send(SyncGroupResult::error(GroupError::UnknownMemberId));
            return;
        };
        let result = classic_sync_check(&g, &req).map(|m| {
            let metadata = m
                .classic
                .as_ref()
                .and_then(|c| c.protocols.first())
                .map(|p| p.metadata.clone())
                .unwrap_or_default();
            let version = embedded::subscription_version(&metadata);
            let assignment = embedded::encode_assignment(version, &self.by_topic_name(&m.assigned));
            (m.member_id.clone(), assignment)
        });
        if let Err(GroupError::RebalanceInProgress) = &result {
            self.arm_classic_rejoin(ctx, &mut g, &req.member_id);
        }
        self.offsets.consumer.insert(req.group_id.clone(), g);
        let (member_id, assignment) = match result {
            Ok(r) => r,
            Err(e) => {
                let _ = reply.send(SyncGroupResult::error(e));
                return;
            }
        };
        let (group_id, protocol_type, protocol_name) =
            (req.group_id, req.protocol_type, req.protocol_name);
        ctx.append(
            Vec::new(),
            false,
            Some(Box::new(move |s: &mut GroupShard, result, ctx| {
                if let Err(e) = result {
                    let _ = reply.send(SyncGroupResult::error(e.into()));
                    return;
                }
                if let Some(mut g) = s.offsets.consumer.remove(&group_id) {
                    if let Some(m) = g.members.get_mut(&member_id) {
                        m.sync_timer_id = 0;
                    }
                    s.arm_consumer_session(ctx, &mut g, &member_id);
                    s.offsets.consumer.insert(group_id, g);
                }
                let _ = reply.send(SyncGroupResult {
                    error: None,
                    protocol_type,
                    protocol_name,
                    assignment,
                });
            })),
        );
    }

    /// Heartbeat from a classic member of a consumer group: REBALANCE_IN_PROGRESS when it should rejoin
    /// (the group moved on, it must revoke, or partitions it waits for were released).
    pub(crate) fn classic_heartbeat_to_consumer(
        &mut self,
        ctx: &mut GCtx,
        req: &HeartbeatRequest,
    ) -> Result<(), GroupError> {
        let Some(mut g) = self.offsets.consumer.remove(&req.group_id) else {
            return Err(GroupError::UnknownMemberId);
        };
        let outcome = classic_member_of(&g, &req.member_id, req.group_instance_id.as_deref())
            .and_then(|m| {
                if m.member_epoch != req.generation_id {
                    return Err(GroupError::IllegalGeneration);
                }
                let rejoin = m.member_epoch < g.group_epoch
                    || m.state == MemberState::UnrevokedPartitions
                    || (m.state == MemberState::UnreleasedPartitions
                        && !g.waiting_on_unreleased(m));
                Ok((m.member_id.clone(), rejoin))
            });
        let result = match outcome {
            Ok((member_id, rejoin)) => {
                self.arm_consumer_session(ctx, &mut g, &member_id);
                if rejoin {
                    self.arm_classic_rejoin(ctx, &mut g, &member_id);
                    Err(GroupError::RebalanceInProgress)
                } else {
                    Ok(())
                }
            }
            Err(e) => Err(e),
        };
        self.offsets.consumer.insert(req.group_id.clone(), g);
        result
    }

    /// Kafka's `scheduleConsumerGroupJoinTimeoutIfAbsent`: a member told to rejoin is fenced if it does
    /// not within its rebalance timeout.
    fn arm_classic_rejoin(&mut self, ctx: &mut GCtx, g: &mut ConsumerGroup, member_id: &str) {
        let Some(m) = g.members.get_mut(member_id) else {
            return;
        };
        if m.join_timer_id != 0 {
            return;
        }
        let id = ctx.next_id();
        m.join_timer_id = id;
        ctx.schedule_in(
            i64::from(m.rebalance_timeout_ms.max(0)),
            Timer::Consumer {
                group: g.group_id.clone(),
                member: member_id.to_string(),
                id,
                kind: ConsumerDeadline::ClassicJoin,
            },
        );
    }

    /// LeaveGroup on a consumer group: classic members leave (the group epoch is bumped); members
    /// speaking the consumer protocol must leave with ConsumerGroupHeartbeat (UNKNOWN_MEMBER_ID).
    pub(crate) fn classic_leave_consumer(
        &mut self,
        ctx: &mut GCtx,
        group_id: &str,
        members: Vec<LeavingMember>,
    ) -> Vec<Option<GroupError>> {
        let mut results = Vec::with_capacity(members.len());
        let mut records = Vec::new();
        for leaving in members {
            let Some(mut g) = self.offsets.consumer.remove(group_id) else {
                results.push(Some(GroupError::UnknownMemberId));
                continue;
            };
            let found = match (&leaving.group_instance_id, leaving.member_id.is_empty()) {
                // Administrative removal by instance id.
                (Some(i), true) => g
                    .static_members
                    .get(i)
                    .and_then(|id| g.members.get(id))
                    .ok_or(GroupError::UnknownMemberId)
                    .and_then(|m| {
                        m.uses_classic()
                            .then_some(m)
                            .ok_or(GroupError::UnknownMemberId)
                    }),
                (instance, _) => classic_member_of(&g, &leaving.member_id, instance.as_deref()),
            }
            .map(|m| m.member_id.clone());
            match found {
                Ok(member_id) => {
                    tracing::info!(group = %group_id, member = %member_id, reason = ?leaving.reason,
                        "classic member left the consumer group");
                    records.extend(super::heartbeat::remove_member(&mut g, &member_id));
                    results.push(None);
                }
                Err(e) => results.push(Some(e)),
            }
            self.offsets.consumer.insert(group_id.to_string(), g);
        }
        if !records.is_empty() {
            ctx.append(records, false, None);
        }
        results
    }

    /// One member step shared by classic joins: bump the group epoch on a changed subscription or
    /// subscribed topics, recompute the target if needed, reconcile with `owned`.
    fn member_step(
        &mut self,
        g: &mut ConsumerGroup,
        member: ConsumerMember,
        changed: bool,
        owned: Option<super::Assignment>,
        records: &mut Vec<Record>,
    ) -> ConsumerMember {
        if let Some(i) = &member.instance_id {
            g.static_members.insert(i.clone(), member.member_id.clone());
        }
        g.members.insert(member.member_id.clone(), member.clone());
        let mut bump = changed;
        let metadata = self.subscription_metadata(g);
        if metadata != g.subscription_metadata {
            g.subscription_metadata = metadata;
            bump = true;
        }
        if bump {
            g.group_epoch += 1;
            records.push(super::records::group_epoch_record(g));
            tracing::info!(group = %g.group_id, epoch = g.group_epoch, member = %member.member_id, "consumer group epoch bumped");
        }
        if g.group_epoch > g.assignment_epoch {
            super::heartbeat::update_target(
                g,
                &member.server_assignor,
                &self.config.consumer_assignors,
            );
            records.extend(super::records::target_records(g));
        }
        let updated = super::heartbeat::reconcile_member(g, &member, owned.as_ref());
        g.members.insert(updated.member_id.clone(), updated.clone());
        updated
    }
}

/// The member a classic join is about (Kafka's `getOrMaybeSubscribe{Dynamic,Static}ConsumerGroupMember`
/// with the classic protocol), and for a static member's new incarnation the id it replaces.
fn classic_member(
    g: &ConsumerGroup,
    req: &JoinGroupRequest,
    member_id: &str,
    unknown: bool,
) -> Result<(ConsumerMember, Option<String>), Refusal> {
    let Some(instance) = &req.group_instance_id else {
        let m = g
            .members
            .get(member_id)
            .cloned()
            .unwrap_or_else(|| ConsumerMember::new(member_id.to_string()));
        return Ok((m, None));
    };
    let existing = g
        .static_members
        .get(instance)
        .and_then(|id| g.members.get(id));
    if unknown {
        return Ok(match existing {
            None => (ConsumerMember::new(member_id.to_string()), None),
            Some(old) => {
                // Kafka copies the member under its new id at epoch 0 and reconciles it from there.
                let mut m = old.clone();
                m.member_id = member_id.to_string();
                m.member_epoch = 0;
                m.previous_member_epoch = 0;
                (m, Some(old.member_id.clone()))
            }
        });
    }
    match existing {
        None => Err((
            GroupError::UnknownMemberId,
            format!("Instance id {instance} is unknown."),
        )),
        Some(m) if m.member_id != member_id => Err((
            GroupError::FencedInstanceId,
            format!("Static member {member_id} with instance id {instance} was replaced."),
        )),
        Some(m) => Ok((m.clone(), None)),
    }
}

/// Kafka's `validateConsumerGroupMember` + `throwIfMemberDoesNotUseClassicProtocol`.
fn classic_member_of<'a>(
    g: &'a ConsumerGroup,
    member_id: &str,
    instance: Option<&str>,
) -> Result<&'a ConsumerMember, GroupError> {
    let m = match instance {
        None => g
            .members
            .get(member_id)
            .ok_or(GroupError::UnknownMemberId)?,
        Some(i) => {
            let m = g
                .static_members
                .get(i)
                .and_then(|id| g.members.get(id))
                .ok_or(GroupError::UnknownMemberId)?;
            if m.member_id != member_id {
                return Err(GroupError::FencedInstanceId);
            }
            m
        }
    };
    if !m.uses_classic() {
        return Err(GroupError::UnknownMemberId);
    }
    Ok(m)
}

/// SyncGroup's checks (Kafka's `classicGroupSyncToConsumerGroup`): the member, its generation, the
/// protocol it was answered with, and no newer group epoch to rejoin for.
fn classic_sync_check<'a>(
    g: &'a ConsumerGroup,
    req: &SyncGroupRequest,
) -> Result<&'a ConsumerMember, GroupError> {
    let m = classic_member_of(g, &req.member_id, req.group_instance_id.as_deref())?;
    if m.member_epoch != req.generation_id {
        return Err(GroupError::IllegalGeneration);
    }
    let protocol = m
        .classic
        .as_ref()
        .and_then(|c| c.protocols.first())
        .map(|p| p.name.as_str());
    if req
        .protocol_type
        .as_deref()
        .is_some_and(|t| t != CONSUMER_PROTOCOL_TYPE)
        || req
            .protocol_name
            .as_deref()
            .is_some_and(|n| Some(n) != protocol)
    {
        return Err(GroupError::InconsistentGroupProtocol);
    }
    if g.group_epoch > m.member_epoch && m.state != MemberState::UnrevokedPartitions {
        return Err(GroupError::RebalanceInProgress);
    }
    Ok(m)
}
