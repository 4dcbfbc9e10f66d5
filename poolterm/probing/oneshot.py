"""One probe round on every host, ended as soon as the evidence is decisive (`poolterm check`).

`poolterm check` is what monitoring runs every minute and what an engineer types first. When the
master's cable is pulled, its SSH handshake can only time out (5 s by default), while its slaves
know within a second that it is gone. So the round is told host by host as it goes, and ends the
moment every host is *settled*:

* its round ended (an answer, a refusal, a timeout of its own), or
* it is **concluded unreachable** by the rule below, or
* it follows a host the jump box cannot reach either (that host's SSH failed, or it is concluded
  unreachable), it has asked that host and got nothing, and only its forwarded ``xe`` is left: the
  call waits on the lost master (docs/xapi.md, "Forwarded calls hang when the master is gone"), so it is
  recorded as hung, as the probe's timeout would have recorded it. A shut-down master refuses SSH
  at once; its slaves' calls would hold the round for the whole probe timeout.

**The rule.** A host H whose SSH has not answered yet is concluded unreachable (reach ``timeout``,
what waiting out the connect timeout would find) when

1. every other host of H's pool has been heard from (answered SSH, or failed to);
2. at least one host that answered has ``slave:<H's address>`` in its pool.conf: H's followers;
3. every one of H's followers has asked H and got nothing: its forwarded ``xe`` has not answered,
   and its ping to H got no echo reply (the probe's own ``ping -c 1 -W 1``).

Why it is conservative. No evidence, no conclusion: a host nobody follows (a slave, or an old master
whose slaves were recovered to another) is waited for up to the connect timeout, however slow its
handshake. The evidence is the network's, not xapi's: a master whose xapi hangs still answers ping,
and is waited for, so that its own round says *hung* (restart its toolstack) rather than *lost*
(promote a slave). One follower whose call answered, or whose ping did, vetoes the conclusion; a host
not heard from yet may be a follower that reaches H, so it holds the conclusion back (1).
Split brain: followers are counted per address. With the old master's cable out and another host
promoted, the hosts still pointing at the old master decide about it, and those recovered to the new
one say nothing about the old; when none points at it any more, it is waited for. The verdict is the
one waiting would give: the same reach for H, the same roles and candidates (every follower's local
sections are in), the same hung calls.

A slave is asked about its master (a second channel on its connection, running the probe's paced
command, which pings the master) when its forwarded call has not answered :data:`ASK_AFTER` seconds
after its pool.conf arrived, or failed: in a healthy pool the calls answer in milliseconds, so asking
costs a healthy round nothing.

**Fleet.** The hosts are shared among worker processes (:mod:`.shards`): ``python -m
poolterm.probing.oneshot`` reads its hosts from stdin (one length-prefixed pickle from its parent),
probes them once and streams what it hears on stdout, one JSON array per line: ``["p", OBSERVATION,
SECTION]`` for a round under way (the section it waits in), ``["f", OBSERVATION, SECONDS]`` when one
ended. The parent tallies every worker's reports, concludes across them, and closes their stdin once
it has enough; end of stdin (the parent finished, or died) ends a worker.
"""

from __future__ import annotations

import asyncio
import gc
import json
import pickle
import signal
import sys
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Sequence

from poolterm.diagnosis.diagnose import PoolLike
from poolterm.model import Observation, Reach, Role, XeCall
from poolterm.probing.probe import MASTER_PORT_TIMEOUT, ROUND_OUTPUT_LIMIT, ProbeParser, build_probe_command
from poolterm.probing.service import decode_observation, dumps, encode_observation
from poolterm.probing.shards import plan
from poolterm.probing.watch import DEADLINE_SLACK, RoundDone, Watcher
from poolterm.transport.ssh import NETWORK_BACKOFF, Connections, HostUnavailable, raise_nofile_limit
from poolterm.untrusted import escape
from poolterm.xe import address_key

#: Seconds a slave's forwarded call may take, after its pool.conf arrived, before the slave is asked
#: whether its master answers ping. A healthy pool answers in tens of milliseconds.
ASK_AFTER = 0.5
#: Seconds a cancelled round, or a worker told to stop, gets to end cleanly.
STOP_GRACE = 1.0
#: Longest report line a worker may send: a 5000-host pool's database rides in its master's.
REPORT_LIMIT = 4 * ROUND_OUTPUT_LIMIT
#: Followers named in a concluded host's evidence; the rest are counted.
NAMED_FOLLOWERS = 3
WORKER_MODULE = "poolterm.probing.oneshot"


