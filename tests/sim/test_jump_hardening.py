"""Every SSH hop is verified and speaks poolterm's ciphers, whatever the SSH config says (issue #11, finding 7).

The jump host is a real asyncssh server on loopback that forwards to the simulated hosts
(the simulator's own sshds refuse forwarding); it records the cipher each client chose. A
host is reached through it either by the inventory's ``jump:`` or by a ``ProxyJump`` in the
SSH config that hosts.yaml names (``ssh.config``). Both routes must check the jump's key
against poolterm's known_hosts and offer only :data:`ENCRYPTION_ALGS`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import yaml

from poolterm.config.inventory import load_inventory
from poolterm.errors import SshConfigError
from poolterm.model import Reach
from poolterm.sim.runtime import Simulator, known_hosts_line
from poolterm.transport.ssh import ENCRYPTION_ALGS, Connections, HostUnavailable
from poolterm.transport.sshlib import asyncssh
from tests.helpers.cli import poolterm

ROUTES = ("inventory jump", "ssh config ProxyJump")


class _JumpServer(asyncssh.SSHServer):
    def __init__(self, ciphers: list[str]):
        self._ciphers = ciphers
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn

    def auth_completed(self) -> None:
        assert self._conn is not None
        self._ciphers.append(self._conn.get_extra_info("recv_cipher"))  # the cipher the client sends with

    def connection_requested(self, dest_host: str, dest_port: int, orig_host: str, orig_port: int) -> bool:
        return True  # forward to the simulated host, as a bastion does


@dataclass
class Jump:
    port: int
    key: asyncssh.SSHKey
    ciphers: list[str]  # one per client that logged in, as the server negotiated it

    def known_line(self) -> str:
        return known_hosts_line("127.0.0.1", self.port, self.key)


@pytest.fixture
async def jump(sim: Simulator):
    key = asyncssh.generate_private_key("ssh-ed25519")
    ciphers: list[str] = []
    server = await asyncssh.listen(
        "127.0.0.1", 0, server_factory=lambda: _JumpServer(ciphers), server_host_keys=[key],
        authorized_client_keys=str(sim.client_key.with_name("id_ed25519.pub")),
        encryption_algs=["aes128-cbc", *ENCRYPTION_ALGS])  # a bastion that still offers CBC
    try:
        yield Jump(server.get_port(), key, ciphers)
    finally:
        server.close()
        await server.wait_closed()


def write_setup(sim: Simulator, jump: Jump, route: str, *, jump_lines: str = "", trusted: bool = True,
                name: str = "jumped") -> Path:
    """An SSH config that names the jump host ``jumpbox`` (``jump_lines`` added to its block, from line 7)
    and an inventory beside the simulator's that reaches every host through it by ``route``; ``trusted``
    puts the jump's key in the known_hosts the inventory names (and the config too). Returns the inventory."""
    known = sim.directory / f"{name}.known_hosts"
    known.write_text(sim.known_hosts.read_text() + (jump.known_line() if trusted else ""))
    config = sim.directory / f"{name}.ssh_config"
    config.write_text(
        "Host jumpbox\n"
        "    HostName 127.0.0.1\n"
        f"    Port {jump.port}\n"
        "    User root\n"
        f"    IdentityFile {sim.client_key}\n"
        "    ProxyJump none\n"
        + jump_lines
        # the same file as poolterm's, unless jump_lines said otherwise (the first value wins)
        + f"    UserKnownHostsFile {known}\n"
        + ("Host *\n    ProxyJump jumpbox\n" if route == "ssh config ProxyJump" else ""))
    doc = yaml.safe_load(sim.hosts_yaml.read_text())
    doc["ssh"].update(config=str(config), known_hosts=str(known), connect_timeout=5)
    if route == "inventory jump":
        doc["ssh"]["jump"] = "jumpbox"
    inventory = sim.directory / f"{name}.yaml"
    inventory.write_text(yaml.safe_dump(doc, sort_keys=False))
    return inventory


async def echo(inventory_path: Path, host: str = "plot1") -> list[str]:
    inventory = load_inventory(inventory_path)
    connections = Connections(inventory.hosts(), inventory.ssh)
    lines: list[str] = []
    try:
        result = await connections.run(host, "echo through", deadline=10, on_line=lambda s, line: lines.append(line))
    finally:
        await connections.close()
    assert result.exit_status == 0, lines
    return lines


@pytest.mark.parametrize("route", ROUTES)
async def test_a_trusted_jump_carries_the_connection(sim, jump, route):
    # the control for the refusals below: with the jump's key known, the host is reached, through the jump
    assert await echo(write_setup(sim, jump, route)) == ["through"]
    assert jump.ciphers, "the connection did not go through the jump host"


@pytest.mark.parametrize("route", ROUTES)
async def test_the_jump_key_is_checked_against_poolterms_known_hosts_not_the_configs(sim, jump, route):
    # The SSH config's own known-hosts file trusts the jump; poolterm's does not. Before, asyncssh
    # opened a config ProxyJump hop with the config's options alone, and connected.
    other = sim.directory / "config_known_hosts"
    other.write_text(jump.known_line())
    inventory = write_setup(sim, jump, route, jump_lines=f"    UserKnownHostsFile {other}\n", trusted=False)
    with pytest.raises(HostUnavailable) as caught:
        await echo(inventory)
    assert caught.value.reach is Reach.HOST_KEY_UNKNOWN, caught.value
    assert "jump host" in caught.value.detail
    assert jump.ciphers == [], "a client logged in to a jump host whose key it could not verify"


