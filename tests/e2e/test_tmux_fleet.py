"""`poolterm demo --pools K` in a real terminal (tmux) at 80×24: the fleet view, a master crashed in
one pool, that pool on top as MASTER LOST, enter into its grid and escape back."""

from __future__ import annotations

import shutil
import time

import pytest

from tests.helpers.tmux import ctl, start_demo

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

HOSTS, POOLS = 120, 12


def first_row(screen: str) -> str:
    """The fleet's first pool row: the line after its column titles."""
    lines = screen.splitlines()
    titles = next(i for i, line in enumerate(lines) if "VERDICT" in line and "WORST FINDING" in line)
    return lines[titles + 1]


def until_screen(tmux, holds, timeout: float) -> str:
    """The screen once ``holds(screen)``: a repaint in progress may show half of the old one."""
    deadline = time.monotonic() + timeout
    while not holds(screen := tmux.screen()):
        if time.monotonic() > deadline:
            raise AssertionError(f"the screen never showed what was waited for:\n{screen}")
        time.sleep(0.1)
    return screen


def test_a_crashed_master_puts_its_pool_on_top_and_enter_shows_its_grid(tmux, tmp_path):
    directory = tmp_path / "sim"
    start_demo(tmux, directory, tmp_path / "status", "--hosts", str(HOSTS), "--pools", str(POOLS), size=(80, 24))
    screen = tmux.wait_for_text(f"+{POOLS - 1} pools, all healthy", timeout=60)
    assert "HEALTHY" in first_row(screen)
    pools = {p["name"]: p for p in ctl("status", "--json", directory=directory)["pools"]}
    assert len(pools) == POOLS and all(len(p["hosts"]) == HOSTS // POOLS for p in pools.values())
    victim = pools["lab07"]["master"]
    ctl("crash", victim, directory=directory)
    screen = tmux.wait_for_text("MASTER LOST", timeout=20)
    row = first_row(screen)
    assert "MASTER LOST" in row and "lab07" in row, screen
    assert "pool lab07 · +11 pools, all healthy" in screen
    tmux("send-keys", "-t", "demo", "Enter")
    screen = tmux.wait_for_text("─ lab07 MASTER LOST", timeout=10)
    assert victim in screen and "VERDICT" not in screen
    tmux("send-keys", "-t", "demo", "Escape")
    screen = until_screen(tmux, lambda text: "WORST FINDING" in text and "lab07" in first_row(text), 10)
    assert "MASTER LOST" in first_row(screen)
    tmux("send-keys", "-t", "demo", "q")
    tmux.wait_until_gone(timeout=30)
