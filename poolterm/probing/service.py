"""Probing in a process of its own: ``python -m poolterm.probing.service INVENTORY``.

At a thousand hosts the probe loop spends about half a core in Python
(asyncssh packet handling). In the console's process, even on a thread of its
own, that CPU holds the GIL the screen needs to answer a key, and its million
long-lived objects make every full garbage collection a visible freeze. In a
child process it competes for a core, not for the interpreter.

The child loads the same inventory, runs :class:`Connections` and
:class:`Watcher` exactly as the console would, and streams what it observes
on stdout as JSON lines. With ``--diagnose`` it also diagnoses what it sent:
diagnosing a thousand hosts takes tens of milliseconds of Python, and in the
console, even on a thread, that holds the GIL a key press waits for. The
console then only draws.

Protocol, one JSON array per line:

* child → parent: ``["o", OBSERVATION]`` (see :func:`encode_observation`), then
  ``["r", ROUNDS]`` after each batch: probe rounds finished so far. With
  ``--diagnose``, ``["d", DIAGNOSIS]`` (see :class:`DiagnosisEncoder`): the
  diagnosis of every observation sent so far, at the child's clock.
* parent → child: ``["wake", HOST or null]``, ``["pause", true|false]``, ``["reconnect", HOST]``
  (its known_hosts changed: connect again now), ``["o", OBSERVATION]``: another worker's
  observation of a host of a pool this one diagnoses (``--shard``).
  End of stdin (the console closed the pipe, or died) stops probing and exits.

With ``--shard I --shards N`` the child is one of N workers and probes only its
slice of the hosts (:mod:`poolterm.probing.shards`), and diagnoses only the pools
whose home it is.

Batches are sent at most every :data:`FLUSH_SECONDS`, with only the newest
observation of each host: the console only ever shows the newest. A diagnosis
rides with a batch at most every :data:`DIAGNOSIS_SECONDS`, and the last batch
of a burst always gets one. It covers the pools that heard something new since
the last one (the clock alone moving is not new: a calm host's round changes
only its times), and any not diagnosed for :data:`REDIAGNOSE_SECONDS`, or a
healthy one for :data:`REDIAGNOSE_HEALTHY_SECONDS` (what a troubled pool's
diagnosis says depends on the clock too: a countdown, a handover's age, a host's
last answer); the console keeps each pool's latest.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from dataclasses import replace
from typing import Any, Callable, Iterable, Mapping

from poolterm.config.inventory import ConfigError, load_inventory
from poolterm.diagnosis.diagnose import PoolLike, diagnose
from poolterm.model import (
    Candidate,
    DbHost,
    Diagnosis,
    Finding,
    HostState,
    Observation,
    PoolDiagnosis,
    PoolHa,
    Reach,
    Role,
    Severity,
    Verdict,
    XapiState,
    XeCall,
)
from poolterm.probing.pacing import round_interval
from poolterm.probing.shards import Shard, plan
from poolterm.probing.watch import RoundDone, Watcher
from poolterm.transport.ssh import Connections, raise_nofile_limit
from poolterm.xha import Liveset, Peer

#: Seconds between two batches sent to the console: well under a frame's worth of delay
#: for a fault, and at most twenty wake-ups a second for the console's loop.
FLUSH_SECONDS = 0.05
#: Seconds between two diagnoses at least (the console's own pace when it diagnoses itself) ...
DIAGNOSIS_SECONDS = 0.2
#: ... and at least this many times the last one's duration, so that diagnosing never
#: takes more than a fraction of the probes' loop.
DIAGNOSIS_COST_FACTOR = 4
#: A pool that heard nothing new is diagnosed again after this long: its verdict ages ...
REDIAGNOSE_SECONDS = 1.0
#: ... and a healthy one after this long: nothing in its diagnosis counts seconds.
REDIAGNOSE_HEALTHY_SECONDS = 10.0

Publish = Callable[[Observation], None]


# ---- the wire form of an observation (pure) ---------------------------------------------
def encode_observation(obs: Observation) -> list[Any]:
    """``obs`` as a JSON-ready list, fields in declaration order (no key names on the wire)."""
    return [
        obs.host, obs.at, obs.reach.value, obs.reach_detail, obs.pool_conf, obs.uuid, obs.init_complete,
        obs.xapi_service, obs.emergency_flag, obs.secret_hash, obs.master_port,
        None if obs.xe is None else [obs.xe.status, obs.xe.output, obs.xe.error_code],
        obs.pool_master_uuid,
        None if obs.db_hosts is None else [[h.uuid, h.name, h.address, h.enabled, h.live] for h in obs.db_hosts],
        obs.last_seen, obs.complete, list(obs.raw),
        None if obs.stale is None else encode_observation(obs.stale),
        obs.ha_armed, obs.ha_timeout, _encode_liveset(obs.ha_live), obs.pool_ha_enabled, obs.pool_ha_tolerate,
        obs.conf_changed_at, obs.conf_before, None if obs.ha_peers is None else [list(p) for p in obs.ha_peers],
        obs.service_changed_at, obs.master_ping,
    ]


def _encode_liveset(live: Liveset | None) -> list[Any] | None:
    if live is None:
        return None
    return [live.local, live.online, [[p.uuid, p.live, p.master, p.statefile, p.excluded] for p in live.peers],
            live.statefile_lost]


def _decode_liveset(data: list[Any] | None) -> Liveset | None:
    if data is None:
        return None
    local, online, peers, lost = data
    return Liveset(local, online, tuple(Peer(*p) for p in peers), lost)


def decode_observation(data: list[Any]) -> Observation:
    """The inverse of :func:`encode_observation`."""
    (host, at, reach, reach_detail, pool_conf, uuid, init_complete, xapi_service, emergency_flag, secret_hash,
     master_port, xe, pool_master_uuid, db_hosts, last_seen, complete, raw, stale,
     ha_armed, ha_timeout, ha_live, pool_ha_enabled, pool_ha_tolerate, conf_changed_at, conf_before, ha_peers,
     service_changed_at, master_ping) = data
    return Observation(
        host=host, at=at, reach=Reach(reach), reach_detail=reach_detail, pool_conf=pool_conf, uuid=uuid,
        init_complete=init_complete, xapi_service=xapi_service, emergency_flag=emergency_flag,
        secret_hash=secret_hash, master_port=master_port,
        xe=None if xe is None else XeCall(*xe),
        pool_master_uuid=pool_master_uuid,
        db_hosts=None if db_hosts is None else tuple(DbHost(*h) for h in db_hosts),
        last_seen=last_seen, complete=complete, raw=tuple(raw),
        stale=None if stale is None else decode_observation(stale),
        ha_armed=ha_armed, ha_timeout=ha_timeout, ha_live=_decode_liveset(ha_live), pool_ha_enabled=pool_ha_enabled,
        pool_ha_tolerate=pool_ha_tolerate, conf_changed_at=conf_changed_at, conf_before=conf_before,
        ha_peers=None if ha_peers is None else tuple((u, a) for u, a in ha_peers),
        service_changed_at=service_changed_at, master_ping=master_ping,
    )


# ---- the wire form of a diagnosis (pure) ---------------------------------------------------
def _encode_host(state: HostState) -> list[Any]:
    return [state.name, state.address, state.reachable, state.reach.value, state.role.value,
            state.believed_master, state.xapi.value, state.emergency_flag, state.last_seen,
            list(state.evidence), state.agrees, state.stale, state.ha]


def _decode_host(data: list[Any]) -> HostState:
    (name, address, reachable, reach, role, believed_master, xapi, emergency_flag, last_seen, evidence,
     agrees, stale, ha) = data
    return HostState(name, address, reachable, Reach(reach), Role(role), believed_master, XapiState(xapi),
                     emergency_flag, last_seen, tuple(evidence), agrees, stale, ha)


def _encode_finding(finding: Finding) -> list[Any]:
    return [finding.kind, finding.severity.value, list(finding.hosts), finding.summary, finding.playbook,
            list(finding.evidence), [[c.name, c.score, list(c.reasons)] for c in finding.candidates]]


def _decode_finding(data: list[Any]) -> Finding:
    kind, severity, hosts, summary, playbook, evidence, candidates = data
    return Finding(kind, Severity(severity), tuple(hosts), summary, playbook, tuple(evidence),
                   tuple(Candidate(name, score, tuple(reasons)) for name, score, reasons in candidates))


class DiagnosisEncoder:
    """Diagnoses as JSON-ready lists, each host's state sent only when it changed.

    A round of a thousand hosts changes a few hundred host states (their last-seen
    time, mostly); the others go as ``null``: "as in the last diagnosis sent, at
    this place in this pool". :class:`DiagnosisDecoder` must see the same sequence
    of messages, which one ordered pipe guarantees.
    """

    def __init__(self) -> None:
        self._sent: dict[str, tuple[HostState, ...]] = {}

    def encode(self, diagnosis: Diagnosis) -> list[Any]:
        pools = []
        for pool in diagnosis.pools:
            before = self._sent.get(pool.name, ())
            hosts = [None if i < len(before) and before[i] == state else _encode_host(state)
                     for i, state in enumerate(pool.hosts)]
            self._sent[pool.name] = pool.hosts
            ha = pool.ha
            pools.append([pool.name, pool.verdict.value, pool.master, hosts,
                          [_encode_finding(f) for f in pool.findings], pool.summary, pool.advice,
                          None if ha is None else [ha.enabled, list(ha.armed), list(ha.disarmed),
                                                   ha.failures_to_tolerate, ha.timeout]])
        return pools


class DiagnosisDecoder:
    """The inverse of :class:`DiagnosisEncoder`: an unchanged host keeps its previous state object."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[HostState, ...]] = {}

    def decode(self, data: list[Any]) -> Diagnosis:
        pools = []
        for name, verdict, master, hosts, findings, summary, advice, ha in data:
            before = self._known.get(name, ())
            states = tuple(before[i] if encoded is None else _decode_host(encoded)
                           for i, encoded in enumerate(hosts))
            self._known[name] = states
            pools.append(PoolDiagnosis(name, Verdict(verdict), master, states,
                                       tuple(_decode_finding(f) for f in findings), summary, advice,
                                       None if ha is None else PoolHa(ha[0], tuple(ha[1]), tuple(ha[2]), ha[3], ha[4])))
        return Diagnosis(tuple(pools))


