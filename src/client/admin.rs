//! Topic, config and offset operations as plain values: the CLI and the console never build wire types.

use std::collections::HashMap;

use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest, DescribeConfigsRequest,
    IncrementalAlterConfigsRequest, ListOffsetsRequest,
};

use super::{s, topic, Client, ClientError};

/// Time limit the broker gets for topic operations.
const ADMIN_TIMEOUT_MS: i32 = 30_000;

/// ListOffsets timestamp for the log start.
pub const EARLIEST: i64 = -2;
/// ListOffsets timestamp for the high watermark.
pub const LATEST: i64 = -1;

/// One topic as metadata describes it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TopicInfo {
    /// Topic name.
    pub name: String,
    /// Topic id (UUID).
    pub id: String,
    /// Internal (`__consumer_offsets`).
    pub internal: bool,
    /// Partitions in index order.
    pub partitions: Vec<PartitionInfo>,
}

/// One partition as metadata describes it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PartitionInfo {
    /// Partition index.
    pub partition: i32,
    /// Leader node id (-1: none).
    pub leader: i32,
    /// Replica node ids.
    pub replicas: Vec<i32>,
    /// In-sync replica node ids.
    pub isr: Vec<i32>,
}

/// A config resource.
#[derive(Debug, Clone)]
pub enum Resource {
    /// A topic's configs.
    Topic(String),
    /// A broker's configs (node id).
    Broker(i32),
}

impl Resource {
    fn wire(&self) -> (i8, String) {
        match self {
            Resource::Topic(t) => (2, t.clone()),
            Resource::Broker(b) => (4, b.to_string()),
        }
    }
}

/// One config entry.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConfigEntry {
    /// Kafka's key.
    pub name: String,
    /// Value (`None`: sensitive or unset).
    pub value: Option<String>,
    /// Where the value comes from (Kafka's ConfigSource names).
    pub source: &'static str,
    /// Cannot be changed at run time.
    pub read_only: bool,
}

fn source_name(s: i8) -> &'static str {
    match s {
        1 => "DYNAMIC_TOPIC_CONFIG",
        2 => "DYNAMIC_BROKER_CONFIG",
        3 => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        4 => "STATIC_BROKER_CONFIG",
        5 => "DEFAULT_CONFIG",
        6 => "DYNAMIC_BROKER_LOGGER_CONFIG",
        7 => "CLIENT_METRICS_CONFIG",
        8 => "GROUP_CONFIG",
        _ => "UNKNOWN",
    }
}

