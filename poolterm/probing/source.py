"""Where the console's diagnosis comes from: live hosts over SSH, or a fixed one.

:class:`LiveSource` owns the jump box's SSH connections and the probe loop; it
is started from the app's ``on_mount`` so both live on Textual's event loop.
For a big inventory the probing runs in a child process instead
(:mod:`poolterm.probing.service`): a thousand hosts' SSH traffic is half a core
of Python, and in this process it would hold the GIL every key press waits
for. The child diagnoses too, for the same reason, and sends its diagnoses
along with the observations. :class:`StaticSource` holds one diagnosis and
never connects: screenshots, tests and documentation use it. No Textual here; the app talks
to either through the same small surface.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import deque
from typing import Callable, Mapping, Sequence

from poolterm.diagnosis.diagnose import diagnose
from poolterm.errors import HostKeyError
from poolterm.model import Diagnosis, Observation, Reach
from poolterm.probing.service import DiagnosisDecoder, decode_observation, dumps, pacing_of, start_probing
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

    With ``probe_process`` the probing and its diagnosis run in a child process
    and this one only receives observations and diagnoses; the operator's
    commands still run here, on connections of their own, opened when a command
    first needs one.
    """

    live = True

    def __init__(self, inventory, *, interval: float | None = None, timeout: float | None = None,
                 probe_process: bool = False):
        self.inventory = inventory
        self.pools = list(inventory.pools)
        self.host_names = [h.name for h in inventory.hosts()]
        self.interval = interval if interval is not None else inventory.probe.interval
        self.timeout = timeout if timeout is not None else inventory.probe.timeout
        self.probe_process = probe_process
        self.connections: Connections | None = None
        self.watcher: Watcher | None = None
        self.child: asyncio.subprocess.Process | None = None
        self._observations: dict[str, Observation] = {}
        self._decoder = DiagnosisDecoder()
        self._child_diagnosis: Diagnosis | None = None  # the child's latest, of every observation received
        self._rounds = 0
        self._pacing: dict[str, tuple[str, int]] = {}
        self._paused = False
        self._reader: asyncio.Task | None = None
        self._stderr: deque[str] = deque(maxlen=STDERR_LINES)
        self._closing = False

    def start(self, publish: Publish, on_failure: Failed | None = None) -> None:
        """Connect and start probing; call from inside the running (screen's) event loop."""
        raise_nofile_limit()
        if not self.probe_process:
            self.connections, self.watcher = start_probing(self.inventory, interval=self.interval,
                                                           timeout=self.timeout, publish=publish)
            return
        self.connections = Connections(self.inventory.hosts(), self.inventory.ssh)
        self._reader = asyncio.create_task(self._follow_child(publish, on_failure or (lambda text: None)),
                                           name="probe-process")

    async def _follow_child(self, publish: Publish, on_failure: Failed) -> None:
        self.child = child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "poolterm.probing.service", str(self.inventory.path.absolute()),
            "--interval", repr(self.interval), "--timeout", repr(self.timeout), "--diagnose",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        stderr = asyncio.create_task(self._keep_stderr(child.stderr))
        if self._paused:
            self._tell(["pause", True])
        rest = b""
        while chunk := await child.stdout.read(READ_SIZE):
            *lines, rest = (rest + chunk).split(b"\n")
            for line in lines:
                self._receive(json.loads(line), publish)
        await stderr
        status = await child.wait()
        if not self._closing:
            why = " | ".join(self._stderr) or f"exit status {status}"
            on_failure(f"the probe process stopped: {why}")

    def _receive(self, message: list, publish: Publish) -> None:
        tag, data = message
        if tag == "o":
            observation = decode_observation(data)
            self._observations[observation.host] = observation
            publish(observation)
        elif tag == "r":
            self._rounds = data
        elif tag == "p":
            self._pacing = {pool: (mode, load) for pool, (mode, load) in data.items()}
        elif tag == "d":
            self._child_diagnosis = self._decoder.decode(data)

    async def _keep_stderr(self, stream: asyncio.StreamReader) -> None:
        # Read all along: a child blocked on a full stderr pipe would stop probing.
        while line := await stream.readline():
            self._stderr.append(line.decode(errors="replace").strip())

    def _tell(self, command: list) -> None:
        child = self.child
        if child is not None and child.returncode is None and not child.stdin.is_closing():
            child.stdin.write(dumps(command))

    async def close(self) -> None:
        self._closing = True
        if self.watcher is not None:
            await self.watcher.stop()
        if self.child is not None:
            await self._stop_child(self.child)
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
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

        The probe process's latest when it sent one: it covers every observation
        received until at most DIAGNOSIS_SECONDS (or a few diagnoses' time) ago,
        and nothing is computed here. Otherwise, made here: observations are
        frozen dataclasses and only the dict holding them changes, so a copy taken
        here on the loop's thread is all the other thread needs.
        """
        if self._child_diagnosis is not None:
            return lambda diagnosis=self._child_diagnosis: diagnosis
        pools, observations, now = self.pools, dict(self.observations), self.now()
        return lambda: diagnose(pools, observations, now)

    @property
    def rounds(self) -> int:
        return self.watcher.rounds if self.watcher else self._rounds

    def pacing(self) -> dict[str, tuple[str, int]]:
        """Pool -> (the probe's mode, calm or alert; what it cost the master over the last minute)."""
        if self.watcher is not None:
            return pacing_of(self.watcher, self.now())
        return dict(self._pacing)

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
        self._tell(["reconnect", host])

    async def host_keys(self, host: str) -> KeyCheck:
        """What ``host`` offers now and what known_hosts records (:meth:`Connections.host_keys`)."""
        if self.connections is None:
            raise HostKeyError(f"{host}: not connected yet")
        return await self.connections.host_keys(host)

    async def run(self, host: str, command: str, *, deadline: float, on_line: LineSink) -> RunResult:
        if self.connections is None:
            raise HostUnavailable(Reach.PENDING, "not connected yet")
        return await self.connections.run(host, command, deadline=deadline, on_line=on_line)


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
