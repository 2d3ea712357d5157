"""The raw input files: which files a SOURCE holds, whether one changed, and a byte-level pass.

The pass streams the decompressed file once in large chunks (C-level count/find/split, no
per-line Python loop) to count physical lines and blank lines and to keep the exact bytes
of the lines DuckDB rejected, which its reject tables give only lossily.
"""
from __future__ import annotations

import csv
import glob
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from ..profiles import Profile
from .linesplit import LineScan, extract, read_header, scan  # noqa: F401 (read_header re-exported)

SUFFIXES = (".csv", ".csv.gz", ".parquet")
FP_BYTES = 1 << 20


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

def discover(sources: list[Path], table_globs: dict[str, str | list[str]] | None,
             profile: Profile) -> tuple[list[InputFile], list[str]]:
    """Input files per table from SOURCE folders (table folders in any letter case) and explicit
    globs (one or several per table); the rest is skipped. Finding no input file at all is a
    usage error (ingesting nothing and exiting 0 hid a wrong folder); a SOURCE without input files
    beside others that have some (a month not delivered yet) is listed as skipped."""
    files: list[InputFile] = []
    skipped: list[str] = []
    empty: list[Path] = []
    for src in sources:
        src = Path(src).expanduser().resolve()
        if not src.is_dir():
            raise UsageError(f"source folder {src} does not exist")
        before = len(files)
        for child in sorted(src.iterdir()):
            table = child.name.lower()
            if child.is_dir() and table in profile.tables:
                for f in sorted(child.iterdir()):
                    if f.is_file() and f.name.lower().endswith(SUFFIXES):
                        files.append(InputFile(f, table, str(src)))
                    else:
                        skipped.append(str(f))
            else:
                skipped.append(str(child))
        if len(files) == before:
            empty.append(src)
    for table, patterns in (table_globs or {}).items():
        if table not in profile.tables:
            raise UsageError(f"unknown table {table!r} (known: {', '.join(profile.tables)})")
        for pattern in [patterns] if isinstance(patterns, str) else patterns:
            matches = sorted(Path(p).resolve() for p in glob.glob(os.path.expanduser(pattern)))
            matches = [p for p in matches if p.is_file()]
            if not matches:
                raise UsageError(f"--{table} {pattern}: matches no file")
            files.extend(InputFile(p, table, pattern) for p in matches)
    if empty and not files:
        raise UsageError(_no_input_files(empty[0], profile))
    skipped.extend(str(src) for src in empty)
    seen: set[Path] = set()
    unique = [f for f in files if not (f.path in seen or seen.add(f.path))]
    return unique, skipped


def _no_input_files(src: Path, profile: Profile) -> str:
    if src.name.lower() in profile.tables:
        return (f"source folder {src} is itself a table folder; give the folder that holds it:"
                f" duckpipe ingest {src.parent}")
    return (f"no input files in source folder {src}: expected folders named {', '.join(profile.tables)}"
            f" with {', '.join(SUFFIXES)} files directly inside")


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

def scan_lines(path: Path, gz: bool, wanted: list[int]) -> LineScan:
    """Physical lines, blank lines, CRC32 and the exact bytes of the ``wanted`` lines
    (the line splitter of ``linesplit``: CRLF, LF and lone CR all end a line)."""
    out = scan(path, gz)
    if wanted:
        out.raw = extract(path, gz, {w: w for w in wanted})
    return out


def parse_header(header: bytes) -> list[str]:
    """Header names, BOM removed, trimmed."""
    text = header.decode("utf-8", errors="replace").lstrip("\ufeff")
    return [h.strip() for h in next(csv.reader([text]), [])]
