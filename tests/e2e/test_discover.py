"""`poolterm discover` as an operator runs it, against a simulated pool on one SSH port (as real hosts
all use 22): a subprocess, real SSH, real files, a real terminal where it asks."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from poolterm.config.inventory import load_inventory
from poolterm.errors import SimulatorError
from poolterm.sim.runtime import Simulator
from poolterm.transport.hostkeys import HostKey
from poolterm.transport.sshlib import asyncssh
from tests.helpers.cli import POOLTERM
from tests.helpers.sim import FAST
from tests.helpers.truth import host_field

ENTRY = "127.77.0.12"  # plot2: a slave


def free_port() -> int:
    """A port free on the pool's first address (the others are checked by the simulator's bind)."""
    with socket.socket() as s:
        s.bind(("127.77.0.11", 0))
        return s.getsockname()[1]


@pytest.fixture
async def pool(tmp_path):
    """Eight simulated hosts, every one on the same port of its own address."""
    for _ in range(5):
        sim = Simulator(8, tmp_path / "sim", params=FAST, port=free_port())
        try:
            await sim.start()
            break
        except SimulatorError:  # another test took the port on one of the addresses meanwhile
            continue
    else:
        raise AssertionError("no port free on all eight addresses")
    try:
        yield sim
    finally:
        await sim.stop()


@pytest.fixture
def new(tmp_path) -> Path:
    """The operator's fresh folder: where discover writes hosts.yaml and known_hosts."""
    folder = tmp_path / "new"
    folder.mkdir()
    return folder


def env(tmp_path: Path) -> dict:
    """A HOME of the test's own: no ~/.ssh of whoever runs the tests is read."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {**os.environ, "HOME": str(home)}


def discover_args(sim: Simulator, new: Path, *extra: str, target: str = f"root@{ENTRY}") -> list[str]:
    return ["discover", target, "--port", str(sim.port_of("plot1")), "--identity", str(sim.client_key),
            "-o", str(new / "hosts.yaml"), "--known-hosts", str(new / "known_hosts"), *extra]


async def run(tmp_path: Path, *args: str, timeout: float = 30) -> tuple[int, str, str]:
    """`poolterm ARGS` with stdin closed (not a terminal), as from cron or a pipeline."""
    proc = await asyncio.create_subprocess_exec(*POOLTERM, *args, stdin=subprocess.DEVNULL,
                                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(tmp_path))
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode, out.decode(), err.decode()


def sim_keys(sim: Simulator) -> set[str]:
    """The simulator's own known_hosts lines: one ``[ADDRESS]:PORT ssh-ed25519 KEY`` per host."""
    return set(sim.known_hosts.read_text().splitlines())


async def test_a_slave_leads_to_the_whole_pool_and_check_says_healthy(pool, new, tmp_path):
    status, out, err = await run(tmp_path, *discover_args(pool, new, "--accept-new"))
    assert (status, err) == (0, ""), out
    assert f"root@{ENTRY}:{pool.port_of('plot2')}: a slave; pool.conf names its master: 127.77.0.11" in out
    assert "pool lab: 8 hosts, master plot1 (127.77.0.11)" in out
    inventory = load_inventory(new / "hosts.yaml")
    (lab,) = inventory.pools
    assert [(h.name, h.address, h.port) for h in lab.hosts] == [
        (name, pool.address_of(name), pool.port_of(name)) for name in pool.world.names]
    assert inventory.ssh.identity == pool.client_key and inventory.ssh.known_hosts == new / "known_hosts"
    # every key, once, exactly as the simulator itself records them
    lines = (new / "known_hosts").read_text().splitlines()
    assert len(lines) == 8 and set(lines) == sim_keys(pool)
    # and every fingerprint trusted was printed, as ssh-keygen -l shows it
    for name in pool.world.names:
        shown = f"256 {host_field(pool.status(), name, 'host_key')} [{pool.address_of(name)}]:{pool.port_of(name)}"
        assert f"trusted (--accept-new): {shown} (ED25519)" in out
    assert f"next: poolterm check -i {new / 'hosts.yaml'}" in out

    status, out, err = await run(tmp_path, "check", "-i", str(new / "hosts.yaml"))
    assert status == 0, out + err
    assert "POOL LAB: HEALTHY" in out.upper()


async def test_without_a_terminal_and_without_accept_new_nothing_is_trusted(pool, new, tmp_path):
    status, out, err = await run(tmp_path, *discover_args(pool, new))
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("poolterm: nothing trusted: 1 new host key")
    assert "stdin is not a terminal" in err and "--accept-new" in err
    assert sorted(p.name for p in new.iterdir()) == []


