"""One driver per incident: the lock beside the journal that says who may change the pool (issue #15).

``JOURNAL.lock`` is held with ``flock`` by the one console (or ``playbook run``) that may send
commands; it names the holder (user, jump host, pid, since) for everyone else to read. The
kernel drops the lock when its holder dies, ``kill -9`` included, so a lock that can be taken
is a driver that is gone, whatever the file still says. A console that finds it held follows.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from poolterm.actions.journal import Journal, ResumePoint, incident_journal_path, open_private, operator_name
from poolterm.errors import JournalError


def lock_path(journal: Path) -> Path:
    return journal.with_name(journal.name + ".lock")


@dataclass(frozen=True)
class Holder:
    """Who drives (or drove) the incident, as the lock file says."""

    user: str
    host: str
    pid: int
    since: float

    def describe(self) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(self.since)) if self.since else "?"
        return f"{self.user} on {self.host} (pid {self.pid}, since {stamp})"

    @classmethod
    def read(cls, data: bytes) -> Holder | None:
        try:
            fields = json.loads(data.decode("utf-8"))
            return cls(str(fields["user"]), str(fields["host"]), int(fields["pid"]), float(fields["since"]))
        except (UnicodeDecodeError, ValueError, KeyError, TypeError):
            return None


class DriverLock:
    """The driver's hold on the incident; :meth:`try_take` gets one or says who has it."""

    def __init__(self, path: Path, fd: int, holder: Holder):
        self.path = path
        self._fd: int | None = fd
        self.holder = holder

    @classmethod
    def try_take(cls, journal: Path, user: str, *, group: str | None = None) -> DriverLock | Holder | None:
        """The lock, if no one holds it; else who holds it (None: someone whose name cannot be read).
        ``group``: the lock is shared with it (0660), as the journal is, so its followers can take it."""
        path = lock_path(journal)
        fd = open_private(path, os.O_RDWR, group, "the driver lock")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            data = os.pread(fd, 4096, 0)
            os.close(fd)
            return Holder.read(data)
        holder = Holder(user, socket.gethostname(), os.getpid(), time.time())
        data = json.dumps(holder.__dict__).encode() + b"\n"
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        os.fsync(fd)
        return cls(path, fd, holder)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Let go: the file stays, naming the last driver; the lock is what counts."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def current_holder(journal: Path) -> Holder | None:
    """Who holds the lock now; None when no one does (the last driver is gone)."""
    path = lock_path(journal)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise JournalError(f"cannot read the driver lock {path}: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return Holder.read(os.pread(fd, 4096, 0)) or Holder("someone", "?", 0, 0.0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def last_holder(journal: Path) -> Holder | None:
    """What the lock file says, held or not: the driver that was, after it is gone."""
    try:
        return Holder.read(lock_path(journal).read_bytes())
    except OSError:
        return None


@dataclass
class Seat:
    """What a front end got of an incident's journal: the wheel (its lock and the journal open to
    write), or the name of who has it."""

    path: Path
    point: ResumePoint | None  # the unfinished run the journal holds (offered only to a driver)
    journal: Journal | None = None
    lock: DriverLock | None = None
    driver: Holder | None = None  # who drives, when this front end follows

    @property
    def driving(self) -> bool:
        return self.lock is not None


def take_seat(explicit: str | os.PathLike[str] | None, argv: Iterable[str], *, operator: str | None = None,
              inventory: str | os.PathLike[str] | None = None, group: str | None = None) -> Seat:
    """The incident journal (``explicit``, or the one holding an unfinished run, or a new one), as its
    driver when no one else drives it: the lock taken, then the journal opened; else as a follower."""
    path, point = incident_journal_path(explicit)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    who = operator or operator_name()
    taken = DriverLock.try_take(path, who, group=group)
    if not isinstance(taken, DriverLock):
        return Seat(path, point, driver=taken or Holder("someone", "?", 0, 0.0))
    try:
        journal = Journal.open(path, operator=who, argv=argv, inventory=inventory, role="driver", group=group)
    except JournalError:
        taken.release()
        raise
    return Seat(path, point, journal, taken)
