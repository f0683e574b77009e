//! The web console: server-rendered HTML pages (cluster, topics, a topic's messages, groups with lag),
//! built only from what the Kafka protocol tells — with the same `client` the CLI uses — so the same
//! pages serve a broker's admin port (pointed at its own Kafka listener) and `weir console --bootstrap`
//! (pointed at any Kafka-compatible cluster). Only what the protocol does not carry comes from the
//! process serving the pages ([`Local`]: a broker's version and uptime) and the produce-rate history
//! ([`rates`]). No scripts and no external assets: pages refresh themselves every few seconds.
//! Read-only unless `admin.console.write.enabled=true` ([`write`]).

mod html;
pub mod rates;
pub mod write;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::cli::group::describe as describe_group;
use crate::client::admin::{Resource, TopicInfo, EARLIEST, LATEST};
use crate::client::records::{read_records, InRecord};
use crate::client::{Client, ClientError};
use crate::http::{Request, Response};
use html::{esc, Page, Table};

/// Records shown per message page (never the whole log).
const PAGE_RECORDS_MAX: usize = 50;
/// Time limit of each Kafka request the console makes.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What the console serves from.
#[derive(Debug, Clone)]
pub struct ConsoleInfo {
    /// Bootstrap servers (`host:port`, comma-separated) of the cluster shown.
    pub bootstrap: String,
    /// Records/s appended per topic, oldest first (see [`rates`]).
    pub rates: BTreeMap<String, Vec<f64>>,
    /// `admin.console.write.enabled`: pages offer, and POSTs carry out, changes to the cluster.
    pub write_enabled: bool,
    /// What only a broker serving its own console knows; `None` for `weir console`.
    pub local: Option<Local>,
}

/// Facts about the broker serving the console that the Kafka protocol does not carry.
#[derive(Debug, Clone)]
pub struct Local {
    /// Seconds since the broker started.
    pub uptime_s: u64,
}

/// Answers a console request: GET renders a page, POST runs a write action ([`write`]); 404 for paths
/// that are neither.
pub async fn serve(req: &Request, info: &ConsoleInfo) -> Response {
    let page = if req.method == "POST" {
        write::act(&req.path, &req.query, info).await
    } else {
        render(&req.path, &req.query, info).await
    };
    match page {
        // `weir console` serves no `/metrics` (each broker's admin port does).
        Some((status, html)) if info.local.is_none() => {
            Response::html(status, html.replacen(html::METRICS_LINK, "", 1))
        }
        Some((status, html)) => Response::html(status, html),
        None => Response::text(404, "not found\n"),
    }
}

/// Renders the page for `path`; `None` when it is not a console page. Returns (status, HTML).
pub async fn render(path: &str, query: &str, info: &ConsoleInfo) -> Option<(u16, String)> {
    let result = match path {
        "/" => overview(info).await,
        "/topics" => topics(info).await,
        "/groups" => groups(info).await,
        p if p.starts_with("/topics/") => topic(info, &decode(&p["/topics/".len()..]), query).await,
        p if p.starts_with("/groups/") => group(info, &decode(&p["/groups/".len()..])).await,
        _ => return None,
    };
    Some(match result {
        Ok(html) => (200, html),
        Err(e) => {
            let mut p = Page::new("Error");
            p.push(&format!("<p class=err>{}</p>", esc(&e.to_string())));
            (502, p.finish())
        }
    })
}

async fn connect(info: &ConsoleInfo) -> Result<Client, ClientError> {
    Client::connect(&info.bootstrap, REQUEST_TIMEOUT).await
}

