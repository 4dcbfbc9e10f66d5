"""HA and master changes in the console, on a live simulated pool: a failover is waited for (R
starts nothing, a promotion is refused), a stuck failover is recovered by playbook ha-stuck through
the dialogs, and a planned handover is never taken for an incident while it runs."""

from __future__ import annotations

import pytest

from poolterm.actions.journal import read_journal
from poolterm.sim.runtime import Simulator
from poolterm.sim.world import SimParams
from poolterm.ui.dialogs import Confirm, ManualStep
from poolterm.ui.messages import (
    CommandRefused,
    CommandStarted,
    DiagnosisUpdated,
    PlaybookEnded,
)
from tests.helpers.console import console
from tests.helpers.pilot import answer, log_text, of, palette_run, refused_at_xe_prompt, wait_for
from tests.helpers.truth import assert_healthy, healthy_truth, host_field, host_status

NAMES = ("plot1", "plot2", "plot3", "plot4")
T = 2.0
#: Fast HA, as tests/e2e/test_ha.py: T seconds to notice a loss, a short fuse, boot and start-up.
HA = SimParams(fuse=0.5, boot=0.5, xapi_start=0.3, shutdown=0.3, emergency_retry=0.5, ha_timeout=T, ha_poll=0.5)
#: The failover test types at the prompt while HA elects: a longer T keeps the election open that long.
SLOW_HA = SimParams(fuse=0.5, boot=0.5, xapi_start=0.3, shutdown=0.3, emergency_retry=0.5, ha_timeout=8.0,
                    ha_poll=0.5)
SIZE = (120, 40)


def masters(status: dict) -> list[str]:
    return [h["name"] for h in status["hosts"] if h["role"] == "master"]


def records(path, kind: str) -> list[dict]:
    return [r for r in read_journal(path).records if r["kind"] == kind]


def changes_in(path) -> list[tuple[str, str]]:
    """(host, command) of every pool-changing command the journal says was sent."""
    return [(r["host"], r["command"]) for r in records(path, "command-start") if r["changes_pool"]]


async def test_an_ha_failover_is_waited_for_R_starts_nothing_and_a_promotion_is_refused(tmp_path):
    """The master of an HA pool crashes: the banner says HA FAILOVER, R starts nothing (no playbook is
    recommended: the key is greyed out, silently), a promotion typed at the xe prompt is refused by rule
    ha-failover and never sent, and with nobody acting HA's new master answers."""
    path = tmp_path / "incident.jsonl"
    messages = []
    async with Simulator(4, tmp_path / "pool", params=SLOW_HA, ha=True) as sim:
        app = console(sim, path)
        async with app.run_test(size=SIZE, message_hook=messages.append, notifications=True) as pilot:
            await wait_for(pilot, lambda: app.banner.headline == "HEALTHY", timeout=30, what="HEALTHY")
            await sim.ctl("crash", "plot1")
            await wait_for(pilot, lambda: app.banner.headline == "HA FAILOVER", timeout=8, what="HA FAILOVER")
            assert "Next: Wait: HA elects a new master" in app.banner.text
            assert app.recommended_pool() is None
            # R: the verdict recommends no playbook, so the key is greyed out and does nothing.
            assert app.check_action("recommended", ()) is None
            assert app.unavailable_reason("recommended").startswith("no playbook is recommended")
            notes = len(app._notifications)
            await pilot.press("R")
            await pilot.pause()
            assert app.playbook_panel.progress is None and not app.playbook_panel.has_class("-active")
            assert not app.playbooks.running and not isinstance(app.screen, Confirm)
            assert len(app._notifications) == notes
            # A promotion typed at the xe prompt meets the guards: refused, rule ha-failover.
            dialog = await refused_at_xe_prompt(pilot, app, "plot2", "pool-emergency-transition-to-master")
            assert dialog.reason.startswith("HA is electing a new master"), dialog.reason
            assert app.banner.headline == "HA FAILOVER"
            await pilot.press("escape")  # keep the refusal
            refused = await wait_for(pilot, lambda: of(messages, CommandRefused), what="the refusal")
            assert refused[0].reason.startswith("refused: HA is electing a new master")
            assert "REFUSED xe pool-emergency-transition-to-master" in log_text(app)
            # Nobody acts: HA elects, and the console follows it out of HA FAILOVER.
            await wait_for(pilot, lambda: app.banner.headline in ("DEGRADED", "HEALTHY"), timeout=30,
                           what="the verdict to leave HA FAILOVER")
            new = app.diagnosis.worst.master
            assert new not in (None, "plot1")
            assert not of(messages, CommandStarted)
        # Nothing the console showed meanwhile told the operator to promote, recover or restart.
        shown = [m.diagnosis.worst for m in of(messages, DiagnosisUpdated)]
        for pool in shown:
            text = f"{pool.summary} {pool.advice}"
            assert pool.verdict.value not in ("master-lost", "split-brain"), (pool.verdict, text)
            assert "Promote " not in text and "xe-toolstack-restart on" not in text, (pool.verdict, text)
        status = sim.status()
        assert masters(status) == [new] and status["ha"]["lock"] == new
        assert host_field(status, "plot1", "power") == "off"
    refusals = records(path, "refused")
    assert [(r["host"], r["rule"], r["command"]) for r in refusals] == \
        [("plot2", "ha-failover", "xe pool-emergency-transition-to-master")]
    assert records(path, "command-start") == [] and records(path, "playbook-start") == []
    verdicts = [r["verdict"] for r in records(path, "verdict")]
    assert verdicts[:2] == ["healthy", "ha-failover"] and verdicts[-1] in ("degraded", "healthy")
    assert "master-lost" not in verdicts and "split-brain" not in verdicts


