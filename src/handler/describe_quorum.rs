//! DescribeQuorum: the metadata quorum (`__cluster_metadata`) as the active controller sees it — leader,
//! term, high watermark and each voter's log end — which `kafka-metadata-quorum.sh` and
//! `Admin.describeMetadataQuorum` show. Brokers forward it to the active controller, as Kafka's do.

use std::sync::Arc;

use kafka_protocol::messages::describe_quorum_response::{
    Listener, Node, PartitionData, ReplicaState, TopicData,
};
use kafka_protocol::messages::{
    BrokerId, DescribeQuorumRequest, DescribeQuorumResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::errors::cluster_error_code;
use super::{Call, Ctx, Handler, Reply};

/// The metadata log's topic name in Kafka.
const METADATA_TOPIC: &str = "__cluster_metadata";

/// The DescribeQuorum handler: the versions it serves and its entry point (named once in `list.rs`).
pub struct DescribeQuorum;

impl Handler for DescribeQuorum {
    type Request = DescribeQuorumRequest;
    const VERSIONS: (i16, i16) = (0, 2);

    async fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: DescribeQuorumRequest,
    ) -> Reply<DescribeQuorumResponse> {
        Reply::Now(handle(ctx, call.version, req).await)
    }
}

/// Answers for `__cluster_metadata` partition 0; any other partition is UNKNOWN_TOPIC_OR_PARTITION.
pub async fn handle(ctx: &Ctx, version: i16, req: DescribeQuorumRequest) -> DescribeQuorumResponse {
    let asked_metadata = req.topics.iter().any(|t| {
        t.topic_name.as_str() == METADATA_TOPIC
            && t.partitions.iter().any(|p| p.partition_index == 0)
    });
    if !asked_metadata || req.topics.len() != 1 {
        return DescribeQuorumResponse::default()
            .with_error_code(ResponseError::InvalidRequest.code());
    }
    let q = match ctx.cluster.describe_quorum().await {
        Ok(q) => q,
        Err(e) => {
            return DescribeQuorumResponse::default()
                .with_error_code(cluster_error_code(&e))
                .with_error_message((version >= 2).then(|| StrBytes::from_string(e.to_string())))
        }
    };
    let id = |n: u64| BrokerId(i32::try_from(n).unwrap_or(-1));
    let voters = q
        .voters
        .iter()
        .map(|(v, end)| {
            ReplicaState::default()
                .with_replica_id(id(*v))
                .with_log_end_offset(*end)
                .with_last_fetch_timestamp(-1)
                .with_last_caught_up_timestamp(-1)
        })
        .collect();
    let partition = PartitionData::default()
        .with_partition_index(0)
        .with_leader_id(id(q.leader))
        .with_leader_epoch(i32::try_from(q.term).unwrap_or(i32::MAX))
        .with_high_watermark(i64::try_from(q.high_watermark).unwrap_or(i64::MAX))
        .with_current_voters(voters);
    let nodes =
        if version >= 2 {
            ctx.cluster
                .voter_addresses()
                .into_iter()
                .filter_map(|(v, addr)| {
                    let (host, port) = addr.rsplit_once(':')?;
                    Some(Node::default().with_node_id(id(v)).with_listeners(
                        vec![Listener::default()
                    .with_name(StrBytes::from_static_str("CONTROLLER"))
                    .with_host(StrBytes::from_string(host.to_string()))
                    .with_port(port.parse().ok()?)],
                    ))
                })
                .collect()
        } else {
            Vec::new()
        };
    DescribeQuorumResponse::default()
        .with_topics(vec![TopicData::default()
            .with_topic_name(TopicName(StrBytes::from_static_str(METADATA_TOPIC)))
            .with_partitions(vec![partition])])
        .with_nodes(nodes)
}
