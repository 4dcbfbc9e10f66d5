"""HA in the console: the grid's per-host HA marks, the pool header's HA summary, teaching mode's
advice for the HA verdicts, the help line. Driven under Textual's pilot with real diagnoses from
poolterm.diagnosis.diagnose, as tests/app/test_grid.py drives the grid."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from textual.app import App, ComposeResult
from textual.color import Color
from textual.theme import Theme

from poolterm.diagnosis.diagnose import HA_ELECTION_SLACK, diagnose
from poolterm.diagnosis.explain import explain, first_sentence
from poolterm.model import HostState, Observation, Reach, Role, Verdict, XapiState, XeCall
from poolterm.probing.source import StaticSource
from poolterm.ui.drill_coach import DrillCoach
from poolterm.ui.grid import ASCII, CELL_WIDTH, UNICODE, HostGrid, cell_content, matches, parse_filter
from poolterm.ui.theme_vars import with_host_defaults
from poolterm.xha import Liveset, Peer
from tests.helpers.factories import Pool, connected, healthy, numbered_pool, slave_conf, unreachable_since
from tests.helpers.pilot import plain, wait_for
from tests.helpers.static_console import FIXED_WALL

NOW = 1000.0
T = 10.0
POOL: Pool = numbered_pool("lab", 8, lambda i: f"10.0.0.{i}")
NAMES = [h.name for h in POOL.hosts]
MASTER = POOL.hosts[0].address


# ---- pools ---------------------------------------------------------------------------------
def armed(obs: Observation, *, enabled: bool | None = True, **fields) -> Observation:
    return replace(obs, ha_armed=True, ha_timeout=T, pool_ha_enabled=enabled, pool_ha_tolerate=1, **fields)


def ha_pool() -> dict[str, Observation]:
    """Every host armed, the pool record (through each host's master) says HA on, tolerating 1."""
    return {name: armed(obs) for name, obs in healthy([POOL], at=NOW).items()}


def with_plot4_fenced(obs: dict[str, Observation]) -> dict[str, Observation]:
    """plot4 unreachable for 30 s, armed when last seen; plot2's xhad no longer counts it live."""
    obs = dict(obs)
    obs["plot4"] = replace(unreachable_since("plot4", slave_conf(MASTER), seen=NOW - 30, at=NOW),
                           stale=armed(connected("plot4", slave_conf(MASTER), at=NOW - 30)))
    peers = tuple(Peer(f"uuid-{n}", n != "plot4", n == "plot1", True, False) for n in NAMES)
    obs["plot2"] = replace(obs["plot2"], ha_live=Liveset("uuid-plot2", True, peers, False))
    return obs


def failover(lost_for: float) -> dict[str, Observation]:
    """Master plot1 (armed) lost ``lost_for`` seconds ago; the slaves' forwarded calls hang, so no
    host answers for the pool record."""
    obs = ha_pool()
    obs["plot1"] = replace(unreachable_since("plot1", "master", seen=NOW - lost_for, at=NOW),
                           stale=armed(connected("plot1", "master", at=NOW - lost_for), enabled=None))
    for name in NAMES[1:]:
        obs[name] = replace(obs[name], xe=XeCall("hung"), pool_ha_enabled=None)
    return obs


def handover() -> dict[str, Observation]:
    """pool-designate-new-master to plot3 12 s ago: plot3's xapi restarts, the others wait for it."""
    obs = {"plot3": connected("plot3", "master", at=NOW, xapi_service="inactive",
                              xe=XeCall("refused", "", "XAPI_NOT_RUNNING"), conf_changed_at=NOW - 12,
                              conf_before=slave_conf(MASTER))}
    for name in NAMES:
        if name != "plot3":
            obs[name] = connected(name, slave_conf("10.0.0.3"), at=NOW, emergency_flag=True,
                                  xe=XeCall("failed", "", "HOST_STILL_BOOTING"), conf_changed_at=NOW - 12,
                                  conf_before="master" if name == "plot1" else slave_conf(MASTER))
    return obs


def pool_of(obs: dict[str, Observation]):
    return diagnose([POOL], obs, NOW)


# ---- the grid alone ----------------------------------------------------------------------
class GridApp(App):
    def __init__(self, grid: HostGrid | None = None):
        super().__init__()
        self.grid = grid or HostGrid()

    def get_css_variables(self) -> dict[str, str]:
        return with_host_defaults(super().get_css_variables())

    def compose(self) -> ComposeResult:
        yield self.grid


def screen_text(grid: HostGrid) -> list[str]:
    return [grid.render_line(y).text for y in range(grid.size.height)]


def cell_text(grid: HostGrid, name: str) -> str:
    region = grid.cell_region(name)
    return grid.render_line(region.y - int(grid.scroll_y)).text[region.x:region.right]


def header(grid: HostGrid) -> str:
    return grid.render_line(0).text


async def test_every_host_of_an_ha_pool_is_marked_armed_and_the_header_says_ha_on():
    app = GridApp()
    async with app.run_test(size=(80, 24)) as pilot:
        app.grid.update(pool_of(ha_pool()), NOW)
        await pilot.pause()
        assert cell_text(app.grid, "plot1").split() == ["●", "plot1", "★", "HA", "ok"]
        for name in NAMES[1:]:
            assert cell_text(app.grid, name).split() == ["●", name, "→plot1", "HA", "ok"]
        assert header(app.grid).startswith("─ lab HEALTHY ─ master plot1 ─ 8 hosts ─ HA on · armed 8/8 · "
                                           "tolerates 1 ─")
        assert all(len(line) == app.grid.size.width for line in screen_text(app.grid))


async def test_ascii_mode_shows_the_same_words_in_ascii():
    app = GridApp(HostGrid(ascii_only=True))
    async with app.run_test(size=(100, 24)) as pilot:
        app.grid.update(pool_of(with_plot4_fenced(ha_pool())), NOW)
        await pilot.pause()
        assert all(line.isascii() for line in screen_text(app.grid))
        assert cell_text(app.grid, "plot2").split() == ["o", "plot2", "->plot1", "HA", "ok"]
        assert cell_text(app.grid, "plot4").split()[-2:] == ["FENCED", "30s"]
        assert "- HA on | armed 7/8 | fenced 1 | tolerates 1 -" in header(app.grid)


async def test_a_host_dropped_from_the_liveset_is_fenced_and_a_disarmed_one_says_so():
    obs = with_plot4_fenced(ha_pool())
    obs["plot6"] = replace(obs["plot6"], ha_armed=False)
    app = GridApp()
    async with app.run_test(size=(100, 24)) as pilot:
        app.grid.update(pool_of(obs), NOW)
        await pilot.pause()
        # The name stays whole; the target yields room to the mark.
        assert cell_text(app.grid, "plot4").split() == ["✖", "plot4", "→pl…", "FENCED", "30s"]
        assert cell_text(app.grid, "plot6").split() == ["●", "plot6", "→plot1", "noHA", "ok"]
        assert cell_text(app.grid, "plot5").split() == ["●", "plot5", "→plot1", "HA", "ok"]
        assert "HA on · armed 6/8 · fenced 1 · tolerates 1" in header(app.grid)
        app.grid.set_filter("ha:fenced")
        await pilot.pause()
        assert app.grid.cursor == "plot4" and app.grid.shown == 1
        app.grid.set_filter("ha:off")
        assert app.grid.cursor == "plot6" and app.grid.shown == 1


async def test_the_marks_take_the_theme_colours_of_up_warn_and_down():
    obs = with_plot4_fenced(ha_pool())
    obs["plot6"] = replace(obs["plot6"], ha_armed=False)
    colours = {"host-up": "#102030", "host-warn": "#405060", "host-down": "#708090"}
    app = GridApp()
    async with app.run_test(size=(80, 24)) as pilot:
        app.register_theme(Theme("ha-test", primary="#0000aa", variables=colours))
        app.theme = "ha-test"
        app.grid.update(pool_of(obs), NOW)
        await pilot.pause()

        def colour_of(name: str, word: str):
            region = app.grid.cell_region(name)
            strip = app.grid.render_line(region.y).crop(region.x, region.right)
            return next(seg.style.color for seg in strip if seg.text.strip() == word)

        assert colour_of("plot5", "HA") == Color.parse(colours["host-up"]).rich_color
        assert colour_of("plot6", "noHA") == Color.parse(colours["host-warn"]).rich_color
        assert colour_of("plot4", "FENCED") == Color.parse(colours["host-down"]).rich_color


async def test_a_pool_without_ha_looks_exactly_as_before():
    never = healthy([POOL], at=NOW)  # HA never seen: every ha field None
    switched_off = {n: replace(o, ha_armed=False, pool_ha_enabled=False, ha_timeout=T) for n, o in never.items()}
    screens = []
    for obs in (never, switched_off):
        app = GridApp()
        async with app.run_test(size=(80, 24)) as pilot:
            app.grid.update(pool_of(obs), NOW)
            await pilot.pause()
            screens.append(screen_text(app.grid))
    assert pool_of(switched_off).pools[0].ha is not None  # HA was seen, and is off everywhere
    assert screens[0] == screens[1]
    assert not any("HA" in line or "noHA" in line or "FENCED" in line for line in screens[0]), screens[0]
    assert screens[0][0].startswith("─ lab HEALTHY ─ master plot1 ─ 8 hosts ───")


async def test_an_ha_mark_that_changes_repaints_that_cell_and_the_header_only():
    app = GridApp()
    async with app.run_test(size=(80, 24)) as pilot:
        obs = ha_pool()
        app.grid.update(pool_of(obs), NOW)
        await pilot.pause()
        app.grid.stats.reset()
        # The same facts again: nothing is redrawn.
        app.grid.update(pool_of(ha_pool()), NOW + 0.5)
        await pilot.pause()
        stats = app.grid.stats
        counts = (stats.region_refreshes, stats.full_refreshes, stats.cells_rendered, stats.lines_rendered)
        assert counts == (0, 0, 0, 0)
        before = {name: cell_text(app.grid, name) for name in NAMES if name != "plot5"}
        # Only plot5's HA changes (disarmed): its cell says so, its neighbours are not redrawn.
        obs["plot5"] = replace(obs["plot5"], ha_armed=False)
        app.grid.update(pool_of(obs), NOW)
        assert app.grid.stats.last_regions == (app.grid.cell_region("plot5"),)
        assert app.grid.stats.full_refreshes == 0
        await pilot.pause()
        assert app.grid.stats.cells_rendered == 1
        assert cell_text(app.grid, "plot5").split()[-2:] == ["noHA", "ok"]
        assert "armed 7/8" in header(app.grid) and "DEGRADED" in header(app.grid)
        assert {name: cell_text(app.grid, name) for name in before} == before
        # Armed again: back to HA, again one cell.
        app.grid.stats.reset()
        obs["plot5"] = replace(obs["plot5"], ha_armed=True)
        app.grid.update(pool_of(obs), NOW)
        await pilot.pause()
        assert app.grid.stats.cells_rendered == 1
        assert cell_text(app.grid, "plot5").split()[-2:] == ["HA", "ok"]
        assert "HEALTHY" in header(app.grid) and "armed 8/8" in header(app.grid)


async def test_a_failover_header_says_ha_unknown_and_a_narrow_grid_drops_whole_parts():
    diagnosis = pool_of(failover(4))
    assert diagnosis.verdict is Verdict.HA_FAILOVER
    app = GridApp()
    async with app.run_test(size=(120, 24)) as pilot:
        app.grid.update(diagnosis, NOW)
        await pilot.pause()
        assert header(app.grid).startswith("─ lab HA FAILOVER ─ master none ─ 8 hosts ─ HA ? · armed 8/8 "
                                           "(no master answers) ─")
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: app.grid.size.width == 80, what="the grid at 80 columns")
        line = header(app.grid)
        # At 80 columns the explanation yields, whole: no word is cut.
        assert line.startswith("─ lab HA FAILOVER ─ master none ─ 8 hosts ─ HA ? · armed 8/8 ─")
        assert "(no" not in line
        await pilot.resize_terminal(45, 24)
        await wait_for(pilot, lambda: app.grid.size.width == 45, what="the grid at 45 columns")
        assert "HA ?" not in header(app.grid) and header(app.grid).startswith("─ lab HA FAILOVER ─ master none")


