"""What each host's xapi does: start-up (no-other-masters check, Pool.hello, emergency
mode), the fuse that restarts it after a role change, heartbeats, and the pool
operations the xe commands call. Follows docs/xapi.md (sources: xen-api
`xapi.ml`, `xapi_pool.ml`, `xapi_pool_transition.ml`, `xapi_host.ml`).

Why one module of this size: one xapi process's state machine; its transitions call each other
(a role change arms the fuse, the fuse restarts xapi, a restart reads pool.conf) and read best whole.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from poolterm.sim.api_errors import REFUSED, UNREACHABLE, ApiError
from poolterm.sim.ha import HA_RETRY, MIN_TIMEOUT
from poolterm.sim.host import (
    BROKEN,
    HUNG,
    MASTER,
    RUNNING,
    SLAVE_PREFIX,
    STARTING,
    STOPPED,
    SimHost,
    parse_pool_conf,
    role_master_address,
)
from poolterm.sim.pooldb import HostRecord
from poolterm.sim.xe_output import Blocked

#: Every simulated host's root password: what `xe pool-join master-password=` must give.
#: SSH logins use the client key only; this is for xapi's own login (docs/simulator.md).
ROOT_USER, ROOT_PASSWORD = "root", "Lab root pw"

if TYPE_CHECKING:
    from poolterm.sim.world import World

Error = tuple[str, tuple[str, ...]]


def host_ref(rec: HostRecord) -> str:
    """A host reference as xe prints it in an error (`Cli_util.ref_convert`)."""
    return f"{rec.uuid} ({rec.name_label})"


class Xapi:
    def __init__(self, world: World):
        self.w = world

    # ------------------------------------------------------------------
    # the process
    # ------------------------------------------------------------------

    def start(self, h: SimHost, now: float) -> None:
        """(Re)start xapi: it reads pool.conf and decides its role xapi_start seconds later."""
        self.settle(h, now)
        self._reset(h)
        h.xapi = STARTING
        self.w.schedule(now + self.w.params.xapi_start, h, "xapi-ready")
        self.w.changed()

    def stop(self, h: SimHost, now: float) -> None:
        if h.xapi == STOPPED:
            return
        self.settle(h, now)
        self._reset(h)
        h.xapi = STOPPED
        self.w.changed()

    @staticmethod
    def _reset(h: SimHost) -> None:
        h.xapi_epoch += 1
        h.role = None
        h.emergency = False
        h.emergency_error = None
        h.init_complete = False
        h.startup_cookie = False
        h.hung_since = None
        h.ha_waiting = False

    def light_fuse(self, h: SimHost, now: float) -> None:
        """`Xapi_fuse.light_fuse_and_run`: xapi exits and restarts fuse_time from now."""
        self.w.schedule(now + self.w.params.fuse, h, "fuse")

    def on_timer(self, h: SimHost, kind: str, now: float) -> None:
        if kind == "xapi-ready":
            self._ready(h, now)
        elif kind == "fuse":
            if h.xapi_alive:
                self.w.log(h, now, "info", "Fuse blown: restarting the management agent")
                self.start(h, now)
        elif kind == "hello":
            self._hello(h, now)
        elif kind == HA_RETRY:
            self.w.ha.retry(h, now)
        else:
            raise ValueError(f"unknown xapi timer {kind!r}")

    def on_unhang(self, h: SimHost, now: float) -> None:
        self.w.log(h, now, "info", "xapi is responding again")

    def _ready(self, h: SimHost, now: float) -> None:
        h.xapi = RUNNING
        h.startup_cookie = True
        self.w.changed()
        # An armed host joins the liveset before anything else ("Checking HA configuration").
        if h.ha_armed and not self.w.ha.start_up(h, now):
            return
        self.take_role(h, now)

    def take_role(self, h: SimHost, now: float) -> None:
        """The rest of start-up: read pool.conf and start as master or slave."""
        h.role = parse_pool_conf(h.pool_conf)
        self.w.changed()
        if h.role == MASTER:
            self._start_master(h, now)
        elif h.role == BROKEN:
            self.w.log(h, now, "error", "Failed to read pool role, or pool role is broken: entering emergency mode")
            h.emergency = True
            h.emergency_error = ("HOST_BROKEN", ())
        else:
            self.w.log(h, now, "info", "Running in 'Pool Slave' mode")
            h.emergency = True
            h.emergency_error = ("HOST_STILL_BOOTING", ())
            self._hello(h, now)

    # ------------------------------------------------------------------
    # master start-up
    # ------------------------------------------------------------------

    def _start_master(self, h: SimHost, now: float) -> None:
        db = h.db.writable()
        h.db = db
        own = db.record(h.uuid)
        if own is None:
            db.put_host(HostRecord(h.uuid, h.name, h.address, h.dom0_uuid, h.local_sr_uuid))
        self.w.log(h, now, "info", "Performing no-other-masters check")
        for rec in list(db.hosts.values()):
            other = self.w.host_at(rec.address)
            if other is None or other is h:
                continue
            if self.answers_as_master(h, other):
                self.w.log(
                    h,
                    now,
                    "info",
                    "Detected another master in my database of known hosts. Aborting xapi startup and "
                    f"restarting as slave of host '{other.uuid}' ({other.address})",
                )
                h.pool_conf = SLAVE_PREFIX + other.address
                self.start(h, now)
                return
            if not self.w.reachable(h, other) or other.xapi != RUNNING:
                self.w.log(h, now, "warn", f"Couldn't contact slave on startup check: {rec.address}")
        db.set_master(h.uuid)
        if h.ha_armed and not db.ha_enabled:
            self.w.log(h, now, "info", "HA has been disabled on the Pool while we were offline; disarming HA locally")
            self.w.ha.release(h, now)
        elif db.ha_enabled and not h.ha_armed:
            self.w.log(h, now, "info", "HA has been disabled on localhost but not the Pool.")
            self.w.log(h, now, "info", "We are the master: disabling HA on the Pool.")
            db.set_ha(False)
        db.last_seen = {uuid: now for uuid in db.hosts}
        self._auto_enable(h, h)
        h.init_complete = True
        self.w.log(h, now, "info", "Startup successful (master)")
        self.w.changed()

    # ------------------------------------------------------------------
    # slave start-up: Pool.hello until the master answers
    # ------------------------------------------------------------------

    def _hello(self, h: SimHost, now: float) -> None:
        if not h.emergency or h.ha_waiting or h.role is None or not h.role.startswith(SLAVE_PREFIX):
            return
        if h.xapi != RUNNING:
            # A hung xapi does not run its retry loop; it resumes where it stopped.
            self.w.schedule(now + self.w.params.emergency_retry, h, "hello")
            return
        self.w.log(h, now, "info", "Attempting to communicate with master")
        master = self.w.host_named(role_master_address(h.role))
        failure = self._hello_failure(h, master)
        if failure is None:
            assert master is not None  # hello succeeded, so there is someone who answered
            self._joined(h, master, now)
            return
        error, permanent = failure
        if permanent:
            self.w.log(h, now, "error", f"Permanent error in attempt_host_status_check_with_coordinator: {error[0]}")
            delay = self.w.params.permanent_retry
        else:
            retry = self.w.params.emergency_retry
            self.w.log(h, now, "info", f"I think the error is a temporary one, retrying in {retry:g}s")
            delay = self.w.params.emergency_retry
        if h.emergency_error != error:
            h.emergency_error = error
            self.w.changed()
        self.w.schedule(now + delay, h, "hello")

    def _hello_failure(self, h: SimHost, m: SimHost | None) -> tuple[Error, bool] | None:
        """Why Pool.hello to the master in pool.conf fails (error, permanent?), None if it succeeds."""
        ip = role_master_address(h.role) or ""
        if ip in ("127.0.0.1", h.address):
            return ("HOST_ITS_OWN_SLAVE", ()), False
        if m is None or not self.w.reachable(h, m):
            return ("INTERNAL_ERROR", (UNREACHABLE,)), False
        if m.xapi in (STOPPED, STARTING):
            return ("INTERNAL_ERROR", (REFUSED,)), False
        if m.xapi == HUNG:
            # The call never returns: the stored error stays at its start-up default.
            return ("HOST_STILL_BOOTING", ()), False
        if m.ptoken != h.ptoken:
            return ("HOST_UNKNOWN_TO_MASTER", (h.uuid,)), True
        if m.emergency and m.emergency_error is not None:
            return m.emergency_error, False
        if m.role != MASTER:
            return ("HOST_IS_SLAVE", (role_master_address(m.role) or "",)), False
        if h.uuid not in m.db:
            return ("HOST_UNKNOWN_TO_MASTER", (h.uuid,)), True
        return None

    def _joined(self, h: SimHost, m: SimHost, now: float) -> None:
        m.db.last_seen[h.uuid] = now
        h.db = m.db.snapshot()
        if h.ha_armed and not m.db.ha_enabled:
            self.w.log(h, now, "info", "HA has been disabled on the Pool while we were offline; disarming HA locally")
            self.w.ha.release(h, now)
        elif m.db.ha_enabled and not h.ha_armed:
            self.w.log(
                h,
                now,
                "info",
                "We are a slave: we cannot join an HA-enabled Pool after being locally disarmed. "
                "Entering emergency mode.",
            )
            h.emergency_error = ("HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED", ())
            self.w.schedule(now + self.w.params.permanent_retry, h, "hello")
            self.w.changed()
            return
        h.emergency = False
        h.emergency_error = None
        h.init_complete = True
        self._auto_enable(h, m)
        self.w.log(h, now, "info", "Startup successful")
        self.w.changed()

    def _auto_enable(self, h: SimHost, m: SimHost) -> None:
        """A host disabled with auto-enable (the default) comes back enabled at its next start."""
        rec = m.db.record(h.uuid)
        if h.auto_enable and rec is not None and not rec.enabled:
            m.db.update_host(h.uuid, enabled=True)

    # ------------------------------------------------------------------
    # who talks to whom
    # ------------------------------------------------------------------

    def answers_as_master(self, src: SimHost, m: SimHost) -> bool:
        """m answers src's calls as a master of the same pool secret."""
        return self.w.reachable(src, m) and m.xapi == RUNNING and m.role == MASTER and m.ptoken == src.ptoken

    def route(self, h: SimHost) -> SimHost | None:
        """The master that runs h's forwarded commands, or None when they block."""
        if h.role == MASTER:
            return h
        m = self.w.host_named(role_master_address(h.role))
        if m is not None and m is not h and self.answers_as_master(h, m):
            return m
        return None

    def connected_master(self, s: SimHost) -> SimHost | None:
        """The master s heartbeats to right now, if any."""
        if s.xapi != RUNNING or s.emergency or s.role == MASTER:
            return None
        return self.route(s)

    def settle(self, h: SimHost, now: float) -> None:
        """Record heartbeats up to now for every link that h's next change may cut:
        h to its master, and (if h is a master) each of its slaves to h; and HA's view."""
        self.w.ha.sample(now)
        m = self.connected_master(h)
        if m is not None:
            m.db.last_seen[h.uuid] = now
        if h.is_master and h.xapi == RUNNING:
            for uuid in h.db.hosts:
                s = self.w.host_by_uuid(uuid)
                if s is not None and s is not h and self.connected_master(s) is h:
                    h.db.last_seen[uuid] = now

    def live(self, m: SimHost, uuid: str, now: float) -> bool:
        """host-metrics-live of `uuid` in master m's database. Under HA a host out of the
        liveset is dead, whatever its heartbeats say."""
        if uuid == m.uuid:
            return True
        if m.db.ha_enabled:
            c = self.w.ha.cluster(m)
            if c is not None and c.active and m.uuid in c.liveset and uuid not in c.liveset:
                return False
        s = self.w.host_by_uuid(uuid)
        if s is not None and self.connected_master(s) is m:
            return True
        seen = m.db.last_seen.get(uuid)
        return seen is not None and now - seen < self.w.params.dead_after

    def contact(self, m: SimHost, rec: HostRecord, now: float) -> SimHost:
        """Message forwarding from master m to a host of its database."""
        target = self.w.host_at(rec.address)
        if target is m:
            return m
        if not self.live(m, rec.uuid, now):
            raise ApiError("HOST_OFFLINE", host_ref(rec))
        if target is None or not self.w.reachable(m, target) or target.xapi != RUNNING or target.ptoken != m.ptoken:
            raise ApiError("CANNOT_CONTACT_HOST", host_ref(rec))
        if target.emergency and target.emergency_error is not None:
            raise ApiError(target.emergency_error[0], *target.emergency_error[1])
        return target

    def _emergency_reachable(self, src: SimHost, address: str) -> SimHost | None:
        """The host at `address` if src can make emergency calls to it (pool secret, xapi up)."""
        target = self.w.host_at(address)
        if target is None or not self.w.reachable(src, target) or target.xapi != RUNNING:
            return None
        return target if target.ptoken == src.ptoken else None

    # ------------------------------------------------------------------
    # emergency calls (answered locally, even in emergency mode)
    # ------------------------------------------------------------------

    def emergency_transition_to_master(self, h: SimHost, now: float) -> None:
        if h.ha_armed:
            raise ApiError("HA_IS_ENABLED")
        self.w.log(h, now, "info", "Setting pool.conf to master (become_master)")
        h.pool_conf = MASTER
        self.light_fuse(h, now)
        self.w.changed()

    def emergency_reset_master(self, h: SimHost, master_address: str, now: float) -> None:
        if h.ha_armed:
            raise ApiError("HA_IS_ENABLED")
        ip = self.w.resolve(master_address)
        if ip is None:
            raise ApiError("INTERNAL_ERROR", f"Couldn't resolve hostname: {master_address}")
        role = SLAVE_PREFIX + ip
        if h.role == role:
            self.w.log(h, now, "debug", f"We are already a slave of {ip}; nothing to do")
            return
        self.w.log(h, now, "debug", f"Setting pool.conf to point to {ip}")
        h.pool_conf = role
        self.light_fuse(h, now)
        self.w.changed()

    def emergency_ha_disable(self, h: SimHost, now: float, *, soft: bool = False) -> None:
        self.w.ha.emergency_disable(h, now, soft=soft)

    # ------------------------------------------------------------------
    # pool operations, run on a master m
    # ------------------------------------------------------------------

    def recover_slaves(self, m: SimHost, now: float) -> list[str]:
        """`Pool.recover_slaves`: every other host of m's database that answers is pointed
        at m; the others are skipped without a word. Returns the uuids it reset, in the
        order xapi returns them (built by prepending)."""
        recovered: list[str] = []
        for rec in list(m.db.hosts.values()):
            if rec.uuid == m.uuid:
                continue
            target = self._emergency_reachable(m, rec.address)
            if target is None or target is m:
                continue
            try:
                self.emergency_reset_master(target, m.address, now)
            except ApiError:
                continue
            recovered.append(rec.uuid)
        recovered.reverse()
        return recovered

    def sync_database(self, m: SimHost, now: float) -> None:
        """Push m's database as a backup to every host that takes it."""
        self.w.log(m, now, "debug", "flushing database to all online nodes")
        snapshot = m.db.snapshot()
        for rec in m.db.hosts.values():
            target = self.w.host_at(rec.address)
            if target is None or target is m or target.role == MASTER:
                continue  # a master keeps its own database (request_backup refuses on a master)
            if self.w.reachable(m, target) and target.xapi == RUNNING and not target.emergency:
                target.db = snapshot

    def designate_new_master(self, m: SimHost, rec: HostRecord, now: float) -> None:
        """`Pool.designate_new_master`: the orderly two-phase handover, run on the new master."""
        new = self.contact(m, rec, now)
        if new.role == MASTER:
            return  # runs on `new`, which does nothing if it is a master already
        if m.db.ha_enabled:
            raise ApiError("HA_IS_ENABLED")
        self.sync_database(m, now)
        others = [r.address for r in m.db.hosts.values() if r.address != new.address]
        peers = [m.address] + [a for a in others if a != m.address]
        self.w.log(
            new,
            now,
            "debug",
            f"attempting manual two-phase commit of new master. My address = {new.address}; "
            f"peer addresses = [ {'; '.join(peers)} ]",
        )
        self.w.log(new, now, "debug", "Phase 1: proposing myself as new master")
        for address in [*peers, new.address]:
            peer = self.w.host_at(address)
            if peer is None or not self.w.reachable(new, peer):
                raise ApiError("INTERNAL_ERROR", UNREACHABLE)
            if peer.xapi != RUNNING or peer.ptoken != new.ptoken:
                raise ApiError("INTERNAL_ERROR", REFUSED)
        new.pool_conf = BROKEN
        self.w.log(new, now, "debug", "Phase 2: committing transaction")
        self.w.log(new, now, "debug", "Phase 2.1: telling everyone but me to commit")
        # The new master restarts when its connection to the old master dies, i.e. with
        # the old master's fuse; lit first, it starts first and is master before the
        # others say hello.
        self.light_fuse(new, now)
        failed = []
        for address in peers:
            peer = self.w.host_at(address)
            try:
                if peer is None:
                    raise ApiError("INTERNAL_ERROR", UNREACHABLE)
                self.emergency_reset_master(peer, new.address, now)
            except ApiError:
                failed.append(address)
        if failed:
            self.w.log(
                new,
                now,
                "error",
                f"Some hosts failed to commit [ {'; '.join(failed)} ]: this node will now restart in a broken state",
            )
            self.start(new, now)
            raise ApiError("CANNOT_CONTACT_HOST", host_ref(rec))
        new.pool_conf = MASTER
        self.w.log(
            new, now, "debug", "Phase 2.2: setting flag to make us restart when the connection to the master dies"
        )
        self.w.changed()

    def join(self, m: SimHost, address: str, username: str, password: str, now: float, *, force: bool) -> None:
        """`Pool.join` run on m (a standalone master: the joiner itself), as `join_common`
        does it: log in to the master at `address`, the pre-join checks that apply to a
        simulated host, then take the pool secret, get a record in the master's database,
        point pool.conf at `address` (as typed) and light the fuse. ``force`` only skips
        the homogeneity check, which simulated hosts (all one version) always pass."""
        target = self.w.host_named(address)
        if target is None or not self.w.reachable(m, target) or target.xapi in (STOPPED, STARTING):
            raise ApiError("JOINING_HOST_CONNECTION_FAILED")
        if target.xapi == HUNG:
            raise Blocked(f"xapi on {target.name} is not responding")
        self._login(target, username, password)
        if m.db.ha_enabled or target.db.ha_enabled:
            raise ApiError("HA_IS_ENABLED")
        if target is m:
            reason = "Host is already part of a pool" if len(m.db.hosts) > 1 else "Host cannot become slave of itself"
            raise ApiError("OPERATION_NOT_ALLOWED", reason)
        if len(m.db.hosts) > 1:
            raise ApiError("JOINING_HOST_CANNOT_BE_MASTER_OF_OTHER_HOSTS")
        own = m.db.record(m.uuid) or HostRecord(m.uuid, m.name, m.address, m.dom0_uuid, m.local_sr_uuid)
        if target.db.record(m.uuid) is None:
            self.w.log(target, now, "debug", f"Found no host with uuid = '{m.uuid}' on the master, so creating one.")
            target.db.put_host(own)
        target.db.last_seen[m.uuid] = now
        m.ptoken = target.ptoken
        m.db = target.db.snapshot()  # the joiner fetches a backup of its new pool's database
        self.w.log(m, now, "info", f"Pool.join: joining the pool of {address}; restarting as its slave")
        m.pool_conf = SLAVE_PREFIX + address
        self.light_fuse(m, now)
        self.w.changed()

    def _login(self, target: SimHost, username: str, password: str) -> None:
        """`Session.login_with_password` on the master to join (`xapi_session.ml`): a slave
        redirects before it looks at the credentials; then only root's password opens."""
        if target.role != MASTER:
            raise ApiError("HOST_IS_SLAVE", role_master_address(target.role) or "")
        if username != ROOT_USER or password != ROOT_PASSWORD:
            # The message is PAM's; the password itself goes nowhere.
            raise ApiError("SESSION_AUTHENTICATION_FAILED", username, "Authentication failure")

    def set_enabled(self, m: SimHost, rec: HostRecord, enabled: bool, now: float, *, auto_enable: bool = True) -> None:
        target = self.contact(m, rec, now)
        m.db.update_host(rec.uuid, enabled=enabled)
        target.auto_enable = auto_enable or enabled
        self.w.changed()

    def power_off_host(self, m: SimHost, rec: HostRecord, now: float, *, reboot: bool) -> None:
        if rec.enabled:
            raise ApiError("HOST_NOT_DISABLED")
        target = self.contact(m, rec, now)
        if m.db.ha_enabled:
            self.w.ha.before_clean_shutdown(target, now)
        self.w.log(target, now, "info", "Host.reboot: rebooting" if reboot else "Host.shutdown: shutting down")
        self.w.begin_shutdown(target, now, reboot=reboot)

    def is_host_alive(self, m: SimHost, rec: HostRecord, now: float) -> bool:
        """`Xapi_host.is_host_alive`: dead in the database is definitive; otherwise ask it."""
        if rec.uuid == m.uuid:
            return True
        if not self.live(m, rec.uuid, now):
            return False
        return self._emergency_reachable(m, rec.address) is not None

    def forget(self, m: SimHost, rec: HostRecord, now: float) -> None:
        """`Host.destroy`: only m's database forgets; the host itself is not told."""
        # The master's own record never gets past this: the local host always answers,
        # so xapi's later HOST_CANNOT_DESTROY_SELF check cannot be reached from the CLI.
        if self.is_host_alive(m, rec, now):
            raise ApiError("HOST_IS_LIVE", host_ref(rec))
        if m.db.ha_enabled:
            raise ApiError("HA_IS_ENABLED")
        m.db.remove_host(rec.uuid)
        self.w.log(m, now, "info", f"Host.destroy: forgot host {rec.uuid} ({rec.name_label})")
        self.w.changed()

    def ha_enable(self, m: SimHost, configuration: dict[str, str], now: float) -> None:
        """`Xapi_ha.enable`: HA_IS_ENABLED, every host live, T from ha-config:timeout (else the
        pool's default), then the statefile, xhad.conf and local.db everywhere, the joins,
        `ha_enabled`, and a fresh database backup on every host."""
        if m.db.ha_enabled:
            raise ApiError("HA_IS_ENABLED")
        targets = [self.contact(m, rec, now) for rec in m.db.hosts.values()]
        self.w.log(m, now, "debug", "Enabling HA on the Pool.")
        timeout = self._ha_timeout(configuration)
        m.db = m.db.writable()  # a master that just joined another pool holds its backup until the fuse
        cluster = self.w.ha.enable(m, targets, timeout, now)
        m.db.configure_ha(configuration, (cluster.conf.vdi_uuid,))
        m.db.set_ha(True)
        self.sync_database(m, now)  # "Make sure everyone's got a fresh database"
        self.w.changed()

    def _ha_timeout(self, configuration: dict[str, str]) -> float:
        """`Timeouts.get_base_t` and `derive`'s check; without ha-config:timeout the pool's
        default, the simulator's (compressed) T."""
        text = configuration.get("timeout")
        if text is None:
            return self.w.params.ha_timeout
        if not re.fullmatch(r"[-+]?[0-9]+", text):
            raise ApiError("INTERNAL_ERROR", 'Failure("int_of_string")')
        if int(text) < MIN_TIMEOUT:
            raise ApiError("INTERNAL_ERROR", f'Failure("constraint violation: timeout >= {MIN_TIMEOUT}")')
        return float(int(text))

    def ha_disable(self, m: SimHost, now: float) -> None:
        if not m.db.ha_enabled:
            raise ApiError("HA_NOT_ENABLED")
        self.w.log(m, now, "debug", "Disabling HA on the Pool")
        reached = []
        for rec in m.db.hosts.values():
            target = self.w.host_at(rec.address)
            if target is not None and (target is m or (self.w.reachable(m, target) and target.xapi == RUNNING)):
                reached.append(target)
        self.w.ha.disable(m, reached, now)
        m.db = m.db.writable()
        m.db.set_ha(False)
        self.w.changed()
