//! ListPartitionReassignments and ElectLeaders, answered truthfully for a single node: every partition has
//! one replica, this node, which is its preferred leader; nothing is ever being reassigned.

use std::sync::Arc;

use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::{
    ElectLeadersRequest, ElectLeadersResponse, ListPartitionReassignmentsRequest,
    ListPartitionReassignmentsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::{Call, Ctx, Handler, Reply};

/// The ListPartitionReassignments handler: the versions it serves and its entry point (named once in
/// `list.rs`).
pub struct ListPartitionReassignments;

impl Handler for ListPartitionReassignments {
    type Request = ListPartitionReassignmentsRequest;
    const VERSIONS: (i16, i16) = (0, 0);

    async fn handle(
        _ctx: &Arc<Ctx>,
        _call: &Call<'_>,
        _req: ListPartitionReassignmentsRequest,
    ) -> Reply<ListPartitionReassignmentsResponse> {
        // Kafka's controller lists only ongoing reassignments and skips unknown topics and partitions
        // without an error (`ReplicationControlManager.listPartitionReassignments`); none is ever ongoing.
        Reply::Now(ListPartitionReassignmentsResponse::default().with_error_message(None))
    }
}

/// The ElectLeaders handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct ElectLeaders;

impl Handler for ElectLeaders {
    type Request = ElectLeadersRequest;
    const VERSIONS: (i16, i16) = (0, 2);

    async fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: ElectLeadersRequest,
    ) -> Reply<ElectLeadersResponse> {
        Reply::Now(elect_leaders(ctx, call.version, req))
    }
}

/// Kafka's `ElectionType` ids.
const PREFERRED: i8 = 0;
const UNCLEAN: i8 = 1;

/// Answers as Kafka's `ReplicationControlManager.electLeaders`: named partitions each get a result; with
/// no partitions named every partition is tried and only those that needed an election are listed.
pub fn elect_leaders(ctx: &Ctx, version: i16, req: ElectLeadersRequest) -> ElectLeadersResponse {
    // v0 has no election type field: it always asked for the preferred leader.
    let election_type = if version >= 1 {
        req.election_type
    } else {
        PREFERRED
    };
    if !matches!(election_type, PREFERRED | UNCLEAN) {
        // Kafka throws InvalidRequestException; `ElectLeadersRequest.getErrorResponse` repeats the error
        // for every named partition.
        let message = format!("Unknown election type {election_type}");
        let results = req
            .topic_partitions
            .unwrap_or_default()
            .into_iter()
            .map(|t| {
                let partitions = t
                    .partitions
                    .iter()
                    .map(|p| {
                        result(
                            *p,
                            ResponseError::InvalidRequest.code(),
                            Some(message.clone()),
                        )
                    })
                    .collect();
                topic_result(t.topic, partitions)
            })
            .collect();
        return ElectLeadersResponse::default()
            .with_error_code(if version >= 1 {
                ResponseError::InvalidRequest.code()
            } else {
                0
            })
            .with_replica_election_results(results);
    }
    let results = match req.topic_partitions {
        Some(topics) => topics
            .into_iter()
            .map(|t| {
                let partitions = t
                    .partitions
                    .iter()
                    .map(|p| {
                        let (code, message) = elect_leader(ctx, &t.topic, *p);
                        result(*p, code, message)
                    })
                    .collect();
                topic_result(t.topic, partitions)
            })
            .collect(),
        // Every partition already has its preferred (and only) leader, so every topic is listed with no
        // partitions, as Kafka lists topics whose partitions all answered ELECTION_NOT_NEEDED.
        None => {
            let mut names: Vec<String> = ctx.cluster.topics().into_iter().map(|t| t.name).collect();
            names.sort();
            names
                .into_iter()
                .map(|n| topic_result(TopicName(StrBytes::from_string(n)), vec![]))
                .collect()
        }
    };
    ElectLeadersResponse::default().with_replica_election_results(results)
}

/// Kafka's `ReplicationControlManager.electLeader` on a node that leads every partition it has: a
/// preferred election is not needed (the leader is the preferred replica) and neither is an unclean one
/// (the partition has a leader).
fn elect_leader(ctx: &Ctx, topic: &str, partition: i32) -> (i16, Option<String>) {
    let Some(meta) = ctx.cluster.topic(topic) else {
        return (
            ResponseError::UnknownTopicOrPartition.code(),
            Some(format!("No such topic as {topic}")),
        );
    };
    let Some(state) = meta.partition(partition) else {
        return (
            ResponseError::UnknownTopicOrPartition.code(),
            Some(format!("No such partition as {topic}-{partition}")),
        );
    };
    if state.replicas.first() != Some(&state.leader) {
        // With one replica, the preferred leader can only be missing because its broker is fenced.
        return (
            ResponseError::PreferredLeaderNotAvailable.code(),
            Some(format!(
                "Failed to elect leader for partition {topic}-{partition} under strategy PreferredElection"
            )),
        );
    }
    (
        ResponseError::ElectionNotNeeded.code(),
        Some("Leader election not needed for topic partition.".to_string()),
    )
}

fn result(partition: i32, code: i16, message: Option<String>) -> PartitionResult {
    PartitionResult::default()
        .with_partition_id(partition)
        .with_error_code(code)
        .with_error_message(message.map(StrBytes::from_string))
}

fn topic_result(topic: TopicName, partitions: Vec<PartitionResult>) -> ReplicaElectionResult {
    ReplicaElectionResult::default()
        .with_topic(topic)
        .with_partition_result(partitions)
}
