"""A fleet on one jump box: first verdict from a cold start, and the steady state of thousands of hosts.

    python benchmarks/bench_fleet.py first-verdict [--hosts 1000] [--trials 3]
    python benchmarks/bench_fleet.py steady [--hosts 5000] [--pools 50] [--seconds 30] [--faults 5]

The simulator (`poolterm sim`) runs in its own process; poolterm's probing runs as the
console runs it (:class:`LiveSource` with its probe worker processes), without the screen.

``first-verdict``: from nothing (no process, no connection) to a diagnosis of every host,
with the default worker count (one per core) and with one worker, against the baseline in the
same run: ``xargs -P 64`` of the OpenSSH client reading /etc/xensource/pool.conf on every
host (issue #16: ≤ 4 s at 1,000 hosts, ≥ 3× faster than the baseline).

``steady``: once every host has answered, the workers' CPU per host per probe round (≤ 1 ms),
the memory of this process and each worker (RSS, and PSS: shared pages split between the
processes sharing them), then ``--faults`` times the master of a random pool crashed and
timed until that pool's diagnosis says MASTER LOST (median ≤ 3 s), powered on again and
waited back to HEALTHY before the next.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from procstat import cpu_seconds, pss_mb, rss_mb  # noqa: E402
from simproc import ctl, median, simulator  # noqa: E402

from poolterm.config.inventory import load_inventory  # noqa: E402
from poolterm.model import Verdict  # noqa: E402
from poolterm.probing.shards import default_workers  # noqa: E402
from poolterm.probing.source import LiveSource  # noqa: E402

FIRST_VERDICT_TARGET = 4.0
SPEEDUP_TARGET = 3.0
CPU_TARGET_MS = 1.0
DETECTION_TARGET = 3.0


# ---- the baseline --------------------------------------------------------------------------
def xargs_openssh(directory: Path, parallel: int = 64) -> tuple[float, int]:
    """Seconds for ``xargs -P parallel`` of ``ssh host cat pool.conf`` over every host; answers counted."""
    inventory = load_inventory(directory / "hosts.yaml")
    ssh = inventory.ssh
    targets = "".join(f"{h.port} {h.ssh_host}\n" for h in inventory.hosts())
    one = (f"ssh -q -p \"$0\" -i {shlex.quote(str(ssh.identity))} -F none -o BatchMode=yes "
           f"-o StrictHostKeyChecking=yes -o UserKnownHostsFile={shlex.quote(str(ssh.known_hosts))} "
           f"-o ConnectTimeout=10 {ssh.user}@\"$1\" cat /etc/xensource/pool.conf")
    started = time.perf_counter()
    out = subprocess.run(["xargs", "-P", str(parallel), "-n", "2", "sh", "-c", one], input=targets,
                         capture_output=True, text=True)
    seconds = time.perf_counter() - started
    # pool.conf has no final newline: the answers run together ("masterslave:127.77.0.11...").
    answers = len(re.findall(r"master|slave:", out.stdout))
    return seconds, answers


# ---- poolterm ------------------------------------------------------------------------------
def everyone_heard(source: LiveSource) -> bool:
    """A diagnosis of every host, each seen reachable: what the console's first verdict waits for."""
    diagnosis = source.diagnosis_job()()
    return (len(source.observations) == len(source.host_names)
            and all(h.reachable for p in diagnosis.pools for h in p.hosts)
            and diagnosis.verdict is Verdict.HEALTHY)


async def until(predicate, timeout: float, what: str, step: float = 0.01) -> float:
    started = time.perf_counter()
    while not predicate():
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"no {what} within {timeout:g} s")
        await asyncio.sleep(step)
    return time.perf_counter() - started


async def first_verdict(directory: Path, workers: int, timeout: float = 120.0) -> float:
    source = LiveSource(load_inventory(directory / "hosts.yaml"), probe_workers=workers)
    started = time.perf_counter()
    source.start(lambda observation: None)
    try:
        await until(lambda: everyone_heard(source), timeout, "first verdict")
        return time.perf_counter() - started
    finally:
        await source.close()


def run_first_verdict(args) -> int:
    workers = default_workers(args.hosts)
    print(f"first verdict at {args.hosts} hosts, cold; {os.cpu_count()} cores; default workers {workers}", flush=True)
    with simulator(args.hosts, pools=args.pools) as directory:
        base, poolterm, single = [], [], []
        for trial in range(1, args.trials + 1):
            seconds, answers = xargs_openssh(directory)
            base.append(seconds)
            print(f"  trial {trial}: xargs -P64 OpenSSH {seconds:6.2f} s ({answers}/{args.hosts} answered)", flush=True)
            poolterm.append(asyncio.run(first_verdict(directory, workers)))
            print(f"  trial {trial}: poolterm, {workers} workers {poolterm[-1]:6.2f} s", flush=True)
            if workers != 1:
                single.append(asyncio.run(first_verdict(directory, 1)))
                print(f"  trial {trial}: poolterm, 1 worker   {single[-1]:6.2f} s", flush=True)
    ratio = median(base) / median(poolterm)
    met = median(poolterm) <= FIRST_VERDICT_TARGET and ratio >= SPEEDUP_TARGET
    single_text = f"; 1 worker: median {median(single):.2f} s" if single else ""
    print(f"poolterm ({workers} workers): median {median(poolterm):.2f} s, worst {max(poolterm):.2f} s{single_text}; "
          f"xargs -P64 OpenSSH: median {median(base):.2f} s; {ratio:.1f}x faster "
          f"(target ≤ {FIRST_VERDICT_TARGET:g} s and ≥ {SPEEDUP_TARGET:g}x): {'met' if met else 'MISSED'}")
    return 0 if met else 1


