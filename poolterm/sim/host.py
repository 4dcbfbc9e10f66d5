"""One simulated XenServer host: its hardware, its network link, its xapi, its files."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from poolterm.sim.pooldb import PoolDB

# power
ON, OFF, BOOTING, SHUTTING_DOWN = "on", "off", "booting", "shutting-down"
# xapi
RUNNING, HUNG, STARTING, STOPPED = "running", "hung", "starting", "stopped"

MASTER, BROKEN = "master", "broken"
SLAVE_PREFIX = "slave:"

LOG_LINES = 400


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
    ha_armed: bool = False
    auto_enable: bool = True  # host-disable auto-enable=...: re-enable at the next xapi start
    init_complete: bool = False
    startup_cookie: bool = False
    log: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    power_seq: int = 0  # bumped on every power transition: invalidates pending power timers

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
