"""The two process-wide asyncssh patches (poolterm/_asyncssh_padding.py, _asyncssh_logging.py)
over a real SSH session with the simulator: what they drop, and what they must keep."""

from __future__ import annotations

import logging

from poolterm.transport.sshlib import asyncssh  # installs the patches, as every poolterm client does
from tests.helpers.ssh import connect


class Unprintable:
    def __str__(self) -> str:
        raise AssertionError("a disabled log message was formatted")


async def test_packet_logging_still_shows_every_packet_and_no_empty_ignore_is_sent(sim, packet_logging):
    async with connect(sim, "plot1") as conn:
        result = await conn.run("echo hello", check=True)
    assert result.stdout == "hello\n"
    messages = [record.getMessage() for record in packet_logging.records]
    sent = [m for m in messages if "] Sent " in m]
    received = [m for m in messages if "] Received " in m]
    assert any("MSG_CHANNEL_DATA" in m for m in received), "packet logging was lost"
    assert any("MSG_CHANNEL_REQUEST" in m for m in sent)
    assert not any("MSG_IGNORE" in m for m in sent), "the empty IGNORE before each packet is back"


async def test_disabled_log_levels_never_format_their_arguments(sim, caplog):
    caplog.set_level(logging.WARNING, logger="asyncssh")
    # asyncssh joins list arguments into text itself, before logging asks about the level
    asyncssh.logging.logger.info("disabled %s", [Unprintable()])
    asyncssh.logging.logger.debug1("disabled %s", [Unprintable()])
    async with connect(sim, "plot1") as conn:
        assert (await conn.run("echo quiet", check=True)).stdout == "quiet\n"
    assert not [r for r in caplog.records if r.levelno < logging.WARNING]

    caplog.set_level(logging.INFO, logger="asyncssh")
    asyncssh.logging.logger.info("enabled %s", ["a", b"b"])
    assert "enabled a,b" in caplog.text


def test_packets_are_not_described_while_packet_logging_is_off():
    class Watched(asyncssh.packet.SSHPacketLogger):
        @property
        def logger(self):
            raise AssertionError("a packet was described for a log nobody reads")

    Watched()._log_packet("Sent", 94, 1, b"payload", "")
