"""How long the probe's rounds take, per pool: the counts behind a Prometheus histogram.

Per pool, not per host: at 5,000 hosts a histogram per host would be 60,000 series for one
question ("is the probe getting slow?"), which a per-pool histogram answers in tens. A host
that stopped answering shows in its own last-answer age instead.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from typing import Iterable

#: Upper bounds, in seconds, of the histogram's buckets (+Inf follows). A calm round on a LAN
#: takes tens of milliseconds; a hung forwarded call lasts the probe timeout (5 s by default);
#: a host that does not answer holds its round until the deadline, about 10 s.
BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class RoundHistogram:
    """One pool's rounds so far: how many fell in each bucket (not cumulative; the last is +Inf)
    and their total seconds."""

    counts: tuple[int, ...]
    total: float

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[str, int]]:
        """``(le, rounds at or under it)`` for each bound and +Inf, as Prometheus wants them."""
        out, running = [], 0
        for bound, count in zip((*(repr(b) for b in BUCKETS), "+Inf"), self.counts):
            running += count
            out.append((bound, running))
        return out


class RoundTimes:
    """Per-pool counts of round durations, fed by the probe loop (``Watcher(on_round=...)``).

    Written only on the probe's event loop; :meth:`snapshot` is read there too, so nothing
    here needs a lock.
    """

    def __init__(self, hosts: Iterable[tuple[str, str]]):
        self._pool_of = dict(hosts)  # host -> pool
        pools = sorted(set(self._pool_of.values()))
        self._counts = {pool: [0] * (len(BUCKETS) + 1) for pool in pools}
        self._totals = {pool: 0.0 for pool in pools}

    def observe(self, host: str, seconds: float) -> None:
        pool = self._pool_of.get(host)
        if pool is None:
            return
        self._counts[pool][bisect_left(BUCKETS, seconds)] += 1  # the first bucket whose bound is >= seconds
        self._totals[pool] += seconds

    def snapshot(self) -> dict[str, RoundHistogram]:
        return {pool: RoundHistogram(tuple(counts), self._totals[pool]) for pool, counts in self._counts.items()}
