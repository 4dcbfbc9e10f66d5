"""The terminal watch ends a console whose terminal vanished, even when its event loop is stuck.

Each case runs in a child process on a real pseudo-terminal: the test closes the
terminal's master side (what an SSH session dropping does) and watches the child.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

CHILD = """
import os, sys, threading, time
from poolterm.ui.terminal_watch import TerminalWatch
fd = int(sys.argv[1])
told = threading.Event()
def lost():
    print("told", flush=True)
    told.set()
grace = float(sys.argv[2]) if sys.argv[2] != "none" else None
TerminalWatch(fd, on_lost=lost, poll=0.05, grace=grace, status=129).start()
print("watching", flush=True)
if sys.argv[3] == "stuck":
    lock = threading.Lock()
    lock.acquire()
    lock.acquire()  # never returns: a loop blocked behind a dead tty
told.wait()
print("leaving", flush=True)
"""


def start(grace: float | None, mode: str) -> tuple[subprocess.Popen, int]:
    master, slave = os.openpty()
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(slave), str(grace).lower(), mode], pass_fds=(slave,),
                             stdout=subprocess.PIPE, text=True)
    os.close(slave)
    assert child.stdout.readline() == "watching\n"
    return child, master


@pytest.mark.parametrize("mode", ["stuck", "responsive"])
def test_a_vanished_terminal_is_told_once_and_the_process_ends(mode):
    child, master = start(grace=0.5, mode=mode)
    try:
        time.sleep(0.2)
        assert child.poll() is None  # a live terminal: nothing happens
        os.close(master)
        started = time.monotonic()
        code = child.wait(timeout=10)
        took = time.monotonic() - started
        out = child.stdout.read()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
    if mode == "stuck":
        # the main thread never runs again: the watch itself ends the process after the grace
        assert code == 129 and 0.4 <= took < 5, (code, took)
        assert out == "told\n"
    else:
        # the program heard it and left on its own, well before the grace
        assert code == 0 and out == "told\nleaving\n"


def test_without_grace_the_watch_only_tells():
    """Not the whole program (an embedding app): the watch never ends the process itself."""
    child, master = start(grace=None, mode="stuck")
    try:
        os.close(master)
        assert child.stdout.readline() == "told\n"
        with pytest.raises(subprocess.TimeoutExpired):
            child.wait(timeout=1.0)
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
