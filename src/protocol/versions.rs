//! The single source of truth for what Weir serves: API key → (min, max) version, built from each
//! handler's `VERSIONS` constant. Dispatch checks it and ApiVersions advertises it.

use kafka_protocol::messages::ApiKey;

use crate::handler;

/// Every served API with its version range.
pub const SUPPORTED: &[(ApiKey, (i16, i16))] = &[
    (ApiKey::Produce, handler::produce::VERSIONS),
    (ApiKey::Fetch, handler::fetch::VERSIONS),
    (ApiKey::ListOffsets, handler::list_offsets::VERSIONS),
    (ApiKey::Metadata, handler::metadata::VERSIONS),
    (ApiKey::ApiVersions, handler::api_versions::VERSIONS),
    (ApiKey::CreateTopics, handler::create_topics::VERSIONS),
    (ApiKey::DeleteTopics, handler::delete_topics::VERSIONS),
    (ApiKey::InitProducerId, handler::init_producer_id::VERSIONS),
    (
        ApiKey::CreatePartitions,
        handler::create_partitions::VERSIONS,
    ),
    (ApiKey::DescribeCluster, handler::describe_cluster::VERSIONS),
    (
        ApiKey::DescribeTopicPartitions,
        handler::describe_topic_partitions::VERSIONS,
    ),
    (ApiKey::DescribeConfigs, handler::describe_configs::VERSIONS),
    (ApiKey::AlterConfigs, handler::alter_configs::ALTER_VERSIONS),
    (
        ApiKey::IncrementalAlterConfigs,
        handler::alter_configs::INCREMENTAL_VERSIONS,
    ),
    (ApiKey::DeleteRecords, handler::delete_records::VERSIONS),
    (ApiKey::FindCoordinator, handler::find_coordinator::VERSIONS),
    (ApiKey::JoinGroup, handler::join_group::VERSIONS),
    (ApiKey::SyncGroup, handler::sync_group::VERSIONS),
    (ApiKey::Heartbeat, handler::heartbeat::VERSIONS),
    (ApiKey::LeaveGroup, handler::leave_group::VERSIONS),
    (ApiKey::OffsetCommit, handler::offset_commit::VERSIONS),
    (ApiKey::OffsetFetch, handler::offset_fetch::VERSIONS),
    (ApiKey::OffsetDelete, handler::offset_delete::VERSIONS),
    (ApiKey::DescribeGroups, handler::describe_groups::VERSIONS),
    (ApiKey::ListGroups, handler::list_groups::VERSIONS),
    (ApiKey::DeleteGroups, handler::delete_groups::VERSIONS),
];

/// The served range of an API, if served at all.
pub fn range(key: ApiKey) -> Option<(i16, i16)> {
    SUPPORTED.iter().find(|(k, _)| *k == key).map(|(_, r)| *r)
}

/// Whether this API and version are served.
pub fn is_supported(key: ApiKey, version: i16) -> bool {
    range(key).is_some_and(|(min, max)| (min..=max).contains(&version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_ranges_are_within_what_the_crate_decodes() {
        for (key, (min, max)) in SUPPORTED {
            let crate_range = key.valid_versions();
            assert!(
                *min >= crate_range.min && *max <= crate_range.max,
                "{key:?}"
            );
            assert!(min <= max);
        }
    }
}
