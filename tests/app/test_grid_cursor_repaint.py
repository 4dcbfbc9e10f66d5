"""What the grid repaints for a key press and for a diagnosis that brings nothing new.

An arrow key must cost one grid line in the next frame, not the whole grid: at a
thousand hosts the frame that shows the moved cursor is what the operator waits for.
"""

from __future__ import annotations

from textual.app import App, ComposeResult

from poolterm.diagnosis.diagnose import diagnose
from poolterm.ui.grid import CELL_WIDTH, GAP, HostGrid
from poolterm.ui.theme_vars import with_host_defaults
from tests.helpers.factories import healthy, numbered_pool, unreachable_after

NOW = 1000.0
POOL = numbered_pool("lab", 40, lambda i: f"10.0.0.{i}")


class GridApp(App):
    def __init__(self) -> None:
        super().__init__()
        self.grid = HostGrid()

    def get_css_variables(self) -> dict[str, str]:
        return with_host_defaults(super().get_css_variables())

    def compose(self) -> ComposeResult:
        yield self.grid


async def test_an_arrow_key_repaints_the_line_of_the_two_cells_only():
    app = GridApp()
    async with app.run_test(size=(4 * (CELL_WIDTH + GAP), 12)) as pilot:
        app.grid.update(diagnose([POOL], healthy([POOL], at=NOW), NOW), NOW)
        await pilot.pause()
        assert app.grid.cursor == "plot1"
        app.grid.stats.reset()
        await pilot.press("right")
        await pilot.pause()
        stats = app.grid.stats
        assert app.grid.cursor == "plot2"
        assert stats.full_refreshes == 0, "the cursor move repainted the whole grid"
        assert stats.lines_refreshed == 1 and stats.lines_rendered == 1 and stats.cells_rendered == 2


async def test_the_same_state_again_repaints_nothing_but_an_unreachable_hosts_age_still_moves():
    app = GridApp()
    observations = healthy([POOL], at=NOW)
    observations["plot2"] = unreachable_after(observations["plot2"], at=NOW)
    diagnosis = diagnose([POOL], observations, NOW)
    async with app.run_test(size=(4 * (CELL_WIDTH + GAP), 12)) as pilot:
        app.grid.update(diagnosis, NOW)
        await pilot.pause()
        app.grid.stats.reset()
        app.grid.update(diagnosis, NOW + 0.5)  # same objects, same second: nothing to draw
        assert app.grid.stats.region_refreshes == app.grid.stats.full_refreshes == 0
        app.grid.update(diagnosis, NOW + 5)  # same objects, but plot2's age went from 0s to 5s
        await pilot.pause()
        assert app.grid.stats.last_regions == (app.grid.cell_region("plot2"),)
        region = app.grid.cell_region("plot2")
        assert app.grid.render_line(region.y).text[region.x:region.right].rstrip().endswith("5s")
