//! `weir consume TOPIC`: fetches from each partition's leader and prints records with a kcat-like
//! template or as JSON lines; with `--group` it joins the group (as `kafka-console-consumer.sh` does),
//! reads the partitions assigned to it from the group's committed offsets and commits what it printed.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use clap::Args;
use serde_json::{json, Map, Value};

use super::output::print_stdout;
use super::progress::Progress;
use super::{ConnArgs, Format};
use crate::client::admin::{EARLIEST, LATEST};
use crate::client::member::Membership;
use crate::client::records::{next_offset, read_records, InRecord};
use crate::client::{Client, ClientError};

/// `weir consume`.
#[derive(Debug, Args)]
pub struct ConsumeArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// Topic to read.
    topic: String,
    /// Where to start: beginning, end, an OFFSET, or @TIMESTAMP_MS (first record at or after it).
    /// With --group, only partitions without a committed offset start here.
    #[arg(long, default_value = "beginning", value_parser = parse_from)]
    from: From,
    /// Consumer group to join: read the partitions it assigns from its committed offsets and commit
    /// what was printed. With --partition, no join: standalone commits, as a Java consumer using
    /// assign() makes (the group must have no active members).
    #[arg(long, short = 'g')]
    group: Option<String>,
    /// Only this partition.
    #[arg(long, short = 'p')]
    partition: Option<i32>,
    /// Stop after this many records.
    #[arg(long, short = 'n')]
    max: Option<u64>,
    /// Stop at the end of every partition (the high watermarks when consumption started).
    #[arg(long, short = 'e')]
    exit_at_end: bool,
    /// Text template: %t topic, %p partition, %o offset, %k key, %v (or %s) value, %T timestamp ms,
    /// %h headers (k=v,…), %K/%S key/value length, %% percent; \n \t \r escapes.
    #[arg(long, short = 'f', default_value = "%v\\n")]
    format: String,
}

/// Where `--from` starts.
#[derive(Debug, Clone, Copy)]
enum From {
    /// A ListOffsets timestamp: earliest, latest, or a time in ms.
    Timestamp(i64),
    /// An exact offset.
    Offset(i64),
}

fn parse_from(s: &str) -> Result<From, String> {
    let bad = || format!("expected beginning, end, an offset or @TIMESTAMP_MS, got {s:?}");
    match s {
        "beginning" | "earliest" => Ok(From::Timestamp(EARLIEST)),
        "end" | "latest" => Ok(From::Timestamp(LATEST)),
        f if f.starts_with('@') => f[1..]
            .parse::<i64>()
            .ok()
            .filter(|t| *t >= 0)
            .map(From::Timestamp)
            .ok_or_else(bad),
        f => f
            .parse::<i64>()
            .ok()
            .filter(|o| *o >= 0)
            .map(From::Offset)
            .ok_or_else(bad),
    }
}

/// Where a partition's consumption stands.
struct Position {
    /// Next offset to fetch.
    next: i64,
    /// Stop here (exit-at-end); `None`: follow.
    end: Option<i64>,
    /// Leader node id.
    leader: i32,
}

