"""hosts.yaml → :class:`Inventory`, with every mistake reported as ``FILE:LINE: KEY: message``.

The file (see docs/architecture.md, "From hosts.yaml to a pixel")::

    ssh:                          # defaults for every host, all optional
      user: root
      port: 22
      identity: ~/.ssh/id_ed25519 # absent: the SSH agent and ~/.ssh/config decide
      known_hosts: ~/.ssh/known_hosts
      jump: null                  # bastion "[user@]host[:port]" (ProxyJump)
      config: ~/.ssh/config       # OpenSSH client config to honour; null = none
      connect_timeout: 5          # seconds
      keepalive_interval: 3       # seconds (a probe round every 2 s already notices a dead link)
      keepalive_count_max: 3
    probe:
      interval: 2                 # seconds between probe rounds
      timeout: 5                  # seconds a remote xe may take before it counts as hung
    pools:
      - name: lab
        hosts:
          - name: plot1
            address: 192.0.2.11   # management IP, as other hosts' pool.conf shows it
            # optional: port, user, ssh_host, identity, known_hosts

Rules worth knowing:

* Relative paths are relative to the hosts.yaml file; ``~`` is expanded.
* Files the user *named* (``identity``, ``known_hosts``, ``config``, at the top or per
  host) must exist and be readable at load time. Defaults are not checked here: a
  missing default ``~/.ssh/known_hosts`` is reported when a connection needs it,
  ``~/.ssh/config`` is used only if it exists, and without ``identity`` the agent and
  the SSH config supply keys. So a fresh jump box can load the example file.
* ``known_hosts`` may not be ``null``: host keys are always verified.
* A per-host ``null`` means "use the ssh default".
* ``user`` and ``port`` are always resolved (``root`` and ``22`` unless set), so they
  win over ``~/.ssh/config``; a bastion's user and port stay ``None`` when not given,
  leaving them to the SSH config.
* Host names (``[A-Za-z0-9][A-Za-z0-9._-]{0,62}``) and addresses (IP or DNS name) end
  up in remote commands and file names, so nothing else is accepted. Names and
  addresses are unique across all pools.

Every problem raises :class:`ConfigError`, never another exception: the operator gets
one line pointing at the place to fix.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import platformdirs
from yaml.nodes import Node

from poolterm.config.ssh_config import check_ssh_config
from poolterm.datafile import DataFile, Keys, at_key, child, is_null, line_of
from poolterm.errors import ConfigError
from poolterm.xe import address_key, validate_address, validate_name

CONFIG_NAME = "hosts.yaml"
DEFAULT_USER = "root"
DEFAULT_PORT = 22
DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
DEFAULT_SSH_CONFIG = "~/.ssh/config"


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class JumpSpec:
    """A bastion to tunnel through; ``None`` parts are left to the SSH config/defaults."""

    user: str | None
    host: str
    port: int | None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port is not None else ""
        return f"{user}{host}{port}"


@dataclass(frozen=True)
class SshSettings:
    user: str = DEFAULT_USER
    port: int = DEFAULT_PORT
    identity: Path | None = None
    known_hosts: Path = field(default_factory=lambda: Path(DEFAULT_KNOWN_HOSTS).expanduser())
    jump: JumpSpec | None = None
    config: Path | None = field(default_factory=lambda: _default_ssh_config())
    connect_timeout: float = 5.0
    keepalive_interval: float = 3.0
    keepalive_count_max: int = 3


@dataclass(frozen=True)
class ProbeSettings:
    interval: float = 2.0
    timeout: float = 5.0
    #: xapi sessions plus TLS connections a minute the probe may cost each master in a healthy pool
    master_budget: int = 60


@dataclass(frozen=True)
class HostSpec:
    """One host, every value already resolved against the ssh defaults."""

    name: str
    pool: str
    address: str        # management address, as it appears in pool.conf
    ssh_host: str       # where SSH connects (the address unless overridden)
    port: int
    user: str
    identity: Path | None
    known_hosts: Path
    jump: JumpSpec | None


@dataclass(frozen=True)
class Pool:
    name: str
    hosts: tuple[HostSpec, ...]


@dataclass(frozen=True)
class Inventory:
    path: Path
    ssh: SshSettings
    probe: ProbeSettings
    pools: tuple[Pool, ...]
    _by_name: dict[str, HostSpec] = field(init=False, repr=False, compare=False)
    _by_address: dict[str, HostSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        hosts = self.hosts()
        object.__setattr__(self, "_by_name", {h.name: h for h in hosts})
        object.__setattr__(self, "_by_address", {address_key(h.address): h for h in hosts})

    def hosts(self) -> tuple[HostSpec, ...]:
        """Every host of every pool, in file order."""
        return tuple(host for pool in self.pools for host in pool.hosts)

    def pool(self, name: str) -> Pool:
        """The pool called ``name``; KeyError if there is none."""
        for pool in self.pools:
            if pool.name == name:
                return pool
        raise KeyError(name)

    def host(self, name: str) -> HostSpec:
        """The host called ``name``; KeyError if there is none."""
        return self._by_name[name]

    def by_address(self, address: str) -> HostSpec | None:
        """The host whose management address is ``address`` (as pool.conf names it), if any."""
        return self._by_address.get(address_key(address))


# --------------------------------------------------------------------------- finding and loading


def find_inventory(explicit: str | None, *, cwd: Path | None = None,
                   config_dir: Path | None = None) -> Path:
    """The hosts.yaml to use: ``explicit``, else ./hosts.yaml, else the user config dir's."""
    if explicit:
        return Path(explicit).expanduser()
    candidates = [
        (cwd or Path.cwd()) / CONFIG_NAME,
        (config_dir or Path(platformdirs.user_config_dir("poolterm"))) / CONFIG_NAME,
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = " and ".join(str(c) for c in candidates)
    raise ConfigError(CONFIG_NAME, f"no inventory found (looked at {looked}); "
                                   "pass one with -i PATH")


def load_inventory(path: str | os.PathLike[str]) -> Inventory:
    """Read, validate and resolve a hosts.yaml; :class:`ConfigError` on any problem."""
    path = Path(path)
    return _Loader.read(path).inventory(path)


# --------------------------------------------------------------------------- validation

_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,31}")

