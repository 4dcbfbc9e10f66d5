"""The fleet view: one row per pool, the worst on top, for an inventory of many pools.

With fifty pools the broken one is a screen-scroll away in the host grid; here it
is the first line. Each row says what the pool's own banner would, in a line::

    ✖ MASTER LOST       lab37   plot3601   99/100 up  noHA  plot3601 is unreachable (no SSH answer) ...

enter zooms into the pool's grid, escape comes back (the app does both). A line-API
widget like the grid: it redraws the rows whose text changed, and the order only
when a pool's severity moved it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from poolterm.model import Diagnosis, PoolDiagnosis, Severity
from poolterm.ui.grid import ASCII, DOWN, HEADER, PLAIN, STALE, UNICODE, UP, WARN, Glyphs, matches, parse_filter
from poolterm.ui.sanitize import sanitize

#: The widest a pool's or a master's name column grows before names are cut.
NAME_MAX = 16
_SEVERITY = {Severity.OK: UP, Severity.WARNING: WARN, Severity.CRITICAL: DOWN, Severity.UNKNOWN: STALE}

Piece = tuple[str, str]  # text, style key
Row = tuple[Piece, ...]


# ---- what a row says (pure) ----------------------------------------------------------
@dataclass(frozen=True)
class PoolSummary:
    """What a pool's row says, read once from its diagnosis: its hosts are counted once, not once
    for the order, once for the column widths and once for the row."""

    name: str  # the pool's name as the inventory has it: the row's key
    label: str  # ... as the screen shows it
    severity: Severity
    verdict: str  # the verdict's title
    master: str
    up: int
    total: int
    ha: str  # "HA 8/8", or "-" where HA never showed
    finding: str  # the worst finding's summary (the pool's summary when it has none)
    has_findings: bool

    @classmethod
    def of(cls, pool: PoolDiagnosis) -> "PoolSummary":
        worst = max(pool.findings, key=lambda f: f.severity.rank) if pool.findings else None
        finding = worst.summary if worst else (pool.summary or "-")
        return cls(pool.name, sanitize(pool.name), pool.severity, pool.verdict.title, sanitize(pool.master or "none"),
                   sum(1 for h in pool.hosts if h.reachable), len(pool.hosts), _ha(pool), sanitize(finding),
                   worst is not None)

    @property
    def hosts(self) -> str:
        return f"{self.up}/{self.total} up"


def worst_first(summaries: list[PoolSummary]) -> list[PoolSummary]:
    """Most severe first; among equals, the one with more hosts down, then the given (inventory) order."""
    ranked = sorted(enumerate(summaries), key=lambda i_s: (-i_s[1].severity.rank, i_s[1].up - i_s[1].total, i_s[0]))
    return [summary for _, summary in ranked]


@dataclass(frozen=True)
class Columns:
    """Each column's width, fitted to the fleet's longest entry so that the worst finding, the
    column that explains, keeps most of a narrow terminal's line."""

    verdict: int = len("VERDICT")
    name: int = len("POOL")
    master: int = len("MASTER")
    hosts: int = len("HOSTS")
    ha: int = 0  # no column at all while no pool shows HA

    @classmethod
    def fitting(cls, summaries: list[PoolSummary]) -> "Columns":
        def widest(least: int, texts) -> int:
            return max([least, *texts])

        return cls(
            widest(cls.verdict, (len(s.verdict) for s in summaries)),
            widest(cls.name, (min(NAME_MAX, cell_len(s.label)) for s in summaries)),
            widest(cls.master, (min(NAME_MAX, cell_len(s.master)) for s in summaries)),
            widest(cls.hosts, (len(s.hosts) for s in summaries)),
            widest(cls.ha, (len(s.ha) for s in summaries if s.ha != "-")),
        )