@dataclass(frozen=True)
class Report:
    """What the round has said of one host so far: ``final`` once its round ended (``seconds`` long);
    before that, ``waiting`` names the section it waits in."""

    obs: Observation
    final: bool = False
    waiting: str | None = None
    seconds: float | None = None


def encode_report(report: Report) -> bytes:
    tail = report.seconds if report.final else report.waiting
    return dumps(["f" if report.final else "p", encode_observation(report.obs), tail])


def decode_report(line: bytes) -> Report:
    kind, obs, tail = json.loads(line)
    if kind == "f":
        return Report(decode_observation(obs), final=True, seconds=tail)
    return Report(decode_observation(obs), waiting=tail)


# ---- the round, where the connections are -------------------------------------------------------
class Round:
    """One probe round on ``hosts``; each host's reports are handed to ``report`` as they come."""

    def __init__(self, hosts: Iterable, ssh_settings, timeout: float, report: Callable[[Report], None]):
        hosts = list(hosts)
        self._report = report
        self._timeout = timeout
        self.connections = Connections(hosts, ssh_settings)
        self.watcher = Watcher(hosts, self.connections, interval=0.0, timeout=timeout,
                               on_round=self._ended, on_section=self._section)
        self._parsers: dict[str, ProbeParser] = {}
        self._asking: dict[str, asyncio.Task] = {}
        self._pings: dict[str, bool | None] = {}
        self._seconds: dict[str, float] = {}
        self._started: dict[str, float] = {}
        self._done: set[str] = set()  # hosts whose round has said all it will
        self._tasks: list[asyncio.Task] = []
        self._timers: list[asyncio.TimerHandle] = []

    async def run(self) -> None:
        self._tasks = [asyncio.create_task(self._host(name), name=f"check:{name}") for name in self.watcher.hosts]
        await asyncio.gather(*self._tasks)

    async def stop(self) -> None:
        """End what is still under way and close the connections: a settled check needs nothing more.

        The connections close while the rounds are cancelled, not after: a cancelled command asks its
        host to stop it and waits for the channel to close, which a connection closing does at once."""
        for timer in self._timers:
            timer.cancel()
        tasks = [t for t in (*self._tasks, *self._asking.values()) if not t.done()]
        for task in tasks:
            task.cancel()
        closing = asyncio.ensure_future(self.connections.close())
        if tasks:
            await asyncio.wait(tasks, timeout=STOP_GRACE)
        await closing

    async def _host(self, name: str) -> None:
        self._started[name] = asyncio.get_running_loop().time()
        obs = await self.watcher.probe(name)
        if obs.reach is Reach.STALLED:
            # A channel that did not open within a second: a link or an sshd in trouble, or only a busy
            # one. The console tells them apart at its next round; a single round asks once more, after
            # the transport's own pause before it connects again.
            await asyncio.sleep(NETWORK_BACKOFF[0])
            obs = await self.watcher.probe(name)
        if name in self._done:
            self._seconds.pop(name, None)
            return  # told at its last section
        self._done.add(name)
        if name not in self._asking and _call_failed(obs):
            self._ask(name, obs)
        if name in self._asking:
            await self._asking[name]  # the ping's second at most: its answer belongs in the host's last word
        self._report(Report(self._told(obs), final=True, seconds=self._seconds.pop(name, None)))

    def _ended(self, name: str, seconds: float) -> None:
        self._seconds[name] = seconds

    def _section(self, name: str, section: str, parser: ProbeParser) -> None:
        if section == "conf":
            self._parsers[name] = parser
            self._timers.append(asyncio.get_running_loop().call_later(ASK_AFTER, self._slow, name))
        elif section in LAST_SECTIONS and name not in self._asking:
            self._told_all(name, parser)

    def _told_all(self, name: str, parser: ProbeParser) -> None:
        """The probe's last section has ended: what is left of the round (the command's exit, the channel's
        close) says nothing more, so a round whose call answered is reported now, a round trip sooner."""
        now = asyncio.get_running_loop().time()
        obs = parser.observation(now, complete=True)
        if _call_failed(obs):
            return  # its master is worth asking about first: the round's end reports it
        self._done.add(name)
        self._report(Report(self._told(obs), final=True, seconds=now - self._started[name]))

    def _slow(self, name: str) -> None:
        """ASK_AFTER seconds after its pool.conf: a slave whose round goes on is asked about its master."""
        if name in self._done or name in self._asking:
            return
        partial = self._partial(name)
        if partial.role is Role.SLAVE:
            self._ask(name, partial)
            self._report(Report(partial, waiting=self._parsers[name].unfinished()))

    def _ask(self, name: str, known: Observation) -> None:
        if known.reach.reachable and known.believed_master_address is not None:
            self._asking[name] = asyncio.create_task(self._ping_master(name, known), name=f"check-ask:{name}")

    async def _ping_master(self, name: str, known: Observation) -> None:
        # The probe's paced round: a slave's cheap local reads and one ping of its master.
        command = build_probe_command(known, self._timeout, read_inventory=False, deep=False, ask_emergency=False)
        parser = ProbeParser(name)
        try:
            await self.connections.run(name, command, deadline=MASTER_PORT_TIMEOUT + DEADLINE_SLACK,
                                       on_line=lambda stream, line: parser.feed(line), limit=ROUND_OUTPUT_LIMIT)
        except HostUnavailable:
            return  # the host's own round says what became of it
        self._pings[name] = parser.values.get("master_ping")
        if name not in self._done:
            self._report(Report(self._partial(name), waiting=self._parsers[name].unfinished()))

    def _partial(self, name: str) -> Observation:
        loop = asyncio.get_running_loop()
        return self._told(self._parsers[name].observation(loop.time(), complete=False))

    def _told(self, obs: Observation) -> Observation:
        """As reported: with the ping the slave was asked for, without the raw lines (check shows none)."""
        ping = self._pings.get(obs.host)
        return replace(obs, raw=(), master_ping=obs.master_ping if ping is None else ping)


