"""HA: xhad, the daemon on every armed host, and the HA half of each xapi (`Xapi_ha`).

Follows docs/xapi.md, "## HA" (sources: xenserver/xha `daemon/sm.c` fault handler and
survival rules, `lock_mgr.c`, `xapi_mon.c`, `commands/calldaemon.c`; xen-api `xapi_ha.ml`,
`localdb.ml`, `hashtbl_xml.ml`). docs/simulator.md, "HA", lists what is simplified.

The model: every `pool-ha-enable` configures one statefile (a :class:`Cluster`) shared by
the hosts of that pool. Its liveset and master lock are one agreed state, as xhad's fault
handler makes them; each host has its own statefile path and network link, which decide
whether it survives. A periodic world timer (``ha-tick``, every min(1, T/10) s while some
xhad runs) runs the fault handler, xhad's xapi health check and xapi's HA monitor; the
faults and commands sample the state just before they change it, so "for T" counts from
the change itself, not from the previous tick.

Why one module of this size: xhad and xapi's HA code act on one shared state (liveset,
lock, armed flags); fencing, election and start-up call each other and read best whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from poolterm.sim.api_errors import ApiError
from poolterm.sim.host import (
    BROKEN,
    HUNG,
    LOG_EPOCH,
    MASTER,
    ON,
    RUNNING,
    SLAVE_PREFIX,
    SimHost,
    parse_pool_conf,
    role_master_address,
)

if TYPE_CHECKING:
    from poolterm.sim.world import World

LOCAL_DB = "/var/lib/xcp/local.db"
XHAD_CONF = "/etc/xensource/xhad.conf"
XHA_LOG = "/var/log/xha.log"
QUERY_LIVESET = "/usr/libexec/xapi/cluster-stack/xhad/ha_query_liveset"
DAEMON_IS_NOT_PRESENT = 14  # MTC_EXIT_DAEMON_IS_NOT_PRESENT

HA_TICK = "ha-tick"  # world timer: fault handler, xapi health check, xapi's HA monitor
HA_RETRY = "ha-retry"  # xapi timer: the start-up loop tries to join the liveset again
HA_FENCE = "ha-fence"  # power timer: a fence decided inside a command, carried out just after it

XAPI_RESTART_BUDGET = 86400.0  # xapi_mon.c: one xapi restart a day, then a failure fences
MIN_TIMEOUT = 10  # Timeouts.derive: "constraint violation: timeout >= 10"
EPSILON = 1e-9  # ticks add up floats: "T has passed" must not miss by a rounding error

BUILT = "Oct  2 13:47:26 UTC 2024"  # xhad's BUILD_DATE (`date "+%b %e %T %Z %Y"`); BUILD_ID is empty
SURVIVAL_FAILED = ("err", "Survival rule failed (1905) FH: Survival Rule is not met for the local host.  - Self-Fence.")
XAPI_FAILED = ("err", "Xapi has gone offline (2000) Xapimon: Xapi failed.  - Self-Fence.")

# Xapi_globs defaults xapi writes into xhad.conf whatever T is.
XAPI_HEALTH_CHECK = {
    "XapiHealthCheckInterval": 60,
    "XapiHealthCheckTimeout": 120,
    "XapiRestartAttempts": 1,
    "XapiRestartTimeout": 300,
}
# What ha_query_liveset reports as latencies (ms): the simulator has no I/O to time.
LATENCIES = {"statefile": (12, 37, 5), "heartbeat": (3004, 3011, 3001), "Xapi_healthcheck": (410, 820, 301)}


def number(x: float) -> str:
    """T and what derives from it as xapi writes them: an integer when whole."""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def derive(t: float) -> dict[str, float]:
    """`Xapi_ha.Timeouts.derive` (8.3), the values xapi writes into xhad.conf."""
    return {
        "HeartbeatInterval": min((t + 10) // 10, 3),
        "HeartbeatTimeout": t,
        "StateFileInterval": max(2, t // 20),
        "StateFileTimeout": t,
        "HeartbeatWatchdogTimeout": t,
        "StateFileWatchdogTimeout": t + 15,
        "BootJoinTimeout": t + 60,
        "EnableJoinTimeout": t + 60,
        **XAPI_HEALTH_CHECK,
    }


def xml_escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
        .replace("'", "&apos;")
    )


def sexpr_string(text: str) -> str:
    """`SExpr.string_of` for a String atom: quoted, ``\\`` and ``'`` escaped."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def peers_sexpr(peers: Iterable[tuple[str, str]]) -> str:
    """local.db `ha_peers` (`String_marshall_helper.map`): ``(('<uuid>' '<ip>') ...)``."""
    return "(" + " ".join(f"({sexpr_string(u)} {sexpr_string(ip)})" for u, ip in peers) + ")"


@dataclass(frozen=True)
class XhadConf:
    """What `pool-ha-enable` wrote on a host: /etc/xensource/xhad.conf and local.db's HA keys."""

    pool_uuid: str
    generation: str
    peers: tuple[tuple[str, str], ...]  # (uuid, address) of every host at enable, in uuid order
    timeout: float
    sr_uuid: str
    vdi_uuid: str

    @property
    def statefile_path(self) -> str:
        return f"/dev/VG_XenStorage-{self.sr_uuid}/VHD-{self.vdi_uuid}"

    def uuid_at(self, address: str | None) -> str | None:
        return next((u for u, ip in self.peers if ip == address), None)

    def address_of(self, uuid: str) -> str | None:
        return next((ip for u, ip in self.peers if u == uuid), None)


