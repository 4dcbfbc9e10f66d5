"""The probe loop: every host probed on its own self-rescheduling schedule.

Each host has one task that probes, publishes, then sleeps ``interval`` from
the end of the round, so a slow host never stacks probes and never delays
the others. Observations are published as each section of the probe's
output arrives, so a lost master shows up the moment its channel fails or a
slave's check of its master's port times out, not after a forwarded ``xe``
gives up. A dropped connection wakes its host's loop at once.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Callable, Iterable

from poolterm.model import Observation, Reach
from poolterm.probing.pacing import FULL, Pacer, RoundPlan, round_interval
from poolterm.probing.probe import PUBLISH_AFTER, ROUND_OUTPUT_LIMIT, ProbeParser, build_probe_command
from poolterm.transport.ssh import Connections, HostUnavailable

#: Extra seconds above the probe timeout for the local deadline: the remote
#: sections have their own ``timeout -k`` (emergency flag 2 s + master port 1 s + kill grace).
DEADLINE_SLACK = 5.0

Publish = Callable[[Observation], None]
#: Told each host's round as it ends: the host, and the round's seconds (the exporter's histogram).
RoundDone = Callable[[str, float], None]
#: Told each section of a round as it ends: the host, the section's name, and the round's parser so far.
SectionDone = Callable[[str, str, ProbeParser], None]


class Watcher:
    def __init__(self, hosts: Iterable, connections: Connections, *, interval: float, timeout: float,
                 publish: Publish | None = None, budget: int | None = None, on_round: RoundDone | None = None,
                 on_section: SectionDone | None = None):
        """``budget``: each master's, in sessions and TLS connections a minute (:mod:`.pacing`);
        None asks everything every round. ``on_section``: for a caller that acts on what a round
        has said before it ends (`poolterm check` asks a slave about its master)."""
        hosts = list(hosts)
        self.hosts = [h.name for h in hosts]
        self._by_address = {getattr(h, "address", None): h.name for h in hosts}
        self.pacer = None if budget is None else Pacer(((h.name, getattr(h, "pool", "")) for h in hosts),
                                                       budget=budget)
        self.connections = connections
        self.interval = interval
        self.timeout = timeout
        self.observations: dict[str, Observation] = {}
        self._publish = publish or (lambda obs: None)
        self._on_round = on_round or (lambda name, seconds: None)
        self._on_section = on_section
        self._tasks: dict[str, asyncio.Task] = {}
        self._wake: dict[str, asyncio.Event] = {name: asyncio.Event() for name in self.hosts}
        self.paused = False
        self.rounds = 0

    # ---- one round ---------------------------------------------------------------
    async def probe(self, name: str) -> Observation:
        """Probe one host once and publish what it shows, as it shows it."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        previous = self.observations.get(name)
        known = _known(previous)
        parser = ProbeParser(name)
        # The uuid only changes with a reinstall, which needs the host gone first: read the
        # inventory until it is known, and again on the first round after the host was away.
        came_back = previous is not None and not previous.reach.reachable
        read_inventory = known is None or known.uuid is None or came_back
        plan = FULL if self.pacer is None or came_back else self.pacer.plan(name, known, loop.time())
        command = build_probe_command(known, self.timeout, read_inventory=read_inventory, deep=plan.deep,
                                      ask_emergency=plan.ask_emergency)

        # A partial round is worth publishing before a section that may wait for seconds, but
        # only when it says something new (a host back, or a first round, always does).
        def on_line(stream: str, line: str) -> None:
            section = parser.feed(line)
            if section is None:
                return
            if self._on_section is not None:
                self._on_section(name, section, parser)
            if section in PUBLISH_AFTER and (came_back or parser.tells_news(known)):
                self._store(parser.observation(loop.time(), complete=False), known, previous, plan)

        try:
            result = await self.connections.run(
                name, command, deadline=self.timeout + DEADLINE_SLACK, on_line=on_line, limit=ROUND_OUTPUT_LIMIT)
            obs = parser.observation(loop.time(), complete=True, hung=result.deadline_hit)
            if not read_inventory:
                obs = replace(obs, uuid=known.uuid)  # the inventory is read once; the uuid carries over
        except HostUnavailable as exc:
            obs = Observation(host=name, at=loop.time(), reach=exc.reach, reach_detail=exc.detail,
                              last_seen=known.last_seen if known else None, complete=True, stale=known)
        self.rounds += 1
        self._on_round(name, loop.time() - started)
        return self._store(obs, known, previous, plan)

    def _store(self, obs: Observation, known: Observation | None, previous: Observation | None = None,
               plan: RoundPlan = FULL) -> Observation:
        if obs.reach.reachable and not obs.complete and known is not None:
            obs = _overlay(known, obs)
        if obs.reach.reachable and known is not None:
            obs = _carried(_with_history(obs, known), known, plan)
        if self.pacer is not None:
            alerted = self.pacer.observed(obs, previous, obs.at)
            if alerted is not None:  # its calm slaves may be seconds from their turn: everyone now
                for host in self.pacer.hosts_of(alerted):
                    self.wake(host)
        if obs.master_ping is False:
            # A slave lost its master: look at the master now, not at its next turn (dead, or only cut off?).
            master = self._by_address.get(obs.believed_master_address)
            if master is not None and master != obs.host:
                self.wake(master)
        self.observations[obs.host] = obs
        self._publish(obs)
        return obs

    async def probe_all(self) -> dict[str, Observation]:
        """One round on every host at once (``poolterm check``)."""
        await asyncio.gather(*(self.probe(name) for name in self.hosts))
        return dict(self.observations)

    # ---- the loop ------------------------------------------------------------------
    def start(self) -> None:
        for name in self.hosts:
            if name not in self._tasks:
                self._tasks[name] = asyncio.create_task(self._loop(name), name=f"probe:{name}")

    def wake(self, name: str | None = None) -> None:
        """Probe now: one host (its connection changed) or all (operator pressed refresh)."""
        for host in [name] if name else self.hosts:
            if host in self._wake:
                self._wake[host].set()

    def reconnect(self, name: str) -> None:
        """Connect to ``name`` again now, with known_hosts read anew (the operator trusted its key)."""
        self.connections.reset(name)
        self.wake(name)

    async def _loop(self, name: str) -> None:
        while True:
            if not self.paused:
                await self.probe(name)
                if asyncio.current_task().cancelling():
                    # asyncssh connects under wait_for, which on 3.11 can swallow a cancel that
                    # lands as a refused connect fails; honour it here or stop() never returns.
                    raise asyncio.CancelledError
            event = self._wake[name]
            try:
                async with asyncio.timeout(self._interval_of(name)):  # no extra task per wait, unlike wait_for
                    await event.wait()
            except TimeoutError:
                pass
            event.clear()

    def _interval_of(self, name: str) -> float:
        if self.pacer is not None and self.pacer.calm_slave(name, asyncio.get_running_loop().time()):
            return round_interval(self.interval, len(self.hosts))
        return self.interval

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _known(obs: Observation | None) -> Observation | None:
    """The latest observation made while connected (what the host last told us)."""
    if obs is None:
        return None
    if obs.reach is Reach.CONNECTED:
        return obs
    return obs.stale


