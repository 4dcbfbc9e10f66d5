"""The sshd of each simulated host, and the network between it and the jump box.

Each host listens on its own loopback address.  Between the client's socket and
asyncssh sits a small relay (in memory: one file descriptor per connection) so
that network faults look like network faults to a real client: a black-holed
host accepts nothing and delivers nothing (connections freeze, connects time
out), a host that is down refuses connections, and a host that rebooted resets
connections from before its reboot.

The asyncssh side mimics OpenSSH where poolterm can tell the difference:
public-key login as root only, ``MaxSessions 10`` (the 11th concurrent session
on one connection is refused), a session's slot is held until its command
ends even if the client closed the channel (sshd without a PTY), and a signal
request (TERM, INT, KILL, ...) ends the command (OpenSSH >= 7.9).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from poolterm.actions.journal import redact
from poolterm.sim.shell import Io, Machine, Shell, StreamInput
from poolterm.transport.sshlib import asyncssh

log = logging.getLogger(__name__)

MAX_SESSIONS = 10  # OpenSSH's MaxSessions default
LISTEN_BACKLOG = 64
# Signals whose default action ends a process; others (WINCH, CHLD, ...) are ignored.
FATAL_SIGNALS = frozenset({"HUP", "INT", "QUIT", "ABRT", "KILL", "USR1", "USR2", "PIPE", "ALRM", "TERM"})
PROMPT = "[root@{name} ~]# "
SERVER_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr", "aes256-ctr")

COALESCE_SECONDS = 0.002

class _RedactSecrets(logging.Filter):
    """asyncssh logs every exec request's command line (INFO), and `xe pool-join` carries
    a password in its: the simulator writes no password to any log."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        hidden = redact(message)
        if hidden != message:
            record.msg, record.args = hidden, ()
        return True


_REDACT = _RedactSecrets()


def _hide_secrets_from_asyncssh_log() -> None:
    logger = logging.getLogger("asyncssh")
    if _REDACT not in logger.filters:
        logger.addFilter(_REDACT)


class Host(Machine, Protocol):
    """A :class:`~poolterm.sim.shell.Machine` that also runs the host's processes."""

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task: ...


# ---------------------------------------------------------------------------
# The network: a relay per TCP connection
# ---------------------------------------------------------------------------

#: Bytes asyncssh may write into a frozen link before it is told to stop writing (a socket's
#: transport says so at asyncio's default high-water mark).
HELD_HIGH = 64 * 1024


class _Side(asyncio.Protocol):
    """The client's TCP socket: bytes read here go to asyncssh, through the relay."""

    def __init__(self, relay: "_Relay"):
        self.relay = relay
        self.transport: asyncio.Transport | None = None
        self.write_blocked = False  # our write buffer is full: asyncssh must stop writing
        self.reading = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.relay.update()

    def data_received(self, data: bytes) -> None:
        self.relay.to_ssh(data)

    def eof_received(self) -> bool:
        self.relay.eof_to_ssh()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.relay.close()

    def pause_writing(self) -> None:
        self.write_blocked = True
        self.relay.update()

    def resume_writing(self) -> None:
        self.write_blocked = False
        self.relay.update()


class _Inner(asyncio.Transport):
    """What asyncssh's connection takes for its socket: the relay's other end, in memory.

    In memory rather than a socketpair: each connection then costs the simulator one file
    descriptor (the client's socket) instead of three, which is what lets 5,000 hosts, each
    probed over its own connection, fit under a 20,000-descriptor limit, and each packet
    costs no extra system calls."""

    def __init__(self, relay: "_Relay", extra: dict):
        super().__init__(extra)
        self.relay = relay
        self.closing = False
        self.paused = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self.closing:
            self.relay.to_client(bytes(data))

    def writelines(self, list_of_data) -> None:
        self.write(b"".join(list_of_data))

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.relay.eof_to_client()

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.relay.close()

    def abort(self) -> None:
        self.relay.close()

    def is_reading(self) -> bool:
        return not self.paused

    def pause_reading(self) -> None:
        self.paused = True
        self.relay.update()

    def resume_reading(self) -> None:
        self.paused = False
        self.relay.update()

    def get_write_buffer_size(self) -> int:
        return self.relay.held_size


