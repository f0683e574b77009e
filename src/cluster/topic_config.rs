//! Topic-level configs (Kafka names) layered over the broker's defaults into a `LogConfig`.

use std::collections::BTreeMap;

use crate::config::parse_cleanup_policy;
use crate::log::LogConfig;

/// Topic configs Weir accepts; the ones without an effect yet are stored and described as given.
pub const KNOWN_TOPIC_CONFIGS: &[&str] = &[
    "cleanup.policy",
    "compression.type",
    "delete.retention.ms",
    "file.delete.delay.ms",
    "flush.messages",
    "flush.ms",
    "index.interval.bytes",
    "max.compaction.lag.ms",
    "max.message.bytes",
    "message.downconversion.enable",
    "message.timestamp.after.max.ms",
    "message.timestamp.before.max.ms",
    "message.timestamp.difference.max.ms",
    "message.timestamp.type",
    "min.cleanable.dirty.ratio",
    "min.compaction.lag.ms",
    "min.insync.replicas",
    "preallocate",
    "retention.bytes",
    "retention.ms",
    "segment.bytes",
    "segment.index.bytes",
    "segment.jitter.ms",
    "segment.ms",
    "unclean.leader.election.enable",
];

/// Builds the effective log settings of a topic; the error names the offending config.
pub fn log_config(
    defaults: &LogConfig,
    configs: &BTreeMap<String, String>,
) -> Result<LogConfig, String> {
    let mut c = defaults.clone();
    for (key, value) in configs {
        let bad = || format!("Invalid value {value} for configuration {key}");
        let int = || value.trim().parse::<i64>().map_err(|_| bad());
        match key.as_str() {
            "cleanup.policy" => {
                let (d, k) = parse_cleanup_policy(value).ok_or_else(bad)?;
                c.cleanup_delete = d;
                c.cleanup_compact = k;
            }
            "retention.ms" => c.retention_ms = int()?,
            "retention.bytes" => c.retention_bytes = int()?,
            "min.insync.replicas" => {
                c.min_insync_replicas = int()
                    .ok()
                    .and_then(|v| i32::try_from(v).ok())
                    .filter(|v| *v >= 1)
                    .ok_or_else(bad)?
            }
            "segment.bytes" => {
                c.segment_bytes = u64::try_from(int()?)
                    .ok()
                    .filter(|v| *v >= 14)
                    .ok_or_else(bad)?
            }
            "segment.ms" => {
                c.segment_ms = int().and_then(|v| if v >= 1 { Ok(v) } else { Err(bad()) })?
            }
            "segment.jitter.ms" => {
                c.segment_jitter_ms = int().and_then(|v| if v >= 0 { Ok(v) } else { Err(bad()) })?
            }
            "segment.index.bytes" => {
                c.segment_index_bytes = u32::try_from(int()?).map_err(|_| bad())?
            }
            "index.interval.bytes" => {
                c.index_interval_bytes = u32::try_from(int()?).map_err(|_| bad())?
            }
            "max.message.bytes" => {
                c.max_message_bytes = u32::try_from(int()?).map_err(|_| bad())?
            }
            "flush.messages" => c.flush_messages = int()?,
            "flush.ms" => c.flush_ms = int()?,
            "delete.retention.ms" => c.delete_retention_ms = int()?,
            "min.compaction.lag.ms" => {
                c.min_compaction_lag_ms =
                    int().and_then(|v| if v >= 0 { Ok(v) } else { Err(bad()) })?
            }
            "max.compaction.lag.ms" => {
                c.max_compaction_lag_ms =
                    int().and_then(|v| if v >= 1 { Ok(v) } else { Err(bad()) })?
            }
            "min.cleanable.dirty.ratio" => {
                c.min_cleanable_dirty_ratio = value
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|r| (0.0..=1.0).contains(r))
                    .ok_or_else(bad)?
            }
            "message.timestamp.before.max.ms" => c.timestamp_before_max_ms = non_negative(int()?)?,
            "message.timestamp.after.max.ms" => c.timestamp_after_max_ms = non_negative(int()?)?,
            "message.timestamp.type" => {
                c.log_append_time = match value.as_str() {
                    "CreateTime" => false,
                    "LogAppendTime" => true,
                    _ => return Err(bad()),
                }
            }
            "unclean.leader.election.enable" => {
                c.unclean_leader_election_enable = match value.trim() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(bad()),
                }
            }
            k if KNOWN_TOPIC_CONFIGS.contains(&k) => {}
            _ => return Err(format!("Unknown topic config name: {key}")),
        }
    }
    // Kafka's `LogConfig`: the deprecated `message.timestamp.difference.max.ms` stands in for whichever
    // of before/after is left at its default.
    if let Some(v) = configs.get("message.timestamp.difference.max.ms") {
        let bad =
            || format!("Invalid value {v} for configuration message.timestamp.difference.max.ms");
        let d = non_negative(v.trim().parse::<i64>().map_err(|_| bad())?)?;
        if c.timestamp_before_max_ms == i64::MAX {
            c.timestamp_before_max_ms = d;
        }
        if c.timestamp_after_max_ms == i64::MAX {
            c.timestamp_after_max_ms = d;
        }
    }
    // Kafka's `LogConfig.validateValues`.
    if c.min_compaction_lag_ms > c.max_compaction_lag_ms {
        return Err(format!(
            "conflict topic config setting min.compaction.lag.ms ({}) > max.compaction.lag.ms ({})",
            c.min_compaction_lag_ms, c.max_compaction_lag_ms
        ));
    }
    Ok(c)
}

