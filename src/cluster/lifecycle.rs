//! The broker side of the broker lifecycle (Kafka's BrokerLifecycleManager): register with the active
//! controller, heartbeat every `broker.heartbeat.interval.ms` (faster while fenced, to be unfenced as soon
//! as the metadata has caught up), re-register when the controller no longer knows this incarnation, and
//! shut down in a controlled way on request.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{oneshot, watch};

use super::controller::{ControllerError, ControllerReply, ControllerRequest};
use super::forward::ControllerClient;
use super::publisher::Publisher;
use super::records::BrokerRegistration;

/// How often a fenced broker heartbeats (asking to be unfenced).
const FENCED_INTERVAL: Duration = Duration::from_millis(50);
/// Time allowed for one lifecycle call.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// This broker's standing with the controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// Broker epoch, once registered.
    pub epoch: Option<i64>,
    /// Unfenced: the controller lets this broker lead partitions.
    pub active: bool,
}

/// Handle to the lifecycle task.
pub struct Lifecycle {
    standing: watch::Receiver<Standing>,
    shutdown: Option<oneshot::Sender<oneshot::Sender<()>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Lifecycle {
    /// Starts registering `reg` and heartbeating every `interval`.
    pub fn spawn(
        client: Arc<ControllerClient>,
        publisher: Arc<Publisher>,
        reg: BrokerRegistration,
        interval: Duration,
    ) -> Lifecycle {
        let (tx, standing) = watch::channel(Standing {
            epoch: None,
            active: false,
        });
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let task = tokio::spawn(run(client, publisher, reg, interval, tx, shutdown_rx));
        Lifecycle {
            standing,
            shutdown: Some(shutdown_tx),
            task,
        }
    }

    /// Follows this broker's standing.
    pub fn standing(&self) -> watch::Receiver<Standing> {
        self.standing.clone()
    }

    /// Controlled shutdown: asks the controller to move leadership away, waits (bounded) for it, stops.
    pub async fn shutdown(mut self, timeout: Duration) {
        if let Some(tx) = self.shutdown.take() {
            let (done_tx, done_rx) = oneshot::channel();
            if tx.send(done_tx).is_ok() && tokio::time::timeout(timeout, done_rx).await.is_err() {
                tracing::warn!("controlled shutdown not confirmed by the controller in time");
            }
        }
        self.task.abort();
    }
}

async fn run(
    client: Arc<ControllerClient>,
    publisher: Arc<Publisher>,
    reg: BrokerRegistration,
    interval: Duration,
    standing: watch::Sender<Standing>,
    mut shutdown: oneshot::Receiver<oneshot::Sender<()>>,
) {
    let mut epoch = None;
    let mut just_registered = false;
    let mut strays_checked = false;
    let mut failing = FailureLog::default();
    loop {
        let Some(e) = epoch else {
            epoch = register(&client, &reg).await;
            if let Some(e) = epoch {
                // Unfencing needs this node's image to have applied its own registration.
                let target = u64::try_from(e).unwrap_or(0);
                let mut images = publisher.subscribe();
                let caught_up =
                    async move { images.wait_for(|i| i.offset >= target).await.is_ok() };
                let caught_up = tokio::time::timeout(CALL_TIMEOUT, caught_up).await == Ok(true);
                // Kafka compares the log folders with the first caught-up image: what was deleted or
                // moved away while this broker was down goes now.
                if caught_up && !strays_checked {
                    strays_checked = true;
                    publisher.delete_strays().await;
                }
            }
            standing.send_replace(Standing {
                epoch,
                active: false,
            });
            just_registered = epoch.is_some();
            if epoch.is_none() {
                tokio::time::sleep(FENCED_INTERVAL).await;
            }
            continue;
        };
        let fenced = !standing.borrow().active;
        // Right after registering, ask to be unfenced at once (the metadata is usually caught up already).
        let wait = if just_registered {
            Duration::ZERO
        } else if fenced {
            FENCED_INTERVAL
        } else {
            interval
        };
        just_registered = false;
        tokio::select! {
            done = &mut shutdown => {
                controlled_shutdown(&client, &publisher, reg.id, e).await;
                standing.send_replace(Standing { epoch: Some(e), active: false });
                if let Ok(done) = done { let _ = done.send(()); }
                return;
            }
            _ = tokio::time::sleep(wait) => {}
        }
        let applied = publisher.current().offset;
        let req = ControllerRequest::Heartbeat {
            id: reg.id,
            epoch: e,
            applied,
            shutting_down: false,
        };
        let reply = client.call(req, CALL_TIMEOUT).await;
        failing.note(reg.id, reply.as_ref().err());
        match reply {
            Ok((ControllerReply::Heartbeat { fenced, .. }, _)) => {
                if fenced == standing.borrow().active {
                    tracing::info!(
                        broker = reg.id,
                        epoch = e,
                        fenced,
                        "broker standing changed"
                    );
                }
                standing.send_replace(Standing {
                    epoch: Some(e),
                    active: !fenced,
                });
            }
            Err(ControllerError::StaleBrokerEpoch) => {
                tracing::warn!(
                    broker = reg.id,
                    "controller no longer knows this registration; registering again"
                );
                epoch = None;
            }
            Ok(other) => tracing::warn!(?other, "unexpected heartbeat reply"),
            Err(_) => {}
        }
    }
}

/// How often a run of failing heartbeats is logged again.
const FAILURE_LOG_EVERY: Duration = Duration::from_secs(10);

/// Logs failing heartbeats once per run (and every [`FAILURE_LOG_EVERY`] while it lasts), and the
/// recovery: a broker cut off from the controller is fenced after `broker.session.timeout.ms`, and an
/// operator needs to see why from its own log.
#[derive(Default)]
struct FailureLog {
    since: Option<tokio::time::Instant>,
    logged: Option<tokio::time::Instant>,
    failures: u32,
}

impl FailureLog {
    fn note(&mut self, id: i32, error: Option<&ControllerError>) {
        let now = tokio::time::Instant::now();
        match error {
            Some(e) => {
                self.failures += 1;
                let since = *self.since.get_or_insert(now);
                if self.logged.is_none_or(|t| now - t >= FAILURE_LOG_EVERY) {
                    self.logged = Some(now);
                    tracing::warn!(broker = id, error = %e, failures = self.failures, failing_for_ms = (now - since).as_millis() as u64, "heartbeat to the controller failed");
                }
            }
            None => {
                if let Some(since) = self.since.take() {
                    tracing::info!(
                        broker = id,
                        failures = self.failures,
                        failed_for_ms = (now - since).as_millis() as u64,
                        "heartbeats reach the controller again"
                    );
                }
                self.logged = None;
                self.failures = 0;
            }
        }
    }
}

async fn register(client: &ControllerClient, reg: &BrokerRegistration) -> Option<i64> {
    match client
        .call(ControllerRequest::Register(reg.clone()), CALL_TIMEOUT)
        .await
    {
        Ok((ControllerReply::Registered { epoch }, _)) => {
            tracing::info!(broker = reg.id, epoch, "registered with the controller");
            Some(epoch)
        }
        Ok(other) => {
            tracing::warn!(?other, "unexpected registration reply");
            None
        }
        Err(e) => {
            tracing::debug!(error = %e, "registration failed; retrying");
            None
        }
    }
}

/// Asks until the controller confirms leadership has moved off this broker (bounded by the caller),
/// then waits until this node's own image shows it.
async fn controlled_shutdown(
    client: &ControllerClient,
    publisher: &Publisher,
    id: i32,
    epoch: i64,
) {
    loop {
        let applied = publisher.current().offset;
        let req = ControllerRequest::Heartbeat {
            id,
            epoch,
            applied,
            shutting_down: true,
        };
        match client.call(req, CALL_TIMEOUT).await {
            Ok((
                ControllerReply::Heartbeat {
                    shutdown_ready: true,
                    ..
                },
                offset,
            )) => {
                let mut images = publisher.subscribe();
                let _ = images.wait_for(|i| i.offset >= offset).await.map(|_| ());
                tracing::info!(broker = id, "controlled shutdown complete");
                return;
            }
            Ok(_) | Err(_) => tokio::time::sleep(FENCED_INTERVAL).await,
        }
    }
}
