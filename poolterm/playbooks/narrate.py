"""The runner's events in words: one narration per event, for every front end.

Each event is told two ways, because the two media differ: a ``line`` for a log with
a host column and a clock (the console's log pane: the host is not repeated in the
text), and a ``transcript`` for a plain terminal (`poolterm playbook run`: the host
is named in the text, prose is wrapped, a step starts a paragraph). The wording of
both lives here and nowhere else; a front end only prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from poolterm.actions.gate import CommandEnded, CommandOutput, CommandStarted, GuardRefused, Overridden
from poolterm.playbooks.runner import PlaybookFinished, PlaybookStarted, StepEvent, VerdictChanged, Waiting

#: An outcome as a finished run's transcript shouts it.
OUTCOME_LABELS = {"done": "DONE", "healthy": "NOTHING TO DO", "incomplete": "INCOMPLETE", "stopped": "STOPPED",
                  "not-applicable": "NOT APPLICABLE"}


@dataclass(frozen=True)
class Line:
    """One line of a transcript."""

    text: str
    indent: str = ""  # printed before the text; a wrapped line's continuations are indented as deep
    wrap: bool = False  # prose, wrapped to the terminal's width; commands and host names are never wrapped


@dataclass(frozen=True)
class Narration:
    host: str | None  # the host the event is about; None for the run or the pool
    stream: str  # how a log files it: info | cmd | stdout | stderr
    line: str | None  # the log's one line; None: a log shows nothing of this event
    transcript: tuple[Line, ...]  # what a terminal prints, in order; an empty Line is a blank line


BLANK = Line("")


def narrate(event: object) -> Narration | None:
    """The narration of one runner (or command gate) event; None for an event nobody tells."""
    tell = _TELLERS.get(type(event))
    return tell(event) if tell is not None else None


def ended_text(event: CommandEnded) -> str:
    """How a command ended, in a log's words (the log line puts it before the command)."""
    if event.error:
        return f"failed: {event.error}"
    if event.deadline_hit:
        return f"timed out after {event.seconds:g} s"
    return f"exit {event.exit_status}, {event.seconds:g} s"


# --------------------------------------------------------------------------- the run


def _started(e: PlaybookStarted) -> Narration:
    targets = ", ".join(f"{k}={', '.join(v) if isinstance(v, tuple) else v or '-'}" for k, v in e.bindings.items())
    resumed = f", resuming at step {e.resumed_at + 1}" if e.resumed_at is not None else ""
    return Narration(None, "info", None, (
        BLANK, Line(f"playbook {e.playbook.id}: {e.playbook.title} (pool {e.pool}, run {e.run}{resumed})"),
        Line(f"targets: {targets}", "  ")))


def _step(e: StepEvent) -> Narration | None:
    n = e.notice
    head = f"step {n.index + 1}/{e.total}: {n.title}"
    if n.kind == "step-started":
        return Narration(None, "info", head, (BLANK, Line(head), Line(n.detail, "  why: ", wrap=True)))
    if n.kind == "step-skipped":
        text = f"{head}: skipped ({n.detail})"
        return Narration(None, "info", text, (BLANK, Line(text)))
    if n.kind == "step-resumed":
        return Narration(None, "info", f"{head} ({n.detail})", (BLANK, Line(f"{head}: resumed ({n.detail})")))
    if n.kind == "step-done":
        return Narration(None, "info", f"{head}: ok: {n.detail}", (Line(f"ok: {n.detail}", "  "),))
    if n.kind == "fact":
        return Narration(None, "info", None, (Line(f"learned: {n.detail}", "  "),))
    return None


def _finished(e: PlaybookFinished) -> Narration:
    f = e.finished
    label = OUTCOME_LABELS.get(f.outcome, f.outcome.upper())
    advice = (Line(f"next: {f.advice}", wrap=True),) if f.advice else ()
    return Narration(None, "info", f"playbook {e.playbook}: {f.outcome}: {f.reason}",
                     (BLANK, Line(f"{label}: {f.reason}", wrap=True), *advice))


def _waiting(e: Waiting) -> Narration:
    text = f"waiting up to {e.seconds_left:.0f} s for: {e.expect} (now: {e.detail})"
    return Narration(None, "info", None, (Line(text, "  ", wrap=True),))


def _verdict(e: VerdictChanged) -> Narration:
    return Narration(None, "info", None, (Line(f"verdict: {e.verdict.title}: {e.summary}", "  ", wrap=True),))


# --------------------------------------------------------------------------- commands


def _command_started(e: CommandStarted) -> Narration:
    where = f"{e.host} ({e.address})" if e.address else e.host
    change = "" if e.changes_pool else " [read-only]"
    return Narration(e.host, "cmd", e.command, (Line(f"$ on {where}: {e.command}{change}", "  "),))


def _command_output(e: CommandOutput) -> Narration:
    return Narration(e.host, e.stream, e.line, (Line(f"| {e.line}", "  "),))


def _command_ended(e: CommandEnded) -> Narration:
    if e.error:
        said = f"failed: {e.error} ({e.seconds:g} s)"
    elif e.deadline_hit:
        said = f"timed out ({e.seconds:g} s)"
    else:
        said = f"exit {e.exit_status} ({e.seconds:g} s)"
    return Narration(e.host, "info", f"[{ended_text(e)}] {e.command}", (Line(said, "  "),))


def _refused(e: GuardRefused) -> Narration:
    refusal = e.refusal
    return Narration(e.host, "stderr", f"REFUSED {e.command} on {e.host}: {refusal.reason} Instead: {refusal.instead}",
                     (Line(f"REFUSED `{e.command}` on {e.host}: {refusal.reason}", "  ", wrap=True),
                      Line(f"instead: {refusal.instead}", "  ", wrap=True)))


def _overridden(e: Overridden) -> Narration:
    said = f"override accepted for {e.host} (reason journaled: {e.reason})" if e.accepted else \
        "override not accepted: it needs the exact host name and a reason"
    return Narration(e.host, "info", None, (Line(said, "  "),))


_TELLERS: dict[type, Callable[..., Narration | None]] = {
    PlaybookStarted: _started, StepEvent: _step, PlaybookFinished: _finished, Waiting: _waiting,
    VerdictChanged: _verdict, CommandStarted: _command_started, CommandOutput: _command_output,
    CommandEnded: _command_ended, GuardRefused: _refused, Overridden: _overridden,
}
