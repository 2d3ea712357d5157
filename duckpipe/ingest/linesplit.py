"""The line splitter of CSV ingest: physical lines, quoted records and exact raw bytes (SPEC §3).

A PHYSICAL LINE ends at ``\\r\\n``, ``\\n`` or a ``\\r`` not followed by ``\\n`` (the three line
endings real feeds use, also mixed in one file); line 1 is the header. A RECORD is one physical
line, or several when a quoted field holds line breaks (a legal multi-line record: the quotes
balance and the joined lines parse as exactly one row of the header's width). A line whose
quote opens a field that never closes legally (an unterminated or stray quote) is rejected on
its own, and the lines after it are read as ordinary lines: no good row is lost.

Every pass streams the decompressed file in CHUNK-sized pieces with C-level bytes operations
(count, replace, split); Python touches single lines only for lines that hold a quote and for
the lines of rejects. When DuckDB cannot read a file as it is (mixed or CR-only line endings,
a bad quote), ``sanitise`` writes a copy with every line ending turned into ``\\n`` and the
rejected quote lines emptied: the same physical line numbers, which DuckDB then reads.
"""
from __future__ import annotations

import csv
import gzip
import io
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

CHUNK = 8 << 20
_BLANKS = re.compile(rb"\n(?=\n)")


def _open(path: Path, gz: bool):
    return gzip.open(path, "rb") if gz else open(path, "rb")


def _chunks(path: Path, gz: bool) -> Iterator[bytes]:
    """The decompressed bytes in pieces that never end between the ``\\r`` and ``\\n`` of a CRLF."""
    hold = b""
    with _open(path, gz) as fh:
        while c := fh.read(CHUNK):
            if hold:
                c, hold = hold + c, b""
            if c.endswith(b"\r"):
                c, hold = c[:-1], b"\r"
            if c:
                yield c
    if hold:
        yield hold


def _norm(c: bytes) -> bytes:
    """Every line ending as ``\\n`` (one byte per ending, so line numbers are unchanged)."""
    return c.replace(b"\r\n", b"\n").replace(b"\r", b"\n") if b"\r" in c else c


GZIP_MAGIC = b"\x1f\x8b"


def read_header(path: Path, gz: bool) -> bytes:
    """The first physical line, without its line ending."""
    with _open(path, gz) as fh:
        head = fh.read(1 << 20)
    if not gz and head.startswith(GZIP_MAGIC):     # else its compressed bytes end up in the message
        raise InputError(f"{path}: gzip-compressed, but its name does not end in .gz; rename it to {path.name}.gz")
    return re.split(rb"\r\n|\r|\n", head, maxsplit=1)[0]


def peek_irregular(path: Path, gz: bool) -> bool:
    """Whether the first CHUNK holds a CR or a quote (then scan before reading, not alongside)."""
    with _open(path, gz) as fh:
        c = fh.read(CHUNK)
    return b"\r" in c or b'"' in c


# Bytes without which no integer text can be lenient in DuckDB's cast: a decimal point, an
# exponent, hex or binary (0x, 0b), '_', and whitespace other than spaces ('\t12' casts to 12).
LENIENT_BYTES = b".eExXbB_\t\v\f"
LENIENT_PATTERN = "[.eExXbB_\t\v\f]"     # the same set as a regular expression (RE2: pyarrow, DuckDB)


def lenient_count(data: bytes) -> int:
    """How many bytes of ``LENIENT_BYTES`` ``data`` holds (one pass in C)."""
    return len(data) - len(data.translate(None, LENIENT_BYTES))


@dataclass
class LineScan:
    lines: int = 0                 # physical lines (header included)
    blank: int = 0                 # empty physical lines outside quoted fields
    crc: int = 0                   # CRC32 of the decompressed bytes
    lenient: int = 0               # bytes of LENIENT_BYTES (header included): strict.lenient_accounted
    n_lf: int = 0
    n_cr: int = 0
    n_crlf: int = 0
    spans: dict[int, int] = field(default_factory=dict)   # legal multi-line record: start -> end line
    bad_quotes: list[int] = field(default_factory=list)   # lines rejected for a quote that never closes
    raw: dict[int, bytes] = field(default_factory=dict)

    @property
    def mixed_endings(self) -> bool:
        """Line endings DuckDB's reader does not take as they are: lone CRs, or CRLF mixed with LF."""
        return not (self.n_cr == 0 or self.n_cr == self.n_crlf == self.n_lf)

    @property
    def needs_sanitise(self) -> bool:
        return self.mixed_endings or bool(self.bad_quotes)

    @property
    def records(self) -> int:
        """Data records: non-blank lines after the header, a multi-line record counted once."""
        return self.lines - 1 - self.blank - sum(e - s for s, e in self.spans.items())


@dataclass
class _Open:
    line: int
    text: bytes
    mids: list[bytes] = field(default_factory=list)
    blanks: int = 0


def _legal(o: _Open, closer: bytes, ncols: int | None) -> bool:
    """A quoted multi-line record is legal when it parses as one row of the header's width."""
    text = b"\n".join([o.text, *o.mids, closer]).decode("utf-8", "replace")
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error:
        return False
    return len(rows) == 1 and (ncols is None or len(rows[0]) == ncols)


