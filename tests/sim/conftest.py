"""Fixtures for the simulator tests: the field notes' incidents on quick timers.

The simulated pool of eight hosts is the `sim` fixture of tests/conftest.py; the SSH
clients for it are in tests.helpers.ssh.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from poolterm.transport.sshlib import asyncssh
from tests.helpers.sim import QUICK, simulated_pool


@pytest.fixture
async def quick_sim(tmp_path: Path):
    """Eight hosts on short timers, so incidents take seconds; the behaviour is the same as at full length."""
    async with simulated_pool(tmp_path / "sim", 8, params=QUICK) as sim:
        yield sim


@pytest.fixture
def packet_logging(caplog):
    """asyncssh's packet log (debug level 3) captured, for tests that read what went over the wire."""
    asyncssh.set_debug_level(3)
    caplog.set_level(logging.DEBUG, logger="asyncssh")
    try:
        yield caplog
    finally:
        asyncssh.set_debug_level(1)
