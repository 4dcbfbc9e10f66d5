"""The terminal going away: the SSH session carrying the console dropped.

The console must not spin on a dead tty. SIGHUP, or the watch thread polling
the tty, tells the app once; when the console is the whole program it releases
what poolterm holds (probes, the journal's last output, the simulator) and ends
the process without Textual's teardown, which can block for ever on a vanished
terminal (seen: the driver's close() stuck in its output thread).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import TYPE_CHECKING

from poolterm.ui.terminal_watch import TerminalWatch

if TYPE_CHECKING:
    from poolterm.ui.app import PoolApp

#: Seconds between checks that the terminal is still there (an SSH session can vanish).
TTY_POLL = 1.0
#: Exit status after the terminal went away (128 + SIGHUP, as a shell would report it).
HANGUP_STATUS = 128 + signal.SIGHUP
#: Seconds the console has to release what it holds once its terminal is gone.
HANGUP_GRACE = 10.0


class HangUp:
    """Watches the app's terminal and ends the app (or the process) when it is gone."""

    def __init__(self, app: PoolApp):
        self.app = app
        self.gone = False
        self._watch: TerminalWatch | None = None

    def watch(self) -> None:
        """Start watching, on a real terminal only (headless tests have none)."""
        app = self.app
        if app.is_headless or not sys.__stdin__ or not sys.__stdin__.isatty():
            return
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGHUP, self.lost)
        except (ValueError, RuntimeError):  # RuntimeError covers loops without signal support
            pass  # the watch thread still polls the tty
        self._watch = TerminalWatch(sys.__stdin__.fileno(), poll=TTY_POLL,
                                    grace=HANGUP_GRACE if app.own_process else None,
                                    status=HANGUP_STATUS, on_lost=lambda: self._tell(loop))
        self._watch.start()

    def _tell(self, loop: asyncio.AbstractEventLoop) -> None:
        """From the watch thread: hand the loss to the loop."""
        try:
            loop.call_soon_threadsafe(self.lost)
        except RuntimeError:
            pass  # the loop has already ended: there is nothing left to tell

    def lost(self) -> None:
        if self.gone:
            return
        self.gone = True
        if self._watch is not None:
            self._watch.arm()
        if self.app.own_process:
            self.app.run_worker(self._hang_up(), group="hangup", exit_on_error=False, description="hang-up")
        else:
            self.app.exit(HANGUP_STATUS)

    async def _hang_up(self) -> None:
        """Release what poolterm holds and end the process, skipping Textual's teardown."""
        try:
            async with asyncio.timeout(HANGUP_GRACE / 2):
                await self.app.release()
                if self.app.on_hangup is not None:
                    await self.app.on_hangup()
        finally:
            os._exit(HANGUP_STATUS)
