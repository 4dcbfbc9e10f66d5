"""Make asyncssh's disabled logging cost nothing.

asyncssh turns every log argument into text before the logging module asks
whether the level is enabled, and names and sizes every packet before it asks
whether packet logging (debug level 3) is on. At 1000 hosts that was about a
tenth of the probe loop's CPU, spent on messages nobody sees. Both checks are
moved first; enabled logging is unchanged (``asyncssh.set_debug_level(3)`` and
a DEBUG logger still show every packet).

It replaces asyncssh internals, so :mod:`poolterm.transport.sshlib` installs it
only on the releases in :data:`WRITTEN_FOR`.
"""

from __future__ import annotations

NAME = "logging"
# asyncssh/logging.py and asyncssh/packet.py are identical in each of these releases: checked.
WRITTEN_FOR = ("2.23.0", "2.23.1", "2.24.0", "2.24.1")

_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    from asyncssh.logging import SSHLogger
    from asyncssh.packet import SSHPacketLogger

    log, log_packet = SSHLogger.log, SSHPacketLogger._log_packet

    def log_if_enabled(self, level, msg, *args, **kwargs):
        if self.isEnabledFor(level):
            log(self, level, msg, *args, **kwargs)

    def log_packet_if_enabled(self, *args, **kwargs):
        if SSHLogger._debug_level >= 3:
            log_packet(self, *args, **kwargs)

    SSHLogger.log = log_if_enabled
    SSHPacketLogger._log_packet = log_packet_if_enabled
    _installed = True
