"""One driver per incident: the lock beside the journal, taken by one console, named for the
others, and free again the moment its holder dies (kill -9 included)."""

from __future__ import annotations

import grp
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from poolterm.actions.driver_lock import DriverLock, Holder, current_holder, last_holder, lock_path, take_seat
from poolterm.actions.journal import read_journal
from poolterm.errors import JournalError


def test_the_first_takes_the_wheel_and_the_second_learns_who_has_it(tmp_path):
    journal = tmp_path / "incident.jsonl"
    first = DriverLock.try_take(journal, "alice")
    assert isinstance(first, DriverLock) and first.holder.user == "alice" and first.holder.pid == os.getpid()
    second = DriverLock.try_take(journal, "bob")
    assert isinstance(second, Holder) and second == first.holder
    assert current_holder(journal) == first.holder
    assert lock_path(journal).stat().st_mode & 0o777 == 0o600

    first.release()
    assert current_holder(journal) is None
    assert last_holder(journal).user == "alice"  # the file still names who drove last
    third = DriverLock.try_take(journal, "bob")
    assert isinstance(third, DriverLock) and current_holder(journal).user == "bob"
    third.release()


def test_a_driver_killed_with_sigkill_leaves_the_wheel_free(tmp_path):
    journal = tmp_path / "incident.jsonl"
    code = textwrap.dedent(f"""
        import pathlib, sys
        from poolterm.actions.driver_lock import DriverLock
        lock = DriverLock.try_take(pathlib.Path({str(journal)!r}), "alice")
        print("held", flush=True)
        sys.stdin.read()  # until the test kills it
    """)
    driver = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert driver.stdout.readline() == "held\n"
        holder = current_holder(journal)
        assert holder is not None and holder.pid == driver.pid and holder.user == "alice"
        assert isinstance(DriverLock.try_take(journal, "bob"), Holder)
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        driver.stdin.close()
        driver.stdout.close()
    assert current_holder(journal) is None
    taken = DriverLock.try_take(journal, "bob")
    assert isinstance(taken, DriverLock)
    taken.release()


def test_two_consoles_on_one_journal_one_drives_and_the_other_follows_without_writing(tmp_path):
    journal = tmp_path / "incident.jsonl"
    first = take_seat(journal, ["poolterm"], operator="alice", inventory=tmp_path / "hosts.yaml")
    second = take_seat(journal, ["poolterm"], operator="bob")
    assert first.driving and first.journal is not None
    assert not second.driving and second.journal is None and second.driver.user == "alice"
    first.journal.close()
    records = read_journal(journal).records
    assert [(r["kind"], r["operator"], r["role"]) for r in records] == [("session", "alice", "driver")]
    assert records[0]["inventory"] == str(tmp_path / "hosts.yaml")
    first.lock.release()
    third = take_seat(journal, ["poolterm"], operator="bob")  # the driver is gone: the wheel is free
    assert third.driving
    third.journal.close()
    third.lock.release()


def test_a_journal_shared_with_a_group_is_0660_for_it_and_never_readable_by_others(tmp_path):
    group = grp.getgrgid(os.getgid()).gr_name
    journal = tmp_path / "incident.jsonl"
    seat = take_seat(journal, ["poolterm"], operator="alice", group=group)
    for path in (journal, lock_path(journal)):
        stat = path.stat()
        assert (stat.st_mode & 0o777, stat.st_gid) == (0o660, os.getgid()), path
    seat.journal.close()
    seat.lock.release()
    with pytest.raises(JournalError, match="no such group"):
        take_seat(tmp_path / "other.jsonl", ["poolterm"], operator="alice", group="no-such-group-poolterm")
