//! A small async Kafka client for the `weir` command line: bootstrap, ApiVersions negotiation, metadata
//! and leader/coordinator routing, on kafka-protocol's codecs.
//!
//! This is the second user of kafka-protocol besides `protocol/`: all client-side encoding and decoding
//! lives in this module and `conn`, so the CLI and the admin console only see plain values and the typed
//! messages they build. Replica fetchers (`cluster::replication::fetcher`) are clients of their leaders
//! and use [`conn::Conn`] too.

pub mod admin;
pub mod conn;
pub mod error;
pub mod groups;
pub mod io;
pub mod log_dirs;
pub mod markers;
pub mod member;
pub mod murmur2;
pub mod pool;
pub mod records;
pub mod txn_verify;

use std::collections::HashMap;
use std::time::Duration;

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    BrokerId, FindCoordinatorRequest, MetadataRequest, MetadataResponse, TopicName,
};
use kafka_protocol::protocol::{Request, StrBytes};

pub use conn::Conn;
pub use error::ClientError;

/// Metadata retries for a topic whose leader is not elected yet …
const METADATA_RETRIES: u32 = 20;
/// … and the wait between them (Kafka's `retry.backoff.ms` default).
const METADATA_BACKOFF: Duration = Duration::from_millis(100);

/// Builds a wire string.
pub fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// Builds a wire topic name.
pub fn topic(v: &str) -> TopicName {
    TopicName(s(v))
}

/// A broker as metadata lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BrokerAddr {
    /// The broker's node id.
    pub id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: i32,
    /// Rack, when configured.
    pub rack: Option<String>,
}

/// Connections to a cluster: one to a bootstrap server, one per broker reached since.
pub struct Client {
    /// The bootstrap connection; serves requests any broker can answer (metadata, controller-free admin).
    any: Conn,
    /// Connections by node id, opened on first use.
    brokers: HashMap<i32, Conn>,
    /// Broker addresses from the last metadata answer.
    addrs: HashMap<i32, BrokerAddr>,
    /// Per-request time limit.
    timeout: Duration,
}

