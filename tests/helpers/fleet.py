"""A fleet of pools on fixed diagnoses, built as the live console builds them (real diagnose)."""

from __future__ import annotations

from poolterm.diagnosis.diagnose import diagnose
from poolterm.model import Diagnosis
from tests.helpers.factories import Host, Pool, connected, healthy, slave_conf, unreachable_after

NOW = 1000.0


def fleet_pools(pools: int, hosts: int) -> list[Pool]:
    """``pools`` pools lab01.. of ``hosts`` hosts each, numbered plot1.. across the fleet, as
    `poolterm sim --pools` names them."""
    digits = len(str(pools))
    out, k = [], 1
    for i in range(1, pools + 1):
        members = tuple(Host(f"plot{k + j}", f"127.77.{(k + j) // 250}.{(k + j) % 250 + 1}") for j in range(hosts))
        out.append(Pool(f"lab{i:0{digits}}", members))
        k += hosts
    return out


def fleet_diagnosis(pools: list[Pool], *, lost_master: tuple[str, ...] = (), down_slave: tuple[str, ...] = (),
                    at: float = NOW) -> tuple[Diagnosis, dict]:
    """Every pool healthy but those named: ``lost_master`` pools lost their master (the slaves' calls
    hang), ``down_slave`` pools have their last host down."""
    observations = healthy(pools, at=at - 10)
    observations.update(healthy(pools, at=at))
    by_name = {p.name: p for p in pools}
    for name in lost_master:
        pool = by_name[name]
        master = pool.hosts[0]
        observations[master.name] = unreachable_after(observations[master.name], at=at,
                                                      reach_detail="no answer within 5 s", complete=True)
        for host in pool.hosts[1:]:
            observations[host.name] = connected(host.name, slave_conf(master.address), at=at,
                                                master_port="unreachable", master_ping=False)
    for name in down_slave:
        last = by_name[name].hosts[-1]
        observations[last.name] = unreachable_after(observations[last.name], at=at, complete=True)
    return diagnose(pools, observations, at), observations


def fleet_source(pools: int = 50, hosts: int = 4, **broken):
    from poolterm.probing.source import StaticSource

    diagnosis, observations = fleet_diagnosis(fleet_pools(pools, hosts), **broken)
    return StaticSource(diagnosis, observations, now=NOW)
