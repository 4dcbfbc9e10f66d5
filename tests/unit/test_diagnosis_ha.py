"""HA pools and master changes under way (issue #12): the verdicts that say "wait", and when they stop.

Under HA a lost master is replaced by the survivors' election (docs/xapi.md, "Failover: the
election"): the diagnosis says HA FAILOVER with a countdown and never advises a promotion, until
the election is overdue or impossible (HA STUCK). A master change poolterm sees in the files
(pool.conf changed moments ago) is HANDOVER IN PROGRESS until its window has passed.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from poolterm.diagnosis.diagnose import HA_ELECTION_SLACK, HANDOVER_WINDOW, diagnose
from poolterm.diagnosis.guards import Confirm, Refuse, decide
from poolterm.model import Reach, Verdict, XeCall
from poolterm.xha import Liveset, Peer
from tests.helpers.factories import Pool, connected, numbered_pool, slave_conf, unreachable_since

NOW = 1000.0
T = 10.0
POOL: Pool = numbered_pool("lab", 4, lambda i: f"10.0.0.{i}")
MASTER = POOL.hosts[0].address
NAMES = [h.name for h in POOL.hosts]


def armed(obs, *, timeout=T, enabled=True, **fields):
    return replace(obs, ha_armed=True, ha_timeout=timeout, pool_ha_enabled=enabled, pool_ha_tolerate=1, **fields)


def liveset(local: str, live: list[str], *, holder: str | None, lost: bool = False) -> Liveset:
    return Liveset(f"uuid-{local}", True, tuple(Peer(f"uuid-{n}", n in live, n == holder, not lost, False)
                                               for n in NAMES), lost)


def ha_pool():
    obs = {"plot1": armed(connected("plot1", "master", at=NOW), enabled=None)}
    for name in NAMES[1:]:
        obs[name] = armed(connected(name, slave_conf(MASTER), at=NOW))
    return obs


def master_lost_since(seconds: float, **slave_fields):
    """plot1 (HA armed, master) last seen ``seconds`` ago; the slaves' forwarded calls hang."""
    obs = ha_pool()
    stale = armed(connected("plot1", "master", at=NOW - seconds), enabled=None)
    obs["plot1"] = replace(unreachable_since("plot1", "master", seen=NOW - seconds, at=NOW), stale=stale)
    for name in NAMES[1:]:
        obs[name] = replace(obs[name], **{"xe": XeCall("hung"), "pool_ha_enabled": None, **slave_fields})
    return obs


def pool_of(obs, now=NOW):
    return diagnose([POOL], obs, now).pools[0]


def test_a_healthy_ha_pool_reports_its_ha_and_marks_every_host_armed():
    pool = pool_of(ha_pool())
    assert pool.verdict is Verdict.HEALTHY
    assert (pool.ha.enabled, pool.ha.armed, pool.ha.failures_to_tolerate) == (True, tuple(NAMES), 1)
    assert [h.ha for h in pool.hosts] == ["armed"] * 4


def test_a_pool_without_ha_shows_no_ha_marks():
    obs = {n: replace(o, ha_armed=False, pool_ha_enabled=False if n != "plot1" else None)
           for n, o in ha_pool().items()}
    pool = pool_of(obs)
    assert pool.verdict is Verdict.HEALTHY and not pool.ha.on
    assert [h.ha for h in pool.hosts] == [None] * 4


def test_a_lost_master_under_ha_is_a_failover_to_wait_for_with_a_countdown():
    pool = pool_of(master_lost_since(4))
    assert pool.verdict is Verdict.HA_FAILOVER, pool.summary
    lead = pool.findings[0]
    assert lead.kind == "ha-failover" and lead.playbook is None and not lead.candidates
    window = T + HA_ELECTION_SLACK
    assert f"last seen 4 s ago" in lead.summary and f"({window - 4:.0f} s left)" in lead.summary
    assert pool.advice == f"Wait: HA elects a new master within {window - 4:.0f} s; do not promote by hand."
    assert "Promote" not in pool.summary and "xe-toolstack-restart on" not in pool.summary


