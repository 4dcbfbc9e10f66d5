"""The field notes' incident 3 recovered for real: a host forgotten while it was down is
contained, reinstalled, joined to the pool again by `poolterm playbook run forgotten-host`,
and the pool ends healthy by the simulator's ground truth. The master's root password the
join needs is never shown, journaled or logged.

The operator stops at the reinstall (it takes an afternoon) and runs the playbook again
afterwards, which resumes there: a new run reads the reinstalled host's new uuid (the
watcher of a running poolterm reads a host's inventory only once).
"""

from __future__ import annotations

from poolterm.actions.journal import read_journal
from poolterm.sim.world import ROOT_PASSWORD
from tests.helpers.playbook_run import PlaybookRun, changes
from tests.helpers.sim import fault, simulated_pool
from tests.helpers.truth import assert_healthy, host_field


async def contain(sim, run: PlaybookRun) -> None:
    """Steps 1-3: the forgotten host is confirmed, the rest checked, the host powered off."""
    await run.expect("ok: plot5 is not in the master's database and sits in emergency mode")
    await run.expect("Type 'done'")
    await sim.ctl("shutdown", "plot5")
    await sim.wait_until(lambda s: host_field(s, "plot5", "power") == "off", 10)
    await run.send("done")
    await run.expect("ok: plot5 does not answer SSH")
    await run.expect("Reinstall XCP-ng/XenServer on plot5")
    await run.expect("Type 'done'")
    await run.send("stop")
    assert await run.finish() == 1, run.output


async def reinstall(sim) -> None:
    """Step 4, the operator's part: a fresh install, powered on."""
    await sim.ctl("reinstall", "plot5")
    await sim.ctl("poweron", "plot5")
    await sim.wait_until(lambda s: host_field(s, "plot5", "role") == "master", 15)


async def forgotten_plot5(sim) -> str:
    await fault(sim, "forgotten-host")
    status = await sim.wait_until(lambda s: host_field(s, "plot5", "emergency_error") == "HOST_UNKNOWN_TO_MASTER", 15)
    return host_field(status, "plot5", "uuid")


def secret_free(text: str) -> bool:
    return ROOT_PASSWORD not in text


async def test_incident_3_forgotten_host_is_reinstalled_and_joined_again(tmp_path):
    async with simulated_pool(tmp_path / "pool", 8) as sim:
        old_uuid = await forgotten_plot5(sim)
        password_file = tmp_path / "master-password"
        password_file.write_text(ROOT_PASSWORD + "\n")
        journal = tmp_path / "incident.jsonl"
        await contain(sim, await PlaybookRun.start(sim, "forgotten-host", journal))
        await reinstall(sim)
        run = await PlaybookRun.start(sim, "forgotten-host", journal, "--password-file", str(password_file))
        await run.expect("It resumes at step 4 of 6: Reinstall plot5 and power it on.")
        await run.expect("skipped (already so: plot5 is master and answers as master)")
        master = sim.address_of("plot1")
        await run.expect(f"$ on plot5 ({sim.address_of('plot5')}): xe pool-join master-address={master} "
                         "master-username=root master-password=<redacted>")
        await run.expect("Host agent will restart and attempt to join pool in 0.5 seconds...")
        await run.expect("ok: plot5 follows plot1; plot1's database lists plot5")
        assert await run.finish() == 0, run.output
        assert "DONE: Goal reached: the pool is healthy: every host follows plot1" in run.text
        await assert_healthy(sim, "plot1")
        status = sim.status()
        assert host_field(status, "plot5", "installs") == 2 and host_field(status, "plot5", "uuid") != old_uuid
        assert host_field(status, "plot5", "ptoken_sha256") == host_field(status, "plot1", "ptoken_sha256")
        assert host_field(status, "plot5", "pool_conf") == f"slave:{master}"
        assert changes(journal) == [("plot5", f"xe pool-join master-address={master} master-username=root "
                                              "master-password=<redacted>", 0)]
        # the password went to plot5 and nowhere else: not the screen, the journal, or any host's xapi log
        assert secret_free(run.output)
        assert secret_free(journal.read_text())
        for name in sim.world.names:
            assert secret_free(sim.world.read_file(name, "/var/log/xensource.log") or "")


async def test_the_join_password_is_asked_at_the_join_and_a_wrong_one_stops_the_run(tmp_path):
    async with simulated_pool(tmp_path / "pool", 5) as sim:
        await forgotten_plot5(sim)
        journal = tmp_path / "incident.jsonl"
        await contain(sim, await PlaybookRun.start(sim, "forgotten-host", journal))
        await reinstall(sim)
        run = await PlaybookRun.start(sim, "forgotten-host", journal)  # no file, no variable: it asks
        await run.expect(f"root password of plot1 ({sim.address_of('plot1')})")
        await run.send("not-the-password")
        await run.expect("Authentication failed")
        assert await run.finish() == 1, run.output
        assert "STOPPED: Step 5 (Join plot5 to plot1's pool)" in run.text
        assert "not-the-password" not in run.output and "not-the-password" not in journal.read_text()
        assert host_field(sim.status(), "plot5", "role") == "master"  # nothing changed on a failed login

        # the run resumes at the join, this time with the right password from the environment
        again = await PlaybookRun.start(sim, "forgotten-host", journal, env={"POOLTERM_JOIN_PASSWORD": ROOT_PASSWORD})
        await again.expect("It resumes at step 5 of 6: Join plot5 to plot1's pool.")
        assert await again.finish() == 0, again.output
        await assert_healthy(sim, "plot1")
        assert secret_free(again.output) and secret_free(journal.read_text())
        records = read_journal(journal).records
        assert [r["exit_status"] for r in records if r["kind"] == "command-end"] == [1, 0]

