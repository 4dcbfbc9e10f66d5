"""The simulated pool as a pure state machine: hosts, their links, their xapis and
pool databases, advanced by explicit time. No I/O, no clock: ``now`` is always passed in.

The runtime (SSH servers, shell, control socket) drives it through the public methods
below, which are its whole contract. Every public method that takes ``now`` first runs
the timers due by then, so callers never see a stale world.

Why one module of this size: the world's public methods are the simulator's whole contract;
keeping them together keeps that contract in one place (hosts, xapi and the pool DB live apart).
"""

from __future__ import annotations

import hashlib
import random
import uuid as uuidlib
from dataclasses import dataclass
from datetime import timedelta

from poolterm.sim import xe as xe_cli
from poolterm.sim.ha import HA_FENCE, LOCAL_DB, XHA_LOG, XHAD_CONF, Ha, number
from poolterm.sim.host import (
    BOOTING,
    HUNG,
    LOG_EPOCH,
    MASTER,
    OFF,
    ON,
    RUNNING,
    SHUTTING_DOWN,
    STARTING,
    STOPPED,
    SimHost,
    parse_pool_conf,
    role_master_address,
)
from poolterm.sim.meters import Meter
from poolterm.sim.outcomes import SimError, XeAsk, XeDone, XeHang
from poolterm.sim.pooldb import HostRecord, PoolDB
from poolterm.sim.timers import Timer, TimerQueue
from poolterm.sim.xapi import ROOT_PASSWORD, Xapi

__all__ = [
    "World", "SimParams", "SimError", "XeDone", "XeHang", "XeAsk", "default_addresses", "ROOT_PASSWORD", "LOG_EPOCH",
    "PoolPlan", "pool_layout",
]

POOL_CONF = "/etc/xensource/pool.conf"
INVENTORY = "/etc/xensource-inventory"
PTOKEN = "/etc/xensource/ptoken"
INIT_COOKIE = "/var/run/xapi_init_complete.cookie"
STARTUP_COOKIE = "/var/run/xapi_startup.cookie"
XAPI_LOG = "/var/log/xensource.log"
TOOLSTACK_BANNER = "Executing xe-toolstack-restart\n"

INVENTORY_TEXT = (
    "PRODUCT_BRAND='XCP-ng'\n"
    "PRODUCT_NAME='xenenterprise'\n"
    "PRODUCT_VERSION='8.3.0'\n"
    "PRODUCT_VERSION_TEXT='8.3'\n"
    "PRODUCT_VERSION_TEXT_SHORT='8.3'\n"
    "PLATFORM_NAME='XCP'\n"
    "PLATFORM_VERSION='3.4.0'\n"
    "BUILD_NUMBER='cloud'\n"
    "KERNEL_VERSION='4.19.0+1'\n"
    "XEN_VERSION='4.17.5-3'\n"
    "INSTALLATION_DATE='2024-10-15 09:12:40.532106'\n"
    "PRIMARY_DISK='/dev/disk/by-id/scsi-3600508b1001c{disk}'\n"
    "BACKUP_PARTITION='/dev/disk/by-id/scsi-3600508b1001c{disk}-part2'\n"
    "INSTALLATION_UUID='{host}'\n"
    "CONTROL_DOMAIN_UUID='{dom0}'\n"
    "DOM0_MEM='4304'\n"
    "DOM0_VCPUS='16'\n"
    "MANAGEMENT_INTERFACE='xenbr0'\n"
    "MANAGEMENT_ADDRESS_TYPE='IPv4'\n"
)


