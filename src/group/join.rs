//! JoinGroup and the rebalance it drives (Kafka's classic-group join rules): new, known and static
//! members, preparing a rebalance, completing the join phase.

use super::shard::*;

impl GroupShard {
    pub(super) fn join(
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
        // A non-empty consumer (KIP-848) group takes classic members in (online migration); an empty one
        // becomes a classic group below.
        if let Some(g) = self.offsets.consumer.remove(&req.group_id) {
            if !g.members.is_empty() {
                return self.classic_join_to_consumer(ctx, g, req, reply);
            }
            self.offsets.consumer.insert(req.group_id.clone(), g);
        }
        let is_unknown = req.member_id.is_empty();
        self.replace_empty_consumer_group(ctx, &req.group_id);
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

    pub(super) fn accept_joining_member(&self, g: &ClassicGroup, member_id: &str) -> bool {
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

    pub(super) fn new_member_join(
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

    pub(super) fn current_member_join(
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

    pub(super) fn add_member_and_rebalance(
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

    pub(super) fn update_member_and_rebalance(
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
    pub(super) fn update_static_member_and_rebalance(
        &mut self,
        ctx: &mut GCtx,
        g: &mut ClassicGroup,
        req: JoinGroupRequest,
        old_member_id: String,
        new_member_id: String,
        reply: oneshot::Sender<JoinGroupResult>,
    ) {
        let previous_leader = g.leader_or_empty();
        let (Some(instance), Some(old)) =
            (req.group_instance_id.clone(), g.members.get(&old_member_id))
        else {
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

    pub(super) fn maybe_prepare_rebalance(&mut self, ctx: &mut GCtx, g: &mut ClassicGroup) {
        if GroupState::PreparingRebalance.can_follow(g.state) {
            self.prepare_rebalance(ctx, g);
        }
    }

    pub(super) fn prepare_rebalance(&mut self, ctx: &mut GCtx, g: &mut ClassicGroup) {
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
    pub(super) fn try_complete_join(&mut self, ctx: &mut GCtx, g: &mut ClassicGroup) {
        if g.is(GroupState::PreparingRebalance)
            && matches!(g.join_timer, Some(JoinTimer::Regular { .. }))
            && g.has_all_members_joined()
        {
            self.on_complete_join(ctx, g);
        }
    }

    /// Kafka's `onCompleteJoin`: drop members that did not rejoin, start the next generation, answer
    /// the parked joins.
    pub(super) fn on_complete_join(&mut self, ctx: &mut GCtx, g: &mut ClassicGroup) {
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
            // `ids` are the group's members and completing a join removes none.
            let Some(m) = g.members.get_mut(member_id) else {
                continue;
            };
            m.is_new = false;
            let session_ms = m.session_timeout_ms;
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
    pub(super) fn remove_member_and_update_group(
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

    /// Kafka's `maybeDeleteEmptyConsumerGroup`: a classic join turns an empty consumer
    /// group into a classic one whatever the migration policy, writing the consumer group's tombstones.
    /// Committed offsets stay with the group id.
    fn replace_empty_consumer_group(&mut self, ctx: &mut GCtx, group_id: &str) {
        if self.offsets.consumer.remove(group_id).is_none() {
            return;
        }
        tracing::info!(group = %group_id, "converted the empty consumer group to a classic group");
        ctx.append(
            super::consumer::records::group_tombstones(group_id),
            false,
            Some(Box::new(|_: &mut GroupShard, result, _| {
                if let Err(e) = result {
                    tracing::warn!(error = %e, "failed to write the replaced consumer group's tombstones");
                }
            })),
        );
    }
}
