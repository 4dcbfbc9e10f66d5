"""Stop asyncssh from sending an empty SSH_MSG_IGNORE before every packet.

asyncssh precedes each packet with an empty IGNORE message, a countermeasure
against plaintext-recovery attacks on CBC ciphers. poolterm and its simulator
negotiate only AES-GCM, ChaCha20-Poly1305 and AES-CTR (no CBC), where the extra
message protects nothing and doubles the packets every probe round pays for;
OpenSSH does not send it either. Only the empty padding message is dropped.
"""

from __future__ import annotations

from asyncssh.connection import SSHConnection
from asyncssh.constants import MSG_IGNORE
from asyncssh.packet import String

_EMPTY = String(b"")
_send_packet = SSHConnection.send_packet


def _send_packet_without_padding(self, pkttype, *args, handler=None):
    if pkttype == MSG_IGNORE and args == (_EMPTY,):
        return
    _send_packet(self, pkttype, *args, handler=handler)


def install() -> None:
    SSHConnection.send_packet = _send_packet_without_padding
