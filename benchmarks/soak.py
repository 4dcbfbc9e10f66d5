"""Soak: random faults on a simulated pool for minutes on end; at quiet points the verdict must match the truth.

    python benchmarks/soak.py [--hosts 1000] [--minutes 10] [--seed 1] [--quiet-every 30]

`poolterm sim --hosts N` runs in its own process (its CPU and memory are not poolterm's). This
process watches it the way the console does: a :class:`LiveSource`, which above 64 hosts
(``PROBE_PROCESS_ABOVE``) probes and diagnoses in the console's probe process and here only
receives observations and diagnoses; below that it probes here. Every few seconds a random
fault is injected through the control socket, or one in place is undone: a power loss
(``crash``) or a shutdown (undone by ``poweron``), ``cable-out``/``cable-in``,
``hang-xapi``/``unhang-xapi``, a hostile ``pool.conf`` on a slave (``write-file``: terminal
escapes, direction marks, bytes that are not UTF-8; restored afterwards) and a hostile
name-label (``set-name-label``: escapes, a blank line, 5000 characters; restored afterwards).
At most a few faults are in place at once, one per host, the master included.

At quiet points no fault is injected: the simulator's ground truth must stay unchanged for a
while (no host booting, shutting down or starting xapi), every host must then finish two
probe rounds that started after it settled, and the console's verdict must be the one the
truth calls for (:func:`expected_verdict`, a small judge of the truth kept here, independent
of poolterm's diagnosis) within a few seconds. The last quiet point comes after every fault
is undone, and must be HEALTHY.

Printed: the RSS of the processes doing the probing (this one, the console's stand-in, and
its probe process) over time, the faults, the checks, wrong verdicts, and unhandled
exceptions (this process's event loop, counted by an exception handler; the probe process's
tracebacks, read from its stderr), probe loops that stopped answering, and the probe
process's exits. Targets: RSS growth <= 10 % after warm-up (the first fifth of the run, at
least one quiet point: the baseline, measured in the same run), 0 unhandled exceptions,
0 wrong verdicts. Exit status 1 when one is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from procstat import rss_mb  # noqa: E402
from simproc import simulator  # noqa: E402

from poolterm.config.inventory import load_inventory  # noqa: E402
from poolterm.model import Observation, Verdict  # noqa: E402
from poolterm.probing.shards import PROBE_PROCESS_ABOVE  # noqa: E402
from poolterm.probing.source import LiveSource  # noqa: E402
from poolterm.probing.watch import DEADLINE_SLACK  # noqa: E402
from poolterm.sim.control import request  # noqa: E402
from poolterm.sim.host import parse_pool_conf, role_master_address  # noqa: E402

TARGET_RSS_GROWTH = 0.10
#: Faults in place at once, at most, and the seconds between two fault actions.
MAX_FAULTS = 3
GAP = (2.0, 5.0)
#: The truth counts as settled when it has not changed for this long, with nothing under way.
SETTLED_SECONDS = 2.0
#: Seconds the verdict may take to agree once every host finished two fresh rounds (the probe
#: process diagnoses at most every 0.2 s, and a few times its own cost apart).
AGREE_SECONDS = 5.0

#: pool.conf contents planted on a slave: each still says "slave:", so the host's role stays
#: readable and it points at something that is not its master (orphaned, by the truth too).
HOSTILE_CONF = [
    "slave:\x1b]52;c;cHduZWQ=\x07\x1b[2J",
    "slave:10.255.0.9\u202e\u200b\x9b2J",
    "slave:\udcff\udcfe\x00evil",
    "slave:{address}\n\x1b]0;owned\x07",
    "slave:" + "A" * 20000,
]
HOSTILE_LABELS = [
    "\x1b]52;c;cHduZWQ=\x07\x1b[2J",
    "evil\n\nline after a blank line",
    "\u202eplot\u200b\u061c\ufeff",
    "```\n# heading\n<script>",
    "x" * 5000 + "\x9b6n",
]
#: fault -> the action that undoes it; write-file and set-name-label are undone by writing back.
UNDO = {"crash": "poweron", "shutdown": "poweron", "cable-out": "cable-in", "hang-xapi": "unhang-xapi",
        "write-file": "write-file", "set-name-label": "set-name-label"}
SLAVES_ONLY = {"write-file"}


# --------------------------------------------------------------------------- the truth, judged


def expected_verdict(status: dict, master: str) -> Verdict | None:
    """The verdict the simulator's ground truth calls for, for the faults this soak makes; None
    when the truth is outside them (then the check is not made).

    The master is lost when it is off, cut off or its xapi is not serving; slaves whose pool.conf
    names another host are orphaned; a reachable slave in emergency mode is an emergency; a
    slave that is off, cut off or whose xapi does not serve leaves the pool degraded."""
    hosts = {h["name"]: h for h in status["hosts"]}
    m = hosts[master]

    def reachable(h: dict) -> bool:
        return h["power"] == "on" and h["link"] == "up"

    if not reachable(m) or m["xapi"] != "running" or m["emergency"] or m["role"] != "master":
        return Verdict.MASTER_LOST
    others = [h for name, h in hosts.items() if name != master]
    conf_roles = {h["name"]: parse_pool_conf(h["pool_conf"] or "") for h in others if reachable(h)}
    if any(not role.startswith("slave:") for role in conf_roles.values()):
        return None  # a broken or master pool.conf on a slave: not a state this soak makes
    if any(role_master_address(role) != m["address"] for role in conf_roles.values()):
        return Verdict.ORPHANED_SLAVES
    if any(reachable(h) and h["emergency"] for h in others):
        return Verdict.EMERGENCY
    if any(not reachable(h) or h["xapi"] != "running" for h in others):
        return Verdict.DEGRADED
    return Verdict.HEALTHY


def settling(status: dict) -> bool:
    """Something is under way: a host booting or shutting down, an xapi starting or stopping."""
    return any(h["power"] not in ("on", "off") or (h["power"] == "on" and h["xapi"] == "starting")
               for h in status["hosts"])


def fingerprint(status: dict) -> tuple:
    return tuple((h["name"], h["power"], h["link"], h["xapi"], h["role"], h["master_address"], h["emergency"],
                  h["pool_conf"]) for h in status["hosts"])


# --------------------------------------------------------------------------- what is counted


class Counting(LiveSource):
    """The console's source, with its probe process's stderr counted (the console keeps the last
    lines only, to explain a failure): any traceback there is an unhandled exception."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stderr_lines = 0
        self.tracebacks = 0
        self.failures: list[str] = []
        self.stderr_seen: collections.deque[str] = collections.deque(maxlen=20)

    async def _keep_stderr(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            text = line.decode(errors="replace").rstrip()
            self.stderr_lines += 1
            self.tracebacks += text.startswith("Traceback")
            self.stderr_seen.append(text)
            self._stderr.append(text)


class Rounds:
    """Complete observations per host since a mark: the publish callback the source calls."""

    def __init__(self, names: list[str]):
        self.names = names
        self.since = float("inf")
        self.count: dict[str, int] = dict.fromkeys(names, 0)
        self.first_healthy = asyncio.Event()

    def mark(self, since: float) -> None:
        self.since = since
        self.count = dict.fromkeys(self.names, 0)

    def publish(self, obs: Observation) -> None:
        if obs.complete and obs.at > self.since:
            self.count[obs.host] += 1

    def behind(self, rounds: int) -> list[str]:
        return [name for name, n in self.count.items() if n < rounds]


@dataclass
class Tally:
    faults: collections.Counter = field(default_factory=collections.Counter)
    undone: int = 0
    refused: collections.Counter = field(default_factory=collections.Counter)  # the simulator said no
    checks: collections.Counter = field(default_factory=collections.Counter)  # by expected verdict
    wrong: list[str] = field(default_factory=list)
    voided: int = 0  # the truth moved during the check
    unjudged: int = 0  # a truth the judge does not know
    agree_seconds: list[float] = field(default_factory=list)
    fresh_seconds: list[float] = field(default_factory=list)
    stalled: list[str] = field(default_factory=list)  # hosts that did not finish fresh rounds in time
    loop_exceptions: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- the soak


class Soak:
    def __init__(self, directory: Path, seconds: float, seed: int, quiet_every: float, *,
                 interval: float | None = None, timeout: float | None = None):
        self.directory = directory
        self.control = directory / "control.sock"
        self.inventory = load_inventory(directory / "hosts.yaml")
        self.names = [h.name for h in self.inventory.hosts()]
        self.master = self.names[0]  # plot1 starts as master; no fault here moves the role
        self.seconds = seconds
        self.rng = random.Random(seed)
        self.quiet_every = quiet_every
        self.child = len(self.names) > PROBE_PROCESS_ABOVE
        self.interval = interval if interval is not None else self.inventory.probe.interval
        self.timeout = timeout if timeout is not None else self.inventory.probe.timeout
        self.source = Counting(self.inventory, interval=self.interval, timeout=self.timeout,
                               probe_workers=1 if self.child else 0)
        self.rounds = Rounds(self.names)
        self.tally = Tally()
        self.in_place: dict[str, tuple[str, dict]] = {}  # host -> (fault, what undoes it)
        self.samples: list[tuple[float, float, float]] = []  # seconds into the run, MB here, MB probe process
        self.start = 0.0
        self.warm_index = 0  # the first sample after the first quiet point

    # ---- the simulator ------------------------------------------------------------
    async def ctl(self, action: str, host: str | None = None, **data) -> dict:
        return await request(self.control, {"action": action, **({"host": host} if host else {}), **data})

    async def status(self) -> dict:
        answer = await self.ctl("status")
        if not answer.get("ok"):
            raise RuntimeError(f"simulator status: {answer}")
        return answer

    # ---- faults -------------------------------------------------------------------
    async def inject(self) -> None:
        free = [n for n in self.names if n not in self.in_place]
        fault = self.rng.choice(list(UNDO))
        if self.master not in self.in_place and self.rng.random() < 0.3 and fault not in SLAVES_ONLY:
            host = self.master
        else:
            host = self.rng.choice([n for n in free if n != self.master] or free)
        if fault == "write-file":
            before = next(h for h in (await self.status())["hosts"] if h["name"] == host)
            master_address = self.inventory.host(self.master).address
            content = self.rng.choice(HOSTILE_CONF).format(address=master_address)
            request_data = {"path": "/etc/xensource/pool.conf", "content": content}
            undo = {"path": "/etc/xensource/pool.conf", "content": before["pool_conf"]}
        elif fault == "set-name-label":
            request_data = {"label": self.rng.choice(HOSTILE_LABELS)}
            undo = {"label": host}  # the simulator names every host's record after the host
        else:
            request_data, undo = {}, {}
        answer = await self.ctl(fault, host, **request_data)
        if answer.get("ok"):
            self.tally.faults[fault] += 1
            self.in_place[host] = (fault, undo)
        else:
            self.tally.refused[fault] += 1

    async def undo(self, host: str) -> bool:
        fault, data = self.in_place[host]
        answer = await self.ctl(UNDO[fault], host, **data)
        if answer.get("ok"):
            del self.in_place[host]
            self.tally.undone += 1
            return True
        return False  # e.g. still shutting down: powered on at a later step

    async def step(self) -> None:
        if self.in_place and (len(self.in_place) >= MAX_FAULTS or self.rng.random() < 0.45):
            await self.undo(self.rng.choice(list(self.in_place)))
        else:
            await self.inject()

    async def undo_all(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while self.in_place and time.monotonic() < deadline:
            for host in list(self.in_place):
                await self.undo(host)
            if self.in_place:
                await asyncio.sleep(0.5)

    # ---- a quiet point --------------------------------------------------------------
    async def settled(self, timeout: float = 180.0) -> tuple[dict, float]:
        """The truth once it has not moved for SETTLED_SECONDS with nothing under way, and since when."""
        deadline = time.monotonic() + timeout
        last, since = None, 0.0
        while True:
            status = await self.status()
            now = asyncio.get_running_loop().time()
            mark = fingerprint(status)
            if mark != last or settling(status):
                last, since = mark, now
            elif now - since >= SETTLED_SECONDS:
                return status, since
            if time.monotonic() > deadline:
                raise RuntimeError("the simulator's truth never settled")
            await asyncio.sleep(0.5)

    def verdict(self):
        pool = self.source.diagnosis_job()().pools[0]
        return pool.verdict, pool.summary

    async def quiet_check(self, label: str) -> None:
        loop = asyncio.get_running_loop()
        try:
            truth, since = await self.settled()
        except RuntimeError:
            self.tally.unjudged += 1
            return
        expected = expected_verdict(truth, self.master)
        if expected is None:
            self.tally.unjudged += 1
            return
        # Two complete rounds of every host that started after the truth settled.
        self.rounds.mark(since)
        fresh_from = loop.time()
        fresh_timeout = 4 * (self.interval + self.timeout + DEADLINE_SLACK) + len(self.names) * 0.02
        while self.rounds.behind(2) and loop.time() - fresh_from < fresh_timeout:
            await asyncio.sleep(0.1)
        behind = self.rounds.behind(2)
        self.tally.fresh_seconds.append(loop.time() - fresh_from)
        if behind:
            self.tally.stalled.append(f"{label}: {len(behind)} hosts without fresh rounds ({', '.join(behind[:5])})")
        agreed_from = loop.time()
        verdict, summary = self.verdict()
        while verdict is not expected and loop.time() - agreed_from < AGREE_SECONDS:
            await asyncio.sleep(0.1)
            verdict, summary = self.verdict()
        if fingerprint(await self.status()) != fingerprint(truth):
            self.tally.voided += 1  # a timer of the simulator fired after all: not a quiet point
            return
        self.tally.checks[expected.value] += 1
        if verdict is expected:
            self.tally.agree_seconds.append(loop.time() - agreed_from)
        else:
            faults = ", ".join(f"{f} {h}" for h, (f, _) in sorted(self.in_place.items())) or "none"
            self.tally.wrong.append(f"{label}: expected {expected.value}, got {verdict.value} ({summary}); "
                                    f"faults in place: {faults}")

    # ---- memory ---------------------------------------------------------------------
    def sample(self) -> None:
        child = self.source.children[0] if self.source.children else None
        here = rss_mb("self")
        there = rss_mb(child.pid) if child is not None and child.returncode is None else 0.0
        elapsed = time.monotonic() - self.start
        self.samples.append((elapsed, here, there))
        print(f"{elapsed:8.0f} {here:10.1f} {there:12.1f} {sum(self.tally.faults.values()):7d} "
              f"{sum(self.tally.checks.values()):7d} {len(self.tally.wrong):6d} {self.exceptions():11d}", flush=True)

    async def sampling(self, every: float) -> None:
        while True:
            self.sample()
            await asyncio.sleep(every)

    def exceptions(self) -> int:
        return len(self.tally.loop_exceptions) + self.source.tracebacks

    # ---- the run ----------------------------------------------------------------------
    async def run(self) -> None:
        loop = asyncio.get_running_loop()

        def handler(_loop, context: dict) -> None:
            exc = context.get("exception")
            self.tally.loop_exceptions.append(f"{context.get('message')}: {exc!r}")

        loop.set_exception_handler(handler)
        self.source.start(self.rounds.publish, on_failure=self.source.failures.append)
        mode = "the console's probe process" if self.child else "this process (as the console below " \
                                                                 f"{PROBE_PROCESS_ABOVE + 1} hosts)"
        print(f"soak: {len(self.names)} hosts, {self.seconds / 60:g} min, probing and diagnosis in {mode}; "
              f"probe interval {self.interval:g} s, timeout {self.timeout:g} s", flush=True)
        print(f"{'time s':>8} {'soak MB':>10} {'probe MB':>12} {'faults':>7} {'checks':>7} {'wrong':>6} "
              f"{'exceptions':>11}", flush=True)
        self.start = time.monotonic()
        sampler = asyncio.create_task(self.sampling(max(2.0, self.seconds / 30)))
        try:
            await self.quiet_check("start")  # a healthy pool, before any fault: the warm-up's end at the earliest
            self.warm_index = len(self.samples)
            last_quiet = time.monotonic()
            while time.monotonic() - self.start < self.seconds:
                await asyncio.sleep(self.rng.uniform(*GAP))
                if time.monotonic() - last_quiet >= self.quiet_every:
                    await self.quiet_check(f"{time.monotonic() - self.start:.0f} s")
                    last_quiet = time.monotonic()
                else:
                    await self.step()
            await self.undo_all()
            await self.quiet_check("end, every fault undone")
        finally:
            sampler.cancel()
            await asyncio.gather(sampler, return_exceptions=True)
            self.sample()
            await self.source.close()

    # ---- the figures -------------------------------------------------------------------
    def report(self) -> bool:
        t = self.tally
        warm_at = max(self.seconds / 5, self.samples[min(self.warm_index, len(self.samples) - 1)][0])
        warm = next((s for s in self.samples if s[0] >= warm_at), self.samples[-1])
        end = self.samples[-1]
        growth = []
        print()
        for column, name in ((1, "soak process (the console's side)"), (2, "probe process")):
            if not warm[column]:
                continue
            peak = max(s[column] for s in self.samples if s[0] >= warm[0])
            change = (end[column] - warm[column]) / warm[column]
            growth.append(change)
            first = next(s[column] for s in self.samples if s[column])  # the probe process starts late
            print(f"RSS {name}: start {first:.1f} MB, after warm-up ({warm[0]:.0f} s, the "
                  f"baseline) {warm[column]:.1f} MB, end {end[column]:.1f} MB ({change:+.1%}), "
                  f"peak after warm-up {peak:.1f} MB")
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(t.faults.items()))
        print(f"faults injected: {sum(t.faults.values())} ({kinds}); undone: {t.undone}; "
              f"refused by the simulator: {sum(t.refused.values())}")
        agree = (f"verdict agreed {statistics.median(t.agree_seconds):.2f} s median, "
                 f"{max(t.agree_seconds):.2f} s worst after two fresh rounds" if t.agree_seconds
                 else "no verdict agreed")
        fresh = (f"two fresh rounds of every host took {statistics.median(t.fresh_seconds):.1f} s median, "
                 f"{max(t.fresh_seconds):.1f} s worst" if t.fresh_seconds else "")
        print(f"quiet-point checks: {sum(t.checks.values())} "
              f"({', '.join(f'{k} {v}' for k, v in sorted(t.checks.items()))}); {agree}; {fresh}; "
              f"voided (the truth moved): {t.voided}; not judged: {t.unjudged}")
        print(f"wrong verdicts: {len(t.wrong)}")
        for line in t.wrong:
            print(f"  WRONG {line}")
        print(f"stalled probe loops: {len(t.stalled)}")
        for line in t.stalled:
            print(f"  STALLED {line}")
        print(f"unhandled exceptions: {self.exceptions()} (soak process {len(t.loop_exceptions)}, probe process "
              f"tracebacks {self.source.tracebacks}); probe process stderr lines: {self.source.stderr_lines}; "
              f"probe process failures: {len(self.source.failures)}")
        for line in t.loop_exceptions[:10] + list(self.source.stderr_seen)[:10] + self.source.failures[:5]:
            print(f"  {line}")
        rss_ok = all(g <= TARGET_RSS_GROWTH for g in growth)
        quiet_ok = not t.wrong and not t.stalled and sum(t.checks.values()) > 0
        errors_ok = self.exceptions() == 0 and not self.source.failures
        print(f"targets: RSS growth <= {TARGET_RSS_GROWTH:.0%} after warm-up: {'met' if rss_ok else 'MISSED'}; "
              f"0 unhandled exceptions: {'met' if errors_ok else 'MISSED'}; "
              f"0 wrong verdicts at quiet points: {'met' if quiet_ok else 'MISSED'}")
        return rss_ok and quiet_ok and errors_ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=10.0, help="fault injection time (fractions allowed)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quiet-every", type=float, default=30.0, metavar="SECONDS",
                        help="seconds between quiet points (one more at the start and at the end)")
    parser.add_argument("--interval", type=float, help="probe interval (default: the inventory's, as the console)")
    parser.add_argument("--timeout", type=float, help="probe timeout (default: the inventory's, as the console)")
    args = parser.parse_args()
    with simulator(args.hosts, fuse=1.0, boot=1.0, ready_timeout=300.0) as directory:
        soak = Soak(directory, args.minutes * 60, args.seed, args.quiet_every, interval=args.interval,
                    timeout=args.timeout)
        asyncio.run(soak.run())
    return 0 if soak.report() else 1


if __name__ == "__main__":
    sys.exit(main())