async fn overview(info: &ConsoleInfo) -> Result<String, ClientError> {
    let mut c = connect(info).await?;
    let m = c.metadata(Some(&[])).await?;
    let mut p = Page::new("Cluster");
    let mut t = Table::new(&["", ""]);
    t.row(&[
        "Cluster id",
        &m.cluster_id.map(|s| s.to_string()).unwrap_or_default(),
    ]);
    t.row(&["Controller", &m.controller_id.0.to_string()]);
    let features: Vec<String> = c
        .any()
        .features()
        .iter()
        .map(|(name, level)| format!("{name}={level}"))
        .collect();
    match &info.local {
        Some(local) => {
            t.row(&["Version", concat!("weir ", env!("CARGO_PKG_VERSION"))]);
            t.row(&["Uptime", &format!("{} s", local.uptime_s)]);
        }
        // Kafka's protocol carries no broker version or start time.
        None => t.row(&["Version", "(not in the Kafka protocol)"]),
    }
    if !features.is_empty() {
        t.row(&["Features", &features.join(", ")]);
    }
    p.push(&t.render("overview"));
    p.push("<h2>Brokers</h2>");
    let mut t = Table::new(&["Broker", "Host", "Port", "Rack"]);
    for b in c.broker_addrs() {
        t.row(&[
            &b.id.to_string(),
            &b.host,
            &b.port.to_string(),
            b.rack.as_deref().unwrap_or("-"),
        ]);
    }
    p.push(&t.render("brokers"));
    p.push("<h2>Disk used per log dir</h2>");
    let mut t = Table::new(&["Broker", "Log dir", "Partitions", "Used", "Free of total"]);
    for d in c.log_dirs().await? {
        let status = match d.error_code {
            0 => String::new(),
            code => format!(" ({})", crate::client::error::code_name(code)),
        };
        t.row(&[
            &d.broker.to_string(),
            &format!("{}{status}", d.path),
            &d.partitions.len().to_string(),
            &bytes(d.used_bytes()),
            &d.space
                .map(|(total, usable)| format!("{} of {}", bytes(usable), bytes(total)))
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    p.push(&t.render("logdirs"));
    Ok(p.finish())
}

/// Bytes of each partition's leader replica (a topic's size counted once, not once per replica).
async fn leader_sizes(
    c: &mut Client,
    topics: &[TopicInfo],
) -> Result<HashMap<(String, i32), u64>, ClientError> {
    let leaders: HashMap<(&str, i32), i32> = topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(|p| ((t.name.as_str(), p.partition), p.leader))
        })
        .collect();
    let mut out = HashMap::new();
    for d in c.log_dirs().await? {
        for (topic, partition, size) in d.partitions {
            if leaders.get(&(topic.as_str(), partition)) == Some(&d.broker) {
                out.insert((topic, partition), size);
            }
        }
    }
    Ok(out)
}

async fn topics(info: &ConsoleInfo) -> Result<String, ClientError> {
    let mut c = connect(info).await?;
    let all = c.topics(None).await?;
    let starts = c.offsets_of(&all, EARLIEST).await?;
    let ends = c.offsets_of(&all, LATEST).await?;
    let sizes = leader_sizes(&mut c, &all).await?;
    let mut p = Page::new("Topics");
    let mut t = Table::new(&[
        "Topic",
        "Partitions",
        "Replicas",
        "Records",
        "Size",
        "Internal",
        "Produce rate",
    ]);
    for topic in &all {
        let key = |x: &crate::client::admin::PartitionInfo| (topic.name.clone(), x.partition);
        let records: i64 = topic
            .partitions
            .iter()
            .filter_map(|x| Some((ends.get(&key(x))? - starts.get(&key(x))?).max(0)))
            .sum();
        let size: u64 = topic
            .partitions
            .iter()
            .filter_map(|x| sizes.get(&key(x)))
            .sum();
        t.row_html(&[
            format!(
                "<a href=\"/topics/{}\">{}</a>",
                enc(&topic.name),
                esc(&topic.name)
            ),
            topic.partitions.len().to_string(),
            topic
                .partitions
                .first()
                .map_or(0, |x| x.replicas.len())
                .to_string(),
            records.to_string(),
            bytes(size),
            if topic.internal {
                "yes".into()
            } else {
                String::new()
            },
            sparkline(info.rates.get(&topic.name).map_or(&[][..], Vec::as_slice)),
        ]);
    }
    p.push(&t.render("topics"));
    Ok(p.finish())
}

/// Query parameters of a topic page.
struct Browse {
    partition: i32,
    offset: Option<i64>,
    timestamp: Option<i64>,
    format: String,
}

fn browse(query: &str) -> Browse {
    let mut b = Browse {
        partition: 0,
        offset: None,
        timestamp: None,
        format: "text".into(),
    };
    for (k, v) in query.split('&').filter_map(|kv| kv.split_once('=')) {
        match k {
            "partition" => b.partition = v.parse().unwrap_or(0),
            "offset" => b.offset = v.parse().ok(),
            "timestamp" => b.timestamp = v.parse().ok(),
            "format" if ["text", "json", "hex"].contains(&v) => b.format = v.to_string(),
            _ => {}
        }
    }
    b
}

async fn topic(info: &ConsoleInfo, name: &str, query: &str) -> Result<String, ClientError> {
    let mut c = connect(info).await?;
    let t = c
        .topics(Some(&[name.to_string()]))
        .await?
        .pop()
        .ok_or_else(|| ClientError::Config(format!("no topic {name}")))?;
    let parts: Vec<i32> = t.partitions.iter().map(|x| x.partition).collect();
    let range = c.offset_range(name, &parts).await?;
    let sizes = leader_sizes(&mut c, std::slice::from_ref(&t)).await?;
    let mut p = Page::new(&format!("Topic {name}"));
    let mut table = Table::new(&[
        "Partition",
        "Leader",
        "Replicas",
        "ISR",
        "Log start",
        "High watermark",
        "Size",
    ]);
    for x in &t.partitions {
        let (s, e) = range.get(&x.partition).copied().unwrap_or((-1, -1));
        let size = sizes.get(&(name.to_string(), x.partition)).copied();
        table.row(&[
            &x.partition.to_string(),
            &x.leader.to_string(),
            &crate::cli::output::ids(&x.replicas),
            &crate::cli::output::ids(&x.isr),
            &s.to_string(),
            &e.to_string(),
            &size.map_or_else(|| "-".into(), bytes),
        ]);
    }
    p.push(&table.render("partitions"));
    let configs = c
        .describe_configs(&Resource::Topic(name.to_string()), &[])
        .await?;
    let mut table = Table::new(&["Config", "Value", "Source"]);
    for e in &configs {
        table.row(&[&e.name, e.value.as_deref().unwrap_or("(null)"), e.source]);
    }
    p.push("<details><summary>Configs</summary>");
    p.push(&table.render("configs"));
    p.push("</details>");
    if info.write_enabled {
        p.push(&write::button(
            &format!("/topics/{}/delete", enc(name)),
            "Delete topic",
        ));
    }
    let b = browse(query);
    let (start, end) = range.get(&b.partition).copied().unwrap_or((0, 0));
    let from = match (b.offset, b.timestamp) {
        (Some(o), _) => o.clamp(start, end),
        (None, Some(ts)) => c
            .list_offsets(name, &[(b.partition, ts)])
            .await?
            .get(&b.partition)
            .map(|v| v.0)
            .filter(|o| *o >= 0)
            .unwrap_or(end),
        // Default: the last page of the partition.
        (None, None) => (end - PAGE_RECORDS_MAX as i64).max(start),
    };
    p.push(&format!(
        "<h2>Messages</h2><form method=get>partition <input name=partition size=4 value={}> \
         offset <input name=offset size=10 value={from}> or timestamp (ms) <input name=timestamp size=14> \
         as <select name=format>{}</select> <button>Show</button></form>",
        b.partition,
        ["text", "json", "hex"]
            .iter()
            .map(|f| format!("<option{}>{f}</option>", if *f == b.format { " selected" } else { "" }))
            .collect::<String>()
    ));
    let records = page_of(&mut c, name, &t, b.partition, from, end).await?;
    let mut m = Table::new(&["Offset", "Timestamp", "Key", "Value", "Headers"]);
    for r in &records {
        let headers: Vec<String> = r
            .headers
            .iter()
            .map(|(k, v)| format!("{k}={}", show(v, &b.format)))
            .collect();
        m.row(&[
            &r.offset.to_string(),
            &r.timestamp_ms.to_string(),
            &show(&r.key, &b.format),
            &show(&r.value, &b.format),
            &headers.join(", "),
        ]);
    }
    p.push(&format!(
        "<p>{} record(s) from offset {from} of partition {} (at most {PAGE_RECORDS_MAX} per page; log {start}..{end}).</p>",
        records.len(),
        b.partition
    ));
    p.push(&m.render("messages"));
    Ok(p.finish())
}

/// One page of records from `from` (bounded: one fetch, at most `PAGE_RECORDS_MAX` records).
async fn page_of(
    c: &mut Client,
    name: &str,
    t: &crate::client::admin::TopicInfo,
    partition: i32,
    from: i64,
    end: i64,
) -> Result<Vec<InRecord>, ClientError> {
    if from >= end {
        return Ok(Vec::new());
    }
    let Some(leader) = t
        .partitions
        .iter()
        .find(|x| x.partition == partition)
        .map(|x| x.leader)
    else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for f in c.fetch(name, leader, &[(partition, from)]).await? {
        ClientError::check(f.error_code, None)?;
        read_records(f.partition, &f.records, from, &mut out)?;
    }
    out.truncate(PAGE_RECORDS_MAX);
    Ok(out)
}

async fn groups(info: &ConsoleInfo) -> Result<String, ClientError> {
    let mut c = connect(info).await?;
    let mut p = Page::new("Consumer groups");
    let mut t = Table::new(&["Group", "State", "Members", "Total lag"]);
    for g in c.list_groups().await? {
        let d = describe_group(&mut c, &g.group).await?;
        t.row_html(&[
            format!(
                "<a href=\"/groups/{}\">{}</a>",
                enc(&g.group),
                esc(&g.group)
            ),
            esc(&d.group.state),
            d.group.members.len().to_string(),
            d.total_lag.to_string(),
        ]);
    }
    p.push(&t.render("groups"));
    Ok(p.finish())
}

async fn group(info: &ConsoleInfo, name: &str) -> Result<String, ClientError> {
    let mut c = connect(info).await?;
    let d = describe_group(&mut c, name).await?;
    let mut p = Page::new(&format!("Group {name}"));
    let mut t = Table::new(&["", ""]);
    t.row(&["State", &d.group.state]);
    t.row(&[
        "Protocol",
        &format!("{} {}", d.group.protocol_type, d.group.protocol),
    ]);
    t.row(&["Coordinator", &d.group.coordinator.to_string()]);
    t.row(&["Total lag", &d.total_lag.to_string()]);
    p.push(&t.render("summary"));
    p.push("<h2>Members</h2>");
    let mut t = Table::new(&["Member", "Client", "Host", "Assignment"]);
    for m in &d.group.members {
        let a: Vec<String> = m
            .assignment
            .iter()
            .map(|(t, p)| format!("{t}-{p}"))
            .collect();
        t.row(&[&m.member_id, &m.client_id, &m.host, &a.join(", ")]);
    }
    p.push(&t.render("members"));
    p.push("<h2>Lag per partition</h2>");
    let max_lag = d
        .partitions
        .iter()
        .filter_map(|r| r.lag)
        .max()
        .unwrap_or(0)
        .max(1);
    let mut t = Table::new(&["Topic", "Partition", "Committed", "Log end", "Lag", ""]);
    for r in &d.partitions {
        let lag = r.lag.unwrap_or(0);
        // A bar proportional to the partition's share of the largest lag.
        let bar = format!(
            "<svg width=160 height=10><rect width={} height=10 fill=#c0392b></rect></svg>",
            160 * lag / max_lag
        );
        t.row_html(&[
            esc(&r.topic),
            r.partition.to_string(),
            crate::cli::output::offset(r.current_offset),
            r.log_end_offset.to_string(),
            crate::cli::output::offset(r.lag),
            bar,
        ]);
    }
    p.push(&t.render("lag"));
    if info.write_enabled {
        let topics: std::collections::BTreeSet<&str> =
            d.partitions.iter().map(|r| r.topic.as_str()).collect();
        for topic in topics {
            for to in ["earliest", "latest"] {
                let action = format!("/groups/{}/reset?topic={}&to={to}", enc(name), enc(topic));
                p.push(&write::button(&action, &format!("Reset {topic} to {to}")));
            }
        }
    }
    Ok(p.finish())
}

/// An inline SVG sparkline of records/s samples with the latest value beside it.
fn sparkline(samples: &[f64]) -> String {
    let (w, h) = (120.0, 18.0);
    let max = samples.iter().copied().fold(1.0, f64::max);
    let n = samples.len().max(2) as f64 - 1.0;
    let points: Vec<String> = samples
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "{:.1},{:.1}",
                i as f64 * w / n,
                h - v / max * (h - 2.0) - 1.0
            )
        })
        .collect();
    let last = samples.last().copied().unwrap_or(0.0);
    format!(
        "<svg width={w} height={h}><polyline fill=none stroke=#2c7be5 stroke-width=1.5 points=\"{}\"></polyline></svg> {last:.0}/s",
        points.join(" ")
    )
}

