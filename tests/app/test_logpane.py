"""LogPane and the sanitiser: batching, bounds, follow mode, host filter, search, save."""

from __future__ import annotations

import re
from datetime import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from poolterm.ui.logpane import LogPane
from poolterm.ui.sanitize import sanitize
from tests.helpers.pilot import LogApp

AT = datetime(2026, 3, 14, 9, 26, 53)
# Anything a terminal would act on: C0 (tab aside), DEL, C1, and ESC above all.
UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")


async def until(pilot, condition, rounds: int = 200) -> None:
    """Let the app run until ``condition()`` holds (the flush timer fires every 50 ms)."""
    for _ in range(rounds):
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError("condition never held")


def spy_writes(pane: LogPane) -> list[int]:
    """Record the size of every batch written into the Log's lines."""
    batches: list[int] = []
    original = pane._add_lines

    def add_lines(lines):
        batches.append(len(lines))
        return original(lines)

    pane._add_lines = add_lines
    return batches


async def test_a_flush_repaints_the_pane_without_laying_out_the_screen():
    """Streaming output must not cost a layout pass per flush (20-30 ms at 160x48)."""
    pane = LogPane()
    async with LogApp(pane).run_test(size=(80, 24)) as pilot:
        feed(pane, 100)  # more than the pane shows: the scrollbar is there from now on
        await until(pilot, lambda: len(pane.lines) == 100)
        await pilot.pause()
        layouts = []
        screen = pilot.app.screen
        original = screen._refresh_layout

        def refresh_layout(*args, **kwargs):
            layouts.append(1)
            return original(*args, **kwargs)

        screen._refresh_layout = refresh_layout
        for _ in range(5):
            written = len(pane.lines)
            feed(pane, 50)
            await until(pilot, lambda: len(pane.lines) == written + 50)
        await pilot.pause()
        assert layouts == []
        assert pane.is_vertical_scroll_end and pane.max_scroll_y == 350 - pane.scrollable_content_region.height


def feed(pane: LogPane, count: int, host: str = "plot1", start: int = 0) -> None:
    for i in range(start, start + count):
        pane.append(host, "stdout", f"line {i}", AT)


# ---- batching and bounds -----------------------------------------------------------------
async def test_many_appends_reach_the_widget_in_one_write():
    pane = LogPane()
    async with LogApp(pane).run_test(size=(80, 24)) as pilot:
        batches = spy_writes(pane)
        feed(pane, 500)
        assert len(pane.lines) == 0  # buffered until the timer flushes
        await until(pilot, lambda: batches)
        await pilot.pause()
        assert batches == [500]
        assert len(pane.lines) == 500 and pane.lines[-1].endswith("│ line 499")


async def test_lines_carry_time_host_and_stream():
    pane = LogPane()
    async with LogApp(pane).run_test(size=(80, 24)) as pilot:
        pane.append("plot1", "stdout", "uuid ( RO) : 1234", AT)
        pane.append("plot12", "stderr", "The host is still booting.", AT)
        pane.append(None, "info", "verdict MASTER LOST", AT)
        pane.append("plot3", "cmd", "xe pool-list", AT)
        pane.flush()
        assert list(pane.lines) == [
            "09:26:53 plot1    │ uuid ( RO) : 1234",
            "09:26:53 plot12!  │ The host is still booting.",
            "09:26:53          │ verdict MASTER LOST",
            "09:26:53 plot3$   │ xe pool-list",
        ]
        await pilot.pause()
        stderr_mark = [seg for seg in pane.render_line(1) if seg.text == "!"]
        assert stderr_mark and stderr_mark[0].style.bold


async def test_the_pane_keeps_at_most_max_lines(tmp_path):
    pane = LogPane(max_lines=100)
    async with LogApp(pane).run_test(size=(80, 24)) as pilot:
        for burst in range(10):
            feed(pane, 70, start=burst * 70)
            pane.flush()
            await pilot.pause()
        assert len(pane.lines) == 100
        assert pane.lines[0].endswith("│ line 600") and pane.lines[-1].endswith("│ line 699")
        assert pane.save(tmp_path / "log.txt") == 100
        # A burst bigger than the pane is never held whole, nor written pane by pane: its last
        # pane's worth is written once, at the next flush, as the pane would end up anyway.
        batches = spy_writes(pane)
        feed(pane, 5050, start=1000)
        assert batches == [] and len(pane._pending) == 100
        pane.flush()
        assert batches == [100]
        assert len(pane.lines) == 100
        assert pane.lines[0].endswith("│ line 5950") and pane.lines[-1].endswith("│ line 6049")


