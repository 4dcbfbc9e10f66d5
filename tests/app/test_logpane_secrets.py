"""A password typed at the xe prompt is sent to the host and shown nowhere: not in the log pane, a
dialog, a notification, the journal or the saved log; and the saved log is the operator's alone."""

from __future__ import annotations

import os
import stat

import pytest

from poolterm.actions.journal import Journal
from poolterm.ui.dialogs import Confirm
from poolterm.ui.logpane import LogPane
from tests.helpers.pilot import LogApp, log_text, wait_for
from tests.helpers.static_console import address, make_static_app

PASSWORD = "hunter2"
JOIN = (f"xe pool-join master-address={address('plot1')} master-username=root "
        f"master-password='{PASSWORD} x'")
SIZE = (100, 30)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


async def test_the_pane_hides_passwords_in_the_lines_the_console_writes_not_in_host_output(tmp_path, open_umask):
    pane = LogPane()
    async with LogApp(pane).run_test(size=(120, 24)):
        pane.append("plot3", "cmd", f"xe pool-join master-password={PASSWORD}")
        pane.append("plot3", "info", f"[exit 0] xe host-list -u root -pw {PASSWORD}")
        pane.append("plot3", "stdout", "name-label ( RW): bypass=on")  # a host's output, shown as sent
        pane.flush()
        text = "\n".join(pane.lines)
        assert PASSWORD not in text
        assert "master-password=<redacted>" in text and "-pw <redacted>" in text
        assert "bypass=on" in text
        fresh, existing = tmp_path / "fresh.log", tmp_path / "existing.log"
        existing.write_text("old\n")
        existing.chmod(0o644)
        assert pane.save(fresh) == pane.save(existing) == 3
    for path in (fresh, existing):
        assert mode(path) == 0o600, oct(mode(path))
        assert PASSWORD not in path.read_text() and "bypass=on" in path.read_text()
    assert "old" not in existing.read_text()


async def test_read_only_refusal_of_a_typed_password_echoes_it_nowhere(tmp_path, open_umask):
    journal_path = tmp_path / "incident.jsonl"
    app = make_static_app("healthy", read_only=True, journal=Journal.open(journal_path))
    async with app.run_test(size=SIZE) as pilot:
        assert app.run_xe("plot3", JOIN) is False
        await pilot.pause()
        shown = log_text(app)
        assert "master-password=<redacted>" in shown and "read-only" in shown
        notes = " ".join(n.message for n in app._notifications)
        assert "read-only" in notes
        saved = tmp_path / "console.log"
        app.log_pane.save(saved)
    everything = shown + notes + journal_path.read_text() + saved.read_text()
    assert PASSWORD not in everything
    assert mode(saved) == 0o600


async def test_the_confirmation_and_the_log_show_the_command_with_its_password_masked(tmp_path):
    journal_path = tmp_path / "incident.jsonl"
    app = make_static_app("healthy", journal=Journal.open(journal_path))
    async with app.run_test(size=SIZE) as pilot:
        assert app.run_xe("plot3", JOIN)
        dialog = await wait_for(pilot, lambda: isinstance(app.screen, Confirm) and app.screen,
                                what="the confirmation")
        body = dialog.body
        assert body.startswith(f"xe pool-join master-address={address('plot1')} master-username=root "
                               "master-password=<redacted>\n")
        await pilot.press("n")
        await wait_for(pilot, lambda: "declined" in log_text(app), what="the declined command in the log")
        shown = log_text(app)
    assert PASSWORD not in body + shown + journal_path.read_text()
