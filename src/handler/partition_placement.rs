//! Where partitions live and who leads them: AlterPartitionReassignments and ListPartitionReassignments
//! (KIP-455) and ElectLeaders (preferred and unclean elections), decided by the active controller.

use std::sync::Arc;

use kafka_protocol::messages::alter_partition_reassignments_response::{
    ReassignablePartitionResponse, ReassignableTopicResponse,
};
use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::list_partition_reassignments_response::{
    OngoingPartitionReassignment, OngoingTopicReassignment,
};
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, BrokerId,
    ElectLeadersRequest, ElectLeadersResponse, ListPartitionReassignmentsRequest,
    ListPartitionReassignmentsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::errors::cluster_error_code;
use super::{Call, Ctx, Handler, Reply};
use crate::cluster::controller::{
    list_reassignments, ElectionError, ElectionKind, ElectionResult, ReassignError,
};

/// The ListPartitionReassignments handler: the versions it serves and its entry point (named once in
/// `list.rs`).
pub struct ListPartitionReassignments;

impl Handler for ListPartitionReassignments {
    type Request = ListPartitionReassignmentsRequest;
    const VERSIONS: (i16, i16) = (0, 0);

    async fn handle(
        ctx: &Arc<Ctx>,
        _call: &Call<'_>,
        req: ListPartitionReassignmentsRequest,
    ) -> Reply<ListPartitionReassignmentsResponse> {
        // Kafka's controller lists only ongoing reassignments and skips unknown topics and partitions
        // without an error (`ReplicationControlManager.listPartitionReassignments`).
        let named: Option<Vec<(String, Vec<i32>)>> = req.topics.map(|topics| {
            topics
                .into_iter()
                .map(|t| (t.name.to_string(), t.partition_indexes))
                .collect()
        });
        let image = ctx.cluster.image();
        let mut topics: Vec<OngoingTopicReassignment> = Vec::new();
        for (topic, p, state) in list_reassignments(&image, named.as_deref()) {
            let brokers = |ids: &[i32]| ids.iter().map(|b| BrokerId(*b)).collect::<Vec<_>>();
            let partition = OngoingPartitionReassignment::default()
                .with_partition_index(p)
                .with_replicas(brokers(&state.replicas))
                .with_adding_replicas(brokers(&state.adding))
                .with_removing_replicas(brokers(&state.removing));
            match topics.last_mut().filter(|t| t.name.as_str() == topic) {
                Some(t) => t.partitions.push(partition),
                None => topics.push(
                    OngoingTopicReassignment::default()
                        .with_name(TopicName(StrBytes::from_string(topic)))
                        .with_partitions(vec![partition]),
                ),
            }
        }
        Reply::Now(
            ListPartitionReassignmentsResponse::default()
                .with_error_message(None)
                .with_topics(topics),
        )
    }
}

/// The AlterPartitionReassignments handler: the versions it serves and its entry point (named once in
/// `list.rs`).
pub struct AlterPartitionReassignments;

impl Handler for AlterPartitionReassignments {
    type Request = AlterPartitionReassignmentsRequest;
    /// v1: KIP-860's `allowReplicationFactorChange`.
    const VERSIONS: (i16, i16) = (0, 1);

    async fn handle(
        ctx: &Arc<Ctx>,
        _call: &Call<'_>,
        req: AlterPartitionReassignmentsRequest,
    ) -> Reply<AlterPartitionReassignmentsResponse> {
        Reply::Now(alter_reassignments(ctx, req).await)
    }
}

/// Answers as Kafka's controller: each partition's reassignment starts, changes or is cancelled on its
/// own, with its own error; a failure of the whole request (no controller, timeout) is the top-level
/// error and every partition's.
async fn alter_reassignments(
    ctx: &Ctx,
    req: AlterPartitionReassignmentsRequest,
) -> AlterPartitionReassignmentsResponse {
    let targets = req
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let replicas = p.replicas.as_ref().map(|r| r.iter().map(|b| b.0).collect());
                    (p.partition_index, replicas)
                })
                .collect();
            (t.name.to_string(), partitions)
        })
        .collect();
    let deadline = super::deadline(req.timeout_ms);
    let keep_rf = !req.allow_replication_factor_change;
    let (code, message, results) = match ctx
        .cluster
        .alter_reassignments(targets, keep_rf, deadline)
        .await
    {
        Ok(results) => (0, None, results),
        Err(e) => {
            let code = cluster_error_code(&e);
            let all = req
                .topics
                .iter()
                .map(|t| {
                    let partitions = t
                        .partitions
                        .iter()
                        .map(|p| (p.partition_index, None))
                        .collect();
                    (t.name.to_string(), partitions)
                })
                .collect();
            (code, Some(e.to_string()), all)
        }
    };
    let responses = results
        .into_iter()
        .map(|(topic, partitions)| {
            let partitions = partitions
                .into_iter()
                .map(|(p, error)| {
                    let (c, m) = match (code, error) {
                        (0, None) => (0, None),
                        (0, Some(e)) => reassign_error(e),
                        (c, _) => (c, message.clone()),
                    };
                    ReassignablePartitionResponse::default()
                        .with_partition_index(p)
                        .with_error_code(c)
                        .with_error_message(m.map(StrBytes::from_string))
                })
                .collect();
            ReassignableTopicResponse::default()
                .with_name(TopicName(StrBytes::from_string(topic)))
                .with_partitions(partitions)
        })
        .collect();
    AlterPartitionReassignmentsResponse::default()
        .with_allow_replication_factor_change(req.allow_replication_factor_change)
        .with_error_code(code)
        .with_error_message(message.map(StrBytes::from_string))
        .with_responses(responses)
}

/// Kafka's error code and message for one refused partition.
fn reassign_error(e: ReassignError) -> (i16, Option<String>) {
    match e {
        ReassignError::UnknownTopicOrPartition(m) => {
            (ResponseError::UnknownTopicOrPartition.code(), Some(m))
        }
        ReassignError::InvalidReplicaAssignment(m) => {
            (ResponseError::InvalidReplicaAssignment.code(), Some(m))
        }
        ReassignError::InvalidReplicationFactor(m) => {
            (ResponseError::InvalidReplicationFactor.code(), Some(m))
        }
        ReassignError::NoReassignmentInProgress => (
            ResponseError::NoReassignmentInProgress.code(),
            Some("No partition reassignment is in progress.".to_string()),
        ),
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
