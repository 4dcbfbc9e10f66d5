"""A master the jump box cannot use, although its slaves can: not lost (issue #11's fault matrix).

When the master's sshd answers and refuses the jump box (our key, its host key, a channel), the
master itself is up; if its slaves' forwarded xe calls also answer (and they reach its xapi port,
where that was checked), it works. Advising to promote a slave then would make the split brain the field notes warn of.
When the jump box cannot reach it at all (refused, timed out, stalled), the slaves' last word may
predate its death: that stays MASTER LOST, as fast as before.
"""

from __future__ import annotations

import pytest

from poolterm.diagnosis.diagnose import diagnose
from poolterm.diagnosis.guards import Refuse, decide
from poolterm.model import Reach, Severity, Verdict, XeCall
from tests.helpers.factories import Pool, connected, healthy, numbered_pool, slave_conf, unreachable_since

NOW = 1000.0
POOL: Pool = numbered_pool("lab", 4, lambda i: f"10.0.0.{i}")
MASTER = POOL.hosts[0].address


def pool_with_master(reach: Reach, *, port: str | None = "ok", xe: str | None = "answered"):
    """plot1, master when last seen 5 s ago, is now ``reach``; its three slaves say ``port`` of its
    xapi port and ``xe`` of their forwarded calls."""
    obs = healthy([POOL], at=NOW)
    for host in POOL.hosts[1:]:
        obs[host.name] = connected(host.name, slave_conf(MASTER), at=NOW, master_port=port,
                                   xe=XeCall(xe) if xe else None)
    obs["plot1"] = unreachable_since("plot1", "master", seen=NOW - 5, at=NOW, reach=reach)
    return diagnose([POOL], obs, NOW).pools[0]


@pytest.mark.parametrize("reach", [Reach.AUTH_FAILED, Reach.HOST_KEY_CHANGED, Reach.HOST_KEY_UNKNOWN, Reach.ERROR])
def test_a_master_that_refuses_the_jump_box_but_serves_its_slaves_is_not_lost(reach):
    pool = pool_with_master(reach)
    assert (pool.verdict, pool.master) == (Verdict.DEGRADED, "plot1"), pool.summary
    lead = pool.findings[0]
    assert (lead.kind, lead.severity, lead.hosts, lead.playbook) == ("master-unseen", Severity.WARNING, ("plot1",),
                                                                     None)
    assert pool.summary == (f"The jump box cannot use master plot1 ({reach.value}), but its 3 slaves reach its xapi "
                            "and their forwarded xe calls answer: it works. Do not promote another host; fix the "
                            "jump box's SSH access to plot1.")
    assert pool.advice == "Do not promote another host: fix the jump box's SSH access to plot1."
    assert not any(f.candidates for f in pool.findings)
    assert all(h.agrees for h in pool.hosts)


@pytest.mark.parametrize("reach", [Reach.REFUSED, Reach.TIMEOUT, Reach.STALLED, Reach.UNREACHABLE])
def test_a_master_the_jump_box_cannot_reach_at_all_is_lost_whatever_the_slaves_said_last(reach):
    pool = pool_with_master(reach)
    assert pool.verdict is Verdict.MASTER_LOST
    assert pool.findings[0].kind == "master-lost" and "Promote plot2" in pool.summary


def test_the_forwarded_calls_suffice_where_the_port_was_not_checked():
    # a first round (poolterm check) has no master to check the port of yet
    assert pool_with_master(Reach.AUTH_FAILED, port=None).verdict is Verdict.DEGRADED


@pytest.mark.parametrize("port, xe", [("timeout", "answered"), ("ok", "hung"), ("refused", "failed"), ("ok", None)])
def test_slaves_that_cannot_reach_the_master_keep_it_lost_though_it_refused_the_jump_box(port, xe):
    pool = pool_with_master(Reach.AUTH_FAILED, port=port, xe=xe)
    assert pool.verdict is Verdict.MASTER_LOST
    assert "Promote plot2" in pool.summary


def test_the_guards_refuse_promoting_a_slave_while_the_unseen_master_serves_the_pool():
    obs = healthy([POOL], at=NOW)
    for host in POOL.hosts[1:]:
        obs[host.name] = connected(host.name, slave_conf(MASTER), at=NOW, master_port="ok", xe=XeCall("answered"))
    obs["plot1"] = unreachable_since("plot1", "master", seen=NOW - 5, at=NOW, reach=Reach.AUTH_FAILED)
    diagnosis = diagnose([POOL], obs, NOW)
    decision = decide(["xe", "pool-emergency-transition-to-master"], "plot2", diagnosis, read_only=False)
    assert isinstance(decision, Refuse) and decision.rule == "second-master"
    assert decision.reason.startswith("plot1 refuses the jump box's SSH login, but its slaves reach its xapi")
    assert "Fix the jump box's access to plot1" in decision.instead
