//! Broker configuration: defaults for an embedded single node, read from TOML with Kafka's config names.
//!
//! Keys are Kafka's (`num.partitions`, `log.segment.bytes`, …). In TOML they may be written bare
//! (`num.partitions = 3`, which TOML reads as nested tables) or quoted (`"num.partitions" = 3`); both are
//! flattened back to dotted names before matching, and unknown keys are rejected so typos surface.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::log::{LogConfig, StoreOptions};

/// Everything the broker needs to start; every field has a default fit for one local node.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the broker listens on (`listeners`, without the `PLAINTEXT://` prefix).
    #[serde(rename = "listeners")]
    pub listen: SocketAddr,
    /// `host:port` clients are told to connect to (`advertised.listeners`); defaults to `listen`.
    #[serde(rename = "advertised.listeners")]
    pub advertised_listener: Option<String>,
    /// Admin HTTP listener for `/metrics`, `/healthz`, `/readyz` (`admin.listeners`, `host:port`); empty
    /// disables it. A port already taken is logged and skipped: the broker serves Kafka regardless.
    #[serde(rename = "admin.listeners")]
    pub admin_listen: String,
    /// Whether the web console may change the cluster (delete topics, reset group offsets)
    /// (`admin.console.write.enabled`; read-only by default).
    #[serde(rename = "admin.console.write.enabled")]
    pub admin_console_write_enabled: bool,
    /// Folder holding partition logs and broker state (`log.dirs`).
    #[serde(rename = "log.dirs")]
    pub data_dir: PathBuf,
    /// This broker's id (`node.id`).
    #[serde(rename = "node.id")]
    pub node_id: i32,
    /// Partitions of an auto-created topic or a CreateTopics request with -1 (`num.partitions`).
    #[serde(rename = "num.partitions")]
    pub num_partitions: i32,
    /// Replication factor used when a request passes -1 (`default.replication.factor`).
    #[serde(rename = "default.replication.factor")]
    pub default_replication_factor: i16,
    /// Create unknown topics on Metadata requests that allow it (`auto.create.topics.enable`).
    #[serde(rename = "auto.create.topics.enable")]
    pub auto_create_topics: bool,
    /// Largest record batch accepted, per topic unless overridden (`message.max.bytes`).
    #[serde(rename = "message.max.bytes")]
    pub message_max_bytes: u32,
    /// Largest request frame accepted; larger frames close the connection (`socket.request.max.bytes`).
    #[serde(rename = "socket.request.max.bytes")]
    pub socket_request_max_bytes: u32,
    /// Most client connections served at once; further accepts wait (`max.connections`).
    #[serde(rename = "max.connections")]
    pub max_connections: usize,
    /// Most connections from one IP address; further ones are closed at once (`max.connections.per.ip`).
    #[serde(rename = "max.connections.per.ip")]
    pub max_connections_per_ip: i32,
    /// Connections with no request or response for this long are closed; < 0 never
    /// (`connections.max.idle.ms`).
    #[serde(rename = "connections.max.idle.ms")]
    pub connections_max_idle_ms: i64,
    /// Bytes of requests read but not yet handled, broker-wide; connections stop being read above it;
    /// -1 is unbounded, Kafka's default (`queued.max.request.bytes`).
    #[serde(rename = "queued.max.request.bytes")]
    pub queued_max_request_bytes: i64,
    /// Weir-specific, per connection: bytes of responses waiting to be written to the client. While a
    /// client does not read its responses, the broker stops reading its requests, so a client that
    /// pipelines fetches and never reads holds at most this plus one response in broker memory
    /// (`queued.max.response.bytes`).
    #[serde(rename = "queued.max.response.bytes")]
    pub queued_max_response_bytes: u32,
    /// Weir-specific, broker-wide: bytes of Fetch responses beyond each connection's
    /// `queued.max.response.bytes`, built or being built and not yet written, across all connections. A
    /// fetch asking for more than is free gets a smaller `max_bytes` (never below the connection's own
    /// budget); -1 is unbounded (`queued.max.fetch.response.bytes`).
    #[serde(rename = "queued.max.fetch.response.bytes")]
    pub queued_max_fetch_response_bytes: i64,
    /// Size of an active segment before it rolls (`log.segment.bytes`).
    #[serde(rename = "log.segment.bytes")]
    pub log_segment_bytes: u64,
    /// Age of an active segment before it rolls (`log.roll.ms`).
    #[serde(rename = "log.roll.ms")]
    pub log_roll_ms: i64,
    /// Retention by age; -1 keeps forever (`log.retention.ms`).
    #[serde(rename = "log.retention.ms")]
    pub log_retention_ms: i64,
    /// Retention by partition size; -1 is unlimited (`log.retention.bytes`).
    #[serde(rename = "log.retention.bytes")]
    pub log_retention_bytes: i64,
    /// How often retention runs (`log.retention.check.interval.ms`).
    #[serde(rename = "log.retention.check.interval.ms")]
    pub log_retention_check_interval_ms: u64,
    /// How long the cleaner sleeps when nothing needed compaction (`log.cleaner.backoff.ms`).
    #[serde(rename = "log.cleaner.backoff.ms")]
    pub log_cleaner_backoff_ms: u64,
    /// Bytes between offset-index entries (`log.index.interval.bytes`).
    #[serde(rename = "log.index.interval.bytes")]
    pub log_index_interval_bytes: u32,
    /// Default `cleanup.policy` (`log.cleanup.policy`): `delete`, `compact` or `compact,delete`.
    #[serde(rename = "log.cleanup.policy")]
    pub log_cleanup_policy: String,
    /// Fsync after this many messages; unset leaves it to the OS (`log.flush.interval.messages`).
    #[serde(rename = "log.flush.interval.messages")]
    pub log_flush_interval_messages: Option<i64>,
    /// Fsync at least this often; unset leaves it to the OS (`log.flush.interval.ms`).
    #[serde(rename = "log.flush.interval.ms")]
    pub log_flush_interval_ms: Option<i64>,
    /// Weir-specific: acknowledge acks=all produces only after fdatasync (group commit). `false` gives
    /// Kafka's page-cache durability (`acks.all.fsync`).
    #[serde(rename = "acks.all.fsync")]
    pub acks_all_fsync: bool,
    /// Weir-specific: most segment files open at once, store-wide; the rest reopen on demand
    /// (`log.max.open.files`). Bounds file descriptors and in-memory indexes with many partitions.
    #[serde(rename = "log.max.open.files")]
    pub log_max_open_files: usize,
    /// Weir-specific: bytes of each partition's newest writes kept in the page cache; older written data
    /// is dropped from it. 0 leaves caching to the kernel, as Kafka does (`log.page.cache.window.bytes`).
    #[serde(rename = "log.page.cache.window.bytes")]
    pub log_page_cache_window_bytes: u64,
    /// Wait before a deleted partition's files are removed from disk (`log.segment.delete.delay.ms`).
    #[serde(rename = "log.segment.delete.delay.ms")]
    pub log_segment_delete_delay_ms: i64,
    /// Most incremental fetch sessions cached (`max.incremental.fetch.session.cache.slots`).
    #[serde(rename = "max.incremental.fetch.session.cache.slots")]
    pub fetch_session_cache_slots: usize,
    /// Upper bound on one Fetch response (`fetch.max.bytes`).
    #[serde(rename = "fetch.max.bytes")]
    pub fetch_max_bytes: i32,
    /// How long an idle producer's sequence state is kept (`producer.id.expiration.ms`).
    #[serde(rename = "producer.id.expiration.ms")]
    pub producer_id_expiration_ms: i64,
    /// Wait before the first rebalance of an empty group (`group.initial.rebalance.delay.ms`).
    #[serde(rename = "group.initial.rebalance.delay.ms")]
    pub group_initial_rebalance_delay_ms: i64,
    /// Smallest session timeout a member may ask for (`group.min.session.timeout.ms`).
    #[serde(rename = "group.min.session.timeout.ms")]
    pub group_min_session_timeout_ms: i32,
    /// Largest session timeout a member may ask for (`group.max.session.timeout.ms`).
    #[serde(rename = "group.max.session.timeout.ms")]
    pub group_max_session_timeout_ms: i32,
    /// Session timeout of consumer-protocol (KIP-848) members (`group.consumer.session.timeout.ms`).
    #[serde(rename = "group.consumer.session.timeout.ms")]
    pub group_consumer_session_timeout_ms: i32,
    /// Heartbeat interval handed to consumer-protocol members (`group.consumer.heartbeat.interval.ms`).
    #[serde(rename = "group.consumer.heartbeat.interval.ms")]
    pub group_consumer_heartbeat_interval_ms: i32,
    /// Server-side assignors offered to consumer-protocol groups, default first (`group.consumer.assignors`:
    /// `uniform`, `range`, or Kafka's class names for them).
    #[serde(rename = "group.consumer.assignors")]
    pub group_consumer_assignors: String,
    /// Whether non-empty groups change protocol online (`group.consumer.migration.policy`: Kafka's
    /// `bidirectional`, `upgrade`, `downgrade` or `disabled`).
    #[serde(rename = "group.consumer.migration.policy")]
    pub group_consumer_migration_policy: String,
    /// Partitions of `__consumer_offsets` (`offsets.topic.num.partitions`).
    #[serde(rename = "offsets.topic.num.partitions")]
    pub offsets_topic_num_partitions: i32,
    /// How long committed offsets of an empty group are kept (`offsets.retention.minutes`).
    #[serde(rename = "offsets.retention.minutes")]
    pub offsets_retention_minutes: i64,
    /// Where this node serves the metadata quorum and controller requests (`controller.listeners`);
    /// required with more than one voter.
    #[serde(rename = "controller.listeners")]
    pub controller_listen: Option<SocketAddr>,
    /// The quorum's voters, `id@host:port,…` (`controller.quorum.voters`); unset: this node alone.
    #[serde(rename = "controller.quorum.voters")]
    pub quorum_voters: Option<String>,
    /// `broker,controller` (the default: every node votes and serves clients) (`process.roles`).
    #[serde(rename = "process.roles")]
    pub process_roles: String,
    /// Rack of this broker, for rack-aware replica placement (`broker.rack`).
    #[serde(rename = "broker.rack")]
    pub broker_rack: Option<String>,
    /// How often a broker heartbeats to the controller (`broker.heartbeat.interval.ms`).
    #[serde(rename = "broker.heartbeat.interval.ms")]
    pub broker_heartbeat_interval_ms: u64,
    /// Fetcher tasks per source broker (`num.replica.fetchers`).
    #[serde(rename = "num.replica.fetchers")]
    pub num_replica_fetchers: usize,
    /// Bytes a follower fetches per partition per request (`replica.fetch.max.bytes`).
    #[serde(rename = "replica.fetch.max.bytes")]
    pub replica_fetch_max_bytes: i32,
    /// Bytes per follower fetch response (`replica.fetch.response.max.bytes`).
    #[serde(rename = "replica.fetch.response.max.bytes")]
    pub replica_fetch_response_max_bytes: i32,
    /// How long a follower's fetch waits at the leader for data (`replica.fetch.wait.max.ms`).
    #[serde(rename = "replica.fetch.wait.max.ms")]
    pub replica_fetch_wait_max_ms: i32,
    /// A follower not caught up for this long leaves the ISR (`replica.lag.time.max.ms`).
    #[serde(rename = "replica.lag.time.max.ms")]
    pub replica_lag_time_max_ms: i64,
    /// Fewest in-sync replicas for an acks=all produce (`min.insync.replicas`; topics may override).
    #[serde(rename = "min.insync.replicas")]
    pub min_insync_replicas: i32,
    /// Replication factor of `__consumer_offsets`, capped by the live brokers when it is created
    /// (`offsets.topic.replication.factor`).
    #[serde(rename = "offsets.topic.replication.factor")]
    pub offsets_topic_replication_factor: i16,
    /// A partition whose in-sync replicas are all gone may be led by an out-of-sync live replica, losing
    /// what only the ISR had (`unclean.leader.election.enable`; topics may override).
    #[serde(rename = "unclean.leader.election.enable")]
    pub unclean_leader_election_enable: bool,
    /// The controller moves leadership back to preferred replicas (`auto.leader.rebalance.enable`).
    #[serde(rename = "auto.leader.rebalance.enable")]
    pub auto_leader_rebalance_enable: bool,
    /// How often the controller looks for partitions not led by their preferred replica
    /// (`leader.imbalance.check.interval.seconds`).
    #[serde(rename = "leader.imbalance.check.interval.seconds")]
    pub leader_imbalance_check_interval_seconds: u64,
    /// A broker's partitions are rebalanced when more than this percentage of those it is preferred for
    /// are led elsewhere (`leader.imbalance.per.broker.percentage`).
    #[serde(rename = "leader.imbalance.per.broker.percentage")]
    pub leader_imbalance_per_broker_percentage: u32,
    /// A broker silent this long is fenced by the controller (`broker.session.timeout.ms`).
    #[serde(rename = "broker.session.timeout.ms")]
    pub broker_session_timeout_ms: u64,
    /// Minimum wait before a voter that hears no leader starts an election
    /// (`controller.quorum.election.timeout.ms`); the actual wait is random up to twice this.
    #[serde(rename = "controller.quorum.election.timeout.ms")]
    pub controller_election_timeout_ms: u64,
    /// Partitions of `__transaction_state` (`transaction.state.log.num.partitions`).
    #[serde(rename = "transaction.state.log.num.partitions")]
    pub transaction_state_log_num_partitions: i32,
    /// Largest `transaction.timeout.ms` a producer may ask for (`transaction.max.timeout.ms`).
    #[serde(rename = "transaction.max.timeout.ms")]
    pub transaction_max_timeout_ms: i64,
    /// Idle transactional ids are removed after this (`transactional.id.expiration.ms`).
    #[serde(rename = "transactional.id.expiration.ms")]
    pub transactional_id_expiration_ms: i64,
    /// Serve transactional producers (`transaction.coordinator.enable`, Weir; on by default). Off, a
    /// transactional InitProducerId is refused with TRANSACTIONAL_ID_AUTHORIZATION_FAILED, so such a
    /// producer fails at once with a clear error.
    #[serde(rename = "transaction.coordinator.enable")]
    pub transaction_coordinator_enable: bool,
}

