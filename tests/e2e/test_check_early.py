"""`poolterm check` concludes as soon as the evidence is decisive, and never on no evidence (issue #16).

The rule (poolterm/probing/oneshot.py): a host whose SSH has not answered is concluded unreachable
when every other host of its pool was heard and every host following it asked it and got nothing
(no echo reply, no answer to its forwarded call). First the rule on its own, then over real SSH
against the simulator: a pulled cable, a shut-down master, a handshake that only hangs, an old
master nobody follows any more.
"""

from __future__ import annotations

import json

import pytest

from poolterm.config.inventory import load_inventory
from poolterm.model import Observation, Reach, Verdict
from poolterm.probing.oneshot import Report, Tally
from tests.helpers.check_runs import check_cli, shape, timed_check, waited_check, with_timeouts
from tests.helpers.factories import Host, Pool, connected, slave_conf
from tests.helpers.faults import SilentPort, derived_inventory
from tests.helpers.ssh import xe
from tests.helpers.truth import host_field

POOL = Pool("lab", (Host("a", "10.0.0.1"), Host("b", "10.0.0.2"), Host("c", "10.0.0.3"), Host("d", "10.0.0.4")))


def waiting(name: str, follows: str, *, ping: bool | None) -> Report:
    """A slave of ``follows`` whose round waits in its forwarded call, with its ping's answer so far."""
    obs = connected(name, slave_conf(follows), at=1.0, xe=None, master_ping=ping, complete=False)
    return Report(obs, waiting="xe")


def tally() -> Tally:
    return Tally([POOL], started=0.0, connect_timeout=5)


def tell(t: Tally, *reports: Report) -> Tally:
    for report in reports:
        t.heard(report, 1.5)
    return t


# ---- the rule on its own --------------------------------------------------------------------------
def test_a_master_every_follower_lost_is_concluded_and_its_followers_settle_hung():
    t = tell(tally(), *(waiting(n, "10.0.0.1", ping=False) for n in "bcd"))
    assert t.settled
    seen = t.observations(1.5)
    assert seen["a"].reach is Reach.TIMEOUT
    assert "no SSH answer within 1.5 s" in seen["a"].reach_detail
    assert "none of the 3 host(s) following it (b, c, d) gets an answer to ping" in seen["a"].reach_detail
    assert all(seen[n].xe.status == "hung" and "waits on a" in seen[n].xe.output for n in "bcd")


@pytest.mark.parametrize("veto", [
    waiting("d", "10.0.0.1", ping=True),  # its ping was answered: the host is up, only slow to SSH
    waiting("d", "10.0.0.1", ping=None),  # not asked yet
    Report(connected("d", slave_conf("10.0.0.1"), at=1.0, master_ping=False), final=True),  # its call answered
])
def test_one_follower_that_reaches_the_master_or_has_not_asked_holds_the_conclusion(veto):
    t = tell(tally(), waiting("b", "10.0.0.1", ping=False), waiting("c", "10.0.0.1", ping=False), veto)
    assert not t.settled
    assert "a" in t.unsettled() and "a" not in t.observations(1.5)


def test_a_host_not_heard_from_yet_holds_the_conclusion():
    t = tell(tally(), waiting("b", "10.0.0.1", ping=False), waiting("c", "10.0.0.1", ping=False))
    assert t.unsettled() == ["a", "b", "c", "d"]


def test_no_follower_no_conclusion():
    # split brain after recovery: a's cable is out, d was promoted and b, c follow it: nobody asks a
    promoted = Report(connected("d", "master", at=1.0), final=True)
    t = tell(tally(), promoted, *(Report(connected(n, slave_conf("10.0.0.4"), at=1.0), final=True) for n in "bc"))
    assert t.unsettled() == ["a"]


def test_in_a_split_brain_the_hosts_still_pointing_at_the_old_master_decide_about_it():
    promoted = Report(connected("d", "master", at=1.0), final=True)
    recovered = Report(connected("c", slave_conf("10.0.0.4"), at=1.0), final=True)
    t = tell(tally(), promoted, recovered, waiting("b", "10.0.0.1", ping=False))
    assert t.settled
    assert t.observations(1.5)["a"].reach is Reach.TIMEOUT


def test_a_concluded_host_that_answers_after_all_keeps_its_own_word():
    t = tell(tally(), *(waiting(n, "10.0.0.1", ping=False) for n in "bcd"))
    answer = Report(connected("a", "master", at=2.0), final=True, seconds=2.0)
    tell(t, answer)
    seen = t.observations(2.0)
    assert seen["a"].reach is Reach.CONNECTED
    assert seen["b"].xe is None  # no longer settled as waiting on a lost master
    assert set(t.unsettled()) == {"b", "c", "d"}


def test_followers_of_a_master_that_refused_ssh_settle_once_they_asked_it():
    refused = Report(Observation(host="a", at=1.0, reach=Reach.REFUSED, complete=True), final=True)
    t = tell(tally(), refused, waiting("b", "10.0.0.1", ping=False), waiting("c", "10.0.0.1", ping=False),
             waiting("d", "10.0.0.1", ping=None))
    assert t.unsettled() == ["d"]
    tell(t, waiting("d", "10.0.0.1", ping=False))
    assert t.settled and t.observations(1.5)["a"].reach is Reach.REFUSED


