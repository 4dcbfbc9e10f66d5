"""The simulated pool, started in a test's directory, and what a test does to it.

The pytest fixtures that start one (`sim`, `quick_sim`) are in the conftest.py files;
they and the tests that start a pool of their own call :func:`simulated_pool`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import yaml

from poolterm.cli.check import check
from poolterm.config.inventory import load_inventory
from poolterm.sim.runtime import Simulator
from poolterm.sim.scenario import run_scenario
from poolterm.sim.world import SimParams

#: The `sim` fixture's timers: a role change or a boot takes half a second.
FAST = SimParams(fuse=0.5, boot=0.5)
#: The playbook tests' timers: besides, xapi starts and a host shuts down in 0.3 s.
PARAMS = SimParams(fuse=0.5, boot=0.5, xapi_start=0.3, shutdown=0.3)
#: The simulator's incident tests' timers: besides, a slave in emergency start-up retries in 0.5 s.
QUICK = SimParams(fuse=0.5, boot=0.5, xapi_start=0.3, shutdown=0.3, emergency_retry=0.5)


@asynccontextmanager
async def simulated_pool(directory: Path, hosts: int = 4, *, params: SimParams = PARAMS) -> AsyncIterator[Simulator]:
    """A simulated pool of ``hosts`` serving SSH on loopback from ``directory``, stopped on the way out."""
    async with Simulator(hosts, directory, params=params) as sim:
        yield sim


async def fast_sim(directory: Path, hosts: int = 4) -> Simulator:
    """A started :func:`simulated_pool` with :data:`PARAMS`, for a test that stops it itself."""
    sim = Simulator(hosts, directory, params=PARAMS)
    await sim.start()
    return sim


def fast_inventory(sim: Simulator, probe: dict | None = None) -> Path:
    """The simulator's inventory with a one-second SSH connect timeout (a black-holed host costs a
    second, not five) and the ``probe`` settings given, written beside it."""
    doc = yaml.safe_load(sim.hosts_yaml.read_text())
    doc["ssh"]["connect_timeout"] = 1
    if probe is not None:
        doc["probe"] = probe
    path = sim.directory / "fast.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


async def fault(sim: Simulator, scenario: str) -> None:
    """Inject the fault steps of a shipped scenario, and check they took."""
    results = await run_scenario(sim, scenario, only="fault")
    assert results and all(r.ok for r in results), results[-1].detail


#: A probe round's timeout for :func:`diagnose_now`: a hung forwarded call is told in 1.5 s.
PROBE_TIMEOUT = 1.5


def fast(inventory):
    """The sim's inventory with short timeouts, so a black-holed host costs a second, not five."""
    return replace(inventory, ssh=replace(inventory.ssh, connect_timeout=1.0))


async def diagnose_now(sim: Simulator, pools=None):
    """One probe round and its diagnosis, exactly as `poolterm check` makes them: the first pool's."""
    inventory = fast(load_inventory(sim.hosts_yaml))
    return (await check(inventory, pools or list(inventory.pools), PROBE_TIMEOUT)).pools[0]
