//! ListPartitionReassignments (nothing is ever being reassigned) and ElectLeaders (preferred and unclean
//! elections, decided by the active controller).

use std::sync::Arc;

use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::{
    ElectLeadersRequest, ElectLeadersResponse, ListPartitionReassignmentsRequest,
    ListPartitionReassignmentsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::errors::cluster_error_code;
use super::{Call, Ctx, Handler, Reply};
use crate::cluster::controller::{ElectionError, ElectionKind, ElectionResult};

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
        Reply::Now(elect_leaders(ctx, call.version, req).await)
    }
}

/// Kafka's `ElectionType` ids.
const PREFERRED: i8 = 0;
const UNCLEAN: i8 = 1;

/// Answers as Kafka's `ReplicationControlManager.electLeaders` (the controller decides): named partitions
/// each get a result; with no partitions named every partition is tried and only those that needed an
/// election are listed.
pub async fn elect_leaders(
    ctx: &Ctx,
    version: i16,
    req: ElectLeadersRequest,
) -> ElectLeadersResponse {
    // v0 has no election type field: it always asked for the preferred leader.
    let election_type = if version >= 1 {
        req.election_type
    } else {
        PREFERRED
    };
    let kind = match election_type {
        PREFERRED => ElectionKind::Preferred,
        UNCLEAN => ElectionKind::Unclean,
        // Kafka throws InvalidRequestException; `ElectLeadersRequest.getErrorResponse` repeats the error
        // for every named partition.
        other => {
            let message = format!("Unknown election type {other}");
            return failed(version, req, ResponseError::InvalidRequest.code(), message);
        }
    };
    let targets = req.topic_partitions.as_ref().map(|topics| {
        topics
            .iter()
            .map(|t| (t.topic.to_string(), t.partitions.clone()))
            .collect()
    });
    let deadline = super::deadline(req.timeout_ms);
    match ctx.cluster.elect_leaders(kind, targets, deadline).await {
        Ok(results) => {
            ElectLeadersResponse::default().with_replica_election_results(to_wire(results))
        }
        Err(e) => {
            let code = cluster_error_code(&e);
            failed(version, req, code, e.to_string())
        }
    }
}

/// The whole request failed: the error at the top (v1+) and on every named partition.
fn failed(
    version: i16,
    req: ElectLeadersRequest,
    code: i16,
    message: String,
) -> ElectLeadersResponse {
    let results = req
        .topic_partitions
        .unwrap_or_default()
        .into_iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| result(*p, code, Some(message.clone())))
                .collect();
            topic_result(t.topic, partitions)
        })
        .collect();
    ElectLeadersResponse::default()
        .with_error_code(if version >= 1 { code } else { 0 })
        .with_replica_election_results(results)
}

/// The controller's results in the wire's shape.
fn to_wire(results: Vec<ElectionResult>) -> Vec<ReplicaElectionResult> {
    results
        .into_iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|(p, error)| {
                    let (code, message) = election_error(error.as_ref());
                    result(*p, code, message)
                })
                .collect();
            topic_result(TopicName(StrBytes::from_string(t.topic)), partitions)
        })
        .collect()
}

/// Kafka's error code and message (`ApiError` with the code's default message) for one partition.
fn election_error(error: Option<&ElectionError>) -> (i16, Option<String>) {
    let (e, message) = match error {
        None => return (0, None),
        Some(ElectionError::UnknownTopicOrPartition(m)) => {
            (ResponseError::UnknownTopicOrPartition, m.as_str())
        }
        Some(ElectionError::NotNeeded) => (
            ResponseError::ElectionNotNeeded,
            "Leader election not needed for topic partition.",
        ),
        Some(ElectionError::PreferredLeaderNotAvailable) => (
            ResponseError::PreferredLeaderNotAvailable,
            "The preferred leader was not available.",
        ),
        Some(ElectionError::EligibleLeadersNotAvailable) => (
            ResponseError::EligibleLeadersNotAvailable,
            "Eligible topic partition leaders are not available.",
        ),
    };
    (e.code(), Some(message.to_string()))
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
