"""How long the host grid takes to show a new diagnosis of 1000 hosts, vs the stock DataTable.

    python benchmarks/bench_grid.py [--hosts 1000] [--rounds 30]

Each figure is one frame's work, done synchronously: the widget's update, then
what Textual's screen does on its next tick (the compositor collects the dirty
regions and renders them to strips). Both widgets get the same diagnoses in the
same run:

- full:  every host's state changed (each pool's master lost, every slave HUNG)
- one:   one host changed
- idle:  the same diagnosis again

200x160 is tall enough for the grid to show all 1000 hosts at once (the table,
one host per row, still shows only 159 of them).
DESIGN target: a full repaint of 1000 hosts in at most 16 ms.

Then the fleet view (``--fleet-pools 50`` pools of 100 hosts): its rows, one per pool,
at 80x24 and 200x60, against the host grid of the same 5000 hosts in the same run:
full = every pool's master lost (every row changes, and the order), one = one pool,
idle = nothing. Issue #16 target: the fleet view with 50 pools in at most 5 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

from textual.app import App
from textual.widget import Widget
from textual.widgets import DataTable
from widget_app import WidgetApp  # beside this script

from poolterm.diagnosis.diagnose import diagnose
from poolterm.model import Diagnosis, HostState, Observation, XeCall
from poolterm.ui.fleet import FleetTable
from poolterm.ui.grid import HostGrid

# The fake pools are the tests' own; run from anywhere, the repository is not on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.helpers.factories import Pool, connected, healthy, numbered_hosts, slave_conf, unreachable_since  # noqa: E402
from tests.helpers.fleet import fleet_pools  # noqa: E402

POOLS = 4
TARGET_MS = 16.0
FLEET_TARGET_MS = 5.0


def make_pools(count: int) -> list[Pool]:
    per = -(-count // POOLS)
    hosts = numbered_hosts(count, lambda i: f"10.{i // 65536}.{i // 256 % 256}.{i % 256}", digits=4)
    return [Pool(f"lab{p}", hosts[p * per:(p + 1) * per]) for p in range(POOLS) if hosts[p * per:]]


def masters_lost(pools: list[Pool], now: float) -> dict[str, Observation]:
    observations = {}
    for p in pools:
        master = p.hosts[0]
        observations[master.name] = unreachable_since(master.name, "master", seen=now - 12, at=now)
        for h in p.hosts[1:]:
            observations[h.name] = connected(h.name, slave_conf(master.address), at=now, xe=XeCall("hung"))
    return observations


# ---- the DataTable baseline, fed the way Dolphie feeds it: keyed, changed cells only ----
COLUMNS = ("host", "reach", "belief", "xapi/seen", "pool")


def table_row(state: HostState, pool: str, now: float) -> tuple[str, ...]:
    belief = "★" if state.is_master else f"→{state.believed_master or '?'}"
    seen = state.xapi.value if state.reachable else f"{now - (state.last_seen or now):.0f}s"
    return state.name, state.reach.value, belief, seen, pool


def feed_table(table: DataTable, diagnosis: Diagnosis, now: float, shown: dict) -> None:
    with table.app.batch_update():
        for pool in diagnosis.pools:
            for state in pool.hosts:
                row = table_row(state, pool.name, now)
                old = shown.get(state.name)
                if old is None:
                    table.add_row(*row, key=state.name)
                else:
                    for column, (before, after) in enumerate(zip(old, row)):
                        if before != after:
                            table.update_cell(state.name, COLUMNS[column], after)
                shown[state.name] = row


# ---- timing ------------------------------------------------------------------------------
def frame(app: App, widget: Widget) -> None:
    """What the screen's update timer does once the widget asked for a repaint."""
    screen = app.screen
    screen._compositor.update_widgets({widget})
    screen._compositor.render_update(screen_stack=app._background_screens)


