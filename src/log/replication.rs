//! A partition's replication role and the leader's view of its followers (Kafka's `Partition` and
//! `Replica` state): follower progress, the in-sync replica set, the high watermark and the offset up to
//! which acks=all produces are answered. Plain data, updated under the partition lock.

use std::collections::BTreeMap;

/// "Not known yet" for a follower's offsets (Kafka's `UnifiedLog.UnknownOffset`).
pub const UNKNOWN: i64 = -1;

/// What this broker is for the partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Takes appends; `followers` is empty for a partition with one replica (the single-node default).
    Leader(LeaderState),
    /// Copies the leader's log; its high watermark comes from the leader's fetch responses.
    Follower { leader_epoch: i32 },
}

impl Default for Role {
    fn default() -> Self {
        Role::Leader(LeaderState::default())
    }
}

/// The leader's view of one partition's replicas.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaderState {
    /// Leader epoch stamped into appended batches.
    pub leader_epoch: i32,
    /// Partition epoch of the state the ISR below came from (AlterPartition is fenced by it).
    pub partition_epoch: i32,
    /// In-sync followers (the leader itself excluded), as the metadata image says.
    pub isr: Vec<i32>,
    /// Followers being added to the ISR by an AlterPartition in flight: they count for the high
    /// watermark already (Kafka's "maximal ISR"), so none can join the ISR behind the high watermark.
    pub pending_add: Vec<i32>,
    /// Followers being removed by an AlterPartition in flight (they still count until it commits).
    pub pending_remove: Vec<i32>,
    /// Every follower replica with its progress.
    pub followers: BTreeMap<i32, Progress>,
    /// First offset of this leader's epoch: a follower must reach it to join the ISR (Kafka's rule).
    pub epoch_start_offset: i64,
}

/// One follower's progress as its fetches report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Its log end offset (the offset of its last fetch).
    pub log_end: i64,
    /// Offset below which its log is fsynced (Weir's extension; its log end when not reported).
    pub durable: i64,
    /// Last time it was caught up with the leader (Kafka's `lastCaughtUpTimeMs`).
    pub last_caught_up_ms: i64,
    /// Time of its previous fetch and the leader's log end then.
    pub last_fetch_ms: i64,
    pub last_fetch_leader_end: i64,
}

impl Progress {
    /// A follower not heard from since `now_ms` (it gets a full `replica.lag.time.max.ms` to fetch).
    pub fn new(now_ms: i64) -> Progress {
        Progress {
            log_end: UNKNOWN,
            durable: UNKNOWN,
            last_caught_up_ms: now_ms,
            last_fetch_ms: now_ms,
            last_fetch_leader_end: UNKNOWN,
        }
    }
}

impl LeaderState {
    /// The leader of `epoch` with these in-sync followers among `replicas`.
    pub fn new(
        leader_epoch: i32,
        partition_epoch: i32,
        isr: Vec<i32>,
        followers: &[i32],
        epoch_start_offset: i64,
        now_ms: i64,
    ) -> LeaderState {
        LeaderState {
            leader_epoch,
            partition_epoch,
            isr,
            pending_add: Vec::new(),
            pending_remove: Vec::new(),
            followers: followers
                .iter()
                .map(|id| (*id, Progress::new(now_ms)))
                .collect(),
            epoch_start_offset,
        }
    }

    /// Followers counted for the high watermark: the ISR plus additions in flight.
    fn counted(&self) -> impl Iterator<Item = &Progress> {
        self.isr
            .iter()
            .chain(self.pending_add.iter())
            .filter_map(|id| self.followers.get(id))
    }

    /// Size of the ISR including the leader (what `min.insync.replicas` is compared with).
    pub fn isr_size(&self) -> usize {
        1 + self
            .isr
            .iter()
            .filter(|id| !self.pending_remove.contains(id))
            .count()
    }

    /// Candidate high watermark: the lowest log end among the leader and the counted followers.
    pub fn high_watermark(&self, leader_end: i64) -> i64 {
        self.counted().map(|p| p.log_end).fold(leader_end, i64::min)
    }

