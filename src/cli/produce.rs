//! `weir produce TOPIC`: one record per input line, batched per partition, keyed records placed as the
//! Java client's default partitioner places them.

use std::collections::HashMap;
use std::path::PathBuf;

use bytes::Bytes;
use clap::Args;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, BufReader};

use super::output::print_json;
use super::progress::Progress;
use super::{key_value, ConnArgs, Format};
use crate::client::murmur2::partition_for_key;
use crate::client::records::{build_batch, OutRecord};
use crate::client::{Client, ClientError};
use crate::log::batch::Compression;

/// A partition's batch is sent once it holds this many records …
const BATCH_RECORDS_MAX: usize = 1000;
/// … or this many payload bytes (well under the default `message.max.bytes`).
const BATCH_BYTES_MAX: usize = 512 * 1024;

/// `weir produce`.
#[derive(Debug, Args)]
pub struct ProduceArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// Topic to write to (created if the broker auto-creates topics).
    topic: String,
    /// Read lines from this file instead of stdin.
    #[arg(long, short = 'f')]
    file: Option<PathBuf>,
    /// Split each line at the first SEP into key and value (lines without it get a null key).
    #[arg(long, short = 'K', value_name = "SEP")]
    key_separator: Option<String>,
    /// Header added to every record, repeatable: --header source=cli.
    #[arg(long = "header", short = 'H', value_name = "KEY=VALUE", value_parser = key_value)]
    headers: Vec<(String, String)>,
    /// Write every record to this partition [default: by key hash, keyless records batch-sticky].
    #[arg(long, short = 'p')]
    partition: Option<i32>,
    /// Acknowledgements: 0, 1 or all.
    #[arg(long, default_value = "all", value_parser = ["0", "1", "all", "-1"])]
    acks: String,
    /// Compression codec of the batches.
    #[arg(long, short = 'z', default_value = "none", value_parser = ["none", "gzip", "snappy", "lz4", "zstd"])]
    compression: String,
}

/// Records waiting per partition.
struct Pending {
    /// The records.
    records: Vec<OutRecord>,
    /// Their payload bytes.
    bytes: usize,
}

pub(super) async fn run(a: ProduceArgs) -> Result<(), ClientError> {
    let codec = match a.compression.as_str() {
        "gzip" => Compression::Gzip,
        "snappy" => Compression::Snappy,
        "lz4" => Compression::Lz4,
        "zstd" => Compression::Zstd,
        _ => Compression::None,
    };
    let acks: i16 = match a.acks.as_str() {
        "0" => 0,
        "1" => 1,
        _ => -1,
    };
    let mut client = a.conn.connect().await?;
    let leaders = client.leaders_auto_create(&a.topic).await?;
    if let Some(p) = a.partition {
        if usize::try_from(p).map_or(true, |i| i >= leaders.len()) {
            return Err(ClientError::Config(format!(
                "{} has {} partitions; there is no partition {p}",
                a.topic,
                leaders.len()
            )));
        }
    }
    let input: Box<dyn AsyncBufRead + Unpin> = match &a.file {
        Some(f) => Box::new(BufReader::new(tokio::fs::File::open(f).await.map_err(
            |e| ClientError::Config(format!("cannot open {}: {e}", f.display())),
        )?)),
        None => Box::new(BufReader::new(tokio::io::stdin())),
    };
    let mut w = Writer {
        client: &mut client,
        topic: a.topic.clone(),
        leaders,
        acks,
        codec,
        pending: HashMap::new(),
        sticky: 0,
        progress: Progress::new("produced"),
        partitions_written: Default::default(),
    };
    let headers: Vec<(String, Bytes)> = a
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), Bytes::from(v.clone())))
        .collect();
    let mut lines = input.split(b'\n');
    while let Some(mut line) = lines
        .next_segment()
        .await
        .map_err(|e| ClientError::Config(format!("reading input: {e}")))?
    {
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let (key, value) = split_line(line, a.key_separator.as_deref());
        let partition = match (a.partition, &key) {
            (Some(p), _) => p,
            (None, Some(k)) => partition_for_key(k, w.leaders.len()) as i32,
            (None, None) => w.sticky,
        };
        w.push(
            partition,
            OutRecord {
                key,
                value: Some(value),
                headers: headers.clone(),
            },
        )
        .await?;
    }
    w.flush_all().await?;
    w.progress.finish();
    let summary = serde_json::json!({
        "topic": a.topic,
        "records": w.progress.records,
        "bytes": w.progress.bytes,
        "partitions": w.partitions_written.keys().collect::<Vec<_>>(),
    });
    if a.conn.output == Format::Json {
        print_json(&summary);
    } else {
        eprintln!(
            "produced {} records to {} ({} partition(s))",
            w.progress.records,
            a.topic,
            w.partitions_written.len()
        );
    }
    Ok(())
}