#: The sections a probe command ends with (:func:`build_probe_command`): a master lists its database,
#: anyone else asks its master for the pool record.
LAST_SECTIONS = frozenset({"db", "xe"})


def _call_failed(obs: Observation) -> bool:
    """A slave's forwarded call that did not answer: whether its master answers is worth asking."""
    return obs.reach.reachable and obs.role is Role.SLAVE and (obs.xe is None or not obs.xe.answered)


# ---- the tally, where the decision is ---------------------------------------------------------------
class Tally:
    """What the round has heard of every host of ``pools``, and when that is enough (the module's rule).

    ``started``: when the round began, on the loop's clock; ``connect_timeout``: the SSH connect timeout
    a concluded host was not waited for. Kept incrementally: a fleet's round brings thousands of reports,
    and each is weighed against its own pool only."""

    def __init__(self, pools: Sequence[PoolLike], *, started: float, connect_timeout: float,
                 on_round: RoundDone | None = None):
        self._started = started
        self._connect_timeout = connect_timeout
        self._on_round = on_round or (lambda name, seconds: None)
        self._order = [h.name for p in pools for h in p.hosts]
        self._pool_of = {h.name: p.name for p in pools for h in p.hosts}
        self._key_of = {h.name: (p.name, address_key(h.address)) for p in pools for h in p.hosts}
        self._host_at = {key: name for name, key in self._key_of.items()}
        self._unheard = {p.name: {h.name for h in p.hosts} for p in pools}
        self._followers: dict[tuple[str, str], set[str]] = {}  # (pool, master address) -> hosts following it
        self._lost: dict[tuple[str, str], set[str]] = {}  # ... and those of them that asked it and got nothing
        self._reports: dict[str, Report] = {}
        self._concluded: dict[str, Observation] = {}
        self._unsettled = set(self._order)
        self.rounds = 0

    def heard(self, report: Report, now: float) -> None:
        name = report.obs.host
        if name not in self._pool_of or (name in self._reports and self._reports[name].final):
            return
        self._follow(name, self._reports.get(name), report)
        self._reports[name] = report
        self._unheard[self._pool_of[name]].discard(name)
        if report.final:
            if report.seconds is not None:  # a round that ended, not a worker that did
                self.rounds += 1
                self._on_round(name, report.seconds)
            self._concluded.pop(name, None)  # it answered after all: its own word stands
            self._refresh_followers(name)
        self._refresh(name)
        self._conclude(self._pool_of[name], now)

    @property
    def settled(self) -> bool:
        return not self._unsettled

    def unsettled(self) -> list[str]:
        return [name for name in self._order if name in self._unsettled]

    def fail(self, names: Iterable[str], detail: str, now: float) -> None:
        """The hosts whose worker ended before their round did: not reached (nothing is known of them,
        not even that their sshd answered, which ``error`` would say)."""
        for name in names:
            obs = Observation(host=name, at=now, reach=Reach.PENDING, reach_detail=detail, complete=True)
            self.heard(Report(obs, final=True), now)

    def observations(self, now: float) -> dict[str, Observation]:
        """Every host's observation as the round leaves it."""
        out = {name: report.obs for name, report in self._reports.items()}
        out.update(self._concluded)
        for name, report in self._reports.items():
            master = None if report.final else self._gone_master(name, report)
            if master is not None:
                out[name] = replace(report.obs, xe=XeCall(
                    "hung", f"no answer within {now - self._started:.1f} s: it waits on {master}, which does not "
                            "answer (not waited for further)"))
        return out

    def _follow(self, name: str, before: Report | None, now: Report) -> None:
        """Move ``name`` between the follower sets as its report changes."""
        pool = self._pool_of[name]
        if before is not None and (key := _followed_key(pool, before.obs)) is not None:
            self._followers[key].discard(name)
            self._lost[key].discard(name)
        if (key := _followed_key(pool, now.obs)) is not None:
            self._followers.setdefault(key, set()).add(name)
            lost = self._lost.setdefault(key, set())
            if _lost_it(now.obs):
                lost.add(name)

    def _gone_master(self, name: str, report: Report) -> str | None:
        """The host ``name`` follows, when the jump box cannot reach it either (concluded, or its own round
        failed) and ``name`` asked it and got nothing; else None."""
        key = _followed_key(self._pool_of[name], report.obs)
        master = None if key is None or not _lost_it(report.obs) else self._host_at.get(key)
        if master is None or master == name:
            return None
        told = self._reports.get(master)
        gone = master in self._concluded or (told is not None and told.final and not told.obs.reach.reachable)
        return master if gone else None

    def _refresh(self, name: str) -> None:
        report = self._reports.get(name)
        settled = name in self._concluded or (report is not None and (report.final or (
            report.waiting == "xe" and self._gone_master(name, report) is not None)))
        if settled:
            self._unsettled.discard(name)
        else:
            self._unsettled.add(name)

    def _refresh_followers(self, master: str) -> None:
        for name in self._followers.get(self._key_of[master], ()):
            self._refresh(name)

    def _conclude(self, pool: str, now: float) -> None:
        unheard = self._unheard[pool]
        if len(unheard) != 1:
            return
        (host,) = unheard
        if host in self._concluded:
            return
        key = self._key_of[host]
        followers = self._followers.get(key)
        if not followers or len(self._lost[key]) != len(followers):  # those who lost it are among them
            return
        names = [name for name in self._order if name in followers]
        shown = ", ".join(names[:NAMED_FOLLOWERS]) + (f" and {len(names) - NAMED_FOLLOWERS} more"
                                                      if len(names) > NAMED_FOLLOWERS else "")
        detail = (f"no SSH answer within {now - self._started:.1f} s, and none of the {len(names)} host(s) following "
                  f"it ({shown}) gets an answer to ping from it: not waited for the rest of the "
                  f"{self._connect_timeout:g} s connect timeout")
        self._concluded[host] = Observation(host=host, at=now, reach=Reach.TIMEOUT, reach_detail=detail,
                                            complete=True)
        self._refresh(host)
        self._refresh_followers(host)


