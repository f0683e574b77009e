//! Data-plane behaviour against Kafka's: Produce (acks, validation errors, offsets), Fetch (whole batches,
//! byte identity, out of range, long-poll, incremental sessions), ListOffsets (special timestamps).

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, BrokerId, FetchRequest, FetchResponse, ListOffsetsRequest, MetadataRequest,
    ProduceRequest,
};
use kafka_protocol::ResponseError;
use uuid::Uuid;
use weir_protocol_tests::*;

const LIMIT: Duration = Duration::from_secs(20);

fn fetch(topic: &str, partitions: &[(i32, i64)], max_wait_ms: i32) -> FetchRequest {
    FetchRequest::default()
        .with_max_wait_ms(max_wait_ms)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_topics(vec![FetchTopic::default()
            .with_topic(topic_name(topic))
            .with_partitions(
                partitions
                    .iter()
                    .map(|(p, o)| {
                        FetchPartition::default()
                            .with_partition(*p)
                            .with_fetch_offset(*o)
                            .with_partition_max_bytes(1 << 20)
                    })
                    .collect(),
            )])
}

/// Fetch v12 (by name) of one partition; returns its partition data.
async fn fetch_one(
    c: &mut Client,
    topic: &str,
    partition: i32,
    offset: i64,
) -> kafka_protocol::messages::fetch_response::PartitionData {
    let mut resp: FetchResponse = c.call(12, &fetch(topic, &[(partition, offset)], 0)).await;
    assert_eq!(resp.error_code, 0);
    assert_eq!(resp.responses.len(), 1);
    resp.responses[0].partitions.remove(0)
}

#[tokio::test]
async fn produce_acks_zero_sends_no_response() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        c.create_topic("acks0", 1).await;
        let produce_corr = c
            .send(9, &produce_request("acks0", 0, value_batch("z", 2, 1), 0))
            .await;
        let md_corr = c
            .send(12, &MetadataRequest::default().with_topics(Some(vec![])))
            .await;
        let frame = c.recv_frame().await.expect("a response");
        let (header, _md) = decode_response::<kafka_protocol::messages::MetadataResponse>(
            ApiKey::Metadata,
            12,
            frame,
        );
        assert_ne!(header.correlation_id, produce_corr, "no response to acks=0");
        assert_eq!(header.correlation_id, md_corr);
        // The acks=0 write happened.
        let p = fetch_one(&mut c, "acks0", 0, 0).await;
        assert_eq!(p.high_watermark, 2);
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn produce_acks_one_and_all_give_contiguous_offsets() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        c.create_topic("acks", 1).await;
        let mut next = 0;
        for (i, acks) in [1i16, -1, 1, -1].into_iter().enumerate() {
            let n = i + 1;
            let resp = c
                .call(
                    11,
                    &produce_request("acks", 0, value_batch("a", n, 1000), acks),
                )
                .await;
            let p = &resp.responses[0].partition_responses[0];
            assert_eq!(p.error_code, 0, "acks {acks}");
            assert_eq!(p.base_offset, next, "acks {acks}: base offset");
            assert_eq!(p.log_start_offset, 0);
            next += n as i64;
        }
        assert_eq!(fetch_one(&mut c, "acks", 0, 0).await.high_watermark, next);
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn produce_invalid_required_acks() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        c.create_topic("acks2", 1).await;
        for acks in [2i16, -2] {
            let resp = c
                .call(
                    9,
                    &produce_request("acks2", 0, value_batch("a", 1, 1), acks),
                )
                .await;
            let p = &resp.responses[0].partition_responses[0];
            assert_eq!(p.error_code, ResponseError::InvalidRequiredAcks.code());
            assert_eq!(p.base_offset, -1);
            assert_eq!(p.log_start_offset, -1);
        }
        assert_eq!(
            fetch_one(&mut c, "acks2", 0, 0).await.high_watermark,
            0,
            "nothing appended"
        );
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn produce_corrupt_crc_is_rejected() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        c.create_topic("crc", 1).await;
        let mut batch = BytesMut::from(&value_batch("c", 3, 1)[..]);
        let last = batch.len() - 1;
        batch[last] ^= 0xff; // a record byte, covered by the CRC
        let p = c.produce("crc", 0, batch.freeze()).await;
        assert_eq!(p.error_code, ResponseError::CorruptMessage.code());
        assert_eq!(p.base_offset, -1);
        let mut batch = BytesMut::from(&value_batch("c", 3, 1)[..]);
        batch[batch_layout::CRC] ^= 0x01; // the CRC itself
        let p = c.produce("crc", 0, batch.freeze()).await;
        assert_eq!(p.error_code, ResponseError::CorruptMessage.code());
        assert_eq!(
            fetch_one(&mut c, "crc", 0, 0).await.high_watermark,
            0,
            "nothing appended"
        );
        broker.shutdown().await;
    })
    .await;
}

