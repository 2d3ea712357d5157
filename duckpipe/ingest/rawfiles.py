"""The raw input files: which files a SOURCE holds, whether one changed, and a byte-level pass.

The pass streams the decompressed file once in large chunks (C-level count/find/split, no
per-line Python loop) to count physical lines and blank lines and to keep the exact bytes
of the lines DuckDB rejected, which its reject tables give only lossily.
"""
from __future__ import annotations

import csv
import glob
import gzip
import hashlib
import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UsageError
from ..profiles import Profile

SUFFIXES = (".csv", ".csv.gz", ".parquet")
CHUNK = 8 << 20
RAW_CAP = 4 << 20            # raw bytes kept per rejected line (DuckDB's own limit is 2 MB)
FP_BYTES = 1 << 20
_BLANK = re.compile(rb"\n(?=\r?\n)")


@dataclass
class InputFile:
    path: Path
    table: str
    source: str

    @property
    def fmt(self) -> str:
        name = self.path.name.lower()
        return "csv.gz" if name.endswith(".csv.gz") else name.rsplit(".", 1)[-1]


# ---------------------------------------------------------------- discovery

def discover(sources: list[Path], table_globs: dict[str, str] | None,
             profile: Profile) -> tuple[list[InputFile], list[str]]:
    """Input files per table from SOURCE folders and explicit globs; the rest is skipped."""
    files: list[InputFile] = []
    skipped: list[str] = []
    for src in sources:
        src = Path(src).expanduser().resolve()
        if not src.is_dir():
            raise UsageError(f"source folder {src} does not exist")
        for child in sorted(src.iterdir()):
            if child.is_dir() and child.name in profile.tables:
                for f in sorted(child.iterdir()):
                    if f.is_file() and f.name.lower().endswith(SUFFIXES):
                        files.append(InputFile(f, child.name, str(src)))
                    else:
                        skipped.append(str(f))
            else:
                skipped.append(str(child))
    for table, pattern in (table_globs or {}).items():
        if table not in profile.tables:
            raise UsageError(f"unknown table {table!r} (known: {', '.join(profile.tables)})")
        matches = sorted(Path(p).resolve() for p in glob.glob(os.path.expanduser(pattern)))
        matches = [p for p in matches if p.is_file()]
        if not matches:
            raise UsageError(f"--{table} {pattern}: matches no file")
        files.extend(InputFile(p, table, pattern) for p in matches)
    seen: set[Path] = set()
    unique = [f for f in files if not (f.path in seen or seen.add(f.path))]
    return unique, skipped


def fingerprint(path: Path, size: int) -> str:
    """blake2b of size + first MiB + last MiB: decides 'unchanged' without reading the file."""
    h = hashlib.blake2b(str(size).encode(), digest_size=16)
    with open(path, "rb") as fh:
        h.update(fh.read(FP_BYTES))
        if size > FP_BYTES:
            fh.seek(max(FP_BYTES, size - FP_BYTES))
            h.update(fh.read(FP_BYTES))
    return h.hexdigest()


# ---------------------------------------------------------------- byte-level pass

@dataclass
class LineScan:
    lines: int = 0
    blank: int = 0
    crc: int = 0
    raw: dict[int, bytes] = field(default_factory=dict)


def _open(path: Path, gz: bool):
    return gzip.open(path, "rb") if gz else open(path, "rb")


def read_header(path: Path, gz: bool) -> bytes:
    """The first physical line (the header), without its terminator."""
    with _open(path, gz) as fh:
        return fh.readline(1 << 20).rstrip(b"\r\n")


def _count_blank(buf: bytes, tail_len: int) -> int:
    """Empty lines whose terminating newline lies past the carried-over tail."""
    if b"\n\n" not in buf and b"\n\r\n" not in buf:
        return 0
    n = 0
    for m in _BLANK.finditer(buf):
        end = m.start() + (1 if buf[m.start() + 1] == 10 else 2)
        n += end >= tail_len
    return n


def scan_lines(path: Path, gz: bool, wanted: list[int]) -> LineScan:
    """Stream the decompressed file once: lines, blank lines, CRC32, raw bytes of ``wanted`` lines.

    Python only touches chunks (C-level count/find/split), never a per-line loop over the
    whole file, and copies nothing but the few bytes around chunk boundaries: blank lines
    are looked for with a regex only in chunks that contain one. ``wanted`` must be sorted.
    """
    out, wi, line, tail, last = LineScan(), 0, 1, b"\n", b""
    cur: bytearray | None = None
    cur_line = 0
    with _open(path, gz) as fh:
        while chunk := fh.read(CHUNK):
            out.crc = zlib.crc32(chunk, out.crc)
            n = chunk.count(b"\n")
            edge = tail + chunk[:2]                   # blank lines across the boundary
            out.blank += _count_blank(edge, len(tail)) - _count_blank(edge[len(tail):], 0) \
                if edge.find(b"\n", 0, len(tail)) >= 0 else 0
            if b"\n\n" in chunk or b"\n\r\n" in chunk:
                out.blank += _count_blank(chunk, 0)
            if cur is not None or (wi < len(wanted) and wanted[wi] <= line + n):
                parts = chunk.split(b"\n")
                if cur is not None:
                    cur += parts[0][: max(0, RAW_CAP - len(cur))]
                    if n:
                        out.raw[cur_line] = bytes(cur).rstrip(b"\r")
                        cur = None
                while wi < len(wanted) and wanted[wi] <= line + n:
                    idx = wanted[wi] - line
                    if idx == n:
                        cur, cur_line = bytearray(parts[idx][:RAW_CAP]), wanted[wi]
                    elif idx > 0 or not out.raw.get(wanted[wi]):
                        out.raw[wanted[wi]] = parts[idx][:RAW_CAP].rstrip(b"\r")
                    wi += 1
            line += n
            out.lines += n
            tail, last = (tail + chunk[-2:])[-2:], chunk[-1:]
    if cur is not None:
        out.raw[cur_line] = bytes(cur).rstrip(b"\r")
    if last and last != b"\n":
        out.lines += 1
    return out


def parse_header(header: bytes) -> list[str]:
    """Header names, BOM removed, trimmed."""
    text = header.decode("utf-8", errors="replace").lstrip("\ufeff")
    return [h.strip() for h in next(csv.reader([text]), [])]
