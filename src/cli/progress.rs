//! A one-line progress meter with rate on stderr, shown only on a terminal.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// How often the line is redrawn.
const REDRAW: Duration = Duration::from_millis(250);

/// Counts records and bytes; redraws at most every 250 ms.
pub struct Progress {
    /// Off when stderr is not a terminal.
    enabled: bool,
    /// Verb shown (`produced`, `consumed`).
    verb: &'static str,
    /// Start of the run.
    started: Instant,
    /// Last redraw.
    drawn: Instant,
    /// Records so far.
    pub records: u64,
    /// Payload bytes so far.
    pub bytes: u64,
}

impl Progress {
    /// A meter for `verb`.
    pub fn new(verb: &'static str) -> Progress {
        let now = Instant::now();
        Progress {
            enabled: std::io::stderr().is_terminal(),
            verb,
            started: now,
            drawn: now,
            records: 0,
            bytes: 0,
        }
    }

    /// Adds records and bytes; redraws when due.
    pub fn add(&mut self, records: u64, bytes: u64) {
        self.records += records;
        self.bytes += bytes;
        if self.enabled && self.drawn.elapsed() >= REDRAW {
            self.drawn = Instant::now();
            self.draw();
        }
    }

    fn draw(&self) {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let line = format!(
            "\r{} {} records, {:.1} MB  ({:.0} records/s, {:.1} MB/s)   ",
            self.verb,
            self.records,
            self.bytes as f64 / 1e6,
            self.records as f64 / secs,
            self.bytes as f64 / 1e6 / secs
        );
        let _ = std::io::stderr().write_all(line.as_bytes());
    }

    /// Clears the line and prints the summary (on a terminal) .
    pub fn finish(&self) {
        if self.enabled && self.started.elapsed() >= REDRAW {
            self.draw();
            eprintln!();
        }
    }
}