TOP = Keys(("ssh", "probe", "pools"))
SSH = Keys(("user", "port", "identity", "known_hosts", "jump", "config",
            "connect_timeout", "keepalive_interval", "keepalive_count_max"))
PROBE = Keys(("interval", "timeout", "master_budget"))
POOL = Keys(("name", "hosts"), required=("name",), missing=at_key("missing: every pool needs a name"))
HOST = Keys(("name", "address", "ssh_host", "port", "user", "identity", "known_hosts"),
            required=("name", "address"), missing=at_key("missing: every host needs a name and an address"))


class _Loader(DataFile):
    """Walks hosts.yaml's node tree; every check knows the node, hence the line."""

    error = ConfigError

    @property
    def base_dir(self) -> Path:
        """What relative paths in the file are relative to."""
        return Path(self.file).absolute().parent

    # ---- values particular to hosts.yaml

    def seconds(self, node: Node, key: str) -> float:
        return self.number(node, key, "expected a number of seconds, found {found}", above=0,
                           out_of_range="must be a positive number of seconds, not {text}")

    def checked(self, node: Node, key: str, validate, what: str) -> str:
        """A required-shape string passed through one of the xe validators."""
        text = self.string(node, key)
        if text is None:
            raise self.fail(node, key, f"must not be empty (expected {what})")
        try:
            return validate(text)
        except ValueError as exc:
            raise self.fail(node, key, str(exc)) from None

    def address(self, node: Node, key: str) -> str:
        return self.checked(node, key, validate_address, "an IP address or host name")

    def port(self, node: Node, key: str) -> int:
        return self.integer(node, key, 1, 65535)

    def user(self, node: Node, key: str) -> str | None:
        text = self.string(node, key)
        if text is not None and not _USER.fullmatch(text):
            raise self.fail(node, key, f"not a valid user name: {text!r}")
        return text

    def path(self, node: Node, key: str) -> Path | None:
        """A file the user named: it must exist and be readable now."""
        text = self.string(node, key)
        if text is None:
            return None
        if not text or "\0" in text:
            raise self.fail(node, key, "expected a file path")
        path = Path(os.path.expanduser(text))
        if not path.is_absolute():
            path = self.base_dir / path
        problem = _unreadable(path)
        if problem:
            raise self.fail(node, key, f"{problem}: {path}")
        return path

    def jump(self, node: Node, key: str) -> JumpSpec | None:
        text = self.string(node, key)
        if text is None:
            return None
        try:
            return parse_jump(text)
        except ValueError as exc:
            raise self.fail(node, key, str(exc)) from None

    # ---- sections

    def inventory(self, path: Path) -> Inventory:
        root = self.top("file is empty; expected 'pools:' with at least one pool")
        top = self.mapping(root, "", TOP)
        ssh = self.ssh(top["ssh"]) if "ssh" in top else SshSettings()
        check_ssh_config(ssh.config)  # before anything connects: every front end fails the same way
        probe = self.probe(top["probe"]) if "probe" in top else ProbeSettings()
        pools = self.pools(top.require("pools", "missing: list at least one pool with its hosts"), ssh)
        return Inventory(path=path, ssh=ssh, probe=probe, pools=pools)

    def ssh(self, node: Node) -> SshSettings:
        if is_null(node):
            return SshSettings()
        readers = {
            "user": lambda n, k: self.user(n, k) or DEFAULT_USER,
            "port": self.port,
            "identity": self.path,
            "known_hosts": self.known_hosts,
            "jump": self.jump,
            "config": self.path,
            "connect_timeout": self.seconds,
            "keepalive_interval": self.seconds,
            "keepalive_count_max": lambda n, k: self.integer(n, k, 1, 1000),
        }
        fields = self.mapping(node, "ssh", SSH)
        return SshSettings(**{name: readers[name](value, fields.at(name)) for name, value in fields.items()})

    def known_hosts(self, node: Node, key: str) -> Path:
        if self.string(node, key) is None:
            raise self.fail(node, key, "must name a file: host keys are always verified")
        return self.path(node, key)

    def probe(self, node: Node) -> ProbeSettings:
        if is_null(node):
            return ProbeSettings()
        fields = self.mapping(node, "probe", PROBE)
        values: dict[str, float | int] = {name: self.seconds(value, fields.at(name)) for name, value in fields.items()
                                          if name != "master_budget"}
        settings = ProbeSettings(**values)
        if "master_budget" not in fields:
            return settings
        # The master's own check each round is what notices its xapi hanging: the budget pays for it first.
        node, key = fields["master_budget"], fields.at("master_budget")
        budget = self.integer(node, key, 1, 100_000)
        floor = math.ceil(60 / settings.interval)
        if budget < floor:
            raise self.fail(node, key, f"must be at least {floor}: the master's own check every "
                                       f"{settings.interval:g} s costs {floor} a minute, not {budget}")
        return replace(settings, master_budget=budget)

    def pools(self, node: Node, ssh: SshSettings) -> tuple[Pool, ...]:
        items = self.sequence(node, "pools")
        if not items:
            raise self.fail(node, "pools", "no pools: list at least one pool with its hosts")
        seen = _Seen()
        pools = []
        for index, item in enumerate(items):
            fields = self.mapping(item, child("pools", index), POOL)
            name = self.checked(fields["name"], fields.at("name"), validate_name, "a pool name")
            seen.check(self, "pool name", name, fields["name"], fields.at("name"))
            hosts_node = fields.require("hosts", f"missing: pool {name!r} lists no hosts")
            hosts = self.hosts(hosts_node, fields.at("hosts"), name, ssh, seen)
            pools.append(Pool(name=name, hosts=hosts))
        return tuple(pools)

    def hosts(self, node: Node, key: str, pool: str, ssh: SshSettings, seen: _Seen) -> tuple[HostSpec, ...]:
        items = self.sequence(node, key)
        if not items:
            raise self.fail(node, key, f"pool {pool!r} is empty: list at least one host")
        return tuple(self.host(item, child(key, index), pool, ssh, seen)
                     for index, item in enumerate(items))

    def host(self, node: Node, key: str, pool: str, ssh: SshSettings, seen: _Seen) -> HostSpec:
        fields = self.mapping(node, key, HOST)
        name = self.checked(fields["name"], fields.at("name"), validate_name, "a host name")
        seen.check(self, "host name", name, fields["name"], fields.at("name"))
        address = self.address(fields["address"], fields.at("address"))
        seen.check(self, "address", address_key(address), fields["address"], fields.at("address"))

        def optional(field_name: str, read):
            if field_name not in fields:
                return None
            return read(fields[field_name], fields.at(field_name))

        ssh_host = optional("ssh_host", _unless_null(self.address))
        port = optional("port", _unless_null(self.port))
        user = optional("user", self.user)
        identity = optional("identity", self.path)
        known_hosts = optional("known_hosts", self.path)
        return HostSpec(
            name=name,
            pool=pool,
            address=address,
            ssh_host=ssh_host or address,
            port=port if port is not None else ssh.port,
            user=user or ssh.user,
            identity=identity or ssh.identity,
            known_hosts=known_hosts or ssh.known_hosts,
            jump=ssh.jump,
        )


