"""The simulator in a child process (`poolterm.sim.process`), as `poolterm demo` runs a big one:
status and faults through the control socket, and a child that never outlives its parent."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from poolterm.cli.demo import IN_PROCESS_HOSTS, simulator
from poolterm.errors import SimulatorError
from poolterm.sim.process import SimulatorProcess
from poolterm.sim.runtime import Simulator
from poolterm.sim.world import SimError, SimParams
from tests.helpers.truth import host_field

PARAMS = SimParams(fuse=0.5, boot=0.5)

#: A parent that starts a child simulator, says the child's pid, and waits to be killed.
PARENT = """
import asyncio, sys
from poolterm.sim.process import SimulatorProcess

async def main():
    sim = SimulatorProcess(3, sys.argv[1])
    await sim.start()
    print(sim.pid, flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def exited(pid: int, timeout: float) -> None:
    """Return once process ``pid`` (not necessarily our child) has ended."""
    fd = os.pidfd_open(pid)
    loop = asyncio.get_running_loop()
    gone = loop.create_future()
    loop.add_reader(fd, lambda: gone.done() or gone.set_result(None))
    try:
        await asyncio.wait_for(gone, timeout)
    finally:
        loop.remove_reader(fd)
        os.close(fd)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
async def child(tmp_path):
    sim = SimulatorProcess(6, tmp_path / "sim", params=PARAMS, pools=2)
    await sim.start()
    yield sim
    await sim.stop()


async def test_status_and_faults_go_through_the_control_socket(child):
    status = child.status()
    assert [(p["name"], p["master"]) for p in status["pools"]] == [("lab1", "plot1"), ("lab2", "plot4")]
    assert "ok" not in status
    assert await child.ctl("crash", "plot4") == {"action": "crash", "host": "plot4"}
    assert host_field(child.status(), "plot4", "power") == "off"
    with pytest.raises(SimError, match="plot4 is already powered off"):
        await child.ctl("crash", "plot4")
    with pytest.raises(SimError, match="plot9"):
        await child.ctl("cable-out", "plot9")
    assert child.hosts_yaml.exists() and child.known_hosts.exists()


async def test_the_child_is_gone_once_stopped(child):
    pid = child.pid
    assert pid is not None and alive(pid)
    await child.stop()
    assert not alive(pid)
    assert not child.control_path.exists()
    with pytest.raises(SimError, match="no simulator running"):
        child.status()


async def test_a_second_simulator_in_the_same_directory_is_refused(child):
    second = SimulatorProcess(2, child.directory, params=PARAMS)
    with pytest.raises(SimulatorError) as caught:
        await second.start()
    assert str(caught.value) == f"a simulator is already running in {child.directory}"
    assert second.pid is None


class Misconfigured(SimulatorProcess):
    """A child given an option `poolterm sim` refuses."""

    def argv(self) -> list[str]:
        return super().argv() + ["--boot", "-1"]


async def test_a_child_that_cannot_start_says_why_in_one_line(tmp_path):
    sim = Misconfigured(2, tmp_path / "sim", params=PARAMS)
    with pytest.raises(SimulatorError) as caught:
        await sim.start()
    assert str(caught.value) == "--fuse and --boot must not be negative"
    assert sim.pid is None


async def test_the_child_stops_when_its_parent_is_killed(tmp_path):
    directory = tmp_path / "sim"
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", PARENT, str(directory), stdout=asyncio.subprocess.PIPE)
    assert parent.stdout is not None
    line = await asyncio.wait_for(parent.stdout.readline(), 60)
    pid = int(line)
    assert (directory / "control.sock").exists()
    parent.send_signal(signal.SIGKILL)
    await parent.wait()
    await exited(pid, 30)
    # It stopped as at Ctrl-C, not by a kill: its control socket is cleaned up.
    assert not (directory / "control.sock").exists()


def test_the_demo_runs_more_than_a_thousand_hosts_in_a_child(tmp_path: Path):
    assert isinstance(simulator(IN_PROCESS_HOSTS, tmp_path, PARAMS, pools=10), Simulator)
    big = simulator(IN_PROCESS_HOSTS + 1, tmp_path, PARAMS, pools=10)
    assert isinstance(big, SimulatorProcess)
    assert big.argv()[3:] == [
        "sim", "--hosts", "1001", "--pools", "10", "--pool-name", "lab", "--dir", str(tmp_path),
        "--fuse", "0.5", "--boot", "0.5", "--ha-timeout", "60", "--stop-on-eof"]
