"""Effective settings and analysis parameters, each value tagged with where it came from.

Precedence (SPEC §1): command line > environment (``DUCKPIPE_*``) > ``duckpipe.toml`` >
machine defaults > built-in. Options default to ``None`` meaning "not given", so lower
layers show through. Every problem is collected and reported at once.
"""
from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import machine
from .errors import UsageError
from .profiles import DEFAULT_PROFILE, Profile, get_profile

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
          "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_size(text: str) -> int:
    """Bytes of a DuckDB size string (512MB, 4GB, 4GiB); raises ValueError otherwise."""
    m = _SIZE.match(str(text))
    if not m:
        raise ValueError(f"{text!r} is not a size like 512MB, 4GB or 4GiB")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


# ---------------------------------------------------------------- analysis parameters

_INTEGER = (-2**31, 2**31 - 1)           # the SQL types the values are compared with
_BIGINT = (-2**63, 2**63 - 1)


def _int_list(value: Any, bounds: tuple[int, int] = _BIGINT) -> list[int]:
    if isinstance(value, str):
        value = [v for v in re.split(r"[,\s]+", value.strip("[] ")) if v]
    if not isinstance(value, (list, tuple)):
        raise ValueError("expected a list of integers such as 1,44")
    out = []
    for v in value:
        if isinstance(v, bool) or not re.fullmatch(r"-?\d+", str(v).strip()):
            raise ValueError(f"{v!r} is not an integer")
        n = int(str(v).strip())
        if not bounds[0] <= n <= bounds[1]:        # else every unit fails later in SQL
            raise ValueError(f"{n} is out of range ({bounds[0]} to {bounds[1]})")
        out.append(n)
    return out


def _int32_list(value: Any) -> list[int]:
    return _int_list(value, _INTEGER)


def _rollover(value: Any) -> str | None:
    hhmm = _hhmm(value)
    if hhmm is not None and hhmm.replace(":", "").strip("0") == "":
        raise ValueError(f"{value!r} would move every event to the next date; use 'off' for no rollover")
    return hhmm


def _hhmm(value: Any) -> str | None:
    if value in (None, "", "off", "none"):
        return None
    if not _HHMM.match(str(value)):
        raise ValueError(f"{value!r} is not a time HH:MM")
    return str(value)


def _window(value: Any) -> str | None:
    if value in (None, "", "off", "none"):
        return None
    parts = str(value).split("-")
    if len(parts) != 2 or not all(_HHMM.match(p) for p in parts) or parts[0] >= parts[1]:
        raise ValueError(f"{value!r} is not a window HH:MM-HH:MM (start before end)")
    return str(value)


def _sorted_edges(value: Any) -> list[int]:
    edges = _int_list(value)
    if edges != sorted(set(edges)) or any(e <= 0 for e in edges):
        raise ValueError("size bucket edges must be positive and strictly increasing")
    return edges


_DAY_S = 86_400      # a horizon beyond a day looks past the business date anyway


def _horizons(value: Any) -> list[int]:
    hs = _int_list(value)
    if not hs or any(not 0 < h <= _DAY_S for h in hs) or any(a >= b for a, b in zip(hs, hs[1:])):
        raise ValueError("markout horizons must be positive integers (seconds, at most 86400),"
                         " strictly ascending, e.g. 1,5,60")
    return hs


def _positive_int(value: Any) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not re.fullmatch(r"\d+", text) or not 0 < int(text) <= _DAY_S:
        raise ValueError(f"{value!r} is not a positive integer of seconds (at most 86400)")
    return int(text)


@dataclass(frozen=True)
class ParamSpec:
    parse: Callable[[Any], Any]
    default: Any
    help: str


PARAMS: dict[str, ParamSpec] = {
    # default None = the profile's qualifying_dealsources (resolve() fills it in)
    "qualifying_dealsources": ParamSpec(_int32_list, None, "dealsources all of a qualifying sweep's trades must have (SPEC §5.3; default: the profile's)"),
    "session_window": ParamSpec(_window, None, "keep orders arriving in this local-time window, e.g. 10:00-16:00 (end exclusive)"),
    "participants": ParamSpec(_int_list, [], "keep orders of these participant ids only (empty: all)"),
    "day_rollover": ParamSpec(_rollover, None, "local time (the profile's time zone) at or after which events belong to the next date, e.g. 19:00"),
    "size_buckets": ParamSpec(_sorted_edges, [100, 1000, 10000], "size bucket edges in shares"),
    "markout_horizons": ParamSpec(_horizons, [1, 5, 30, 60, 300], "markout horizons in seconds, ascending (SPEC §5.10)"),
    "liquidity_horizon_s": ParamSpec(_positive_int, 300, "horizon of realized spread and price impact, seconds (SPEC §5.10)"),
}

