//! OffsetCommit, OffsetFetch and OffsetDelete: committed offsets are replayed state, so these append
//! records (replayed at once, reverted if the append fails) and read the committed state.

use super::shard::*;

impl GroupShard {
    /// Why one partition of an OffsetCommit or TxnOffsetCommit is refused, if it is: an unknown
    /// partition, the group's own error, or metadata over `offset.metadata.max.bytes` (Kafka's order).
    pub(super) fn commit_refusal(
        &self,
        topic: &str,
        partition: i32,
        metadata_len: usize,
        group_error: &Option<GroupError>,
    ) -> Option<GroupError> {
        if !self.topics.partition_exists(topic, partition) {
            Some(GroupError::UnknownTopicOrPartition)
        } else if let Some(e) = group_error {
            Some(e.clone())
        } else if metadata_len > self.config.offset_metadata_max_bytes {
            Some(GroupError::OffsetMetadataTooLarge)
        } else {
            None
        }
    }

    pub(super) fn commit(
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
        // A consumer (KIP-848) group checks member epochs instead of generations.
        let consumer_check = self
            .offsets
            .consumer
            .get(&req.group_id)
            .map(|cg| cg.validate_offset_commit(&req.member_id, req.generation_id));
        let mut g = match (consumer_check.is_some(), self.groups.remove(&req.group_id)) {
            (false, Some(g)) => Some(g),
            (false, None) if req.generation_id < 0 => {
                Some(ClassicGroup::new(req.group_id.clone(), now_ms))
            }
            _ => None,
        };
        let group_error = match consumer_check {
            Some(check) => check,
            None => group_error.or_else(|| match &mut g {
                None => Some(GroupError::IllegalGeneration),
                Some(g) => self.validate_commit(ctx, g, &req),
            }),
        };
        let mut results = Vec::with_capacity(req.partitions.len());
        let mut records: Vec<OffsetsRecord> = Vec::new();
        for p in &req.partitions {
            let error = self.commit_refusal(&p.topic, p.partition, p.metadata.len(), &group_error);
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

    pub(super) fn validate_commit(
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
    pub(super) fn fetch(
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

    pub(super) fn delete_offsets(
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
        let offsets = self.offsets.committed.get(group_id);
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
                    if offsets.is_some_and(|o| o.contains_key(&key))
                        || self.offsets.has_pending(group_id, &topic, partition)
                    {
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
}
