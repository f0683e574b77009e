//! SyncGroup, Heartbeat and LeaveGroup: what members do between and after rebalances.

use super::shard::*;

impl GroupShard {
    pub(super) fn sync(
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
        if self.offsets.consumer.contains_key(&req.group_id) {
            return self.classic_sync_to_consumer(ctx, req, reply);
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
                    let Some(m) = g.members.get_mut(&req.member_id) else {
                        return fail(reply, GroupError::UnknownMemberId);
                    };
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

    pub(super) fn remove_pending_sync(&mut self, g: &mut ClassicGroup, member_id: &str) {
        g.pending_sync.remove(member_id);
        if g.pending_sync.is_empty() {
            g.sync_timer = None;
        }
    }

    // ---------------------------------------------------------------- heartbeat, leave

    pub(super) fn heartbeat(
        &mut self,
        ctx: &mut GCtx,
        req: &HeartbeatRequest,
    ) -> Result<(), GroupError> {
        if req.group_id.is_empty() {
            return Err(GroupError::InvalidGroupId);
        }
        if self.offsets.consumer.contains_key(&req.group_id) {
            return self.classic_heartbeat_to_consumer(ctx, req);
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

    pub(super) fn leave(
        &mut self,
        ctx: &mut GCtx,
        group_id: &str,
        members: Vec<LeavingMember>,
    ) -> Result<Vec<Option<GroupError>>, GroupError> {
        if group_id.is_empty() {
            return Err(GroupError::InvalidGroupId);
        }
        if self.offsets.consumer.contains_key(group_id) {
            return Ok(self.classic_leave_consumer(ctx, group_id, members));
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
}
