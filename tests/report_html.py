"""Read a report as a reader sees it: its tables by source and title, cells by row and column.

Assertions on a report find the one table (``<figure class="tbl" data-source=...>``) and the one
cell they mean, so that a number elsewhere on the page cannot make them pass by accident. Parsed
with the standard library's html.parser; Markdown tables (report.md, performance.md) by their
pipes.
"""
from __future__ import annotations

import html as htmllib
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Figure:
    """One report table as rendered: caption, headers, cells, row classes, note and shown SQL."""

    source: str
    title: str = ""
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)      # the class of each body row ('' if none)
    note: str = ""
    sql: str = ""

    def column(self, header: str) -> list[str]:
        """Every cell of the column headed ``header``."""
        assert header in self.headers, (header, self.headers)
        i = self.headers.index(header)
        return [r[i] for r in self.rows]

    def row(self, **match: str) -> dict[str, str]:
        """The one row whose cells equal ``match`` ({header: text}; spaces in headers as '_')."""
        want = {k.replace("_", " "): v for k, v in match.items()}
        for h in want:
            assert h in self.headers, (h, self.headers)
        found = [dict(zip(self.headers, r)) for r in self.rows
                 if all(dict(zip(self.headers, r))[h] == v for h, v in want.items())]
        assert len(found) == 1, (match, found, self.rows)
        return found[0]


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.figures: list[Figure] = []
        self.fig: Figure | None = None
        self.field: str | None = None        # 'title' | 'th' | 'td' | 'note' | 'sql'
        self.text = ""
        self.in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        cls = a.get("class") or ""
        if tag == "figure" and cls == "tbl":
            self.fig = Figure(a.get("data-source") or "")
            self.figures.append(self.fig)
        if self.fig is None:
            return
        if tag == "tbody":
            self.in_body = True
        elif tag == "tr" and self.in_body:
            self.fig.rows.append([])
            self.fig.classes.append(cls)
        elif (tag == "span" and cls == "tt") or tag in ("th", "td") or (tag == "p" and cls == "note") \
                or (tag == "code" and self.field == "pre"):
            self.field = {"span": "title", "p": "note", "code": "sql"}.get(tag, tag)
            self.text = ""
        elif tag == "pre":
            self.field = "pre"

    def handle_endtag(self, tag: str) -> None:
        if self.fig is None:
            return
        if tag == "figure":
            self.fig = None
        elif tag == "tbody":
            self.in_body = False
        elif self.field == "title" and tag == "span":
            self.fig.title, self.field = self.text, None
        elif self.field == "th" and tag == "th":
            self.fig.headers.append(self.text)
            self.field = None
        elif self.field == "td" and tag == "td":
            self.fig.rows[-1].append(self.text)
            self.field = None
        elif self.field == "note" and tag == "p":
            self.fig.note, self.field = self.text, None
        elif self.field == "sql" and tag == "code":
            self.fig.sql, self.field = self.text, None

    def handle_data(self, data: str) -> None:
        if self.field in ("title", "th", "td", "note", "sql"):
            self.text += data


def figures(html: str) -> list[Figure]:
    """Every table of a report page, in page order."""
    p = _Parser()
    p.feed(html)
    p.close()
    return p.figures


def figure(html: str, source: str, title: str | None = None) -> Figure:
    """The one table reading ``source`` (and titled ``title``, when given)."""
    found = [f for f in figures(html) if f.source == source and (title is None or f.title == title)]
    assert len(found) == 1, (source, title, [(f.source, f.title) for f in figures(html)])
    return found[0]


def kpis(html: str) -> dict[str, str]:
    """The headline cards of the summary: {label: value}."""
    cards = re.findall(r'<div class="kpi"><div class="v">(.*?)</div><div class="l">(.*?)</div>', html)
    return {htmllib.unescape(label): htmllib.unescape(value) for value, label in cards}


def section(html: str, section_id: str) -> str:
    """The HTML of ``<section id=...>`` (report sections are not nested)."""
    start = html.index(f'<section id="{section_id}"')
    return html[start:html.index("</section>", start)]


@dataclass
class MdTable:
    title: str                    # the **bold** line or ## heading above the table
    headers: list[str]
    rows: list[list[str]]

    def row(self, **match: str) -> dict[str, str]:
        want = {k.replace("_", " "): v for k, v in match.items()}
        found = [dict(zip(self.headers, r)) for r in self.rows
                 if all(dict(zip(self.headers, r)).get(h) == v for h, v in want.items())]
        assert len(found) == 1, (match, found, self.rows)
        return found[0]


def md_tables(text: str) -> list[MdTable]:
    """The pipe tables of a Markdown report with the title above each."""
    def cells(line: str) -> list[str]:
        inner = line.strip()[1:]
        inner = inner[:-1] if inner.endswith("|") else inner
        return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", inner)]

    out: list[MdTable] = []
    title, block = "", []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            block.append(line)
            continue
        if block:
            out.append(MdTable(title, cells(block[0]), [cells(x) for x in block[2:]]))
            block = []
        m = re.match(r"^(?:\*\*(.+)\*\*|#+ (.+))$", line.strip())
        if m:
            title = m.group(1) or m.group(2)
    return out


def md_table(text: str, title: str) -> MdTable:
    found = [t for t in md_tables(text) if t.title == title]
    assert len(found) == 1, (title, [t.title for t in md_tables(text)])
    return found[0]
