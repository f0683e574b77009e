//! What happens once a group write resolved (Kafka's append futures): the leader's assignment and a
//! static member's rejoin, each with its failure path.

use super::shard::*;

impl GroupShard {
    /// The leader's assignment append resolved (Kafka's SyncGroup append future).
    pub(super) fn assignment_stored(
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
    pub(super) fn complete_sync_phase(
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
    pub(super) fn static_rejoin_stored(
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

    pub(super) fn revert_static_rejoin(
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
}