# ---- sanitising ---------------------------------------------------------------------------
HOSTILE = [
    "\x1b]0;owned title\x07after title",
    "\x1b]52;c;ZXZpbA==\x1b\\clipboard",
    "\x1b[2J\x1b[Hcleared \x1b[31mred\x1b[0m",
    "\x1bP1$qm\x1b\\dcs",
    "\x9b31mc1 csi\x9d0;t\x9c done",
    "cr\roverwrite\x08\x08bs",
    "bell\x07 nul\x00 del\x7f",
    "unterminated \x1b]0;title forever",
    "bidi \u202ereversed\u202c text\u2028split",
    "tab\there",
]


async def test_hostile_output_never_reaches_the_screen_as_control_codes():
    pane = LogPane()
    async with LogApp(pane).run_test(size=(100, 24)) as pilot:
        for line in HOSTILE:
            pane.append("evil\x1b[31m", "stdout", line, AT)
        pane.flush()
        await pilot.pause()
        assert len(pane.lines) == len(HOSTILE)
        for y, line in enumerate(pane.lines):
            rendered = "".join(seg.text for seg in pane.render_line(y))
            assert not UNSAFE.search(line) and not UNSAFE.search(rendered), repr(line)
        # Nothing is hidden from the operator: every sequence is shown, written out.
        assert pane.lines[0].endswith("│ \\x1b]0;owned title\\x07after title")
        assert pane.lines[1].endswith("│ \\x1b]52;c;ZXZpbA==\\x1b\\clipboard")
        assert pane.lines[2].endswith("│ \\x1b[2J\\x1b[Hcleared \\x1b[31mred\\x1b[0m")
        assert pane.lines[4].endswith("│ \\x9b31mc1 csi\\x9d0;t\\x9c done")
        assert pane.lines[8].endswith("│ bidi \\u202ereversed\\u202c text\\u2028split")
        assert pane.lines[-1].endswith("│ tab     here")
        assert all("evil\\x1b[31m" in line for line in pane.lines)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(["\x1b", "\x9b", "\x9d", "\x07", "\x9c", "[", "]", "\\", ";", "0", "m",
                                         "P", "\t", "\r", "\n", "a", "é", "\u2028", "\u202e", "\x00", "\x85"]))
       | st.text())
def test_sanitize_leaves_no_control_characters(text):
    clean = sanitize(text)
    assert not UNSAFE.search(clean)
    assert "\t" not in clean
    assert len(clean.splitlines()) <= 1
    assert sanitize(clean) == clean


@given(st.text(st.characters(categories=("L", "N", "P", "S"), include_characters=" ")),
       st.text(st.characters(categories=("L", "N", "P", "S"), include_characters=" ")),
       st.sampled_from(["\x1b[1;31m", "\x1b]0;title\x07", "\x1b]8;;http://x\x1b\\", "\x1b(B", "\x9b2K", "\x1b7"]))
def test_sanitize_shows_an_escape_written_out_between_the_text_around_it(before, after, escape):
    shown = sanitize(before + escape + after)
    assert shown == sanitize(before) + sanitize(escape) + sanitize(after)
    assert shown.startswith(before) and shown.endswith(after)
    assert sanitize(escape).startswith(("\\x1b", "\\x9b")) and len(sanitize(escape)) > len(escape)


@given(st.text(st.characters(categories=("L", "N", "P", "S"), include_characters=" ")))
def test_printable_text_passes_unchanged(text):
    assert sanitize(text) == text


# ---- follow mode --------------------------------------------------------------------------
async def test_scrolling_up_pauses_following_and_end_resumes():
    pane = LogPane()
    async with LogApp(pane).run_test(size=(80, 24)) as pilot:
        pane.focus()
        feed(pane, 200)
        pane.flush()
        await pilot.pause()
        assert pane.following and pane.scroll_y == pane.max_scroll_y > 0
        assert pane.border_subtitle == "FOLLOW"
        await pilot.press("up", "up")
        assert not pane.following
        top = pane.scroll_y
        feed(pane, 50, start=200)
        pane.flush()
        await pilot.pause()
        assert pane.scroll_y == top < pane.max_scroll_y
        assert pane.border_subtitle.startswith("PAUSED +50")
        await pilot.press("end")
        await pilot.pause()
        assert pane.following and pane.scroll_y == pane.max_scroll_y
        feed(pane, 10, start=250)
        pane.flush()
        await pilot.pause()
        assert pane.scroll_y == pane.max_scroll_y and pane.border_subtitle == "FOLLOW"