@pytest.mark.parametrize("route", ROUTES)
async def test_the_jump_negotiates_poolterms_ciphers_whatever_the_config_asks(sim, jump, route):
    inventory = write_setup(sim, jump, route, jump_lines="    Ciphers aes128-cbc\n")
    assert await echo(inventory) == ["through"]
    assert jump.ciphers and set(jump.ciphers) <= set(ENCRYPTION_ALGS), jump.ciphers


@pytest.mark.parametrize("route", ROUTES)
async def test_a_changed_jump_key_is_reported_as_changed(sim, jump, route):
    inventory = write_setup(sim, jump, route, trusted=False)
    impostor = asyncssh.generate_private_key("ssh-ed25519")
    known = Path(yaml.safe_load(inventory.read_text())["ssh"]["known_hosts"])
    known.write_text(known.read_text() + known_hosts_line("127.0.0.1", jump.port, impostor))
    with pytest.raises(HostUnavailable) as caught:
        await echo(inventory)
    assert caught.value.reach is Reach.HOST_KEY_CHANGED, caught.value
    assert caught.value.detail.startswith("jump host jumpbox: host key does not match known_hosts")


async def test_every_hop_of_a_proxyjump_chain_is_opened_with_poolterms_settings(sim, jump):
    # jumpbox, then the same bastion again under another name, reached through the first
    inventory = write_setup(sim, jump, "inventory jump", jump_lines="    Ciphers aes128-cbc\n")
    config = Path(yaml.safe_load(inventory.read_text())["ssh"]["config"])
    config.write_text(config.read_text() + f"Host again\n    HostName 127.0.0.1\n    Port {jump.port}\n"
                                           "    Ciphers aes128-cbc\nHost 127.*\n    ProxyJump jumpbox,root@again\n")
    doc = yaml.safe_load(inventory.read_text())
    del doc["ssh"]["jump"]
    inventory.write_text(yaml.safe_dump(doc))
    assert await echo(inventory) == ["through"]
    assert len(jump.ciphers) == 2 and set(jump.ciphers) <= set(ENCRYPTION_ALGS), jump.ciphers


async def test_a_proxyjump_loop_is_an_error_not_a_hang(sim, jump):
    inventory = write_setup(sim, jump, "inventory jump")
    config = Path(yaml.safe_load(inventory.read_text())["ssh"]["config"])
    config.write_text("Host ping\n    ProxyJump pong\nHost pong\n    ProxyJump ping\n" + config.read_text())
    doc = yaml.safe_load(inventory.read_text())
    doc["ssh"]["jump"] = "ping"
    inventory.write_text(yaml.safe_dump(doc))
    with pytest.raises(HostUnavailable) as caught:
        await echo(inventory)
    assert (caught.value.reach, caught.value.detail) == (Reach.ERROR, "ProxyJump loop in the SSH config: "
                                                                      "ping -> pong -> ping")
    assert jump.ciphers == []


async def test_a_config_that_turns_off_host_key_checks_is_refused_before_any_connection(sim, jump):
    # Before, `UserKnownHostsFile none` made asyncssh open the ProxyJump hop without checking its key.
    inventory_path = write_setup(sim, jump, "ssh config ProxyJump", jump_lines="    UserKnownHostsFile none\n",
                                 trusted=False)
    config = inventory_path.parent / yaml.safe_load(inventory_path.read_text())["ssh"]["config"]
    # Refused where hosts.yaml is read, so every front end stops before connecting ...
    with pytest.raises(SshConfigError) as caught:
        load_inventory(inventory_path)
    assert str(caught.value) == (f"{config}:7: UserKnownHostsFile none turns off host-key checks; "
                                 "poolterm always verifies host keys")
    # ... and by the connections themselves, whoever built their settings.
    inventory = load_inventory(write_setup(sim, jump, "ssh config ProxyJump", trusted=False, name="clean"))
    with pytest.raises(SshConfigError):
        Connections(inventory.hosts(), replace(inventory.ssh, config=config))
    assert jump.ciphers == []


@pytest.mark.parametrize(("line", "shown"), [
    ("StrictHostKeyChecking=no", "StrictHostKeyChecking no turns off host-key checks"),
    ("userknownhostsfile /dev/null", "UserKnownHostsFile /dev/null turns off host-key checks"),
])
async def test_check_reports_a_weakening_line_as_one_error_and_fails(sim, jump, line, shown):
    inventory = write_setup(sim, jump, "inventory jump", jump_lines=f"    {line}\n")
    code, out, err = await poolterm("check", "-i", str(inventory))
    config = yaml.safe_load(inventory.read_text())["ssh"]["config"]
    assert (code, out) == (2, "")
    assert err == f"poolterm: {config}:7: {shown}; poolterm always verifies host keys\n"
    assert jump.ciphers == []


async def test_the_padding_patch_keeps_the_empty_ignore_on_a_cbc_connection(sim, jump, packet_logging):
    # The IGNORE before each packet protects CBC; poolterm's patch may drop it only where no CBC is used.
    known = sim.directory / "jump_known_hosts"
    known.write_text(jump.known_line())
    async with asyncssh.connect("127.0.0.1", jump.port, username="root", client_keys=[str(sim.client_key)],
                                known_hosts=str(known), config=None, agent_path=None,
                                encryption_algs=["aes128-cbc"]) as conn:
        assert conn.get_extra_info("send_cipher") == "aes128-cbc"
    sent = [r.getMessage() for r in packet_logging.records if "] Sent " in r.getMessage()]
    assert any("MSG_USERAUTH_REQUEST" in m for m in sent), "packet logging saw nothing"
    assert any("MSG_IGNORE" in m for m in sent), "the CBC countermeasure was dropped"
