"""`poolterm check` across a fleet (issue #16): --pool names and globs, every selected pool in the JSON
and the exit status, fifty pools readable as text, and worker processes that change nothing but speed.

A simulator of 12 hosts in 3 pools (lab1: plot1..4, lab2: plot5..8, lab3: plot9..12), over real SSH.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

import pytest

from poolterm.cli.check import render_text
from poolterm.model import Verdict
from poolterm.sim.runtime import Simulator
from tests.helpers.check_runs import check_cli, check_json, children_alive, json_shape, verdicts, wait_for
from tests.helpers.faults import SilentPort, derived_inventory
from tests.helpers.fleet import fleet_diagnosis, fleet_pools
from tests.helpers.sim import FAST
from tests.helpers.sshd import children_of
from tests.helpers.truth import host_field


@pytest.fixture
async def fleet(tmp_path):
    async with Simulator(12, tmp_path / "sim", params=FAST, pools=3) as sim:
        yield sim


async def break_two_pools(sim: Simulator) -> None:
    """lab2 loses its master (shut down), lab3 a slave; lab1 stays healthy."""
    for host in ("plot5", "plot12"):
        await sim.ctl("shutdown", host)
    await sim.wait_until(lambda s: all(host_field(s, h, "power") == "off" for h in ("plot5", "plot12")), 10)


@pytest.mark.parametrize("selection, chosen", [
    (["--pool", "lab2"], ["lab2"]),
    (["--pool", "lab[13]"], ["lab1", "lab3"]),
    (["--pool", "lab3", "--pool", "lab1"], ["lab1", "lab3"]),
    (["--pool", "lab3,lab*"], ["lab1", "lab2", "lab3"]),
    ([], ["lab1", "lab2", "lab3"]),
])
async def test_pool_selects_names_and_globs_in_inventory_order(fleet, selection, chosen):
    status, data = await check_json(fleet.hosts_yaml, *selection)
    assert status == 0
    assert list(verdicts(data)) == chosen
    assert set(verdicts(data).values()) == {"healthy"}


@pytest.mark.parametrize("pattern", ["prod*", "lab", "lab1,nope"])
async def test_a_pool_pattern_that_matches_nothing_is_one_line_and_exit_2(fleet, pattern):
    status, out, err, _ = await check_cli(fleet.hosts_yaml, "--pool", pattern)
    assert status == 2 and out == ""
    lines = err.strip().splitlines()
    wanted = pattern.split(",")[-1] if "," in pattern else pattern
    assert len(lines) == 1 and f"no pool matches {wanted!r}" in lines[0], err
    assert "(pools: lab1, lab2, lab3)" in lines[0] and "Traceback" not in err


@pytest.mark.parametrize("workers", ["0", "65"])
async def test_a_bad_worker_count_is_one_line_and_exit_2(fleet, workers):
    status, out, err, _ = await check_cli(fleet.hosts_yaml, "--probe-workers", workers)
    assert status == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert "--probe-workers" in err and "Traceback" not in err


async def test_json_and_exit_status_cover_every_pool_the_worst_decides(fleet):
    await break_two_pools(fleet)
    status, data = await check_json(fleet.hosts_yaml)
    assert verdicts(data) == {"lab1": "healthy", "lab2": "master-lost", "lab3": "degraded"}
    assert (status, data["verdict"], data["severity"]) == (2, "master-lost", "critical")
    assert [p["severity"] for p in data["pools"]] == ["ok", "critical", "warning"]

    status, data = await check_json(fleet.hosts_yaml, "--pool", "lab1,lab3")
    assert (status, data["verdict"]) == (1, "degraded")  # the worst of the pools asked about


async def test_text_of_several_pools_puts_the_worst_first_and_the_healthy_on_one_line_each(fleet):
    await break_two_pools(fleet)
    status, out, err, _ = await check_cli(fleet.hosts_yaml)
    assert (status, err) == (2, "")
    lines = out.splitlines()
    assert lines[:2] == ["poolterm check: MASTER LOST (critical)", "3 pools: 1 MASTER LOST, 1 DEGRADED, 1 HEALTHY"]
    assert out.index("pool lab2: MASTER LOST") < out.index("pool lab3: DEGRADED") < out.index("healthy pools (1):")
    assert lines[-1] == "  lab1  HEALTHY  All 4 hosts answer and agree that plot1 is master."
    listed = [line for line in lines if line.startswith(("  plot1 ", "  plot2 "))]
    assert not listed, "a healthy pool's hosts are not listed"


def test_fifty_pools_read_on_a_screen_when_two_are_in_trouble():
    pools = fleet_pools(50, 100)
    diagnosis, _ = fleet_diagnosis(pools, lost_master=("lab07",), down_slave=("lab31",))
    text = render_text(diagnosis)
    lines = text.splitlines()
    assert lines[1] == "50 pools: 1 MASTER LOST, 1 DEGRADED, 48 HEALTHY"
    assert text.index("pool lab07: MASTER LOST") < text.index("pool lab31: DEGRADED")
    healthy = lines[lines.index("healthy pools (48):") + 1:]
    assert len(healthy) == 48 and all("HEALTHY  All 100 hosts answer" in line for line in healthy)
    assert len(lines) < 2 * 100 + 48 + 20, "only the troubled pools list their hosts"
    assert diagnosis.verdict is Verdict.MASTER_LOST


async def test_two_probe_workers_diagnose_what_one_does(fleet):
    await break_two_pools(fleet)
    one = await check_json(fleet.hosts_yaml, "--probe-workers", "1")
    two = await check_json(fleet.hosts_yaml, "--probe-workers", "2")
    three = await check_json(fleet.hosts_yaml, "--probe-workers", "3")
    assert one[0] == two[0] == three[0] == 2
    assert [json_shape(p) for p in one[1]["pools"]] == [json_shape(p) for p in two[1]["pools"]] \
        == [json_shape(p) for p in three[1]["pools"]]


async def test_openmetrics_counts_every_round_with_workers(fleet):
    status, out, err, _ = await check_cli(fleet.hosts_yaml, "--format", "openmetrics", "--probe-workers", "2")
    assert (status, err) == (0, "")
    assert out.rstrip().endswith("# EOF")
    counts = {line.split('pool="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1]) for line in out.splitlines()
              if line.startswith("poolterm_probe_round_seconds_count")}
    assert counts == {"lab1": 4, "lab2": 4, "lab3": 4}, counts


async def test_probe_workers_end_when_check_is_killed(fleet):
    """A worker's stdin is its parent: when `poolterm check` dies (kill -9), its workers stop probing and exit."""
    async with SilentPort("127.91.0.62") as silent:
        path = derived_inventory(fleet.hosts_yaml, "hang", {"plot2": {"ssh_host": silent.address, "port": silent.port}},
                                 ssh={"connect_timeout": 60})
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "poolterm", "check", "-i", str(path), "--probe-workers", "2",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            env={**os.environ, "HOME": str(path.parent)})

        def probe_workers() -> list[int] | None:
            found = [pid for pid in children_of(proc.pid) if b"poolterm.probing.oneshot" in _cmdline(pid)]
            return found if len(found) == 2 else None

        try:
            workers = await wait_for(probe_workers, 30, "two probe workers")
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
            await wait_for(lambda: not children_alive(workers), 10, "the workers ending")
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


