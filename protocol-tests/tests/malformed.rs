//! Hostile and malformed frames: each closes only its own connection (or, for ApiVersions above our max,
//! gets Kafka's v0 UNSUPPORTED_VERSION answer), and the broker keeps serving new connections. Also
//! pipelining, and a property test feeding random frames.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, DescribeClusterRequest, MetadataRequest,
};
use kafka_protocol::protocol::Decodable;
use kafka_protocol::ResponseError;
use proptest::prelude::*;
use weir::handler::list::SUPPORTED;
use weir_protocol_tests::*;

const LIMIT: Duration = Duration::from_secs(20);

/// Proof of life: a new connection gets a correct ApiVersions v3 answer.
async fn assert_alive(addr: SocketAddr) {
    let mut c = Client::connect(addr).await;
    let req = ApiVersionsRequest::default()
        .with_client_software_name(str_bytes("probe"))
        .with_client_software_version(str_bytes("1"));
    let resp = c.call(3, &req).await;
    assert_eq!(resp.error_code, 0);
    assert_eq!(resp.api_keys.len(), SUPPORTED.len());
}

/// A frame: length prefix + body.
fn frame(body: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(body.len() + 4);
    b.put_i32(body.len() as i32);
    b.put_slice(body);
    b.freeze()
}

/// Request header v1 fields (api key, version, correlation id, null client id) as raw bytes.
fn raw_header(api_key: i16, version: i16, correlation_id: i32) -> BytesMut {
    let mut b = BytesMut::new();
    b.put_i16(api_key);
    b.put_i16(version);
    b.put_i32(correlation_id);
    b.put_i16(-1);
    b
}

/// Sends `bytes` on a fresh connection and asserts the broker closes it, then that it still serves.
async fn closes_then_alive(addr: SocketAddr, bytes: &[u8], what: &str) {
    let mut c = Client::connect(addr).await;
    // The broker may close before reading everything; a reset on write is fine.
    let _ = c.try_send_raw(bytes).await;
    eprintln!("case {what}");
    c.expect_closed().await;
    assert_alive(addr).await;
}

#[tokio::test]
async fn frame_shorter_than_a_header_closes() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        closes_then_alive(broker.addr(), &frame(&[0, 18, 0]), "3-byte frame").await;
        closes_then_alive(broker.addr(), &frame(&[]), "empty frame").await;
        closes_then_alive(
            broker.addr(),
            &frame(&[0, 18, 0, 0, 0, 0, 0]),
            "7-byte frame",
        )
        .await;
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn unknown_api_key_closes() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        closes_then_alive(
            broker.addr(),
            &frame(&raw_header(9999, 0, 1)),
            "api key 9999",
        )
        .await;
        closes_then_alive(broker.addr(), &frame(&raw_header(-1, 0, 1)), "api key -1").await;
        // A real Kafka API that Weir does not serve (SaslHandshake, 17) is not advertised: closed too.
        if !SUPPORTED.iter().any(|(k, _)| *k == ApiKey::SaslHandshake) {
            closes_then_alive(broker.addr(), &frame(&raw_header(17, 1, 1)), "unserved api").await;
        }
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn unsupported_version_of_other_apis_closes() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        for (api, (min, max)) in SUPPORTED {
            if *api == ApiKey::ApiVersions {
                continue;
            }
            let mut body = raw_header(*api as i16, max + 1, 1);
            body.put_slice(&[0; 16]);
            closes_then_alive(
                broker.addr(),
                &frame(&body),
                &format!("{api:?} v{}", max + 1),
            )
            .await;
            if *min > 0 {
                let mut body = raw_header(*api as i16, min - 1, 1);
                body.put_slice(&[0; 16]);
                closes_then_alive(
                    broker.addr(),
                    &frame(&body),
                    &format!("{api:?} v{}", min - 1),
                )
                .await;
            }
        }
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn api_versions_above_max_gets_v0_unsupported_version() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        // A v99 request: Kafka cannot parse its body, so it reads only the header and answers in v0.
        let mut body = BytesMut::new();
        body.put_i16(ApiKey::ApiVersions as i16);
        body.put_i16(99);
        body.put_i32(4242);
        body.put_i16(-1);
        body.put_u8(0); // header tagged fields, as a v3+ client would send
        body.put_slice(&[7, 7, 7]); // a body Weir cannot know
        c.send_raw(&frame(&body)).await;
        let mut resp = c.recv_frame().await.expect("an answer, not a close");
        // v0 response header: just the correlation id, no tagged-field byte.
        let corr = i32::from_be_bytes(resp[..4].try_into().unwrap());
        assert_eq!(corr, 4242);
        let _ = bytes::Buf::get_i32(&mut resp);
        let parsed = ApiVersionsResponse::decode(&mut resp, 0).expect("v0 body");
        assert!(resp.is_empty(), "nothing after the v0 body");
        assert_eq!(parsed.error_code, ResponseError::UnsupportedVersion.code());
        let keys: Vec<(i16, i16, i16)> = parsed
            .api_keys
            .iter()
            .map(|k| (k.api_key, k.min_version, k.max_version))
            .collect();
        let mut want: Vec<(i16, i16, i16)> = SUPPORTED
            .iter()
            .map(|(k, (a, b))| (*k as i16, *a, *b))
            .collect();
        want.sort();
        assert_eq!(keys, want);
        // The connection stays usable: the client retries with a version from the list.
        let retry = c.call(0, &ApiVersionsRequest::default()).await;
        assert_eq!(retry.error_code, 0);
        broker.shutdown().await;
    })
    .await;
}