def _followed_key(pool: str, obs: Observation) -> tuple[str, str] | None:
    """The (pool, address) a reachable host follows, by its pool.conf."""
    if not obs.reach.reachable or obs.believed_master_address is None:
        return None
    return pool, address_key(obs.believed_master_address)


def _lost_it(obs: Observation) -> bool:
    """A follower that asked its master and got nothing: no echo reply, no answer to its forwarded call."""
    return obs.master_ping is False and (obs.xe is None or not obs.xe.answered)


# ---- running it ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Result:
    observations: dict[str, Observation]
    rounds: int


async def probe_once(pools: Sequence, ssh_settings, timeout: float, *, workers: int = 1,
                     on_round: RoundDone | None = None) -> Result:
    """One round on every host of ``pools`` (inventory :class:`Pool` objects), ended as soon as every
    host is settled; on ``workers`` processes when more than one."""
    loop = asyncio.get_running_loop()
    tally = Tally(pools, started=loop.time(), connect_timeout=ssh_settings.connect_timeout, on_round=on_round)
    enough = asyncio.Event()

    def heard(report: Report) -> None:
        if enough.is_set():
            return  # what a round says while it is being stopped changes nothing decided
        tally.heard(report, loop.time())
        if tally.settled:
            enough.set()

    if workers <= 1:
        await _here(pools, ssh_settings, timeout, heard, enough)
    else:
        await _on_workers(pools, ssh_settings, timeout, workers, tally, heard, enough)
    now = loop.time()
    return Result(tally.observations(now), tally.rounds)


