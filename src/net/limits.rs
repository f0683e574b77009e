//! Broker-wide admission limits of the network edge: connections per IP (`max.connections.per.ip`),
//! bytes of requests read but not yet handled (`queued.max.request.bytes`) and bytes of Fetch responses
//! built and waiting to be written (`queued.max.fetch.response.bytes`).

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
    /// `queued.max.fetch.response.bytes`: Fetch response bytes beyond each connection's own budget, as a
    /// pool of byte permits; `None` when unbounded.
    fetch_pool: Option<Arc<Semaphore>>,
}

/// Bytes of the Fetch pool held by one response, from before the fetch is handled until its response is
/// written (dropping it gives them back).
pub struct FetchGrant(OwnedSemaphorePermit);

impl FetchGrant {
    /// Keeps only what the built response of `len` bytes uses beyond `free` (the connection's own
    /// budget) and gives the rest back at once. A response may exceed its grant by one batch (KIP-74:
    /// the first partition returns a whole batch even over `max_bytes`); that overshoot is not counted.
    pub fn settle(mut self, len: usize, free: usize) -> Option<FetchGrant> {
        let used = len.saturating_sub(free);
        let unused = self.0.num_permits().saturating_sub(used);
        drop(self.0.split(unused));
        (self.0.num_permits() > 0).then_some(self)
    }
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
        let fetch_pool = usize::try_from(config.queued_max_fetch_response_bytes)
            .ok()
            .map(|b| Arc::new(Semaphore::new(b.min(u32::MAX as usize))));
        Arc::new(Limits {
            per_ip: Mutex::new(HashMap::new()),
            per_ip_max: u32::try_from(config.max_connections_per_ip).unwrap_or(u32::MAX),
            request_pool: pool,
            fetch_pool,
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

    /// Admits a Fetch asking for `*max_bytes`: every connection may use `free` bytes (its own
    /// `queued.max.response.bytes`); what it asks beyond that comes from the broker-wide pool, as much as
    /// is free now. Never waits: when the pool is short, `*max_bytes` is lowered to `free` plus what was
    /// granted, so the fetch returns fewer bytes (a slow or hostile client holding responses costs other
    /// clients response size, not memory, and never a stall). `None` when nothing was taken.
    pub fn grant_fetch(&self, max_bytes: &mut i32, free: usize) -> Option<FetchGrant> {
        let pool = self.fetch_pool.as_ref()?;
        let want = usize::try_from(*max_bytes)
            .unwrap_or(0)
            .saturating_sub(free);
        if want == 0 {
            return None;
        }
        // Another connection may take permits between the look and the take: look again.
        for _ in 0..4 {
            let take = want.min(pool.available_permits());
            let granted = match u32::try_from(take) {
                Ok(0) | Err(_) => None,
                Ok(n) => pool.clone().try_acquire_many_owned(n).ok(),
            };
            if granted.is_some() || take == 0 {
                let n = granted.as_ref().map_or(0, |p| p.num_permits());
                *max_bytes = i32::try_from(free.saturating_add(n)).unwrap_or(i32::MAX);
                return granted.map(FetchGrant);
            }
        }
        *max_bytes = i32::try_from(free).unwrap_or(i32::MAX);
        None
    }

    /// Bytes of the Fetch pool free now (tests, metrics).
    pub fn fetch_pool_available(&self) -> Option<usize> {
        self.fetch_pool.as_ref().map(|p| p.available_permits())
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

    #[test]
    fn fetches_beyond_the_connection_budget_share_the_pool() {
        const MIB: usize = 1 << 20;
        let config = Config {
            queued_max_fetch_response_bytes: 10 * MIB as i64,
            ..Config::default()
        };
        let limits = Limits::new(&config);
        // Within the connection's own budget: nothing taken, nothing changed.
        let mut max = MIB as i32;
        assert!(limits.grant_fetch(&mut max, MIB).is_none());
        assert_eq!(max, MIB as i32);
        // Beyond it: the pool's share, as much as is free.
        let mut max = 55 * MIB as i32;
        let first = limits.grant_fetch(&mut max, MIB).expect("granted");
        assert_eq!(max, 11 * MIB as i32);
        assert_eq!(limits.fetch_pool_available(), Some(0));
        // The pool is empty: a second fetch gets only its connection's budget, without waiting.
        let mut max = 55 * MIB as i32;
        assert!(limits.grant_fetch(&mut max, MIB).is_none());
        assert_eq!(max, MIB as i32);
        // A response of 4 MiB keeps 3 MiB of its grant and gives the rest back at once.
        let kept = first.settle(4 * MIB, MIB).expect("kept");
        assert_eq!(limits.fetch_pool_available(), Some(7 * MIB));
        drop(kept);
        assert_eq!(limits.fetch_pool_available(), Some(10 * MIB));
        // A response within the budget keeps nothing.
        let mut max = 55 * MIB as i32;
        let small = limits.grant_fetch(&mut max, MIB).expect("granted");
        assert!(small.settle(MIB / 2, MIB).is_none());
        assert_eq!(limits.fetch_pool_available(), Some(10 * MIB));
        // Unbounded (-1): no change.
        let limits = Limits::new(&Config {
            queued_max_fetch_response_bytes: -1,
            ..Config::default()
        });
        let mut max = 55 * MIB as i32;
        assert!(limits.grant_fetch(&mut max, MIB).is_none());
        assert_eq!(max, 55 * MIB as i32);
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
