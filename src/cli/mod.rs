//! The `weir` command-line tools: topics, produce, consume, groups, cluster and configs, spoken to any
//! Kafka-compatible cluster through `client`. Each family has its own module; this one holds the shared
//! options and the dispatch.

pub mod cluster;
pub mod console;
pub mod consume;
pub mod group;
pub mod output;
pub mod produce;
pub mod progress;
pub mod topic;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::client::{Client, ClientError};
pub use output::Format;

/// Options every tool takes.
#[derive(Debug, Args, Clone)]
pub struct ConnArgs {
    /// Comma-separated bootstrap servers.
    #[arg(
        long,
        short = 'b',
        env = "WEIR_BOOTSTRAP",
        default_value = "127.0.0.1:9092",
        global = true
    )]
    pub bootstrap: String,
    /// Output: aligned text or JSON.
    #[arg(long, short = 'o', value_enum, default_value_t = Format::Text, global = true)]
    pub output: Format,
    /// Time limit for each request, in milliseconds.
    #[arg(long, default_value_t = 30_000, global = true)]
    pub request_timeout_ms: u64,
}

impl ConnArgs {
    /// Connects to the bootstrap servers.
    pub async fn connect(&self) -> Result<Client, ClientError> {
        Client::connect(
            &self.bootstrap,
            Duration::from_millis(self.request_timeout_ms),
        )
        .await
    }
}

/// The tools (subcommands of `weir` beside `serve`).
#[derive(Debug, Subcommand)]
pub enum Tool {
    /// Topics: list, create, describe, alter-config, add-partitions, delete.
    Topic(topic::TopicArgs),
    /// Produce one record per input line (stdin or --file).
    Produce(produce::ProduceArgs),
    /// Consume records and print them (a kcat-like --format, or JSON lines).
    Consume(consume::ConsumeArgs),
    /// Consumer groups: list, describe (with lag), reset-offsets, delete.
    Group(group::GroupArgs),
    /// Cluster: brokers, controller, API versions.
    Cluster(cluster::ClusterArgs),
    /// Broker and topic configs: get, set.
    Config(cluster::ConfigArgs),
    /// Serve the web console of any Kafka-compatible cluster (the pages a broker's admin port serves).
    Console(console::ConsoleArgs),
}

/// Exit codes scripts can rely on (also in `weir --help`).
pub const EXIT_CODES_HELP: &str =
    "Exit codes: 0 success; 1 the cluster answered with a Kafka error \
(its name is printed); 2 bad usage or input; 3 cannot reach the cluster; 4 protocol mismatch. \
Ctrl-C ends `weir consume` normally (after committing with --group).";

/// Runs a tool on a fresh current-thread runtime; prints a one-line error and maps it to an exit code.
pub fn run(tool: Tool) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("weir: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match tool {
            Tool::Topic(a) => topic::run(a).await,
            Tool::Produce(a) => produce::run(a).await,
            Tool::Consume(a) => consume::run(a).await,
            Tool::Group(a) => group::run(a).await,
            Tool::Cluster(a) => cluster::run(a).await,
            Tool::Config(a) => cluster::run_config(a).await,
            Tool::Console(a) => console::run(a).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("weir: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Parses `k=v`.
pub fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}