DEFAULT_SCENARIOS: list[dict[str, Any]] = [
    {"name": "unlimited", "dark_share": 1.0, "rest": "real", "impact_bps": 0.0},
    {"name": "limited_50", "dark_share": 0.5, "rest": "real", "impact_bps": 0.0},
    {"name": "price_impact", "dark_share": 0.5, "rest": "impact", "impact_bps": 5.0},
]


SCENARIO_KEYS = ("name", "dark_share", "rest", "impact_bps")
IMPACT_BPS_RANGE = (0.0, 10_000.0)


def _finite(value: Any, what: str, lo: float, hi: float) -> float:
    """A finite real number in [lo, hi] (TOML booleans, lists and strings are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} must be a number between {lo:g} and {hi:g}, not {value!r}")
    value = float(value)
    if not math.isfinite(value) or not lo <= value <= hi:
        raise ValueError(f"{what} must be a finite number between {lo:g} and {hi:g}, not {value!r}")
    return value


def parse_scenarios(raw: Any) -> list[dict[str, Any]]:
    """Validate ``[[scenarios]]`` tables: name, dark_share in [0,1], rest real|impact,
    impact_bps finite in [0, 10000]; unknown keys are refused."""
    if not isinstance(raw, list) or not raw:
        raise ValueError("scenarios must be a non-empty list of [[scenarios]] tables")
    out, names = [], set()
    for i, s in enumerate(raw, 1):
        if not isinstance(s, dict):
            raise ValueError(f"scenario {i} is not a table")
        unknown = sorted(set(s) - set(SCENARIO_KEYS))
        if unknown:
            raise ValueError(f"scenario {i}: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(SCENARIO_KEYS)}")
        name = s.get("name", "")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_\-]{1,40}", name) or name in names:
            raise ValueError(f"scenario {i}: name {name!r} must be unique letters, digits, _ or -")
        if "dark_share" not in s:
            raise ValueError(f"scenario {name}: dark_share is missing (a number between 0 and 1)")
        share = _finite(s["dark_share"], f"scenario {name}: dark_share", 0.0, 1.0)
        rest = s.get("rest", "real")
        if rest not in ("real", "impact"):
            raise ValueError(f"scenario {name}: rest must be 'real' or 'impact'")
        impact = _finite(s.get("impact_bps", 0.0), f"scenario {name}: impact_bps", *IMPACT_BPS_RANGE)
        names.add(name)
        out.append({"name": name, "dark_share": share, "rest": rest, "impact_bps": impact})
    return out


# ---------------------------------------------------------------- configuration file and ranges

CONFIG_KEYS: dict[str, tuple[str, ...] | None] = {
    "settings": ("memory_limit", "threads", "temp_dir"),
    "sources": ("paths",),
    "parameters": None,            # checked against PARAMS, with the list of valid keys
    "scenarios": None,             # an array of tables, checked by parse_scenarios
}
MIN_MEMORY_LIMIT = "64MB"          # below this DuckDB cannot hold one row group of a sort
MAX_CPU_RANGE = (0.0, 100.0)       # --max-cpu: (0, 100]


def check_config(raw: dict[str, Any], path: Path) -> list[str]:
    """Problems of a parsed duckpipe.toml's shape: unknown sections and keys, wrong types."""
    problems = []
    for section, value in raw.items():
        if section not in CONFIG_KEYS:
            problems.append(f"{path}: unknown section [{section}]; valid sections: {', '.join(CONFIG_KEYS)}")
            continue
        if section == "scenarios":
            continue                                   # parse_scenarios says what is wrong
        if not isinstance(value, dict):
            problems.append(f"{path}: {section} must be a table [{section}], not {value!r}")
            continue
        keys = CONFIG_KEYS[section]
        for key in value if keys is not None else ():
            if key not in keys:
                problems.append(f"{path}: unknown key {key!r} in [{section}]; valid keys: {', '.join(keys)}")
    st = raw.get("settings") if isinstance(raw.get("settings"), dict) else {}
    for key in ("memory_limit", "temp_dir"):
        if key in st and not isinstance(st[key], str):
            problems.append(f"{path}: [settings] {key} must be a string, not {st[key]!r}")
    paths = raw.get("sources", {}).get("paths") if isinstance(raw.get("sources"), dict) else None
    if paths is not None and (not isinstance(paths, list) or not all(isinstance(p, str) for p in paths)):
        problems.append(f"{path}: [sources] paths must be a list of folder names, not {paths!r}")
    return problems