def test_the_failover_turns_stuck_once_the_election_is_overdue():
    window = T + HA_ELECTION_SLACK
    assert pool_of(master_lost_since(window - 1)).verdict is Verdict.HA_FAILOVER
    pool = pool_of(master_lost_since(window + 1))
    assert pool.verdict is Verdict.HA_STUCK and pool.playbook == "ha-stuck"
    assert "past the" in pool.summary and pool.findings[0].candidates


def test_the_failover_is_stuck_at_once_when_no_survivor_can_take_the_master_lock():
    stuck = master_lost_since(T + 1, xe=XeCall("failed", "HA_HOST_CANNOT_ACCESS_STATEFILE",
                                                "HA_HOST_CANNOT_ACCESS_STATEFILE"), emergency_flag=True)
    pool = pool_of(stuck)
    assert pool.verdict is Verdict.HA_STUCK
    assert "stuck at start-up with HA_HOST_CANNOT_ACCESS_STATEFILE" in pool.summary
    # Before the timeout has passed the same evidence may still heal: it is a failover, not stuck.
    assert pool_of(master_lost_since(T - 5, emergency_flag=True, xe=XeCall(
        "failed", "", "HA_HOST_CANNOT_ACCESS_STATEFILE"))).verdict is Verdict.HA_FAILOVER


def test_every_survivor_without_the_statefile_means_stuck():
    obs = master_lost_since(T + 1)
    for name in NAMES[1:]:
        obs[name] = replace(obs[name], ha_live=liveset(name, NAMES[1:], holder=None, lost=True))
    assert pool_of(obs).verdict is Verdict.HA_STUCK


def test_a_hung_master_under_ha_is_waited_for_not_restarted():
    obs = ha_pool()
    obs["plot1"] = replace(obs["plot1"], xe=XeCall("hung"))
    pool = pool_of(obs)
    assert pool.verdict is Verdict.HA_FAILOVER
    assert "xhad restarts a failed xapi by itself" in pool.summary
    assert "Restart its toolstack" not in pool.summary


def test_an_elected_master_restarting_is_the_failover_finishing():
    """After the election: plot2's pool.conf says master (changed 3 s ago), its xapi restarts; the
    others point at it and wait in emergency mode."""
    obs = ha_pool()
    obs["plot1"] = replace(unreachable_since("plot1", "master", seen=NOW - 30, at=NOW),
                           stale=armed(connected("plot1", "master", at=NOW - 30)))
    obs["plot2"] = armed(connected("plot2", "master", at=NOW, xapi_service="activating", init_complete=False,
                                   xe=XeCall("refused", "", "XAPI_NOT_RUNNING")),
                         conf_changed_at=NOW - 3, conf_before=slave_conf(MASTER))
    for name in NAMES[2:]:
        obs[name] = armed(connected(name, slave_conf("10.0.0.2"), at=NOW, emergency_flag=True,
                                    xe=XeCall("failed", "", "HOST_STILL_BOOTING")),
                          conf_changed_at=NOW - 3, conf_before=slave_conf(MASTER))
    pool = pool_of(obs)
    assert pool.verdict is Verdict.HA_FAILOVER, pool.summary
    assert "HA elected plot2" in pool.summary
    assert "promote" not in pool.advice.lower() or "do not promote" in pool.advice.lower()


def test_hosts_that_disagree_about_ha_and_a_host_cut_off_are_warned_of():
    obs = ha_pool()
    obs["plot4"] = replace(obs["plot4"], ha_armed=False)
    obs["plot3"] = replace(obs["plot3"], ha_live=liveset("plot3", ["plot3"], holder=None, lost=True))
    obs["plot2"] = replace(obs["plot2"], ha_live=liveset("plot2", NAMES, holder="plot1"))
    pool = pool_of(obs)
    kinds = {f.kind: f for f in pool.findings}
    assert kinds["ha-mismatch"].hosts == ("plot4",)
    risk = kinds["fencing-risk"]
    assert risk.hosts == ("plot3",) and "lost the heartbeat statefile" in risk.summary and "cut off" in risk.summary
    assert pool.verdict is Verdict.DEGRADED


