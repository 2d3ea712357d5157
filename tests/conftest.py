"""Shared fixtures: small synthetic raw data built once per session, fresh workspaces per test."""
from __future__ import annotations

import shutil
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DRR = (REPO.parent / "shared" / "data" / "asx-drr-2024-09-05").resolve()


def needs_drr():
    return pytest.mark.skipif(not DRR.exists(), reason=f"ASX DRR sample not found at {DRR} (../shared/data)")


@pytest.fixture(scope="session")
def raw_small(tmp_path_factory) -> Path:
    """4 securities x 10 business days x 60 orders: 40 units, a few seconds to ingest and run."""
    from duckpipe.synth import synth
    out = tmp_path_factory.mktemp("raw_small")
    synth(out, securities=4, days=10, orders_per_unit=60, seed=11)
    return out


@pytest.fixture(scope="session")
def ingested_template(tmp_path_factory, raw_small) -> Path:
    """A workspace with raw_small ingested; copy it (``workspace`` fixture) before changing it."""
    ws = tmp_path_factory.mktemp("ws_template")
    res = duckpipe_inproc("ingest", str(raw_small), "--workspace", str(ws), "--memory-limit", "1GB", "--threads", "2")
    assert res.returncode == 0, res.stderr
    return ws


def copy_workspace(src: Path, dest: Path) -> Path:
    """A copy of workspace ``src`` at ``dest`` without its lock and status files (store paths
    resolve inside the copy)."""
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("duckpipe.lock", "status.json"))
    return dest


@pytest.fixture
def workspace(tmp_path, ingested_template) -> Path:
    """A private copy of the ingested workspace (store paths resolve inside the copy)."""
    return copy_workspace(ingested_template, tmp_path / "ws")


@pytest.fixture(scope="session")
def ran_template(tmp_path_factory, ingested_template) -> Path:
    """The ingested workspace after one uninterrupted ``duckpipe run`` (analysis, default strategy):
    a reference to compare with, built once. Read it, never change it (``ran_workspace`` copies it)."""
    ws = copy_workspace(ingested_template, tmp_path_factory.mktemp("ran_template") / "ws")
    res = duckpipe_inproc("run", "--workspace", str(ws), "--memory-limit", "1GB", "--threads", "2", "-q")
    assert res.returncode == 0, res.stderr
    return ws


@pytest.fixture
def ran_workspace(tmp_path, ran_template) -> Path:
    """A private copy of ``ran_template`` (every unit done, aggregates and statistics built)."""
    return copy_workspace(ran_template, tmp_path / "ran_ws")


def duckpipe_cli(*args: str, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    """Run ``python -m duckpipe`` in a subprocess (two processes matter for locks, kills, status)."""
    return subprocess.run([sys.executable, "-m", "duckpipe", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=kw.pop("cwd", REPO), **kw)


def duckpipe_inproc(*args: str) -> subprocess.CompletedProcess:
    """``duckpipe ARGS`` in this process through Typer's CliRunner, answered like ``duckpipe_cli``
    (exit code, stdout and stderr apart) without a new interpreter's start-up. For tests of what a
    command says and does; tests of the process itself (kills, signals, a second process) use
    ``duckpipe_cli``. An exception that escapes the command is put in stderr as the traceback a
    process would print, so checks for "Traceback" still see it."""
    from typer.testing import CliRunner

    from duckpipe.cli import app
    res = CliRunner().invoke(app, list(args))
    err = res.stderr
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        err += "Traceback (most recent call last):\n" + "".join(traceback.format_exception(res.exception))
    return subprocess.CompletedProcess(["duckpipe", *args], res.exit_code, res.stdout, err)


def pytest_collection_modifyitems(config, items):
    """For ``make test``'s pytest-xdist run (``--dist loadgroup``): the tests of a module that share a
    module-scoped fixture go to one worker, so that the fixture is built once, not once per worker;
    and the slow tests (and such groups) are handed out first, so that no long test starts last
    while the other worker sits idle."""
    grouped = set()
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info and any(defs[-1].scope == "module" for defs in info.name2fixturedefs.values()):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
            grouped.add(item.nodeid)
    if hasattr(config, "workerinput"):                 # an xdist worker: the controller follows its order
        items.sort(key=lambda it: 0 if it.get_closest_marker("slow") or it.nodeid in grouped else 1)
