"""Shared fixtures: small synthetic raw data built once per session, fresh workspaces per test."""
from __future__ import annotations

import shutil
import subprocess
import sys
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
    res = duckpipe_cli("ingest", str(raw_small), "--workspace", str(ws), "--memory-limit", "1GB", "--threads", "2")
    assert res.returncode == 0, res.stderr
    return ws


@pytest.fixture
def workspace(tmp_path, ingested_template) -> Path:
    """A private copy of the ingested workspace (store paths resolve inside the copy)."""
    ws = tmp_path / "ws"
    shutil.copytree(ingested_template, ws, ignore=shutil.ignore_patterns("duckpipe.lock", "status.json"))
    return ws


def duckpipe_cli(*args: str, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    """Run ``python -m duckpipe`` in a subprocess (two processes matter for locks, kills, status)."""
    return subprocess.run([sys.executable, "-m", "duckpipe", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=kw.pop("cwd", REPO), **kw)
