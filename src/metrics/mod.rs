//! Broker metrics: hot-path counters and histograms are plain atomics in one process-wide table (no lock
//! or map lookup per request); everything else (partitions, groups, lag, process) is read from the
//! broker's public state when `/metrics` is scraped. `admin` serves them with `/healthz` and `/readyz`.

pub mod admin;
pub mod histogram;
mod scrape;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use histogram::{CountHistogram, Histogram};

/// API keys counted (Kafka's keys are below this).
pub const API_KEYS: usize = 96;
/// Versions counted per API.
pub const API_VERSIONS: usize = 24;
/// Error codes counted: -1 (UNKNOWN_SERVER_ERROR) .. 126, at index code + 1.
const ERROR_CODES: usize = 128;

/// Process-wide counters. One broker per process in production; tests with several in-process brokers
/// share them (as they share the process).
pub struct Metrics {
    /// When the process started counting (uptime).
    pub started: Instant,
    /// Requests by API key and version.
    requests: Box<[[AtomicU64; API_VERSIONS]]>,
    /// Request bytes in by API key (frame sizes).
    request_bytes: Box<[AtomicU64]>,
    /// Response bytes out by API key (frame sizes).
    response_bytes: Box<[AtomicU64]>,
    /// Time from a request's frame being read to its response written, by API key.
    latency_total: Box<[Histogram]>,
    /// Time in the handler (dispatch) by API key.
    latency_handler: Box<[Histogram]>,
    /// Time a reply waited after the handler (fsync for acks=all produce, long-poll fetch), by API key.
    latency_wait: Box<[Histogram]>,
    /// Time from a reply being ready to its last byte written (Kafka's response queue and send time:
    /// behind earlier replies of the connection, then the socket), by API key.
    latency_send: Box<[Histogram]>,
    /// Error codes responses carried, by API key and code (`ERROR_CODES` per key), counted where every
    /// response is encoded (`protocol::encode_response_with_records`).
    errors: Box<[AtomicU64]>,
    /// Connections accepted.
    pub connections_created: AtomicU64,
    /// Connections closed.
    pub connections_closed: AtomicU64,
    /// Duration of one partition flush (fdatasync) by the flusher.
    pub flush_latency: Histogram,
    /// Partitions synced per flusher cycle (the group-commit batch).
    pub flush_batch_partitions: CountHistogram,
}

/// Where one request's time went, from its frame being read to its response written.
#[derive(Debug, Clone, Copy)]
pub struct Stages {
    /// In the handler.
    pub handler: Duration,
    /// Waiting after the handler (fsync for acks=all, long poll).
    pub wait: Duration,
    /// From ready to written.
    pub send: Duration,
    /// All of it.
    pub total: Duration,
}

impl Metrics {
    fn new() -> Metrics {
        Metrics {
            started: Instant::now(),
            requests: (0..API_KEYS).map(|_| Default::default()).collect(),
            request_bytes: (0..API_KEYS).map(|_| AtomicU64::new(0)).collect(),
            response_bytes: (0..API_KEYS).map(|_| AtomicU64::new(0)).collect(),
            latency_total: (0..API_KEYS).map(|_| Histogram::default()).collect(),
            latency_handler: (0..API_KEYS).map(|_| Histogram::default()).collect(),
            latency_wait: (0..API_KEYS).map(|_| Histogram::default()).collect(),
            latency_send: (0..API_KEYS).map(|_| Histogram::default()).collect(),
            errors: (0..API_KEYS * ERROR_CODES)
                .map(|_| AtomicU64::new(0))
                .collect(),
            connections_created: AtomicU64::new(0),
            connections_closed: AtomicU64::new(0),
            flush_latency: Histogram::default(),
            flush_batch_partitions: CountHistogram::default(),
        }
    }

    /// Counts a decoded request and its frame size.
    pub fn request(&self, api_key: i16, version: i16, frame_bytes: usize) {
        let (Ok(k), Ok(v)) = (usize::try_from(api_key), usize::try_from(version)) else {
            return;
        };
        if let Some(row) = self.requests.get(k) {
            if let Some(c) = row.get(v) {
                c.fetch_add(1, Ordering::Relaxed);
            }
            self.request_bytes[k].fetch_add(frame_bytes as u64, Ordering::Relaxed);
        }
    }

    /// Records a response: its size and the request's stage times.
    pub fn response(&self, api_key: i16, bytes: usize, stages: Stages) {
        let Stages {
            handler,
            wait,
            send,
            total,
        } = stages;
        let Some(k) = usize::try_from(api_key).ok().filter(|k| *k < API_KEYS) else {
            return;
        };
        self.response_bytes[k].fetch_add(bytes as u64, Ordering::Relaxed);
        self.latency_handler[k].observe(handler);
        self.latency_wait[k].observe(wait);
        self.latency_send[k].observe(send);
        self.latency_total[k].observe(total);
    }

    /// Counts an error code a response of `api_key` carried (0, NONE, is not an error; codes outside
    /// the table are not counted).
    pub fn error(&self, api_key: i16, code: i16) {
        if code == 0 {
            return;
        }
        let (Ok(k), Ok(c)) = (
            usize::try_from(api_key),
            usize::try_from(i32::from(code) + 1),
        ) else {
            return;
        };
        if k < API_KEYS && c < ERROR_CODES {
            self.errors[k * ERROR_CODES + c].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How many times responses of `api_key` carried `code`.
    pub fn error_count(&self, api_key: i16, code: i16) -> u64 {
        self.error_counts()
            .find(|(k, c, _)| *k as i16 == api_key && *c == code)
            .map_or(0, |(_, _, n)| n)
    }

    /// Counts of error codes answered: (api key, code, count) for every nonzero count.
    fn error_counts(&self) -> impl Iterator<Item = (usize, i16, u64)> + '_ {
        self.errors.iter().enumerate().filter_map(|(i, n)| {
            let n = n.load(Ordering::Relaxed);
            let code = i16::try_from(i % ERROR_CODES).ok()? - 1;
            (n > 0).then_some((i / ERROR_CODES, code, n))
        })
    }
}

/// The process-wide metrics.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}