impl Client {
    /// Connects to the first reachable of a comma-separated bootstrap list.
    pub async fn connect(bootstrap: &str, timeout: Duration) -> Result<Client, ClientError> {
        let mut last = ClientError::Config(format!("empty bootstrap list {bootstrap:?}"));
        for addr in bootstrap
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
        {
            match Conn::connect(addr, timeout).await {
                Ok(any) => {
                    return Ok(Client {
                        any,
                        brokers: HashMap::new(),
                        addrs: HashMap::new(),
                        timeout,
                    })
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The bootstrap connection (any broker can answer the request).
    pub fn any(&mut self) -> &mut Conn {
        &mut self.any
    }

    /// Sends a request to any broker.
    pub async fn send<R: Request>(&mut self, req: &R) -> Result<R::Response, ClientError> {
        self.any.send(req).await
    }

    /// Metadata for `topics` (`None`: every topic); never auto-creates. Remembers broker addresses.
    pub async fn metadata(
        &mut self,
        topics: Option<&[String]>,
    ) -> Result<MetadataResponse, ClientError> {
        self.metadata_with(topics, false).await
    }

    /// Metadata for `topics`, letting the broker auto-create them if it is configured to.
    pub async fn metadata_with(
        &mut self,
        topics: Option<&[String]>,
        auto_create: bool,
    ) -> Result<MetadataResponse, ClientError> {
        let req = MetadataRequest::default()
            .with_topics(topics.map(|t| {
                t.iter()
                    .map(|n| MetadataRequestTopic::default().with_name(Some(topic(n))))
                    .collect()
            }))
            .with_allow_auto_topic_creation(auto_create);
        let resp = self.any.send(&req).await?;
        for b in &resp.brokers {
            self.addrs.insert(
                b.node_id.0,
                BrokerAddr {
                    id: b.node_id.0,
                    host: b.host.to_string(),
                    port: b.port,
                    rack: b.rack.as_ref().map(|r| r.to_string()),
                },
            );
        }
        Ok(resp)
    }

    /// The connection to broker `id`, opened on first use (metadata must have named it).
    pub async fn broker(&mut self, id: i32) -> Result<&mut Conn, ClientError> {
        if !self.brokers.contains_key(&id) {
            if !self.addrs.contains_key(&id) {
                self.metadata(Some(&[])).await?;
            }
            let a = self
                .addrs
                .get(&id)
                .ok_or_else(|| ClientError::Config(format!("broker {id} is not in metadata")))?;
            let conn = Conn::connect(&format!("{}:{}", a.host, a.port), self.timeout).await?;
            self.brokers.insert(id, conn);
        }
        self.brokers
            .get_mut(&id)
            .ok_or_else(|| ClientError::Config(format!("broker {id} is not connected")))
    }

    /// The controller's node id (where topic admin requests go).
    pub async fn controller(&mut self) -> Result<i32, ClientError> {
        let m = self.metadata(Some(&[])).await?;
        Ok(m.controller_id.0)
    }

    /// The broker coordinating consumer group `group` (FindCoordinator v4+ batches keys; older
    /// versions take one key and answer in the top-level fields).
    pub async fn coordinator(&mut self, group: &str) -> Result<i32, ClientError> {
        let v = self.any.version_for::<FindCoordinatorRequest>()?;
        let req = if v >= 4 {
            FindCoordinatorRequest::default().with_coordinator_keys(vec![s(group)])
        } else {
            FindCoordinatorRequest::default().with_key(s(group))
        };
        let resp = self.any.send_version(&req, v).await?;
        let (code, message, node, host, port) = match resp.coordinators.into_iter().next() {
            Some(c) if v >= 4 => (c.error_code, c.error_message, c.node_id.0, c.host, c.port),
            _ => (
                resp.error_code,
                resp.error_message,
                resp.node_id.0,
                resp.host,
                resp.port,
            ),
        };
        ClientError::check(code, message.as_deref())
            .map_err(|e| e.context(format!("finding the coordinator of group {group}")))?;
        self.addrs.entry(node).or_insert_with(|| BrokerAddr {
            id: node,
            host: host.to_string(),
            port,
            rack: None,
        });
        Ok(node)
    }

    /// Sends `req` to the coordinator of `group`.
    pub async fn send_to_coordinator<R: Request>(
        &mut self,
        group: &str,
        req: &R,
    ) -> Result<R::Response, ClientError> {
        let id = self.coordinator(group).await?;
        self.broker(id).await?.send(req).await
    }

    /// Sends `req` to the controller.
    pub async fn send_to_controller<R: Request>(
        &mut self,
        req: &R,
    ) -> Result<R::Response, ClientError> {
        let id = self.controller().await?;
        if id < 0 {
            return self.any.send(req).await;
        }
        self.broker(id).await?.send(req).await
    }

    /// Leaders of every partition of `topic`: index = partition, value = node id.
    pub async fn leaders(&mut self, name: &str) -> Result<Vec<i32>, ClientError> {
        self.leaders_with(name, false).await
    }

    /// Like [`Client::leaders`], letting the broker auto-create the topic (what a producer does).
    pub async fn leaders_auto_create(&mut self, name: &str) -> Result<Vec<i32>, ClientError> {
        self.leaders_with(name, true).await
    }

    async fn leaders_with(&mut self, name: &str, auto: bool) -> Result<Vec<i32>, ClientError> {
        // A topic just auto-created may answer LEADER_NOT_AVAILABLE until its leader is elected (Kafka);
        // retry a retriable answer a few times, as Kafka's clients do with their metadata backoff.
        let mut attempt = 0;
        loop {
            match self.leaders_once(name, auto).await {
                Err(e)
                    if attempt < METADATA_RETRIES
                        && e.code().is_some_and(|c| c == 5 || (auto && c == 3)) =>
                {
                    attempt += 1;
                    tokio::time::sleep(METADATA_BACKOFF).await;
                }
                other => return other,
            }
        }
    }

    async fn leaders_once(&mut self, name: &str, auto: bool) -> Result<Vec<i32>, ClientError> {
        let m = self.metadata_with(Some(&[name.to_string()]), auto).await?;
        let t = m
            .topics
            .first()
            .ok_or_else(|| ClientError::Config(format!("no metadata for topic {name}")))?;
        ClientError::check(t.error_code, None).map_err(|e| e.context(format!("topic {name}")))?;
        let mut out = vec![-1; t.partitions.len()];
        for p in &t.partitions {
            if let Some(slot) = usize::try_from(p.partition_index)
                .ok()
                .and_then(|i| out.get_mut(i))
            {
                *slot = p.leader_id.0;
            }
        }
        Ok(out)
    }

    /// Broker addresses from the last metadata answer.
    pub fn broker_addrs(&self) -> Vec<BrokerAddr> {
        let mut v: Vec<_> = self.addrs.values().cloned().collect();
        v.sort_by_key(|b| b.id);
        v
    }
}

/// Kafka's name of an API key (`Produce`), or `Unknown<key>`.
pub fn api_name(key: i16) -> String {
    kafka_protocol::messages::ApiKey::try_from(key)
        .map_or_else(|_| format!("Unknown{key}"), |k| format!("{k:?}"))
}

/// The wire `BrokerId` of a node id.
pub fn broker_id(id: i32) -> BrokerId {
    BrokerId(id)
}
