//! A minimal HTTP/1.1 server for the broker's admin port and `weir console`: one request per
//! connection, bounded request head, no body. What a path answers is the caller's [`Routes`]; this
//! module refuses what no route should see (oversized heads, other methods, cross-origin POSTs).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Largest request head read; longer requests get 431.
const REQUEST_HEAD_BYTES_MAX: usize = 8 * 1024;
/// Connections served at once; more wait in the accept queue (a scraper or a browser needs few).
const CONNECTIONS_MAX: usize = 64;
/// A client must send its request head within this time.
const REQUEST_HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// One request: `GET` or `POST`, the path and the query string (without `?`).
#[derive(Debug)]
pub struct Request {
    /// `GET` or `POST` (other methods never reach a route).
    pub method: String,
    /// The path, still percent-encoded.
    pub path: String,
    /// The query string, still percent-encoded.
    pub query: String,
}

/// One response.
#[derive(Debug)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
}

impl Response {
    /// A `text/plain` response.
    pub fn text(status: u16, body: &str) -> Response {
        Response {
            status,
            content_type: "text/plain",
            body: body.to_string(),
        }
    }

    /// A `text/html` response.
    pub fn html(status: u16, body: String) -> Response {
        Response {
            status,
            content_type: "text/html; charset=utf-8",
            body,
        }
    }
}

/// What a server answers for each request.
pub trait Routes: Send + Sync + 'static {
    /// The response to `req`.
    fn route(&self, req: Request) -> impl Future<Output = Response> + Send;
}

/// Serves requests with `routes` until `shutdown` turns true.
pub async fn serve<R: Routes>(
    listener: TcpListener,
    routes: Arc<R>,
    mut shutdown: watch::Receiver<bool>,
) {
    let limit = Arc::new(tokio::sync::Semaphore::new(CONNECTIONS_MAX));
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
                let routes = routes.clone();
                tokio::spawn(async move {
                    handle(stream, &*routes).await;
                    drop(permit);
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "http accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn handle<R: Routes>(mut stream: TcpStream, routes: &R) {
    let head = match tokio::time::timeout(REQUEST_HEAD_TIMEOUT, read_head(&mut stream)).await {
        Ok(Ok(Some(h))) => h,
        Ok(Ok(None)) => {
            let r = Response::text(431, "request head too large\n");
            let _ = respond(&mut stream, &r).await;
            return;
        }
        _ => return,
    };
    let mut parts = head.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let response = match method {
        // A form posted from another site (cross-site request forgery) is refused by its Origin.
        "POST" if !same_origin(&head) => Response::text(403, "cross-origin request refused\n"),
        "GET" | "POST" => {
            routes
                .route(Request {
                    method: method.to_string(),
                    path: path.to_string(),
                    query: query.to_string(),
                })
                .await
        }
        _ => Response::text(405, "only GET and POST\n"),
    };
    let _ = respond(&mut stream, &response).await;
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

async fn respond(stream: &mut TcpStream, r: &Response) -> std::io::Result<()> {
    let reason = match r.status {
        200 => "OK",
        403 => "Forbidden",
        404 => "Not Found",
        502 => "Bad Gateway",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };
    let head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        r.status,
        r.content_type,
        r.body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(r.body.as_bytes()).await?;
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
