//! The admin HTTP listener (`admin.listeners`, default 127.0.0.1:9644): `/metrics` (Prometheus text),
//! `/healthz` (the process is up), `/readyz` (recovery done, serving Kafka) and the web console (GET
//! pages; POST actions when `admin.console.write.enabled`). A minimal HTTP/1.1 server: one request per
//! connection, bounded request head, no body.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::handler::Ctx;

/// Largest request head read; longer requests get 431.
const REQUEST_HEAD_BYTES_MAX: usize = 8 * 1024;
/// Admin connections served at once; more wait in the accept queue (a scraper or a browser needs few).
const ADMIN_CONNECTIONS_MAX: usize = 64;
/// A client must send its request head within this time.
const REQUEST_HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// Produce-rate samples kept per topic for the console's sparklines …
const RATE_SAMPLES_MAX: usize = 60;
/// … taken this often.
const RATE_SAMPLE_INTERVAL: Duration = Duration::from_secs(5);

/// What the admin endpoints see: nothing until the broker is serving, then its context.
#[derive(Default)]
pub struct AdminState {
    /// Set once recovery is done and the Kafka listener accepts.
    broker: OnceLock<Arc<Ctx>>,
    /// Records/s appended per topic, oldest first (sampled by `sample_rates`, not on the request path).
    rates: Mutex<BTreeMap<String, VecDeque<f64>>>,
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

/// Samples each topic's records-in counter every few seconds for the console's produce-rate sparklines.
async fn sample_rates(state: Arc<AdminState>, mut shutdown: watch::Receiver<bool>) {
    let mut last: BTreeMap<String, u64> = BTreeMap::new();
    let mut tick = tokio::time::interval(RATE_SAMPLE_INTERVAL);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        let Some(ctx) = state.broker.get() else {
            continue;
        };
        let mut now: BTreeMap<String, u64> = BTreeMap::new();
        for p in ctx.cluster.store().partitions() {
            *now.entry(p.topic().to_string()).or_default() += p.io_stats().records_in;
        }
        let mut rates = state.rates.lock().unwrap_or_else(|e| e.into_inner());
        rates.retain(|t, _| now.contains_key(t));
        for (topic, total) in &now {
            let before = last.get(topic).copied().unwrap_or(*total);
            let series = rates.entry(topic.clone()).or_default();
            series.push_back(
                total.saturating_sub(before) as f64 / RATE_SAMPLE_INTERVAL.as_secs_f64(),
            );
            if series.len() > RATE_SAMPLES_MAX {
                series.pop_front();
            }
        }
        last = now;
    }
}

