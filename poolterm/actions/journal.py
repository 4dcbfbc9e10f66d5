"""The incident journal: every verdict change, command and playbook step, as it happens.

JSON Lines, append-only; what each kind of line holds is a type in
:mod:`poolterm.actions.records`. Each record is written with one ``os.write`` on a file
opened ``O_APPEND`` (no user-space buffer, so a ``kill -9`` loses nothing
already written) and fsynced, so a crash of the machine loses nothing either.
Output lines of a streaming command are written one by one as they arrive and
fsynced at most every :data:`OUTPUT_SYNC_INTERVAL` (a chatty ``xe host-list``
would otherwise cost one disk flush per line); the command's end record is
always fsynced.

The reader tolerates a torn last line (the writer was killed mid-write) and
reopening for append first ends that line, so the journal stays parseable.
Nothing secret is written: parameters that look like passwords are redacted,
and poolterm never runs a command that prints the pool secret.

One journal per incident: by default a new file in
``platformdirs.user_state_dir("poolterm")/journal``; a run that finds an
interrupted playbook in a recent journal continues that journal
(:func:`open_incident_journal`, for every front end).
"""

from __future__ import annotations

import getpass
import json
import os
import re
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import platformdirs

from poolterm.actions.records import (
    CommandEnd,
    CommandStart,
    ManualAnswer,
    OutputLine,
    PlaybookEnd,
    PlaybookStart,
    Record,
    Session,
    StepStatus,
    entries,
    run_of,
)
from poolterm.errors import JournalError

VERSION = 1
OUTPUT_SYNC_INTERVAL = 0.25  # seconds between fsyncs of streamed output lines
#: How many of the newest journals are searched for an interrupted playbook, and how old they may be:
#: an incident is recent; a run abandoned weeks ago must not stand in the way of today's.
RESUME_SEARCH = 20
RESUME_MAX_AGE = 24 * 3600.0
#: A password parameter and its value: one shell word, quotes included (`shlex.quote` of a
#: password with blanks or quotes is several quoted pieces, all of which must go).
_WORD = r"""(?:'[^']*'|"(?:[^"\\]|\\.)*"|\\.|[^\s'"\\])+"""
_SECRET = re.compile(rf"(?i)(\b[\w-]*pass(?:word)?[\w-]*=)({_WORD})|((?:^|\s)-pw\s+)({_WORD})")
#: Fields whose text may come from an operator or a host, redacted before writing.
_TEXT_FIELDS = ("command", "remote", "line", "text")


def default_dir() -> Path:
    return Path(platformdirs.user_state_dir("poolterm")) / "journal"


def new_path(directory: Path | None = None) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return (directory or default_dir()) / f"incident-{stamp}-{os.getpid()}.jsonl"


def journals(directory: Path | None = None) -> list[Path]:
    """The journals in ``directory``, newest first."""
    folder = directory or default_dir()
    try:
        found = [p for p in folder.glob("*.jsonl") if p.is_file()]
    except OSError:
        return []
    return sorted(found, key=lambda p: (p.stat().st_mtime, p.name), reverse=True)


def operator_name() -> str:
    """Who is at the keyboard: the sudo caller if any, else the login name."""
    for variable in ("SUDO_USER", "USER", "LOGNAME"):
        name = os.environ.get(variable)
        if name:
            return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def redact(text: str) -> str:
    """Hide anything that looks like a password parameter (``master-password=...``, ``-pw ...``)."""

    def hide(match: re.Match[str]) -> str:
        return (match.group(1) or match.group(3)) + "<redacted>"

    return _SECRET.sub(hide, text)


