"""Facts about this machine (psutil) and the defaults derived from them (SPEC §1)."""
from __future__ import annotations

import os
import platform
import shutil
from pathlib import Path

import psutil


def physical_cores() -> int:
    """Physical cores, or logical ones when psutil cannot tell."""
    return psutil.cpu_count(logical=False) or psutil.cpu_count(logical=True) or 1


def total_memory_bytes() -> int:
    return psutil.virtual_memory().total


def default_memory_limit() -> str:
    """60% of RAM in whole MB: DuckDB's limit covers only its buffer manager."""
    return f"{int(total_memory_bytes() * 0.6) // (1024 * 1024)}MB"


def virtualised() -> str:
    """Best-effort: 'yes (<kind>)', 'no' or 'unknown'."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    if " hypervisor" in text or "\thypervisor" in text or "hypervisor" in text.split("flags", 1)[-1][:4000]:
        vendor = Path("/sys/class/dmi/id/sys_vendor")
        kind = vendor.read_text().strip() if vendor.exists() else "hypervisor flag"
        return f"yes ({kind})"
    return "no"


def facts(workspace: Path | None = None) -> dict:
    """Machine facts stored with every run and printed by ``doctor``."""
    where = workspace if workspace and workspace.exists() else Path.cwd()
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "physical_cores": psutil.cpu_count(logical=False),
        "logical_cores": psutil.cpu_count(logical=True),
        "total_memory_bytes": total_memory_bytes(),
        "available_memory_bytes": psutil.virtual_memory().available,
        "free_disk_bytes": shutil.disk_usage(where).free,
        "virtualised": virtualised(),
        "pid": os.getpid(),
    }
