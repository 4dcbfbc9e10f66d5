"""Playbooks run from the console: R on the verdict, the dialogs answered like an operator
would, and the pool checked by the simulator's ground truth at the end."""

from __future__ import annotations

import pytest

from poolterm.actions.journal import read_journal
from poolterm.ui.dialogs import Confirm, ManualStep
from poolterm.ui.messages import PlaybookEnded
from tests.helpers.console import console
from tests.helpers.pilot import answer, log_text, of, palette_run, wait_for
from tests.helpers.sim import PARAMS
from tests.helpers.ssh import promote_by_hand, xe
from tests.helpers.truth import healthy_truth, host_field

# The `sim` fixture's pool (tests/conftest.py): four hosts with short fuse and boot times.
pytestmark = pytest.mark.sim(hosts=4, params=PARAMS)


async def test_R_on_master_lost_recovers_the_pool_through_the_dialogs(sim, tmp_path):
    path = tmp_path / "incident.jsonl"
    messages = []
    app = console(sim, path)
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await wait_for(pilot, lambda: app.banner.headline == "HEALTHY", what="HEALTHY")
        await sim.ctl("crash", "plot1")
        await wait_for(pilot, lambda: app.banner.headline == "MASTER LOST", what="MASTER LOST")
        await pilot.press("R")
        panel = app.playbook_panel
        assert panel.has_class("-active") and "PLAYBOOK master-lost" in app.banner.badges.words()
        # one voice while it runs: the banner sends the operator to the panel, not to another playbook
        assert "Next: follow playbook master-lost in its panel" in app.banner.text
        assert "Run playbook" not in app.banner.text and "(press R)" not in app.banner.text
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), timeout=30, what="the first confirmation")
        assert "next command: on plot2: xe pool-emergency-transition-to-master" in panel.text
        assert "why: A pool cannot work without a master" in panel.text
        await answer(pilot, app, Confirm, "y", "xe pool-emergency-transition-to-master")
        await answer(pilot, app, Confirm, "y", "xe pool-recover-slaves")
        manual = await wait_for(pilot, lambda: isinstance(app.screen, ManualStep) and app.screen, timeout=30,
                                what="the manual step")
        assert "Power plot1 on through its BMC" in manual.text
        assert " ✔ 2. Promote plot2 to master  [done]" in panel.text
        assert " ✔ 3. Point every reachable host at plot2  [done]" in panel.text
        assert " ↷ 1. Restart the toolstack on plot1  [skipped]" in panel.text
        assert " ▶ 4. Bring plot1 back  [running]" in panel.text
        short = panel.text
        app.action_teach()  # teaching mode expands the step's why and names the key to press
        assert "Until plot1 is back the pool runs one host short" in panel.text
        assert "Next key: do what the dialog says, then enter" in panel.text and panel.text != short
        await sim.ctl("poweron", "plot1")
        await pilot.press("enter")
        ended = await wait_for(pilot, lambda: of(messages, PlaybookEnded), timeout=60, what="the playbook's end")
        assert ended[0].outcome == "done", panel.text
        assert "DONE: Goal reached" in panel.text
        # plot1 booting with pool.conf `master` was never taken for a second master
        assert "verdict SPLIT BRAIN" not in log_text(app)
    await sim.wait_until(lambda s: not healthy_truth(s, "plot2"), 10)
    assert healthy_truth(sim.status(), "plot2") == []
    records = read_journal(path).records
    changes = [(r["host"], r["command"]) for r in records
               if r["kind"] == "command-start" and r["changes_pool"]]
    assert changes == [("plot2", "xe pool-emergency-transition-to-master"), ("plot2", "xe pool-recover-slaves")]
    assert [r["answer"] for r in records if r["kind"] == "manual"] == ["done"]
    assert [r["outcome"] for r in records if r["kind"] == "playbook-end"] == ["done"]


async def test_cancelled_playbook_is_offered_for_resume_at_the_next_start(sim, tmp_path):
    from poolterm.actions.journal import interrupted_run

    path = tmp_path / "incident.jsonl"
    messages = []
    await sim.ctl("crash", "plot1")
    app = console(sim, path)
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await wait_for(pilot, lambda: app.banner.headline == "MASTER LOST", what="MASTER LOST")
        assert app.check_action("pause", ()) is True
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), timeout=30, what="the promotion")
        assert app.check_action("pause", ()) is False  # the runner needs fresh probes
        app.action_cancel_command()  # x, behind the dialog
        ended = await wait_for(pilot, lambda: of(messages, PlaybookEnded), what="the cancel")
        assert ended[0].outcome == "cancelled"
        await wait_for(pilot, lambda: not isinstance(app.screen, Confirm), what="the dialog to close with it")
        assert " ✖ 2. Promote plot2 to master  [failed]" in app.playbook_panel.text
    assert sim.status()["masters"] == []  # nothing was sent
    point = interrupted_run(read_journal(path).records, path)
    assert (point.playbook, point.state, point.completed) == ("master-lost", "stopped", ("restart-hung-master",))

    again = console(sim, path, resume=point)
    async with again.run_test(size=(120, 40)) as pilot:
        offer = await wait_for(pilot, lambda: isinstance(again.screen, Confirm) and again.screen, timeout=30,
                               what="the offer to resume")
        assert "It resumes at step 2 of 7: Promote plot2 to master" in offer.body
        await pilot.press("n")
    ends = [r for r in read_journal(path).records if r["kind"] == "playbook-end"]
    assert [e["outcome"] for e in ends] == ["stopped", "abandoned"]


def changes_in(path) -> list[tuple[str, str]]:
    """(host, command) of every pool-changing command the journal says was sent."""
    return [(r["host"], r["command"]) for r in read_journal(path).records
            if r["kind"] == "command-start" and r["changes_pool"]]