@dataclass(eq=False)
class Cluster:
    """One statefile and the xhads configured for it: their agreed liveset and the master lock."""

    conf: XhadConf
    active: bool = True  # the statefile's pool state; a disable writes "invalid"
    liveset: set[str] = field(default_factory=set)
    lock: str | None = None  # uuid of the master lock's holder
    last_holder: str | None = None  # whose database the HA metadata VDI holds
    # When each host was last seen passing the survival rules, heartbeating, writing the statefile.
    last_ok: dict[str, float] = field(default_factory=dict)
    last_hb: dict[str, float] = field(default_factory=dict)
    last_sf: dict[str, float] = field(default_factory=dict)
    layout: tuple[tuple[int, ...], int] | None = None  # the degraded partition layout last logged

    @property
    def members(self) -> list[str]:
        return [u for u, _ in self.conf.peers]

    @property
    def timeout(self) -> float:
        return self.conf.timeout

    def bits(self) -> str:
        return "".join("1" if u in self.liveset else "0" for u in self.members)


@dataclass
class View:
    """The fault handler's picture of a cluster at one instant."""

    present: dict[str, SimHost]  # liveset members whose xhad runs
    heard: dict[str, frozenset[str]]  # present host -> the present hosts it hears on the network (itself too)
    statefile: set[str]  # present hosts that reach the statefile
    domain: dict[str, frozenset[str]]  # present host -> its partition once the views are merged
    sizes: list[int]  # xhad's partition_size per host index
    winner: int | None  # xhad's winner_index
    survivors: set[str]  # present hosts passing survival rule 1 or 2

    def sees(self, a: str, b: str) -> bool:
        """a hears b on the network or through the statefile."""
        if a == b:
            return True
        if a not in self.present or b not in self.present:
            return False
        return b in self.heard[a] or (a in self.statefile and b in self.statefile)

    @property
    def split(self) -> bool:
        """Some present host does not hear every other one on the network."""
        return any(len(heard) != len(self.present) for heard in self.heard.values())


def merge(members: list[str], heard: dict[str, frozenset[str]], statefile: set[str]) -> dict[str, frozenset[str]]:
    """xha's `wait_until_all_hosts_have_consistent_view` when the hosts' views disagree: keep
    the hosts that reach the statefile, then drop the host with the smallest heartbeat domain
    (on a tie, the one whose domain has the higher lowest index; then the higher index) until
    every one left hears every other. What is left is one partition of hosts that all hear
    each other; a dropped host's domain is empty. Where the network is a star with cables
    pulled, this is the partition the cable makes; with hosts cut apart (`sim ctl cut`), it
    also splits a pair that both still hear a third host.

    Hosts that hear the same set (the same object in `heard`) share one domain, so a pool of
    a thousand hosts costs a few set operations per distinct view, not one per pair."""
    sf = frozenset(statefile)
    domains: dict[int, set[str]] = {}  # by id() of the heard set they come from
    group: dict[str, int] = {}  # host still in -> its domain's key
    for u in members:
        if u in sf:
            key = id(heard[u])
            if key not in domains:
                domains[key] = set(heard[u] & sf)
            group[u] = key
    if all(len(d) == len(sf) for d in domains.values()):
        whole = frozenset(sf)  # everyone hears everyone: nothing to merge
        return {u: whole if u in sf else frozenset() for u in heard}
    index = {u: i for i, u in enumerate(members)}
    removed = len(members) - len(group)  # the hosts without the statefile count as dropped

    while group:
        active = set(group.values())
        # get_partition_score without weights: the size, then the domain's lowest index
        scores = {k: (len(domains[k]), -min(index[v] for v in domains[k])) for k in active}
        lowest = min(scores.values())
        # xha scans from the highest index and keeps a strict minimum: the highest index wins a tie
        selected = max((u for u, k in group.items() if scores[k] == lowest), key=index.__getitem__)
        if len(domains[group[selected]]) + removed == len(members):
            break  # the smallest domain and the dropped hosts make everyone: all left hear each other
        del group[selected]
        removed += 1
        for d in domains.values():
            d.discard(selected)
    frozen = {k: frozenset(d) for k, d in domains.items()}
    return {u: frozen[group[u]] if u in group else frozenset() for u in heard}


