"""HostGrid, driven with real diagnoses from poolterm.diagnosis.diagnose and read back line by line."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from textual.app import App, ComposeResult
from textual.color import Color
from textual.geometry import Region
from textual.theme import Theme

from poolterm.diagnosis.diagnose import diagnose
from poolterm.model import HostState, Observation, Reach, Role, XapiState, XeCall
from poolterm.ui.grid import ASCII, CELL_WIDTH, GAP, UNICODE, HostGrid, cell_content, matches, parse_filter
from poolterm.ui.theme_vars import with_host_defaults
from tests.helpers.factories import Pool, connected, healthy, numbered_pool, slave_conf, unreachable_since

NOW = 1000.0


def make_pool(name: str = "lab", count: int = 8, prefix: str = "plot", net: int = 0) -> Pool:
    return numbered_pool(name, count, lambda i: f"10.{net}.{i // 250}.{i % 250 + 1}", prefix)


def incident(pool: Pool, now: float = NOW) -> dict[str, Observation]:
    """plot3 unreachable for 12 s, plot4 points at plot2 (an orphan), plot5's forwarded xe hangs."""
    obs = healthy([pool], at=now)
    h = {x.name: x for x in pool.hosts}
    obs["plot3"] = unreachable_since("plot3", slave_conf(h["plot1"].address), seen=now - 12, at=now)
    obs["plot4"] = connected("plot4", slave_conf(h["plot2"].address), at=now)
    obs["plot5"] = connected("plot5", slave_conf(h["plot1"].address), at=now, xe=XeCall("hung"))
    return obs


class GridApp(App):
    def __init__(self, grid: HostGrid | None = None):
        super().__init__()
        self.grid = grid or HostGrid()
        self.selected: list[str] = []
        self.opened: list[str] = []

    def get_css_variables(self) -> dict[str, str]:
        return with_host_defaults(super().get_css_variables())

    def compose(self) -> ComposeResult:
        yield self.grid

    def on_host_grid_selected(self, message: HostGrid.Selected) -> None:
        self.selected.append(message.name)

    def on_host_grid_opened(self, message: HostGrid.Opened) -> None:
        self.opened.append(message.name)


def screen_text(grid: HostGrid) -> list[str]:
    return [grid.render_line(y).text for y in range(grid.size.height)]


def cell_text(grid: HostGrid, name: str) -> str:
    region = grid.cell_region(name)
    text = grid.render_line(region.y - int(grid.scroll_y)).text
    return text[region.x:region.right]


# ---- what is drawn --------------------------------------------------------------------
async def test_an_incident_reads_in_glyphs_and_words_at_80x24():
    pool = make_pool()
    app = GridApp()
    async with app.run_test(size=(80, 24)) as pilot:
        app.grid.update(diagnose([pool], incident(pool), NOW), NOW)
        await pilot.pause()
        text = screen_text(app.grid)
        assert all(len(line) == app.grid.size.width for line in text)
        assert "lab" in text[0] and "ORPHANED SLAVES" in text[0] and "master plot1" in text[0]
        assert "8 hosts" in text[0]
        body = "\n".join(text[1:])
        assert all(f"plot{i} " in body for i in range(1, 9)), body
        assert cell_text(app.grid, "plot1").split() == ["●", "plot1", "★", "ok"]
        assert cell_text(app.grid, "plot2").split() == ["●", "plot2", "→plot1", "ok"]
        assert cell_text(app.grid, "plot3").split() == ["✖", "plot3", "→plot1", "12s"]
        # The orphan is marked, not only coloured.
        assert cell_text(app.grid, "plot4").split() == ["!●", "plot4", "→plot2", "ok"]
        assert cell_text(app.grid, "plot5").split() == ["●", "plot5", "→plot1", "HUNG"]


async def test_ascii_only_swaps_every_glyph():
    pool = make_pool()
    app = GridApp(HostGrid(ascii_only=True))
    async with app.run_test(size=(80, 24)) as pilot:
        app.grid.update(diagnose([pool], incident(pool), NOW), NOW)
        await pilot.pause()
        assert all(line.isascii() for line in screen_text(app.grid))
        assert cell_text(app.grid, "plot1").split() == ["o", "plot1", "*", "ok"]
        assert cell_text(app.grid, "plot3").split() == ["x", "plot3", "->plot1", "12s"]
        assert cell_text(app.grid, "plot4").split() == ["!o", "plot4", "->plot2", "ok"]
        app.grid.ascii_only = False
        await pilot.pause()
        assert cell_text(app.grid, "plot1").split() == ["●", "plot1", "★", "ok"]


