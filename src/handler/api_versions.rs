//! ApiVersions: the versions Weir serves, generated from the handler list.

use std::sync::Arc;

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};

use super::list;
use super::{Call, Ctx, Handler, Reply};

/// The ApiVersions handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct ApiVersions;

impl Handler for ApiVersions {
    type Request = ApiVersionsRequest;
    const VERSIONS: (i16, i16) = (0, 4);

    async fn handle(
        _ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: ApiVersionsRequest,
    ) -> Reply<ApiVersionsResponse> {
        Reply::Now(handle(call.version, req))
    }
}

/// Lists every API and version range this broker serves.
pub fn handle(_version: i16, _req: ApiVersionsRequest) -> ApiVersionsResponse {
    ApiVersionsResponse::default().with_api_keys(supported_api_versions())
}

/// The advertised table (also used for the UNSUPPORTED_VERSION reply).
pub fn supported_api_versions() -> Vec<ApiVersion> {
    let mut table = list::SUPPORTED.to_vec();
    // Listed by api key, as Kafka does.
    table.sort_by_key(|(key, _)| *key as i16);
    table
        .iter()
        .map(|(key, (min, max))| {
            ApiVersion::default()
                .with_api_key(*key as i16)
                .with_min_version(*min)
                .with_max_version(*max)
        })
        .collect()
}
