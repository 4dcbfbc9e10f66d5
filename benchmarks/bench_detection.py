"""Fault in the simulator -> verdict change, with poolterm's default settings.

Runs `poolterm sim --hosts 8` in its own process, watches it the way the
console does (persistent connections, self-rescheduling probes, diagnosis on
every observation), injects a master crash or a master cable-out through the
control socket, and times how long until the verdict turns MASTER LOST.
Between trials the fault is undone and the pool allowed back to HEALTHY.

docs/architecture.md target: median <= 3 s, worst <= 6 s.
Baseline in the same run: the same faults detected by polling a forwarded
`xe pool-list` on a slave under `timeout 5` (what a shell loop would do),
i.e. waiting for xapi to look hung.

    python benchmarks/bench_detection.py [--trials N]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from simproc import median, simulator  # noqa: E402

from poolterm.config.inventory import load_inventory  # noqa: E402
from poolterm.diagnosis.diagnose import diagnose  # noqa: E402
from poolterm.model import Verdict  # noqa: E402
from poolterm.probing.watch import Watcher  # noqa: E402
from poolterm.sim.control import request  # noqa: E402
from poolterm.transport.ssh import Connections  # noqa: E402

FAULTS = {"crash": "poweron", "cable-out": "cable-in"}


class Verdicts:
    """Recomputes the diagnosis on every observation and wakes whoever waits for a verdict."""

    def __init__(self, inventory):
        self.inventory = inventory
        self.verdict = Verdict.UNKNOWN
        self.pool = None
        self.changed = asyncio.Event()
        self.watcher: Watcher | None = None

    def publish(self, _obs) -> None:
        now = asyncio.get_running_loop().time()
        self.pool = diagnose(self.inventory.pools, self.watcher.observations, now).pools[0]
        if self.pool.verdict is not self.verdict:
            self.verdict = self.pool.verdict
            self.changed.set()

    async def wait_until(self, predicate, timeout: float) -> float:
        """When ``predicate(pool)`` first holds (the loop's clock); TimeoutError after ``timeout``."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        while self.pool is None or not predicate(self.pool):
            self.changed.clear()
            remaining = timeout - (loop.time() - start)
            if remaining <= 0:
                raise TimeoutError(f"not seen within {timeout} s; the pool is {self.verdict.value}")
            try:
                await asyncio.wait_for(self.changed.wait(), min(remaining, 0.2))
            except asyncio.TimeoutError:
                pass
        return loop.time()

    async def wait_for(self, verdict: Verdict, timeout: float) -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        while self.verdict is not verdict:
            self.changed.clear()
            remaining = timeout - (loop.time() - start)
            if remaining <= 0:
                raise TimeoutError(f"verdict stayed {self.verdict.value}, wanted {verdict.value}")
            try:
                await asyncio.wait_for(self.changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass
        return loop.time()


def start_watching(directory: Path, budget: int | None = None) -> tuple[Verdicts, Connections]:
    """Probe every host of the simulator in ``directory`` as the console does (persistent
    connections, self-rescheduling probes, a dropped connection probed at once), diagnosing
    every observation; ``budget``: paced, as the console is (None: every section every round)."""
    inventory = load_inventory(directory / "hosts.yaml")
    hosts = inventory.hosts()
    verdicts = Verdicts(inventory)
    connections = Connections(hosts, inventory.ssh, on_change=lambda name: verdicts.watcher.wake(name))
    verdicts.watcher = Watcher(hosts, connections, interval=inventory.probe.interval,
                               timeout=inventory.probe.timeout, publish=verdicts.publish, budget=budget)
    verdicts.watcher.start()
    return verdicts, connections


async def poolterm_trials(directory: Path, trials: int) -> dict[str, list[float]]:
    verdicts, connections = start_watching(directory)
    inventory = verdicts.inventory
    results: dict[str, list[float]] = {fault: [] for fault in FAULTS}
    phases = random.Random(7)
    try:
        await verdicts.wait_for(Verdict.HEALTHY, 60)
        for fault, undo in FAULTS.items():
            for _ in range(trials):
                # land the fault at a different phase of the probe cycle each time
                await asyncio.sleep(phases.uniform(0, inventory.probe.interval))
                start = asyncio.get_running_loop().time()
                await request(directory / "control.sock", {"action": fault, "host": "plot1"})
                seen = await verdicts.wait_for(Verdict.MASTER_LOST, 30)
                results[fault].append(seen - start)
                await request(directory / "control.sock", {"action": undo, "host": "plot1"})
                await verdicts.wait_for(Verdict.HEALTHY, 90)
    finally:
        await verdicts.watcher.stop()
        await connections.close()
    return results


async def shell_loop_trials(directory: Path, trials: int) -> list[float]:
    """Baseline: a loop running `timeout 5 xe pool-list` on plot2 until it times out."""
    inventory = load_inventory(directory / "hosts.yaml")
    spec = inventory.host("plot2")
    connections = Connections([spec], inventory.ssh)
    latencies = []
    try:
        for _ in range(trials):
            start = asyncio.get_running_loop().time()
            await request(directory / "control.sock", {"action": "crash", "host": "plot1"})
            while True:
                result = await connections.run("plot2", "timeout -k 1 5 xe pool-list params=master --minimal",
                                               deadline=10)
                if result.exit_status == 124:
                    break
            latencies.append(asyncio.get_running_loop().time() - start)
            await request(directory / "control.sock", {"action": "poweron", "host": "plot1"})
            while (await connections.run("plot2", "timeout -k 1 5 xe pool-list params=master --minimal",
                                         deadline=10)).exit_status != 0:
                await asyncio.sleep(0.2)
    finally:
        await connections.close()
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    args = parser.parse_args()
    with simulator(8) as directory:
        ours = asyncio.run(poolterm_trials(directory, args.trials))
        baseline = asyncio.run(shell_loop_trials(directory, max(3, args.trials // 3)))
    print(f"fault -> verdict MASTER LOST, 8 hosts, default settings, {args.trials} trials each")
    print(f"{'method':<34} {'median s':>9} {'worst s':>9}")
    for fault, values in ours.items():
        print(f"{'poolterm, master ' + fault:<34} {median(values):>9.2f} {max(values):>9.2f}")
    print(f"{'baseline: timeout 5 xe pool-list':<34} {median(baseline):>9.2f} {max(baseline):>9.2f}")
    worst = max(max(v) for v in ours.values())
    med = max(median(v) for v in ours.values())
    print(f"target median <= 3 s: {'met' if med <= 3 else 'MISSED'}; worst <= 6 s: {'met' if worst <= 6 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
