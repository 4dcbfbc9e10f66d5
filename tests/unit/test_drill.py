"""Drills without a console: the score from journal records, ground truth, and `poolterm demo --drill`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from poolterm.cli.demo import DEFAULT_HA_TIMEOUT, hosts_needed, pool_settings
from poolterm.diagnosis.drill import DRILLS, WAIT_DRILLS, DrillError, DrillState, check_name, score, truth_problems
from poolterm.sim.scenario import ScenarioError, load_scenario

T0 = 1_700_000_000.0


def rec(kind: str, t: float = T0, **fields) -> dict:
    return {"kind": kind, "t": t, **fields}


def incident() -> list[dict]:
    """A journal: an earlier drill, then this one's fault, what the trainee did, and the recovery."""
    return [
        rec("drill-start", T0 - 100, drill="cable-pull"),
        rec("refused", T0 - 90, rule="stale-master"),  # before the fault: not this drill's
        rec("drill-start", T0, drill="cable-pull"),
        rec("verdict", T0 + 1, verdict="master-lost"),
        rec("refused", T0 + 5, rule="console", reason="not an xe command"),  # a typo, not a guard
        rec("command-start", T0 + 8, id="a-1", changes_pool=False),
        rec("refused", T0 + 10, rule="no-promote-while-master-answers"),
        rec("override", T0 + 12, accepted=False),
        rec("step", T0 + 20, step="restart-hung-master", status="skipped"),
        rec("step", T0 + 21, step="promote", status="started"),
        rec("command-start", T0 + 22, id="a-2", changes_pool=True),
        rec("step", T0 + 30, step="promote", status="done"),
        rec("command-start", T0 + 31, id="a-3", changes_pool=True),
        rec("step", T0 + 40, step="recover-old-master", status="skipped"),
    ]


def test_the_score_counts_what_happened_after_the_fault():
    result = score(incident(), "cable-pull", healthy_at=T0 + 42.26, ended_at=T0 + 50)
    assert (result.outcome, result.seconds, result.elapsed) == ("recovered", 42.3, 50.0)
    assert (result.refusals, result.overrides, result.skipped) == (1, 0, 2)
    assert (result.commands, result.changes) == (3, 2)
    assert result.lines() == [
        "DRILL cable-pull: recovered 42.3 s after the fault",
        "guard refusals hit:     1",
        "playbook steps skipped: 2",
        "commands run:           3 (2 changing the pool)",
    ]
    assert result.record()["seconds"] == 42.3 and result.record()["drill"] == "cable-pull"


def test_a_drill_quit_before_recovery_has_no_time_to_healthy():
    records = incident() + [rec("override", T0 + 60, accepted=True)]
    result = score(records, "cable-pull", healthy_at=None, ended_at=T0 + 125)
    assert (result.outcome, result.seconds, result.elapsed, result.overrides) == ("quit", None, 125.0, 1)
    assert result.lines()[0] == "DRILL cable-pull: not recovered: quit 2 min 5 s after the fault"
    assert result.lines()[1] == "guard refusals hit:     1 (1 overridden)"


def test_no_score_without_the_drill_starting():
    with pytest.raises(DrillError, match="no start of drill 'split-brain'"):
        score(incident(), "split-brain", healthy_at=None, ended_at=T0)


def host(name: str, role: str | None = "slave", of: str = "10.0.0.1", **changes) -> dict:
    base = {"name": name, "address": f"10.0.0.{name[-1]}", "power": "on", "xapi": "running", "link": "up",
            "emergency": False, "role": role, "master_address": None if role == "master" else of}
    return {**base, **changes}


def pool(*hosts: dict) -> dict:
    return {"hosts": list(hosts), "masters": []}


def test_ground_truth_healthy_pool():
    assert truth_problems(pool(host("plot1", "master"), host("plot2"), host("plot3"))) == []


