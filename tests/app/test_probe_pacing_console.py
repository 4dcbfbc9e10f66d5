"""The console shows how the probe treats the master (issue #13): calm with its measured load,
on alert the moment something looks wrong."""

from __future__ import annotations

from tests.helpers.console import console
from tests.helpers.pilot import wait_for


async def test_the_banner_shows_the_probe_calm_then_on_alert(sim, tmp_path):
    app = console(sim, tmp_path / "incident.jsonl")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.banner.headline == "HEALTHY", timeout=30, what="HEALTHY")
        await wait_for(pilot, lambda: "probe calm, ~" in app.banner.where, timeout=30, what="the probe calm")
        # The tests probe every 0.5 s, so the master's own call alone is 120 a minute: the figure is
        # the measured one, whatever it is (tests/e2e/test_probe_load.py checks it against the budget).
        load = int(app.banner.where.split("probe calm, ~")[1].split("/min")[0])
        assert load > 0, app.banner.where
        await sim.ctl("crash", "plot3")
        await wait_for(pilot, lambda: "probe alert, ~" in app.banner.where, timeout=10, what="the probe on alert")
