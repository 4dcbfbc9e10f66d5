"""The incident journal: every verdict change, command and playbook step, as it happens.

JSON Lines, append-only; what each kind of line holds is a type in
:mod:`poolterm.actions.records`. Each record is written with one ``os.write`` on a file
opened ``O_APPEND`` (no user-space buffer, so a ``kill -9`` loses nothing
already written) and fsynced, so a crash of the machine loses nothing either.
Output lines of a streaming command are written one by one as they arrive and
fsynced at most every :data:`OUTPUT_SYNC_INTERVAL` (a chatty ``xe host-list``
would otherwise cost one disk flush per line); the command's end record is
always fsynced. A write the kernel cuts short is finished from where it stopped.

A disk that fills mid-incident does not stop the front end: a record that cannot be
written waits in memory, in order, the journal says it is failing, and the records are
written once they can be (see :class:`Journal`).

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
import grp
import json
import os
import re
import socket
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import platformdirs

from poolterm.actions.records import (
    CommandEnd,
    CommandStart,
    JournalGap,
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
from poolterm.untrusted import escape
from poolterm.xe import masked_words

VERSION = 1
OUTPUT_SYNC_INTERVAL = 0.25  # seconds between fsyncs of streamed output lines
#: While the journal cannot be written (a full disk), records wait in memory, oldest first, up to
#: this many records and bytes; beyond that the newest are counted and dropped, and a
#: ``journal-gap`` record says so once writing works again. Front ends retry every
#: :data:`RETRY_INTERVAL` seconds; every write retries too.
HELD_RECORDS = 10_000
HELD_BYTES = 16 * 1024 * 1024
RETRY_INTERVAL = 2.0
#: How many of the newest journals are searched for an interrupted playbook, and how old they may be:
#: an incident is recent; a run abandoned weeks ago must not stand in the way of today's.
RESUME_SEARCH = 20
RESUME_MAX_AGE = 24 * 3600.0
#: A password parameter and its value: one shell word, quotes included (`shlex.quote` of a
#: password with blanks or quotes is several quoted pieces, all of which must go; a quote
#: never closed hides the rest of the text). A backtick before a blank or the end closes a quoted
#: command (`xe ... password=<redacted>` in a refusal's reason) and is kept.
_WORD = r"""(?:'[^']*+(?:'|\Z)|"(?:[^"\\]|\\(?:.|\Z))*+(?:"|\Z)|\\(?:.|\Z)|`(?=\S)|[^\s'"\\`])++"""
#: Linear in the text, whatever it holds: a name is tried only where a run of name characters
#: starts (the look-behind), is scanned once for `pass` and once to its end (`++` gives nothing
#: back), and the value's pieces start with different characters, so nothing is ever retried.
#: (The pattern before it, `\b[\w-]*pass...`, retried every suffix of a run: 20 KB of `a-a-…`
#: took seconds.) The names: any parameter holding `pass` (master-password=, passwordfile=, ...).
_SECRET = re.compile(rf"(?is)((?<![\w-])(?=[\w-]*?pass)[\w-]++=|(?:^|(?<=\s))-pw\s++)({_WORD})")
#: Fields that hold a command or text an operator typed, redacted before writing. Not a host's
#: output lines (``line``): a password is never sent to be printed back, and scanning every
#: streamed line cost the event loop for nothing.
_TEXT_FIELDS = ("command", "remote", "text", "reason")


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


def open_private(path: Path, flags: int, group: str | None, what: str) -> int:
    """``path`` opened (made if need be) as the opener's alone (0600), or shared with ``group`` (0660:
    followers logged in as other users append notes, and may take the lock); never world-readable.
    ``what`` names the file in the one-line error."""
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise JournalError(f"cannot open {what} {path}: {exc.strerror or exc}") from None
    if group is None:
        return fd
    try:
        os.fchown(fd, -1, grp.getgrnam(group).gr_gid)
        os.fchmod(fd, 0o660)
    except KeyError:
        os.close(fd)
        raise JournalError(f"cannot share {what} {path}: --journal-group {group}: no such group") from None
    except OSError as exc:
        os.close(fd)
        raise JournalError(f"cannot share {what} {path}: {exc.strerror or exc}") from None
    return fd


def redact(text: str) -> str:
    """Hide anything that looks like a password parameter (``master-password=...``, ``-pw ...``)."""
    return _SECRET.sub(r"\1<redacted>", text)


def redact_argv(argv: Iterable[str]) -> list[str]:
    """A command line with its secrets hidden: ``-pw`` and its value are two words, and a word
    may itself be a whole command line."""
    return [redact(word) for word in masked_words(list(argv))]


def now_iso(epoch: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if epoch is None else epoch, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Journal:
    """An open journal. Every :meth:`write` is on disk when it returns, or held in memory and said so.

    A write that fails (a full disk, a file size limit, an I/O error) raises nothing: the
    record waits in memory with the ones after it, in order, :attr:`failing` says why
    and :attr:`pending` how many wait, and :meth:`retry` (called by every write, and by the
    front ends on a timer) writes them once it can. A write the kernel cuts short is
    finished from where it stopped, so no fragment is glued to the next record. Only
    :meth:`open` raises :class:`JournalError`: a journal that cannot even start is
    refused before anything is done.
    """

    def __init__(self, path: Path, fd: int, operator: str):
        self.path = path
        self.operator = operator
        self.session = uuid.uuid4().hex[:8]
        self._fd = fd
        self._seq = 0
        self._commands = 0
        self._last_sync = 0.0
        #: Why the journal cannot be written now (one line), or None while it can.
        self.failing: str | None = None
        #: Called with the journal when :attr:`failing` goes from None to a reason, and back.
        self.on_change: Callable[[Journal], None] | None = None
        self._held: deque[bytes] = deque()  # encoded lines not yet (wholly) written, oldest first
        self._held_bytes = 0
        self._offset = 0  # bytes of the oldest held line already in the file (a write cut short)
        self._unsynced = False  # written, but an fsync is owed
        self._dropped: list[int] = []  # seq of the records dropped beyond the memory cap
        self._last_error = ""

    @property
    def pending(self) -> int:
        """Records held in memory, not yet (wholly) in the file."""
        return len(self._held)

    @property
    def dropped(self) -> int:
        """Records dropped beyond the memory cap since the journal last caught up."""
        return len(self._dropped)

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, operator: str | None = None,
             argv: Iterable[str] = (), inventory: str | os.PathLike[str] | None = None,
             role: str | None = None, group: str | None = None, announce: bool = True) -> "Journal":
        """Open ``path`` to append, and say who opened it (a ``session`` record naming the inventory it
        probes and its ``role``). ``group``: the file is shared with that group (0660), for followers
        logged in as other users; otherwise it is the opener's alone (0600). Never world-readable.
        ``announce`` False writes no session record: a follower's journal, that only ever writes notes."""
        path = Path(path).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise JournalError(f"cannot open journal {path}: {exc.strerror or exc}") from None
        fd = open_private(path, os.O_WRONLY | os.O_APPEND, group, "journal")
        journal = cls(path, fd, operator or operator_name())
        try:
            journal._end_torn_line()
        except OSError as exc:
            journal.failing = journal._error(exc)
        if journal.failing is None and announce:
            journal.write(Session(operator=journal.operator, jump_host=socket.gethostname(), pid=os.getpid(),
                                  argv=redact_argv(argv), version=VERSION,
                                  inventory=str(Path(inventory).absolute()) if inventory else None, role=role))
        if journal.failing is not None:  # not one line can be written: refuse it now, not mid-incident
            os.close(fd)
            raise JournalError(journal.failing)
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

        Never raises for the file: a record that cannot be written is held in memory
        (:attr:`failing`, :attr:`pending`) and written, in order, once it can be.

        ``record`` is a typed record, or a kind with its fields as keywords: the form from
        before the records had types, which can write a line with only some of its fields
        (the journal tests build cut-down runs that way)."""
        if isinstance(record, Record):
            if fields:
                raise TypeError("a typed record carries its own fields")
            kind, fields = record.KIND, record.to_fields()
        else:
            kind = record
        if self.failing is not None:
            self.retry()  # what is held goes first: the file keeps the order the records were made in
        self._seq += 1
        epoch = time.time()
        written = {"at": now_iso(epoch), "t": round(epoch, 3), "kind": kind, "session": self.session,
                   "seq": self._seq}
        for key, value in fields.items():
            written[key] = redact(value) if key in _TEXT_FIELDS and isinstance(value, str) else value
        line = json.dumps(written, ensure_ascii=False, separators=(",", ":"), default=str) + "\n"
        self._put(line.encode("utf-8"), sync=kind != OutputLine.KIND)
        return written

    def retry(self) -> bool:
        """Write what is held, in order, and fsync; True when nothing is held any more."""
        if self.failing is None:
            return True
        if not self._drain(sync=True):
            return False
        lost, self._dropped = self._dropped, []
        self._changed(None)
        if lost:
            self.write(JournalGap(lost=len(lost), seqs=_ranges(lost),
                                  reason=f"{self._last_error}; the memory that holds its records meanwhile was full"))
        return self.failing is None

    def _put(self, data: bytes, *, sync: bool) -> None:
        self._hold(data)
        # While failing, the retry before this record failed: it waits behind the others.
        if self.failing is None and not self._drain(sync=sync):
            self._changed(self._last_error)

    def _hold(self, data: bytes) -> None:
        if self._held and (len(self._held) >= HELD_RECORDS or self._held_bytes + len(data) > HELD_BYTES):
            self._dropped.append(self._seq)
            return
        self._held.append(data)
        self._held_bytes += len(data)

    def _drain(self, *, sync: bool) -> bool:
        """Write every held line, finishing a line cut short first; fsync when due. False on failure."""
        try:
            while self._held:
                data = self._held[0]
                while self._offset < len(data):  # os.write may write less than asked: loop
                    self._offset += os.write(self._fd, memoryview(data)[self._offset:])
                    self._unsynced = True
                self._held.popleft()
                self._held_bytes -= len(data)
                self._offset = 0
            monotonic = time.monotonic()
            if self._unsynced and (sync or monotonic - self._last_sync >= OUTPUT_SYNC_INTERVAL):
                os.fsync(self._fd)
                self._unsynced = False
                self._last_sync = monotonic
        except OSError as exc:
            self._last_error = self._error(exc)
            return False
        return True

    def _error(self, exc: OSError) -> str:
        if self._fd < 0:
            return f"cannot write journal {self.path}: it is closed"
        return f"cannot write journal {self.path}: {exc.strerror or exc}"

    def _changed(self, failing: str | None) -> None:
        was, self.failing = self.failing, failing
        if (was is None) != (failing is None) and self.on_change is not None:
            self.on_change(self)

    def loss(self) -> str:
        """What was never written (held, or dropped beyond the memory cap), in one line; "" if nothing.

        After :meth:`close`, what a front end tells the operator was lost."""
        lost = len(self._held) + len(self._dropped)
        if not lost:
            return ""
        return f"{lost} journal record{'s' if lost != 1 else ''} could not be written to {self.path} and " \
               f"{'are' if lost != 1 else 'is'} lost ({self.failing or self._last_error})"

    def close(self) -> None:
        """Write what is held if it can, fsync and close; what still cannot be written is left
        in :attr:`pending` and :meth:`loss` for the front end to report. Never raises."""
        if self._fd < 0:
            return
        self.retry()
        try:
            if self._unsynced:
                os.fsync(self._fd)
                self._unsynced = False
        except OSError as exc:
            self._last_error = self._error(exc)
            self._changed(self._last_error)
        finally:
            os.close(self._fd)
            self._fd = -1


def _ranges(numbers: list[int]) -> list[list[int]]:
    """``[7, 8, 9, 12]`` as ``[[7, 9], [12, 12]]``."""
    ranges: list[list[int]] = []
    for n in numbers:
        if ranges and ranges[-1][1] == n - 1:
            ranges[-1][1] = n
        else:
            ranges.append([n, n])
    return ranges


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
        record = parse_line(raw)
        if record is None:
            bad += 1 if raw.strip() else 0
        else:
            records.append(record)
    torn = bool(tail.strip())
    if torn:
        record = parse_line(tail)  # a complete record whose newline did not make it
        if record is not None:
            records.append(record)
            torn = False
    return JournalFile(path, records, torn, bad)


def parse_line(raw: bytes) -> dict | None:
    """One journal line as a record (its strings escaped), or None when it is not one."""
    try:
        record = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return _escaped(record) if isinstance(record, dict) and "kind" in record else None


def _escaped(value: object) -> object:
    """A record read back, every string in it escaped: a journal written by an older poolterm
    (or edited by hand) may hold a host's raw bytes, and reports print what it holds."""
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, list):
        return [_escaped(item) for item in value]
    if isinstance(value, dict):
        return {escape(key): _escaped(item) for key, item in value.items()}
    return value


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


def incident_journal_path(explicit: str | os.PathLike[str] | None) -> tuple[Path, ResumePoint | None]:
    """The journal a front end appends to, and the unfinished playbook run in it (None if there is none).

    ``explicit`` (``--journal PATH``) is used as given, and its unfinished run offered if it holds
    one; without it, the recent journal holding an unfinished run is continued (one incident, one
    journal), else a new one is started. Raises :class:`JournalError` when a journal cannot be read.
    """
    if explicit:
        path = Path(explicit).expanduser()
        return path, interrupted_run(read_journal(path).records, path) if path.exists() else None
    point = find_interrupted()
    return (point.path if point else new_path()), point


def open_incident_journal(explicit: str | os.PathLike[str] | None,
                          argv: Iterable[str] = ()) -> tuple[Journal, ResumePoint | None]:
    """:func:`incident_journal_path`, opened (``argv`` goes into the session record, redacted)."""
    path, point = incident_journal_path(explicit)
    return Journal.open(path, argv=argv), point