impl Client {
    /// Topics from metadata (`None`: all), sorted by name. A named topic that does not exist is an error.
    pub async fn topics(
        &mut self,
        names: Option<&[String]>,
    ) -> Result<Vec<TopicInfo>, ClientError> {
        let m = self.metadata(names).await?;
        let mut out = Vec::with_capacity(m.topics.len());
        for t in m.topics {
            let name = t.name.as_ref().map(|n| n.to_string()).unwrap_or_default();
            ClientError::check(t.error_code, None)
                .map_err(|e| e.context(format!("topic {name}")))?;
            let mut partitions: Vec<PartitionInfo> = t
                .partitions
                .iter()
                .map(|p| PartitionInfo {
                    partition: p.partition_index,
                    leader: p.leader_id.0,
                    replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
                    isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            out.push(TopicInfo {
                name,
                id: t.topic_id.to_string(),
                internal: t.is_internal,
                partitions,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Creates a topic (-1: the broker's default partitions / replication factor).
    pub async fn create_topic(
        &mut self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: &[(String, String)],
    ) -> Result<(), ClientError> {
        let t = CreatableTopic::default()
            .with_name(topic(name))
            .with_num_partitions(partitions)
            .with_replication_factor(replication_factor)
            .with_configs(
                configs
                    .iter()
                    .map(|(k, v)| {
                        CreatableTopicConfig::default()
                            .with_name(s(k))
                            .with_value(Some(s(v)))
                    })
                    .collect(),
            );
        let req = CreateTopicsRequest::default()
            .with_topics(vec![t])
            .with_timeout_ms(ADMIN_TIMEOUT_MS);
        let resp = self.send_to_controller(&req).await?;
        for r in &resp.topics {
            ClientError::check(r.error_code, r.error_message.as_deref())
                .map_err(|e| e.context(format!("creating topic {name}")))?;
        }
        Ok(())
    }

    /// Deletes a topic.
    pub async fn delete_topic(&mut self, name: &str) -> Result<(), ClientError> {
        let id = self.controller().await?;
        let conn = if id < 0 {
            self.any()
        } else {
            self.broker(id).await?
        };
        let v = conn.version_for::<DeleteTopicsRequest>()?;
        let mut req = DeleteTopicsRequest::default().with_timeout_ms(ADMIN_TIMEOUT_MS);
        if v >= 6 {
            req.topics = vec![DeleteTopicState::default().with_name(Some(topic(name)))];
        } else {
            req.topic_names = vec![topic(name)];
        }
        let resp = conn.send_version(&req, v).await?;
        for r in &resp.responses {
            ClientError::check(r.error_code, r.error_message.as_deref())
                .map_err(|e| e.context(format!("deleting topic {name}")))?;
        }
        Ok(())
    }

    /// Grows a topic to `total` partitions.
    pub async fn add_partitions(&mut self, name: &str, total: i32) -> Result<(), ClientError> {
        let req = CreatePartitionsRequest::default()
            .with_topics(vec![CreatePartitionsTopic::default()
                .with_name(topic(name))
                .with_count(total)
                .with_assignments(None)])
            .with_timeout_ms(ADMIN_TIMEOUT_MS);
        let resp = self.send_to_controller(&req).await?;
        for r in &resp.results {
            ClientError::check(r.error_code, r.error_message.as_deref())
                .map_err(|e| e.context(format!("adding partitions to {name}")))?;
        }
        Ok(())
    }

    /// A resource's configs (`keys` empty: all).
    pub async fn describe_configs(
        &mut self,
        resource: &Resource,
        keys: &[String],
    ) -> Result<Vec<ConfigEntry>, ClientError> {
        let (kind, name) = resource.wire();
        let req = DescribeConfigsRequest::default().with_resources(vec![
            DescribeConfigsResource::default()
                .with_resource_type(kind)
                .with_resource_name(s(&name))
                .with_configuration_keys(
                    (!keys.is_empty()).then(|| keys.iter().map(|k| s(k)).collect()),
                ),
        ]);
        let resp = match resource {
            Resource::Broker(id) => self.broker(*id).await?.send(&req).await?,
            Resource::Topic(_) => self.send(&req).await?,
        };
        let mut out = Vec::new();
        for r in resp.results {
            ClientError::check(r.error_code, r.error_message.as_deref())
                .map_err(|e| e.context(format!("describing configs of {name}")))?;
            for c in r.configs {
                out.push(ConfigEntry {
                    name: c.name.to_string(),
                    value: c.value.map(|v| v.to_string()),
                    source: source_name(c.config_source),
                    read_only: c.read_only,
                });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Sets and deletes (reverts to default) configs of a resource (IncrementalAlterConfigs).
    pub async fn alter_configs(
        &mut self,
        resource: &Resource,
        set: &[(String, String)],
        delete: &[String],
    ) -> Result<(), ClientError> {
        let (kind, name) = resource.wire();
        let mut configs: Vec<AlterableConfig> = set
            .iter()
            .map(|(k, v)| {
                AlterableConfig::default()
                    .with_name(s(k))
                    .with_config_operation(0)
                    .with_value(Some(s(v)))
            })
            .collect();
        configs.extend(delete.iter().map(|k| {
            AlterableConfig::default()
                .with_name(s(k))
                .with_config_operation(1)
        }));
        let req = IncrementalAlterConfigsRequest::default().with_resources(vec![
            AlterConfigsResource::default()
                .with_resource_type(kind)
                .with_resource_name(s(&name))
                .with_configs(configs),
        ]);
        let resp = match resource {
            Resource::Broker(id) => self.broker(*id).await?.send(&req).await?,
            Resource::Topic(_) => self.send(&req).await?,
        };
        for r in &resp.responses {
            ClientError::check(r.error_code, r.error_message.as_deref())
                .map_err(|e| e.context(format!("altering configs of {name}")))?;
        }
        Ok(())
    }

    /// ListOffsets for `(partition, timestamp)` pairs of one topic, each asked of its leader.
    /// Returns partition → (offset, timestamp); offset -1 when no record is at or after the timestamp.
    pub async fn list_offsets(
        &mut self,
        name: &str,
        wanted: &[(i32, i64)],
    ) -> Result<HashMap<i32, (i64, i64)>, ClientError> {
        let leaders = self.leaders(name).await?;
        let mut by_leader: HashMap<i32, Vec<ListOffsetsPartition>> = HashMap::new();
        for (p, ts) in wanted {
            let leader = usize::try_from(*p)
                .ok()
                .and_then(|i| leaders.get(i))
                .copied()
                .ok_or_else(|| ClientError::Config(format!("{name} has no partition {p}")))?;
            by_leader.entry(leader).or_default().push(
                ListOffsetsPartition::default()
                    .with_partition_index(*p)
                    .with_timestamp(*ts),
            );
        }
        let mut out = HashMap::new();
        for (leader, partitions) in by_leader {
            let req = ListOffsetsRequest::default()
                .with_replica_id(super::broker_id(-1))
                .with_topics(vec![ListOffsetsTopic::default()
                    .with_name(topic(name))
                    .with_partitions(partitions)]);
            let resp = self.broker(leader).await?.send(&req).await?;
            for t in resp.topics {
                for p in t.partitions {
                    ClientError::check(p.error_code, None).map_err(|e| {
                        e.context(format!("listing offsets of {name}-{}", p.partition_index))
                    })?;
                    out.insert(p.partition_index, (p.offset, p.timestamp));
                }
            }
        }
        Ok(out)
    }

    /// Log start and high watermark of every partition of a topic: partition → (start, end).
    pub async fn offset_range(
        &mut self,
        name: &str,
        partitions: &[i32],
    ) -> Result<HashMap<i32, (i64, i64)>, ClientError> {
        let starts: Vec<_> = partitions.iter().map(|p| (*p, EARLIEST)).collect();
        let ends: Vec<_> = partitions.iter().map(|p| (*p, LATEST)).collect();
        let starts = self.list_offsets(name, &starts).await?;
        let ends = self.list_offsets(name, &ends).await?;
        Ok(partitions
            .iter()
            .map(|p| {
                let s = starts.get(p).map_or(-1, |v| v.0);
                let e = ends.get(p).map_or(-1, |v| v.0);
                (*p, (s, e))
            })
            .collect())
    }
}

impl Client {
    /// ListOffsets at `timestamp` (`EARLIEST`, `LATEST`, or ms) for every partition of `topics` (from
    /// [`Client::topics`]), one request per leader: (topic, partition) → offset. Partitions without a
    /// leader, or whose leader answers an error, are left out.
    pub async fn offsets_of(
        &mut self,
        topics: &[TopicInfo],
        timestamp: i64,
    ) -> Result<HashMap<(String, i32), i64>, ClientError> {
        let mut by_leader: HashMap<i32, Vec<ListOffsetsTopic>> = HashMap::new();
        for t in topics {
            let mut per_leader: HashMap<i32, Vec<ListOffsetsPartition>> = HashMap::new();
            for p in t.partitions.iter().filter(|p| p.leader >= 0) {
                per_leader.entry(p.leader).or_default().push(
                    ListOffsetsPartition::default()
                        .with_partition_index(p.partition)
                        .with_timestamp(timestamp),
                );
            }
            for (leader, partitions) in per_leader {
                by_leader.entry(leader).or_default().push(
                    ListOffsetsTopic::default()
                        .with_name(topic(&t.name))
                        .with_partitions(partitions),
                );
            }
        }
        let mut out = HashMap::new();
        for (leader, topics) in by_leader {
            let req = ListOffsetsRequest::default()
                .with_replica_id(super::broker_id(-1))
                .with_topics(topics);
            let resp = self.broker(leader).await?.send(&req).await?;
            for t in resp.topics {
                for p in t.partitions.iter().filter(|p| p.error_code == 0) {
                    out.insert((t.name.to_string(), p.partition_index), p.offset);
                }
            }
        }
        Ok(out)
    }
}
