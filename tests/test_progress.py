"""Progress a user can trust (issue 13): ingest and run under a pseudo-terminal, watched from a
second process with ``duckpipe status``.

Checks: the fraction ``status`` reports grows between two calls inside one large file (ingest)
and during the units stage (run); it names the file being read (never the previous one) and
each stage; log lines printed while the live bars are up start on their own line, never glued
to bar text; off a terminal and with -q the output has no escape codes and no bars.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest
from conftest import REPO, duckpipe_cli, duckpipe_inproc

STATUS_INGEST = re.compile(r"^ingest \(pid (\d+)\) is running: file (\d+) of (\d+), (\S+): .*? \(([\d.]+)%\) of this file;"
                           r" all input .*? \(([\d.]+)%\)", re.M)
STATUS_RUN = re.compile(r"^run \S+ \(pid (\d+)\) is (?:running|paused): (\d+)/(\d+) units done \(([\d.]+)%\)", re.M)
STAGE = re.compile(r"^  stage: (\S+) ", re.M)
SGR = re.compile(r"\x1b\[[0-9;]*m")                 # colours and styles: not a line boundary
CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-ln-z]|\x1b\][^\x07]*\x07")   # cursor moves, erases
LOG_START = re.compile(r"^\d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR) ")
LEVEL = re.compile(r"\b(INFO|WARNING|ERROR)\b ")


@pytest.fixture(scope="session")
def raw_large(tmp_path_factory) -> Path:
    """One orders file of ~75 MB (3 securities x 1 day x 40,000 orders) so that one file takes
    seconds to ingest; made once per session."""
    from duckpipe.synth import synth
    out = tmp_path_factory.mktemp("raw_large")
    synth(out, securities=3, days=1, orders_per_unit=40_000, seed=5)
    return out


class Terminal:
    """A ``python -m duckpipe`` command on a pseudo-terminal (120 x 40); its output is collected."""

    def __init__(self, *args: str):
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
        env.pop("NO_COLOR", None)
        self.proc = subprocess.Popen([sys.executable, "-m", "duckpipe", *args], stdin=slave, stdout=slave,
                                     stderr=slave, cwd=REPO, env=env, start_new_session=True)
        os.close(slave)
        self.master, self.chunks = master, []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:            # EIO once the child closed the terminal
                return
            if not data:
                return
            self.chunks.append(data)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait(self, timeout: float = 120) -> tuple[int, str]:
        rc = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return rc, b"".join(self.chunks).decode("utf-8", "replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        with contextlib.suppress(OSError):
            os.close(self.master)


@contextlib.contextmanager
def terminal(*args: str):
    term = Terminal(*args)
    try:
        yield term
    finally:
        term.stop()


def segments(raw: str) -> list[str]:
    """What a terminal shows as separate lines: cursor moves, erases, CR and LF split; styles do not."""
    text = CONTROL.sub("\n", SGR.sub("", raw))
    return [s for s in re.split(r"[\r\n]", text) if s.strip()]


def assert_no_broken_lines(raw: str) -> list[str]:
    """Every log record starts a line of its own (no bar text glued before it); returns the log lines."""
    logs = []
    for seg in segments(raw):
        if LEVEL.search(seg):
            assert LOG_START.match(seg), f"log line glued to other output: {seg!r}"
            assert "━" not in seg, f"bar text inside a log line: {seg!r}"
            logs.append(seg)
    return logs


def poll_status(ws: Path, term: Terminal, pattern: re.Pattern, enough, timeout: float = 120) -> list[str]:
    """Call ``duckpipe status`` from this process (a second one: the command runs in the terminal's)
    until ``enough(outputs)`` or the command ends. In-process, a call takes milliseconds where a new
    interpreter takes about a second, so a file that loads in two seconds is still seen twice."""
    outputs: list[str] = []
    deadline = time.time() + timeout
    while time.time() < deadline and term.proc.poll() is None:
        res = duckpipe_inproc("status", "--workspace", str(ws))
        if res.returncode == 2 and "nothing has run yet" in res.stderr:   # not started yet
            continue
        assert res.returncode == 0, res.stderr
        if pattern.search(res.stdout):
            outputs.append(res.stdout)
            if enough(outputs):
                break
        time.sleep(0.1)
    return outputs


@pytest.mark.slow
def test_ingest_progress_inside_one_large_file_from_a_second_process(tmp_path, raw_large):
    from duckpipe.ingest.rawfiles import discover
    from duckpipe.profiles import get_profile
    files, _ = discover([raw_large], None, get_profile("asx"))
    big = max(files, key=lambda f: f.path.stat().st_size).path
    ws = tmp_path / "ws"

    def two_fractions_in_big(outs):
        fr = {float(m.group(5)) for o in outs for m in STATUS_INGEST.finditer(o) if m.group(4) == big.name}
        return len(fr) >= 2

    with terminal("ingest", str(raw_large), "--workspace", str(ws), "--threads", "2", "--memory-limit", "1GB") as term:
        outs = poll_status(ws, term, STATUS_INGEST, two_fractions_in_big)
        rc, screen = term.wait()
    assert rc == 0, screen[-2000:]
    in_big = []
    for o in outs:
        m = STATUS_INGEST.search(o)
        pid, i, n, name = int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4)
        assert pid == term.pid and n == len(files)
        # the named file is the one being read: file i of the discovery order, its full path on the next line
        assert files[i - 1].path.name == name and f"  now: {files[i - 1].path}" in o, o
        if name == big.name:
            in_big.append((float(m.group(5)), float(m.group(6))))
    assert len({f for f, _ in in_big}) >= 2, outs
    assert in_big == sorted(in_big) and in_big[-1][0] > in_big[0][0] and in_big[-1][1] > in_big[0][1], in_big
    assert all(0 <= f < 100 for f, _ in in_big[:-1])

    logs = assert_no_broken_lines(screen)
    assert any(f"{big} :" in line or str(big) in line for line in logs), logs     # the per-file log line
    shown = "\n".join(segments(screen))
    assert f"file {files.index(next(f for f in files if f.path == big)) + 1}/{len(files)}" in shown
    assert big.name in shown and "MB/s" in shown and "all input" in shown

    after = duckpipe_cli("status", "--workspace", str(ws))
    assert after.returncode == 0, after.stderr
    assert re.search(rf"^last ingest: finished at .*: {len(files)} of {len(files)} files \(0 failed\)", after.stdout,
                     re.M), after.stdout


@pytest.mark.slow
def test_run_shows_every_stage_in_a_terminal_and_to_a_second_process(workspace):
    stages: list[str] = []
    steps: set[tuple[str, str]] = set()     # (stage, SQL template) seen in the status file
    stop = threading.Event()

    def watch_status_file():         # catches the short stages a CLI call may miss
        while not stop.is_set():
            with contextlib.suppress(OSError, ValueError):
                s = json.loads((workspace / "status.json").read_text())
                if s.get("command") == "run" and s.get("stage") and (not stages or stages[-1] != s["stage"]):
                    stages.append(s["stage"])
                if s.get("stage") in ("aggregate", "stats") and s.get("current"):
                    steps.add((s["stage"], s["current"]))
            time.sleep(0.01)

    watcher = threading.Thread(target=watch_status_file, daemon=True)
    watcher.start()
    try:
        with terminal("run", "--workspace", str(workspace), "--memory-limit", "1GB", "--threads", "2",
                      "--strategy", "by-date", "--cool-every", "1", "--cool-seconds", "0.5") as term:
            outs = poll_status(workspace, term, STATUS_RUN,
                               lambda o: len({STATUS_RUN.search(x).group(2) for x in o}) >= 2)
            rc, screen = term.wait()
    finally:
        stop.set()
        watcher.join()
    assert rc == 0, screen[-2000:]
    fractions = [float(STATUS_RUN.search(o).group(4)) for o in outs]
    assert len(set(fractions)) >= 2 and fractions == sorted(fractions), outs
    for o in outs:
        assert STATUS_RUN.search(o).group(1) == str(term.pid)
        assert STAGE.search(o).group(1) == "units", o          # units are being computed
    assert stages == ["units", "results", "aggregate", "stats"], stages   # results: views over the new files
    for name in ("aggregate", "stats"):     # each stage names the SQL step it is running
        assert any(st == name and step.endswith(".sql") for st, step in steps), steps

    logs = assert_no_broken_lines(screen)
    for name in ("aggregate", "stats"):
        assert any(re.search(rf"stage {name} done in [\d.]+s", line) for line in logs), logs
    shown = "\n".join(segments(screen))
    assert "stage units" in shown and "units" in shown and "eta" in shown

    after = duckpipe_cli("status", "--workspace", str(workspace))
    assert "Last run" in after.stdout and "finished" in after.stdout, after.stdout


def test_plain_output_off_a_terminal_and_quiet(tmp_path, raw_small):
    """Piped: plain timestamped log lines, no escape codes, no bars; -q: nothing but warnings."""
    ws = tmp_path / "ws"
    res = duckpipe_cli("ingest", str(raw_small), "--workspace", str(ws), "--threads", "2")
    assert res.returncode == 0, res.stderr
    assert "\x1b[" not in res.stderr + res.stdout and "━" not in res.stderr
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    assert lines and all(LOG_START.match(x) for x in lines), lines
    quiet = duckpipe_cli("ingest", str(raw_small), "--workspace", str(tmp_path / "ws2"), "--threads", "2", "-q")
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    status = json.loads((tmp_path / "ws2" / "status.json").read_text())
    assert status["command"] == "ingest" and status["state"] == "finished"
    assert status["bytes_done"] == status["bytes_total"] > 0 and status["files_done"] == status["files_total"]


def test_status_names_a_holder_that_publishes_no_progress():
    """A report holding the workspace, with the last ingest's status file still there."""
    from duckpipe.engine.live import describe
    left = {"command": "ingest", "pid": 1, "state": "finished", "updated_at": time.time()}
    assert describe(left, {"pid": 4242, "command": "report"}) == [
        "a report (pid 4242) holds the workspace; it publishes no progress"]


def test_last_ingest_killed_mid_file_is_not_reported_running():
    from duckpipe.engine.live import describe_last
    left = {"command": "ingest", "pid": 1, "state": "running", "updated_at": time.time(), "files_done": 2,
            "files_total": 9, "files_failed": 0, "bytes_done": 5_000_000, "rows_loaded": 10, "elapsed_s": 3.0}
    (line,) = describe_last(left)
    assert line.startswith("last ingest: killed at ") and "2 of 9 files" in line, line
    assert describe_last({"command": "run", "state": "finished"}) == []


def test_the_broken_line_check_catches_a_log_line_glued_to_a_bar():
    """The symptom of issue 13: a log record written into the live bar's line."""
    glued = "\x1b[?25lfile 3/9 \x1b[38;5;197m━━━\x1b[0m 4.3% orders.csv\x1b[33m13:13:00 INFO     rows loaded\n"
    with pytest.raises(AssertionError, match="glued"):
        assert_no_broken_lines(glued)
    clean = ("\r\x1b[2K\x1b[1A\x1b[2K\x1b[2;36m13:13:00\x1b[0m \x1b[34mINFO    \x1b[0m rows loaded\n"
             "file 3/9 \x1b[38;5;197m━━━\x1b[0m 4.3% orders.csv")
    assert assert_no_broken_lines(clean) == ["13:13:00 INFO     rows loaded"]
