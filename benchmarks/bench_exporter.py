"""`poolterm exporter` beside the console's probe process, on a 64-host pool (issue #14).

`poolterm sim --hosts 64` runs in its own process. Against it, one after the other and in the
same run: the exporter (`poolterm exporter -i INVENTORY --listen 127.0.0.1:PORT`), scraped as
Prometheus would (every --scrape-every seconds), and the baseline, the console's own probe
process (`python -m poolterm.probing.service INVENTORY --diagnose`, its stdout drained as the
console drains it). Each runs until the pool is healthy and its probe calm, then is measured
for the same stretch:

* client CPU seconds per host per round: utime + stime of the process (/proc/PID/stat) over
  the probe rounds it counted itself (the exporter's `poolterm_probe_rounds_total`, the probe
  process's ``["r", ROUNDS]`` lines); target: the exporter within 10 % of the probe process;
* the master's load: xapi sessions + HTTPS requests plot1 served a minute (the simulator's
  `status --json` meters); target: at most `probe.master_budget`, 60;

then the exporter's scrape latency at 64 hosts (p50 / p95 of GET /metrics, back to back).

    python benchmarks/bench_exporter.py [--hosts 64] [--seconds 60] [--scrape-every 15] [--scrapes 50]
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parent))

from procstat import cpu_seconds  # noqa: E402
from simproc import ctl, simulator  # noqa: E402

TARGET_RATIO = 1.10
TARGET_LOAD = 60
READY_TIMEOUT = 180.0


def served(directory: Path) -> int:
    host = next(h for h in ctl(directory, "status")["hosts"] if h["name"] == "plot1")
    return host["api_sessions"] + host["https_requests"]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


class ProbeProcess:
    """The console's probe process, read as the console reads it: rounds, pacing, the diagnosis's verdict."""

    def __init__(self, inventory: Path):
        self.proc = subprocess.Popen([sys.executable, "-m", "poolterm.probing.service", str(inventory), "--diagnose"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.rounds, self.modes, self.verdicts = 0, {}, {}
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        for line in self.proc.stdout:
            tag, data = json.loads(line)
            if tag == "r":
                self.rounds = data
            elif tag == "p":
                self.modes = {pool: mode for pool, (mode, _load) in data.items()}
            elif tag == "d":
                self.verdicts = {pool[0]: pool[1] for pool in data}

    def state(self) -> tuple[int, dict, dict]:
        return self.rounds, self.verdicts, self.modes

    def tick(self) -> None:
        return None

    def stop(self) -> None:
        self.proc.stdin.close()  # how the console ends it
        self.proc.wait(15)
        self._reader.join(5)


class Exporter:
    """`poolterm exporter`, scraped over HTTP."""

    def __init__(self, inventory: Path, scrape_every: float):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/metrics"
        self.proc = subprocess.Popen([sys.executable, "-m", "poolterm", "exporter", "-i", str(inventory),
                                      "--listen", f"127.0.0.1:{port}"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if self.url not in line:
            raise RuntimeError(f"exporter did not start: {line}{self.proc.stderr.read()}")
        self.scrape_every = scrape_every
        self._last = float("-inf")

    def fetch(self) -> str:
        with urllib.request.urlopen(self.url, timeout=10) as answer:
            return answer.read().decode()

    def scrape(self) -> tuple[int, dict, dict]:
        rounds, verdicts, modes = 0, {}, {}
        for family in text_string_to_metric_families(self.fetch()):
            for sample in family.samples:
                if sample.name == "poolterm_probe_rounds_total":
                    rounds = int(sample.value)
                elif sample.name == "poolterm_pool_verdict" and sample.value == 1:
                    verdicts[sample.labels["pool"]] = sample.labels["verdict"]
                elif sample.name == "poolterm_probe_mode" and sample.value == 1:
                    modes[sample.labels["pool"]] = sample.labels["mode"]
        self._last = time.monotonic()
        return rounds, verdicts, modes

    state = scrape

    def tick(self) -> None:
        """Prometheus's visit, at its pace."""
        if time.monotonic() - self._last >= self.scrape_every:
            self.scrape()

    def latency(self, count: int) -> tuple[float, float]:
        took = []
        for _ in range(count):  # the GET and the whole answer read; parsing it is Prometheus's cost, not ours
            started = time.perf_counter()
            self.fetch()
            took.append(time.perf_counter() - started)
        return percentile(took, 0.5), percentile(took, 0.95)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        status = self.proc.wait(20)
        if status != 0:
            raise RuntimeError(f"exporter exited {status}: {self.proc.stderr.read()}")


