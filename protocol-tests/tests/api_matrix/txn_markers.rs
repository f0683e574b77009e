//! WriteTxnMarkers as a partition leader takes it from transaction coordinators: markers of many producers
//! sent at once over separate connections all land, each closing its own transaction; a marker from a
//! coordinator older than the one a producer's last marker came from is refused with
//! TRANSACTION_COORDINATOR_FENCED (Kafka's `checkCoordinatorEpoch`) and changes nothing.

use super::txn_data::{committed_values, latest, produce_code, txn_batch, txn_produce, TOPIC};
use super::*;
use kafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use kafka_protocol::messages::WriteTxnMarkersRequest;

/// Producer ids far from any the broker hands out.
const FIRST_PID: i64 = 8_000_000;

fn marker(pid: i64, commit: bool, coordinator_epoch: i32, parts: &[i32]) -> WriteTxnMarkersRequest {
    WriteTxnMarkersRequest::default().with_markers(vec![WritableTxnMarker::default()
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(0)
        .with_transaction_result(commit)
        .with_coordinator_epoch(coordinator_epoch)
        .with_topics(vec![WritableTxnMarkerTopic::default()
            .with_name(topic_name(TOPIC))
            .with_partition_indexes(parts.to_vec())])])
}

/// Per-partition error codes of a one-marker WriteTxnMarkers response.
async fn marker_codes(c: &mut Client, req: &WriteTxnMarkersRequest) -> Vec<i16> {
    let resp = c.call(1, req).await;
    resp.markers[0].topics[0]
        .partitions
        .iter()
        .map(|p| p.error_code)
        .collect()
}

#[tokio::test]
async fn concurrent_markers_land_and_older_coordinators_are_fenced() {
    bounded(Duration::from_secs(60), async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        c.create_topic(TOPIC, 2).await;
        // Eight producers each open a transaction in both partitions (no transactional id: the batches
        // come as if from producers whose coordinator is elsewhere).
        let producers = 8;
        for i in 0..producers {
            let pid = FIRST_PID + i;
            for partition in [0, 1] {
                let batch = txn_batch(pid, 0, 0, &[&format!("p{i}")]);
                let (code, _) = produce_code(&mut c, &txn_produce(None, partition, batch)).await;
                assert_eq!(code, 0, "producer {i} partition {partition}");
            }
        }
        assert_eq!(
            latest(&mut c, 0, 1).await,
            0,
            "LSO at the first open transaction"
        );

        // Their markers at once, one connection each: even producers commit, odd ones abort.
        let mut sends = Vec::new();
        for i in 0..producers {
            let mut conn = broker.client().await;
            sends.push(tokio::spawn(async move {
                marker_codes(&mut conn, &marker(FIRST_PID + i, i % 2 == 0, 3, &[0, 1])).await
            }));
        }
        for (i, send) in sends.into_iter().enumerate() {
            assert_eq!(send.await.expect("marker task"), vec![0, 0], "producer {i}");
        }
        let committed: Vec<String> = (0..producers)
            .filter(|i| i % 2 == 0)
            .map(|i| format!("p{i}"))
            .collect();
        let end = 2 * producers;
        for partition in [0, 1] {
            assert_eq!(
                committed_values(&mut c, partition, 0).await,
                (committed.clone(), end),
                "partition {partition}: committed ones only, LSO at the log end"
            );
        }

        // Producer 0 opens another transaction in partition 0; a marker from coordinator epoch 2 (older
        // than the 3 its last marker carried) is fenced in both partitions and closes nothing.
        let batch = txn_batch(FIRST_PID, 0, 1, &["late"]);
        let (code, open_at) = produce_code(&mut c, &txn_produce(None, 0, batch)).await;
        assert_eq!((code, open_at), (0, end));
        let fenced = ResponseError::TransactionCoordinatorFenced.code();
        assert_eq!(
            marker_codes(&mut c, &marker(FIRST_PID, true, 2, &[0, 1])).await,
            vec![fenced, fenced]
        );
        assert_eq!(
            latest(&mut c, 0, 1).await,
            end,
            "still open after the fenced marker"
        );
        assert_eq!(latest(&mut c, 0, 0).await, end + 1, "and nothing appended");
        // The coordinator of epoch 3 (a resend) and a newer one are taken.
        assert_eq!(
            marker_codes(&mut c, &marker(FIRST_PID, true, 3, &[0])).await,
            vec![0]
        );
        assert_eq!(
            marker_codes(&mut c, &marker(FIRST_PID, false, 4, &[1])).await,
            vec![0]
        );
        assert_eq!(
            marker_codes(&mut c, &marker(FIRST_PID, false, 3, &[1])).await,
            vec![fenced]
        );
        let mut want = committed.clone();
        want.push("late".into());
        assert_eq!(committed_values(&mut c, 0, 0).await, (want, end + 2));
        broker.shutdown().await;
    })
    .await;
}
