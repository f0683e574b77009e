"""Reads a table out of a DOM dumped by headless Chromium (helper for console.sh).

  _dom.py FILE TABLE_ID ROW COL     text of a cell (row 0 = the headings)
  _dom.py FILE TABLE_ID find TEXT   index of the first row whose first cell is TEXT
  _dom.py FILE TABLE_ID count       number of data rows
"""
import sys
from html.parser import HTMLParser


class Tables(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables, self.current, self.cell = {}, None, None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.current = dict(attrs).get("id")
            self.tables[self.current] = []
        elif tag == "tr" and self.current is not None:
            self.tables[self.current].append([])
        elif tag in ("td", "th") and self.current is not None:
            self.cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.tables[self.current][-1].append("".join(self.cell).strip())
            self.cell = None
        elif tag == "table":
            self.current = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


p = Tables()
p.feed(open(sys.argv[1], encoding="utf-8").read())
rows = p.tables.get(sys.argv[2])
if rows is None:
    sys.exit(f"no table {sys.argv[2]!r} in {sys.argv[1]}")
if sys.argv[3] == "find":
    print(next(i for i, r in enumerate(rows) if r and r[0] == sys.argv[4]))
elif sys.argv[3] == "count":
    print(len(rows) - 1)
else:
    print(rows[int(sys.argv[3])][int(sys.argv[4])])
