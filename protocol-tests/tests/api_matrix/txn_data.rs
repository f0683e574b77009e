//! Transactions on the wire, per version: AddPartitionsToTxn (v0–3 by a producer, v4+ verify-only),
//! transactional Produce refused for a partition never added (KIP-890 part 1), EndTxn commit/abort with
//! markers as control batches, read_committed Fetch stopping at the LSO with the aborted transactions,
//! ListOffsets per isolation level, AddOffsetsToTxn, WriteTxnMarkers from another coordinator, and
//! DescribeProducers.

use super::*;
use kafka_protocol::messages::add_partitions_to_txn_request::{
    AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction,
};
use kafka_protocol::messages::describe_producers_request::TopicRequest as ProducersTopic;
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, DescribeProducersRequest, EndTxnRequest,
    GroupId, OffsetFetchRequest, TransactionalId, TxnOffsetCommitRequest, WriteTxnMarkersRequest,
};
use kafka_protocol::records::{Record, TimestampType};

pub(super) const TOPIC: &str = "txn-data";

/// One transactional batch of `values` from `pid`/`epoch` starting at sequence `seq`.
pub(super) fn txn_batch(pid: i64, epoch: i16, seq: i32, values: &[&str]) -> Bytes {
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            transactional: true,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: pid,
            producer_epoch: epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: seq + i as i32,
            // Now: an old timestamp would roll the segment at the marker and let retention delete it.
            timestamp: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
            key: None,
            value: Some(Bytes::copy_from_slice(v.as_bytes())),
            headers: Default::default(),
        })
        .collect();
    encode_batch(&records)
}

pub(super) fn txn_produce(txn_id: Option<&str>, partition: i32, batch: Bytes) -> ProduceRequest {
    produce_request(TOPIC, partition, batch, -1)
        .with_transactional_id(txn_id.map(|t| TransactionalId(str_bytes(t))))
}

