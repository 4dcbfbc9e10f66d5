"""A real terminal (tmux) for the console, driven and read the way a person would.

An isolated tmux server (``-L``) with a fixed size and ``escape-time 0``; every
wait polls ``capture-pane`` for text on the screen, never a fixed sleep.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

WIDTH, HEIGHT = 100, 30


class Tmux:
    def __init__(self, socket: str):
        self.socket = socket

    def __call__(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(["tmux", "-L", self.socket, "-f", os.devnull, *args],
                                capture_output=True, text=True, timeout=10)
        if check and result.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def screen(self) -> str:
        return self("capture-pane", "-t", "demo", "-p", check=False)

    def alive(self) -> bool:
        return subprocess.run(["tmux", "-L", self.socket, "has-session", "-t", "demo"],
                              capture_output=True, timeout=10).returncode == 0

    def wait_for_text(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not on screen after {timeout:g} s; screen was:\n{screen}")

    def wait_until_gone(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                return
            time.sleep(0.1)
        raise AssertionError(f"the tmux session still runs after {timeout:g} s:\n{self.screen()}")


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's exit may wait for a reaper that never comes)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def ctl(*args: str, directory: Path):
    """`poolterm sim ctl` from another terminal, as a trainer would; `status --json` is parsed."""
    done = subprocess.run([sys.executable, "-m", "poolterm", "sim", "ctl", "--dir", str(directory), *args],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if "--json" in args else done.stdout


def start_demo(tmux: Tmux, directory: Path, status_file: Path, *options: str,
               size: tuple[int, int] = (WIDTH, HEIGHT)) -> None:
    poolterm = [sys.executable, "-m", "poolterm"] if shutil.which("poolterm") is None else ["poolterm"]
    command = " ".join([*poolterm, "demo", "--dir", str(directory), "--fuse", "1", *options])
    # The exit status is written down so the test can check the console ended cleanly, and the
    # terminal's main screen (what was printed around the full-screen console) beside it.
    shell = f"{command}; echo $? > {status_file}; tmux capture-pane -pJ > {status_file}.screen"
    tmux("new-session", "-d", "-s", "demo", "-x", str(size[0]), "-y", str(size[1]),
         "-e", "TERM=xterm-256color", shell)
    tmux("set-option", "-g", "escape-time", "0")
