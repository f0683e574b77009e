//! `weir topic …`: list, create, describe, alter-config, add-partitions, delete.

use clap::{Args, Subcommand};
use serde::Serialize;

use super::output::{ids, print_json, Table};
use super::{key_value, ConnArgs, Format};
use crate::client::admin::{ConfigEntry, Resource};
use crate::client::ClientError;

/// `weir topic`.
#[derive(Debug, Args)]
pub struct TopicArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(subcommand)]
    cmd: TopicCmd,
}

#[derive(Debug, Subcommand)]
enum TopicCmd {
    /// Every topic with its partition count and replication factor.
    List,
    /// Create a topic.
    Create {
        /// Topic name.
        name: String,
        /// Partitions [default: the broker's num.partitions].
        #[arg(long, short = 'p', default_value_t = -1, allow_negative_numbers = true)]
        partitions: i32,
        /// Replication factor [default: the broker's default.replication.factor].
        #[arg(long, short = 'r', default_value_t = -1, allow_negative_numbers = true)]
        replication_factor: i16,
        /// Topic config, repeatable: --config retention.ms=60000.
        #[arg(long = "config", short = 'c', value_name = "KEY=VALUE", value_parser = key_value)]
        configs: Vec<(String, String)>,
    },
    /// Partitions (leader, replicas, ISR, log start, high watermark) and the topic's own configs.
    Describe {
        /// Topic name.
        name: String,
    },
    /// Set or remove topic configs.
    AlterConfig {
        /// Topic name.
        name: String,
        /// Config to set, repeatable: --set retention.ms=60000.
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = key_value)]
        set: Vec<(String, String)>,
        /// Config to remove (back to the broker default), repeatable.
        #[arg(long = "delete", value_name = "KEY")]
        delete: Vec<String>,
    },
    /// Grow a topic to a total number of partitions.
    AddPartitions {
        /// Topic name.
        name: String,
        /// Partition count after the change.
        #[arg(long)]
        total: i32,
    },
    /// Delete a topic.
    Delete {
        /// Topic name.
        name: String,
    },
}

#[derive(Serialize)]
struct Listed {
    name: String,
    partitions: usize,
    replication_factor: usize,
    internal: bool,
}

#[derive(Serialize)]
struct Described {
    name: String,
    id: String,
    internal: bool,
    partitions: Vec<PartitionRow>,
    configs: Vec<ConfigEntry>,
}

#[derive(Serialize)]
struct PartitionRow {
    partition: i32,
    leader: i32,
    replicas: Vec<i32>,
    isr: Vec<i32>,
    log_start_offset: i64,
    high_watermark: i64,
}

pub(super) async fn run(a: TopicArgs) -> Result<(), ClientError> {
    let mut client = a.conn.connect().await?;
    let json = a.conn.output == Format::Json;
    match a.cmd {
        TopicCmd::List => {
            let topics = client.topics(None).await?;
            let rows: Vec<Listed> = topics
                .into_iter()
                .map(|t| Listed {
                    replication_factor: t.partitions.first().map_or(0, |p| p.replicas.len()),
                    partitions: t.partitions.len(),
                    internal: t.internal,
                    name: t.name,
                })
                .collect();
            if json {
                print_json(&rows);
            } else {
                let mut table = Table::new(&["TOPIC", "PARTITIONS", "REPLICAS", "INTERNAL"]);
                for r in rows {
                    let internal = if r.internal { "yes" } else { "" };
                    table.row(vec![
                        r.name,
                        r.partitions.to_string(),
                        r.replication_factor.to_string(),
                        internal.into(),
                    ]);
                }
                table.print();
            }
        }
        TopicCmd::Create {
            name,
            partitions,
            replication_factor,
            configs,
        } => {
            client
                .create_topic(&name, partitions, replication_factor, &configs)
                .await?;
            done(json, "created", &name);
        }
        TopicCmd::Describe { name } => describe(&mut client, &name, json).await?,
        TopicCmd::AlterConfig { name, set, delete } => {
            if set.is_empty() && delete.is_empty() {
                return Err(ClientError::Config(
                    "nothing to change: give --set KEY=VALUE or --delete KEY".into(),
                ));
            }
            client
                .alter_configs(&Resource::Topic(name.clone()), &set, &delete)
                .await?;
            done(json, "altered", &name);
        }
        TopicCmd::AddPartitions { name, total } => {
            client.add_partitions(&name, total).await?;
            done(json, "grown", &name);
        }
        TopicCmd::Delete { name } => {
            client.delete_topic(&name).await?;
            done(json, "deleted", &name);
        }
    }
    Ok(())
}

fn done(json: bool, what: &str, name: &str) {
    if json {
        print_json(&serde_json::json!({ "topic": name, "result": what }));
    } else {
        crate::outln!("{what} topic {name}");
    }
}

async fn describe(
    client: &mut crate::client::Client,
    name: &str,
    json: bool,
) -> Result<(), ClientError> {
    let mut topics = client.topics(Some(&[name.to_string()])).await?;
    let t = topics
        .pop()
        .ok_or_else(|| ClientError::Config(format!("no metadata for {name}")))?;
    let indexes: Vec<i32> = t.partitions.iter().map(|p| p.partition).collect();
    let ranges = client.offset_range(name, &indexes).await?;
    let configs: Vec<ConfigEntry> = client
        .describe_configs(&Resource::Topic(name.to_string()), &[])
        .await?
        .into_iter()
        .filter(|c| c.source == "DYNAMIC_TOPIC_CONFIG")
        .collect();
    let d = Described {
        partitions: t
            .partitions
            .iter()
            .map(|p| {
                let (start, end) = ranges.get(&p.partition).copied().unwrap_or((-1, -1));
                PartitionRow {
                    partition: p.partition,
                    leader: p.leader,
                    replicas: p.replicas.clone(),
                    isr: p.isr.clone(),
                    log_start_offset: start,
                    high_watermark: end,
                }
            })
            .collect(),
        name: t.name,
        id: t.id,
        internal: t.internal,
        configs,
    };
    if json {
        print_json(&d);
        return Ok(());
    }
    crate::outln!(
        "Topic: {}  id: {}  partitions: {}",
        d.name,
        d.id,
        d.partitions.len()
    );
    let cfg: Vec<String> = d
        .configs
        .iter()
        .map(|c| format!("{}={}", c.name, c.value.as_deref().unwrap_or("")))
        .collect();
    crate::outln!(
        "Configs: {}",
        if cfg.is_empty() {
            "(defaults)".into()
        } else {
            cfg.join(", ")
        }
    );
    let mut table = Table::new(&[
        "PARTITION",
        "LEADER",
        "REPLICAS",
        "ISR",
        "LOG-START",
        "HIGH-WATERMARK",
        "RECORDS",
    ]);
    for p in &d.partitions {
        table.row(vec![
            p.partition.to_string(),
            p.leader.to_string(),
            ids(&p.replicas),
            ids(&p.isr),
            p.log_start_offset.to_string(),
            p.high_watermark.to_string(),
            (p.high_watermark - p.log_start_offset).max(0).to_string(),
        ]);
    }
    table.print();
    Ok(())
}
