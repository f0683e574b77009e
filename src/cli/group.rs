//! `weir group …`: list, describe (members, assignment, committed offsets, lag), reset-offsets (a dry
//! run unless --execute, as `kafka-consumer-groups.sh`), delete.

use std::collections::{BTreeMap, BTreeSet};

use clap::{Args, Subcommand};
use serde::Serialize;

use super::output::{offset, print_json, Table};
use super::{ConnArgs, Format};
use crate::client::admin::LATEST;
use crate::client::groups::GroupDescription;
use crate::client::{Client, ClientError};

/// `weir group`.
#[derive(Debug, Args)]
pub struct GroupArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(subcommand)]
    cmd: GroupCmd,
}

#[derive(Debug, Subcommand)]
enum GroupCmd {
    /// Every consumer group with its state.
    List,
    /// State, members and, per partition, committed offset, log end and lag.
    Describe {
        /// Group id.
        group: String,
    },
    /// Move a group's committed offsets (the group must be inactive). Prints the plan; --execute commits it.
    ResetOffsets(ResetArgs),
    /// Delete a group (it must have no members).
    Delete {
        /// Group id.
        group: String,
    },
}

#[derive(Debug, Args)]
struct ResetArgs {
    /// Group id.
    group: String,
    /// Topic whose offsets move (every partition of it).
    #[arg(long)]
    topic: String,
    #[command(flatten)]
    to: ResetTo,
    /// Commit the new offsets (without it, only print them).
    #[arg(long)]
    execute: bool,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct ResetTo {
    /// To the log start.
    #[arg(long)]
    to_earliest: bool,
    /// To the high watermark.
    #[arg(long)]
    to_latest: bool,
    /// To this offset (clamped to the log's range, as Kafka's tool does).
    #[arg(long)]
    to_offset: Option<i64>,
    /// To the first record at or after this time: ISO 8601 (`2024-05-01T12:00:00Z`, `…+02:00`;
    /// no zone = UTC) or @MILLIS.
    #[arg(long)]
    to_datetime: Option<String>,
    /// Move by N (negative: back), clamped to the log's range.
    #[arg(long, allow_hyphen_values = true)]
    shift_by: Option<i64>,
}

/// One row of `group describe`.
#[derive(Debug, Serialize)]
pub(crate) struct LagRow {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    /// Committed offset (`None`: nothing committed).
    pub(crate) current_offset: Option<i64>,
    /// High watermark.
    pub(crate) log_end_offset: i64,
    /// log end − committed (`None` without a commit).
    pub(crate) lag: Option<i64>,
    pub(crate) member_id: Option<String>,
    pub(crate) host: Option<String>,
    pub(crate) client_id: Option<String>,
}

/// A group with its partitions' lag (`group describe`, and the console's group page).
#[derive(Serialize)]
pub(crate) struct Described {
    #[serde(flatten)]
    pub(crate) group: GroupDescription,
    pub(crate) partitions: Vec<LagRow>,
    pub(crate) total_lag: i64,
}

#[derive(Debug, Serialize)]
struct ResetRow {
    topic: String,
    partition: i32,
    current_offset: Option<i64>,
    new_offset: i64,
}

pub(super) async fn run(a: GroupArgs) -> Result<(), ClientError> {
    let mut client = a.conn.connect().await?;
    let json = a.conn.output == Format::Json;
    match a.cmd {
        GroupCmd::List => {
            let groups = client.list_groups().await?;
            if json {
                print_json(&groups);
            } else {
                let mut t = Table::new(&["GROUP", "STATE", "PROTOCOL-TYPE", "COORDINATOR"]);
                for g in groups {
                    t.row(vec![
                        g.group,
                        g.state,
                        g.protocol_type,
                        g.coordinator.to_string(),
                    ]);
                }
                t.print();
            }
        }
        GroupCmd::Describe { group } => {
            let d = describe(&mut client, &group).await?;
            if json {
                print_json(&d);
            } else {
                print_described(&d);
            }
        }
        GroupCmd::ResetOffsets(r) => reset(&mut client, r, json).await?,
        GroupCmd::Delete { group } => {
            client.delete_group(&group).await?;
            if json {
                print_json(&serde_json::json!({ "group": group, "result": "deleted" }));
            } else {
                crate::outln!("deleted group {group}");
            }
        }
    }
    Ok(())
}

/// Describes a group and computes each partition's lag (high watermark − committed offset).
pub(crate) async fn describe(client: &mut Client, group: &str) -> Result<Described, ClientError> {
    let g = client.describe_group(group).await?;
    let committed = client.committed(group).await?;
    // Every partition that is committed or assigned, with its owner.
    let mut rows: BTreeMap<(String, i32), LagRow> = BTreeMap::new();
    for c in &committed {
        rows.insert(
            (c.topic.clone(), c.partition),
            row(&c.topic, c.partition, Some(c.offset)),
        );
    }
    for m in &g.members {
        for (t, p) in &m.assignment {
            let r = rows
                .entry((t.clone(), *p))
                .or_insert_with(|| row(t, *p, None));
            r.member_id = Some(m.member_id.clone());
            r.host = Some(m.host.clone());
            r.client_id = Some(m.client_id.clone());
        }
    }
    let topics: BTreeSet<String> = rows.keys().map(|(t, _)| t.clone()).collect();
    for t in topics {
        let parts: Vec<(i32, i64)> = rows
            .keys()
            .filter(|(rt, _)| *rt == t)
            .map(|(_, p)| (*p, LATEST))
            .collect();
        let ends = client.list_offsets(&t, &parts).await?;
        for (p, (end, _)) in ends {
            if let Some(r) = rows.get_mut(&(t.clone(), p)) {
                r.log_end_offset = end;
                r.lag = r.current_offset.map(|c| (end - c).max(0));
            }
        }
    }
    let partitions: Vec<LagRow> = rows.into_values().collect();
    let total_lag = partitions.iter().filter_map(|r| r.lag).sum();
    Ok(Described {
        group: g,
        partitions,
        total_lag,
    })
}

fn row(topic: &str, partition: i32, current: Option<i64>) -> LagRow {
    LagRow {
        topic: topic.to_string(),
        partition,
        current_offset: current,
        log_end_offset: -1,
        lag: None,
        member_id: None,
        host: None,
        client_id: None,
    }
}

fn print_described(d: &Described) {
    let g = &d.group;
    crate::outln!(
        "Group: {}  state: {}  protocol: {} {}  members: {}  coordinator: {}  total lag: {}",
        g.group,
        g.state,
        g.protocol_type,
        g.protocol,
        g.members.len(),
        g.coordinator,
        d.total_lag
    );
    let mut t = Table::new(&[
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "CONSUMER-ID",
        "HOST",
        "CLIENT-ID",
    ]);
    for r in &d.partitions {
        t.row(vec![
            r.topic.clone(),
            r.partition.to_string(),
            offset(r.current_offset),
            r.log_end_offset.to_string(),
            offset(r.lag),
            r.member_id.clone().unwrap_or_else(|| "-".into()),
            r.host.clone().unwrap_or_else(|| "-".into()),
            r.client_id.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    t.print();
}

async fn reset(client: &mut Client, r: ResetArgs, json: bool) -> Result<(), ClientError> {
    // Kafka's tool refuses to move the offsets of a group with live members: they would overwrite them.
    match client.describe_group(&r.group).await {
        Ok(g) if !matches!(g.state.as_str(), "Empty" | "Dead" | "") => {
            return Err(ClientError::Config(format!(
                "assignments can only be reset if the group '{}' is inactive, but the current state is {}; stop its consumers first",
                r.group, g.state
            )))
        }
        Ok(_) => {}
        Err(e) if e.code() == Some(69) => {}
        Err(e) => return Err(e),
    }
    let partitions: Vec<i32> = (0..client.leaders(&r.topic).await?.len() as i32).collect();
    let committed: BTreeMap<i32, i64> = client
        .committed(&r.group)
        .await?
        .into_iter()
        .filter(|c| c.topic == r.topic)
        .map(|c| (c.partition, c.offset))
        .collect();
    let range = client.offset_range(&r.topic, &partitions).await?;
    let by_time = match &r.to.to_datetime {
        Some(s) => {
            let ts = parse_datetime(s)?;
            let wanted: Vec<(i32, i64)> = partitions.iter().map(|p| (*p, ts)).collect();
            Some(client.list_offsets(&r.topic, &wanted).await?)
        }
        None => None,
    };
    let mut plan = Vec::new();
    for p in &partitions {
        let (start, end) = range.get(p).copied().unwrap_or((0, 0));
        let current = committed.get(p).copied();
        let new = if r.to.to_earliest {
            start
        } else if r.to.to_latest {
            end
        } else if let Some(o) = r.to.to_offset {
            o
        } else if let Some(n) = r.to.shift_by {
            current.unwrap_or(start).saturating_add(n)
        } else {
            // Timestamp past the last record: the log end, as Kafka's tool does.
            by_time
                .as_ref()
                .and_then(|m| m.get(p))
                .map(|v| v.0)
                .filter(|o| *o >= 0)
                .unwrap_or(end)
        };
        plan.push(ResetRow {
            topic: r.topic.clone(),
            partition: *p,
            current_offset: current,
            new_offset: new.clamp(start, end.max(start)),
        });
    }
    if r.execute {
        let offsets: Vec<(i32, i64)> = plan.iter().map(|p| (p.partition, p.new_offset)).collect();
        client.commit(&r.group, &r.topic, &offsets).await?;
    }
    if json {
        print_json(&serde_json::json!({
            "group": r.group, "executed": r.execute, "partitions": plan
        }));
        return Ok(());
    }
    let mut t = Table::new(&[
        "GROUP",
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "NEW-OFFSET",
    ]);
    for p in &plan {
        t.row(vec![
            r.group.clone(),
            p.topic.clone(),
            p.partition.to_string(),
            offset(p.current_offset),
            p.new_offset.to_string(),
        ]);
    }
    t.print();
    if !r.execute {
        eprintln!("dry run: nothing committed; add --execute to commit these offsets");
    }
    Ok(())
}

/// `@MILLIS`, or ISO 8601 `YYYY-MM-DDTHH:MM[:SS[.fff]][Z|±HH:MM]` (no zone: UTC) → epoch ms.
fn parse_datetime(s: &str) -> Result<i64, ClientError> {
    let bad = || {
        ClientError::Config(format!(
            "--to-datetime expects e.g. 2024-05-01T12:00:00Z or @1714564800000, got {s:?}"
        ))
    };
    if let Some(ms) = s.strip_prefix('@') {
        return ms.parse().map_err(|_| bad());
    }
    let (date, time) = s.split_once('T').ok_or_else(bad)?;
    let d: Vec<i64> = date
        .split('-')
        .map(|x| x.parse().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let [y, mo, day] = d[..] else {
        return Err(bad());
    };
    let (clock, offset_min) = split_zone(time).ok_or_else(bad)?;
    let mut parts = clock.split(':');
    let h: i64 = parts.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
    let mi: i64 = parts.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
    let sec: f64 = parts.next().unwrap_or("0").parse().map_err(|_| bad())?;
    if !(1..=12).contains(&mo)
        || !(1..=31).contains(&day)
        || h > 23
        || mi > 59
        || !(0.0..61.0).contains(&sec)
    {
        return Err(bad());
    }
    let days = days_from_civil(y, mo, day);
    let ms = (days * 86_400 + h * 3600 + mi * 60 - offset_min * 60) * 1000
        + (sec * 1000.0).round() as i64;
    Ok(ms)
}

/// Splits a trailing `Z` or `±HH:MM` off a time; returns (clock, zone offset in minutes).
fn split_zone(t: &str) -> Option<(&str, i64)> {
    if let Some(c) = t.strip_suffix('Z') {
        return Some((c, 0));
    }
    if let Some(i) = t.rfind(['+', '-']) {
        let (c, z) = t.split_at(i);
        let sign = if z.starts_with('-') { -1 } else { 1 };
        let (hh, mm) = z[1..].split_once(':').unwrap_or((&z[1..], "0"));
        return Some((
            c,
            sign * (hh.parse::<i64>().ok()? * 60 + mm.parse::<i64>().ok()?),
        ));
    }
    Some((t, 0))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_parse_to_epoch_millis() {
        assert_eq!(parse_datetime("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(
            parse_datetime("2024-05-01T12:00:00Z").unwrap(),
            1_714_564_800_000
        );
        assert_eq!(
            parse_datetime("2024-05-01T14:00:00+02:00").unwrap(),
            1_714_564_800_000
        );
        assert_eq!(
            parse_datetime("2024-05-01T12:00:00.250").unwrap(),
            1_714_564_800_250
        );
        assert_eq!(parse_datetime("@42").unwrap(), 42);
        assert!(parse_datetime("yesterday").is_err());
        assert!(parse_datetime("2024-13-01T00:00").is_err());
    }
}