def test_every_state_has_a_glyph_or_word_of_its_own():
    base = HostState("plot9", "10.0.0.9", True, Reach.CONNECTED, Role.SLAVE, "plot1", XapiState.ANSWERING, False,
                     NOW, agrees=True)

    def slot_and_reach(**changes) -> tuple[str, str]:
        content = "".join(text for text, _ in cell_content(replace(base, **changes), NOW, UNICODE))
        return content[1], content.split()[-1]

    assert slot_and_reach(xapi=XapiState.EMERGENCY) == ("●", "EMERG")
    assert slot_and_reach(xapi=XapiState.DOWN) == ("●", "down")
    assert slot_and_reach(xapi=XapiState.STARTING) == ("●", "start")
    assert slot_and_reach(reachable=False, reach=Reach.REFUSED, last_seen=NOW - 300) == ("⊘", "5m")
    assert slot_and_reach(reachable=False, reach=Reach.HOST_KEY_CHANGED, last_seen=None) == ("⚿", "--")
    assert slot_and_reach(reachable=False, reach=Reach.PENDING, last_seen=None)[0] == "…"
    broken = "".join(t for t, _ in cell_content(replace(base, role=Role.BROKEN), NOW, UNICODE))
    assert "✖broken" in broken
    unknown = "".join(t for t, _ in cell_content(replace(base, role=Role.UNKNOWN), NOW, ASCII))
    assert unknown.split()[2] == "?"


