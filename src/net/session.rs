//! One connection: reads frames in order, dispatches each request, and writes responses in request order.
//!
//! Requests are handled one at a time, as Kafka does, except that a produce waiting for fsync does not
//! hold up the next request: its reply is queued as a future and the writer sends replies strictly in order.
//!
//! What a connection may hold is bounded: replies are encoded as soon as they are ready and wait for the
//! writer only within `queued.max.response.bytes` (a reply larger than that waits alone), so a client
//! that pipelines requests and never reads its responses stops being read instead of filling the broker's
//! memory; requests read but not handled count against `queued.max.request.bytes` broker-wide; a
//! connection with no request read and no response written for `connections.max.idle.ms` is closed.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, ApiVersionsResponse, ResponseKind};
use kafka_protocol::ResponseError;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::frame::{FrameError, FrameReader};
use super::limits::{FetchGrant, Limits};
use super::sendfile;
use crate::handler::{self, api_versions, Ctx, Reply};
use crate::protocol::{self, DecodeError, Frame};

/// Replies queued for the writer per connection (a count bound beside the byte bound).
const PENDING_REPLIES_MAX: usize = 64;

/// How long a closing connection's writer may take to hand over replies already accepted (in-flight
/// produces) before it is dropped; a client that never reads must not hold a shutdown.
const DRAIN_MAX: Duration = Duration::from_secs(10);

/// For metrics: the API, when the request's frame was read with how long its handler ran, and when
/// its reply resolved (after the handler, for a reply that waited on an event).
type Timing = (ApiKey, (Instant, Duration), Duration);

/// What a reply holds until it is written: its bytes of the connection's budget, and of the broker-wide
/// Fetch pool for a fetch response larger than that budget.
type Held = (Option<OwnedSemaphorePermit>, Option<FetchGrant>);

