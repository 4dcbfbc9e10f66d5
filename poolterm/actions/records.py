"""The journal's records, one type per kind: what each line of the journal can say.

A writer builds a record and hands it to :meth:`poolterm.actions.journal.Journal.write`,
which adds the envelope (``at``, ``t``, ``kind``, ``session``, ``seq``), redacts
secrets and appends the line. Read back, a line becomes an :class:`Entry`: the
envelope and the typed record, parsed once.

The order of a class's fields is the order of the keys in the JSON line; a new
field goes where the line should show it. Journals of older versions, and lines
cut short, are read too: a key a line lacks reads as None, a key no field names
is ignored, and a kind no class names becomes :class:`Unknown`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Iterable, Mapping, Self

from poolterm.diagnosis.drill import SCORE_RECORD, START_RECORD


class Record:
    """One kind of journal record (every subclass is a frozen dataclass)."""

    KIND: ClassVar[str]
    #: Fields left out of the line when None. A command's context (its run, step, query, or
    #: the console as its source) is written only where it applies, as it always was.
    OMITTED_WHEN_NONE: ClassVar[frozenset[str]] = frozenset()

    def to_fields(self) -> dict[str, Any]:
        """The line's fields after the envelope, in the line's order."""
        values = ((f.name, getattr(self, f.name)) for f in dataclasses.fields(self))  # type: ignore[arg-type]
        return {name: value for name, value in values if value is not None or name not in self.OMITTED_WHEN_NONE}

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Self:
        """The record of a parsed line: missing keys read as None, keys of no field are ignored."""
        return cls(**{f.name: fields.get(f.name) for f in dataclasses.fields(cls)})  # type: ignore[arg-type]


#: The fields a command's records carry besides their own, in :attr:`Record.OMITTED_WHEN_NONE`.
COMMAND_CONTEXT = frozenset({"run", "step", "index", "query", "source"})

#: Every kind: immutable, and built with named fields only (a line is read by name, and so is a writer).
_record = dataclass(frozen=True, kw_only=True)


# --------------------------------------------------------------------------- who, where, what was seen


@_record
class Session(Record):
    """A poolterm process opened the journal."""

    KIND = "session"
    OMITTED_WHEN_NONE = frozenset({"inventory", "role"})
    operator: str
    jump_host: str
    pid: int
    argv: list[str]  # redacted
    version: int
    inventory: str | None = None  # the hosts.yaml it probes: what `poolterm follow` probes too
    role: str | None = None  # driver | follower (a follower's session opens only to write notes)


@_record
class PoolVerdict(Record):
    """The verdict on a pool changed."""

    KIND = "verdict"
    pool: str
    verdict: str
    severity: str
    master: str | None
    summary: str


# --------------------------------------------------------------------------- a playbook run


@_record
class PlaybookStart(Record):
    KIND = "playbook-start"
    run: str
    playbook: str
    pool: str
    target: str | None
    bindings: dict  # binding name -> host name, or a list of them
    operator: str
    verdict: str


@_record
class PlaybookResume(Record):
    KIND = "playbook-resume"
    run: str
    playbook: str
    pool: str
    index: int
    step: str | None  # None: every step was completed, only the goal is checked
    acted: bool
    operator: str


@_record
class StepStatus(Record):
    """A step started, was skipped, done or resumed, or a fact was learned (``status`` fact)."""

    KIND = "step"
    run: str
    index: int
    step: str
    title: str
    status: str  # started | skipped | done | resumed | fact
    detail: str
    host: str | None


@_record
class ManualAsk(Record):
    KIND = "manual-ask"
    run: str
    step: str
    index: int
    text: str


@_record
class ManualAnswer(Record):
    KIND = "manual"
    run: str
    step: str
    index: int
    answer: str  # done | stop
    operator: str
    powered_off: list[str]  # the hosts the operator says are off now


@_record
class PlaybookEnd(Record):
    KIND = "playbook-end"
    run: str
    outcome: str  # done | healthy | incomplete | stopped | not-applicable | abandoned
    reason: str
    advice: str
    index: int | None


# --------------------------------------------------------------------------- a command (the gate's records)


@_record
class Confirmation(Record):
    KIND = "confirm"
    OMITTED_WHEN_NONE = COMMAND_CONTEXT
    host: str
    command: str
    text: str
    answer: bool
    by: str  # operator | --yes
    operator: str
    run: str | None = None
    step: str | None = None
    index: int | None = None
    query: str | None = None
    source: str | None = None


@_record
class Refusal(Record):
    """A guard (or the console itself, rule ``console``) refused a command."""

    KIND = "refused"
    OMITTED_WHEN_NONE = COMMAND_CONTEXT | {"instead", "protects"}
    host: str
    command: str
    rule: str
    reason: str
    instead: str | None = None
    protects: str | None = None  # the host the rule protects: the name an override must type
    operator: str
    run: str | None = None
    step: str | None = None
    index: int | None = None
    query: str | None = None
    source: str | None = None


@_record
class Override(Record):
    KIND = "override"
    OMITTED_WHEN_NONE = COMMAND_CONTEXT
    host: str
    command: str
    rule: str
    typed: str
    reason: str
    accepted: bool
    operator: str
    run: str | None = None
    step: str | None = None
    index: int | None = None
    query: str | None = None
    source: str | None = None


@_record
class CommandStart(Record):
    KIND = "command-start"
    OMITTED_WHEN_NONE = COMMAND_CONTEXT
    id: str
    host: str
    command: str
    remote: str
    changes_pool: bool
    operator: str
    run: str | None = None
    step: str | None = None
    index: int | None = None
    query: str | None = None  # the fact a read-only query of a step establishes
    source: str | None = None


@_record
class OutputLine(Record):
    KIND = "output"
    id: str
    stream: str
    line: str


@_record
class CommandEnd(Record):
    KIND = "command-end"
    OMITTED_WHEN_NONE = COMMAND_CONTEXT
    id: str
    host: str
    exit_status: int | None
    deadline_hit: bool
    error: str
    seconds: float | None  # None: cancelled before it ended
    run: str | None = None
    step: str | None = None
    index: int | None = None
    query: str | None = None
    source: str | None = None


# --------------------------------------------------------------------------- two operators


@_record
class Note(Record):
    """A one-line note between the people on an incident, driver or follower. ``takeover``: a
    follower taking the wheel from a live driver names that driver's user here, its reason in
    ``text``; the driver's console lets go when it reads it."""

    KIND = "note"
    OMITTED_WHEN_NONE = frozenset({"takeover"})
    operator: str
    role: str  # driver | follower
    text: str
    takeover: str | None = None


