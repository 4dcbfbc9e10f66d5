"""The vocabulary shared by probe, diagnosis, check and the console.

Pure data: no I/O, no asyncio, no Textual. Times are seconds on the caller's
monotonic clock, passed in; nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property

from poolterm.xha import Liveset


class Reach(str, Enum):
    """What the jump box saw when it last tried the host over SSH."""

    PENDING = "pending"  # never tried yet
    CONNECTED = "connected"
    REFUSED = "refused"  # TCP refused: host up without sshd, or shut down
    TIMEOUT = "timeout"  # nothing answers: power lost, cable out, black hole
    STALLED = "stalled"  # connection up but a channel did not open in time
    UNREACHABLE = "unreachable"  # no route, name does not resolve
    AUTH_FAILED = "auth-failed"
    HOST_KEY_UNKNOWN = "host-key-unknown"
    HOST_KEY_CHANGED = "host-key-changed"
    ERROR = "error"

    @property
    def reachable(self) -> bool:
        return self is Reach.CONNECTED


class Role(str, Enum):
    """What /etc/xensource/pool.conf says (xapi's own reader, Pool_role)."""

    MASTER = "master"
    SLAVE = "slave"
    BROKEN = "broken"  # failed mid two-phase commit, or unreadable file
    UNKNOWN = "unknown"  # we could not read it


class XapiState(str, Enum):
    """How the host's xapi answered the probe's forwarded and local xe calls."""

    ANSWERING = "answering"
    HUNG = "hung"  # forwarded xe timed out: waiting on a master that is gone
    EMERGENCY = "emergency"  # forwarded xe fails at once; emergency flag or stored error
    DOWN = "down"  # xapi not running (connection refused)
    STARTING = "starting"  # running but not initialised yet
    UNKNOWN = "unknown"


class Severity(str, Enum):
    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    UNKNOWN = "unknown"

    @property
    def exit_code(self) -> int:
        """The Nagios plugin convention."""
        return {"ok": 0, "warning": 1, "critical": 2, "unknown": 3}[self.value]

    @property
    def rank(self) -> int:
        # UNKNOWN sorts below CRITICAL: a pool we cannot see is bad, a broken one is worse.
        return {"ok": 0, "warning": 1, "unknown": 2, "critical": 3}[self.value]


class Verdict(str, Enum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    MASTER_LOST = "master-lost"
    SPLIT_BRAIN = "split-brain"
    ORPHANED_SLAVES = "orphaned-slaves"
    EMERGENCY = "emergency"
    HANDOVER = "handover-in-progress"  # a master change under way: wait, touch nothing
    HA_FAILOVER = "ha-failover"  # HA is electing a new master: wait, never promote by hand
    HA_STUCK = "ha-stuck"  # HA armed, its election overdue or impossible
    UNKNOWN = "unknown"

    @property
    def title(self) -> str:
        """How the console shows it: `MASTER LOST`, `SPLIT BRAIN`, ..."""
        return self.value.replace("-", " ").upper()

    @property
    def severity(self) -> Severity:
        if self is Verdict.HEALTHY:
            return Severity.OK
        if self in (Verdict.DEGRADED, Verdict.HANDOVER):
            return Severity.WARNING
        if self is Verdict.UNKNOWN:
            return Severity.UNKNOWN
        return Severity.CRITICAL


@dataclass(frozen=True)
class DbHost:
    """One host record as a master's database lists it (xe host-list)."""

    uuid: str
    name: str
    address: str
    enabled: bool | None = None
    live: bool | None = None


@dataclass(frozen=True)
class XeCall:
    """The outcome of one forwarded xe call made by the probe on a host."""

    status: str  # "answered" | "hung" | "failed" | "refused"
    output: str = ""  # stdout, or the first line of the error
    error_code: str | None = None  # e.g. HOST_STILL_BOOTING, when recognised

    @property
    def answered(self) -> bool:
        return self.status == "answered"


@dataclass(frozen=True)
class Observation:
    """Everything one probe round learned about one host.

    Fields left ``None`` were not learned this round. For a host the jump box
    cannot reach, ``stale`` carries what it believed when last seen, so the
    diagnosis can say "plot1 was master until 14 s ago".
    """

    host: str
    at: float
    reach: Reach = Reach.PENDING
    reach_detail: str = ""
    pool_conf: str | None = None
    uuid: str | None = None
    init_complete: bool | None = None
    xapi_service: str | None = None  # systemctl is-active xapi
    emergency_flag: bool | None = None
    secret_hash: str | None = None  # sha256 of the pool secret; never the secret
    master_port: str | None = None  # "ok" | "refused" | "timeout", from this host to its master
    master_ping: bool | None = None  # the master answers ping from this host (costs xapi nothing)
    xe: XeCall | None = None
    pool_master_uuid: str | None = None  # what the forwarded pool-list said
    db_hosts: tuple[DbHost, ...] | None = None  # this host's pool database, when it runs as master
    last_seen: float | None = None
    complete: bool = False  # the round finished (False while output still streams in)
    raw: tuple[str, ...] = ()
    stale: "Observation | None" = None
    # HA, from the host itself (local.db, xhad) and from the pool record its master forwards.
    ha_armed: bool | None = None
    ha_timeout: float | None = None  # T, as local.db keeps it
    ha_live: Liveset | None = None  # this host's xhad's liveset, when it runs
    ha_peers: tuple[tuple[str, str], ...] | None = None  # local.db ha_peers: (uuid, address) at enable
    pool_ha_enabled: bool | None = None
    pool_ha_tolerate: int | None = None
    # History the watcher keeps: when this host's pool.conf took its current value, and the one before.
    conf_changed_at: float | None = None
    conf_before: str | None = None
    service_changed_at: float | None = None  # when `systemctl is-active xapi` took its current value

    # Cached: the diagnosis asks each host's role many times per pass, at 1000 hosts.
    @cached_property
    def role(self) -> Role:
        return parse_role(self.pool_conf)[0]

    @cached_property
    def believed_master_address(self) -> str | None:
        role, address = parse_role(self.pool_conf)
        return address if role is Role.SLAVE else None


def parse_role(pool_conf: str | None) -> tuple[Role, str | None]:
    """Read pool.conf the way xapi's Pool_role does: trim, split on the first ':'."""
    if pool_conf is None:
        return Role.UNKNOWN, None
    text = pool_conf.strip()
    if text == "master":
        return Role.MASTER, None
    if text.startswith("slave:") and text[len("slave:"):].strip():
        return Role.SLAVE, text[len("slave:"):].strip()
    return Role.BROKEN, None


@dataclass(frozen=True)
class HostState:
    """The diagnosis of one host, ready to draw or print."""

    name: str
    address: str
    reachable: bool
    reach: Reach
    role: Role
    believed_master: str | None  # host name when known, else the address from pool.conf
    xapi: XapiState
    emergency_flag: bool | None
    last_seen: float | None
    evidence: tuple[str, ...] = ()
    agrees: bool = True  # False when what it believes disagrees with the pool's master
    stale: bool = False  # role and belief are remembered from an earlier round
    ha: str | None = None  # "armed", "disarmed", "fenced"; None where HA was never seen

    @property
    def ha_mark(self) -> str:
        return self.ha or ""

    @property
    def is_master(self) -> bool:
        return self.role is Role.MASTER


@dataclass(frozen=True)
class Candidate:
    """A host that could be promoted to master, and why it ranks where it does."""

    name: str
    score: int
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Finding:
    kind: str
    severity: Severity
    hosts: tuple[str, ...]
    summary: str
    playbook: str | None = None
    evidence: tuple[str, ...] = ()
    candidates: tuple[Candidate, ...] = ()


@dataclass(frozen=True)
class PoolHa:
    """The pool's HA as its hosts show it: ``enabled`` from the pool record (None if no master
    answered), the hosts whose local.db says armed, and the failures HA is set to tolerate."""

    enabled: bool | None
    armed: tuple[str, ...]
    disarmed: tuple[str, ...]
    failures_to_tolerate: int | None
    timeout: float | None

    @property
    def on(self) -> bool:
        """HA runs here: the pool says so, or (no master answering) most hosts are armed."""
        if self.enabled is not None:
            return self.enabled or bool(self.armed)
        return bool(self.armed) and len(self.armed) >= len(self.disarmed)


@dataclass(frozen=True)
class PoolDiagnosis:
    name: str
    verdict: Verdict
    master: str | None
    hosts: tuple[HostState, ...]
    findings: tuple[Finding, ...]
    summary: str
    advice: str
    ha: PoolHa | None = None  # None: no host showed any HA state

    @property
    def severity(self) -> Severity:
        return self.verdict.severity

    @property
    def playbook(self) -> str | None:
        return next((f.playbook for f in self.findings if f.playbook), None)


@dataclass(frozen=True)
class Diagnosis:
    pools: tuple[PoolDiagnosis, ...] = field(default_factory=tuple)

    @property
    def worst(self) -> PoolDiagnosis | None:
        if not self.pools:
            return None
        return max(self.pools, key=lambda p: p.severity.rank)

    @property
    def verdict(self) -> Verdict:
        worst = self.worst
        return worst.verdict if worst else Verdict.UNKNOWN

    @property
    def severity(self) -> Severity:
        return self.verdict.severity


@dataclass(frozen=True)
class CommandResult:
    """How a command ended, as far as the engine cares."""

    exit_status: int | None
    output: tuple[str, ...] = ()
    error: str = ""  # the host could not be used at all, or the output was cut and the command stopped
    deadline_hit: bool = False

    @property
    def ok(self) -> bool:
        return not self.error and not self.deadline_hit and self.exit_status == 0