/// Serves admin requests until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AdminState>,
    mut shutdown: watch::Receiver<bool>,
) {
    tokio::spawn(sample_rates(state.clone(), shutdown.clone()));
    let limit = Arc::new(tokio::sync::Semaphore::new(ADMIN_CONNECTIONS_MAX));
    loop {
        let permit = tokio::select! {
            p = limit.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            _ = shutdown.wait_for(|s| *s) => return,
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.wait_for(|s| *s) => return,
        };
        match accepted {
            Ok((stream, _)) => {
                let state = state.clone();
                tokio::spawn(async move {
                    handle(stream, state).await;
                    drop(permit);
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "admin accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn handle(mut stream: TcpStream, state: Arc<AdminState>) {
    let head = match tokio::time::timeout(REQUEST_HEAD_TIMEOUT, read_head(&mut stream)).await {
        Ok(Ok(Some(h))) => h,
        Ok(Ok(None)) => {
            let _ = respond(&mut stream, 431, "text/plain", "request head too large\n").await;
            return;
        }
        _ => return,
    };
    let mut parts = head.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let ready = state.broker.get().cloned();
    let _ = match (method, path) {
        ("GET", "/metrics") => {
            let body = super::scrape::render(ready).await;
            respond(
                &mut stream,
                200,
                "text/plain; version=0.0.4; charset=utf-8",
                &body,
            )
            .await
        }
        ("GET", "/healthz") => respond(&mut stream, 200, "text/plain", "ok\n").await,
        ("GET", "/readyz") => match ready {
            Some(_) => respond(&mut stream, 200, "text/plain", "ready\n").await,
            None => respond(&mut stream, 503, "text/plain", "recovering\n").await,
        },
        ("GET", _) => match console_page(path, query, ready, &state, false).await {
            Some((status, html)) => {
                respond(&mut stream, status, "text/html; charset=utf-8", &html).await
            }
            None => respond(&mut stream, 404, "text/plain", "not found\n").await,
        },
        // A form posted from another site (cross-site request forgery) is refused by its Origin.
        ("POST", _) if !same_origin(&head) => {
            respond(
                &mut stream,
                403,
                "text/plain",
                "cross-origin request refused\n",
            )
            .await
        }
        ("POST", _) => match console_page(path, query, ready, &state, true).await {
            Some((status, html)) => {
                respond(&mut stream, status, "text/html; charset=utf-8", &html).await
            }
            None => respond(&mut stream, 404, "text/plain", "not found\n").await,
        },
        _ => respond(&mut stream, 405, "text/plain", "only GET and POST\n").await,
    };
}

/// Whether a request's `Origin` header, if any, names the host it was sent to (browsers send it on
/// every POST; tools such as curl send none).
fn same_origin(head: &str) -> bool {
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    match (header("origin"), header("host")) {
        (None, _) => true,
        (Some(origin), Some(host)) => {
            origin.split_once("://").map(|(_, h)| h) == Some(host.as_str())
        }
        (Some(_), None) => false,
    }
}

/// A console page (or, for `post`, a console write), once the broker serves Kafka (the console talks
/// to it through its own listener).
async fn console_page(
    path: &str,
    query: &str,
    ready: Option<Arc<Ctx>>,
    state: &AdminState,
    post: bool,
) -> Option<(u16, String)> {
    let Some(ctx) = ready else {
        return Some((503, "recovering\n".into()));
    };
    let dir = ctx.config.data_dir.clone();
    let walk = dir.clone();
    let disk_bytes = tokio::task::spawn_blocking(move || dir_bytes(&walk, 3))
        .await
        .unwrap_or(0);
    let info = crate::console::ConsoleInfo {
        bootstrap: format!("{}:{}", ctx.node.host, ctx.node.port),
        uptime_s: super::global().started.elapsed().as_secs(),
        disk_bytes,
        data_dir: dir.display().to_string(),
        rates: state
            .rates
            .lock()
            .map(|r| {
                r.iter()
                    .map(|(t, v)| (t.clone(), v.iter().copied().collect()))
                    .collect()
            })
            .unwrap_or_default(),
        write_enabled: ctx.config.admin_console_write_enabled,
    };
    if post {
        return crate::console::write::act(path, query, &info).await;
    }
    crate::console::render(path, query, &info).await
}

/// Bytes of the files under `dir`, `depth` folders deep (partition folders sit one level down).
fn dir_bytes(dir: &std::path::Path, depth: u32) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() && depth > 0 => dir_bytes(&e.path(), depth - 1),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Reads up to the blank line ending the request head; `None` when it exceeds the bound.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<String>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.windows(2).any(|w| w == b"\n\n") {
            return Ok(Some(String::from_utf8_lossy(&buf).into_owned()));
        }
        if buf.len() > REQUEST_HEAD_BYTES_MAX {
            return Ok(None);
        }
    }
}

async fn respond(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &str,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        403 => "Forbidden",
        404 => "Not Found",
        502 => "Bad Gateway",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::same_origin;

    #[test]
    fn posts_from_other_origins_are_refused() {
        let head = |origin: &str| {
            format!("POST /topics/t/delete HTTP/1.1\r\nHost: 127.0.0.1:9644\r\n{origin}\r\n")
        };
        assert!(same_origin(&head("")));
        assert!(same_origin(&head("Origin: http://127.0.0.1:9644")));
        assert!(!same_origin(&head("Origin: https://evil.example")));
        assert!(!same_origin(&head("origin: http://127.0.0.1:9645")));
    }
}
