"""The console's screens on the fixed states, as the snapshot tests check them and the README shows them.

The snapshot tests (tests/app/test_snapshots.py) and the README's pictures (docs/pictures/,
written by ``python scripts/pictures.py``, checked by tests/app/test_pictures.py) build the
console the same way, :func:`tests.helpers.static_console.make_static_app`, and let it settle
the same way, :func:`settle`: a picture cannot show a state the snapshots do not check.
"""

from __future__ import annotations

import asyncio
import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable

from tests.helpers.static_console import make_static_app

#: The README's pictures: 120 columns fill a GitHub page's text column and stay readable there.
PICTURE_SIZE = (120, 36)
PICTURE_THEME = "poolterm-dark"
#: The run id a picture's playbook run shows (a real run draws a random one).
PICTURE_RUN = "3f9c2a7e5b1d"


async def settle(pilot) -> None:
    """Let deferred layout (the grid's height follows its line count) finish, blink nothing."""
    from textual.widgets import Input

    for widget in pilot.app.query(Input):
        widget.cursor_blink = False
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


async def start_recommended_playbook(pilot) -> None:
    """The console a moment after R started the verdict's playbook: the panel on its first step.

    A static view cannot run a playbook (it has no SSH to send the first command with), so
    this stands in for the runner as far as its first decision: the real engine plans the
    playbook on the static diagnosis and decides; its events go through the panel's reducer
    (:meth:`PlaybookProgress.apply`) into the panel and the log, the way
    :class:`poolterm.ui.playbook_runs.PlaybookRuns` sends them; and a worker stands for the
    run waiting for the operator to confirm that command, so the banner, the badges and the
    keys show a run in progress."""
    from poolterm.playbooks import load_playbook
    from poolterm.playbooks.conditions import PoolView
    from poolterm.playbooks.engine import Engine, Plan, RunCommand, expand, plan
    from poolterm.playbooks.runner import PlaybookStarted, StepEvent
    from poolterm.ui.playbook_progress import PlaybookProgress

    app = pilot.app
    await settle(pilot)
    pool = app.recommended_pool()
    assert pool is not None, "no verdict here recommends a playbook"
    now = app.source.now()
    view = PoolView(pool, dict(app.source.observations))
    planned = plan(load_playbook(pool.playbook), view)
    assert isinstance(planned, Plan), planned
    playbook, bindings = expand(load_playbook(pool.playbook), planned.bindings)
    engine = Engine(playbook, bindings, now=now)
    first = engine.decide(view, now)
    assert isinstance(first, RunCommand), first  # the command the operator is asked to confirm

    progress = app.playbook_panel.progress = PlaybookProgress(playbook, pool.name)
    app.log_pane.append(None, "info", f"playbook {playbook.id} on pool {pool.name}: {playbook.title}",
                        at=app.clock())
    events = [PlaybookStarted(PICTURE_RUN, playbook, pool.name, dict(bindings))]
    events += [StepEvent(notice, len(playbook.steps)) for notice in engine.drain()]
    for event in events:
        for line in progress.apply(event, engine).lines:
            app.log_pane.append(line.host, line.stream, line.text, at=app.clock() if line.stamped else None)
    app.playbooks.worker = app.run_worker(asyncio.Event().wait(), group="playbook", exit_on_error=False,
                                          description="playbook")
    app.after_run_change()
    app.playbook_panel.redraw()
    await settle(pilot)
    app.playbook_panel.redraw()  # measured against the laid-out column, as after a resize
    await settle(pilot)


def selecting(host: str) -> Callable[..., Awaitable[None]]:
    """Settle, then move the grid's cursor to ``host`` (as the arrow keys do) and wait for its side panel."""

    async def select(pilot) -> None:
        from tests.helpers.pilot import wait_for

        app = pilot.app
        await settle(pilot)
        app.select_host(host)
        # The side panel follows the cursor a moment later (PANEL_DELAY), in its own frame.
        await wait_for(pilot, lambda: app.host_panel.border_title == f"host {host}", what=f"the panel of {host}")
        await settle(pilot)

    return select


