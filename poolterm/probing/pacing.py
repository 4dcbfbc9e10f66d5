"""How much of each master's attention a probe round may spend (issue #13).

Every round reads what costs xapi nothing: pool.conf, the cookies, the service state, the
secret's hash, local.db, and a ping from each slave to its master. What costs the master
(a forwarded ``xe`` call is a session on it, a slave's ``curl`` to its port a TLS
handshake, the master's own ``host-list`` a session) is paced per pool:

* **calm**: the master's own local call every round (it is what notices a hung master
  xapi), and the slaves' forwarded checks one at a time, oldest first, out of a token
  bucket that refills at ``budget`` a minute; ``host-is-in-emergency-mode`` only where it
  can say something new (never asked yet, said true, a call failing, xapi restarted);
* **alert**: the moment anything looks wrong (a host stops answering or comes back, a call
  fails, hangs or is refused, pool.conf or xapi's service state changes, a ping to the
  master fails, a host in emergency mode) every host gets everything every round, for as
  long as it looks wrong and :data:`ALERT_HOLD` seconds after.

A fleet bounds the rounds themselves too (issue #16): each round costs the probe process
about a millisecond of CPU and each host's sshd as much, so one probe process keeps its
calm slaves to :data:`CALM_ROUNDS_PER_SECOND` rounds a second. Up to 500 hosts a process
that is every 2 s, as before; with 2,500 a calm slave's round comes every 10 s. Masters
and every host of a pool on alert keep the probe interval, and the alert wakes the slaves
of its pool at once.

Pure: the caller passes the time; nothing here does I/O.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Iterable, Mapping

from poolterm.model import Observation, Reach, Role

#: Seconds a pool stays on alert after the last sign of trouble.
ALERT_HOLD = 30.0
#: Rounds a second of a probe process's calm slaves, at most (a quarter of a core at ~1 ms each).
CALM_ROUNDS_PER_SECOND = 250
#: What the master pays for a slave's full check: its forwarded call (a session) and its curl (TLS).
SLAVE_CHECK = 2
#: What the master pays for its own round's local call (a session).
MASTER_CALL = 1
#: Tokens a calm pool may save up: two slaves' checks in a row at most.
BURST = 2 * SLAVE_CHECK
#: Seconds over which the load on a master is measured.
WINDOW = 60.0


@dataclass(frozen=True)
class RoundPlan:
    deep: bool  # the forwarded call and the master's port (a slave), or everything (alert)
    ask_emergency: bool  # host-is-in-emergency-mode this round


#: The plan when nothing is paced: every section, every round (``poolterm check``, the old behaviour).
FULL = RoundPlan(deep=True, ask_emergency=True)


class Pacer:
    """Per-pool budgets and alerts for the probe loop (:class:`~poolterm.probing.watch.Watcher`)."""

    def __init__(self, hosts: Iterable[tuple[str, str]], *, budget: int | Mapping[str, float]):
        """``budget``: every pool's, or each pool's by name (a pool whose hosts several probe workers share
        gets a share of it in each: together they spend what one would)."""
        self.budget = budget
        self._pool_of = dict(hosts)  # host -> pool
        pools = set(self._pool_of.values())
        self._budget = {pool: budget for pool in pools} if isinstance(budget, (int, float)) else dict(budget)
        self._tokens = {pool: float(BURST) for pool in pools}
        self._refilled: dict[str, float | None] = {pool: None for pool in pools}
        self._alert_until = {pool: float("-inf") for pool in pools}
        self._spent: dict[str, deque[tuple[float, int]]] = {pool: deque() for pool in pools}
        self._last_deep: dict[str, float] = {}
        self._slaves: dict[str, set[str]] = {pool: set() for pool in pools}

    # ---- what the loop asks ------------------------------------------------------------
    def plan(self, name: str, known: Observation | None, now: float) -> RoundPlan:
        """What host ``name``'s next round asks, given what its last one learned; its cost is booked."""
        pool = self._pool_of.get(name)
        if pool is None:
            return FULL
        self._refill(pool, now)
        alert = self.alert(pool, now)
        role = known.role if known is not None else Role.UNKNOWN
        ask_emergency = alert or _emergency_may_say_something(known, now)
        if role is Role.MASTER:
            self._spend(pool, MASTER_CALL + (1 if ask_emergency else 0), now)
            return RoundPlan(deep=True, ask_emergency=ask_emergency)
        if role is not Role.SLAVE:
            self._spend(pool, SLAVE_CHECK, now)  # a first look, or a broken pool.conf: everything
            return RoundPlan(deep=True, ask_emergency=True)
        deep = alert or (self._tokens[pool] >= SLAVE_CHECK and self._turn(pool, name))
        if deep:
            self._last_deep[name] = now
            self._spend(pool, SLAVE_CHECK, now)
        return RoundPlan(deep=deep, ask_emergency=ask_emergency)

    def observed(self, obs: Observation, previous: Observation | None, now: float) -> str | None:
        """A round's observation (complete or not) after ``previous``, the host's last: keep the pool's
        roles, and sound the alert on trouble. Returns the pool when this sounded it (it was calm)."""
        pool = self._pool_of.get(obs.host)
        if pool is None:
            return None
        seen = obs if obs.reach.reachable else obs.stale
        slaves = self._slaves[pool]
        (slaves.add if seen is not None and seen.role is Role.SLAVE else slaves.discard)(obs.host)
        if not _troubled(obs, previous):
            return None
        was_calm = not self.alert(pool, now)
        self._alert_until[pool] = now + ALERT_HOLD
        return pool if was_calm else None

    def calm_slave(self, name: str, now: float) -> bool:
        """A slave of a calm pool: its round may come less often than the master's (see
        :func:`round_interval`)."""
        pool = self._pool_of.get(name)
        return pool is not None and name in self._slaves[pool] and not self.alert(pool, now)

    def hosts_of(self, pool: str) -> list[str]:
        return [name for name, p in self._pool_of.items() if p == pool]

    # ---- what the console shows --------------------------------------------------------
    def alert(self, pool: str, now: float) -> bool:
        return now < self._alert_until.get(pool, float("-inf"))

    def mode(self, pool: str, now: float) -> str:
        return "alert" if self.alert(pool, now) else "calm"

    def load(self, pool: str, now: float) -> int:
        """Sessions and TLS connections this probe caused on the pool's master over the last minute."""
        spent = self._spent.get(pool)
        if spent is None:
            return 0
        while spent and spent[0][0] <= now - WINDOW:
            spent.popleft()
        return sum(cost for _, cost in spent)

    def pools(self) -> list[str]:
        return sorted(set(self._pool_of.values()))

    # ---- the budget --------------------------------------------------------------------
    def _refill(self, pool: str, now: float) -> None:
        last = self._refilled[pool]
        if last is not None:
            self._tokens[pool] = min(BURST, self._tokens[pool] + (now - last) * self._budget[pool] / WINDOW)
        self._refilled[pool] = now

    def _spend(self, pool: str, cost: int, now: float) -> None:
        # The master's own call may go into debt (it is never skipped), and so does the first full look
        # at every host; the debt is capped, or a 64-host pool's first look would starve the slaves'
        # turns for minutes.
        self._tokens[pool] = max(-BURST, self._tokens[pool] - cost)
        self._spent[pool].append((now, cost))

    def _turn(self, pool: str, name: str) -> bool:
        """The slave whose last full check is the oldest goes next; a new one first."""
        mine = self._last_deep.get(name, float("-inf"))
        return all(mine <= self._last_deep.get(other, float("-inf")) for other in self._slaves[pool])


