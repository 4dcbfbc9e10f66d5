"""The playbook panel: the steps of the running playbook with their marks, the current
step's why, the exact command, what is being waited for, and (teaching mode) the
verdict's evidence in plain words and the next key to press.

It draws the runner's typed events; it decides nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from rich.console import Group
from rich.text import Text
from textual.widgets import Static

from poolterm.explain import explain
from poolterm.model import PoolDiagnosis
from poolterm.playbooks import Playbook, Step
from poolterm.playbooks.engine import Finished

#: Step status -> (glyph, ascii glyph). The status word is printed too: no meaning in colour alone.
MARKS = {
    "pending": ("·", "-"),
    "running": ("▶", ">"),
    "done": ("✔", "+"),
    "skipped": ("↷", "~"),
    "failed": ("✖", "X"),
}
STYLES = {"running": "bold", "done": "", "skipped": "dim", "failed": "bold reverse", "pending": "dim"}
#: Engine statuses in the panel's words.
ENGINE_STATUS = {"current": "running", "pending": "pending", "done": "done", "skipped": "skipped",
                 "failed": "failed"}
#: Evidence lines shown in teaching mode, at most.
EVIDENCE_LINES = 6


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
    host_of: dict[str, str] = field(default_factory=dict)  # journal command id -> host, for its output lines
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


def command_preview(step: Step, fill: Callable[[str], str]) -> str:
    """The exact command a step will run, with its hosts' names, addresses and uuids filled in by ``fill``."""
    spec = step.run
    if spec is None:
        return ""
    if spec.shell:
        return spec.shell
    words = ["xe", spec.xe or ""] + [f"{name}={{{binding}.{field_}}}" for name, binding, field_ in spec.params]
    return fill(" ".join(words + list(spec.flags)))


def first_sentence(text: str) -> str:
    text = " ".join(text.split())
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]


class PlaybookPanel(Static):
    """Hidden until a playbook starts or teaching mode is on."""

    def __init__(self, *, ascii_only: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.ascii_only = ascii_only
        self.progress: PlaybookProgress | None = None
        self.teach = False
        self.pool: PoolDiagnosis | None = None  # the worst pool, for teaching
        self.next_key = ""  # teaching: what to press now, and why

    def redraw(self) -> None:
        self.set_class(self.progress is not None or self.teach, "-active")
        if self.progress is not None:
            self.border_title = f"playbook {self.progress.playbook.id}"
        else:
            self.border_title = "teaching"
        self.update(Group(*self.lines()))

    @property
    def text(self) -> str:
        """The panel as plain text (what a test or a screen reader reads)."""
        return "\n".join(line.plain for line in self.lines())

    def lines(self) -> list[Text]:
        lines: list[Text] = []
        if self.progress is not None:
            lines += self._progress_lines(self.progress)
        if self.teach:
            lines += self._teaching_lines()
        return lines

    def _progress_lines(self, p: PlaybookProgress) -> list[Text]:
        lines = [Text(f"{p.playbook.title} (pool {p.pool})", style="bold")]
        for index, step in enumerate(p.playbook.steps):
            status = p.statuses[index]
            glyph = MARKS[status][1 if self.ascii_only else 0]
            lines.append(Text(f" {glyph} {index + 1}. {p.titles.get(index, step.title)}  [{status}]",
                              style=STYLES[status]))
        if p.why and p.finished is None:
            why = p.why if self.teach else first_sentence(p.why)
            lines.append(Text(f"why: {why}"))
        if p.command:
            label = {"next": "next command", "asking": "confirm?", "running": "running",
                     "ended": "ran"}.get(p.command_state, "command")
            line = Text(f"{label}: ")
            line.append(p.command, style="bold")
            if p.ended:
                line.append(f"  ({p.ended})")
            lines.append(line)
        if p.waiting and p.finished is None:
            lines.append(Text(f"waiting: {p.waiting}"))
        for note in p.notes:
            lines.append(Text(note, style="dim"))
        if p.finished is not None:
            f = p.finished
            label = {"done": "DONE", "healthy": "NOTHING TO DO", "incomplete": "INCOMPLETE",
                     "stopped": "STOPPED", "not-applicable": "NOT APPLICABLE"}.get(f.outcome, f.outcome.upper())
            lines.append(Text(f"{label}: {f.reason}", style="bold"))
            if f.advice:
                lines.append(Text(f"next: {f.advice}"))
            if p.then:
                lines.append(Text(p.then, style="bold"))
        return lines

    def _teaching_lines(self) -> list[Text]:
        lines = [Text("teaching mode (t turns it off)", style="bold")]
        pool = self.pool
        if pool is not None:
            lines.append(Text(f"Why {pool.verdict.title}: {pool.summary}"))
            explanation = explain(pool.verdict)
            lines.append(Text(f"In plain words: {explanation.meaning}"))
            careful = Text("Careful: ", style="bold")
            careful.append(explanation.careful)
            lines.append(careful)
            evidence = [e for f in pool.findings for e in f.evidence]
            evidence += [f"{h.name}: {e}" for h in pool.hosts if not h.reachable or not h.agrees
                         for e in h.evidence[:1]]
            for line in evidence[:EVIDENCE_LINES]:
                lines.append(Text(f"  - {line}"))
        if self.next_key:
            line = Text("Next key: ", style="bold")
            line.append(self.next_key)
            lines.append(line)
        return lines
