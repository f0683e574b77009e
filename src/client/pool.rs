//! Idle connections to other brokers, kept for reuse by broker-to-broker calls (transaction markers,
//! KIP-890 verification), as Kafka keeps a sender per node instead of connecting for every request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kafka_protocol::protocol::Request;

use super::{ClientError, Conn};

/// Idle connections kept per broker address: enough for the calls a broker makes to one peer at once.
const MAX_IDLE_PER_BROKER: usize = 4;

/// An idle connection older than this is dropped rather than reused (below Kafka's default
/// `connections.max.idle.ms` of 10 minutes, after which the peer closes it).
const MAX_IDLE: Duration = Duration::from_secs(60);

/// Connections by broker address. The lock is held only to take or return a connection, never across
/// an `.await`.
#[derive(Default)]
pub struct ConnPool {
    idle: Mutex<HashMap<String, Vec<(Conn, Instant)>>>,
}

impl ConnPool {
    /// Sends `req` to the broker at `addr` at the highest version both sides speak, at least
    /// `min_version` (`Ok(None)` when the broker speaks only older ones), on an idle connection when
    /// there is one. A reused connection that fails is replaced by a new one once: the peer may have
    /// closed it while it sat idle.
    pub async fn send<R: Request>(
        &self,
        addr: &str,
        timeout: Duration,
        req: &R,
        min_version: i16,
    ) -> Result<Option<R::Response>, ClientError> {
        if let Some(conn) = self.take(addr) {
            if let Ok(answer) = self.send_on(conn, addr, req, min_version).await {
                return Ok(answer);
            }
        }
        let conn = Conn::connect(addr, timeout).await?;
        self.send_on(conn, addr, req, min_version).await
    }

    /// Sends on `conn` and returns it to the pool if the exchange completed.
    async fn send_on<R: Request>(
        &self,
        mut conn: Conn,
        addr: &str,
        req: &R,
        min_version: i16,
    ) -> Result<Option<R::Response>, ClientError> {
        let version = match conn.version_for::<R>() {
            Ok(v) if v >= min_version => v,
            Ok(_) | Err(ClientError::Unsupported { .. }) => {
                self.put(addr, conn);
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let resp = conn.send_version(req, version).await?;
        self.put(addr, conn);
        Ok(Some(resp))
    }

    /// The most recently used idle connection to `addr` that is not too old.
    fn take(&self, addr: &str) -> Option<Conn> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let conns = idle.get_mut(addr)?;
        conns.retain(|(_, since)| since.elapsed() < MAX_IDLE);
        conns.pop().map(|(conn, _)| conn)
    }

    /// Keeps `conn` for reuse, unless `addr` already has enough idle ones.
    fn put(&self, addr: &str, conn: Conn) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let conns = idle.entry(addr.to_string()).or_default();
        if conns.len() < MAX_IDLE_PER_BROKER {
            conns.push((conn, Instant::now()));
        }
    }

    /// Idle connections held for `addr` (tests).
    pub fn idle_count(&self, addr: &str) -> usize {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.get(addr).map_or(0, Vec::len)
    }
}
