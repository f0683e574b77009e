//! What a connection may cost the broker: a client that pipelines fetches and never reads its responses
//! stays bounded in broker memory while another consumer reads normally; fetch responses beyond each
//! connection's budget share one broker-wide pool (`queued.max.fetch.response.bytes`); idle connections
//! are closed after `connections.max.idle.ms`; `max.connections.per.ip` closes connections beyond it.

use std::time::{Duration, Instant};

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{ApiVersionsRequest, FetchRequest, FetchResponse};
use weir_protocol_tests::*;

const LIMIT: Duration = Duration::from_secs(240);

fn fetch_all(topic: &str, offset: i64, max_bytes: i32) -> FetchRequest {
    FetchRequest::default()
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(max_bytes)
        .with_topics(vec![FetchTopic::default()
            .with_topic(topic_name(topic))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(max_bytes)])])
}

/// ~1 MiB batches of 1 KiB values: `batches` of them, so a topic of about `batches` MiB.
async fn fill(c: &mut Client, topic: &str, batches: usize) -> i64 {
    let value = vec![0x5au8; 1000];
    let mut records = 0i64;
    for b in 0..batches {
        let recs: Vec<_> = (0..1000)
            .map(|i| record(i, 1_700_000_000_000 + b as i64, None, Some(&value)))
            .collect();
        let resp = c.produce(topic, 0, encode_batch(&recs)).await;
        assert_eq!(resp.error_code, 0, "{:?}", resp.error_message.as_deref());
        records += 1000;
    }
    records
}

#[tokio::test]
async fn a_client_that_never_reads_its_fetches_stays_bounded_and_others_are_unaffected() {
    bounded(LIMIT, async {
        let broker = TestBroker::start_with(|c| c.message_max_bytes = 2 << 20).await;
        let mut admin = broker.client().await;
        admin.create_topic("big", 1).await;
        let total = fill(&mut admin, "big", 64).await;

        // Reference: a consumer's full read of the topic alone.
        let alone = read_all(&broker, total).await;

        // Peak RSS from here on (clear_refs 5 resets VmHWM).
        std::fs::write("/proc/self/clear_refs", "5").expect("reset peak rss");
        let before = status_bytes("VmRSS:");
        // 500 pipelined fetches of up to 50 MiB each, never read.
        let mut hostile = broker.client().await;
        let mut frames = Vec::new();
        for i in 0..500 {
            frames.extend_from_slice(&encode_request(12, i, &fetch_all("big", 0, 50 << 20)));
        }
        hostile.send_raw(&frames).await;
        let beside = read_all(&broker, total).await;
        let peak = status_bytes("VmHWM:");
        let growth = peak.saturating_sub(before);
        eprintln!(
            "rss before {} MiB, peak with a never-reading fetcher {} MiB (+{} MiB); \
             full read of {} MiB alone {:?}, beside it {:?}",
            before >> 20,
            peak >> 20,
            growth >> 20,
            64,
            alone,
            beside
        );
        // Unbounded, 500 responses of 64 MiB each would be ~32 GiB; bounded, the hostile connection
        // holds one response in hand plus `queued.max.response.bytes`.
        assert!(
            growth < 400 << 20,
            "broker memory grew by {} MiB",
            growth >> 20
        );
        // The hostile connection is still open: it only stopped being read.
        drop(hostile);
        broker.shutdown().await;
    })
    .await;
}

/// Record bytes of one fetch of up to 50 MiB from offset 0, on a fresh connection.
async fn one_big_fetch(broker: &TestBroker) -> usize {
    let mut c = broker.client().await;
    let resp: FetchResponse = c.call(12, &fetch_all("big", 0, 50 << 20)).await;
    let p = &resp.responses[0].partitions[0];
    assert_eq!(p.error_code, 0);
    p.records.as_ref().map_or(0, |r| r.len())
}