pub(super) async fn produce_code(c: &mut Client, req: &ProduceRequest) -> (i16, i64) {
    let resp = c.call(9, req).await;
    let p = &resp.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

fn add_v3(id: &str, pid: i64, epoch: i16, partitions: &[i32]) -> AddPartitionsToTxnRequest {
    AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(TransactionalId(str_bytes(id)))
        .with_v3_and_below_producer_id(ProducerId(pid))
        .with_v3_and_below_producer_epoch(epoch)
        .with_v3_and_below_topics(vec![AddPartitionsToTxnTopic::default()
            .with_name(topic_name(TOPIC))
            .with_partitions(partitions.to_vec())])
}

/// AddPartitionsToTxn as a producer sends it: CONCURRENT_TRANSACTIONS (the previous transaction's markers
/// are still being completed) is retried after the client's backoff, as Kafka clients do.
async fn add_retrying(c: &mut Client, v: i16, req: &AddPartitionsToTxnRequest) -> i16 {
    for _ in 0..200 {
        let resp = c.call(v, req).await;
        let code =
            resp.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code;
        if code != ResponseError::ConcurrentTransactions.code() {
            return code;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ResponseError::ConcurrentTransactions.code()
}

fn end(id: &str, pid: i64, epoch: i16, commit: bool) -> EndTxnRequest {
    EndTxnRequest::default()
        .with_transactional_id(TransactionalId(str_bytes(id)))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_committed(commit)
}

fn fetch_req(partition: i32, offset: i64, isolation: i8, max_wait_ms: i32) -> FetchRequest {
    FetchRequest::default()
        .with_max_wait_ms(max_wait_ms)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_isolation_level(isolation)
        .with_topics(vec![FetchTopic::default()
            .with_topic(topic_name(TOPIC))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(partition)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(1 << 20)])])
}

/// Waits (long-poll, no sleeps) until the partition's log end passes `offset`: the marker is written.
async fn await_marker(c: &mut Client, partition: i32, offset: i64) {
    let resp = c.call(11, &fetch_req(partition, offset, 0, 10_000)).await;
    let p = &resp.responses[0].partitions[0];
    assert_eq!(p.error_code, 0);
    let batches = decode_batches(p.records.as_ref().expect("records"));
    let marker = batches
        .iter()
        .flat_map(|b| &b.records)
        .find(|r| r.offset == offset)
        .expect("marker written");
    assert!(
        marker.control && marker.transactional,
        "marker is a control record"
    );
}

/// Values visible to a read_committed consumer from `from` up to the LSO (fetching on as a consumer does),
/// dropping aborted transactions as Kafka's consumer does: a producer's records are skipped from the
/// first offset of one of its aborted transactions until its next marker. Returns them and the LSO.
pub(super) async fn committed_values(
    c: &mut Client,
    partition: i32,
    from: i64,
) -> (Vec<String>, i64) {
    let mut out = Vec::new();
    let mut skipping: Vec<i64> = Vec::new();
    let mut offset = from;
    loop {
        let resp = c.call(11, &fetch_req(partition, offset, 1, 0)).await;
        let p = &resp.responses[0].partitions[0];
        assert_eq!(
            p.error_code, 0,
            "read_committed fetch of {partition} at {offset}: {p:?}"
        );
        let mut pending: Vec<(i64, i64)> = p
            .aborted_transactions
            .clone()
            .unwrap_or_default()
            .iter()
            .map(|a| (a.producer_id.0, a.first_offset))
            .collect();
        pending.sort_by_key(|(_, first)| *first);
        let records = p.records.clone().unwrap_or_default();
        if records.is_empty() {
            assert_eq!(
                offset, p.last_stable_offset,
                "read_committed stops at the LSO"
            );
            return (out, p.last_stable_offset);
        }
        for set in decode_batches(&records) {
            for r in &set.records {
                while let Some(&(pid, first)) = pending.first() {
                    if first > r.offset {
                        break;
                    }
                    skipping.push(pid);
                    pending.remove(0);
                }
                offset = r.offset + 1;
                if r.control {
                    skipping.retain(|pid| *pid != r.producer_id);
                    continue;
                }
                if r.transactional && skipping.contains(&r.producer_id) {
                    continue;
                }
                if let Some(v) = &r.value {
                    out.push(String::from_utf8_lossy(v).into_owned());
                }
            }
        }
        assert!(
            offset <= p.last_stable_offset,
            "a record at or past the LSO was returned"
        );
    }
}

/// OffsetFetch v7 of group "g", partition 0: (error code, offset).
async fn offset_fetch(c: &mut Client, require_stable: bool) -> (i16, i64) {
    let req = OffsetFetchRequest::default()
        .with_group_id(GroupId(str_bytes("g")))
        .with_require_stable(require_stable)
        .with_topics(Some(vec![OffsetFetchRequestTopic::default()
            .with_name(topic_name(TOPIC))
            .with_partition_indexes(vec![0])]));
    let resp = c.call(7, &req).await;
    let p = &resp.topics[0].partitions[0];
    (p.error_code, p.committed_offset)
}

pub(super) async fn latest(c: &mut Client, partition: i32, isolation: i8) -> i64 {
    let req = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_isolation_level(isolation)
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(topic_name(TOPIC))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(partition)
                .with_timestamp(-1)])]);
    let resp = c.call(5, &req).await;
    resp.topics[0].partitions[0].offset
}

