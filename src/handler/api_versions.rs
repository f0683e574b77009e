//! ApiVersions: the versions Weir serves, straight from the protocol version table.

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};

use crate::protocol::versions;

/// Versions served.
pub const VERSIONS: (i16, i16) = (0, 4);

/// Lists every API and version range this broker serves.
pub fn handle(_version: i16, _req: ApiVersionsRequest) -> ApiVersionsResponse {
    ApiVersionsResponse::default().with_api_keys(supported_api_versions())
}

/// The advertised table (also used for the UNSUPPORTED_VERSION reply).
pub fn supported_api_versions() -> Vec<ApiVersion> {
    let mut table = versions::SUPPORTED.to_vec();
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