async def test_ha_off_in_the_pool_record_with_hosts_still_armed_is_said():
    obs = {n: replace(o, pool_ha_enabled=False) for n, o in ha_pool().items()}
    app = GridApp()
    async with app.run_test(size=(100, 24)) as pilot:
        app.grid.update(pool_of(obs), NOW)
        await pilot.pause()
        assert "─ HA off · armed 8/8 · tolerates 1 ─" in header(app.grid)


names = st.text(st.characters(categories=("L", "N", "P", "S")), min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(name=names, target=st.one_of(st.none(), names), reach=st.sampled_from(Reach), role=st.sampled_from(Role),
       xapi=st.sampled_from(XapiState), age=st.one_of(st.none(), st.floats(0, 1e7)),
       ha=st.sampled_from([None, "armed", "disarmed", "fenced"]), ascii_only=st.booleans())
def test_a_marked_cell_is_still_exactly_one_cell_wide(name, target, reach, role, xapi, age, ha, ascii_only):
    state = HostState(name, "10.0.0.1", reach.reachable, reach, role, target, xapi, None,
                      None if age is None else NOW - age, ha=ha)
    content = cell_content(state, NOW, ASCII if ascii_only else UNICODE)
    assert sum(cell_len(text) for text, _ in content) == CELL_WIDTH
    words = "".join(text for text, _ in content).split()
    assert ({"armed": "HA", "disarmed": "noHA", "fenced": "FENCED"}.get(ha) in words) is (ha is not None)


def test_the_ha_filter_matches_by_prefix():
    state = HostState("plot4", "10.0.0.4", False, Reach.TIMEOUT, Role.SLAVE, "plot1", XapiState.UNKNOWN, None,
                      NOW, ha="fenced")
    assert matches(parse_filter("ha:fen"), state, "lab")
    assert not matches(parse_filter("ha:armed"), state, "lab")
    assert matches(parse_filter("ha:none"), replace(state, ha=None), "lab")
    assert matches(parse_filter("ha:off"), replace(state, ha="disarmed"), "lab")


# ---- the console: live updates, teaching, help ------------------------------------------------
class SettableSource(StaticSource):
    """A static source whose diagnosis a test replaces, as a new probe round would."""

    def set(self, obs: dict[str, Observation]) -> None:
        self._observations = dict(obs)
        self._diagnosis = pool_of(obs)


def console(obs: dict[str, Observation], **kwargs):
    from poolterm.ui.app import PoolApp

    source = SettableSource(pool_of(obs), obs, now=NOW)
    return PoolApp(source=source, theme="poolterm-dark", clock=lambda: FIXED_WALL, **kwargs), source


async def test_the_console_follows_a_host_being_fenced():
    app, source = console(ha_pool())
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        assert cell_text(app.grid, "plot4").split()[-2:] == ["HA", "ok"]
        assert "HA on · armed 8/8 · tolerates 1" in header(app.grid)
        source.set(with_plot4_fenced(ha_pool()))
        app.recompute.request()
        await wait_for(pilot, lambda: "FENCED" in cell_text(app.grid, "plot4"), what="plot4 marked FENCED")
        assert "armed 7/8 · fenced 1" in header(app.grid)
        assert cell_text(app.grid, "plot3").split()[-2:] == ["HA", "ok"]


async def test_teaching_a_failover_says_wait_and_why_not_to_promote():
    app, _ = console(failover(4))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("t")
        await pilot.pause()
        text = app.playbook_panel.text
        assert app.banner.headline == "HA FAILOVER"
        assert "Next key: none: HA elects the new master by itself" in text
        assert "an armed host refuses, and one disarmed to force it becomes a second master when HA's choice " \
               "comes up" in text
        assert "under HA that fences (reboots) the host" in text
        careful = explain(Verdict.HA_FAILOVER).careful
        assert careful.startswith("Do not promote a host by hand: an armed host refuses")
        assert f"Careful: {careful}" in text
        meaning = explain(Verdict.HA_FAILOVER).meaning
        assert app.banner.text.splitlines()[-1] == f"In plain words: {first_sentence(meaning)}"
        assert "R starts" not in text


async def test_teaching_a_handover_says_touch_nothing():
    app, _ = console(handover())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("t")
        await pilot.pause()
        assert app.banner.headline == "HANDOVER IN PROGRESS"
        text = app.playbook_panel.text
        assert "Next key: none: the master change finishes by itself" in text and "touch nothing" in text
        assert f"Careful: {explain(Verdict.HANDOVER).careful}" in text


async def test_teaching_ha_stuck_points_at_its_playbook_and_its_order():
    app, _ = console(failover(T + HA_ELECTION_SLACK + 5))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("t")
        await pilot.pause()
        assert app.banner.headline == "HA STUCK"
        text = app.playbook_panel.text
        assert "Next key: none here: playbook ha-stuck fixes this" in text
        assert "It disarms HA on every surviving host first, promotes exactly one" in text
        assert f"Careful: {explain(Verdict.HA_STUCK).careful}" in text


async def test_the_help_screen_explains_the_ha_marks():
    app, _ = console(ha_pool())
    async with app.run_test(size=(120, 50)) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: app.screen.id == "help", what="the help screen")
        legend = plain(app.screen.query_one("#help-legend"), width=300)
        assert "HA marks" in legend and "noHA disarmed" in legend and "FENCED dropped" in legend
        assert "HA FAILOVER" in legend and "HA STUCK" in legend


def test_a_drill_hint_says_to_wait_out_a_failover():
    shown = []
    app = SimpleNamespace(drill_changed=lambda: shown.append(True))
    coach = DrillCoach(app, SimpleNamespace(name="master-crash", delay=1.0), sim=None)
    coach.state.stage = "live"
    coach.verdict(Verdict.MASTER_LOST)
    assert coach.hint() == "DRILL master-crash: recover the pool" and not shown
    coach.verdict(Verdict.HA_FAILOVER)
    assert coach.hint() == ("DRILL master-crash: recover the pool (HA is electing a master: wait, do not promote "
                            "or restart a toolstack)") and shown
    coach.verdict(Verdict.HA_STUCK)
    assert "playbook ha-stuck" in coach.hint()
