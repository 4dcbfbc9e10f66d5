"""The console as the playbook runner's :class:`~poolterm.playbooks.runner.Operator`
and :class:`~poolterm.playbooks.runner.SecretSource`.

Every question the runner or the command gate asks becomes a modal dialog; the
answer comes back when the operator closes it. If the run is cancelled while a
dialog is open, the dialog is closed with it (and whatever was opened on top of
it), so no question outlives its run.
"""

from __future__ import annotations

import asyncio
import re
from typing import Callable

from textual.app import App
from textual.screen import Screen

from poolterm.actions.gate import ConfirmRequest, OverrideRequest
from poolterm.playbooks.engine import AskOperator
from poolterm.ui.dialogs import Confirm, ManualStep, OverrideDialog, PasswordPrompt


class ConsoleOperator:
    """Confirmations, overrides, manual steps and passwords as dialogs on ``app``.

    ``simulate``, in the demo, opens the simulator's actions for the given hosts.
    """

    def __init__(self, app: App, *, on_change: Callable[[], None] = lambda: None,
                 simulate: Callable[[list[str]], None] | None = None) -> None:
        self.app = app
        self.on_change = on_change  # a dialog opened or closed: teaching mode names the next key
        self.simulate = simulate

    async def confirm(self, request: ConfirmRequest) -> bool:
        body = f"{request.command}\n\n{request.text}"
        return bool(await self._ask(Confirm(f"Run this on {request.host}?", body=body)))

    async def override(self, request: OverrideRequest) -> tuple[str, str] | None:
        refusal = request.refusal
        return await self._ask(OverrideDialog(request.command, request.host, refusal.reason, refusal.instead,
                                              refusal.host))

    async def manual(self, request: AskOperator) -> bool:
        simulate = None
        hosts = self._named_hosts(request.title)
        if self.simulate is not None and hosts:
            def simulate() -> None:
                self.simulate(hosts)
        return bool(await self._ask(ManualStep(request.title, request.text, request.expect, simulate=simulate)))

    async def password(self, host: str, address: str) -> str | None:
        where = f"{host} ({address})" if address else host
        purpose = (f"The step needs the root password of {where}. poolterm sends it to the host that runs "
                   "the command and nowhere else: it is never shown, journaled or logged.")
        return await self._ask(PasswordPrompt(f"Root password of {host}", purpose))

    def _named_hosts(self, text: str) -> list[str]:
        """The inventory's hosts a step's title names, in inventory order."""
        words = {word.strip(".") for word in re.findall(r"[\w.-]+", text)}
        return [name for name in self.app.source.host_names if name in words]

    async def _ask(self, screen: Screen):
        # No ids on these screens: the next question can be pushed while the answered
        # one is still being removed, and two screens may not share an id.
        future: asyncio.Future = asyncio.get_running_loop().create_future()

        def answered(value) -> None:
            if not future.done():
                future.set_result(value)

        try:
            await self.app.push_screen(screen, answered)
            self.on_change()
            return await future
        except asyncio.CancelledError:
            if screen in self.app.screen_stack:
                while self.app.screen is not screen:
                    self.app.pop_screen()
                screen.dismiss(None)
            raise
        finally:
            self.on_change()
