//! Consumer-group operations for the CLI: listing, describing (members and assignments), committed
//! offsets, standalone commits and deletion.

use bytes::Bytes;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerProtocolAssignment, DeleteGroupsRequest,
    DescribeGroupsRequest, GroupId, ListGroupsRequest, OffsetCommitRequest, OffsetFetchRequest,
};
use kafka_protocol::protocol::Decodable;

use super::{s, topic, Client, ClientError};

/// A group as ListGroups lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GroupListing {
    /// Group id.
    pub group: String,
    /// State (Stable, Empty, …; empty string from brokers before ListGroups v4).
    pub state: String,
    /// Protocol type (`consumer` for Kafka consumers).
    pub protocol_type: String,
    /// The coordinator that listed it.
    pub coordinator: i32,
}

/// A described group.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GroupDescription {
    /// Group id.
    pub group: String,
    /// State.
    pub state: String,
    /// Protocol type.
    pub protocol_type: String,
    /// The chosen assignor.
    pub protocol: String,
    /// Members with their assignments.
    pub members: Vec<Member>,
    /// Coordinator node id.
    pub coordinator: i32,
}

/// A group member.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Member {
    /// Member id.
    pub member_id: String,
    /// Static member id, if any.
    pub group_instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub host: String,
    /// Assigned partitions (consumer protocol): (topic, partition).
    pub assignment: Vec<(String, i32)>,
}

/// A committed offset.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Committed {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Committed offset.
    pub offset: i64,
}

impl Client {
    /// Every group of every broker, sorted by id.
    pub async fn list_groups(&mut self) -> Result<Vec<GroupListing>, ClientError> {
        self.metadata(Some(&[])).await?;
        let mut out = Vec::new();
        for b in self.broker_addrs() {
            let resp = self
                .broker(b.id)
                .await?
                .send(&ListGroupsRequest::default())
                .await?;
            ClientError::check(resp.error_code, None)
                .map_err(|e| e.context(format!("listing groups on broker {}", b.id)))?;
            out.extend(resp.groups.into_iter().map(|g| GroupListing {
                group: g.group_id.to_string(),
                state: g.group_state.to_string(),
                protocol_type: g.protocol_type.to_string(),
                coordinator: b.id,
            }));
        }
        out.sort_by(|a, b| a.group.cmp(&b.group));
        Ok(out)
    }

    /// Describes one group.
    pub async fn describe_group(&mut self, group: &str) -> Result<GroupDescription, ClientError> {
        let coordinator = self.coordinator(group).await?;
        let req = DescribeGroupsRequest::default().with_groups(vec![GroupId(s(group))]);
        let resp = self.broker(coordinator).await?.send(&req).await?;
        let g = resp
            .groups
            .into_iter()
            .next()
            .ok_or_else(|| ClientError::Protocol("DescribeGroups answered no group".into()))?;
        // DescribeGroups describes classic groups only: a consumer-protocol (KIP-848) group is unknown
        // (or Dead) to it, and ConsumerGroupDescribe describes it where the broker has that API.
        let unknown = g.error_code == 69 || (g.error_code == 0 && g.group_state.as_str() == "Dead");
        if unknown {
            if let Some(d) = self.describe_consumer_group(group, coordinator).await? {
                return Ok(d);
            }
        }
        ClientError::check(g.error_code, g.error_message.as_deref())
            .map_err(|e| e.context(format!("describing group {group}")))?;
        let consumer = g.protocol_type.as_str() == "consumer";
        let members = g
            .members
            .into_iter()
            .map(|m| Member {
                member_id: m.member_id.to_string(),
                group_instance_id: m.group_instance_id.map(|i| i.to_string()),
                client_id: m.client_id.to_string(),
                host: m.client_host.to_string(),
                assignment: if consumer {
                    decode_assignment(&m.member_assignment)
                } else {
                    Vec::new()
                },
            })
            .collect();
        Ok(GroupDescription {
            group: group.to_string(),
            state: g.group_state.to_string(),
            protocol_type: g.protocol_type.to_string(),
            protocol: g.protocol_data.to_string(),
            members,
            coordinator,
        })
    }