pub(super) async fn run(a: ConsumeArgs) -> Result<(), ClientError> {
    let mut client = a.conn.connect().await?;
    let leaders = client.leaders(&a.topic).await?;
    let partitions: Vec<i32> = match a.partition {
        Some(p) if usize::try_from(p).is_ok_and(|i| i < leaders.len()) => vec![p],
        Some(p) => {
            return Err(ClientError::Config(format!(
                "{} has {} partitions; there is no partition {p}",
                a.topic,
                leaders.len()
            )))
        }
        None => (0..leaders.len() as i32).collect(),
    };
    let mut member = match (&a.group, a.partition) {
        (Some(g), None) => Some(Membership::join(&mut client, g, &a.topic).await?),
        _ => None,
    };
    let partitions = member
        .as_ref()
        .map_or(partitions, |m| m.assignment().to_vec());
    let mut pos = start_positions(&mut client, &a, &partitions, &leaders).await?;
    let template = parse_template(&a.format);
    let json = a.conn.output == Format::Json;
    let mut progress = Progress::new("consumed");
    let mut uncommitted: BTreeMap<i32, i64> = BTreeMap::new();
    let mut batch = Vec::new();
    // Ctrl-C stops between fetch rounds (at most one fetch wait away): cancelling a request in flight
    // would leave its answer on the connection for the final commit and LeaveGroup to trip on.
    let stop = Arc::new(AtomicBool::new(false));
    let on_signal = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_signal.store(true, Ordering::Relaxed);
        }
    });
    let outcome = loop {
        if a.max.is_some_and(|m| progress.records >= m)
            || all_done(&pos)
            || stop.load(Ordering::Relaxed)
        {
            break Ok(());
        }
        if pos.is_empty() {
            // A member the group gave no partitions: wait for the next heartbeat.
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        if let Err(e) = fetch_round(&mut client, &a.topic, &mut pos, &mut batch).await {
            break Err(e);
        }
        let mut out = Vec::new();
        for r in batch.drain(..) {
            if a.max.is_some_and(|m| progress.records >= m) {
                break;
            }
            if let Some(p) = pos.get(&r.partition) {
                if p.end.is_some_and(|e| r.offset >= e) {
                    continue;
                }
            }
            if json {
                out.extend_from_slice(json_line(&a.topic, &r).as_bytes());
            } else {
                render(&template, &a.topic, &r, &mut out);
            }
            uncommitted.insert(r.partition, r.offset + 1);
            progress.add(1, r.value.as_ref().map_or(0, Bytes::len) as u64);
        }
        print_stdout(&String::from_utf8_lossy(&out));
        let mut committed = true;
        if let Some(g) = &a.group {
            committed = commit(&mut client, member.as_ref(), g, &a.topic, &mut uncommitted).await?;
        }
        if let Some(m) = member.as_mut() {
            if !committed || m.heartbeat_if_due(&mut client).await? {
                // The group rebalances: give up every partition (eager protocol) and take the new share.
                // What could not be committed is read again by the partition's next owner.
                uncommitted.clear();
                m.rejoin(&mut client).await?;
                let leaders = client.leaders(&a.topic).await?;
                let assigned = m.assignment().to_vec();
                pos = start_positions(&mut client, &a, &assigned, &leaders).await?;
            }
        }
    };
    if let Some(g) = &a.group {
        if !commit(&mut client, member.as_ref(), g, &a.topic, &mut uncommitted).await? {
            eprintln!("weir: the group rebalanced before the last offsets could be committed");
        }
    }
    if let Some(m) = &member {
        m.leave(&mut client).await?;
    }
    progress.finish();
    outcome
}

/// Commits what was printed: within the member's generation, or standalone without one. `Ok(false)`:
/// the group rebalanced and nothing was committed.
async fn commit(
    client: &mut Client,
    member: Option<&Membership>,
    group: &str,
    topic: &str,
    uncommitted: &mut BTreeMap<i32, i64>,
) -> Result<bool, ClientError> {
    if uncommitted.is_empty() {
        return Ok(true);
    }
    let offsets: Vec<(i32, i64)> = uncommitted.iter().map(|(p, o)| (*p, *o)).collect();
    match member {
        Some(m) => {
            if !m.commit(client, &offsets).await? {
                return Ok(false);
            }
        }
        None => client.commit(group, topic, &offsets).await?,
    }
    uncommitted.clear();
    Ok(true)
}

fn all_done(pos: &HashMap<i32, Position>) -> bool {
    pos.values().all(|p| p.end.is_some_and(|e| p.next >= e))
}