def check_memory_limit(text: Any) -> str:
    """A DuckDB size of at least MIN_MEMORY_LIMIT; raises ValueError naming the valid range."""
    size = parse_size(str(text))
    if size < parse_size(MIN_MEMORY_LIMIT):
        raise ValueError(f"{text!r} is below the minimum of {MIN_MEMORY_LIMIT}")
    return str(text).replace(" ", "")


def check_guards(max_cpu: float, cool_every: int, cool_seconds: float) -> None:
    """The run options that pace a run: --max-cpu in (0, 100], --cool-every >= 0 batches,
    --cool-seconds >= 0 (and > 0 when --cool-every is on). Raises UsageError."""
    problems = []
    if isinstance(max_cpu, bool) or not math.isfinite(float(max_cpu)) or not 0 < float(max_cpu) <= 100:
        problems.append(f"--max-cpu {max_cpu!r}: must be a percentage in (0, 100]")
    if int(cool_every) < 0:
        problems.append(f"--cool-every {cool_every!r}: must be 0 (off) or a positive number of batches")
    if not math.isfinite(float(cool_seconds)) or float(cool_seconds) < 0:
        problems.append(f"--cool-seconds {cool_seconds!r}: must be a finite number of seconds >= 0")
    elif int(cool_every) > 0 and float(cool_seconds) <= 0:
        problems.append(f"--cool-every {cool_every}: needs --cool-seconds above 0 (the length of the break)")
    if problems:
        raise UsageError("; ".join(problems))


# ---------------------------------------------------------------- settings

@dataclass(frozen=True)
class Settings:
    """Everything a command needs to know, with ``sources[name]`` telling where each came from."""

    workspace: Path
    memory_limit: str          # DuckDB size string
    threads: int
    temp_dir: Path
    params: dict[str, Any]
    scenarios: list[dict[str, Any]]
    sources: dict[str, str] = field(default_factory=dict)
    config_path: Path | None = None
    sources_cfg: dict[str, Any] = field(default_factory=dict)   # [sources] table of duckpipe.toml
    profile: str = DEFAULT_PROFILE   # input profile (SPEC §3): duckpipe.profiles.<name>

    @property
    def profile_def(self) -> Profile:
        return get_profile(self.profile)

    @property
    def db_path(self) -> Path:
        return self.workspace / "duckpipe.duckdb"

    @property
    def store_dir(self) -> Path:
        return self.workspace / "store"

    @property
    def memory_limit_bytes(self) -> int:
        return parse_size(self.memory_limit)

    def effective(self) -> dict[str, dict[str, Any]]:
        """{name: {value, source}} for runs.settings, --dry-run and doctor."""
        out = {
            "workspace": str(self.workspace), "memory_limit": self.memory_limit,
            "threads": self.threads, "temp_dir": str(self.temp_dir), "profile": self.profile,
        }
        out.update({f"param.{k}": v for k, v in self.params.items()})
        out["scenarios"] = self.scenarios
        return {k: {"value": v, "source": self.sources.get(k, "built-in")} for k, v in out.items()}