def test_ground_truth_a_host_that_is_off_does_not_count_but_one_out_of_reach_does():
    recovered = pool(host("plot1", None, power="off", xapi="stopped"), host("plot2", "master"),
                     host("plot3", of="10.0.0.2"))
    assert truth_problems(recovered) == []
    pulled = pool(host("plot1", "master", link="down"), host("plot2"))
    assert truth_problems(pulled) == ["plot1: power on, xapi running, link down, emergency False"]


def test_ground_truth_a_forgotten_host_that_is_off_still_counts():
    status = pool(host("plot1", "master"), host("plot2"), host("plot5", None, power="off"))
    status["masters"] = [{"name": "plot1", "db_hosts": [{"name": "plot1"}, {"name": "plot2"}, {"name": "plot5"}]}]
    assert truth_problems(status) == []
    status["masters"][0]["db_hosts"].pop()  # host-forget while it was down
    assert truth_problems(status) == ["plot5: off and not in plot1's database"]


@pytest.mark.parametrize("status, problem", [
    (pool(host("plot1", None, power="off"), host("plot2")), "running masters: []"),
    (pool(host("plot1", "master"), host("plot2", "master")), "running masters: ['plot1', 'plot2']"),
    (pool(host("plot1", "master"), host("plot2", of="10.0.0.9")), "plot2: role slave of 10.0.0.9"),
    (pool(host("plot1", "master"), host("plot2", emergency=True)), "plot2: power on, xapi running, link up, "
                                                                   "emergency True"),
    (pool(host("plot1", "master"), host("plot2", None, power="booting", xapi="starting")),
     "plot2: power booting, xapi starting, link up, emergency False"),
])
def test_ground_truth_problems(status, problem):
    assert truth_problems(status) == [problem]


def test_the_pool_counts_as_recovered_only_once_it_was_broken_after_the_fault():
    state = DrillState("master-shutdown")
    state.fault_in(T0)
    state.truth(True, T0 + 0.1)  # the fault has not shown yet
    assert state.healthy_since is None and not state.recovered(busy=False)
    state.truth(False, T0 + 1)
    state.truth(True, T0 + 30)
    assert state.healthy_since == T0 + 30
    assert not state.recovered(busy=True)  # a playbook is still at work
    assert state.recovered(busy=False)
    state.truth(False, T0 + 31)  # broken again: the clock runs on
    state.truth(True, T0 + 40)
    assert state.healthy_since == T0 + 40


def test_every_drill_is_a_scenario_with_a_fault_the_default_demo_can_run():
    for name in DRILLS:
        assert check_name(name) == name
        assert any(step.get("fault") for step in load_scenario(name).steps), name
        assert 2 <= hosts_needed(name) <= 8, name
    assert hosts_needed("forgotten-host") == 5


def test_the_ha_drills_say_the_pool_they_need():
    failover, stuck = load_scenario("ha-failover"), load_scenario("ha-stuck")
    assert (failover.ha, failover.ha_timeout, failover.hosts) == (True, 10.0, None)
    # ha-stuck's fault takes the statefile from every host by name: it is written for 8 hosts exactly
    assert (stuck.ha, stuck.ha_timeout, stuck.hosts) == (True, 10.0, 8)
    assert (hosts_needed("ha-failover"), hosts_needed("ha-stuck")) == (2, 8)
    plain = load_scenario("master-shutdown")
    assert (plain.ha, plain.ha_timeout, plain.hosts) == (False, None, None)
    assert WAIT_DRILLS <= set(DRILLS)


def test_the_demo_pool_is_the_drills_unless_told_otherwise():
    assert pool_settings("ha-failover", False, None) == (True, 10.0)
    assert pool_settings("ha-stuck", False, 3.0) == (True, 3.0)  # --ha-timeout wins
    assert pool_settings("master-shutdown", False, None) == (False, DEFAULT_HA_TIMEOUT)
    assert pool_settings(None, True, None) == (True, 60.0)
    assert pool_settings(None, True, 4.5) == (True, 4.5)
    assert pool_settings(None, False, None) == (False, 60.0)