def test_a_host_others_dropped_from_the_liveset_is_marked_fenced():
    obs = ha_pool()
    obs["plot4"] = replace(unreachable_since("plot4", slave_conf(MASTER), seen=NOW - 30, at=NOW),
                           stale=armed(connected("plot4", slave_conf(MASTER), at=NOW - 30)))
    obs["plot2"] = replace(obs["plot2"], ha_live=liveset("plot2", NAMES[:3], holder="plot1"))
    pool = pool_of(obs)
    assert {h.name: h.ha for h in pool.hosts}["plot4"] == "fenced"


# --------------------------------------------------------------------------- master changes under way


def designate_to_plot3(age: float):
    """pool-designate-new-master to plot3 ``age`` seconds ago: the fuses have blown, plot3's xapi is
    down while it restarts, the others point at it and wait in emergency mode."""
    obs = {"plot3": connected("plot3", "master", at=NOW, xapi_service="inactive", xe=XeCall(
        "refused", "", "XAPI_NOT_RUNNING"), conf_changed_at=NOW - age, conf_before=slave_conf(MASTER))}
    for name in ("plot1", "plot2", "plot4"):
        obs[name] = connected(name, slave_conf("10.0.0.3"), at=NOW, emergency_flag=True,
                              xe=XeCall("failed", "", "HOST_STILL_BOOTING"),
                              conf_changed_at=NOW - age, conf_before="master" if name == "plot1" else slave_conf(MASTER))
    return obs


def test_a_handover_restarting_is_not_a_lost_master_while_its_window_lasts():
    pool = pool_of(designate_to_plot3(12))
    assert pool.verdict is Verdict.HANDOVER, pool.summary
    assert "plot3's xapi to restart as master" in pool.summary and "changed 12 s ago" in pool.summary
    assert "xe-toolstack-restart" not in pool.summary and "Promote" not in pool.summary
    assert pool.advice.startswith("Wait")


def test_a_handover_past_its_window_is_an_incident_naming_what_did_not_happen():
    pool = pool_of(designate_to_plot3(HANDOVER_WINDOW + 5))
    assert pool.verdict is Verdict.MASTER_LOST
    overdue = next(f for f in pool.findings if f.kind == "handover-overdue")
    assert "plot3's xapi to restart as master has not happened" in overdue.summary


@pytest.mark.parametrize("argv", [
    ["xe", "pool-emergency-transition-to-master"],
    ["xe-toolstack-restart"],
    ["xe", "pool-recover-slaves"],
])
def test_the_guards_refuse_promotions_and_restarts_during_a_handover(argv):
    diagnosis = diagnose([POOL], designate_to_plot3(12), NOW)
    decision = decide(argv, "plot2" if "transition" in " ".join(argv) else "plot3", diagnosis, read_only=False)
    assert isinstance(decision, Refuse) and decision.rule == "handover-in-progress", decision


def test_the_guards_refuse_a_promotion_during_an_ha_failover_and_say_wait():
    diagnosis = diagnose([POOL], master_lost_since(4), NOW)
    decision = decide(["xe", "pool-emergency-transition-to-master"], "plot2", diagnosis, read_only=False)
    assert isinstance(decision, Refuse) and decision.rule == "ha-failover"
    assert decision.instead.startswith("Wait: HA elects a new master")


def test_when_ha_is_stuck_an_armed_host_must_be_disarmed_before_its_promotion():
    stuck = master_lost_since(T + HA_ELECTION_SLACK + 1)
    diagnosis = diagnose([POOL], stuck, NOW)
    decision = decide(["xe", "pool-emergency-transition-to-master"], "plot2", diagnosis, read_only=False)
    assert isinstance(decision, Refuse) and decision.rule == "ha-armed"
    assert "host-emergency-ha-disable --force" in decision.instead
    stuck["plot2"] = replace(stuck["plot2"], ha_armed=False)
    decision = decide(["xe", "pool-emergency-transition-to-master"], "plot2", diagnose([POOL], stuck, NOW),
                      read_only=False)
    assert isinstance(decision, Confirm), decision


