"""The guard rails, table-driven over diagnoses built from plain observations.

The pool states are built the way the probe reports them (pool.conf, the
forwarded xe call and who answered it, the master's database) and diagnosed by
the real :func:`poolterm.diagnosis.diagnose.diagnose`, so each rule is checked against
the verdicts it will meet in an incident. The states are the field notes' ones
of tests.helpers.pool_states, which the engine's tests use too.
"""

from __future__ import annotations

import pytest

from poolterm.diagnosis import guards
from poolterm.diagnosis.guards import Allow, Confirm, Facts, Refuse, accepts_override, decide
from poolterm.model import Verdict
from tests.helpers.pool_states import (
    ADDRESS,
    NAMES,
    UUID,
    cut_off,
    diagnosed,
    down,
    follower,
    healthy,
    master,
    master_lost,
    observe,
    promoted,
    slave_of,
    split_brain,
    up,
)

FACTS = Facts(uuids=dict(UUID), databases=guards.databases(healthy()))


# ---- read-only and --read-only -------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    ["xe", "host-list", "params=uuid", "--minimal"],
    ["xe", "pool-list", "params=master", "--minimal"],
    ["cat", "/etc/xensource/pool.conf"],
    ["systemctl", "is-active", "xapi"],
])
def test_queries_are_allowed_even_read_only(argv):
    assert isinstance(decide(argv, "plot2", diagnosed(master_lost()), read_only=True), Allow)


@pytest.mark.parametrize("argv", [
    ["xe", "host-disable", f"uuid={UUID['plot3']}"],
    ["xe", "pool-recover-slaves"],
    ["xe", "host-list", "--force"],  # an unknown flag makes even a list command a change
    ["xe-toolstack-restart"],
    ["systemctl", "restart", "xapi"],
])
def test_read_only_refuses_every_change_and_cannot_be_overridden(argv):
    decision = decide(argv, "plot1", diagnosed(healthy()), read_only=True, facts=FACTS)
    assert isinstance(decision, Refuse) and decision.rule == "read-only"
    assert not decision.overridable
    assert not accepts_override(decision, "plot1", "I know what I am doing")


def test_an_ordinary_change_is_confirmed_with_command_target_and_effect():
    decision = decide(["xe", "host-disable", f"uuid={UUID['plot3']}"], "plot1", diagnosed(healthy()),
                      read_only=False, facts=FACTS)
    assert isinstance(decision, Confirm)
    assert f"On plot1 ({ADDRESS['plot1']}): xe host-disable uuid={UUID['plot3']}." in decision.text
    assert "accepts no new VMs" in decision.text


def test_an_unknown_command_is_a_change():
    decision = decide(["xe", "vm-destroy", "uuid=x"], "plot1", diagnosed(healthy()), read_only=False)
    assert isinstance(decision, Confirm) and guards.GENERIC_EFFECT in decision.text


def test_a_host_outside_the_inventory_is_refused():
    decision = decide(["xe", "pool-recover-slaves"], "plot9", diagnosed(healthy()), read_only=False)
    assert isinstance(decision, Refuse) and decision.rule == "unknown-host"


# ---- pool-emergency-transition-to-master ---------------------------------------------------


def test_promotion_refused_while_another_reachable_host_is_a_working_master():
    decision = decide(["xe", "pool-emergency-transition-to-master"], "plot2", diagnosed(healthy()),
                      read_only=False, facts=FACTS)
    assert isinstance(decision, Refuse) and decision.rule == "second-master"
    assert "plot1 is reachable and is a working master" in decision.reason
    assert "split brain" in decision.reason
    assert "pool-recover-slaves on plot1" in decision.instead and "planned-handover" in decision.instead
    assert decision.host == "plot2"


def test_a_second_promotion_is_refused_while_the_first_host_restarts_into_the_role():
    # plot2 was promoted seconds ago: pool.conf says master, xapi is a slave until its fuse blows.
    hung = [up(n, slave_of("plot1"), xe="hung") for n in NAMES[2:]]
    state = observe(down("plot1", was="master"), up("plot2", "master", xe="hung"), *hung)
    decision = decide(["xe", "pool-emergency-transition-to-master"], "plot3", diagnosed(state),
                      read_only=False, facts=FACTS)
    assert isinstance(decision, Refuse) and decision.rule == "second-master"
    assert "plot2 has been promoted" in decision.reason and "two masters" in decision.reason
    assert "pool-recover-slaves on plot2" in decision.instead
    assert accepts_override(decision, "plot3", "plot2 will never start: its disk died")
    again = decide(["xe", "pool-emergency-transition-to-master"], "plot2", diagnosed(state),
                   read_only=False, facts=FACTS)
    assert not isinstance(again, Refuse), "the promoted host itself may be told again"
    early = decide(["xe", "pool-recover-slaves"], "plot2", diagnosed(state), read_only=False, facts=FACTS)
    assert isinstance(early, Refuse) and early.instead.startswith("Wait until plot2 answers as master")
    assert "Promote" not in early.instead