class Terminal:
    """A pseudo-terminal a subprocess runs on, read as the operator reads the screen."""

    def __init__(self):
        self.master, self.slave = os.openpty()
        self.text = ""
        self._more = asyncio.Event()
        asyncio.get_running_loop().add_reader(self.master, self._read)

    def _read(self) -> None:
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: every process holding the other end has gone
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(self.master)
        self.text += data.decode(errors="replace")
        self._more.set()

    async def wait_for(self, text: str, count: int = 1, timeout: float = 20) -> None:
        async with asyncio.timeout(timeout):
            while self.text.count(text) < count:
                self._more.clear()
                await self._more.wait()

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.master)
        os.close(self.master)


@pytest.fixture
async def terminal():
    tty = Terminal()
    yield tty
    tty.close()


async def on_terminal(terminal: Terminal, tmp_path: Path, args: list[str]) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(*POOLTERM, *args, stdin=terminal.slave, stdout=terminal.slave,
                                                stderr=terminal.slave, env=env(tmp_path))
    os.close(terminal.slave)
    return proc


async def test_on_a_terminal_the_operator_types_yes(pool, new, tmp_path, terminal):
    proc = await on_terminal(terminal, tmp_path, discover_args(pool, new))
    prompt = "Type yes to trust, anything else to stop: "
    await terminal.wait_for(prompt)  # the entry host's key first, before any login
    assert f"1 new host key not in {new / 'known_hosts'}" in terminal.text
    assert f"256 {host_field(pool.status(), 'plot2', 'host_key')} [{ENTRY}]:" in terminal.text
    assert not (new / "known_hosts").exists()
    terminal.type("yes")
    await terminal.wait_for(prompt, count=2)  # then the seven other members' keys, all at once
    assert "7 new host keys" in terminal.text and "new, trusted above" in terminal.text
    terminal.type("yes")
    assert await asyncio.wait_for(proc.wait(), 30) == 0, terminal.text
    assert set((new / "known_hosts").read_text().splitlines()) == sim_keys(pool)
    assert len(load_inventory(new / "hosts.yaml").hosts()) == 8


async def test_on_a_terminal_anything_but_yes_trusts_nothing(pool, new, tmp_path, terminal):
    proc = await on_terminal(terminal, tmp_path, discover_args(pool, new))
    await terminal.wait_for("Type yes to trust")
    terminal.type("y")
    assert await asyncio.wait_for(proc.wait(), 30) == 2
    await terminal.wait_for("poolterm: nothing trusted: the answer was not yes")
    assert sorted(p.name for p in new.iterdir()) == []


COMMENTED = """\
# Our pools. prod is the billing pool: ask before touching it.
ssh:
  user: root
  identity: {identity}
  known_hosts: known_hosts   # relative to this file

pools:
  - name: prod     # racks 3 and 4
    hosts:
      - {{name: prod1, address: 192.0.2.11}}
      - {{name: prod2, address: 192.0.2.12}}

# every 2 s: the master budget is fine
probe:
  interval: 2
"""


async def test_a_second_pool_is_added_keeping_the_first_and_every_comment(pool, new, tmp_path):
    text = COMMENTED.format(identity=pool.client_key)
    (new / "hosts.yaml").write_text(text)
    prod1 = HostKey.of(asyncssh.generate_private_key("ssh-ed25519"))
    (new / "known_hosts").write_text(f"192.0.2.11 {prod1.openssh()}\n")
    before = (new / "known_hosts").read_text()
    status, out, err = await run(tmp_path, "discover", f"root@{ENTRY}", "--port", str(pool.port_of("plot1")),
                                 "-o", str(new / "hosts.yaml"), "--accept-new")  # the rest from the file
    assert (status, err) == (0, ""), out
    after = (new / "hosts.yaml").read_text()
    cut = after.index("  # discovered by poolterm discover")
    end = after.index("\n", after.index("{name: plot8")) + 1
    assert after[:cut] + after[end:] == text  # the first pool and every comment, byte for byte
    inventory = load_inventory(new / "hosts.yaml")
    assert [p.name for p in inventory.pools] == ["prod", "lab"]
    assert inventory.host("plot3").port == pool.port_of("plot3")  # the file says 22: each new host says its port
    assert inventory.host("prod1").port == 22
    known = (new / "known_hosts").read_text()
    assert known.startswith(before) and set(known.splitlines()[1:]) == sim_keys(pool)
    assert "added pool lab (8 hosts)" in out

    # the same pool again: refused, nothing written
    status, out, err = await run(tmp_path, "discover", f"root@{ENTRY}", "--port", str(pool.port_of("plot1")),
                                 "-o", str(new / "hosts.yaml"), "--pool", "prod", "--accept-new")
    assert status == 2 and err.count("\n") == 1 and "discover never overwrites a pool" in err
    assert (new / "hosts.yaml").read_text() == after


