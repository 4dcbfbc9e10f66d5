"""Writing a discovered pool into hosts.yaml: a new file, or one more pool in an existing one.

An existing hosts.yaml is the operator's: its comments, order and layout are kept byte for
byte. PyYAML would drop the comments on a load-and-dump, so the new pool is inserted as
text: the file is composed into nodes, the ``pools`` list's last line is found from the
nodes' marks, and the pool's block goes after it with the list's own indentation.

Nothing is written unless the result says exactly what was asked: the new text is written
to a temporary file beside the target, loaded with :func:`load_inventory` (every rule of
the schema, relative paths resolved against the same folder), compared with the old
inventory (its settings and pools unchanged) and the enrolment (the new pool's hosts, each
resolving to the user, port, key files and jump asked for), and only then renamed over the
target, keeping its mode. A pool name already in the file is refused, never replaced; host
names and addresses must be new across the whole file, as the schema says.

The schema has one ``ssh`` section per file and per-host ``port``, ``user``, ``identity``
and ``known_hosts``, but no per-host or per-pool ``jump``, and no way to say "no identity"
for one host when the file names one: such a pool is refused, with how to write it to a
file of its own.

Pure config layer: files and YAML only, no SSH.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from poolterm.config.inventory import (
    DEFAULT_KNOWN_HOSTS,
    DEFAULT_PORT,
    DEFAULT_USER,
    Inventory,
    JumpSpec,
    Pool,
    load_inventory,
)
from poolterm.datafile import line_of
from poolterm.errors import ConfigError
from poolterm.xe import address_key, validate_address, validate_name

#: Mode of a hosts.yaml discover creates: it names files, it holds no secret.
NEW_FILE_MODE = 0o644
#: Line breaks as YAML counts them (PyYAML's reader): a mark's line is an index into these lines.
_LINE_BREAK = re.compile(r"(?<=[\n\x85\u2028\u2029])|(?<=\r)(?!\n)")


@dataclass(frozen=True)
class Member:
    """A host of the discovered pool, as it goes into the inventory."""

    name: str
    address: str


@dataclass(frozen=True)
class Enrolment:
    """What to write: a pool, its hosts, and how poolterm is to reach them."""

    pool: str
    hosts: tuple[Member, ...]
    user: str = DEFAULT_USER
    port: int = DEFAULT_PORT
    identity: Path | None = None
    known_hosts: Path = Path(DEFAULT_KNOWN_HOSTS).expanduser()
    jump: JumpSpec | None = None
    source: str = ""  # where it was discovered (user@host:port), for a comment in the file


@dataclass(frozen=True)
class Plan:
    """The whole new text of ``path``, checked against the schema's uniqueness rules; :meth:`write` it."""

    path: Path
    text: str
    before: Inventory | None  # None: a new file
    old_text: str | None
    enrolment: Enrolment

    def write(self) -> Inventory:
        """Replace the file (or create it) atomically, once the new text is proven to load as asked."""
        return _write(self)


def existing(path: Path) -> Inventory | None:
    """The inventory at ``path``, or None when there is no file there; ConfigError when it does not load."""
    if not os.path.lexists(path):
        return None
    if not path.is_file():
        raise ConfigError(str(path), "not a regular file: name another with -o")
    return load_inventory(path)


def plan(path: Path, enrolment: Enrolment) -> Plan:
    """The text ``path`` should hold with the pool added; ConfigError (nothing written) when the pool
    cannot be added as asked."""
    _check_members(enrolment, path)
    before = existing(path)
    if before is None:
        return Plan(path, new_file(enrolment), None, None, enrolment)
    old_text = path.read_text(encoding="utf-8")
    root = yaml.compose(old_text, Loader=yaml.SafeLoader)  # it loaded just now: it composes
    pools = _pools_node(root, path)
    _check_clashes(before, pools, enrolment, path)
    overrides = host_overrides(before, enrolment, path)
    return Plan(path, insert_pool(old_text, pools, enrolment, overrides, path), before, old_text, enrolment)


# --------------------------------------------------------------------------- checks


