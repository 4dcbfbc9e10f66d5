"""The console on a journal whose disk fills mid-incident: it keeps working, says so, and loses nothing.

The journal lives on a real 64 KiB tmpfs (the test is skipped where it cannot be mounted); a
file fills it, the simulator's master crashes (a verdict change the console journals from its
recompute timer) and the operator runs commands; then the file is deleted and the console's
retry writes everything held, in order.
"""

from __future__ import annotations

import json

import pytest

from poolterm.actions.journal import Journal
from poolterm.config.inventory import load_inventory
from poolterm.sim.world import SimParams
from poolterm.ui.app import PoolApp
from poolterm.ui.dialogs import ChoiceMenu, Confirm
from poolterm.ui.messages import CommandFinished
from tests.helpers.full_disk import fill, tiny_tmpfs
from tests.helpers.pilot import log_text, of, plain, wait_for

pytestmark = pytest.mark.sim(params=SimParams(fuse=1.0, boot=1.0))

SIZE = (120, 30)
JOURNAL_FAILING = "[JOURNAL FAILING]"  # the badge, as the operator reads it


def badges(app) -> str:
    return plain(app.banner, width=SIZE[0])


async def run_query(pilot, app, messages, host: str, line: str) -> None:
    done = len(of(messages, CommandFinished))
    assert app.run_xe(host, line)
    await wait_for(pilot, lambda: len(of(messages, CommandFinished)) > done, what=f"{line} on {host}")


async def test_a_full_journal_disk_keeps_the_console_working_and_loses_nothing(sim, tmp_path):
    messages = []
    with tiny_tmpfs(tmp_path / "fs") as disk:
        path = disk / "incident.jsonl"
        app = PoolApp(load_inventory(sim.hosts_yaml), interval=0.5, timeout=2.0, journal=Journal.open(path))
        async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
            await wait_for(pilot, lambda: app.banner.headline == "HEALTHY" and app.selected, what="HEALTHY")
            assert JOURNAL_FAILING not in badges(app)
            filler = fill(disk)
            queries = 0
            while JOURNAL_FAILING not in badges(app):  # what is left of the journal's last page fills first
                queries += 1
                await run_query(pilot, app, messages, "plot3", "xe host-list params=name-label")
                assert queries < 50, "the journal never failed"
            assert app.journal.failing and "No space left on device" in app.journal.failing
            assert "No space left on device" in log_text(app)

            # A verdict change is journaled from the recompute timer: the console lives through it.
            await sim.ctl("crash", "plot1")
            await wait_for(pilot, lambda: app.banner.headline == "MASTER LOST", what="MASTER LOST")
            # The operator's keys still work: a curated query from its menu, on plot3.
            await pilot.press("home", "right", "right")
            assert app.selected == "plot3"
            await pilot.press("c")
            assert isinstance(app.screen, ChoiceMenu)
            done = len(of(messages, CommandFinished))
            await pilot.press("enter")
            await wait_for(pilot, lambda: len(of(messages, CommandFinished)) > done, what="the curated query")
            assert of(messages, CommandFinished)[-1].exit_status == 0
            assert JOURNAL_FAILING in badges(app) and app.journal.pending > 0
            # Quitting now would lose the records held: the console asks first.
            await pilot.press("q")
            dialog = await wait_for(pilot, lambda: isinstance(app.screen, Confirm) and app.screen, what="quit?")
            assert "records held in memory" in dialog.body
            await pilot.press("n")

            filler.unlink()
            await wait_for(pilot, lambda: JOURNAL_FAILING not in badges(app), what="the badge to go")
            assert app.journal.failing is None and app.journal.pending == 0
            assert "journal written again" in log_text(app)
        app.journal.close()
        lines = path.read_bytes().decode("utf-8").split("\n")
    assert lines[-1] == ""
    records = [json.loads(line) for line in lines[:-1]]  # every line whole: nothing torn, nothing glued
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    assert [r["verdict"] for r in records if r["kind"] == "verdict"] == ["healthy", "master-lost"]
    starts = [r for r in records if r["kind"] == "command-start"]
    ends = [r for r in records if r["kind"] == "command-end"]
    assert len(starts) == len(ends) == queries + 1
    assert [r["id"] for r in starts] == [r["id"] for r in ends]
    assert starts[-1]["command"] == "cat /etc/xensource/pool.conf"
