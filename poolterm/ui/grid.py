"""The host grid: every host of every pool as one fixed-width cell, grouped by pool.

A line-API widget: it draws only the visible lines, caches a strip per host,
and on each diagnosis repaints only the cells whose text changed. The stock
DataTable and one widget per host both take far longer than a frame at 1000
hosts (benchmarks/bench_grid.py).

A cell never relies on colour alone::

    !✖ plot2 →plot1    12s     mark · reach · name · belief · xapi or age
     ● plot2 →plot1  HA ok     in an HA pool: HA (armed), noHA (disarmed) or FENCED before the slot

Why one module of this size: a line-API widget whose cache, layout and repaint must agree
line for line; the cell text and filter parsing are the parts that could leave, and are small.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from poolterm.model import Diagnosis, HostState, PoolDiagnosis, Reach, Role, Severity, XapiState
from poolterm.ui.sanitize import sanitize

CELL_WIDTH = 24
GAP = 2
# Mark, reach glyph and two blanks; name, belief, the HA mark (HA pools only) and the slot's
# word (xapi state, or the age of an unreachable host, right-aligned) share the rest.
_FIXED = 4


@dataclass(frozen=True)
class Glyphs:
    up: str
    down: str
    refused: str
    key: str
    pending: str
    master: str
    points: str
    unknown: str
    broken: str
    disagree: str
    ellipsis: str
    rule: str
    dot: str  # between the parts of the header's HA summary


UNICODE = Glyphs("●", "✖", "⊘", "⚿", "…", "★", "→", "?", "✖broken", "!", "…", "─", "·")
ASCII = Glyphs("o", "x", "-", "#", ".", "*", "->", "?", "xbroken", "!", "~", "-", "|")

# Style keys; each names a component class host-grid--<key> coloured by a theme variable.
PLAIN, UP, DOWN, MASTER, WARN, STALE, HEADER = "", "up", "down", "master", "warn", "stale", "header"

_REACH = {
    Reach.CONNECTED: ("up", UP),
    Reach.PENDING: ("pending", STALE),
    Reach.REFUSED: ("refused", DOWN),
    Reach.HOST_KEY_UNKNOWN: ("key", WARN),
    Reach.HOST_KEY_CHANGED: ("key", WARN),
    Reach.AUTH_FAILED: ("key", WARN),
}
_XAPI = {
    XapiState.ANSWERING: ("ok", PLAIN),  # the norm stays quiet; only trouble is coloured
    XapiState.HUNG: ("HUNG", WARN),
    XapiState.EMERGENCY: ("EMERG", WARN),
    XapiState.DOWN: ("down", DOWN),
    XapiState.STARTING: ("start", STALE),
    XapiState.UNKNOWN: ("?", STALE),
}
# A host's HA (HostState.ha) as a word, ASCII in both modes; nothing where HA was never seen.
# Armed is the norm of an HA pool; a disarmed host in it neither fences nor elects; a fenced
# one dropped out of its peers' liveset (rebooting, or down).
_HA = {
    "armed": ("HA", UP),
    "disarmed": ("noHA", WARN),
    "fenced": ("FENCED", DOWN),
}
_SEVERITY = {Severity.OK: UP, Severity.WARNING: WARN, Severity.CRITICAL: DOWN, Severity.UNKNOWN: STALE}

Piece = tuple[str, str]  # text, style key
Cell = tuple[Piece, ...]


# ---- what a cell says (pure) ------------------------------------------------------
def cell_content(state: HostState, now: float, glyphs: Glyphs) -> Cell:
    """The cell of one host as (text, style key) pieces, exactly CELL_WIDTH cells wide."""
    reach_name, reach_style = _REACH.get(state.reach, ("down", DOWN))
    belief, belief_style = _belief(state, glyphs)
    if state.reachable:
        slot, slot_style = _XAPI[state.xapi]
    else:
        slot, slot_style = _age(state, now), STALE
    ha, ha_style = _HA.get(state.ha or "", ("", PLAIN))
    ha += " " if ha else ""
    # A short word ("ok") leaves the belief more room than a long one ("EMERG").
    name, belief = _fit(sanitize(state.name), belief, CELL_WIDTH - _FIXED - len(slot) - len(ha), glyphs.ellipsis)
    name_style = WARN if not state.agrees else (PLAIN if state.reachable else STALE)
    # Blanks ride with a neighbour whatever its colour (no style used here marks a blank),
    # so most cells come out as three or four segments.
    pieces = (
        (glyphs.disagree, WARN) if not state.agrees else (" ", PLAIN),
        (getattr(glyphs, reach_name), reach_style),
        (f" {name} ", name_style),
        (belief, belief_style),
    )
    return _merged(pieces + ((ha, ha_style), (slot, slot_style)) if ha else pieces + ((slot, slot_style),))


def _merged(pieces: tuple[Piece, ...]) -> Cell:
    """Neighbours of one style joined: fewer segments for Textual to filter on every frame."""
    merged = [pieces[0]]
    for text, key in pieces[1:]:
        if key == merged[-1][1]:
            merged[-1] = (merged[-1][0] + text, key)
        else:
            merged.append((text, key))
    return tuple(merged)


def change_key(state: HostState, now: float) -> tuple:
    """Everything a cell shows, cheap to compare: equal keys draw equal cells."""
    return (state.reach, state.role, state.believed_master, state.xapi, state.agrees, state.ha,
            None if state.reachable else _age(state, now))


def _belief(state: HostState, glyphs: Glyphs) -> Piece:
    if state.role is Role.MASTER:
        return glyphs.master, MASTER if state.agrees else WARN
    if state.role is Role.SLAVE:
        # Unknown to the inventory, the target is the address read from the host's pool.conf: remote text.
        target = sanitize(state.believed_master) if state.believed_master else glyphs.unknown
        return glyphs.points + target, PLAIN if state.agrees else WARN
    if state.role is Role.BROKEN:
        return glyphs.broken, DOWN
    return glyphs.unknown, STALE


@lru_cache(maxsize=8192)  # names and beliefs repeat round after round: measure each pair once
def _fit(name: str, belief: str, width: int, ellipsis: str) -> tuple[str, str]:
    """Name and belief cut to fill ``width`` exactly, the belief padded on the right and at least
    one blank between them; the name keeps priority over the target."""
    if cell_len(name) + 1 + cell_len(belief) > width:
        name = _cut(name, width - 1 - min(cell_len(belief), 4), ellipsis)
        belief = _cut(belief, width - 1 - cell_len(name), ellipsis)
    return name, belief + " " * (width - cell_len(name) - cell_len(belief))


def _cut(text: str, width: int, ellipsis: str) -> str:
    size = cell_len(text)
    if size <= width:
        return text
    if size == len(text):
        return text[:width - 1] + ellipsis
    return set_cell_size(text, width - 1) + ellipsis


def _age(state: HostState, now: float) -> str:
    if state.reach is Reach.PENDING:
        return ""
    if state.last_seen is None:
        return "--"
    seconds = max(0, int(now - state.last_seen))
    for unit, size in (("s", 1), ("m", 60), ("h", 3600)):
        if seconds < 100 * size:
            return f"{seconds // size}{unit}"
    return f"{seconds // 86400}d"


#: The pieces of a header always drawn; those after them (the HA summary) are dropped from the
#: end, whole, where the line is too narrow for them.
HEADER_PIECES = 3


def header_content(pool: PoolDiagnosis, shown: int, filtered: bool, glyphs: Glyphs) -> Cell:
    master = sanitize(pool.master) if pool.master else "none"
    count = f"{shown}/{len(pool.hosts)} shown" if filtered else f"{len(pool.hosts)} hosts"
    return (
        (f"{glyphs.rule} {sanitize(pool.name)} ", HEADER),
        (pool.verdict.title, _SEVERITY[pool.verdict.severity]),
        (f" {glyphs.rule} master {master} {glyphs.rule} {count} ", HEADER),
    ) + ha_summary(pool, glyphs)


def ha_summary(pool: PoolDiagnosis, glyphs: Glyphs) -> Cell:
    """``─ HA on · armed 8/8 · tolerates 1``, most important first; nothing for a pool without HA.

    Shown where HA runs or any host is armed: a pool whose hosts are all disarmed and whose
    record says off looks exactly as a pool that never had HA."""
    ha = pool.ha
    if ha is None or not (ha.on or ha.armed):
        return ()
    dot = glyphs.dot
    marks = [h.ha for h in pool.hosts]
    pieces: list[Piece] = []
    if ha.enabled is None:
        pieces.append((f"{glyphs.rule} HA ? ", STALE))
    elif ha.enabled:
        pieces.append((f"{glyphs.rule} HA on ", HEADER))
    else:  # the pool says off, yet hosts are still armed: HA half disabled
        pieces.append((f"{glyphs.rule} HA off ", WARN))
    pieces.append((f"{dot} armed {marks.count('armed')}/{len(pool.hosts)} ", HEADER))
    if "fenced" in marks:
        pieces.append((f"{dot} fenced {marks.count('fenced')} ", DOWN))
    if ha.failures_to_tolerate is not None:
        pieces.append((f"{dot} tolerates {ha.failures_to_tolerate} ", HEADER))
    if ha.enabled is None:
        pieces.append(("(no master answers) ", STALE))
    return tuple(pieces)


# ---- the filter (pure) ---------------------------------------------------------------
def parse_filter(text: str) -> tuple[tuple[str, str], ...]:
    """``pool:lab state:down plot`` → ((key, value), ...); a bare word has key ``""``."""
    terms = []
    for word in text.lower().split():
        key, sep, value = word.partition(":")
        terms.append((key, value) if sep and key in _FILTER_KEYS else ("", word))
    return tuple(terms)


def matches(terms: tuple[tuple[str, str], ...], state: HostState, pool: str) -> bool:
    """Every term holds. Enumerated values match by prefix, so ``role:mas`` works while typing."""
    return all(_FILTER_KEYS[key](value, state, pool) for key, value in terms)


def _state_words(state: HostState) -> tuple[str, ...]:
    return ("up" if state.reachable else "down", state.reach.value,
            "agree" if state.agrees else "disagree") + (("stale",) if state.stale else ())


_HA_WORDS = {"armed": ("armed", "on"), "disarmed": ("disarmed", "off", "noha"), "fenced": ("fenced",)}


def _ha_words(state: HostState) -> tuple[str, ...]:
    """``ha:armed``, ``ha:off``, ``ha:fenced``, ``ha:none`` (HA never seen on the host)."""
    return _HA_WORDS.get(state.ha or "", ("none",))


def _prefix_of_any(value: str, words: tuple[str, ...]) -> bool:
    return any(w.startswith(value) for w in words)


_FILTER_KEYS = {
    "": lambda v, s, p: v in s.name.lower() or v in s.address.lower(),
    "name": lambda v, s, p: v in s.name.lower(),
    "pool": lambda v, s, p: v in p.lower(),
    "role": lambda v, s, p: s.role.value.startswith(v),
    "state": lambda v, s, p: _prefix_of_any(v, _state_words(s)),
    "xapi": lambda v, s, p: _prefix_of_any(v, (s.xapi.value, _XAPI[s.xapi][0].lower())),
    "ha": lambda v, s, p: _prefix_of_any(v, _ha_words(s)),
}


# ---- the widget ------------------------------------------------------------------------
@dataclass
class GridStats:
    """What the grid did, counted for tests and benchmarks."""

    cells_rendered: int = 0
    lines_rendered: int = 0
    region_refreshes: int = 0
    lines_refreshed: int = 0
    full_refreshes: int = 0
    last_regions: tuple[Region, ...] = ()  # of the latest partial refresh

    def reset(self) -> None:
        self.__init__()


@dataclass
class _Pool:
    diagnosis: PoolDiagnosis
    shown: list[str]



class _HostMessage(Message):
    """A message about one host of a grid (its ``control`` is the grid)."""

    def __init__(self, grid: "HostGrid", name: str) -> None:
        super().__init__()
        self.grid = grid
        self.name = name

    @property
    def control(self) -> "HostGrid":
        return self.grid

class HostGrid(ScrollView, can_focus=True):
    """All hosts, one cell each, pool by pool. Feed it with ``update(diagnosis, now)``."""

    BINDINGS = [
        Binding("up,k", "move(0, -1)", "Up", show=False, id="grid.up"),
        Binding("down,j", "move(0, 1)", "Down", show=False, id="grid.down"),
        Binding("left,h", "move(-1, 0)", "Left", show=False, id="grid.left"),
        Binding("right,l", "move(1, 0)", "Right", show=False, id="grid.right"),
        Binding("home,g", "first", "First host", show=False, id="grid.home"),
        Binding("end,G", "last", "Last host", show=False, id="grid.end"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="grid.page-up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="grid.page-down"),
        Binding("enter", "open", "Open host", show=False, id="grid.open"),
    ]
    COMPONENT_CLASSES = {f"host-grid--{key}" for key in (UP, DOWN, MASTER, WARN, STALE, HEADER)}
    DEFAULT_CSS = """
    HostGrid { overflow-x: hidden; overflow-y: auto; height: 1fr; }
    HostGrid > .host-grid--up { color: $host-up; }
    HostGrid > .host-grid--down { color: $host-down; text-style: bold; }
    HostGrid > .host-grid--master { color: $host-master; text-style: bold; }
    HostGrid > .host-grid--warn { color: $host-warn; text-style: bold; }
    HostGrid > .host-grid--stale { color: $host-stale; }
    HostGrid > .host-grid--header { color: $host-header; text-style: bold; }
    """

    class Selected(_HostMessage):
        """The cursor moved to host ``name``."""

    class Opened(_HostMessage):
        """Enter was pressed on host ``name``."""

    # No repaint of the whole grid when the cursor moves: watch_cursor repaints the two
    # cells concerned, and an arrow key's frame then carries one line, not the grid.
    cursor: reactive[str | None] = reactive(None, init=False, repaint=False)
    ascii_only: reactive[bool] = reactive(False, init=False)

    def __init__(self, *, ascii_only: bool = False, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.set_reactive(HostGrid.ascii_only, ascii_only)
        self.stats = GridStats()
        self._diagnosis = Diagnosis()
        self._now = 0.0
        self._states: dict[str, HostState] = {}
        self._keys: dict[str, tuple] = {}
        self._pools: list[_Pool] = []
        self._headers: list[Cell] = []
        self._filter_text = ""
        self._terms: tuple[tuple[str, str], ...] = ()
        # Layout: one entry per line, (pool index, first shown index) or (pool index, -1) for a header.
        self._lines: list[tuple[int, int]] = []
        self._header_lines: list[int] = []
        self._where: dict[str, tuple[int, int]] = {}  # host -> (line, column)
        self._order: list[str] = []  # shown hosts in reading order
        self._columns = 1
        self._layout_width = -1
        self._layout_height = 0
        self._cell_cache: dict[str, tuple[Segment, ...]] = {}
        self._line_cache: dict[int, Strip] = {}
        self._styles: dict[bool, dict[str, Style]] = {}

    # ---- feeding ---------------------------------------------------------------------
    @property
    def glyphs(self) -> Glyphs:
        return ASCII if self.ascii_only else UNICODE

    def update(self, diagnosis: Diagnosis, now: float) -> None:
        """Show ``diagnosis``; repaint only the cells and headers whose text changed."""
        same_layout = self._same_hosts(diagnosis)
        self._diagnosis, self._now = diagnosis, now
        changed: list[str] = []
        keys, states, terms = self._keys, self._states, self._terms
        for pool in diagnosis.pools:
            for state in pool.hosts:
                name = state.name
                if state.reachable and states.get(name) is state:
                    continue  # the very state drawn last time (a reachable host's cell shows no age)
                key = change_key(state, now)
                if keys.get(name) != key:
                    # Only the key is kept: the cell itself is drawn when (and if) it is on screen.
                    keys[name] = key
                    changed.append(name)
                    old = states.get(name)
                    if terms and (old is None or matches(terms, old, pool.name) != matches(terms, state, pool.name)):
                        same_layout = False
                states[name] = state
        if not same_layout:
            self._rebuild()
            return
        for index, pool in enumerate(diagnosis.pools):
            self._pools[index].diagnosis = pool
        self._refresh_headers()
        self._repaint_cells(changed)

    def _same_hosts(self, diagnosis: Diagnosis) -> bool:
        """The same pools with the same hosts in the same order as shown now."""
        return len(diagnosis.pools) == len(self._pools) and all(
            new.name == old.diagnosis.name and len(new.hosts) == len(old.diagnosis.hosts)
            and all(a.name == b.name for a, b in zip(new.hosts, old.diagnosis.hosts))
            for new, old in zip(diagnosis.pools, self._pools))

    def _rebuild(self) -> None:
        """New pools, hosts or filter result: lay everything out again."""
        known = {s.name for p in self._diagnosis.pools for s in p.hosts}
        for table in (self._states, self._keys):
            for name in [n for n in table if n not in known]:
                del table[name]
        self._cell_cache.clear()
        self._pools = [_Pool(p, [s.name for s in p.hosts if not self._terms or matches(self._terms, s, p.name)])
                       for p in self._diagnosis.pools]
        self._headers = []
        self._refresh_headers()
        self._layout()
        self._place_cursor()

    def _refresh_headers(self) -> None:
        filtered = bool(self._terms)
        for index, pool in enumerate(self._pools):
            header = header_content(pool.diagnosis, len(pool.shown), filtered, self.glyphs)
            if index < len(self._headers):
                if self._headers[index] == header:
                    continue
                self._headers[index] = header
                if index < len(self._header_lines):
                    line = self._header_lines[index]
                    self._line_cache.pop(line, None)
                    self._refresh_grid_lines({line: (0, self._layout_width)})
            else:
                self._headers.append(header)

    def _repaint_cells(self, names: list[str]) -> None:
        """Forget the drawings of ``names`` and repaint the stretch of each line they cover."""
        spans: dict[int, tuple[int, int]] = {}
        for name in names:
            self._cell_cache.pop(name, None)
            where = self._where.get(name)
            if where is None:
                continue
            line, column = where
            x = column * (CELL_WIDTH + GAP)
            first, last = spans.get(line, (x, x + CELL_WIDTH))
            spans[line] = (min(first, x), max(last, x + CELL_WIDTH))
        for line in spans:
            self._line_cache.pop(line, None)
        self._refresh_grid_lines(spans)

    def _refresh_grid_lines(self, spans: dict[int, tuple[int, int]]) -> None:
        """One refresh for every on-screen (line: (start x, end x)) span; off-screen ones wait for scrolling."""
        top = int(self.scroll_y)
        height = self._layout_height
        regions = [Region(start, line - top, end - start, 1)
                   for line, (start, end) in spans.items() if top <= line < top + height]
        if len(regions) > height // 2:
            self.refresh()  # one region is cheaper for the compositor than dozens of lines
        elif regions:
            self.refresh(*regions)

    # ---- filter ----------------------------------------------------------------------
    @property
    def filter(self) -> str:
        return self._filter_text

    def set_filter(self, text: str) -> None:
        """Show only hosts matching ``text``: a substring, or terms like ``role:master state:down pool:lab``."""
        text = text.strip()
        if text == self._filter_text:
            return
        self._filter_text, self._terms = text, parse_filter(text)
        self._rebuild()

    @property
    def shown(self) -> int:
        return len(self._order)

    @property
    def total(self) -> int:
        return sum(len(p.diagnosis.hosts) for p in self._pools)

    # ---- layout ----------------------------------------------------------------------
    def _layout(self) -> None:
        size = self.size
        width = size.width
        # The scrollbar's room is kept even when it is hidden, so it never changes the column count.
        usable = width - self.styles.scrollbar_size_vertical
        columns = max(1, (usable + GAP) // (CELL_WIDTH + GAP))
        lines: list[tuple[int, int]] = []
        where: dict[str, tuple[int, int]] = {}
        self._header_lines = []
        for index, pool in enumerate(self._pools):
            self._header_lines.append(len(lines))
            lines.append((index, -1))
            for start in range(0, len(pool.shown), columns):
                y = len(lines)
                lines.append((index, start))
                for column, name in enumerate(pool.shown[start:start + columns]):
                    where[name] = (y, column)
        self._lines, self._where, self._columns = lines, where, columns
        self._layout_width, self._layout_height = width, size.height
        self._order = [name for pool in self._pools for name in pool.shown]
        self._line_cache.clear()
        grew_or_shrank = len(lines) != self.virtual_size.height
        self.virtual_size = Size(min(width, columns * (CELL_WIDTH + GAP) - GAP), len(lines))
        self.refresh()
        if grew_or_shrank:
            # The grid is as tall as its lines (height: auto), so its parent must lay it out
            # again. Setting virtual_size asks for that, but when this runs inside a layout
            # pass (resize, first render) Textual drops the request; asked again after the
            # frame, it is kept.
            self.call_after_refresh(self.refresh, layout=True)

    def on_resize(self, event: events.Resize) -> None:
        if self.size.width != self._layout_width:
            self._layout()
        else:
            self._layout_height = self.size.height
            self._line_cache.clear()
        self._scroll_to_cursor()

    # ---- cursor ----------------------------------------------------------------------
    def validate_cursor(self, name: str | None) -> str | None:
        return name if name is None or name in self._where else self.cursor

    def watch_cursor(self, old: str | None, new: str | None) -> None:
        self._repaint_cells([name for name in (old, new) if name is not None])
        self._scroll_to_cursor()
        if new is not None:
            self.post_message(self.Selected(self, new))

    def _place_cursor(self) -> None:
        if self.cursor in self._where:
            self._scroll_to_cursor()
        else:
            self.cursor = self._order[0] if self._order else None

    def _scroll_to_cursor(self) -> None:
        if self.cursor not in self._where or self._layout_height <= 0:
            return
        line, _ = self._where[self.cursor]
        # The first row of a pool brings its header along, so the pool's name stays in view.
        first = line - 1 if line and self._lines[line - 1][1] < 0 else line
        top, height = int(self.scroll_y), self._layout_height
        if first < top:
            self.scroll_to(y=first, animate=False, immediate=True)
        elif line >= top + height:
            self.scroll_to(y=line - height + 1, animate=False, immediate=True)

    def _rows(self) -> list[int]:
        return [y for y, (_, start) in enumerate(self._lines) if start >= 0]

    def action_move(self, dx: int, dy: int) -> None:
        if self.cursor not in self._where:
            return
        if dx:
            index = self._order.index(self.cursor) + dx
            self.cursor = self._order[max(0, min(index, len(self._order) - 1))]
        else:
            self._move_rows(dy)

    def _move_rows(self, rows: int) -> None:
        line, column = self._where[self.cursor]
        all_rows = self._rows()
        index = max(0, min(all_rows.index(line) + rows, len(all_rows) - 1))
        pool, start = self._lines[all_rows[index]]
        shown = self._pools[pool].shown
        self.cursor = shown[min(start + column, len(shown) - 1)]

    def action_page(self, direction: int) -> None:
        if self.cursor in self._where:
            self._move_rows(direction * max(1, self._layout_height - 1))

    def action_first(self) -> None:
        if self._order:
            self.cursor = self._order[0]

    def action_last(self) -> None:
        if self._order:
            self.cursor = self._order[-1]

    def action_open(self) -> None:
        if self.cursor is not None:
            self.post_message(self.Opened(self, self.cursor))

    def cell_region(self, name: str) -> Region | None:
        """Where host ``name``'s cell is drawn, in grid lines (scroll offset not applied); None if not shown."""
        where = self._where.get(name)
        if where is None:
            return None
        line, column = where
        return Region(column * (CELL_WIDTH + GAP), line, CELL_WIDTH, 1)

    def host_at(self, x: int, y: int) -> str | None:
        """The host drawn at content offset (x, y) of the widget, if any."""
        line = y + int(self.scroll_y)
        column, inside = divmod(x, CELL_WIDTH + GAP)
        if not 0 <= line < len(self._lines) or inside >= CELL_WIDTH or column >= self._columns:
            return None
        pool, start = self._lines[line]
        shown = self._pools[pool].shown
        if start < 0 or start + column >= len(shown):
            return None
        return shown[start + column]

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        name = self.host_at(offset.x, offset.y) if offset else None
        if name is not None:
            self.cursor = name

    def on_focus(self) -> None:
        self._styles.clear()  # the cursor is bold while the grid has focus
        if self.cursor is not None:
            self._repaint_cells([self.cursor])

    def on_blur(self) -> None:
        self._styles.clear()
        if self.cursor is not None:
            self._repaint_cells([self.cursor])

    # ---- drawing ---------------------------------------------------------------------
    def watch_ascii_only(self) -> None:
        self._headers = []
        self._refresh_headers()
        self._cell_cache.clear()
        self._line_cache.clear()
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._cell_cache.clear()
        self._line_cache.clear()

    def refresh(self, *regions: Region, repaint: bool = True, layout: bool = False,
                recompose: bool = False) -> HostGrid:
        if regions:
            self.stats.region_refreshes += len(regions)
            self.stats.lines_refreshed += sum(r.height for r in regions)
            self.stats.last_regions = regions
        else:
            self.stats.full_refreshes += 1
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def _style_table(self, selected: bool) -> dict[str, Style]:
        """Rich style per style key: the widget's style plus the component's colour."""
        table = self._styles.get(selected)
        if table is None:
            base = self.rich_style
            if selected:
                base += Style(reverse=True, bold=self.has_focus)
            table = {key: base + self.get_component_rich_style(f"host-grid--{key}", partial=True)
                     for key in (UP, DOWN, MASTER, WARN, STALE, HEADER)}
            table[PLAIN] = base
            self._styles[selected] = table
        return table

    def _cell_segments(self, name: str, cursor: str | None, glyphs: Glyphs) -> tuple[Segment, ...]:
        segments = self._cell_cache.get(name)
        if segments is None:
            styles = self._style_table(name == cursor)
            content = cell_content(self._states[name], self._now, glyphs)
            segments = tuple([Segment(text, styles[key]) for text, key in content])
            self._cell_cache[name] = segments
            self.stats.cells_rendered += 1
        return segments

    def render_line(self, y: int) -> Strip:
        if self._layout_width < 0:
            self._layout()
        line = y + int(self.scroll_y)
        strip = self._line_cache.get(line)
        if strip is None:
            strip = self._render_grid_line(line, self._layout_width)
            self._line_cache[line] = strip
        return strip

    def _render_grid_line(self, line: int, width: int) -> Strip:
        styles = self._style_table(False)
        base = styles[PLAIN]
        if line >= len(self._lines):
            return Strip.blank(width, base)
        self.stats.lines_rendered += 1
        pool, start = self._lines[line]
        if start < 0:
            header = list(self._headers[pool])
            used = sum(cell_len(text) for text, _ in header)
            while used > width and len(header) > HEADER_PIECES:  # the HA summary yields, part by part
                used -= cell_len(header.pop()[0])
            segments = [Segment(text, styles[key]) for text, key in header]
            if used >= width:
                return Strip(segments, used).crop(0, width)
            segments.append(Segment(self.glyphs.rule * (width - used), styles[HEADER]))
            return Strip(segments, width)
        names = self._pools[pool].shown[start:start + self._columns]
        cursor, glyphs = self.cursor, self.glyphs
        segments: list[Segment] = []
        gap = " " * GAP
        for name in names:
            cell = self._cell_segments(name, cursor, glyphs)
            if not segments:
                segments.extend(cell)
            elif cell[0].style is base:
                # The gap joins the cell's blank mark column: one segment fewer to filter per cell.
                segments.append(Segment(gap + cell[0].text, base))
                segments.extend(cell[1:])
            else:
                segments.append(Segment(gap, base))
                segments.extend(cell)
        used = len(names) * (CELL_WIDTH + GAP) - GAP
        if used < width:
            segments.append(Segment(" " * (width - used), base))
        return Strip(segments, max(width, used))
