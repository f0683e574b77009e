//! Test harness for byte-level protocol tests: an in-process broker on `127.0.0.1:0` with a fresh data
//! folder, and a minimal Kafka client that encodes requests with `kafka-protocol`, writes them to a real
//! `TcpStream` and decodes the length-prefixed responses (header and body, checking nothing is left over).
//!
//! Everything here panics with a message on failure: it only ever runs inside tests.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use indexmap::IndexMap;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, CreateTopicsResponse, MetadataRequest, MetadataResponse,
    ProduceRequest, ProduceResponse, RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, RecordSet,
    TimestampType,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use weir::{Broker, Config};

/// How long a single response may take before the test fails (long-poll tests pass their own bounds).
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);
/// Client id sent in every request header.
pub const CLIENT_ID: &str = "weir-protocol-tests";

/// Runs a test body with an upper bound on its duration.
pub async fn bounded<F: Future>(limit: Duration, body: F) -> F::Output {
    match tokio::time::timeout(limit, body).await {
        Ok(v) => v,
        Err(_) => panic!("test did not finish within {limit:?}"),
    }
}

/// A broker running in this process, with its own temporary data folder.
pub struct TestBroker {
    /// Taken by `shutdown`.
    broker: Option<Broker>,
    /// Where the broker listens (port chosen by the OS).
    addr: SocketAddr,
    /// The configuration it was started with (reused by `restart`).
    config: Config,
    /// Owned temporary data folder, removed on drop; `None` when the caller owns the folder (`start_in`).
    dir: Option<tempfile::TempDir>,
}

impl TestBroker {
    /// Starts a broker with default settings.
    pub async fn start() -> TestBroker {
        TestBroker::start_with(|_| {}).await
    }

    /// Starts a broker after letting the caller adjust its configuration.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestBroker {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut broker = TestBroker::start_in(dir.path(), adjust).await;
        broker.dir = Some(dir);
        broker
    }

    /// Starts a broker on a data folder the caller owns (and keeps after the broker is gone).
    pub async fn start_in(
        data_dir: &std::path::Path,
        adjust: impl FnOnce(&mut Config),
    ) -> TestBroker {
        let mut config = Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data_dir.to_path_buf(),
            // Weir creates every `__consumer_offsets` partition at start-up and fsyncs each at start and
            // shutdown; 50 of them make a start/stop cycle take ~2 s. One keeps the suite fast.
            offsets_topic_num_partitions: 1,
            ..Config::default()
        };
        adjust(&mut config);
        TestBroker::start_config(config, None).await
    }

    async fn start_config(config: Config, dir: Option<tempfile::TempDir>) -> TestBroker {
        let broker = Broker::start(config.clone()).await.expect("broker starts");
        TestBroker {
            addr: broker.local_addr(),
            broker: Some(broker),
            config,
            dir,
        }
    }

    /// Shuts down cleanly, then starts a new broker with the same configuration on the same data folder
    /// (on a new port).
    pub async fn restart(self) -> TestBroker {
        self.stop().await.start().await
    }

    /// Shuts down cleanly, keeping the data folder and configuration for a later [`StoppedBroker::start`].
    pub async fn stop(mut self) -> StoppedBroker {
        let dir = self.dir.take();
        let config = self.config.clone();
        self.shutdown().await;
        StoppedBroker { config, dir }
    }

    /// Drops the broker without shutting it down: no flush, no clean-shutdown marker. Its tasks keep
    /// running until their runtime is dropped, so a crash test must run this broker on a runtime of its
    /// own and drop that runtime before starting another broker on the same folder.
    pub fn abandon(mut self) {
        drop(self.broker.take());
    }

    /// The configuration it was started with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A new connection to this broker.
    pub async fn client(&self) -> Client {
        Client::connect(self.addr).await
    }

    /// Stops the broker and waits for it to finish cleanly.
    pub async fn shutdown(mut self) {
        if let Some(b) = self.broker.take() {
            tokio::time::timeout(Duration::from_secs(10), b.shutdown())
                .await
                .expect("broker shuts down within 10 s")
                .expect("clean shutdown");
        }
    }
}

/// A broker shut down by [`TestBroker::stop`], to be started again on the same folder.
pub struct StoppedBroker {
    config: Config,
    /// The owned data folder, kept alive while the broker is down.
    dir: Option<tempfile::TempDir>,
}

impl StoppedBroker {
    /// Starts a new broker with the same configuration on the same data folder (on a new port).
    pub async fn start(self) -> TestBroker {
        TestBroker::start_config(self.config, self.dir).await
    }
}

