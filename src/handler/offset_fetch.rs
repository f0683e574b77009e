//! OffsetFetch: wire ⇄ `GroupCoordinator::fetch_offsets`; v8+ fetches for several groups at once.

use std::sync::Arc;

use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{GroupId, OffsetFetchRequest, OffsetFetchResponse, TopicName};

use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestGroup;
use uuid::Uuid;

use super::group_common::{code_of, error_code, own, sb, TopicIds};
use super::{Call, Ctx, Handler, Reply};
use crate::group::{FetchedOffset, GroupCoordinator, GroupError};

/// The OffsetFetch handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct OffsetFetch;

impl Handler for OffsetFetch {
    type Request = OffsetFetchRequest;
    /// v10 is decoded by `protocol::offsets_v10` (the crate stops at v9).
    const VERSIONS: (i16, i16) = (1, 10);

    async fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: OffsetFetchRequest,
    ) -> Reply<OffsetFetchResponse> {
        Reply::Now(handle(&ctx.groups, ctx.cluster.as_ref(), call.version, req).await)
    }
}

/// Offsets of one group grouped by topic (in first-seen order), or the group-level error.
async fn fetch_group(
    groups: &GroupCoordinator,
    group_id: &str,
    topics: Option<Vec<(TopicName, Vec<i32>)>>,
    require_stable: bool,
) -> (Vec<(TopicName, Vec<FetchedOffset>)>, Option<GroupError>) {
    let wanted = topics.as_ref().map(|ts| {
        ts.iter()
            .flat_map(|(t, ps)| ps.iter().map(move |&p| (own(&t.0), p)))
            .collect::<Vec<_>>()
    });
    // Pending partitions first: read after the offsets, a commit marker landing in between would leave
    // an offset read before it with no pending transaction to mark it unstable (the old offset answered as
    // stable). Read before, a marker in between only makes the answer UNSTABLE_OFFSET_COMMIT once more.
    let pending = if require_stable {
        Some(groups.pending_txn_partitions(group_id).await)
    } else {
        None
    };
    match groups.fetch_offsets(group_id, wanted).await {
        Err(e) => {
            // Per-partition error too, for versions without a top-level error code.
            let by_topic = topics
                .unwrap_or_default()
                .into_iter()
                .map(|(t, ps)| {
                    let offsets = ps
                        .into_iter()
                        .map(|p| FetchedOffset {
                            topic: own(&t.0),
                            partition: p,
                            offset: -1,
                            leader_epoch: -1,
                            metadata: String::new(),
                            error: Some(e.clone()),
                        })
                        .collect();
                    (t, offsets)
                })
                .collect();
            (by_topic, Some(e))
        }
        Ok(mut offsets) => {
            if let Some(pending) = pending {
                mark_unstable(pending, &mut offsets);
            }
            let mut by_topic: Vec<(TopicName, Vec<FetchedOffset>)> = Vec::new();
            for o in offsets {
                match by_topic.iter_mut().find(|(t, _)| t.0.as_str() == o.topic) {
                    Some((_, list)) => list.push(o),
                    None => by_topic.push((TopicName(sb(o.topic.clone())), vec![o])),
                }
            }
            (by_topic, None)
        }
    }
}

/// KIP-447 `require_stable` (v7+): partitions whose offsets are pending in an open transaction answer
/// UNSTABLE_OFFSET_COMMIT with no offset, so the consumer retries instead of starting from a stale one.
fn mark_unstable(pending: Result<Vec<(String, i32)>, GroupError>, offsets: &mut [FetchedOffset]) {
    let pending = match pending {
        Ok(p) => p,
        Err(e) => {
            for o in offsets.iter_mut() {
                o.error = Some(e.clone());
            }
            return;
        }
    };
    for o in offsets.iter_mut() {
        if pending
            .iter()
            .any(|(t, p)| *t == o.topic && *p == o.partition)
        {
            o.offset = -1;
            o.error = Some(GroupError::UnstableOffsetCommit);
        }
    }
}

/// First version that names topics by id only (KIP-848).
pub const TOPIC_IDS_FROM: i16 = 10;

