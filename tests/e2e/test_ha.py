"""HA pools over real SSH (issue #12): HA elects the master, poolterm waits; fencing, a lost statefile,
a partition, and a stuck failover recovered by playbook ha-stuck, each ending healthy by ground truth.

The simulator's HA follows docs/xapi.md ("HA"): a master lost for T seconds is replaced by the
survivors' election, a host cut off from the others or from the statefile fences (reboots), and
a pool whose every host lost the statefile cannot elect at all once its master dies.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

from poolterm.actions.journal import read_journal
from poolterm.model import Verdict
from poolterm.sim.runtime import Simulator
from poolterm.sim.world import SimParams
from tests.helpers.cli import RunningSim, poolterm
from tests.helpers.playbook_run import PlaybookRun
from tests.helpers.sim import diagnose_now
from tests.helpers.truth import assert_healthy, host_field, host_status

T = 2.0
#: Fast HA: T seconds to notice a loss, a short fuse, boot and start-up.
HA = SimParams(fuse=0.5, boot=0.5, xapi_start=0.3, shutdown=0.3, emergency_retry=0.5, ha_timeout=T, ha_poll=0.5)


def the_master(status: dict) -> str | None:
    masters = [h["name"] for h in status["hosts"] if h["role"] == "master"]
    return masters[0] if len(masters) == 1 else None


async def verdicts_until(sim, done, timeout: float = 60) -> list:
    """Diagnose round after round (as `poolterm check` does) until ``done(pool)``; every pool seen."""
    seen = []
    async with asyncio.timeout(timeout):
        while True:
            pool = await diagnose_now(sim)
            seen.append(pool)
            if done(pool):
                return seen


def never_advises_a_promotion_or_a_restart(seen) -> None:
    for pool in seen:
        text = f"{pool.summary} {pool.advice}"
        assert "Promote " not in text and "xe-toolstack-restart on" not in text, (pool.verdict, text)
        assert pool.verdict is not Verdict.SPLIT_BRAIN and pool.verdict is not Verdict.MASTER_LOST, pool.summary


async def test_done_means_a_master_crash_under_ha_is_waited_for_and_ha_elects_the_next(tmp_path):
    """The issue's acceptance run, through the command line: `poolterm sim --ha --ha-timeout 10`."""
    directory = tmp_path / "pool"
    sim = await RunningSim.start(directory, "--hosts", "8", "--ha", "--ha-timeout", "10", "--fuse", "2",
                                 "--boot", "1")
    hosts = str(directory / "hosts.yaml")
    try:
        loop = asyncio.get_running_loop()
        assert (await poolterm("sim", "ctl", "--dir", str(directory), "crash", "plot1"))[0] == 0
        crashed = loop.time()
        code, out, err = await poolterm("check", "-i", hosts, "--json", timeout=30)
        assert loop.time() - crashed < 12, "the check itself takes a probe round"
        doc = json.loads(out)
        pool = doc["pools"][0]
        assert (doc["verdict"], code) == ("ha-failover", 2), (out, err)
        # A first look: plot1 was never seen, so only the seven survivors' local.db count.
        assert pool["ha"]["armed"] == [f"plot{i}" for i in range(2, 9)] and pool["ha"]["timeout"] == 10
        assert "do not promote by hand" in pool["advice"]
        journal = tmp_path / "incident.jsonl"
        code, out, err = await poolterm("playbook", "run", "master-lost", "--yes", "-i", hosts,
                                        "--journal", str(journal), timeout=60)
        assert code != 0 and "HA FAILOVER" in out, (out, err)
        assert [r for r in read_journal(journal).records if r["kind"] == "command-start"] == []
        async with asyncio.timeout(60):
            while True:
                code, out, _ = await poolterm("check", "-i", hosts, "--json", timeout=30)
                verdict = json.loads(out)["verdict"]
                assert verdict != "master-lost", out
                if verdict not in ("ha-failover", "unknown"):
                    break
        status = json.loads((await poolterm("sim", "ctl", "--dir", str(directory), "status", "--json"))[1])
        new = the_master(status)
        assert new not in (None, "plot1") and status["ha"]["lock"] == new
        assert verdict == "degraded" and json.loads(out)["pools"][0]["master"] == new  # plot1 is still off
    finally:
        assert await sim.stop() == 0


async def test_a_slave_cut_off_under_ha_fences_and_comes_back_a_slave(tmp_path):
    async with Simulator(8, tmp_path / "pool", params=HA, ha=True) as sim:
        await sim.ctl("cable-out", "plot4")
        await sim.wait_until(lambda s: host_status(s, "plot4")["ha"]["fences"] == 1, 20)
        pool = await diagnose_now(sim)
        assert pool.verdict is Verdict.DEGRADED and pool.master == "plot1"
        assert {h.name: h.ha for h in pool.hosts}["plot4"] == "fenced"
        await sim.ctl("cable-in", "plot4")
        seen = await verdicts_until(sim, lambda p: p.verdict is Verdict.HEALTHY)
        assert all(p.master == "plot1" for p in seen)
        await assert_healthy(sim, "plot1")


