"""Stop asyncssh from sending an empty SSH_MSG_IGNORE before every packet.

asyncssh precedes each packet with an empty IGNORE message, a countermeasure
against plaintext-recovery attacks on CBC ciphers. poolterm and its simulator
negotiate only AES-GCM, ChaCha20-Poly1305 and AES-CTR (no CBC), where the extra
message protects nothing and doubles the packets every probe round pays for;
OpenSSH does not send it either. Only the empty padding message is dropped, and
only on a connection whose negotiated cipher is one of those: a connection that
ends up on CBC anyway (another client in the process, a jump host's own config)
keeps asyncssh's countermeasure.

It replaces an asyncssh internal, so :mod:`poolterm.transport.sshlib` installs it
only on the releases in :data:`WRITTEN_FOR`.
"""

from __future__ import annotations

NAME = "padding"
# SSHConnection.send_packet (its signature, the IGNORE it sends, the "send_cipher" it
# records after each key exchange) is the same in each of these releases: checked.
WRITTEN_FOR = ("2.23.0", "2.23.1", "2.24.0", "2.24.1")
# The ciphers for which the empty IGNORE protects nothing (AEAD modes and CTR).
NO_PADDING_NEEDED = frozenset({"aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com",
                               "aes128-ctr", "aes192-ctr", "aes256-ctr"})

_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    from asyncssh.connection import SSHConnection
    from asyncssh.constants import MSG_IGNORE
    from asyncssh.packet import String

    empty = (String(b""),)
    send_packet = SSHConnection.send_packet

    def send_packet_without_padding(self, pkttype, *args, handler=None):
        if pkttype == MSG_IGNORE and args == empty and self._extra.get("send_cipher") in NO_PADDING_NEEDED:
            return
        send_packet(self, pkttype, *args, handler=handler)

    SSHConnection.send_packet = send_packet_without_padding
    _installed = True
