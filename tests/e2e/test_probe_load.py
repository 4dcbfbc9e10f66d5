"""The probe's footprint on the master over real SSH (issue #13): a healthy pool watched as the
console watches it costs its master at most ``probe.master_budget`` sessions + HTTPS requests a
minute (the simulator counts what each host serves), and a fault is still seen at once."""

from __future__ import annotations

import asyncio

from poolterm.config.inventory import load_inventory
from poolterm.diagnosis.diagnose import diagnose
from poolterm.model import Verdict
from poolterm.probing.watch import Watcher
from poolterm.transport.ssh import Connections
from tests.helpers.sim import fast_inventory, simulated_pool

WINDOW = 20.0  # seconds of calm measured


def served(status: dict, name: str) -> int:
    host = next(h for h in status["hosts"] if h["name"] == name)
    return host["api_sessions"] + host["https_requests"]


async def watch(sim, budget: int | None):
    inventory = load_inventory(fast_inventory(sim, probe={"interval": 2, "timeout": 1.5}))
    hosts = inventory.hosts()
    connections = Connections(hosts, inventory.ssh)
    watcher = Watcher(hosts, connections, interval=2, timeout=1.5, budget=budget)
    watcher.start()
    return inventory, connections, watcher


async def calm(watcher) -> None:
    """Until every host has had its first rounds (they look at everything) and the pool is calm."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(45):
        while watcher.rounds < 3 * len(watcher.hosts) or watcher.pacer.alert("lab", loop.time()):
            await asyncio.sleep(0.1)


async def verdict_when(inventory, watcher, wanted, timeout: float) -> float:
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(timeout):
        while True:
            pool = diagnose(inventory.pools, watcher.observations, loop.time()).pools[0]
            if wanted(pool):
                return loop.time()
            await asyncio.sleep(0.05)  # the watcher runs on this loop: look again after it has


async def test_a_calm_pool_costs_its_master_the_budget_and_a_crash_still_shows_at_once(tmp_path):
    async with simulated_pool(tmp_path / "pool", 8) as sim:
        inventory, connections, watcher = await watch(sim, budget=60)
        try:
            await verdict_when(inventory, watcher, lambda p: p.verdict is Verdict.HEALTHY, 30)
            await calm(watcher)
            before = served(sim.status(), "plot1")
            await asyncio.sleep(WINDOW)  # a stretch of calm is what is measured
            cost = served(sim.status(), "plot1") - before
            assert cost <= 60 * WINDOW / 60 + 4, cost  # the budget, plus one burst of two slave checks
            assert cost >= 30 * WINDOW / 60 - 2, cost  # the master's own check every round still runs
            loop = asyncio.get_running_loop()
            crashed = loop.time()
            await sim.ctl("crash", "plot1")
            seen = await verdict_when(inventory, watcher, lambda p: p.verdict is Verdict.MASTER_LOST, 10)
            assert seen - crashed <= 3.5, seen - crashed
            assert watcher.pacer.mode("lab", loop.time()) == "alert"
        finally:
            await watcher.stop()
            await connections.close()


async def test_unpaced_the_same_pool_costs_its_master_many_times_more(tmp_path):
    """The old behaviour, as the baseline of the figure above: every section every round."""
    async with simulated_pool(tmp_path / "pool", 8) as sim:
        inventory, connections, watcher = await watch(sim, budget=None)
        try:
            await verdict_when(inventory, watcher, lambda p: p.verdict is Verdict.HEALTHY, 30)
            before = served(sim.status(), "plot1")
            await asyncio.sleep(WINDOW / 2)
            cost = served(sim.status(), "plot1") - before
            assert cost * 2 > 4 * 60 * WINDOW / 60, cost
        finally:
            await watcher.stop()
            await connections.close()


async def test_a_slave_cut_off_from_its_master_alone_is_seen_within_seconds(tmp_path):
    """Calm, plot3 would wait its turn for a full check; its ping to the master costs nothing and
    fails at once, the pool goes on alert, and the next full round shows plot3 stuck."""
    async with simulated_pool(tmp_path / "pool", 8) as sim:
        inventory, connections, watcher = await watch(sim, budget=60)
        try:
            await verdict_when(inventory, watcher, lambda p: p.verdict is Verdict.HEALTHY, 30)
            await calm(watcher)
            loop = asyncio.get_running_loop()
            cut = loop.time()
            await sim.ctl("cut", "plot3", peer="plot1")
            seen = await verdict_when(inventory, watcher, lambda p: any(
                "plot3" in f.hosts for f in p.findings if f.kind in ("members-hung", "emergency", "cut-from-master")), 15)
            assert seen - cut <= 3.5, seen - cut
            # Healed, the pool is healthy and calm again: nothing learned during the cut lingers.
            await sim.ctl("uncut", "plot3", peer="plot1")
            await verdict_when(inventory, watcher, lambda p: p.verdict is Verdict.HEALTHY, 20)
            await calm(watcher)
        finally:
            await watcher.stop()
            await connections.close()