def load_config(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None


# Above this, --threads is a typo rather than a machine (a value above the cores only warns).
MAX_THREADS = 256


def resolve(*, workspace: str | Path | None = None, config: str | Path | None = None,
            memory_limit: str | None = None, threads: int | None = None,
            temp_dir: str | Path | None = None, sets: list[str] | None = None,
            env: dict[str, str] | None = None, profile: str | None = None) -> Settings:
    """Layer command line, environment, config file and machine defaults into Settings."""
    env = dict(os.environ if env is None else env)
    sources: dict[str, str] = {}
    problems: list[str] = []

    def pick(name: str, cli: Any, env_key: str, cfg: dict, default: Any) -> Any:
        for value, src in ((cli, "command line"), (env.get(env_key), f"environment {env_key}"),
                           (cfg.get(name), "duckpipe.toml")):
            if value not in (None, ""):
                sources[name] = src
                return value
        sources[name] = "machine default"
        return default

    ws_value = workspace if workspace not in (None, "") else env.get("DUCKPIPE_WORKSPACE") or "."
    sources["workspace"] = "command line" if workspace else ("environment DUCKPIPE_WORKSPACE" if env.get("DUCKPIPE_WORKSPACE") else "current directory")
    ws = Path(ws_value).expanduser().resolve()
    cfg_path = Path(config).expanduser() if config else ws / "duckpipe.toml"
    if config and not cfg_path.exists():
        raise UsageError(f"config file {cfg_path} does not exist")
    raw = load_config(cfg_path) if cfg_path.exists() else {}
    problems.extend(check_config(raw, cfg_path))
    settings_cfg = raw.get("settings", {}) if isinstance(raw.get("settings", {}), dict) else {}

    mem = pick("memory_limit", memory_limit, "DUCKPIPE_MEMORY_LIMIT", settings_cfg, machine.default_memory_limit())
    try:
        check_memory_limit(mem)
    except ValueError as exc:
        problems.append(f"memory limit ({sources['memory_limit']}): {exc}")
    thr = pick("threads", threads, "DUCKPIPE_THREADS", settings_cfg, machine.physical_cores())
    try:
        if isinstance(thr, (bool, float)) or int(thr) < 1:
            raise ValueError
        thr = int(thr)
    except (TypeError, ValueError):
        problems.append(f"threads ({sources['threads']}): {thr!r} is not a positive integer (1 or more)")
        thr = 1
    if thr > MAX_THREADS:                   # a typo (10000) would stall the command, not fail it
        problems.append(f"threads ({sources['threads']}): {thr} is more than {MAX_THREADS}")
    tmp = pick("temp_dir", temp_dir, "DUCKPIPE_TEMP_DIR", settings_cfg, ws / "tmp")
    prof = str(pick("profile", profile, "DUCKPIPE_PROFILE", settings_cfg, DEFAULT_PROFILE))
    if sources["profile"] == "machine default":
        sources["profile"] = "built-in"
    try:
        prof_def: Profile | None = get_profile(prof)
    except UsageError as exc:
        problems.append(f"profile ({sources['profile']}): {exc.message}")
        prof_def = None

    params_cfg = raw.get("parameters", {})
    params, psources = _resolve_params(params_cfg if isinstance(params_cfg, dict) else {}, sets or [], problems)
    sources.update(psources)
    if params["qualifying_dealsources"] is None and prof_def is not None:
        params["qualifying_dealsources"] = list(prof_def.qualifying_dealsources)
        sources["param.qualifying_dealsources"] = f"profile {prof}"
    try:
        scenarios = parse_scenarios(raw["scenarios"]) if "scenarios" in raw else DEFAULT_SCENARIOS
        sources["scenarios"] = "duckpipe.toml" if "scenarios" in raw else "built-in"
    except ValueError as exc:
        problems.append(f"duckpipe.toml scenarios: {exc}")
        scenarios = DEFAULT_SCENARIOS
    if problems:
        raise UsageError("; ".join(problems))
    return Settings(workspace=ws, memory_limit=str(mem).replace(" ", ""), threads=thr,
                    temp_dir=Path(tmp).expanduser().resolve(), params=params, scenarios=scenarios,
                    sources=sources, config_path=cfg_path if cfg_path.exists() else None, profile=prof,
                    sources_cfg=raw.get("sources", {}) if isinstance(raw.get("sources", {}), dict) else {})


def _resolve_params(cfg: dict, sets: list[str], problems: list[str]) -> tuple[dict, dict]:
    params = {k: spec.default for k, spec in PARAMS.items()}
    sources = {f"param.{k}": "built-in" for k in PARAMS}
    valid = ", ".join(sorted(PARAMS))
    layered = [(k, v, "duckpipe.toml") for k, v in (cfg or {}).items()]
    for item in sets:
        if "=" not in item:
            problems.append(f"--set {item!r}: expected KEY=VALUE (valid keys: {valid})")
            continue
        k, v = item.split("=", 1)
        layered.append((k.strip(), v.strip(), "command line"))
    for key, value, src in layered:
        if key not in PARAMS:
            problems.append(f"unknown parameter {key!r} ({src}); valid keys: {valid}")
            continue
        try:
            params[key] = PARAMS[key].parse(value)
            sources[f"param.{key}"] = src
        except ValueError as exc:
            problems.append(f"parameter {key} ({src}): {exc}")
    return params, sources


__all__ = ["Settings", "resolve", "parse_size", "PARAMS", "DEFAULT_SCENARIOS", "parse_scenarios",
           "check_config", "check_memory_limit", "check_guards", "MIN_MEMORY_LIMIT"]