def test_a_toolstack_restart_on_an_armed_host_is_refused_and_ha_enable_waits_for_healthy():
    diagnosis = diagnose([POOL], ha_pool(), NOW)
    decision = decide(["xe-toolstack-restart"], "plot2", diagnosis, read_only=False)
    assert isinstance(decision, Refuse) and decision.rule == "toolstack-ha"
    assert "host-emergency-ha-disable --force on plot2" in decision.instead
    incident = diagnose([POOL], designate_to_plot3(HANDOVER_WINDOW + 5), NOW)
    decision = decide(["xe", "pool-ha-enable", "heartbeat-sr-uuids=x"], "plot3", incident, read_only=False)
    assert isinstance(decision, Refuse) and decision.rule == "ha-enable-incident"
    assert isinstance(decide(["xe", "pool-ha-enable", "heartbeat-sr-uuids=x"], "plot1",
                             diagnose([POOL], ha_pool(), NOW), read_only=False), Confirm)


def test_unreachable_master_stays_master_lost_without_ha():
    obs = master_lost_since(4)
    obs = {n: replace(o, ha_armed=False, pool_ha_enabled=None) for n, o in obs.items()}
    obs["plot1"] = replace(obs["plot1"], stale=replace(obs["plot1"].stale, ha_armed=False))
    assert pool_of(obs).verdict is Verdict.MASTER_LOST
    assert obs["plot1"].reach is Reach.TIMEOUT


# --------------------------------------------------------------------------- playbook ha-stuck, as planned


def test_ha_stuck_plans_a_disarm_on_each_survivor_before_the_promotion():
    from poolterm.playbooks import load_playbook
    from poolterm.playbooks.conditions import PoolView
    from poolterm.playbooks.engine import Engine, Plan, RunCommand, Timing, expand, plan

    stuck = master_lost_since(T + HA_ELECTION_SLACK + 1)
    pool = pool_of(stuck)
    planned = plan(load_playbook("ha-stuck"), PoolView(pool, stuck))
    assert isinstance(planned, Plan), planned
    assert planned.bindings["survivors"] == ("plot2", "plot3", "plot4")
    assert (planned.bindings["old_master"], planned.bindings["candidate"]) == ("plot1", "plot2")
    playbook, bindings = expand(load_playbook("ha-stuck"), planned.bindings)
    assert [s.id for s in playbook.steps] == ["confirm-stuck", "disarm-1", "disarm-2", "disarm-3", "promote",
                                              "recover-slaves", "bring-back-old-master", "disarm-old-master",
                                              "old-master-settles", "recover-old-master", "verify", "enable-ha"]
    engine = Engine(playbook, bindings, Timing(fuse=1, xapi_start=2, boot=5, probe=3))
    action = engine.decide(PoolView(pool, stuck), NOW)
    assert isinstance(action, RunCommand) and (action.host, action.command) == \
        ("plot2", "xe host-emergency-ha-disable --force")
    assert engine.render(playbook.steps[1].title) == "Disarm HA on plot2"
    # The same bindings from a journal expand to the same steps: a resumed run finds its place.
    assert expand(load_playbook("ha-stuck"), dict(planned.bindings))[0] == playbook


def test_the_master_lost_playbook_is_refused_during_an_ha_failover():
    from poolterm.playbooks import load_playbook
    from poolterm.playbooks.conditions import PoolView
    from poolterm.playbooks.engine import Finished, plan

    obs = master_lost_since(4)
    planned = plan(load_playbook("master-lost"), PoolView(pool_of(obs), obs))
    assert isinstance(planned, Finished) and planned.outcome == "not-applicable"
    assert "HA FAILOVER" in planned.reason


def test_broken_written_between_the_two_phases_is_the_handover_not_a_broken_host():
    """pool-designate-new-master writes `broken` on the new master between its phases: a round that
    lands then sees plot3 broken while plot1 still serves as master."""
    obs = ha_pool()
    obs = {n: replace(o, ha_armed=False, pool_ha_enabled=False if n != "plot1" else None) for n, o in obs.items()}
    obs["plot1"] = replace(obs["plot1"], db_hosts=())
    obs["plot3"] = replace(obs["plot3"], pool_conf="broken", conf_changed_at=NOW - 1, conf_before=slave_conf(MASTER))
    pool = pool_of(obs)
    assert pool.verdict is Verdict.HANDOVER, pool.summary
    assert "the two-phase commit on plot3 to finish" in pool.summary
    # The same `broken` an hour on is what it says: a commit that failed half-way.
    obs["plot3"] = replace(obs["plot3"], conf_changed_at=NOW - 3600)
    assert pool_of(obs).verdict is not Verdict.HANDOVER
