"""`poolterm demo` in a real terminal (tmux), driven and read the way a person would.

An isolated tmux server (``-L``) with a fixed size and ``escape-time 0``; every
wait polls ``capture-pane`` for text on the screen, never a fixed sleep.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from poolterm.ui.hangup import HANGUP_GRACE
from tests.helpers.tmux import ctl, running, start_demo

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


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
