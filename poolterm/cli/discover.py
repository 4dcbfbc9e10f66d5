"""`poolterm discover`: from one member of a pool to an inventory and verified host keys.

The first ten minutes with a real pool: log in to any one member (through a bastion if need
be), read the pool from xapi, fetch every member's SSH host key, show each the way
``ssh-keygen -lf`` does for the operator to confirm, and write known_hosts and hosts.yaml.

Trust is the operator's, and nothing is written before it is given:

* a key known_hosts already records is checked, not asked about again;
* a key that differs from the recorded one stops everything (exit 2, nothing written):
  discover never updates a key. A reinstalled host and someone in the middle look the
  same from here; the operator checks the key on the host's console first;
* new keys are trusted only when the operator types ``yes`` on a terminal, or with
  ``--accept-new`` (OpenSSH's ``StrictHostKeyChecking accept-new``), which prints every
  fingerprint it trusted. Neither (stdin not a terminal, or closed): nothing is trusted,
  exit 2.

Keys trusted during the run live in memory until the end: the login to the entry host is
verified against known_hosts plus those keys, and known_hosts is appended to only once the
whole pool is read and every key decided. Everything a host sends is untrusted: names and
addresses are validated as the inventory validates them (a host whose name-label is not a
valid name is refused, never renamed silently), and any host text shown is escaped.

No OpenSSH client config is read: the bastion (``--jump``) and the key (``--identity``) are
given on the command line, so what discover connects through is what it writes down.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from poolterm.config import enrol
from poolterm.config.inventory import DEFAULT_KNOWN_HOSTS, DEFAULT_PORT, DEFAULT_USER, JumpSpec, parse_jump
from poolterm.errors import HostKeyError, PooltermError, UsageError
from poolterm.transport import hostkeys
from poolterm.transport.hostkeys import HostKey, KeyCheck, KeyStatus
from poolterm.transport.ssh import ENCRYPTION_ALGS
from poolterm.transport.sshlib import asyncssh
from poolterm.untrusted import LineDecoder, escape
from poolterm.xe import (
    XeParseError,
    address_key,
    parse_error,
    parse_records,
    validate_address,
    validate_name,
    validate_uuid,
    wrap_timeout,
    xe_command,
)

CONNECT_TIMEOUT = 10.0
#: Default seconds a remote xe may take: a slave forwards xe to its master and hangs while the master is
#: gone, so ``timeout`` ends it (``--timeout``).
XE_TIMEOUT = 20.0
#: Bytes a command may print: a 64-host pool's host-list is a few kilobytes; a hostile host may send more.
OUTPUT_LIMIT = 8 << 20
#: Host keys fetched at once (each a TCP and SSH handshake up to the key, through the bastion if any).
KEY_FETCHES = 16

POOL_CONF = "/etc/xensource/pool.conf"
POOL_LIST = xe_command("pool-list", params="uuid,name-label,master")
HOST_LIST = xe_command("host-list", params="uuid,name-label,address")

DESCRIPTION = """\
Log in to one member of a XenServer / XCP-ng pool (any member: a slave names its
master), read the pool, fetch every host's SSH host key and show its fingerprint as
ssh-keygen -lf does, then write the keys to known_hosts and the pool to hosts.yaml.

Keys already in known_hosts are checked; a key that differs stops discover (exit 2,
nothing written, never updated). New keys are trusted when you type yes, or with
--accept-new; without a terminal and without --accept-new nothing is trusted (exit 2).

An existing hosts.yaml gets the pool added, its other pools and comments untouched;
a pool name already there is refused. Options not given default to that file's ssh
settings (user root, port 22, known_hosts ~/.ssh/known_hosts for a new file).
"""


class DiscoverError(PooltermError):
    """The pool cannot be read as asked: unreachable, refused, or not a pool discover can write down."""


@dataclass(frozen=True)
class Request:
    """The command line, resolved against the existing hosts.yaml's ssh settings."""

    user: str
    host: str
    port: int
    identity: Path | None
    known_hosts: Path
    jump: JumpSpec | None
    output: Path
    pool: str | None
    accept_new: bool
    timeout: float = XE_TIMEOUT

    @property
    def where(self) -> str:
        return f"{self.user}@{_hostport(self.host, self.port)}"


