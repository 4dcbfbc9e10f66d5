"""Fake pools and probe observations, shared by the tests and the benchmarks.

Two ways to build an :class:`Observation`:

- by its fields (:func:`connected`, :func:`unreachable`), where the probe's
  parsing is not what is under test (the diagnosis, the grid);
- through the probe's own output (:func:`probe_lines` then :func:`parse_probe`):
  the text the real probe prints on a host, fed to the real
  :class:`ProbeParser`, the way the live console builds them.

Each caller keeps its own naming scheme (addresses, uuids, secrets), because
those show up in its assertions and snapshots; the builders take them as
parameters. A :class:`Lab` binds one scheme (a pool, a clock, uuids, a secret)
to the builders the diagnosis, guard and engine tests write pool states with:
``up``, ``down``, ``master``, ``follower``, ``slave_of``, ``healthy``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from poolterm.diagnosis.diagnose import diagnose
from poolterm.model import DbHost, Diagnosis, Observation, Reach, XeCall
from poolterm.probing.probe import ProbeParser


# ---- pools --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Host:
    """A host as the inventory names it: what diagnose() needs of a configured host."""

    name: str
    address: str


@dataclass(frozen=True)
class Pool:
    """A configured pool: what diagnose() needs of one."""

    name: str
    hosts: tuple[Host, ...]


def host_names(count: int, prefix: str = "plot", digits: int = 1) -> list[str]:
    """``plot1`` .. ``plot{count}``; ``digits`` zero-pads the number (4: ``plot0001``)."""
    return [f"{prefix}{i:0{digits}}" for i in range(1, count + 1)]


def host_number(name: str, prefix: str = "plot") -> int:
    """The number in a name made by :func:`host_names`: 3 for ``plot3``."""
    return int(name.removeprefix(prefix))


def numbered_hosts(count: int, address: Callable[[int], str], prefix: str = "plot",
                   digits: int = 1) -> tuple[Host, ...]:
    """Hosts named by :func:`host_names`; ``address(i)`` gives host number i its address."""
    return tuple(Host(name, address(i)) for i, name in enumerate(host_names(count, prefix, digits), 1))


def numbered_pool(name: str, count: int, address: Callable[[int], str], prefix: str = "plot") -> Pool:
    """One pool of :func:`numbered_hosts`; its first host is the one the healthy builders make master."""
    return Pool(name, numbered_hosts(count, address, prefix))


# ---- observations by their fields ---------------------------------------------------------
def slave_conf(master_address: str) -> str:
    """pool.conf on a slave of the master at that address."""
    return f"slave:{master_address}"


def connected(name: str, pool_conf: str, *, at: float, **fields) -> Observation:
    """A host that answered a full probe round at ``at``: xapi active, not in emergency mode, its
    forwarded xe call answered. ``fields`` override any of those (and set the ones left out)."""
    values = dict(host=name, at=at, reach=Reach.CONNECTED, pool_conf=pool_conf, uuid=f"uuid-{name}",
                  xapi_service="active", emergency_flag=False, secret_hash="secret", xe=XeCall("answered"),
                  last_seen=at, complete=True)
    values.update(fields)
    return Observation(**values)


def unreachable(name: str, *, at: float, last_seen: float | None, stale: Observation | None = None,
                reach: Reach = Reach.TIMEOUT, **fields) -> Observation:
    """A host the probe could not reach at ``at``; ``stale``: what it said when it last answered."""
    return Observation(host=name, at=at, reach=reach, last_seen=last_seen, stale=stale, **fields)


def unreachable_after(previous: Observation, *, at: float, reach: Reach = Reach.TIMEOUT,
                      **fields) -> Observation:
    """The host of ``previous``, unreachable at ``at`` and last seen as ``previous`` says."""
    return unreachable(previous.host, at=at, last_seen=previous.last_seen, stale=previous, reach=reach, **fields)


def unreachable_since(name: str, pool_conf: str, *, seen: float, at: float, reach: Reach = Reach.TIMEOUT) -> Observation:
    """A host that answered a full round as ``pool_conf`` at ``seen`` and has been unreachable since, up to ``at``."""
    return unreachable_after(connected(name, pool_conf, at=seen), at=at, reach=reach)


def healthy(pools: Iterable[Pool], *, at: float) -> dict[str, Observation]:
    """Every host :func:`connected`; in each pool the first host is master and the rest its slaves."""
    return {host.name: connected(host.name, "master" if i == 0 else slave_conf(pool.hosts[0].address), at=at)
            for pool in pools for i, host in enumerate(pool.hosts)}


# ---- pool states in one lab's naming scheme ------------------------------------------------
#: The forwarded xe call of a host whose call did not answer, by its status (``code`` in
#: :meth:`Lab.up` sets the error code).
XE_FAILURES = {
    "hung": XeCall("hung"),
    "failed": XeCall("failed"),
    "refused": XeCall("refused", "Error: Connection refused", "XAPI_NOT_RUNNING"),
}


@dataclass(frozen=True)
class Lab:
    """One pool, its clock and its hosts' uuids and secret: the builders of its pool states.

    Every observation is of a complete probe round at ``now``, as the probe reports it:
    pool.conf, the forwarded ``xe`` call and whose uuid it answered, the master's database.
    """

    pool: Pool
    now: float
    secret: str
    uuid_of: Callable[[str], str]

    @property
    def names(self) -> list[str]:
        return [h.name for h in self.pool.hosts]

    def address(self, name: str) -> str:
        return next(h.address for h in self.pool.hosts if h.name == name)

    def slave_of(self, master: str) -> str:
        """pool.conf on a slave of ``master``."""
        return slave_conf(self.address(master))

    def db(self, *names: str) -> tuple[DbHost, ...]:
        """A master's database listing these hosts, each enabled and live."""
        return tuple(DbHost(self.uuid_of(n), n, self.address(n), True, True) for n in names)

    def up(self, name: str, conf: str, *, answered_by: str | None = None, xe: str = "answered",
           code: str | None = None, emergency: bool = False, db: Iterable[str] | None = None,
           service: str = "active", port: str | None = None, secret: str | None = None) -> Observation:
        """A host that answers SSH with pool.conf ``conf``.

        ``db``: it runs as master and lists these hosts. Otherwise its forwarded pool-list
        ``xe`` call answered (``answered_by``: with whose uuid) or ended ``hung``, ``failed``
        or ``refused`` (:data:`XE_FAILURES`, ``code`` its error code). ``emergency``: in
        emergency mode, its start-up not complete. ``port``: its check of the master's port;
        ``secret``: another pool's secret than the lab's.
        """
        pool_master_uuid = None
        if db is not None:
            call = XeCall("answered", "db")
        elif xe == "answered":
            call = XeCall("answered", self.uuid_of(answered_by) if answered_by else "")
            pool_master_uuid = self.uuid_of(answered_by) if answered_by else None
        else:
            call = replace(XE_FAILURES[xe], error_code=code or XE_FAILURES[xe].error_code)
        return connected(name, conf, at=self.now, uuid=self.uuid_of(name), init_complete=not emergency,
                         xapi_service=service, emergency_flag=emergency, secret_hash=secret or self.secret,
                         master_port=port, xe=call, pool_master_uuid=pool_master_uuid,
                         db_hosts=self.db(*db) if db is not None else None)

    def down(self, name: str, reach: Reach = Reach.REFUSED, was: str | Observation | None = None) -> Observation:
        """A host SSH does not reach; ``was``: what it said when last seen, 20 s ago (a pool.conf:
        :meth:`up` with it)."""
        stale = self.up(name, was) if isinstance(was, str) else was
        return unreachable(name, at=self.now, reach=reach, reach_detail="test",
                           last_seen=self.now - 20 if stale else None, stale=stale, complete=True)

    def master(self, name: str, members: Iterable[str] | None = None) -> Observation:
        """A working master whose database lists ``members`` (default: every host of the lab)."""
        return self.up(name, "master", db=self.names if members is None else members)

    def follower(self, name: str, of: str) -> Observation:
        """A slave of ``of`` whose forwarded pool-list ``of`` answered."""
        return self.up(name, self.slave_of(of), answered_by=of)

    @staticmethod
    def observe(*observations: Observation) -> dict[str, Observation]:
        return {o.host: o for o in observations}

    def healthy(self) -> dict[str, Observation]:
        """The first host is master and every other host its follower."""
        first, *others = self.names
        return self.observe(self.master(first), *(self.follower(n, first) for n in others))

    def diagnosed(self, observations: dict[str, Observation]) -> Diagnosis:
        return diagnose([self.pool], observations, self.now)


