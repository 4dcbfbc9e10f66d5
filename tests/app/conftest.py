"""Fixtures for the console tests: isolated settings, fixed diagnoses, an in-process simulator.

The fixed diagnoses are built the way the live console builds them: probe
output text (the sections the real probe prints) goes through the real
:class:`ProbeParser`, and the real :func:`diagnose` turns the observations
into a Diagnosis, all at fixed times, so snapshots never change by the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pytest

from poolterm.diagnosis import diagnose
from poolterm.model import Observation, Reach
from poolterm.probe import ProbeParser

N_HOSTS = 8
NOW = 1000.0
FIXED_WALL = datetime(2026, 3, 14, 9, 26, 53)
SECRET = "5f0c" * 16
POOL_UUID = "b7e3c0d2-1a4f-4e8b-9c6d-2f5a8e1b3c44"


def names(n: int = N_HOSTS) -> list[str]:
    return [f"plot{i}" for i in range(1, n + 1)]


def address(name: str) -> str:
    return f"127.77.0.{10 + int(name[4:])}"


def uuid(name: str) -> str:
    i = int(name[4:])
    return f"{i:08x}-5b0d-4c1e-9a57-{i:012x}"


@dataclass(frozen=True)
class HostRef:
    name: str
    address: str


@dataclass(frozen=True)
class PoolRef:
    name: str
    hosts: tuple[HostRef, ...]


def lab_pool(n: int = N_HOSTS) -> PoolRef:
    return PoolRef("lab", tuple(HostRef(h, address(h)) for h in names(n)))


def _section(name: str, text: str, rc: int) -> list[str]:
    lines = text.split("\n") if text else [""]
    lines[-1] = f"{lines[-1]} @@end {rc}"
    return [f"@@{name}", *lines]


def probe_lines(name: str, *, conf: str, master_uuid: str | None = None, db: list[str] | None = None,
                xe_rc: int = 0, mport: tuple[str, int] | None = None, emergency: str = "false") -> list[str]:
    """What the real probe command prints on a host in this state."""
    lines = _section("conf", conf, 0)
    lines += _section("inv", f"PRIMARY_DISK='/dev/sda'\nINSTALLATION_UUID='{uuid(name)}'", 0)
    lines += _section("secret", f"{SECRET}  /etc/xensource/ptoken", 0)
    lines += _section("init", "", 0)
    lines += _section("svc", "active", 0)
    lines += _section("emerg", emergency, 0)
    if mport is not None:
        lines += _section("mport", *mport)
    if db is not None:
        records = []
        for host in db:
            records += [f"uuid ( RO)                 : {uuid(host)}",
                        f"           name-label ( RW): {host}",
                        f"              address ( RO): {address(host)}",
                        "              enabled ( RO): true",
                        "    host-metrics-live ( RO): true", "", ""]
        lines += _section("db", "\n".join(records).rstrip("\n"), 0)
    elif xe_rc == 0:
        lines += _section("xe", master_uuid or "", 0)
    else:
        lines += _section("xe", "", xe_rc)
    return lines


def observe(name: str, lines: list[str], at: float = NOW) -> Observation:
    parser = ProbeParser(name)
    for line in lines:
        parser.feed(line)
    return parser.observation(at, complete=True)


def master(name: str, hosts: list[str], at: float = NOW) -> Observation:
    return observe(name, probe_lines(name, conf="master", db=hosts), at)


def slave(name: str, of: str, *, answered: bool = True, at: float = NOW) -> Observation:
    if answered:
        lines = probe_lines(name, conf=f"slave:{address(of)}", master_uuid=uuid(of), mport=("200", 0))
    else:
        lines = probe_lines(name, conf=f"slave:{address(of)}", xe_rc=124, mport=("000", 28))
    return observe(name, lines, at)


def unreachable(previous: Observation, reach: Reach = Reach.TIMEOUT, detail: str = "no answer within 5 s",
                at: float = NOW) -> Observation:
    return Observation(host=previous.host, at=at, reach=reach, reach_detail=detail,
                       last_seen=previous.last_seen, complete=True, stale=previous)


def healthy_observations(n: int = N_HOSTS) -> dict[str, Observation]:
    hosts = names(n)
    obs = {hosts[0]: master(hosts[0], hosts)}
    obs.update({h: slave(h, hosts[0]) for h in hosts[1:]})
    return obs


def master_lost_observations(n: int = N_HOSTS) -> dict[str, Observation]:
    hosts = names(n)
    was = master(hosts[0], hosts, at=NOW - 14)
    obs = {hosts[0]: unreachable(was)}
    obs.update({h: slave(h, hosts[0], answered=False) for h in hosts[1:]})
    return obs


def split_brain_observations(n: int = N_HOSTS) -> dict[str, Observation]:
    """plot2 lost its cable as master; plot3 took over and recovered the rest; plot2 is back."""
    hosts = names(n)
    obs = {"plot2": master("plot2", hosts), "plot3": master("plot3", hosts)}
    obs.update({h: slave(h, "plot3") for h in hosts if h not in obs})
    return obs


SCENARIOS = {
    "healthy": healthy_observations,
    "master-lost": master_lost_observations,
    "split-brain": split_brain_observations,
}


def static_source(scenario: str):
    from poolterm.ui.source import StaticSource

    observations = SCENARIOS[scenario]()
    diagnosis = diagnose([lab_pool()], observations, NOW)
    return StaticSource(diagnosis, observations, now=NOW)


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, monkeypatch):
    """No test reads the developer's settings or themes, or writes into their state dir."""
    monkeypatch.setenv("POOLTERM_CONFIG", str(tmp_path / "no-config.yaml"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.delenv("NO_COLOR", raising=False)
    return tmp_path


def make_static_app(scenario: str, *, theme: str = "poolterm-dark", **kwargs):
    from poolterm.ui.app import PoolApp

    return PoolApp(source=static_source(scenario), theme=theme, clock=lambda: FIXED_WALL, **kwargs)
