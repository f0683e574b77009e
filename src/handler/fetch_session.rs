//! Incremental fetch sessions (KIP-227): the broker remembers a consumer's partition set so later fetches
//! send and receive only what changed. Bounded by `max.incremental.fetch.session.cache.slots`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use uuid::Uuid;

/// A session idle this long may be evicted to make room (Kafka's `min.incremental.fetch.session.eviction.ms`).
pub const SESSION_EVICTION_IDLE: Duration = Duration::from_secs(120);

/// Session epoch meaning "full fetch, no session" (also closes the named session).
pub const FINAL_EPOCH: i32 = -1;
/// Session epoch meaning "full fetch, create a session".
pub const INITIAL_EPOCH: i32 = 0;

/// One partition a session (or a sessionless fetch) reads.
#[derive(Debug, Clone)]
pub struct FetchTarget {
    /// Topic name, or None when the request named an unknown topic id.
    pub topic: Option<String>,
    /// Topic id (v13+), nil before.
    pub topic_id: Uuid,
    /// Partition index.
    pub partition: i32,
    /// Next offset the client wants.
    pub fetch_offset: i64,
    /// Per-partition byte limit.
    pub max_bytes: i32,
    /// Leader epoch the client believes current (KIP-320), or -1.
    pub current_leader_epoch: i32,
    /// What the client was last told: (high watermark, last stable offset, log start); None until then.
    pub last_sent: Option<(i64, i64, i64)>,
}

/// A cached session.
#[derive(Debug)]
struct Session {
    /// The epoch the next request must carry.
    next_epoch: i32,
    /// Partitions in the session, in the order responses list them.
    partitions: IndexMap<(Uuid, Option<String>, i32), FetchTarget>,
    /// For eviction.
    last_used: Instant,
}

/// Why a session request is refused (top-level fetch error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionError {
    /// FETCH_SESSION_ID_NOT_FOUND.
    NotFound,
    /// INVALID_FETCH_SESSION_EPOCH.
    InvalidEpoch,
}

/// What a fetch request means once matched against the cache.
#[derive(Debug)]
pub struct FetchContext {
    /// Session id to return (0 = none).
    pub session_id: i32,
    /// True for incremental fetches: only changed partitions are returned.
    pub incremental: bool,
    /// Every partition to read.
    pub targets: Vec<FetchTarget>,
}

/// The session cache.
#[derive(Debug)]
pub struct FetchSessionCache {
    /// Most sessions kept.
    slots: usize,
    /// Sessions by id.
    sessions: HashMap<i32, Session>,
}

impl FetchSessionCache {
    /// An empty cache holding at most `slots` sessions.
    pub fn new(slots: usize) -> FetchSessionCache {
        FetchSessionCache {
            slots,
            sessions: HashMap::new(),
        }
    }

    /// Number of cached sessions.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no session is cached.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Resolves a request into a context: `requested` are the partitions in the request, `forgotten` the
    /// ones to drop from an incremental session.
    pub fn begin(
        &mut self,
        session_id: i32,
        epoch: i32,
        requested: Vec<FetchTarget>,
        forgotten: &[(Uuid, Option<String>, i32)],
        now: Instant,
    ) -> Result<FetchContext, SessionError> {
        if epoch == FINAL_EPOCH || epoch == INITIAL_EPOCH {
            if session_id != 0 {
                self.sessions.remove(&session_id);
            }
            let session_id = if epoch == INITIAL_EPOCH {
                self.create(&requested, now)
            } else {
                0
            };
            return Ok(FetchContext {
                session_id,
                incremental: false,
                targets: requested,
            });
        }
        let session = self
            .sessions
            .get_mut(&session_id)
            .ok_or(SessionError::NotFound)?;
        if session.next_epoch != epoch {
            return Err(SessionError::InvalidEpoch);
        }
        session.next_epoch = next_epoch(epoch);
        session.last_used = now;
        for key in forgotten {
            session.partitions.shift_remove(key);
        }
        for t in requested {
            let key = (t.topic_id, t.topic.clone(), t.partition);
            match session.partitions.get_mut(&key) {
                Some(existing) => {
                    existing.fetch_offset = t.fetch_offset;
                    existing.max_bytes = t.max_bytes;
                    existing.current_leader_epoch = t.current_leader_epoch;
                }
                None => {
                    session.partitions.insert(key, t);
                }
            }
        }
        Ok(FetchContext {
            session_id,
            incremental: true,
            targets: session.partitions.values().cloned().collect(),
        })
    }

