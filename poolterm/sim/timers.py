"""The world's pending events, ordered by due time then by when they were scheduled.

Events are never removed when they become moot (a fuse on an xapi that restarted
anyway, a boot on a host that crashed meanwhile): each carries the epoch it was
scheduled under, and the world drops it when it comes due if that epoch is stale.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count


@dataclass(order=True, frozen=True)
class Timer:
    due: float
    seq: int
    host: str = field(compare=False)
    kind: str = field(compare=False)
    token: int = field(compare=False)


class TimerQueue:
    def __init__(self) -> None:
        self._heap: list[Timer] = []
        self._seq = count()

    def __len__(self) -> int:
        return len(self._heap)

    def schedule(self, due: float, host: str, kind: str, token: int) -> None:
        heapq.heappush(self._heap, Timer(due, next(self._seq), host, kind, token))

    def next_due(self, valid: Callable[[Timer], bool]) -> float | None:
        """When the next still-valid event is due, discarding stale ones on the way."""
        while self._heap:
            top = self._heap[0]
            if valid(top):
                return top.due
            heapq.heappop(self._heap)
        return None

    def pop_due(self, now: float) -> Timer | None:
        if self._heap and self._heap[0].due <= now:
            return heapq.heappop(self._heap)
        return None
