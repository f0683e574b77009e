//! The `weir` binary: parses the command line, starts the broker, stops it cleanly on SIGINT/SIGTERM.
#![deny(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use weir::{Broker, Config};

#[derive(Parser)]
#[command(
    name = "weir",
    version,
    about = "A Kafka wire-protocol-compatible message broker, and tools for any Kafka cluster",
    after_help = weir::cli::EXIT_CODES_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run a broker (the default when no subcommand is given).
    Serve(ServeArgs),
    /// Run a local cluster of N nodes on loopback ports (stops them all on Ctrl-C).
    DevCluster(DevClusterArgs),
    #[command(flatten)]
    Tool(weir::cli::Tool),
    /// Print a shell completion script: `weir completions bash > /etc/bash_completion.d/weir`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Args)]
struct DevClusterArgs {
    /// Number of nodes (every node votes in the metadata quorum).
    #[arg(long, default_value_t = 3)]
    nodes: u16,
    /// Kafka port of node 1; node i listens on base + 100·(i-1), its controller one above.
    #[arg(long, default_value_t = 9092)]
    base_port: u16,
    /// Folder holding node1/, node2/, … and their logs.
    #[arg(long, default_value = "weir-dev-cluster")]
    data_dir: PathBuf,
    /// Any Kafka-named setting for every node, repeatable: `--set num.partitions=6`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

#[derive(Args, Default)]
struct ServeArgs {
    /// TOML file with Kafka-named settings (e.g. `num.partitions = 3`); flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:9092].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// host:port advertised to clients [default: the listen address].
    #[arg(long)]
    advertised_listener: Option<String>,
    /// Admin HTTP address for /metrics, /healthz, /readyz; empty disables [default: 127.0.0.1:9644].
    #[arg(long)]
    admin_listen: Option<String>,
    /// Folder for logs and broker state [default: ./weir-data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// This broker's node id [default: 1].
    #[arg(long)]
    node_id: Option<i32>,
    /// Where this node serves the metadata quorum (`controller.listeners`), e.g. 127.0.0.1:9093.
    #[arg(long)]
    controller_listen: Option<SocketAddr>,
    /// The quorum's voters (`controller.quorum.voters`): `1@host:port,2@host:port,…` [default: this node].
    #[arg(long)]
    controller_quorum_voters: Option<String>,
    /// This broker's rack, for rack-aware replica placement (`broker.rack`).
    #[arg(long)]
    rack: Option<String>,
    /// `broker,controller` (votes in the metadata quorum) or `broker` (follows it without voting)
    /// (`process.roles`) [default: broker,controller].
    #[arg(long)]
    roles: Option<String>,
    /// Log filter, e.g. `info` or `weir=debug` (RUST_LOG also works) [default: info].
    #[arg(long)]
    log_level: Option<String>,
    /// Any Kafka-named setting, repeatable: `--set log.retention.ms=60000`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let args = match cli.command {
        Some(Command::Serve(a)) => a,
        Some(Command::DevCluster(d)) => return dev_cluster(d),
        None => ServeArgs::default(),
        Some(Command::Tool(t)) => return weir::cli::run(t),
        Some(Command::Completions { shell }) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            // Into a buffer first: clap_complete panics on a closed stdout (`weir completions bash | head`).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "weir", &mut script);
            weir::cli::output::print_stdout(&String::from_utf8_lossy(&script));
            return ExitCode::SUCCESS;
        }
    };
    let filter = args
        .log_level
        .clone()
        .or_else(|| std::env::var("RUST_LOG").ok())
        // openraft logs every election step at info; its warnings are what an operator needs.
        .unwrap_or_else(|| "info,openraft=warn".to_string());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_target(false)
        .with_ansi(colour_wanted(&std::io::stdout()))
        .init();
    let config = match build_config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("weir: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("weir: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(config))
}

/// Colour only for a person at a terminal: never into a file or a pipe, never with `NO_COLOR` set
/// (<https://no-color.org>: any non-empty value).
fn colour_wanted(stream: &impl std::io::IsTerminal) -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    stream.is_terminal() && !no_color
}

fn build_config(args: &ServeArgs) -> Result<Config, String> {
    let mut config = match &args.config {
        Some(path) => Config::from_file(path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    let mut overrides = Vec::new();
    for kv in &args.set {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("--set expects KEY=VALUE, got {kv}"))?;
        overrides.push((k.trim().to_string(), v.trim().to_string()));
    }
    config = config
        .with_overrides(&overrides)
        .map_err(|e| e.to_string())?;
    if let Some(l) = args.listen {
        config.listen = l;
    }
    if let Some(a) = &args.advertised_listener {
        config.advertised_listener = Some(a.clone());
    }
    if let Some(a) = &args.admin_listen {
        config.admin_listen = a.clone();
        config.admin_addr().map_err(|e| e.to_string())?;
    }
    if let Some(d) = &args.data_dir {
        config.data_dir = d.clone();
    }
    if let Some(n) = args.node_id {
        config.node_id = n;
    }
    if let Some(c) = args.controller_listen {
        config.controller_listen = Some(c);
    }
    if let Some(v) = &args.controller_quorum_voters {
        config.quorum_voters = Some(v.clone());
    }
    if let Some(r) = &args.rack {
        config.broker_rack = Some(r.clone());
    }
    if let Some(r) = &args.roles {
        config.process_roles = r.clone();
    }
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

fn dev_cluster(args: DevClusterArgs) -> ExitCode {
    let extra: Vec<String> = args
        .set
        .iter()
        .flat_map(|kv| ["--set".to_string(), kv.clone()])
        .collect();
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(weir::dev_cluster::run(
            args.nodes,
            args.base_port,
            &args.data_dir,
            &extra,
        )),
        Err(e) => {
            eprintln!("weir: cannot start runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> ExitCode {
    let broker = match Broker::start(config).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    wait_for_signal().await;
    tracing::info!("shutting down");
    match broker.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "unclean shutdown");
            ExitCode::FAILURE
        }
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
