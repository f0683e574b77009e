//! ListConfigResources (KIP-1142; v0 was KIP-714's ListClientMetricsResources): every resource an admin
//! can describe configs of.

use std::sync::Arc;

use kafka_protocol::messages::list_config_resources_response::ConfigResource;
use kafka_protocol::messages::{ListConfigResourcesRequest, ListConfigResourcesResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::describe_configs::{RESOURCE_BROKER, RESOURCE_TOPIC};
use super::{Call, Ctx, Handler, Reply};

/// The ListConfigResources handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct ListConfigResources;

impl Handler for ListConfigResources {
    type Request = ListConfigResourcesRequest;
    const VERSIONS: (i16, i16) = (0, 1);

    async fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: ListConfigResourcesRequest,
    ) -> Reply<ListConfigResourcesResponse> {
        Reply::Now(handle(ctx, call.version, req))
    }
}

/// Kafka's `ConfigResource.Type` ids beyond topic and broker.
const RESOURCE_BROKER_LOGGER: i8 = 8;
const RESOURCE_CLIENT_METRICS: i8 = 16;
const RESOURCE_GROUP: i8 = 32;

/// Types Kafka lists (`ListConfigResourcesRequest.supportedResourceTypes`), in the order
/// `KafkaApis.handleListConfigResources` lists them.
const LISTED_IN_ORDER: [i8; 5] = [
    RESOURCE_GROUP,
    RESOURCE_CLIENT_METRICS,
    RESOURCE_BROKER_LOGGER,
    RESOURCE_BROKER,
    RESOURCE_TOPIC,
];

/// v0 lists client-metrics subscriptions only; v1 lists the requested types (all when none is named), and
/// fails the whole request with UNSUPPORTED_VERSION when a named type is not one Kafka lists.
pub fn handle(
    ctx: &Ctx,
    version: i16,
    req: ListConfigResourcesRequest,
) -> ListConfigResourcesResponse {
    let wanted = |kind: i8| {
        if version == 0 {
            kind == RESOURCE_CLIENT_METRICS
        } else {
            req.resource_types.is_empty() || req.resource_types.contains(&kind)
        }
    };
    if version >= 1
        && req
            .resource_types
            .iter()
            .any(|t| !LISTED_IN_ORDER.contains(t))
    {
        return ListConfigResourcesResponse::default()
            .with_error_code(ResponseError::UnsupportedVersion.code());
    }
    let mut resources = Vec::new();
    for kind in LISTED_IN_ORDER.into_iter().filter(|k| wanted(*k)) {
        let names: Vec<String> = match kind {
            RESOURCE_BROKER => vec![ctx.node.node_id.to_string()],
            RESOURCE_TOPIC => {
                let mut names: Vec<String> =
                    ctx.cluster.topics().into_iter().map(|t| t.name).collect();
                names.sort();
                names
            }
            // Weir keeps no group configs and no client-metrics subscriptions, and its loggers are not a
            // config resource (DescribeConfigs does not serve BROKER_LOGGER), so none is listed.
            _ => vec![],
        };
        resources.extend(names.into_iter().map(|name| {
            ConfigResource::default()
                .with_resource_name(StrBytes::from_string(name))
                .with_resource_type(kind)
        }));
    }
    ListConfigResourcesResponse::default().with_config_resources(resources)
}
