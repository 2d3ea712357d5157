"""Every command through Typer's CliRunner: exit codes and the exact first line of errors (SPEC §1)."""
from __future__ import annotations

import json

from conftest import DRR, needs_drr
from typer.testing import CliRunner

from duckpipe.cli import app

runner = CliRunner()


def test_synth_writes_the_layout(tmp_path):
    res = runner.invoke(app, ["synth", str(tmp_path / "raw"), "--securities", "2", "--days", "1",
                              "--orders-per-unit", "20", "--faults"])
    assert res.exit_code == 0, res.output
    assert "faults injected" in res.output
    for table in ("orders", "trades", "nbbo", "session", "reference", "participants"):
        assert any((tmp_path / "raw" / table).iterdir())
    assert json.loads((tmp_path / "raw" / "faults.json").read_text())


def test_ingest_missing_source_is_one_line_exit_2(tmp_path):
    res = runner.invoke(app, ["ingest", str(tmp_path / "nope"), "--workspace", str(tmp_path / "ws")])
    assert res.exit_code == 2
    assert res.output.startswith("Error: ") and len(res.output.strip().splitlines()) == 1
    assert str(tmp_path / "nope") in res.output


def test_commands_on_an_empty_workspace_say_what_to_do(tmp_path):
    for cmd in (["units"], ["run"], ["report"], ["status"]):
        res = runner.invoke(app, [*cmd, "--workspace", str(tmp_path)])
        assert res.exit_code == 2, (cmd, res.output)
        assert res.output.startswith("Error: "), (cmd, res.output)
        assert ("duckpipe ingest" in res.output) or ("nothing has run" in res.output), (cmd, res.output)
        assert len(res.output.strip().splitlines()) == 1, (cmd, res.output)


def test_bad_memory_limit_and_unknown_set_key(tmp_path):
    res = runner.invoke(app, ["run", "--workspace", str(tmp_path), "--memory-limit", "lots"])
    assert res.exit_code == 2 and "is not a size like 512MB" in res.output
    res = runner.invoke(app, ["run", "--workspace", str(tmp_path), "--set", "colour=blue"])
    assert res.exit_code == 2 and "unknown parameter 'colour'" in res.output and "valid keys" in res.output


def test_doctor_prints_settings_with_sources(tmp_path, monkeypatch):
    monkeypatch.setenv("DUCKPIPE_THREADS", "1")
    res = runner.invoke(app, ["doctor", "--workspace", str(tmp_path), "--memory-limit", "1GB"])
    assert res.exit_code == 0, res.output
    assert 'memory_limit = "1GB"  [command line]' in res.output
    assert "threads = 1  [environment DUCKPIPE_THREADS]" in res.output
    assert "versions: duckpipe" in res.output and "does not exist yet" in res.output


def test_threads_above_cores_is_warned_not_refused(tmp_path):
    import os
    n = (os.cpu_count() or 1) + 1                     # above the cores, below settings.MAX_THREADS
    res = runner.invoke(app, ["doctor", "--workspace", str(tmp_path), "--threads", str(n)])
    assert res.exit_code == 0 and f"threads {n} is above" in res.output


@needs_drr()
def test_units_on_the_drr_sample(tmp_path):
    ws = str(tmp_path / "ws")
    assert runner.invoke(app, ["ingest", str(DRR), "--workspace", ws, "-q"]).exit_code == 0
    res = runner.invoke(app, ["units", "--workspace", ws])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert "110621  2024-09-04  pending" in lines[1] and "110621  2024-09-05  pending" in lines[2]
    assert lines[-1] == "2 of 2 units: 2 pending"
    res = runner.invoke(app, ["units", "--workspace", ws, "--dates", "2024-09-05..2024-09-06"])
    assert res.output.splitlines()[-1] == "1 of 2 units: 1 pending"
    res = runner.invoke(app, ["units", "--workspace", ws, "--dates", "2024-09-05..2024-09"])
    assert res.exit_code == 2 and res.output.startswith("Error: --dates")
    res = runner.invoke(app, ["units", "--workspace", ws, "--securities", "85603"])
    assert res.exit_code == 2 and "unknown security 85603" in res.output


