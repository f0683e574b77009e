//! Consumer-group records in: rebuilding groups at load from the records `records` writes, and the
//! derived state (owners, static members, subscribed topics) once the partition is loaded.

use super::records::{self, Key};
use super::{ConsumerGroup, ConsumerMember};
use crate::group::shard::*;

impl GroupShard {
    /// Applies one consumer-group record; `Ok(false)` if the key is not one.
    pub(crate) fn replay_consumer(&mut self, (key, value): &Record) -> Result<bool, GroupError> {
        let Some(Key {
            kind,
            group,
            member,
        }) = records::decode_key(key)?
        else {
            return Ok(false);
        };
        let value = value.as_deref();
        if value.is_none() && kind == records::GROUP_METADATA {
            self.offsets.consumer.remove(&group);
            return Ok(true);
        }
        if value.is_none() && !self.offsets.consumer.contains_key(&group) {
            // A tombstone for a group already gone: nothing to create.
            return Ok(true);
        }
        // A consumer group replaces an offsets-only classic group of the same id (as at run time).
        self.groups.remove(&group);
        let g = self
            .offsets
            .consumer
            .entry(group.clone())
            .or_insert_with(|| ConsumerGroup::new(group));
        match (kind, member, value) {
            (records::GROUP_METADATA, _, Some(v)) => g.group_epoch = records::decode_epoch(v)?,
            (records::TARGET_METADATA, _, Some(v)) => {
                g.assignment_epoch = records::decode_epoch(v)?
            }
            (records::TARGET_MEMBER, Some(m), Some(v)) => {
                g.target.insert(m, records::decode_target(v)?);
            }
            (records::TARGET_MEMBER, Some(m), None) => {
                g.target.remove(&m);
            }
            (records::MEMBER_METADATA, Some(m), Some(v)) => {
                let md = records::decode_member(v)?;
                let member = g
                    .members
                    .entry(m.clone())
                    .or_insert_with(|| ConsumerMember::new(m));
                member.instance_id = md.instance_id;
                member.rack_id = md.rack_id;
                member.client_id = md.client_id;
                member.client_host = md.client_host;
                member.subscribed_topic_names = md.subscribed_topic_names;
                member.subscribed_topic_regex = md.subscribed_topic_regex;
                member.rebalance_timeout_ms = md.rebalance_timeout_ms;
                member.server_assignor = md.server_assignor;
                member.classic = md.classic;
            }
            (records::MEMBER_METADATA, Some(m), None) => {
                g.members.remove(&m);
            }
            (records::CURRENT_ASSIGNMENT, Some(m), Some(v)) => {
                let c = records::decode_current(v)?;
                let member = g
                    .members
                    .entry(m.clone())
                    .or_insert_with(|| ConsumerMember::new(m));
                member.member_epoch = c.member_epoch;
                member.previous_member_epoch = c.previous_member_epoch;
                member.state = c.state;
                member.assigned = c.assigned;
                member.revoking = c.revoking;
            }
            _ => {}
        }
        Ok(true)
    }

    /// After load: owners and static members from the members, subscribed topics from the metadata
    /// image (so an unchanged group does not rebalance), and every member's session restarted.
    pub(crate) fn consumer_loaded(&mut self, ctx: &mut GCtx) {
        let ids: Vec<String> = self.offsets.consumer.keys().cloned().collect();
        for id in ids {
            let Some(mut g) = self.offsets.consumer.remove(&id) else {
                continue;
            };
            g.owners.clear();
            g.static_members.clear();
            let members: Vec<ConsumerMember> = g.members.values().cloned().collect();
            for m in &members {
                g.track_owned(m, false);
                if let Some(i) = &m.instance_id {
                    g.static_members.insert(i.clone(), m.member_id.clone());
                }
            }
            g.subscription_metadata = self.subscription_metadata(&mut g);
            for m in &members {
                self.arm_consumer_session(ctx, &mut g, &m.member_id);
            }
            self.offsets.consumer.insert(id, g);
        }
    }
}

impl GroupShard {
    /// DeleteGroups on a consumer group: only once it has no members; its offsets go with it.
    pub(crate) fn delete_consumer_group(
        &mut self,
        ctx: &mut GCtx,
        group_id: &str,
        reply: oneshot::Sender<Result<(), GroupError>>,
    ) {
        if self
            .offsets
            .consumer
            .get(group_id)
            .is_some_and(|g| !g.members.is_empty())
        {
            let _ = reply.send(Err(GroupError::NonEmptyGroup));
            return;
        }
        let mut out: Vec<Record> = self
            .offsets
            .keys_of(group_id)
            .iter()
            .map(|(t, p)| {
                (
                    crate::group::records::encode_offset_key(group_id, t, *p),
                    None,
                )
            })
            .collect();
        out.extend(records::group_tombstones(group_id));
        tracing::info!(group = %group_id, "consumer group deleted");
        ctx.append(
            out,
            true,
            Some(Box::new(move |_: &mut GroupShard, result, _| {
                let _ = reply.send(result.map_err(GroupError::from));
            })),
        );
    }
}