#[tokio::test]
async fn matrix_transaction_data_plane() {
    bounded(Duration::from_secs(60), async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        c.create_topic(TOPIC, 2).await;
        let id = "data-a";
        let (pid, epoch) = super::txns::init_txn_id(&mut c, id).await;

        // KIP-890 part 1: a transactional batch for a partition not in the transaction is refused.
        let (code, _) = produce_code(
            &mut c,
            &txn_produce(Some(id), 0, txn_batch(pid, epoch, 0, &["x"])),
        )
        .await;
        assert_eq!(
            code,
            ResponseError::InvalidTxnState.code(),
            "unverified produce"
        );

        // Abort one transaction: its records stay in the log but read_committed drops them.
        let resp = c.call(3, &add_v3(id, pid, epoch, &[0])).await;
        assert_eq!(
            resp.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code,
            0
        );
        let (code, base) = produce_code(
            &mut c,
            &txn_produce(Some(id), 0, txn_batch(pid, epoch, 0, &["a0", "a1"])),
        )
        .await;
        assert_eq!((code, base), (0, 0));
        // Open transaction: LSO at its first offset; read_uncommitted sees the end.
        assert_eq!(latest(&mut c, 0, 1).await, 0, "read_committed latest = LSO");
        assert_eq!(
            latest(&mut c, 0, 0).await,
            2,
            "read_uncommitted latest = HW"
        );
        let (values, lso) = committed_values(&mut c, 0, 0).await;
        assert!(values.is_empty());
        assert_eq!(lso, 0);
        // v4+ verify-only (what a partition leader sends): only partition 0 is in the transaction.
        for v in 4..=5 {
            let req = AddPartitionsToTxnRequest::default().with_transactions(vec![
                AddPartitionsToTxnTransaction::default()
                    .with_transactional_id(TransactionalId(str_bytes(id)))
                    .with_producer_id(ProducerId(pid))
                    .with_producer_epoch(epoch)
                    .with_verify_only(true)
                    .with_topics(vec![AddPartitionsToTxnTopic::default()
                        .with_name(topic_name(TOPIC))
                        .with_partitions(vec![0, 1])]),
            ]);
            let resp = c.call(v, &req).await;
            assert_eq!(resp.error_code, 0);
            let codes: Vec<i16> = resp.results_by_transaction[0].topic_results[0]
                .results_by_partition
                .iter()
                .map(|p| p.partition_error_code)
                .collect();
            assert_eq!(
                codes,
                vec![0, ResponseError::InvalidTxnState.code()],
                "v{v}"
            );
        }
        assert_eq!(c.call(3, &end(id, pid, epoch, false)).await.error_code, 0);
        await_marker(&mut c, 0, 2).await;
        let (values, lso) = committed_values(&mut c, 0, 0).await;
        assert!(values.is_empty(), "aborted records are dropped: {values:?}");
        assert_eq!(lso, 3);
        assert_eq!(latest(&mut c, 0, 1).await, 3);

        // One committed transaction per EndTxn version (AddPartitionsToTxn v0..=3 in turn).
        let mut next = 3i64;
        let mut expected = Vec::new();
        for (seq, v) in (2..).zip(advertised(ApiKey::EndTxn)) {
            let code = add_retrying(&mut c, v.min(3), &add_v3(id, pid, epoch, &[0])).await;
            assert_eq!(code, 0, "add v{}", v.min(3));
            let value = format!("c{v}");
            let (code, base) = produce_code(
                &mut c,
                &txn_produce(Some(id), 0, txn_batch(pid, epoch, seq, &[&value])),
            )
            .await;
            assert_eq!((code, base), (0, next), "v{v}");
            let resp = c.call(v, &end(id, pid, epoch, true)).await;
            assert_eq!(resp.error_code, 0, "EndTxn v{v}");
            if v >= 5 {
                assert_eq!((resp.producer_id.0, resp.producer_epoch), (-1, -1));
            }
            await_marker(&mut c, 0, next + 1).await;
            next += 2;
            expected.push(value);
            let (values, lso) = committed_values(&mut c, 0, 0).await;
            assert_eq!(values, expected, "after EndTxn v{v}");
            assert_eq!(lso, next);
        }
        // Aborting with no open transaction (the last one committed).
        assert_eq!(
            c.call(3, &end(id, pid, epoch, false)).await.error_code,
            ResponseError::InvalidTxnState.code()
        );

        // AddOffsetsToTxn: the group's offsets partition joins the transaction.
        for v in advertised(ApiKey::AddOffsetsToTxn) {
            let req = AddOffsetsToTxnRequest::default()
                .with_transactional_id(TransactionalId(str_bytes(id)))
                .with_producer_id(ProducerId(pid))
                .with_producer_epoch(epoch)
                .with_group_id(GroupId(str_bytes("g")));
            let mut code = ResponseError::ConcurrentTransactions.code();
            for _ in 0..200 {
                code = c.call(v, &req).await.error_code;
                if code != ResponseError::ConcurrentTransactions.code() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert_eq!(code, 0, "AddOffsetsToTxn v{v}");
            let stale = req
                .clone()
                .with_producer_epoch(epoch - 1)
                .with_producer_id(ProducerId(pid));
            let want = if v < 2 {
                ResponseError::InvalidProducerEpoch
            } else {
                ResponseError::ProducerFenced
            };
            assert_eq!(
                c.call(v, &stale).await.error_code,
                want.code(),
                "fenced v{v}"
            );
        }
        assert_eq!(c.call(3, &end(id, pid, epoch, false)).await.error_code, 0);

        // TxnOffsetCommit: offsets pending (UNSTABLE_OFFSET_COMMIT under require_stable, invisible
        // otherwise) until the commit marker; an aborted transaction's offsets never land.
        c.find_coordinator("g").await;
        for v in advertised(ApiKey::TxnOffsetCommit) {
            let offset = 100 + i64::from(v);
            for commit in [false, true] {
                let add = AddOffsetsToTxnRequest::default()
                    .with_transactional_id(TransactionalId(str_bytes(id)))
                    .with_producer_id(ProducerId(pid))
                    .with_producer_epoch(epoch)
                    .with_group_id(GroupId(str_bytes("g")));
                let mut code = ResponseError::ConcurrentTransactions.code();
                for _ in 0..200 {
                    code = c.call(3, &add).await.error_code;
                    if code != ResponseError::ConcurrentTransactions.code() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                assert_eq!(code, 0, "AddOffsetsToTxn before TxnOffsetCommit v{v}");
                let req = TxnOffsetCommitRequest::default()
                    .with_transactional_id(TransactionalId(str_bytes(id)))
                    .with_group_id(GroupId(str_bytes("g")))
                    .with_producer_id(ProducerId(pid))
                    .with_producer_epoch(epoch)
                    .with_generation_id(-1)
                    .with_topics(vec![TxnOffsetCommitRequestTopic::default()
                        .with_name(topic_name(TOPIC))
                        .with_partitions(vec![
                            TxnOffsetCommitRequestPartition::default()
                                .with_partition_index(0)
                                .with_committed_offset(if commit { offset } else { 999 })
                                .with_committed_leader_epoch(-1),
                            TxnOffsetCommitRequestPartition::default()
                                .with_partition_index(9)
                                .with_committed_offset(1),
                        ])]);
                let resp = c.call(v, &req).await;
                let codes: Vec<i16> = resp.topics[0]
                    .partitions
                    .iter()
                    .map(|p| p.error_code)
                    .collect();
                let unknown = ResponseError::UnknownTopicOrPartition.code();
                assert_eq!(codes, vec![0, unknown], "TxnOffsetCommit v{v}");
                let (code, _) = offset_fetch(&mut c, true).await;
                assert_eq!(
                    code,
                    ResponseError::UnstableOffsetCommit.code(),
                    "require_stable v{v}"
                );
                assert_eq!(c.call(3, &end(id, pid, epoch, commit)).await.error_code, 0);
                let mut got = offset_fetch(&mut c, true).await;
                for _ in 0..200 {
                    if got.0 != ResponseError::UnstableOffsetCommit.code() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    got = offset_fetch(&mut c, true).await;
                }
                let want = if commit { offset } else { offset - 1 };
                let want = if !commit && v == 0 { -1 } else { want };
                assert_eq!(got, (0, want), "v{v} commit {commit}");
            }
        }

        // WriteTxnMarkers from a coordinator elsewhere: a producer's transaction in partition 1 (written
        // without a transactional id, so not verified here) is aborted, then another one committed.
        let other = 9_000_001;
        let (code, _) = produce_code(
            &mut c,
            &txn_produce(None, 1, txn_batch(other, 0, 0, &["w0"])),
        )
        .await;
        assert_eq!(code, 0);
        let marker = |commit: bool| {
            WriteTxnMarkersRequest::default().with_markers(vec![WritableTxnMarker::default()
                .with_producer_id(ProducerId(other))
                .with_producer_epoch(0)
                .with_transaction_result(commit)
                .with_coordinator_epoch(0)
                .with_topics(vec![WritableTxnMarkerTopic::default()
                    .with_name(topic_name(TOPIC))
                    .with_partition_indexes(vec![1, 7])])])
        };
        let marker_at = 3;
        for v in advertised(ApiKey::WriteTxnMarkers) {
            for commit in [false, true] {
                let resp = c.call(v, &marker(commit)).await;
                let codes: Vec<i16> = resp.markers[0].topics[0]
                    .partitions
                    .iter()
                    .map(|p| p.error_code)
                    .collect();
                let unknown = ResponseError::UnknownTopicOrPartition.code();
                assert_eq!(codes, vec![0, unknown], "v{v} commit {commit}");
                if !commit {
                    let batch = txn_batch(other, 0, 1, &["w1"]);
                    let (code, base) = produce_code(&mut c, &txn_produce(None, 1, batch)).await;
                    assert_eq!((code, base), (0, 2));
                }
            }
        }
        let (values, lso) = committed_values(&mut c, 1, 0).await;
        assert_eq!(
            values,
            vec!["w1".to_string()],
            "aborted w0 dropped, committed w1 kept"
        );
        assert_eq!(lso, marker_at + 1);

        // A stale marker (older epoch) is refused.
        let (code, _) = produce_code(
            &mut c,
            &txn_produce(None, 1, txn_batch(other, 2, 0, &["w2"])),
        )
        .await;
        assert_eq!(code, 0);
        let req =
            WriteTxnMarkersRequest::default().with_markers(vec![WritableTxnMarker::default()
                .with_producer_id(ProducerId(other))
                .with_producer_epoch(1)
                .with_transaction_result(true)
                .with_topics(vec![WritableTxnMarkerTopic::default()
                    .with_name(topic_name(TOPIC))
                    .with_partition_indexes(vec![1])])]);
        let resp = c.call(1, &req).await;
        assert_eq!(
            resp.markers[0].topics[0].partitions[0].error_code,
            ResponseError::InvalidProducerEpoch.code()
        );

        // DescribeProducers: the open transaction of `other` in partition 1.
        let req = DescribeProducersRequest::default().with_topics(vec![ProducersTopic::default()
            .with_name(topic_name(TOPIC))
            .with_partition_indexes(vec![1])]);
        let resp = c.call(0, &req).await;
        let p = &resp.topics[0].partitions[0];
        assert_eq!(p.error_code, 0);
        let open: Vec<(i64, i32, i64)> = p
            .active_producers
            .iter()
            .map(|s| {
                (
                    s.producer_id.0,
                    s.producer_epoch,
                    s.current_txn_start_offset,
                )
            })
            .collect();
        assert_eq!(open, vec![(other, 2, marker_at + 1)]);
        broker.shutdown().await;
    })
    .await;
}

/// A broker stopped uncleanly (its runtime dropped: no flush, no clean-shutdown marker) with a transaction
/// open: after the restart the open transaction still holds the LSO (producer state rebuilt from the log),
/// the coordinator still knows it, and a new instance of the producer aborts it.
#[test]
fn open_transaction_survives_an_unclean_stop() {
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
    };
    let id = "crash-a";
    let first = runtime();
    let (pid, epoch) = first.block_on(bounded(Duration::from_secs(30), async {
        let broker = TestBroker::start_in(dir.path(), |_| {}).await;
        let mut c = broker.client().await;
        c.create_topic(TOPIC, 1).await;
        let (pid, epoch) = super::txns::init_txn_id(&mut c, id).await;
        assert_eq!(
            add_retrying(&mut c, 3, &add_v3(id, pid, epoch, &[0])).await,
            0
        );
        let batch = txn_batch(pid, epoch, 0, &["committed"]);
        assert_eq!(
            produce_code(&mut c, &txn_produce(Some(id), 0, batch)).await,
            (0, 0)
        );
        assert_eq!(c.call(3, &end(id, pid, epoch, true)).await.error_code, 0);
        await_marker(&mut c, 0, 1).await;
        assert_eq!(
            add_retrying(&mut c, 3, &add_v3(id, pid, epoch, &[0])).await,
            0
        );
        let batch = txn_batch(pid, epoch, 1, &["open0", "open1"]);
        assert_eq!(
            produce_code(&mut c, &txn_produce(Some(id), 0, batch)).await,
            (0, 2)
        );
        broker.abandon();
        (pid, epoch)
    }));
    first.shutdown_timeout(Duration::from_secs(5));
    runtime().block_on(bounded(Duration::from_secs(30), async {
        let broker = TestBroker::start_in(dir.path(), |_| {}).await;
        let mut c = broker.client().await;
        assert_eq!(
            latest(&mut c, 0, 1).await,
            2,
            "the open transaction holds the LSO"
        );
        assert_eq!(latest(&mut c, 0, 0).await, 4);
        assert_eq!(
            committed_values(&mut c, 0, 0).await,
            (vec!["committed".to_string()], 2)
        );
        // A new instance: InitProducerId aborts the open transaction with a fencing epoch bump
        // (CONCURRENT_TRANSACTIONS until the abort is complete, which the client retries).
        let req = InitProducerIdRequest::default()
            .with_transactional_id(Some(str_bytes(id).into()))
            .with_transaction_timeout_ms(45_000)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1);
        let mut resp = c.call(5, &req).await;
        for _ in 0..200 {
            if resp.error_code != ResponseError::ConcurrentTransactions.code() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            resp = c.call(5, &req).await;
        }
        assert_eq!(resp.error_code, 0);
        assert_eq!(resp.producer_id.0, pid);
        assert!(resp.producer_epoch > epoch, "fenced by an epoch bump");
        let (values, lso) = committed_values(&mut c, 0, 0).await;
        assert_eq!(
            values,
            vec!["committed".to_string()],
            "the open transaction was aborted"
        );
        assert_eq!(lso, 5);
        broker.shutdown().await;
    }));
}