/// Kafka's `atLeast(0)` validator for the timestamp bounds.
fn non_negative(v: i64) -> Result<i64, String> {
    if v >= 0 {
        Ok(v)
    } else {
        Err(format!("Invalid value {v}: must be at least 0"))
    }
}

/// Where a described config value comes from (Kafka's `ConfigSource` ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    /// Set on the topic (DYNAMIC_TOPIC_CONFIG).
    Topic = 1,
    /// Set in the broker's configuration (STATIC_BROKER_CONFIG).
    Broker = 4,
    /// Kafka's default (DEFAULT_CONFIG).
    Default = 5,
}

/// Kafka's config value types (`ConfigType` ids in DescribeConfigs v3+).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    Boolean = 1,
    String = 2,
    Int = 3,
    Long = 5,
    Double = 6,
    List = 7,
}

/// One described topic config.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigEntry {
    /// Kafka name.
    pub name: &'static str,
    /// Effective value.
    pub value: String,
    /// The broker-level value it would fall back to, and whether that is Kafka's default.
    pub broker_value: (String, ConfigSource),
    /// Where the value comes from.
    pub source: ConfigSource,
    /// Value type.
    pub config_type: ConfigType,
}

/// The broker setting a topic config falls back to (Kafka's `ServerTopicConfigSynonyms`).
pub fn broker_synonym(topic_config: &str) -> &'static str {
    match topic_config {
        "cleanup.policy" => "log.cleanup.policy",
        "delete.retention.ms" => "log.cleaner.delete.retention.ms",
        "file.delete.delay.ms" => "log.segment.delete.delay.ms",
        "flush.messages" => "log.flush.interval.messages",
        "flush.ms" => "log.flush.interval.ms",
        "index.interval.bytes" => "log.index.interval.bytes",
        "max.compaction.lag.ms" => "log.cleaner.max.compaction.lag.ms",
        "max.message.bytes" => "message.max.bytes",
        "message.downconversion.enable" => "log.message.downconversion.enable",
        "message.timestamp.after.max.ms" => "log.message.timestamp.after.max.ms",
        "message.timestamp.before.max.ms" => "log.message.timestamp.before.max.ms",
        "message.timestamp.difference.max.ms" => "log.message.timestamp.difference.max.ms",
        "message.timestamp.type" => "log.message.timestamp.type",
        "min.cleanable.dirty.ratio" => "log.cleaner.min.cleanable.ratio",
        "min.compaction.lag.ms" => "log.cleaner.min.compaction.lag.ms",
        "preallocate" => "log.preallocate",
        "retention.bytes" => "log.retention.bytes",
        "retention.ms" => "log.retention.ms",
        "segment.bytes" => "log.segment.bytes",
        "segment.index.bytes" => "log.index.size.max.bytes",
        "segment.jitter.ms" => "log.roll.jitter.ms",
        "segment.ms" => "log.roll.ms",
        "compression.type" => "compression.type",
        "min.insync.replicas" => "min.insync.replicas",
        "unclean.leader.election.enable" => "unclean.leader.election.enable",
        _ => "",
    }
}

/// Computes a config's value from a `LogConfig`.
type ValueOf = Box<dyn Fn(&LogConfig) -> std::string::String>;

