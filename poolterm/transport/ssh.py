"""SSH transport: one persistent, verified connection per host, many short channels on it.

Every host gets its own connection, so nothing depends on the master. A
connection is opened once (handshakes are capped, because a storm of them
starves the event loop) and reused for every command. Keepalives notice a
black-holed host within seconds; a channel that does not open within a
second marks the link stalled. Failures back off: briefly for network errors,
for a minute after an authentication failure (dom0 sshd penalises repeated
failures per source address), and never automatically after a host-key
mismatch, which is a security event the operator must look at.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from poolterm.config.inventory import parse_jump
from poolterm.config.ssh_config import check_ssh_config
from poolterm.errors import HostKeyError
from poolterm.model import Reach
from poolterm.transport import hostkeys
from poolterm.transport.hostkeys import KeyCheck
from poolterm.transport.sshlib import asyncssh
from poolterm.untrusted import LineDecoder, escape

MAX_CHANNELS_PER_HOST = 8  # OpenSSH MaxSessions is 10: leave room for an operator's own session
HANDSHAKE_LIMIT = 32
NETWORK_BACKOFF = (0.5, 1.0, 2.0, 3.0)  # short: a host coming back should be seen within seconds
AUTH_BACKOFF = 60.0
CHANNEL_OPEN_TIMEOUT = 1.0
#: A host refusing a channel just after one of ours closed may not have freed its session yet:
#: retry every SESSION_RETRY seconds for SESSION_RELEASE seconds after the close.
SESSION_RELEASE, SESSION_RETRY = 1.0, 0.05
# AES-GCM first: asyncssh builds a new cipher context per packet for chacha20-poly1305,
# which made it most of the probe's client CPU. Every OpenSSH since 6.2 offers AES-GCM.
ENCRYPTION_ALGS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com",
                   "aes128-ctr", "aes256-ctr")
KILL_GRACE = 2.0
MAX_HOPS = 8  # jump hosts in one ProxyJump chain, counting those the hops' own ProxyJump adds
#: Bytes one command may print (stdout and stderr together) before it is stopped: an
#: xe host-list of a 5000-host pool is about 1 MB; a host flooding output must not
#: hold the console's loop or memory.
OUTPUT_LIMIT = 8 << 20
#: Lines of output handed on between two pauses of the loop (a few hundred microseconds of work).
PUMP_SLICE = 200

LineSink = Callable[[str, str], None]  # (stream "stdout"|"stderr", line without newline)


class HostUnavailable(Exception):
    """The host cannot be used right now; ``reach`` says how it failed.

    ``detail`` often quotes the host (a disconnect reason, a channel refusal), so it
    is escaped here, where it enters."""

    def __init__(self, reach: Reach, detail: str):
        detail = escape(detail)
        super().__init__(f"{reach.value}: {detail}")
        self.reach = reach
        self.detail = detail


@dataclass(frozen=True)
class RunResult:
    exit_status: int | None
    signal: str | None = None
    deadline_hit: bool = False  # our local deadline ended it, not the command
    output_cut: bool = False  # it printed more than its output limit and was stopped


class _OutputLimit(Exception):
    """A command printed more than the bytes it was allowed."""


class _Budget:
    """Bytes a command may still print, shared by its stdout and stderr."""

    def __init__(self, limit: int):
        self.left = limit
        self.limit = limit

    def take(self, data: bytes) -> bytes:
        """The part of ``data`` that fits (all of it, until the limit is reached)."""
        if len(data) <= self.left:
            self.left -= len(data)
            return data
        fits, self.left = data[:self.left], 0
        return fits


@dataclass
class _Link:
    spec: object
    conn: asyncssh.SSHClientConnection | None = None
    reach: Reach = Reach.PENDING
    detail: str = ""
    failures: int = 0
    retry_at: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    channels: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_CHANNELS_PER_HOST))
    open: int = 0  # our channels open on the connection now
    freed: asyncio.Event = field(default_factory=asyncio.Event)  # set (and replaced) when one of them closes
    closed_at: float = float("-inf")  # when one of them last closed (the loop's clock)


class Connections:
    """The jump box's connections to every host of an inventory."""

    def __init__(self, hosts: Iterable, ssh_settings, *, on_change: Callable[[str], None] | None = None,
                 handshake_limit: int = HANDSHAKE_LIMIT):
        self._links = {spec.name: _Link(spec) for spec in hosts}
        self._settings = ssh_settings
        self._handshakes = asyncio.Semaphore(handshake_limit)
        self._known_hosts: dict[Path, asyncssh.SSHKnownHosts] = {}
        self._jumps: dict[tuple, asyncssh.SSHClientConnection] = {}
        self._jump_locks: dict[tuple, asyncio.Lock] = {}
        # Host keys are verified on every hop: an SSH config that says otherwise is an error
        # (SshConfigError, FILE:LINE), before any connection.
        check_ssh_config(self._ssh_config_path())
        self._on_change = on_change or (lambda name: None)
        self._closed = False

    # ---- state -----------------------------------------------------------------
    def reach(self, name: str) -> tuple[Reach, str]:
        link = self._links[name]
        return link.reach, link.detail

    def reset(self, name: str) -> None:
        """Operator asked to try again now (also after a host-key problem was fixed)."""
        link = self._links[name]
        link.failures, link.retry_at = 0, 0.0
        self._known_hosts.clear()

    def _set(self, link: _Link, reach: Reach, detail: str = "") -> None:
        changed = (link.reach, link.detail) != (reach, detail)
        link.reach, link.detail = reach, detail
        if changed:
            self._on_change(link.spec.name)

    # ---- connecting --------------------------------------------------------------
    async def connection(self, name: str) -> asyncssh.SSHClientConnection:
        link = self._links[name]
        if link.conn is not None:
            return link.conn
        async with link.lock:
            if link.conn is not None:
                return link.conn
            now = asyncio.get_running_loop().time()
            if link.reach in (Reach.HOST_KEY_CHANGED, Reach.HOST_KEY_UNKNOWN) and link.retry_at == float("inf"):
                raise HostUnavailable(link.reach, link.detail)
            if now < link.retry_at:
                raise HostUnavailable(link.reach, link.detail)
            try:
                async with self._handshakes:
                    link.conn = await self._connect(link.spec, link)
            except HostUnavailable as exc:
                self._failed(link, exc.reach, exc.detail)
                raise
            link.failures = 0
            self._set(link, Reach.CONNECTED)
            return link.conn

    def _failed(self, link: _Link, reach: Reach, detail: str) -> None:
        now = asyncio.get_running_loop().time()
        link.failures += 1
        if reach in (Reach.HOST_KEY_CHANGED, Reach.HOST_KEY_UNKNOWN):
            link.retry_at = float("inf")
        elif reach is Reach.AUTH_FAILED:
            link.retry_at = now + AUTH_BACKOFF
        else:
            link.retry_at = now + NETWORK_BACKOFF[min(link.failures, len(NETWORK_BACKOFF)) - 1]
        self._set(link, reach, detail)

    async def _connect(self, spec, link: _Link) -> asyncssh.SSHClientConnection:
        settings = self._settings
        target = spec.ssh_host or spec.address
        known = self._load_known_hosts(spec.known_hosts)
        options = dict(
            port=spec.port,
            username=spec.user,
            known_hosts=known,
            config=self._ssh_config(),
            connect_timeout=settings.connect_timeout,
            login_timeout=settings.connect_timeout,
            keepalive_interval=settings.keepalive_interval,
            keepalive_count_max=settings.keepalive_count_max,
            encryption_algs=ENCRYPTION_ALGS,
            gss_host=None,
        )
        if spec.identity:
            # Offer exactly one key: dom0 sshd allows 3 tries and penalises the source address.
            options.update(client_keys=[str(spec.identity)], agent_path=None)
        # Always an explicit tunnel (None: direct, or the config's ProxyCommand): left to
        # itself, asyncssh would open a config ProxyJump hop with the config's options alone.
        if spec.jump is not None:
            options["tunnel"] = await self._jump(spec.jump, known)
        else:
            options["tunnel"] = await self._route(target, spec.port, spec.user, known)
        try:
            conn, _ = await asyncssh.create_connection(lambda: _Watch(self, link), target, **options)
            return conn
        except asyncssh.HostKeyNotVerifiable as exc:
            raise HostUnavailable(*self._host_key_problem(known, target, spec.port, exc)) from None
        except asyncssh.PermissionDenied as exc:
            raise HostUnavailable(Reach.AUTH_FAILED, exc.reason or "permission denied") from None
        except ConnectionRefusedError:
            raise HostUnavailable(Reach.REFUSED, "connection refused") from None
        except (asyncio.TimeoutError, TimeoutError):
            raise HostUnavailable(Reach.TIMEOUT, f"no answer within {settings.connect_timeout:g} s") from None
        except asyncssh.ConnectionLost as exc:
            raise HostUnavailable(Reach.TIMEOUT, exc.reason or "connection lost") from None
        except socket.gaierror as exc:
            raise HostUnavailable(Reach.UNREACHABLE, f"name does not resolve: {exc.strerror}") from None
        except OSError as exc:
            if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
                raise HostUnavailable(Reach.UNREACHABLE, exc.strerror or "no route") from None
            raise HostUnavailable(Reach.ERROR, exc.strerror or str(exc)) from None
        except (asyncssh.Error, ValueError) as exc:
            raise HostUnavailable(Reach.ERROR, str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None

    def _host_key_problem(self, known, host: str, port: int, exc: Exception) -> tuple[Reach, str]:
        entries = known.match(host, host, port if port != 22 else None) if known is not None else ((),)
        if entries[0]:
            return Reach.HOST_KEY_CHANGED, "host key does not match known_hosts: possible impersonation, not retried"
        return Reach.HOST_KEY_UNKNOWN, f"host key not in known_hosts ({exc.reason or 'untrusted'}); not retried"

    # ---- host keys ---------------------------------------------------------------
    def known_hosts_path(self, name: str) -> Path:
        """The known_hosts file host ``name`` is checked against."""
        path = self._links[name].spec.known_hosts
        return Path(path) if path else Path("~/.ssh/known_hosts").expanduser()

    async def host_keys(self, name: str) -> KeyCheck:
        """What host ``name`` offers now, through the same jumps as its connection, beside what its
        known_hosts records for it. A recorded key's type is asked for first, so that a changed key
        is compared with a key of its own kind."""
        spec = self._links[name].spec
        target = spec.ssh_host or spec.address
        port = spec.port or 22
        path = self.known_hosts_path(name)
        recorded = hostkeys.recorded(path, target, port)
        try:
            known = self._load_known_hosts(spec.known_hosts)
            tunnel = (await self._jump(spec.jump, known) if spec.jump is not None
                      else await self._route(target, spec.port, spec.user, known))
        except HostUnavailable as exc:
            raise HostKeyError(f"{name}: {exc.detail}") from None
        algorithms = tuple(dict.fromkeys(key.algorithm for key in recorded))
        offered = await hostkeys.offered(target, port, tunnel=tunnel, algorithms=algorithms,
                                         timeout=self._settings.connect_timeout)
        return KeyCheck(name, target, port, path, offered, tuple(recorded))

    def _load_known_hosts(self, path: Path | None):
        path = Path(path) if path else Path("~/.ssh/known_hosts").expanduser()
        if path not in self._known_hosts:
            try:
                self._known_hosts[path] = asyncssh.read_known_hosts(str(path))
            except (OSError, ValueError) as exc:
                raise HostUnavailable(Reach.HOST_KEY_UNKNOWN, f"cannot read known_hosts {path}: {exc}") from None
        return self._known_hosts[path]

    def _ssh_config_path(self) -> Path | None:
        config = getattr(self._settings, "config", None)
        return Path(config) if config and Path(config).exists() else None

    def _ssh_config(self):
        path = self._ssh_config_path()
        return [str(path)] if path else None

    async def _route(self, host: str, port: int | None, user: str | None, known,
                     seen: tuple = ()) -> asyncssh.SSHClientConnection | None:
        """The tunnel the SSH config's ``ProxyJump`` gives ``host`` (``None``: no ProxyJump).

        asyncssh would open those hops itself, with the config's options only: its
        known-hosts files (``UserKnownHostsFile none`` checks nothing) and its ``Ciphers``.
        So the hops are read from the config here and opened by :meth:`_jump`, like the
        inventory's ``jump:``, each verified against ``known`` with :data:`ENCRYPTION_ALGS`.
        """
        if self._ssh_config() is None:
            return None
        hops = self._config_for(host, port, user, known).tunnel
        if not isinstance(hops, str):
            return None
        tunnel = None
        for hop in hops.split(","):
            try:
                jump = parse_jump(hop.strip())
            except ValueError as exc:
                raise HostUnavailable(Reach.ERROR, f"ProxyJump {hop.strip()!r} in the SSH config: {exc}") from None
            tunnel = await self._jump(jump, known, via=tunnel, seen=seen)
        return tunnel

    def _config_for(self, host: str, port: int | None, user: str | None, known):
        """What the SSH config says for ``host`` (its ``.host``, ``.port``, ``.tunnel``...), no key loaded;
        ``known`` is the known_hosts every hop is checked against (read, never connected with, here)."""
        try:
            return asyncssh.SSHClientConnectionOptions(
                config=self._ssh_config(), host=host, port=port or (), username=user or (), known_hosts=known,
                client_keys=None, agent_path=None, gss_host=None)
        except (asyncssh.Error, ValueError, OSError) as exc:
            raise HostUnavailable(Reach.ERROR, f"SSH config: {exc}") from None

    async def _jump(self, jump, known, *, via: asyncssh.SSHClientConnection | None = None,
                    seen: tuple = ()) -> asyncssh.SSHClientConnection:
        """A hop, opened here with poolterm's settings whatever the SSH config says: ``known``
        for its host key and :data:`ENCRYPTION_ALGS`. ``via`` is the hop before it in a
        ProxyJump chain; without one, the config's own ProxyJump for this host is followed
        (``seen``: the hops that led here, to stop a loop)."""
        key = (jump.user, jump.host, jump.port, via)
        conn = self._jumps.get(key)
        if conn is not None and not conn.is_closed():
            return conn
        if via is None:
            if jump in seen or len(seen) >= MAX_HOPS:
                chain = " -> ".join(str(hop) for hop in (*seen, jump))
                raise HostUnavailable(Reach.ERROR, f"ProxyJump loop in the SSH config: {chain}")
            # before taking this hop's lock: a loop is then an error, never two tasks waiting on each other
            via = await self._route(jump.host, jump.port, jump.user, known, (*seen, jump))
        async with self._jump_locks.setdefault(key, asyncio.Lock()):
            conn = self._jumps.get(key)
            if conn is not None and not conn.is_closed():
                return conn
            settings = self._settings
            options = dict(known_hosts=known, config=self._ssh_config(), tunnel=via, encryption_algs=ENCRYPTION_ALGS,
                           connect_timeout=settings.connect_timeout, keepalive_interval=settings.keepalive_interval,
                           keepalive_count_max=settings.keepalive_count_max, gss_host=None)
            if jump.port:
                options["port"] = jump.port
            if jump.user:
                options["username"] = jump.user
            if settings.identity:
                options.update(client_keys=[str(settings.identity)], agent_path=None)
            try:
                conn = await asyncssh.connect(jump.host, **options)
            except asyncssh.HostKeyNotVerifiable as exc:
                resolved = self._config_for(jump.host, jump.port, jump.user, known)  # its HostName and Port
                reach, detail = self._host_key_problem(known, resolved.host, resolved.port, exc)
                raise HostUnavailable(reach, f"jump host {jump}: {detail}") from None
            except (OSError, asyncssh.Error, asyncio.TimeoutError) as exc:
                raise HostUnavailable(Reach.UNREACHABLE, f"jump host {jump.host}: {exc}") from None
            self._jumps[key] = conn
            return conn

    def _lost(self, link: _Link, exc: Exception | None) -> None:
        link.conn = None
        if self._closed:
            return
        reason = _reason(exc) if exc else "closed by the host"
        self._failed(link, Reach.TIMEOUT if "keepalive" in reason.lower() else Reach.REFUSED, reason)
        link.retry_at = 0.0  # try at once: a host that closed us is often just restarting sshd

    # ---- running commands ------------------------------------------------------------
    async def run(self, name: str, command: str, *, deadline: float, on_line: LineSink | None = None,
                  stdin: str | None = None, limit: int = OUTPUT_LIMIT) -> RunResult:
        """Run ``command`` on the host, streaming its lines to ``on_line``.

        ``deadline`` (seconds) is the local guard above the remote ``timeout -k``;
        past it the channel is torn down so a hung host never holds the caller.
        Cancelling the caller's task cancels the remote command too. Lines arrive
        escaped (:mod:`poolterm.untrusted`) and cut at :data:`~poolterm.untrusted.MAX_LINE`;
        past ``limit`` bytes of output the command is stopped and a last line says so.
        """
        link = self._links[name]
        conn = await self.connection(name)
        async with link.channels:
            process = await self._open(link, conn, command, deadline)
            link.open += 1
            try:
                result = await self._drive(process, deadline, on_line or (lambda stream, line: None), stdin, limit)
                if result == RunResult(None) and link.conn is not conn:
                    # The streams ended without a status because the connection did (a reader not
                    # waiting when it dropped sees an end of file, not the error): say so.
                    lost = link.reach not in (Reach.CONNECTED, Reach.PENDING)
                    raise HostUnavailable(link.reach if lost else Reach.REFUSED,
                                          _lost_mid_command(link.detail if lost else "closed by the host"))
                return result
            finally:
                link.open -= 1
                link.closed_at = asyncio.get_running_loop().time()
                link.freed.set()
                link.freed = asyncio.Event()

    async def _open(self, link: _Link, conn: asyncssh.SSHClientConnection, command: str, deadline: float):
        """A channel running ``command``. A host whose sshd allows fewer sessions per connection
        (MaxSessions) than poolterm's own commands hold now refuses it: wait, up to ``deadline``
        seconds, for one of ours to end, rather than take a busy host for a broken one."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + deadline
        while True:
            freed = link.freed  # before asking: a channel closing meanwhile is not missed
            try:
                async with asyncio.timeout(CHANNEL_OPEN_TIMEOUT):  # timeout(), not wait_for(): no task per call
                    return await conn.create_process(command, encoding=None)
            except TimeoutError:
                watch = conn.get_owner()
                if isinstance(watch, _Watch):
                    watch.dropped = True  # not "closed by the host": the link stalled
                conn.abort()
                link.conn = None
                self._failed(link, Reach.STALLED, f"no channel within {CHANNEL_OPEN_TIMEOUT:g} s")
                raise HostUnavailable(Reach.STALLED, link.detail) from None
            except asyncssh.ChannelOpenError as exc:
                # OpenSSH frees a session once it has our answer to its close: one of ours that
                # ended a moment ago may still count there.
                if not link.open and loop.time() - link.closed_at > SESSION_RELEASE:
                    raise HostUnavailable(Reach.ERROR, f"channel refused: {exc.reason}") from None
                held = max(link.open, 1)
            except (asyncssh.Error, OSError) as exc:
                link.conn = None
                raise HostUnavailable(Reach.TIMEOUT, f"connection lost: {exc}") from None
            try:
                async with asyncio.timeout(max(0.0, give_up - loop.time())):
                    if link.open:
                        await freed.wait()
                    else:
                        await asyncio.sleep(SESSION_RETRY)
            except TimeoutError:
                raise HostUnavailable(Reach.STALLED, f"no SSH session free within {deadline:g} s: the host allows "
                                      f"{held} at once (MaxSessions) and poolterm's own commands hold them") from None

    async def _drive(self, process, deadline: float, on_line: LineSink, stdin: str | None,
                     limit: int) -> RunResult:
        if stdin is not None:
            process.stdin.write(stdin.encode())
        process.stdin.write_eof()
        budget = _Budget(limit)
        pumps = [asyncio.ensure_future(_pump(process.stdout, "stdout", on_line, budget)),
                 asyncio.ensure_future(_pump(process.stderr, "stderr", on_line, budget))]
        try:
            async with asyncio.timeout(deadline):
                # Either stream may hit the limit while the other is quiet: stop at the first.
                done, _ = await asyncio.wait(pumps, return_when=asyncio.FIRST_EXCEPTION)
                failures = [pump.exception() for pump in done if pump.exception() is not None]
                if failures:
                    raise failures[0]
                await process.wait_closed()
            signal = process.exit_signal[0] if process.exit_signal else None
            return RunResult(process.exit_status, escape(signal) if signal else None)
        except TimeoutError:
            await _stop(process)
            return RunResult(None, None, deadline_hit=True)
        except _OutputLimit:
            await _stop(process)
            on_line("stderr", f"[poolterm: output cut after {_size(limit)}; the command was stopped]")
            return RunResult(None, None, output_cut=True)
        except asyncio.CancelledError:
            await _stop(process)
            raise
        except (asyncssh.Error, OSError) as exc:
            if process.exit_status is not None:
                return RunResult(process.exit_status)
            # The connection went away under the command: it ended with an error, not a status.
            reason = _reason(exc)
            raise HostUnavailable(Reach.TIMEOUT if "keepalive" in reason.lower() else Reach.REFUSED,
                                  _lost_mid_command(reason)) from None
        finally:
            for pump in pumps:
                pump.cancel()

    async def close(self) -> None:
        self._closed = True
        conns = [link.conn for link in self._links.values() if link.conn] + list(self._jumps.values())
        for conn in conns:
            conn.close()
        await asyncio.gather(*(c.wait_closed() for c in conns), return_exceptions=True)


class _Watch(asyncssh.SSHClient):
    """Tells the pool when a connection dies, so the next probe reconnects at once."""

    def __init__(self, owner: Connections, link: _Link):
        self._owner, self._link = owner, link
        self._ready = False
        self.dropped = False  # poolterm dropped it itself (a stalled channel), and said why

    def auth_completed(self) -> None:
        self._ready = True

    def connection_lost(self, exc: Exception | None) -> None:
        # A handshake that fails is reported by connect() itself, a connection poolterm dropped by the
        # code that dropped it: only report the losses of working links.
        if self._ready and not self.dropped:
            self._owner._lost(self._link, exc)


async def _pump(stream, name: str, on_line: LineSink, budget: _Budget) -> None:
    # Chunks, split here: asyncssh's readline rescans its buffer per line, which cost more
    # than the whole rest of a probe round.
    lines = LineDecoder()
    while chunk := await stream.read(65536):
        fits = budget.take(chunk)
        batch = lines.feed(fits)
        for start in range(0, len(batch), PUMP_SLICE):
            if start:
                # read() returns at once while asyncssh holds data, and each line costs its reader
                # some microseconds: a flood would hold the loop for as long as it lasts. Pause
                # between slices so that keys and frames get their turn.
                await asyncio.sleep(0)
            for line in batch[start:start + PUMP_SLICE]:
                on_line(name, line)
        if len(fits) < len(chunk):
            for line in lines.close():
                on_line(name, line)
            raise _OutputLimit
        await asyncio.sleep(0)
    for line in lines.close():
        on_line(name, line)


def _reason(exc: BaseException) -> str:
    """Why a connection ended, in words: asyncssh's reason, the system's (no errno), or the error."""
    return getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _lost_mid_command(reason: str) -> str:
    return f"connection lost while the command ran ({reason}); whether it finished on the host is not known"


def _size(count: int) -> str:
    return f"{count >> 20} MiB" if count >= 1 << 20 and not count % (1 << 20) else f"{count} bytes"


async def _stop(process) -> None:
    """Ask the remote command to stop (OpenSSH >= 7.9 honours it), then drop the channel."""
    try:
        process.send_signal("TERM")
    except (asyncssh.Error, OSError):
        pass
    process.close()
    try:
        await asyncio.wait_for(process.wait_closed(), KILL_GRACE)
    except (asyncio.TimeoutError, TimeoutError, asyncssh.Error, OSError):
        process.channel.abort()


def raise_nofile_limit() -> None:
    """Many hosts need many sockets; lift the soft limit to the hard one."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):
        pass


