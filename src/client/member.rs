//! Membership of a classic consumer group for `weir consume --group`, as `kafka-console-consumer.sh`
//! joins one: JoinGroup with the `range` protocol (the leader computes the assignment, as Kafka's
//! `RangeAssignor` does), SyncGroup, heartbeats between fetches, commits within the generation, and a
//! LeaveGroup at exit. The classic protocol works against every Kafka broker; the broker handles a
//! KIP-848 group id by converting it while empty.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition as AssignedPartitions;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, GroupId, HeartbeatRequest,
    JoinGroupRequest, LeaveGroupRequest, SyncGroupRequest,
};
use kafka_protocol::protocol::{Decodable, Encodable};

use super::{s, topic, Client, ClientError};

/// `session.timeout.ms`: the coordinator drops a member silent for this long.
const SESSION_TIMEOUT_MS: i32 = 10_000;
/// `max.poll.interval.ms` as the rebalance timeout: below the CLI's default request timeout, which
/// the JoinGroup wait must fit in.
const REBALANCE_TIMEOUT_MS: i32 = 20_000;
/// `heartbeat.interval.ms`.
const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(3_000);
/// The consumer protocol version of subscriptions and assignments this member writes.
const EMBEDDED_VERSION: i16 = 1;

// Error codes the membership reacts to.
const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
const COORDINATOR_NOT_AVAILABLE: i16 = 15;
const NOT_COORDINATOR: i16 = 16;
const ILLEGAL_GENERATION: i16 = 22;
const UNKNOWN_MEMBER_ID: i16 = 25;
const REBALANCE_IN_PROGRESS: i16 = 27;
const MEMBER_ID_REQUIRED: i16 = 79;

/// This process's membership of one group, subscribed to one topic.
pub struct Membership {
    group: String,
    topic: String,
    member_id: String,
    generation: i32,
    /// Partitions of `topic` assigned in the current generation.
    assignment: Vec<i32>,
    last_heartbeat: Instant,
}

impl Membership {
    /// Joins `group` subscribed to `topic` and waits for the first assignment.
    pub async fn join(client: &mut Client, group: &str, name: &str) -> Result<Self, ClientError> {
        let mut m = Membership {
            group: group.to_string(),
            topic: name.to_string(),
            member_id: String::new(),
            generation: -1,
            assignment: Vec::new(),
            last_heartbeat: Instant::now(),
        };
        m.rejoin(client).await?;
        Ok(m)
    }

    /// The partitions of the topic this member owns.
    pub fn assignment(&self) -> &[i32] {
        &self.assignment
    }

    /// Joins again until an assignment arrives (JoinGroup then SyncGroup, retrying what Kafka's
    /// consumer retries).
    pub async fn rejoin(&mut self, client: &mut Client) -> Result<(), ClientError> {
        for _ in 0..20 {
            match self.join_once(client).await {
                Ok(()) => {
                    self.last_heartbeat = Instant::now();
                    return Ok(());
                }
                Err(e) if e.code() == Some(MEMBER_ID_REQUIRED) => {}
                Err(e) if e.code().is_some_and(|c| c == UNKNOWN_MEMBER_ID) => {
                    self.member_id.clear();
                    self.generation = -1;
                }
                Err(e) if e.code().is_some_and(retriable) => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(e),
            }
        }
        Err(ClientError::Protocol(format!(
            "could not join group {} after 20 attempts",
            self.group
        )))
    }

    async fn join_once(&mut self, client: &mut Client) -> Result<(), ClientError> {
        let subscription =
            ConsumerProtocolSubscription::default().with_topics(vec![s(&self.topic)]);
        let req = JoinGroupRequest::default()
            .with_group_id(GroupId(s(&self.group)))
            .with_session_timeout_ms(SESSION_TIMEOUT_MS)
            .with_rebalance_timeout_ms(REBALANCE_TIMEOUT_MS)
            .with_member_id(s(&self.member_id))
            .with_protocol_type(s("consumer"))
            .with_protocols(vec![JoinGroupRequestProtocol::default()
                .with_name(s("range"))
                .with_metadata(embed(&subscription)?)]);
        let resp = client.send_to_coordinator(&self.group, &req).await?;
        if !resp.member_id.is_empty() {
            // MEMBER_ID_REQUIRED hands out the id to join with.
            self.member_id = resp.member_id.to_string();
        }
        ClientError::check(resp.error_code, None)
            .map_err(|e| e.context(format!("joining group {}", self.group)))?;
        self.generation = resp.generation_id;
        let assignments = if resp.leader == resp.member_id && !resp.skip_assignment {
            let members: Vec<(String, Vec<String>)> = resp
                .members
                .iter()
                .map(|m| (m.member_id.to_string(), subscribed_topics(&m.metadata)))
                .collect();
            self.leader_assignments(client, &members).await?
        } else {
            Vec::new()
        };
        let req = SyncGroupRequest::default()
            .with_group_id(GroupId(s(&self.group)))
            .with_generation_id(self.generation)
            .with_member_id(s(&self.member_id))
            .with_protocol_type(Some(s("consumer")))
            .with_protocol_name(resp.protocol_name.clone())
            .with_assignments(assignments);
        let sync = client.send_to_coordinator(&self.group, &req).await?;
        ClientError::check(sync.error_code, None)
            .map_err(|e| e.context(format!("syncing group {}", self.group)))?;
        self.assignment = own_partitions(&sync.assignment, &self.topic);
        Ok(())
    }

