"""Text that looks like Rich markup is text: a notification quoting a host's name-label or a typed
value shows it as written, and markup that does not parse cannot end the console."""

from __future__ import annotations

from poolterm.actions.journal import Journal
from tests.helpers.static_console import make_static_app

SIZE = (100, 30)


async def test_a_refusal_quoting_markup_is_shown_as_written_and_the_console_lives_on(tmp_path):
    app = make_static_app("healthy", read_only=True, journal=Journal.open(tmp_path / "incident.jsonl"))
    async with app.run_test(size=SIZE) as pilot:
        # the read-only refusal quotes the command as typed
        assert app.run_xe("plot1", "xe host-shutdown 'name-label=[/] [b]evil[/b] [link=http://x]y'") is False
        await pilot.pause()
        notes = [n for n in app._notifications]
        assert notes and any("[/] [b]evil[/b]" in n.message for n in notes)
        assert all(not n.markup for n in notes)
        await pilot.press("question_mark")  # still answering keys
        await pilot.pause()
        assert app.is_running
