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


@pytest.mark.parametrize("bad,needle", [
    ("participants=99999999999999999999", "out of range"),          # beyond BIGINT: every unit failed in SQL
    ("size_buckets=100,9999999999999999999", "out of range"),
    ("qualifying_dealsources=99999999999", "out of range"),         # beyond INTEGER: some units failed
    ("day_rollover=00:00", "every event to the next date"),         # moved every event a day on
])
def test_set_values_the_analysis_cannot_use_are_refused_up_front(tmp_path, bad, needle):
    with pytest.raises(UsageError, match=needle) as exc:
        resolve(workspace=tmp_path, sets=[bad], env={})
    assert bad.split("=")[0] in str(exc.value)


def test_the_extremes_of_the_ranges_are_kept(tmp_path):
    s = resolve(workspace=tmp_path, env={}, sets=[
        f"participants={2**63 - 1},{-2**63}", f"qualifying_dealsources={2**31 - 1}", "day_rollover=00:01"])
    assert s.params["participants"] == [2**63 - 1, -2**63]
    assert s.params["qualifying_dealsources"] == [2**31 - 1] and s.params["day_rollover"] == "00:01"


def test_bad_scenario_name_refused(tmp_path):
    (tmp_path / "duckpipe.toml").write_text('[[scenarios]]\nname = "x\\"; DROP TABLE units"\ndark_share = 1\n')
    with pytest.raises(UsageError, match="scenario"):
        resolve(workspace=tmp_path, env={})


# ---------------------------------------------------------------- issue 12 item 7: hostile configuration

@pytest.mark.parametrize("toml,needle", [
    ('[settings]\nmemroy_limit = "1GB"\n', "unknown key 'memroy_limit' in [settings]; valid keys: memory_limit, threads, temp_dir"),
    ('[bogus]\nx = 1\n', "unknown section [bogus]; valid sections: settings, sources, parameters, scenarios"),
    ('[[scenarios]]\nname = "a"\ndarkshare = 1\n', "unknown key(s) darkshare; valid keys: name, dark_share, rest, impact_bps"),
    ('[[scenarios]]\nname = "a"\ndark_share = [1]\n', "dark_share must be a number between 0 and 1"),
    ('[[scenarios]]\nname = "a"\ndark_share = 1.5\n', "dark_share must be a finite number between 0 and 1"),
    ('[[scenarios]]\nname = "a"\ndark_share = true\n', "dark_share must be a number"),
    ('[[scenarios]]\nname = "a"\ndark_share = 0.5\nrest = "impact"\nimpact_bps = nan\n', "impact_bps must be a finite number between 0 and 10000"),
    ('[[scenarios]]\nname = "a"\ndark_share = 0.5\nrest = "impact"\nimpact_bps = inf\n', "impact_bps must be a finite number"),
    ('[[scenarios]]\nname = "a"\ndark_share = 0.5\nimpact_bps = "5"\n', "impact_bps must be a number"),
    ('[[scenarios]]\nname = "a"\n', "dark_share is missing"),
    ('parameters = 5\n', "parameters must be a table [parameters]"),
    ('settings = "x"\n', "settings must be a table [settings]"),
    ('[sources]\npaths = "/data"\n', "[sources] paths must be a list"),
    ('[sources]\npath = ["/data"]\n', "unknown key 'path' in [sources]; valid keys: paths"),
    ('[settings]\ntemp_dir = 5\n', "[settings] temp_dir must be a string"),
    ('[settings]\nthreads = 2.5\n', "threads (duckpipe.toml): 2.5 is not a positive integer"),
    ('[parameters]\nsize_bucket = [1]\n', "unknown parameter 'size_bucket'"),
])
def test_bad_config_refused_naming_key_and_valid_values(tmp_path, toml, needle):
    (tmp_path / "duckpipe.toml").write_text(toml)
    with pytest.raises(UsageError) as err:
        resolve(workspace=tmp_path, env={})
    assert needle in err.value.message
    assert "\n" not in err.value.message


def test_valid_config_with_every_section_accepted(tmp_path):
    (tmp_path / "duckpipe.toml").write_text(
        '[settings]\nmemory_limit = "64MB"\nthreads = 2\ntemp_dir = "t"\n[sources]\npaths = ["raw"]\n'
        '[parameters]\nsize_buckets = [10, 20]\n'
        '[[scenarios]]\nname = "a"\ndark_share = 0\nrest = "impact"\nimpact_bps = 10000\n')
    s = resolve(workspace=tmp_path, env={})
    assert s.memory_limit == "64MB" and s.scenarios[0]["impact_bps"] == 10000.0 and s.scenarios[0]["dark_share"] == 0.0


@pytest.mark.parametrize("limit", ["0MB", "1B", "63MB", "60MiB"])
def test_memory_limit_below_minimum_refused(tmp_path, limit):
    with pytest.raises(UsageError, match=r"memory limit \(command line\): .* below the minimum of 64MB"):
        resolve(workspace=tmp_path, memory_limit=limit, env={})
    with pytest.raises(UsageError, match="below the minimum of 64MB"):
        resolve(workspace=tmp_path, env={"DUCKPIPE_MEMORY_LIMIT": limit})


@pytest.mark.parametrize("threads", [0, -1])
def test_threads_below_one_refused(tmp_path, threads):
    with pytest.raises(UsageError, match=r"threads \(command line\): .* not a positive integer \(1 or more\)"):
        resolve(workspace=tmp_path, threads=threads, env={})


def test_threads_past_the_maximum_refused_and_the_maximum_kept(tmp_path):
    from duckpipe.settings import MAX_THREADS
    with pytest.raises(UsageError, match=rf"threads \(command line\): 10000 is more than {MAX_THREADS}"):
        resolve(workspace=tmp_path, threads=10000, env={})
    assert resolve(workspace=tmp_path, threads=MAX_THREADS, env={}).threads == MAX_THREADS


@pytest.mark.parametrize("max_cpu,cool_every,cool_seconds,needle", [
    (0, 0, 0, "--max-cpu 0: must be a percentage in (0, 100]"),
    (-5, 0, 0, "--max-cpu -5"),
    (100.5, 0, 0, "--max-cpu 100.5"),
    (float("nan"), 0, 0, "--max-cpu nan"),
    (85, -1, 0, "--cool-every -1: must be 0 (off) or a positive number of batches"),
    (85, 0, -2.0, "--cool-seconds -2.0: must be a finite number of seconds >= 0"),
    (85, 0, float("inf"), "--cool-seconds inf"),
    (85, 3, 0, "--cool-every 3: needs --cool-seconds above 0"),
])
def test_bad_guard_options_refused(max_cpu, cool_every, cool_seconds, needle):
    from duckpipe.settings import check_guards
    with pytest.raises(UsageError) as err:
        check_guards(max_cpu, cool_every, cool_seconds)
    assert needle in err.value.message


def test_good_guard_options_accepted():
    from duckpipe.settings import check_guards
    check_guards(100, 0, 0)
    check_guards(0.5, 2, 1.5)