/// Kafka (`ProduceRequest.validateRecords`): v3+ requests must carry exactly one record batch per partition;
/// anything else fails that partition with INVALID_RECORD.
#[tokio::test]
async fn produce_two_batches_in_one_partition_is_invalid_record() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        c.create_topic("two", 1).await;
        let mut both = BytesMut::from(&value_batch("a", 2, 1)[..]);
        both.extend_from_slice(&value_batch("b", 2, 1));
        let p = c.produce("two", 0, both.freeze()).await;
        assert_eq!(p.error_code, ResponseError::InvalidRecord.code());
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn produce_message_too_large() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        c.create_topic_with_configs("big", 1, &[("max.message.bytes", "1000")])
            .await;
        let value = vec![7u8; 2000];
        let batch = encode_batch(&[record(0, 1, None, Some(&value))]);
        let p = c.produce("big", 0, batch).await;
        assert_eq!(p.error_code, ResponseError::MessageTooLarge.code());
        assert_eq!(p.base_offset, -1);
        let p = c.produce("big", 0, value_batch("small", 1, 1)).await;
        assert_eq!((p.error_code, p.base_offset), (0, 0));
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn produce_unknown_topic_partition_and_id() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        let id = c.create_topic("known", 1).await;
        let p = c.produce("unknown", 0, value_batch("u", 1, 1)).await;
        assert_eq!(p.error_code, ResponseError::UnknownTopicOrPartition.code());
        let p = c.produce("known", 5, value_batch("u", 1, 1)).await;
        assert_eq!(p.error_code, ResponseError::UnknownTopicOrPartition.code());
        // v13 addresses topics by id.
        for (topic_id, want) in [
            (id, 0),
            (Uuid::from_u128(42), ResponseError::UnknownTopicId.code()),
        ] {
            let req = ProduceRequest::default()
                .with_acks(-1)
                .with_timeout_ms(10_000)
                .with_topic_data(vec![TopicProduceData::default()
                    .with_topic_id(topic_id)
                    .with_partition_data(vec![PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(value_batch("id", 2, 1)))])]);
            let resp = c.call(13, &req).await;
            assert_eq!(resp.responses[0].topic_id, topic_id);
            let p = &resp.responses[0].partition_responses[0];
            assert_eq!(p.error_code, want, "topic id {topic_id}");
        }
        assert_eq!(fetch_one(&mut c, "known", 0, 0).await.high_watermark, 2);
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn fetch_returns_whole_batches_byte_identical() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        c.create_topic("whole", 1).await;
        let sent: Vec<Bytes> = (0..3)
            .map(|i| value_batch(&format!("b{i}"), 3, 1000 * i))
            .collect();
        for (i, b) in sent.iter().enumerate() {
            let p = c.produce("whole", 0, b.clone()).await;
            assert_eq!(p.base_offset, 3 * i as i64);
        }
        // Offset 4 lies inside the second batch (3..=5): the fetch starts with that whole batch.
        let p = fetch_one(&mut c, "whole", 0, 4).await;
        assert_eq!(p.error_code, 0);
        assert_eq!(
            (p.high_watermark, p.last_stable_offset, p.log_start_offset),
            (9, 9, 0)
        );
        let records = p.records.expect("records");
        let batches = split_batches(&records);
        assert_eq!(batches.len(), 2);
        for (i, (fetched, produced)) in batches.iter().zip(&sent[1..]).enumerate() {
            assert_eq!(batch_base_offset(fetched), 3 * (i as i64 + 1));
            assert!(same_batch_except_stamped(produced, fetched), "batch {i}");
        }
        let first = &decode_batches(&records)[0].records;
        assert_eq!(
            first[0].offset, 3,
            "clients skip the records before 4 themselves"
        );
        // At the high watermark: no error, no records.
        let p = fetch_one(&mut c, "whole", 0, 9).await;
        assert_eq!(p.error_code, 0);
        assert!(p.records.unwrap_or_default().is_empty());
        // Above it: OFFSET_OUT_OF_RANGE with the offsets to recover from.
        let p = fetch_one(&mut c, "whole", 0, 10).await;
        assert_eq!(p.error_code, ResponseError::OffsetOutOfRange.code());
        assert_eq!((p.high_watermark, p.log_start_offset), (9, 0));
        assert!(p.records.unwrap_or_default().is_empty());
        let p = fetch_one(&mut c, "whole", 0, -5).await;
        assert_eq!(p.error_code, ResponseError::OffsetOutOfRange.code());
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn fetch_unknown_topic_and_topic_id() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        let p = fetch_one(&mut c, "nope", 0, 0).await;
        assert_eq!(p.error_code, ResponseError::UnknownTopicOrPartition.code());
        let req = FetchRequest::default()
            .with_max_bytes(1 << 20)
            .with_topics(vec![FetchTopic::default()
                .with_topic_id(Uuid::from_u128(7))
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(0)
                    .with_partition_max_bytes(1024)])]);
        let resp = c.call(13, &req).await;
        assert_eq!(resp.responses[0].topic_id, Uuid::from_u128(7));
        assert_eq!(
            resp.responses[0].partitions[0].error_code,
            ResponseError::UnknownTopicId.code()
        );
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn fetch_long_poll_wakes_on_produce_from_another_connection() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        let mut setup = broker.client().await;
        setup.create_topic("poll", 1).await;
        let mut consumer = broker.client().await;
        let sent_at = Instant::now();
        let corr = consumer.send(12, &fetch("poll", &[(0, 0)], 5000)).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut producer = broker.client().await;
        let produced_at = Instant::now();
        assert_eq!(
            producer
                .produce("poll", 0, value_batch("w", 1, 1))
                .await
                .error_code,
            0
        );
        let resp: FetchResponse = consumer.recv::<FetchRequest>(12, corr).await;
        let since_produce = produced_at.elapsed();
        assert!(
            since_produce < Duration::from_secs(1),
            "answered {since_produce:?} after the produce"
        );
        assert!(sent_at.elapsed() < Duration::from_millis(4500));
        let p = &resp.responses[0].partitions[0];
        assert_eq!(p.high_watermark, 1);
        assert_eq!(
            decode_batches(p.records.as_ref().unwrap())[0].records.len(),
            1
        );
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn fetch_long_poll_returns_empty_after_max_wait() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        c.create_topic("idle", 1).await;
        let max_wait = Duration::from_millis(1000);
        let start = Instant::now();
        let resp: FetchResponse = c
            .call(12, &fetch("idle", &[(0, 0)], max_wait.as_millis() as i32))
            .await;
        let took = start.elapsed();
        assert!(took >= max_wait, "answered after {took:?}");
        assert!(
            took < max_wait + Duration::from_secs(2),
            "answered after {took:?}"
        );
        let p = &resp.responses[0].partitions[0];
        assert_eq!(p.error_code, 0);
        assert!(p.records.clone().unwrap_or_default().is_empty());
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn fetch_sessions_full_incremental_and_errors() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        c.create_topic("sess", 2).await;
        c.produce("sess", 0, value_batch("s", 2, 1)).await;
        // Full fetch with epoch 0 creates a session.
        let full = fetch("sess", &[(0, 0), (1, 0)], 0)
            .with_session_id(0)
            .with_session_epoch(0);
        let resp: FetchResponse = c.call(12, &full).await;
        assert_eq!(resp.error_code, 0);
        let id = resp.session_id;
        assert!(id > 0, "session id {id}");
        assert_eq!(
            resp.responses[0].partitions.len(),
            2,
            "full response lists all"
        );
        // Only partition 1 changes.
        c.produce("sess", 1, value_batch("t", 3, 1)).await;
        let incr = |epoch: i32, parts: &[(i32, i64)]| {
            let mut r = fetch("sess", parts, 0)
                .with_session_id(id)
                .with_session_epoch(epoch);
            if parts.is_empty() {
                r.topics.clear();
            }
            r
        };
        let resp: FetchResponse = c.call(12, &incr(1, &[(0, 2)])).await;
        assert_eq!((resp.error_code, resp.session_id), (0, id));
        let listed: Vec<i32> = resp
            .responses
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.partition_index))
            .collect();
        assert_eq!(
            listed,
            vec![1],
            "incremental response lists only what changed"
        );
        let p1 = &resp.responses[0].partitions[0];
        assert_eq!(p1.high_watermark, 3);
        // Nothing changed: empty incremental response.
        let resp: FetchResponse = c.call(12, &incr(2, &[(1, 3)])).await;
        assert_eq!(resp.error_code, 0);
        assert!(resp.responses.iter().all(|t| t.partitions.is_empty()));
        // Wrong epoch.
        let resp: FetchResponse = c.call(12, &incr(7, &[])).await;
        assert_eq!(
            resp.error_code,
            ResponseError::InvalidFetchSessionEpoch.code()
        );
        assert!(resp.responses.is_empty());
        // Unknown session id.
        let resp: FetchResponse = c
            .call(
                12,
                &fetch("sess", &[], 0)
                    .with_session_id(id.wrapping_add(1).max(1))
                    .with_session_epoch(1),
            )
            .await;
        assert_eq!(
            resp.error_code,
            ResponseError::FetchSessionIdNotFound.code()
        );
        // Epoch -1: a sessionless full fetch.
        let resp: FetchResponse = c
            .call(
                12,
                &fetch("sess", &[(0, 0), (1, 0)], 0).with_session_epoch(-1),
            )
            .await;
        assert_eq!((resp.error_code, resp.session_id), (0, 0));
        assert_eq!(resp.responses[0].partitions.len(), 2);
        broker.shutdown().await;
    })
    .await;
}

