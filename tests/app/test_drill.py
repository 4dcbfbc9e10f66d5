"""Drills in the console (`poolterm demo --drill`): the fault arrives after HEALTHY, the trainee
recovers the pool with a playbook (or, under HA, waits), and the score matches the journal and the
simulator's ground truth."""

from __future__ import annotations

from dataclasses import replace

from textual.widgets import Input, OptionList

from poolterm.actions.journal import read_journal
from poolterm.actions.report import build_report, render_markdown
from poolterm.cli.demo import drill_for
from poolterm.diagnosis.drill import truth_problems
from poolterm.sim.runtime import Simulator
from poolterm.sim.scenario import load_scenario
from poolterm.sim.world import ROOT_PASSWORD
from poolterm.ui.dialogs import ChoiceMenu, Confirm, ManualStep, PasswordPrompt
from poolterm.ui.drill_score import DrillScore
from poolterm.ui.messages import CommandRefused, DrillEnded, PlaybookEnded
from tests.helpers.console import console
from tests.helpers.pilot import answer, log_text, of, plain, refused_at_xe_prompt, type_line, wait_for
from tests.helpers.sim import PARAMS, fast_sim
from tests.helpers.truth import healthy_truth, host_field

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
            # i offers first what undoes the host's fault, so a trainee's enter powers plot1 on
            dialog = app.screen
            await pilot.press("i")
            menu = await wait_for(pilot, lambda: isinstance(app.screen, ChoiceMenu) and app.screen, what="the menu")
            assert (menu.choices[0].key, menu.choices[0].title) == \
                ("poweron plot1", "poweron: boot the host  (undoes its fault)")
            assert not any("undoes" in c.title for c in menu.choices[1:])
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.screen is dialog, what="the manual step back in front")
            await sim.wait_until(lambda s: next(h for h in s["hosts"] if h["name"] == "plot1")["power"] == "on", 10)
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
        # the incident report tells the drill: its start in the timeline, its score in the summary
        report = build_report(read_journal(path))
        assert [(d["drill"], d["outcome"], d["seconds"], d["changes"]) for d in report["drills"]] == \
            [("master-shutdown", "recovered", score.seconds, 2)]
        markdown = render_markdown(report)
        assert "DRILL master-shutdown: the simulator injected the fault" in markdown
        assert f"- Drill master-shutdown by {report['drills'][0]['operator']}: recovered in " in markdown
        assert "0 guard refusal(s), 0 overridden; 1 step(s) skipped; " in markdown
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
            # and nothing on screen says otherwise (tests/app/test_banner.py: what the banner says then)
            assert app.banner.badges.drill_setup and "(press R)" not in app.banner.text
            app.action_teach()
            assert "the drill is still setting up its fault" in app.playbook_panel.text
            app.action_teach()
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


async def simulate_from_the_dialog(pilot, app, action: str, host: str) -> None:
    """In a manual step's dialog, i opens the simulator's actions for the step's host: choose one."""
    dialog = app.screen
    await pilot.press("i")
    menu = await wait_for(pilot, lambda: isinstance(app.screen, ChoiceMenu) and app.screen, what="the menu")
    options = menu.query_one(OptionList)
    options.highlighted = options.get_option_index(f"{action} {host}")
    await pilot.press("enter")
    await wait_for(pilot, lambda: app.screen is dialog, what="the manual step back in front")