/// A key, value or header as text (lossy UTF-8), JSON (pretty when it parses) or hex.
fn show(b: &Option<bytes::Bytes>, format: &str) -> String {
    let Some(b) = b else {
        return "null".into();
    };
    match format {
        "hex" => b.iter().map(|x| format!("{x:02x}")).collect(),
        "json" => serde_json::from_slice::<serde_json::Value>(b)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| String::from_utf8_lossy(b).into_owned()),
        _ => String::from_utf8_lossy(b).into_owned(),
    }
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

/// Percent-encodes a path segment.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Decodes a percent-encoded path segment (invalid escapes are kept as written).
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_urls() {
        for n in ["plain", "with space", "a/b", "é%"] {
            assert_eq!(decode(&enc(n)), n);
        }
        assert_eq!(decode("bad%zz"), "bad%zz");
    }

    #[test]
    fn sparklines_scale_to_the_largest_sample() {
        let svg = sparkline(&[0.0, 5.0, 10.0]);
        assert!(
            svg.contains("points=\"0.0,17.0 60.0,9.0 120.0,1.0\""),
            "{svg}"
        );
        assert!(svg.ends_with(" 10/s"));
        assert!(sparkline(&[]).ends_with(" 0/s"));
    }

    #[test]
    fn values_show_as_text_json_or_hex() {
        let v = Some(bytes::Bytes::from_static(b"{\"a\":1}"));
        assert_eq!(show(&v, "hex"), "7b2261223a317d");
        assert_eq!(show(&v, "json"), "{\n  \"a\": 1\n}");
        assert_eq!(show(&None, "text"), "null");
    }
}
