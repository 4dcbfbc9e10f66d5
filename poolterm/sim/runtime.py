"""The simulator at run time: the pure World on the event loop's clock, with its
sshds, its files and its control socket.

:class:`Simulator` is an async context manager with no blocking calls and no
signal handlers, so it can run inside another asyncio program (the tests, and
``poolterm demo`` next to a Textual app).
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import socket
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import yaml

from poolterm.errors import SimulatorError
from poolterm.sim.control import ACTIONS, DATA_ACTIONS, FAULT_ACTIONS, KEY_ACTIONS, PAIR_ACTIONS, ControlServer
from poolterm.sim.server import HostServer
from poolterm.sim.shell import Io, Shell
from poolterm.sim.world import SimError, SimParams, World, XeAsk, XeDone, XeHang, default_addresses
from poolterm.transport.sshlib import asyncssh

log = logging.getLogger(__name__)



def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit: each host needs a listener
    and each SSH connection three descriptors (client socket and a socketpair)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 16)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


# ---------------------------------------------------------------------------
# The world on a clock
# ---------------------------------------------------------------------------


class LiveWorld:
    """Drives a World with the loop's monotonic time and tells waiters when it changes."""

    def __init__(self, world: World):
        self.world = world
        self.listeners: list[Callable[[], None]] = []
        self.processes: dict[str, dict[asyncio.Task, int]] = {}
        self._t0: float | None = None
        self._floor = 0.0
        self._seen = world.version
        self._changed = asyncio.Event()
        self._wake = asyncio.Event()
        self._clock: asyncio.Task | None = None

    def now(self) -> float:
        """Seconds since start on the loop's clock, never going backwards."""
        if self._t0 is None:
            return self._floor
        self._floor = max(self._floor, asyncio.get_running_loop().time() - self._t0)
        return self._floor

    def start(self) -> None:
        self._t0 = asyncio.get_running_loop().time()
        self._clock = asyncio.create_task(self._tick(), name="poolterm-sim-clock")
        self._clock.add_done_callback(_report_clock_death)

    async def stop(self) -> None:
        tasks = [t for procs in self.processes.values() for t in procs]
        if self._clock is not None:
            tasks.append(self._clock)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _tick(self) -> None:
        while True:
            due = self.world.next_due()
            self._wake.clear()
            if due is None:
                await self._wake.wait()
            elif due > self.now():
                try:
                    await asyncio.wait_for(self._wake.wait(), due - self.now())
                except TimeoutError:
                    # asyncio may wake a clock tick early: the timer is due.
                    self._floor = max(self._floor, due)
            self.world.advance(self.now())
            self.settle()

    def act(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call ``world.<method>(*args, now, **kwargs)`` with the clock brought up to date."""
        now = self.now()
        self.world.advance(now)
        try:
            return getattr(self.world, method)(*args, now, **kwargs)
        finally:
            self.settle()

    def settle(self) -> None:
        """After any world call: wake waiters, apply faces, reschedule the clock."""
        if self.world.version == self._seen:
            return
        self._seen = self.world.version
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        for listener in self.listeners:
            listener()
        self._kill_dead_processes()
        self._wake.set()

    async def wait_change(self, version: int) -> None:
        while self.world.version == version:
            await self._changed.wait()

    def spawn(self, name: str, coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
        """Run a process on host `name`: it dies when the host loses power."""
        task = asyncio.create_task(coro)
        procs = self.processes.setdefault(name, {})
        procs[task] = self.world.net_face(name)[1]
        task.add_done_callback(lambda t: procs.pop(t, None))
        return task

    def _kill_dead_processes(self) -> None:
        for name, procs in self.processes.items():
            if not procs:
                continue
            power = self.world.host(name).power
            epoch = self.world.net_face(name)[1]
            for task, born in list(procs.items()):
                if power in ("off", "booting") or born != epoch:
                    task.cancel("host lost power")


def _report_clock_death(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the simulator's clock stopped: %r", task.exception(), exc_info=task.exception())


class HostView:
    """One host as its processes see it (the shell's Machine)."""

    def __init__(self, live: LiveWorld, name: str):
        self.live = live
        self.name = name

    @property
    def version(self) -> int:
        return self.live.world.version

    async def wait_change(self, version: int) -> None:
        await self.live.wait_change(version)

    def read_file(self, path: str) -> str | None:
        return self.live.world.read_file(self.name, path)

    def xe(self, argv: list[str], reply: str | None = None) -> XeDone | XeHang | XeAsk:
        return self.live.act("xe", self.name, argv, reply=reply)

    def xapi_epoch(self) -> int:
        return self.live.world.xapi_epoch(self.name)

    def toolstack_restart(self) -> XeDone:
        return self.live.act("toolstack_restart", self.name)

    def xapi_port(self, address: str) -> str:
        return self.live.act("xapi_port", self.name, address)

    def ping(self, address: str) -> tuple[str, bool] | None:
        return self.live.act("ping", self.name, address)

    def systemctl_xapi(self) -> str:
        return self.live.world.systemctl_xapi(self.name)

    def ha_query_liveset(self) -> tuple[str, int]:
        return self.live.act("ha_query_liveset", self.name)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
        return self.live.spawn(self.name, coro)


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write via a temporary file and rename, so readers never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def known_hosts_line(address: str, port: int, key: asyncssh.SSHKey) -> str:
    where = address if port == 22 else f"[{address}]:{port}"
    algorithm, blob = key.export_public_key("openssh").decode().split()[:2]
    return f"{where} {algorithm} {blob}\n"


# ---------------------------------------------------------------------------
# The simulator
# ---------------------------------------------------------------------------


class Simulator:
    """N simulated hosts behind real SSH servers on loopback.

    ``async with Simulator(8, tmp_path, fuse=0.5, boot=0.5) as sim:`` starts
    everything and writes DIR/hosts.yaml, DIR/known_hosts, DIR/id_ed25519(.pub)
    and DIR/control.sock; leaving the block stops it all. ``ha=True`` starts the
    pool with HA enabled (T is ``params.ha_timeout``). ``pools=K`` splits the hosts
    into K pools (:func:`~poolterm.sim.world.pool_layout`), each with its own master,
    secret and name, all in one World: they share the network, as pools on one LAN do.
    """

    def __init__(
        self,
        n_hosts: int,
        directory: str | os.PathLike[str],
        *,
        fuse: float = 10.0,
        boot: float = 5.0,
        pool_name: str = "lab",
        port: int = 0,
        seed: int = 0,
        params: SimParams | None = None,
        ha: bool = False,
        pools: int = 1,
    ):
        if n_hosts < 1:
            raise SimulatorError("a pool needs at least one host")
        self.directory = Path(directory)
        self.pool_name = pool_name
        self.params = params or SimParams(fuse=fuse, boot=boot)
        self.addresses = default_addresses(n_hosts)
        try:
            self.world = World(n_hosts, params=self.params, pool_name=pool_name, pools=pools,
                               addresses=self.addresses, seed=seed, ha=ha)
        except SimError as exc:
            raise SimulatorError(str(exc)) from None
        self.live = LiveWorld(self.world)
        self.hosts_yaml = self.directory / "hosts.yaml"
        self.known_hosts = self.directory / "known_hosts"
        self.client_key = self.directory / "id_ed25519"
        self.control_path = self.directory / "control.sock"
        self._port = port
        self._servers: dict[str, HostServer] = {}
        self._faces: dict[str, tuple[str, int]] = {}
        self._control: Any = None

    # lifecycle

    async def __aenter__(self) -> "Simulator":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        raise_fd_limit()
        self._prepare_directory()
        client = asyncssh.generate_private_key("ssh-ed25519", comment="poolterm-sim")
        for name, address in zip(self.world.names, self.addresses):
            key = asyncssh.generate_private_key("ssh-ed25519")
            self._servers[name] = HostServer(HostView(self.live, name), address, self._port, key, client)
        try:
            self._start_listening()
            self._write_files(client)
            self._control = ControlServer(self, self.control_path)
            await self._control.start()
        except BaseException:
            await self.stop()
            raise
        self.live.listeners.append(self._apply_faces)
        self.live.start()

    def _prepare_directory(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SimulatorError(f"cannot use {self.directory}: {exc.strerror}") from None
        if not os.access(self.directory, os.W_OK):
            raise SimulatorError(f"cannot write to {self.directory}")
        if self.control_path.exists() or self.control_path.is_symlink():
            if socket_answers(self.control_path):
                raise SimulatorError(f"a simulator is already running in {self.directory}")
            self.control_path.unlink()

    def _start_listening(self) -> None:
        for name, server in self._servers.items():
            face = self.world.net_face(name)
            try:
                server.start(*face)
            except OSError as exc:
                raise SimulatorError(
                    f"cannot listen on {server.address}:{server.port} for {name}: {exc.strerror}"
                ) from None
            self._faces[name] = face

    def _write_files(self, client: asyncssh.SSHKey) -> None:
        write_atomic(self.client_key, client.export_private_key("openssh"), 0o600)
        write_atomic(self.client_key.with_name("id_ed25519.pub"), client.export_public_key("openssh"), 0o644)
        lines = [known_hosts_line(s.address, s.port, s.host_key) for s in self._servers.values()]
        write_atomic(self.known_hosts, "".join(lines).encode(), 0o644)
        write_atomic(self.hosts_yaml, self.inventory_yaml().encode(), 0o644)

    def inventory_yaml(self) -> str:
        doc = {
            # No OpenSSH config: the simulated pool is the same whatever the user's ~/.ssh/config says.
            "ssh": {"user": "root", "identity": self.client_key.name, "known_hosts": self.known_hosts.name,
                    "config": None},
            "probe": {"interval": 2, "timeout": 5},
            "pools": [
                {
                    "name": plan.name,
                    "hosts": [self._inventory_host(name) for name in plan.hosts],
                }
                for plan in self.world.pools
            ],
        }
        header = "# Written by `poolterm sim`: the simulated pool. Paths are relative to this file.\n"
        return header + yaml.safe_dump(doc, sort_keys=False)

    def _inventory_host(self, name: str) -> dict:
        server = self._servers[name]
        return {"name": name, "address": server.address, "port": server.port}

    async def stop(self) -> None:
        if self._control is not None:
            await self._control.close()
            self._control = None
        await asyncio.gather(*(s.close() for s in self._servers.values()), return_exceptions=True)
        await self.live.stop()
        if self._apply_faces in self.live.listeners:
            self.live.listeners.remove(self._apply_faces)
        try:
            self.control_path.unlink()
        except FileNotFoundError:
            pass

    def _apply_faces(self) -> None:
        for name, server in self._servers.items():
            face = self.world.net_face(name)
            if face != self._faces.get(name):
                self._faces[name] = face
                server.apply(*face)

    # queries

    def address_of(self, name: str) -> str:
        return self._server(name).address

    def port_of(self, name: str) -> int:
        return self._server(name).port

    def connections_of(self, name: str) -> int:
        """Open TCP connections to host `name` (for tests)."""
        return self._server(name).connections

    def _server(self, name: str) -> HostServer:
        try:
            return self._servers[name]
        except KeyError:
            raise SimError(f"unknown host {name!r}") from None

    def status(self) -> dict:
        """The World's ground truth, plus each host's SSH host key fingerprint (``host_key``: the
        keys belong to the sshds, not to the World) and the pool it was built in (``pool``, one of
        the top-level ``pools``; what it believes now is its ``pool_conf``)."""
        status = self.live.act("status")
        built_in = self.world.built_in
        for host in status["hosts"]:
            host["host_key"] = self._servers[host["name"]].fingerprint
            host["pool"] = built_in[host["name"]]
        return status

    # driving

    async def ctl(self, action: str, host: str | None = None, **data: object) -> dict:
        """Apply a fault, plant data (or read status); raises SimError for a bad request."""
        if action == "status":
            return self.status()
        if action in DATA_ACTIONS:
            return self._plant(action, host, data)
        if action in PAIR_ACTIONS:
            return self._pair(action, host, data.get("peer"))
        if action in KEY_ACTIONS:
            return self.rekey(host)
        method = FAULT_ACTIONS.get(action)
        if method is None:
            raise SimError(f"unknown action {action!r} (expected one of: {', '.join(ACTIONS)})")
        if not host:
            raise SimError(f"{action} needs a host name")
        self._server(host)
        self.live.act(method, host)
        return {"ok": True, "action": action, "host": host}

    def rekey(self, host: str | None) -> dict:
        """Give ``host`` a new ed25519 host key, as a reinstall does. DIR/known_hosts keeps the old
        one, as an operator's known_hosts would: the next connection sees a changed key."""
        if not host:
            raise SimError("rekey needs a host name")
        server = self._server(host)
        server.rekey(asyncssh.generate_private_key("ssh-ed25519"))
        return {"ok": True, "action": "rekey", "host": host, "host_key": server.fingerprint}

    def _pair(self, action: str, host: str | None, peer: object) -> dict:
        if not host or not peer:
            raise SimError(f"{action} needs a host and a peer")
        self._server(host)
        if not isinstance(peer, str) or peer not in self._servers:
            raise SimError(f"unknown peer {peer!r}")
        self.live.act(PAIR_ACTIONS[action], host, peer)
        return {"ok": True, "action": action, "host": host, "peer": peer}

    def _plant(self, action: str, host: str | None, data: dict) -> dict:
        if not host:
            raise SimError(f"{action} needs a host name")
        self._server(host)
        if action == "write-file":
            path, content = data.get("path"), data.get("content")
            if not isinstance(path, str) or not isinstance(content, str):
                raise SimError("write-file needs a path and the file's content")
            self.live.act("plant_file", host, path, content)
        else:
            label = data.get("label")
            if not isinstance(label, str):
                raise SimError("set-name-label needs a label")
            self.live.act("set_name_label", host, label)
        return {"ok": True, "action": action, "host": host}

    async def wait_until(self, predicate: Callable[[dict], bool], timeout: float = 30.0) -> dict:
        """Wait until `predicate(status)` holds; return that status. TimeoutError otherwise."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    version = self.world.version
                    status = self.status()
                    if predicate(status):
                        return status
                    await self.live.wait_change(version)
        except TimeoutError:
            raise TimeoutError(f"simulator condition not met within {timeout} s") from None

    def spawn_shell(self, host: str, command: str, io: Io) -> asyncio.Task:
        """Run `command` in host's shell as a process of that host; the task returns the exit status."""
        self._server(host)
        power = self.world.host(host).power
        if power != "on":
            raise SimError(f"{host} is {power}: nothing runs on it")
        view = HostView(self.live, host)
        return view.spawn(Shell(view, io).run(command))


def socket_answers(path: Path) -> bool:
    """Something listens on the Unix socket at ``path`` (a simulator's control socket)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.connect(str(path))
        except OSError:
            return False
        return True
