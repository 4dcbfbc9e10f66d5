"""What a command run on a simulated host can come to, and the world's one error."""

from __future__ import annotations

from dataclasses import dataclass

from poolterm.errors import PooltermError


class SimError(PooltermError):
    """A request to the simulator that makes no sense (unknown host, power on a running
    host, ...). ``str(e)`` is one line for the operator."""


@dataclass(frozen=True)
class XeDone:
    stdout: str
    stderr: str
    rc: int


@dataclass(frozen=True)
class XeHang:
    """The command is blocked inside xapi: ask again with the same argv when the world changes."""

    reason: str


@dataclass(frozen=True)
class XeAsk:
    """The command printed ``text`` and waits for one line of stdin (host-forget's 'yes')."""

    text: str