def _check_members(enrolment: Enrolment, path: Path) -> None:
    """The names and addresses the pool brings: valid, and unique among themselves."""
    try:
        validate_name(enrolment.pool)
        if not enrolment.hosts:
            raise ValueError(f"pool {enrolment.pool!r} has no hosts")
        names: set[str] = set()
        addresses: dict[str, str] = {}
        for host in enrolment.hosts:
            validate_name(host.name)
            validate_address(host.address)
            if host.name in names:
                raise ValueError(f"two hosts of pool {enrolment.pool!r} are called {host.name!r}")
            key = address_key(host.address)
            if key in addresses:
                raise ValueError(f"{addresses[key]} and {host.name} of pool {enrolment.pool!r} "
                                 f"have the same address {host.address}")
            names.add(host.name)
            addresses[key] = host.name
    except ValueError as exc:
        raise ConfigError(str(path), f"cannot add the pool: {exc}") from None


def check_pool_name(path: Path, before: Inventory | None, name: str) -> None:
    """ConfigError when ``path`` already has a pool called ``name`` (asked before anything is fetched)."""
    if before is not None and name in {pool.name for pool in before.pools}:
        pools = _pools_node(yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader), path)
        _check_clashes(before, pools, Enrolment(name, ()), path)


def _check_clashes(before: Inventory, pools: SequenceNode, enrolment: Enrolment, path: Path) -> None:
    for pool, item in zip(before.pools, pools.value):
        if pool.name == enrolment.pool:
            raise ConfigError(str(path), f"pool {pool.name!r} is already in this file: discover never overwrites "
                                         "a pool (remove it first, or name the new one with --pool)",
                              line=line_of(item))
    for host in enrolment.hosts:
        for other, what in ((_host_named(before, host.name), "name"), (before.by_address(host.address), "address")):
            if other is not None:
                value = host.name if what == "name" else host.address
                raise ConfigError(str(path), f"host {what} {value} of pool {enrolment.pool!r} is already used "
                                             f"by {other.name} of pool {other.pool!r}: host names and addresses "
                                             "are unique across the file")


def _host_named(inventory: Inventory, name: str):
    try:
        return inventory.host(name)
    except KeyError:
        return None


def host_overrides(before: Inventory, enrolment: Enrolment, path: Path) -> dict[str, object]:
    """The per-host keys that give each new host the settings asked for where the file's ``ssh``
    section says otherwise; ConfigError for what the schema cannot say per host."""
    ssh = before.ssh
    where = "write this pool to a file of its own (-o ANOTHER.yaml)"
    if ssh.jump != enrolment.jump:
        raise ConfigError(str(path), f"this file reaches every host through jump {_jump(ssh.jump)}, this pool "
                                     f"through {_jump(enrolment.jump)}: hosts.yaml has one jump for all its "
                                     f"pools; {where}")
    if enrolment.identity is None and ssh.identity is not None:
        raise ConfigError(str(path), f"this file logs in with identity {ssh.identity} and this pool with the "
                                     f"SSH agent's keys: a host cannot undo the file's identity; pass "
                                     f"--identity, or {where}")
    overrides: dict[str, object] = {}
    if enrolment.port != ssh.port:
        overrides["port"] = enrolment.port
    if enrolment.user != ssh.user:
        overrides["user"] = enrolment.user
    if enrolment.identity is not None and not _same_file(enrolment.identity, ssh.identity):
        overrides["identity"] = str(_absolute(enrolment.identity))
    if not _same_file(enrolment.known_hosts, ssh.known_hosts):
        overrides["known_hosts"] = str(_absolute(enrolment.known_hosts))
    return overrides


def _jump(jump: JumpSpec | None) -> str:
    return str(jump) if jump is not None else "none (direct)"


def _absolute(path: Path) -> Path:
    """Where ``path`` (as the operator typed it, from the current folder) is: the file records it so,
    as relative paths in hosts.yaml are relative to the file, not to where discover ran."""
    return Path(os.path.abspath(os.path.expanduser(path)))


