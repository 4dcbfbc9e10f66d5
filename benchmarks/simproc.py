"""Run `poolterm sim` in its own process for a benchmark, so its CPU is not counted as the client's."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


@contextlib.contextmanager
def simulator(hosts: int, *, fuse: float = 1.0, boot: float = 1.0, ready_timeout: float = 120.0,
              extra: tuple[str, ...] = (), pools: int = 1):
    """Yield the sim's directory once its hosts.yaml is written; stop it afterwards. ``pools``: split
    the hosts into that many pools (lab01..; `poolterm sim --pools`); ``extra``: more `poolterm sim`
    options (``--ha``)."""
    with tempfile.TemporaryDirectory(prefix="poolterm-bench-") as tmp:
        directory = Path(tmp)
        proc = subprocess.Popen(
            [sys.executable, "-m", "poolterm", "sim", "--hosts", str(hosts), "--dir", str(directory),
             "--fuse", str(fuse), "--boot", str(boot), "--pools", str(pools), *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            deadline = time.monotonic() + ready_timeout
            while not (directory / "control.sock").exists() or not (directory / "hosts.yaml").exists():
                if proc.poll() is not None:
                    raise RuntimeError(f"simulator exited: {proc.stderr.read()}")
                if time.monotonic() > deadline:
                    raise RuntimeError("simulator did not start in time")
                time.sleep(0.05)
            yield directory
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def ctl(directory: Path, action: str, host: str | None = None) -> dict:
    """Drive a fault through the real CLI, as a trainer would."""
    args = [sys.executable, "-m", "poolterm", "sim", "ctl", "--dir", str(directory), action]
    if host:
        args.append(host)
    if action == "status":
        args.append("--json")
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return json.loads(out) if action == "status" else {}


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