async def test_a_host_that_lost_the_statefile_is_warned_of_then_fences(tmp_path):
    async with Simulator(8, tmp_path / "pool", params=replace(HA, ha_timeout=4.0), ha=True) as sim:
        await sim.ctl("statefile-out", "plot3")
        seen = await verdicts_until(sim, lambda p: any(f.kind == "fencing-risk" for f in p.findings), 10)
        risk = next(f for f in seen[-1].findings if f.kind == "fencing-risk")
        assert risk.hosts == ("plot3",) and "lost the heartbeat statefile" in risk.summary
        await sim.wait_until(lambda s: host_status(s, "plot3")["ha"]["fences"] == 1, 30)
        # Back from the fence without its statefile, it cannot join the liveset: emergency at start-up.
        await sim.wait_until(lambda s: host_field(s, "plot3", "emergency_error") == "HA_HOST_CANNOT_ACCESS_STATEFILE",
                             30)
        pool = await diagnose_now(sim)
        assert pool.verdict is Verdict.EMERGENCY and pool.master == "plot1"
        await sim.ctl("statefile-in", "plot3")
        await verdicts_until(sim, lambda p: p.verdict is Verdict.HEALTHY)
        await assert_healthy(sim, "plot1")


async def test_a_master_cut_off_under_ha_fences_and_the_pool_never_splits(tmp_path):
    """The field notes' cable pull, under HA: the master is a partition of one, so it fences; the
    seven others elect a new master; plugged back in, the old master rejoins as a slave."""
    async with Simulator(8, tmp_path / "pool", params=HA, ha=True) as sim:
        await sim.ctl("cable-out", "plot1")
        seen = await verdicts_until(sim, lambda p: p.master not in (None, "plot1") and p.verdict in (
            Verdict.DEGRADED, Verdict.HEALTHY), 60)
        never_advises_a_promotion_or_a_restart(seen)
        assert Verdict.HA_FAILOVER in {p.verdict for p in seen}
        new = seen[-1].master
        assert host_status(sim.status(), "plot1")["ha"]["fences"] >= 1
        await sim.ctl("cable-in", "plot1")
        seen = await verdicts_until(sim, lambda p: p.verdict is Verdict.HEALTHY, 60)
        assert all(p.verdict is not Verdict.SPLIT_BRAIN for p in seen)
        await assert_healthy(sim, new)


async def test_ha_stuck_is_recovered_by_its_playbook_and_ha_is_armed_again(tmp_path):
    """Every host loses the statefile, then the master dies: the survivors fence and cannot rejoin,
    no election can happen. `poolterm playbook run ha-stuck` disarms each survivor, promotes one,
    recovers the others and, the storage back, enables HA again."""
    async with Simulator(4, tmp_path / "pool", params=HA, ha=True) as sim:
        for name in ("plot1", "plot2", "plot3", "plot4"):
            await sim.ctl("statefile-out", name)
        await sim.ctl("crash", "plot1")
        await sim.wait_until(lambda s: all(host_field(s, n, "emergency_error") == "HA_HOST_CANNOT_ACCESS_STATEFILE"
                                           for n in ("plot2", "plot3", "plot4")), 60)
        assert the_master(sim.status()) is None
        pool = (await verdicts_until(sim, lambda p: p.verdict is Verdict.HA_STUCK, 30))[-1]
        assert pool.playbook == "ha-stuck" and "HA_HOST_CANNOT_ACCESS_STATEFILE" in pool.summary
        journal = tmp_path / "incident.jsonl"
        run = await PlaybookRun.start(sim, "ha-stuck", journal)
        await run.expect("Promote plot")
        for name in ("plot1", "plot2", "plot3", "plot4"):  # the storage is back once every survivor is disarmed
            await sim.ctl("statefile-in", name)
        await run.expect("Fix what took plot1 down, then power it on through its BMC")
        await run.expect("Type 'done'")
        await sim.ctl("poweron", "plot1")
        await run.send("done")
        assert await run.finish(120) == 0, run.output
        assert "DONE: Goal reached" in run.text
        status = sim.status()
        master = the_master(status)
        await assert_healthy(sim, master)
        assert status["ha"]["enabled"] is True and all(h["ha"]["armed"] for h in status["hosts"])
        sent = [(r["host"], r["command"]) for r in read_journal(journal).records if r["kind"] == "command-start"
                and r.get("changes_pool")]
        assert sent[:3] == [(n, "xe host-emergency-ha-disable --force") for n in ("plot2", "plot3", "plot4")]
        assert [c for _, c in sent[3:5]] == ["xe pool-emergency-transition-to-master", "xe pool-recover-slaves"]
        assert sent[-1] == (master, "xe pool-ha-enable")