def row_content(summary: PoolSummary, glyphs: Glyphs, width: int, columns: Columns) -> Row:
    """One pool as (text, style key) pieces, exactly ``width`` cells wide."""
    severity = _SEVERITY[summary.severity]
    pieces = [
        (f"{_glyph(summary.severity, glyphs)} {summary.verdict:<{columns.verdict}}  ", severity),
        (f"{_pad(summary.label, columns.name, glyphs)}  ", HEADER),
        (f"{_pad(summary.master, columns.master, glyphs)}  ", PLAIN),
        (f"{summary.hosts:<{columns.hosts}}  ", PLAIN if summary.up == summary.total else DOWN),
    ]
    if columns.ha:
        pieces.append((f"{summary.ha:<{columns.ha}}  ", PLAIN))
    pieces.append((summary.finding, severity if summary.has_findings else STALE))
    return _fit(pieces, width, glyphs)


def header_row(glyphs: Glyphs, width: int, columns: Columns) -> Row:
    ha = f"{'HA':<{columns.ha}}  " if columns.ha else ""
    text = (f"  {'VERDICT':<{columns.verdict}}  {'POOL':<{columns.name}}  {'MASTER':<{columns.master}}  "
            f"{'HOSTS':<{columns.hosts}}  {ha}WORST FINDING")
    return _fit([(text, HEADER)], width, glyphs)


def _glyph(severity: Severity, glyphs: Glyphs) -> str:
    return {Severity.OK: glyphs.up, Severity.WARNING: glyphs.disagree, Severity.CRITICAL: glyphs.down,
            Severity.UNKNOWN: glyphs.unknown}[severity]


def _ha(pool: PoolDiagnosis) -> str:
    ha = pool.ha
    if ha is None or not (ha.on or ha.armed):
        return "-"
    return f"HA {len(ha.armed)}/{len(pool.hosts)}"


def _cut(text: str, width: int, glyphs: Glyphs) -> str:
    return text if cell_len(text) <= width else set_cell_size(text, width - 1) + glyphs.ellipsis


def _pad(text: str, width: int, glyphs: Glyphs) -> str:
    return set_cell_size(_cut(text, width, glyphs), width)


def _fit(pieces: list[Piece], width: int, glyphs: Glyphs) -> Row:
    """The pieces cut (the last one with an ellipsis) or padded to ``width`` cells."""
    out: list[Piece] = []
    room = width
    for text, style in pieces:
        if room <= 0:
            break
        length = cell_len(text)
        if length > room:
            text = _cut(text, room, glyphs)
            length = room
        out.append((text, style))
        room -= length
    if room > 0:
        out.append((" " * room, PLAIN))
    return tuple(out)


def pool_matches(terms: tuple[tuple[str, str], ...], pool: PoolDiagnosis) -> bool:
    """Every term of the grid's filter holds for the pool itself (its name, verdict or master) or
    for one of its hosts: ``lab3`` finds pools by name, ``plot3601`` the pool holding that host,
    ``state:down`` the pools with a host down, ``master lost`` the pools that lost theirs."""
    words = (pool.name.lower(), pool.verdict.value, pool.verdict.title.lower(), (pool.master or "").lower())
    return all((key == "" and any(value in w for w in words))
               or (key == "pool" and value in pool.name.lower())
               or any(matches(((key, value),), state, pool.name) for state in pool.hosts)
               for key, value in terms)


# ---- the widget ------------------------------------------------------------------------
@dataclass
class FleetStats:
    """What the table did, counted for tests and benchmarks."""

    rows_rendered: int = 0
    full_refreshes: int = 0
    rows_refreshed: int = 0


class _PoolMessage(Message):
    def __init__(self, table: "FleetTable", pool: str) -> None:
        super().__init__()
        self.table = table
        self.pool = pool

    @property
    def control(self) -> "FleetTable":
        return self.table