def _unless_null(read):
    """Wrap a reader so that an explicit null means "not set here"."""
    return lambda node, key: None if is_null(node) else read(node, key)


class _Seen:
    """Values that must be unique across the whole file, remembering where each was first."""

    def __init__(self) -> None:
        self.first_line: dict[tuple[str, str], int] = {}

    def check(self, loader: _Loader, kind: str, value: str, node: Node, key: str) -> None:
        slot = (kind, value)
        if slot in self.first_line:
            first = self.first_line[slot]
            raise loader.fail(node, key, f"duplicate {kind} {node.value!r} (first used on line {first})")
        self.first_line[slot] = line_of(node)


def _unreadable(path: Path) -> str | None:
    """Why ``path`` cannot be used as a file the user named, or None if it can."""
    try:
        if not path.exists():
            return "file not found"
        if not path.is_file():
            return "not a regular file"
    except (OSError, ValueError) as exc:
        return f"cannot use ({exc})"
    if not os.access(path, os.R_OK):
        return "file not readable"
    return None


def _default_ssh_config() -> Path | None:
    path = Path(DEFAULT_SSH_CONFIG).expanduser()
    return path if path.is_file() else None


_BRACKETED = re.compile(r"\[(?P<host>[^\]]*)\](?::(?P<port>[^:]*))?")


def parse_jump(text: str) -> JumpSpec:
    """``[user@]host[:port]`` with ``[v6addr]:port`` for IPv6; ValueError with a one-line reason."""
    user: str | None = None
    rest = text
    if "@" in text:
        user, _, rest = text.partition("@")
    port_text: str | None = None
    bracketed = _BRACKETED.fullmatch(rest)
    if bracketed:
        host, port_text = bracketed["host"], bracketed["port"]
        if ":" not in host:
            raise ValueError(f"expected [user@]host[:port]; brackets are for IPv6 addresses, not {host!r}")
    elif rest.count(":") == 1:
        host, port_text = rest.split(":")
    else:
        host = rest
    problem = "expected [user@]host[:port]"
    if user is not None and not _USER.fullmatch(user):
        raise ValueError(f"{problem}; bad user name {user!r}")
    try:
        validate_address(host)
    except ValueError:
        raise ValueError(f"{problem}; bad host {host!r}") from None
    port = None
    if port_text is not None:
        if not port_text.isascii() or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise ValueError(f"{problem}; bad port {port_text!r} (1..65535)")
        port = int(port_text)
    return JumpSpec(user=user, host=host, port=port)
