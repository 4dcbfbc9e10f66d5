"""The probe's pacing (issue #13): a healthy pool costs its master at most the budget, every slave
still gets its full check in turn, and the first sign of trouble puts the pool on alert."""

from __future__ import annotations

from dataclasses import replace

from poolterm.model import Reach, XeCall
from poolterm.probing.pacing import ALERT_HOLD, CALM_ROUNDS_PER_SECOND, SLAVE_CHECK, Pacer, round_interval
from poolterm.probing.probe import build_probe_command
from tests.helpers.factories import connected, slave_conf

NAMES = [f"plot{i}" for i in range(1, 9)]
MASTER = "10.0.0.1"
INTERVAL = 2.0


def healthy(name: str, at: float):
    conf = "master" if name == "plot1" else slave_conf(MASTER)
    return connected(name, conf, at=at, init_complete=True, master_port="ok" if name != "plot1" else None)


def run(pacer: Pacer, seconds: float, trouble: dict | None = None, start: float = 0.0):
    """Every host's rounds every INTERVAL s for ``seconds``; the plans, per host, in order."""
    plans: dict[str, list] = {n: [] for n in NAMES}
    now = start
    while now < start + seconds:
        for i, name in enumerate(NAMES):
            at = now + i * INTERVAL / len(NAMES)  # the loops drift apart: a host's round at its own time
            known = healthy(name, at - INTERVAL)
            plan = pacer.plan(name, known, at)
            plans[name].append((at, plan))
            obs = (trouble or {}).get(name, healthy(name, at))
            pacer.observed(replace(obs, at=at), known, at)
        now += INTERVAL
    return plans


def test_a_healthy_pool_costs_its_master_at_most_the_budget_and_every_slave_gets_its_turn():
    pacer = Pacer(((n, "lab") for n in NAMES), budget=60)
    run(pacer, 20)  # the first rounds look at everything; then calm
    plans = run(pacer, 120, start=20)
    assert pacer.mode("lab", 140) == "calm"
    assert pacer.load("lab", 140) <= 60 + SLAVE_CHECK  # one slave check of burst at most
    assert all(plan.deep for _, plan in plans["plot1"])  # the master's own call: every round
    for name in NAMES[1:]:
        deep = [at for at, plan in plans[name] if plan.deep]
        assert deep, f"{name} never got its full check"
        gaps = [b - a for a, b in zip(deep, deep[1:])]
        assert max(gaps, default=0) <= 40, (name, gaps)  # 15 checks a minute shared by 7 slaves
    # Calm: nobody is asked for the emergency flag once it was learned false.
    assert not any(plan.ask_emergency for name in NAMES for _, plan in plans[name][1:])


def test_trouble_puts_the_pool_on_alert_and_the_alert_passes():
    pacer = Pacer(((n, "lab") for n in NAMES), budget=60)
    run(pacer, 30)
    hung = replace(healthy("plot4", 30), xe=XeCall("hung"))
    plans = run(pacer, 10, trouble={"plot4": hung}, start=30)
    assert pacer.mode("lab", 40) == "alert"
    assert all(plan.deep and plan.ask_emergency for name in NAMES for _, plan in plans[name][1:])
    run(pacer, ALERT_HOLD + 4, start=40)
    assert pacer.mode("lab", 40 + ALERT_HOLD + 4) == "calm"


def test_a_host_that_stops_answering_or_comes_back_is_trouble():
    pacer = Pacer(((n, "lab") for n in NAMES), budget=60)
    run(pacer, 30)
    gone = replace(healthy("plot1", 30), reach=Reach.TIMEOUT)
    pacer.observed(gone, healthy("plot1", 28), 30)
    assert pacer.mode("lab", 30.1) == "alert"
    pacer = Pacer(((n, "lab") for n in NAMES), budget=60)
    pacer.observed(healthy("plot5", 30), gone, 30)
    assert pacer.alert("lab", 30.1)


def test_a_calm_slave_pings_its_master_instead_of_costing_it():
    known = healthy("plot3", 0)
    calm = build_probe_command(known, 5, deep=False, ask_emergency=False)
    assert "ping -c 1 -W 1 10.0.0.1 >/dev/null 2>&1" in calm
    assert "xe" not in calm.replace("xensource", "") and "curl" not in calm
    full = build_probe_command(known, 5)
    assert "curl" in full and "xe pool-list" in full and "host-is-in-emergency-mode" in full


def test_a_fleet_stretches_calm_slaves_rounds_but_never_a_masters_or_an_alerted_pools():
    assert round_interval(2.0, 500) == 2.0  # up to 500 hosts a process: the interval, as before
    assert round_interval(2.0, 2500) == 2500 / CALM_ROUNDS_PER_SECOND == 10.0
    pacer = Pacer(((n, "lab") for n in NAMES), budget=60)
    run(pacer, 40)
    assert pacer.calm_slave("plot4", 40) and not pacer.calm_slave("plot1", 40)
    hung = replace(healthy("plot4", 41), xe=XeCall("hung"))
    assert pacer.observed(hung, healthy("plot4", 39), 41) == "lab", "the alert did not say it began"
    assert not pacer.calm_slave("plot4", 42) and not pacer.calm_slave("plot7", 42)
    assert pacer.observed(hung, hung, 43) is None, "an alert already sounding began again"
    assert sorted(pacer.hosts_of("lab")) == sorted(NAMES)