    /// A consumer-protocol group through ConsumerGroupDescribe; `None` where the broker lacks the API
    /// or knows no such group.
    async fn describe_consumer_group(
        &mut self,
        group: &str,
        coordinator: i32,
    ) -> Result<Option<GroupDescription>, ClientError> {
        let conn = self.broker(coordinator).await?;
        if conn.version_for::<ConsumerGroupDescribeRequest>().is_err() {
            return Ok(None);
        }
        let req = ConsumerGroupDescribeRequest::default().with_group_ids(vec![GroupId(s(group))]);
        let resp = conn.send(&req).await?;
        let Some(g) = resp.groups.into_iter().next() else {
            return Ok(None);
        };
        if g.error_code == 69 {
            return Ok(None);
        }
        ClientError::check(g.error_code, g.error_message.as_deref())
            .map_err(|e| e.context(format!("describing consumer group {group}")))?;
        let members = g
            .members
            .into_iter()
            .map(|m| {
                let mut assignment: Vec<(String, i32)> = m
                    .assignment
                    .topic_partitions
                    .iter()
                    .flat_map(|tp| {
                        tp.partitions
                            .iter()
                            .map(|p| (tp.topic_name.to_string(), *p))
                    })
                    .collect();
                assignment.sort();
                Member {
                    member_id: m.member_id.to_string(),
                    group_instance_id: m.instance_id.map(|i| i.to_string()),
                    client_id: m.client_id.to_string(),
                    host: m.client_host.to_string(),
                    assignment,
                }
            })
            .collect();
        Ok(Some(GroupDescription {
            group: group.to_string(),
            state: g.group_state.to_string(),
            protocol_type: "consumer".to_string(),
            protocol: g.assignor_name.to_string(),
            members,
            coordinator,
        }))
    }

    /// Every offset committed by `group`, sorted by topic and partition.
    pub async fn committed(&mut self, group: &str) -> Result<Vec<Committed>, ClientError> {
        let req = OffsetFetchRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_topics(None);
        let resp = self.send_to_coordinator(group, &req).await?;
        ClientError::check(resp.error_code, None)
            .map_err(|e| e.context(format!("fetching offsets of group {group}")))?;
        let mut out = Vec::new();
        for t in resp.topics {
            for p in t.partitions {
                ClientError::check(p.error_code, None)?;
                if p.committed_offset >= 0 {
                    out.push(Committed {
                        topic: t.name.to_string(),
                        partition: p.partition_index,
                        offset: p.committed_offset,
                    });
                }
            }
        }
        out.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        Ok(out)
    }

    /// Commits offsets outside any generation (generation -1, no member), as a Java consumer using
    /// `assign()` does; the coordinator accepts it only while the group has no active members.
    pub async fn commit(
        &mut self,
        group: &str,
        name: &str,
        offsets: &[(i32, i64)],
    ) -> Result<(), ClientError> {
        let req = offset_commit_request(group, name, offsets, -1);
        let resp = self.send_to_coordinator(group, &req).await?;
        for t in &resp.topics {
            for p in &t.partitions {
                ClientError::check(p.error_code, None).map_err(|e| {
                    e.context(format!(
                        "committing {name}-{} for group {group}",
                        p.partition_index
                    ))
                })?;
            }
        }
        Ok(())
    }

    /// Deletes a group (it must be empty).
    pub async fn delete_group(&mut self, group: &str) -> Result<(), ClientError> {
        let req = DeleteGroupsRequest::default().with_groups_names(vec![GroupId(s(group))]);
        let resp = self.send_to_coordinator(group, &req).await?;
        for r in &resp.results {
            ClientError::check(r.error_code, None)
                .map_err(|e| e.context(format!("deleting group {group}")))?;
        }
        Ok(())
    }
}

/// A consumer-protocol assignment: i16 version, then the body. Unreadable bytes give no partitions.
fn decode_assignment(raw: &Bytes) -> Vec<(String, i32)> {
    let mut buf = raw.clone();
    if buf.len() < 2 {
        return Vec::new();
    }
    let version = i16::from_be_bytes([buf[0], buf[1]]);
    bytes::Buf::advance(&mut buf, 2);
    let Ok(a) = ConsumerProtocolAssignment::decode(&mut buf, version.clamp(0, 3)) else {
        return Vec::new();
    };
    let mut out: Vec<(String, i32)> = a
        .assigned_partitions
        .iter()
        .flat_map(|tp| tp.partitions.iter().map(|p| (tp.topic.to_string(), *p)))
        .collect();
    out.sort();
    out
}

/// An OffsetCommit of `offsets` (partition, offset) of one topic in `generation` (-1: outside any), with
/// no member id and the broker's retention.
pub(super) fn offset_commit_request(
    group: &str,
    name: &str,
    offsets: &[(i32, i64)],
    generation: i32,
) -> OffsetCommitRequest {
    OffsetCommitRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_generation_id_or_member_epoch(generation)
        .with_retention_time_ms(-1)
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(topic(name))
            .with_partitions(
                offsets
                    .iter()
                    .map(|(p, o)| {
                        OffsetCommitRequestPartition::default()
                            .with_partition_index(*p)
                            .with_committed_offset(*o)
                            .with_committed_leader_epoch(-1)
                    })
                    .collect(),
            )])
}
