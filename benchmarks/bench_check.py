"""`poolterm check` on 8 hosts vs a serial OpenSSH loop over the same hosts, same run.

The baseline is what an engineer types: `for h in ...; do ssh $h cat /etc/xensource/pool.conf; done`.
poolterm check does more (a full probe per host, the diagnosis) and must still be faster.

docs/architecture.md target: check <= 1 s wall, and faster than the serial loop.

    python benchmarks/bench_check.py [--runs 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from simproc import median, simulator  # noqa: E402

from poolterm.config.inventory import load_inventory  # noqa: E402


def timed(argv: list[str], ok_codes=(0,)) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in ok_codes:
        raise RuntimeError(f"{argv[0]} exited {proc.returncode}: {proc.stderr.strip()[:300]}")
    return elapsed


def serial_ssh_loop(directory: Path) -> float:
    inventory = load_inventory(directory / "hosts.yaml")
    script = "; ".join(
        f"ssh -i {directory}/id_ed25519 -o UserKnownHostsFile={directory}/known_hosts -o BatchMode=yes "
        f"-o StrictHostKeyChecking=yes -p {h.port} root@{h.ssh_host} cat /etc/xensource/pool.conf"
        for h in inventory.hosts())
    return timed(["bash", "-c", f"set -e; {script}"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with simulator(8) as directory:
        check = [timed([sys.executable, "-m", "poolterm", "check", "-i", str(directory / "hosts.yaml")])
                 for _ in range(args.runs)]
        loop = [serial_ssh_loop(directory) for _ in range(args.runs)]
    print(f"8 hosts, {args.runs} runs each, wall seconds (median / worst)")
    print(f"{'poolterm check (full probe + diagnosis)':<44} {median(check):>6.3f} {max(check):>6.3f}")
    print(f"{'serial OpenSSH loop: cat pool.conf':<44} {median(loop):>6.3f} {max(loop):>6.3f}")
    print(f"target <= 1 s: {'met' if median(check) <= 1 else 'MISSED'}; "
          f"faster than the loop: {'yes' if median(check) < median(loop) else 'NO'} "
          f"({median(loop) / median(check):.1f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