def healthy_and_calm(runner, hosts: int) -> None:
    """Until every host had its first rounds (they ask everything) and the pool is healthy and calm."""
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        rounds, verdicts, modes = runner.state()
        if rounds >= 3 * hosts and verdicts.get("lab") == "healthy" and modes.get("lab") == "calm":
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"not healthy and calm in time: {verdicts} {modes} after {rounds} rounds")
        time.sleep(0.5)


def measure(runner, directory: Path, hosts: int, seconds: float) -> dict:
    healthy_and_calm(runner, hosts)
    rounds0, _, _ = runner.state()
    cpu0, load0, wall0 = cpu_seconds(runner.proc.pid), served(directory), time.monotonic()
    while time.monotonic() - wall0 < seconds:
        runner.tick()
        time.sleep(0.2)
    cpu1, load1, wall1 = cpu_seconds(runner.proc.pid), served(directory), time.monotonic()
    rounds1, verdicts, modes = runner.state()
    rounds = rounds1 - rounds0
    return {"cpu": cpu1 - cpu0, "rounds": rounds, "per_round": (cpu1 - cpu0) / rounds,
            "load": (load1 - load0) * 60 / (wall1 - wall0), "wall": wall1 - wall0,
            "end": f"{verdicts.get('lab')}/{modes.get('lab')}"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60.0, help="the measured stretch, for each")
    parser.add_argument("--scrape-every", type=float, default=15.0, help="the exporter's scrape interval meanwhile")
    parser.add_argument("--scrapes", type=int, default=50, help="back-to-back scrapes for the latency")
    args = parser.parse_args()
    with simulator(args.hosts) as directory:
        inventory = directory / "hosts.yaml"
        exporter = Exporter(inventory, args.scrape_every)
        try:
            exported = measure(exporter, directory, args.hosts, args.seconds)
            p50, p95 = exporter.latency(args.scrapes)
        finally:
            exporter.stop()
        probe = ProbeProcess(inventory)
        try:
            probed = measure(probe, directory, args.hosts, args.seconds)
        finally:
            probe.stop()

    print(f"{args.hosts} simulated hosts (own process); each measured {args.seconds:g} s once healthy and calm; "
          f"exporter scraped every {args.scrape_every:g} s meanwhile")
    print(f"{'':<22} {'CPU s':>7} {'host-rounds':>12} {'ms/host/round':>14} {'plot1 load/min':>15} {'at end':>16}")
    for name, row in (("exporter", exported), ("probe process", probed)):
        print(f"{name:<22} {row['cpu']:>7.2f} {row['rounds']:>12} {row['per_round'] * 1000:>14.3f} "
              f"{row['load']:>15.1f} {row['end']:>16}")
    ratio = exported["per_round"] / probed["per_round"]
    print(f"CPU ratio exporter / probe process: {ratio:.3f} "
          f"(target <= {TARGET_RATIO:.2f}: {'met' if ratio <= TARGET_RATIO else 'MISSED'})")
    worst = max(exported["load"], probed["load"])
    print(f"master load: exporter {exported['load']:.1f}/min, probe process {probed['load']:.1f}/min "
          f"(target <= {TARGET_LOAD}: {'met' if worst <= TARGET_LOAD else 'MISSED'})")
    print(f"scrape latency at {args.hosts} hosts, {args.scrapes} back-to-back GET /metrics: "
          f"p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
