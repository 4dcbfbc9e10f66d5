"""Make asyncssh's disabled logging cost nothing.

asyncssh turns every log argument into text before the logging module asks
whether the level is enabled, and names and sizes every packet before it asks
whether packet logging (debug level 3) is on. At 1000 hosts that was about a
tenth of the probe loop's CPU, spent on messages nobody sees. Both checks are
moved first; enabled logging is unchanged (``asyncssh.set_debug_level(3)`` and
a DEBUG logger still show every packet).
"""

from __future__ import annotations

from asyncssh.logging import SSHLogger
from asyncssh.packet import SSHPacketLogger

_log = SSHLogger.log
_log_packet = SSHPacketLogger._log_packet


def _log_if_enabled(self, level, msg, *args, **kwargs):
    if self.isEnabledFor(level):
        _log(self, level, msg, *args, **kwargs)


def _log_packet_if_enabled(self, *args, **kwargs):
    if SSHLogger._debug_level >= 3:
        _log_packet(self, *args, **kwargs)


def install() -> None:
    SSHLogger.log = _log_if_enabled
    SSHPacketLogger._log_packet = _log_packet_if_enabled