names = st.text(st.characters(categories=("L", "N", "P", "S")), min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(name=names, target=st.one_of(st.none(), names), reach=st.sampled_from(Reach), role=st.sampled_from(Role),
       xapi=st.sampled_from(XapiState), agrees=st.booleans(), age=st.one_of(st.none(), st.floats(0, 1e7)),
       ascii_only=st.booleans())
def test_a_cell_is_always_exactly_one_cell_wide(name, target, reach, role, xapi, agrees, age, ascii_only):
    state = HostState(name, "10.0.0.1", reach.reachable, reach, role, target, xapi, None,
                      None if age is None else NOW - age, agrees=agrees)
    content = cell_content(state, NOW, ASCII if ascii_only else UNICODE)
    assert sum(cell_len(text) for text, _ in content) == CELL_WIDTH


async def test_a_hostile_pool_conf_cannot_put_escapes_on_the_screen():
    pool = make_pool()
    obs = healthy([pool], at=NOW)
    obs["plot2"] = connected(pool.hosts[1].name, "slave:\x1b]0;pwned\x07\x1b[2J10.9.9.9", at=NOW)
    app = GridApp()
    async with app.run_test(size=(80, 24)) as pilot:
        app.grid.update(diagnose([pool], obs, NOW), NOW)
        await pilot.pause()
        text = "".join(seg.text for y in range(3) for seg in app.grid.render_line(y))
        assert "\x1b" not in text and "\x07" not in text
        # shown written out (cut to the cell), never sent
        assert cell_text(app.grid, "plot2").split()[:3] == ["!●", "plot2", "→\\x1b]0;pwn…"]


# ---- repainting only what changed --------------------------------------------------------
async def test_an_unchanged_round_repaints_nothing():
    pool = make_pool()
    app = GridApp()
    async with app.run_test(size=(80, 24)) as pilot:
        app.grid.update(diagnose([pool], incident(pool), NOW), NOW)
        await pilot.pause()
        app.grid.stats.reset()
        # A fresh diagnosis of the same facts half a second later: plot3 still "12s".
        app.grid.update(diagnose([pool], incident(pool, NOW), NOW + 0.5), NOW + 0.5)
        await pilot.pause()
        stats = app.grid.stats
        counts = (stats.region_refreshes, stats.full_refreshes, stats.lines_rendered, stats.cells_rendered)
        assert counts == (0, 0, 0, 0)


async def test_a_change_to_one_host_repaints_only_its_cell():
    pool = make_pool()
    app = GridApp()
    async with app.run_test(size=(80, 24)) as pilot:
        obs = incident(pool)
        app.grid.update(diagnose([pool], obs, NOW), NOW)
        await pilot.pause()
        before = {name: cell_text(app.grid, name) for name in ("plot4", "plot5", "plot7")}
        app.grid.stats.reset()
        obs["plot6"] = connected(pool.hosts[5].name, f"slave:{pool.hosts[0].address}", at=NOW, xe=XeCall("hung"))
        app.grid.update(diagnose([pool], obs, NOW), NOW)
        assert app.grid.stats.last_regions == (app.grid.cell_region("plot6"),) == (Region(2 * (CELL_WIDTH + GAP), 2,
                                                                                          CELL_WIDTH, 1),)
        assert app.grid.stats.full_refreshes == 0
        await pilot.pause()
        assert app.grid.stats.cells_rendered == 1
        assert app.grid.stats.lines_rendered == 1
        assert cell_text(app.grid, "plot6").split()[-1] == "HUNG"
        assert {name: cell_text(app.grid, name) for name in before} == before


async def test_time_passing_repaints_only_the_unreachable_hosts_age():
    pool = make_pool()
    app = GridApp()
    async with app.run_test(size=(80, 24)) as pilot:
        app.grid.update(diagnose([pool], incident(pool), NOW), NOW)
        await pilot.pause()
        app.grid.stats.reset()
        app.grid.update(diagnose([pool], incident(pool, NOW), NOW + 3), NOW + 3)
        await pilot.pause()
        assert app.grid.stats.cells_rendered == 1
        assert cell_text(app.grid, "plot3").split()[-1] == "15s"


async def test_a_verdict_change_repaints_the_header_line():
    pool = make_pool()
    app = GridApp()
    async with app.run_test(size=(80, 24)) as pilot:
        app.grid.update(diagnose([pool], healthy([pool], at=NOW), NOW), NOW)
        await pilot.pause()
        assert "HEALTHY" in app.grid.render_line(0).text
        obs = healthy([pool], at=NOW)
        obs["plot1"] = unreachable_since(pool.hosts[0].name, "master", seen=NOW - 4, at=NOW)
        app.grid.update(diagnose([pool], obs, NOW), NOW)
        await pilot.pause()
        assert "MASTER LOST" in app.grid.render_line(0).text
        assert "master none" in app.grid.render_line(0).text


# ---- cursor -----------------------------------------------------------------------------
async def test_keys_move_the_cursor_and_post_selected():
    pool = make_pool()
    app = GridApp()
    async with app.run_test(size=(80, 24)) as pilot:
        app.grid.update(diagnose([pool], healthy([pool], at=NOW), NOW), NOW)
        app.grid.focus()
        await pilot.pause()
        assert app.grid.cursor == "plot1"
        # Three cells per row at 80 columns: plot1-3, plot4-6, plot7-8.
        for key, expected in [("right", "plot2"), ("down", "plot5"), ("j", "plot8"), ("k", "plot5"), ("l", "plot6"),
                              ("h", "plot5"), ("end", "plot8"), ("home", "plot1"), ("left", "plot1"),
                              ("G", "plot8"), ("g", "plot1"), ("down", "plot4"), ("down", "plot7"),
                              ("down", "plot7"), ("up", "plot4")]:
            await pilot.press(key)
            assert app.grid.cursor == expected, key
        await pilot.pause()
        assert app.selected == ["plot1", "plot2", "plot5", "plot8", "plot5", "plot6", "plot5", "plot8", "plot1",
                                "plot8", "plot1", "plot4", "plot7", "plot4"]
        await pilot.press("enter")
        await pilot.pause()
        assert app.opened == ["plot4"]


async def test_the_selected_cell_is_drawn_in_reverse_video():
    pool = make_pool()
    app = GridApp()
    async with app.run_test(size=(80, 24)) as pilot:
        app.grid.update(diagnose([pool], healthy([pool], at=NOW), NOW), NOW)
        app.grid.focus()
        await pilot.press("right")
        strip = app.grid.render_line(1)
        reversed_text = "".join(seg.text for seg in strip if seg.style and seg.style.reverse)
        assert reversed_text.split() == ["●", "plot2", "→plot1", "ok"]


async def test_cursor_crosses_pools_and_a_click_selects():
    lab, prod = make_pool("lab", 4), make_pool("prod", 2, prefix="prod", net=1)
    app = GridApp()
    async with app.run_test(size=(80, 24)) as pilot:
        obs = healthy([lab, prod], at=NOW)
        app.grid.update(diagnose([lab, prod], obs, NOW), NOW)
        app.grid.focus()
        await pilot.pause()
        text = screen_text(app.grid)
        assert text[0].startswith("─ lab ") and text[3].startswith("─ prod ")
        await pilot.press("down", "down")
        assert app.grid.cursor == "prod1"
        await pilot.press("right", "up")
        assert app.grid.cursor == "plot4"
        await pilot.click(HostGrid, offset=(CELL_WIDTH + GAP + 3, 4))
        assert app.grid.cursor == "prod2"


async def test_a_thousand_hosts_scroll_with_the_cursor():
    pool = make_pool("big", 1000, prefix="h")
    app = GridApp()
    async with app.run_test(size=(80, 24)) as pilot:
        app.grid.update(diagnose([pool], healthy([pool], at=NOW), NOW), NOW)
        app.grid.focus()
        await pilot.pause()
        await pilot.press("end")
        await pilot.pause()
        assert app.grid.cursor == "h1000"
        assert app.grid.scroll_y > 300
        assert any("h1000" in line for line in screen_text(app.grid))
        await pilot.press("pageup")
        await pilot.pause()
        line = app.grid.cell_region(app.grid.cursor).y
        assert line == app.grid.cell_region("h1000").y - (app.grid.size.height - 1)
        assert app.grid.scroll_y <= line < app.grid.scroll_y + app.grid.size.height
        await pilot.press("home")
        await pilot.pause()
        assert app.grid.scroll_y == 0 and app.grid.cursor == "h1"


# ---- filter -----------------------------------------------------------------------------
async def test_filter_terms_narrow_the_grid_and_say_so():
    pool = make_pool()
    app = GridApp()
    async with app.run_test(size=(80, 24)) as pilot:
        obs = incident(pool)
        app.grid.update(diagnose([pool], obs, NOW), NOW)
        await pilot.pause()
        app.grid.set_filter("role:master")
        await pilot.pause()
        assert (app.grid.shown, app.grid.total) == (1, 8)
        assert "1/8 shown" in app.grid.render_line(0).text
        assert app.grid.cursor == "plot1"
        app.grid.set_filter("state:down")
        await pilot.pause()
        assert app.grid.cursor == "plot3" and app.grid.shown == 1
        app.grid.set_filter("state:disagree")
        assert app.grid.cursor == "plot4"
        app.grid.set_filter("xapi:hung pool:la")
        assert app.grid.cursor == "plot5" and app.grid.shown == 1
        app.grid.set_filter("pool:elsewhere")
        await pilot.pause()
        assert app.grid.shown == 0 and app.grid.cursor is None
        assert "0/8 shown" in app.grid.render_line(0).text
        app.grid.set_filter("")
        await pilot.pause()
        assert app.grid.shown == 8 and "8 hosts" in app.grid.render_line(0).text


async def test_a_filtered_grid_follows_hosts_that_start_or_stop_matching():
    pool = make_pool()
    app = GridApp()
    async with app.run_test(size=(80, 24)) as pilot:
        obs = incident(pool)
        app.grid.update(diagnose([pool], obs, NOW), NOW)
        app.grid.set_filter("state:down")
        obs["plot6"] = unreachable_since(pool.hosts[5].name, f"slave:{pool.hosts[0].address}", seen=NOW - 2, at=NOW)
        app.grid.update(diagnose([pool], obs, NOW), NOW)
        await pilot.pause()
        assert app.grid.shown == 2
        assert "plot6" in app.grid.render_line(1).text and "2/8 shown" in app.grid.render_line(0).text


def test_filter_parsing_and_matching():
    assert parse_filter("Role:Master  plot") == (("role", "master"), ("", "plot"))
    assert parse_filter("colour:red") == (("", "colour:red"),)
    state = HostState("plot3", "10.0.0.3", False, Reach.REFUSED, Role.SLAVE, "plot1", XapiState.UNKNOWN, None,
                      NOW, agrees=True, stale=True)
    assert matches(parse_filter("state:down"), state, "lab")
    assert matches(parse_filter("state:ref role:sl pool:la 10.0.0"), state, "lab")
    assert not matches(parse_filter("state:up"), state, "lab")
    assert not matches(parse_filter("pool:prod"), state, "lab")


# ---- theme ------------------------------------------------------------------------------
@pytest.mark.parametrize("theme_colour", [None, "#123456"])
async def test_colours_come_from_the_theme_variables(theme_colour):
    pool = make_pool()
    app = GridApp()
    async with app.run_test(size=(80, 24)) as pilot:
        app.grid.update(diagnose([pool], healthy([pool], at=NOW), NOW), NOW)
        await pilot.pause()
        app.grid.render_line(1)  # drawn in the default theme first: the switch must redraw it
        variables = {"host-up": theme_colour} if theme_colour else {}
        app.register_theme(Theme("grid-test", primary="#0000aa", success="#00aa00", variables=variables))
        app.theme = "grid-test"
        await pilot.pause()
        strip = app.grid.render_line(1)
        glyph = next(seg for seg in list(strip)[1:] if seg.text == "●")
        expected = Color.parse(theme_colour or app.theme_variables["success"]).rich_color
        assert glyph.style.color == expected