/// Kafka ignores bytes after a parsed body (its generated readers never check for leftovers), and
/// librdkafka 2.x depends on it: its Metadata v13 request carries 3 extra bytes. The broker must answer.
#[tokio::test]
async fn trailing_bytes_after_a_valid_body_are_ignored_like_kafka() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        let mut c = broker.client().await;
        // The exact frame librdkafka 2.x (confluent-kafka 2.16) sends for "list all topics".
        let librdkafka_metadata_v13 = b"\0\x03\0\x0d\0\0\0\x03\0\x07rdkafka\0\0\0\0\0\x01\0\0";
        c.send_raw(&frame(librdkafka_metadata_v13)).await;
        let md = c.recv::<MetadataRequest>(13, 3).await;
        assert_eq!(md.brokers.len(), 1, "a normal Metadata answer");
        let valid = encode_request(0, 7, &ApiVersionsRequest::default());
        let mut body = BytesMut::from(&valid[4..]);
        body.put_slice(b"junk");
        c.send_raw(&frame(&body)).await;
        let versions = c.recv::<ApiVersionsRequest>(0, 7).await;
        assert_eq!(versions.error_code, 0);
        assert!(!versions.api_keys.is_empty());
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn bad_length_prefixes_close_without_reading_a_body() {
    bounded(LIMIT, async {
        let broker = TestBroker::start_with(|c| c.socket_request_max_bytes = 64 * 1024).await;
        let addr = broker.addr();
        closes_then_alive(addr, &(-1i32).to_be_bytes(), "length -1").await;
        closes_then_alive(addr, &i32::MIN.to_be_bytes(), "length i32::MIN").await;
        // Just over the limit, with no body sent: closing proves the broker did not wait for (or allocate) it.
        closes_then_alive(addr, &(64 * 1024 + 1i32).to_be_bytes(), "limit + 1").await;
        closes_then_alive(addr, &i32::MAX.to_be_bytes(), "length i32::MAX").await;
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn hostile_array_count_closes_and_broker_survives() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        // Peak RSS from here (clear_refs 5 resets VmHWM): the counts below are refused before the decoder
        // reserves anything (`protocol::bounds`; the process has no allocator guard any more, so an
        // unchecked count would abort it: 2^31 Metadata topics ask for ~150 GB).
        std::fs::write("/proc/self/clear_refs", "5").expect("reset peak rss");
        let before = status_bytes("VmRSS:");
        // Metadata v1: header + topic count 0x7fffffff + one byte; 15 bytes in all.
        let mut body = raw_header(ApiKey::Metadata as i16, 1, 1);
        body.put_i32(0x7fff_ffff);
        body.put_u8(0);
        assert_eq!(body.len(), 15);
        closes_then_alive(broker.addr(), &frame(&body), "Metadata v1 with 2^31 topics").await;
        // The same through a compact (v9+) array and in other APIs' arrays.
        let mut body = raw_header(ApiKey::Metadata as i16, 12, 1);
        body.put_u8(0); // header tagged fields
        body.put_slice(&[0xff, 0xff, 0xff, 0xff, 0x07]); // unsigned varint 2^31-1 (+1 for compact)
        closes_then_alive(broker.addr(), &frame(&body), "Metadata v12 compact count").await;
        let mut body = raw_header(ApiKey::CreateTopics as i16, 4, 1);
        body.put_i32(0x7fff_fff0);
        closes_then_alive(broker.addr(), &frame(&body), "CreateTopics v4 count").await;
        // Nested: one Fetch v4 topic announcing 2^30 partitions.
        let mut body = raw_header(ApiKey::Fetch as i16, 4, 1);
        body.put_slice(&[0; 17]);
        body.put_i32(1);
        body.put_i16(1);
        body.put_u8(b'a');
        body.put_i32(1 << 30);
        closes_then_alive(broker.addr(), &frame(&body), "Fetch v4 partition count").await;
        let growth = status_bytes("VmHWM:").saturating_sub(before);
        assert!(growth < 64 << 20, "peak RSS grew by {} MiB", growth >> 20);
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn truncated_body_and_garbage_close() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        let full = encode_request(
            12,
            1,
            &MetadataRequest::default().with_topics(Some(vec![
                MetadataRequestTopic::default().with_name(Some(topic_name("some-topic")))
            ])),
        );
        let body = &full[4..full.len() - 3];
        closes_then_alive(broker.addr(), &frame(body), "Metadata v12 minus 3 bytes").await;
        // A length prefix announcing more than is sent, then the client hangs up half-way.
        {
            let mut c = broker.client().await;
            c.send_raw(&full[..full.len() - 5]).await;
            drop(c);
            assert_alive(broker.addr()).await;
        }
        let garbage: Vec<u8> = (0..64u32).map(|i| (i * 37 + 11) as u8).collect();
        closes_then_alive(broker.addr(), &frame(&garbage), "garbage frame").await;
        closes_then_alive(broker.addr(), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP").await;
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn pipelined_requests_get_responses_in_order() {
    bounded(LIMIT, async {
        let broker = TestBroker::start().await;
        let mut setup = broker.client().await;
        setup.create_topic("pipe", 1).await;
        let mut c = broker.client().await;
        let mut wire = BytesMut::new();
        wire.extend_from_slice(&encode_request(
            3,
            100,
            &ApiVersionsRequest::default()
                .with_client_software_name(str_bytes("p"))
                .with_client_software_version(str_bytes("1")),
        ));
        wire.extend_from_slice(&encode_request(
            9,
            101,
            &produce_request("pipe", 0, value_batch("x", 2, 1), -1),
        ));
        wire.extend_from_slice(&encode_request(
            12,
            102,
            &MetadataRequest::default().with_topics(None),
        ));
        wire.extend_from_slice(&encode_request(
            9,
            103,
            &produce_request("pipe", 0, value_batch("y", 1, 1), 0),
        ));
        wire.extend_from_slice(&encode_request(
            9,
            104,
            &produce_request("pipe", 0, value_batch("z", 1, 1), 1),
        ));
        wire.extend_from_slice(&encode_request(1, 105, &DescribeClusterRequest::default()));
        wire.extend_from_slice(&encode_request(0, 106, &ApiVersionsRequest::default()));
        c.send_raw(&wire).await;
        let r: ApiVersionsResponse = c.recv::<ApiVersionsRequest>(3, 100).await;
        assert_eq!(r.error_code, 0);
        let r = c
            .recv::<kafka_protocol::messages::ProduceRequest>(9, 101)
            .await;
        assert_eq!(r.responses[0].partition_responses[0].base_offset, 0);
        let r = c.recv::<MetadataRequest>(12, 102).await;
        assert_eq!(r.topics.len(), 1);
        // 103 was acks=0: no response.
        let r = c
            .recv::<kafka_protocol::messages::ProduceRequest>(9, 104)
            .await;
        assert_eq!(r.responses[0].partition_responses[0].base_offset, 3);
        let r = c.recv::<DescribeClusterRequest>(1, 105).await;
        assert_eq!(r.error_code, 0);
        let r = c.recv::<ApiVersionsRequest>(0, 106).await;
        assert_eq!(r.error_code, 0);
        broker.shutdown().await;
    })
    .await;
}

/// What a random case sends.
#[derive(Debug, Clone)]
enum Hostile {
    /// Random bytes behind a correct length prefix.
    Framed(Vec<u8>),
    /// A valid header of an advertised API and version, then a random body.
    Body(usize, i16, Vec<u8>),
    /// Random bytes, no framing at all.
    Raw(Vec<u8>),
}

fn hostile() -> impl Strategy<Value = Hostile> {
    let bytes = proptest::collection::vec(any::<u8>(), 0..256);
    prop_oneof![
        bytes.clone().prop_map(Hostile::Framed),
        (0..SUPPORTED.len(), any::<i16>(), bytes.clone()).prop_map(|(i, v, b)| {
            let (_, (min, max)) = SUPPORTED[i];
            let span = (max - min + 1) as i32;
            let version = min + (i32::from(v).rem_euclid(span)) as i16;
            Hostile::Body(i, version, b)
        }),
        bytes.prop_map(Hostile::Raw),
    ]
}

fn wire(h: &Hostile) -> Bytes {
    match h {
        Hostile::Framed(b) => frame(b),
        Hostile::Body(i, version, b) => {
            let (api, _) = SUPPORTED[*i];
            let mut body = raw_header(api as i16, *version, 9);
            if api.request_header_version(*version) >= 2 {
                body.put_u8(0);
            }
            body.put_slice(b);
            frame(&body)
        }
        Hostile::Raw(b) => Bytes::copy_from_slice(b),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_frames_never_kill_the_broker(cases in proptest::collection::vec(hostile(), 1..4)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(bounded(LIMIT, async {
            let broker = TestBroker::start().await;
            for h in &cases {
                let mut c = broker.client().await;
                let _ = c.try_send_raw(&wire(h)).await;
                // Whatever happens to this connection (answer, close, or waiting for more bytes), drop it.
                let _ = tokio::time::timeout(Duration::from_millis(50), c.recv_frame_unbounded()).await;
                drop(c);
                assert_alive(broker.addr()).await;
            }
            broker.shutdown().await;
        }));
    }
}