/// A free loopback address for a listener bound later (a controller's, or a broker's that must keep its
/// port across a restart). Chosen
/// below Linux's ephemeral range (32768+): a port taken from that range and released is soon reused as the
/// source port of some outgoing connection (the nodes and tests here make many), and the node then fails
/// to bind it. Successive calls walk the range from a random start, so tests in this process never pick
/// the same port twice.
pub fn free_addr() -> SocketAddr {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const COUNT: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let seed = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish() as u32
        % COUNT;
    let _ = NEXT.compare_exchange(u32::MAX, seed, Ordering::Relaxed, Ordering::Relaxed);
    for _ in 0..COUNT {
        let port = FIRST + NEXT.fetch_add(1, Ordering::Relaxed) % COUNT;
        if let Ok(l) = std::net::TcpListener::bind(("127.0.0.1", port as u16)) {
            return l.local_addr().expect("addr");
        }
    }
    panic!("no free port in {FIRST}..{}", FIRST + COUNT);
}

/// A field of this process's `/proc/self/status` in bytes (`VmRSS:`, `VmHWM:`): the broker under test runs
/// in this process, so memory tests read its growth here.
pub fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .expect("status field")
}

/// The API key of a request type.
pub fn api_key_of<R: Request>() -> ApiKey {
    ApiKey::try_from(R::KEY).expect("known api key")
}

/// Response header version: ApiVersions always answers with v0 (so clients can parse it before they know
/// which versions the broker speaks); every other API follows the crate's table.
pub fn response_header_version(api_key: ApiKey, version: i16) -> i16 {
    if api_key == ApiKey::ApiVersions {
        0
    } else {
        api_key.response_header_version(version)
    }
}

/// Encodes a complete request frame (length prefix included).
pub fn encode_request<R: Request>(version: i16, correlation_id: i32, body: &R) -> Bytes {
    let api_key = api_key_of::<R>();
    let header = RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str(CLIENT_ID)));
    let mut buf = BytesMut::new();
    buf.put_i32(0);
    header
        .encode(&mut buf, api_key.request_header_version(version))
        .unwrap_or_else(|e| panic!("encode {api_key:?} v{version} header: {e}"));
    body.encode(&mut buf, version)
        .unwrap_or_else(|e| panic!("encode {api_key:?} v{version} body: {e}"));
    let len = (buf.len() - 4) as i32;
    buf[0..4].copy_from_slice(&len.to_be_bytes());
    buf.freeze()
}

/// Decodes a response frame (without length prefix): header, then body, and nothing may be left over.
pub fn decode_response<M: Decodable>(
    api_key: ApiKey,
    version: i16,
    mut frame: Bytes,
) -> (ResponseHeader, M) {
    let header = ResponseHeader::decode(&mut frame, response_header_version(api_key, version))
        .unwrap_or_else(|e| panic!("decode {api_key:?} v{version} response header: {e}"));
    let body = M::decode(&mut frame, version)
        .unwrap_or_else(|e| panic!("decode {api_key:?} v{version} response body: {e}"));
    assert!(
        !frame.has_remaining(),
        "{api_key:?} v{version} response has {} trailing bytes",
        frame.remaining()
    );
    (header, body)
}

/// One connection speaking raw Kafka frames.
pub struct Client {
    /// The socket.
    stream: TcpStream,
    /// Correlation id of the next request.
    next_correlation_id: i32,
}

impl Client {
    /// Connects to a broker.
    pub async fn connect(addr: SocketAddr) -> Client {
        let stream = tokio::time::timeout(RESPONSE_TIMEOUT, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Client {
            stream,
            next_correlation_id: 1,
        }
    }

    /// Hands out the next correlation id.
    pub fn next_correlation_id(&mut self) -> i32 {
        let id = self.next_correlation_id;
        self.next_correlation_id += 1;
        id
    }

    /// Writes raw bytes to the socket.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
        self.stream.flush().await.expect("flush");
    }

