"""A pool none of whose hosts has answered yet is connecting, not unreachable: a fleet's first contact
takes seconds, and "none answers SSH" would send the on-call engineer after the jump box's network."""

from __future__ import annotations

from poolterm.diagnosis.diagnose import diagnose
from poolterm.model import Observation, Reach, Verdict
from tests.helpers.factories import numbered_pool

POOL = numbered_pool("lab", 4, lambda i: f"10.0.0.{i}")


def test_a_pool_still_connecting_says_so_and_to_wait():
    pool = diagnose([POOL], {}, 5.0).pools[0]
    assert pool.verdict is Verdict.UNKNOWN
    assert [f.kind for f in pool.findings] == ["connecting"]
    assert pool.summary == "Connecting: none of the 4 hosts of pool lab has answered yet."
    assert pool.advice.startswith("Wait")


def test_one_host_that_failed_makes_it_unreachable_not_connecting():
    observations = {"plot1": Observation(host="plot1", at=5.0, reach=Reach.TIMEOUT, reach_detail="no answer")}
    pool = diagnose([POOL], observations, 5.0).pools[0]
    assert pool.verdict is Verdict.UNKNOWN
    assert [f.kind for f in pool.findings] == ["nothing-reachable"]