@dataclass(frozen=True)
class SimParams:
    fuse: float = 10.0  # xapi's fuse_time: a role change restarts xapi this long after the command
    boot: float = 5.0  # power-on -> sshd up and xapi process starting
    xapi_start: float = 2.0  # xapi process start -> role decided (master up / slave hello attempted)
    shutdown: float = 1.0  # host-shutdown / ctl shutdown: command -> powered off
    emergency_retry: float = 5.0  # slave in emergency start-up: retry Pool.hello after a temporary error
    permanent_retry: float = 60.0  # ... after a permanent error (HOST_UNKNOWN_TO_MASTER)
    dead_after: float = 600.0  # master marks host-metrics-live=false after this long without a heartbeat
    ha_timeout: float = 60.0  # T: xhad's heartbeat and statefile timeout (pool-ha-enable's default)
    ha_poll: float = 2.0  # a liveset change -> xapi acting on it (xapi polls every 20 s; compressed)


def default_addresses(n: int) -> list[str]:
    """``n`` distinct loopback management addresses: 127.77.0.11, 127.77.0.12, ...
    (last octets 0 and 255 are skipped, so every address looks like a host's)."""
    out: list[str] = []
    k = 11
    while len(out) < n:
        third, fourth = divmod(k, 256)
        if 0 < fourth < 255:
            out.append(f"127.77.{third}.{fourth}")
        k += 1
    return out


@dataclass(frozen=True)
class PoolPlan:
    """One pool as the simulator builds it: its name-label and its hosts, the first its master."""

    name: str
    hosts: tuple[str, ...]

    @property
    def master(self) -> str:
        return self.hosts[0]


def pool_layout(n_hosts: int, pools: int = 1, pool_name: str = "lab") -> list[PoolPlan]:
    """How ``n_hosts`` hosts plot1..plotN are split into ``pools`` pools: contiguous runs, as even as
    possible, the first pools taking the remainder. One pool is named ``pool_name``; several are
    ``pool_name`` and their number zero-padded to the width of ``pools`` (lab01..lab50), so that the
    names sort in pool order."""
    if pools < 1:
        raise SimError("the simulator needs at least one pool")
    if n_hosts < pools:
        raise SimError(f"{pools} pools need at least {pools} hosts (one each), not {n_hosts}")
    width = len(str(pools))
    size, extra = divmod(n_hosts, pools)
    plans, first = [], 1
    for i in range(pools):
        count = size + (1 if i < extra else 0)
        name = pool_name if pools == 1 else f"{pool_name}{i + 1:0{width}d}"
        plans.append(PoolPlan(name, tuple(f"plot{k}" for k in range(first, first + count))))
        first += count
    return plans