async def test_a_changed_key_stops_everything_and_is_never_updated(pool, new, tmp_path):
    shutil.copy(pool.known_hosts, new / "known_hosts")  # the operator knew every key
    before = (new / "known_hosts").read_bytes()
    old = HostKey.parse(next(line for line in before.decode().splitlines()
                             if line.startswith(f"[{pool.address_of('plot5')}]:")).split(None, 1)[1])
    status, out, err = await run(tmp_path, "sim", "ctl", "--dir", str(pool.directory), "rekey", "plot5")
    assert status == 0, err
    new_fingerprint = host_field(pool.status(), "plot5", "host_key")
    assert new_fingerprint != old.fingerprint

    status, out, err = await run(tmp_path, *discover_args(pool, new, "--accept-new"))
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("poolterm: host key changed: plot5 ")
    assert old.fingerprint in err and new_fingerprint in err and "Never updated by discover" in err
    assert (new / "known_hosts").read_bytes() == before
    assert not (new / "hosts.yaml").exists()
    row = next(line for line in out.splitlines() if line.startswith("plot5 "))
    assert "CHANGED" in row and new_fingerprint in row


async def test_a_slave_whose_master_is_gone_is_one_line(pool, new, tmp_path):
    shutil.copy(pool.known_hosts, new / "known_hosts")
    await pool.ctl("crash", "plot1")
    status, out, err = await run(tmp_path, *discover_args(pool, new, "--timeout", "1"))
    assert status == 2 and err.count("\n") == 1
    assert "its master 127.77.0.11 did not answer `xe pool-list` within 1 s" in err
    assert not (new / "hosts.yaml").exists()


async def test_a_hostile_name_label_is_refused_and_never_reaches_the_terminal(pool, new, tmp_path):
    shutil.copy(pool.known_hosts, new / "known_hosts")
    await pool.ctl("set-name-label", "plot3", label="plot3\x1b]52;c;cm0gLXJmIH4=\x07")
    status, out, err = await run(tmp_path, *discover_args(pool, new))
    assert status == 2 and err.count("\n") == 1
    assert "name-label is refused as an inventory name" in err and host_field(pool.status(), "plot3", "uuid") in err
    assert "\x1b" not in out + err and "\x07" not in out + err
    assert not (new / "hosts.yaml").exists()


class Bastion(asyncssh.SSHServer):
    """A jump host that forwards anywhere, as a bastion does, and notes where to."""

    def __init__(self, forwarded: list[str]):
        self.forwarded = forwarded

    def connection_requested(self, dest_host: str, dest_port: int, orig_host: str, orig_port: int) -> bool:
        self.forwarded.append(dest_host)
        return True


async def test_through_a_bastion_whose_key_is_trusted_the_same_way(pool, new, tmp_path):
    forwarded: list[str] = []
    key = asyncssh.generate_private_key("ssh-ed25519")
    server = await asyncssh.listen("127.0.0.1", 0, server_factory=lambda: Bastion(forwarded), server_host_keys=[key],
                                   authorized_client_keys=f"{pool.client_key}.pub")
    try:
        jump = f"ops@127.0.0.1:{server.get_port()}"
        status, out, err = await run(tmp_path, *discover_args(pool, new, "--jump", jump, "--accept-new"))
        assert (status, err) == (0, ""), out
        bastion = HostKey.of(key)
        assert f"trusted (--accept-new): {bastion.shown(f'[127.0.0.1]:{server.get_port()}')}" in out
        lines = (new / "known_hosts").read_text().splitlines()
        assert set(lines) == sim_keys(pool) | {f"[127.0.0.1]:{server.get_port()} {bastion.openssh()}"}
        # every host was reached through the bastion: the entry's key and login, and each member's key
        assert sorted(forwarded) == sorted([ENTRY, ENTRY, *(pool.address_of(n) for n in pool.world.names)])
        assert str(load_inventory(new / "hosts.yaml").ssh.jump) == jump
        status, out, err = await run(tmp_path, "check", "-i", str(new / "hosts.yaml"))
        assert status == 0, out + err
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("target, message", [
    ("root@@127.77.0.12", "poolterm: discover: bad USER@HOST 'root@@127.77.0.12': expected [user@]host[:port]"),
    ("root@bad_host!", "poolterm: discover: bad USER@HOST 'root@bad_host!'"),
    ("root@127.77.0.99", "poolterm: 127.77.0.99:"),  # nothing listens there
])
async def test_a_bad_or_unreachable_target_is_one_line(pool, new, tmp_path, target, message):
    status, out, err = await run(tmp_path, *discover_args(pool, new, target=target))
    assert status == 2 and err.count("\n") == 1 and err.startswith(message), err
    assert sorted(p.name for p in new.iterdir()) == []
