"""The playbook panel: the steps of the running playbook with their marks, the current
step's why, the exact command, what is being waited for, and (teaching mode) the
next key to press, the verdict in plain words and its evidence.

It draws the runner's typed events; it decides nothing. On a small terminal it
shows what matters most (the outcome, the exact command, the next key) and folds
or leaves out the rest (the step list becomes one line, then the notes go, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Group
from rich.text import Text
from textual.widgets import Static

from poolterm.diagnosis.explain import explain, first_sentence
from poolterm.model import PoolDiagnosis
from poolterm.ui.playbook_progress import PlaybookProgress

#: Step status -> (glyph, ascii glyph). The status word is printed too: no meaning in colour alone.
MARKS = {
    "pending": ("·", "-"),
    "running": ("▶", ">"),
    "done": ("✔", "+"),
    "skipped": ("↷", "~"),
    "failed": ("✖", "X"),
}
STYLES = {"running": "bold", "done": "", "skipped": "dim", "failed": "bold reverse", "pending": "dim"}
#: Notes from the other people on the incident shown in teaching mode, the newest.
NOTES_SHOWN = 3
#: Evidence lines shown in teaching mode, at most.
EVIDENCE_LINES = 6
#: Border and padding around the panel's text: rows, columns.
FRAME = (2, 4)


@dataclass
class Block:
    """Lines shown together; on a small terminal, blocks with a lower ``keep`` go first."""

    lines: list[Text]
    keep: int
    folded: "Block | None" = None  # a shorter stand-in, tried before the block is left out


class PlaybookPanel(Static):
    """Hidden until a playbook starts or teaching mode is on."""

    def __init__(self, *, ascii_only: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.ascii_only = ascii_only
        self.progress: PlaybookProgress | None = None
        self.teach = False
        self.pool: PoolDiagnosis | None = None  # the worst pool, for teaching
        self.next_key = ""  # teaching: what to press now, and why
        self.notes: list[str] = []  # teaching: the latest notes the other people on the incident wrote

    def redraw(self) -> None:
        self.set_class(self.progress is not None or self.teach, "-active")
        if self.progress is not None:
            self.border_title = f"playbook {self.progress.playbook.id}" + ("  (teaching: t turns it off)"
                                                                            if self.teach else "")
        else:
            self.border_title = "teaching (t turns it off)"
        self.update(Group(*self.shown_lines()))

    @property
    def text(self) -> str:
        """Everything the panel has to say, as plain text (what a screen reader or a test reads)."""
        return "\n".join(line.plain for block in self.blocks() for line in block.lines)

    @property
    def shown_text(self) -> str:
        """What fits on the screen now, as plain text."""
        return "\n".join(line.plain for line in self.shown_lines())

    def shown_lines(self) -> list[Text]:
        rows, width = self._room()
        return [line for block in fit(self.blocks(), rows, self._rows_of(width)) for line in block.lines]

    def _room(self) -> tuple[int | None, int]:
        """Rows and columns the text may use: the panel may take half of its column (app.tcss)."""
        parent = self.parent
        if parent is None or not parent.size.height:
            return None, 0
        return max(1, parent.size.height // 2 - FRAME[0]), parent.size.width - FRAME[1]

    def _rows_of(self, width: int):
        console = self.app.console if width > 0 else None

        def rows(line: Text) -> int:
            return len(line.wrap(console, width)) if console is not None else 1
        return rows

    def blocks(self) -> list[Block]:
        blocks: list[Block] = []
        if self.progress is not None:
            blocks += self._progress_blocks(self.progress)
        if self.teach:
            blocks += self._teaching_blocks()
        return blocks

    def _progress_blocks(self, p: PlaybookProgress) -> list[Block]:
        steps = []
        for index, step in enumerate(p.playbook.steps):
            status = p.statuses[index]
            glyph = MARKS[status][1 if self.ascii_only else 0]
            steps.append(Text(f" {glyph} {index + 1}. {p.titles.get(index, step.title)}  [{status}]",
                              style=STYLES[status]))
        blocks = [Block([Text(f"{p.playbook.title} (pool {p.pool})", style="bold")], keep=3),
                  Block(steps, keep=5, folded=Block([self._steps_in_one_line(p)], keep=9))]
        if p.why and p.finished is None:
            why = p.why if self.teach else first_sentence(p.why)
            blocks.append(Block([Text(f"why: {why}")], keep=4,
                                folded=Block([Text(f"why: {first_sentence(p.why)}")], keep=4)))
        if p.command:
            label = {"next": "next command", "asking": "confirm?", "running": "running",
                     "ended": "ran"}.get(p.command_state, "command")
            line = Text(f"{label}: ")
            line.append(p.command, style="bold")
            if p.ended:
                line.append(f"  ({p.ended})")
            blocks.append(Block([line], keep=10))
        if p.waiting and p.finished is None:
            blocks.append(Block([Text(f"waiting: {p.waiting}")], keep=7))
        if p.notes:
            blocks.append(Block([Text(note, style="dim") for note in p.notes], keep=1))
        if p.finished is not None:
            f = p.finished
            label = {"done": "DONE", "healthy": "NOTHING TO DO", "incomplete": "INCOMPLETE",
                     "stopped": "STOPPED", "not-applicable": "NOT APPLICABLE"}.get(f.outcome, f.outcome.upper())
            end = [Text(f"{label}: {f.reason}", style="bold")]
            if f.advice:
                end.append(Text(f"next: {f.advice}"))
            if p.then:
                end.append(Text(p.then, style="bold"))
            blocks.append(Block(end, keep=11))
        return blocks

    def _steps_in_one_line(self, p: PlaybookProgress) -> Text:
        """The step list folded: where the run is, and how many steps are behind and ahead."""
        counts = {status: p.statuses.count(status) for status in MARKS}
        index = p.current if p.current is not None else next(
            (i for i, status in enumerate(p.statuses) if status in ("running", "failed")), None)
        parts = []
        if index is not None:
            status = p.statuses[index]
            glyph = MARKS[status][1 if self.ascii_only else 0]
            parts.append(f"{glyph} step {index + 1}/{len(p.statuses)}: "
                         f"{p.titles.get(index, p.playbook.steps[index].title)} [{status}]")
        else:
            parts.append(p.playbook.title)
        parts += [f"{counts[s]} {s}" for s in ("done", "skipped", "pending") if counts[s]]
        return Text(" · ".join(parts) if not self.ascii_only else " | ".join(parts), style="bold")

    def _teaching_blocks(self) -> list[Block]:
        blocks = []
        if self.next_key:
            line = Text("Next key: ", style="bold")
            line.append(self.next_key)
            blocks.append(Block([line], keep=8))
        if self.notes:
            lines = [Text("Notes: ", style="bold")] + [Text(f"  {note}") for note in self.notes[-NOTES_SHOWN:]]
            blocks.append(Block(lines, keep=7))
        pool = self.pool
        if pool is not None:
            explanation = explain(pool.verdict)
            careful = Text("Careful: ", style="bold")
            careful.append(explanation.careful)
            blocks.append(Block([careful], keep=6))
            blocks.append(Block([Text(f"In plain words: {explanation.meaning}")], keep=2,
                                folded=Block([Text(f"In plain words: {first_sentence(explanation.meaning)}")],
                                             keep=2)))
            evidence = [e for f in pool.findings for e in f.evidence]
            evidence += [f"{h.name}: {e}" for h in pool.hosts if not h.reachable or not h.agrees
                         for e in h.evidence[:1]]
            lines = [Text(f"Why {pool.verdict.title}: {pool.summary}")]
            lines += [Text(f"  - {line}") for line in evidence[:EVIDENCE_LINES]]
            blocks.append(Block(lines, keep=0))
        return blocks


def fit(blocks: list[Block], rows: int | None, rows_of) -> list[Block]:
    """The blocks that fit in ``rows`` screen rows, in their order: fold, then leave out,
    the least important first; what is left is cut at the last row. ``None``: no limit."""
    shown = list(blocks)
    measured: dict[int, int] = {}  # id(block) -> its rows, each block (folded or not) measured once

    def rows_in(block: Block) -> int:
        if id(block) not in measured:
            measured[id(block)] = sum(rows_of(line) for line in block.lines)
        return measured[id(block)]

    def height() -> int:
        return sum(rows_in(block) for block in shown)

    while rows is not None and height() > rows and len(shown) > 1:
        least = min(shown, key=lambda b: (b.keep, b.folded is None))
        at = shown.index(least)
        if least.folded is not None:
            shown[at] = least.folded
        else:
            del shown[at]
    if rows is not None and shown and height() > rows:
        kept, used = [], 0
        for line in shown[0].lines:
            used += rows_of(line)
            if used > rows and kept:
                break
            kept.append(line)  # the first line at least: the screen clips what it cannot hold
        shown = [Block(kept, shown[0].keep)]
    return shown
