"""Above PROBE_PROCESS_ABOVE hosts the probe process diagnoses too; the console only receives.

Against the simulator over real SSH: the diagnosis the console is handed is the
child's (no work in the console's process), and once probing pauses it is
exactly the diagnosis of the observations the console received.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from poolterm.config.inventory import load_inventory
from poolterm.model import Verdict
from poolterm.probing.source import LiveSource
from poolterm.sim.world import SimParams

# The `sim` fixture's pool (tests/conftest.py): eight hosts, a one-second fuse and boot.
pytestmark = pytest.mark.sim(params=SimParams(fuse=1.0, boot=1.0))

INTERVAL = 0.5
TIMEOUT = 2.0


async def until(predicate, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.05)


def handed(source: LiveSource):
    """The diagnosis the console's recompute would be handed now."""
    return source.diagnosis_job()()


async def test_the_console_is_handed_the_probe_process_diagnosis_of_what_it_received(sim):
    source = LiveSource(load_inventory(sim.hosts_yaml), interval=INTERVAL, timeout=TIMEOUT, probe_workers=1)
    source.start(lambda observation: None)
    try:
        await until(lambda: handed(source).verdict is Verdict.HEALTHY, "a HEALTHY diagnosis")
        assert handed(source) is handed(source), "the console diagnosed by itself instead of taking the child's"
        source.paused = True
        # Rounds under way finish, their batch comes with its diagnosis, then nothing changes.
        await until(lambda: handed(source) == source.diagnosis(), "the child's diagnosis of what was received")
        assert len(source.observations) == len(source.host_names)
        await sim.ctl("crash", "plot1")
        source.paused = False
        await until(lambda: handed(source).verdict is Verdict.MASTER_LOST, "MASTER LOST from the child")
    finally:
        await source.close()
    assert source.children[0].returncode == 0


async def test_two_workers_sharing_one_pool_diagnose_it_together(sim):
    """Eight hosts on two workers: the pool is split (plot1..4 | plot5..8), worker 0 diagnoses it, and what
    worker 1 sees of plot5..8 reaches that diagnosis only through the console's relay."""
    source = LiveSource(load_inventory(sim.hosts_yaml), interval=INTERVAL, timeout=TIMEOUT, probe_workers=2)
    assert [shard.hosts for shard in source.shards] == [
        ("plot1", "plot2", "plot3", "plot4"), ("plot5", "plot6", "plot7", "plot8")]
    assert [shard.home for shard in source.shards] == [("lab",), ()]
    source.start(lambda observation: None)
    try:
        await until(lambda: handed(source).verdict is Verdict.HEALTHY, "a HEALTHY diagnosis")
        await sim.ctl("shutdown", "plot7")
        await until(lambda: "plot7" in {h for f in handed(source).pools[0].findings for h in f.hosts},
                    "a finding naming plot7, probed by worker 1")
        down = {h.name: h.reachable for h in handed(source).pools[0].hosts}
        assert down["plot7"] is False and down["plot6"] is True
        await sim.ctl("crash", "plot1")
        await until(lambda: handed(source).verdict is Verdict.MASTER_LOST, "MASTER LOST")
        assert handed(source).pools[0].findings[0].candidates, "no host to promote"
        assert source.rounds >= 8
    finally:
        await source.close()
    assert [child.returncode for child in source.children] == [0, 0]
