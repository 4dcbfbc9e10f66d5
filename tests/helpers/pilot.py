"""Driving the console under Textual's pilot like an operator: wait, type, read what it shows."""

from __future__ import annotations

import io
import time

from rich.console import Console
from textual.app import App, ComposeResult

from poolterm.ui.dialogs import LinePrompt, OverrideDialog
from poolterm.ui.logpane import LogPane
from poolterm.ui.theme_vars import with_host_defaults


async def wait_for(pilot, predicate, timeout: float = 15.0, what: str = "condition"):
    """Poll ``predicate`` while the app runs; fail with ``what`` if it never holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await pilot.pause(0.05)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def of(messages, kind):
    return [m for m in messages if isinstance(m, kind)]


def plain(widget, width: int = 120) -> str:
    """What a Static shows, as plain text."""
    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


def log_text(app) -> str:
    app.log_pane.flush()
    return "\n".join(app.log_pane.lines)


async def type_line(pilot, text: str):
    await pilot.press(*[{" ": "space"}.get(c, c) for c in text])


async def refused_at_xe_prompt(pilot, app, host: str, line: str) -> OverrideDialog:
    """Select ``host``, type ``line`` at its xe prompt (``e``) and return the guard's refusal dialog."""
    app.select_host(host)
    await wait_for(pilot, lambda: app.selected == host, what=f"{host} selected")
    await pilot.press("e")
    prompt = await wait_for(pilot, lambda: isinstance(app.screen, LinePrompt) and app.screen, what="the xe prompt")
    await type_line(pilot, line)
    await pilot.press("enter")
    await wait_for(pilot, lambda: app.screen is not prompt, what="the prompt to close")
    return await wait_for(pilot, lambda: isinstance(app.screen, OverrideDialog) and app.screen,
                          what="the guard's refusal")


async def palette_run(pilot, app, text: str, expect: str | None = None):
    """Open the palette, type ``text`` and press enter once the top hit reads ``expect`` (default: ``text``)."""
    expect = text if expect is None else expect
    await pilot.press("ctrl+p")
    await type_line(pilot, text)

    def top_hit():
        hits = app.screen.query_one("CommandList")
        return hits.option_count and expect in str(hits.get_option_at_index(0).prompt)

    await wait_for(pilot, top_hit, what=f"{expect!r} as the top palette hit")
    await pilot.press("enter")


async def answer(pilot, app, kind, key: str, contains: str = ""):
    """Wait for a ``kind`` dialog (its text holding ``contains``), press ``key``, wait for it to close."""
    screen = await wait_for(pilot, lambda: isinstance(app.screen, kind) and app.screen, timeout=30,
                            what=f"a {kind.__name__} dialog")
    if contains:
        body = getattr(screen, "body", "") or getattr(screen, "text", "")
        assert contains in body, body
    await pilot.press(key)
    await wait_for(pilot, lambda: app.screen is not screen, what="the dialog to close")


class LogApp(App):
    """A log pane alone in an app, with the colours the console gives it."""

    def __init__(self, pane: LogPane):
        super().__init__()
        self.pane = pane

    def get_css_variables(self) -> dict[str, str]:
        return with_host_defaults(super().get_css_variables())

    def compose(self) -> ComposeResult:
        yield self.pane