@dataclass(frozen=True)
class Member:
    uuid: str
    name: str
    address: str


@dataclass(frozen=True)
class PoolRead:
    """What the entry host said about its pool, every value validated."""

    label: str  # the pool's name-label, escaped
    uuid: str
    master: Member
    members: tuple[Member, ...]


@dataclass(frozen=True)
class NoAnswer:
    """A member whose key could not be fetched."""

    name: str
    host: str
    port: int
    reason: str


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("discover", help="read a pool from one member, enrol its host keys, write hosts.yaml",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("target", metavar="USER@HOST", help="any member of the pool ([user@]host[:port])")
    p.add_argument("--port", type=int, metavar="N", help="SSH port of every host (default 22)")
    p.add_argument("--identity", metavar="FILE", help="the one private key to log in with (default: the SSH agent)")
    p.add_argument("--jump", metavar="SPEC", help="bastion to go through: [user@]host[:port]")
    p.add_argument("-o", "--output", default="hosts.yaml", metavar="FILE",
                   help="the inventory to write or add the pool to (default ./hosts.yaml)")
    p.add_argument("--known-hosts", metavar="FILE",
                   help=f"known_hosts to check and extend (default {DEFAULT_KNOWN_HOSTS})")
    p.add_argument("--pool", metavar="NAME", help="the pool's name in the inventory (default: its name-label)")
    p.add_argument("--accept-new", action="store_true",
                   help="trust keys never seen before without asking, printing each (never a changed key)")
    p.add_argument("--timeout", type=float, default=XE_TIMEOUT, metavar="SECONDS",
                   help=f"how long a remote xe may take (a slave whose master is gone hangs; default {XE_TIMEOUT:g})")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    request = _request(args)
    return asyncio.run(discover(request))


# --------------------------------------------------------------------------- the command line


def _request(args: argparse.Namespace) -> Request:
    output = Path(args.output).expanduser()
    if not output.parent.is_dir():
        raise UsageError(f"discover: -o {args.output!r}: no folder {str(output.parent)!r} to write it in")
    before = enrol.existing(output)  # a file that does not load is reported before anything connects
    ssh = before.ssh if before is not None else None
    target = _target(args.target)
    port = _port(args.port, target.port, ssh.port if ssh else DEFAULT_PORT)
    identity = _identity(args.identity) if args.identity else (ssh.identity if ssh else None)
    known_hosts = Path(args.known_hosts or (ssh.known_hosts if ssh else DEFAULT_KNOWN_HOSTS)).expanduser()
    jump = _jump(args.jump) if args.jump else (ssh.jump if ssh else None)
    pool = _pool_option(args.pool)
    if not 0 < args.timeout <= 3600:
        raise UsageError(f"discover: --timeout must be more than 0 and at most 3600 seconds, not {args.timeout:g}")
    if pool is not None:
        enrol.check_pool_name(output, before, pool)
    return Request(user=target.user or (ssh.user if ssh else DEFAULT_USER), host=target.host, port=port,
                   identity=identity, known_hosts=known_hosts, jump=jump, output=output, pool=pool,
                   accept_new=args.accept_new, timeout=args.timeout)


def _target(text: str) -> JumpSpec:
    try:
        return parse_jump(text)
    except ValueError as exc:
        raise UsageError(f"discover: bad USER@HOST {text!r}: {exc}") from None


def _port(option: int | None, in_target: int | None, default: int) -> int:
    if option is not None and in_target is not None and option != in_target:
        raise UsageError(f"discover: USER@HOST says port {in_target} and --port says {option}")
    port = option if option is not None else in_target if in_target is not None else default
    if not 1 <= port <= 65535:
        raise UsageError(f"discover: --port must be 1..65535, not {port}")
    return port


def _identity(text: str) -> Path:
    path = Path(text).expanduser()
    if not path.is_file() or not os.access(path, os.R_OK):
        raise UsageError(f"discover: --identity {text!r}: no readable file there")
    return path


def _jump(text: str) -> JumpSpec:
    try:
        return parse_jump(text)
    except ValueError as exc:
        raise UsageError(f"discover: bad --jump {text!r}: {exc}") from None


def _pool_option(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return validate_name(text)
    except ValueError as exc:
        raise UsageError(f"discover: --pool: {exc}") from None


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin is not None and os.isatty(sys.stdin.fileno())
    except (ValueError, OSError):  # closed, or not a file at all
        return False


# --------------------------------------------------------------------------- trust


class Trust:
    """The keys of this run: fetched, compared with known_hosts, and the ones the operator trusted
    (held in memory, and written only by :meth:`write`, at the very end)."""

    def __init__(self, known_hosts: Path, *, accept_new: bool, terminal: bool):
        self.path = known_hosts
        self.accept_new = accept_new
        self.terminal = terminal
        self.pending: dict[str, KeyCheck] = {}  # known_hosts pattern -> the check whose key was trusted

    async def fetch(self, name: str, host: str, port: int, tunnel) -> KeyCheck:
        """What ``host`` offers beside what known_hosts records; a recorded key's type is asked for first,
        so that a changed key is compared with a key of its own kind."""
        recorded = hostkeys.recorded(self.path, host, port)
        algorithms = tuple(dict.fromkeys(key.algorithm for key in recorded))
        offered = await hostkeys.offered(host, port, tunnel=tunnel, algorithms=algorithms, timeout=CONNECT_TIMEOUT)
        return KeyCheck(name, host, port, self.path, offered, tuple(recorded))

    def word(self, check: KeyCheck) -> str:
        """The check's status as the table shows it."""
        trusted = self.pending.get(check.pattern)
        if check.status is KeyStatus.NEW and trusted is not None:
            return "new, trusted above" if trusted.offered == check.offered else "CHANGED"
        return "CHANGED" if check.status is KeyStatus.CHANGED else check.status.value

    def decide(self, checks: list[KeyCheck]) -> None:
        """Stop on any changed key; have the new ones trusted (or raise, nothing trusted)."""
        changed = [check for check in checks if self.word(check) == "CHANGED"]
        if changed:
            raise HostKeyError(_changed_line(changed, self.path))
        new = [check for check in checks if self.word(check) == "new"]
        if new:
            self._confirm(list({check.pattern: check for check in new}.values()))
            self.pending.update((check.pattern, check) for check in new)

    def _confirm(self, new: list[KeyCheck]) -> None:
        if self.accept_new:
            for check in new:
                print(f"trusted (--accept-new): {check.offered.shown(check.pattern)}")
            return
        keys, need = ("1 new host key", "needs") if len(new) == 1 else (f"{len(new)} new host keys", "need")
        if not self.terminal:
            raise HostKeyError(f"nothing trusted: {keys} ({', '.join(c.name for c in new)}) {need} the operator's "
                               "yes and stdin is not a terminal; run discover from a terminal to confirm, or "
                               "pass --accept-new to trust keys never seen before")
        print(f"{keys} not in {self.path}:")
        for check in new:
            print(f"  {check.offered.shown(check.pattern)}")
        print("Compare with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the host's console.")
        print("Trust and add to known_hosts? Type yes to trust, anything else to stop: ", end="", flush=True)
        # A blocking read: nothing else runs meanwhile, and no connection but the bastion's is open.
        answer = sys.stdin.readline()
        if answer.strip() != "yes":
            raise HostKeyError("nothing trusted: the answer was not yes" if answer else
                               "nothing trusted: stdin closed before an answer")
        for check in new:
            print(f"trusted: {check.offered.shown(check.pattern)}")

    def known(self) -> asyncssh.SSHKnownHosts:
        """known_hosts as it is, plus the keys trusted so far: what a login is verified against."""
        try:
            known = asyncssh.read_known_hosts(str(self.path))
        except FileNotFoundError:
            known = asyncssh.SSHKnownHosts()
        except (OSError, ValueError) as exc:
            raise HostKeyError(f"cannot read known_hosts {self.path}: {exc}") from None
        lines = "".join(f"{check.pattern} {check.offered.openssh()}\n" for check in self.pending.values())
        if lines:
            known.load(lines)
        return known

    def write(self) -> int:
        """Append the trusted keys to known_hosts; how many."""
        for check in self.pending.values():
            hostkeys.trust(self.path, check.host, check.port, check.offered)
        return len(self.pending)


def _fingerprint(key: HostKey) -> str:
    return f"{key.fingerprint} ({key.kind})"


def _changed_line(changed: list[KeyCheck], path: Path) -> str:
    each = "; ".join(f"{check.name} ({check.pattern}): {path} has "
                     f"{' and '.join(_fingerprint(key) for key in check.recorded) or 'another key'}, the host offers "
                     f"{_fingerprint(check.offered)}" for check in changed)
    host = shlex.quote(changed[0].pattern) if len(changed) == 1 else "HOST"
    return (f"host key changed: {each}. Never updated by discover: a reinstalled host and someone in the middle "
            f"look the same from here; check the key on the host's console, and if it is right remove the old "
            f"one (ssh-keygen -R {host} -f {shlex.quote(str(path))}) and run discover again")


# --------------------------------------------------------------------------- SSH


async def _login(request: Request, host: str, port: int, user: str | None, known, tunnel) \
        -> asyncssh.SSHClientConnection:
    """A verified login with exactly one key (``--identity``) or the agent's; one line on failure."""
    where = f"{user + '@' if user else ''}{_hostport(host, port)}"
    options = dict(port=port, known_hosts=known, config=None, connect_timeout=CONNECT_TIMEOUT,
                   login_timeout=CONNECT_TIMEOUT, encryption_algs=ENCRYPTION_ALGS, gss_host=None,
                   tunnel=tunnel if tunnel is not None else ())
    if user:
        options["username"] = user
    if request.identity is not None:
        # One key only: dom0's sshd allows 3 tries and penalises the source address.
        options.update(client_keys=[str(request.identity)], agent_path=None)
    try:
        return await asyncssh.connect(host, **options)
    except asyncssh.HostKeyNotVerifiable as exc:
        raise HostKeyError(f"{where}: the host key changed while discover ran ({_reason(exc)}); nothing "
                           "trusted, run discover again") from None
    except asyncssh.PermissionDenied as exc:
        raise DiscoverError(f"{where}: login refused ({_reason(exc)}): check the user and --identity") from None
    except (TimeoutError, asyncio.TimeoutError):
        raise DiscoverError(f"{where}: no SSH login within {CONNECT_TIMEOUT:g} s") from None
    except asyncssh.KeyImportError as exc:
        raise UsageError(f"discover: cannot use --identity {request.identity}: {_reason(exc)}") from None
    except (OSError, asyncssh.Error, ValueError) as exc:
        raise DiscoverError(f"{where}: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return escape(text.splitlines()[0] if text.strip() else type(exc).__name__)


async def _close(conn: asyncssh.SSHClientConnection | None) -> None:
    if conn is not None:
        conn.close()
        await conn.wait_closed()


async def _run(conn: asyncssh.SSHClientConnection, command: str, where: str,
               timeout: float) -> tuple[int, list[str], list[str]]:
    """``command``'s exit status and its output as escaped lines (at most :data:`OUTPUT_LIMIT` bytes); the
    command is given ``timeout`` seconds, and the host a few more to say so."""
    budget = [OUTPUT_LIMIT]
    try:
        async with asyncio.timeout(timeout + CONNECT_TIMEOUT):
            process = await conn.create_process(command, encoding=None)
            process.stdin.write_eof()
            out, err = await asyncio.gather(_lines(process.stdout, budget, where),
                                            _lines(process.stderr, budget, where))
            await process.wait_closed()
    except TimeoutError:
        raise DiscoverError(f"{where}: `{command}` did not end within {timeout + CONNECT_TIMEOUT:g} s") from None
    except (OSError, asyncssh.Error) as exc:
        raise DiscoverError(f"{where}: `{command}`: {_reason(exc)}") from None
    status = process.returncode
    return (255 if status is None else status), out, err


async def _lines(stream, budget: list[int], where: str) -> list[str]:
    decoder = LineDecoder()
    lines: list[str] = []
    while chunk := await stream.read(1 << 16):
        budget[0] -= len(chunk)
        if budget[0] < 0:
            raise DiscoverError(f"{where}: printed more than {OUTPUT_LIMIT >> 20} MiB: not an answer to read")
        lines += decoder.feed(chunk)
    return lines + decoder.close()


# --------------------------------------------------------------------------- the pool


async def read_pool(conn: asyncssh.SSHClientConnection, where: str, timeout: float) -> PoolRead:
    """pool.conf, then the pool and host records (from the master, forwarded by a slave)."""
    master_address = await _role(conn, where, timeout)
    xe = _Xe(conn, where, master_address, timeout)
    pool = _one_record(await xe.run(POOL_LIST), "pool-list", where)
    hosts = [_member(record, where) for record in parse_xe(await xe.run(HOST_LIST), "host-list", where)]
    members = _unique(hosts, where)
    pool_uuid = _uuid(pool.get("uuid", ""), "the pool's uuid", where)
    master_uuid = _uuid(pool.get("master", ""), "the pool's master", where)
    master = next((m for m in members if m.uuid == master_uuid), None)
    if master is None:
        raise DiscoverError(f"{where}: the pool's master {master_uuid} is not in its host list")
    if master_address is not None and address_key(master_address) != address_key(master.address):
        print(f"note: pool.conf names {master_address} as master, the pool says {master.name} ({master.address}): "
              "a master change under way? Run `poolterm check` once discover is done")
    return PoolRead(label=pool.get("name-label", ""), uuid=pool_uuid, master=master, members=members)


async def _role(conn: asyncssh.SSHClientConnection, where: str, timeout: float) -> str | None:
    """None for a master; the master's address for a slave (said on the terminal)."""
    status, out, err = await _run(conn, f"cat {POOL_CONF}", where, timeout)
    if status != 0:
        raise DiscoverError(f"{where}: cannot read {POOL_CONF} ({_first(err) or f'exit {status}'}): "
                            "not a XenServer / XCP-ng dom0?")
    text = "\n".join(out).strip()
    if text == "master":
        print(f"{where}: pool.conf says master")
        return None
    role, _, address = text.partition(":")
    if role != "slave":
        raise DiscoverError(f"{where}: pool.conf says {text[:80]!r}, neither master nor slave:ADDRESS (broken, or "
                            "mid-change): run discover against another member")
    try:
        validate_address(address)
    except ValueError as exc:
        raise DiscoverError(f"{where}: pool.conf names a master that is not an address: {exc}") from None
    print(f"{where}: a slave; pool.conf names its master: {address}")
    return address


@dataclass(frozen=True)
class _Xe:
    """xe on the entry host, under ``timeout``; every failure one line that says what it means."""

    conn: asyncssh.SSHClientConnection
    where: str
    master_address: str | None  # None: the entry host is the master
    timeout: float

    async def run(self, command: str) -> str:
        where, shown = self.where, " ".join(command.split()[:2])
        status, out, err = await _run(self.conn, wrap_timeout(command, self.timeout), where, self.timeout)
        if status == 124:
            if self.master_address is not None:
                raise DiscoverError(f"{where}: its master {self.master_address} did not answer `{shown}` within "
                                    f"{self.timeout:g} s (a slave forwards xe to its master): the master is down or "
                                    "unreachable from it; run discover against a member that answers")
            raise DiscoverError(f"{where}: `{shown}` did not answer within {self.timeout:g} s: xapi hung or starting")
        if status == 127:
            raise DiscoverError(f"{where}: no xe command: not a XenServer / XCP-ng dom0")
        if status != 0:
            failure = parse_error("\n".join(err))
            raise DiscoverError(f"{where}: `{shown}` failed (exit {status}): {failure.code[:200] or 'no message'}")
        return "\n".join(out)


def parse_xe(text: str, what: str, where: str) -> list[dict[str, str]]:
    try:
        return parse_records(text)
    except XeParseError as exc:
        raise DiscoverError(f"{where}: xe {what} printed something that is not xe's record layout: {exc}") from None


def _one_record(text: str, what: str, where: str) -> dict[str, str]:
    records = parse_xe(text, what, where)
    if len(records) != 1:
        raise DiscoverError(f"{where}: xe {what} printed {len(records)} records, not one")
    return records[0]


def _uuid(value: str, what: str, where: str) -> str:
    try:
        return validate_uuid(value)
    except ValueError as exc:
        raise DiscoverError(f"{where}: {what}: {exc}") from None


def _member(record: dict[str, str], where: str) -> Member:
    uuid = _uuid(record.get("uuid", ""), "a host's uuid", where)
    name, address = record.get("name-label", ""), record.get("address", "")
    try:
        validate_name(name)
    except ValueError as exc:
        raise DiscoverError(f"{where}: host {uuid}'s name-label is refused as an inventory name: {exc}; rename "
                            f"it (xe host-param-set uuid={uuid} name-label=NEW) and run discover again") from None
    try:
        validate_address(address)
    except ValueError as exc:
        raise DiscoverError(f"{where}: host {name}'s address is refused: {exc}") from None
    return Member(uuid, name, address)


def _unique(hosts: list[Member], where: str) -> tuple[Member, ...]:
    if not hosts:
        raise DiscoverError(f"{where}: xe host-list listed no hosts")
    for attribute in ("name", "address"):
        seen: dict[str, Member] = {}
        for host in hosts:
            value = getattr(host, attribute)
            key = address_key(value) if attribute == "address" else value
            if key in seen:
                raise DiscoverError(f"{where}: hosts {seen[key].uuid} and {host.uuid} have the same {attribute} "
                                    f"{value}: the inventory needs each once")
            seen[key] = host
    return tuple(sorted(hosts, key=lambda host: _natural(host.name)))


def _natural(name: str) -> list:
    """plot2 before plot10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _first(lines: list[str]) -> str:
    return next((line.strip()[:200] for line in lines if line.strip()), "")


def pool_name(label: str) -> str:
    """The pool's name-label made into a valid inventory name ('Prod pool #1' -> 'Prod-pool-1')."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", label).lstrip("._-")[:63].rstrip("-")
    if not name:
        raise DiscoverError(f"the pool's name-label {label[:60]!r} gives no inventory name: pass --pool NAME")
    return validate_name(name)


# --------------------------------------------------------------------------- the run


async def discover(request: Request) -> int:
    trust = Trust(request.known_hosts, accept_new=request.accept_new, terminal=_stdin_is_terminal())
    async with contextlib.AsyncExitStack() as stack:
        via = await _bastion(request, request.jump, trust, stack) if request.jump is not None else None
        pool = await _entry(request, trust, via)
        name = request.pool or pool_name(pool.label)
        shown = f" (name-label {pool.label!r})" if name != pool.label else ""
        print(f"pool {name}{shown}: {len(pool.members)} hosts, master {pool.master.name} ({pool.master.address})")
        plan = enrol.plan(request.output, _enrolment(request, name, pool))  # a clash stops us before any key
        checks = await _member_keys(request, trust, pool, via)
        _print_table(checks, trust)
        trust.decide([check for check in checks if isinstance(check, KeyCheck)])
    added = trust.write()
    _touch(request.known_hosts)  # the inventory names it, and load_inventory wants it to exist
    plan.write()
    _summary(request, plan, name, pool, added, [c for c in checks if isinstance(c, NoAnswer)])
    return 0


async def _bastion(request: Request, jump: JumpSpec, trust: Trust, stack: contextlib.AsyncExitStack):
    """The bastion's key decided like any host's, then a verified login kept open for the tunnels."""
    port = jump.port or DEFAULT_PORT
    check = await trust.fetch(f"jump host {jump.host}", jump.host, port, None)
    print(f"jump host {_hostport(jump.host, port)}: {check.offered.shown(check.pattern)}: {trust.word(check)}")
    trust.decide([check])
    conn = await _login(request, jump.host, port, jump.user, trust.known(), None)
    stack.push_async_callback(_close, conn)
    return conn


async def _entry(request: Request, trust: Trust, via) -> PoolRead:
    """The entry host's key decided, a verified login, the pool read, the login closed."""
    check = await trust.fetch(request.host, request.host, request.port, via)
    print(f"{request.where}: {check.offered.shown(check.pattern)}: {trust.word(check)}")
    trust.decide([check])
    conn = await _login(request, request.host, request.port, request.user, trust.known(), via)
    try:
        return await read_pool(conn, request.where, request.timeout)
    finally:
        await _close(conn)


def _enrolment(request: Request, name: str, pool: PoolRead) -> enrol.Enrolment:
    return enrol.Enrolment(pool=name, hosts=tuple(enrol.Member(m.name, m.address) for m in pool.members),
                           user=request.user, port=request.port, identity=request.identity,
                           known_hosts=request.known_hosts, jump=request.jump, source=request.where)


async def _member_keys(request: Request, trust: Trust, pool: PoolRead, via) -> list[KeyCheck | NoAnswer]:
    slots = asyncio.Semaphore(KEY_FETCHES)

    async def one(member: Member) -> KeyCheck | NoAnswer:
        async with slots:
            try:
                return await trust.fetch(member.name, member.address, request.port, via)
            except HostKeyError as exc:
                return NoAnswer(member.name, member.address, request.port, str(exc))

    return list(await asyncio.gather(*(one(member) for member in pool.members)))


def _print_table(checks: list[KeyCheck | NoAnswer], trust: Trust) -> None:
    rows = [("HOST", "ADDRESS", "KEY", "FINGERPRINT (ssh-keygen -l)")]
    for check in checks:
        if isinstance(check, NoAnswer):
            rows.append((check.name, check.host, "no answer", check.reason))
        else:
            key = check.offered
            rows.append((check.name, check.host, trust.word(check), f"{key.bits} {key.fingerprint} ({key.kind})"))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[3])


def _touch(path: Path) -> None:
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    except OSError as exc:
        raise HostKeyError(f"cannot create known_hosts {path}: {exc.strerror or exc}") from None


def _summary(request: Request, plan: enrol.Plan, name: str, pool: PoolRead, added: int,
             missing: list[NoAnswer]) -> None:
    keys = f"{added} host key{'s' if added != 1 else ''} added" if added else "unchanged (every key was known)"
    print(f"known_hosts {request.known_hosts}: {keys}")
    hosts = f"{len(pool.members)} hosts"
    if plan.before is None:
        print(f"wrote {request.output}: pool {name}, {hosts}")
    else:
        print(f"added pool {name} ({hosts}) to {request.output}; its other pools and comments are as they were")
    for host in missing:
        print(f"{host.name}: no key fetched ({host.reason}); poolterm reports it host-key-unknown until its key "
              "is trusted")
    print(f"next: poolterm check -i {shlex.quote(str(request.output))}")
