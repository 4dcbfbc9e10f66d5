"""Two operators in two real terminals (issue #15): alice drives `poolterm demo`, bob runs
`poolterm follow` on her journal. Bob sees her promotion and its output within a second of her,
his panel marks the same steps, his commands are refused with her name, and his note reaches her
log and the report."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from tests.helpers.tmux import Tmux, ctl, start_demo

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

PROMOTED = "Host agent will re"  # the promotion's own output line, as much as a narrow log pane shows
SIZE = (140, 44)


@pytest.fixture
def second_tmux():
    server = Tmux(f"poolterm-e2e-{uuid.uuid4().hex[:8]}")
    yield server
    server("kill-server", check=False)


def start_follower(tmux: Tmux, journal, user: str) -> None:
    command = f"{sys.executable} -m poolterm follow {journal}"
    tmux("new-session", "-d", "-s", "demo", "-x", str(SIZE[0]), "-y", str(SIZE[1]), "-e", "TERM=xterm-256color",
         "-e", f"USER={user}", command)
    tmux("set-option", "-g", "escape-time", "0")


def alice_drives_bob_follows(alice: Tmux, bob: Tmux, tmp_path, monkeypatch):
    """alice's `poolterm demo` on a journal, HEALTHY; bob's `poolterm follow` on it, following her.
    The simulator's directory and the journal."""
    directory, journal = tmp_path / "sim", tmp_path / "incident.jsonl"
    monkeypatch.setenv("USER", "alice")
    start_demo(alice, directory, tmp_path / "status", "--journal", str(journal), size=SIZE)
    alice.wait_for_text("HEALTHY", timeout=30)
    start_follower(bob, journal, "bob")
    bob.wait_for_text("FOLLOWING alice", timeout=30)
    return directory, journal


def type_into(tmux: Tmux, text: str, *, placeholder: str, timeout: float = 10) -> None:
    """Type ``text`` into the field showing ``placeholder``, and wait until it holds it (the
    placeholder gone); typed before the field had the focus, it is typed again."""
    deadline = time.monotonic() + timeout
    while placeholder in tmux.screen():
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} never reached the field {placeholder!r}:\n{tmux.screen()}")
        tmux("send-keys", "-t", "demo", "-l", text)
        end = time.monotonic() + 1.0
        while placeholder in tmux.screen() and time.monotonic() < end:
            time.sleep(0.05)


def first_seen(screens: dict[str, Tmux], text: str, timeout: float) -> dict[str, float]:
    """When ``text`` first showed on each screen (capture-pane of both, every 50 ms)."""
    seen: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(seen) < len(screens) and time.monotonic() < deadline:
        for name, screen in screens.items():
            if name not in seen and text in screen.screen():
                seen[name] = time.monotonic()
        time.sleep(0.05)
    missing = sorted(set(screens) - set(seen))
    assert not missing, f"{text!r} never showed on {missing}:\n" + "\n".join(screens[m].screen() for m in missing)
    return seen


def test_bob_follows_alices_recovery_live_is_refused_by_her_name_and_his_note_reaches_her(
        tmux, second_tmux, tmp_path, monkeypatch):
    alice, bob = tmux, second_tmux
    directory, journal = alice_drives_bob_follows(alice, bob, tmp_path, monkeypatch)
    bob.wait_for_text("HEALTHY", timeout=30)  # bob probes the pool himself

    ctl("crash", "plot1", directory=directory)
    alice.wait_for_text("MASTER LOST", timeout=20)
    alice("send-keys", "-t", "demo", "R")
    alice.wait_for_text("Run this on plot2?", timeout=30)
    alice("send-keys", "-t", "demo", "y")
    seen = first_seen({"alice": alice, "bob": bob}, PROMOTED, timeout=30)
    assert seen["bob"] - seen["alice"] <= 1.0, f"bob saw the promotion {seen['bob'] - seen['alice']:.2f} s after alice"
    assert "xe pool-emergency-" in bob.screen()
    # The same panel, the same marks: once alice's panel is on step 3, bob's is too.
    alice.wait_for_text("step 3/7", timeout=60)
    bob.wait_for_text("step 3/7", timeout=5)

    bob("send-keys", "-t", "demo", "e")  # a command: refused, with the driver's name
    bob.wait_for_text("alice drives this incident", timeout=10)

    bob("send-keys", "-t", "demo", "n")
    bob.wait_for_text("Note for everyone on this incident", timeout=10)
    bob("send-keys", "-t", "demo", "-l", "plot1 BMC says PSU failure")
    bob("send-keys", "-t", "demo", "Enter")
    alice.wait_for_text("bob: plot1 BMC says PSU failure", timeout=10)

    for server in (alice, bob):  # no other way out of the playbook's next question: leave
        server("kill-server", check=False)
    report = subprocess.run([sys.executable, "-m", "poolterm", "report", str(journal)], capture_output=True,
                            text=True, timeout=30)
    assert report.returncode == 0, report.stderr
    assert "bob: plot1 BMC says PSU failure" in report.stdout


def test_bob_takes_the_wheel_from_alices_live_console_which_stops_and_follows(tmux, second_tmux, tmp_path,
                                                                              monkeypatch):
    """A takeover while the driver's console runs: bob types her name and a reason, her console says
    so, lets go and follows; bob drives. Both consoles say it, and the journal keeps it."""
    alice, bob = tmux, second_tmux
    _, journal = alice_drives_bob_follows(alice, bob, tmp_path, monkeypatch)

    bob("send-keys", "-t", "demo", "T")
    bob.wait_for_text("Take the wheel from alice?", timeout=10)
    type_into(bob, "alice", placeholder="the driver's user name")
    bob("send-keys", "-t", "demo", "Enter")
    type_into(bob, "alice lost her VPN", placeholder="reason (journaled")
    bob("send-keys", "-t", "demo", "Enter")

    alice.wait_for_text("FOLLOWING bob", timeout=15)
    bob.wait_for_text("you drive this incident now", timeout=15)
    assert "FOLLOWING" not in bob.screen().splitlines()[0]
    for server in (alice, bob):
        server("kill-server", check=False)
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    wheel = [(r["event"], r["operator"]) for r in records if r["kind"] == "wheel"]
    assert wheel == [("released", "alice"), ("took", "bob")]
    [asked] = [r for r in records if r["kind"] == "note"]
    assert (asked["operator"], asked["takeover"], asked["text"]) == ("bob", "alice", "alice lost her VPN")