/// Every topic config with its effective value: topic overrides first, then broker settings, then defaults.
pub fn describe(broker: &LogConfig, overrides: &BTreeMap<String, String>) -> Vec<ConfigEntry> {
    let kafka = LogConfig::default();
    let policy = |c: &LogConfig| match (c.cleanup_delete, c.cleanup_compact) {
        (true, true) => "compact,delete".to_string(),
        (false, true) => "compact".to_string(),
        _ => "delete".to_string(),
    };
    let ts_type = |c: &LogConfig| {
        if c.log_append_time {
            "LogAppendTime"
        } else {
            "CreateTime"
        }
        .to_string()
    };
    let long_max = i64::MAX.to_string();
    let fixed = |v: &str| -> ValueOf {
        let v = v.to_string();
        Box::new(move |_| v.clone())
    };
    use ConfigType::*;
    let table: Vec<(&'static str, ConfigType, ValueOf)> = vec![
        ("cleanup.policy", List, Box::new(policy)),
        ("compression.type", String, fixed("producer")),
        (
            "delete.retention.ms",
            Long,
            Box::new(|c| c.delete_retention_ms.to_string()),
        ),
        ("file.delete.delay.ms", Long, fixed("60000")),
        (
            "flush.messages",
            Long,
            Box::new(|c| c.flush_messages.to_string()),
        ),
        ("flush.ms", Long, Box::new(|c| c.flush_ms.to_string())),
        (
            "index.interval.bytes",
            Int,
            Box::new(|c| c.index_interval_bytes.to_string()),
        ),
        (
            "max.compaction.lag.ms",
            Long,
            Box::new(|c| c.max_compaction_lag_ms.to_string()),
        ),
        (
            "max.message.bytes",
            Int,
            Box::new(|c| c.max_message_bytes.to_string()),
        ),
        ("message.downconversion.enable", Boolean, fixed("true")),
        (
            "message.timestamp.after.max.ms",
            Long,
            Box::new(|c| c.timestamp_after_max_ms.to_string()),
        ),
        (
            "message.timestamp.before.max.ms",
            Long,
            Box::new(|c| c.timestamp_before_max_ms.to_string()),
        ),
        (
            "message.timestamp.difference.max.ms",
            Long,
            fixed(&long_max),
        ),
        ("message.timestamp.type", String, Box::new(ts_type)),
        (
            "min.cleanable.dirty.ratio",
            Double,
            Box::new(|c| c.min_cleanable_dirty_ratio.to_string()),
        ),
        (
            "min.compaction.lag.ms",
            Long,
            Box::new(|c| c.min_compaction_lag_ms.to_string()),
        ),
        (
            "min.insync.replicas",
            Int,
            Box::new(|c| c.min_insync_replicas.to_string()),
        ),
        ("preallocate", Boolean, fixed("false")),
        (
            "retention.bytes",
            Long,
            Box::new(|c| c.retention_bytes.to_string()),
        ),
        (
            "retention.ms",
            Long,
            Box::new(|c| c.retention_ms.to_string()),
        ),
        (
            "segment.bytes",
            Int,
            Box::new(|c| c.segment_bytes.to_string()),
        ),
        (
            "segment.index.bytes",
            Int,
            Box::new(|c| c.segment_index_bytes.to_string()),
        ),
        (
            "segment.jitter.ms",
            Long,
            Box::new(|c| c.segment_jitter_ms.to_string()),
        ),
        ("segment.ms", Long, Box::new(|c| c.segment_ms.to_string())),
        (
            "unclean.leader.election.enable",
            Boolean,
            Box::new(|c| c.unclean_leader_election_enable.to_string()),
        ),
    ];
    table
        .into_iter()
        .map(|(name, config_type, value_of)| {
            let value = value_of(broker);
            let source = if value == value_of(&kafka) {
                ConfigSource::Default
            } else {
                ConfigSource::Broker
            };
            let broker_value = (value.clone(), source);
            match overrides.get(name) {
                Some(v) => ConfigEntry {
                    name,
                    value: v.clone(),
                    source: ConfigSource::Topic,
                    config_type,
                    broker_value,
                },
                None => ConfigEntry {
                    name,
                    value,
                    source,
                    config_type,
                    broker_value,
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compaction_lags_are_validated_as_kafka_does() {
        let set = |pairs: &[(&str, &str)]| {
            let m: BTreeMap<String, String> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            log_config(&LogConfig::default(), &m)
        };
        let c = set(&[
            ("max.compaction.lag.ms", "100"),
            ("cleanup.policy", "compact"),
        ])
        .unwrap();
        assert_eq!((c.max_compaction_lag_ms, c.max_segment_ms()), (100, 100));
        assert_eq!(
            set(&[("max.compaction.lag.ms", "100"), ("min.compaction.lag.ms", "200")]),
            Err("conflict topic config setting min.compaction.lag.ms (200) > max.compaction.lag.ms (100)".into())
        );
        assert!(set(&[("max.compaction.lag.ms", "0")]).is_err());
        assert!(set(&[("min.compaction.lag.ms", "-1")]).is_err());
        // Not compacted: segment.ms alone decides the roll.
        let c = set(&[("max.compaction.lag.ms", "100")]).unwrap();
        assert_eq!(c.max_segment_ms(), LogConfig::default().segment_ms);
    }

    #[test]
    fn overrides_and_rejects() {
        let mut m = BTreeMap::new();
        m.insert("retention.ms".to_string(), "1000".to_string());
        m.insert("cleanup.policy".to_string(), "compact,delete".to_string());
        let c = log_config(&LogConfig::default(), &m).unwrap();
        assert_eq!(c.retention_ms, 1000);
        assert!(c.cleanup_compact && c.cleanup_delete);
        m.insert("retention.ms".to_string(), "soon".to_string());
        assert!(log_config(&LogConfig::default(), &m).is_err());
        let mut u = BTreeMap::new();
        u.insert("no.such".to_string(), "1".to_string());
        assert!(log_config(&LogConfig::default(), &u)
            .unwrap_err()
            .contains("Unknown"));
    }
}