class _Relay:
    """The client's TCP socket <-> asyncssh's connection, through a link that can fail."""

    def __init__(self, epoch: int, frozen: bool, on_close: Callable[["_Relay"], None], sock: socket.socket,
                 sockname: tuple[str, int]):
        self.epoch = epoch
        self.on_close = on_close
        self.frozen = frozen
        self.sock = sock
        self.client = _Side(self)
        self.inner = _Inner(self, {"sockname": sockname, "peername": _peername(sock)})
        self.ssh: asyncio.Protocol | None = None
        self.held: list[bytes] = []  # what asyncssh wrote that the link has not carried yet
        self.held_size = 0
        self.eof_held = False
        self.ssh_paused = False
        self.closed = False

    def attach(self, ssh: asyncio.Protocol) -> None:
        """asyncssh's connection takes the inner end (it writes its version string at once: held)."""
        self.ssh = ssh
        ssh.connection_made(self.inner)

    # asyncssh -> client

    def to_client(self, data: bytes) -> None:
        if self._carrying() and not self.held:
            assert self.client.transport is not None
            self.client.transport.write(data)
            return
        self.held.append(data)
        self.held_size += len(data)
        self._flow()

    def eof_to_client(self) -> None:
        if self._carrying() and not self.held:
            self._client_eof()
        else:
            self.eof_held = True

    def _client_eof(self) -> None:
        transport = self.client.transport
        if transport is not None and transport.can_write_eof() and not transport.is_closing():
            transport.write_eof()

    def _carrying(self) -> bool:
        return not self.frozen and self.client.transport is not None and not self.closed

    # client -> asyncssh

    def to_ssh(self, data: bytes) -> None:
        if self.ssh is not None and not self.closed:
            self.ssh.data_received(data)

    def eof_to_ssh(self) -> None:
        if self.ssh is not None and not self.closed and not self.ssh.eof_received():
            self.close()  # what a socket transport does when its protocol does not keep the half-open end

    # the link

    def update(self) -> None:
        """Read from the client only while the link is alive and asyncssh takes input; carry
        what was held once the link is back."""
        transport = self.client.transport
        if transport is None or transport.is_closing():
            return
        want = not self.frozen and not self.inner.paused
        if want != self.client.reading:
            if want:
                transport.resume_reading()
            else:
                transport.pause_reading()
            self.client.reading = want
        if self._carrying() and (self.held or self.eof_held):
            held, self.held, self.held_size = self.held, [], 0
            transport.write(b"".join(held))
            if self.eof_held:
                self.eof_held = False
                self._client_eof()
        self._flow()

    def _flow(self) -> None:
        """asyncssh stops writing while the client's buffer is full or a dead link holds too much."""
        paused = self.client.write_blocked or self.held_size > HELD_HIGH
        if self.ssh is None or paused == self.ssh_paused or self.closed:
            return
        self.ssh_paused = paused
        if paused:
            self.ssh.pause_writing()
        else:
            self.ssh.resume_writing()

    def freeze(self) -> None:
        # A dead link: nothing is read from the client and nothing reaches it; asyncssh's
        # writes wait (and make it stop writing, as full kernel buffers would); nothing is dropped.
        self.frozen = True
        self.update()

    def resume(self) -> None:
        self.frozen = False
        self.update()

    def close(self) -> None:
        if self.closed:
            return
        self._end()
        if self.client.transport is not None:
            self.client.transport.close()
        else:
            self.sock.close()

    def reset(self) -> None:
        """Drop the connection with a TCP RST, as a rebooted or stopped host's kernel does."""
        if self.closed:
            return
        self._end()
        transport = self.client.transport
        if transport is None:
            self.sock.close()
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()

    def _end(self) -> None:
        """The connection is over for asyncssh too: told on the next turn of the loop, as a
        socket transport tells its protocol."""
        self.closed = True
        self.inner.closing = True
        self.held, self.held_size = [], 0
        self.on_close(self)
        if self.ssh is not None:
            asyncio.get_running_loop().call_soon(self.ssh.connection_lost, None)


def _peername(sock: socket.socket) -> tuple[str, int] | None:
    try:
        return sock.getpeername()
    except OSError:
        return None


class _Link:
    """The tunnel asyncssh's `connect_reverse` opens its connection over: the relay.

    asyncssh accepts any object with this `create_connection` as a tunnel; `connect_reverse`
    runs the server side of SSH over it, as `run_server` does over a socket."""

    def __init__(self, relay: _Relay):
        self.relay = relay

    async def create_connection(self, session_factory: Callable[[], asyncio.Protocol], remote_host: str,
                                remote_port: int) -> tuple[asyncio.Transport, asyncio.Protocol]:
        ssh = session_factory()
        self.relay.attach(ssh)
        # The client's socket only now: its first bytes must find asyncssh listening.
        await asyncio.get_running_loop().connect_accepted_socket(lambda: self.relay.client, self.relay.sock)
        return self.relay.inner, ssh


# ---------------------------------------------------------------------------
# The sshd
# ---------------------------------------------------------------------------