async def fleet_settled(pilot) -> None:
    """Settle, then wait for the side panel to show the top pool's first host (the fleet's cursor
    selects it, and the panel follows a moment later, in its own frame)."""
    from tests.helpers.pilot import wait_for

    app = pilot.app
    await settle(pilot)
    await wait_for(pilot, lambda: app.selected and (not app.host_panel.display  # a narrow screen has none
                                                    or app.host_panel.border_title == f"host {app.selected}"),
                   what="the panel of the top pool's host")
    await settle(pilot)


@dataclass(frozen=True)
class Picture:
    """One picture of the README: a static state, and what is done on it before the screenshot."""

    name: str  # the file is docs/pictures/<name>.svg
    scenario: str  # a state of tests.helpers.static_console
    caption: str  # the screenshot's title bar, and the README's alt text
    shows: tuple[str, ...]  # texts the picture must show (tests/app/test_pictures.py checks them)
    before: Callable[..., Awaitable[None]] = settle
    size: tuple[int, int] = PICTURE_SIZE


PICTURES = (
    Picture("healthy", "healthy", "poolterm: pool lab HEALTHY", ("HEALTHY", "master plot1")),
    Picture("master-lost", "master-lost", "poolterm: MASTER LOST, playbook master-lost started with R",
            ("MASTER LOST", "PLAYBOOK master-lost", "Promote plot2 to master",
             "pool-emergency-transition-to-master"),
            before=start_recommended_playbook),
    Picture("split-brain", "split-brain", "poolterm: SPLIT BRAIN, plot2 and plot3 both claim master",
            ("SPLIT BRAIN", "pool-recover-slaves on plot3", "host plot2"), before=selecting("plot2")),
    Picture("fleet", "fleet", "poolterm: fifty pools, lab37 lost its master and is on top",
            ("MASTER LOST", "lab37", "+49 pools, 1 not healthy", "WORST FINDING"), before=fleet_settled),
)


async def render(picture: Picture) -> str:
    """The picture as an SVG, from the real console; the same bytes every time."""
    from poolterm.ui.themes import SHIPPED_DIR

    # Shipped themes only: a developer's own theme of the same name must not colour the README.
    app = make_static_app(picture.scenario, theme=PICTURE_THEME, theme_dirs=(SHIPPED_DIR,))
    async with app.run_test(size=picture.size) as pilot:
        await picture.before(pilot)
        # Rich names the SVG's ids after a hash of what is drawn and the title: fixed both, fixed ids.
        return app.export_screenshot(title=picture.caption, simplify=True)


async def render_all() -> dict[str, str]:
    """File name -> SVG of every picture."""
    return {f"{picture.name}.svg": await render(picture) for picture in PICTURES}


def svg_lines(svg: str) -> list[str]:
    """The text of a Rich SVG screenshot, one string per terminal row, as a reader sees it.

    Rich draws each run of one style as a ``<text>`` at ``x = column * cell width`` and leaves
    out the runs of blanks, and clips each to its row (``terminal-line-<row>``)."""
    texts = re.findall(r'<text class="[^"]*" x="([\d.]+)" y="[\d.]+" textLength="([\d.]+)" '
                       r'clip-path="url\(#terminal(?:-\d+)?-line-(\d+)\)">([^<]*)</text>', svg)
    rows: dict[int, list[tuple[int, str]]] = {}
    cell = 0.0
    for x, length, row, escaped in texts:
        text = html.unescape(escaped).replace("\xa0", " ").replace("\n", "")
        if text and not cell:
            cell = float(length) / len(text)
        rows.setdefault(int(row), []).append((round(float(x) / cell), text))
    lines = []
    for row in range(max(rows, default=-1) + 1):
        line = ""
        for column, text in sorted(rows.get(row, [])):
            line = line.ljust(column) + text
        lines.append(line.rstrip())
    return lines


def write_pictures(directory: Path) -> list[Path]:
    """Render every picture into ``directory``; the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, svg in asyncio.run(render_all()).items():
        path = directory / name
        path.write_bytes(svg.encode("utf-8"))
        written.append(path)
    return written
