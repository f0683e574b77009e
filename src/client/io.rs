//! Produce and fetch for the CLI: one batch per partition per request, fetches without sessions.

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{FetchRequest, ProduceRequest};

use super::{broker_id, topic, Client, ClientError};

/// How long a produce may wait for acknowledgement on the broker.
const PRODUCE_TIMEOUT_MS: i32 = 30_000;
/// Longest a fetch waits for data (Kafka's `fetch.max.wait.ms` default).
const FETCH_WAIT_MS: i32 = 500;
/// Bytes per partition per fetch (Kafka's `max.partition.fetch.bytes` default).
const PARTITION_FETCH_BYTES: i32 = 1024 * 1024;
/// Bytes per fetch (Kafka's `fetch.max.bytes` default).
const FETCH_BYTES: i32 = 50 * 1024 * 1024;

/// What a fetch returned for one partition.
#[derive(Debug)]
pub struct Fetched {
    /// Partition index.
    pub partition: i32,
    /// Kafka error code (0: none).
    pub error_code: i16,
    /// High watermark.
    pub high_watermark: i64,
    /// Record batches, as the broker sent them.
    pub records: Bytes,
}

impl Client {
    /// Sends one batch to a partition's leader; returns the batch's base offset (-1 with acks=0).
    pub async fn produce(
        &mut self,
        name: &str,
        partition: i32,
        leader: i32,
        batch: Bytes,
        acks: i16,
    ) -> Result<i64, ClientError> {
        let req = ProduceRequest::default()
            .with_acks(acks)
            .with_timeout_ms(PRODUCE_TIMEOUT_MS)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(topic(name))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(partition)
                    .with_records(Some(batch))])]);
        let conn = self.broker(leader).await?;
        if acks == 0 {
            conn.send_no_response(&req).await?;
            return Ok(-1);
        }
        let resp = conn.send(&req).await?;
        let mut base = -1;
        for t in &resp.responses {
            for p in &t.partition_responses {
                ClientError::check(p.error_code, p.error_message.as_deref())
                    .map_err(|e| e.context(format!("producing to {name}-{}", p.index)))?;
                base = p.base_offset;
            }
        }
        Ok(base)
    }

    /// One fetch of `(partition, offset)` pairs of a topic from their leader `leader`.
    pub async fn fetch(
        &mut self,
        name: &str,
        leader: i32,
        wanted: &[(i32, i64)],
    ) -> Result<Vec<Fetched>, ClientError> {
        let req = FetchRequest::default()
            .with_replica_id(broker_id(-1))
            .with_max_wait_ms(FETCH_WAIT_MS)
            .with_min_bytes(1)
            .with_max_bytes(FETCH_BYTES)
            .with_session_epoch(-1)
            .with_topics(vec![FetchTopic::default()
                .with_topic(topic(name))
                .with_partitions(
                    wanted
                        .iter()
                        .map(|(p, o)| {
                            FetchPartition::default()
                                .with_partition(*p)
                                .with_fetch_offset(*o)
                                .with_current_leader_epoch(-1)
                                .with_log_start_offset(-1)
                                .with_partition_max_bytes(PARTITION_FETCH_BYTES)
                        })
                        .collect(),
                )]);
        let resp = self.broker(leader).await?.send(&req).await?;
        ClientError::check(resp.error_code, None)?;
        let mut out = Vec::new();
        for t in resp.responses {
            for p in t.partitions {
                out.push(Fetched {
                    partition: p.partition_index,
                    error_code: p.error_code,
                    high_watermark: p.high_watermark,
                    records: p.records.unwrap_or_default(),
                });
            }
        }
        Ok(out)
    }
}