impl Default for Config {
    fn default() -> Self {
        let log = LogConfig::default();
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 9092)),
            advertised_listener: None,
            admin_listen: "127.0.0.1:9644".into(),
            admin_console_write_enabled: false,
            data_dir: PathBuf::from("weir-data"),
            node_id: 1,
            num_partitions: 1,
            default_replication_factor: 1,
            auto_create_topics: true,
            message_max_bytes: log.max_message_bytes,
            socket_request_max_bytes: 100 * 1024 * 1024,
            max_connections: 10_000,
            max_connections_per_ip: i32::MAX,
            connections_max_idle_ms: 600_000,
            queued_max_request_bytes: -1,
            queued_max_response_bytes: 1024 * 1024,
            queued_max_fetch_response_bytes: 64 * 1024 * 1024,
            log_segment_bytes: log.segment_bytes,
            log_roll_ms: log.segment_ms,
            log_retention_ms: log.retention_ms,
            log_retention_bytes: log.retention_bytes,
            log_retention_check_interval_ms: 300_000,
            log_cleaner_backoff_ms: 15_000,
            log_index_interval_bytes: log.index_interval_bytes,
            log_cleanup_policy: "delete".to_string(),
            log_flush_interval_messages: None,
            log_flush_interval_ms: None,
            acks_all_fsync: true,
            log_max_open_files: crate::log::file_cache::DEFAULT_MAX_OPEN_FILES,
            log_page_cache_window_bytes: crate::log::PAGE_CACHE_WINDOW_DEFAULT,
            log_segment_delete_delay_ms: 60_000,
            fetch_session_cache_slots: 1000,
            fetch_max_bytes: 55 * 1024 * 1024,
            producer_id_expiration_ms: 86_400_000,
            group_initial_rebalance_delay_ms: 3000,
            group_min_session_timeout_ms: 6000,
            group_max_session_timeout_ms: 1_800_000,
            group_consumer_session_timeout_ms: 45_000,
            group_consumer_heartbeat_interval_ms: 5_000,
            group_consumer_assignors: "uniform,range".to_string(),
            group_consumer_migration_policy: "bidirectional".to_string(),
            offsets_topic_num_partitions: 50,
            offsets_retention_minutes: 7 * 24 * 60,
            controller_listen: None,
            quorum_voters: None,
            process_roles: "broker,controller".to_string(),
            broker_rack: None,
            broker_heartbeat_interval_ms: 2000,
            num_replica_fetchers: 1,
            replica_fetch_max_bytes: 1_048_576,
            replica_fetch_response_max_bytes: 10_485_760,
            replica_fetch_wait_max_ms: 500,
            replica_lag_time_max_ms: 30_000,
            min_insync_replicas: 1,
            offsets_topic_replication_factor: 3,
            broker_session_timeout_ms: 9000,
            unclean_leader_election_enable: false,
            auto_leader_rebalance_enable: true,
            leader_imbalance_check_interval_seconds: 300,
            leader_imbalance_per_broker_percentage: 10,
            controller_election_timeout_ms: 1000,
            transaction_state_log_num_partitions: 50,
            transaction_max_timeout_ms: 900_000,
            transactional_id_expiration_ms: 604_800_000,
            transaction_coordinator_enable: true,
        }
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid TOML in {path}: {source}")]
    Toml {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("invalid setting: {0}")]
    Invalid(String),
}

