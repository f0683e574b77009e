//! One `/metrics` scrape: a snapshot of the hot-path atomics and of broker state (partitions, groups,
//! lag, process), encoded in the Prometheus text format by prometheus-client.

use std::collections::BTreeMap;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::{global, API_KEYS, API_VERSIONS};
use crate::handler::Ctx;

/// Groups whose lag is exported per partition; a bound on scrape cost and series count.
const LAG_GROUPS_MAX: usize = 1000;

type Labels = Vec<(String, String)>;
/// A histogram's (sum, count, per-bucket counts with upper bounds).
type HistogramValue = (f64, u64, Vec<(f64, u64)>);

/// Labelled values of one metric family.
#[derive(Debug)]
enum Values {
    Counter(Vec<(Labels, u64)>),
    Gauge(Vec<(Labels, f64)>),
    Histogram(Vec<(Labels, HistogramValue)>),
}

/// One metric family.
#[derive(Debug)]
struct Family {
    name: &'static str,
    help: &'static str,
    values: Values,
}

/// Everything one scrape shows; encoded by the `Collector` impl.
#[derive(Debug, Default)]
struct Snapshot {
    families: Vec<Family>,
}

impl Snapshot {
    fn counter(&mut self, name: &'static str, help: &'static str, v: Vec<(Labels, u64)>) {
        self.families.push(Family {
            name,
            help,
            values: Values::Counter(v),
        });
    }
    fn gauge(&mut self, name: &'static str, help: &'static str, v: Vec<(Labels, f64)>) {
        self.families.push(Family {
            name,
            help,
            values: Values::Gauge(v),
        });
    }
    fn histogram(
        &mut self,
        name: &'static str,
        help: &'static str,
        v: Vec<(Labels, HistogramValue)>,
    ) {
        self.families.push(Family {
            name,
            help,
            values: Values::Histogram(v),
        });
    }
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for f in &self.families {
            let kind = match f.values {
                Values::Counter(_) => MetricType::Counter,
                Values::Gauge(_) => MetricType::Gauge,
                Values::Histogram(_) => MetricType::Histogram,
            };
            let mut m = encoder.encode_descriptor(f.name, f.help, None, kind)?;
            match &f.values {
                Values::Counter(v) => {
                    for (labels, n) in v {
                        ConstCounter::new(*n).encode(m.encode_family(labels)?)?;
                    }
                }
                Values::Gauge(v) => {
                    for (labels, n) in v {
                        ConstGauge::new(*n).encode(m.encode_family(labels)?)?;
                    }
                }
                Values::Histogram(v) => {
                    for (labels, (sum, count, buckets)) in v {
                        m.encode_family(labels)?
                            .encode_histogram::<NoLabelSet>(*sum, *count, buckets, None)?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn l(pairs: &[(&str, String)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// Renders `/metrics`; `ctx` is `None` while the broker is still recovering (process metrics only).
pub async fn render(ctx: Option<Arc<Ctx>>) -> String {
    let mut s = Snapshot::default();
    hot_path(&mut s);
    process(&mut s);
    if let Some(ctx) = ctx {
        broker_state(&mut s, &ctx).await;
    }
    let mut registry = Registry::default();
    registry.register_collector(Box::new(s));
    let mut out = String::new();
    if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
        out.clear();
    }
    out
}

fn api(k: usize) -> String {
    crate::protocol::api_name(k as i16).unwrap_or_else(|| k.to_string())
}

fn hot_path(s: &mut Snapshot) {
    let m = global();
    let mut requests = Vec::new();
    for k in 0..API_KEYS {
        for v in 0..API_VERSIONS {
            let n = m.requests[k][v].load(std::sync::atomic::Ordering::Relaxed);
            if n > 0 {
                requests.push((l(&[("api", api(k)), ("version", v.to_string())]), n));
            }
        }
    }
    s.counter(
        "weir_requests",
        "Requests by API and version (Kafka's RequestsPerSec).",
        requests,
    );
    let per_api = |c: &[std::sync::atomic::AtomicU64]| -> Vec<(Labels, u64)> {
        c.iter()
            .enumerate()
            .map(|(k, n)| (k, n.load(std::sync::atomic::Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| (l(&[("api", api(k))]), n))
            .collect()
    };
    s.counter(
        "weir_request_bytes",
        "Request bytes received, by API.",
        per_api(&m.request_bytes),
    );
    s.counter(
        "weir_response_bytes",
        "Response bytes sent, by API.",
        per_api(&m.response_bytes),
    );
    let mut latency = Vec::new();
    for (stage, hs) in [
        ("total", &m.latency_total),
        ("handler", &m.latency_handler),
        ("wait", &m.latency_wait),
        ("send", &m.latency_send),
    ] {
        for (k, h) in hs.iter().enumerate().filter(|(_, h)| !h.is_empty()) {
            latency.push((l(&[("api", api(k)), ("stage", stage.into())]), h.snapshot()));
        }
    }
    s.histogram(
        "weir_request_duration_seconds",
        "Request time by API and stage: handler, wait (fsync for acks=all, long-poll), send (ready to written: behind earlier replies, then the socket), total (frame read to response written).",
        latency,
    );
    let errors: Vec<(Labels, u64)> = m
        .error_counts()
        .map(|(k, code, n)| {
            (
                l(&[
                    ("api", api(k)),
                    ("code", code.to_string()),
                    ("error", crate::protocol::error_name(code)),
                ]),
                n,
            )
        })
        .collect();
    s.counter(
        "weir_errors",
        "Error codes responses carried (every top-level and per-partition field the version encodes), by API and code (Kafka's ErrorsPerSec; NONE is not counted).",
        errors,
    );
    let created = m
        .connections_created
        .load(std::sync::atomic::Ordering::Relaxed);
    let closed = m
        .connections_closed
        .load(std::sync::atomic::Ordering::Relaxed);
    s.counter(
        "weir_connections_created",
        "Connections accepted.",
        vec![(vec![], created)],
    );
    s.counter(
        "weir_connections_closed",
        "Connections closed.",
        vec![(vec![], closed)],
    );
    s.gauge(
        "weir_connections_open",
        "Connections open now.",
        vec![(vec![], created.saturating_sub(closed) as f64)],
    );
    s.histogram(
        "weir_log_flush_duration_seconds",
        "One partition flush (fdatasync) by the flusher (Kafka's LogFlushRateAndTimeMs).",
        vec![(vec![], m.flush_latency.snapshot())],
    );
    s.histogram(
        "weir_log_flush_batch_partitions",
        "Partitions synced per flusher cycle (group commit: each sync covers every batch written before it).",
        vec![(vec![], m.flush_batch_partitions.snapshot())],
    );
}

fn process(s: &mut Snapshot) {
    let m = global();
    s.gauge(
        "weir_uptime_seconds",
        "Seconds since the process started serving.",
        vec![(vec![], m.started.elapsed().as_secs_f64())],
    );
    if let Some(rss) = rss_bytes() {
        s.gauge(
            "process_resident_memory_bytes",
            "Resident memory.",
            vec![(vec![], rss as f64)],
        );
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        s.gauge(
            "process_open_fds",
            "Open file descriptors.",
            vec![(vec![], fds.count() as f64)],
        );
    }
}

/// Resident set size from `/proc/self/status` (`VmRSS`, in kB).
fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// One partition's figures.
struct PartitionFigures {
    topic: String,
    partition: i32,
    offsets: crate::log::Offsets,
    size_bytes: u64,
    segments: u64,
    stats: crate::log::partition::IoStatsSnapshot,
}

async fn broker_state(s: &mut Snapshot, ctx: &Arc<Ctx>) {
    let store = ctx.cluster.store().clone();
    // Folder listings touch the disk: off the tokio workers.
    let parts = tokio::task::spawn_blocking(move || {
        store
            .partitions()
            .iter()
            .map(|p| {
                let (size_bytes, segments) = segment_files(p.dir());
                PartitionFigures {
                    topic: p.topic().to_string(),
                    partition: p.partition(),
                    offsets: p.offsets(),
                    size_bytes,
                    segments,
                    stats: p.io_stats(),
                }
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    let mut parts = parts;
    parts.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    partitions(s, &parts);
    let sessions = ctx
        .fetch_sessions
        .lock()
        .map(|c| c.len())
        .unwrap_or_default();
    s.gauge(
        "weir_fetch_sessions",
        "Incremental fetch sessions cached.",
        vec![(vec![], sessions as f64)],
    );
    groups(s, ctx, &parts).await;
}

/// Total bytes and count of a partition folder's `.log` segment files.
fn segment_files(dir: &std::path::Path) -> (u64, u64) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (0, 0);
    };
    entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
        .fold((0, 0), |(b, n), e| {
            (b + e.metadata().map_or(0, |m| m.len()), n + 1)
        })
}

fn partitions(s: &mut Snapshot, parts: &[PartitionFigures]) {
    let pl = |p: &PartitionFigures| {
        l(&[
            ("topic", p.topic.clone()),
            ("partition", p.partition.to_string()),
        ])
    };
    let g = |f: &dyn Fn(&PartitionFigures) -> f64| -> Vec<(Labels, f64)> {
        parts.iter().map(|p| (pl(p), f(p))).collect()
    };
    s.gauge(
        "weir_partition_log_start_offset",
        "First readable offset.",
        g(&|p| p.offsets.log_start as f64),
    );
    s.gauge(
        "weir_partition_log_end_offset",
        "Offset the next record gets.",
        g(&|p| p.offsets.log_end as f64),
    );
    s.gauge(
        "weir_partition_high_watermark",
        "High watermark.",
        g(&|p| p.offsets.high_watermark as f64),
    );
    s.gauge(
        "weir_partition_size_bytes",
        "Bytes of the partition's segment files.",
        g(&|p| p.size_bytes as f64),
    );
    s.gauge(
        "weir_partition_segments",
        "Segment files.",
        g(&|p| p.segments as f64),
    );
    let mut topics: BTreeMap<&str, crate::log::partition::IoStatsSnapshot> = BTreeMap::new();
    for p in parts {
        let t = topics.entry(&p.topic).or_default();
        t.bytes_in += p.stats.bytes_in;
        t.records_in += p.stats.records_in;
        t.bytes_out += p.stats.bytes_out;
    }
    let per_topic =
        |f: &dyn Fn(&crate::log::partition::IoStatsSnapshot) -> u64| -> Vec<(Labels, u64)> {
            topics
                .iter()
                .map(|(t, v)| (l(&[("topic", t.to_string())]), f(v)))
                .collect()
        };
    s.counter(
        "weir_topic_bytes_in",
        "Record-batch bytes appended, by topic (Kafka's BytesInPerSec; since start).",
        per_topic(&|v| v.bytes_in),
    );
    s.counter(
        "weir_topic_records_in",
        "Records appended, by topic (Kafka's MessagesInPerSec; since start).",
        per_topic(&|v| v.records_in),
    );
    s.counter(
        "weir_topic_bytes_out",
        "Record-batch bytes read for fetches, by topic (Kafka's BytesOutPerSec; since start).",
        per_topic(&|v| v.bytes_out),
    );
}

async fn groups(s: &mut Snapshot, ctx: &Arc<Ctx>, parts: &[PartitionFigures]) {
    let Ok(listing) = ctx.groups.list_groups(&[]).await else {
        return;
    };
    let mut by_state: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut members = Vec::new();
    let mut lag = Vec::new();
    let mut committed = Vec::new();
    let hw: BTreeMap<(&str, i32), i64> = parts
        .iter()
        .map(|p| ((p.topic.as_str(), p.partition), p.offsets.high_watermark))
        .collect();
    for g in listing.iter().take(LAG_GROUPS_MAX) {
        *by_state.entry(g.state.as_str()).or_default() += 1;
        if let Ok(d) = ctx.groups.describe_group(&g.group_id).await {
            members.push((l(&[("group", g.group_id.clone())]), d.members.len() as f64));
        }
        let Ok(offsets) = ctx.groups.fetch_offsets(&g.group_id, None).await else {
            continue;
        };
        for o in offsets.iter().filter(|o| o.offset >= 0) {
            let labels = l(&[
                ("group", g.group_id.clone()),
                ("topic", o.topic.clone()),
                ("partition", o.partition.to_string()),
            ]);
            committed.push((labels.clone(), o.offset as f64));
            if let Some(end) = hw.get(&(o.topic.as_str(), o.partition)) {
                lag.push((labels, (end - o.offset).max(0) as f64));
            }
        }
    }
    for g in listing.iter().skip(LAG_GROUPS_MAX) {
        *by_state.entry(g.state.as_str()).or_default() += 1;
    }
    let states = by_state
        .into_iter()
        .map(|(st, n)| (l(&[("state", st.to_string())]), n as f64))
        .collect();
    s.gauge("weir_groups", "Consumer groups by state.", states);
    s.gauge("weir_group_members", "Members of each group.", members);
    s.gauge(
        "weir_group_committed_offset",
        "Committed offset per group and partition.",
        committed,
    );
    s.gauge(
        "weir_group_lag",
        "High watermark minus committed offset, per group and partition (Kafka's records-lag).",
        lag,
    );
}
