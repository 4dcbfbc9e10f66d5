"""What the fault matrix puts between poolterm and a host: loopback TCP services a test owns.

- :class:`SilentPort`: accepts TCP and never says a word (an sshd that hangs before its banner)
- :class:`Relay`: forwards each connection to a real SSH server, counts connections, and can
  drop every one of them or send the next ones elsewhere (a host reinstalled behind its address)
- :class:`Bastion`: a jump host (an asyncssh server that forwards to the simulated hosts) that can
  be reinstalled: every connection dropped, back on the same port with a new host key
- :class:`NoSuchName`: a DNS server that answers every question "no such name" (NXDOMAIN), for a
  resolver pointed at it: a lookup that fails on this machine, with nothing sent anywhere else
- :func:`derived_inventory`: the simulator's hosts.yaml with some hosts changed, written beside it

Everything listens on 127.91.0.0/16 (the simulator uses 127.77.0.0/16, the real-sshd tests
127.78.0.0/16), port 0: nothing leaves the machine and nothing collides.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from pathlib import Path

import yaml

from poolterm.sim.runtime import Simulator, known_hosts_line
from poolterm.transport.sshlib import asyncssh

FAULT_NET = "127.91.0.{}"


class _Service:
    """An asyncio TCP server on a loopback address, counting the connections it accepted."""

    def __init__(self, address: str):
        self.address = address
        self.port = 0
        self.accepted = 0
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> "_Service":
        self._server = await asyncio.start_server(self._accept, self.address, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self._writers.add(writer)
        try:
            await self.serve(reader, writer)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    def drop(self) -> int:
        """Reset every open connection (RST, as a host that lost its state does); how many there were."""
        writers = list(self._writers)
        for writer in writers:
            transport = writer.transport
            with contextlib.suppress(OSError):
                transport.abort()
        return len(writers)

    async def stop(self) -> None:
        self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self):
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


class SilentPort(_Service):
    """Accepts TCP and stays silent: no SSH banner, no reset, nothing (an sshd wedged before its banner)."""

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(65536):  # read what the client says, answer nothing, until it hangs up
            pass


class Relay(_Service):
    """Forwards every connection to ``target`` (address, port); :meth:`retarget` sends the next ones elsewhere."""

    def __init__(self, address: str, target: tuple[str, int]):
        super().__init__(address)
        self.target = target

    def retarget(self, target: tuple[str, int]) -> None:
        self.target = target

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers.add(up_writer)
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            self._writers.discard(up_writer)
            up_writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        writer.transport.abort()


class _BastionServer(asyncssh.SSHServer):
    def __init__(self, owner: "Bastion"):
        self._owner = owner
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._owner.connections.add(conn)
        self._owner.handshakes += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self._owner.connections.discard(self._conn)

    def connection_requested(self, dest_host: str, dest_port: int, orig_host: str, orig_port: int) -> bool:
        return True  # forward to the simulated host, as a bastion does


class Bastion:
    """A jump host on ``address`` for ``sim``'s hosts: it logs in the simulator's client key and forwards."""

    def __init__(self, sim: Simulator, address: str):
        self.sim, self.address = sim, address
        self.port = 0
        self.key = asyncssh.generate_private_key("ssh-ed25519")
        self.handshakes = 0  # SSH connections begun to it, over its life
        self.connections: set[asyncssh.SSHServerConnection] = set()
        self._server: asyncssh.SSHAcceptor | None = None

    def known_line(self) -> str:
        return known_hosts_line(self.address, self.port, self.key)

    async def start(self) -> "Bastion":
        self._server = await asyncssh.listen(
            self.address, self.port, server_factory=lambda: _BastionServer(self), server_host_keys=[self.key],
            authorized_client_keys=str(self.sim.client_key.with_name("id_ed25519.pub")))
        self.port = self._server.get_port()
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for conn in list(self.connections):
            conn.abort()
        self.connections.clear()

    async def reinstall(self) -> None:
        """Every connection dropped; back on the same address and port with a new host key."""
        await self.stop()
        self.key = asyncssh.generate_private_key("ssh-ed25519")
        await self.start()

    async def __aenter__(self) -> "Bastion":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


class NoSuchName(asyncio.DatagramProtocol):
    """A DNS server on UDP ``address``:53 answering NXDOMAIN to every query; ``asked`` holds the names."""

    def __init__(self, address: str):
        self.address = address
        self.asked: list[str] = []
        self._transport: asyncio.DatagramTransport | None = None

    async def start(self) -> "NoSuchName":
        await asyncio.get_running_loop().create_datagram_endpoint(lambda: self, local_addr=(self.address, 53))
        return self

    def connection_made(self, transport) -> None:
        self._transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        if len(data) < 12:
            return
        query_id, flags = struct.unpack("!HH", data[:4])
        labels, i = [], 12
        while i < len(data) and data[i]:
            labels.append(data[i + 1:i + 1 + data[i]].decode("ascii", "replace"))
            i += 1 + data[i]
        question = data[12:i + 5]  # the name, its terminating zero, type and class
        self.asked.append(".".join(labels))
        # a response (QR), recursion desired as asked, recursion available, no such name (RCODE 3)
        answer = struct.pack("!HHHHHH", query_id, 0x8000 | (flags & 0x0100) | 0x0080 | 3, 1, 0, 0, 0)
        assert self._transport is not None
        self._transport.sendto(answer + question, addr)

    def stop(self) -> None:
        if self._transport is not None:
            self._transport.close()

    async def __aenter__(self) -> "NoSuchName":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        self.stop()


def known_hosts_via(sim: Simulator, name: str, routes: dict[str, tuple[str, int]]) -> Path:
    """The simulator's known_hosts plus, for each ``routes[HOST] = (address, port)``, HOST's own key
    under that address: what an operator writes for a host reached through a forwarder. Written as
    ``DIR/NAME.known_hosts``."""
    lines = sim.known_hosts.read_text().splitlines()
    extra = []
    for host, (address, port) in routes.items():
        where = f"[{sim.address_of(host)}]:{sim.port_of(host)} "
        line = next(line for line in lines if line.startswith(where))
        extra.append(f"[{address}]:{port} " + line.removeprefix(where))
    path = sim.directory / f"{name}.known_hosts"
    path.write_text("\n".join(lines + extra) + "\n")
    return path


def derived_inventory(hosts_yaml: Path, name: str, hosts: dict[str, dict] | None = None, *,
                      ssh: dict | None = None, probe: dict | None = None) -> Path:
    """A simulator's inventory (``hosts_yaml``) with ``hosts[NAME]`` merged into host NAME's entry, ``ssh``
    into its ``ssh:`` block (a one-second connect timeout unless given) and ``probe`` as its ``probe:``;
    written as ``NAME.yaml`` beside it."""
    doc = yaml.safe_load(hosts_yaml.read_text())
    doc["ssh"].update({"connect_timeout": 1, **(ssh or {})})
    if probe is not None:
        doc["probe"] = probe
    for entry in doc["pools"][0]["hosts"]:
        entry.update((hosts or {}).get(entry["name"], {}))
    path = hosts_yaml.parent / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path
