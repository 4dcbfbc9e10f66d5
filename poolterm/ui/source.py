"""Where the console's diagnosis comes from: live hosts over SSH, or a fixed one.

:class:`LiveSource` owns the jump box's SSH connections and the probe loop; it
is started from the app's ``on_mount`` so both live on Textual's event loop,
or, for a big inventory, on an event loop of their own in a thread: a thousand
hosts' SSH traffic arrives in bursts of hundreds of callbacks, and on the
screen's loop every key press would wait behind a whole burst.
:class:`StaticSource` holds one diagnosis and never connects: screenshots,
tests and documentation use it. No Textual here; the app talks to either
through the same small surface.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Awaitable, Callable, Mapping, Sequence

from poolterm.diagnosis import diagnose
from poolterm.model import Diagnosis, Observation, Reach
from poolterm.ssh import Connections, HostUnavailable, LineSink, RunResult, raise_nofile_limit
from poolterm.watch import Watcher

Publish = Callable[[Observation], None]
#: Seconds to wait for the probe thread to finish after its loop was told to stop.
THREAD_JOIN_TIMEOUT = 5.0


class ProbeThread:
    """An event loop of its own, in a daemon thread, for the SSH traffic of a big pool."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="poolterm-probes", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    def start(self) -> None:
        self.thread.start()

    def call(self, function: Callable[..., Any], *args: Any) -> None:
        self.loop.call_soon_threadsafe(function, *args)

    async def run(self, coroutine: Awaitable[Any]) -> Any:
        """Await ``coroutine`` on the probe loop; cancelling the caller cancels it there too."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self.loop))

    async def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        await asyncio.to_thread(self.thread.join, THREAD_JOIN_TIMEOUT)


def batched(loop: asyncio.AbstractEventLoop, publish: Publish) -> Publish:
    """A publish callable for another thread: observations reach ``loop`` in batches, one wake-up each."""
    lock = threading.Lock()
    pending: list[Observation] = []

    def drain() -> None:
        with lock:
            batch = pending[:]
            pending.clear()
        for observation in batch:
            publish(observation)

    def from_other_thread(observation: Observation) -> None:
        with lock:
            pending.append(observation)
            first = len(pending) == 1
        if first:
            loop.call_soon_threadsafe(drain)

    return from_other_thread


class LiveSource:
    """Real hosts: one SSH connection each, probed on their own schedules."""

    live = True

    def __init__(self, inventory, *, interval: float | None = None, timeout: float | None = None,
                 own_thread: bool = False):
        self.inventory = inventory
        self.pools = list(inventory.pools)
        self.host_names = [h.name for h in inventory.hosts()]
        self.interval = interval if interval is not None else inventory.probe.interval
        self.timeout = timeout if timeout is not None else inventory.probe.timeout
        self.connections: Connections | None = None
        self.watcher: Watcher | None = None
        self._thread = ProbeThread() if own_thread else None
        self._screen_loop: asyncio.AbstractEventLoop | None = None

    def start(self, publish: Publish) -> None:
        """Connect and start probing; call from inside the running (screen's) event loop."""
        raise_nofile_limit()
        self._screen_loop = asyncio.get_running_loop()
        if self._thread is None:
            self._start_probing(publish)
            return
        self._thread.start()
        self._thread.call(self._start_probing, batched(self._screen_loop, publish))

    def _start_probing(self, publish: Publish) -> None:
        hosts = self.inventory.hosts()
        # A connection that changes state (typically: just dropped) gets probed at once,
        # so a lost master shows up without waiting for the next round.
        self.connections = Connections(hosts, self.inventory.ssh, on_change=self._changed)
        self.watcher = Watcher(hosts, self.connections, interval=self.interval, timeout=self.timeout,
                               publish=publish)
        self.watcher.start()

    def _changed(self, name: str) -> None:
        if self.watcher is not None and self.connections is not None:
            reach, _ = self.connections.reach(name)
            if reach is not Reach.CONNECTED:
                self.watcher.wake(name)

    async def close(self) -> None:
        if self._thread is None:
            await self._stop_probing()
            return
        if self._thread.thread.is_alive():
            await self._thread.run(self._stop_probing())
            await self._thread.stop()

    async def _stop_probing(self) -> None:
        if self.watcher is not None:
            await self.watcher.stop()
        if self.connections is not None:
            await self.connections.close()

    # ---- what the app reads ------------------------------------------------------
    @property
    def observations(self) -> Mapping[str, Observation]:
        # Read from the screen's thread even when probes run in their own: copying or
        # looking up a dict of str keys is atomic under the GIL, and observations are frozen.
        return self.watcher.observations if self.watcher else {}

    def observation(self, name: str) -> Observation | None:
        return self.observations.get(name)

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def diagnosis(self) -> Diagnosis:
        return diagnose(self.pools, self.observations, self.now())

    def diagnosis_job(self) -> Callable[[], Diagnosis]:
        """The diagnosis of this moment, as a call that may run in another thread.

        Observations are frozen dataclasses; only the dict holding them changes, so
        a copy taken here on the loop's thread is all the other thread needs.
        """
        pools, observations, now = self.pools, dict(self.observations), self.now()
        return lambda: diagnose(pools, observations, now)

    @property
    def rounds(self) -> int:
        return self.watcher.rounds if self.watcher else 0

    # ---- what the operator drives -----------------------------------------------------
    @property
    def paused(self) -> bool:
        return bool(self.watcher and self.watcher.paused)

    @paused.setter
    def paused(self, value: bool) -> None:
        if self.watcher is not None:
            self.watcher.paused = value
            if not value:
                self.wake()

    def wake(self) -> None:
        if self.watcher is None:
            return
        if self._thread is None:
            self.watcher.wake()
        else:
            self._thread.call(self.watcher.wake)

    async def run(self, host: str, command: str, *, deadline: float, on_line: LineSink) -> RunResult:
        if self.connections is None:
            raise HostUnavailable(Reach.PENDING, "not connected yet")
        if self._thread is None:
            return await self.connections.run(host, command, deadline=deadline, on_line=on_line)
        loop = self._screen_loop

        def line_to_screen(stream: str, line: str) -> None:
            loop.call_soon_threadsafe(on_line, stream, line)

        return await self._thread.run(self.connections.run(host, command, deadline=deadline,
                                                           on_line=line_to_screen))


class StaticSource:
    """A fixed diagnosis: no SSH, no clock, the same screen every time."""

    live = False

    def __init__(self, diagnosis: Diagnosis, observations: Mapping[str, Observation] | None = None,
                 now: float = 0.0):
        self._diagnosis = diagnosis
        self._observations = dict(observations or {})
        self._now = now
        self.pools = list(diagnosis.pools)
        self.host_names: Sequence[str] = [h.name for p in diagnosis.pools for h in p.hosts]
        self.paused = False
        self.rounds = 0

    def start(self, publish: Publish) -> None:
        for obs in self._observations.values():
            publish(obs)

    async def close(self) -> None:
        return None

    @property
    def observations(self) -> Mapping[str, Observation]:
        return self._observations

    def observation(self, name: str) -> Observation | None:
        return self._observations.get(name)

    def now(self) -> float:
        return self._now

    def diagnosis(self) -> Diagnosis:
        return self._diagnosis

    def diagnosis_job(self) -> Callable[[], Diagnosis]:
        return self.diagnosis

    def wake(self) -> None:
        return None

    async def run(self, host: str, command: str, *, deadline: float, on_line: LineSink) -> RunResult:
        raise HostUnavailable(Reach.PENDING, "static view: no connection to any host")