async def test_forgotten_host_drill_recovered_in_the_console_without_showing_the_password(tmp_path):
    """Incident 3 as a drill: the trainee powers plot5 off and reinstalls it from inside the
    manual steps (demo), first declines the password (the run stops), resumes with R, gives
    the master's root password in the masked dialog, and plot5 is a member again."""
    sim = await fast_sim(tmp_path / "sim", hosts=5)
    path = tmp_path / "drill.jsonl"
    messages = []
    try:
        app = drill_console(sim, path, "forgotten-host")
        async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
            await wait_for(pilot, lambda: app.drill.state.stage == "live", timeout=60, what="the fault")
            old_uuid = host_field(sim.status(), "plot5", "uuid")
            await wait_for(pilot, lambda: app.banner.headline == "EMERGENCY", timeout=30, what="EMERGENCY")
            await pilot.press("R")
            power_off = await wait_for(pilot, lambda: isinstance(app.screen, ManualStep) and app.screen,
                                       timeout=60, what="the power-off step")
            assert power_off.step_title == "Power plot5 off and keep it off"
            await simulate_from_the_dialog(pilot, app, "shutdown", "plot5")
            await sim.wait_until(lambda s: host_field(s, "plot5", "power") == "off", 10)
            await pilot.press("enter")
            reinstall = await wait_for(pilot, lambda: app.screen is not power_off and isinstance(app.screen, ManualStep)
                                       and app.screen, timeout=30, what="the reinstall step")
            assert reinstall.step_title == "Reinstall plot5 and power it on"
            await simulate_from_the_dialog(pilot, app, "reinstall", "plot5")
            await sim.wait_until(lambda s: host_field(s, "plot5", "uuid") != old_uuid, 10)
            await simulate_from_the_dialog(pilot, app, "poweron", "plot5")
            await pilot.press("enter")

            prompt = await wait_for(pilot, lambda: isinstance(app.screen, PasswordPrompt) and app.screen,
                                    timeout=60, what="the password dialog")
            assert "root password of plot1" in prompt.purpose
            await pilot.press("escape")  # not at hand yet: the run stops, nothing is sent
            await wait_for(pilot, lambda: of(messages, PlaybookEnded), timeout=15, what="the stop")
            assert "no root password of plot1 was given" in app.playbook_panel.text
            await pilot.press("R")
            await answer(pilot, app, Confirm, "y", "It resumes at step 5 of 6: Join plot5 to plot1's pool")

            prompt = await wait_for(pilot, lambda: isinstance(app.screen, PasswordPrompt) and app.screen,
                                    timeout=60, what="the password dialog again")
            await type_line(pilot, ROOT_PASSWORD)
            field = prompt.query_one(Input)
            assert field.password and field.value == ROOT_PASSWORD
            assert ROOT_PASSWORD not in app.export_screenshot()  # masked while typed
            await pilot.press("enter")
            confirm = await wait_for(pilot, lambda: isinstance(app.screen, Confirm) and app.screen, timeout=15,
                                     what="the join's confirmation")
            assert field.value == ""  # emptied as the dialog closed
            assert "xe pool-join master-address=" in confirm.body and "master-password=<redacted>" in confirm.body
            assert ROOT_PASSWORD not in app.export_screenshot()
            await pilot.press("y")

            screen = await score_screen(pilot, app)
            score = screen.score
            assert score.outcome == "recovered" and score.seconds is not None
            assert (score.refusals, score.changes) == (0, 1)
            assert ROOT_PASSWORD not in log_text(app)
        assert healthy_truth(sim.status(), "plot1") == []
        assert host_field(sim.status(), "plot5", "uuid") != old_uuid  # a fresh install, joined anew
        journal = path.read_text()
        assert ROOT_PASSWORD not in journal
        ends = [r["outcome"] for r in read_journal(path).records if r["kind"] == "playbook-end"]
        assert ends == ["stopped", "done"]
        assert [r["outcome"] for r in drill_records(path)] == ["recovered"]
    finally:
        await sim.stop()


# ---- HA: the right answer is to wait ----------------------------------------------------------------


async def ha_drill_sim(directory, name: str, ha_timeout: float) -> Simulator:
    """Four hosts started as drill ``name``'s scenario asks (``pool: {ha: true}``), on short timers
    with HA's timeout ``ha_timeout`` in place of the scenario's 10 s."""
    params = replace(PARAMS, emergency_retry=0.5, ha_timeout=ha_timeout, ha_poll=0.5)
    sim = Simulator(4, directory, params=params, ha=load_scenario(name).ha)
    await sim.start()
    return sim


def masters(status: dict) -> list[str]:
    return [h["name"] for h in status["hosts"] if h["role"] == "master"]


