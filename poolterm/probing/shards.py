"""Which probe worker owns which hosts, and which pools it diagnoses (pure).

A fleet's probing is split across worker processes, one per core by default:
a thousand hosts' SSH handshakes are seconds of one core's Python, and two
cores halve them. Each worker owns a slice of the hosts and their connections.

Pools are kept whole where they fit, because a pool's diagnosis needs every
one of its hosts' observations: a worker diagnoses the pools it holds. A pool
bigger than a worker's fair share (one pool of a thousand hosts on two
workers) is split across workers; its *home* is the worker holding most of
it, and the console relays the other workers' observations of it there.

The plan is a function of the inventory and the worker count alone, so the
console and every worker compute the same one without being told.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Iterable, Protocol, Sequence

#: A worker for fewer hosts than this costs more (a process, an asyncssh import,
#: its own pipe) than it saves: the default worker count stops there.
MIN_HOSTS_PER_WORKER = 250
#: The most workers anyone may ask for: beyond the cores, workers only compete.
MAX_WORKERS = 64
#: Up to this many hosts a console probes them itself: a child process would cost more than it saves.
PROBE_PROCESS_ABOVE = 64


class HostLike(Protocol):
    name: str


class PoolLike(Protocol):
    name: str
    hosts: Sequence[HostLike]


@dataclass(frozen=True)
class Shard:
    index: int
    hosts: tuple[str, ...]  # the hosts this worker probes, in inventory order
    home: tuple[str, ...]  # the pools it diagnoses, in inventory order

    def __len__(self) -> int:
        return len(self.hosts)


def default_workers(hosts: int, cores: int | None = None) -> int:
    """One worker per core, but none for fewer than :data:`MIN_HOSTS_PER_WORKER` hosts."""
    cores = cores if cores is not None else len(os.sched_getaffinity(0))
    return max(1, min(cores, hosts // MIN_HOSTS_PER_WORKER))


def workers_for(hosts: int, requested: int | None = None) -> int:
    """How many probe worker processes for ``hosts`` hosts: none up to :data:`PROBE_PROCESS_ABOVE`,
    else ``requested`` (``--probe-workers``) or one per core (:func:`default_workers`)."""
    if requested is not None:
        return requested
    return 0 if hosts <= PROBE_PROCESS_ABOVE else default_workers(hosts)


def plan(pools: Sequence[PoolLike], workers: int) -> tuple[Shard, ...]:
    """Split ``pools``' hosts across ``workers`` slices of nearly equal size.

    Biggest pools first, each whole onto the least-loaded worker while it fits
    that worker's fair share; a pool that fits nowhere fills the workers in
    turn. Deterministic: ties go to the lowest index.
    """
    if workers < 1:
        raise ValueError("at least one worker")
    total = sum(len(p.hosts) for p in pools)
    share = math.ceil(total / workers) if total else 0
    owned: list[list[tuple[str, str]]] = [[] for _ in range(workers)]  # (pool, host) per worker
    order = sorted(range(len(pools)), key=lambda i: (-len(pools[i].hosts), i))
    for i in order:
        pool = pools[i]
        names = [h.name for h in pool.hosts]
        lightest = min(range(workers), key=lambda w: (len(owned[w]), w))
        if len(owned[lightest]) + len(names) <= share:
            owned[lightest] += [(pool.name, n) for n in names]
            continue
        for w in sorted(range(workers), key=lambda w: (len(owned[w]), w)):
            room = max(0, share - len(owned[w]))
            taken, names = names[:room], names[room:]
            owned[w] += [(pool.name, n) for n in taken]
            if not names:
                break
        if names:  # rounding left a few: the lightest takes them
            owned[lightest] += [(pool.name, n) for n in names]
    return _shards(pools, owned)


def _shards(pools: Sequence[PoolLike], owned: list[list[tuple[str, str]]]) -> tuple[Shard, ...]:
    position = {h.name: k for k, h in enumerate(h for p in pools for h in p.hosts)}
    homes: list[list[str]] = [[] for _ in owned]
    for pool in pools:
        counts = [sum(1 for p, _ in slice_ if p == pool.name) for slice_ in owned]
        if any(counts):
            homes[max(range(len(owned)), key=lambda w: (counts[w], -w))].append(pool.name)
    return tuple(
        Shard(w, tuple(sorted((h for _, h in slice_), key=position.__getitem__)), tuple(homes[w]))
        for w, slice_ in enumerate(owned)
    )


def home_of(shards: Iterable[Shard]) -> dict[str, int]:
    """Pool name -> the index of the worker that diagnoses it."""
    return {pool: shard.index for shard in shards for pool in shard.home}

