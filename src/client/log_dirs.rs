//! DescribeLogDirs as plain values: each broker's log directories with their partitions' sizes (what
//! `kafka-log-dirs.sh` shows), for the console's disk figures.

use kafka_protocol::messages::DescribeLogDirsRequest;

use super::{Client, ClientError};

/// One log directory of one broker.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LogDir {
    /// The broker's node id.
    pub broker: i32,
    /// The directory's path on the broker.
    pub path: String,
    /// Kafka's error for the directory (0: online; KAFKA_STORAGE_ERROR: offline).
    pub error_code: i16,
    /// Size of each partition replica in it: (topic, partition, bytes).
    pub partitions: Vec<(String, i32, u64)>,
    /// The file system's total and usable bytes (DescribeLogDirs v4+, when the broker reports them).
    pub space: Option<(u64, u64)>,
}

impl LogDir {
    /// Bytes of all partition replicas in the directory.
    pub fn used_bytes(&self) -> u64 {
        self.partitions.iter().map(|p| p.2).sum()
    }
}

impl Client {
    /// Every log directory of every broker metadata lists (each broker answers for its own).
    pub async fn log_dirs(&mut self) -> Result<Vec<LogDir>, ClientError> {
        self.metadata(Some(&[])).await?;
        let mut out = Vec::new();
        for b in self.broker_addrs() {
            // `topics` null: every partition.
            let req = DescribeLogDirsRequest::default().with_topics(None);
            let resp = self.broker(b.id).await?.send(&req).await?;
            ClientError::check(resp.error_code, None)
                .map_err(|e| e.context(format!("describing log dirs of broker {}", b.id)))?;
            for r in resp.results {
                let partitions = r
                    .topics
                    .iter()
                    .flat_map(|t| {
                        t.partitions.iter().map(|p| {
                            let size = u64::try_from(p.partition_size).unwrap_or(0);
                            (t.name.to_string(), p.partition_index, size)
                        })
                    })
                    .collect();
                let space = u64::try_from(r.total_bytes)
                    .ok()
                    .zip(u64::try_from(r.usable_bytes).ok());
                out.push(LogDir {
                    broker: b.id,
                    path: r.log_dir.to_string(),
                    error_code: r.error_code,
                    partitions,
                    space,
                });
            }
        }
        Ok(out)
    }
}