/// A reply on its way to the writer.
#[allow(clippy::large_enum_variant)] // boxed on the channel, moved once per request (see `Reply`)
enum Outgoing {
    /// Encoded and ready; the permits hold its bytes of the response budgets until written (file ranges
    /// included, so what a slow reader keeps queued stays bounded).
    Ready(Frame, Held, Option<Timing>),
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

/// Last read or write of a connection, in milliseconds since the session started.
struct Activity {
    /// When the session started.
    start: Instant,
    /// Milliseconds from `start` to the last activity.
    last_ms: AtomicU64,
}

impl Activity {
    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// What a session waits on besides its own work: broker shutdown and the idle timeout.
struct Guard {
    /// Broker shutdown signal.
    shutdown: watch::Receiver<bool>,
    /// Last activity, shared with the writer.
    activity: Arc<Activity>,
    /// `connections.max.idle.ms`; `None` never times out.
    idle: Option<Duration>,
}

impl Guard {
    /// Runs `work` until it completes, the broker shuts down, or the connection has been idle too long
    /// (`Err` with the reason). `work` keeps its progress across idle checks, so a frame half read
    /// when the timer fires is not lost.
    async fn run<T>(&mut self, work: impl Future<Output = T>) -> Result<T, String> {
        tokio::pin!(work);
        loop {
            let deadline = match self.idle {
                Some(idle) => self.activity.last() + idle,
                None => Instant::now() + Duration::from_secs(86_400),
            };
            tokio::select! {
                out = &mut work => return Ok(out),
                _ = self.shutdown.wait_for(|s| *s) => return Err("broker shutting down".into()),
                _ = tokio::time::sleep_until(deadline) => {
                    if let Some(idle) = self.idle {
                        if self.activity.last() + idle <= Instant::now() {
                            return Err(format!("idle for {} ms (connections.max.idle.ms)", idle.as_millis()));
                        }
                    }
                }
            }
        }
    }
}

/// Serves one client connection until it closes, errs, idles out, or the broker shuts down.
pub async fn run(
    ctx: Arc<Ctx>,
    stream: TcpStream,
    shutdown: watch::Receiver<bool>,
    limits: Arc<Limits>,
) {
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let _ = stream.set_nodelay(true);
    tracing::info!(%peer, "connection opened");
    let metrics = crate::metrics::global();
    metrics.connections_created.fetch_add(1, Ordering::Relaxed);
    let (reader, writer) = stream.into_split();
    // No buffer is held while the connection is idle (see `FrameReader`).
    let mut reader = FrameReader::new(reader);
    // Boxed: the channel allocates its slots in blocks up front, which an idle connection would keep.
    let (tx, rx) = mpsc::channel::<Box<Outgoing>>(PENDING_REPLIES_MAX);
    let activity = Arc::new(Activity {
        start: Instant::now(),
        last_ms: AtomicU64::new(0),
    });
    let mut writer_task = tokio::spawn(write_loop(writer, rx, activity.clone()));
    let mut guard = Guard {
        shutdown,
        activity: activity.clone(),
        idle: u64::try_from(ctx.config.connections_max_idle_ms)
            .ok()
            .map(Duration::from_millis),
    };
    let budget_bytes = ctx.config.queued_max_response_bytes;
    let budget = Arc::new(Semaphore::new(budget_bytes as usize));
    let max = ctx.config.socket_request_max_bytes;
    let reason: String = loop {
        let next = async {
            let len = reader.read_len(max).await?;
            let permit = limits.request_bytes(len).await;
            Ok::<_, FrameError>((reader.read_body(len).await?, permit))
        };
        let (frame, request_bytes) = match guard.run(next).await {
            Err(reason) => break reason,
            Ok(Ok(f)) => f,
            Ok(Err(FrameError::Closed)) => break "closed by client".into(),
            Ok(Err(e)) => break format!("bad frame: {e}"),
        };
        activity.touch();
        let head = frame.slice(..frame.len().min(96));
        let (received, frame_bytes) = (Instant::now(), frame.len());
        let outgoing = match protocol::decode_request(frame, handler::list::is_supported) {
            Ok(mut request) => {
                // A fetch's response size is admitted before it is built (`Limits::grant_fetch`).
                let fetch_grant = request
                    .fetch_max_bytes_mut()
                    .and_then(|max| limits.grant_fetch(max, budget_bytes as usize));
                let (api_key, version, correlation_id) = (
                    request.api_key,
                    request.version(),
                    request.header.correlation_id,
                );
                metrics.request(api_key as i16, version, frame_bytes);
                // Boxed: the handler's state lives only while it runs, not in every idle session.
                let ready = match Box::pin(handler::dispatch(&ctx, request, &peer)).await {
                    Reply::None => continue,
                    Reply::Close(reason) => break reason,
                    Reply::Now(body) => Ok((body, Vec::new())),
                    Reply::Records(body, slices) => Ok((body, slices)),
                    waiting => Err(waiting),
                };
                match ready {
                    Ok((body, slices)) => {
                        let handled = received.elapsed();
                        let timing = Some((api_key, (received, handled), handled));
                        match protocol::encode_response_with_records(
                            api_key,
                            version,
                            correlation_id,
                            body,
                            slices,
                        ) {
                            // The pool counts file-backed bytes too: conservative (they are page cache,
                            // not heap) but it keeps one rule for every fetch.
                            Ok(frame) => {
                                let fetch = fetch_grant
                                    .and_then(|g| g.settle(frame.len(), budget_bytes as usize));
                                Outgoing::Ready(frame, (None, fetch), timing)
                            }
                            Err(e) => {
                                tracing::error!(?api_key, version, error = %e, "cannot encode response; closing");
                                break format!("encode: {e}");
                            }
                        }
                    }
                    Err(reply) => Outgoing::Waiting {
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
                // ApiVersions answers with a v0 response header at every version.
                let body = ResponseKind::ApiVersions(body);
                match protocol::encode_response_with_records(
                    ApiKey::ApiVersions,
                    0,
                    correlation_id,
                    body,
                    Vec::new(),
                ) {
                    Ok(frame) => Outgoing::Ready(frame, (None, None), None),
                    Err(e) => break format!("encode: {e}"),
                }
            }
            Err(e) => {
                tracing::debug!(%peer, frame_head = ?head, "undecodable request");
                break format!("{e}");
            }
        };
        // The request's bytes go back to the pool here; the reply's take their place in the
        // connection's budget. While the client does not read, this waits and no request is read.
        drop(request_bytes);
        let outgoing = match outgoing {
            Outgoing::Ready(bytes, (_, fetch), timing) => {
                let n = u32::try_from(bytes.len().clamp(1, budget_bytes as usize)).unwrap_or(1);
                match guard.run(budget.clone().acquire_many_owned(n)).await {
                    Err(reason) => break reason,
                    Ok(permit) => Outgoing::Ready(bytes, (permit.ok(), fetch), timing),
                }
            }
            waiting => waiting,
        };
        if tx.send(Box::new(outgoing)).await.is_err() {
            break "write failed".into();
        }
    };
    drop(tx);
    // Let the writer drain replies already accepted (in-flight produces finish and are answered), but
    // not wait on a client that does not read.
    if tokio::time::timeout(DRAIN_MAX, &mut writer_task)
        .await
        .is_err()
    {
        writer_task.abort();
    }
    metrics.connections_closed.fetch_add(1, Ordering::Relaxed);
    tracing::info!(%peer, %reason, "connection closed");
}

/// Replies gathered into one vectored write at most (count and bytes), when several are ready at once.
const WRITE_BATCH_MAX: usize = 64;
const WRITE_BATCH_BYTES: usize = 256 * 1024;

/// A reply encoded and ready to write, with what is released or recorded once it is written.
type Written = (Frame, Held, Option<Timing>);

async fn write_loop(
    mut out: tokio::net::tcp::OwnedWriteHalf,
    mut rx: mpsc::Receiver<Box<Outgoing>>,
    activity: Arc<Activity>,
) {
    // Replies are written from their own buffers (no copy into a per-connection buffer that an idle
    // connection would keep): whatever is ready at once goes out in one vectored write.
    let mut batch: Vec<Written> = Vec::new();
    let mut next = rx.recv().await;
    while let Some(item) = next.take() {
        let Some(ready) = resolve(item).await else {
            return;
        };
        batch.push(ready);
        let mut bytes = batch[0].0.len();
        while batch.len() < WRITE_BATCH_MAX && bytes < WRITE_BATCH_BYTES {
            match rx.try_recv() {
                // A reply still waiting on an event goes after this batch is written.
                Ok(item)
                    if matches!(
                        *item,
                        Outgoing::Waiting {
                            reply: Reply::Later(_),
                            ..
                        }
                    ) =>
                {
                    next = Some(item);
                    break;
                }
                Ok(item) => match resolve(item).await {
                    Some(ready) => {
                        bytes += ready.0.len();
                        batch.push(ready);
                    }
                    None => return,
                },
                Err(_) => break,
            }
        }
        if let Err(e) = sendfile::write_frames(&mut out, batch.iter().map(|w| &w.0)).await {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                tracing::warn!(error = %e, "closing the connection");
            }
            return;
        }
        activity.touch();
        for (bytes, permit, timing) in batch.drain(..) {
            if let Some((api_key, (received, handler), resolved)) = timing {
                let total = received.elapsed();
                let stages = crate::metrics::Stages {
                    handler,
                    wait: resolved.saturating_sub(handler),
                    send: total.saturating_sub(resolved),
                    total,
                };
                crate::metrics::global().response(api_key as i16, bytes.len(), stages);
            }
            drop(permit);
        }
        // The batch's capacity is not kept while idle either.
        batch = Vec::new();
        if next.is_none() {
            next = rx.recv().await;
        }
    }
    let _ = out.shutdown().await;
}

/// Encodes a reply once it is ready (awaiting its event if it waits on one); `None` closes the connection.
async fn resolve(item: Box<Outgoing>) -> Option<Written> {
    match *item {
        Outgoing::Ready(b, permit, timing) => Some((b, permit, timing)),
        Outgoing::Waiting {
            api_key,
            version,
            correlation_id,
            reply,
            timing,
        } => {
            let (body, slices) = match reply {
                Reply::Now(body) => (body, Vec::new()),
                Reply::Records(body, slices) => (body, slices),
                Reply::Later(fut) => (fut.await, Vec::new()),
                // Nothing to send: an empty buffer writes nothing.
                Reply::None | Reply::Close(_) => {
                    return Some((Bytes::new().into(), (None, None), None))
                }
            };
            let resolved = timing.0.elapsed();
            match protocol::encode_response_with_records(
                api_key,
                version,
                correlation_id,
                body,
                slices,
            ) {
                Ok(b) => Some((b, (None, None), Some((api_key, timing, resolved)))),
                Err(e) => {
                    tracing::error!(?api_key, version, error = %e, "cannot encode response; closing");
                    None
                }
            }
        }
    }
}
