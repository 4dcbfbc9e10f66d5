"""Diagnosis as a table: observations in, verdict, named hosts and playbook out."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from poolterm.cli.check import to_json
from poolterm.diagnosis.diagnose import diagnose
from poolterm.model import Observation, Reach, Role, Verdict, XapiState, XeCall
from tests.helpers.factories import Host, Lab, Pool, host_number, numbered_pool

SECRET = "5" * 64
OTHER_SECRET = "9" * 64
NOW = 100.0

POOL = numbered_pool("lab", 8, lambda i: f"10.0.0.{10 + i}")
LAB = Lab(POOL, NOW, SECRET, lambda name: f"00000000-0000-4000-8000-{host_number(name):012d}")
ALL = LAB.names
uuid_of, slave_of, db, up, down, healthy = LAB.uuid_of, LAB.slave_of, LAB.db, LAB.up, LAB.down, LAB.healthy


def pool_of(observations) -> "object":
    return diagnose([POOL], observations, NOW).pools[0]


def master_crashed(reach=Reach.TIMEOUT) -> dict[str, Observation]:
    obs = healthy()
    obs["plot1"] = down("plot1", reach, obs["plot1"])
    for n in ALL[1:]:
        obs[n] = up(n, slave_of("plot1"), xe="hung", port="timeout")
    return obs


def test_healthy_pool_names_its_master():
    pool = pool_of(healthy())
    assert pool.verdict is Verdict.HEALTHY
    assert pool.master == "plot1"
    assert pool.playbook is None
    assert all(h.agrees for h in pool.hosts)
    assert "plot1 is master" in pool.summary


@pytest.mark.parametrize("reach, words", [(Reach.TIMEOUT, "does not answer at all"),
                                          (Reach.REFUSED, "refuses SSH"),
                                          (Reach.STALLED, "does not answer at all")])
def test_master_lost_names_the_lost_master_and_the_best_candidate(reach, words):
    obs = master_crashed(reach)
    # plot2 is disabled in the last database the master reported: it must not be first choice.
    obs["plot1"] = replace(obs["plot1"], stale=replace(obs["plot1"].stale, db_hosts=tuple(
        replace(h, enabled=h.name != "plot2") for h in db(*ALL))))
    pool = pool_of(obs)
    assert pool.verdict is Verdict.MASTER_LOST
    assert pool.playbook == "master-lost"
    finding = pool.findings[0]
    assert finding.kind == "master-lost"
    assert finding.hosts[0] == "plot1"
    assert words in pool.summary
    best = finding.candidates[0]
    assert best.name == "plot3"
    assert "enabled" in best.reasons
    assert [c.name for c in finding.candidates][-1] == "plot2"
    assert any("not trusted" in e for e in finding.evidence)


def test_master_lost_is_seen_even_though_every_slave_says_not_in_emergency():
    pool = pool_of(master_crashed())
    assert all(h.emergency_flag is False for h in pool.hosts if h.reachable)
    assert pool.verdict is Verdict.MASTER_LOST
    lost = next(h for h in pool.hosts if h.name == "plot1")
    assert lost.stale and lost.role is Role.MASTER and not lost.reachable


def test_master_whose_xapi_hangs_is_lost_although_reachable():
    obs = healthy()
    obs["plot1"] = up("plot1", "master", xe="hung", db=None)
    for n in ALL[1:]:
        obs[n] = up(n, slave_of("plot1"), xe="hung", port="timeout")
    pool = pool_of(obs)
    assert pool.verdict is Verdict.MASTER_LOST
    assert pool.findings[0].kind == "master-hung"
    assert "xe-toolstack-restart on plot1" in pool.summary


def just_promoted(xe: str, svc: str = "active") -> dict[str, Observation]:
    """plot1 crashed; plot2 was promoted moments ago; everyone else still follows plot1."""
    obs = master_crashed()
    obs["plot2"] = up("plot2", "master", xe=xe, service=svc)
    return obs


@pytest.mark.parametrize("xe, svc, phase", [
    ("hung", "active", "has not restarted as master yet"),
    ("refused", "inactive", "is restarting"),
    ("refused", "activating", "is starting"),  # refusing calls while systemd starts it: a start
])
def test_a_host_promoted_moments_ago_is_waited_for_not_restarted_or_replaced(xe, svc, phase):
    pool = pool_of(just_promoted(xe, svc))
    assert pool.verdict is Verdict.MASTER_LOST and pool.master is None
    finding = pool.findings[0]
    assert finding.kind == "master-taking-over" and finding.hosts == ("plot2", "plot1")
    assert f"plot2 has been promoted: pool.conf says master and its xapi {phase} (" in pool.summary
    assert "Do not promote another host" in pool.summary
    assert "The others still follow plot1: once plot2 answers as master, run pool-recover-slaves on it" in pool.summary
    assert pool.advice.startswith("Wait until plot2 answers as master")
    assert pool.playbook is None, "no playbook to start while the promotion completes"
    assert "Promote" not in pool.summary


def test_a_master_that_hangs_with_followers_is_not_mistaken_for_a_promotion():
    obs = just_promoted("hung")
    obs["plot3"] = up("plot3", slave_of("plot2"), xe="hung")
    assert pool_of(obs).findings[0].kind == "master-hung"


def recovered_onto_plot2() -> dict[str, Observation]:
    """pool-recover-slaves ran on plot2: every pool.conf names plot2, and each xapi answers through plot2."""
    obs = {"plot2": up("plot2", "master", db=ALL)}
    obs.update({n: replace(up(n, slave_of("plot2")), pool_master_uuid=uuid_of("plot2")) for n in ALL if n != "plot2"})
    return obs


@pytest.mark.parametrize("old_role", ["listed its own database", "answered as its own master"])
def test_a_demoted_master_is_a_handover_in_progress_until_its_xapi_restarts_as_a_slave(old_role):
    obs = recovered_onto_plot2()
    assert pool_of(obs).verdict is Verdict.HEALTHY
    if old_role == "listed its own database":  # the round after pool.conf changed still ran as master
        obs["plot1"] = replace(obs["plot1"], pool_master_uuid=None, db_hosts=db(*ALL))
    else:
        obs["plot1"] = replace(obs["plot1"], pool_master_uuid=uuid_of("plot1"))
    pool = pool_of(obs)
    # A role change waiting for its fuse is a master change under way, never an incident to act on.
    assert pool.verdict is Verdict.HANDOVER and pool.master == "plot2"
    assert pool.findings[0].kind == "handover" and "plot1 to restart as plot2's slave" in pool.summary
    assert "Do not promote, recover or restart anything" in pool.summary
    finding = next(f for f in pool.findings if f.kind == "role-change-pending")
    assert finding.hosts == ("plot1",)
    assert "plot1: pool.conf already names plot2 as master, but xapi still runs in its old role" in finding.summary


def test_a_promotion_needs_the_followed_master_gone():
    # The slaves follow plot1, which answers as master: plot2 with pool.conf master is not taking over.
    obs = just_promoted("hung")
    obs["plot1"] = up("plot1", "master", db=ALL)
    assert "master-taking-over" not in [f.kind for f in pool_of(obs).findings]
    # The slaves follow an address outside the inventory: a hung master, not a promotion.
    obs = just_promoted("hung")
    for n in ALL[2:]:
        obs[n] = up(n, "slave:10.9.9.9", xe="hung")
    assert pool_of(obs).findings[0].kind == "master-hung"


def test_a_master_whose_answer_is_not_in_yet_is_not_a_promotion():
    obs = just_promoted("hung")
    obs["plot2"] = replace(obs["plot2"], xe=None, complete=False)  # a partial round: xe has not ended
    assert "master-taking-over" not in [f.kind for f in pool_of(obs).findings]


def test_a_two_host_pool_promotion_is_waited_for():
    pool = Pool("pair", (POOL.hosts[0], POOL.hosts[1]))
    obs = {"plot1": down("plot1", Reach.TIMEOUT, up("plot1", "master", db=("plot1", "plot2"))),
           "plot2": up("plot2", "master", xe="hung")}
    found = diagnose([pool], obs, NOW).pools[0]
    assert found.findings[0].kind == "master-taking-over" and found.findings[0].hosts == ("plot2", "plot1")


def test_xapi_starting_on_a_master_is_not_taken_for_a_working_master():
    obs = healthy()
    obs["plot1"] = up("plot1", "master", xe="refused", service="activating")
    pool = pool_of(obs)
    # Not working yet, and not to be restarted either: a start under way (a fuse, a toolstack restart).
    assert pool.verdict is Verdict.HANDOVER and pool.findings[0].kind == "handover"
    assert "waiting for plot1's xapi to restart as master" in pool.summary


def test_a_master_xapi_starting_for_longer_than_any_restart_takes_is_lost():
    obs = healthy()
    starting = up("plot1", "master", xe="refused", service="activating")
    obs["plot1"] = replace(starting, service_changed_at=starting.at - 200)
    pool = pool_of(obs)
    assert pool.verdict is Verdict.MASTER_LOST and pool.findings[0].kind == "master-hung"


def test_a_slave_down_is_degraded_not_critical():
    obs = healthy()
    obs["plot5"] = down("plot5", Reach.TIMEOUT, obs["plot5"])
    pool = pool_of(obs)
    assert pool.verdict is Verdict.DEGRADED
    assert pool.master == "plot1"
    assert any(f.kind == "hosts-down" and f.hosts == ("plot5",) for f in pool.findings)


def test_split_brain_names_both_masters_and_the_true_one():
    obs = healthy()
    # cable pulled on master plot2's pool; plot3 promoted and recovered the others; plot2 back.
    for n in ALL:
        obs[n] = up(n, slave_of("plot3"))
    obs["plot3"] = up("plot3", "master", db=ALL)
    obs["plot2"] = up("plot2", "master", db=ALL)
    pool = pool_of(obs)
    assert pool.verdict is Verdict.SPLIT_BRAIN
    assert pool.master == "plot3"
    finding = pool.findings[0]
    assert finding.kind == "split-brain" and finding.playbook == "split-brain"
    assert set(finding.hosts) == {"plot2", "plot3"}
    assert "plot3 is the true master" in finding.summary
    assert "never on plot2" in finding.summary
    plot2 = next(h for h in pool.hosts if h.name == "plot2")
    assert not plot2.agrees


@pytest.mark.parametrize("xapi", [
    {"service": "activating", "xe": "failed", "code": "HOST_STILL_BOOTING"},  # starting, checks not run yet
    {"service": "inactive", "xe": "refused"},  # not started at all yet
])
def test_an_old_master_booting_while_another_works_is_not_yet_a_split_brain(xapi):
    """plot1 comes back with pool.conf `master` after plot3 took over: until its xapi is up it
    has not run its no-other-masters check, which makes it plot3's slave."""
    obs = {n: up(n, slave_of("plot3")) for n in ALL}
    obs["plot3"] = up("plot3", "master", db=ALL)
    obs["plot1"] = replace(up("plot1", "master", **xapi), init_complete=False)
    pool = pool_of(obs)
    assert pool.verdict is Verdict.DEGRADED and pool.master == "plot3"
    finding = next(f for f in pool.findings if f.kind == "starting-master")
    assert finding.hosts == ("plot1",) and "finds plot3 and becomes a slave" in finding.summary
    assert not next(h for h in pool.hosts if h.name == "plot1").agrees
    # once its xapi answers and it still claims master, it is one
    obs["plot1"] = up("plot1", "master", db=ALL)
    assert pool_of(obs).verdict is Verdict.SPLIT_BRAIN


