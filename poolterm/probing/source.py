"""Where the console's diagnosis comes from: live hosts over SSH, or a fixed one.

:class:`LiveSource` owns the jump box's SSH connections and the probe loop; it
is started from the app's ``on_mount`` so both live on Textual's event loop.
For a big inventory the probing runs in child processes instead, one per core
by default (:mod:`poolterm.probing.service`, :mod:`poolterm.probing.shards`): a
thousand hosts' SSH traffic is half a core of Python, and in this process it
would hold the GIL every key press waits for. The children diagnose too, for
the same reason, and send their diagnoses along with the observations. :class:`StaticSource` holds one diagnosis and
never connects: screenshots, tests and documentation use it. No Textual here; the app talks
to either through the same small surface.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import deque
from typing import Callable, Mapping, Sequence

from poolterm.diagnosis.diagnose import diagnose, diagnose_pool
from poolterm.errors import HostKeyError
from poolterm.model import Diagnosis, Observation, PoolDiagnosis, Reach
from poolterm.probing.service import DiagnosisDecoder, decode_observation, dumps, pacing_of, start_probing
from poolterm.probing.shards import home_of, plan
from poolterm.probing.watch import Watcher
from poolterm.transport.hostkeys import KeyCheck
from poolterm.transport.ssh import Connections, HostUnavailable, LineSink, RunResult, raise_nofile_limit

Publish = Callable[[Observation], None]
Failed = Callable[[str], None]
#: Seconds the probe process gets to close its connections after its stdin closed.
CHILD_EXIT_TIMEOUT = 5.0
#: Bytes read from the probe process at a time: a whole batch of a big pool in a few reads.
READ_SIZE = 1 << 18
#: Lines of the probe process's stderr kept to explain its failure.
STDERR_LINES = 5


class LiveSource:
    """Real hosts: one SSH connection each, probed on their own schedules.

    With ``probe_workers`` N the probing and its diagnosis run in N child
    processes, each owning a slice of the hosts (:mod:`poolterm.probing.shards`),
    and this one only receives observations and per-pool diagnoses, and relays
    a worker's observation of a pool another worker diagnoses to that worker.
    The operator's commands still run here, on connections of their own,
    opened when a command first needs one.
    """

    live = True

    def __init__(self, inventory, *, interval: float | None = None, timeout: float | None = None,
                 probe_workers: int = 0):
        self.inventory = inventory
        self.pools = list(inventory.pools)
        self.host_names = [h.name for h in inventory.hosts()]
        self.interval = interval if interval is not None else inventory.probe.interval
        self.timeout = timeout if timeout is not None else inventory.probe.timeout
        self.shards = plan(self.pools, probe_workers) if probe_workers else ()
        self.connections: Connections | None = None
        self.watcher: Watcher | None = None
        self.children: list[asyncio.subprocess.Process | None] = [None] * len(self.shards)
        self._home = home_of(self.shards)  # pool -> the worker diagnosing it
        self._pool_of = {h.name: p.name for p in self.pools for h in p.hosts}
        self._worker_of = {host: shard.index for shard in self.shards for host in shard.hosts}
        self._observations: dict[str, Observation] = {}
        self._decoder = DiagnosisDecoder()
        self._pool_diagnoses: dict[str, PoolDiagnosis] = {}  # each pool's latest, from its home worker
        self._child_diagnosis: Diagnosis | None = None  # all pools', assembled when one changes
        self._placeholders: dict[str, PoolDiagnosis] = {}
        self._rounds = [0] * len(self.shards)
        self._pacing: list[dict[str, tuple[str, int]]] = [{} for _ in self.shards]
        self._paused = False
        self._readers: list[asyncio.Task] = []
        self._stderr: deque[str] = deque(maxlen=STDERR_LINES)
        self._closing = False

    @property
    def probe_workers(self) -> int:
        return len(self.shards)

    def start(self, publish: Publish, on_failure: Failed | None = None) -> None:
        """Connect and start probing; call from inside the running (screen's) event loop."""
        raise_nofile_limit()
        if not self.shards:
            self.connections, self.watcher = start_probing(self.inventory, interval=self.interval,
                                                           timeout=self.timeout, publish=publish)
            return
        self.connections = Connections(self.inventory.hosts(), self.inventory.ssh)
        failed = on_failure or (lambda text: None)
        self._readers = [asyncio.create_task(self._follow_child(shard.index, publish, failed),
                                             name=f"probe-worker-{shard.index}") for shard in self.shards]

    async def _follow_child(self, index: int, publish: Publish, on_failure: Failed) -> None:
        self.children[index] = child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "poolterm.probing.service", str(self.inventory.path.absolute()),
            "--interval", repr(self.interval), "--timeout", repr(self.timeout), "--diagnose",
            "--shard", str(index), "--shards", str(len(self.shards)),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        stderr = asyncio.create_task(self._keep_stderr(child.stderr))
        if self._paused:
            self._tell_one(index, ["pause", True])
        rest = b""
        while chunk := await child.stdout.read(READ_SIZE):
            *lines, rest = (rest + chunk).split(b"\n")
            for line in lines:
                self._receive(index, line, publish)
        await stderr
        status = await child.wait()
        if not self._closing:
            why = " | ".join(self._stderr) or f"exit status {status}"
            worker = f" {index + 1} of {len(self.shards)}" if len(self.shards) > 1 else ""
            on_failure(f"the probe process{worker} stopped: {why}")

    def _receive(self, index: int, line: bytes, publish: Publish) -> None:
        tag, data = json.loads(line)
        if tag == "o":
            observation = decode_observation(data)
            self._observations[observation.host] = observation
            home = self._home.get(self._pool_of.get(observation.host))
            if home is not None and home != index:
                self._tell_one(home, ["o", data])
            publish(observation)
        elif tag == "r":
            self._rounds[index] = data
        elif tag == "p":
            self._pacing[index] = {pool: (mode, load) for pool, (mode, load) in data.items()}
        elif tag == "d":
            for pool in self._decoder.decode(data).pools:
                self._pool_diagnoses[pool.name] = pool
            self._child_diagnosis = None

    async def _keep_stderr(self, stream: asyncio.StreamReader) -> None:
        # Read all along: a child blocked on a full stderr pipe would stop probing.
        while line := await stream.readline():
            self._stderr.append(line.decode(errors="replace").strip())

    def _tell(self, command: list) -> None:
        for index in range(len(self.children)):
            self._tell_one(index, command)

    def _tell_one(self, index: int, command: list) -> None:
        child = self.children[index]
        if child is not None and child.returncode is None and not child.stdin.is_closing():
            child.stdin.write(dumps(command))

    async def close(self) -> None:
        self._closing = True
        if self.watcher is not None:
            await self.watcher.stop()
        await asyncio.gather(*(self._stop_child(child) for child in self.children if child is not None))
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        if self.connections is not None:
            await self.connections.close()

    async def _stop_child(self, child: asyncio.subprocess.Process) -> None:
        """Close its stdin (it then closes its connections and exits); kill it if it does not."""
        if child.returncode is None:
            child.stdin.close()
            try:
                await asyncio.wait_for(child.wait(), CHILD_EXIT_TIMEOUT)
            except TimeoutError:
                child.kill()
                await child.wait()

    # ---- what the app reads ------------------------------------------------------
    @property
    def observations(self) -> Mapping[str, Observation]:
        if self.watcher is not None:
            return self.watcher.observations
        return self._observations

    def observation(self, name: str) -> Observation | None:
        return self.observations.get(name)

    def now(self) -> float:
        # The loop's clock is time.monotonic(), which on Linux is system-wide: the
        # probe process's observation times are on the same clock.
        return asyncio.get_running_loop().time()

    def diagnosis(self) -> Diagnosis:
        return diagnose(self.pools, self.observations, self.now())

    def diagnosis_job(self) -> Callable[[], Diagnosis]:
        """The diagnosis of this moment, as a call that may run in another thread.

        With probe workers, theirs: each pool's latest, covering every observation
        received until at most DIAGNOSIS_SECONDS (or a few diagnoses' time) ago, and
        nothing is computed here but their assembly, once per change. Otherwise,
        made here: observations are frozen dataclasses and only the dict holding
        them changes, so a copy taken here on the loop's thread is all the other
        thread needs.
        """
        if self._pool_diagnoses:
            diagnosis = self._assembled()
            return lambda: diagnosis
        pools, observations, now = self.pools, dict(self.observations), self.now()
        return lambda: diagnose(pools, observations, now)

    def _assembled(self) -> Diagnosis:
        """Every pool's latest diagnosis from its worker, in inventory order; a pool no worker has
        diagnosed yet as it stands with nothing heard (every host pending)."""
        if self._child_diagnosis is None:
            known = self._pool_diagnoses
            self._child_diagnosis = Diagnosis(tuple(known.get(pool.name) or self._unheard(pool) for pool in self.pools))
        return self._child_diagnosis

    def _unheard(self, pool) -> PoolDiagnosis:
        """A pool as it stands before its worker's first diagnosis (connecting), made once: on this loop's
        thread, fifty pools of a hundred hosts each time would cost a key press its frame."""
        placeholder = self._placeholders.get(pool.name)
        if placeholder is None:
            placeholder = self._placeholders[pool.name] = diagnose_pool(pool, {}, self.now())
        return placeholder

    @property
    def rounds(self) -> int:
        return self.watcher.rounds if self.watcher else sum(self._rounds)

    def pacing(self) -> dict[str, tuple[str, int]]:
        """Pool -> (the probe's mode, calm or alert; what it cost the master over the last minute)."""
        if self.watcher is not None:
            return pacing_of(self.watcher, self.now())
        return _merged_pacing(self._pacing)

    # ---- what the operator drives -----------------------------------------------------
    @property
    def paused(self) -> bool:
        return self._paused

    @paused.setter
    def paused(self, value: bool) -> None:
        self._paused = bool(value)
        if self.watcher is not None:
            self.watcher.paused = self._paused
        self._tell(["pause", self._paused])
        if not value:
            self.wake()

    def wake(self) -> None:
        if self.watcher is not None:
            self.watcher.wake()
        self._tell(["wake", None])

    def reconnect(self, host: str) -> None:
        """Connect to ``host`` again now, reading known_hosts anew: here and in the probe process."""
        if self.connections is not None:
            self.connections.reset(host)
        if self.watcher is not None:
            self.watcher.reconnect(host)
        if host in self._worker_of:
            self._tell_one(self._worker_of[host], ["reconnect", host])

    async def host_keys(self, host: str) -> KeyCheck:
        """What ``host`` offers now and what known_hosts records (:meth:`Connections.host_keys`)."""
        if self.connections is None:
            raise HostKeyError(f"{host}: not connected yet")
        return await self.connections.host_keys(host)

    async def run(self, host: str, command: str, *, deadline: float, on_line: LineSink) -> RunResult:
        if self.connections is None:
            raise HostUnavailable(Reach.PENDING, "not connected yet")
        return await self.connections.run(host, command, deadline=deadline, on_line=on_line)


def _merged_pacing(workers: Sequence[Mapping[str, tuple[str, int]]]) -> dict[str, tuple[str, int]]:
    """One pacing from the workers': a pool shared by several is on alert if any part of it is, and its
    master's load is what they cost it together."""
    merged: dict[str, tuple[str, int]] = {}
    for pacing in workers:
        for pool, (mode, load) in pacing.items():
            before_mode, before_load = merged.get(pool, ("calm", 0))
            merged[pool] = ("alert" if "alert" in (mode, before_mode) else "calm", before_load + load)
    return merged


class SourceWatch:
    """A live source as the playbook runner's watcher: its observations, its pace, its wake-up.

    The runner speeds probing up while it verifies a step; with the probes in a
    child process the pace stays the child's, and waking it is all that is needed.
    """

    def __init__(self, source: LiveSource):
        self.source = source

    @property
    def observations(self) -> Mapping[str, Observation]:
        return self.source.observations

    @property
    def interval(self) -> float:
        watcher = self.source.watcher
        return watcher.interval if watcher is not None else self.source.interval

    @interval.setter
    def interval(self, seconds: float) -> None:
        if self.source.watcher is not None:
            self.source.watcher.interval = seconds

    def wake(self) -> None:
        self.source.wake()


class StaticSource:
    """A fixed diagnosis: no SSH, no clock, the same screen every time."""

    live = False

    def __init__(self, diagnosis: Diagnosis, observations: Mapping[str, Observation] | None = None,
                 now: float = 0.0):
        self._diagnosis = diagnosis
        self._observations = dict(observations or {})
        self._now = now
        self.pools = list(diagnosis.pools)
        self.host_names: Sequence[str] = [h.name for p in diagnosis.pools for h in p.hosts]
        self.paused = False
        self.rounds = 0

    def start(self, publish: Publish, on_failure: Failed | None = None) -> None:
        for obs in self._observations.values():
            publish(obs)

    async def close(self) -> None:
        return None

    @property
    def observations(self) -> Mapping[str, Observation]:
        return self._observations

    def observation(self, name: str) -> Observation | None:
        return self._observations.get(name)

    def pacing(self) -> dict[str, tuple[str, int]]:
        return {}  # nothing is probed

    def now(self) -> float:
        return self._now

    def diagnosis(self) -> Diagnosis:
        return self._diagnosis

    def diagnosis_job(self) -> Callable[[], Diagnosis]:
        return self.diagnosis

    def wake(self) -> None:
        return None

    async def run(self, host: str, command: str, *, deadline: float, on_line: LineSink) -> RunResult:
        raise HostUnavailable(Reach.PENDING, "static view: no connection to any host")
