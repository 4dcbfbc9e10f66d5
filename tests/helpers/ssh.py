"""Reaching the simulated hosts over real SSH, outside poolterm: as an operator does.

Every client here verifies host keys against the simulator's own known_hosts
and logs in with its one client key, as poolterm and an operator would.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from poolterm.config.inventory import load_inventory
from poolterm.sim.runtime import Simulator
from poolterm.transport.ssh import Connections
from poolterm.transport.sshlib import asyncssh
from tests.helpers.truth import host_field


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


async def xe(sim: Simulator, host: str, command: str) -> tuple[int | None, str]:
    """A command an operator types on a host over SSH, outside poolterm: (exit status, output)."""
    inventory = load_inventory(sim.hosts_yaml)
    connections = Connections([inventory.host(host)], inventory.ssh)
    lines: list[str] = []
    try:
        result = await connections.run(host, command, deadline=20, on_line=lambda stream, line: lines.append(line))
    finally:
        await connections.close()
    return result.exit_status, "\n".join(lines)


async def promote_by_hand(sim: Simulator, host: str) -> None:
    """`xe pool-emergency-transition-to-master` typed on ``host``; returns once ground truth has it master."""
    code, out = await xe(sim, host, "xe pool-emergency-transition-to-master")
    assert code == 0, out
    await sim.wait_until(lambda s: host_field(s, host, "role") == "master", 10)