def test_promotion_after_the_master_is_lost_is_confirmed_with_the_stale_master_warning():
    decision = decide(["xe", "pool-emergency-transition-to-master"], "plot2", diagnosed(master_lost()),
                      read_only=False, facts=FACTS)
    assert isinstance(decision, Confirm)
    assert "plot1 was master when last seen" in decision.text


def test_promotion_while_the_master_is_reachable_but_hung_warns():
    state = healthy()
    state["plot1"] = up("plot1", "master", xe="hung")
    decision = decide(["xe", "pool-emergency-transition-to-master"], "plot2", diagnosed(state),
                      read_only=False, facts=FACTS)
    assert isinstance(decision, Confirm) and "restart its toolstack" in decision.text


# ---- pool-recover-slaves ----------------------------------------------------------------------


def test_recover_slaves_only_on_the_true_master_of_a_split_brain():
    diagnosis = diagnosed(split_brain())
    assert diagnosis.verdict is Verdict.SPLIT_BRAIN and diagnosis.pools[0].master == "plot2"
    wrong = decide(["xe", "pool-recover-slaves"], "plot1", diagnosis, read_only=False, facts=FACTS)
    assert isinstance(wrong, Refuse) and wrong.rule == "not-true-master"
    assert "plot1 is not the true master (plot2 is: 2 reachable slaves follow it, 0 follow plot1)" in wrong.reason
    assert wrong.instead.startswith("Run pool-recover-slaves on plot2 only")
    right = decide(["xe", "pool-recover-slaves"], "plot2", diagnosis, read_only=False, facts=FACTS)
    assert isinstance(right, Confirm)


def test_recover_slaves_refused_before_any_master_answers():
    decision = decide(["xe", "pool-recover-slaves"], "plot2", diagnosed(master_lost()), read_only=False)
    assert isinstance(decision, Refuse) and "No host is a confirmed working master" in decision.reason


def test_recover_slaves_allowed_on_the_new_master_of_orphans():
    diagnosis = diagnosed(promoted())
    assert diagnosis.verdict is Verdict.ORPHANED_SLAVES
    assert isinstance(decide(["xe", "pool-recover-slaves"], "plot2", diagnosis, read_only=False), Confirm)


def test_recover_slaves_refused_when_two_masters_have_as_many_followers():
    state = observe(master("plot1"), master("plot2"), follower("plot3", "plot1"), follower("plot4", "plot2"))
    decision = decide(["xe", "pool-recover-slaves"], "plot1", diagnosed(state), read_only=False)
    assert isinstance(decision, Refuse)
    assert decision.rule in ("ambiguous-master", "not-true-master")
    other = "plot2" if decision.rule == "not-true-master" else "plot1"
    assert isinstance(decide(["xe", "pool-recover-slaves"], other, diagnosed(state), read_only=False), Refuse)


# ---- host-forget ---------------------------------------------------------------------------------


def test_forget_refused_for_a_host_that_is_only_unreachable():
    decision = decide(["xe", "host-forget", f"uuid={UUID['plot4']}"], "plot1", diagnosed(cut_off()),
                      read_only=False, facts=FACTS)
    assert isinstance(decision, Refuse) and decision.rule == "forget-not-off"
    assert "unreachable is not off" in decision.reason
    assert "Power plot4 off through its BMC" in decision.instead
    assert decision.host == "plot4"  # an override must name the host being forgotten


def test_forget_confirmed_once_the_operator_confirmed_it_powered_off():
    facts = Facts(uuids=dict(UUID), powered_off=frozenset({"plot4"}))
    decision = decide(["xe", "host-forget", f"uuid={UUID['plot4']}", "--force"], "plot1", diagnosed(cut_off()),
                      read_only=False, facts=facts)
    assert isinstance(decision, Confirm) and "must be reinstalled" in decision.text


@pytest.mark.parametrize("uuid, rule", [(UUID["plot3"], "forget-running"),
                                         (UUID["plot1"], "forget-master"),
                                         ("11111111-2222-4333-8444-555555555555", "forget-unknown")])
def test_forget_refused_for_running_master_or_unknown_hosts(uuid, rule):
    facts = Facts(uuids=dict(UUID), powered_off=frozenset(NAMES))
    decision = decide(["xe", "host-forget", f"uuid={uuid}"], "plot1", diagnosed(cut_off()), read_only=False,
                      facts=facts)
    assert isinstance(decision, Refuse) and decision.rule == rule


# ---- host-shutdown / host-reboot -----------------------------------------------------------------


@pytest.mark.parametrize("command", ["host-shutdown", "host-reboot"])
@pytest.mark.parametrize("selector", [f"uuid={UUID['plot1']}", "name-label=plot1", f"address={ADDRESS['plot1']}",
                                      "host=plot1"])
def test_power_of_the_master_refused_without_a_handover(command, selector):
    decision = decide(["xe", command, selector], "plot2", diagnosed(healthy()), read_only=False, facts=FACTS)
    assert isinstance(decision, Refuse) and decision.rule == "master-power"
    assert "planned-handover" in decision.instead and decision.host == "plot1"


