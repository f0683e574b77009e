//! Broker-wide admission limits of the network edge: connections per IP (`max.connections.per.ip`) and
//! bytes of requests read but not yet handled (`queued.max.request.bytes`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::Config;

/// Limits shared by every session.
pub struct Limits {
    /// Open connections per client address; entries leave when their count reaches 0.
    per_ip: Mutex<HashMap<IpAddr, u32>>,
    /// `max.connections.per.ip`.
    per_ip_max: u32,
    /// `queued.max.request.bytes` as a pool of byte permits; `None` when unbounded (Kafka's -1).
    request_pool: Option<Arc<Semaphore>>,
}

/// One admitted connection; gives its per-IP slot back when dropped.
pub struct Admitted {
    /// The limits it counts against.
    limits: Arc<Limits>,
    /// Its client address.
    ip: IpAddr,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut map = self.limits.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

impl Limits {
    /// Limits from the broker config.
    pub fn new(config: &Config) -> Arc<Limits> {
        let pool = usize::try_from(config.queued_max_request_bytes)
            .ok()
            .filter(|b| *b > 0)
            .map(|b| Arc::new(Semaphore::new(b.min(Semaphore::MAX_PERMITS))));
        Arc::new(Limits {
            per_ip: Mutex::new(HashMap::new()),
            per_ip_max: u32::try_from(config.max_connections_per_ip).unwrap_or(u32::MAX),
            request_pool: pool,
        })
    }

    /// Counts a new connection from `ip`; `None` when that address is at `max.connections.per.ip`.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Admitted> {
        let mut map = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= self.per_ip_max {
            return None;
        }
        *n += 1;
        Some(Admitted {
            limits: self.clone(),
            ip,
        })
    }

    /// Waits for `len` bytes of the request pool (at once when unbounded); the permit is held until the
    /// request has been handled. `len` never exceeds the pool (the config requires
    /// `queued.max.request.bytes >= socket.request.max.bytes`).
    pub async fn request_bytes(&self, len: usize) -> Option<OwnedSemaphorePermit> {
        let pool = self.request_pool.as_ref()?;
        let n = u32::try_from(len.max(1)).unwrap_or(u32::MAX);
        pool.clone().acquire_many_owned(n).await.ok()
    }

    /// Connections currently counted for `ip` (tests).
    pub fn connections_from(&self, ip: IpAddr) -> u32 {
        let map = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&ip).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_ip_slots_are_counted_and_given_back() {
        let config = Config {
            max_connections_per_ip: 2,
            ..Config::default()
        };
        let limits = Limits::new(&config);
        let ip: IpAddr = [10, 0, 0, 1].into();
        let a = limits.admit(ip).expect("first");
        let b = limits.admit(ip).expect("second");
        assert!(limits.admit(ip).is_none(), "third from the same address");
        assert!(
            limits.admit([10, 0, 0, 2].into()).is_some(),
            "another address"
        );
        drop(a);
        assert_eq!(limits.connections_from(ip), 1);
        let _c = limits.admit(ip).expect("a slot was given back");
        drop(b);
    }

    #[tokio::test]
    async fn the_request_pool_waits_when_full() {
        let config = Config {
            queued_max_request_bytes: 200 * 1024 * 1024,
            ..Config::default()
        };
        let limits = Limits::new(&config);
        let held = limits.request_bytes(150 * 1024 * 1024).await.expect("pool");
        let waiting = limits.request_bytes(100 * 1024 * 1024);
        tokio::pin!(waiting);
        assert!(futures_util::FutureExt::now_or_never(&mut waiting).is_none());
        drop(held);
        assert!(waiting.await.is_some());
        // Unbounded (Kafka's default -1): no permit, no wait.
        assert!(Limits::new(&Config::default())
            .request_bytes(1)
            .await
            .is_none());
    }
}
