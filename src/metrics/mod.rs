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
    /// Errors the broker's error mapping produced, by code.
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
            errors: (0..ERROR_CODES).map(|_| AtomicU64::new(0)).collect(),
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

    /// Counts an error code the broker answered with (0 is not an error).
    pub fn error(&self, code: i16) {
        if code == 0 {
            return;
        }
        if let Some(c) = usize::try_from(i32::from(code) + 1)
            .ok()
            .and_then(|i| self.errors.get(i))
        {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The process-wide metrics.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}
