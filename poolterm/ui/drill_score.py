"""The score screen at the end of a drill: how long the recovery took and how it went."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from poolterm.diagnosis.drill import Score


class DrillScore(ModalScreen[bool]):
    """Dismisses with True when the trainee leaves poolterm (``q``), False to look at the console again."""

    BINDINGS = [
        Binding("q", "close(True)", "Quit", id="score.quit"),
        Binding("enter,escape", "close(False)", "Back to the console", id="score.back"),
    ]

    def __init__(self, score: Score, journal: str, *, quitting: bool = False, id: str | None = "drill-score") -> None:
        super().__init__(id=id)
        self.score = score
        self.journal = journal
        self.quitting = quitting  # the trainee already chose to quit: any key leaves

    @property
    def text(self) -> str:
        """The score as plain text (what a test or a screen reader reads)."""
        return "\n".join(self.score.lines()[1:])

    def compose(self) -> ComposeResult:
        title, *lines = self.score.lines()
        hint = "q, enter or esc: quit" if self.quitting else "q: quit poolterm | enter or esc: back to the console"
        with Vertical(classes="dialog"):
            yield Label(title, classes="dialog-title", id="score-title")
            yield Static("\n".join(lines), id="score-body", markup=False)
            yield Static(f"Written to the journal {self.journal}.", classes="dialog-hint", markup=False)
            yield Static(hint, classes="dialog-hint")

    def action_close(self, leave: bool) -> None:
        self.dismiss(leave or self.quitting)
