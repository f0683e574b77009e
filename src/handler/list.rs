//! The one list of handlers: every served API is named once below, and the version table (checked before
//! decoding, advertised by ApiVersions) and dispatch are both generated from it, as Redpanda's
//! `handlers.h` does. Adding an API is one handler file plus one line here.

use std::sync::Arc;

use kafka_protocol::messages::{ApiKey, RequestKind};
use kafka_protocol::protocol::Request as WireRequest;

use super::*;

/// Generates `SUPPORTED` and `dispatch` from `module::Api` entries, where `Api` is both the handler type
/// in `module` and the name of its `ApiKey` / `RequestKind` variant. That makes a disagreement impossible
/// to compile: the match arm hands the variant's body to the handler (so its `Request` type must be that
/// body), and a constant assertion checks the variant's key against the request type's own `KEY`.
macro_rules! handlers {
    ($($module:ident :: $api:ident),+ $(,)?) => {
        /// Every served API with its version range, in list order.
        pub const SUPPORTED: &[(ApiKey, (i16, i16))] =
            &[$((ApiKey::$api, <$module::$api as Handler>::VERSIONS)),+];

        const _: () = {
            $(assert!(
                ApiKey::$api as i16 == <<$module::$api as Handler>::Request as WireRequest>::KEY,
                concat!(stringify!($module::$api), " serves another API's request type"),
            );)+
        };

        /// Hands a decoded body to its handler; `None` for an API not in the list.
        pub(super) async fn dispatch(
            ctx: &Arc<Ctx>,
            call: &Call<'_>,
            body: RequestKind,
        ) -> Option<Reply> {
            match body {
                $(RequestKind::$api(r) => {
                    Some(<$module::$api as Handler>::handle(ctx, call, r).await.erase())
                })+
                _ => None,
            }
        }

        /// A default request body of a listed API (tests drive every handler through dispatch with it).
        #[cfg(test)]
        fn default_body(key: ApiKey) -> Option<RequestKind> {
            match key {
                $(ApiKey::$api => Some(RequestKind::$api(Default::default())),)+
                _ => None,
            }
        }
    };
}

handlers! {
    produce::Produce,
    fetch::Fetch,
    list_offsets::ListOffsets,
    metadata::Metadata,
    api_versions::ApiVersions,
    create_topics::CreateTopics,
    delete_topics::DeleteTopics,
    init_producer_id::InitProducerId,
    create_partitions::CreatePartitions,
    describe_cluster::DescribeCluster,
    describe_quorum::DescribeQuorum,
    describe_topic_partitions::DescribeTopicPartitions,
    describe_configs::DescribeConfigs,
    alter_configs::AlterConfigs,
    alter_configs::IncrementalAlterConfigs,
    delete_records::DeleteRecords,
    find_coordinator::FindCoordinator,
    join_group::JoinGroup,
    sync_group::SyncGroup,
    heartbeat::Heartbeat,
    leave_group::LeaveGroup,
    offset_commit::OffsetCommit,
    offset_fetch::OffsetFetch,
    offset_delete::OffsetDelete,
    describe_groups::DescribeGroups,
    list_groups::ListGroups,
    delete_groups::DeleteGroups,
    consumer_group_heartbeat::ConsumerGroupHeartbeat,
    consumer_group_describe::ConsumerGroupDescribe,
    offset_for_leader_epoch::OffsetForLeaderEpoch,
    describe_log_dirs::DescribeLogDirs,
    partition_placement::ListPartitionReassignments,
    partition_placement::AlterPartitionReassignments,
    partition_placement::ElectLeaders,
    list_config_resources::ListConfigResources,
    describe_transactions::DescribeTransactions,
    list_transactions::ListTransactions,
    add_partitions_to_txn::AddPartitionsToTxn,
    add_offsets_to_txn::AddOffsetsToTxn,
    end_txn::EndTxn,
    write_txn_markers::WriteTxnMarkers,
    describe_producers::DescribeProducers,
    txn_offset_commit::TxnOffsetCommit,
}

/// The served range of an API, if served at all.
pub fn range(key: ApiKey) -> Option<(i16, i16)> {
    SUPPORTED.iter().find(|(k, _)| *k == key).map(|(_, r)| *r)
}

