"""What the playbook panel shows of one run, and how the runner's events change it.

A plain state object and its reducer: :meth:`PlaybookProgress.apply` takes one
runner event, updates what the panel draws and passes on the log line that
:func:`poolterm.playbooks.narrate.narrate` tells of it.
The console wires it; tests drive it with events alone. No Textual here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from poolterm.actions.gate import CommandEnded, CommandOutput, CommandStarted, GuardRefused, Overridden
from poolterm.playbooks import Playbook, Step
from poolterm.playbooks.engine import Engine, Finished, Notice, render_known
from poolterm.playbooks.narrate import ended_text, narrate
from poolterm.playbooks.runner import PlaybookFinished, PlaybookStarted, StepEvent, Waiting

#: Engine statuses in the panel's words.
ENGINE_STATUS = {"current": "running", "pending": "pending", "done": "done", "skipped": "skipped",
                 "failed": "failed"}
#: What a run cancelled from the console says in the journal and the panel.
CANCELLED = "The operator cancelled the playbook in the console."


@dataclass(frozen=True)
class LogLine:
    host: str | None
    stream: str  # cmd | stdout | stderr | info
    text: str
    stamped: bool = True  # output lines carry no time of their own: they arrive in bursts


@dataclass
class Applied:
    """What one event asks of the console besides the panel."""

    lines: list[LogLine] = field(default_factory=list)
    redraw: bool = True
    finished: Finished | None = None  # the run just ended: the console says so briefly

    def log(self, host: str | None, stream: str, text: str, *, stamped: bool = True) -> None:
        self.lines.append(LogLine(host, stream, text, stamped))


@dataclass
class PlaybookProgress:
    """What the panel shows of one run."""

    playbook: Playbook
    pool: str
    run: str = ""
    statuses: list[str] = field(default_factory=list)
    current: int | None = None
    why: str = ""
    command: str = ""  # the exact command: previewed, then running, then how it ended
    command_state: str = ""  # next | asking | running | ended
    ended: str = ""
    waiting: str = ""
    notes: list[str] = field(default_factory=list)  # skips, facts, refusals: the last few
    titles: dict[int, str] = field(default_factory=dict)  # step titles with the hosts filled in
    finished: Finished | None = None
    then: str = ""  # after the end: what the console offers next (e.g. R resumes)

    def __post_init__(self) -> None:
        if not self.statuses:
            self.statuses = ["pending"] * len(self.playbook.steps)

    @property
    def step(self) -> Step | None:
        if self.current is None or self.current >= len(self.playbook.steps):
            return None
        return self.playbook.steps[self.current]

    def note(self, text: str) -> None:
        self.notes = (self.notes + [text])[-3:]

    # ---- the runner's events, reduced into what the panel and the log show

    def apply(self, event: object, engine: Engine | None) -> Applied:
        """Take one runner event in; say what the log gets and whether the panel must redraw."""
        applied = Applied()
        told = narrate(event)
        if told is not None and told.line is not None:
            # Output lines carry no time of their own: they arrive in bursts.
            applied.log(told.host, told.stream, told.line, stamped=not isinstance(event, CommandOutput))
        if isinstance(event, PlaybookStarted):
            self.run = event.run
            if len(event.playbook.steps) != len(self.playbook.steps):
                # The run's own steps: one per host where a step runs on several (engine.expand).
                self.playbook, self.statuses = event.playbook, ["pending"] * len(event.playbook.steps)
            # Every step named with the hosts known now, not only those started so far.
            self.titles = {i: render_known(step.title, event.bindings) for i, step in enumerate(self.playbook.steps)}
            if event.resumed_at is not None:
                self.statuses[:event.resumed_at] = ["done"] * event.resumed_at
                self.note(f"resumed at step {event.resumed_at + 1}")
        elif isinstance(event, StepEvent):
            self._step(event.notice, engine)
        elif isinstance(event, CommandStarted):
            self.command, self.command_state, self.ended = event.command, "running", ""
        elif isinstance(event, CommandOutput):
            applied.redraw = False  # the panel shows nothing of the output
        elif isinstance(event, CommandEnded):
            self.command_state, self.ended = "ended", ended_text(event)
        elif isinstance(event, GuardRefused):
            self.note(f"REFUSED {event.command} on {event.host}: {event.refusal.reason} "
                      f"Instead: {event.refusal.instead}")
        elif isinstance(event, Overridden):
            self.note(f"override for {event.host} {'accepted' if event.accepted else 'not accepted'}")
        elif isinstance(event, Waiting):
            self.waiting = f"up to {event.seconds_left:.0f} s for {event.expect} (now: {event.detail})"
        elif isinstance(event, PlaybookFinished):
            self.finished = applied.finished = event.finished
            if engine is not None:
                self.statuses = [ENGINE_STATUS[status] for status in engine.statuses]
        return applied

    def _step(self, notice: Notice, engine: Engine | None) -> None:
        index = notice.index
        self.titles[index] = notice.title
        if notice.kind in ("step-started", "step-resumed"):
            self.statuses[index] = "running"
            self.current, self.waiting = index, ""
            if notice.kind == "step-started":
                self.why = notice.detail
                preview = command_preview(self.playbook.steps[index], engine.render if engine else lambda text: text)
                self.command, self.command_state, self.ended = preview, "next", ""
                if preview and notice.host:
                    self.command = f"on {notice.host}: {preview}"
        elif notice.kind == "step-done":
            self.statuses[index] = "done"
            self.waiting = ""
        elif notice.kind == "step-skipped":
            self.statuses[index] = "skipped"
            self.note(f"step {index + 1} skipped: {notice.detail}")
        elif notice.kind == "fact":
            self.note(f"learned: {notice.detail}")

    def cancelled(self) -> bool:
        """The operator cancelled the run: mark it stopped; False if it had ended already."""
        if not self.run or self.finished is not None:
            return False
        if self.current is not None:
            self.statuses[self.current] = "failed"
        self.finished = Finished("stopped", CANCELLED, "", self.current)
        return True


def command_preview(step: Step, fill: Callable[[str], str]) -> str:
    """The exact command a step will run, with its hosts' names, addresses and uuids filled in by ``fill``."""
    spec = step.run
    if spec is None:
        return ""
    if spec.shell:
        return spec.shell
    words = ["xe", spec.xe or ""] + [f"{name}={{{binding}.{field_}}}" for name, binding, field_ in spec.params]
    return fill(" ".join(words + list(spec.flags)))