def test_masters_with_different_secrets_are_not_a_split_brain():
    obs = healthy()
    obs["plot8"] = up("plot8", "master", secret=OTHER_SECRET)
    pool = pool_of(obs)
    assert pool.verdict is not Verdict.SPLIT_BRAIN
    assert any(f.kind == "foreign-master" and f.hosts == ("plot8",) for f in pool.findings)


def test_orphaned_slaves_after_promotion_without_recover_slaves():
    obs = master_crashed(Reach.REFUSED)
    obs["plot2"] = up("plot2", "master", db=ALL)
    pool = pool_of(obs)
    assert pool.verdict is Verdict.ORPHANED_SLAVES
    assert pool.master == "plot2"
    finding = pool.findings[0]
    assert finding.playbook == "orphaned-slaves"
    assert set(finding.hosts) == set(ALL[2:])
    assert "plot1" in finding.summary and "pool-recover-slaves on plot2" in finding.summary


def test_forgotten_host_in_emergency():
    obs = healthy()
    obs["plot1"] = up("plot1", "master", db=[n for n in ALL if n != "plot7"])
    obs["plot7"] = up("plot7", slave_of("plot1"), xe="failed", emergency=True, code="HOST_UNKNOWN_TO_MASTER")
    pool = pool_of(obs)
    assert pool.verdict is Verdict.EMERGENCY
    finding = next(f for f in pool.findings if f.kind == "forgotten-host")
    assert finding.hosts == ("plot7",) and finding.playbook == "forgotten-host"
    assert pool.playbook == "forgotten-host"


