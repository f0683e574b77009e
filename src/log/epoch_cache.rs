//! The leader-epoch cache of one partition (Kafka's `LeaderEpochFileCache`): the first offset written in
//! each leader epoch, persisted as `leader-epoch-checkpoint` in Kafka's text format. Followers use it to
//! find where their log diverges from a new leader's (KIP-101/279, Fetch's diverging epoch of KIP-595);
//! clients ask it through OffsetForLeaderEpoch (KIP-320).

use std::io;
use std::path::Path;

/// File name inside the partition folder (Kafka's).
pub const FILE_NAME: &str = "leader-epoch-checkpoint";

/// "No epoch" / "no offset" in answers (Kafka's `UNDEFINED_EPOCH` and `UNDEFINED_EPOCH_OFFSET`).
pub const UNDEFINED: i64 = -1;

/// `(epoch, start offset)` entries in increasing epoch and offset order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EpochCache {
    entries: Vec<(i32, i64)>,
    /// Changed since the file was last written.
    dirty: bool,
}

impl EpochCache {
    /// Reads `leader-epoch-checkpoint` from `dir`; a missing or unreadable file gives an empty cache (the
    /// log rebuilds what it can from its batches' epochs, see `recovery`).
    pub fn load(dir: &Path) -> EpochCache {
        let text = match std::fs::read_to_string(dir.join(FILE_NAME)) {
            Ok(t) => t,
            Err(e) => {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::warn!(dir = %dir.display(), error = %e, "unreadable leader-epoch-checkpoint; rebuilding");
                }
                return EpochCache::default();
            }
        };
        match parse(&text) {
            Some(entries) => EpochCache {
                entries,
                dirty: false,
            },
            None => {
                tracing::warn!(dir = %dir.display(), "malformed leader-epoch-checkpoint; rebuilding");
                EpochCache {
                    entries: Vec::new(),
                    dirty: true,
                }
            }
        }
    }

    /// Entries, oldest first.
    pub fn entries(&self) -> &[(i32, i64)] {
        &self.entries
    }

    /// The newest epoch, if any.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|e| e.0)
    }

    /// Records that `epoch` starts at `offset`. Only a newer epoch than the latest is kept (Kafka's
    /// `assign`): batches of an older epoch appended later are a follower copying history.
    pub fn assign(&mut self, epoch: i32, offset: i64) {
        if epoch < 0 {
            return;
        }
        match self.entries.last() {
            Some(&(e, _)) if e >= epoch => {}
            Some(&(_, o)) if o > offset => {
                // A newer epoch cannot start before the previous one: drop the entries it overrides.
                self.entries.retain(|(_, start)| *start < offset);
                self.entries.push((epoch, offset));
                self.dirty = true;
            }
            _ => {
                self.entries.push((epoch, offset));
                self.dirty = true;
            }
        }
    }

    /// `(epoch, end offset)` for `requested` (Kafka's `endOffsetFor`): the end offset is the start of the
    /// first later epoch, or the log end for the latest epoch. An epoch between two known ones answers with
    /// the largest known epoch below it; one newer than every known epoch is undefined.
    pub fn end_offset_for(&self, requested: i32, log_end: i64) -> (i32, i64) {
        let undefined = (UNDEFINED as i32, UNDEFINED);
        if requested < 0 {
            return undefined;
        }
        if self.latest_epoch() == Some(requested) {
            return (requested, log_end);
        }
        let Some(higher) = self.entries.iter().find(|(e, _)| *e > requested) else {
            return undefined;
        };
        match self.entries.iter().rev().find(|(e, _)| *e <= requested) {
            Some(&(floor, _)) => (floor, higher.1),
            None => (requested, higher.1),
        }
    }

    /// The log was cut at `end_offset`: forgets epochs that start at or after it.
    pub fn truncate_from_end(&mut self, end_offset: i64) {
        let before = self.entries.len();
        self.entries.retain(|(_, start)| *start < end_offset);
        self.dirty |= self.entries.len() != before;
    }

    /// The log start moved to `start_offset`: entries wholly below it go, and the one it falls in starts
    /// there (Kafka's `truncateFromStart`).
    pub fn truncate_from_start(&mut self, start_offset: i64) {
        let below = self
            .entries
            .iter()
            .take_while(|(_, s)| *s <= start_offset)
            .count();
        if below == 0 {
            return;
        }
        let keep_from = below - 1;
        if keep_from > 0 || self.entries[keep_from].1 != start_offset {
            self.entries.drain(..keep_from);
            self.entries[0].1 = start_offset;
            self.dirty = true;
        }
    }

    /// The log was emptied (a follower restarting at its leader's log start): no epoch is known.
    pub fn clear(&mut self) {
        self.dirty |= !self.entries.is_empty();
        self.entries.clear();
    }

    /// Whether the file needs writing.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// The file's contents (Kafka's checkpoint format: version, count, then `epoch offset` lines).
    pub fn to_text(&self) -> String {
        let mut s = format!("0\n{}\n", self.entries.len());
        for (e, o) in &self.entries {
            s.push_str(&format!("{e} {o}\n"));
        }
        s
    }

    /// Writes the file atomically (temp file, fsync, rename) and marks the cache clean. Callers run it off
    /// the async workers (the flusher or the metadata publisher's blocking thread).
    pub fn write(&mut self, dir: &Path) -> io::Result<()> {
        crate::log::checkpoint::write_text(dir, FILE_NAME, &self.to_text())?;
        self.dirty = false;
        Ok(())
    }

    /// Marks the cache as needing a write (a failed write is retried by the next flush).
    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// Marks the cache written (by a caller that wrote [`to_text`](Self::to_text) itself, outside a lock).
    pub fn mark_clean(&mut self) {
        self.dirty = false;
    }
}

