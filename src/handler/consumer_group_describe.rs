//! ConsumerGroupDescribe (KIP-848): wire ⇄ `GroupCoordinator::consumer_describe`, one group at a time.

use std::sync::Arc;

use kafka_protocol::messages::consumer_group_describe_response::{
    Assignment, DescribedGroup, Member, TopicPartitions,
};
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, GroupId, TopicName,
};

use super::group_common::{code_of, sb, sb_opt};
use super::{Call, Ctx, Handler, Reply};
use crate::group::consumer::{GroupDescription, MemberDescription};

/// The ConsumerGroupDescribe handler (named once in `list.rs`).
pub struct ConsumerGroupDescribe;

/// Group ACL operations Kafka reports without an authorizer: READ(3), DELETE(6), DESCRIBE(8).
const GROUP_AUTHORIZED_OPERATIONS: i32 = (1 << 3) | (1 << 6) | (1 << 8);

/// `MemberType` (v1): the member speaks the consumer protocol.
const MEMBER_TYPE_CONSUMER: i8 = 1;

impl Handler for ConsumerGroupDescribe {
    type Request = ConsumerGroupDescribeRequest;
    const VERSIONS: (i16, i16) = (0, 1);

    async fn handle(
        ctx: &Arc<Ctx>,
        _call: &Call<'_>,
        req: ConsumerGroupDescribeRequest,
    ) -> Reply<ConsumerGroupDescribeResponse> {
        let mut resp = ConsumerGroupDescribeResponse::default();
        for group_id in &req.group_ids {
            let d = ctx.groups.consumer_describe(group_id.0.as_str()).await;
            resp.groups
                .push(described(d, req.include_authorized_operations));
        }
        Reply::Now(resp)
    }
}

fn described(d: GroupDescription, include_ops: bool) -> DescribedGroup {
    let mut g = DescribedGroup::default();
    g.error_code = code_of(&d.error);
    g.error_message = sb_opt(d.error_message);
    g.group_id = GroupId(sb(d.group_id));
    g.authorized_operations = if include_ops {
        GROUP_AUTHORIZED_OPERATIONS
    } else {
        i32::MIN
    };
    if d.error.is_some() {
        return g;
    }
    g.group_state = sb(d.state.as_str().to_string());
    g.group_epoch = d.group_epoch;
    g.assignment_epoch = d.assignment_epoch;
    g.assignor_name = sb(d.assignor_name);
    g.members = d.members.into_iter().map(member).collect();
    g
}

fn member(m: MemberDescription) -> Member {
    let mut out = Member::default();
    out.member_id = sb(m.member_id);
    out.instance_id = sb_opt(m.instance_id);
    out.rack_id = sb_opt(m.rack_id);
    out.member_epoch = m.member_epoch;
    out.client_id = sb(m.client_id);
    out.client_host = sb(m.client_host);
    out.subscribed_topic_names = m
        .subscribed_topic_names
        .into_iter()
        .map(|t| TopicName(sb(t)))
        .collect();
    out.subscribed_topic_regex = sb_opt(m.subscribed_topic_regex);
    out.assignment = assignment(m.assignment);
    out.target_assignment = assignment(m.target_assignment);
    out.member_type = MEMBER_TYPE_CONSUMER;
    out
}

fn assignment(parts: Vec<(uuid::Uuid, String, Vec<i32>)>) -> Assignment {
    let mut a = Assignment::default();
    a.topic_partitions = parts
        .into_iter()
        .map(|(topic_id, name, partitions)| {
            let mut tp = TopicPartitions::default();
            tp.topic_id = topic_id;
            tp.topic_name = TopicName(sb(name));
            tp.partitions = partitions;
            tp
        })
        .collect();
    a
}
