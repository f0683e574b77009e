//! DeleteTopics: by name (all versions) or by topic id (v6+).

use std::sync::Arc;

use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use uuid::Uuid;

use super::errors::cluster_error_code;
use super::{Call, Ctx, Handler, Reply};

/// The DeleteTopics handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct DeleteTopics;

impl Handler for DeleteTopics {
    type Request = DeleteTopicsRequest;
    const VERSIONS: (i16, i16) = (1, 6);

    async fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: DeleteTopicsRequest,
    ) -> Reply<DeleteTopicsResponse> {
        Reply::Now(handle(ctx, call.version, req).await)
    }
}

/// Answers a DeleteTopics request.
pub async fn handle(ctx: &Ctx, version: i16, req: DeleteTopicsRequest) -> DeleteTopicsResponse {
    let wanted: Vec<(Option<TopicName>, Uuid)> = if version >= 6 {
        req.topics
            .into_iter()
            .map(|t| (t.name, t.topic_id))
            .collect()
    } else {
        req.topic_names
            .into_iter()
            .map(|n| (Some(n), Uuid::nil()))
            .collect()
    };
    let mut responses = Vec::with_capacity(wanted.len());
    let deadline = super::deadline(req.timeout_ms);
    for (name, id) in wanted {
        responses.push(delete_one(ctx, name, id, deadline).await);
    }
    DeleteTopicsResponse::default().with_responses(responses)
}

async fn delete_one(
    ctx: &Ctx,
    name: Option<TopicName>,
    id: Uuid,
    deadline: tokio::time::Instant,
) -> DeletableTopicResult {
    {
        {
            let result = DeletableTopicResult::default()
                .with_name(name.clone())
                .with_topic_id(id);
            let resolved = match (&name, id.is_nil()) {
                (Some(_), false) => {
                    return result
                        .with_error_code(ResponseError::InvalidRequest.code())
                        .with_error_message(Some(StrBytes::from_static_str(
                            "Only one of topic name or topic id may be set",
                        )))
                }
                (Some(n), true) => Ok(n.to_string()),
                (None, false) => ctx
                    .cluster
                    .topic_name(id)
                    .ok_or(ResponseError::UnknownTopicId),
                (None, true) => Err(ResponseError::InvalidRequest),
            };
            let name = match resolved {
                Ok(n) => n,
                Err(e) => return result.with_error_code(e.code()),
            };
            match ctx.cluster.delete_topic(&name, deadline).await {
                Ok(meta) => {
                    tracing::info!(topic = %name, "deleted topic");
                    result
                        .with_name(Some(TopicName(StrBytes::from_string(name))))
                        .with_topic_id(meta.id)
                }
                Err(e) => result
                    .with_error_code(cluster_error_code(&e))
                    .with_error_message(Some(StrBytes::from_string(e.to_string()))),
            }
        }
    }
}