fn parse(text: &str) -> Option<Vec<(i32, i64)>> {
    let mut lines = text.lines();
    if lines.next()?.trim() != "0" {
        return None;
    }
    let count: usize = lines.next()?.trim().parse().ok()?;
    let mut entries = Vec::with_capacity(count.min(1024));
    for line in lines.take(count) {
        let mut parts = line.split_whitespace();
        let epoch: i32 = parts.next()?.parse().ok()?;
        let offset: i64 = parts.next()?.parse().ok()?;
        if entries
            .last()
            .is_some_and(|&(e, o)| e >= epoch || o > offset)
        {
            return None;
        }
        entries.push((epoch, offset));
    }
    (entries.len() == count).then_some(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(entries: &[(i32, i64)]) -> EpochCache {
        let mut c = EpochCache::default();
        for (e, o) in entries {
            c.assign(*e, *o);
        }
        c
    }

    #[test]
    fn end_offsets_follow_kafka() {
        let c = cache(&[(1, 0), (3, 10), (4, 25)]);
        assert_eq!(
            c.end_offset_for(4, 40),
            (4, 40),
            "latest epoch ends at the log end"
        );
        assert_eq!(c.end_offset_for(3, 40), (3, 25));
        assert_eq!(
            c.end_offset_for(2, 40),
            (1, 10),
            "unknown epoch: the floor epoch's end"
        );
        assert_eq!(
            c.end_offset_for(0, 40),
            (0, 0),
            "older than all: the first start"
        );
        assert_eq!(
            c.end_offset_for(5, 40),
            (-1, -1),
            "newer than all: undefined"
        );
        assert_eq!(c.end_offset_for(-1, 40), (-1, -1));
    }

    #[test]
    fn assign_keeps_only_newer_epochs_and_truncation_cuts() {
        let mut c = cache(&[(1, 0), (1, 5), (0, 7), (2, 9)]);
        assert_eq!(c.entries(), &[(1, 0), (2, 9)]);
        c.truncate_from_end(9);
        assert_eq!(c.entries(), &[(1, 0)]);
        c.assign(3, 12);
        c.truncate_from_start(14);
        assert_eq!(c.entries(), &[(3, 14)]);
    }

    #[test]
    fn file_roundtrip_and_malformed_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = cache(&[(0, 0), (2, 100)]);
        assert!(c.is_dirty());
        c.write(dir.path()).unwrap();
        assert!(!c.is_dirty());
        assert_eq!(
            std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap(),
            "0\n2\n0 0\n2 100\n"
        );
        assert_eq!(EpochCache::load(dir.path()).entries(), c.entries());
        for bad in ["1\n0\n", "0\n2\n0 0\n", "0\n2\n3 0\n2 5\n", "0\nx\n"] {
            std::fs::write(dir.path().join(FILE_NAME), bad).unwrap();
            assert!(EpochCache::load(dir.path()).entries().is_empty(), "{bad:?}");
        }
    }
}