def now_iso(epoch: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if epoch is None else epoch, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Journal:
    """An open journal. Every :meth:`write` is on disk when it returns."""

    def __init__(self, path: Path, fd: int, operator: str):
        self.path = path
        self.operator = operator
        self.session = uuid.uuid4().hex[:8]
        self._fd = fd
        self._seq = 0
        self._commands = 0
        self._last_sync = 0.0

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, operator: str | None = None,
             argv: Iterable[str] = ()) -> "Journal":
        path = Path(path).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise JournalError(f"cannot open journal {path}: {exc.strerror or exc}") from None
        journal = cls(path, fd, operator or operator_name())
        journal._end_torn_line()
        journal.write(Session(operator=journal.operator, jump_host=socket.gethostname(), pid=os.getpid(),
                              argv=[redact(a) for a in argv], version=VERSION))
        return journal

    def _end_torn_line(self) -> None:
        """A writer killed mid-line left a fragment: end it, so the next record starts on its own line."""
        size = os.fstat(self._fd).st_size
        if size == 0:
            return
        with open(self.path, "rb") as f:
            f.seek(size - 1)
            last = f.read(1)
        if last != b"\n":
            os.write(self._fd, b"\n")

    def command_id(self) -> str:
        self._commands += 1
        return f"{self.session}-{self._commands}"

    def write(self, record: Record | str, /, **fields: Any) -> dict:
        """Append one record and make it durable; returns the line written, as a dict.

        ``record`` is a typed record, or a kind with its fields as keywords: the form from
        before the records had types, which can write a line with only some of its fields
        (the journal tests build cut-down runs that way)."""
        if isinstance(record, Record):
            if fields:
                raise TypeError("a typed record carries its own fields")
            kind, fields = record.KIND, record.to_fields()
        else:
            kind = record
        self._seq += 1
        epoch = time.time()
        written = {"at": now_iso(epoch), "t": round(epoch, 3), "kind": kind, "session": self.session,
                   "seq": self._seq}
        for key, value in fields.items():
            written[key] = redact(value) if key in _TEXT_FIELDS and isinstance(value, str) else value
        line = json.dumps(written, ensure_ascii=False, separators=(",", ":"), default=str) + "\n"
        try:
            os.write(self._fd, line.encode("utf-8"))
            monotonic = time.monotonic()
            if kind != OutputLine.KIND or monotonic - self._last_sync >= OUTPUT_SYNC_INTERVAL:
                os.fsync(self._fd)
                self._last_sync = monotonic
        except OSError as exc:
            raise JournalError(f"cannot write journal {self.path}: {exc.strerror or exc}") from None
        return written

    def close(self) -> None:
        if self._fd < 0:
            return
        try:
            os.fsync(self._fd)
        finally:
            os.close(self._fd)
            self._fd = -1


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class JournalFile:
    path: Path
    records: list[dict]
    torn: bool  # the last line was cut off mid-write (the writer died)
    bad_lines: int  # lines that are not JSON records (a torn line later ended by a reopen)


def read_journal(path: str | os.PathLike[str]) -> JournalFile:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise JournalError(f"cannot read journal {path}: {exc.strerror or exc}") from None
    lines = data.split(b"\n")
    tail = lines.pop()  # after the last newline: empty, or a line torn mid-write
    records, bad = [], 0
    for raw in lines:
        record = _parse(raw)
        if record is None:
            bad += 1 if raw.strip() else 0
        else:
            records.append(record)
    torn = bool(tail.strip())
    if torn:
        record = _parse(tail)  # a complete record whose newline did not make it
        if record is not None:
            records.append(record)
            torn = False
    return JournalFile(path, records, torn, bad)


def _parse(raw: bytes) -> dict | None:
    try:
        record = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) and "kind" in record else None


# --------------------------------------------------------------------------- resuming


@dataclass(frozen=True)
class ResumePoint:
    """A playbook run that started and never ended: where it got to."""

    path: Path
    run: str
    playbook: str
    pool: str
    bindings: dict
    operator: str
    started: str
    completed: tuple[str, ...]  # step ids done or skipped, in order
    last_completed: dict | None  # {"index", "step", "title"} of the last one
    acted: str | None  # the step whose command succeeded (or manual step confirmed) but was not yet verified
    powered_off: tuple[str, ...] = field(default_factory=tuple)
    state: str = "interrupted"  # interrupted (poolterm died) | stopped (it stopped at a step, resumable)
    reason: str = ""  # why it stopped


