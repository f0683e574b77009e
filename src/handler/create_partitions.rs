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
    let deadline = super::deadline(req.timeout_ms);
    for t in req.topics {
        let duplicated = duplicates.contains(t.name.as_str());
        results.push(grow(ctx, t, duplicated, req.validate_only, deadline).await);
    }
    CreatePartitionsResponse::default().with_results(results)
}

async fn grow(
    ctx: &Ctx,
    t: CreatePartitionsTopic,
    duplicated: bool,
    validate_only: bool,
    deadline: tokio::time::Instant,
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
            let assignments = t.assignments.as_ref().map(|a| {
                a.iter()
                    .map(|p| p.broker_ids.iter().map(|b| b.0).collect())
                    .collect()
            });
            match ctx
                .cluster
                .create_partitions(&t.name, t.count, assignments, validate_only, deadline)
                .await
            {
                Ok(()) => result,
                Err(e) => fail(cluster_error_code(&e), e.to_string()),
            }
        }
    }
}