async def test_ha_failover_drill_is_won_by_waiting(tmp_path):
    """The master crashes under HA; the trainee touches nothing, HA elects plot2 (the lowest uuid of
    the survivors), and the drill scores a recovery with no promotion and no command."""
    sim = await ha_drill_sim(tmp_path / "sim", "ha-failover", ha_timeout=4.0)
    path = tmp_path / "drill.jsonl"
    try:
        assert sim.status()["ha"]["enabled"] is True
        app = drill_console(sim, path, "ha-failover")
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.drill.state.stage == "live", timeout=30, what="the fault")
            assert host_field(sim.status(), "plot1", "power") == "off"
            screen = await score_screen(pilot, app)
            score = screen.score
            assert (score.outcome, score.promotions, score.commands, score.refusals) == ("recovered", 0, 0, 0)
            assert score.seconds is not None and score.seconds > 0
            assert "promotions by hand:     0 (right: HA elected the master)" in screen.text
            assert screen.score.lines()[0].startswith("DRILL ha-failover: recovered ")
            assert "by hand" not in screen.score.lines()[0]
            await pilot.press("q")
            await wait_for(pilot, lambda: app.return_code is not None, what="the console to exit")
        status = sim.status()
        assert masters(status) == ["plot2"] and status["ha"]["lock"] == "plot2"
        assert truth_problems(status) == [] and host_field(status, "plot1", "power") == "off"
        verdicts = [r["verdict"] for r in read_journal(path).records if r["kind"] == "verdict"]
        assert "ha-failover" in verdicts and "master-lost" not in verdicts  # told to wait, not to promote
        assert [(r["outcome"], r["promotions"]) for r in drill_records(path)] == [("recovered", 0)]
    finally:
        await sim.stop()


async def test_ha_failover_drill_counts_a_promotion_tried_by_hand(tmp_path):
    """The trainee types a promotion at the xe prompt while HA elects: the guards refuse it, nothing
    is sent, HA still elects plot2, and the score counts the promotion against the trainee."""
    # A longer T keeps the election open while the trainee types.
    sim = await ha_drill_sim(tmp_path / "sim", "ha-failover", ha_timeout=8.0)
    path = tmp_path / "drill.jsonl"
    messages = []
    try:
        app = drill_console(sim, path, "ha-failover")
        async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
            await wait_for(pilot, lambda: app.drill.state.stage == "live", timeout=30, what="the fault")
            await wait_for(pilot, lambda: app.banner.headline == "HA FAILOVER", timeout=15, what="HA FAILOVER")
            await wait_for(pilot, lambda: "HA is electing a master: wait" in plain(app.demo_hint),
                           what="the drill's hint to wait")
            dialog = await refused_at_xe_prompt(pilot, app, "plot2", "pool-emergency-transition-to-master")
            assert dialog.reason.startswith("HA is electing a new master"), dialog.reason
            await pilot.press("escape")  # keep the refusal
            await wait_for(pilot, lambda: of(messages, CommandRefused), what="the refusal")
            screen = await score_screen(pilot, app)
            score = screen.score
            assert (score.outcome, score.promotions, score.refusals, score.commands) == ("recovered", 1, 1, 0)
            assert score.lines()[0].endswith(" after the fault, but 1 promotion tried by hand")
            assert "promotions by hand:     1 (HA elects the master: the right answer was to wait)" in screen.text
            assert "guard refusals hit:     1" in screen.text
            await pilot.press("q")
            await wait_for(pilot, lambda: app.return_code is not None, what="the console to exit")
        assert masters(sim.status()) == ["plot2"]
        assert host_field(sim.status(), "plot2", "pool_conf") == "master"  # elected by HA, not by the trainee
        records = read_journal(path).records
        assert [(r["host"], r["rule"]) for r in records if r["kind"] == "refused"] == [("plot2", "ha-failover")]
        assert [r for r in records if r["kind"] == "command-start"] == []
        assert [(r["outcome"], r["promotions"]) for r in drill_records(path)] == [("recovered", 1)]
    finally:
        await sim.stop()
