"""The command log: remote output streamed into a bounded, followable, searchable pane.

Built on Textual's ``Log`` because it stores plain strings and renders only the
visible lines. Lines are buffered and written in one ``write_lines`` call per
flush: every call starts a thread worker to measure widths, so one call per
line caps ingest at a few thousand lines a second.
"""

from __future__ import annotations

import os
import re
from collections import deque
from datetime import datetime
from pathlib import Path

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.content import Content
from textual.geometry import Size
from textual.reactive import reactive
from textual.strip import Strip
from textual.widgets import Log

from poolterm.actions.journal import redact
from poolterm.ui.sanitize import sanitize

FLUSH_SECONDS = 0.05
DEFAULT_MAX_LINES = 10_000
STREAM_MARKS = {"stderr": "!", "cmd": "$", "note": "✎"}  # a glyph, so stderr is visible without colour
#: Lines the console writes itself (a command as typed, what became of it): passwords are hidden
#: in them, as in the journal. A host's output is not scanned: it is shown as sent.
REDACTED_STREAMS = frozenset({"cmd", "info", "note"})
SEPARATOR = {False: " │ ", True: " | "}
# Cap on remembered host-column prefixes; they are per inventory host, this is only a backstop.
_HOST_FIELD_CACHE = 4096


class LogPane(Log):
    """Remote output of every host, one line per line, prefixed ``HH:MM:SS host │``.

    ``following`` is True while the pane sticks to the tail; scrolling up clears
    it (new lines keep arriving but the view stays put), ``end`` sets it again.
    """

    BINDINGS = [
        Binding("end", "follow", "Follow", id="log.follow"),
        Binding("n", "next_match", "Older match", show=False, id="log.next-match"),
        Binding("N", "previous_match", "Newer match", show=False, id="log.previous-match"),
    ]
    COMPONENT_CLASSES = {"log-pane--prefix", "log-pane--stderr", "log-pane--match"}
    DEFAULT_CSS = """
    LogPane {
        overflow-x: auto;
        border: round $primary 50%;
        border-title-align: left;
        border-subtitle-align: right;
    }
    LogPane > .log-pane--prefix { color: $host-stale; }
    LogPane > .log-pane--stderr { color: $log-stderr; text-style: bold; }
    LogPane > .log-pane--match { color: $log-match; text-style: reverse bold; }
    """

    following: reactive[bool] = reactive(True, init=False)

    def __init__(
        self,
        max_lines: int = DEFAULT_MAX_LINES,
        *,
        host_width: int = 8,
        ascii_only: bool = False,
        flush_seconds: float = FLUSH_SECONDS,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(max_lines=max_lines, auto_scroll=False, name=name, id=id, classes=classes)
        self._max = max_lines
        # What filtering re-renders from; bounded like the widget itself.
        self._ring: deque[tuple[str | None, str]] = deque(maxlen=max_lines)
        # Lines not yet written, at most a pane's worth: in a burst bigger than the pane the oldest
        # go (the pane would push them out at once anyway) and the next flush writes the rest whole.
        self._pending: deque[tuple[str | None, str]] = deque(maxlen=max_lines)
        self._host_filter: str | None = None
        self._host_width = host_width
        self._separator = SEPARATOR[ascii_only]
        self._host_fields: dict[tuple[str | None, str], str] = {}
        self._stamp_key = -1
        self._stamp = ""
        self._flush_seconds = flush_seconds
        self._search_text = ""
        self._match: tuple[int, int, int] | None = None  # line, start, end
        self._unseen = 0  # lines that arrived while paused
        self._badge = ""
        self.writes = 0  # write_lines calls made, for tests and benchmarks
        self.border_title = "log"

    def on_mount(self) -> None:
        super().on_mount()
        self.set_interval(self._flush_seconds, self.flush, name="log-flush")
        self._show_badge()

    # ---- feeding --------------------------------------------------------------
    def append(self, host: str | None, stream: str, line: str, at: datetime | None = None) -> None:
        """Queue one line of output; it reaches the screen at the next flush."""
        at = at or datetime.now()
        key = at.hour * 3600 + at.minute * 60 + at.second
        if key != self._stamp_key:
            self._stamp_key, self._stamp = key, f"{at.hour:02}:{at.minute:02}:{at.second:02} "
        field = self._host_fields.get((host, stream)) or self._host_field(host, stream)
        if stream in REDACTED_STREAMS:
            line = redact(line)
        entry = (host, self._stamp + field + sanitize(line))
        self._ring.append(entry)
        # No early write when a pane's worth waits: a 400,000-line flood written pane by pane held
        # the loop (and every key) for 40 writes of 10,000 lines, to end where one write ends.
        self._pending.append(entry)

    def _host_field(self, host: str | None, stream: str) -> str:
        """The padded host column with the stream's mark, made once per host and stream."""
        if len(self._host_fields) >= _HOST_FIELD_CACHE:
            self._host_fields.clear()
        label = sanitize(host or "") + STREAM_MARKS.get(stream, "")
        field = label.ljust(self._host_width) + self._separator
        self._host_fields[(host, stream)] = field
        return field

    def flush(self) -> None:
        """Write every queued line in one batch."""
        if not self._pending:
            return
        batch, self._pending = self._pending, deque(maxlen=self._max)
        wanted = self._host_filter
        lines = [text for _, text in batch] if wanted is None else [t for h, t in batch if h == wanted]
        if lines:
            self._write(lines)

    def _write(self, lines: list[str]) -> None:
        before = len(self.lines)
        self._add_lines(lines)
        pruned = before + len(lines) - len(self.lines)
        if pruned:
            self._shift_match(pruned)
        if self.following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
            return
        self._unseen += len(lines)
        if pruned:
            # Keep the paused view on the lines being read while old ones drop off the top.
            self.scroll_to(y=max(0, self.scroll_y - pruned), animate=False, immediate=True)
        self._show_badge()

    def _add_lines(self, lines: list[str]) -> None:
        """``Log.write_lines`` without its layout pass, for lines already split and sanitised.

        ``Log.write_lines`` sets ``virtual_size``, a layout reactive: each flush would
        lay out the whole screen (20-30 ms at 160x48) though the pane's own size never
        depends on its lines. Only its scrollbars do, so a layout is asked for only
        when one of them appears; otherwise the size is stored and the scrollbars
        are told directly. Widths are measured here too: a few hundred lines cost
        less than the thread worker ``write_lines`` would start.
        """
        start = len(self._lines)
        self._lines.extend(lines)
        pruned = self.max_lines is not None and len(self._lines) > self.max_lines
        if pruned:
            self._prune_max_lines()
        process = self._process_line
        width = max(self._width, max(cell_len(process(line)) for line in lines))
        old, new = self.virtual_size, Size(width, len(self._lines))
        region = self.scrollable_content_region
        if (new.width > region.width) != (old.width > region.width) or (
                new.height > region.height) != (old.height > region.height):
            self._width = width
            self.virtual_size = new
        else:
            self._width = width
            self.set_reactive(Log.virtual_size, new)
            self._scroll_update(new)
        self.writes += 1
        if pruned:
            self.refresh()  # every line moved up
        else:
            self.refresh_lines(start, len(lines))

    # ---- follow mode ----------------------------------------------------------
    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value < old_value and self.following and not self.is_vertical_scroll_end:
            self.following = False

    def watch_following(self, following: bool) -> None:
        if following:
            self._unseen = 0
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        self._show_badge()

    def action_follow(self) -> None:
        self.following = True
        # Already following: still jump, the view may be mid-way after a resize.
        self.scroll_end(animate=False, immediate=True, x_axis=False)

    # ---- host filter ----------------------------------------------------------
    @property
    def host_filter(self) -> str | None:
        return self._host_filter

    def set_host_filter(self, host: str | None) -> None:
        """Show only ``host``'s lines (None: every host), re-rendered from the ring."""
        if host == self._host_filter:
            return
        self.flush()
        self._host_filter = host
        self._match = None
        self.clear()
        lines = [t for h, t in self._ring if host is None or h == host]
        if lines:
            self._add_lines(lines)
        self.following = True
        self.scroll_end(animate=False, immediate=True, x_axis=False)
        self._show_badge()

    # ---- search ---------------------------------------------------------------
    def search(self, text: str, *, newer: bool = False) -> bool:
        """Jump to the next line containing ``text`` (literally, any case), wrapping; False if none.

        A new text starts at the newest line in view and goes back in time: in
        an incident the latest occurrence matters most. Repeating the same text
        moves on from the current match (``newer`` turns round). Jumping pauses
        following, or the next flush would scroll the match away.
        """
        again = bool(text) and text == self._search_text and self._match is not None
        self._search_text = text
        if not text:
            self._set_match(None)
            self._show_badge()
            return False
        self.flush()
        if again:
            start = self._match[0] + (1 if newer else -1)
        else:
            start = min(int(self.scroll_y) + self.scrollable_content_region.height, len(self.lines)) - 1
        found = self._find(re.compile(re.escape(text), re.IGNORECASE), start, newer)
        self._set_match(found)
        if found is not None:
            self.following = False
            top = max(0, found[0] - self.scrollable_content_region.height // 2)
            self.scroll_to(y=top, animate=False, immediate=True)
        self._show_badge()
        return found is not None

    def action_next_match(self) -> None:
        if self._search_text:
            self.search(self._search_text)

    def action_previous_match(self) -> None:
        if self._search_text:
            self.search(self._search_text, newer=True)

    def _find(self, pattern: re.Pattern[str], start: int, newer: bool) -> tuple[int, int, int] | None:
        lines = self.lines
        count = len(lines)
        if not count:
            return None
        step = 1 if newer else -1
        for offset in range(count):
            y = (start + step * offset) % count
            hit = pattern.search(lines[y])
            if hit:
                return y, hit.start(), hit.end()
        return None

    def _set_match(self, match: tuple[int, int, int] | None) -> None:
        old, self._match = self._match, match
        for m in (old, match):
            if m is not None:
                self.refresh_lines(m[0])

    def _shift_match(self, pruned: int) -> None:
        if self._match is not None:
            y, start, end = self._match
            self._match = (y - pruned, start, end) if y >= pruned else None

    @property
    def match(self) -> tuple[int, int, int] | None:
        """The highlighted search match: (line, start column, end column)."""
        return self._match

    @property
    def retained(self) -> int:
        """Lines kept for the host filter and for saving (at most ``max_lines``)."""
        return len(self._ring)

    # ---- saving ---------------------------------------------------------------
    def save(self, path: str | Path) -> int:
        """Write every buffered line (all hosts, whatever the filter) to ``path``; returns the count.

        The file is the operator's alone (mode 0600, also when it was there before): the log
        names hosts, addresses and what they answered."""
        self.flush()
        lines = [text for _, text in self._ring]
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with open(fd, "w", encoding="utf-8") as saved:
            os.fchmod(fd, 0o600)
            saved.write("".join(f"{line}\n" for line in lines))
        return len(lines)

    # ---- drawing --------------------------------------------------------------
    def _show_badge(self) -> None:
        parts = ["FOLLOW" if self.following else f"PAUSED +{self._unseen} · end: follow"]
        if self._host_filter is not None:
            parts.append(f"host {self._host_filter}")
        if self._search_text:
            parts.append(f"/{self._search_text}" + ("" if self._match else " (no match)"))
        badge = " · ".join(parts)
        if badge != self._badge:
            self._badge = badge
            # Plain content: a searched "[" is text, not markup.
            self.border_subtitle = Content(badge)

    def _render_line_strip(self, y: int, rich_style: Style) -> Strip:
        if self.text_selection is not None:
            return super()._render_line_strip(y, rich_style)
        cached = self._render_line_cache.get(y)
        if cached is not None:
            return cached
        line = self._process_line(self.lines[y])
        text = Text(line, no_wrap=True, style=rich_style)
        self._style_prefix(text, line)
        if self._match is not None and self._match[0] == y:
            text.stylize(self.get_component_rich_style("log-pane--match", partial=True), *self._match[1:])
        strip = Strip(text.render(self.app.console), text.cell_len)
        self._render_line_cache[y] = strip
        return strip

    def _style_prefix(self, text: Text, line: str) -> None:
        cut = line.find(self._separator)
        if cut < 0:
            return
        text.stylize(self.get_component_rich_style("log-pane--prefix", partial=True), 0, cut + len(self._separator))
        label_end = len(line[:cut].rstrip())
        if label_end and line[label_end - 1] == STREAM_MARKS["stderr"]:
            text.stylize(self.get_component_rich_style("log-pane--stderr", partial=True), label_end - 1, label_end)

