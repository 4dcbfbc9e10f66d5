"""The soak benchmark, run for a few seconds on a few hosts: it injects faults, checks the verdict at
its quiet points against the simulator's ground truth, and finds nothing wrong.

The long run is ``python benchmarks/soak.py --hosts 1000 --minutes 10`` (figures in the README).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def count(pattern: str, text: str) -> int:
    found = re.search(pattern, text, re.M)
    assert found, f"{pattern!r} not in the soak's output:\n{text}"
    return int(found.group(1))


def test_a_short_soak_injects_faults_and_finds_every_verdict_right():
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "soak.py"), "--hosts", "8", "--minutes", "0.2",
                           "--interval", "0.5", "--timeout", "2", "--seed", "3"],
                          capture_output=True, text=True, timeout=100, cwd=ROOT)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert count(r"^faults injected: (\d+)", out) >= 1
    assert count(r"^quiet-point checks: (\d+)", out) >= 2  # at the start, and after every fault is undone
    assert count(r"^wrong verdicts: (\d+)", out) == 0
    assert count(r"^stalled probe loops: (\d+)", out) == 0
    assert count(r"^unhandled exceptions: (\d+)", out) == 0
    assert count(r"probe process stderr lines: (\d+)", out) == 0
    assert "targets: RSS growth <= 10% after warm-up: met; 0 unhandled exceptions: met; " \
           "0 wrong verdicts at quiet points: met" in out
    assert done.stderr == ""
