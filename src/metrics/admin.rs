//! The admin HTTP listener (`admin.listeners`, default 127.0.0.1:9644): `/metrics` (Prometheus text),
//! `/healthz` (the process is up), `/readyz` (recovery done, serving Kafka) and the web console (GET
//! pages; POST actions when `admin.console.write.enabled`), on the server in [`crate::http`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::console::rates::{Rates, SAMPLE_INTERVAL};
use crate::handler::Ctx;
use crate::http::{Request, Response, Routes};

/// What the admin endpoints see: nothing until the broker is serving, then its context.
#[derive(Default)]
pub struct AdminState {
    /// Set once recovery is done and the Kafka listener accepts.
    broker: OnceLock<Arc<Ctx>>,
    /// Produce-rate history per topic for the console (sampled by `sample_rates`, not on the request
    /// path).
    rates: Arc<Rates>,
}

impl AdminState {
    /// Marks the broker ready.
    pub fn set_ready(&self, ctx: Arc<Ctx>) {
        let _ = self.broker.set(ctx);
    }
}

/// Binds the admin listener. A taken port is the caller's to log: the broker serves Kafka without it.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Feeds the console's produce-rate history from this broker's records-in counters every few seconds
/// (its own partitions; no request on its Kafka listener).
async fn sample_rates(state: Arc<AdminState>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(SAMPLE_INTERVAL);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        let Some(ctx) = state.broker.get() else {
            continue;
        };
        let mut totals: BTreeMap<String, u64> = BTreeMap::new();
        for p in ctx.cluster.store().partitions() {
            *totals.entry(p.topic().to_string()).or_default() += p.io_stats().records_in;
        }
        state.rates.record(totals);
    }
}

/// Serves admin requests until `shutdown` turns true.
pub async fn serve(listener: TcpListener, state: Arc<AdminState>, shutdown: watch::Receiver<bool>) {
    tokio::spawn(sample_rates(state.clone(), shutdown.clone()));
    crate::http::serve(listener, state, shutdown).await;
}

impl Routes for AdminState {
    async fn route(&self, req: Request) -> Response {
        let ready = self.broker.get().cloned();
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/metrics") => Response {
                status: 200,
                content_type: "text/plain; version=0.0.4; charset=utf-8",
                body: super::scrape::render(ready).await,
            },
            ("GET", "/healthz") => Response::text(200, "ok\n"),
            ("GET", "/readyz") => match ready {
                Some(_) => Response::text(200, "ready\n"),
                None => Response::text(503, "recovering\n"),
            },
            _ => match ready {
                Some(ctx) => crate::console::serve(&req, &self.console_info(&ctx)).await,
                None => Response::text(503, "recovering\n"),
            },
        }
    }
}

impl AdminState {
    /// The console of this broker: its own Kafka listener, plus what only the process knows.
    fn console_info(&self, ctx: &Ctx) -> crate::console::ConsoleInfo {
        crate::console::ConsoleInfo {
            bootstrap: format!("{}:{}", ctx.node.host, ctx.node.port),
            rates: self.rates.snapshot(),
            write_enabled: ctx.config.admin_console_write_enabled,
            local: Some(crate::console::Local {
                uptime_s: super::global().started.elapsed().as_secs(),
            }),
        }
    }
}
