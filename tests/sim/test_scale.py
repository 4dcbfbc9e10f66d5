"""1000 simulated hosts in one process: start time and a full host-list over SSH."""

from __future__ import annotations

import re
import time

import pytest

from poolterm.sim.runtime import Simulator
from tests.helpers.ssh import openssh

N = 1000
START_BUDGET = 30.0


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
