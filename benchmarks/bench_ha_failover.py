"""Master crash under HA -> verdict HA FAILOVER, against master crash without HA -> MASTER LOST.

Runs two `poolterm sim --hosts 8` processes, one with HA armed (`--ha --ha-timeout 10`), watches
each the way the console does (persistent connections, self-rescheduling probes, a diagnosis on
every observation), crashes the master through the control socket and times how long until the
verdict says HA FAILOVER (with HA) or MASTER LOST (without: the baseline, measured in the same
run). Under HA the trial also times the whole failover: from the crash until the pool works again
under the master HA elected (DEGRADED: every host follows it but the crashed one), with nobody
typing anything; then the old master is powered on, rejoins as a slave, and the next trial
crashes the new master.

Issue #12 target: HA FAILOVER detected as fast as MASTER LOST today, median <= 3 s.

    python benchmarks/bench_ha_failover.py [--trials N]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_detection import start_watching  # noqa: E402
from simproc import median, simulator  # noqa: E402

from poolterm.model import Verdict  # noqa: E402
from poolterm.sim.control import request  # noqa: E402

HA_TIMEOUT = 10


async def trials(directory: Path, count: int, expected: Verdict) -> tuple[list[float], list[float]]:
    """(crash -> ``expected``, crash -> working again without the crashed host) per trial; the second
    only under HA."""
    verdicts, connections = start_watching(directory)
    inventory = verdicts.inventory
    control = directory / "control.sock"
    detected, recovered = [], []
    phases = random.Random(7)
    loop = asyncio.get_running_loop()
    try:
        await verdicts.wait_for(Verdict.HEALTHY, 60)
        for _ in range(count):
            status = await request(control, {"action": "status"})
            master = status["masters"][0]["name"]
            await asyncio.sleep(phases.uniform(0, inventory.probe.interval))  # a different probe phase each time
            start = loop.time()
            await request(control, {"action": "crash", "host": master})
            detected.append(await verdicts.wait_for(expected, 30) - start)
            if expected is Verdict.HA_FAILOVER:
                recovered.append(await verdicts.wait_for(Verdict.DEGRADED, 180) - start)
                await request(control, {"action": "poweron", "host": master})
                await verdicts.wait_for(Verdict.HEALTHY, 120)
            else:
                await request(control, {"action": "poweron", "host": master})
                await verdicts.wait_for(Verdict.HEALTHY, 120)
    finally:
        await verdicts.watcher.stop()
        await connections.close()
    return detected, recovered


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()
    with simulator(8, fuse=10, boot=5, extra=("--ha", "--ha-timeout", str(HA_TIMEOUT))) as directory:
        ha, failover = asyncio.run(trials(directory, args.trials, Verdict.HA_FAILOVER))
    with simulator(8) as directory:
        baseline, _ = asyncio.run(trials(directory, args.trials, Verdict.MASTER_LOST))
    print(f"master crash -> verdict, 8 hosts, default probe settings, {args.trials} trials each")
    print(f"{'':<44} {'median s':>9} {'worst s':>9}")
    print(f"{'HA armed (T = 10 s): crash -> HA FAILOVER':<44} {median(ha):>9.2f} {max(ha):>9.2f}")
    print(f"{'baseline, no HA: crash -> MASTER LOST':<44} {median(baseline):>9.2f} {max(baseline):>9.2f}")
    print(f"{'HA armed: crash -> new master, nobody typing':<44} {median(failover):>9.2f} {max(failover):>9.2f}")
    print(f"target median <= 3 s: {'met' if median(ha) <= 3 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