def interrupted_run(records: list[dict], path: Path) -> ResumePoint | None:
    """The last playbook run in ``records`` that can be resumed: it never ended, or it stopped at a step.

    A run that stopped (an expectation not seen, a refusal, the operator's "stop") is
    resumable: the step it stopped at was never completed. Done, already healthy,
    not applicable and abandoned runs are final.
    """
    lines = entries(records)
    starts = {e.record.run: (e.at, e.record) for e in lines
              if isinstance(e.record, PlaybookStart) and e.record.run is not None}
    ends = {e.record.run: e.record for e in lines if isinstance(e.record, PlaybookEnd)}
    open_runs = [run for run in starts if run not in ends or ends[run].outcome == "stopped"]
    if not open_runs:
        return None
    run = open_runs[-1]
    (started, start), end = starts[run], ends.get(run)
    progress = _RunProgress()
    for e in lines:
        if run_of(e.record) == run:
            progress.read(e.record)
    # A run that stopped did so because the effect was not seen (or was refused): do the step again.
    acted = None if end is not None else progress.acted
    return ResumePoint(path, run, start.playbook or "", start.pool or "", dict(start.bindings or {}),
                       start.operator or "", started or "", tuple(progress.completed), progress.last, acted,
                       tuple(sorted(progress.powered_off)), "stopped" if end else "interrupted",
                       (end.reason or "") if end else "")


@dataclass
class _RunProgress:
    """How far one run got, read record by record in journal order."""

    completed: list[str] = field(default_factory=list)  # step ids done or skipped, in order
    last: dict | None = None  # {"index", "step", "title"} of the last one
    current: str | None = None  # the step under way
    acted: str | None = None  # the step whose action was taken, its effect not yet seen
    commands: dict[str, str | None] = field(default_factory=dict)  # command id -> the step that sent it
    powered_off: set[str] = field(default_factory=set)

    def read(self, record: Record) -> None:
        if isinstance(record, StepStatus):
            self._step(record)
        elif isinstance(record, CommandStart) and record.step == self.current and not record.query:
            self.commands[record.id] = self.current  # a fact query takes no action: it never counts
        elif isinstance(record, CommandEnd) and self.current is not None \
                and self.commands.get(record.id) == self.current:
            self.acted = self.current if record.exit_status == 0 and not record.error else None
        elif isinstance(record, ManualAnswer):
            self.powered_off.update(record.powered_off or ())
            if record.step == self.current:
                self.acted = self.current if record.answer == "done" else None

    def _step(self, record: StepStatus) -> None:
        if record.status in ("done", "skipped"):
            if record.step not in self.completed:
                self.completed.append(record.step)
            self.last = {"index": record.index, "step": record.step,
                         "title": record.title if record.title is not None else ""}
            self.current, self.acted = None, None
        elif record.status in ("started", "resumed"):
            # A resumed step keeps what was done before the interruption; a started one begins afresh.
            self.current, self.acted = record.step, (self.acted if record.status == "resumed" else None)


def find_interrupted(directory: Path | None = None, *, max_age: float = RESUME_MAX_AGE) -> ResumePoint | None:
    """The newest interrupted playbook run among the recent journals of ``directory``."""
    oldest = time.time() - max_age
    for path in journals(directory)[:RESUME_SEARCH]:
        try:
            if path.stat().st_mtime < oldest:
                break
        except OSError:
            continue
        try:
            contents = read_journal(path)
        except JournalError:
            continue
        point = interrupted_run(contents.records, path)
        if point is not None:
            return point
    return None


def open_incident_journal(explicit: str | os.PathLike[str] | None,
                          argv: Iterable[str] = ()) -> tuple[Journal, ResumePoint | None]:
    """The journal a front end appends to, and the unfinished playbook run in it (None if there is none).

    ``explicit`` (``--journal PATH``) is used as given, and its unfinished run offered if it holds
    one; without it, the recent journal holding an unfinished run is continued (one incident, one
    journal), else a new one is started. ``argv`` goes into the session record, redacted.
    Raises :class:`JournalError` when the journal cannot be read or opened.
    """
    if explicit:
        path = Path(explicit).expanduser()
        point = interrupted_run(read_journal(path).records, path) if path.exists() else None
    else:
        point = find_interrupted()
        path = point.path if point else new_path()
    return Journal.open(path, argv=argv), point