@_record
class Wheel(Record):
    """Who drives changed: ``took`` (the lock was free: the driver had gone or let go), ``passed``
    (the driver let go for anyone to take), ``released`` (the driver let go to a follower's takeover)."""

    KIND = "wheel"
    event: str
    operator: str
    jump_host: str
    pid: int
    reason: str
    previous: str | None  # the driver before, as the lock named them


# --------------------------------------------------------------------------- trust


@_record
class HostKeyDecision(Record):
    """An operator's decision on a host key known_hosts did not vouch for, with both fingerprints
    (as ``ssh-keygen -lf`` shows them): the key offered, and those recorded before (none: new)."""

    KIND = "host-key"
    host: str
    known_as: str  # the host as known_hosts names it: ``address`` or ``[address]:port``
    was: str  # "new" or "changed"
    offered: str
    recorded: list
    trusted: bool
    known_hosts: str
    operator: str


# --------------------------------------------------------------------------- drills


@_record
class DrillStart(Record):
    KIND = START_RECORD
    drill: str
    operator: str


@_record
class DrillScored(Record):
    """The score of a drill: the fields of :class:`poolterm.diagnosis.drill.Score`."""

    KIND = SCORE_RECORD
    operator: str
    drill: str
    outcome: str
    seconds: float | None
    elapsed: float
    refusals: int
    overrides: int
    skipped: int
    commands: int
    changes: int
    promotions: int = 0  # absent from journals written before issue #12


@_record
class JournalGap(Record):
    """Records the journal could not keep: its file could not be written and the memory that held
    them meanwhile was full. ``seqs``: the lost sequence numbers, as ``[first, last]`` ranges."""

    KIND = "journal-gap"
    lost: int
    seqs: list
    reason: str


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Unknown(Record):
    """A line of a kind this version does not know (a newer poolterm wrote it), kept whole to be read.

    It has no ``KIND``, so it cannot be written: a writer always knows its kind."""

    fields: dict[str, Any]


KINDS: dict[str, type[Record]] = {cls.KIND: cls for cls in (
    Session, PoolVerdict, PlaybookStart, PlaybookResume, StepStatus, ManualAsk, ManualAnswer, PlaybookEnd,
    Confirmation, Refusal, Override, CommandStart, OutputLine, CommandEnd, Note, Wheel, HostKeyDecision, DrillStart,
    DrillScored, JournalGap)}


@dataclass(frozen=True)
class Entry:
    """One line of a journal as read back: the envelope the journal wrote, and the record."""

    kind: str
    at: str
    t: float
    session: str | None
    seq: int | None
    record: Record


def entry(line: Mapping[str, Any]) -> Entry:
    """The entry of one parsed line (a JSON object with a ``kind``)."""
    kind = line["kind"]
    cls = KINDS.get(kind) if isinstance(kind, str) else None
    parsed = cls.from_fields(line) if cls is not None else Unknown(dict(line))
    return Entry(kind, line.get("at"), line.get("t"), line.get("session"), line.get("seq"),  # type: ignore[arg-type]
                 parsed)


def entries(lines: Iterable[Mapping[str, Any]]) -> list[Entry]:
    return [entry(line) for line in lines]


def operator_of(record: Record) -> str | None:
    """Who acted, for the kinds that say (sessions, commands, answers, runs started): else None."""
    if isinstance(record, Unknown):
        return record.fields.get("operator")
    return getattr(record, "operator", None)


def run_of(record: Record) -> str | None:
    """The playbook run a record belongs to: its steps, answers, and the commands its steps sent."""
    if isinstance(record, Unknown):
        return record.fields.get("run")
    return getattr(record, "run", None)