impl Config {
    /// Reads a TOML file on top of the defaults.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let table: toml::Table = toml::from_str(&text).map_err(|source| ConfigError::Toml {
            path: path.to_path_buf(),
            source,
        })?;
        let mut flat = serde_json::Map::new();
        flatten("", &toml::Value::Table(table), &mut flat);
        Config::from_flat(flat)
    }

    /// Applies `key=value` overrides (Kafka names) on top of this config.
    pub fn with_overrides(self, overrides: &[(String, String)]) -> Result<Config, ConfigError> {
        if overrides.is_empty() {
            return Ok(self);
        }
        let mut flat = match serde_json::to_value(SerializableConfig(&self)) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => return Err(ConfigError::Invalid("cannot re-read config".into())),
        };
        for (key, value) in overrides {
            let parsed: toml::Value = format!("v = {value}")
                .parse::<toml::Table>()
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or_else(|| toml::Value::String(value.clone()));
            flat.insert(key.clone(), toml_to_json(&parsed));
        }
        Config::from_flat(flat)
    }

    fn from_flat(flat: serde_json::Map<String, serde_json::Value>) -> Result<Config, ConfigError> {
        let config: Config = serde_json::from_value(serde_json::Value::Object(flat))
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the settings against each other (also after command-line flags were applied).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.admin_addr()?;
        if self.num_partitions < 1 {
            return Err(ConfigError::Invalid("num.partitions must be >= 1".into()));
        }
        if self.offsets_topic_num_partitions < 1 {
            return Err(ConfigError::Invalid(
                "offsets.topic.num.partitions must be >= 1".into(),
            ));
        }
        if self.transaction_state_log_num_partitions < 1 {
            return Err(ConfigError::Invalid(
                "transaction.state.log.num.partitions must be >= 1".into(),
            ));
        }
        if self.transaction_max_timeout_ms < 1 || self.transactional_id_expiration_ms < 1 {
            return Err(ConfigError::Invalid(
                "transaction.max.timeout.ms and transactional.id.expiration.ms must be >= 1".into(),
            ));
        }
        if self.socket_request_max_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "socket.request.max.bytes must be >= 1024".into(),
            ));
        }
        if self.max_connections_per_ip < 1 {
            return Err(ConfigError::Invalid(
                "max.connections.per.ip must be >= 1".into(),
            ));
        }
        // Kafka's rule: a request the pool can never hold would wait forever.
        if self.queued_max_request_bytes > 0
            && self.queued_max_request_bytes < i64::from(self.socket_request_max_bytes)
        {
            return Err(ConfigError::Invalid(
                "queued.max.request.bytes must be -1 or at least socket.request.max.bytes".into(),
            ));
        }
        if self.queued_max_response_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "queued.max.response.bytes must be >= 1024".into(),
            ));
        }
        if self.log_max_open_files < 1 {
            return Err(ConfigError::Invalid(
                "log.max.open.files must be >= 1".into(),
            ));
        }
        if self.log_segment_delete_delay_ms < 0 {
            return Err(ConfigError::Invalid(
                "log.segment.delete.delay.ms must be >= 0".into(),
            ));
        }
        self.voters()?;
        let roles: Vec<&str> = self.process_roles.split(',').map(str::trim).collect();
        if !roles.contains(&"broker") {
            return Err(ConfigError::Invalid(format!(
                "process.roles {:?}: every node must be a broker (\"broker\" or \"broker,controller\"); \
                 controller-only nodes are not supported",
                self.process_roles
            )));
        }
        if self.min_insync_replicas < 1 || self.offsets_topic_replication_factor < 1 {
            return Err(ConfigError::Invalid(
                "min.insync.replicas and offsets.topic.replication.factor must be >= 1".into(),
            ));
        }
        if self.group_consumer_heartbeat_interval_ms < 1
            || self.group_consumer_session_timeout_ms <= self.group_consumer_heartbeat_interval_ms
        {
            return Err(ConfigError::Invalid(
                "group.consumer.session.timeout.ms must exceed group.consumer.heartbeat.interval.ms (>= 1)"
                    .into(),
            ));
        }
        if crate::group::consumer::assignor::parse_list(&self.group_consumer_assignors).is_none() {
            return Err(ConfigError::Invalid(format!(
                "group.consumer.assignors {:?}: a non-empty list of uniform, range",
                self.group_consumer_assignors
            )));
        }
        if crate::group::consumer::MigrationPolicy::parse(&self.group_consumer_migration_policy)
            .is_none()
        {
            return Err(ConfigError::Invalid(format!(
                "group.consumer.migration.policy {:?}: one of bidirectional, upgrade, downgrade, disabled",
                self.group_consumer_migration_policy
            )));
        }
        if self.leader_imbalance_check_interval_seconds < 1 {
            return Err(ConfigError::Invalid(
                "leader.imbalance.check.interval.seconds must be >= 1".into(),
            ));
        }
        if self.broker_session_timeout_ms <= self.broker_heartbeat_interval_ms {
            return Err(ConfigError::Invalid(
                "broker.session.timeout.ms must exceed broker.heartbeat.interval.ms".into(),
            ));
        }
        if parse_cleanup_policy(&self.log_cleanup_policy).is_none() {
            return Err(ConfigError::Invalid(format!(
                "log.cleanup.policy {:?}",
                self.log_cleanup_policy
            )));
        }
        Ok(())
    }

    /// `process.roles=broker`: this node follows the metadata quorum without voting.
    pub fn is_broker_only(&self) -> bool {
        !self
            .process_roles
            .split(',')
            .any(|r| r.trim() == "controller")
    }

    /// How this node joins the cluster; `host`/`port` are what clients are told.
    pub fn cluster_options(
        &self,
        host: String,
        port: i32,
    ) -> Result<crate::cluster::ClusterOptions, ConfigError> {
        use std::time::Duration;
        Ok(crate::cluster::ClusterOptions {
            node_id: self.node_id,
            quorum: crate::cluster::quorum::QuorumConfig {
                node_id: u64::try_from(self.node_id).unwrap_or(0),
                voters: self.voters()?,
                voter: !self.is_broker_only(),
                listen: self.controller_listen,
                election_timeout: Duration::from_millis(self.controller_election_timeout_ms),
                session_timeout: Duration::from_millis(self.broker_session_timeout_ms),
                leader_balance: crate::cluster::quorum::LeaderBalance {
                    enabled: self.auto_leader_rebalance_enable,
                    interval: Duration::from_secs(self.leader_imbalance_check_interval_seconds),
                    per_broker_percentage: self.leader_imbalance_per_broker_percentage,
                },
                log_defaults: self.default_log_config(),
                snapshot_every: crate::cluster::quorum::SNAPSHOT_EVERY,
            },
            host,
            port,
            rack: self.broker_rack.clone(),
            heartbeat_interval: Duration::from_millis(self.broker_heartbeat_interval_ms),
            replication: crate::cluster::replication::ReplicationConfig {
                fetchers: self.num_replica_fetchers.max(1),
                fetch_max_bytes: self.replica_fetch_max_bytes,
                fetch_response_max_bytes: self.replica_fetch_response_max_bytes,
                fetch_wait_max_ms: self.replica_fetch_wait_max_ms,
                lag_time_max_ms: self.replica_lag_time_max_ms,
                fsync: self.acks_all_fsync,
            },
        })
    }

    /// The quorum's voters by node id (`controller.quorum.voters`); without it, this node alone at its
    /// controller listener (or nowhere: a single node needs none).
    pub fn voters(&self) -> Result<std::collections::BTreeMap<u64, String>, ConfigError> {
        let own_id = u64::try_from(self.node_id)
            .map_err(|_| ConfigError::Invalid(format!("node.id {} must be >= 0", self.node_id)))?;
        let Some(list) = &self.quorum_voters else {
            let addr = self
                .controller_listen
                .map(|a| a.to_string())
                .unwrap_or_default();
            return Ok([(own_id, addr)].into_iter().collect());
        };
        let mut voters = std::collections::BTreeMap::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let bad = || {
                ConfigError::Invalid(format!(
                    "controller.quorum.voters entry {item:?}: expected id@host:port"
                ))
            };
            let (id, addr) = item.split_once('@').ok_or_else(bad)?;
            let id: u64 = id.trim().parse().map_err(|_| bad())?;
            let (_, port) = addr.rsplit_once(':').ok_or_else(bad)?;
            port.parse::<u16>().map_err(|_| bad())?;
            voters.insert(id, addr.trim().to_string());
        }
        if self.is_broker_only() {
            // A broker-only node follows the quorum as a Raft learner: the active controller pushes the
            // metadata log to its controller listener.
            if voters.contains_key(&own_id) {
                return Err(ConfigError::Invalid(format!(
                    "node.id {own_id} is among controller.quorum.voters but process.roles is \"broker\""
                )));
            }
            if self.controller_listen.is_none() {
                return Err(ConfigError::Invalid(
                    "a broker-only node needs controller.listeners (the quorum sends it the metadata log)"
                        .into(),
                ));
            }
            return Ok(voters);
        }
        if !voters.contains_key(&own_id) {
            return Err(ConfigError::Invalid(format!(
                "node.id {own_id} is not among controller.quorum.voters ({list})"
            )));
        }
        if voters.len() > 1 && self.controller_listen.is_none() {
            return Err(ConfigError::Invalid(
                "controller.listeners must be set when controller.quorum.voters names other nodes"
                    .into(),
            ));
        }
        Ok(voters)
    }

    /// The admin listener's address; `None` when disabled (empty `admin.listeners`).
    pub fn admin_addr(&self) -> Result<Option<SocketAddr>, ConfigError> {
        let v = self.admin_listen.trim();
        if v.is_empty() {
            return Ok(None);
        }
        let v = v.strip_prefix("http://").unwrap_or(v);
        v.parse().map(Some).map_err(|_| {
            ConfigError::Invalid(format!(
                "admin.listeners must be host:port or empty, got {:?}",
                self.admin_listen
            ))
        })
    }

    /// The `host:port` clients should connect to.
    pub fn advertised(&self) -> (String, i32) {
        if let Some(adv) = &self.advertised_listener {
            let adv = adv.strip_prefix("PLAINTEXT://").unwrap_or(adv);
            if let Some((host, port)) = adv.rsplit_once(':') {
                if let Ok(port) = port.parse::<i32>() {
                    return (host.to_string(), port);
                }
            }
        }
        (self.listen.ip().to_string(), i32::from(self.listen.port()))
    }

    /// Topic-level defaults derived from the broker's `log.*` settings.
    pub fn default_log_config(&self) -> LogConfig {
        let (delete, compact) =
            parse_cleanup_policy(&self.log_cleanup_policy).unwrap_or((true, false));
        LogConfig {
            segment_bytes: self.log_segment_bytes,
            segment_ms: self.log_roll_ms,
            index_interval_bytes: self.log_index_interval_bytes,
            retention_ms: self.log_retention_ms,
            retention_bytes: self.log_retention_bytes,
            cleanup_delete: delete,
            cleanup_compact: compact,
            max_message_bytes: self.message_max_bytes,
            flush_messages: self.log_flush_interval_messages.unwrap_or(i64::MAX),
            flush_ms: self.log_flush_interval_ms.unwrap_or(i64::MAX),
            min_insync_replicas: self.min_insync_replicas,
            unclean_leader_election_enable: self.unclean_leader_election_enable,
            ..LogConfig::default()
        }
    }

    /// Settings of the group coordinator.
    pub fn group_config(&self) -> crate::group::GroupConfig {
        crate::group::GroupConfig {
            offsets_topic_partitions: self.offsets_topic_num_partitions,
            group_min_session_timeout_ms: self.group_min_session_timeout_ms,
            group_max_session_timeout_ms: self.group_max_session_timeout_ms,
            group_initial_rebalance_delay_ms: self.group_initial_rebalance_delay_ms,
            consumer_session_timeout_ms: self.group_consumer_session_timeout_ms,
            consumer_heartbeat_interval_ms: self.group_consumer_heartbeat_interval_ms,
            consumer_assignors: crate::group::consumer::assignor::parse_list(
                &self.group_consumer_assignors,
            )
            .unwrap_or_else(|| vec!["uniform".into(), "range".into()]),
            consumer_migration_policy: crate::group::consumer::MigrationPolicy::parse(
                &self.group_consumer_migration_policy,
            )
            .unwrap_or(crate::group::consumer::MigrationPolicy::Bidirectional),
            offsets_retention_ms: self.offsets_retention_minutes.saturating_mul(60_000),
            ..crate::group::GroupConfig::default()
        }
    }

    /// Settings of the transaction coordinator.
    pub fn txn_config(&self) -> crate::txn::TxnConfig {
        crate::txn::TxnConfig {
            partitions: self.transaction_state_log_num_partitions,
            max_timeout_ms: self.transaction_max_timeout_ms,
            id_expiration_ms: self.transactional_id_expiration_ms,
            offsets_topic_partitions: self.offsets_topic_num_partitions,
            ..crate::txn::TxnConfig::default()
        }
    }

    /// Options for the log store.
    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            dir: self.data_dir.clone(),
            producer_id_expiration_ms: self.producer_id_expiration_ms,
            retention_check_interval_ms: self.log_retention_check_interval_ms,
            cleaner_backoff_ms: self.log_cleaner_backoff_ms,
            durable_acks_all: self.acks_all_fsync,
            max_open_files: self.log_max_open_files,
            page_cache_window_bytes: self.log_page_cache_window_bytes,
            segment_delete_delay_ms: self.log_segment_delete_delay_ms,
        }
    }
}

