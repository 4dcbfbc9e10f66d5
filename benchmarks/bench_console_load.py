"""The console, in a real terminal, on a 64-host pool for a minute: its load on the master, then how
fast the banner still turns on a master crash and on a hung master xapi (issue #13).

`poolterm sim --hosts 64` runs in its own process; `poolterm console` runs in tmux against it, with
the inventory the sim wrote (probe every 2 s, call timeout 5 s, `probe.master_budget` 60 by
default). The screen is read with `tmux capture-pane`, as a person would read it. The baseline,
in the same run, is the same console with the budget lifted so far that nothing is ever saved
(`--budget` decides which runs).

    python benchmarks/bench_console_load.py [--hosts 64] [--seconds 60] [--trials 3]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import time
import uuid
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simproc import ctl, median, simulator  # noqa: E402

from tests.helpers.tmux import Tmux  # noqa: E402

SIZE = (160, 48)
TARGET_LOAD = 60
TARGET_CRASH = 3.0
CALL_TIMEOUT = 5.0
HUNG = "plot1 is reachable but its xapi is"


def served(directory: Path) -> int:
    host = next(h for h in ctl(directory, "status")["hosts"] if h["name"] == "plot1")
    return host["api_sessions"] + host["https_requests"]


def inventory_with_budget(directory: Path, budget: int | None) -> Path:
    """The sim's own inventory; with a budget, that budget written into it (beside it: paths stay relative)."""
    path = directory / "hosts.yaml"
    if budget is None:
        return path
    data = yaml.safe_load(path.read_text())
    data["probe"]["master_budget"] = budget
    custom = directory / f"hosts-budget-{budget}.yaml"
    custom.write_text(yaml.safe_dump(data, sort_keys=False))
    return custom


def open_console(tmux: Tmux, inventory: Path, journal: Path) -> None:
    poolterm = ["poolterm"] if shutil.which("poolterm") else [sys.executable, "-m", "poolterm"]
    command = " ".join([*poolterm, "console", "-i", str(inventory), "--journal", str(journal)])
    tmux("new-session", "-d", "-s", "demo", "-x", str(SIZE[0]), "-y", str(SIZE[1]),
         "-e", "TERM=xterm-256color", command)
    tmux("set-option", "-g", "escape-time", "0")


def banner(tmux: Tmux) -> str:
    """The banner: the screen's lines above the grid's border (the log below keeps older verdicts)."""
    lines = tmux.screen().splitlines()
    end = next((i for i, line in enumerate(lines) if "─ lab " in line), len(lines))
    return " ".join(" ".join(lines[:end]).split())


def until_on_screen(tmux: Tmux, text: str, timeout: float, since: float) -> float:
    """Seconds from ``since`` until the banner says ``text`` (capture-pane polled every 50 ms)."""
    deadline = since + timeout
    while time.monotonic() < deadline:
        if text in banner(tmux):
            return time.monotonic() - since
        time.sleep(0.05)
    raise RuntimeError(f"{text!r} not in the banner after {timeout:g} s:\n{tmux.screen()}")


def calm(tmux: Tmux) -> None:
    until_on_screen(tmux, "HEALTHY", 180, time.monotonic())
    until_on_screen(tmux, "probe calm", 120, time.monotonic())


def run(hosts: int, budget: int | None, seconds: float, trials: int) -> dict:
    with simulator(hosts) as directory:
        tmux = Tmux(f"poolterm-bench-{uuid.uuid4().hex[:8]}")
        try:
            open_console(tmux, inventory_with_budget(directory, budget), directory / "incident.jsonl")
            calm(tmux)
            before = served(directory)
            time.sleep(seconds)  # the measurement is of a stretch of time
            load = served(directory) - before
            shown = banner(tmux).split(" Next:")[0]
            crash, hang = [], []
            for _ in range(trials):
                calm(tmux)
                time.sleep(random.uniform(0, 2))  # any moment of the probe's 2-second cycle
                start = time.monotonic()
                ctl(directory, "crash", "plot1")
                crash.append(until_on_screen(tmux, "MASTER LOST", 60, start))
                ctl(directory, "poweron", "plot1")
                calm(tmux)
                time.sleep(random.uniform(0, 2))
                start = time.monotonic()
                ctl(directory, "hang-xapi", "plot1")
                hang.append(until_on_screen(tmux, HUNG, 60, start))
                ctl(directory, "unhang-xapi", "plot1")
        finally:
            tmux("kill-server", check=False)
    return {"load": load * 60 / seconds, "shown": shown, "crash": crash, "hang": hang}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        print("bench_console_load: tmux is not installed", file=sys.stderr)
        return 2
    runs = {"console, master_budget 60": None, "baseline: budget 100000": 100000}
    print(f"poolterm console in tmux {SIZE[0]}x{SIZE[1]}, sim --hosts {args.hosts}, "
          f"{args.seconds:g} s healthy then {args.trials} crash and hang trials")
    failed = False
    for label, budget in runs.items():
        figures = run(args.hosts, budget, args.seconds, args.trials)
        print(f"  {label}")
        print(f"    plot1 api_sessions + https_requests: {figures['load']:.0f} a minute "
              f"(target <= {TARGET_LOAD}); the banner said: {figures['shown']!r}")
        print(f"    crash plot1 -> MASTER LOST on screen: median {median(figures['crash']):.2f} s, "
              f"worst {max(figures['crash']):.2f} s (target <= {TARGET_CRASH:g})")
        print(f"    hang-xapi plot1 -> hung xapi named: median {median(figures['hang']):.2f} s, "
              f"worst {max(figures['hang']):.2f} s (target <= {TARGET_CRASH + CALL_TIMEOUT:g})")
        if budget is None:
            failed = (figures["load"] > TARGET_LOAD or median(figures["crash"]) > TARGET_CRASH
                      or median(figures["hang"]) > TARGET_CRASH + CALL_TIMEOUT)
    print("targets met" if not failed else "a target was missed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