    /// The leader's work: Kafka's range assignment of every subscribed topic.
    async fn leader_assignments(
        &self,
        client: &mut Client,
        members: &[(String, Vec<String>)],
    ) -> Result<Vec<SyncGroupRequestAssignment>, ClientError> {
        let topics: BTreeSet<&String> = members.iter().flat_map(|(_, t)| t).collect();
        let mut counts = BTreeMap::new();
        for t in topics {
            // A subscribed topic that does not exist gets no partitions, as in Kafka.
            if let Ok(leaders) = client.leaders(t).await {
                counts.insert(t.clone(), leaders.len() as i32);
            }
        }
        range_assign(members, &counts)
            .into_iter()
            .map(|(member, parts)| {
                let a = ConsumerProtocolAssignment::default().with_assigned_partitions(
                    parts
                        .into_iter()
                        .map(|(t, p)| {
                            AssignedPartitions::default()
                                .with_topic(topic(&t))
                                .with_partitions(p)
                        })
                        .collect(),
                );
                Ok(SyncGroupRequestAssignment::default()
                    .with_member_id(s(&member))
                    .with_assignment(embed(&a)?))
            })
            .collect()
    }

    /// Heartbeats if one is due; `Ok(true)` when the group is rebalancing and the member must commit
    /// and rejoin.
    pub async fn heartbeat_if_due(&mut self, client: &mut Client) -> Result<bool, ClientError> {
        if self.last_heartbeat.elapsed() < HEARTBEAT_INTERVAL {
            return Ok(false);
        }
        let req = HeartbeatRequest::default()
            .with_group_id(GroupId(s(&self.group)))
            .with_generation_id(self.generation)
            .with_member_id(s(&self.member_id));
        let resp = client.send_to_coordinator(&self.group, &req).await?;
        self.last_heartbeat = Instant::now();
        match resp.error_code {
            0 => Ok(false),
            REBALANCE_IN_PROGRESS | ILLEGAL_GENERATION | UNKNOWN_MEMBER_ID => Ok(true),
            c if retriable(c) => Ok(false),
            c => ClientError::check(c, None)
                .map(|()| false)
                .map_err(|e| e.context(format!("heartbeating in group {}", self.group))),
        }
    }

    /// Commits `offsets` of the topic within this member's generation; `Ok(false)` when the group
    /// moved on (a rebalance): nothing was committed and the member must rejoin, as Kafka's
    /// `CommitFailedException` says.
    pub async fn commit(
        &self,
        client: &mut Client,
        offsets: &[(i32, i64)],
    ) -> Result<bool, ClientError> {
        let req = super::groups::offset_commit_request(
            &self.group,
            &self.topic,
            offsets,
            self.generation,
        )
        .with_member_id(s(&self.member_id));
        let resp = client.send_to_coordinator(&self.group, &req).await?;
        for t in &resp.topics {
            for p in &t.partitions {
                if matches!(
                    p.error_code,
                    REBALANCE_IN_PROGRESS | ILLEGAL_GENERATION | UNKNOWN_MEMBER_ID
                ) {
                    return Ok(false);
                }
                ClientError::check(p.error_code, None).map_err(|e| {
                    e.context(format!(
                        "committing {}-{} for group {}",
                        self.topic, p.partition_index, self.group
                    ))
                })?;
            }
        }
        Ok(true)
    }

    /// Leaves the group so the others get its partitions at once.
    pub async fn leave(&self, client: &mut Client) -> Result<(), ClientError> {
        let coordinator = client.coordinator(&self.group).await?;
        let conn = client.broker(coordinator).await?;
        let v = conn.version_for::<LeaveGroupRequest>()?;
        // v3 moved the member id into a batch of members.
        let req = LeaveGroupRequest::default().with_group_id(GroupId(s(&self.group)));
        let req = if v >= 3 {
            req.with_members(vec![
                MemberIdentity::default().with_member_id(s(&self.member_id))
            ])
        } else {
            req.with_member_id(s(&self.member_id))
        };
        let resp = conn.send_version(&req, v).await?;
        ClientError::check(resp.error_code, None)
            .map_err(|e| e.context(format!("leaving group {}", self.group)))
    }
}

