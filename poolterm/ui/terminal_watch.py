"""Notice that the terminal went away (the SSH session carrying it dropped), from a thread.

The check runs beside the event loop, not in it: when the terminal vanishes, the
loop can be the thing that is stuck (Textual's output thread blocks on a tty nobody
reads, and the next frame blocks the loop behind it). The watch tells the app once,
and if the process is still alive ``grace`` seconds later it ends it: an on-call
console must never linger headless on a jump box. Without ``grace`` (the console is
not the whole program) it only tells.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Callable


class TerminalWatch(threading.Thread):
    def __init__(self, fd: int, *, on_lost: Callable[[], None], poll: float, grace: float | None,
                 status: int) -> None:
        super().__init__(daemon=True, name="poolterm-tty-watch")
        self.fd = fd
        self.on_lost = on_lost  # called once, from this thread
        self.poll = poll
        self.grace = grace
        self.status = status
        self._deadline: float | None = None
        self._told = False

    def arm(self) -> None:
        """The terminal is gone (seen here or told by SIGHUP): the process has ``grace`` seconds left."""
        if self._deadline is None and self.grace is not None:
            self._deadline = time.monotonic() + self.grace

    def run(self) -> None:
        while True:
            time.sleep(self.poll)
            if self._deadline is not None:
                if time.monotonic() >= self._deadline:
                    os._exit(self.status)
            elif not self._told and not self._alive():
                self._told = True
                self.arm()
                self.on_lost()

    def _alive(self) -> bool:
        try:
            return os.isatty(self.fd)
        except OSError:
            return False