async def _here(pools: Sequence, ssh_settings, timeout: float, heard: Callable[[Report], None],
                enough: asyncio.Event) -> None:
    round_ = Round((h for p in pools for h in p.hosts), ssh_settings, timeout, heard)
    running = asyncio.create_task(round_.run())
    settled = asyncio.create_task(enough.wait())
    try:
        await asyncio.wait({running, settled}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        settled.cancel()
        finished = running.done()
        await round_.stop()
    if finished:
        running.result()  # a bug in the round is a bug, not a verdict


async def _on_workers(pools: Sequence, ssh_settings, timeout: float, workers: int, tally: Tally,
                      heard: Callable[[Report], None], enough: asyncio.Event) -> None:
    hosts = {h.name: h for p in pools for h in p.hosts}
    started: list[_Worker] = []
    settled = asyncio.ensure_future(enough.wait())
    try:
        for shard in plan(pools, workers):
            if shard.hosts:
                started.append(await _Worker.start([hosts[name] for name in shard.hosts], ssh_settings, timeout))
        reading = asyncio.ensure_future(asyncio.gather(*(worker.read(heard) for worker in started)))
        await asyncio.wait({reading, settled}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        settled.cancel()
        await asyncio.gather(*(worker.stop() for worker in started))
    await reading  # a stopped worker's stdout ends; a report that does not decode is a bug, and says so
    if not enough.is_set():
        now = asyncio.get_running_loop().time()
        left = set(tally.unsettled())
        for worker in started:
            tally.fail([name for name in worker.names if name in left], worker.failure(), now)


class _Worker:
    """One ``python -m poolterm.probing.oneshot`` child and its pipes."""

    def __init__(self, proc: asyncio.subprocess.Process, names: list[str]):
        self.proc = proc
        self.names = names
        self._stderr = b""

    @classmethod
    async def start(cls, hosts: list, ssh_settings, timeout: float) -> "_Worker":
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", WORKER_MODULE, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, limit=REPORT_LIMIT)
        payload = pickle.dumps((ssh_settings, hosts, timeout))
        proc.stdin.write(len(payload).to_bytes(8, "big") + payload)
        return cls(proc, [h.name for h in hosts])

    async def read(self, heard: Callable[[Report], None]) -> None:
        errors = asyncio.create_task(self.proc.stderr.read())
        try:
            while (line := await self.proc.stdout.readline()).endswith(b"\n"):  # a killed worker's last may not
                heard(decode_report(line))
        finally:
            self._stderr = await errors

    async def stop(self) -> None:
        """Close its stdin (it stops probing and exits) and wait for it, killing it if it lingers."""
        if not self.proc.stdin.is_closing():
            self.proc.stdin.close()
        try:
            async with asyncio.timeout(2 * STOP_GRACE):
                await self.proc.wait()
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()

    def failure(self) -> str:
        said = [line for line in self._stderr.decode(errors="replace").splitlines() if line.strip()]
        last = f": {escape(said[-1].strip())}" if said else ""
        return f"the probe worker ended (exit status {self.proc.returncode}) before this host's round did{last}"


# ---- the worker process ------------------------------------------------------------------------------
async def _serve() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    transport, _ = await loop.connect_write_pipe(asyncio.Protocol, sys.stdout)
    try:
        size = int.from_bytes(await reader.readexactly(8), "big")
        ssh_settings, hosts, timeout = pickle.loads(await reader.readexactly(size))
    except asyncio.IncompleteReadError:
        return  # the parent went away before saying what to probe
    round_ = Round(hosts, ssh_settings, timeout, lambda report: transport.write(encode_report(report)))
    probing = asyncio.create_task(round_.run())
    told_to_stop = asyncio.create_task(reader.read())  # returns at end of stdin
    await asyncio.wait({probing, told_to_stop}, return_when=asyncio.FIRST_COMPLETED)
    finished = probing.done()
    told_to_stop.cancel()
    await round_.stop()
    while transport.get_write_buffer_size() and not transport.is_closing():
        await asyncio.sleep(0.005)  # what is written must reach the parent before the process ends
    transport.close()
    if finished:
        probing.result()  # a bug: its traceback on stderr is what the parent quotes


def main() -> int:
    # Ctrl-C reaches the whole process group: the parent decides, and its stdin closing stops this worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The modules loaded live as long as the worker: out of the collector's way, they cost its full
    # collections nothing (a fifth of a second of a 2,500-host slice's round).
    gc.freeze()
    raise_nofile_limit()
    asyncio.run(_serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