def _overlay(known: Observation, partial: Observation) -> Observation:
    """A round in progress: new sections over the last complete round, so nothing flickers."""
    fields = {name: getattr(partial, name) for name in (
        "pool_conf", "uuid", "init_complete", "xapi_service", "emergency_flag", "secret_hash",
        "master_port", "xe", "pool_master_uuid", "db_hosts", "ha_armed", "ha_timeout", "ha_live", "ha_peers",
        "pool_ha_enabled", "pool_ha_tolerate") if getattr(partial, name) is not None}
    return replace(known, at=partial.at, last_seen=partial.last_seen, complete=False, raw=partial.raw,
                   reach=partial.reach, reach_detail="", stale=None, **fields)


def _with_history(obs: Observation, known: Observation) -> Observation:
    """Carry when the host's pool.conf last changed: a master change is told apart from an
    incident by how recently the files changed (docs/xapi.md: a fuse restarts xapi 10 s later)."""
    changes: dict[str, object] = {}
    if obs.pool_conf is not None and known.pool_conf is not None:
        if obs.pool_conf != known.pool_conf:
            changes.update(conf_changed_at=obs.at, conf_before=known.pool_conf)
        elif obs.conf_changed_at != known.conf_changed_at:
            changes.update(conf_changed_at=known.conf_changed_at, conf_before=known.conf_before)
    # ... and when xapi's service took its state: a start that lasts is no longer a start.
    if obs.xapi_service is not None and known.xapi_service is not None:
        if obs.xapi_service != known.xapi_service:
            changes["service_changed_at"] = obs.at
        elif obs.service_changed_at != known.service_changed_at:
            changes["service_changed_at"] = known.service_changed_at
    return replace(obs, **changes) if changes else obs


#: What a paced round did not ask, by the reason it was left out: the last answer stands.
_DEEP_FIELDS = ("xe", "pool_master_uuid", "pool_ha_enabled", "pool_ha_tolerate", "master_port")


def _carried(obs: Observation, known: Observation, plan: RoundPlan) -> Observation:
    """A paced round's observation with the answers it did not ask for carried from the last round
    that did: the forwarded call and the master's port (not ``deep``), the emergency flag. A ping is
    never carried: a full round's port check says more, and a stale failed ping would keep the alert
    (and a cut-from-master finding) on for ever."""
    fields = {}
    if obs.pool_conf != known.pool_conf:
        return obs  # another master now: what was learned of the old one says nothing of it
    if not plan.deep:
        fields.update({name: getattr(known, name) for name in _DEEP_FIELDS if getattr(obs, name) is None})
    if not plan.ask_emergency and obs.emergency_flag is None:
        fields["emergency_flag"] = known.emergency_flag
    return replace(obs, **fields) if fields else obs