# ---- the steady state ------------------------------------------------------------------------
def workers_cpu(source: LiveSource) -> float:
    return sum(cpu_seconds(child.pid) for child in source.children if child is not None)


def memory(source: LiveSource) -> str:
    pids = ["self"] + [child.pid for child in source.children if child is not None]
    rss = [rss_mb(pid) for pid in pids]
    pss = [pss_mb(pid) for pid in pids]
    each = " + ".join(f"{r:.0f}" for r in rss)
    return (f"RSS here + workers: {each} = {sum(rss):.0f} MB; PSS {' + '.join(f'{p:.0f}' for p in pss)} "
            f"= {sum(pss):.0f} MB")


async def steady(directory: Path, seconds: float, faults: int, seed: int) -> dict:
    status = ctl(directory, "status")
    pools = status.get("pools") or [{"name": "lab", "master": "plot1"}]
    source = LiveSource(load_inventory(directory / "hosts.yaml"), probe_workers=default_workers(len(status["hosts"])))
    started = time.perf_counter()
    source.start(lambda observation: None)
    try:
        warm = await until(lambda: everyone_heard(source), 600, "first verdict", step=0.1)
        print(f"  first verdict after {warm:.1f} s ({len(source.children)} workers)", flush=True)
        await asyncio.sleep(2 * source.interval)  # past the first rounds' handshakes
        rounds, cpu, here, wall = source.rounds, workers_cpu(source), cpu_seconds(), time.perf_counter()
        await asyncio.sleep(seconds)
        rounds = source.rounds - rounds
        cpu, here, wall = workers_cpu(source) - cpu, cpu_seconds() - here, time.perf_counter() - wall
        hosts = len(source.host_names)
        per_round = 1000 * cpu / rounds
        print(f"  {rounds} host rounds in {wall:.0f} s ({rounds / hosts / wall * source.interval:.2f} of the "
              f"{source.interval:g} s cadence): workers {per_round:.3f} ms CPU per host per round "
              f"({cpu / wall:.2f} cores), this process {here / wall:.2f} cores", flush=True)
        print(f"  {memory(source)}", flush=True)
        rng = random.Random(seed)
        detections = []
        for trial in range(1, faults + 1):
            pool = rng.choice(pools)
            detections.append(await crash_and_time(directory, source, pool["name"], pool["master"]))
            print(f"  fault {trial}: crash {pool['master']} (master of {pool['name']}) -> MASTER LOST "
                  f"after {detections[-1]:.2f} s", flush=True)
        return {"per_round_ms": per_round, "detections": detections, "warm": warm,
                "elapsed": time.perf_counter() - started}
    finally:
        await source.close()


def pool_verdict(source: LiveSource, name: str) -> Verdict | None:
    return next((p.verdict for p in source.diagnosis_job()().pools if p.name == name), None)


async def crash_and_time(directory: Path, source: LiveSource, pool: str, master: str) -> float:
    await asyncio.to_thread(ctl, directory, "crash", master)
    seconds = await until(lambda: pool_verdict(source, pool) is Verdict.MASTER_LOST, 60, f"MASTER LOST in {pool}")
    await asyncio.to_thread(ctl, directory, "poweron", master)
    await until(lambda: pool_verdict(source, pool) is Verdict.HEALTHY, 120, f"{pool} HEALTHY again", step=0.1)
    return seconds


def run_steady(args) -> int:
    print(f"steady state at {args.hosts} hosts in {args.pools} pools", flush=True)
    with simulator(args.hosts, pools=args.pools, ready_timeout=300) as directory:
        result = asyncio.run(steady(directory, args.seconds, args.faults, args.seed))
    met_cpu = result["per_round_ms"] <= CPU_TARGET_MS
    detected = result["detections"]
    met_detection = not detected or statistics.median(detected) <= DETECTION_TARGET
    if detected:
        print(f"crash -> MASTER LOST: median {statistics.median(detected):.2f} s, worst {max(detected):.2f} s "
              f"(target median ≤ {DETECTION_TARGET:g} s): {'met' if met_detection else 'MISSED'}")
    print(f"probe CPU {result['per_round_ms']:.3f} ms per host per round (target ≤ {CPU_TARGET_MS:g} ms): "
          f"{'met' if met_cpu else 'MISSED'}")
    return 0 if met_cpu and met_detection else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    first = sub.add_parser("first-verdict")
    first.add_argument("--hosts", type=int, default=1000)
    first.add_argument("--pools", type=int, default=1)
    first.add_argument("--trials", type=int, default=3)
    first.set_defaults(func=run_first_verdict)
    steady_ = sub.add_parser("steady")
    steady_.add_argument("--hosts", type=int, default=5000)
    steady_.add_argument("--pools", type=int, default=50)
    steady_.add_argument("--seconds", type=float, default=30.0)
    steady_.add_argument("--faults", type=int, default=5)
    steady_.add_argument("--seed", type=int, default=16)
    steady_.set_defaults(func=run_steady)
    args = parser.parse_args()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
