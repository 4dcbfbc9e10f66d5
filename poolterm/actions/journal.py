"""The incident journal: every verdict change, command and playbook step, as it happens.

JSON Lines, append-only. Each record is written with one ``os.write`` on a file
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
interrupted playbook in a recent journal continues that journal.
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
        journal.write("session", operator=journal.operator, jump_host=socket.gethostname(), pid=os.getpid(),
                      argv=[redact(a) for a in argv], version=VERSION)
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

    def write(self, kind: str, **fields: Any) -> dict:
        """Append one record and make it durable; returns the record."""
        self._seq += 1
        epoch = time.time()
        record = {"at": now_iso(epoch), "t": round(epoch, 3), "kind": kind, "session": self.session,
                  "seq": self._seq}
        for key, value in fields.items():
            record[key] = redact(value) if key in _TEXT_FIELDS and isinstance(value, str) else value
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str) + "\n"
        try:
            os.write(self._fd, line.encode("utf-8"))
            monotonic = time.monotonic()
            if kind != "output" or monotonic - self._last_sync >= OUTPUT_SYNC_INTERVAL:
                os.fsync(self._fd)
                self._last_sync = monotonic
        except OSError as exc:
            raise JournalError(f"cannot write journal {self.path}: {exc.strerror or exc}") from None
        return record

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
    starts = {r["run"]: r for r in records if r.get("kind") == "playbook-start" and "run" in r}
    ends = {r.get("run"): r for r in records if r.get("kind") == "playbook-end"}
    open_runs = [run for run in starts if run not in ends or ends[run].get("outcome") == "stopped"]
    if not open_runs:
        return None
    run = open_runs[-1]
    start = starts[run]
    mine = [r for r in records if r.get("run") == run]
    completed: list[str] = []
    last: dict | None = None
    current: str | None = None
    acted: str | None = None
    commands: dict[str, str] = {}
    powered_off: set[str] = set()
    for r in mine:
        kind = r.get("kind")
        if kind == "step" and r.get("status") in ("done", "skipped"):
            if r["step"] not in completed:
                completed.append(r["step"])
            last = {"index": r.get("index"), "step": r["step"], "title": r.get("title", "")}
            current, acted = None, None
        elif kind == "step" and r.get("status") in ("started", "resumed"):
            current, acted = r["step"], (acted if r.get("status") == "resumed" else None)
        elif kind == "command-start" and r.get("step") == current and not r.get("query"):
            commands[r["id"]] = current
        elif kind == "command-end" and commands.get(r.get("id", "")) == current and current is not None:
            acted = current if r.get("exit_status") == 0 and not r.get("error") else None
        elif kind == "manual":
            powered_off.update(r.get("powered_off") or ())
            if r.get("step") == current:
                acted = current if r.get("answer") == "done" else None
    end = ends.get(run)
    if end is not None:
        acted = None  # it stopped because the effect was not seen (or was refused): do the step again
    return ResumePoint(path, run, start.get("playbook", ""), start.get("pool", ""), dict(start.get("bindings") or {}),
                       start.get("operator", ""), start.get("at", ""), tuple(completed), last, acted,
                       tuple(sorted(powered_off)), "stopped" if end else "interrupted",
                       (end or {}).get("reason", ""))


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
