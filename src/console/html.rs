//! HTML building blocks for the console: an escaped table and a page frame with navigation and the
//! embedded stylesheet (no external assets).

/// Seconds between automatic refreshes.
const REFRESH_S: u32 = 5;

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The navigation's link to `/metrics`, which only a broker's admin port serves.
pub const METRICS_LINK: &str = " <a href=\"/metrics\">Metrics</a>";

/// A page under construction.
pub struct Page {
    /// Title and heading.
    title: String,
    /// Body HTML so far.
    body: String,
}

impl Page {
    /// A page titled `title`.
    pub fn new(title: &str) -> Page {
        Page {
            title: title.to_string(),
            body: String::new(),
        }
    }

    /// Appends trusted HTML.
    pub fn push(&mut self, html: &str) {
        self.body.push_str(html);
    }

    /// The whole document.
    pub fn finish(self) -> String {
        format!(
            "<!doctype html><html><head><meta charset=utf-8><meta http-equiv=refresh content={REFRESH_S}>\
             <title>{t} · weir</title><style>{CSS}</style></head><body>\
             <nav><b>weir</b> <a href=\"/\">Cluster</a> <a href=\"/topics\">Topics</a> \
             <a href=\"/groups\">Groups</a>{METRICS_LINK}</nav>\
             <h1>{t}</h1>{b}<footer>read-only · refreshes every {REFRESH_S} s</footer></body></html>",
            t = esc(&self.title),
            b = self.body
        )
    }
}

const CSS: &str = "body{font:14px system-ui,sans-serif;margin:0 2em 2em;color:#222}\
nav{padding:.8em 0;border-bottom:1px solid #ddd;margin-bottom:1em}nav a{margin-left:1.2em}\
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{padding:.25em .8em;border-bottom:1px solid #eee;\
text-align:left;vertical-align:top;white-space:pre-wrap;font-variant-numeric:tabular-nums}\
th{background:#f4f4f4}.err{color:#c0392b}footer{color:#888;margin-top:2em;font-size:12px}";

/// A table whose cells are escaped (or given as trusted HTML with `row_html`).
pub struct Table {
    /// Column headings.
    headings: Vec<String>,
    /// Rows of cell HTML.
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these headings.
    pub fn new(headings: &[&str]) -> Table {
        Table {
            headings: headings.iter().map(|h| esc(h)).collect(),
            rows: Vec::new(),
        }
    }

    /// A row of text cells (escaped).
    pub fn row(&mut self, cells: &[&str]) {
        self.rows.push(cells.iter().map(|c| esc(c)).collect());
    }

    /// A row of trusted HTML cells (callers escape what came from the cluster).
    pub fn row_html(&mut self, cells: &[String]) {
        self.rows.push(cells.to_vec());
    }

    /// The table with an id (for tests and links).
    pub fn render(&self, id: &str) -> String {
        let mut out = format!("<table id={id}><tr>");
        for h in &self.headings {
            out.push_str(&format!("<th>{h}</th>"));
        }
        out.push_str("</tr>");
        for r in &self.rows {
            out.push_str("<tr>");
            for c in r {
                out.push_str(&format!("<td>{c}</td>"));
            }
            out.push_str("</tr>");
        }
        out.push_str("</table>");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_text_is_escaped() {
        let mut t = Table::new(&["K"]);
        t.row(&["<script>alert(1)</script>"]);
        assert!(t.render("x").contains("&lt;script&gt;"));
    }
}
