"""Two operators, one incident (issue #15): a follower console watches what the driver runs, is
refused every command with the driver's name, writes notes both see, and takes the wheel once the
driver is killed, resuming its playbook at the right step with the promotion sent exactly once.

The driver is `poolterm playbook run` in its own process (the journal's lock is its own), as user
alice; the follower is the console under Textual's pilot."""

from __future__ import annotations

import pytest

from poolterm.actions.driver_lock import Seat, current_holder
from poolterm.actions.journal import read_journal
from poolterm.actions.report import build_report, render_markdown
from poolterm.config.inventory import load_inventory
from poolterm.ui.app import PoolApp
from poolterm.ui.dialogs import Confirm, LinePrompt, TakeWheelDialog
from tests.helpers.console import INTERVAL, TIMEOUT, TIMING
from tests.helpers.pilot import log_text, type_line, wait_for
from tests.helpers.playbook_run import PlaybookRun, commands
from tests.helpers.sim import fast_inventory, simulated_pool
from tests.helpers.truth import host_field

PROMOTE = "xe pool-emergency-transition-to-master"
RECOVER = "xe pool-recover-slaves"


def follower(sim, journal) -> PoolApp:
    seat = Seat(journal, None, driver=current_holder(journal))
    return PoolApp(load_inventory(fast_inventory(sim)), interval=INTERVAL, timeout=TIMEOUT, timing=TIMING, seat=seat)


async def driver_running(sim, journal, *, yes: bool = True) -> PlaybookRun:
    run = await PlaybookRun.start(sim, "master-lost", journal, yes=yes)
    await run.expect("playbook master-lost")
    assert current_holder(journal).user == "alice"
    return run


def confirmed_until(app, done) -> bool:
    """Whether ``done()`` holds; meanwhile the new driver says yes to each command it is asked to confirm."""
    if isinstance(app.screen, Confirm) and app.screen.id != "resume":
        app.screen.action_answer(True)
    return done()


async def master_lost(sim) -> None:
    await sim.ctl("shutdown", "plot1")
    await sim.wait_until(lambda s: host_field(s, "plot1", "power") == "off", 10)


async def test_the_follower_sees_the_drivers_playbook_is_refused_by_name_and_writes_notes(tmp_path):
    async with simulated_pool(tmp_path / "pool", 4) as sim:
        await master_lost(sim)
        journal = tmp_path / "incident.jsonl"
        driver = await driver_running(sim, journal)
        app = follower(sim, journal)
        async with app.run_test(size=(140, 44)) as pilot:
            assert "FOLLOWING alice" in app.banner.badges.words()
            await wait_for(pilot, lambda: f"{PROMOTE}" in log_text(app), timeout=30, what="the promotion shown")
            await wait_for(pilot, lambda: app.playbook_panel.progress is not None
                           and "done" in app.playbook_panel.progress.statuses, timeout=30, what="a step marked done")

            for action in ("xe_prompt", "query_menu", "recommended", "start_playbook"):
                assert app.check_action(action, ()) is None, action
                assert "alice" in app.unavailable_reason(action) and "drives" in app.unavailable_reason(action)
            await pilot.press("e")
            assert not isinstance(app.screen, LinePrompt)  # refused: no prompt opens

            await pilot.press("n")
            await wait_for(pilot, lambda: isinstance(app.screen, LinePrompt), what="the note prompt")
            await type_line(pilot, "check plot1 iLO before it comes back")
            await pilot.press("enter")
            await wait_for(pilot, lambda: "check plot1 iLO" in log_text(app), what="the note in the log")

            await driver.expect("Type 'done'", timeout=60)  # the manual step: alice stops the run there
            await driver.send("stop")
            await driver.finish(30)
            await wait_for(pilot, lambda: app.playbook_panel.progress.finished is not None, timeout=15,
                           what="the end of the run shown")
            ended = [r for r in read_journal(journal).records if r["kind"] == "playbook-end"][-1]
            assert app.playbook_panel.progress.finished.outcome == ended["outcome"]
            steps = [r for r in read_journal(journal).records if r["kind"] == "step" and r["status"] == "done"]
            assert {app.playbook_panel.progress.statuses[r["index"]] for r in steps} == {"done"}

    records = read_journal(journal).records
    [note] = [r for r in records if r["kind"] == "note"]
    assert note["role"] == "follower" and note["text"] == "check plot1 iLO before it comes back"
    follower_sessions = {note["session"]}
    assert not [r for r in records if r["session"] in follower_sessions and r["kind"] != "note"]  # only notes
    report = render_markdown(build_report(read_journal(journal)))
    assert f"{note['operator']}: check plot1 iLO before it comes back" in report


@pytest.mark.timeout(180)
async def test_kill_9_of_the_driver_lets_the_follower_take_the_wheel_and_resume_with_one_promotion(tmp_path):
    async with simulated_pool(tmp_path / "pool", 4) as sim:
        await master_lost(sim)
        journal = tmp_path / "incident.jsonl"
        driver = await driver_running(sim, journal)
        await driver.expect(f": {PROMOTE}")
        await driver.expect("exit 0")
        await driver.kill()  # kill -9 right after the promotion, before its effect was verified

        app = follower(sim, journal)
        async with app.run_test(size=(140, 44)) as pilot:
            await wait_for(pilot, lambda: app.check_action("take_wheel", ()) is True and app.crew.free,
                           timeout=10, what="the wheel offered")
            await pilot.press("T")
            await wait_for(pilot, lambda: isinstance(app.screen, TakeWheelDialog), what="the takeover dialog")
            await type_line(pilot, "alice")
            await pilot.press("enter")
            await type_line(pilot, "alice's console died mid-promotion")
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, Confirm) and app.screen.id == "resume",
                           timeout=10, what="the resume offered")
            assert app.crew.lock is not None and current_holder(journal).pid == app.crew.lock.holder.pid
            await pilot.press("y")
            await wait_for(pilot, lambda: confirmed_until(app, lambda: any(
                command == RECOVER and status == 0 for _, command, status in commands(journal))),
                timeout=60, what="the slaves recovered by the resumed run")
            app.action_cancel_command()

    records = read_journal(journal).records
    assert [c for _, c, _ in commands(journal)].count(PROMOTE) == 1
    [took] = [r for r in records if r["kind"] == "wheel"]
    assert (took["event"], took["previous"], took["reason"]) == ("took", "alice", "alice's console died mid-promotion")
    [resumed] = [r for r in records if r["kind"] == "playbook-resume"]
    promote_step = next(r["index"] for r in records if r["kind"] == "step" and r["step"] == "promote")
    assert resumed["index"] == promote_step and resumed["acted"] is True