/// Handles OffsetFetch v1–10. v1 sends no top-level error (errors are per partition); v2–7 a top-level
/// error; v8+ one entry per requested group; v10 names topics by id. `topics: null` (v2+) returns every
/// committed partition.
pub async fn handle(
    groups: &GroupCoordinator,
    topic_ids: &dyn TopicIds,
    version: i16,
    req: OffsetFetchRequest,
) -> OffsetFetchResponse {
    let mut resp = OffsetFetchResponse::default();
    if version >= 8 {
        for g in req.groups {
            let out = fetch_group_v8(groups, topic_ids, version, g, req.require_stable).await;
            resp.groups.push(out);
        }
        return resp;
    }
    let topics = req.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.name, t.partition_indexes))
            .collect()
    });
    let (by_topic, error) =
        fetch_group(groups, req.group_id.0.as_str(), topics, req.require_stable).await;
    if version >= 2 {
        resp.error_code = error.as_ref().map_or(0, error_code);
    }
    resp.topics = by_topic
        .into_iter()
        .map(|(name, offsets)| {
            let mut t = OffsetFetchResponseTopic::default();
            t.name = name;
            t.partitions = offsets
                .into_iter()
                .map(|o| {
                    let mut p = OffsetFetchResponsePartition::default();
                    p.partition_index = o.partition;
                    p.committed_offset = o.offset;
                    if version >= 5 {
                        p.committed_leader_epoch = o.leader_epoch;
                    }
                    p.metadata = Some(sb(o.metadata));
                    p.error_code = code_of(&o.error);
                    p
                })
                .collect();
            t
        })
        .collect();
    resp
}

/// One group of an OffsetFetch v8+. At v10 the topics come as ids: ids no topic has are answered
/// UNKNOWN_TOPIC_ID after the coordinator's topics (Kafka's `KafkaApis.fetchOffsetsForGroup`), and
/// with `topics: null` committed topics without an id (deleted since) are left out, as Kafka leaves out
/// what it cannot name by id.
async fn fetch_group_v8(
    groups: &GroupCoordinator,
    topic_ids: &dyn TopicIds,
    version: i16,
    g: OffsetFetchRequestGroup,
    require_stable: bool,
) -> OffsetFetchResponseGroup {
    let by_id = version >= TOPIC_IDS_FROM;
    let mut unknown_ids: Vec<(Uuid, Vec<i32>)> = Vec::new();
    let mut ids: Vec<(String, Uuid)> = Vec::new();
    let topics = g.topics.map(|ts| {
        ts.into_iter()
            .filter_map(|t| {
                if !by_id {
                    return Some((t.name, t.partition_indexes));
                }
                match topic_ids.name_of(t.topic_id) {
                    Some(name) => {
                        ids.push((name.clone(), t.topic_id));
                        Some((TopicName(sb(name)), t.partition_indexes))
                    }
                    None => {
                        unknown_ids.push((t.topic_id, t.partition_indexes));
                        None
                    }
                }
            })
            .collect()
    });
    // v9+: a consumer (KIP-848) group member must fetch at its current epoch.
    let member = g.member_id.as_ref().map(own);
    let (by_topic, error) = match groups
        .check_fetch_member(g.group_id.0.as_str(), member, g.member_epoch)
        .await
    {
        Err(e) => (Vec::new(), Some(e)),
        Ok(()) => fetch_group(groups, g.group_id.0.as_str(), topics, require_stable).await,
    };
    let mut out = OffsetFetchResponseGroup::default();
    out.group_id = GroupId(g.group_id.0.clone());
    out.error_code = code_of(&error);
    if error.is_some() {
        return out;
    }
    for (name, offsets) in by_topic {
        let mut t = OffsetFetchResponseTopics::default();
        if by_id {
            let known = ids
                .iter()
                .find(|(n, _)| *n == name.0.as_str())
                .map(|(_, id)| *id);
            match known.or_else(|| topic_ids.id_of(name.0.as_str())) {
                Some(id) => t.topic_id = id,
                None => continue,
            }
        }
        t.name = name;
        t.partitions = offsets.into_iter().map(partition_v8).collect();
        out.topics.push(t);
    }
    for (id, partitions) in unknown_ids {
        let mut t = OffsetFetchResponseTopics::default();
        t.topic_id = id;
        t.partitions = partitions
            .into_iter()
            .map(|p| {
                partition_v8(FetchedOffset {
                    topic: String::new(),
                    partition: p,
                    offset: -1,
                    leader_epoch: -1,
                    metadata: String::new(),
                    error: Some(GroupError::UnknownTopicId),
                })
            })
            .collect();
        out.topics.push(t);
    }
    out
}

fn partition_v8(o: FetchedOffset) -> OffsetFetchResponsePartitions {
    let mut p = OffsetFetchResponsePartitions::default();
    p.partition_index = o.partition;
    p.committed_offset = o.offset;
    p.committed_leader_epoch = o.leader_epoch;
    p.metadata = Some(sb(o.metadata));
    p.error_code = code_of(&o.error);
    p
}