# ---- observations through the probe's output ----------------------------------------------
def probe_section(name: str, text: str, rc: int) -> list[str]:
    """One section of the probe's output: its ``@@name`` line, its text, the ``@@end rc`` marker."""
    lines = text.split("\n") if text else [""]
    lines[-1] = f"{lines[-1]} @@end {rc}"
    return [f"@@{name}", *lines]


def host_list_text(hosts: Iterable[DbHost]) -> str:
    """The master's database as the probe's ``xe host-list`` prints it."""
    records = []
    for host in hosts:
        records += [f"uuid ( RO)                 : {host.uuid}",
                    f"           name-label ( RW): {host.name}",
                    f"              address ( RO): {host.address}",
                    f"              enabled ( RO): {str(host.enabled).lower()}",
                    f"    host-metrics-live ( RO): {str(host.live).lower()}", "", ""]
    return "\n".join(records).rstrip("\n")


def probe_lines(*, conf: str, uuid: str, secret: str, master_uuid: str | None = None,
                db: Sequence[DbHost] | None = None, xe_rc: int = 0, mport: tuple[str, int] | None = None,
                emergency: str = "false") -> list[str]:
    """What the real probe command prints on a host whose xapi runs.

    ``db``: the host runs as master and lists these hosts; otherwise its forwarded
    ``xe`` call printed ``master_uuid`` (``xe_rc`` 0) or failed with ``xe_rc``.
    ``mport``: the (curl output, rc) of its check of the master's port.
    """
    lines = probe_section("conf", conf, 0)
    lines += probe_section("inv", f"PRIMARY_DISK='/dev/sda'\nINSTALLATION_UUID='{uuid}'", 0)
    lines += probe_section("secret", f"{secret}  /etc/xensource/ptoken", 0)
    lines += probe_section("init", "", 0)
    lines += probe_section("svc", "active", 0)
    lines += probe_section("emerg", emergency, 0)
    if mport is not None:
        lines += probe_section("mport", *mport)
    if db is not None:
        lines += probe_section("db", host_list_text(db), 0)
    elif xe_rc == 0:
        lines += probe_section("xe", master_uuid or "", 0)
    else:
        lines += probe_section("xe", "", xe_rc)
    return lines


def parse_probe(name: str, lines: Iterable[str], at: float) -> Observation:
    """The observation the real parser makes of a complete probe round's output."""
    parser = ProbeParser(name)
    for line in lines:
        parser.feed(line)
    return parser.observation(at, complete=True)
