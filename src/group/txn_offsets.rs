//! TxnOffsetCommit (KIP-98): offsets a transactional producer commits for a group
//! (`sendOffsetsToTransaction`) stay pending until the transaction's marker reaches this
//! `__consumer_offsets` partition; a commit marker makes them committed offsets (appended as OffsetCommit
//! records, replayed as any commit), an abort drops them. OffsetFetch with `require_stable` answers
//! UNSTABLE_OFFSET_COMMIT for a partition with pending offsets.
//!
//! Unlike Kafka, pending offsets are kept in memory, not written as transactional records: a coordinator
//! restart between TxnOffsetCommit and the commit marker loses them (the group then resumes from its
//! previous commit, so the transaction's input is processed again).

use super::shard::*;
use super::GroupCoordinator;

/// Pending offsets per producer id: (group, topic, partition) → value.
pub type PendingTxnOffsets = HashMap<i64, HashMap<(String, String, i32), OffsetCommitValue>>;

impl GroupShard {
    /// Kafka's `doTxnCommitOffsets`: validates as a commit of the group (an unknown group is created
    /// Empty, a member id and generation are checked when given) and keeps the offsets pending.
    fn txn_commit(
        &mut self,
        ctx: &mut GCtx,
        producer_id: i64,
        req: OffsetCommitRequest,
    ) -> Vec<PartitionResult> {
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
        for p in req.partitions {
            let error = self.commit_refusal(&p.topic, p.partition, p.metadata.len(), &group_error);
            if error.is_none() {
                let value = OffsetCommitValue {
                    offset: p.offset,
                    leader_epoch: p.leader_epoch,
                    metadata: p.metadata.clone(),
                    commit_timestamp_ms: now_ms,
                    expire_timestamp_ms: None,
                };
                self.txn_offsets
                    .entry(producer_id)
                    .or_default()
                    .insert((req.group_id.clone(), p.topic.clone(), p.partition), value);
            }
            results.push(PartitionResult {
                topic: p.topic,
                partition: p.partition,
                error,
            });
        }
        results
    }

    /// The transaction of `producer_id` ended (its marker is in this partition): a commit appends its
    /// pending offsets as committed ones and answers once they are durable; an abort drops them.
    fn complete_txn(
        &mut self,
        ctx: &mut GCtx,
        producer_id: i64,
        commit: bool,
        reply: oneshot::Sender<Result<(), GroupError>>,
    ) {
        if !commit {
            self.txn_offsets.remove(&producer_id);
            let _ = reply.send(Ok(()));
            return;
        }
        let records: Vec<Record> = self
            .txn_offsets
            .get(&producer_id)
            .into_iter()
            .flatten()
            .map(|((group, topic, partition), value)| {
                (
                    records::encode_offset_key(group, topic, *partition),
                    Some(records::encode_offset_value(value)),
                )
            })
            .collect();
        if records.is_empty() {
            let _ = reply.send(Ok(()));
            return;
        }
        // Pending until durable, so OffsetFetch never sees neither the pending nor the committed offset.
        ctx.append(
            records,
            true,
            Some(Box::new(move |s: &mut GroupShard, result, _| {
                if result.is_ok() {
                    s.txn_offsets.remove(&producer_id);
                }
                let _ = reply.send(result.map_err(GroupError::from));
            })),
        );
    }

    /// Partitions of `group_id` with offsets pending in an open transaction.
    fn pending_partitions(&self, group_id: &str) -> Vec<(String, i32)> {
        let mut out: Vec<(String, i32)> = self
            .txn_offsets
            .values()
            .flat_map(|m| m.keys())
            .filter(|(g, _, _)| g == group_id)
            .map(|(_, t, p)| (t.clone(), *p))
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

impl GroupCoordinator {
    /// TxnOffsetCommit: one result per partition in request order; the offsets stay pending until the
    /// transaction of `producer_id` ends.
    pub async fn txn_commit_offsets(
        &self,
        producer_id: i64,
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
                let _ = tx.send(s.txn_commit(ctx, producer_id, req));
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

    /// A transaction marker of `producer_id` was written to `__consumer_offsets` partition
    /// `partition`: commits or drops its pending offsets there.
    pub async fn complete_txn(
        &self,
        partition: i32,
        producer_id: i64,
        commit: bool,
    ) -> Result<(), GroupError> {
        self.runtime
            .call(partition, move |s, ctx, tx| {
                s.complete_txn(ctx, producer_id, commit, tx)
            })
            .await?
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
            .read(self.partition_for(group_id), move |s, _| {
                s.pending_partitions(&g)
            })
            .await?)
    }
}
