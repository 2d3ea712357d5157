"""Settings layering (SPEC §1: command line > environment > duckpipe.toml > machine defaults)."""
from __future__ import annotations

import pytest

from duckpipe.errors import UsageError
from duckpipe.settings import parse_size, resolve


def test_precedence_cli_over_env_over_toml_over_machine(tmp_path):
    (tmp_path / "duckpipe.toml").write_text('[settings]\nmemory_limit = "3GB"\nthreads = 3\n')
    env = {"DUCKPIPE_MEMORY_LIMIT": "2GB"}
    s = resolve(workspace=tmp_path, memory_limit="1GB", env=env)
    assert (s.memory_limit, s.sources["memory_limit"]) == ("1GB", "command line")
    s = resolve(workspace=tmp_path, env=env)
    assert (s.memory_limit, s.sources["memory_limit"]) == ("2GB", "environment DUCKPIPE_MEMORY_LIMIT")
    assert (s.threads, s.sources["threads"]) == (3, "duckpipe.toml")
    s = resolve(workspace=tmp_path / "none", env={})
    assert s.sources["memory_limit"] == "machine default" and s.temp_dir == (tmp_path / "none" / "tmp")


def test_workspace_from_environment(tmp_path):
    s = resolve(env={"DUCKPIPE_WORKSPACE": str(tmp_path)})
    assert s.workspace == tmp_path.resolve() and s.db_path == tmp_path.resolve() / "duckpipe.duckdb"


@pytest.mark.parametrize("text,expected", [("512MB", 512 * 10**6), ("4GB", 4 * 10**9), ("4GiB", 4 * 2**30)])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


def test_all_problems_reported_at_once(tmp_path):
    with pytest.raises(UsageError) as err:
        resolve(workspace=tmp_path, memory_limit="lots", threads=0, sets=["nope=1", "size_buckets=10,5"], env={})
    msg = err.value.message
    for part in ("memory limit", "threads", "unknown parameter 'nope'", "size_buckets", "valid keys"):
        assert part in msg


def test_set_parses_types_and_toml_parameters(tmp_path):
    (tmp_path / "duckpipe.toml").write_text('[parameters]\nqualifying_dealsources = [1, 44]\n'
                                            '[[scenarios]]\nname = "half"\ndark_share = 0.5\nrest = "real"\n')
    s = resolve(workspace=tmp_path, sets=["session_window=10:00-16:00"], env={})
    assert s.params["qualifying_dealsources"] == [1, 44]
    assert s.sources["param.qualifying_dealsources"] == "duckpipe.toml"
    assert s.params["session_window"] == "10:00-16:00"
    assert [sc["name"] for sc in s.scenarios] == ["half"]


def test_hostile_set_values_are_refused(tmp_path):
    for bad in ["qualifying_dealsources=1); DROP TABLE units; --", "session_window=10:00' OR 1=1 --",
                "size_buckets=1;2"]:
        with pytest.raises(UsageError):
            resolve(workspace=tmp_path, sets=[bad], env={})


def test_bad_scenario_name_refused(tmp_path):
    (tmp_path / "duckpipe.toml").write_text('[[scenarios]]\nname = "x\\"; DROP TABLE units"\ndark_share = 1\n')
    with pytest.raises(UsageError, match="scenario"):
        resolve(workspace=tmp_path, env={})