async def test_orphaned_slaves_declined_then_resumed_with_R(sim, tmp_path):
    """A promotion without pool-recover-slaves; the operator first declines the command
    (the run stops), then R offers to resume the stopped run and it ends healthy."""
    path = tmp_path / "incident.jsonl"
    messages = []
    await sim.ctl("shutdown", "plot1")
    await sim.wait_until(lambda s: host_field(s, "plot1", "power") == "off", 10)
    await promote_by_hand(sim, "plot2")
    await sim.ctl("poweron", "plot1")
    await sim.wait_until(lambda s: host_field(s, "plot1", "role") == "slave", 10)
    app = console(sim, path, teach=True)
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await wait_for(pilot, lambda: app.banner.headline == "ORPHANED SLAVES", timeout=30,
                       what="ORPHANED SLAVES")
        await pilot.press("R")
        await answer(pilot, app, Confirm, "n", "xe pool-recover-slaves")
        ended = await wait_for(pilot, lambda: of(messages, PlaybookEnded), timeout=30, what="the stop")
        assert ended[0].outcome == "stopped"
        panel = app.playbook_panel
        await wait_for(pilot, lambda: "R offers to resume it where it stopped" in panel.text,
                       what="the resume hint")
        assert "Next key: R offers to resume playbook orphaned-slaves" in panel.text
        # nothing was sent: plot3 still points at the old master
        assert host_field(sim.status(), "plot3", "master_address") == host_field(sim.status(), "plot1",
                                                                                    "address")
        await pilot.press("R")
        await answer(pilot, app, Confirm, "y", "It resumes at step")
        await answer(pilot, app, Confirm, "y", "xe pool-recover-slaves")
        await wait_for(pilot, lambda: len(of(messages, PlaybookEnded)) == 2, timeout=60, what="the second end")
        assert of(messages, PlaybookEnded)[1].outcome == "done", panel.text
    await sim.wait_until(lambda s: not healthy_truth(s, "plot2"), 10)
    assert healthy_truth(sim.status(), "plot2") == []
    assert changes_in(path) == [("plot2", "xe pool-recover-slaves")]
    ends = [r["outcome"] for r in read_journal(path).records if r["kind"] == "playbook-end"]
    assert ends == ["stopped", "done"]


async def test_planned_handover_to_the_selected_host_from_the_palette(sim, tmp_path):
    """HA on, plot3 selected: the palette runs planned-handover with plot3 as the candidate;
    HA is switched off first, then plot3 is designated, and the pool ends healthy under plot3."""
    path = tmp_path / "incident.jsonl"
    messages = []
    assert (await xe(sim, "plot1", "xe pool-ha-enable"))[0] == 0
    app = console(sim, path)
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await wait_for(pilot, lambda: app.banner.headline == "HEALTHY", timeout=30, what="HEALTHY")
        app.select_host("plot3")
        await palette_run(pilot, app, "planned-handover with candidate plot3")
        await answer(pilot, app, Confirm, "y", "xe pool-ha-disable")
        uuid = host_field(sim.status(), "plot3", "uuid")
        await answer(pilot, app, Confirm, "y", f"xe pool-designate-new-master host-uuid={uuid}")
        ended = await wait_for(pilot, lambda: of(messages, PlaybookEnded), timeout=60, what="the playbook's end")
        assert ended[0].outcome == "done", app.playbook_panel.text
        await wait_for(pilot, lambda: app.banner.diagnosis.worst.master == "plot3", timeout=30,
                       what="the console to see plot3 as master")
    await sim.wait_until(lambda s: not healthy_truth(s, "plot3"), 10)
    assert healthy_truth(sim.status(), "plot3") == []
    assert changes_in(path) == [("plot1", "xe pool-ha-disable"),
                                ("plot1", f"xe pool-designate-new-master host-uuid={uuid}")]
    assert await xe(sim, "plot3", "xe pool-list params=ha-enabled --minimal") == (0, "false")


async def test_starting_afresh_abandons_the_stopped_run(sim, tmp_path):
    """A run stopped in this session is what R offers; starting a playbook from the palette
    instead closes it in the journal as abandoned, so nothing offers it again."""
    from poolterm.actions.journal import interrupted_run

    path = tmp_path / "incident.jsonl"
    messages = []
    await sim.ctl("crash", "plot1")
    app = console(sim, path)
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await wait_for(pilot, lambda: app.banner.headline == "MASTER LOST", timeout=30, what="MASTER LOST")
        await pilot.press("R")
        await answer(pilot, app, Confirm, "n", "xe pool-emergency-transition-to-master")
        await wait_for(pilot, lambda: of(messages, PlaybookEnded), timeout=15, what="the stop")
        await wait_for(pilot, lambda: app.playbooks.resumable is not None, what="the stopped run to be resumable")
        stopped = app.playbooks.resumable.run
        await palette_run(pilot, app, "Playbook master-lost: ")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), timeout=30, what="the new run's promotion")
        app.action_cancel_command()
        await wait_for(pilot, lambda: len(of(messages, PlaybookEnded)) == 2, what="the cancel")
    records = read_journal(path).records
    ends = [(r["run"], r["outcome"]) for r in records if r["kind"] == "playbook-end"]
    runs = [r["run"] for r in records if r["kind"] == "playbook-start"]
    assert len(runs) == 2 and runs[0] == stopped
    assert ends == [(stopped, "stopped"), (stopped, "abandoned"), (runs[1], "stopped")]
    assert interrupted_run(records, path).run == runs[1]  # only the newest run is still open
    assert sim.status()["masters"] == []  # nothing was sent
