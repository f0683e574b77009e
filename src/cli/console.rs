//! `weir console`: the web console of any Kafka-compatible cluster, served from this process: the same
//! pages a broker's admin port serves, gathered through the Kafka protocol from `--bootstrap`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tokio::sync::watch;

use super::ConnArgs;
use crate::client::ClientError;
use crate::console::rates::{sample_remote, Rates};
use crate::console::{ConsoleInfo, REQUEST_TIMEOUT};
use crate::http::{Request, Response, Routes};

/// `weir console`.
#[derive(Debug, Args)]
pub struct ConsoleArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// Address to serve the console on.
    #[arg(long, default_value = "127.0.0.1:9644")]
    listen: SocketAddr,
    /// Offer and carry out changes to the cluster (delete a topic, reset a group's offsets): the
    /// broker's `admin.console.write.enabled`. Read-only without it.
    #[arg(long)]
    write_enabled: bool,
}

/// The pages of one remote cluster.
struct Remote {
    bootstrap: String,
    write_enabled: bool,
    rates: Arc<Rates>,
}

impl Routes for Remote {
    async fn route(&self, req: Request) -> Response {
        let info = ConsoleInfo {
            bootstrap: self.bootstrap.clone(),
            rates: self.rates.snapshot(),
            write_enabled: self.write_enabled,
            local: None,
        };
        crate::console::serve(&req, &info).await
    }
}

pub(super) async fn run(a: ConsoleArgs) -> Result<(), ClientError> {
    // Fail fast when the cluster cannot be reached; later outages show on the pages instead.
    a.conn.connect().await?;
    let listener = tokio::net::TcpListener::bind(a.listen).await.map_err(|e| {
        ClientError::Config(format!(
            "cannot listen on {}: {e} (choose another with --listen)",
            a.listen
        ))
    })?;
    let (stop, shutdown) = watch::channel(false);
    let rates = Arc::new(Rates::default());
    let timeout = Duration::from_millis(a.conn.request_timeout_ms).min(REQUEST_TIMEOUT);
    tokio::spawn(sample_remote(
        a.conn.bootstrap.clone(),
        timeout,
        rates.clone(),
        shutdown.clone(),
    ));
    let remote = Arc::new(Remote {
        bootstrap: a.conn.bootstrap.clone(),
        write_enabled: a.write_enabled,
        rates,
    });
    let addr = listener.local_addr().unwrap_or(a.listen);
    eprintln!(
        "weir console for {} at http://{addr}/ ({}; Ctrl-C stops)",
        a.conn.bootstrap,
        if a.write_enabled {
            "writes enabled"
        } else {
            "read-only"
        }
    );
    let server = tokio::spawn(crate::http::serve(listener, remote, shutdown));
    let _ = tokio::signal::ctrl_c().await;
    let _ = stop.send(true);
    let _ = server.await;
    Ok(())
}
