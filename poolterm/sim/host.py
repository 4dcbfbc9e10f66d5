"""One simulated XenServer host: its hardware, its network link, its xapi, its files."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from poolterm.sim.pooldb import PoolDB

if TYPE_CHECKING:
    from poolterm.sim.ha import XhadConf

# power
ON, OFF, BOOTING, SHUTTING_DOWN = "on", "off", "booting", "shutting-down"
# xapi
RUNNING, HUNG, STARTING, STOPPED = "running", "hung", "starting", "stopped"

MASTER, BROKEN = "master", "broken"
SLAVE_PREFIX = "slave:"

LOG_LINES = 400
# Log timestamps count from here (the logs need a calendar; the world has none).
LOG_EPOCH = datetime(2024, 10, 16, 18, 0, 0)


def parse_pool_conf(text: str) -> str:
    """The role xapi reads from pool.conf (`Pool_role.read_pool_role`): ``master``,
    ``slave:<ip>`` or ``broken``; anything unreadable counts as broken."""
    s = text.strip()
    head, sep, rest = s.partition(":")
    if s == MASTER:
        return MASTER
    if head == "slave" and sep:
        return SLAVE_PREFIX + rest
    return BROKEN


def role_master_address(role: str | None) -> str | None:
    if role is not None and role.startswith(SLAVE_PREFIX):
        return role[len(SLAVE_PREFIX) :]
    return None


@dataclass(eq=False)
class SimHost:
    name: str
    uuid: str
    address: str
    dom0_uuid: str
    local_sr_uuid: str
    ptoken: str = field(repr=False)  # the pool secret: never printed but by `cat`
    inventory: str
    pool_conf: str
    db: PoolDB

    power: str = ON
    off_kind: str = "graceful"  # how it last lost power: graceful shutdown or crash
    link: str = "up"
    boot_epoch: int = 1
    xapi: str = RUNNING
    xapi_epoch: int = 1
    role: str | None = None  # what xapi read from pool.conf at its last start
    emergency: bool = False
    emergency_error: tuple[str, tuple[str, ...]] | None = None
    ha_armed: bool = False  # local.db `ha.armed`: xapi's start-up joins the liveset first
    auto_enable: bool = True  # host-disable auto-enable=...: re-enable at the next xapi start
    init_complete: bool = False
    startup_cookie: bool = False
    log: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    power_seq: int = 0  # bumped on every power transition: invalidates pending power timers
    hung_since: float | None = None  # when xapi last stopped answering (xhad's health check reads it)

    # HA (poolterm/sim/ha.py). xhad.conf and local.db's HA keys outlive every disable; reinstall wipes them.
    xhad_conf: XhadConf | None = None
    statefile: str = "up"  # this host's path to the heartbeat SR
    xhad: bool = False  # the daemon runs
    excluded: bool = False  # left the liveset by a clean shutdown
    fences: int = 0
    xha_log: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    ha_waiting: bool = False  # xapi's start-up loops until it can join the liveset
    ha_retry_at: float | None = None  # ... and tries again then
    failover_at: float | None = None  # xapi's HA monitor acts on its master's absence then
    xapimon_restart: float | None = None  # when xhad last restarted a hung xapi

    @property
    def net_up(self) -> bool:
        """Packets reach this host's dom0 (powered on, cable in)."""
        return self.power == ON and self.link == "up"

    @property
    def xapi_alive(self) -> bool:
        """The xapi process exists (it may be hung)."""
        return self.xapi in (RUNNING, HUNG)

    @property
    def is_master(self) -> bool:
        return self.xapi_alive and self.role == MASTER

    @property
    def believed_master(self) -> str | None:
        """The address of the master this host's xapi talks to (its own when it is master)."""
        if self.role == MASTER:
            return self.address
        return role_master_address(self.role)