def test_a_scenario_pool_is_read_from_the_file(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("pool: {ha: yes, ha_timeout: 1.5, hosts: 3}\nsteps:\n  - sleep: 1\n")
    scenario = load_scenario(path)
    assert (scenario.ha, scenario.ha_timeout, scenario.hosts, scenario.steps) == (True, 1.5, 3, ({"sleep": 1},))
    path.write_text("pool: {ha: false}\nsteps:\n  - sleep: 1\n")
    assert (load_scenario(path).ha, load_scenario(path).ha_timeout) == (False, None)


@pytest.mark.parametrize("text, error", [
    ("pool: {ha: true, ha_timout: 10}\n", "1: pool.ha_timout: unknown key; did you mean 'ha_timeout'?"),
    ("pool: {colour: red}\n", "1: pool.colour: unknown key (expected one of: ha, ha_timeout, hosts)"),
    ("pool: {ha: maybe}\n", "1: pool.ha: expected true or false"),
    ("pool:\n  ha: true\n  ha_timeout: 0\n", "3: pool.ha_timeout: expected a number of seconds more than 0, found '0'"),
    ("pool: {ha_timeout: -2}\n", "1: pool.ha_timeout: expected a number of seconds more than 0, found '-2'"),
    ("pool: {ha_timeout: soon}\n", "1: pool.ha_timeout: expected a number of seconds more than 0, found 'soon'"),
    ("pool: {ha_timeout: .inf}\n", "1: pool.ha_timeout: expected a number of seconds more than 0, found '.inf'"),
    ("pool: {hosts: 0}\n", "1: pool.hosts: must be between 1 and 1000, not 0"),
    ("pool: {hosts: 2.5}\n", "1: pool.hosts: expected a whole number 1..1000, found '2.5'"),
    ("pool: [ha]\n", "1: pool: expected a mapping, found a list"),
    ("pool: {ha: true, ha: false}\n", "1: pool.ha: repeated key (first given on line 1)"),
])
def test_a_bad_scenario_pool_is_one_line_at_its_place(tmp_path, text, error):
    path = tmp_path / "bad.yaml"
    path.write_text(text + "steps:\n  - sleep: 1\n")
    with pytest.raises(ScenarioError) as bad:
        load_scenario(path)
    assert str(bad.value) == f"{path}:{error}"


def run_demo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "poolterm", "demo", *args], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


def test_an_unknown_drill_is_one_line_naming_the_drills():
    result = run_demo("--drill", "fire")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == ("poolterm: no drill named 'fire' (drills: master-shutdown, cable-pull, split-brain, "
                             "forgotten-host, ha-failover, ha-stuck)\n")


def test_a_drill_on_too_few_hosts_says_how_many_it_needs():
    result = run_demo("--drill", "forgotten-host", "--hosts", "4")
    assert result.returncode == 2
    assert result.stderr == "poolterm: drill forgotten-host needs at least 5 hosts (--hosts 5), not 4\n"


@pytest.mark.parametrize("args, error", [
    (("--ha", "--ha-timeout", "0"), "--ha-timeout must be a positive number of seconds, not 0"),
    (("--ha-timeout", "-3"), "--ha-timeout must be a positive number of seconds, not -3"),
    (("--ha", "--ha-timeout", "nan"), "--ha-timeout must be a positive number of seconds, not nan"),
    (("--drill", "ha-stuck", "--hosts", "10"), "drill ha-stuck needs exactly 8 hosts (--hosts 8), not 10"),
    (("--drill", "master-shutdown", "--ha"), "drill master-shutdown runs on a pool without HA: leave out --ha"),
])
def test_demo_ha_mistakes_are_one_line(args, error):
    result = run_demo(*args)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", f"poolterm: {error}\n")
