//! DescribeCluster: the cluster id, controller and brokers (AdminClient `describeCluster`).

use std::sync::Arc;

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::metadata::{AUTHORIZED_OPERATIONS_OMITTED, CLUSTER_OPERATIONS_ALL};
use super::{Call, Ctx, Handler, Reply};

/// The DescribeCluster handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct DescribeCluster;

impl Handler for DescribeCluster {
    type Request = DescribeClusterRequest;
    const VERSIONS: (i16, i16) = (0, 2);

    async fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: DescribeClusterRequest,
    ) -> Reply<DescribeClusterResponse> {
        Reply::Now(handle(ctx, call.version, req))
    }
}

/// Endpoint type "brokers" (v1+); "controllers" (2) is only answered by controllers.
const ENDPOINT_BROKERS: i8 = 1;
/// Endpoint type "controllers".
const ENDPOINT_CONTROLLERS: i8 = 2;

/// Answers a DescribeCluster request.
pub fn handle(ctx: &Ctx, version: i16, req: DescribeClusterRequest) -> DescribeClusterResponse {
    if version >= 1 && req.endpoint_type != ENDPOINT_BROKERS {
        // Like Kafka: a known type this listener does not serve is a mismatch; anything else is unknown.
        let (code, msg) = if req.endpoint_type == ENDPOINT_CONTROLLERS {
            (
                ResponseError::MismatchedEndpointType,
                "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER",
            )
        } else {
            (
                ResponseError::UnsupportedEndpointType,
                "Unsupported endpoint type",
            )
        };
        return DescribeClusterResponse::default()
            .with_error_code(code.code())
            .with_error_message(Some(StrBytes::from_static_str(msg)));
    }
    let resp = DescribeClusterResponse::default()
        .with_endpoint_type(req.endpoint_type)
        .with_cluster_id(StrBytes::from_string(ctx.cluster.cluster_id()));
    let image = ctx.cluster.image();
    let brokers = image
        .brokers
        .values()
        // v2 (KIP-1073) may include fenced brokers when asked; before that only live ones are listed.
        .filter(|b| !b.fenced || (version >= 2 && req.include_fenced_brokers))
        .map(|b| {
            DescribeClusterBroker::default()
                .with_broker_id(BrokerId(b.registration.id))
                .with_host(StrBytes::from_string(b.registration.host.clone()))
                .with_port(b.registration.port)
                .with_rack(b.registration.rack.clone().map(StrBytes::from_string))
                .with_is_fenced(b.fenced)
        })
        .collect();
    resp.with_controller_id(BrokerId(ctx.cluster.controller_id()))
        .with_brokers(brokers)
        .with_cluster_authorized_operations(if req.include_cluster_authorized_operations {
            CLUSTER_OPERATIONS_ALL
        } else {
            AUTHORIZED_OPERATIONS_OMITTED
        })
}
