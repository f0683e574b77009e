//! Answers for partitions this broker does not lead: the error code, and (KIP-951) the current leader and
//! its endpoint, so clients move to the new leader without waiting for a Metadata round trip.

use kafka_protocol::messages::BrokerId;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::Ctx;
use crate::cluster::NotServed;

/// Kafka's error code for a partition request this broker cannot serve.
pub fn error_code(e: &NotServed) -> i16 {
    match e {
        NotServed::Unknown => ResponseError::UnknownTopicOrPartition.code(),
        NotServed::NotLeader { .. } => ResponseError::NotLeaderOrFollower.code(),
    }
}

/// `(leader_id, leader_epoch)` to report for a partition led elsewhere, if known.
pub fn current_leader(e: &NotServed) -> Option<(i32, i32)> {
    match e {
        NotServed::NotLeader {
            leader,
            leader_epoch,
        } if *leader >= 0 => Some((*leader, *leader_epoch)),
        _ => None,
    }
}

/// Endpoints `(id, host, port)` of the given live brokers, each once, for a response's `node_endpoints`.
pub fn endpoints(ctx: &Ctx, ids: &[i32]) -> Vec<(BrokerId, StrBytes, i32)> {
    let image = ctx.cluster.image();
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    ids.into_iter()
        .filter_map(|id| image.live_broker(id))
        .map(|b| {
            (
                BrokerId(b.id),
                StrBytes::from_string(b.host.clone()),
                b.port,
            )
        })
        .collect()
}