fn list_offsets(topic: &str, timestamp: i64) -> ListOffsetsRequest {
    ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(topic_name(topic))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(0)
                .with_timestamp(timestamp)])])
}

/// Two batches: offsets 0..=2 at 1000..=1002, offsets 3..=5 at 2000, 2500, 2001 (max timestamp mid-batch).
async fn timestamped_topic(c: &mut Client, name: &str) {
    c.create_topic(name, 1).await;
    let b1 = encode_batch(&[
        record(0, 1000, None, Some(b"a")),
        record(1, 1001, None, Some(b"b")),
        record(2, 1002, None, Some(b"c")),
    ]);
    let b2 = encode_batch(&[
        record(0, 2000, None, Some(b"d")),
        record(1, 2500, None, Some(b"e")),
        record(2, 2001, None, Some(b"f")),
    ]);
    assert_eq!(c.produce(name, 0, b1).await.base_offset, 0);
    assert_eq!(c.produce(name, 0, b2).await.base_offset, 3);
}

#[tokio::test]
async fn list_offsets_by_timestamp() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        timestamped_topic(&mut c, "by-ts").await;
        let (min, max) = weir::handler::list::range(ApiKey::ListOffsets).unwrap();
        for v in min..=max {
            // (target, expected offset, expected timestamp): the first record with timestamp >= target.
            for (target, offset, ts) in [
                (0i64, 0i64, 1000i64),
                (1001, 1, 1001),
                (1500, 3, 2000),
                (2400, 4, 2500),
                (9999, -1, -1),
            ] {
                let resp = c.call(v, &list_offsets("by-ts", target)).await;
                let p = &resp.topics[0].partitions[0];
                assert_eq!(p.error_code, 0, "v{v} target {target}");
                assert_eq!(
                    (p.offset, p.timestamp),
                    (offset, ts),
                    "v{v} target {target}"
                );
                if v >= 4 {
                    let epoch = if offset >= 0 { 0 } else { -1 };
                    assert_eq!(p.leader_epoch, epoch, "v{v} target {target} epoch");
                }
            }
        }
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn list_offsets_max_timestamp() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        timestamped_topic(&mut c, "max-ts").await;
        let (_, max) = weir::handler::list::range(ApiKey::ListOffsets).unwrap();
        for v in 7..=max {
            let resp = c.call(v, &list_offsets("max-ts", -3)).await;
            let p = &resp.topics[0].partitions[0];
            assert_eq!(p.error_code, 0, "v{v}");
            assert_eq!(
                (p.offset, p.timestamp, p.leader_epoch),
                (4, 2500, 0),
                "v{v}: offset of the record with the largest timestamp (KIP-734)"
            );
        }
        broker.shutdown().await;
    })
    .await;
}