def _same_file(a: Path | None, b: Path | None) -> bool:
    if a is None or b is None:
        return a is b
    return os.path.realpath(_absolute(a)) == os.path.realpath(_absolute(b))


# --------------------------------------------------------------------------- text


def _scalar(value: object) -> str:
    """``value`` as one YAML plain or quoted scalar (a host called ``true`` or ``123`` stays a string)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=1 << 20)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def _host_line(host: Member, overrides: dict[str, object]) -> str:
    """One flow mapping, quoted by the emitter for a flow context (where ``,[]{}`` mean something)."""
    fields = {"name": host.name, "address": host.address, **overrides}
    return yaml.safe_dump(fields, default_flow_style=True, sort_keys=False, width=1 << 20).strip()


def pool_block(enrolment: Enrolment, overrides: dict[str, object], dash: int, content: int, hosts_dash: int) -> str:
    """The pool as a block sequence item: the dash at column ``dash``, its keys at ``content``, each host
    one flow mapping on its own line with the hosts' dash at ``hosts_dash``."""
    lines = []
    if enrolment.source:
        lines.append(f"{' ' * dash}# discovered by poolterm discover from {enrolment.source}")
    lines.append(f"{' ' * dash}-{' ' * (content - dash - 1)}name: {_scalar(enrolment.pool)}")
    lines.append(f"{' ' * content}hosts:")
    lines += [f"{' ' * hosts_dash}- {_host_line(host, overrides)}" for host in enrolment.hosts]
    return "\n".join(lines) + "\n"


def new_file(enrolment: Enrolment) -> str:
    """A whole hosts.yaml for one pool: the ``ssh`` section as asked, every host on the same port."""
    ssh: dict[str, object] = {"user": enrolment.user}
    if enrolment.identity is not None:
        ssh["identity"] = str(_absolute(enrolment.identity))
    ssh["known_hosts"] = str(_absolute(enrolment.known_hosts))
    if enrolment.jump is not None:
        ssh["jump"] = str(enrolment.jump)
    overrides = {"port": enrolment.port} if enrolment.port != DEFAULT_PORT else {}
    header = ("# poolterm inventory, written by `poolterm discover`. The schema, with comments, is hosts.yaml\n"
              "# at the root of poolterm's repository; more pools: run discover again with -o this file.\n")
    section = "ssh:\n" + "".join(f"  {key}: {_scalar(value)}\n" for key, value in ssh.items())
    return header + "\n" + section + "\npools:\n" + pool_block(enrolment, overrides, 2, 4, 6)


def _pools_node(root: Node | None, path: Path) -> SequenceNode:
    if isinstance(root, MappingNode):
        for key, value in root.value:
            if isinstance(key, ScalarNode) and key.value == "pools" and isinstance(value, SequenceNode):
                if value.flow_style or not value.value:
                    raise ConfigError(str(path), "pools is written as a flow list ([...]): discover adds a pool "
                                                 "only to a block list of '- name: ...' items", line=line_of(value))
                return value
    raise ConfigError(str(path), "no 'pools:' list to add to")  # load_inventory already insists on one


def insert_pool(text: str, pools: SequenceNode, enrolment: Enrolment, overrides: dict[str, object],
                path: Path) -> str:
    """``text`` with the pool's block inserted after the ``pools`` list's last item, indented like its
    first item; every other byte as it was."""
    lines = _LINE_BREAK.split(text)
    dash = pools.start_mark.column  # a block sequence starts at its first dash
    first = pools.value[0]
    content = first.start_mark.column if first.start_mark.line == pools.start_mark.line else dash + 2
    at = _after_last_item(lines, pools, dash)
    block = pool_block(enrolment, overrides, dash, content, content + _hosts_offset(first))
    head = "".join(lines[:at])
    if head and not head.endswith(("\n", "\r", "\x85", "\u2028", "\u2029")):
        head += "\n"  # a file without a newline at its end
    return head + block + "".join(lines[at:])