    /// Like `send_raw`, but tolerates the broker having closed the connection already.
    pub async fn try_send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }

    /// Encodes and sends a request; returns its correlation id.
    pub async fn send<R: Request>(&mut self, version: i16, body: &R) -> i32 {
        let correlation_id = self.next_correlation_id();
        let frame = encode_request(version, correlation_id, body);
        self.send_raw(&frame).await;
        correlation_id
    }

    /// Reads one response frame (without its length prefix); None when the broker closed the connection.
    pub async fn recv_frame(&mut self) -> Option<Bytes> {
        tokio::time::timeout(RESPONSE_TIMEOUT, self.recv_frame_unbounded())
            .await
            .expect("response within the time limit")
    }

    /// Reads one response frame with no time limit (the caller bounds it).
    pub async fn recv_frame_unbounded(&mut self) -> Option<Bytes> {
        let mut len = [0u8; 4];
        match self.stream.read_exact(&mut len).await {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
                ) =>
            {
                return None
            }
            Err(e) => panic!("read: {e}"),
        }
        let len = i32::from_be_bytes(len);
        assert!(
            (0..64 << 20).contains(&len),
            "implausible response length {len}"
        );
        let mut buf = vec![0u8; len as usize];
        self.stream
            .read_exact(&mut buf)
            .await
            .expect("whole response frame");
        Some(Bytes::from(buf))
    }

    /// Reads only the length prefix of the next response frame (a client that stops reading there
    /// leaves the rest of the response to the broker).
    pub async fn recv_len(&mut self) -> i32 {
        let mut len = [0u8; 4];
        tokio::time::timeout(RESPONSE_TIMEOUT, self.stream.read_exact(&mut len))
            .await
            .expect("response within the time limit")
            .expect("length prefix");
        i32::from_be_bytes(len)
    }

    /// Reads the response to `correlation_id`, checking the header.
    pub async fn recv<R: Request>(&mut self, version: i16, correlation_id: i32) -> R::Response {
        let api_key = api_key_of::<R>();
        let frame = self.recv_frame().await.unwrap_or_else(|| {
            panic!("broker closed the connection instead of answering {api_key:?} v{version}")
        });
        let (header, body) = decode_response::<R::Response>(api_key, version, frame);
        assert_eq!(
            header.correlation_id, correlation_id,
            "{api_key:?} v{version}: correlation id"
        );
        body
    }

    /// Sends a request and returns its response.
    pub async fn call<R: Request>(&mut self, version: i16, body: &R) -> R::Response {
        let correlation_id = self.send(version, body).await;
        self.recv::<R>(version, correlation_id).await
    }

    /// Looks up `group`'s coordinator (FindCoordinator v3), as every client does before a group request;
    /// on a fresh broker this creates `__consumer_offsets`. Returns the coordinator's node id.
    pub async fn find_coordinator(&mut self, group: &str) -> i32 {
        let req = kafka_protocol::messages::FindCoordinatorRequest::default()
            .with_key(StrBytes::from_string(group.to_string()))
            .with_key_type(0);
        let resp = self.call(3, &req).await;
        assert_eq!(resp.error_code, 0, "FindCoordinator({group})");
        resp.node_id.0
    }

    /// Asserts that the broker closes this connection (without sending anything first).
    pub async fn expect_closed(&mut self) {
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(RESPONSE_TIMEOUT, self.stream.read(&mut buf))
            .await
            .expect("broker should close the connection promptly");
        match read {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Ok(n) => panic!(
                "expected the connection to close, got {n} bytes: {:?}",
                &buf[..n]
            ),
            Err(e) => panic!("expected a clean close, got {e}"),
        }
    }

    // ---- conveniences used by many tests (latest versions; the API matrix covers the others) ----

    /// Creates a topic with CreateTopics v7 and asserts success.
    pub async fn create_topic(&mut self, name: &str, partitions: i32) -> uuid::Uuid {
        self.create_topic_with_configs(name, partitions, &[]).await
    }

    /// Creates a topic with configs and asserts success; returns its id.
    pub async fn create_topic_with_configs(
        &mut self,
        name: &str,
        partitions: i32,
        configs: &[(&str, &str)],
    ) -> uuid::Uuid {
        let req = CreateTopicsRequest::default()
            .with_timeout_ms(30_000)
            .with_topics(vec![creatable_topic(name, partitions, 1, configs)]);
        let resp: CreateTopicsResponse = self.call(7, &req).await;
        assert_eq!(resp.topics.len(), 1);
        let t = &resp.topics[0];
        assert_eq!(
            t.error_code,
            0,
            "create {name}: {:?}",
            t.error_message.as_deref()
        );
        assert!(!t.topic_id.is_nil());
        t.topic_id
    }

    /// Metadata v12 for the given topics without auto-creation.
    pub async fn metadata(&mut self, topics: &[&str]) -> MetadataResponse {
        let req = MetadataRequest::default()
            .with_topics(Some(
                topics
                    .iter()
                    .map(|t| MetadataRequestTopic::default().with_name(Some(topic_name(t))))
                    .collect(),
            ))
            .with_allow_auto_topic_creation(false);
        self.call(12, &req).await
    }

    /// Produces one batch (acks=-1, Produce v9) and returns the partition response.
    pub async fn produce(
        &mut self,
        topic: &str,
        partition: i32,
        batch: Bytes,
    ) -> kafka_protocol::messages::produce_response::PartitionProduceResponse {
        let resp: ProduceResponse = self
            .call(9, &produce_request(topic, partition, batch, -1))
            .await;
        assert_eq!(resp.responses.len(), 1);
        assert_eq!(resp.responses[0].partition_responses.len(), 1);
        resp.responses[0].partition_responses[0].clone()
    }
}

