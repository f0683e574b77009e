//! TxnOffsetCommit (KIP-98): offsets a transactional producer commits for a group
//! (`sendOffsetsToTransaction`) are written to `__consumer_offsets` as a transactional batch of that
//! producer, as Kafka's group coordinator does, and replayed into the shard's pending offsets. The
//! transaction's marker, written into the partition through this shard, replays them into the committed
//! offsets (commit) or drops them (abort) — at run time and at load alike, so a coordinator that moves or
//! restarts before the marker still holds them pending. OffsetFetch with `require_stable` answers
//! UNSTABLE_OFFSET_COMMIT for a partition with pending offsets.

use super::shard::*;
use super::GroupCoordinator;
use crate::coordinator::TxnMarker;

impl GroupShard {
    /// Kafka's `doTxnCommitOffsets`: validates as a commit of the group (an unknown group is created
    /// Empty, a member id and generation are checked when given) and appends the accepted offsets as a
    /// transactional batch of `producer_id`; answers once it is durable.
    fn txn_commit(
        &mut self,
        ctx: &mut GCtx,
        (producer_id, producer_epoch): (i64, i16),
        req: OffsetCommitRequest,
        reply: oneshot::Sender<Vec<PartitionResult>>,
    ) {
        let now_ms = ctx.now_ms();
        let group_error = {
            let g = self
                .groups
                .entry(req.group_id.clone())
                .or_insert_with(|| ClassicGroup::new(req.group_id.clone(), now_ms));
            if g.is(GroupState::Dead) {
                Some(GroupError::CoordinatorNotAvailable)
            } else if g.is_static_member_fenced(req.group_instance_id.as_deref(), &req.member_id) {
                Some(GroupError::FencedInstanceId)
            } else if !req.member_id.is_empty() && !g.members.contains_key(&req.member_id) {
                Some(GroupError::UnknownMemberId)
            } else if req.generation_id >= 0 && req.generation_id != g.generation_id {
                Some(GroupError::IllegalGeneration)
            } else {
                None
            }
        };
        let mut results = Vec::with_capacity(req.partitions.len());
        let mut records: Vec<Record> = Vec::new();
        for p in req.partitions {
            let error = self.commit_refusal(&p.topic, p.partition, p.metadata.len(), &group_error);
            if error.is_none() {
                let value = OffsetCommitValue {
                    offset: p.offset,
                    leader_epoch: p.leader_epoch,
                    metadata: p.metadata,
                    commit_timestamp_ms: now_ms,
                    expire_timestamp_ms: None,
                };
                records.push((
                    records::encode_offset_key(&req.group_id, &p.topic, p.partition),
                    Some(records::encode_offset_value(&value)),
                ));
            }
            results.push(PartitionResult {
                topic: p.topic,
                partition: p.partition,
                error,
            });
        }
        if records.is_empty() {
            self.drop_if_empty(&req.group_id);
            let _ = reply.send(results);
            return;
        }
        let group_id = req.group_id;
        ctx.append_transactional(
            producer_id,
            producer_epoch,
            records,
            Some(Box::new(move |s: &mut GroupShard, result, _| {
                if let Err(e) = result {
                    let e = GroupError::from(e);
                    tracing::warn!(group = %group_id, producer_id, error = %e,
                        "transactional offset commit append failed");
                    for r in results.iter_mut().filter(|r| r.error.is_none()) {
                        r.error = Some(e.clone());
                    }
                    s.drop_if_empty(&group_id);
                }
                let _ = reply.send(results);
            })),
        );
    }

    /// Drops a group this call created if it holds nothing (no members, no offsets).
    fn drop_if_empty(&mut self, group_id: &str) {
        if let Some(g) = self.groups.remove(group_id) {
            self.put_back(g);
        }
    }

    /// Partitions of `group_id` with offsets pending in an open transaction, in `committed` (the state
    /// whose writes are durable).
    fn pending_partitions(committed: &OffsetsState, group_id: &str) -> Vec<(String, i32)> {
        let mut out: Vec<(String, i32)> = committed
            .pending
            .values()
            .filter_map(|o| o.get(group_id))
            .flat_map(|o| o.keys().cloned())
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

impl GroupCoordinator {
    /// TxnOffsetCommit of the transaction of `producer` (id, epoch): one result per partition in request
    /// order; the offsets are durable but pending until the transaction's marker.
    pub async fn txn_commit_offsets(
        &self,
        producer: (i64, i16),
        req: OffsetCommitRequest,
    ) -> Vec<PartitionResult> {
        let group_id = req.group_id.clone();
        let parts: Vec<(String, i32)> = req
            .partitions
            .iter()
            .map(|p| (p.topic.clone(), p.partition))
            .collect();
        let answer = self
            .call(&group_id, move |s, ctx, tx| {
                s.txn_commit(ctx, producer, req, tx)
            })
            .await;
        answer.unwrap_or_else(|e| {
            parts
                .into_iter()
                .map(|(topic, partition)| PartitionResult {
                    topic,
                    partition,
                    error: Some(e.clone()),
                })
                .collect()
        })
    }

    /// Writes a transaction's marker into `__consumer_offsets` partition `partition` (Kafka's
    /// `completeTransaction`): through the shard, which replays it, so the producer's pending offsets
    /// there become committed (or are dropped) exactly where the marker sits in the log. Answers once
    /// the marker is durable.
    pub async fn complete_txn(&self, partition: i32, marker: TxnMarker) -> Result<(), GroupError> {
        self.runtime
            .write(partition, move |_, ctx| ctx.append_end_txn(marker, None))
            .await?;
        Ok(())
    }

    /// Partitions of `group_id` whose offsets are pending in an open transaction (OffsetFetch
    /// `require_stable`).
    pub async fn pending_txn_partitions(
        &self,
        group_id: &str,
    ) -> Result<Vec<(String, i32)>, GroupError> {
        let g = group_id.to_string();
        Ok(self
            .runtime
            .read(self.partition_for(group_id), move |_, committed| {
                GroupShard::pending_partitions(committed, &g)
            })
            .await?)
    }
}