def _hosts_offset(pool: Node) -> int:
    """How far the first pool indents its hosts' dashes past its own keys (2 unless it says otherwise)."""
    if isinstance(pool, MappingNode):
        for key, value in pool.value:
            if key.value == "hosts" and isinstance(value, SequenceNode) and not value.flow_style and value.value:
                return max(0, value.start_mark.column - pool.start_mark.column)
    return 2


def _after_last_item(lines: list[str], pools: SequenceNode, dash: int) -> int:
    """The index of the line after the list's last item: after its last value, and after the comment lines
    indented past the list's dash that follow it (they belong to that item: a host commented out)."""
    end = _last_mark(pools)
    at = end.line + 1 if end.column > 0 else end.line
    while at < len(lines):
        stripped = lines[at].lstrip(" ")
        if not stripped.startswith("#") or len(lines[at]) - len(stripped) <= dash:
            break
        at += 1
    return at


def _last_mark(node: Node):
    """Where ``node``'s text ends: a block collection ends where its last value ends (its own end mark
    lies past any comments and blank lines that follow); a flow collection or a scalar ends at its mark."""
    while isinstance(node, (MappingNode, SequenceNode)) and not node.flow_style and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(node, MappingNode) else last
    return node.end_mark


# --------------------------------------------------------------------------- writing


def _write(plan: Plan) -> Inventory:
    path = plan.path
    try:
        mode = NEW_FILE_MODE if plan.before is None else path.stat().st_mode & 0o7777
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".discover", dir=path.parent)
    except OSError as exc:
        raise ConfigError(str(path), f"cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(plan.text)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        after = load_inventory(tmp)
        _check_result(plan, after)
        _replace(plan, tmp)
    except OSError as exc:
        _remove(tmp)
        raise ConfigError(str(path), f"cannot write: {exc.strerror or exc}") from None
    except BaseException:
        _remove(tmp)
        raise
    return load_inventory(path)


def _remove(tmp: str) -> None:
    if os.path.lexists(tmp):
        os.unlink(tmp)


def _check_result(plan: Plan, after: Inventory) -> None:
    """The new file says what the old one said, plus exactly the pool asked for."""
    wanted = plan.enrolment
    old_pools = plan.before.pools if plan.before is not None else ()
    same_rest = plan.before is None or (after.ssh == plan.before.ssh and after.probe == plan.before.probe)
    problem = None
    if not same_rest or after.pools[:-1] != old_pools:
        problem = "it changes the file's other settings or pools"
    elif not _is_enrolled(after.pools[-1], wanted):
        problem = f"its pool {after.pools[-1].name!r} is not the pool discovered"
    if problem:
        raise ConfigError(str(plan.path), f"nothing written: the new text would not load as asked: {problem}")


def _is_enrolled(pool: Pool, wanted: Enrolment) -> bool:
    if pool.name != wanted.pool or len(pool.hosts) != len(wanted.hosts):
        return False
    return all(
        (spec.name, spec.address, spec.ssh_host, spec.port, spec.user, spec.jump) ==
        (host.name, host.address, host.address, wanted.port, wanted.user, wanted.jump)
        and _same_file(spec.identity, wanted.identity) and _same_file(spec.known_hosts, wanted.known_hosts)
        for spec, host in zip(pool.hosts, wanted.hosts))


def _replace(plan: Plan, tmp: str) -> None:
    """Rename the checked text over the file; refuse when the file changed (or appeared) meanwhile."""
    path = plan.path
    if plan.before is None:
        try:
            os.link(tmp, path)  # fails if someone created the file meanwhile: never overwrite silently
        except FileExistsError:
            raise ConfigError(str(path), "appeared while discover ran: nothing written; run discover again") from None
        except OSError:  # a file system without hard links: check, then rename
            if os.path.lexists(path):
                raise ConfigError(str(path), "appeared while discover ran: nothing written; run discover again") \
                    from None
            os.replace(tmp, path)
            return
        os.unlink(tmp)
        return
    if path.read_text(encoding="utf-8") != plan.old_text:
        raise ConfigError(str(path), "changed while discover ran: nothing written; run discover again")
    os.replace(tmp, path)