class World:
    """Hosts plot1..plotN on one network, in one pool or several (``pools``, laid out by
    :func:`pool_layout`). Each pool has its own uuid, name, secret and master; hosts of different
    pools share only the network, so they meet as real hosts of different pools do (a slave pointed
    at another pool's master is refused for its secret; ``pool-join`` across pools works)."""

    def __init__(
        self,
        n_hosts: int,
        *,
        params: SimParams = SimParams(),
        pool_name: str = "lab",
        pools: int = 1,
        addresses: list[str] | None = None,
        seed: int = 0,
        now: float = 0.0,
        ha: bool = False,
    ):
        if n_hosts < 1:
            raise SimError("a pool needs at least one host")
        self.pools = pool_layout(n_hosts, pools, pool_name)
        addresses = list(addresses) if addresses is not None else default_addresses(n_hosts)
        if len(addresses) != n_hosts:
            raise SimError(f"{n_hosts} hosts need {n_hosts} addresses, got {len(addresses)}")
        if len(set(addresses)) != n_hosts:
            raise SimError("host addresses must be distinct")
        self.params = params
        self.version = 0
        self.now = now
        self.names = [f"plot{i}" for i in range(1, n_hosts + 1)]
        self._timers = TimerQueue()
        self._hosts: dict[str, SimHost] = {}
        self._by_address: dict[str, SimHost] = {}
        self._by_uuid: dict[str, SimHost] = {}
        self._rng = random.Random(seed)
        self.installs: dict[str, int] = {name: 1 for name in self.names}
        # The simulator's meters, by host name: a reinstall keeps them (poolterm.sim.meters).
        self.meters: dict[str, Meter] = {name: Meter() for name in self.names}
        # Pairs of host names that cannot reach each other (`sim ctl cut`), whatever else they reach.
        self._cuts: set[frozenset[str]] = set()
        # The pool each host was built in (status reports it; what the host believes now is its pool.conf).
        self.built_in: dict[str, str] = {name: plan.name for plan in self.pools for name in plan.hosts}
        at = dict(zip(self.names, addresses))
        for plan in self.pools:
            self._build([at[name] for name in plan.hosts], plan, now)
        self.xapi = Xapi(self)
        self.ha = Ha(self)
        if ha:
            for plan in self.pools:
                self._start_with_ha([self._hosts[name] for name in plan.hosts], now)

    def new_uuid(self) -> str:
        """A random v4 uuid from the world's seeded generator (same seed, same uuids)."""
        return str(uuidlib.UUID(int=self._rng.getrandbits(128), version=4))

    def _build(self, addresses: list[str], plan: PoolPlan, now: float) -> None:
        new_uuid = self.new_uuid
        pool_uuid, sr_uuid, ptoken = new_uuid(), new_uuid(), new_uuid()
        records = []
        for name, address in zip(plan.hosts, addresses):
            records.append(HostRecord(new_uuid(), name, address, dom0_uuid=new_uuid(), local_sr_uuid=new_uuid()))
        db = PoolDB(pool_uuid, plan.name, records[0].uuid, sr_uuid, hosts={r.uuid: r for r in records})
        db.last_seen = {r.uuid: now for r in records}
        backup = db.snapshot()
        for i, rec in enumerate(records):
            master = i == 0
            conf = MASTER if master else f"slave:{records[0].address}"
            host = SimHost(
                name=rec.name_label,
                uuid=rec.uuid,
                address=rec.address,
                dom0_uuid=rec.dom0_uuid,
                local_sr_uuid=rec.local_sr_uuid,
                ptoken=ptoken,
                inventory=INVENTORY_TEXT.format(host=rec.uuid, dom0=rec.dom0_uuid, disk=rec.uuid[:8]),
                pool_conf=conf,
                db=db if master else backup,
                role=conf,
                init_complete=True,
                startup_cookie=True,
            )
            self._hosts[host.name] = host
            self._by_address[host.address] = host
            self._by_uuid[host.uuid] = host

    def _start_with_ha(self, hosts: list[SimHost], now: float) -> None:
        """A pool as it is once `pool-ha-enable` has run: every host armed and live."""
        master = hosts[0]
        timeout = self.params.ha_timeout
        config = {"timeout": number(timeout)}
        cluster = self.ha.enable(master, hosts, timeout, now)
        master.db.configure_ha(config, (cluster.conf.vdi_uuid,))
        master.db.set_ha(True)
        for host in hosts[1:]:
            host.db = master.db.snapshot()

    # ------------------------------------------------------------------
    # lookups
    # ------------------------------------------------------------------

    def host(self, name: str) -> SimHost:
        try:
            return self._hosts[name]
        except KeyError:
            raise SimError(f"no host named {name!r} (hosts are {self.names[0]}..{self.names[-1]})") from None

    def by_address(self, address: str) -> str | None:
        host = self._by_address.get(address)
        return host.name if host else None

    def host_at(self, address: str) -> SimHost | None:
        return self._by_address.get(address)

    def host_by_uuid(self, uuid: str) -> SimHost | None:
        return self._by_uuid.get(uuid)

    def host_named(self, name_or_address: str | None) -> SimHost | None:
        """The host a name or an address reaches (pool-join writes the address as typed)."""
        resolved = self.resolve(name_or_address) if name_or_address else None
        return self._by_address.get(resolved) if resolved else None

    def resolve(self, name_or_address: str) -> str | None:
        """gethostbyname as the hosts see it: an address, or a host name the pool's DNS knows."""
        if name_or_address in self._by_address:
            return name_or_address
        host = self._hosts.get(name_or_address)
        if host is not None:
            return host.address
        parts = name_or_address.split(".")
        if len(parts) == 4 and all(p.isdigit() and int(p) < 256 for p in parts):
            return name_or_address
        return None

    def hosts(self) -> list[SimHost]:
        return [self._hosts[n] for n in self.names]

    # ------------------------------------------------------------------
    # time
    # ------------------------------------------------------------------

    def advance(self, now: float) -> None:
        """Run every timer due at or before ``now``, in order, each at its own due time."""
        while True:
            timer = self._timers.pop_due(now)
            if timer is None:
                break
            if self._timer_valid(timer):
                self.now = max(self.now, timer.due)
                self._fire(timer)
        self.now = max(self.now, now)

    def next_due(self) -> float | None:
        return self._timers.next_due(self._timer_valid)

    def schedule(self, due: float, host: SimHost, kind: str) -> None:
        token = host.power_seq if kind in _POWER_TIMERS else host.xapi_epoch
        self._timers.schedule(due, host.name, kind, token)

    def schedule_world(self, due: float, kind: str, token: int) -> None:
        """A timer of no host (HA's periodic tick); its owner says whether the token is current."""
        self._timers.schedule(due, "", kind, token)

    def _timer_valid(self, timer: Timer) -> bool:
        if not timer.host:
            return self.ha.timer_valid(timer.kind, timer.token)
        host = self._hosts[timer.host]
        current = host.power_seq if timer.kind in _POWER_TIMERS else host.xapi_epoch
        return timer.token == current

    def _fire(self, timer: Timer) -> None:
        now = timer.due
        if not timer.host:
            self.ha.on_timer(timer.kind, now)
            return
        host = self._hosts[timer.host]
        if timer.kind == HA_FENCE:
            self.ha.fence_now(host, now)
        elif timer.kind == "booted":
            self._set_power(host, ON, now)
            self.xapi.start(host, now)
        elif timer.kind == "powered-off":
            self._set_power(host, OFF, now)
            host.off_kind = "graceful"
        elif timer.kind == "reboot-off":
            self._set_power(host, OFF, now)
            host.off_kind = "graceful"
            self._power_on(host, now)
        else:
            self.xapi.on_timer(host, timer.kind, now)

    def changed(self) -> None:
        self.version += 1

    # ------------------------------------------------------------------
    # faults (poolterm sim ctl)
    # ------------------------------------------------------------------

    def shutdown(self, name: str, now: float) -> None:
        """Graceful power-off: the OS stops xapi, then the host powers off."""
        host = self._ctl_host(name, now)
        if host.power not in (ON, BOOTING):
            raise SimError(f"{name} is {host.power}; only a running or booting host can be shut down")
        self.begin_shutdown(host, now, reboot=False)

    def crash(self, name: str, now: float) -> None:
        """Power loss: everything stops at once, nobody is told."""
        host = self._ctl_host(name, now)
        if host.power == OFF:
            raise SimError(f"{name} is already powered off")
        self.xapi.stop(host, now)
        self._set_power(host, OFF, now)
        host.off_kind = "crash"
        self.log(host, now, "warn", "power lost")

    def poweron(self, name: str, now: float) -> None:
        host = self._ctl_host(name, now)
        if host.power != OFF:
            raise SimError(f"{name} is {host.power}; only a powered-off host can be powered on")
        self._power_on(host, now)

    def cable_out(self, name: str, now: float) -> None:
        host = self._ctl_host(name, now)
        if host.link == "down":
            raise SimError(f"{name}'s cable is already out")
        self.xapi.settle(host, now)
        host.link = "down"
        self.changed()

    def cable_in(self, name: str, now: float) -> None:
        host = self._ctl_host(name, now)
        if host.link == "up":
            raise SimError(f"{name}'s cable is already in")
        self.xapi.settle(host, now)
        host.link = "up"
        if host.ha_waiting:
            # xhad was still in its boot join: it joins as soon as it hears the others.
            self.ha.retry(host, now, early=True)
        self.changed()

    def cut(self, name: str, peer: str, now: float) -> None:
        """`name` and `peer` can no longer reach each other; each still reaches everyone else
        (and the jump box reaches both): a firewall dropping their packets to each other."""
        a, b = self._cut_pair(name, peer, now)
        if self.cut_apart(a, b):
            raise SimError(f"{name} and {peer} are already cut apart")
        self._settle_pair(a, b, now)
        self._cuts.add(frozenset((a.name, b.name)))
        self.changed()

    def uncut(self, name: str, peer: str, now: float) -> None:
        a, b = self._cut_pair(name, peer, now)
        if not self.cut_apart(a, b):
            raise SimError(f"{name} and {peer} are not cut apart")
        self._settle_pair(a, b, now)
        self._cuts.discard(frozenset((a.name, b.name)))
        for host in (a, b):
            if host.ha_waiting:
                # As after cable-in: a boot join still waiting hears the other at once.
                self.ha.retry(host, now, early=True)
        self.changed()

    def _cut_pair(self, name: str, peer: str | None, now: float) -> tuple[SimHost, SimHost]:
        if not peer:
            raise SimError("cut and uncut need two hosts: HOST and PEER")
        a, b = self.host(name), self.host(peer)
        if a is b:
            raise SimError(f"{name} cannot be cut from itself")
        self.advance(now)
        return a, b

    def _settle_pair(self, a: SimHost, b: SimHost, now: float) -> None:
        """Heartbeats and HA's view up to now, before the link between a and b changes."""
        self.xapi.settle(a, now)
        self.xapi.settle(b, now)

    def hang_xapi(self, name: str, now: float) -> None:
        host = self._ctl_host(name, now)
        if host.xapi != RUNNING:
            raise SimError(f"{name}'s xapi is {host.xapi}; only a running xapi can hang")
        self.xapi.settle(host, now)
        host.xapi = HUNG
        host.hung_since = now
        self.changed()

    def unhang_xapi(self, name: str, now: float) -> None:
        host = self._ctl_host(name, now)
        if host.xapi != HUNG:
            raise SimError(f"{name}'s xapi is {host.xapi}, not hung")
        host.xapi = RUNNING
        host.hung_since = None
        self.xapi.on_unhang(host, now)
        self.changed()

    def statefile_out(self, name: str, now: float) -> None:
        """The host loses its path to the heartbeat SR (the statefile); the network is untouched."""
        host = self._ctl_host(name, now)
        if host.statefile == "down":
            raise SimError(f"{name}'s statefile path is already out")
        self.ha.sample(now)
        host.statefile = "down"
        self.changed()

    def statefile_in(self, name: str, now: float) -> None:
        host = self._ctl_host(name, now)
        if host.statefile == "up":
            raise SimError(f"{name}'s statefile path is already in")
        self.ha.sample(now)
        host.statefile = "up"
        self.changed()

    def reinstall(self, name: str, now: float) -> None:
        """A fresh install on a powered-off host: new identity, its own pool of one.

        Keeps what an installer is told (host name, management address) and nothing
        else: new INSTALLATION_UUID and dom0, pool.conf `master`, a new pool secret and
        a database listing only itself. It comes up so when powered on."""
        host = self._ctl_host(name, now)
        if host.power != OFF:
            raise SimError(f"{name} is {host.power}; power it off before reinstalling it")
        del self._by_uuid[host.uuid]
        rec = HostRecord(self.new_uuid(), host.name, host.address, dom0_uuid=self.new_uuid(),
                         local_sr_uuid=self.new_uuid())
        db = PoolDB(self.new_uuid(), "", rec.uuid, rec.local_sr_uuid, hosts={rec.uuid: rec})
        host.uuid, host.dom0_uuid, host.local_sr_uuid = rec.uuid, rec.dom0_uuid, rec.local_sr_uuid
        host.ptoken = self.new_uuid()
        host.inventory = INVENTORY_TEXT.format(host=rec.uuid, dom0=rec.dom0_uuid, disk=rec.uuid[:8])
        host.pool_conf = MASTER
        host.db = db
        host.ha_armed = False
        host.xhad_conf = None
        host.excluded = False
        host.ha_waiting = False
        host.failover_at = None
        host.xapimon_restart = None
        host.auto_enable = True
        host.log.clear()  # the logs lived on the disk the installer wiped
        host.xha_log.clear()
        self._by_uuid[host.uuid] = host
        self.installs[name] += 1
        self.changed()

    def _ctl_host(self, name: str, now: float) -> SimHost:
        host = self.host(name)
        self.advance(now)
        return host

    # -- power transitions (also used by host-shutdown / host-reboot) --------

    def begin_shutdown(self, host: SimHost, now: float, *, reboot: bool) -> None:
        self.xapi.stop(host, now)
        self._set_power(host, SHUTTING_DOWN, now)
        self.schedule(now + self.params.shutdown, host, "reboot-off" if reboot else "powered-off")

    def hard_reboot(self, host: SimHost, now: float) -> None:
        """The Xen watchdog (a fence): dom0 dies at once and the machine boots again."""
        self.xapi.stop(host, now)
        self._set_power(host, OFF, now)
        host.off_kind = "crash"
        self._power_on(host, now)

    def _power_on(self, host: SimHost, now: float) -> None:
        host.boot_epoch += 1
        self._set_power(host, BOOTING, now)
        self.schedule(now + self.params.boot, host, "booted")

    def _set_power(self, host: SimHost, power: str, now: float) -> None:
        self.xapi.settle(host, now)
        host.power = power
        host.power_seq += 1
        if power != ON:
            host.xhad = False  # dom0 going down takes the daemon with it; nobody excluded it
            host.failover_at = None
        self.changed()

    # ------------------------------------------------------------------
    # the network
    # ------------------------------------------------------------------

    def reachable(self, a: SimHost, b: SimHost) -> bool:
        """Can a's dom0 open a connection to b's (both powered on, both cables in, not cut apart)?"""
        return a is b or (a.net_up and b.net_up and not self.cut_apart(a, b))

    def cut_apart(self, a: SimHost, b: SimHost) -> bool:
        return bool(self._cuts) and frozenset((a.name, b.name)) in self._cuts

    def cut_pairs(self) -> list[tuple[SimHost, SimHost]]:
        """Every pair of hosts cut apart."""
        return [(self._hosts[a], self._hosts[b]) for a, b in (sorted(pair) for pair in self._cuts)]

    def cut_from(self, h: SimHost) -> list[str]:
        """The hosts `h` is cut apart from, in host order (status asks for every host: no scan
        of the pool for a host without cuts)."""
        peers = {name for pair in self._cuts if h.name in pair for name in pair if name != h.name}
        return [name for name in self.names if name in peers] if peers else []

    def net_face(self, name: str) -> tuple[str, int]:
        host = self.host(name)
        if host.link == "down" or (host.power == OFF and host.off_kind == "crash"):
            face = "blackhole"
        elif host.power == ON:
            face = "up"
        else:
            face = "refuse"
        return face, host.boot_epoch

    def xapi_port(self, src_name: str, address: str, now: float) -> str:
        """What ``curl https://<address>/`` run on src sees. A connection the target accepts
        counts on its meter: answered ("ok"), or taken and never answered by a hung xapi
        (stunnel completes TLS in front of xapi, then the request waits on xapi)."""
        src = self.host(src_name)
        self.advance(now)
        resolved = self.resolve(address)
        target = self.host_at(resolved) if resolved else None
        if target is None or (target is not src and (not src.net_up or self.cut_apart(src, target))):
            return "timeout"
        face = self.net_face(target.name)[0] if target is not src else "up"
        if face == "blackhole":
            return "timeout"
        if face == "refuse" or target.xapi in (STOPPED, STARTING):
            return "refused"
        self.meters[target.name].https()
        return "ok" if target.xapi == RUNNING else "timeout"

    def ping(self, src_name: str, address: str, now: float) -> tuple[str, bool] | None:
        """``ping ADDRESS`` from src: the address it resolves to and whether the echo reply
        comes back. The target's kernel answers ICMP whatever its xapi does, so it costs xapi
        nothing and counts on no meter. None: the name does not resolve."""
        src = self.host(src_name)
        self.advance(now)
        resolved = self.resolve(address)
        if resolved is None:
            return None
        target = self.host_at(resolved)
        return resolved, target is not None and self.reachable(src, target)

    # ------------------------------------------------------------------
    # what commands on a host see
    # ------------------------------------------------------------------

    def xapi_epoch(self, name: str) -> int:
        return self.host(name).xapi_epoch

    def systemctl_xapi(self, name: str) -> str:
        state = self.host(name).xapi
        if state in (RUNNING, HUNG):
            return "active"
        return "activating" if state == STARTING else "inactive"

    def read_file(self, name: str, path: str) -> str | None:
        host = self.host(name)
        if path == POOL_CONF:
            return host.pool_conf
        if path == INVENTORY:
            return host.inventory
        if path == PTOKEN:
            return host.ptoken
        if path == INIT_COOKIE:
            return "" if host.init_complete else None
        if path == STARTUP_COOKIE:
            return "" if host.startup_cookie else None
        if path == XHAD_CONF:
            return self.ha.xhad_conf(host)
        if path == LOCAL_DB:
            return self.ha.local_db(host)
        if path == XHA_LOG:
            return self.ha.xha_log(host)
        if path == XAPI_LOG:
            return "".join(line + "\n" for line in host.log)
        return None

    def write_file(self, name: str, path: str, content: str) -> None:
        """A shell writing pool.conf by hand (``echo master > pool.conf``): xapi only sees it at its next start."""
        host = self.host(name)
        if path != POOL_CONF:
            raise SimError(f"{path} cannot be written on a simulated host")
        host.pool_conf = content
        self.changed()

    def plant_file(self, name: str, path: str, content: str, now: float) -> None:
        """Replace a file the probe reads, whatever it holds (``sim ctl write-file``): the way
        to give a host a hostile or damaged pool.conf or inventory. Like an edit by hand,
        xapi only acts on it at its next start."""
        host = self.host(name)
        if path == POOL_CONF:
            host.pool_conf = content
        elif path == INVENTORY:
            host.inventory = content
        else:
            raise SimError(f"{path} cannot be written on a simulated host (only {POOL_CONF} and {INVENTORY})")
        self.changed()

    def set_name_label(self, name: str, label: str, now: float) -> None:
        """``xe host-param-set uuid=<host> name-label=LABEL`` on the pool's master, pushed to every
        database that lists the host (``sim ctl set-name-label``): any text at all, as xapi takes it."""
        uuid = self.host(name).uuid
        for host in self.hosts():
            if uuid in host.db:
                host.db = host.db.writable()
                host.db.update_host(uuid, name_label=label)
        self.changed()

    def xe(self, name: str, argv: list[str], now: float, *, reply: str | None = None) -> XeDone | XeHang | XeAsk:
        """``xe ARGV`` on the host; ask again with the same argv after an XeHang, and with the
        line read after an XeAsk. The xapi that answers counts one session, once: at its first
        answer (a blocked command counts when it is answered, never while it waits; the
        reply to a prompt is the same session)."""
        host = self.host(name)
        self.advance(now)
        answer = xe_cli.run(self, host, list(argv), now, reply)
        if answer.by is not None and reply is None and not isinstance(answer.outcome, XeHang):
            self.meters[answer.by.name].session(answer.command)
        return answer.outcome

    def toolstack_restart(self, name: str, now: float) -> XeDone:
        """``xe-toolstack-restart`` (xen-api scripts/xe-toolstack-restart): restart xapi,
        which re-reads pool.conf."""
        host = self.host(name)
        self.advance(now)
        if host.power != ON:
            # systemd refuses to start services while the host is going down (set -e stops the script)
            return XeDone(TOOLSTACK_BANNER, "Failed to start xapi.service: Transaction is destructive.\n", 1)
        self.xapi.start(host, now)
        if host.xhad:
            # xhad sees xapi go and fences at once; the script has printed its lines by then.
            self.schedule(now, host, HA_FENCE)
        return XeDone(TOOLSTACK_BANNER + "done.\n", "", 0)

    def ha_query_liveset(self, name: str, now: float) -> tuple[str, int]:
        """``/usr/libexec/xapi/cluster-stack/xhad/ha_query_liveset`` on this host: (stdout, exit status)."""
        host = self.host(name)
        self.advance(now)
        return self.ha.query_liveset(host, now)

    # ------------------------------------------------------------------
    # logs
    # ------------------------------------------------------------------

    def log(self, host: SimHost, now: float, level: str, message: str) -> None:
        """Append a line to the host's /var/log/xensource.log (bounded)."""
        stamp = (LOG_EPOCH + timedelta(seconds=now)).strftime("%b %d %H:%M:%S")
        host.log.append(f"{stamp} {host.name} xapi: [{level:>5}||0 ||xapi] {message}")

    # ------------------------------------------------------------------
    # ground truth
    # ------------------------------------------------------------------

    def status(self, now: float) -> dict:
        self.advance(now)
        hosts = [self._host_status(h) for h in self.hosts()]
        running = [h for h in self.hosts() if h.is_master]
        masters = [self._master_status(h, now) for h in running]
        pools = [{"name": p.name, "master": p.master, "hosts": list(p.hosts)} for p in self.pools]
        return {"time": now, "hosts": hosts, "masters": masters, "pools": pools, "ha": self.ha.status(running)}

    def _host_status(self, h: SimHost) -> dict:
        role = None if h.role is None else h.role.split(":", 1)[0]
        error = h.emergency_error[0] if h.emergency_error else None
        return {
            "name": h.name,
            "uuid": h.uuid,
            "address": h.address,
            "power": h.power,
            "link": h.link,
            "xapi": h.xapi,
            "pool_conf": h.pool_conf,
            "role": role if h.xapi_alive else None,
            "master_address": h.believed_master if h.xapi_alive else None,
            "emergency": h.emergency,
            "emergency_error": error,
            "enabled": self._enabled(h),
            "ptoken_sha256": hashlib.sha256(h.ptoken.encode()).hexdigest(),
            "installs": self.installs[h.name],
            "ha": self.ha.host_status(h),
            "cut_from": self.cut_from(h),
            **self.meters[h.name].status(),
        }

    def _enabled(self, h: SimHost) -> bool:
        """The host's enabled flag in the database of the master it belongs to, when that
        master runs; otherwise in the host's own copy."""
        role = h.role if h.role is not None else parse_pool_conf(h.pool_conf)
        master = h if role == MASTER else self.host_named(role_master_address(role))
        db = master.db if master is not None and master.is_master else h.db
        rec = db.record(h.uuid)
        return rec.enabled if rec is not None else True

    def _master_status(self, m: SimHost, now: float) -> dict:
        db = m.db
        return {
            "name": m.name,
            "pool_uuid": db.pool_uuid,
            "pool_name": db.name_label,
            "db_hosts": [
                {
                    "uuid": rec.uuid,
                    "name": rec.name_label,
                    "address": rec.address,
                    "enabled": rec.enabled,
                    "live": self.xapi.live(m, rec.uuid, now),
                }
                for rec in db.hosts.values()
            ],
        }


_POWER_TIMERS = frozenset({"booted", "powered-off", "reboot-off", HA_FENCE})