async def test_a_paused_view_stays_on_its_lines_while_old_ones_drop_off():
    pane = LogPane(max_lines=100)
    async with LogApp(pane).run_test(size=(80, 24)) as pilot:
        pane.focus()
        feed(pane, 100)
        pane.flush()
        await pilot.pause()
        await pilot.press("pageup")
        first_visible = pane.render_line(0).text
        feed(pane, 30, start=100)
        pane.flush()
        await pilot.pause()
        assert pane.render_line(0).text == first_visible


# ---- host filter --------------------------------------------------------------------------
async def test_host_filter_shows_one_host_and_restores_everything():
    pane = LogPane()
    async with LogApp(pane).run_test(size=(80, 24)) as pilot:
        for i in range(30):
            pane.append(f"plot{i % 3 + 1}", "stdout", f"line {i}", AT)
        pane.flush()
        pane.set_host_filter("plot2")
        await pilot.pause()
        assert len(pane.lines) == 10 and all(" plot2 " in line for line in pane.lines)
        assert "host plot2" in pane.border_subtitle
        pane.append("plot1", "stdout", "hidden while filtered", AT)
        pane.append("plot2", "stderr", "shown while filtered", AT)
        pane.flush()
        assert len(pane.lines) == 11 and pane.lines[-1].endswith("│ shown while filtered")
        pane.set_host_filter(None)
        await pilot.pause()
        assert len(pane.lines) == 32
        assert pane.lines[-2].endswith("│ hidden while filtered")


# ---- search -------------------------------------------------------------------------------
async def test_search_jumps_to_matches_and_highlights_them():
    pane = LogPane()
    async with LogApp(pane).run_test(size=(80, 24)) as pilot:
        pane.focus()
        for i in range(300):
            pane.append("plot1", "stdout", f"line {i}" + (" HOST_STILL_BOOTING" if i in (40, 120) else ""), AT)
        pane.flush()
        await pilot.pause()
        assert pane.search("host_still") is True
        line, start, end = pane.match
        assert line == 120 and pane.lines[line][start:end] == "HOST_STILL"
        assert not pane.following
        await pilot.pause()
        y = line - int(pane.scroll_y)
        assert 0 <= y < pane.size.height
        highlighted = "".join(seg.text for seg in pane.render_line(y) if seg.style and seg.style.reverse)
        assert highlighted == "HOST_STILL"
        await pilot.press("n")
        assert pane.match[0] == 40  # the older one
        await pilot.press("n")
        assert pane.match[0] == 120  # wrapped round to the newest
        await pilot.press("N")
        assert pane.match[0] == 40
        assert pane.search("no such text") is False
        assert pane.match is None and "(no match)" in pane.border_subtitle


async def test_search_is_literal_text():
    pane = LogPane()
    async with LogApp(pane).run_test(size=(80, 24)):
        pane.append("plot1", "stdout", "uuid ( RO) : 1", AT)
        pane.append("plot1", "stdout", "plain", AT)
        pane.append("plot1", "stdout", "uuid (RO)", AT)
        assert pane.search("( RO)") and pane.match[0] == 0


# ---- saving -------------------------------------------------------------------------------
async def test_save_writes_every_buffered_line_whatever_the_filter(tmp_path):
    pane = LogPane()
    async with LogApp(pane).run_test(size=(80, 24)):
        for i in range(6):
            pane.append(f"plot{i % 2 + 1}", "stdout", f"line {i}", AT)
        pane.set_host_filter("plot1")
        pane.append("plot2", "stderr", "late", AT)  # still buffered when saved
        path = tmp_path / "incident.log"
        assert pane.save(path) == 7
        saved = path.read_text(encoding="utf-8").splitlines()
        assert saved[0] == "09:26:53 plot1    │ line 0"
        assert saved[-1] == "09:26:53 plot2!   │ late"