class _Quotes:
    """Quote state across lines: only lines holding a quote are looked at one by one."""

    def __init__(self, ncols: int | None, out: LineScan):
        self.ncols, self.out, self.open = ncols, out, None

    def lines(self, parts: list[bytes], first: int) -> None:
        """Complete lines ``parts`` (physical numbers from ``first``)."""
        prev = -1
        idxs = [i for i, ln in enumerate(parts) if b'"' in ln]
        for i in idxs:
            ln = parts[i]
            if self.open is not None:
                self.open.blanks += parts[prev + 1: i].count(b"")
            prev = i
            odd = ln.count(b'"') & 1
            if self.open is None:
                if odd:
                    self.open = _Open(first + i, bytes(ln))
            elif not odd:
                self.open.mids.append(bytes(ln))
            elif _legal(self.open, ln, self.ncols):
                self.out.spans[self.open.line] = first + i
                self.out.blank -= self.open.blanks
                self.open = None
            else:
                self.out.bad_quotes.append(self.open.line)
                self.open = _Open(first + i, bytes(ln))
        if self.open is not None:
            self.open.blanks += parts[prev + 1:].count(b"")

    def end(self) -> None:
        if self.open is not None:
            self.out.bad_quotes.append(self.open.line)
            self.open = None


def scan(path: Path, gz: bool, ncols: int | None = None) -> LineScan:
    """One streaming pass: physical lines, blank lines, CRC32, line-ending kinds, quoted records."""
    out = LineScan()
    q = _Quotes(ncols, out)
    line = 1                       # physical line of the first byte of ``partial`` / the chunk
    partial = bytearray()          # the current incomplete line (kept for the quote analysis)
    last = b"\n"                   # last normalised byte seen (a file starting with \n: line 1 blank)
    for c in _chunks(path, gz):
        out.crc = zlib.crc32(c, out.crc)
        out.lenient += lenient_count(c)
        lf = c.count(b"\n")
        out.n_lf += lf
        if b"\r" in c:
            out.n_cr += c.count(b"\r")
            out.n_crlf += c.count(b"\r\n")
            norm = _norm(c)
            n = norm.count(b"\n")
        else:
            norm, n = c, lf
        if last == b"\n" and norm[:1] == b"\n":
            out.blank += 1
        if b"\n\n" in norm:
            out.blank += len(_BLANKS.findall(norm))
        if q.open is not None or b'"' in norm or b'"' in partial:
            parts = (bytes(partial) + norm).split(b"\n")
            partial = bytearray(parts.pop())
            q.lines(parts, line)
        elif n:
            partial = bytearray(norm[norm.rfind(b"\n") + 1:])
        else:
            partial += norm
        line += n
        out.lines += n
        last = norm[-1:]
    if last != b"\n":              # a final line without a line ending
        out.lines += 1
        q.lines([bytes(partial)], line)
    q.end()
    out.bad_quotes.sort()
    return out


def sanitise(path: Path, gz: bool, dest: Path, empty: set[int]) -> None:
    """Copy with ``\\n`` line endings and the lines ``empty`` emptied (line numbers unchanged)."""
    line = 1
    with open(dest, "wb") as out:
        for c in _chunks(path, gz):
            norm = _norm(c)
            n = norm.count(b"\n")
            if any(line <= e <= line + n for e in empty):
                parts = norm.split(b"\n")
                for k in range(len(parts)):
                    if line + k in empty:
                        parts[k] = b""
                norm = b"\n".join(parts)
            out.write(norm)
            line += n


def _strip_end(b: bytes) -> bytes:
    if b.endswith(b"\r\n"):
        return b[:-2]
    return b[:-1] if b.endswith((b"\n", b"\r")) else b


def extract(path: Path, gz: bool, ranges: dict[int, int]) -> dict[int, bytes]:
    """Exact bytes of physical lines ``start..end`` (line endings between them kept, the last
    one dropped), whole at any length and whatever the encoding. ``ranges``: start -> end."""
    out: dict[int, bytes] = {}
    starts = sorted(ranges)
    wi = 0
    line = 1
    cur: tuple[int, int, bytearray] | None = None        # capture in progress
    for c in _chunks(path, gz):
        n = c.count(b"\n") + (c.count(b"\r") - c.count(b"\r\n") if b"\r" in c else 0)
        if cur is None and (wi >= len(starts) or starts[wi] > line + n):
            line += n
            continue
        parts = c.splitlines(keepends=True)
        k = 0
        while k < len(parts):
            if cur is None:
                if wi >= len(starts) or starts[wi] > line + len(parts) - 1:
                    break
                s = starts[wi]
                wi += 1
                if s < line + k:       # started before this piece: a duplicate start
                    continue
                k = s - line
                cur = (s, ranges[s], bytearray())
            s, e, buf = cur
            buf += parts[k]
            complete = parts[k].endswith((b"\n", b"\r"))
            if complete and line + k == e:
                out[s] = _strip_end(bytes(buf))
                cur = None
            k += 1
        line += n
    if cur is not None:
        out[cur[0]] = _strip_end(bytes(cur[2]))
    return out


__all__ = ["CHUNK", "LineScan", "scan", "sanitise", "extract", "read_header", "peek_irregular"]


def blank_lines(path: Path, gz: bool) -> list[int]:
    """Physical numbers of the empty lines (quoted or not): C-level searches per chunk, Python
    only per empty line. Used to match DuckDB's rows with lines (load._locate_strict)."""
    out: list[int] = []
    line, last = 1, b"\n"          # line number of the chunk's first byte; last byte before it
    for c in _chunks(path, gz):
        norm = _norm(c)
        if last == b"\n" and norm[:1] == b"\n":
            out.append(line)
        pos, at = 0, line
        for m in _BLANKS.finditer(norm):
            at += norm.count(b"\n", pos, m.start() + 1)
            pos = m.start() + 1
            out.append(at)
        line += norm.count(b"\n")
        last = norm[-1:]
    return out
