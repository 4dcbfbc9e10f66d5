"""`poolterm exporter`: the console's probe loop, shown to Prometheus one snapshot per scrape.

The probing is the console's own, not a copy of it: :func:`start_probing` builds the same
:class:`Connections` and :class:`Watcher`, paced by the same ``probe.master_budget``, so a
pool watched by the exporter costs its master what the console costs it, and a dropped
connection wakes its host the same way.

A scrape runs in the HTTP server's thread. It asks the probe's event loop for the raw
state in one callback (the latest observations, the clock, the pacing, the round times:
a consistent cut, since nothing else runs on the loop meanwhile, and cheap: a dict copy),
then diagnoses and renders in its own thread, so the probe loop is never held up for
longer than that copy. Nothing is diagnosed between scrapes: Prometheus asks every 15 s or
so, and a diagnosis nobody reads would be CPU spent on every master's behalf for nothing.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Sequence

from poolterm.diagnosis.diagnose import PoolLike, diagnose
from poolterm.model import Observation
from poolterm.monitoring.http import MetricsServer
from poolterm.monitoring.metrics import Snapshot
from poolterm.monitoring.rounds import RoundHistogram, RoundTimes
from poolterm.probing.service import pacing_of, start_probing
from poolterm.probing.watch import Watcher

#: Seconds a scrape waits for the probe loop to hand it the state: far above the time a busy
#: loop takes to reach a callback, far below Prometheus's default scrape timeout (10 s).
READ_TIMEOUT = 5.0


class LiveSnapshots:
    """Snapshots of a running probe loop, taken from another thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, pools: Sequence[PoolLike], watcher: Watcher,
                 times: RoundTimes):
        self._loop = loop
        self._pools = list(pools)
        self._watcher = watcher
        self._times = times

    async def _read(self) -> tuple[dict[str, Observation], float, int, dict[str, RoundHistogram],
                                   dict[str, tuple[str, int]]]:
        # On the loop, in one go: no round can land between two of these reads.
        now = self._loop.time()
        watcher = self._watcher
        return (dict(watcher.observations), now, watcher.rounds, self._times.snapshot(), pacing_of(watcher, now))

    def take(self) -> Snapshot:
        """The probe as of now, diagnosed here (in the caller's thread)."""
        read = asyncio.run_coroutine_threadsafe(self._read(), self._loop)
        observations, now, rounds, times, pacing = read.result(READ_TIMEOUT)
        pacer = self._watcher.pacer
        return Snapshot(diagnose(self._pools, observations, now), now, rounds, times, pacing,
                        None if pacer is None else pacer.budget)


async def run(inventory, server: MetricsServer, *, interval: float, timeout: float) -> None:
    """Probe every host of ``inventory`` and serve what it shows on ``server`` until SIGTERM or SIGINT;
    then answer the scrapes in flight, close every connection and return."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    times = RoundTimes((h.name, pool.name) for pool in inventory.pools for h in pool.hosts)
    # Nothing to publish to: the watcher keeps each host's latest observation, which is all a scrape reads.
    connections, watcher = start_probing(inventory, interval=interval, timeout=timeout, publish=lambda obs: None,
                                         on_round=times.observe)
    try:
        server.start(LiveSnapshots(loop, inventory.pools, watcher, times).take)
        await stop.wait()
    finally:
        # The server first, from a thread: a scrape in flight still needs this loop to answer.
        await asyncio.to_thread(server.close)
        await watcher.stop()
        await connections.close()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