def timed(rounds: int, step) -> list[tuple[float, float]]:
    """(wall, CPU) milliseconds per round: CPU time is what a busy shared machine distorts least."""
    times = []
    for i in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        step(i)
        times.append(((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000))
    return times


async def measure(widget_kind: str, size: tuple[int, int], scenes: dict[str, list[Diagnosis]], now: float,
                  rounds: int) -> dict[str, list[tuple[float, float]]]:
    widget: Widget = {"HostGrid": HostGrid, "FleetTable": FleetTable}.get(widget_kind, lambda: None)() \
        or DataTable(cursor_type="row")
    app = WidgetApp(widget)
    results = {}
    async with app.run_test(size=size) as pilot:
        shown: dict = {}
        if isinstance(widget, DataTable):
            for column in COLUMNS:
                widget.add_column(column, key=column)

            def show(d: Diagnosis) -> None:
                feed_table(widget, d, now, shown)
        elif isinstance(widget, FleetTable):
            def show(d: Diagnosis) -> None:
                widget.update(d)
        else:
            def show(d: Diagnosis) -> None:
                widget.update(d, now)
        show(scenes["full"][0])
        await pilot.pause()
        await pilot.pause()
        for name, pair in scenes.items():
            def step(i: int, pair=pair) -> None:
                show(pair[i % len(pair)])
                frame(app, widget)
            step(1)  # warm the caches of the second state too
            await pilot.pause()
            results[name] = timed(rounds, step)
            await pilot.pause()
        results["page"] = await page_through(app, widget, lambda: show(scenes["full"][1 - len(results) % 2]), pilot)
    return results


async def page_through(app: App, widget: Widget, invalidate, pilot) -> list[tuple[float, float]]:
    """Scroll page by page from top to bottom right after every host changed: each page is drawn afresh."""
    widget.scroll_to(y=0, animate=False, immediate=True)
    invalidate()
    frame(app, widget)
    await pilot.pause()
    height = widget.scrollable_content_region.height
    tops = list(range(height, int(widget.max_scroll_y) + height, height))

    def step(i: int) -> None:
        widget.scroll_to(y=tops[i], animate=False, immediate=True)
        frame(app, widget)
    return timed(len(tops), step)


def summary(times: list[tuple[float, float]]) -> str:
    wall = sorted(w for w, _ in times)
    p95 = wall[min(len(wall) - 1, int(len(wall) * 0.95))]
    return f"{statistics.median(wall):8.2f} {p95:8.2f} {statistics.median(c for _, c in times):8.2f}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--fleet-pools", type=int, default=50, help="pools of 100 hosts for the fleet view (0: none)")
    args = parser.parse_args()

    now = 1000.0
    pools = make_pools(args.hosts)
    start = time.perf_counter()
    calm = diagnose(pools, healthy(pools, at=now), now)
    diagnose_ms = (time.perf_counter() - start) * 1000
    storm = diagnose(pools, masters_lost(pools, now), now)
    nudged_obs = healthy(pools, at=now)
    middle = pools[len(pools) // 2].hosts[len(pools[len(pools) // 2].hosts) // 2]
    nudged_obs[middle.name] = replace(nudged_obs[middle.name], xe=XeCall("hung"))
    nudged = diagnose(pools, nudged_obs, now)
    scenes = {"full": [calm, storm], "one": [calm, nudged], "idle": [calm, calm]}

    print(f"{args.hosts} hosts in {len(pools)} pools; diagnose() took {diagnose_ms:.1f} ms; "
          f"{args.rounds} rounds each; milliseconds per frame (update + render)")
    print("load average before the run: " + " ".join(f"{x:.2f}" for x in os.getloadavg())
          + f" on {os.cpu_count()} CPUs (figures are wall time: a busy machine inflates them)")
    print("change: full = every host changed, one = one host, idle = nothing, page = scroll one page down")
    print(f"{'widget':<10} {'terminal':<22} {'change':<6} {'median':>8} {'p95':>8} {'cpu med':>8}")
    full_grid = []
    for size, label in (((200, 60), "200x60"), ((200, 160), "200x160 (grid: all)")):
        for kind in ("HostGrid", "DataTable"):
            results = await measure(kind, size, scenes, now, args.rounds)
            for change, times in results.items():
                if times:
                    print(f"{kind:<10} {label:<22} {change:<6} {summary(times)}")
                if kind == "HostGrid" and change == "full":
                    wall = statistics.median(w for w, _ in times)
                    full_grid.append((label, wall, statistics.median(c for _, c in times)))
    for label, wall, cpu in full_grid:
        verdict = "meets" if wall <= TARGET_MS else "MISSES"
        print(f"HostGrid full repaint at {label}: median {wall:.2f} ms wall, {cpu:.2f} ms CPU: "
              f"{verdict} the {TARGET_MS:.0f} ms target")
    if args.fleet_pools:
        await fleet(args.fleet_pools, args.rounds, now)


async def fleet(count: int, rounds: int, now: float) -> None:
    pools = fleet_pools(count, 100)
    calm = diagnose(pools, healthy(pools, at=now), now)
    storm = diagnose(pools, masters_lost(pools, now), now)
    one_obs = healthy(pools, at=now)
    middle = pools[len(pools) // 2].hosts[1]
    one_obs[middle.name] = replace(one_obs[middle.name], xe=XeCall("hung"))
    scenes = {"full": [calm, storm], "one": [calm, diagnose(pools, one_obs, now)], "idle": [calm, calm]}
    print(f"fleet: {count} pools of 100 hosts; milliseconds per frame (update + render)")
    print(f"{'widget':<10} {'terminal':<22} {'change':<6} {'median':>8} {'p95':>8} {'cpu med':>8}")
    full = []
    for size, label in (((80, 24), "80x24"), ((200, 60), "200x60")):
        for kind in ("FleetTable", "HostGrid"):
            results = await measure(kind, size, scenes, now, rounds)
            for change, times in results.items():
                if times and change != "page":
                    print(f"{kind:<10} {label:<22} {change:<6} {summary(times)}")
            if kind == "FleetTable":
                full.append((label, statistics.median(w for w, _ in results["full"])))
    for label, wall in full:
        verdict = "meets" if wall <= FLEET_TARGET_MS else "MISSES"
        print(f"FleetTable, {count} pools, every row changed at {label}: median {wall:.2f} ms wall: "
              f"{verdict} the {FLEET_TARGET_MS:g} ms target")


if __name__ == "__main__":
    asyncio.run(main())
