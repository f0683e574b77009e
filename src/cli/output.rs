//! Output for people and scripts: aligned tables (bold headings on a terminal), JSON, one-line errors.

use std::io::{IsTerminal, Write};

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Format {
    /// Aligned tables and plain lines.
    #[default]
    Text,
    /// JSON: one document per listing, one object per line for consumed records.
    Json,
}

/// Whether stdout/stderr should carry colour: a terminal, and `NO_COLOR` unset or empty.
pub fn colour(stream: &impl IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// A table with aligned columns.
#[derive(Debug, Default)]
pub struct Table {
    /// Column headings.
    headings: Vec<String>,
    /// Rows of cells, one per heading.
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these headings.
    pub fn new(headings: &[&str]) -> Table {
        Table {
            headings: headings.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Renders with two spaces between columns, no trailing blanks.
    pub fn render(&self, bold: bool) -> String {
        let mut widths: Vec<usize> = self.headings.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(c.chars().count());
                }
            }
        }
        let mut out = String::new();
        let line = |cells: &[String], out: &mut String| {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                if i + 1 < cells.len() {
                    let pad = widths.get(i).copied().unwrap_or(0);
                    s.push_str(&format!("{c:<pad$}  "));
                } else {
                    s.push_str(c);
                }
            }
            out.push_str(s.trim_end());
            out.push('\n');
        };
        let mut head = String::new();
        line(&self.headings, &mut head);
        if bold {
            out.push_str(&format!("\x1b[1m{}\x1b[0m\n", head.trim_end()));
        } else {
            out.push_str(&head);
        }
        for r in &self.rows {
            line(r, &mut out);
        }
        out
    }

    /// Prints to stdout.
    pub fn print(&self) {
        print_stdout(&self.render(colour(&std::io::stdout())));
    }
}

/// `println!` that ignores a closed stdout (`weir … | head`) instead of panicking.
#[macro_export]
macro_rules! outln {
    () => { $crate::cli::output::print_stdout("\n") };
    ($($arg:tt)*) => { $crate::cli::output::print_stdout(&format!("{}\n", format_args!($($arg)*))) };
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json(v: &impl serde::Serialize) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => print_stdout(&format!("{s}\n")),
        Err(e) => eprintln!("weir: cannot encode JSON: {e}"),
    }
}

/// Writes to stdout, ignoring a closed pipe (`weir topic list | head`).
pub fn print_stdout(s: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(s.as_bytes());
    let _ = out.flush();
}

/// A list of node ids as `1,2,3`.
pub fn ids(v: &[i32]) -> String {
    v.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

/// An offset or `-` when unknown.
pub fn offset(v: Option<i64>) -> String {
    v.map_or_else(|| "-".to_string(), |o| o.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_on_the_widest_cell() {
        let mut t = Table::new(&["TOPIC", "PARTITIONS"]);
        t.row(vec!["a-long-name".into(), "3".into()]);
        t.row(vec!["b".into(), "12".into()]);
        assert_eq!(
            t.render(false),
            "TOPIC        PARTITIONS\na-long-name  3\nb            12\n"
        );
    }
}