/// Splits a line at the first separator; without one (or without a separator option) the key is null.
fn split_line(line: Vec<u8>, sep: Option<&str>) -> (Option<Bytes>, Bytes) {
    let Some(sep) = sep.filter(|s| !s.is_empty()).map(str::as_bytes) else {
        return (None, Bytes::from(line));
    };
    match line.windows(sep.len()).position(|w| w == sep) {
        Some(i) => {
            let all = Bytes::from(line);
            (Some(all.slice(..i)), all.slice(i + sep.len()..))
        }
        None => (None, Bytes::from(line)),
    }
}

/// Batches records per partition and sends full batches.
struct Writer<'a> {
    client: &'a mut Client,
    topic: String,
    /// Leader per partition.
    leaders: Vec<i32>,
    acks: i16,
    codec: Compression,
    pending: HashMap<i32, Pending>,
    /// Partition for keyless records; moves on each time its batch is sent (the sticky partitioner).
    sticky: i32,
    progress: Progress,
    /// Partitions written, with the base offset of their last batch.
    partitions_written: std::collections::BTreeMap<i32, i64>,
}

impl Writer<'_> {
    async fn push(&mut self, partition: i32, r: OutRecord) -> Result<(), ClientError> {
        let size = r.key.as_ref().map_or(0, Bytes::len) + r.value.as_ref().map_or(0, Bytes::len);
        let p = self.pending.entry(partition).or_insert_with(|| Pending {
            records: Vec::new(),
            bytes: 0,
        });
        p.records.push(r);
        p.bytes += size;
        if p.records.len() >= BATCH_RECORDS_MAX || p.bytes >= BATCH_BYTES_MAX {
            self.flush(partition).await?;
        }
        Ok(())
    }

    async fn flush(&mut self, partition: i32) -> Result<(), ClientError> {
        let Some(p) = self.pending.remove(&partition) else {
            return Ok(());
        };
        if p.records.is_empty() {
            return Ok(());
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let batch = build_batch(&p.records, now, self.codec)?;
        let leader = usize::try_from(partition)
            .ok()
            .and_then(|i| self.leaders.get(i))
            .copied()
            .unwrap_or(-1);
        let base = self
            .client
            .produce(&self.topic, partition, leader, batch, self.acks)
            .await?;
        self.partitions_written.insert(partition, base);
        self.progress.add(p.records.len() as u64, p.bytes as u64);
        if partition == self.sticky && !self.leaders.is_empty() {
            self.sticky = (self.sticky + 1) % self.leaders.len() as i32;
        }
        Ok(())
    }

    async fn flush_all(&mut self) -> Result<(), ClientError> {
        let mut parts: Vec<i32> = self.pending.keys().copied().collect();
        parts.sort_unstable();
        for p in parts {
            self.flush(p).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_at_the_first_separator() {
        let (k, v) = split_line(b"a:b:c".to_vec(), Some(":"));
        assert_eq!(k.as_deref(), Some(&b"a"[..]));
        assert_eq!(&v[..], b"b:c");
        let (k, v) = split_line(b"plain".to_vec(), Some(":"));
        assert_eq!(k, None);
        assert_eq!(&v[..], b"plain");
        let (k, _) = split_line(b"a:b".to_vec(), None);
        assert_eq!(k, None);
    }
}