async def test_a_probe_worker_that_dies_leaves_its_hosts_unreached_and_says_why(fleet):
    """A worker killed mid-round: check does not wait for it, and names what happened for its hosts."""
    async with SilentPort("127.91.0.63") as silent:
        path = derived_inventory(fleet.hosts_yaml, "die", {"plot2": {"ssh_host": silent.address, "port": silent.port}},
                                 ssh={"connect_timeout": 60})
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "poolterm", "check", "-i", str(path), "--probe-workers", "2", "--json",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "HOME": str(path.parent)})
        reading = asyncio.ensure_future(proc.communicate())
        await wait_for(lambda: silent.accepted >= 1, 30, "plot2's connection")
        for pid in [pid for pid in children_of(proc.pid) if b"poolterm.probing.oneshot" in _cmdline(pid)]:
            os.kill(pid, signal.SIGKILL)
        out, err = await asyncio.wait_for(reading, 20)
    data = json.loads(out)
    plot2 = next(h for p in data["pools"] for h in p["hosts"] if h["name"] == "plot2")
    assert plot2["reach"] == "pending" and "probe worker ended (exit status -9)" in plot2["evidence"][0], plot2
    assert err.decode() == ""


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


@pytest.mark.parametrize("stdin", [b"", b"\x00\x00\x00\x00\x00\x00\x00\x10garbage"])
async def test_a_worker_without_work_exits_quietly(stdin):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "poolterm.probing.oneshot", stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(stdin), 30)
    assert (proc.returncode, out) == (0, b""), err
    assert err == b""
