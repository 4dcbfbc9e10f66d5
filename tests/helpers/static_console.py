"""The console on fixed diagnoses, for the console's static tests and its snapshots.

The fixed diagnoses are built the way the live console builds them: probe
output text (the sections the real probe prints) goes through the real
:class:`ProbeParser`, and the real :func:`diagnose` turns the observations
into a Diagnosis, all at fixed times, so snapshots never change by the clock.
"""

from __future__ import annotations

from datetime import datetime

from poolterm.diagnosis.diagnose import diagnose
from poolterm.model import DbHost, Observation
from tests.helpers.factories import (
    Pool,
    host_names,
    host_number,
    numbered_pool,
    parse_probe,
    probe_lines,
    slave_conf,
    unreachable_after,
)

N_HOSTS = 8
NOW = 1000.0
FIXED_WALL = datetime(2026, 3, 14, 9, 26, 53)
SECRET = "5f0c" * 16
POOL_UUID = "b7e3c0d2-1a4f-4e8b-9c6d-2f5a8e1b3c44"


def lab_address(number: int) -> str:
    return f"127.77.0.{10 + number}"


def address(name: str) -> str:
    return lab_address(host_number(name))


def uuid(name: str) -> str:
    i = host_number(name)
    return f"{i:08x}-5b0d-4c1e-9a57-{i:012x}"


def lab_pool(n: int = N_HOSTS) -> Pool:
    return numbered_pool("lab", n, lab_address)


def master(name: str, hosts: list[str], at: float = NOW) -> Observation:
    db = [DbHost(uuid(h), h, address(h), enabled=True, live=True) for h in hosts]
    return parse_probe(name, probe_lines(conf="master", uuid=uuid(name), secret=SECRET, db=db), at)


def slave(name: str, of: str, *, answered: bool = True, at: float = NOW) -> Observation:
    conf = slave_conf(address(of))
    if answered:
        lines = probe_lines(conf=conf, uuid=uuid(name), secret=SECRET, master_uuid=uuid(of), mport=("200", 0))
    else:
        lines = probe_lines(conf=conf, uuid=uuid(name), secret=SECRET, xe_rc=124, mport=("000", 28))
    return parse_probe(name, lines, at)


def healthy_observations(n: int = N_HOSTS) -> dict[str, Observation]:
    hosts = host_names(n)
    obs = {hosts[0]: master(hosts[0], hosts)}
    obs.update({h: slave(h, hosts[0]) for h in hosts[1:]})
    return obs


def master_lost_observations(n: int = N_HOSTS) -> dict[str, Observation]:
    hosts = host_names(n)
    was = master(hosts[0], hosts, at=NOW - 14)
    obs = {hosts[0]: unreachable_after(was, at=NOW, reach_detail="no answer within 5 s", complete=True)}
    obs.update({h: slave(h, hosts[0], answered=False) for h in hosts[1:]})
    return obs


def split_brain_observations(n: int = N_HOSTS) -> dict[str, Observation]:
    """plot2 lost its cable as master; plot3 took over and recovered the rest; plot2 is back."""
    hosts = host_names(n)
    obs = {"plot2": master("plot2", hosts), "plot3": master("plot3", hosts)}
    obs.update({h: slave(h, "plot3") for h in hosts if h not in obs})
    return obs


SCENARIOS = {
    "healthy": healthy_observations,
    "master-lost": master_lost_observations,
    "split-brain": split_brain_observations,
}


def static_source(scenario: str):
    from poolterm.probing.source import StaticSource

    if scenario == "fleet":  # fifty pools of four: lab37 lost its master, lab12 has a slave down
        from tests.helpers.fleet import fleet_source

        return fleet_source(50, 4, lost_master=("lab37",), down_slave=("lab12",))

    observations = SCENARIOS[scenario]()
    diagnosis = diagnose([lab_pool()], observations, NOW)
    return StaticSource(diagnosis, observations, now=NOW)


def make_static_app(scenario: str, *, theme: str = "poolterm-dark", **kwargs):
    from poolterm.ui.app import PoolApp

    return PoolApp(source=static_source(scenario), theme=theme, clock=lambda: FIXED_WALL, **kwargs)
