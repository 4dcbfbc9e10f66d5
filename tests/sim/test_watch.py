"""The probe loop over real SSH to the simulator: what a round publishes, and when."""

from __future__ import annotations

import asyncio

from poolterm.config.inventory import load_inventory
from poolterm.model import Observation
from poolterm.probing.watch import Watcher
from poolterm.transport.ssh import Connections


async def published_soon(published: list[Observation], accept, timeout: float = 5.0) -> Observation:
    async with asyncio.timeout(timeout):
        while True:
            found = next((obs for obs in published if accept(obs)), None)
            if found is not None:
                return found
            await asyncio.sleep(0.02)


async def test_a_round_publishes_early_only_what_is_new(sim):
    inventory = load_inventory(sim.hosts_yaml)
    hosts = [spec for spec in inventory.hosts() if spec.name in ("plot1", "plot2")]
    connections = Connections(hosts, inventory.ssh)
    published: list[Observation] = []
    watcher = Watcher(hosts, connections, interval=1, timeout=3, publish=published.append)
    try:
        await watcher.probe_all()
        assert any(not obs.complete for obs in published), "a first round is news: it is shown as it arrives"

        await watcher.probe_all()  # learns the master's address: its port is checked from now on
        published.clear()
        await watcher.probe_all()
        assert sorted((obs.host, obs.complete) for obs in published) == [("plot1", True), ("plot2", True)], \
            "a healthy round that repeats the last one publishes once, whole"

        await sim.ctl("crash", "plot1")
        published.clear()
        round_ = asyncio.create_task(watcher.probe("plot2"))
        early = await published_soon(published, lambda obs: obs.master_port not in (None, "ok"))
        # The slave's check of its master's port failed in a second; its forwarded xe call still waits.
        assert not early.complete and not round_.done()
        final = await round_
        assert final.complete and final.xe.status == "hung"
    finally:
        await watcher.stop()
        await connections.close()
