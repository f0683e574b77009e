//! `__consumer_offsets` records in and out: replaying one record (load and run time), restoring a group
//! from its GroupMetadataValue, and building the records groups write.

use super::shard::*;

impl GroupShard {
    /// Applies one `__consumer_offsets` record (at load, and at run time for replayed writes). A record
    /// that does not decode is reported and skipped: one bad record must not keep every other group of
    /// the partition (or the broker) from loading.
    pub(super) fn replay_record(&mut self, record: &Record, producer_id: Option<i64>, now_ms: i64) {
        match self.replay_consumer(record) {
            Ok(true) => return,
            Ok(false) => {}
            Err(e) => {
                tracing::error!(error = %e, "skipping undecodable consumer group record");
                return;
            }
        }
        let (key, value) = record;
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
                .map(|v| self.replay_offset(group, topic, partition, v, producer_id, now_ms)),
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

    /// Kafka's `OffsetMetadataManager.replay`: a plain commit goes to the committed offsets, a
    /// transactional one (`producer_id`) waits with its transaction; a tombstone removes both.
    pub(super) fn replay_offset(
        &mut self,
        group: String,
        topic: String,
        partition: i32,
        value: Option<OffsetCommitValue>,
        producer_id: Option<i64>,
        now_ms: i64,
    ) {
        self.offsets.replayed += 1;
        let record = self.offsets.replayed;
        match value {
            Some(v) => {
                if !self.offsets.consumer.contains_key(&group) {
                    self.groups
                        .entry(group.clone())
                        .or_insert_with(|| ClassicGroup::new(group.clone(), now_ms));
                }
                let offset = CommittedOffset {
                    offset: v.offset,
                    leader_epoch: v.leader_epoch,
                    metadata: v.metadata,
                    commit_timestamp_ms: v.commit_timestamp_ms,
                    expire_timestamp_ms: v.expire_timestamp_ms,
                    record,
                };
                let offsets = match producer_id {
                    None => &mut self.offsets.committed,
                    Some(pid) => self.offsets.pending.entry(pid).or_default(),
                };
                offsets
                    .entry(group)
                    .or_default()
                    .insert((topic, partition), offset);
            }
            None => {
                let key = (topic, partition);
                remove_offset(&mut self.offsets.committed, &group, &key);
                for (_, pending) in self.offsets.pending.iter_mut() {
                    remove_offset(pending, &group, &key);
                }
                self.offsets.pending.retain(|_, o| !o.is_empty());
            }
        }
    }

    /// Kafka's `replayEndTransactionMarker`: a commit makes the producer's pending offsets committed,
    /// unless a plain commit of the same partition was written after them (the newer record wins, as
    /// compaction would keep it); an abort drops them.
    pub(super) fn replay_txn_marker(&mut self, producer_id: i64, commit: bool) {
        let Some(pending) = self.offsets.pending.remove(&producer_id) else {
            return;
        };
        if !commit {
            return;
        }
        for (group, offsets) in pending {
            let committed = self.offsets.committed.entry(group).or_default();
            for (key, offset) in offsets {
                if committed.get(&key).is_none_or(|c| c.record < offset.record) {
                    committed.insert(key, offset);
                }
            }
        }
    }

    /// A GroupMetadata record replaces the group (as Kafka's replay does); a tombstone removes it.
    pub(super) fn replay_group(
        &mut self,
        group: String,
        value: Option<GroupMetadataValue>,
        now_ms: i64,
    ) {
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

/// Removes one partition's offset of `group` from `offsets`, and the group's entry once it is empty.
fn remove_offset(offsets: &mut Offsets, group: &str, key: &(String, i32)) {
    let now_empty = offsets.get_mut(group).is_some_and(|o| {
        o.remove(key);
        o.is_empty()
    });
    if now_empty {
        offsets.remove(group);
    }
}

/// Restores a group from its GroupMetadataValue: Stable with its members if it had any (they must
/// heartbeat within their session timeout), else Empty.
pub(super) fn load_group(g: &mut ClassicGroup, v: GroupMetadataValue, now_ms: i64) {
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
pub(super) fn group_record(
    g: &ClassicGroup,
    assignment: Option<&HashMap<String, Bytes>>,
) -> OffsetsRecord {
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

/// Tombstones for the given offsets and for the group's metadata record.
pub(super) fn tombstones<'a>(
    group_id: &str,
    offsets: impl Iterator<Item = &'a (String, i32)>,
) -> Vec<OffsetsRecord> {
    let mut records: Vec<OffsetsRecord> = offsets
        .map(|(t, p)| (records::encode_offset_key(group_id, t, *p), None))
        .collect();
    records.push((records::encode_group_key(group_id), None));
    records
}