/// Where each partition starts: the group's committed offset, else `--from`.
async fn start_positions(
    client: &mut Client,
    a: &ConsumeArgs,
    partitions: &[i32],
    leaders: &[i32],
) -> Result<HashMap<i32, Position>, ClientError> {
    let mut start: HashMap<i32, i64> = HashMap::new();
    if let Some(g) = &a.group {
        for c in client.committed(g).await? {
            if c.topic == a.topic && partitions.contains(&c.partition) {
                start.insert(c.partition, c.offset);
            }
        }
    }
    let missing: Vec<i32> = partitions
        .iter()
        .copied()
        .filter(|p| !start.contains_key(p))
        .collect();
    if !missing.is_empty() {
        let ts = match a.from {
            From::Timestamp(ts) => Some(ts),
            From::Offset(o) => {
                missing.iter().for_each(|p| {
                    start.insert(*p, o);
                });
                None
            }
        };
        if let Some(ts) = ts {
            let wanted: Vec<(i32, i64)> = missing.iter().map(|p| (*p, ts)).collect();
            let found = client.list_offsets(&a.topic, &wanted).await?;
            let mut no_match = Vec::new();
            for p in &missing {
                match found.get(p) {
                    Some((o, _)) if *o >= 0 => {
                        start.insert(*p, *o);
                    }
                    _ => no_match.push((*p, LATEST)),
                }
            }
            // No record at or after the timestamp: start at the end, as Kafka's consumers do.
            if !no_match.is_empty() {
                for (p, (o, _)) in client.list_offsets(&a.topic, &no_match).await? {
                    start.insert(p, o);
                }
            }
        }
    }
    let ends = if a.exit_at_end {
        let wanted: Vec<(i32, i64)> = partitions.iter().map(|p| (*p, LATEST)).collect();
        client.list_offsets(&a.topic, &wanted).await?
    } else {
        HashMap::new()
    };
    Ok(partitions
        .iter()
        .map(|p| {
            let leader = usize::try_from(*p)
                .ok()
                .and_then(|i| leaders.get(i))
                .copied()
                .unwrap_or(-1);
            let pos = Position {
                next: start.get(p).copied().unwrap_or(0),
                end: ends.get(p).map(|e| e.0),
                leader,
            };
            (*p, pos)
        })
        .collect())
}

/// One fetch per leader for the partitions not yet done; records go to `out` in partition order.
async fn fetch_round(
    client: &mut Client,
    topic: &str,
    pos: &mut HashMap<i32, Position>,
    out: &mut Vec<InRecord>,
) -> Result<(), ClientError> {
    let mut by_leader: BTreeMap<i32, Vec<(i32, i64)>> = BTreeMap::new();
    for (p, s) in pos.iter() {
        if s.end.is_none_or(|e| s.next < e) {
            by_leader.entry(s.leader).or_default().push((*p, s.next));
        }
    }
    for (leader, mut wanted) in by_leader {
        wanted.sort_unstable();
        for f in client.fetch(topic, leader, &wanted).await? {
            let Some(s) = pos.get_mut(&f.partition) else {
                continue;
            };
            if f.error_code == 1 {
                // OFFSET_OUT_OF_RANGE: the log start moved past us (retention); restart at the start.
                let start = client
                    .list_offsets(topic, &[(f.partition, EARLIEST)])
                    .await?;
                let new = start.get(&f.partition).map_or(0, |v| v.0);
                eprintln!(
                    "weir: {topic}-{}: offset {} is out of range; continuing at {new}",
                    f.partition, s.next
                );
                s.next = new;
                continue;
            }
            ClientError::check(f.error_code, None)
                .map_err(|e| e.context(format!("fetching {topic}-{}", f.partition)))?;
            let before = out.len();
            read_records(f.partition, &f.records, s.next, out)?;
            if let Some(last) = out[before..].last() {
                s.next = last.offset + 1;
            } else if let Some(n) = next_offset(&f.records) {
                // Only control records (or records before our offset): move past them.
                s.next = s.next.max(n);
            }
        }
    }
    Ok(())
}

/// A parsed `--format` template.
#[derive(Debug, PartialEq)]
enum Piece {
    Text(Vec<u8>),
    Field(char),
}

