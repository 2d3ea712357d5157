"""Effective settings and analysis parameters, each value tagged with where it came from.

Precedence (SPEC §1): command line > environment (``DUCKPIPE_*``) > ``duckpipe.toml`` >
machine defaults > built-in. Options default to ``None`` meaning "not given", so lower
layers show through. Every problem is collected and reported at once.
"""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import machine
from .errors import UsageError

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

def _int_list(value: Any) -> list[int]:
    if isinstance(value, str):
        value = [v for v in re.split(r"[,\s]+", value.strip("[] ")) if v]
    if not isinstance(value, (list, tuple)):
        raise ValueError("expected a list of integers such as 1,44")
    out = []
    for v in value:
        if isinstance(v, bool) or not re.fullmatch(r"-?\d+", str(v).strip()):
            raise ValueError(f"{v!r} is not an integer")
        out.append(int(str(v).strip()))
    return out


def _hhmm(value: Any) -> str | None:
    if value in (None, "", "off", "none"):
        return None
    if not _HHMM.match(str(value)):
        raise ValueError(f"{value!r} is not a Sydney time HH:MM")
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
    "qualifying_dealsources": ParamSpec(_int_list, [1], "dealsources all of a qualifying sweep's trades must have (SPEC §5.3)"),
    "session_window": ParamSpec(_window, None, "keep orders arriving in this Sydney window, e.g. 10:00-16:00 (end exclusive)"),
    "participants": ParamSpec(_int_list, [], "keep orders of these participant ids only (empty: all)"),
    "day_rollover": ParamSpec(_hhmm, None, "Sydney time at or after which events belong to the next date, e.g. 19:00"),
    "size_buckets": ParamSpec(_sorted_edges, [100, 1000, 10000], "size bucket edges in shares"),
    "markout_horizons": ParamSpec(_horizons, [1, 5, 30, 60, 300], "markout horizons in seconds, ascending (SPEC §5.10)"),
    "liquidity_horizon_s": ParamSpec(_positive_int, 300, "horizon of realized spread and price impact, seconds (SPEC §5.10)"),
}

DEFAULT_SCENARIOS: list[dict[str, Any]] = [
    {"name": "unlimited", "dark_share": 1.0, "rest": "real", "impact_bps": 0.0},
    {"name": "limited_50", "dark_share": 0.5, "rest": "real", "impact_bps": 0.0},
    {"name": "price_impact", "dark_share": 0.5, "rest": "impact", "impact_bps": 5.0},
]


def parse_scenarios(raw: Any) -> list[dict[str, Any]]:
    """Validate ``[[scenarios]]`` tables: name, dark_share in [0,1], rest real|impact, impact_bps."""
    if not isinstance(raw, list) or not raw:
        raise ValueError("scenarios must be a non-empty list of [[scenarios]] tables")
    out, names = [], set()
    for i, s in enumerate(raw, 1):
        if not isinstance(s, dict):
            raise ValueError(f"scenario {i} is not a table")
        name = str(s.get("name", ""))
        if not re.fullmatch(r"[A-Za-z0-9_\-]{1,40}", name) or name in names:
            raise ValueError(f"scenario {i}: name {name!r} must be unique letters, digits, _ or -")
        share = float(s.get("dark_share", -1))
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"scenario {name}: dark_share must be between 0 and 1")
        rest = s.get("rest", "real")
        if rest not in ("real", "impact"):
            raise ValueError(f"scenario {name}: rest must be 'real' or 'impact'")
        names.add(name)
        out.append({"name": name, "dark_share": share, "rest": rest,
                    "impact_bps": float(s.get("impact_bps", 0.0))})
    return out


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
            "threads": self.threads, "temp_dir": str(self.temp_dir),
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


def resolve(*, workspace: str | Path | None = None, config: str | Path | None = None,
            memory_limit: str | None = None, threads: int | None = None,
            temp_dir: str | Path | None = None, sets: list[str] | None = None,
            env: dict[str, str] | None = None) -> Settings:
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
    settings_cfg = raw.get("settings", {}) if isinstance(raw.get("settings", {}), dict) else {}

    mem = pick("memory_limit", memory_limit, "DUCKPIPE_MEMORY_LIMIT", settings_cfg, machine.default_memory_limit())
    try:
        parse_size(mem)
    except ValueError as exc:
        problems.append(f"memory limit ({sources['memory_limit']}): {exc}")
    thr = pick("threads", threads, "DUCKPIPE_THREADS", settings_cfg, machine.physical_cores())
    try:
        thr = int(thr)
        if thr < 1:
            raise ValueError
    except (TypeError, ValueError):
        problems.append(f"threads ({sources['threads']}): {thr!r} is not a positive integer")
        thr = 1
    tmp = pick("temp_dir", temp_dir, "DUCKPIPE_TEMP_DIR", settings_cfg, ws / "tmp")

    params, psources = _resolve_params(raw.get("parameters", {}), sets or [], problems)
    sources.update(psources)
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
                    sources=sources, config_path=cfg_path if cfg_path.exists() else None,
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


__all__ = ["Settings", "resolve", "parse_size", "PARAMS", "DEFAULT_SCENARIOS", "parse_scenarios"]
