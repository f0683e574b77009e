//! KIP-890 part 1 across brokers: a partition leader that is not the producer's transaction coordinator
//! verifies a transactional produce with a verify-only AddPartitionsToTxn to the coordinator's broker, so
//! a batch for a partition never added to the transaction is refused there too, and a fenced producer
//! gets INVALID_PRODUCER_EPOCH.

use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, EndTxnRequest, InitProducerIdRequest, ProducerId, TransactionalId,
};
use kafka_protocol::records::{Record, TimestampType};

use super::*;

const TOPIC: &str = "kip890";
const TXN_ID: &str = "remote-verify";

/// One transactional record `value` from `pid`/`epoch` at sequence `seq`.
fn txn_batch(pid: i64, epoch: i16, seq: i32, value: &str) -> bytes::Bytes {
    weir_protocol_tests::encode_batch(&[Record {
        transactional: true,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: pid,
        producer_epoch: epoch,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: seq,
        timestamp: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64),
        key: None,
        value: Some(bytes::Bytes::copy_from_slice(value.as_bytes())),
        headers: Default::default(),
    }])
}

/// Transactional Produce v9 of one batch to `partition`: the partition's error code.
async fn produce(c: &mut Client, partition: i32, batch: bytes::Bytes) -> i16 {
    let req = produce_request(TOPIC, partition, batch, -1)
        .with_transactional_id(Some(TransactionalId(str_bytes(TXN_ID))));
    c.call(9, &req).await.responses[0].partition_responses[0].error_code
}

/// Values a read_committed Fetch v11 of `partition` returns once its LSO passed a record (long-polls
/// until then).
async fn committed_values(c: &mut Client, partition: i32) -> Vec<String> {
    let req = FetchRequest::default()
        .with_max_wait_ms(500)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_isolation_level(1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(topic_name(TOPIC))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(partition)
                .with_fetch_offset(0)
                .with_partition_max_bytes(1 << 20)])]);
    loop {
        let resp = c.call(11, &req).await;
        let p = &resp.responses[0].partitions[0];
        assert_eq!(p.error_code, 0);
        let records = p.records.clone().unwrap_or_default();
        let values: Vec<String> = weir_protocol_tests::decode_batches(&records)
            .iter()
            .flat_map(|b| &b.records)
            .filter(|r| !r.control)
            .filter_map(|r| r.value.as_ref())
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect();
        if !values.is_empty() {
            return values;
        }
    }
}

/// Codes a client retries after a backoff while the coordinator settles.
fn retriable(code: i16) -> bool {
    [
        ResponseError::CoordinatorNotAvailable.code(),
        ResponseError::CoordinatorLoadInProgress.code(),
        ResponseError::ConcurrentTransactions.code(),
    ]
    .contains(&code)
}

/// The transaction coordinator's node id for [`TXN_ID`] (creating `__transaction_state` on the way).
async fn txn_coordinator(c: &mut Client) -> i32 {
    let req = FindCoordinatorRequest::default()
        .with_key(str_bytes(TXN_ID))
        .with_key_type(1);
    loop {
        let resp = c.call(3, &req).await;
        if resp.error_code == 0 {
            return resp.node_id.0;
        }
        assert_eq!(
            resp.error_code,
            ResponseError::CoordinatorNotAvailable.code()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// InitProducerId v3 at the coordinator: (producer id, epoch).
async fn init(tc: &mut Client) -> (i64, i16) {
    let req = InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(str_bytes(TXN_ID))))
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    loop {
        let resp = tc.call(3, &req).await;
        if !retriable(resp.error_code) {
            assert_eq!(resp.error_code, 0);
            return (resp.producer_id.0, resp.producer_epoch);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_verifies_transactional_produce_with_the_coordinator_on_another_broker() {
    bounded(Duration::from_secs(90), async {
        let nodes = three_nodes_with(|c| c.transaction_state_log_num_partitions = 3).await;
        while nodes[0].client().await.metadata(&[]).await.brokers.len() < 3 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut c = nodes[0].client().await;
        let req = kafka_protocol::messages::CreateTopicsRequest::default()
            .with_timeout_ms(30_000)
            .with_topics(vec![creatable_topic(TOPIC, 3, 1, &[])]);
        assert_eq!(c.call(7, &req).await.topics[0].error_code, 0);
        let leaders = leaders(&nodes, TOPIC).await;
        let coordinator = txn_coordinator(&mut c).await;
        let mut tc = nodes[(coordinator - 1) as usize].client().await;
        let (pid, epoch) = init(&mut tc).await;
        // Two partitions led by brokers other than the coordinator (one partition per broker).
        let remote: Vec<(i32, i32)> = (0..3)
            .zip(leaders.iter().map(|(l, _)| *l))
            .filter(|(_, l)| *l != coordinator)
            .collect();
        assert_eq!(
            remote.len(),
            2,
            "leaders {leaders:?}, coordinator {coordinator}"
        );
        let (p, p_leader) = remote[0];
        let (q, q_leader) = remote[1];
        let mut at_p = nodes[(p_leader - 1) as usize].client().await;
        let mut at_q = nodes[(q_leader - 1) as usize].client().await;

        // Never added to the transaction: the leader asks the coordinator, which says no.
        assert_eq!(
            produce(&mut at_p, p, txn_batch(pid, epoch, 0, "unverified")).await,
            ResponseError::InvalidTxnState.code()
        );
        // Added (AddPartitionsToTxn v3 as a producer sends it): now verified and appended.
        let add = AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(TransactionalId(str_bytes(TXN_ID)))
            .with_v3_and_below_producer_id(ProducerId(pid))
            .with_v3_and_below_producer_epoch(epoch)
            .with_v3_and_below_topics(vec![AddPartitionsToTxnTopic::default()
                .with_name(topic_name(TOPIC))
                .with_partitions(vec![p])]);
        let code = loop {
            let resp = tc.call(3, &add).await;
            let code =
                resp.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code;
            if !retriable(code) {
                break code;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(code, 0);
        assert_eq!(
            produce(&mut at_p, p, txn_batch(pid, epoch, 0, "verified")).await,
            0
        );
        let end = EndTxnRequest::default()
            .with_transactional_id(TransactionalId(str_bytes(TXN_ID)))
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch)
            .with_committed(true);
        assert_eq!(tc.call(3, &end).await.error_code, 0);
        // The commit marker reaches the other broker's partition: read_committed there returns the record.
        assert_eq!(
            committed_values(&mut at_p, p).await,
            vec!["verified".to_string()]
        );

        // A new instance bumps the epoch: the old one's produce to a fresh partition is fenced by the
        // remote coordinator and answered as Kafka's leader does (INVALID_PRODUCER_EPOCH).
        let (pid2, epoch2) = init(&mut tc).await;
        assert_eq!(pid2, pid);
        assert!(epoch2 > epoch);
        assert_eq!(
            produce(&mut at_q, q, txn_batch(pid, epoch, 0, "zombie")).await,
            ResponseError::InvalidProducerEpoch.code()
        );
        for n in nodes {
            n.shutdown().await;
        }
    })
    .await;
}