def test_nothing_reachable_is_unknown():
    obs = {n: down(n, Reach.TIMEOUT, None) for n in ALL}
    pool = pool_of(obs)
    assert pool.verdict is Verdict.UNKNOWN
    assert diagnose([POOL], obs, NOW).severity.exit_code == 3


def test_no_observations_at_all_is_unknown():
    assert pool_of({}).verdict is Verdict.UNKNOWN


def test_stale_master_cut_off_while_another_runs_is_a_warning():
    obs = healthy()
    obs["plot2"] = down("plot2", Reach.TIMEOUT, up("plot2", "master"))
    obs["plot3"] = up("plot3", "master", db=ALL)
    for n in ALL:
        if n not in ("plot2", "plot3"):
            obs[n] = up(n, slave_of("plot3"))
    pool = pool_of(obs)
    assert pool.verdict is Verdict.DEGRADED
    stale = next(f for f in pool.findings if f.kind == "stale-master")
    assert stale.hosts == ("plot2",) and stale.playbook == "split-brain"


def test_json_has_the_documented_shape():
    data = to_json(diagnose([POOL], master_crashed(), NOW))
    assert data["verdict"] == "master-lost" and data["severity"] == "critical"
    pool = data["pools"][0]
    assert set(pool) >= {"name", "verdict", "master", "hosts", "findings"}
    assert set(pool["hosts"][0]) >= {"name", "reachable", "role", "believed_master", "xapi", "emergency_flag", "evidence"}
    assert set(pool["findings"][0]) >= {"kind", "severity", "hosts", "summary", "playbook"}
    json.dumps(data)