def test_unreadable_files_fail_alone_with_exit_1(tmp_path):
    """A file missing required columns and a corrupt gzip fail; the good file still loads."""
    from duckpipe.synth import synth
    synth(tmp_path / "src", securities=1, days=1, orders_per_unit=20, seed=2)
    (tmp_path / "src" / "orders" / "bad.csv").write_text("a,b,c\n1,2,3\n")
    (tmp_path / "src" / "trades" / "garbage.csv.gz").write_bytes(b"not gzip at all" * 100)
    res = runner.invoke(app, ["ingest", str(tmp_path / "src"), "--workspace", str(tmp_path / "ws"), "-q"])
    assert res.exit_code == 1
    assert "required column(s) missing: order_id" in res.output and "bad.csv" in res.output
    assert "garbage.csv.gz" in res.output and "Traceback" not in res.output
    assert "Error: 2 of " in res.output and "the others loaded" in res.output
    res = runner.invoke(app, ["units", "--workspace", str(tmp_path / "ws")])
    assert res.exit_code == 0 and "pending" in res.output


def test_committed_sample_is_what_its_documented_command_writes(tmp_path):
    """data/sample-asx must stay reproducible from data/README.md's synth command."""
    from conftest import REPO
    sample = REPO / "data" / "sample-asx"
    res = runner.invoke(app, ["synth", str(tmp_path / "s"), "--securities", "2", "--days", "2",
                              "--orders-per-unit", "40", "--seed", "42", "--gzip", "-q"])
    assert res.exit_code == 0, res.output
    ours = sorted(p.relative_to(sample) for p in sample.rglob("*") if p.is_file())
    fresh = sorted(p.relative_to(tmp_path / "s") for p in (tmp_path / "s").rglob("*") if p.is_file())
    assert ours == fresh
    for rel in ours:
        assert (sample / rel).read_bytes() == (tmp_path / "s" / rel).read_bytes(), rel


def test_every_workspace_command_takes_the_common_options_once():
    """Declared once (cli.COMMON), present on every command that opens a workspace, after its name."""
    import typer.main

    from duckpipe.cli import COMMON
    group = typer.main.get_command(app)
    want = {"--workspace", "--config", "--memory-limit", "--threads", "--temp-dir", "--profile", "--verbose", "--quiet"}
    assert {p.name for p in COMMON} == {w[2:].replace("-", "_") for w in want}
    for name in ("ingest", "units", "run", "status", "report", "doctor"):
        cmd = group.commands[name]
        opts = [o for p in cmd.params if not p.opts[0].isidentifier() for o in p.opts if o.startswith("--")]
        assert want <= set(opts), (name, want - set(opts))
        assert len(opts) == len(set(opts)), name


def test_profile_option_reaches_the_settings(tmp_path):
    res = runner.invoke(app, ["doctor", "--workspace", str(tmp_path), "--profile", "nosuch"])
    assert res.exit_code == 2 and "unknown input profile 'nosuch'" in res.output


def test_output_to_a_reader_that_left_is_dropped_quietly():
    """`duckpipe units | head -1`: once the reader has gone the rest is dropped, exit 0, no error
    (it printed 'Error: Broken pipe', exit 2). stdout here is a pipe whose reading end is closed."""
    import subprocess
    import sys
    code = ("import os, sys\n"
            "r, w = os.pipe(); os.close(r); os.dup2(w, 1)\n"
            "from duckpipe.cli import out\n"
            "for i in range(3): out(f'line {i}')\n"
            "print('done', file=sys.stderr)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (res.returncode, res.stderr) == (0, "done\n")