def test_power_of_a_slave_is_confirmed_and_of_every_host_refused():
    slave = decide(["xe", "host-shutdown", f"uuid={UUID['plot3']}"], "plot1", diagnosed(healthy()),
                   read_only=False, facts=FACTS)
    assert isinstance(slave, Confirm)
    everyone = decide(["xe", "host-reboot"], "plot1", diagnosed(healthy()), read_only=False, facts=FACTS)
    assert isinstance(everyone, Refuse) and everyone.rule == "power-selector"
    multiple = decide(["xe", "host-shutdown", "enabled=true", "--multiple"], "plot1", diagnosed(healthy()),
                      read_only=False, facts=FACTS)
    assert isinstance(multiple, Refuse) and multiple.rule == "power-selector"


def test_after_a_handover_the_old_master_may_be_shut_down():
    state = observe(master("plot2"), follower("plot1", "plot2"), follower("plot3", "plot2"), follower("plot4", "plot2"))
    decision = decide(["xe", "host-shutdown", f"uuid={UUID['plot1']}"], "plot2", diagnosed(state),
                      read_only=False, facts=FACTS)
    assert isinstance(decision, Confirm)


# ---- the other pool-changing commands ------------------------------------------------------------


def test_reset_master_must_point_at_the_working_master():
    diagnosis = diagnosed(healthy())
    wrong = decide(["xe", "pool-emergency-reset-master", f"master-address={ADDRESS['plot2']}"], "plot3",
                   diagnosis, read_only=False)
    assert isinstance(wrong, Refuse) and wrong.rule == "reset-wrong-master"
    assert f"master-address={ADDRESS['plot1']}" in wrong.instead
    demote = decide(["xe", "pool-emergency-reset-master", f"master-address={ADDRESS['plot2']}"], "plot1",
                    diagnosis, read_only=False)
    assert isinstance(demote, Refuse) and demote.rule == "reset-master-itself"
    right = decide(["xe", "pool-emergency-reset-master", f"master-address={ADDRESS['plot1']}"], "plot3",
                   diagnosis, read_only=False)
    assert isinstance(right, Confirm)


def test_designate_needs_every_host_up_and_ha_off():
    command = ["xe", "pool-designate-new-master", f"host-uuid={UUID['plot3']}"]
    down_host = decide(command, "plot1", diagnosed(cut_off()), read_only=False, facts=FACTS)
    assert isinstance(down_host, Refuse) and down_host.rule == "designate-host-down"
    ha = decide(command, "plot1", diagnosed(healthy()), read_only=False,
                facts=Facts(uuids=dict(UUID), ha_enabled=True))
    assert isinstance(ha, Refuse) and "HA_IS_ENABLED" in ha.reason
    unknown_ha = decide(command, "plot1", diagnosed(healthy()), read_only=False, facts=FACTS)
    assert isinstance(unknown_ha, Confirm) and "HA state unknown" in unknown_ha.text
    ok = decide(command, "plot1", diagnosed(healthy()), read_only=False,
                facts=Facts(uuids=dict(UUID), ha_enabled=False))
    assert isinstance(ok, Confirm) and "Warning" not in ok.text


def test_toolstack_restart_refused_under_ha():
    decision = decide(["xe-toolstack-restart"], "plot1", diagnosed(healthy()), read_only=False,
                      facts=Facts(ha_enabled=True))
    assert isinstance(decision, Refuse) and "fences" in decision.reason


# ---- overriding ------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed, reason, accepted", [
    ("plot4", "cable cut, host confirmed dead by DC staff", True),
    ("plot4 ", "  reason with spaces  ", True),
    ("PLOT4", "the case matters", False),
    ("plot1", "wrong host", False),
    ("plot4", "", False),
    ("plot4", "ok", False),
    ("", "no name", False),
])
def test_override_needs_the_exact_host_name_and_a_reason(typed, reason, accepted):
    refusal = decide(["xe", "host-forget", f"uuid={UUID['plot4']}"], "plot1", diagnosed(cut_off()),
                     read_only=False, facts=FACTS)
    assert isinstance(refusal, Refuse)
    assert accepts_override(refusal, typed, reason) is accepted


def test_every_refusal_says_why_in_one_sentence_and_what_to_do_instead():
    cases = [
        (["xe", "pool-emergency-transition-to-master"], "plot2", healthy(), FACTS),
        (["xe", "pool-recover-slaves"], "plot1", split_brain(), FACTS),
        (["xe", "host-forget", f"uuid={UUID['plot4']}"], "plot1", cut_off(), FACTS),
        (["xe", "host-shutdown", f"uuid={UUID['plot1']}"], "plot1", healthy(), FACTS),
    ]
    for argv, target, state, facts in cases:
        decision = decide(argv, target, diagnosed(state), read_only=False, facts=facts)
        assert isinstance(decision, Refuse), argv
        assert decision.reason.endswith(".") and decision.reason.count(". ") == 0, decision.reason
        assert decision.instead and decision.text == f"{decision.reason} {decision.instead}"
