//! DescribeLogDirs: the one log directory with each partition's size (what `kafka-log-dirs.sh`, AKHQ and
//! kafka-ui read), and from v4 the file system's total and usable bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::{DescribeLogDirsRequest, DescribeLogDirsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::{Call, Ctx, Handler, Reply};

/// The DescribeLogDirs handler: the versions it serves and its entry point (named once in `list.rs`).
/// kafka-protocol 0.18 (like Kafka 4, KIP-896) decodes only v1 and later.
pub struct DescribeLogDirs;

impl Handler for DescribeLogDirs {
    type Request = DescribeLogDirsRequest;
    const VERSIONS: (i16, i16) = (1, 4);

    async fn handle(
        ctx: &Arc<Ctx>,
        call: &Call<'_>,
        req: DescribeLogDirsRequest,
    ) -> Reply<DescribeLogDirsResponse> {
        Reply::Now(handle(ctx, call.version, req))
    }
}

/// Answers as Kafka's `ReplicaManager.describeLogDirs`: every partition in the directory when `topics` is
/// null, else the requested ones that exist (unknown ones are left out, not errors).
pub fn handle(ctx: &Ctx, version: i16, req: DescribeLogDirsRequest) -> DescribeLogDirsResponse {
    let wanted: Option<BTreeSet<(String, i32)>> = req.topics.map(|topics| {
        topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| (t.topic.to_string(), *p)))
            .collect()
    });
    // Sorted by topic, then partition, so answers are stable (Kafka's order is a hash map's).
    let mut by_topic: BTreeMap<String, Vec<DescribeLogDirsPartition>> = BTreeMap::new();
    let mut logs = ctx.cluster.store().partitions();
    logs.sort_by(|a, b| (a.topic(), a.partition()).cmp(&(b.topic(), b.partition())));
    for log in logs {
        let key = (log.topic().to_string(), log.partition());
        if wanted.as_ref().is_some_and(|w| !w.contains(&key)) {
            continue;
        }
        let size = i64::try_from(log.size_bytes()).unwrap_or(i64::MAX);
        // offset_lag is high watermark − log end for a current replica: always 0 on the leader.
        by_topic.entry(key.0).or_default().push(
            DescribeLogDirsPartition::default()
                .with_partition_index(key.1)
                .with_partition_size(size)
                .with_offset_lag(0)
                .with_is_future_key(false),
        );
    }
    let topics = by_topic
        .into_iter()
        .map(|(name, partitions)| {
            DescribeLogDirsTopic::default()
                .with_name(TopicName(StrBytes::from_string(name)))
                .with_partitions(partitions)
        })
        .collect();
    let dir = ctx.cluster.store().dir();
    let mut result = DescribeLogDirsResult::default()
        .with_log_dir(StrBytes::from_string(absolute(dir)))
        .with_topics(topics);
    if version >= 4 {
        // Kafka reads these from the directory's FileStore; -1 (the field's default) if that fails.
        if let Some((total, usable)) = space(dir) {
            result = result.with_total_bytes(total).with_usable_bytes(usable);
        }
    }
    DescribeLogDirsResponse::default().with_results(vec![result])
}

/// The directory as an absolute path, as Kafka names log dirs.
fn absolute(dir: &Path) -> String {
    std::path::absolute(dir)
        .unwrap_or_else(|_| dir.to_path_buf())
        .display()
        .to_string()
}

/// Total and usable bytes of the file system holding `dir` (Java's `FileStore.getTotalSpace` and
/// `getUsableSpace`: blocks and blocks available to unprivileged users, times the fragment size).
fn space(dir: &Path) -> Option<(i64, i64)> {
    let stat = rustix::fs::statvfs(dir)
        .map_err(|e| tracing::warn!(dir = %dir.display(), error = %e, "statvfs failed"))
        .ok()?;
    let bytes = |blocks: u64| i64::try_from(blocks.saturating_mul(stat.f_frsize)).ok();
    Some((bytes(stat.f_blocks)?, bytes(stat.f_bavail)?))
}
