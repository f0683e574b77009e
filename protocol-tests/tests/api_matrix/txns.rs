//! ListTransactions and DescribeTransactions per version, over transactional ids created with
//! InitProducerId (what `kafka-transactions.sh list` / `describe` send).

use super::*;
use kafka_protocol::messages::{
    DescribeTransactionsRequest, ListTransactionsRequest, TransactionalId,
};

pub(crate) async fn init_txn_id(c: &mut Client, id: &str) -> (i64, i16) {
    // As clients do: find the coordinator first (this creates `__transaction_state`).
    let find = kafka_protocol::messages::FindCoordinatorRequest::default()
        .with_key(str_bytes(id))
        .with_key_type(1);
    assert_eq!(c.call(3, &find).await.error_code, 0, "find {id}");
    let req = InitProducerIdRequest::default()
        .with_transactional_id(Some(str_bytes(id).into()))
        .with_transaction_timeout_ms(45_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let resp = c.call(5, &req).await;
    assert_eq!(resp.error_code, 0, "init {id}");
    (resp.producer_id.0, resp.producer_epoch)
}

#[tokio::test]
async fn matrix_list_transactions() {
    bounded(Duration::from_secs(20), async {
        let broker = TestBroker::start_with(|c| c.transaction_coordinator_enable = true).await;
        let mut c = broker.client().await;
        let (pid_a, _) = init_txn_id(&mut c, "list-a").await;
        let (pid_b, _) = init_txn_id(&mut c, "list-b").await;
        for v in advertised(ApiKey::ListTransactions) {
            eprintln!("case ListTransactions v{v}");
            let mut req = ListTransactionsRequest::default();
            if v >= 1 {
                req = req.with_duration_filter(-1);
            }
            let resp = c.call(v, &req).await;
            assert_eq!(resp.error_code, 0, "v{v}");
            let listed: Vec<(String, i64, String)> = resp
                .transaction_states
                .iter()
                .map(|t| {
                    (
                        t.transactional_id.to_string(),
                        t.producer_id.0,
                        t.transaction_state.to_string(),
                    )
                })
                .collect();
            assert_eq!(
                listed,
                vec![
                    ("list-a".to_string(), pid_a, "Empty".to_string()),
                    ("list-b".to_string(), pid_b, "Empty".to_string()),
                ],
                "v{v} all"
            );
            // Producer-id filter.
            let resp = c
                .call(
                    v,
                    &req.clone()
                        .with_producer_id_filters(vec![ProducerId(pid_b)]),
                )
                .await;
            assert_eq!(resp.transaction_states.len(), 1, "v{v} producer filter");
            assert_eq!(
                resp.transaction_states[0].transactional_id.as_str(),
                "list-b"
            );
            // State filters: known names match exactly; unknown ones are echoed and match nothing.
            let filtered = req
                .clone()
                .with_state_filters(vec![str_bytes("Ongoing"), str_bytes("empty")]);
            let resp = c.call(v, &filtered).await;
            assert_eq!(resp.error_code, 0);
            assert!(resp.transaction_states.is_empty(), "v{v} state filter");
            let unknown: Vec<&str> = resp
                .unknown_state_filters
                .iter()
                .map(|s| s.as_str())
                .collect();
            assert_eq!(unknown, vec!["empty"], "v{v} unknown filters");
            let resp = c
                .call(v, &req.clone().with_state_filters(vec![str_bytes("Empty")]))
                .await;
            assert_eq!(resp.transaction_states.len(), 2, "v{v} Empty filter");
        }
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn matrix_describe_transactions() {
    bounded(Duration::from_secs(20), async {
        let broker = TestBroker::start_with(|c| c.transaction_coordinator_enable = true).await;
        let mut c = broker.client().await;
        let (pid, epoch) = init_txn_id(&mut c, "desc-a").await;
        for v in advertised(ApiKey::DescribeTransactions) {
            eprintln!("case DescribeTransactions v{v}");
            let ids = ["desc-a", "missing", ""]
                .iter()
                .map(|id| TransactionalId(str_bytes(id)))
                .collect();
            let resp = c
                .call(
                    v,
                    &DescribeTransactionsRequest::default().with_transactional_ids(ids),
                )
                .await;
            assert_eq!(resp.transaction_states.len(), 3, "v{v}");
            let a = &resp.transaction_states[0];
            assert_eq!(a.error_code, 0, "v{v}");
            assert_eq!(a.transactional_id.as_str(), "desc-a");
            assert_eq!(a.transaction_state.as_str(), "Empty");
            assert_eq!((a.producer_id.0, a.producer_epoch), (pid, epoch));
            assert_eq!(a.transaction_timeout_ms, 45_000);
            assert_eq!(a.transaction_start_time_ms, -1);
            assert!(a.topics.is_empty());
            let missing = &resp.transaction_states[1];
            assert_eq!(
                missing.error_code,
                code(ResponseError::TransactionalIdNotFound),
                "v{v} missing"
            );
            assert_eq!(missing.transactional_id.as_str(), "missing");
            assert_eq!(
                resp.transaction_states[2].error_code,
                code(ResponseError::InvalidRequest),
                "v{v} empty id"
            );
        }
        broker.shutdown().await;
    })
    .await;
}