/// Whether this API and version are served (the decoder's admission check).
pub fn is_supported(key: ApiKey, version: i16) -> bool {
    range(key).is_some_and(|(min, max)| (min..=max).contains(&version))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Mutex;

    use kafka_protocol::messages::{RequestHeader, ResponseKind};

    use super::fetch_session::FetchSessionCache;
    use super::*;
    use crate::config::Config;
    use crate::group_store::{ClusterTopics, LogOffsets};
    use crate::log::LogStore;
    use crate::protocol::Request;

    #[test]
    fn served_ranges_are_within_what_the_protocol_layer_decodes() {
        for (key, (min, max)) in SUPPORTED {
            let (lo, hi) = crate::protocol::decodable_versions(*key);
            assert!(*min >= lo && *max <= hi, "{key:?}");
            assert!(min <= max, "{key:?}");
        }
    }

    #[test]
    fn each_api_is_listed_once() {
        let keys: HashSet<i16> = SUPPORTED.iter().map(|(k, _)| *k as i16).collect();
        assert_eq!(keys.len(), SUPPORTED.len());
    }

    /// A broker context over a fresh data folder, wired as `Broker::start` wires it.
    async fn context(dir: &std::path::Path) -> Arc<Ctx> {
        let config = Config {
            data_dir: dir.to_path_buf(),
            ..Config::default()
        };
        let store = LogStore::open(config.store_options()).expect("store");
        let options = config
            .cluster_options("127.0.0.1".into(), 9092)
            .expect("options");
        let cluster = Cluster::start(options, store, config.default_log_config())
            .await
            .expect("cluster");
        assert!(
            cluster
                .wait_active(std::time::Duration::from_secs(10))
                .await
        );
        let offsets = LogOffsets::new(cluster.clone());
        let groups = GroupCoordinator::start(
            config.group_config(),
            Arc::new(offsets),
            Arc::new(ClusterTopics(cluster.clone())),
        )
        .expect("groups");
        let txns = crate::txn::TxnCoordinator::start(
            config.txn_config(),
            Arc::new(LogOffsets::for_topic(
                cluster.clone(),
                crate::txn::TRANSACTION_STATE_TOPIC,
            )),
            Arc::new(crate::group_store::ClusterProducerIds(cluster.clone())),
            Arc::new(crate::group_store::ClusterMarkers {
                cluster: cluster.clone(),
                groups: groups.clone(),
                peers: Default::default(),
            }),
        )
        .expect("txns");
        Arc::new(Ctx {
            node: NodeInfo {
                node_id: config.node_id,
                host: "127.0.0.1".into(),
                port: 9092,
            },
            cluster,
            fetch_sessions: Mutex::new(FetchSessionCache::new(config.fetch_session_cache_slots)),
            groups,
            txns,
            peers: Default::default(),
            config,
        })
    }

    fn request(key: ApiKey, version: i16, body: RequestKind) -> Request {
        let header = RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version);
        Request {
            header,
            api_key: key,
            body,
        }
    }

    /// Every API the decoder admits reaches its own handler, at every listed version, and an API outside
    /// the list reaches none; ApiVersions advertises exactly the list.
    #[tokio::test(start_paused = true)]
    async fn list_dispatch_and_api_versions_agree() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ctx = context(dir.path()).await;
        for (key, (min, max)) in SUPPORTED {
            for version in *min..=*max {
                assert!(is_supported(*key, version));
                let body = default_body(*key).expect("listed");
                let reply = dispatch_request(&ctx, request(*key, version, body)).await;
                // Default bodies only yield no response for acks=0 produce.
                match (key, reply) {
                    (ApiKey::Produce, None) => {}
                    (_, Some(body)) => assert!(
                        answers(&body, *key),
                        "{key:?} v{version} answered with another API's body"
                    ),
                    (_, None) => panic!("{key:?} v{version} gave no reply"),
                }
            }
            assert!(!is_supported(*key, max + 1) && !is_supported(*key, min - 1));
        }
        let unlisted = RequestKind::SaslHandshake(Default::default());
        let call = Call {
            version: 1,
            client_id: "",
            peer: "127.0.0.1:1",
        };
        assert!(dispatch(&ctx, &call, unlisted).await.is_none());
        assert!(!is_supported(ApiKey::SaslHandshake, 1));

        let reply = dispatch_request(
            &ctx,
            request(
                ApiKey::ApiVersions,
                3,
                default_body(ApiKey::ApiVersions).expect("listed"),
            ),
        )
        .await;
        let Some(ResponseKind::ApiVersions(resp)) = reply else {
            panic!("ApiVersions answered with another body");
        };
        let advertised: Vec<(i16, i16, i16)> = resp
            .api_keys
            .iter()
            .map(|a| (a.api_key, a.min_version, a.max_version))
            .collect();
        let mut listed: Vec<(i16, i16, i16)> = SUPPORTED
            .iter()
            .map(|(k, (min, max))| (*k as i16, *min, *max))
            .collect();
        listed.sort();
        assert_eq!(advertised, listed);
    }

    async fn dispatch_request(ctx: &Arc<Ctx>, request: Request) -> Option<ResponseKind> {
        match super::super::dispatch(ctx, request, "127.0.0.1:1").await {
            Reply::Now(body) => Some(body),
            Reply::Records(body, _) => Some(body),
            Reply::Later(body) => Some(body.await),
            Reply::None | Reply::Close(_) => None,
        }
    }

    /// Whether a response body is `key`'s, read from its variant name (independently of the list, so a
    /// handler answering with another API's body would be caught).
    fn answers(body: &ResponseKind, key: ApiKey) -> bool {
        format!("{body:?}").starts_with(&format!("{key:?}("))
    }
}
