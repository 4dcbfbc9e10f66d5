"""SVG snapshots of the key screens (pytest-textual-snapshot).

Deterministic by construction: a fixed diagnosis built by the real probe
parser and ``diagnose`` from hand-made probe output at fixed times, a fixed
wall clock for log stamps, no SSH, no cursor blink. Update after a reviewed
change with ``pytest tests/app/test_snapshots.py --snapshot-update``, then regenerate the
README's pictures, drawn by the same code (tests/helpers/screens.py), with
``python scripts/pictures.py``.
"""

from __future__ import annotations

import pytest

from tests.helpers.screens import fleet_settled, settle
from tests.helpers.static_console import make_static_app

SIZES = {"80x24": (80, 24), "160x48": (160, 48)}
THEMES = ("poolterm-dark", "poolterm-colorblind")


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("scenario", ["healthy", "master-lost", "split-brain"])
def test_main_screen(snap_compare, scenario, size, theme):
    app = make_static_app(scenario, theme=theme)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=settle)


def test_detail_of_the_best_candidate(snap_compare):
    """Master lost, plot2 selected: its evidence and the candidate ranking with plot2 first."""
    app = make_static_app("master-lost")

    async def open_plot2(pilot):
        await settle(pilot)
        await pilot.press("right", "d")
        await settle(pilot)

    assert snap_compare(app, terminal_size=(100, 40), run_before=open_plot2)


def test_help_screen(snap_compare):
    app = make_static_app("master-lost", read_only=True)

    async def open_help(pilot):
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)

    assert snap_compare(app, terminal_size=(100, 40), run_before=open_help)


def test_filtered_grid_ascii(snap_compare):
    """A filter in use is visible in the banner and the grid header; ASCII glyphs only."""
    app = make_static_app("master-lost", ascii_only=True)

    async def filter_hung(pilot):
        await settle(pilot)
        await pilot.press("slash", *"xapi:hung", "enter")
        await settle(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=filter_hung)


@pytest.mark.parametrize("size", SIZES)
def test_fleet_view(snap_compare, size):
    """Fifty pools: the one that lost its master on top, the degraded one next, the banner counting the rest."""
    app = make_static_app("fleet")
    assert snap_compare(app, terminal_size=SIZES[size], run_before=fleet_settled)