class _Session(asyncssh.SSHServerSession):
    """One session channel: a command (exec) or an interactive shell."""

    def __init__(self, sshd: "_SSHD"):
        self.sshd = sshd
        self.chan: asyncssh.SSHServerChannel | None = None
        self.command: str | None = None
        self.pty = False
        self.stdin = StreamInput()
        self.task: asyncio.Task | None = None
        self.signal: str | None = None
        self.open = True
        self.released = False
        self.pending: list[tuple[bool, str]] = []
        self.flush_scheduled = False

    # asyncssh callbacks

    def connection_made(self, chan: asyncssh.SSHServerChannel) -> None:
        self.chan = chan

    def pty_requested(self, term_type: str, term_size: Any, term_modes: Any) -> bool:
        self.pty = True
        return True

    def shell_requested(self) -> bool:
        return True

    def exec_requested(self, command: str) -> bool:
        self.command = command
        return True

    def subsystem_requested(self, subsystem: str) -> bool:
        return False

    def session_started(self) -> None:
        self.task = self.sshd.host.spawn(self._run())
        self.task.add_done_callback(lambda _t: self.release())

    def data_received(self, data: str, datatype: Any) -> None:
        self.stdin.feed(data)

    def eof_received(self) -> bool:
        self.stdin.feed_eof()
        return True  # half-open: the command may still write

    def signal_received(self, signal: str) -> None:
        name = signal.upper().removeprefix("SIG")
        if name in FATAL_SIGNALS and self.task is not None and not self.task.done():
            self.signal = name
            self.task.cancel(f"SIG{name}")

    def connection_lost(self, exc: Exception | None) -> None:
        # Like sshd without a PTY: the command keeps running (and keeps its
        # MaxSessions slot) after the client closes the channel.
        self.open = False
        self.stdin.feed_eof()
        if self.task is None:
            self.release()

    # the command

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.sshd.sessions.discard(self)

    def kill(self) -> None:
        if self.task is not None:
            self.task.cancel("connection lost")

    # Output is gathered for COALESCE_SECONDS and sent as one SSH packet per
    # stream: each packet costs a cipher context, and a probe writes in pieces.

    def _write(self, text: str) -> None:
        self._queue(False, text)

    def _write_err(self, text: str) -> None:
        self._queue(True, text)

    def _queue(self, stderr: bool, text: str) -> None:
        if self.pending and self.pending[-1][0] == stderr:
            self.pending[-1] = (stderr, self.pending[-1][1] + text)
        else:
            self.pending.append((stderr, text))
        if not self.flush_scheduled:
            self.flush_scheduled = True
            # Like sshd reading a command's pipe: what the command writes within a couple of
            # milliseconds leaves as one packet, not one packet per echo.
            asyncio.get_running_loop().call_later(COALESCE_SECONDS, self._flush)

    def _flush(self) -> None:
        self.flush_scheduled = False
        pending, self.pending = self.pending, []
        if not (self.open and self.chan is not None and not self.chan.is_closing()):
            return
        for stderr, text in pending:
            if stderr:
                self.chan.write_stderr(text)
            else:
                self.chan.write(text)

    async def _run(self) -> None:
        io = Io(self._write, self._write_err, self.stdin)
        shell = Shell(self.sshd.host, io)
        try:
            if self.command is not None:
                status = await shell.run(self.command)
            else:
                status = await self._interactive(shell)
        except asyncio.CancelledError:
            if self.signal is not None and self.open and self.chan is not None:
                self._flush()
                self.chan.exit_with_signal(self.signal)
            # Otherwise the host or the connection died: a dead host says nothing.
            return
        except Exception as exc:  # a simulator bug: say so rather than hang the client
            log.exception("%s: command %r failed inside the simulator", self.sshd.host.name,
                          redact(self.command or ""))
            self._write_err(f"poolterm sim: internal error: {exc}\n")
            status = 255
        if self.open and self.chan is not None:
            self._flush()
            self.chan.exit(status)

    async def _interactive(self, shell: Shell) -> int:
        prompt = PROMPT.format(name=self.sshd.host.name)
        while not shell.exited:
            if self.pty:
                self._write(prompt)
            line = await self.stdin.readline()
            if not line:
                break
            await shell.run(line)
        return shell.status


class _SSHD(asyncssh.SSHServer):
    """Per-connection server state: authentication and the session count."""

    def __init__(self, host: Host, client_key: asyncssh.SSHKey):
        self.host = host
        self.client_key = client_key
        self.sessions: set[_Session] = set()

    def begin_auth(self, username: str) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return username == "root" and key.public_data == self.client_key.public_data

    def session_requested(self) -> _Session:
        if len(self.sessions) >= MAX_SESSIONS:
            raise asyncssh.ChannelOpenError(asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED, "open failed")
        session = _Session(self)
        self.sessions.add(session)
        return session

    def connection_lost(self, exc: Exception | None) -> None:
        for session in list(self.sessions):
            session.kill()


