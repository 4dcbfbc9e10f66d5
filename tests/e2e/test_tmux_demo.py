"""`poolterm demo` in a real terminal (tmux), driven and read the way a person would.

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
import uuid
from pathlib import Path

import pytest

from poolterm.ui.hangup import HANGUP_GRACE

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

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


@pytest.fixture
def tmux():
    server = Tmux(f"poolterm-e2e-{uuid.uuid4().hex[:8]}")
    yield server
    server("kill-server", check=False)


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


def test_demo_healthy_then_master_lost_then_quit(tmux, tmp_path):
    directory = tmp_path / "sim"
    status_file = tmp_path / "status"
    start_demo(tmux, directory, status_file)
    tmux.wait_for_text("HEALTHY", timeout=30)
    ctl("crash", "plot1", directory=directory)
    screen = tmux.wait_for_text("MASTER LOST", timeout=20)
    words = " ".join(screen.split())  # the banner wraps its summary across lines
    assert "Master plot1 is lost" in words and "Promote plot2 (best candidate)" in words
    tmux("send-keys", "-t", "demo", "q")
    tmux.wait_until_gone(timeout=20)
    assert status_file.read_text().strip() == "0"
    assert not (directory / "control.sock").exists()
    printed = [line for line in Path(f"{status_file}.screen").read_text().splitlines() if line.strip()]
    # Only what the demo means to say: where its simulator lives, how to break it, that it stopped.
    assert printed == [f"poolterm demo: 8 simulated hosts, simulator directory {directory}",
                       f"  break things from another terminal: poolterm sim ctl --dir {directory} crash plot1",
                       f"poolterm demo: simulator stopped ({directory})"]


def test_a_playbook_on_an_80x24_terminal_shows_the_command_and_how_to_resume(tmux, tmp_path):
    """The smallest usual terminal, teaching on: the promotion's exact command is shown before
    it is sent; declined, the run stops and the panel says R resumes it. Nothing was sent."""
    directory = tmp_path / "sim"
    status_file = tmp_path / "status"
    start_demo(tmux, directory, status_file, "--teach", size=(80, 24))
    tmux.wait_for_text("HEALTHY", timeout=30)
    ctl("crash", "plot1", directory=directory)
    screen = tmux.wait_for_text("MASTER LOST", timeout=20)
    assert "In plain words: The master," in screen and "(press R)" in screen
    tmux("send-keys", "-t", "demo", "R")
    screen = tmux.wait_for_text("Run this on plot2?", timeout=30)
    assert "xe pool-emergency-transition-to-master" in screen
    tmux("send-keys", "-t", "demo", "n")
    screen = tmux.wait_for_text("R offers to resume it where it stopped", timeout=20)
    assert "STOPPED: Step 2 (Promote plot2 to master)" in " ".join(screen.split())
    assert not [h for h in ctl("status", "--json", directory=directory)["hosts"] if h["role"] == "master"]
    tmux("send-keys", "-t", "demo", "q")
    tmux.wait_until_gone(timeout=20)
    assert status_file.read_text().strip() == "0"


def test_demo_exits_when_its_terminal_goes_away(tmux, tmp_path):
    """An SSH session that drops takes the terminal with it: the console must end, not spin."""
    directory = tmp_path / "sim"
    start_demo(tmux, directory, tmp_path / "status")
    tmux.wait_for_text("HEALTHY", timeout=30)
    pids = tmux("list-panes", "-t", "demo", "-F", "#{pane_pid}").split()
    children = subprocess.run(["pgrep", "-P", pids[0]], capture_output=True, text=True).stdout.split()
    assert children, "the demo process was not found"
    demo_pid = int(children[0])
    tmux("kill-server")
    gone = time.monotonic()
    deadline = gone + 15
    while running(demo_pid):
        if time.monotonic() > deadline:
            os.kill(demo_pid, 9)
            raise AssertionError("poolterm demo kept running after its terminal was gone")
        time.sleep(0.1)
    # it released the simulator itself, without waiting for the watch's last-resort exit
    assert time.monotonic() - gone < HANGUP_GRACE
    assert not (directory / "control.sock").exists()
