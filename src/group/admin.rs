//! DeleteGroups, DescribeGroups, ListGroups and the offset-retention sweep.

use super::shard::*;

impl GroupShard {
    pub(super) fn delete_group(
        &mut self,
        ctx: &mut GCtx,
        group_id: &str,
        reply: oneshot::Sender<Result<(), GroupError>>,
    ) {
        if self.offsets.consumer.contains_key(group_id) {
            return self.delete_consumer_group(ctx, group_id, reply);
        }
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
                // Pending transactional offsets too, or a later commit marker would revive them.
                let records = tombstones(group_id, self.offsets.keys_of(group_id).iter());
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

    pub(super) fn describe(&self, group_id: &str) -> GroupDescription {
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

    pub(super) fn list(&self) -> Vec<GroupListing> {
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
    pub(super) fn expire_offsets(&mut self, ctx: &mut GCtx) {
        let now_ms = ctx.now_ms();
        let retention_ms = self.config.offsets_retention_ms;
        let ids: Vec<String> = self.groups.keys().cloned().collect();
        for id in ids {
            let Some(mut g) = self.groups.remove(&id) else {
                continue;
            };
            let offsets = self.offsets.committed.get(&id);
            let pending =
                |topic: &str, partition: i32| self.offsets.has_pending(&id, topic, partition);
            let expired: Vec<(String, i32)> = offsets
                .iter()
                .flat_map(|o| o.iter())
                // Kafka never expires an offset an open transaction is about to replace.
                .filter(|((topic, partition), _)| !pending(topic, *partition))
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
            let remaining = self.offsets.keys_of(&id).len() - expired.len();
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
        self.expire_consumer_group_offsets(ctx, now_ms, retention_ms);
    }

    /// Kafka's `cleanupGroupMetadata` for consumer (KIP-848) groups: an offset of a topic no member
    /// subscribes to expires `offsets.retention.minutes` after its commit (or at its explicit expiry), and
    /// an empty group whose offsets all expired is deleted with them.
    fn expire_consumer_group_offsets(&mut self, ctx: &mut GCtx, now_ms: i64, retention_ms: i64) {
        let mut out: Vec<Record> = Vec::new();
        let mut dead = Vec::new();
        for (id, g) in &self.offsets.consumer {
            let regexes: Vec<regex::Regex> = g
                .members
                .values()
                .filter_map(|m| m.subscribed_topic_regex.as_deref())
                .filter_map(super::consumer::compile)
                .collect();
            let subscribed = |topic: &str| {
                g.members.values().any(|m| m.subscribes_to(topic, None))
                    || regexes.iter().any(|r| r.is_match(topic))
            };
            let offsets = self.offsets.committed.get(id);
            let mut kept = 0usize;
            for ((topic, partition), o) in offsets.iter().flat_map(|o| o.iter()) {
                // Kafka never expires an offset an open transaction is about to replace.
                let expired = !subscribed(topic)
                    && !self.offsets.has_pending(id, topic, *partition)
                    && match o.expire_timestamp_ms {
                        Some(expire) => now_ms >= expire,
                        None => now_ms - o.commit_timestamp_ms >= retention_ms,
                    };
                if expired {
                    out.push((records::encode_offset_key(id, topic, *partition), None));
                } else {
                    kept += 1;
                }
            }
            let pending = self.offsets.pending.values().any(|o| o.contains_key(id));
            if kept == 0 && !pending && g.members.is_empty() {
                dead.push(id.clone());
            }
        }
        for id in &dead {
            // Replayed below: the group goes once its tombstones are written.
            out.extend(super::consumer::records::group_tombstones(id));
            tracing::info!(group = %id, "empty consumer group removed: its offsets expired");
        }
        if out.is_empty() {
            return;
        }
        ctx.append(
            out,
            true,
            Some(Box::new(|_: &mut GroupShard, result, _| {
                if let Err(e) = result {
                    tracing::warn!(error = %e, "failed to write consumer-group offset expiry tombstones");
                }
            })),
        );
    }
}