def round_interval(interval: float, hosts: int) -> float:
    """Seconds between two rounds of a calm slave, when one probe process probes ``hosts`` hosts: the
    interval, unless that would take it past :data:`CALM_ROUNDS_PER_SECOND`."""
    return max(interval, hosts / CALM_ROUNDS_PER_SECOND)


def _emergency_may_say_something(known: Observation | None, now: float) -> bool:
    if known is None or known.emergency_flag is None or known.emergency_flag:
        return True
    if known.xe is not None and not known.xe.answered:
        return True
    if known.init_complete is False or known.xapi_service != "active":
        return True
    restarted = known.service_changed_at
    return restarted is not None and now - restarted < ALERT_HOLD


def _troubled(obs: Observation, previous: Observation | None) -> bool:
    """Anything in this round that is not how a healthy pool looks, or that just changed."""
    if not obs.reach.reachable:
        return obs.reach is not Reach.PENDING
    if previous is not None and not previous.reach.reachable and previous.reach is not Reach.PENDING:
        return True  # back from being unreachable
    if obs.xe is not None and not obs.xe.answered:
        return True
    if obs.master_port not in (None, "ok") or obs.master_ping is False:
        return True
    if obs.emergency_flag or obs.init_complete is False:
        return True
    if obs.xapi_service not in (None, "active"):
        return True
    return obs.at in (obs.conf_changed_at, obs.service_changed_at)
