//! `weir cluster info` and `weir config get|set` (broker and topic configs).

use clap::{Args, Subcommand};
use serde::Serialize;

use super::output::{print_json, Table};
use super::{key_value, ConnArgs, Format};
use crate::client::admin::Resource;
use crate::client::{BrokerAddr, ClientError};

/// `weir cluster`.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(subcommand)]
    cmd: ClusterCmd,
}

#[derive(Debug, Subcommand)]
enum ClusterCmd {
    /// Cluster id, controller, brokers and the API versions the bootstrap broker serves.
    Info,
}

#[derive(Serialize)]
struct Info {
    cluster_id: Option<String>,
    controller: i32,
    brokers: Vec<BrokerAddr>,
    apis: Vec<Api>,
}

#[derive(Serialize)]
struct Api {
    key: i16,
    name: String,
    min_version: i16,
    max_version: i16,
}

pub(super) async fn run(a: ClusterArgs) -> Result<(), ClientError> {
    let mut client = a.conn.connect().await?;
    match a.cmd {
        ClusterCmd::Info => {
            let m = client.metadata(Some(&[])).await?;
            let apis = client
                .any()
                .api_versions()
                .into_iter()
                .map(|(key, min_version, max_version)| Api {
                    key,
                    name: crate::client::api_name(key),
                    min_version,
                    max_version,
                })
                .collect();
            let info = Info {
                cluster_id: m.cluster_id.map(|c| c.to_string()),
                controller: m.controller_id.0,
                brokers: client.broker_addrs(),
                apis,
            };
            if a.conn.output == Format::Json {
                print_json(&info);
                return Ok(());
            }
            crate::outln!("Cluster id: {}", info.cluster_id.as_deref().unwrap_or("-"));
            crate::outln!("Controller: {}", info.controller);
            let mut t = Table::new(&["BROKER", "HOST", "PORT", "RACK"]);
            for b in &info.brokers {
                t.row(vec![
                    b.id.to_string(),
                    b.host.clone(),
                    b.port.to_string(),
                    b.rack.clone().unwrap_or_else(|| "-".into()),
                ]);
            }
            t.print();
            crate::outln!();
            let mut t = Table::new(&["API", "KEY", "VERSIONS"]);
            for api in &info.apis {
                t.row(vec![
                    api.name.clone(),
                    api.key.to_string(),
                    format!("{}-{}", api.min_version, api.max_version),
                ]);
            }
            t.print();
        }
    }
    Ok(())
}

/// `weir config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(subcommand)]
    cmd: ConfigCmd,
}

/// Which resource a config command addresses.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct Target {
    /// A topic's configs.
    #[arg(long)]
    topic: Option<String>,
    /// A broker's configs (node id).
    #[arg(long)]
    broker: Option<i32>,
}

impl Target {
    fn resource(&self) -> Resource {
        match (&self.topic, self.broker) {
            (Some(t), _) => Resource::Topic(t.clone()),
            (None, Some(b)) => Resource::Broker(b),
            (None, None) => Resource::Broker(-1),
        }
    }
}

#[derive(Debug, Subcommand)]
enum ConfigCmd {
    /// Show configs (all, or the named keys) with where each value comes from.
    Get {
        #[command(flatten)]
        target: Target,
        /// Only these keys.
        keys: Vec<String>,
    },
    /// Set configs (IncrementalAlterConfigs SET); `--delete KEY` reverts one to its default.
    Set {
        #[command(flatten)]
        target: Target,
        /// KEY=VALUE pairs.
        #[arg(value_parser = key_value)]
        pairs: Vec<(String, String)>,
        /// Config to remove, repeatable.
        #[arg(long = "delete", value_name = "KEY")]
        delete: Vec<String>,
    },
}

pub(super) async fn run_config(a: ConfigArgs) -> Result<(), ClientError> {
    let mut client = a.conn.connect().await?;
    match a.cmd {
        ConfigCmd::Get { target, keys } => {
            let entries = client.describe_configs(&target.resource(), &keys).await?;
            if a.conn.output == Format::Json {
                print_json(&entries);
                return Ok(());
            }
            let mut t = Table::new(&["KEY", "VALUE", "SOURCE", "READ-ONLY"]);
            for e in entries {
                t.row(vec![
                    e.name,
                    e.value.unwrap_or_else(|| "(null)".into()),
                    e.source.to_string(),
                    if e.read_only {
                        "yes".into()
                    } else {
                        String::new()
                    },
                ]);
            }
            t.print();
        }
        ConfigCmd::Set {
            target,
            pairs,
            delete,
        } => {
            if pairs.is_empty() && delete.is_empty() {
                return Err(ClientError::Config(
                    "nothing to change: give KEY=VALUE or --delete KEY".into(),
                ));
            }
            client
                .alter_configs(&target.resource(), &pairs, &delete)
                .await?;
            crate::outln!("altered {} config(s)", pairs.len() + delete.len());
        }
    }
    Ok(())
}