class Ha:
    def __init__(self, world: World):
        self.w = world
        self.clusters: dict[str, Cluster] = {}  # by generation
        self.by_pool: dict[str, Cluster] = {}  # each pool's latest
        self.statefile_vdis: dict[str, str] = {}  # pool uuid -> its statefile VDI (found or created)
        self.epoch = 0
        self._tick_at: float | None = None
        self._proposing: set[str] = set()  # hosts inside on_master_failure (its first warning logged)

    # ------------------------------------------------------------------
    # lookups
    # ------------------------------------------------------------------

    def cluster(self, h: SimHost) -> Cluster | None:
        return self.clusters.get(h.xhad_conf.generation) if h.xhad_conf is not None else None

    def latest(self) -> Cluster | None:
        return next(reversed(self.clusters.values()), None)

    def host(self, uuid: str | None) -> SimHost | None:
        return self.w.host_by_uuid(uuid) if uuid is not None else None

    @staticmethod
    def reaches_statefile(h: SimHost) -> bool:
        return h.power == ON and h.statefile == "up"

    def runs_in(self, h: SimHost, c: Cluster) -> bool:
        return h.xhad and h.xhad_conf is not None and h.xhad_conf.generation == c.conf.generation

    def holder(self, c: Cluster) -> SimHost | None:
        """The live host holding c's master lock."""
        return self.host(c.lock) if c.lock is not None and c.lock in c.liveset else None

    # ------------------------------------------------------------------
    # the fault handler's view: partitions and the survival rules
    # ------------------------------------------------------------------

    def view(self, c: Cluster) -> View:
        present: dict[str, SimHost] = {}
        for u in c.members:
            h = self.host(u)
            if u in c.liveset and h is not None and self.runs_in(h, c):
                present[u] = h
        heard = self._heard(present)
        statefile = {u for u, h in present.items() if self.reaches_statefile(h)}
        domain = merge(c.members, heard, statefile)
        # am_I_in_largest_partition: a partition counts its hosts that also see the statefile;
        # the first index with the largest count wins, and indexes follow the uuids' order.
        sizes = [len(domain[u]) if u in statefile else 0 for u in c.members]
        best = max(sizes, default=0)
        winner = sizes.index(best) if best > 0 else None
        winning = c.members[winner] if winner is not None else None
        survivors = set()
        for u in present:
            if u in statefile:
                ok = winning is not None and (u == winning or winning in domain[u])  # rule 1
            else:
                # rule 2: every live host lost the statefile, and they all still hear each other
                ok = all(v in present and v not in statefile and v in heard[u] for v in c.liveset)
            if ok:
                survivors.add(u)
        return View(present, heard, statefile, domain, sizes, winner, survivors)

    def _heard(self, present: dict[str, SimHost]) -> dict[str, frozenset[str]]:
        """Who each present host hears on the network: heartbeats go wherever the network goes
        (powered on, cables in, not cut apart). Hosts with the same view share one set."""
        lan = frozenset(u for u, h in present.items() if h.net_up)
        cut: dict[str, set[str]] = {}
        for a, b in self.w.cut_pairs():
            if a.uuid in lan and b.uuid in lan:
                cut.setdefault(a.uuid, set()).add(b.uuid)
                cut.setdefault(b.uuid, set()).add(a.uuid)
        return {
            u: (lan - cut[u] if u in cut else lan) if u in lan else frozenset((u,)) for u in present
        }

    def sample(self, now: float) -> None:
        """Record, at `now`, who passes the rules and who is heard: called before any change."""
        if not self.clusters:
            return
        for c in self.clusters.values():
            if c.liveset:
                self._sample(c, now)

    def _sample(self, c: Cluster, now: float) -> View:
        v = self.view(c)
        for u in v.survivors:
            c.last_ok[u] = now
        for u, h in v.present.items():
            if h.net_up:
                c.last_hb[u] = now
            if u in v.statefile:
                c.last_sf[u] = now
        return v

    def last_heard(self, c: Cluster, u: str) -> float:
        return max(c.last_hb.get(u, float("-inf")), c.last_sf.get(u, float("-inf")))

    # ------------------------------------------------------------------
    # the periodic tick
    # ------------------------------------------------------------------

    def timer_valid(self, kind: str, token: int) -> bool:
        return kind == HA_TICK and token == self.epoch

    def on_timer(self, kind: str, now: float) -> None:
        if kind != HA_TICK:
            raise ValueError(f"unknown HA timer {kind!r}")
        self._tick_at = None
        for c in list(self.clusters.values()):
            if c.liveset:
                self._fault_handler(c, now)
        self._xapimon(now)
        self._monitor(now)
        self.ensure_tick(now)

    def ensure_tick(self, now: float) -> None:
        period = self._period()
        if period is None:
            return
        due = now + period
        if self._tick_at is not None and self._tick_at <= due:
            return
        self._tick_at = due
        self.epoch += 1
        self.w.schedule_world(due, HA_TICK, self.epoch)

    def _period(self) -> float | None:
        running = {h.xhad_conf.generation for h in self.w.hosts() if h.xhad and h.xhad_conf is not None}
        timeouts = [c.timeout for g, c in self.clusters.items() if g in running]
        return min(1.0, min(timeouts) / 10) if timeouts else None

    def _fault_handler(self, c: Cluster, now: float) -> None:
        v = self._sample(c, now)
        self._log_partitions(c, v, now)
        for u, h in v.present.items():
            if u not in v.survivors and now - c.last_ok.get(u, now) >= c.timeout - EPSILON:
                self.fence(h, [SURVIVAL_FAILED], now)
        if not any(self.runs_in(h, c) for u, h in v.present.items() if u in v.survivors):
            return  # nobody is left to agree on a new liveset
        gone = [u for u in c.members if u in c.liveset and now - self.last_heard(c, u) >= c.timeout - EPSILON]
        if gone:
            self._leave(c, gone, now)

    def _log_partitions(self, c: Cluster, v: View, now: float) -> None:
        """xhad logs partition_size/winner_index in its fault handler, i.e. once something fails."""
        degraded = v.split or v.survivors != set(v.present)
        layout = (tuple(v.sizes), -1 if v.winner is None else v.winner)
        if not degraded:
            c.layout = None
            return
        if layout == c.layout:
            return
        c.layout = layout
        for h in v.present.values():
            for i, size in enumerate(v.sizes):
                self.xlog(h, now, "warn", f"SM: partition_size[{i}] = {size} 0")
            self.xlog(h, now, "warn", f"SM: winner_index = {layout[1]}")

    def _leave(self, c: Cluster, uuids: list[str], now: float) -> None:
        for u in uuids:
            c.liveset.discard(u)
        if c.lock in uuids:
            c.last_holder, c.lock = c.lock, None
        self._log_liveset(c, now)
        self.w.changed()

    def _log_liveset(self, c: Cluster, now: float) -> None:
        bits = c.bits()
        for u in c.members:
            h = self.host(u)
            if h is not None and u in c.liveset and self.runs_in(h, c):
                self.xlog(h, now, "notice", f"Liveset has been updated.  new liveset = ({bits})")

    # ------------------------------------------------------------------
    # fencing
    # ------------------------------------------------------------------

    def fence(self, h: SimHost, reasons: list[tuple[str, str]], now: float) -> None:
        """`self_fence`: the reason, `watchdog_selffence`, and the Xen watchdog's hard reboot."""
        c = self.cluster(h)
        for level, text in reasons:
            self.xlog(h, now, level, text)
        self.xlog(h, now, "info", "watchdog_selffence.")
        h.fences += 1
        self._stop(h)
        if c is not None and h.uuid in c.liveset:
            self._leave(c, [h.uuid], now)
        self.w.hard_reboot(h, now)

    def fence_now(self, h: SimHost, now: float) -> None:
        """The HA_FENCE timer: xhad saw xapi go away (xe-toolstack-restart)."""
        if h.xhad:
            self.xlog(h, now, "info", "Xapimon: Xapi failed.  Self Fence.")
            self.fence(h, [XAPI_FAILED], now)

    def _xapimon(self, now: float) -> None:
        """xapi_mon.c: a hung xapi is restarted once; failing again within a day fences."""
        for h in self.w.hosts():
            c = self.cluster(h)
            if not h.xhad or c is None or h.xapi != HUNG or h.hung_since is None:
                continue
            if now - h.hung_since < c.timeout - EPSILON:
                continue
            if h.xapimon_restart is not None and now - h.xapimon_restart < XAPI_RESTART_BUDGET:
                self.xlog(h, now, "info", "Xapimon: Xapi failed.  Self Fence.")
                self.fence(h, [XAPI_FAILED], now)
                continue
            self.xlog(h, now, "info", "Xapimon: restarting Xapi.")
            h.xapimon_restart = now
            self.w.xapi.start(h, now)
            self.xlog(h, now, "info", "Xapimon: Xapi restarted.")

    # ------------------------------------------------------------------
    # xapi's HA monitor: a slave whose master left the liveset elects a new one
    # ------------------------------------------------------------------

    def _watched(self, h: SimHost) -> Cluster | None:
        """The liveset h's xapi monitors as a slave, if its monitor runs."""
        if not (h.xhad and h.ha_armed and not h.ha_waiting and h.xapi == RUNNING):
            return None
        if h.role is None or not h.role.startswith(SLAVE_PREFIX):
            return None
        c = self.cluster(h)
        return c if c is not None and c.active and h.uuid in c.liveset else None

    def _master_ok(self, h: SimHost, c: Cluster) -> bool:
        assert h.xhad_conf is not None
        master = h.xhad_conf.uuid_at(role_master_address(h.role))
        # A pool.conf address ha_peers does not know: xapi's monitor raises and acts on nothing.
        return master is None or (master in c.liveset and c.lock == master)

    def _monitor(self, now: float) -> None:
        due: dict[str, list[SimHost]] = {}
        for h in self.w.hosts():
            c = self._watched(h)
            if c is None or self._master_ok(h, c):
                if h.failover_at is not None:
                    self._done_proposing(h)
                continue
            if h.failover_at is None:
                # The liveset changed now; xapi polls it ha_poll later.
                h.failover_at = now + self.w.params.ha_poll
            elif now >= h.failover_at - EPSILON:
                due.setdefault(c.conf.generation, []).append(h)
        for generation, hosts in due.items():
            self._elect(self.clusters[generation], sorted(hosts, key=lambda x: x.uuid), now)

    def _elect(self, c: Cluster, hosts: list[SimHost], now: float) -> None:
        """`on_master_failure` on each host at once: the lock manager favours the lowest index."""
        for h in hosts:
            if h.name not in self._proposing:
                self._proposing.add(h.name)
                address = role_master_address(h.role)
                assert h.xhad_conf is not None
                master = h.xhad_conf.uuid_at(address)
                self.w.log(h, now, "warn",
                           f"We think node {master} ({address}) is the master but the liveset disagrees")
        holder = self.holder(c)
        if holder is None:
            candidates = [h for h in hosts if self.reaches_statefile(h) and h.uuid in c.liveset]
            if candidates:
                holder = candidates[0]
                self._become_master(holder, c, now)
        for h in hosts:
            if h is holder:
                continue
            if holder is not None:
                self._become_slave(h, c, holder, now)
                continue
            self.xlog(h, now, "notice", "propose_master returns FALSE.")
            self.w.log(h, now, "info", "ha_propose_master failed: looking for another master")
            self.w.log(h, now, "info", "no other master exists yet; waiting 5 seconds and retrying")
            h.failover_at = now + self.w.params.ha_poll

    def _become_master(self, h: SimHost, c: Cluster, now: float) -> None:
        self.xlog(h, now, "notice", "propose_master returns TRUE.")
        c.lock = h.uuid
        self.w.log(h, now, "info", "ha_propose_master succeeded")
        self.w.log(h, now, "info", "This node will become the master")
        source = self.host(c.last_holder)
        if source is not None and source is not h and source.db.pool_uuid == h.db.pool_uuid:
            h.db = source.db.snapshot()  # the new master reads the pool database from the HA metadata VDI
        h.pool_conf = MASTER
        self.w.log(h, now, "info", "Waiting for server restart")
        self.w.xapi.light_fuse(h, now)
        self._done_proposing(h)
        self.w.changed()

    def _become_slave(self, h: SimHost, c: Cluster, holder: SimHost, now: float) -> None:
        assert h.xhad_conf is not None
        address = h.xhad_conf.address_of(holder.uuid) or holder.address
        self.xlog(h, now, "notice", "propose_master returns FALSE.")
        self.w.log(h, now, "info", "ha_propose_master failed: looking for another master")
        self.w.log(h, now, "info", f"This node will become the slave of host {holder.uuid} ({address})")
        h.pool_conf = SLAVE_PREFIX + address
        self.w.xapi.light_fuse(h, now)
        self._done_proposing(h)
        self.w.changed()

    def _done_proposing(self, h: SimHost) -> None:
        h.failover_at = None
        self._proposing.discard(h.name)

    # ------------------------------------------------------------------
    # xapi start-up on an armed host (`Xapi_ha.on_server_restart`)
    # ------------------------------------------------------------------

    def start_up(self, h: SimHost, now: float) -> bool:
        """Join the liveset before the role is taken. True: carry on starting; False: xapi
        loops in emergency mode (retrying) or has lit its fuse to restart as another's slave."""
        if not h.ha_armed:
            self.w.log(h, now, "warn", "ha_start_daemon aborted because someone has called Host.emergency_ha_disable")
            return self._carry_on(h)
        c = self.cluster(h)
        if c is None:
            # Armed without xhad.conf: the daemon cannot start.
            return self._wait(h, "HA_HEARTBEAT_DAEMON_STARTUP_FAILED", now)
        if not (h.xhad and h.uuid in c.liveset):  # otherwise: MTC_EXIT_DAEMON_IS_PRESENT
            failure = self._join_failure(h, c)
            if failure == "invalid":
                self.w.log(h, now, "warn",
                           "ha_start_daemon failed with MTC_EXIT_INVALID_POOL_STATE: disabling HA on this host")
                h.ha_armed = False
                return self._carry_on(h)
            if failure is not None:
                return self._join_failed(h, failure, now)
            self._join(h, c, now)
        return self._joined(h, c, now)

    def _join_failure(self, h: SimHost, c: Cluster) -> str | None:
        if not self.reaches_statefile(h):
            return "statefile"
        if not c.active:
            return "invalid"
        others = [o for u in c.liveset if u != h.uuid and (o := self.host(u)) is not None and self.runs_in(o, c)]
        if others and (not h.net_up or any(self.w.cut_apart(h, o) for o in others)):
            return "network"  # the boot join times out: not every live host hears it
        return None

    def _join_failed(self, h: SimHost, failure: str, now: float) -> bool:
        if failure == "statefile":
            self.w.log(h, now, "warn", "ha_start_daemon failed with MTC_EXIT_CAN_NOT_ACCESS_STATEFILE: will contact "
                                       "existing master and check if HA is still enabled")
        if self._master_says_disabled(h):
            self.w.log(h, now, "info",
                       "Existing master confirmed that HA is disabled pool-wide: disabling HA on this host")
            h.ha_armed = False
            return self._carry_on(h)
        if failure == "statefile":
            self.w.log(h, now, "info", "Assuming HA is still enabled on the Pool and that our storage system has "
                                       "failed: will retry in 10s")
            return self._wait(h, "HA_HOST_CANNOT_ACCESS_STATEFILE", now)
        self.w.log(h, now, "error",
                   "ha_start_daemon failed with unexpected error MTC_EXIT_BOOTJOIN_TIMEOUT: will retry in 10s")
        return self._wait(h, "HA_HEARTBEAT_DAEMON_STARTUP_FAILED", now)

    def _master_says_disabled(self, h: SimHost) -> bool:
        """Pool.get_ha_enabled on the master in pool.conf, as an emergency call."""
        m = self.w.host_named(role_master_address(parse_pool_conf(h.pool_conf)))
        if m is None or m is h or not self.w.reachable(h, m) or m.xapi != RUNNING or m.ptoken != h.ptoken:
            return False
        return not m.db.ha_enabled

    def _join(self, h: SimHost, c: Cluster, now: float, *, announce: bool = True) -> None:
        """ha_start_daemon: xhad starts, joins the liveset and arms fencing."""
        h.xhad = True
        h.excluded = False
        self.xlog(h, now, "notice", f"HA daemon started - built at {BUILT} - ")
        self.xlog(h, now, "info", "Fencing is armed.")
        self.xlog(h, now, "notice", "The local host has transitioned to online state.")
        c.last_ok[h.uuid] = c.last_hb[h.uuid] = c.last_sf[h.uuid] = now
        if h.uuid not in c.liveset:
            c.liveset.add(h.uuid)
            if announce:
                self._log_liveset(c, now)
        self.ensure_tick(now)
        self.w.changed()

    def _joined(self, h: SimHost, c: Cluster, now: float) -> bool:
        role = parse_pool_conf(h.pool_conf)
        holder = self.holder(c)
        if role == MASTER:
            if holder is None or holder is h:
                c.lock = h.uuid
                self.xlog(h, now, "notice", "propose_master returns TRUE.")
                self.w.log(h, now, "info", "ha_propose_master succeeded; continuing")
                return self._carry_on(h)
            self._become_slave(h, c, holder, now)
            return self._restarting(h)
        # A slave starts as usual; its HA monitor checks the master against the liveset a poll later.
        return self._carry_on(h)

    def _carry_on(self, h: SimHost) -> bool:
        h.ha_waiting = False
        h.emergency = False
        h.emergency_error = None
        return True

    def _wait(self, h: SimHost, code: str, now: float) -> bool:
        """Emergency mode with the stored error, retrying. The role is not read yet; the
        status shows pool.conf's slave role, or `broken` for a host whose pool.conf says master."""
        h.ha_waiting = True
        role = parse_pool_conf(h.pool_conf)
        h.role = BROKEN if role == MASTER else role
        h.emergency = True
        h.emergency_error = (code, ())
        h.ha_retry_at = now + self.w.params.emergency_retry
        self.w.schedule(h.ha_retry_at, h, HA_RETRY)
        self.w.changed()
        return False

    def _restarting(self, h: SimHost) -> bool:
        """Between rewriting pool.conf and the fuse: not serving, still booting."""
        h.ha_waiting = False
        h.role = parse_pool_conf(h.pool_conf)
        h.emergency = True
        h.emergency_error = ("HOST_STILL_BOOTING", ())
        self.w.changed()
        return False

    def retry(self, h: SimHost, now: float, *, early: bool = False) -> None:
        """Another round of the start-up loop: the HA_RETRY timer, or ``early`` when what it
        waits for comes back before the round is due (a superseded timer then does nothing)."""
        if not h.ha_waiting:
            return
        if not early and h.ha_retry_at is not None and now < h.ha_retry_at - EPSILON:
            return
        if h.xapi != RUNNING:
            h.ha_retry_at = now + self.w.params.emergency_retry
            self.w.schedule(h.ha_retry_at, h, HA_RETRY)
            return
        if self.start_up(h, now):
            self.w.xapi.take_role(h, now)
        self.w.changed()

    # ------------------------------------------------------------------
    # commands
    # ------------------------------------------------------------------

    def enable(self, m: SimHost, targets: list[SimHost], timeout: float, now: float) -> Cluster:
        """`Pool.enable_ha` after its checks: preconfigure every host (xhad.conf, local.db),
        then join them all and let the master assert the lock. A host that cannot reach the
        statefile fails the join; xapi then disables HA again and raises its error."""
        self.sample(now)
        pool = m.db.pool_uuid
        vdi = self.statefile_vdis.setdefault(pool, self.w.new_uuid())  # Xha_statefile.find_or_create
        peers = tuple(sorted((t.uuid, t.address) for t in targets))
        conf = XhadConf(pool, self.w.new_uuid(), peers, timeout, m.db.default_sr_uuid, vdi)
        c = Cluster(conf)
        self.clusters[conf.generation] = c
        self.by_pool[pool] = c
        for t in targets:
            self._stop(t)
            t.xhad_conf = conf
        self.xlog(m, now, "notice", 'set_pool_state "init" returns SUCCESS.')
        if any(not self.reaches_statefile(t) for t in targets):
            self.w.log(m, now, "error", "Attempting to disable HA pool-wide")
            c.active = False
            for t in targets:
                t.ha_armed = False
            self.w.changed()
            raise ApiError("HA_HOST_CANNOT_ACCESS_STATEFILE")
        for t in targets:  # all at once: one liveset update
            self.w.log(t, now, "info", f"Host.ha_join_liveset host = {t.uuid}")
            self._join(t, c, now, announce=False)
            t.ha_armed = True
            t.ha_waiting = False
            self.w.log(t, now, "info", "Local flag ha_armed <- true")
        self._log_liveset(c, now)
        c.lock = m.uuid
        self.xlog(m, now, "notice", "propose_master returns TRUE.")
        self.w.log(m, now, "info", "ha_propose_master succeeded; continuing")
        self.ensure_tick(now)
        self.w.changed()
        return c

    def disable(self, m: SimHost, reached: list[SimHost], now: float) -> None:
        """`Pool.disable_ha`: the pool state goes invalid (every xhad that reads the statefile
        stops), then the hosts xapi reaches stop xhad and are disarmed."""
        self.sample(now)
        c = self.by_pool.get(m.db.pool_uuid)
        if c is not None and c.active:
            if self.runs_in(m, c) and self.reaches_statefile(m):
                self.w.log(m, now, "info", "I have statefile access -- setting pool state to invalid")
                self.xlog(m, now, "notice", 'set_pool_state "invalid" returns SUCCESS.')
            c.active = False
            c.lock = None
            for u in c.members:
                h = self.host(u)
                if h is not None and self.runs_in(h, c) and self.reaches_statefile(h):
                    self._disarm(h, now)
        for h in reached:
            if h.xhad:
                self._disarm(h, now)
            h.ha_armed = False
        self.w.changed()

    def emergency_disable(self, h: SimHost, now: float, *, soft: bool) -> None:
        """`Host.emergency_ha_disable`: this host only. Its xhad stops without being excluded,
        so the others drop it after T; nobody fences for it."""
        if not h.ha_armed:
            if soft:
                return
            raise ApiError("HA_NOT_ENABLED")
        self.sample(now)
        self.w.log(h, now, "warn", "Host.emergency_ha_disable: Disabling the HA subsystem on the local host only.")
        if h.xhad:
            self._disarm(h, now)
        if not soft:
            h.ha_armed = False
        self.w.changed()

    def release(self, h: SimHost, now: float) -> None:
        """A start-up that learns HA is off: disarm locally (`ha_release_resources`)."""
        self.sample(now)
        if h.xhad:
            self._disarm(h, now)
        h.ha_armed = False
        self.w.changed()

    def before_clean_shutdown(self, h: SimHost, now: float) -> None:
        """`Xapi_ha.before_clean_shutdown_or_reboot`: excluded first, so nobody waits T for it
        and it does not fence; a lock holder frees the lock for an election."""
        c = self.cluster(h)
        if c is None or not self.runs_in(h, c):
            return
        if not self.reaches_statefile(h):
            raise ApiError("HA_LOST_STATEFILE")
        self.sample(now)
        self._disarm(h, now)
        h.excluded = True
        if h.uuid in c.liveset:
            self._leave(c, [h.uuid], now)

    def _disarm(self, h: SimHost, now: float) -> None:
        self.xlog(h, now, "notice", "disarm_fencing returns SUCCESS.")
        self._stop(h)
        self.w.changed()

    def _stop(self, h: SimHost) -> None:
        h.xhad = False
        if h.failover_at is not None:
            self._done_proposing(h)

    # ------------------------------------------------------------------
    # the host's files and commands
    # ------------------------------------------------------------------

    def xlog(self, h: SimHost, now: float, level: str, message: str) -> None:
        """A line of /var/log/xha.log (`log_message`: ``%b %d %H:%M:%S %Z %Y [level] ``)."""
        stamp = (LOG_EPOCH + timedelta(seconds=now)).strftime("%b %d %H:%M:%S UTC %Y")
        h.xha_log.append(f"{stamp} [{level}] {message}")

    def xha_log(self, h: SimHost) -> str | None:
        return "".join(line + "\n" for line in h.xha_log) if h.xha_log else None

    def local_db(self, h: SimHost) -> str:
        """/var/lib/xcp/local.db as `Hashtbl_xml.to_xml` writes it (no declaration, one line).
        xapi writes `ha.armed` false at its first start; enable adds the other HA keys."""
        rows = [("ha.armed", "true" if h.ha_armed else "false")]
        conf = h.xhad_conf
        if conf is not None:
            rows += [
                ("ha_cluster_stack", "xhad"),
                ("ha_peers", peers_sexpr(conf.peers)),
                ("ha_base_t", number(conf.timeout)),
                ("ha.disable_failover_decisions", "false"),
            ]
        body = "".join(f'<row key="{xml_escape(k)}" value="{xml_escape(v)}"/>' for k, v in rows)
        return f"<config>{body}</config>"

    def xhad_conf(self, h: SimHost) -> str | None:
        conf = h.xhad_conf
        if conf is None:
            return None
        lines = [
            '<?xml version="1.0" encoding="utf-8"?>',
            '<xhad-config version="1.0">',
            "  <common-config>",
            f"    <GenerationUUID>{conf.generation}</GenerationUUID>",
            "    <UDPport>694</UDPport>",
        ]
        for uuid, address in conf.peers:
            lines += ["    <host>", f"      <HostID>{uuid}</HostID>", f"      <IPaddress>{address}</IPaddress>",
                      "    </host>"]
        lines.append("    <parameters>")
        lines += [f"      <{k}>{number(v)}</{k}>" for k, v in derive(conf.timeout).items()]
        lines += [
            "    </parameters>",
            "  </common-config>",
            "  <local-config>",
            "    <localhost>",
            f"      <HostID>{h.uuid}</HostID>",
            "      <HeartbeatInterface>xenbr0</HeartbeatInterface>",
            "      <HeartbeatPhysicalInterface>eth0</HeartbeatPhysicalInterface>",
            f"      <StateFile>{conf.statefile_path}</StateFile>",
            "    </localhost>",
            "  </local-config>",
            "</xhad-config>",
        ]
        return "\n".join(lines) + "\n"

    def query_liveset(self, h: SimHost, now: float) -> tuple[str, int]:
        """ha_query_liveset: calldaemon.c `print_query_liveset`, as h's xhad sees the pool."""
        c = self.cluster(h)
        if c is None or not self.runs_in(h, c):
            return "", DAEMON_IS_NOT_PRESENT
        v = self._sample(c, now)
        members = c.members
        me = h.uuid
        out = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<ha_liveset_info version="1.0">',
            "  <status>Online</status>",
            "  <localhost>",
            f"    <HostID>{me}</HostID>",
            f"    <HostIndex>{members.index(me)}</HostIndex>",
            "  </localhost>",
        ]
        for i, u in enumerate(members):
            x = self.host(u)
            access = u in c.liveset and u in v.statefile and v.sees(me, u)
            out += [
                "  <host>",
                f"    <HostID>{u}</HostID>",
                f"    <HostIndex>{i}</HostIndex>",
                f"    <liveness>{_tf(u in c.liveset)}</liveness>",
                f"    <master>{_tf(c.lock == u)}</master>",
                f"    <statefile_access>{_tf(access)}</statefile_access>",
                "    <statefile_corrupted>FALSE</statefile_corrupted>",
                f"    <excluded>{_tf(x is not None and x.excluded)}</excluded>",
                "  </host>",
            ]
        out.append("  <raw_status_on_local_host>")
        for name, (value, high, low) in LATENCIES.items():
            out += [
                f"    <{name}_latency>{value}</{name}_latency>",
                f"    <{name}_latency_max>{high}</{name}_latency_max>",
                f"    <{name}_latency_min>{low}</{name}_latency_min>",
            ]
        for i, u in enumerate(members):
            out += self._raw(c, v, h, u, i, now)
        out.append("  </raw_status_on_local_host>")
        t = c.timeout
        out += [
            "  <timeout>",
            f"    <T1>{_ms(t)}</T1>",
            f"    <T2>{_ms(t)}</T2>",
            f"    <T3>{_ms(XAPI_HEALTH_CHECK['XapiHealthCheckTimeout'])}</T3>",
            f"    <Wh>{_ms(t)}</Wh>",
            f"    <Ws>{_ms(t + 15)}</Ws>",
            "  </timeout>",
            "  <warning_on_local_host>",
            f"    <statefile_lost>{_tf(not self.reaches_statefile(h))}</statefile_lost>",
            "    <heartbeat_approaching_timeout>FALSE</heartbeat_approaching_timeout>",
            "    <statefile_approaching_timeout>FALSE</statefile_approaching_timeout>",
            "    <Xapi_healthcheck_approaching_timeout>FALSE</Xapi_healthcheck_approaching_timeout>",
            "    <network_bonding_error>FALSE</network_bonding_error>",
            "  </warning_on_local_host>",
            "</ha_liveset_info>",
        ]
        return "\n".join(out) + "\n", 0

    def _raw(self, c: Cluster, v: View, h: SimHost, u: str, i: int, now: float) -> list[str]:
        """One host's raw heartbeat and statefile data as h received it."""
        me = h.uuid
        x = self.host(u)
        on_net = u in v.present and me in v.present and u in v.heard[me]
        on_sf = u in v.statefile and me in v.statefile

        def domain(hb: bool) -> list[str]:
            """The hosts u hears on the network (hb) or sees writing the statefile."""
            if u not in v.present:
                return []
            if hb:
                return [w for w in c.members if w in v.heard[u]]
            return [w for w in c.members if w in v.statefile] if u in v.statefile else []

        def since(last: dict[str, float]) -> int:
            return round((now - last[u]) * 1000) if u in last else -1

        restart = x.xapimon_restart if x is not None else None
        restarted = -1 if restart is None else round((now - restart) * 1000)
        lists = {
            "heartbeat_active_list_on_heartbeat": domain(True) if on_net or u == me else [],
            "heartbeat_active_list_on_statefile": domain(True) if on_sf or u == me else [],
            "statefile_active_list_on_heartbeat": domain(False) if on_net else [],
            "statefile_active_list_on_statefile": domain(False) if on_sf else [],
        }
        out = [
            "    <host_raw_data>",
            f"      <HostID>{u}</HostID>",
            f"      <HostIndex>{i}</HostIndex>",
            f"      <time_since_last_update_on_statefile>{since(c.last_sf)}</time_since_last_update_on_statefile>",
            f"      <time_since_last_heartbeat>{0 if u == me else since(c.last_hb)}</time_since_last_heartbeat>",
            f"      <time_since_xapi_restart_first_attempted>{restarted}</time_since_xapi_restart_first_attempted>",
            "      <xapi_error_string></xapi_error_string>",
        ]
        for tag, hosts in lists.items():
            out.append(f"      <{tag}>")
            out += [f"          {w}" for w in hosts]
            out.append(f"      </{tag}>")
        out.append("    </host_raw_data>")
        return out

    # ------------------------------------------------------------------
    # ground truth
    # ------------------------------------------------------------------

    def host_status(self, h: SimHost) -> dict:
        c = self.cluster(h)
        live: list[str] = []
        if c is not None and self.runs_in(h, c):
            uuids = c.liveset
            live = [x.name for x in self.w.hosts() if x.uuid in uuids]
        return {
            "armed": h.ha_armed,
            "xhad": h.xhad,
            "statefile": h.statefile,
            "fences": h.fences,
            "excluded": h.excluded,
            "liveset": live,
        }

    def status(self, masters: list[SimHost]) -> dict:
        c = self.by_pool.get(masters[0].db.pool_uuid) if masters else self.latest()
        holder = self.holder(c) if c is not None and c.active else None
        return {
            "enabled": masters[0].db.ha_enabled if masters else None,
            "lock": holder.name if holder is not None else None,
            "timeout": c.timeout if c is not None else self.w.params.ha_timeout,
        }


def _tf(x: bool) -> str:
    return "TRUE" if x else "FALSE"


def _ms(seconds: float) -> int:
    return round(seconds * 1000)
