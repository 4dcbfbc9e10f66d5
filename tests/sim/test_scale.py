"""Simulators at scale in one process: 1000 hosts (a full host-list over SSH) and a fleet of 5000
hosts in 50 pools (every host accepting SSH, each pool answering for itself), each started fast."""

from __future__ import annotations

import asyncio
import re
import time

import pytest
import yaml

from poolterm.sim.runtime import Simulator
from tests.helpers.ssh import openssh

N = 1000
START_BUDGET = 30.0
FLEET_HOSTS, FLEET_POOLS = 5000, 50
#: Connections opened at once while checking that every host of the fleet accepts SSH.
AT_ONCE = 256


@pytest.mark.slow
async def test_a_thousand_hosts_start_fast_and_answer_over_ssh(tmp_path, capsys):
    started = time.perf_counter()
    async with Simulator(N, tmp_path / "sim") as sim:
        seconds = time.perf_counter() - started
        with capsys.disabled():
            print(f"\n{N} simulated hosts started in {seconds:.2f} s")
        assert seconds < START_BUDGET
        assert len(sim.known_hosts.read_text().splitlines()) == N

        done = await openssh(sim, "plot1", "xe host-list", timeout=60)
        assert done.returncode == 0, done.stderr
        assert len(re.findall(r"^uuid \( RO\)", done.stdout, re.MULTILINE)) == N
        # the last host answers too, on its own address
        done = await openssh(sim, f"plot{N}", "hostname")
        assert done.stdout == f"plot{N}\n"
        assert len({sim.address_of(f"plot{i}") for i in range(1, N + 1)}) == N


async def ssh_version(address: str, port: int, gate: asyncio.Semaphore) -> bytes:
    """The first line an SSH server sends."""
    async with gate:
        reader, writer = await asyncio.open_connection(address, port)
        try:
            return await asyncio.wait_for(reader.readline(), 30)
        finally:
            writer.close()


@pytest.mark.slow
async def test_a_fleet_of_five_thousand_hosts_in_fifty_pools_starts_within_budget(tmp_path, capsys):
    started = time.perf_counter()
    async with Simulator(FLEET_HOSTS, tmp_path / "sim", pools=FLEET_POOLS) as sim:
        inventory = yaml.safe_load(sim.hosts_yaml.read_text())
        hosts = [h for pool in inventory["pools"] for h in pool["hosts"]]
        gate = asyncio.Semaphore(AT_ONCE)
        versions = await asyncio.gather(*(ssh_version(h["address"], h["port"], gate) for h in hosts))
        seconds = time.perf_counter() - started
        with capsys.disabled():
            print(f"\n{FLEET_HOSTS} simulated hosts in {FLEET_POOLS} pools all accepting SSH {seconds:.2f} s "
                  "after the start")
        assert seconds < START_BUDGET
        assert all(v.startswith(b"SSH-2.0-") for v in versions)
        assert len(inventory["pools"]) == FLEET_POOLS and len(hosts) == FLEET_HOSTS
        assert len({h["address"] for h in hosts}) == FLEET_HOSTS

        # The master of a later pool knows its pool and only its own hosts.
        lab37 = sim.world.pools[36]
        listed = await openssh(sim, lab37.master, "xe pool-list params=name-label --minimal; "
                                                  "xe host-list params=name-label --minimal")
        assert listed.returncode == 0, listed.stderr
        name, members = listed.stdout.splitlines()
        assert name == "lab37" == lab37.name
        assert sorted(members.split(",")) == sorted(lab37.hosts)
