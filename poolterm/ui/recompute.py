"""The live recompute loop: observations in, at most one diagnosis at a time out.

Each batch of observations asks for a diagnosis; the loop runs one at most
:data:`PERIOD` apart, and spaced by :data:`COST_FACTOR` times the last one's
duration, so diagnosing 1000 hosts never takes more than a fraction of the event
loop. A request that arrives while a diagnosis runs is remembered and served
right after it. Plain asyncio: the app hands in its timer and its display.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

from poolterm.model import Diagnosis

#: Seconds between two diagnoses at most: fast enough to feel live, cheap at 1000 hosts.
PERIOD = 0.2
#: A diagnosis waits at least this many times the last one's duration after it.
COST_FACTOR = 4
#: Never 0: Textual's Timer divides by its delay.
MIN_DELAY = 0.01

Job = Callable[[], Diagnosis]


class RecomputeLoop:
    """Schedules diagnoses; ``show`` receives each one while ``active()`` holds."""

    def __init__(self, *, job: Callable[[], Job], threaded: bool, show: Callable[[Diagnosis], None],
                 set_timer: Callable[[float, Callable[[], Any]], Any], active: Callable[[], bool]):
        self._job = job  # called on the loop: it snapshots what the diagnosis reads
        self._threaded = threaded  # a live pool is diagnosed in a thread: keys stay answered meanwhile
        self._show = show
        self._set_timer = set_timer
        self._active = active  # False while paused or shutting down
        self._timer = None
        self._running = False
        self._again = False  # observations arrived while a diagnosis was running
        self._last = 0.0
        self.cost = 0.0  # seconds the last diagnosis took

    def request(self) -> None:
        """New observations: diagnose soon (once, however many requests come meanwhile)."""
        if not self._active() or self._timer is not None:
            return
        if self._running:
            self._again = True
            return
        period = max(PERIOD, COST_FACTOR * self.cost)
        delay = max(MIN_DELAY, self._last + period - time.monotonic())
        self._timer = self._set_timer(delay, self._run)

    async def _run(self) -> None:
        self._timer = None
        if not self._active():
            return
        self._running = True
        started = time.monotonic()
        try:
            job = self._job()
            diagnosis = await asyncio.to_thread(job) if self._threaded else job()
        finally:
            self._running = False
        self._last = time.monotonic()
        self.cost = self._last - started
        if not self._active():
            return
        self._show(diagnosis)
        if self._again:
            self._again = False
            self.request()
