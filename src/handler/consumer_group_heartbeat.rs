//! ConsumerGroupHeartbeat (KIP-848): wire ⇄ `GroupCoordinator::consumer_heartbeat`.

use std::sync::Arc;

use kafka_protocol::messages::consumer_group_heartbeat_response::{Assignment, TopicPartitions};
use kafka_protocol::messages::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};

use super::group_common::{code_of, own, sb, sb_opt, ClientInfo};
use super::{Call, Ctx, Handler, Reply};
use crate::group::consumer::HeartbeatRequest;

/// The ConsumerGroupHeartbeat handler (named once in `list.rs`).
pub struct ConsumerGroupHeartbeat;

impl Handler for ConsumerGroupHeartbeat {
    type Request = ConsumerGroupHeartbeatRequest;
    const VERSIONS: (i16, i16) = (0, 1);

    async fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: ConsumerGroupHeartbeatRequest,
    ) -> Reply<ConsumerGroupHeartbeatResponse> {
        let request = to_request(req, &call.client());
        let r = ctx.groups.consumer_heartbeat(request).await;
        let mut resp = ConsumerGroupHeartbeatResponse::default();
        resp.error_code = code_of(&r.error);
        resp.error_message = sb_opt(r.error_message);
        resp.member_id = (!r.member_id.is_empty()).then(|| sb(r.member_id));
        resp.member_epoch = r.member_epoch;
        resp.heartbeat_interval_ms = r.heartbeat_interval_ms;
        resp.assignment = r.assignment.map(|a| {
            let mut out = Assignment::default();
            out.topic_partitions = a
                .into_iter()
                .map(|(topic_id, partitions)| {
                    let mut tp = TopicPartitions::default();
                    tp.topic_id = topic_id;
                    tp.partitions = partitions;
                    tp
                })
                .collect();
            out
        });
        Reply::Now(resp)
    }
}

/// The request in the coordinator's plain types (v0 has no regex field; the crate leaves it null).
fn to_request(req: ConsumerGroupHeartbeatRequest, client: &ClientInfo) -> HeartbeatRequest {
    HeartbeatRequest {
        group_id: own(&req.group_id.0),
        member_id: own(&req.member_id),
        member_epoch: req.member_epoch,
        instance_id: req.instance_id.as_ref().map(own),
        rack_id: req.rack_id.as_ref().map(own),
        rebalance_timeout_ms: req.rebalance_timeout_ms,
        subscribed_topic_names: req
            .subscribed_topic_names
            .map(|names| names.iter().map(|n| own(&n.0)).collect()),
        subscribed_topic_regex: req.subscribed_topic_regex.as_ref().map(own),
        server_assignor: req.server_assignor.as_ref().map(own),
        owned: req.topic_partitions.map(|tps| {
            tps.into_iter()
                .map(|tp| (tp.topic_id, tp.partitions))
                .collect()
        }),
        client_id: client.client_id.clone(),
        client_host: client.client_host.clone(),
    }
}