fn parse_template(fmt: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut text = Vec::new();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek().copied()) {
            ('%', Some(f)) if "tpokvsThKS".contains(f) => {
                chars.next();
                if !text.is_empty() {
                    out.push(Piece::Text(std::mem::take(&mut text)));
                }
                out.push(Piece::Field(f));
            }
            ('%', Some('%')) => {
                chars.next();
                text.push(b'%');
            }
            ('\\', Some(e)) if "ntr\\".contains(e) => {
                chars.next();
                text.push(match e {
                    'n' => b'\n',
                    't' => b'\t',
                    'r' => b'\r',
                    _ => b'\\',
                });
            }
            _ => {
                let mut b = [0u8; 4];
                text.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
    if !text.is_empty() {
        out.push(Piece::Text(text));
    }
    out
}

fn render(template: &[Piece], topic: &str, r: &InRecord, out: &mut Vec<u8>) {
    for piece in template {
        match piece {
            Piece::Text(t) => out.extend_from_slice(t),
            Piece::Field(f) => match f {
                't' => out.extend_from_slice(topic.as_bytes()),
                'p' => out.extend_from_slice(r.partition.to_string().as_bytes()),
                'o' => out.extend_from_slice(r.offset.to_string().as_bytes()),
                'T' => out.extend_from_slice(r.timestamp_ms.to_string().as_bytes()),
                'k' => out.extend_from_slice(r.key.as_deref().unwrap_or_default()),
                'v' | 's' => out.extend_from_slice(r.value.as_deref().unwrap_or_default()),
                'K' => out.extend_from_slice(len(&r.key).as_bytes()),
                'S' => out.extend_from_slice(len(&r.value).as_bytes()),
                'h' => {
                    let hs: Vec<String> = r
                        .headers
                        .iter()
                        .map(|(k, v)| {
                            format!(
                                "{k}={}",
                                String::from_utf8_lossy(v.as_deref().unwrap_or_default())
                            )
                        })
                        .collect();
                    out.extend_from_slice(hs.join(",").as_bytes());
                }
                _ => {}
            },
        }
    }
}

/// A field's length as kcat prints it (-1 for null).
fn len(b: &Option<Bytes>) -> String {
    b.as_ref().map_or(-1, |b| b.len() as i64).to_string()
}

/// Text when the bytes are UTF-8; otherwise `{"hex": …}` so nothing is lost.
fn bytes_json(b: &Option<Bytes>) -> Value {
    match b {
        None => Value::Null,
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) => Value::String(s.to_string()),
            Err(_) => json!({ "hex": b.iter().map(|x| format!("{x:02x}")).collect::<String>() }),
        },
    }
}

fn json_line(topic: &str, r: &InRecord) -> String {
    let headers: Map<String, Value> = r
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), bytes_json(v)))
        .collect();
    let v = json!({
        "topic": topic,
        "partition": r.partition,
        "offset": r.offset,
        "timestamp": r.timestamp_ms,
        "key": bytes_json(&r.key),
        "value": bytes_json(&r.value),
        "headers": headers,
    });
    format!("{v}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec() -> InRecord {
        InRecord {
            partition: 2,
            offset: 41,
            timestamp_ms: 1_700_000_000_000,
            key: Some(Bytes::from_static(b"k1")),
            value: Some(Bytes::from_static(b"hello")),
            headers: vec![("a".into(), Some(Bytes::from_static(b"1")))],
        }
    }

    #[test]
    fn templates_render_like_kcat() {
        let t = parse_template("%t/%p@%o %k=%s [%h] %K/%S 100%%\\n");
        let mut out = Vec::new();
        render(&t, "demo", &rec(), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "demo/2@41 k1=hello [a=1] 2/5 100%\n"
        );
    }

    #[test]
    fn json_lines_keep_binary_as_hex() {
        let mut r = rec();
        r.value = Some(Bytes::from_static(&[0xff, 0x00]));
        let v: Value = serde_json::from_str(&json_line("demo", &r)).unwrap();
        assert_eq!(v["value"]["hex"], "ff00");
        assert_eq!(v["key"], "k1");
        assert_eq!(v["headers"]["a"], "1");
        assert_eq!(v["offset"], 41);
    }
}