class FleetTable(ScrollView, can_focus=True):
    """Every pool, one row each, worst first. Feed it with ``update(diagnosis)``."""

    BINDINGS = [
        Binding("up,k", "move(-1)", "Up", show=False, id="fleet.up"),
        Binding("down,j", "move(1)", "Down", show=False, id="fleet.down"),
        Binding("home,g", "first", "First pool", show=False, id="fleet.home"),
        Binding("end,G", "last", "Last pool", show=False, id="fleet.end"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="fleet.page-up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="fleet.page-down"),
        Binding("enter", "open", "Open pool", id="fleet.open", tooltip="the pool's host grid (escape: back)"),
    ]
    COMPONENT_CLASSES = {f"fleet-table--{key}" for key in (UP, DOWN, WARN, STALE, HEADER)}
    DEFAULT_CSS = """
    FleetTable { overflow-x: hidden; overflow-y: auto; height: 1fr; }
    FleetTable > .fleet-table--up { color: $host-up; }
    FleetTable > .fleet-table--down { color: $host-down; text-style: bold; }
    FleetTable > .fleet-table--warn { color: $host-warn; text-style: bold; }
    FleetTable > .fleet-table--stale { color: $host-stale; }
    FleetTable > .fleet-table--header { color: $host-header; text-style: bold; }
    """

    class Highlighted(_PoolMessage):
        """The cursor moved to pool ``pool``."""

    class Opened(_PoolMessage):
        """Enter was pressed on pool ``pool``."""

    cursor: reactive[str | None] = reactive(None, init=False, repaint=False)
    ascii_only: reactive[bool] = reactive(False, init=False)

    def __init__(self, *, ascii_only: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.set_reactive(FleetTable.ascii_only, ascii_only)
        self.stats = FleetStats()
        self._pools: dict[str, PoolDiagnosis] = {}
        self._summaries: dict[str, PoolSummary] = {}  # by pool name, read from the diagnosis in _pools
        self._order: list[str] = []  # the shown pools, worst first
        self._rows: dict[str, Row] = {}
        self._terms: tuple[tuple[str, str], ...] = ()
        self._filter = ""
        self._chosen = False  # the operator moved the cursor: it stays on that pool, not on the top one
        self._styles: dict[bool, dict[str, Style]] = {}
        self._columns = Columns()

    @property
    def glyphs(self) -> Glyphs:
        return ASCII if self.ascii_only else UNICODE

    @property
    def order(self) -> list[str]:
        """The pools shown, top to bottom."""
        return list(self._order)

    def row_text(self, pool: str) -> str:
        return "".join(text for text, _ in self._row(pool))

    # ---- feeding ---------------------------------------------------------------------
    def update(self, diagnosis: Diagnosis) -> None:
        """Show ``diagnosis``; repaint only the rows whose text or place changed."""
        before, self._pools = self._pools, {p.name: p for p in diagnosis.pools}
        # The very diagnosis read last time (a worker sends a pool only when it changed) is not read again.
        summaries = [self._summaries[p.name] if before.get(p.name) is p else PoolSummary.of(p)
                     for p in diagnosis.pools]
        self._summaries = {s.name: s for s in summaries}
        columns = Columns.fitting(summaries)
        if columns != self._columns:
            self._columns, self._rows = columns, {}
            self._order = []  # every row changes: lay out again
        order = [s.name for s in worst_first(summaries)
                 if not self._terms or pool_matches(self._terms, self._pools[s.name])]
        width, glyphs, rows = self._width(), self.glyphs, self._rows
        changed = []
        for name in order:
            row = row_content(self._summaries[name], glyphs, width, columns)
            if rows.get(name) != row:
                rows[name] = row
                changed.append(name)
        if order != self._order:
            self._order = order
            self._relayout()
        else:
            for name in changed:
                self._refresh_row(order.index(name))

    def set_filter(self, text: str) -> None:
        if text == self._filter:
            return
        self._filter, self._terms = text, parse_filter(text)
        self.update(Diagnosis(tuple(self._pools.values())))

    def _relayout(self) -> None:
        self.virtual_size = Size(self._width(), len(self._order) + 1)
        if self.cursor not in self._order or not self._chosen:
            self.set_reactive(FleetTable.cursor, self._order[0] if self._order else None)
            if self.cursor is not None:
                self.post_message(self.Highlighted(self, self.cursor))
        self.stats.full_refreshes += 1
        self.refresh()

    def _refresh_row(self, index: int) -> None:
        self.stats.rows_refreshed += 1
        self.refresh_line(index + 1)  # the header is line 0

    def _width(self) -> int:
        return max(1, self.scrollable_content_region.width)

    def _row(self, name: str) -> Row:
        row = self._rows.get(name)
        if row is None:
            row = self._rows[name] = row_content(self._summaries[name], self.glyphs, self._width(), self._columns)
        return row

    # ---- the cursor ------------------------------------------------------------------
    def watch_cursor(self, old: str | None, new: str | None) -> None:
        for name in (old, new):
            if name in self._order:
                self._refresh_row(self._order.index(name))
        if new is not None:
            self._bring_into_view(self._order.index(new) if new in self._order else 0)
            self.post_message(self.Highlighted(self, new))

    def _bring_into_view(self, index: int) -> None:
        """Scroll so that row ``index`` is on screen, under the header that never scrolls."""
        top, rows = round(self.scroll_y), self.scrollable_content_region.height - 1
        if index < top:
            self.scroll_to(y=index, animate=False)
        elif index >= top + rows:
            self.scroll_to(y=index - rows + 1, animate=False)

    def _go(self, index: int) -> None:
        if self._order:
            self._chosen = True
            self.cursor = self._order[max(0, min(len(self._order) - 1, index))]

    def _index(self) -> int:
        return self._order.index(self.cursor) if self.cursor in self._order else 0

    def action_move(self, step: int) -> None:
        self._go(self._index() + step)

    def action_page(self, direction: int) -> None:
        self._go(self._index() + direction * max(1, self.scrollable_content_region.height - 2))

    def action_first(self) -> None:
        self._chosen = False  # back on top: follow the worst pool again
        if self._order:
            self.cursor = self._order[0]

    def action_last(self) -> None:
        self._go(len(self._order) - 1)

    def action_open(self) -> None:
        if self.cursor is not None:
            self.post_message(self.Opened(self, self.cursor))

    def on_click(self, event: events.Click) -> None:
        index = event.y - 1 + round(self.scroll_y)
        if event.y > 0 and 0 <= index < len(self._order):
            self._go(index)
            if event.chain > 1:
                self.action_open()

    # ---- drawing ---------------------------------------------------------------------
    def on_resize(self, event: events.Resize) -> None:
        self._rows.clear()
        self.virtual_size = Size(self._width(), len(self._order) + 1)

    def watch_ascii_only(self) -> None:
        self._rows.clear()
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()

    def _style_table(self, selected: bool) -> dict[str, Style]:
        table = self._styles.get(selected)
        if table is None:
            base = self.rich_style
            table = {PLAIN: base}
            for key in (UP, DOWN, WARN, STALE, HEADER):
                table[key] = base + self.get_component_rich_style(f"fleet-table--{key}", partial=True)
            if selected:
                table = {key: style + Style(reverse=True) for key, style in table.items()}
            self._styles[selected] = table
        return table

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:  # the column titles stay put while the rows scroll under them
            styles = self._style_table(False)
            return Strip([Segment(text, styles[key]) for text, key in header_row(self.glyphs, width, self._columns)], width)
        index = y - 1 + round(self.scroll_y)
        if index >= len(self._order):
            return Strip.blank(width, self.rich_style)
        name = self._order[index]
        styles = self._style_table(name == self.cursor and self.has_focus)
        self.stats.rows_rendered += 1
        return Strip([Segment(text, styles[key]) for text, key in self._row(name)], width)

    def on_focus(self) -> None:
        self._refresh_cursor()

    def on_blur(self) -> None:
        self._refresh_cursor()

    def _refresh_cursor(self) -> None:
        if self.cursor in self._order:
            self._refresh_row(self._order.index(self.cursor))