def says_more(new: Observation, old: Observation | None) -> bool:
    """``new`` tells something ``old`` did not: more than the clock (a calm host's next round differs
    from its last only in when it was made, and in raw output such as a ping's time)."""
    if old is None:
        return True
    return replace(new, at=old.at, last_seen=old.last_seen, raw=old.raw, complete=old.complete) != old


def dumps(message: list[Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


# ---- probing, wherever it runs -----------------------------------------------------------
def pacing_of(watcher: Watcher, now: float) -> dict[str, tuple[str, int]]:
    """Pool -> (calm or alert, the probe's cost on its master over the last minute); {} when not paced."""
    pacer = watcher.pacer
    if pacer is None:
        return {}
    return {pool: (pacer.mode(pool, now), pacer.load(pool, now)) for pool in pacer.pools()}


def start_probing(inventory, *, interval: float, timeout: float, publish: Publish,
                  on_round: RoundDone | None = None, shard: Shard | None = None) -> tuple[Connections, Watcher]:
    """Connections and a started Watcher for every host (or ``shard``'s); call inside a running event loop."""
    hosts = inventory.hosts() if shard is None else tuple(inventory.host(name) for name in shard.hosts)
    watcher: Watcher | None = None

    def changed(name: str) -> None:
        # A connection that changes state (typically: just dropped) gets probed at once,
        # so a lost master shows up without waiting for the next round.
        if watcher is not None:
            reach, _ = connections.reach(name)
            if reach is not Reach.CONNECTED:
                watcher.wake(name)

    calm_interval = round_interval(interval, len(hosts))
    ssh = inventory.ssh if calm_interval <= interval else _keepalive_for(inventory.ssh, calm_interval)
    connections = Connections(hosts, ssh, on_change=changed)
    watcher = Watcher(hosts, connections, interval=interval, timeout=timeout, publish=publish,
                      budget=inventory.probe.master_budget if shard is None else _budget_share(inventory, hosts),
                      on_round=on_round)
    watcher.start()
    return connections, watcher


def _keepalive_for(ssh, calm_interval: float):
    """The SSH settings with keepalives no more often than a calm slave's stretched rounds: a round is
    traffic (asyncssh waits for silence before it sends one), and with thousands of hosts keepalives
    between rounds would cost as much as the rounds."""
    if ssh.keepalive_interval and ssh.keepalive_interval < calm_interval:
        return replace(ssh, keepalive_interval=1.5 * calm_interval)
    return ssh


def _budget_share(inventory, hosts) -> dict[str, float]:
    """Each pool's master budget, in proportion to the part of the pool probed here: workers sharing
    a pool together spend what one would."""
    mine: dict[str, int] = {}
    for host in hosts:
        mine[host.pool] = mine.get(host.pool, 0) + 1
    budget = inventory.probe.master_budget
    return {pool: budget * count / len(inventory.pool(pool).hosts) for pool, count in mine.items()}


class Outbox:
    """The newest observation of each host, written to ``write`` as one batch per period.

    Given ``pools``, a batch also carries the diagnosis of the pools that heard
    something new (or aged, see :data:`REDIAGNOSE_SECONDS`), when one is due (see
    :data:`DIAGNOSIS_SECONDS`); a batch that is not diagnosed moves the next flush
    to when one is, so the last state always is.
    """

    def __init__(self, write: Callable[[bytes], None], rounds: Callable[[], int], period: float = FLUSH_SECONDS,
                 *, pools: Iterable[PoolLike] | None = None,
                 pacing: Callable[[], dict[str, tuple[str, int]]] = dict):
        self._write = write
        self._rounds = rounds
        self._pacing = pacing
        self._period = period
        self._latest: dict[str, Observation] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._pools = {} if pools is None else {p.name: p for p in pools}
        self._pool_of = {h.name: p.name for p in self._pools.values() for h in p.hosts}
        self._diagnosing = pools is not None
        self._sent: dict[str, Observation] = {}
        self._encoder = DiagnosisEncoder()
        self._dirty: set[str] = set(self._pools)  # pools that heard something since their last diagnosis
        self._pool_diagnosed = dict.fromkeys(self._pools, float("-inf"))
        self._healthy: set[str] = set()  # pools whose last diagnosis was HEALTHY
        self._diagnosed_at = float("-inf")
        self._diagnosis_cost = 0.0

    def publish(self, obs: Observation) -> None:
        self._latest[obs.host] = obs
        self._book()

    def adopt(self, obs: Observation) -> None:
        """Another worker's observation of a host of a pool diagnosed here: diagnosed, not sent on."""
        pool = self._pool_of.get(obs.host)
        if pool is not None:
            if says_more(obs, self._sent.get(obs.host)):
                self._dirty.add(pool)
            self._sent[obs.host] = obs
            self._book()

    def _book(self) -> None:
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._period, self.flush)

    def flush(self) -> None:
        self._timer = None
        batch, self._latest = self._latest, {}
        out = [dumps(["o", encode_observation(o)]) for o in batch.values()]
        out.append(dumps(["r", self._rounds()]))
        pacing = self._pacing()
        if pacing:
            out.append(dumps(["p", pacing]))
        if self._diagnosing:
            out += self._diagnosis_of(batch)
        self._write(b"".join(out))

    def _diagnosis_of(self, batch: Mapping[str, Observation]) -> list[bytes]:
        """The ``d`` line for the pools due, or none (and a flush booked) if not due yet."""
        loop = asyncio.get_running_loop()
        sent, pool_of = self._sent, self._pool_of
        self._dirty.update(pool_of[name] for name, obs in batch.items()
                           if name in pool_of and says_more(obs, sent.get(name)))
        sent.update(batch)
        started = loop.time()
        due = self._due(started)
        if not due:
            if self._pools:
                self._timer = loop.call_later(REDIAGNOSE_SECONDS, self.flush)
            return []
        wait = self._diagnosed_at + max(DIAGNOSIS_SECONDS, DIAGNOSIS_COST_FACTOR * self._diagnosis_cost) - started
        if wait > 0:
            self._timer = loop.call_later(wait, self.flush)
            return []
        diagnosis = diagnose(due, self._sent, started)
        line = dumps(["d", self._encoder.encode(diagnosis)])
        self._diagnosed_at = loop.time()
        self._diagnosis_cost = self._diagnosed_at - started
        for pool in diagnosis.pools:
            self._pool_diagnosed[pool.name] = started
            (self._healthy.add if pool.verdict is Verdict.HEALTHY else self._healthy.discard)(pool.name)
        self._dirty.clear()
        return [line]

    def _due(self, now: float) -> list[PoolLike]:
        def aged(name: str) -> bool:
            wait = REDIAGNOSE_HEALTHY_SECONDS if name in self._healthy else REDIAGNOSE_SECONDS
            return self._pool_diagnosed[name] <= now - wait

        return [pool for name, pool in self._pools.items() if name in self._dirty or aged(name)]


async def serve(inventory, *, interval: float, timeout: float, diagnosis: bool = False,
                shard: Shard | None = None) -> None:
    """Probe every host of ``inventory`` (or ``shard``'s), report on stdout, obey stdin until it closes.

    With ``diagnosis`` the reports include the diagnosis of what was observed (of ``shard``'s home pools).
    """
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    transport, _ = await loop.connect_write_pipe(asyncio.Protocol, sys.stdout)
    watcher: Watcher | None = None
    home = inventory.pools if shard is None else tuple(inventory.pool(name) for name in shard.home)
    outbox = Outbox(transport.write, lambda: watcher.rounds if watcher else 0,
                    pools=home if diagnosis else None,
                    pacing=lambda: pacing_of(watcher, loop.time()) if watcher else {})
    connections, watcher = start_probing(inventory, interval=interval, timeout=timeout, publish=outbox.publish,
                                         shard=shard)
    try:
        while line := await reader.readline():
            obey(watcher, outbox, json.loads(line))
    finally:
        await watcher.stop()
        await connections.close()
        transport.close()


def obey(watcher: Watcher, outbox: Outbox, command: list[Any]) -> None:
    verb, argument = command
    if verb == "wake":
        watcher.wake(argument)
    elif verb == "pause":
        watcher.paused = bool(argument)
    elif verb == "reconnect" and argument in watcher.hosts:
        watcher.reconnect(argument)
    elif verb == "o":
        outbox.adopt(decode_observation(argument))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m poolterm.probing.service",
                                     description="Probe an inventory's hosts; observations as JSON lines on stdout.")
    parser.add_argument("inventory")
    parser.add_argument("--interval", type=float)
    parser.add_argument("--timeout", type=float)
    parser.add_argument("--diagnose", action="store_true", help="also send the diagnosis of what was observed")
    parser.add_argument("--shard", type=int, default=0, metavar="I", help="probe worker I (from 0) ...")
    parser.add_argument("--shards", type=int, default=0, metavar="N", help="... of N (poolterm.probing.shards)")
    args = parser.parse_args(argv)
    if args.shards and not 0 <= args.shard < args.shards:
        parser.error(f"--shard must be between 0 and {args.shards - 1}")
    # The console decides when probing ends (by closing stdin); a Ctrl-C meant for it
    # must not kill the probes half-way through a shutdown.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise_nofile_limit()
    try:
        inventory = load_inventory(args.inventory)
    except ConfigError as exc:
        print(f"poolterm probe service: {exc}", file=sys.stderr)
        return 2
    interval = args.interval if args.interval is not None else inventory.probe.interval
    timeout = args.timeout if args.timeout is not None else inventory.probe.timeout
    shard = plan(inventory.pools, args.shards)[args.shard] if args.shards else None
    asyncio.run(serve(inventory, interval=interval, timeout=timeout, diagnosis=args.diagnose, shard=shard))
    return 0


if __name__ == "__main__":
    sys.exit(main())