# ---- over real SSH ---------------------------------------------------------------------------------------
async def test_a_pulled_master_cable_is_concluded_well_within_the_connect_timeout(sim):
    inventory = load_inventory(sim.hosts_yaml)  # as `poolterm sim` writes it: 5 s to connect, 5 s for xe
    await sim.ctl("cable-out", "plot1")
    seconds, diagnosis = await timed_check(inventory, inventory.probe.timeout)
    pool = diagnosis.pools[0]
    assert seconds < inventory.ssh.connect_timeout, f"{seconds:.1f} s: the connect timeout was waited out"
    assert pool.verdict is Verdict.MASTER_LOST and pool.findings[0].kind == "master-lost"
    assert pool.findings[0].hosts[0] == "plot1" and pool.findings[0].candidates[0].name == "plot2"
    plot1 = next(h for h in pool.hosts if h.name == "plot1")
    assert plot1.reach is Reach.TIMEOUT
    assert "none of the 7 host(s) following it (plot2, plot3, plot4 and 4 more) gets an answer to ping" \
        in plot1.evidence[0], plot1.evidence
    slaves = [h for h in pool.hosts if h.name != "plot1"]
    assert all(h.xapi.value == "hung" and "ping to the master from here: no answer" in h.evidence for h in slaves)
    assert "forwarded xe calls on slaves: hung 7" in pool.findings[0].evidence


async def test_the_early_verdict_is_the_one_waiting_gives(sim):
    inventory = with_timeouts(load_inventory(sim.hosts_yaml), connect=3)
    await sim.ctl("cable-out", "plot1")
    seconds, early = await timed_check(inventory, 3)
    waited = await waited_check(inventory, 3)
    assert seconds < 3
    assert shape(early.pools[0]) == shape(waited.pools[0])


async def test_a_shut_down_master_does_not_hold_the_round_for_the_probe_timeout(sim):
    inventory = load_inventory(sim.hosts_yaml)
    await sim.ctl("shutdown", "plot1")
    await sim.wait_until(lambda s: host_field(s, "plot1", "power") == "off", 10)
    seconds, diagnosis = await timed_check(inventory, inventory.probe.timeout)
    pool = diagnosis.pools[0]
    assert seconds < inventory.probe.timeout, f"{seconds:.1f} s: the slaves' hung calls were waited out"
    assert pool.verdict is Verdict.MASTER_LOST and pool.findings[0].hosts[0] == "plot1"
    assert next(h for h in pool.hosts if h.name == "plot1").reach is Reach.REFUSED


async def test_a_master_that_only_hangs_its_handshake_is_waited_for(sim):
    """Its slaves reach it (their calls answer, their pings too): no evidence it is gone, so the round
    waits out the connect timeout and says it did."""
    async with SilentPort("127.91.0.61") as silent:
        path = derived_inventory(sim.hosts_yaml, "silent-master", {"plot1": {"ssh_host": silent.address,
                                                                             "port": silent.port}},
                                 ssh={"connect_timeout": 2})
        inventory = load_inventory(path)
        seconds, diagnosis = await timed_check(inventory, inventory.probe.timeout)
    plot1 = next(h for h in diagnosis.pools[0].hosts if h.name == "plot1")
    assert seconds >= 2, f"{seconds:.1f} s: a host with no evidence against it was not waited for"
    assert plot1.reach is Reach.TIMEOUT and "no answer within 2 s" in plot1.evidence[0], plot1.evidence
    assert "not waited" not in plot1.evidence[0]


async def test_an_old_master_nobody_follows_any_more_is_waited_for(sim):
    """Split brain's first half: plot1's cable is out, plot2 promoted, the slaves recovered to it. Nobody
    asks plot1 any more, so nothing says it is gone: it gets the whole connect timeout."""
    await sim.ctl("cable-out", "plot1")
    assert (await xe(sim, "plot2", "xe pool-emergency-transition-to-master"))[0] == 0
    await sim.wait_until(lambda s: host_field(s, "plot2", "role") == "master", 10)
    assert (await xe(sim, "plot2", "xe pool-recover-slaves"))[0] == 0
    await sim.wait_until(lambda s: all(h["role"] == "slave" and h["xapi"] == "running"
                                       for h in s["hosts"] if h["name"] not in ("plot1", "plot2")), 10)
    inventory = with_timeouts(load_inventory(sim.hosts_yaml), connect=2)
    seconds, diagnosis = await timed_check(inventory, inventory.probe.timeout)
    pool = diagnosis.pools[0]
    assert seconds >= 2, f"{seconds:.1f} s: plot1 was concluded with nobody following it"
    assert pool.master == "plot2" and pool.verdict is Verdict.DEGRADED, pool.summary
    plot1 = next(h for h in pool.hosts if h.name == "plot1")
    assert plot1.reach is Reach.TIMEOUT and "not waited" not in plot1.evidence[0]


async def test_early_conclusion_across_probe_workers(sim):
    """Two workers split the pool (plot1..4 and plot5..8): the parent concludes from both halves."""
    await sim.ctl("cable-out", "plot1")
    status, out, err, seconds = await check_cli(sim.hosts_yaml, "--json", "--probe-workers", "2")
    assert (status, err) == (2, "")
    assert seconds < 5, f"{seconds:.1f} s: the 5 s connect timeout was waited out"
    pool = json.loads(out)["pools"][0]
    assert pool["verdict"] == "master-lost" and pool["findings"][0]["hosts"][0] == "plot1"
    plot1 = next(h for h in pool["hosts"] if h["name"] == "plot1")
    assert plot1["reach"] == "timeout" and "not waited for" in plot1["evidence"][0]
