//! One connection: reads frames in order, dispatches each request, and writes responses in request order.
//!
//! Requests are handled one at a time, as Kafka does, except that a produce waiting for fsync does not
//! hold up the next request: its reply is queued as a future and the writer sends replies strictly in order.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, ApiVersionsResponse};
use kafka_protocol::ResponseError;
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use super::frame::{read_frame, FrameError};
use crate::handler::{self, api_versions, Ctx, Reply};
use crate::protocol::{self, DecodeError};

/// Replies queued for the writer per connection; bounds memory and applies backpressure to pipelining clients.
const PENDING_REPLIES_MAX: usize = 64;

/// A reply on its way to the writer.
#[allow(clippy::large_enum_variant)] // moved once per request, see `Reply`
enum Outgoing {
    /// Encoded and ready.
    Ready(Bytes),
    /// Waiting on an event; encoded when it resolves.
    Waiting {
        api_key: ApiKey,
        version: i16,
        correlation_id: i32,
        reply: Reply,
        /// When the request's frame was read, and how long its handler ran (for metrics).
        timing: (Instant, Duration),
    },
}

/// Serves one client connection until it closes, errs, or the broker shuts down.
pub async fn run(ctx: Arc<Ctx>, stream: TcpStream, mut shutdown: watch::Receiver<bool>) {
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let _ = stream.set_nodelay(true);
    tracing::info!(%peer, "connection opened");
    let metrics = crate::metrics::global();
    metrics.connections_created.fetch_add(1, Ordering::Relaxed);
    let (reader, writer) = stream.into_split();
    // Buffered so small pipelined requests cost one read syscall, not two each.
    let mut reader = tokio::io::BufReader::with_capacity(64 * 1024, reader);
    let (tx, rx) = mpsc::channel::<Outgoing>(PENDING_REPLIES_MAX);
    let writer_task = tokio::spawn(write_loop(writer, rx));
    let max = ctx.config.socket_request_max_bytes;
    let reason: String = loop {
        let frame = tokio::select! {
            f = read_frame(&mut reader, max) => f,
            _ = shutdown.wait_for(|s| *s) => break "broker shutting down".into(),
        };
        let frame = match frame {
            Ok(f) => f,
            Err(FrameError::Closed) => break "closed by client".into(),
            Err(e) => break format!("bad frame: {e}"),
        };
        let head = frame.slice(..frame.len().min(96));
        let (received, frame_bytes) = (Instant::now(), frame.len());
        let outgoing = match protocol::decode_request(frame) {
            Ok(request) => {
                let (api_key, version, correlation_id) = (
                    request.api_key,
                    request.version(),
                    request.header.correlation_id,
                );
                metrics.request(api_key as i16, version, frame_bytes);
                match handler::dispatch(&ctx, request, &peer).await {
                    Reply::None => continue,
                    reply => Outgoing::Waiting {
                        api_key,
                        version,
                        correlation_id,
                        reply,
                        timing: (received, received.elapsed()),
                    },
                }
            }
            Err(DecodeError::UnsupportedVersion {
                api_key: ApiKey::ApiVersions,
                correlation_id,
                ..
            }) => {
                // Kafka answers with a v0 body so the client can retry with a version it finds in the list.
                let body = ApiVersionsResponse::default()
                    .with_error_code(ResponseError::UnsupportedVersion.code())
                    .with_api_keys(api_versions::supported_api_versions());
                match protocol::encode_with_v0_header(correlation_id, &body, 0) {
                    Ok(bytes) => Outgoing::Ready(bytes),
                    Err(e) => break format!("encode: {e}"),
                }
            }
            Err(e) => {
                tracing::debug!(%peer, frame_head = ?head, "undecodable request");
                break format!("{e}");
            }
        };
        if tx.send(outgoing).await.is_err() {
            break "write failed".into();
        }
    };
    drop(tx);
    // Let the writer drain replies already accepted (in-flight produces finish and are answered).
    let _ = writer_task.await;
    metrics.connections_closed.fetch_add(1, Ordering::Relaxed);
    tracing::info!(%peer, %reason, "connection closed");
}

async fn write_loop(writer: tokio::net::tcp::OwnedWriteHalf, mut rx: mpsc::Receiver<Outgoing>) {
    let mut out = BufWriter::with_capacity(64 * 1024, writer);
    while let Some(item) = rx.recv().await {
        let (bytes, timing) = match item {
            Outgoing::Ready(b) => (b, None),
            Outgoing::Waiting {
                api_key,
                version,
                correlation_id,
                reply,
                timing,
            } => {
                let body = match reply {
                    Reply::Now(body) => body,
                    Reply::Later(fut) => fut.await,
                    Reply::None => continue,
                };
                let resolved = timing.0.elapsed();
                match protocol::encode_response(api_key, version, correlation_id, &body) {
                    Ok(b) => (b, Some((api_key, timing, resolved))),
                    Err(e) => {
                        tracing::error!(?api_key, version, error = %e, "cannot encode response; closing");
                        return;
                    }
                }
            }
        };
        if out.write_all(&bytes).await.is_err() {
            return;
        }
        if let Some((api_key, (received, handler), resolved)) = timing {
            let wait = resolved.saturating_sub(handler);
            crate::metrics::global().response(
                api_key as i16,
                bytes.len(),
                handler,
                wait,
                received.elapsed(),
            );
        }
        if rx.is_empty() && out.flush().await.is_err() {
            return;
        }
    }
    let _ = out.flush().await;
    let _ = out.shutdown().await;
}