    /// Records what a response told the client, so later incremental fetches can omit unchanged partitions.
    pub fn record_sent(&mut self, session_id: i32, sent: &[FetchTarget]) {
        if let Some(session) = self.sessions.get_mut(&session_id) {
            for t in sent {
                if let Some(p) =
                    session
                        .partitions
                        .get_mut(&(t.topic_id, t.topic.clone(), t.partition))
                {
                    p.last_sent = t.last_sent;
                }
            }
        }
    }

    fn create(&mut self, requested: &[FetchTarget], now: Instant) -> i32 {
        if self.slots == 0 {
            return 0;
        }
        if self.sessions.len() >= self.slots {
            let evictable = self
                .sessions
                .iter()
                .filter(|(_, s)| now.duration_since(s.last_used) >= SESSION_EVICTION_IDLE)
                .min_by_key(|(_, s)| s.last_used)
                .map(|(id, _)| *id);
            match evictable {
                Some(id) => {
                    self.sessions.remove(&id);
                }
                None => return 0,
            }
        }
        let mut id;
        loop {
            id = rand::random::<i32>();
            if id > 0 && !self.sessions.contains_key(&id) {
                break;
            }
        }
        let partitions = requested
            .iter()
            .map(|t| ((t.topic_id, t.topic.clone(), t.partition), t.clone()))
            .collect();
        self.sessions.insert(
            id,
            Session {
                next_epoch: 1,
                partitions,
                last_used: now,
            },
        );
        id
    }
}

/// Epochs wrap from i32::MAX to 1 (0 and -1 are reserved).
fn next_epoch(epoch: i32) -> i32 {
    if epoch == i32::MAX {
        1
    } else {
        epoch + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(p: i32, offset: i64) -> FetchTarget {
        FetchTarget {
            topic: Some("t".into()),
            topic_id: Uuid::nil(),
            partition: p,
            fetch_offset: offset,
            max_bytes: 1024,
            current_leader_epoch: -1,
            last_sent: None,
        }
    }

    #[test]
    fn full_then_incremental_then_errors() {
        let mut c = FetchSessionCache::new(2);
        let now = Instant::now();
        let ctx = c
            .begin(0, INITIAL_EPOCH, vec![target(0, 0), target(1, 0)], &[], now)
            .unwrap();
        assert!(ctx.session_id > 0 && !ctx.incremental);
        let id = ctx.session_id;
        let ctx = c.begin(id, 1, vec![target(0, 5)], &[], now).unwrap();
        assert!(ctx.incremental);
        assert_eq!(ctx.targets.len(), 2);
        assert_eq!(ctx.targets[0].fetch_offset, 5);
        assert_eq!(
            c.begin(id, 1, vec![], &[], now).unwrap_err(),
            SessionError::InvalidEpoch
        );
        let ctx = c
            .begin(id, 2, vec![], &[(Uuid::nil(), Some("t".into()), 1)], now)
            .unwrap();
        assert_eq!(ctx.targets.len(), 1);
        assert_eq!(
            c.begin(12345, 1, vec![], &[], now).unwrap_err(),
            SessionError::NotFound
        );
        // FINAL_EPOCH closes the session.
        let ctx = c
            .begin(id, FINAL_EPOCH, vec![target(0, 0)], &[], now)
            .unwrap();
        assert_eq!(ctx.session_id, 0);
        assert_eq!(
            c.begin(id, 3, vec![], &[], now).unwrap_err(),
            SessionError::NotFound
        );
    }

    #[test]
    fn cache_is_bounded_and_evicts_idle_sessions() {
        let mut c = FetchSessionCache::new(1);
        let t0 = Instant::now();
        let a = c
            .begin(0, INITIAL_EPOCH, vec![target(0, 0)], &[], t0)
            .unwrap()
            .session_id;
        assert!(a > 0);
        let b = c
            .begin(0, INITIAL_EPOCH, vec![target(0, 0)], &[], t0)
            .unwrap()
            .session_id;
        assert_eq!(b, 0, "full cache with no idle session creates none");
        let later = t0 + SESSION_EVICTION_IDLE;
        let d = c
            .begin(0, INITIAL_EPOCH, vec![target(0, 0)], &[], later)
            .unwrap()
            .session_id;
        assert!(d > 0 && d != a);
        assert_eq!(c.len(), 1);
    }
}