impl Config {
    /// Every broker setting as `(Kafka name, value, is_default)`, for DescribeConfigs.
    pub fn describe(&self) -> Vec<(String, String, bool)> {
        let flat = |c: &Config| match serde_json::to_value(SerializableConfig(c)) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        let defaults = flat(&Config::default());
        flat(self)
            .into_iter()
            .map(|(k, v)| {
                let is_default = defaults.get(&k) == Some(&v);
                let text = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, text, is_default)
            })
            .collect()
    }
}

/// `(delete, compact)` for a `cleanup.policy` value.
pub fn parse_cleanup_policy(value: &str) -> Option<(bool, bool)> {
    let mut delete = false;
    let mut compact = false;
    for part in value.split(',').map(str::trim) {
        match part {
            "delete" => delete = true,
            "compact" => compact = true,
            _ => return None,
        }
    }
    (delete || compact).then_some((delete, compact))
}

fn flatten(
    prefix: &str,
    value: &toml::Value,
    out: &mut serde_json::Map<String, serde_json::Value>,
) {
    match value {
        toml::Value::Table(table) => {
            for (k, v) in table {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), toml_to_json(other));
        }
    }
}

fn toml_to_json(value: &toml::Value) -> serde_json::Value {
    match value {
        toml::Value::String(s) => serde_json::Value::String(s.clone()),
        toml::Value::Integer(i) => serde_json::Value::from(*i),
        toml::Value::Float(f) => serde_json::Value::from(*f),
        toml::Value::Boolean(b) => serde_json::Value::Bool(*b),
        toml::Value::Datetime(d) => serde_json::Value::String(d.to_string()),
        toml::Value::Array(a) => serde_json::Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => serde_json::Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

/// Serialises a config back to its flat Kafka-named form so overrides can be merged through one path.
struct SerializableConfig<'a>(&'a Config);

impl serde::Serialize for SerializableConfig<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let c = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("listeners", &c.listen.to_string())?;
        if let Some(a) = &c.advertised_listener {
            m.serialize_entry("advertised.listeners", a)?;
        }
        m.serialize_entry("admin.listeners", &c.admin_listen)?;
        m.serialize_entry("log.dirs", &c.data_dir)?;
        m.serialize_entry("node.id", &c.node_id)?;
        m.serialize_entry("num.partitions", &c.num_partitions)?;
        m.serialize_entry("default.replication.factor", &c.default_replication_factor)?;
        m.serialize_entry("auto.create.topics.enable", &c.auto_create_topics)?;
        m.serialize_entry("message.max.bytes", &c.message_max_bytes)?;
        m.serialize_entry("socket.request.max.bytes", &c.socket_request_max_bytes)?;
        m.serialize_entry("max.connections", &c.max_connections)?;
        m.serialize_entry("max.connections.per.ip", &c.max_connections_per_ip)?;
        m.serialize_entry("connections.max.idle.ms", &c.connections_max_idle_ms)?;
        m.serialize_entry("queued.max.request.bytes", &c.queued_max_request_bytes)?;
        m.serialize_entry("queued.max.response.bytes", &c.queued_max_response_bytes)?;
        m.serialize_entry(
            "queued.max.fetch.response.bytes",
            &c.queued_max_fetch_response_bytes,
        )?;
        m.serialize_entry("log.segment.bytes", &c.log_segment_bytes)?;
        m.serialize_entry("log.roll.ms", &c.log_roll_ms)?;
        m.serialize_entry("log.retention.ms", &c.log_retention_ms)?;
        m.serialize_entry("log.retention.bytes", &c.log_retention_bytes)?;
        m.serialize_entry(
            "log.retention.check.interval.ms",
            &c.log_retention_check_interval_ms,
        )?;
        m.serialize_entry("log.cleaner.backoff.ms", &c.log_cleaner_backoff_ms)?;
        m.serialize_entry("log.index.interval.bytes", &c.log_index_interval_bytes)?;
        m.serialize_entry("log.cleanup.policy", &c.log_cleanup_policy)?;
        if let Some(v) = c.log_flush_interval_messages {
            m.serialize_entry("log.flush.interval.messages", &v)?;
        }
        if let Some(v) = c.log_flush_interval_ms {
            m.serialize_entry("log.flush.interval.ms", &v)?;
        }
        m.serialize_entry("acks.all.fsync", &c.acks_all_fsync)?;
        m.serialize_entry("log.max.open.files", &c.log_max_open_files)?;
        m.serialize_entry(
            "log.page.cache.window.bytes",
            &c.log_page_cache_window_bytes,
        )?;
        m.serialize_entry(
            "log.segment.delete.delay.ms",
            &c.log_segment_delete_delay_ms,
        )?;
        m.serialize_entry(
            "max.incremental.fetch.session.cache.slots",
            &c.fetch_session_cache_slots,
        )?;
        m.serialize_entry("fetch.max.bytes", &c.fetch_max_bytes)?;
        m.serialize_entry("producer.id.expiration.ms", &c.producer_id_expiration_ms)?;
        m.serialize_entry(
            "group.initial.rebalance.delay.ms",
            &c.group_initial_rebalance_delay_ms,
        )?;
        m.serialize_entry(
            "group.min.session.timeout.ms",
            &c.group_min_session_timeout_ms,
        )?;
        m.serialize_entry(
            "group.max.session.timeout.ms",
            &c.group_max_session_timeout_ms,
        )?;
        m.serialize_entry(
            "group.consumer.session.timeout.ms",
            &c.group_consumer_session_timeout_ms,
        )?;
        m.serialize_entry(
            "group.consumer.heartbeat.interval.ms",
            &c.group_consumer_heartbeat_interval_ms,
        )?;
        m.serialize_entry("group.consumer.assignors", &c.group_consumer_assignors)?;
        m.serialize_entry(
            "offsets.topic.num.partitions",
            &c.offsets_topic_num_partitions,
        )?;
        m.serialize_entry("offsets.retention.minutes", &c.offsets_retention_minutes)?;
        if let Some(a) = c.controller_listen {
            m.serialize_entry("controller.listeners", &a.to_string())?;
        }
        if let Some(v) = &c.quorum_voters {
            m.serialize_entry("controller.quorum.voters", v)?;
        }
        m.serialize_entry("process.roles", &c.process_roles)?;
        if let Some(r) = &c.broker_rack {
            m.serialize_entry("broker.rack", r)?;
        }
        m.serialize_entry(
            "broker.heartbeat.interval.ms",
            &c.broker_heartbeat_interval_ms,
        )?;
        m.serialize_entry("broker.session.timeout.ms", &c.broker_session_timeout_ms)?;
        m.serialize_entry(
            "unclean.leader.election.enable",
            &c.unclean_leader_election_enable,
        )?;
        m.serialize_entry(
            "auto.leader.rebalance.enable",
            &c.auto_leader_rebalance_enable,
        )?;
        m.serialize_entry(
            "leader.imbalance.check.interval.seconds",
            &c.leader_imbalance_check_interval_seconds,
        )?;
        m.serialize_entry(
            "leader.imbalance.per.broker.percentage",
            &c.leader_imbalance_per_broker_percentage,
        )?;
        m.serialize_entry("num.replica.fetchers", &c.num_replica_fetchers)?;
        m.serialize_entry("replica.fetch.max.bytes", &c.replica_fetch_max_bytes)?;
        m.serialize_entry(
            "replica.fetch.response.max.bytes",
            &c.replica_fetch_response_max_bytes,
        )?;
        m.serialize_entry("replica.fetch.wait.max.ms", &c.replica_fetch_wait_max_ms)?;
        m.serialize_entry("replica.lag.time.max.ms", &c.replica_lag_time_max_ms)?;
        m.serialize_entry("min.insync.replicas", &c.min_insync_replicas)?;
        m.serialize_entry(
            "offsets.topic.replication.factor",
            &c.offsets_topic_replication_factor,
        )?;
        m.serialize_entry(
            "controller.quorum.election.timeout.ms",
            &c.controller_election_timeout_ms,
        )?;
        m.serialize_entry(
            "transaction.state.log.num.partitions",
            &c.transaction_state_log_num_partitions,
        )?;
        m.serialize_entry("transaction.max.timeout.ms", &c.transaction_max_timeout_ms)?;
        m.serialize_entry(
            "transactional.id.expiration.ms",
            &c.transactional_id_expiration_ms,
        )?;
        m.serialize_entry(
            "transaction.coordinator.enable",
            &c.transaction_coordinator_enable,
        )?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_only_nodes_follow_the_voters_they_are_not_among() {
        let node = |id: i32, roles: &str, listen: bool| Config {
            node_id: id,
            process_roles: roles.into(),
            quorum_voters: Some("1@127.0.0.1:9093,2@127.0.0.1:9193".into()),
            controller_listen: listen.then(|| "127.0.0.1:9393".parse().unwrap()),
            ..Config::default()
        };
        let observer = node(4, "broker", true);
        assert!(observer.validate().is_ok() && observer.is_broker_only());
        assert!(
            !observer
                .cluster_options("h".into(), 1)
                .unwrap()
                .quorum
                .voter
        );
        // Among the voters, without a listener for the log, or not a broker at all: refused.
        assert!(node(1, "broker", true).validate().is_err());
        assert!(node(4, "broker", false).validate().is_err());
        assert!(node(1, "controller", true).validate().is_err());
        assert!(node(4, "broker,controller", true).validate().is_err());
        assert!(!node(1, "broker,controller", true).is_broker_only());
    }

    #[test]
    fn bare_and_quoted_kafka_names_both_parse() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("weir.toml");
        std::fs::write(
            &path,
            "num.partitions = 3\n\"log.retention.ms\" = 1000\nlisteners = \"127.0.0.1:9999\"\n",
        )
        .unwrap();
        let c = Config::from_file(&path).unwrap();
        assert_eq!(c.num_partitions, 3);
        assert_eq!(c.log_retention_ms, 1000);
        assert_eq!(c.listen.port(), 9999);
    }

    #[test]
    fn unknown_key_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("weir.toml");
        std::fs::write(&path, "num.partition = 3\n").unwrap();
        assert!(Config::from_file(&path).is_err());
    }

    #[test]
    fn overrides_apply_with_types() {
        let c = Config::default()
            .with_overrides(&[
                ("num.partitions".into(), "4".into()),
                ("auto.create.topics.enable".into(), "false".into()),
                ("log.cleanup.policy".into(), "compact".into()),
            ])
            .unwrap();
        assert_eq!(c.num_partitions, 4);
        assert!(!c.auto_create_topics);
        assert!(c.default_log_config().cleanup_compact);
    }

    #[test]
    fn overrides_keep_settings_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("weir.toml");
        std::fs::write(&path, "\"acks.all.fsync\" = false\n").unwrap();
        let c = Config::from_file(&path)
            .unwrap()
            .with_overrides(&[("num.partitions".into(), "2".into())])
            .unwrap();
        assert!(!c.acks_all_fsync);
        assert!(c
            .describe()
            .iter()
            .any(|(k, v, d)| k == "acks.all.fsync" && v == "false" && !d));
    }

    #[test]
    fn max_open_files_reaches_the_store_and_is_checked() {
        assert_eq!(Config::default().store_options().max_open_files, 4096);
        let c = Config::default()
            .with_overrides(&[("log.max.open.files".into(), "64".into())])
            .unwrap();
        assert_eq!(c.store_options().max_open_files, 64);
        assert!(Config::default()
            .with_overrides(&[("log.max.open.files".into(), "0".into())])
            .is_err());
    }

    #[test]
    fn admin_listener_parses_or_is_disabled() {
        let c = Config::default();
        assert_eq!(
            c.admin_addr().unwrap(),
            Some("127.0.0.1:9644".parse().unwrap())
        );
        let off = Config::default()
            .with_overrides(&[("admin.listeners".into(), "\"\"".into())])
            .unwrap();
        assert_eq!(off.admin_addr().unwrap(), None);
        let bad = Config::default().with_overrides(&[("admin.listeners".into(), "nowhere".into())]);
        assert!(bad.is_err());
    }
}