/// Errors after which Kafka's consumer finds the coordinator again and retries.
fn retriable(code: i16) -> bool {
    matches!(
        code,
        COORDINATOR_LOAD_IN_PROGRESS
            | COORDINATOR_NOT_AVAILABLE
            | NOT_COORDINATOR
            | REBALANCE_IN_PROGRESS
    )
}

/// A consumer-protocol message behind its i16 version, as group metadata carries it.
fn embed<M: Encodable>(m: &M) -> Result<Bytes, ClientError> {
    let mut buf = BytesMut::new();
    buf.put_i16(EMBEDDED_VERSION);
    m.encode(&mut buf, EMBEDDED_VERSION)
        .map_err(|e| ClientError::Protocol(format!("encoding group metadata: {e}")))?;
    Ok(buf.freeze())
}

/// The version prefix and body of an embedded consumer-protocol message; `None` if unreadable.
fn unembed<M: Decodable>(raw: &Bytes, max_version: i16) -> Option<M> {
    if raw.len() < 2 {
        return None;
    }
    let version = i16::from_be_bytes([raw[0], raw[1]]);
    let mut body = raw.slice(2..);
    M::decode(&mut body, version.clamp(0, max_version)).ok()
}

/// The topics a member's subscription names (none if it cannot be read).
fn subscribed_topics(metadata: &Bytes) -> Vec<String> {
    unembed::<ConsumerProtocolSubscription>(metadata, 3)
        .map(|sub| sub.topics.iter().map(|t| t.to_string()).collect())
        .unwrap_or_default()
}

/// This member's partitions of `name` in a SyncGroup assignment.
fn own_partitions(assignment: &Bytes, name: &str) -> Vec<i32> {
    let mut out: Vec<i32> = unembed::<ConsumerProtocolAssignment>(assignment, 3)
        .map(|a| {
            a.assigned_partitions
                .into_iter()
                .filter(|tp| tp.topic.as_str() == name)
                .flat_map(|tp| tp.partitions)
                .collect()
        })
        .unwrap_or_default();
    out.sort_unstable();
    out
}

/// Kafka's `RangeAssignor`: per topic, the members subscribed to it in member-id order each take a
/// consecutive range; the first `partitions % members` take one more.
pub fn range_assign(
    members: &[(String, Vec<String>)],
    partitions: &BTreeMap<String, i32>,
) -> BTreeMap<String, Vec<(String, Vec<i32>)>> {
    let mut out: BTreeMap<String, Vec<(String, Vec<i32>)>> = members
        .iter()
        .map(|(m, _)| (m.clone(), Vec::new()))
        .collect();
    for (t, &n) in partitions {
        let mut subscribed: Vec<&String> = members
            .iter()
            .filter(|(_, topics)| topics.contains(t))
            .map(|(m, _)| m)
            .collect();
        subscribed.sort();
        let k = subscribed.len() as i32;
        if k == 0 {
            continue;
        }
        let (per, extra) = (n / k, n % k);
        let mut next = 0;
        for (i, m) in subscribed.into_iter().enumerate() {
            let take = per + i32::from((i as i32) < extra);
            if take > 0 {
                if let Some(list) = out.get_mut(m) {
                    list.push((t.clone(), (next..next + take).collect()));
                }
            }
            next += take;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_assignment_matches_kafkas_range_assignor() {
        let members = vec![
            ("b".to_string(), vec!["t".to_string(), "u".to_string()]),
            ("a".to_string(), vec!["t".to_string()]),
            ("c".to_string(), vec!["t".to_string()]),
        ];
        let counts = BTreeMap::from([("t".to_string(), 7), ("u".to_string(), 2)]);
        let got = range_assign(&members, &counts);
        assert_eq!(got["a"], vec![("t".to_string(), vec![0, 1, 2])]);
        assert_eq!(
            got["b"],
            vec![("t".to_string(), vec![3, 4]), ("u".to_string(), vec![0, 1])]
        );
        assert_eq!(got["c"], vec![("t".to_string(), vec![5, 6])]);
    }

    #[test]
    fn subscription_and_assignment_round_trip_through_their_embedding() {
        let sub = ConsumerProtocolSubscription::default().with_topics(vec![s("t")]);
        assert_eq!(subscribed_topics(&embed(&sub).unwrap()), vec!["t"]);
        let a = ConsumerProtocolAssignment::default().with_assigned_partitions(vec![
            AssignedPartitions::default()
                .with_topic(topic("t"))
                .with_partitions(vec![2, 0]),
            AssignedPartitions::default()
                .with_topic(topic("u"))
                .with_partitions(vec![1]),
        ]);
        assert_eq!(own_partitions(&embed(&a).unwrap(), "t"), vec![0, 2]);
        assert!(own_partitions(&Bytes::from_static(b"\x00"), "t").is_empty());
    }
}
