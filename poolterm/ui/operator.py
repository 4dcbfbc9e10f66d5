"""The console as the playbook runner's :class:`~poolterm.playbooks.runner.Operator`.

Every question the runner or the command gate asks becomes a modal dialog; the
answer comes back when the operator closes it. If the run is cancelled while a
dialog is open, the dialog is closed with it, so no question outlives its run.
"""

from __future__ import annotations

import asyncio
from typing import Callable

from textual.app import App
from textual.screen import Screen

from poolterm.playbooks.engine import AskOperator
from poolterm.playbooks.runner import ConfirmRequest, OverrideRequest
from poolterm.ui.dialogs import Confirm, ManualStep, OverrideDialog


class ConsoleOperator:
    """Confirmations, overrides and manual steps as dialogs on ``app``."""

    def __init__(self, app: App, *, on_change: Callable[[], None] = lambda: None) -> None:
        self.app = app
        self.on_change = on_change  # a dialog opened or closed: teaching mode names the next key

    async def confirm(self, request: ConfirmRequest) -> bool:
        body = f"{request.command}\n\n{request.text}"
        return bool(await self._ask(Confirm(f"Run this on {request.host}?", body=body, id="confirm-command")))

    async def override(self, request: OverrideRequest) -> tuple[str, str] | None:
        refusal = request.refusal
        return await self._ask(OverrideDialog(request.command, request.host, refusal.reason, refusal.instead,
                                              refusal.host, id="override"))

    async def manual(self, request: AskOperator) -> bool:
        return bool(await self._ask(ManualStep(request.title, request.text, request.expect, id="manual")))

    async def _ask(self, screen: Screen):
        future: asyncio.Future = asyncio.get_running_loop().create_future()

        def answered(value) -> None:
            if not future.done():
                future.set_result(value)

        try:
            await self.app.push_screen(screen, answered)
            self.on_change()
            return await future
        except asyncio.CancelledError:
            if self.app.screen is screen:
                screen.dismiss(None)
            raise
        finally:
            self.on_change()