class HostServer:
    """One simulated host's sshd on ADDRESS:PORT, with its network face."""

    def __init__(
        self,
        host: Host,
        address: str,
        port: int,
        host_key: asyncssh.SSHKey,
        client_key: asyncssh.SSHKey,
    ):
        _hide_secrets_from_asyncssh_log()
        self.host = host
        self.address = address
        self.port = port
        self.host_key = host_key
        #: The host key's SHA-256 fingerprint as ``ssh-keygen -l`` prints it (``SHA256:...``), kept:
        #: every status asks for it.
        self.fingerprint = host_key.get_fingerprint("sha256")
        self.face = "up"
        self.epoch = 0
        self._listener: socket.socket | None = None
        self._accepting: asyncio.Task | None = None
        self._relays: set[_Relay] = set()
        self._tasks: set[asyncio.Task] = set()
        self._client_key = client_key
        self._options = self._server_options()

    def _server_options(self) -> asyncssh.SSHServerConnectionOptions:
        """What every new connection is served with (read at each accept: a rekey takes effect at once)."""
        host, client_key = self.host, self._client_key
        return asyncssh.SSHServerConnectionOptions(
            server_host_keys=[self.host_key],
            server_factory=lambda: _SSHD(host, client_key),
            x11_forwarding=False,
            agent_forwarding=False,
            allow_scp=False,
            login_timeout=30,
            # Text that stands for bytes which are not UTF-8 (planted by `sim ctl write-file`)
            # leaves as those bytes, as a real host's would.
            encoding="utf-8",
            errors="surrogateescape",
            # AES-GCM runs in OpenSSL; asyncssh's chacha20-poly1305 builds a cipher
            # context per packet, which dominates CPU with 1000 hosts in one process.
            encryption_algs=SERVER_CIPHERS,
        )

    def rekey(self, host_key: asyncssh.SSHKey) -> None:
        """A new host key, as a reinstalled host has: new connections are served with it, and the
        connections made before are dropped (reset), as the host's reboot into sshd drops them."""
        self.host_key = host_key
        self.fingerprint = host_key.get_fingerprint("sha256")
        self._options = self._server_options()
        for relay in list(self._relays):
            relay.reset()

    def start(self, face: str, epoch: int) -> None:
        """Bind (learning the port when it was 0) and take the face the world shows."""
        self._listen()
        self.apply(face, epoch)

    def _listen(self) -> None:
        if self._listener is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.address, self.port))
            sock.listen(LISTEN_BACKLOG)
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._listener = sock

    def _stop_listening(self) -> None:
        self._set_accepting(False)
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def _set_accepting(self, on: bool) -> None:
        if on and self._accepting is None:
            self._accepting = asyncio.create_task(self._accept_loop())
        elif not on and self._accepting is not None:
            self._accepting.cancel()
            self._accepting = None

    def apply(self, face: str, epoch: int) -> None:
        """Show the network what the world says: "up", "blackhole" or "refuse"."""
        self.face, self.epoch = face, epoch
        if face == "up":
            try:
                self._listen()
            except OSError as exc:
                log.error("%s: cannot listen again on %s:%s: %s", self.host.name, self.address, self.port, exc)
                return
            self._set_accepting(True)
            for relay in list(self._relays):
                if relay.epoch == epoch:
                    relay.resume()
                else:
                    relay.reset()
        elif face == "blackhole":
            # The kernel still completes handshakes into the backlog, but no
            # byte ever comes back: exactly what a client sees of a dead link.
            self._set_accepting(False)
            for relay in self._relays:
                relay.freeze()
        else:
            self._stop_listening()
            for relay in list(self._relays):
                relay.reset()

    async def _accept_loop(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._listener is not None
        listener = self._listener
        while True:
            try:
                client, _ = await loop.sock_accept(listener)
            except OSError as exc:
                log.warning("%s: accept failed: %s", self.host.name, exc)
                await asyncio.sleep(0.1)
                continue
            task = asyncio.create_task(self._serve(client))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _serve(self, client: socket.socket) -> None:
        relay = _Relay(self.epoch, frozen=self.face != "up", on_close=self._relays.discard, sock=client,
                       sockname=(self.address, self.port))
        self._relays.add(relay)
        try:
            client.setblocking(False)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await asyncssh.connect_reverse(self.address, self.port, tunnel=_Link(relay), options=self._options)
        except (OSError, asyncssh.Error, asyncio.TimeoutError) as exc:
            log.debug("%s: connection ended during login: %s", self.host.name, exc)
            relay.close()

    @property
    def connections(self) -> int:
        """Open TCP connections (frozen ones included)."""
        return len(self._relays)

    async def close(self) -> None:
        self._stop_listening()
        for relay in list(self._relays):
            relay.reset()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
