"""poolterm's client against a real OpenSSH sshd fronting simulated hosts.

One sshd listens on one loopback address per host; `Match LocalAddress`
hands each connection's command to `poolterm sim exec` for that host, so
poolterm meets real OpenSSH (its key exchange, its host key, its
MaxSessions=10 limit) while the pool behind it is the simulator.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from poolterm.cli.check import check
from poolterm.config.inventory import load_inventory
from poolterm.model import Verdict
from poolterm.sim.runtime import Simulator
from poolterm.transport.ssh import MAX_CHANNELS_PER_HOST, Connections
from poolterm.transport.sshlib import asyncssh
from tests.helpers.sim import FAST, simulated_pool
from tests.helpers.sshd import SSHD, free_port, wait_listening

FRONT = "127.78.0.{}"
HOSTS = 3


def write_sshd(directory: Path, sim: Simulator, port: int) -> Path:
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    host_key.write_private_key(directory / "sshd_host_ed25519")
    os.chmod(directory / "sshd_host_ed25519", 0o600)
    (directory / "authorized_keys").write_text(Path(f"{sim.client_key}.pub").read_text())
    public = host_key.export_public_key().decode().strip()
    lines = [
        f"HostKey {directory / 'sshd_host_ed25519'}",
        f"PidFile {directory / 'sshd.pid'}",
        f"AuthorizedKeysFile {directory / 'authorized_keys'}",
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "LogLevel ERROR",
        "MaxSessions 10",
    ]
    known = []
    for i in range(1, HOSTS + 1):
        lines.insert(0, f"ListenAddress {FRONT.format(i)}:{port}")
        known.append(f"[{FRONT.format(i)}]:{port} {public}")
    for i in range(1, HOSTS + 1):
        lines += [f"Match LocalAddress {FRONT.format(i)}",
                  f"    ForceCommand {sys.executable} -m poolterm sim exec --dir {sim.directory} --host plot{i}"]
    (directory / "known_hosts").write_text("\n".join(known) + "\n")
    config = directory / "sshd_config"
    config.write_text("\n".join(lines) + "\n")
    return config


def write_inventory(directory: Path, sim: Simulator, port: int) -> Path:
    hosts = "\n".join(
        f"      - {{name: plot{i}, address: {sim.address_of(f'plot{i}')}, ssh_host: '{FRONT.format(i)}', port: {port}}}"
        for i in range(1, HOSTS + 1))
    path = directory / "hosts.yaml"
    path.write_text(
        f"ssh:\n  identity: {sim.client_key}\n  known_hosts: {directory / 'known_hosts'}\n  config: null\n"
        f"probe:\n  interval: 1\n  timeout: 2\n"
        f"pools:\n  - name: lab\n    hosts:\n{hosts}\n")
    return path


@pytest.fixture
async def fronted(tmp_path):
    assert os.path.exists(SSHD), "openssh-server is not installed (.ci/run installs it)"
    Path("/run/sshd").mkdir(exist_ok=True)
    async with simulated_pool(tmp_path / "pool", HOSTS, params=FAST) as sim:
        front = tmp_path / "sshd"
        front.mkdir()
        port = free_port(FRONT.format(1))
        config = write_sshd(front, sim, port)
        check_config = subprocess.run([SSHD, "-t", "-f", str(config)], capture_output=True, text=True)
        assert check_config.returncode == 0, check_config.stderr
        proc = await asyncio.create_subprocess_exec(SSHD, "-D", "-e", "-f", str(config),
                                                    stderr=subprocess.PIPE)
        try:
            await wait_listening(FRONT.format(1), port)
            yield sim, load_inventory(write_inventory(front, sim, port))
        finally:
            proc.terminate()
            await proc.wait()


async def test_check_through_real_sshd(fronted):
    sim, inventory = fronted
    pool = (await check(inventory, list(inventory.pools), 2)).pools[0]
    assert pool.verdict is Verdict.HEALTHY, pool.summary
    assert pool.master == "plot1"
    assert {h.name for h in pool.hosts if h.reachable} == {"plot1", "plot2", "plot3"}

    await sim.ctl("hang-xapi", "plot1")
    pool = (await check(inventory, list(inventory.pools), 1.5)).pools[0]
    assert pool.verdict is Verdict.MASTER_LOST
    assert pool.findings[0].kind == "master-hung"


async def test_host_key_is_verified_against_real_sshd(fronted):
    sim, inventory = fronted
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
    bad = inventory.path.parent / "wrong_known_hosts"
    spec = inventory.host("plot2")
    bad.write_text(f"[{spec.ssh_host}]:{spec.port} {other}\n")
    connections = Connections([replace(spec, known_hosts=bad)], inventory.ssh)
    try:
        with pytest.raises(Exception) as caught:
            await connections.run("plot2", "echo hi", deadline=5)
        reach, detail = connections.reach("plot2")
        assert reach.value == "host-key-changed", detail
        assert "host-key-changed" in str(caught.value)
    finally:
        await connections.close()


async def test_more_commands_than_maxsessions_share_one_connection(fronted):
    """sshd allows 10 sessions per connection; poolterm caps itself at 8 and queues the rest."""
    sim, inventory = fronted
    spec = inventory.host("plot2")

    # The limit is real: a bare client that opens 11 sessions at once is refused one.
    async with asyncssh.connect(spec.ssh_host, port=spec.port, username="root", client_keys=[str(spec.identity)],
                                known_hosts=str(spec.known_hosts), config=None, agent_path=None,
                                gss_host=None) as conn:
        results = await asyncio.gather(*(conn.create_process("sleep 1") for _ in range(11)),
                                       return_exceptions=True)
        assert any(isinstance(r, asyncssh.ChannelOpenError) for r in results)
        for r in results:
            if not isinstance(r, Exception):
                r.close()

    connections = Connections([spec], inventory.ssh)
    try:
        outputs: list[str] = []

        def stdout_only(stream: str, line: str) -> None:
            # root's login shell may print start-up noise on stderr (CI's read-only pyenv does): not the commands' output
            if stream == "stdout":
                outputs.append(line)

        runs = [connections.run("plot2", f"echo run{i}", deadline=20, on_line=stdout_only)
                for i in range(MAX_CHANNELS_PER_HOST + 4)]
        results = await asyncio.gather(*runs)
        assert all(r.exit_status == 0 for r in results)
        assert sorted(outputs) == sorted(f"run{i}" for i in range(MAX_CHANNELS_PER_HOST + 4))
    finally:
        await connections.close()
