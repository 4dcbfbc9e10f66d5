"""The fleet view: with many pools the console opens on one row per pool, the worst on top.

Fifty pools of four hosts on fixed diagnoses (the real diagnose): lab37 lost its master,
lab12 has a slave down. Read back from the screen the console draws, at 80×24.
"""

from __future__ import annotations

from datetime import datetime

from poolterm.model import Verdict
from poolterm.ui.app import PoolApp
from poolterm.ui.fleet import FleetTable
from tests.helpers.fleet import fleet_diagnosis, fleet_pools, fleet_source
from tests.helpers.pilot import wait_for

SMALL = (80, 24)
BROKEN = dict(lost_master=("lab37",), down_slave=("lab12",))


def make_app(**broken) -> PoolApp:
    return PoolApp(source=fleet_source(50, 4, **broken), clock=lambda: datetime(2026, 3, 14, 9, 26, 53))


def rows_on_screen(app: PoolApp) -> list[str]:
    table = app.fleet
    return [table.render_line(y).text for y in range(table.size.height)]


async def test_fifty_pools_open_on_the_fleet_rows_worst_first_at_80x24():
    app = make_app(**BROKEN)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        assert app.fleet.display and not app.grid.display
        assert app.focused is app.fleet
        order = app.fleet.order
        assert len(order) == 50
        assert order[:2] == ["lab37", "lab12"]
        assert sorted(order[2:]) == order[2:]  # the healthy ones in inventory order
        screen = rows_on_screen(app)
        assert screen[0].split()[:3] == ["VERDICT", "POOL", "MASTER"]
        assert "MASTER LOST" in screen[1] and "lab37" in screen[1] and "0/4 up" not in screen[1]
        assert "3/4 up" in screen[1] and "Master plot145 is lost" in screen[1]
        assert "DEGRADED" in screen[2] and "lab12" in screen[2] and "3/4 up" in screen[2]
        assert {len(line) for line in screen} == {app.fleet.scrollable_content_region.width}
        assert app.fleet.size.height >= 6, "the fleet has too little room at 80x24"
        where = app.banner.where
        assert app.banner.headline == "MASTER LOST"
        assert where.startswith("pool lab37 · +49 pools, 1 not healthy: lab12 DEGRADED"), where


async def test_enter_zooms_into_the_pool_and_escape_comes_back():
    app = make_app(**BROKEN)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        await pilot.press("down")
        assert app.fleet.cursor == "lab12"
        await wait_for(pilot, lambda: app.selected == "plot45", what="the side panel's host: lab12's master")
        await pilot.press("enter")
        assert app.zoomed == "lab12" and app.grid.display and not app.fleet.display
        assert app.focused is app.grid
        assert [p.diagnosis.name for p in app.grid._pools] == ["lab12"]
        assert app.grid.total == 4
        await pilot.press("escape")
        assert app.zoomed is None and app.fleet.display and app.focused is app.fleet
        assert app.fleet.cursor == "lab12", "the cursor went back elsewhere than the pool just left"


async def test_a_filter_then_escape_clears_the_filter_first_then_leaves_the_pool():
    app = make_app(**BROKEN)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        assert app.zoomed == "lab37"
        await pilot.press("slash", *"plot146", "enter")
        assert app.grid.shown == 1 and app.grid.total == 4
        await pilot.press("escape")
        assert app.filter_text == "" and app.zoomed == "lab37"
        await pilot.press("escape")
        assert app.zoomed is None


async def test_slash_filters_pools_by_name_verdict_or_a_host_they_hold():
    app = make_app(**BROKEN)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        await pilot.press("slash", *"lab4", "enter")
        assert app.fleet.order == [f"lab{i}" for i in range(40, 50)]
        await pilot.press("escape")
        assert len(app.fleet.order) == 50
        await pilot.press("slash", *"plot150")
        await pilot.pause()
        assert app.fleet.order == ["lab38"]
        app.filter_text = "state:down"
        await pilot.pause()
        assert app.fleet.order == ["lab37", "lab12"]
        app.filter_text = "master lost"
        await pilot.pause()
        assert app.fleet.order == ["lab37"]


async def test_a_pool_that_breaks_moves_to_the_top_and_only_changed_rows_repaint():
    pools = fleet_pools(50, 4)
    app = PoolApp(source=fleet_source(50, 4))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        assert app.diagnosis.verdict is Verdict.HEALTHY and app.fleet.order[0] == "lab01"
        table: FleetTable = app.fleet
        table.stats.rows_refreshed = table.stats.full_refreshes = 0
        app._show(fleet_diagnosis(pools, down_slave=("lab20",))[0])
        assert table.order[0] == "lab20" and table.stats.full_refreshes == 1
        assert table.cursor == "lab20", "the cursor, never moved, follows the worst pool"
        before = table.stats.full_refreshes
        app._show(fleet_diagnosis(pools, down_slave=("lab20",), at=1003.0)[0])
        assert table.stats.full_refreshes == before, "the same order was laid out again"
        await pilot.press("down", "down")
        app._show(fleet_diagnosis(pools, down_slave=("lab20", "lab30"))[0])
        assert table.order[:2] == ["lab20", "lab30"] and table.cursor == "lab02", "a moved cursor stays put"