async def confirm(pilot, app, host: str | None, command: str) -> Confirm:
    """Wait for the runner's Confirm of ``command`` (on ``host``, if given), answer y, wait for it to close."""
    screen = await wait_for(pilot, lambda: isinstance(app.screen, Confirm) and app.screen, timeout=30,
                            what=f"the confirmation of {command}")
    assert screen.body.startswith(f"{command}\n"), screen.body
    if host is not None:
        assert screen.question == f"Run this on {host}?", screen.question
    await pilot.press("y")
    await wait_for(pilot, lambda: app.screen is not screen, what="the dialog to close")
    return screen


async def test_ha_stuck_is_recovered_from_the_console_and_ha_is_armed_again(tmp_path):
    """Every host loses the statefile, then the master dies: no election can happen. R runs
    playbook ha-stuck; the operator confirms each disarm, the promotion and the recovery, brings
    plot1 back at the manual step, and the run ends with HA enabled again."""
    path = tmp_path / "incident.jsonl"
    messages = []
    async with Simulator(4, tmp_path / "pool", params=HA, ha=True) as sim:
        for name in NAMES:
            await sim.ctl("statefile-out", name)
        await sim.ctl("crash", "plot1")
        await sim.wait_until(lambda s: all(host_field(s, n, "emergency_error") == "HA_HOST_CANNOT_ACCESS_STATEFILE"
                                           for n in NAMES[1:]), 30)
        app = console(sim, path)
        async with app.run_test(size=SIZE, message_hook=messages.append, notifications=True) as pilot:
            await wait_for(pilot, lambda: app.banner.headline == "HA STUCK", timeout=20, what="HA STUCK")
            assert "HA_HOST_CANNOT_ACCESS_STATEFILE" in app.diagnosis.worst.summary
            await pilot.press("R")
            panel = app.playbook_panel
            assert panel.has_class("-active") and "PLAYBOOK ha-stuck" in app.banner.badges.words()
            for name in NAMES[1:]:
                await confirm(pilot, app, name, "xe host-emergency-ha-disable --force")
            promotion = await wait_for(pilot, lambda: isinstance(app.screen, Confirm) and app.screen, timeout=30,
                                       what="the promotion")
            candidate = promotion.question.removeprefix("Run this on ").removesuffix("?")
            assert candidate in NAMES[1:], promotion.question
            promoting = panel.text  # checked after the run: the panel's story of the expanded steps
            # Every survivor is disarmed: the storage comes back (HA is enabled again on it at the end).
            assert not any(host_status(sim.status(), n)["ha"]["armed"] for n in NAMES[1:])
            for name in NAMES:
                await sim.ctl("statefile-in", name)
            await confirm(pilot, app, candidate, "xe pool-emergency-transition-to-master")
            await confirm(pilot, app, candidate, "xe pool-recover-slaves")
            manual = await wait_for(pilot, lambda: isinstance(app.screen, ManualStep) and app.screen, timeout=30,
                                    what="the manual step")
            assert manual.step_title == "Bring plot1 back", manual.step_title
            assert "power it on through its BMC" in manual.text
            await sim.ctl("poweron", "plot1")
            await pilot.press("enter")
            # Whatever else the run asks (plot1 disarmed if it came back armed, HA enabled): yes.
            later = []
            while not of(messages, PlaybookEnded):
                screen = await wait_for(pilot, lambda: of(messages, PlaybookEnded) or (
                    isinstance(app.screen, Confirm) and app.screen), timeout=60, what="a dialog or the end")
                if isinstance(screen, Confirm):
                    later.append((screen.question, screen.body.partition("\n")[0]))
                    await pilot.press("y")
                    await wait_for(pilot, lambda asked=screen: app.screen is not asked, what="the dialog to close")
            [ended] = of(messages, PlaybookEnded)
            notes = [n.message for n in app._notifications]
            assert (ended.playbook, ended.outcome) == ("ha-stuck", "done"), (panel.text, notes)
            assert "DONE: Goal reached" in panel.text
            # The panel follows the playbook as run: one disarm step per survivor, twelve steps in all.
            assert f" ▶ 5. Promote {candidate} to master  [running]" in promoting, promoting
            assert f"next command: on {candidate}: xe pool-emergency-transition-to-master" in promoting, promoting
            assert f" ✔ 6. Point every reachable host at {candidate}  [done]" in panel.text, panel.text
            assert f" ✔ 12. Enable HA again on {candidate}  [done]" in panel.text, panel.text
            assert later[-1] == (f"Run this on {candidate}?", "xe pool-ha-enable"), later
            assert set(later[:-1]) <= {("Run this on plot1?", "xe host-emergency-ha-disable --force"),
                                       (f"Run this on {candidate}?", "xe pool-recover-slaves")}, later
        await assert_healthy(sim, candidate)
        status = sim.status()
        assert status["ha"]["enabled"] is True and all(h["ha"]["armed"] for h in status["hosts"])
    sent = changes_in(path)
    assert sent[:5] == [(n, "xe host-emergency-ha-disable --force") for n in NAMES[1:]] + [
        (candidate, "xe pool-emergency-transition-to-master"), (candidate, "xe pool-recover-slaves")]
    assert sent[-1] == (candidate, "xe pool-ha-enable")
    assert [r["answer"] for r in records(path, "manual")] == ["done"]
    assert [r["outcome"] for r in records(path, "playbook-end")] == ["done"]


