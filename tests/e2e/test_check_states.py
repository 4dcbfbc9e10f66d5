"""Every pool state the field notes met, injected in the simulator and diagnosed over real SSH.

Each test breaks the simulated pool the way the notes did (through the
simulator's control API and real `xe` commands sent over SSH), runs one
probe round exactly as `poolterm check` does, and asserts the verdict, the
hosts named, and the playbook recommended.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from poolterm.model import Verdict, XapiState
from poolterm.sim.world import SimParams
from tests.helpers.sim import FAST, diagnose_now, simulated_pool
from tests.helpers.ssh import xe
from tests.helpers.truth import host_field


async def test_healthy(sim):
    pool = await diagnose_now(sim)
    assert pool.verdict is Verdict.HEALTHY
    assert pool.master == "plot1"
    assert all(h.reachable and h.agrees for h in pool.hosts)


@pytest.mark.parametrize("fault, reach", [("shutdown", "refused"), ("crash", "timeout"), ("cable-out", "timeout")])
async def test_master_lost(sim, fault, reach):
    await sim.ctl(fault, "plot1")
    pool = await diagnose_now(sim)
    assert pool.verdict is Verdict.MASTER_LOST
    assert pool.playbook == "master-lost"
    finding = pool.findings[0]
    assert finding.hosts[0] == "plot1"
    assert finding.candidates and finding.candidates[0].name == "plot2"
    plot1 = next(h for h in pool.hosts if h.name == "plot1")
    assert plot1.reach.value in (reach, "stalled")
    assert not plot1.reachable
    # the notes' trap: every slave still says it is not in emergency mode
    assert all(h.emergency_flag is False for h in pool.hosts if h.reachable)


async def test_master_xapi_hung(sim):
    await sim.ctl("hang-xapi", "plot1")
    pool = await diagnose_now(sim)
    assert pool.verdict is Verdict.MASTER_LOST
    assert pool.findings[0].kind == "master-hung"
    assert pool.findings[0].hosts[0] == "plot1"
    assert "xe-toolstack-restart on plot1" in pool.summary


async def test_a_promotion_in_progress_is_waited_for_until_the_new_master_answers(tmp_path):
    # A fuse long enough to watch: between the command and the new master answering, no
    # round may advise a toolstack restart, another promotion or a premature recover-slaves.
    async with simulated_pool(tmp_path / "pool", 8, params=SimParams(fuse=3.0, boot=1.5)) as sim:
        await sim.ctl("crash", "plot1")
        status, output = await xe(sim, "plot2", "xe pool-emergency-transition-to-master")
        assert status == 0, output
        seen = []
        async with asyncio.timeout(30):
            while True:
                pool = await diagnose_now(sim)
                if pool.verdict is not Verdict.MASTER_LOST:
                    break
                seen.append((pool.findings[0].kind, next(h.xapi.value for h in pool.hosts if h.name == "plot2")))
        assert len(seen) >= 2 and {kind for kind, _ in seen} == {"master-taking-over"}, seen
        assert seen[0][1] == "hung", "during the fuse the promoted host's xapi is still a slave of the lost master"
        assert pool.verdict is Verdict.ORPHANED_SLAVES and pool.master == "plot2"
        assert next(h for h in pool.hosts if h.name == "plot2").xapi is XapiState.ANSWERING


async def test_slave_down_is_degraded(sim):
    await sim.ctl("crash", "plot5")
    pool = await diagnose_now(sim)
    assert pool.verdict is Verdict.DEGRADED
    assert pool.master == "plot1"
    assert any(f.kind == "hosts-down" and f.hosts == ("plot5",) for f in pool.findings)


async def test_orphaned_slaves_after_promotion_without_recover(sim):
    await sim.ctl("shutdown", "plot1")
    status, out = await xe(sim, "plot2", "xe pool-emergency-transition-to-master")
    assert status == 0, out
    await sim.wait_until(lambda s: host_field(s, "plot2", "role") == "master", 10)
    pool = await diagnose_now(sim)
    assert pool.verdict is Verdict.ORPHANED_SLAVES
    assert pool.master == "plot2"
    finding = pool.findings[0]
    assert finding.playbook == "orphaned-slaves"
    assert set(finding.hosts) == {f"plot{i}" for i in range(3, 9)}


async def test_split_brain_after_the_cable_returns(sim):
    await sim.ctl("cable-out", "plot1")
    assert (await xe(sim, "plot2", "xe pool-emergency-transition-to-master"))[0] == 0
    await sim.wait_until(lambda s: host_field(s, "plot2", "role") == "master", 10)
    status, out = await xe(sim, "plot2", "xe pool-recover-slaves")
    assert status == 0 and len(out.split()) == 6, out
    await sim.wait_until(lambda s: all(h["role"] == "slave" for h in s["hosts"] if h["name"] not in ("plot1", "plot2")), 10)
    await sim.ctl("cable-in", "plot1")
    pool = await diagnose_now(sim)
    assert pool.verdict is Verdict.SPLIT_BRAIN
    assert pool.master == "plot2"
    finding = pool.findings[0]
    assert set(finding.hosts) == {"plot1", "plot2"}
    assert finding.playbook == "split-brain"
    assert "plot2 is the true master" in finding.summary


async def test_a_recovered_stale_master_is_healthy_only_once_its_xapi_restarted_as_a_slave(tmp_path):
    # The fuse leaves one check round (fresh handshakes included) ample time before plot1 restarts.
    async with simulated_pool(tmp_path / "pool", 8, params=SimParams(fuse=6.0, boot=0.5)) as sim:
        await sim.ctl("cable-out", "plot1")
        assert (await xe(sim, "plot2", "xe pool-emergency-transition-to-master"))[0] == 0
        await sim.wait_until(lambda s: host_field(s, "plot2", "role") == "master", 20)
        await sim.ctl("cable-in", "plot1")
        assert (await xe(sim, "plot2", "xe pool-recover-slaves"))[0] == 0
        # plot1's pool.conf names plot2 at once; its xapi stays master until the fuse blows
        truth = sim.status()
        assert (host_field(truth, "plot1", "pool_conf"), host_field(truth, "plot1", "role")) == \
            (f"slave:{host_field(truth, 'plot2', 'address')}", "master")
        pool = await diagnose_now(sim)
        assert pool.verdict is not Verdict.HEALTHY, pool.summary
        assert any(f.kind == "role-change-pending" and "plot1" in f.hosts for f in pool.findings), pool.findings
        await sim.wait_until(lambda s: all(h["role"] == "slave" and h["xapi"] == "running"
                                           for h in s["hosts"] if h["name"] != "plot2"), 20)
        pool = await diagnose_now(sim)
        assert pool.verdict is Verdict.HEALTHY and pool.master == "plot2", pool.summary


async def test_old_master_booting_after_a_promotion_is_not_a_split_brain(tmp_path):
    """The master-lost playbook's last step: plot1 powers on with pool.conf `master`. While its
    xapi starts (4 s here: one probe round fits in it) it is a master about to demote itself."""
    params = SimParams(fuse=FAST.fuse, boot=0.5, xapi_start=4.0)
    async with simulated_pool(tmp_path / "pool", 8, params=params) as sim:
        await sim.ctl("shutdown", "plot1")
        await sim.wait_until(lambda s: host_field(s, "plot1", "power") == "off", 10)
        assert (await xe(sim, "plot2", "xe pool-emergency-transition-to-master"))[0] == 0
        await sim.wait_until(lambda s: host_field(s, "plot2", "role") == "master", 20)
        assert (await xe(sim, "plot2", "xe pool-recover-slaves"))[0] == 0
        await sim.wait_until(lambda s: all(host_field(s, f"plot{i}", "master_address") == host_field(s, "plot2", "address")
                                           for i in range(3, 9)), 20)
        await sim.ctl("poweron", "plot1")
        await sim.wait_until(lambda s: host_field(s, "plot1", "xapi") == "starting", 10)
        pool = await diagnose_now(sim)
        assert host_field(sim.status(), "plot1", "pool_conf") == "master"  # it still says so
        assert pool.verdict is Verdict.DEGRADED and pool.master == "plot2"
        assert [f.hosts for f in pool.findings if f.kind == "starting-master"] == [("plot1",)]


async def test_forgotten_host_back_in_emergency(sim):
    status = await sim.ctl("status")
    uuid = host_field(status, "plot5", "uuid")
    await sim.ctl("shutdown", "plot5")
    await sim.wait_until(lambda s: host_field(s, "plot5", "power") == "off", 10)
    code, out = await xe(sim, "plot1", f"xe host-forget uuid={uuid} --force")
    assert code == 0, out
    await sim.ctl("poweron", "plot5")
    await sim.wait_until(lambda s: host_field(s, "plot5", "emergency") is True, 15)
    pool = await diagnose_now(sim)
    assert pool.verdict is Verdict.EMERGENCY
    finding = next(f for f in pool.findings if f.kind == "forgotten-host")
    assert finding.hosts == ("plot5",)
    assert pool.playbook == "forgotten-host"


async def test_check_command_exit_codes_and_json(sim):
    """The real CLI: exit 0 on a healthy pool, 2 with --json when the master is gone."""
    env = dict(os.environ, HOME=str(sim.directory))
    args = [sys.executable, "-m", "poolterm", "check", "-i", str(sim.hosts_yaml), "--timeout", "1.5"]
    proc = await asyncio.create_subprocess_exec(*args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert "HEALTHY" in out.decode()
    assert err == b"", "a fresh install's check says nothing on stderr it did not mean to"

    await sim.ctl("shutdown", "plot1")
    proc = await asyncio.create_subprocess_exec(*args, "--json", stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out, err = await proc.communicate()
    assert proc.returncode == 2, err.decode()
    assert err == b""
    data = json.loads(out)
    assert data["verdict"] == "master-lost"
    assert data["pools"][0]["findings"][0]["playbook"] == "master-lost"
    plot1 = next(h for h in data["pools"][0]["hosts"] if h["name"] == "plot1")
    # one-shot: no memory of plot1's pool.conf, so its role is honestly unknown; the slaves name it
    assert plot1["reachable"] is False and plot1["role"] == "unknown"
    assert data["pools"][0]["findings"][0]["hosts"][0] == "plot1"


async def test_check_bad_inventory_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "hosts.yaml"
    bad.write_text("pools:\n  - name: lab\n    hosts:\n      - name: plot1\n        adress: 127.0.0.1\n")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "poolterm", "check", "-i", str(bad),
                                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 2
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and "hosts.yaml:5" in lines[0] and "Traceback" not in err.decode()


def advises_a_promotion_or_a_restart(pool) -> bool:
    text = f"{pool.summary} {pool.advice}"
    return "Promote " in text or "xe-toolstack-restart on" in text or pool.verdict is Verdict.MASTER_LOST


@pytest.mark.parametrize("how", ["designate", "recover-slaves"])
async def test_a_master_change_is_never_advised_against_round_by_round(tmp_path, how):
    """Issue #12: from the command to the pool settled, no probe round (each a fresh `poolterm check`,
    which has no history to go on) may advise a toolstack restart or a promotion: the change
    finishes by itself, and either would make the split brain the handover avoids."""
    async with simulated_pool(tmp_path / "pool", 6, params=SimParams(fuse=3.0, boot=1.0, xapi_start=1.0)) as sim:
        if how == "designate":
            uuid = host_field(sim.status(), "plot3", "uuid")
            status, output = await xe(sim, "plot1", f"xe pool-designate-new-master host-uuid={uuid}")
            master = "plot3"
        else:
            await sim.ctl("crash", "plot1")
            status, output = await xe(sim, "plot2", "xe pool-emergency-transition-to-master")
            assert status == 0, output
            await sim.wait_until(lambda s: host_field(s, "plot2", "role") == "master", 20)
            await sim.ctl("poweron", "plot1")
            status, output = await xe(sim, "plot2", "xe pool-recover-slaves")
            master = "plot2"
        assert status == 0, output
        seen = []
        async with asyncio.timeout(60):
            while True:
                pool = await diagnose_now(sim)
                seen.append(pool)
                if pool.verdict is Verdict.HEALTHY:
                    break
        assert pool.master == master
        wrong = [(p.verdict.value, p.summary) for p in seen if advises_a_promotion_or_a_restart(p)]
        assert wrong == [], wrong
        assert len(seen) >= 2, "the change was over before the first round: nothing was tested"