/// A topic name.
pub fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

/// A string field.
pub fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// One CreateTopics entry.
pub fn creatable_topic(
    name: &str,
    partitions: i32,
    replication_factor: i16,
    configs: &[(&str, &str)],
) -> CreatableTopic {
    CreatableTopic::default()
        .with_name(topic_name(name))
        .with_num_partitions(partitions)
        .with_replication_factor(replication_factor)
        .with_configs(
            configs
                .iter()
                .map(|(k, v)| {
                    CreatableTopicConfig::default()
                        .with_name(str_bytes(k))
                        .with_value(Some(str_bytes(v)))
                })
                .collect(),
        )
}

/// A Produce request (by name, so valid for v3..=12) for one partition.
pub fn produce_request(topic: &str, partition: i32, batch: Bytes, acks: i16) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(topic_name(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(batch))])])
}

/// A record with CreateTime `timestamp`, for a non-idempotent producer.
///
/// The encoder starts a new batch whenever `offset - sequence` changes, so `sequence` follows the offset
/// (`offset - 1`): records at offsets 0.. share one batch whose base sequence is -1 (no producer id).
pub fn record(offset: i64, timestamp: i64, key: Option<&[u8]>, value: Option<&[u8]>) -> Record {
    Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset,
        sequence: (offset as i32).wrapping_sub(1),
        timestamp,
        key: key.map(Bytes::copy_from_slice),
        value: value.map(Bytes::copy_from_slice),
        headers: IndexMap::new(),
    }
}

/// Encodes records as one uncompressed magic-2 batch (offsets relative from 0).
pub fn encode_batch(records: &[Record]) -> Bytes {
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        records.iter(),
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .expect("encode batch");
    buf.freeze()
}

/// A batch of `count` records with values `"{tag}-{i}"` and timestamps `base_ts + i`.
pub fn value_batch(tag: &str, count: usize, base_ts: i64) -> Bytes {
    let values: Vec<String> = (0..count).map(|i| format!("{tag}-{i}")).collect();
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            record(
                i as i64,
                base_ts + i as i64,
                Some(format!("k{i}").as_bytes()),
                Some(v.as_bytes()),
            )
        })
        .collect();
    encode_batch(&records)
}

/// Decodes every batch in a fetched records blob.
pub fn decode_batches(records: &Bytes) -> Vec<RecordSet> {
    let mut buf = records.clone();
    RecordBatchDecoder::decode_all(&mut buf).expect("decode fetched batches")
}

/// Byte offsets of the fields of a v2 record batch header (Kafka's `DefaultRecordBatch`).
pub mod batch_layout {
    /// baseOffset: i64.
    pub const BASE_OFFSET: usize = 0;
    /// batchLength: i32 (bytes after this field).
    pub const LENGTH: usize = 8;
    /// partitionLeaderEpoch: i32.
    pub const PARTITION_LEADER_EPOCH: usize = 12;
    /// magic: i8.
    pub const MAGIC: usize = 16;
    /// crc: u32 (CRC-32C of attributes..end).
    pub const CRC: usize = 17;
    /// attributes: i16; first byte covered by the CRC.
    pub const ATTRIBUTES: usize = 21;
    /// lastOffsetDelta: i32.
    pub const LAST_OFFSET_DELTA: usize = 23;
    /// Size of the header before the records.
    pub const HEADER_BYTES: usize = 61;
}

/// Splits a records blob into its batches' raw bytes.
pub fn split_batches(records: &Bytes) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut rest = records.clone();
    while rest.len() >= 12 {
        let len = i32::from_be_bytes(rest[8..12].try_into().expect("4 bytes")) as usize;
        let total = 12 + len;
        assert!(rest.len() >= total, "truncated batch in fetched records");
        out.push(rest.split_to(total));
    }
    assert!(rest.is_empty(), "stray bytes after the last batch");
    out
}

/// The base offset stamped in a batch.
pub fn batch_base_offset(batch: &[u8]) -> i64 {
    i64::from_be_bytes(batch[0..8].try_into().expect("8 bytes"))
}

/// Whether two batches are byte-identical apart from the fields the broker stamps (base offset and
/// partition leader epoch, both outside the CRC).
pub fn same_batch_except_stamped(sent: &[u8], fetched: &[u8]) -> bool {
    use batch_layout::*;
    sent.len() == fetched.len()
        && sent[LENGTH..PARTITION_LEADER_EPOCH] == fetched[LENGTH..PARTITION_LEADER_EPOCH]
        && sent[MAGIC..] == fetched[MAGIC..]
}

/// A nullable topic name as `&str`.
pub fn opt_name(name: &Option<TopicName>) -> Option<&str> {
    name.as_ref().map(|n| n.0.as_str())
}
