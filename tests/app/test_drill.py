"""Drills in the console (`poolterm demo --drill`): the fault arrives after HEALTHY, the trainee
recovers the pool with a playbook, and the score matches the journal and the simulator's ground truth."""

from __future__ import annotations

from poolterm.demo import drill_for
from poolterm.journal import read_journal
from poolterm.ui.dialogs import Confirm, ManualStep
from poolterm.ui.drill_score import DrillScore
from poolterm.ui.messages import DrillEnded
from tests.truth import healthy_truth

from .test_app import of, plain, wait_for
from .test_console_playbooks import answer, console, fast_sim

#: Seconds from HEALTHY to the fault: short, the test has nothing to look at meanwhile.
DELAY = 0.3


def drill_console(sim, journal_path, name: str):
    return console(sim, journal_path, demo=sim, demo_dir=sim.directory, drill=drill_for(sim, name, delay=DELAY))


async def score_screen(pilot, app) -> DrillScore:
    return await wait_for(pilot, lambda: isinstance(app.screen, DrillScore) and app.screen, timeout=60,
                          what="the score screen")


def drill_records(path) -> list[dict]:
    return [r for r in read_journal(path).records if r["kind"] == "drill"]


async def test_master_shutdown_drill_recovered_with_R_is_scored(tmp_path):
    sim = await fast_sim(tmp_path / "sim")
    path = tmp_path / "drill.jsonl"
    messages = []
    try:
        app = drill_console(sim, path, "master-shutdown")
        async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
            await wait_for(pilot, lambda: app.banner.headline == "HEALTHY", what="HEALTHY")
            assert sim.status()["masters"][0]["name"] == "plot1"  # the fault waits for HEALTHY
            await wait_for(pilot, lambda: app.drill.state.stage == "live", timeout=30, what="the fault")
            assert "DRILL master-shutdown: recover the pool" in plain(app.demo_hint)
            await wait_for(pilot, lambda: app.banner.headline == "MASTER LOST", timeout=30, what="MASTER LOST")
            await pilot.press("R")
            await answer(pilot, app, Confirm, "y", "xe pool-emergency-transition-to-master")
            await answer(pilot, app, Confirm, "y", "xe pool-recover-slaves")
            await wait_for(pilot, lambda: isinstance(app.screen, ManualStep), timeout=30, what="the manual step")
            assert not of(messages, DrillEnded)  # the playbook is still at work
            await sim.ctl("poweron", "plot1")
            await pilot.press("enter")
            screen = await score_screen(pilot, app)
            score = screen.score
            assert score.outcome == "recovered" and score.seconds is not None and score.seconds > 0
            assert score.seconds <= score.elapsed
            # restart-hung-master is skipped (plot1 is off); the goal is reached before the last steps
            assert (score.refusals, score.skipped, score.changes) == (0, 1, 2)
            assert score.commands >= score.changes
            assert "guard refusals hit:     0" in screen.text and "playbook steps skipped: 1" in screen.text
            await pilot.press("q")
            await wait_for(pilot, lambda: app.return_code is not None, what="the console to exit")
        assert healthy_truth(sim.status(), "plot2") == []
        assert drill_records(path) == [{**drill_records(path)[0], **score.record()}]
    finally:
        await sim.stop()


async def test_split_brain_drill_is_resolved_by_its_playbook(tmp_path):
    sim = await fast_sim(tmp_path / "sim")
    path = tmp_path / "drill.jsonl"
    try:
        app = drill_console(sim, path, "split-brain")
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.drill.injecting, timeout=30, what="the fault being set up")
            # the pool changes under the console for a while: no playbook may start on it meanwhile
            assert app.check_action("start_playbook", ()) is None and app.check_action("recommended", ()) is None
            await wait_for(pilot, lambda: app.drill.state.stage == "live", timeout=45, what="the fault")
            await wait_for(pilot, lambda: app.banner.headline == "SPLIT BRAIN", timeout=30, what="the split brain")
            await pilot.press("R")
            await answer(pilot, app, Confirm, "y", "xe pool-recover-slaves")
            screen = await score_screen(pilot, app)
            assert healthy_truth(sim.status(), "plot2") == []
            score = screen.score
            # reconnect-stale-master is skipped: plot1's cable is back in
            assert (score.outcome, score.refusals, score.skipped, score.changes) == ("recovered", 0, 1, 1)
            await pilot.press("enter")  # back to the console, which stays open
            await wait_for(pilot, lambda: not isinstance(app.screen, DrillScore), what="the console")
            assert "DRILL split-brain: recovered" in plain(app.demo_hint)
            await pilot.press("q")  # no second score
            await wait_for(pilot, lambda: app.return_code is not None, what="the console to exit")
        assert [r["outcome"] for r in drill_records(path)] == ["recovered"]
    finally:
        await sim.stop()


async def test_quitting_a_drill_shows_and_journals_the_score(tmp_path):
    sim = await fast_sim(tmp_path / "sim")
    path = tmp_path / "drill.jsonl"
    try:
        app = drill_console(sim, path, "master-shutdown")
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.drill.state.stage == "live", timeout=30, what="the fault")
            await pilot.press("q")
            screen = await score_screen(pilot, app)
            assert screen.score.outcome == "quit" and screen.score.seconds is None
            assert app.return_code is None  # the score is read before poolterm leaves
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.return_code is not None, what="the console to exit")
        assert [(r["outcome"], r["commands"]) for r in drill_records(path)] == [("quit", 0)]
    finally:
        await sim.stop()
