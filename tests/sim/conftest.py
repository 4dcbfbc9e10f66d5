"""Fixtures for the simulator tests: a running simulated pool and SSH clients for it.

Every client here verifies host keys against the simulator's own known_hosts
and logs in with its one client key, as poolterm and an operator would.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import pytest

from poolterm.sim.runtime import Simulator
from poolterm.transport.sshlib import asyncssh

FAST = {"fuse": 0.5, "boot": 0.5}


@pytest.fixture
async def sim(tmp_path: Path):
    async with Simulator(8, tmp_path / "sim", **FAST) as running:
        yield running


@dataclass
class Completed:
    returncode: int
    stdout: str
    stderr: str


def openssh_argv(
    sim: Simulator, host: str, command: str, *extra: str, key: Path | None = None, known_hosts: Path | None = None
) -> list[str]:
    return [
        "ssh",
        "-i", str(key or sim.client_key),
        "-o", f"UserKnownHostsFile={known_hosts or sim.known_hosts}",
        "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "BatchMode=yes",
        "-o", "IdentitiesOnly=yes",
        "-o", "ConnectTimeout=5",
        "-F", "/dev/null",
        *extra,
        "-p", str(sim.port_of(host)),
        f"root@{sim.address_of(host)}",
        command,
    ]


async def openssh(
    sim: Simulator,
    host: str,
    command: str,
    *extra: str,
    stdin: str = "",
    timeout: float = 20,
    key: Path | None = None,
    known_hosts: Path | None = None,
) -> Completed:
    """Run `command` on `host` with the real OpenSSH client."""
    proc = await asyncio.create_subprocess_exec(
        *openssh_argv(sim, host, command, *extra, key=key, known_hosts=known_hosts),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), timeout)
    assert proc.returncode is not None
    return Completed(proc.returncode, out.decode(), err.decode())


def connect(sim: Simulator, host: str, **options) -> "asyncssh.connection._ConnectionContextManager":
    """An asyncssh client connection to `host`, verifying its key from the sim's known_hosts."""
    return asyncssh.connect(
        sim.address_of(host),
        sim.port_of(host),
        username="root",
        client_keys=[str(sim.client_key)],
        known_hosts=str(sim.known_hosts),
        config=None,
        agent_path=None,
        **options,
    )


def host_status(status: dict, name: str) -> dict:
    return next(h for h in status["hosts"] if h["name"] == name)


async def wait_host(sim: Simulator, name: str, timeout: float = 15, **fields) -> dict:
    """Wait until host `name` shows every `field=value` in ground truth."""
    status = await sim.wait_until(
        lambda s: all(host_status(s, name).get(k) == v for k, v in fields.items()), timeout
    )
    return host_status(status, name)
