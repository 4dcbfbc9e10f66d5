"""Probing in a process of its own: ``python -m poolterm.probe_service INVENTORY``.

At a thousand hosts the probe loop spends about half a core in Python
(asyncssh packet handling). In the console's process, even on a thread of its
own, that CPU holds the GIL the screen needs to answer a key, and its million
long-lived objects make every full garbage collection a visible freeze. In a
child process it competes for a core, not for the interpreter.

The child loads the same inventory, runs :class:`Connections` and
:class:`Watcher` exactly as the console would, and streams what it observes
on stdout as JSON lines; the console keeps diagnosing and drawing.

Protocol, one JSON array per line:

* child → parent: ``["o", OBSERVATION]`` (see :func:`encode_observation`), then
  ``["r", ROUNDS]`` after each batch: probe rounds finished so far.
* parent → child: ``["wake", HOST or null]``, ``["pause", true|false]``.
  End of stdin (the console closed the pipe, or died) stops probing and exits.

Batches are sent at most every :data:`FLUSH_SECONDS`, with only the newest
observation of each host: the console only ever shows the newest.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from typing import Any, Callable

from poolterm.model import DbHost, Observation, Reach, XeCall
from poolterm.ssh import Connections, raise_nofile_limit
from poolterm.watch import Watcher

#: Seconds between two batches sent to the console: well under a frame's worth of delay
#: for a fault, and at most twenty wake-ups a second for the console's loop.
FLUSH_SECONDS = 0.05

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
    ]


def decode_observation(data: list[Any]) -> Observation:
    """The inverse of :func:`encode_observation`."""
    (host, at, reach, reach_detail, pool_conf, uuid, init_complete, xapi_service, emergency_flag, secret_hash,
     master_port, xe, pool_master_uuid, db_hosts, last_seen, complete, raw, stale) = data
    return Observation(
        host=host, at=at, reach=Reach(reach), reach_detail=reach_detail, pool_conf=pool_conf, uuid=uuid,
        init_complete=init_complete, xapi_service=xapi_service, emergency_flag=emergency_flag,
        secret_hash=secret_hash, master_port=master_port,
        xe=None if xe is None else XeCall(*xe),
        pool_master_uuid=pool_master_uuid,
        db_hosts=None if db_hosts is None else tuple(DbHost(*h) for h in db_hosts),
        last_seen=last_seen, complete=complete, raw=tuple(raw),
        stale=None if stale is None else decode_observation(stale),
    )


def dumps(message: list[Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


# ---- probing, wherever it runs -----------------------------------------------------------
def start_probing(inventory, *, interval: float, timeout: float, publish: Publish) -> tuple[Connections, Watcher]:
    """Connections and a started Watcher for every host; call inside a running event loop."""
    hosts = inventory.hosts()
    watcher: Watcher | None = None

    def changed(name: str) -> None:
        # A connection that changes state (typically: just dropped) gets probed at once,
        # so a lost master shows up without waiting for the next round.
        if watcher is not None:
            reach, _ = connections.reach(name)
            if reach is not Reach.CONNECTED:
                watcher.wake(name)

    connections = Connections(hosts, inventory.ssh, on_change=changed)
    watcher = Watcher(hosts, connections, interval=interval, timeout=timeout, publish=publish)
    watcher.start()
    return connections, watcher


class Outbox:
    """The newest observation of each host, written to ``write`` as one batch per period."""

    def __init__(self, write: Callable[[bytes], None], rounds: Callable[[], int], period: float = FLUSH_SECONDS):
        self._write = write
        self._rounds = rounds
        self._period = period
        self._latest: dict[str, Observation] = {}
        self._timer: asyncio.TimerHandle | None = None

    def publish(self, obs: Observation) -> None:
        self._latest[obs.host] = obs
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._period, self.flush)

    def flush(self) -> None:
        self._timer = None
        batch, self._latest = self._latest, {}
        self._write(b"".join([dumps(["o", encode_observation(o)]) for o in batch.values()])
                    + dumps(["r", self._rounds()]))


async def serve(inventory, *, interval: float, timeout: float) -> None:
    """Probe every host of ``inventory``, report on stdout, obey stdin until it closes."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    transport, _ = await loop.connect_write_pipe(asyncio.Protocol, sys.stdout)
    watcher: Watcher | None = None
    outbox = Outbox(transport.write, lambda: watcher.rounds if watcher else 0)
    connections, watcher = start_probing(inventory, interval=interval, timeout=timeout, publish=outbox.publish)
    try:
        while line := await reader.readline():
            obey(watcher, json.loads(line))
    finally:
        await watcher.stop()
        await connections.close()
        transport.close()


def obey(watcher: Watcher, command: list[Any]) -> None:
    verb, argument = command
    if verb == "wake":
        watcher.wake(argument)
    elif verb == "pause":
        watcher.paused = bool(argument)


def main(argv: list[str] | None = None) -> int:
    from poolterm.config import ConfigError, load_inventory

    parser = argparse.ArgumentParser(prog="python -m poolterm.probe_service",
                                     description="Probe an inventory's hosts; observations as JSON lines on stdout.")
    parser.add_argument("inventory")
    parser.add_argument("--interval", type=float)
    parser.add_argument("--timeout", type=float)
    args = parser.parse_args(argv)
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
    asyncio.run(serve(inventory, interval=interval, timeout=timeout))
    return 0


if __name__ == "__main__":
    sys.exit(main())
