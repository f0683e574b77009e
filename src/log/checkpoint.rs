//! Checkpoint files in the data folder (`recovery-point-offset-checkpoint`, `log-start-offset-checkpoint`,
//! `cleaner-offset-checkpoint`), in Kafka's text format: version line `0`, count line, then
//! `topic partition offset` lines.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::Path;

/// File holding each partition's recovery point (first offset not known to be flushed with its indexes).
pub const RECOVERY_POINT_FILE: &str = "recovery-point-offset-checkpoint";
/// File holding each partition's log start offset (moved by retention and DeleteRecords).
pub const LOG_START_FILE: &str = "log-start-offset-checkpoint";

/// File holding each compacted partition's cleaner position (first offset not yet cleaned), as Kafka's
/// `LogCleanerManager` keeps it.
pub const CLEANER_FILE: &str = "cleaner-offset-checkpoint";

/// File holding each partition's high watermark (Kafka's `replication-offset-checkpoint`): a restarted
/// replica never exposes records its leader had not committed.
pub const HIGH_WATERMARK_FILE: &str = "replication-offset-checkpoint";

/// Offsets per (topic, partition).
pub type Checkpoint = HashMap<(String, i32), i64>;

/// Reads a checkpoint file; missing file = empty; malformed lines are skipped with a warning.
pub fn read(dir: &Path, name: &str) -> io::Result<Checkpoint> {
    let text = match std::fs::read_to_string(dir.join(name)) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Checkpoint::new()),
        Err(e) => return Err(e),
    };
    let mut out = Checkpoint::new();
    let mut lines = text.lines();
    if lines.next().map(str::trim) != Some("0") {
        tracing::warn!(file = name, "unknown checkpoint version; ignoring the file");
        return Ok(out);
    }
    let _count = lines.next();
    for line in lines {
        let mut parts = line.rsplitn(3, ' ');
        let (Some(offset), Some(partition), Some(topic)) =
            (parts.next(), parts.next(), parts.next())
        else {
            tracing::warn!(file = name, line, "malformed checkpoint line");
            continue;
        };
        match (partition.parse::<i32>(), offset.parse::<i64>()) {
            (Ok(p), Ok(o)) => {
                out.insert((topic.to_string(), p), o);
            }
            _ => tracing::warn!(file = name, line, "malformed checkpoint line"),
        }
    }
    Ok(out)
}

/// Writes a checkpoint atomically: temp file, fsync, rename, fsync the folder.
pub fn write(dir: &Path, name: &str, entries: &[((String, i32), i64)]) -> io::Result<()> {
    let mut text = format!("0\n{}\n", entries.len());
    for ((topic, partition), offset) in entries {
        text.push_str(&format!("{topic} {partition} {offset}\n"));
    }
    write_text(dir, name, &text)
}

/// Replaces file `name` in `dir` with `text` atomically: temp file, fsync, rename, fsync the folder.
pub fn write_text(dir: &Path, name: &str, text: &str) -> io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        crate::log::fs::sync_data(&f)?;
    }
    crate::log::fs::rename(&tmp, dir.join(name))?;
    sync_dir(dir)
}

/// Fsyncs a folder so created, renamed or removed entries survive a crash.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    crate::log::fs::sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_with_dashes_and_spaces_in_topic() {
        let dir = tempfile::tempdir().expect("tmp");
        let entries = vec![(("a-b-c".to_string(), 3), 42), (("t".to_string(), 0), 7)];
        write(dir.path(), LOG_START_FILE, &entries).expect("write");
        let back = read(dir.path(), LOG_START_FILE).expect("read");
        assert_eq!(back.get(&("a-b-c".to_string(), 3)), Some(&42));
        assert_eq!(back.len(), 2);
        assert!(read(dir.path(), RECOVERY_POINT_FILE)
            .expect("missing ok")
            .is_empty());
    }
}
