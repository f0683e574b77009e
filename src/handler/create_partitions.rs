//! CreatePartitions: grows topics to a new partition count.

use std::sync::Arc;

use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::errors::cluster_error_code;
use super::{Call, Ctx, Handler, Reply};

/// The CreatePartitions handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct CreatePartitions;

impl Handler for CreatePartitions {
    type Request = CreatePartitionsRequest;
    const VERSIONS: (i16, i16) = (0, 3);

    async fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: CreatePartitionsRequest,
    ) -> Reply<CreatePartitionsResponse> {
        Reply::Now(handle(ctx, call.version, req).await)
    }
}

/// Answers a CreatePartitions request.
pub async fn handle(
    ctx: &Ctx,
    _version: i16,
    req: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let duplicates = super::repeated_names(req.topics.iter().map(|t| t.name.as_str()));
    let mut results = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let duplicated = duplicates.contains(t.name.as_str());
        results.push(grow(ctx, t, duplicated, req.validate_only).await);
    }
    CreatePartitionsResponse::default().with_results(results)
}

async fn grow(
    ctx: &Ctx,
    t: CreatePartitionsTopic,
    duplicated: bool,
    validate_only: bool,
) -> CreatePartitionsTopicResult {
    {
        {
            let result = CreatePartitionsTopicResult::default().with_name(t.name.clone());
            let fail = |code: i16, msg: String| {
                result
                    .clone()
                    .with_error_code(code)
                    .with_error_message(Some(StrBytes::from_string(msg)))
            };
            if duplicated {
                return fail(
                    ResponseError::InvalidRequest.code(),
                    "Duplicate topic in request.".into(),
                );
            }
            if let (Some(assignments), Some(current)) = (&t.assignments, ctx.cluster.topic(&t.name))
            {
                let added = (t.count - current.partition_count()).max(0) as usize;
                if assignments.len() != added {
                    return fail(
                        ResponseError::InvalidReplicaAssignment.code(),
                        format!("Increasing the number of partitions by {added} but {} assignments provided.", assignments.len()),
                    );
                }
                if assignments.iter().any(|a| {
                    a.broker_ids
                        .iter()
                        .any(|b| !ctx.cluster.image().brokers.contains_key(&b.0))
                }) {
                    return fail(
                        ResponseError::InvalidReplicaAssignment.code(),
                        "Unknown broker in assignment.".into(),
                    );
                }
            }
            match ctx
                .cluster
                .create_partitions(&t.name, t.count, validate_only)
                .await
            {
                Ok(()) => result,
                Err(e) => fail(cluster_error_code(&e), e.to_string()),
            }
        }
    }
}
