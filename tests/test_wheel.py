"""A wheel built from the checkout, installed outside it, runs synth -> ingest -> run -> report.

The wheel must carry sql/ and templates/ (as duckpipe.sql and duckpipe.templates). The fresh
virtual environment borrows the already-installed dependencies (duckdb, pyarrow, ...) through a
.pth line so that the test needs no network, but the duckpipe it imports is the wheel's: the
test checks that, and runs every command from a folder outside the checkout.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip("not a git checkout: cannot tell which files a clean checkout has")
    return [f for f in out.stdout.splitlines() if (REPO / f).exists()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Build from a copy of the tracked files (a clean checkout; the repository stays untouched)."""
    src = tmp_path_factory.mktemp("checkout")
    for rel in _tracked_files():
        if rel.startswith(("data/", "docs/", "bench/")):
            continue
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, src / rel)
    dist = tmp_path_factory.mktemp("dist")
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                          "-w", str(dist), str(src)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    (whl,) = dist.glob("duckpipe-*.whl")
    return whl


def test_wheel_carries_templates(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    sql = {n for n in names if n.startswith("duckpipe/sql/") and n.endswith(".sql")}
    html = {n for n in names if n.startswith("duckpipe/templates/") and n.endswith(".j2")}
    assert len(sql) == len(list((REPO / "sql").rglob("*.sql")))
    assert len(html) == len(list((REPO / "templates").glob("*.j2")))


def test_installed_wheel_runs_every_stage(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
    (purelib / "borrowed_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    res = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                          "--no-deps", "--no-index", str(wheel)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "DUCKPIPE_"))}
    py = str(venv / "bin" / "python")

    def run(*args: str) -> subprocess.CompletedProcess:
        r = subprocess.run([str(venv / "bin" / "duckpipe"), *args], cwd=work, env=env, capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 0, f"duckpipe {' '.join(args)}:\n{r.stdout}\n{r.stderr}"
        return r

    where = subprocess.run([py, "-c", "import duckpipe, duckpipe.sqlrender as s; print(duckpipe.__file__);"
                            " print(s.sql_root())"], cwd=work, env=env, capture_output=True, text=True, check=True)
    assert str(venv) in where.stdout and str(REPO) not in where.stdout, where.stdout
    run("synth", "raw", "--securities", "2", "--days", "2", "--orders-per-unit", "60", "--seed", "3")
    common = ["--workspace", "ws", "--memory-limit", "1GB", "--threads", "2", "-q"]
    run("ingest", "raw", *common)
    run("run", *common)
    run("report", *common)
    report = work / "ws" / "reports"
    assert (report / "report.html").stat().st_size > 10_000
    assert (report / "report.md").exists() and (report / "performance.md").exists()
