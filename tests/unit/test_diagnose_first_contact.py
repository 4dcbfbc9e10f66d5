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


def test_hosts_not_heard_from_yet_beside_a_working_master_are_connecting_not_down():
    from tests.helpers.factories import healthy

    observations = {name: obs for name, obs in healthy([POOL], at=5.0).items() if name in ("plot1", "plot2")}
    observations["plot4"] = Observation(host="plot4", at=5.0, reach=Reach.TIMEOUT, reach_detail="no answer")
    pool = diagnose([POOL], observations, 5.0).pools[0]
    kinds = {f.kind: f for f in pool.findings}
    assert kinds["hosts-connecting"].hosts == ("plot3",)
    assert kinds["hosts-connecting"].summary == ("1 of the pool's 4 hosts has not answered yet (first contact "
                                                 "under way); master plot1 is fine.")
    assert kinds["hosts-down"].hosts == ("plot4",)
