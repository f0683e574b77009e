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
            "segment.bytes" => {
                c.segment_bytes = u64::try_from(int()?)
                    .ok()
                    .filter(|v| *v >= 14)
                    .ok_or_else(bad)?
            }
            "segment.ms" => {
                c.segment_ms = int().and_then(|v| if v >= 1 { Ok(v) } else { Err(bad()) })?
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
            "min.compaction.lag.ms" => c.min_compaction_lag_ms = int()?,
            "min.cleanable.dirty.ratio" => {
                c.min_cleanable_dirty_ratio = value
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|r| (0.0..=1.0).contains(r))
                    .ok_or_else(bad)?
            }
            "message.timestamp.type" => {
                c.log_append_time = match value.as_str() {
                    "CreateTime" => false,
                    "LogAppendTime" => true,
                    _ => return Err(bad()),
                }
            }
            k if KNOWN_TOPIC_CONFIGS.contains(&k) => {}
            _ => return Err(format!("Unknown topic config name: {key}")),
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

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
