"""How probe workers share a fleet: whole pools where they fit, every host exactly once, one home per pool."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from poolterm.probing.shards import MIN_HOSTS_PER_WORKER, default_workers, home_of, plan


@dataclass
class H:
    name: str


@dataclass
class P:
    name: str
    hosts: list[H]


def fleet(*sizes: int) -> list[P]:
    pools, k = [], 1
    for i, size in enumerate(sizes, 1):
        pools.append(P(f"pool{i}", [H(f"plot{k + j}") for j in range(size)]))
        k += size
    return pools


def test_fifty_equal_pools_go_whole_to_two_workers_half_each():
    pools = fleet(*[100] * 50)
    shards = plan(pools, 2)
    assert [len(s) for s in shards] == [2500, 2500]
    for shard in shards:
        # every pool of a worker is whole there, and it diagnoses exactly those
        held = {p.name for p in pools if set(h.name for h in p.hosts) <= set(shard.hosts)}
        assert set(shard.home) == held and len(held) == 25


def test_one_big_pool_is_split_and_diagnosed_by_one_worker():
    pools = fleet(1000)
    shards = plan(pools, 2)
    assert [len(s) for s in shards] == [500, 500]
    assert home_of(shards) == {"pool1": 0}
    assert shards[0].hosts[0] == "plot1"


def test_uneven_pools_balance_within_the_biggest_remainder():
    pools = fleet(700, 300, 300, 100, 100, 20)
    shards = plan(pools, 2)
    sizes = [len(s) for s in shards]
    assert sum(sizes) == 1520 and max(sizes) - min(sizes) <= 20
    assert sorted(p for s in shards for p in s.home) == sorted(p.name for p in pools)


def test_a_plan_is_the_same_every_time_it_is_made():
    pools = fleet(37, 5, 81, 81, 2, 300)
    assert plan(pools, 3) == plan(pools, 3)


@given(st.lists(st.integers(1, 60), min_size=1, max_size=20), st.integers(1, 6))
def test_every_host_is_probed_by_exactly_one_worker_and_every_pool_has_one_home(sizes, workers):
    pools = fleet(*sizes)
    shards = plan(pools, workers)
    probed = [h for s in shards for h in s.hosts]
    assert sorted(probed) == sorted(h.name for p in pools for h in p.hosts)
    assert len(probed) == len(set(probed))
    homes = home_of(shards)
    assert set(homes) == {p.name for p in pools} and len(homes) == sum(len(s.home) for s in shards)
    total = sum(sizes)
    assert max(len(s) for s in shards) <= -(-total // workers) + max(sizes)


def test_default_workers_one_per_core_but_not_for_a_small_inventory():
    assert default_workers(5000, cores=2) == 2
    assert default_workers(1000, cores=8) == 1000 // MIN_HOSTS_PER_WORKER
    assert default_workers(100, cores=2) == 1


def test_no_workers_is_refused():
    with pytest.raises(ValueError):
        plan(fleet(3), 0)
