"""The verdict banner: what is wrong and what to do next, impossible to miss.

A full-width block coloured by severity, with the verdict in capitals, a
glyph, the one-sentence summary and the recommended next action, so the
message survives a monochrome terminal, ``NO_COLOR`` and colour blindness.
In teaching mode it also says what the verdict means, in plain words.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from poolterm.diagnosis.explain import explain, first_sentence
from poolterm.model import Diagnosis, PoolDiagnosis, Severity
from poolterm.ui.sanitize import sanitize

GLYPHS = {
    False: {Severity.OK: "✔", Severity.WARNING: "▲", Severity.CRITICAL: "✖", Severity.UNKNOWN: "?"},
    True: {Severity.OK: "OK", Severity.WARNING: "!!", Severity.CRITICAL: "XX", Severity.UNKNOWN: "??"},
}
SEVERITY_CLASSES = {s: f"-{s.value}" for s in Severity}
SEPARATOR = {False: " · ", True: " | "}
#: The badge of a journal that cannot be written (its records wait in memory).
JOURNAL_FAILING = "JOURNAL FAILING"
#: Badges that are alarms, not modes: drawn reversed, so they stand out on every theme and in monochrome.
ALARMS = frozenset({JOURNAL_FAILING})


@dataclass(frozen=True)
class Badges:
    """Modes the operator must not forget are on."""

    paused: bool = False
    filter_text: str = ""
    read_only: bool = False
    demo: bool = False
    command: str = ""  # the command running, if any
    playbook: str = ""  # the playbook running, if any
    playbook_pool: str = ""  # the pool it runs on
    teach: bool = False
    drill_setup: bool = False  # a drill is still injecting its fault: R waits for it
    journal_failing: bool = False  # the journal cannot be written: records wait in memory
    following: str = ""  # this console follows: who drives ("no driver" when the wheel is free)

    def words(self) -> list[str]:
        words = [JOURNAL_FAILING] if self.journal_failing else []
        if self.following:
            words.append(f"FOLLOWING {self.following}")
        if self.paused:
            words.append("PAUSED")
        if self.filter_text:
            words.append(f"FILTER {self.filter_text!r}")
        if self.playbook:
            words.append(f"PLAYBOOK {self.playbook}")
        if self.command:
            words.append("RUNNING")
        if self.teach:
            words.append("TEACH")
        if self.read_only:
            words.append("READ-ONLY")
        if self.demo:
            words.append("DEMO")
        return words


class VerdictBanner(Static):
    """Shows the worst pool's verdict; `show()` is called with each new diagnosis."""

    def __init__(self, *, ascii_only: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.ascii_only = ascii_only
        self.diagnosis: Diagnosis | None = None
        self.badges = Badges()
        self.waiting = (0, 0)  # hosts heard from, hosts in the inventory, before the first verdict
        self.pacing: dict[str, tuple[str, int]] = {}

    def show(self, diagnosis: Diagnosis, pacing: dict[str, tuple[str, int]] | None = None) -> None:
        """Show ``diagnosis`` (and the probe's ``pacing``: pool -> mode, load on its master a minute);
        nothing is redrawn when the banner's words are unchanged."""
        pacing = {pool: (mode, _rounded(load)) for pool, (mode, load) in (pacing or {}).items()}
        changed = self._signature(diagnosis) != self._signature(self.diagnosis) or pacing != self.pacing
        self.diagnosis, self.pacing = diagnosis, pacing
        if changed:
            self._render_banner()

    @staticmethod
    def _signature(diagnosis: Diagnosis | None) -> tuple:
        if diagnosis is None:
            return ()
        worst = diagnosis.worst
        pools = tuple((p.name, p.verdict, p.master, len(p.hosts)) for p in diagnosis.pools)
        return pools, (worst.name, worst.summary, worst.advice, worst.playbook) if worst else None

    def show_waiting(self, heard: int, total: int) -> None:
        self.waiting = (heard, total)
        self._render_banner()

    def set_badges(self, badges: Badges) -> None:
        if badges != self.badges:
            self.badges = badges
            self._render_banner()

    @property
    def text(self) -> str:
        """The banner as plain text (what a screen reader or a test reads)."""
        return self.headline + "\n" + "\n".join(self._body_lines())

    @property
    def where(self) -> str:
        """The line under the headline: the pool, its master, its hosts, how the probe treats the master."""
        return self._where(self.diagnosis.worst if self.diagnosis else None).plain

    @property
    def headline(self) -> str:
        pool = self.diagnosis.worst if self.diagnosis else None
        if pool is None:
            return "PROBING"
        return pool.verdict.title

    def _render_banner(self) -> None:
        pool = self.diagnosis.worst if self.diagnosis else None
        severity = pool.severity if pool else Severity.UNKNOWN
        for s, cls in SEVERITY_CLASSES.items():
            self.set_class(s is severity, cls)
        self.set_class(pool is None, "-waiting")
        self.update(self._renderable(pool, severity))

    def _renderable(self, pool: PoolDiagnosis | None, severity: Severity) -> Group:
        glyph = GLYPHS[self.ascii_only][severity]
        head = Table.grid(expand=True)
        # One row, always: on a narrow terminal the pool line is cut, not wrapped, so the
        # capped banner keeps its rows for the summary and the next action.
        head.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        head.add_column(justify="right", no_wrap=True)
        title = Text.assemble((f" {glyph} {self.headline} ", "bold reverse"), "  ", self._where(pool))
        words = self.badges.words()
        badges = Text(style="bold")
        for word in words:
            badges.append("  " if badges else " ")
            badges.append(f"[{word}]", style="reverse" if word in ALARMS else "")
        head.add_row(title, badges)
        body = [Text(line) for line in self._body_lines()]
        for line in body:
            if line.plain.startswith("Next:"):
                line.stylize("bold", 0, len("Next:"))
        return Group(head, *body)

    def _where(self, pool: PoolDiagnosis | None) -> Text:
        if pool is None:
            heard, total = self.waiting
            return Text(f"waiting for the first answers: {heard} of {total} hosts so far")
        parts = [f"pool {pool.name}", f"master {pool.master or 'none'}", f"{len(pool.hosts)} hosts"]
        if pool.name in self.pacing:
            mode, load = self.pacing[pool.name]
            parts.append(f"probe {mode}, ~{load}/min on the master")
        others = [p for p in self.diagnosis.pools if p is not pool]
        if others:
            # Second, right after the worst pool's name: on a narrow terminal the line is cut at its end.
            parts.insert(1, _others(others))
        return Text(SEPARATOR[self.ascii_only].join(parts))

    def _body_lines(self) -> list[str]:
        pool = self.diagnosis.worst if self.diagnosis else None
        if pool is None:
            return ["Connecting to every host over SSH; nothing is concluded until they answer."]
        lines = [pool.summary] if pool.summary else []
        if self.badges.playbook and self.badges.playbook_pool == pool.name:
            # One voice during a run: the verdict's own advice (often "run playbook X") would
            # compete with the step the panel is on.
            advice = f"Next: follow playbook {self.badges.playbook} in its panel (x cancels it)."
        elif self.badges.drill_setup:
            advice = "Next: wait: the drill is still setting up its fault."
        elif self.badges.following:
            driver = "no one" if self.badges.following == "no driver" else self.badges.following
            advice = (f"{driver} drives this incident; you follow: watch the log and the panel, n writes a note"
                      + (", T takes the wheel." if driver == "no one" else "."))
        else:
            advice = f"Next: {pool.advice}" if pool.advice else "Next: read the evidence of the listed hosts."
            if pool.playbook and not self.badges.playbook:
                advice += "  (press R)"
        lines.append(advice)
        if self.badges.teach:
            # Last, and one sentence: on a small terminal the banner's height is capped,
            # and what to do next must never be the line that is cut off.
            lines.append(f"In plain words: {first_sentence(explain(pool.verdict).meaning)}")
        return lines


def _others(others: list[PoolDiagnosis]) -> str:
    """The other pools in a few words: how many, how many are not healthy, and the worst of those."""
    troubled = sorted((p for p in others if p.severity is not Severity.OK), key=lambda p: -p.severity.rank)
    if not troubled:
        return f"+{len(others)} {'pool' if len(others) == 1 else 'pools'}, all healthy"
    shown = ", ".join(f"{sanitize(p.name)} {p.verdict.title}" for p in troubled[:2])
    more = " ..." if len(troubled) > 2 else ""
    return f"+{len(others)} {'pool' if len(others) == 1 else 'pools'}, {len(troubled)} not healthy: {shown}{more}"


def _rounded(load: int) -> int:
    """The probe's load in steps of 5: it moves by one or two every round, the banner need not."""
    return 5 * round(load / 5)