# ---- property: any observations, one verdict per pool, never a crash ------------------

confs = st.sampled_from(["master", "broken", "", "garbage"] + [slave_of(n) for n in ALL] + ["slave:203.0.113.9"])
reaches = st.sampled_from(list(Reach))
calls = st.one_of(st.none(), st.builds(XeCall, st.sampled_from(["answered", "hung", "failed", "refused"]),
                                       st.text(max_size=20),
                                       st.sampled_from([None, "HOST_UNKNOWN_TO_MASTER", "HOST_STILL_BOOTING"])))


@st.composite
def observation(draw, name: str):
    base = Observation(
        host=name, at=NOW, reach=draw(reaches), pool_conf=draw(st.one_of(st.none(), confs)),
        uuid=draw(st.sampled_from([None, uuid_of(name), uuid_of("plot1")])),
        init_complete=draw(st.one_of(st.none(), st.booleans())),
        xapi_service=draw(st.sampled_from([None, "active", "inactive", "activating"])),
        emergency_flag=draw(st.one_of(st.none(), st.booleans())),
        secret_hash=draw(st.sampled_from([None, SECRET, OTHER_SECRET])),
        master_port=draw(st.sampled_from([None, "ok", "refused", "timeout"])), xe=draw(calls),
        db_hosts=draw(st.one_of(st.none(), st.lists(st.sampled_from(ALL), unique=True).map(lambda ns: db(*ns)))),
        last_seen=draw(st.one_of(st.none(), st.floats(0, NOW))),
    )
    if draw(st.booleans()):
        base = replace(base, stale=replace(base, reach=Reach.CONNECTED, stale=None))
    return base


@st.composite
def observation_sets(draw):
    names = draw(st.lists(st.sampled_from(ALL), unique=True))
    return {n: draw(observation(n)) for n in names}


@settings(max_examples=300, deadline=None)
@given(observation_sets())
def test_any_observations_give_exactly_one_verdict_per_pool(observations):
    other = Pool("other", (Host("solo", "10.0.1.1"),))
    diagnosis = diagnose([POOL, other], observations, NOW)
    assert [p.name for p in diagnosis.pools] == ["lab", "other"]
    for pool in diagnosis.pools:
        assert isinstance(pool.verdict, Verdict)
        assert len(pool.hosts) == len({h.name for h in pool.hosts})
        assert pool.summary
        if pool.master is not None:
            assert pool.master in {h.name for h in pool.hosts}
        for h in pool.hosts:
            assert isinstance(h.xapi, XapiState)
            assert h.reachable == h.reach.reachable
    json.dumps(to_json(diagnosis))