#[tokio::test]
async fn fetch_responses_beyond_a_connections_budget_share_one_broker_wide_pool() {
    bounded(LIMIT, async {
        const POOL: usize = 32 << 20;
        let broker = TestBroker::start_with(|c| {
            c.message_max_bytes = 2 << 20;
            c.queued_max_fetch_response_bytes = POOL as i64;
        })
        .await;
        let budget = broker.config().queued_max_response_bytes as usize;
        let mut admin = broker.client().await;
        admin.create_topic("big", 1).await;
        let total = fill(&mut admin, "big", 48).await;
        // Alone, a 50 MiB fetch gets its connection's budget plus the whole pool (whole batches).
        let alone = one_big_fetch(&broker).await;
        assert!(
            alone > POOL - (2 << 20) && alone <= POOL + budget,
            "alone: {alone} bytes"
        );
        // A client that reads only the length of its response's frame holds its share of the pool for as
        // long as the response is not written (~33 MiB: more than loopback socket buffers take).
        let mut hostile = broker.client().await;
        hostile
            .send_raw(&encode_request(12, 1, &fetch_all("big", 0, 50 << 20)))
            .await;
        let held = hostile.recv_len().await as usize;
        assert!(held > POOL - (2 << 20), "hostile's response: {held} bytes");
        // Beside it, a fetch gets its own budget plus what is left: one ~1 MiB batch here (KIP-74),
        // where without the pool it would get the whole 48 MiB topic.
        let beside = one_big_fetch(&broker).await;
        assert!(beside <= budget + (2 << 20), "beside: {beside} bytes");
        // A consumer still reads the whole topic.
        read_all(&broker, total).await;
        // Closing the hostile connection gives its bytes back (the broker sees the close
        // asynchronously: ask until it has).
        drop(hostile);
        while one_big_fetch(&broker).await < POOL - (2 << 20) {}
        broker.shutdown().await;
    })
    .await;
}

/// Reads the topic from offset 0 to `total` in 1 MiB fetches on a fresh connection; returns the time.
async fn read_all(broker: &TestBroker, total: i64) -> Duration {
    let mut c = broker.client().await;
    let start = Instant::now();
    let mut offset = 0i64;
    let mut seen = 0i64;
    while offset < total {
        let resp: FetchResponse = c.call(12, &fetch_all("big", offset, 1 << 20)).await;
        assert_eq!(resp.error_code, 0);
        let p = &resp.responses[0].partitions[0];
        assert_eq!(p.error_code, 0);
        let records = p.records.clone().expect("records");
        for set in decode_batches(&records) {
            for r in set.records {
                if r.offset >= offset {
                    assert_eq!(r.offset, offset + (seen - offset), "offsets in order");
                    seen = r.offset + 1;
                }
            }
        }
        assert!(seen > offset, "progress");
        offset = seen;
    }
    start.elapsed()
}

#[tokio::test]
async fn idle_connections_are_closed_and_active_ones_kept() {
    bounded(Duration::from_secs(30), async {
        let broker = TestBroker::start_with(|c| c.connections_max_idle_ms = 1000).await;
        let mut idle = broker.client().await;
        let mut active = broker.client().await;
        let req = ApiVersionsRequest::default()
            .with_client_software_name(str_bytes("t"))
            .with_client_software_version(str_bytes("1"));
        // Requests every 100 ms keep `active` open past the idle period (pacing, not waiting on the
        // broker; 900 ms of slack for a slow machine).
        for _ in 0..15 {
            let resp = active.call(3, &req).await;
            assert_eq!(resp.error_code, 0);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        idle.expect_closed().await;
        assert_eq!(active.call(3, &req).await.error_code, 0);
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn connections_beyond_max_connections_per_ip_are_closed() {
    bounded(Duration::from_secs(30), async {
        let broker = TestBroker::start_with(|c| c.max_connections_per_ip = 2).await;
        let req = ApiVersionsRequest::default()
            .with_client_software_name(str_bytes("t"))
            .with_client_software_version(str_bytes("1"));
        let mut a = broker.client().await;
        let mut b = broker.client().await;
        assert_eq!(a.call(3, &req).await.error_code, 0);
        assert_eq!(b.call(3, &req).await.error_code, 0);
        let mut c = broker.client().await;
        c.expect_closed().await;
        drop(a);
        // The broker frees the slot once it sees the close; retry until it has.
        loop {
            let mut d = broker.client().await;
            let _ = d.try_send_raw(&encode_request(3, 1, &req)).await;
            if d.recv_frame().await.is_some() {
                break;
            }
        }
        assert_eq!(b.call(3, &req).await.error_code, 0);
        broker.shutdown().await;
    })
    .await;
}