#: The handover test's pool (the `sim` fixture's, tests/conftest.py): four hosts, no HA; a two-second
#: fuse keeps the master change under way for a few probe rounds, so the verdicts during it are seen
#: (and journaled), not skipped over.
SLOW_FUSE = SimParams(fuse=2.0, boot=0.5, xapi_start=0.3, shutdown=0.3)


@pytest.mark.sim(hosts=4, params=SLOW_FUSE)
async def test_a_planned_handover_is_never_taken_for_an_incident_while_it_runs(sim, tmp_path):
    """planned-handover to plot3 from the palette: from the designation on, every verdict the console
    shows and the journal holds is HANDOVER IN PROGRESS or HEALTHY, and none advises a promotion or a
    toolstack restart."""
    path = tmp_path / "incident.jsonl"
    messages = []
    app = console(sim, path)
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await wait_for(pilot, lambda: app.banner.headline == "HEALTHY", timeout=30, what="HEALTHY")
        app.select_host("plot3")
        await palette_run(pilot, app, "planned-handover with candidate plot3")
        uuid = host_field(sim.status(), "plot3", "uuid")
        dialog = await wait_for(pilot, lambda: isinstance(app.screen, Confirm) and app.screen, timeout=30,
                                what="the designation's confirmation")
        answered = len(messages)
        await answer(pilot, app, Confirm, "y", f"xe pool-designate-new-master host-uuid={uuid}")
        assert dialog.question == "Run this on plot1?"
        ended = await wait_for(pilot, lambda: of(messages, PlaybookEnded), timeout=60, what="the playbook's end")
        assert ended[0].outcome == "done", app.playbook_panel.text
        await wait_for(pilot, lambda: app.banner.headline == "HEALTHY" and app.diagnosis.worst.master == "plot3",
                       timeout=30, what="the console to see plot3 as a healthy master")
        shown = [m.diagnosis.worst for m in of(messages[answered:], DiagnosisUpdated)]
    await sim.wait_until(lambda s: not healthy_truth(s, "plot3"), 10)
    assert healthy_truth(sim.status(), "plot3") == []
    assert changes_in(path) == [("plot1", f"xe pool-designate-new-master host-uuid={uuid}")]
    # What the console showed from the designation on.
    assert "handover-in-progress" in {p.verdict.value for p in shown}, [(p.verdict.value, p.master) for p in shown]
    for pool in shown:
        text = f"{pool.summary} {pool.advice}"
        assert pool.verdict.value in ("handover-in-progress", "healthy"), (pool.verdict, text)
        assert "xe-toolstack-restart" not in text and "Promote" not in text, text
    # What the journal holds of it.
    journal = read_journal(path).records
    first = next(i for i, r in enumerate(journal) if r["kind"] == "command-start" and r["changes_pool"])
    after = [r for r in journal[first:] if r["kind"] == "verdict"]
    verdicts = [r["verdict"] for r in after]
    # The runner journals its pool's verdicts while it runs, the console once it has ended: the
    # return to HEALTHY may be written by both.
    assert verdicts[0] == "handover-in-progress" and set(verdicts) == {"handover-in-progress", "healthy"}, after
    assert after[-1]["verdict"] == "healthy" and after[-1]["master"] == "plot3"
    for record in after:
        assert "xe-toolstack-restart" not in record["summary"] and "Promote" not in record["summary"], record