    /// Candidate acknowledgement point: like the high watermark, but on fsynced offsets when `fsync`.
    pub fn acked(&self, leader_end: i64, leader_durable: i64, fsync: bool) -> i64 {
        let own = if fsync { leader_durable } else { leader_end };
        self.counted()
            .map(|p| if fsync { p.durable } else { p.log_end })
            .fold(own.min(leader_end), i64::min)
    }

    /// A fetch from follower `id` at `fetch_offset` (its log end), fsynced below `durable`, while the
    /// leader's log ends at `leader_end`: updates its progress (Kafka's `Replica.updateFetchState`).
    /// Returns false for a broker that is not a follower of this partition.
    pub fn on_fetch(
        &mut self,
        id: i32,
        fetch_offset: i64,
        durable: i64,
        leader_end: i64,
        now_ms: i64,
    ) -> bool {
        let Some(p) = self.followers.get_mut(&id) else {
            return false;
        };
        if fetch_offset >= leader_end {
            p.last_caught_up_ms = p.last_caught_up_ms.max(now_ms);
        } else if fetch_offset >= p.last_fetch_leader_end && p.last_fetch_leader_end >= 0 {
            p.last_caught_up_ms = p.last_caught_up_ms.max(p.last_fetch_ms);
        }
        p.last_fetch_leader_end = leader_end;
        p.last_fetch_ms = now_ms;
        p.log_end = fetch_offset;
        p.durable = durable.min(fetch_offset);
        true
    }

    /// Whether follower `id` may join the ISR: not in it, caught up to the high watermark and to the start
    /// of this leader's epoch (Kafka's `isFollowerInSync` plus the epoch-start rule).
    pub fn may_join(&self, id: i32, high_watermark: i64) -> bool {
        if self.isr.contains(&id) || self.pending_add.contains(&id) {
            return false;
        }
        self.followers
            .get(&id)
            .is_some_and(|p| p.log_end >= high_watermark && p.log_end >= self.epoch_start_offset)
    }

    /// In-sync followers that have not caught up within `lag_max_ms` (Kafka's `getOutOfSyncReplicas`).
    pub fn lagging(&self, now_ms: i64, lag_max_ms: i64) -> Vec<i32> {
        self.isr
            .iter()
            .copied()
            .filter(|id| !self.pending_remove.contains(id))
            .filter(|id| {
                self.followers
                    .get(id)
                    .is_some_and(|p| now_ms.saturating_sub(p.last_caught_up_ms) > lag_max_ms)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn high_watermark_is_the_lowest_log_end_in_the_isr() {
        let mut s = LeaderState::new(3, 0, vec![2, 3], &[2, 3], 0, 0);
        assert_eq!(s.high_watermark(10), -1, "followers not heard from yet");
        assert!(s.on_fetch(2, 10, 4, 10, 1));
        assert!(s.on_fetch(3, 7, 7, 10, 1));
        assert_eq!(s.high_watermark(10), 7);
        assert_eq!(s.acked(10, 10, true), 4, "fsync: the lowest durable offset");
        assert_eq!(s.acked(10, 3, true), 3, "the leader's own fsync counts");
        assert_eq!(s.acked(10, 3, false), 7);
        assert!(!s.on_fetch(9, 10, 10, 10, 1), "not a replica");
        // Out of the ISR: no longer holds the high watermark back.
        s.isr = vec![2];
        assert_eq!(s.high_watermark(10), 10);
    }

    #[test]
    fn lag_is_measured_from_the_last_time_caught_up() {
        let mut s = LeaderState::new(1, 0, vec![2], &[2], 0, 0);
        s.on_fetch(2, 5, 5, 5, 1_000);
        // Leader moves on; the follower's next fetch reaches the old end: caught up as of its last fetch.
        s.on_fetch(2, 5, 5, 9, 20_000);
        s.on_fetch(2, 9, 9, 12, 40_000);
        assert_eq!(s.followers[&2].last_caught_up_ms, 20_000);
        assert!(s.lagging(45_000, 30_000).is_empty());
        assert_eq!(s.lagging(50_001, 30_000), vec![2]);
        assert!(!s.may_join(2, 9), "already in the ISR");
        s.isr.clear();
        assert!(s.may_join(2, 9));
        assert!(!s.may_join(2, 10), "behind the high watermark");
        s.epoch_start_offset = 11;
        assert!(!s.may_join(2, 9), "behind the start of the leader's epoch");
    }
}
