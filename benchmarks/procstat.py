"""What a process of this machine costs, from /proc: resident and proportional memory, CPU seconds."""

from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _field(pid: int | str, path: str, key: str) -> float:
    """A ``key: N kB`` line of /proc/PID/PATH, in MB (0 if the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/{path}").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0.0


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory: every page the process maps, shared ones counted in full."""
    return _field(pid, "status", "VmRSS:")


def pss_mb(pid: int | str = "self") -> float:
    """Proportional memory: a page shared by k processes counts 1/k in each; they add up honestly."""
    return _field(pid, "smaps_rollup", "Pss:")


def cpu_seconds(pid: int | str = "self") -> float:
    """utime + stime (fields 14 and 15; the name in field 2 may hold spaces)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS
