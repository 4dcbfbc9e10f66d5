"""`poolterm check` beside the OpenSSH client, both measured in the same run (issue #16).

(a) healthy: 8 hosts behind a real OpenSSH sshd (a `ForceCommand poolterm sim exec` per address,
    tests/helpers/sshd.py): `poolterm check` against `xargs -P8` of
    `ssh HOST 'cat /etc/xensource/pool.conf; timeout -k 1 5 xe pool-list'`, the baseline the issue names
    (with `timeout`, as check's own forwarded call, so that the baseline also ends in (b));
(b) the master's cable pulled: the same two, the master gone from the network;
(c) the fleet: N hosts in K pools (5000 in 50), `poolterm sim --pools` serving SSH itself: `poolterm
    check` (its default probe workers) against `xargs -P64` of `ssh HOST cat /etc/xensource/pool.conf`
    over a sample of the hosts, its time scaled up to the whole fleet (said so where printed).

The network is real. The benchmark runs in a network namespace of its own (it re-executes itself under
`unshare -n`; root needed): the simulator and sshd live there, the jump box (check and the OpenSSH
client) in a second namespace joined to it by two veth links, one to the master's address and one to
the slaves'. Pulling the master's cable is setting its link down on the hosts' side: the jump box's
packets to it vanish (its neighbour entry is static, so no failed ARP tells anyone), as on a switch
port whose cable is out, and `sim ctl cable-out` gives the slaves the same view of it.

DESIGN.md targets: check <= 1 s and faster than the baseline; <= 3 s with the master's cable pulled;
the fleet of 5,000 hosts in 50 pools checked in <= 10 s.

    python benchmarks/bench_check.py [--runs 7] [--fleet-hosts 5000 --fleet-pools 50] [--skip-fleet | --fleet-only]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml  # noqa: E402
from simproc import ctl, median, simulator  # noqa: E402

from tests.helpers.sshd import OpenSshd  # noqa: E402

IN_NETNS = "POOLTERM_BENCH_CHECK_NETNS"
#: The sessions' ForceCommand with ``--front light`` (the default): see its docstring.
LIGHT_FRONT = Path(__file__).resolve().parents[1] / "tests" / "helpers" / "check_front.py"
HOSTS = 8
#: The hosts' side of the two links (the master's, the slaves'), and the jump box's address on each.
MASTER_NET, SLAVE_NET = "10.213.2.{}", "10.213.1.{}"
JUMP_ADDRESS = 100
CONNECT_TIMEOUT = 5  # the OpenSSH client's, as poolterm's default
BASELINE_REMOTE = "cat /etc/xensource/pool.conf; timeout -k 1 5 xe pool-list"
FLEET_PARALLEL = 64
#: xargs exits 123 when a command failed, 124 when one exited 255 (ssh could not connect).
XARGS_OK = (0, 123, 124)


# ---- the network ------------------------------------------------------------------------------------
def ip(*args: str) -> str:
    return subprocess.run(["ip", *args], check=True, capture_output=True, text=True).stdout


class Network:
    """The jump box's namespace and its two links to this one (see the module's docstring)."""

    def __init__(self) -> None:
        self.jump = f"poolterm-bench-jump-{os.getpid()}"
        self.fronts = {f"plot{i}": (MASTER_NET if i == 1 else SLAVE_NET).format(10 + i) for i in range(1, HOSTS + 1)}

    def __enter__(self) -> "Network":
        ip("netns", "add", self.jump)
        try:
            ip("-n", self.jump, "link", "set", "lo", "up")
            for link, net in (("bm", MASTER_NET), ("bs", SLAVE_NET)):
                ip("link", "add", link, "type", "veth", "peer", "name", f"{link}-j", "netns", self.jump)
                ip("addr", "add", f"{net.format(1)}/24", "dev", link)
                ip("link", "set", link, "up")
                ip("-n", self.jump, "addr", "add", f"{net.format(JUMP_ADDRESS)}/24", "dev", f"{link}-j")
                ip("-n", self.jump, "link", "set", f"{link}-j", "up")
            mac = {link: json.loads(ip("-j", "link", "show", "dev", link))[0]["address"] for link in ("bm", "bs")}
            for name, address in self.fronts.items():
                link = "bm" if name == "plot1" else "bs"
                ip("addr", "add", f"{address}/32", "dev", link)
                ip("-n", self.jump, "neigh", "replace", address, "lladdr", mac[link], "dev", f"{link}-j",
                   "nud", "permanent")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        subprocess.run(["ip", "netns", "del", self.jump], capture_output=True)

    def in_jump_box(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.jump, *argv]

    def master_cable(self, plugged: bool) -> None:
        ip("link", "set", "bm", "up" if plugged else "down")


# ---- measuring ---------------------------------------------------------------------------------------
#: CPU seconds the commands measured used on the jump box's side (theirs and their children's), by label.
CLIENT_CPU: dict[str, list[float]] = {}
#: CPU seconds the fleet's simulator used during each check of it.
SIM_CPU: list[float] = []


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def timed(argv: list[str], ok: tuple[int, ...], stdin: bytes = b"", label: str = "") -> tuple[float, str]:
    """Wall seconds and standard output of one command; its CPU goes to :data:`CLIENT_CPU` under ``label``."""
    cpu = children_cpu()
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate(stdin)
    elapsed = time.perf_counter() - started
    CLIENT_CPU.setdefault(label, []).append(children_cpu() - cpu)
    if proc.returncode not in ok:
        raise RuntimeError(f"{' '.join(argv[:6])}... exited {proc.returncode}: {err.decode().strip()[-400:]}")
    return elapsed, out.decode()


def ssh_argv(key: Path, known_hosts: Path) -> list[str]:
    return ["ssh", "-F", "/dev/null", "-i", str(key), "-o", f"UserKnownHostsFile={known_hosts}", "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=yes", "-o", f"ConnectTimeout={CONNECT_TIMEOUT}"]


def check_argv(hosts_yaml: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "poolterm", "check", "-i", str(hosts_yaml), "--json", *extra]


def verdict_of(out: str) -> tuple[str, list[str]]:
    data = json.loads(out)
    return data["verdict"], [f"{p['name']}:{p['verdict']}" for p in data["pools"] if p["verdict"] != "healthy"]


def line(label: str, values: list[float], cpu_label: str) -> str:
    cpu = CLIENT_CPU.get(cpu_label, [0.0])
    return (f"  {label:<50} median {median(values):6.3f} s  worst {max(values):6.3f} s  ({len(values)} runs; "
            f"client CPU {median(cpu):.2f} s)")


async def side_by_side(label: str, check, baseline, runs: int) -> tuple[list[float], list[float]]:
    """``runs`` of each, alternating, every figure printed as it is measured."""
    checks, baselines = [], []
    for run in range(runs):
        checks.append(await check())
        baselines.append(await baseline())
        print(f"  {label} run {run + 1}: check {checks[-1]:.3f} s, baseline {baselines[-1]:.3f} s", flush=True)
    return checks, baselines


# ---- (a) and (b): eight hosts behind OpenSSH ----------------------------------------------------------
class LightSshd(OpenSshd):
    """:class:`OpenSshd` whose sessions cost about what a dom0's do: tests/helpers/check_front.py instead of
    `poolterm sim exec`, and root's shell told not to read this machine's ~/.bashrc (Debian's bash reads it
    for a command sshd runs, unless it is a nested shell; this one starts pyenv, 0.1 s a session)."""

    def _write(self) -> None:
        super()._write()
        heavy = f"{sys.executable} -m poolterm sim exec --dir {self.sim.directory} --host "
        text = self.config.read_text()
        assert heavy in text, "tests/helpers/sshd.py no longer fronts hosts with `poolterm sim exec`"
        light = f"{sys.executable} -I -S {LIGHT_FRONT} {self.sim.directory / 'control.sock'} "
        self.config.write_text("SetEnv SHLVL=3\n" + text.replace(heavy, light))


def fronted_inventory(directory: Path, sshd: OpenSshd) -> Path:
    doc = yaml.safe_load((directory / "hosts.yaml").read_text())
    for host in doc["pools"][0]["hosts"]:
        host.update(ssh_host=sshd.fronts[host["name"]], port=sshd.port)
    doc["ssh"]["known_hosts"] = "front_known_hosts"
    (directory / "front_known_hosts").write_text(sshd.known_hosts())
    path = directory / "front.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


async def eight_hosts(runs: int, light: bool) -> dict[str, list[float]]:
    front = "tests/helpers/check_front.py" if light else "`poolterm sim exec`"
    print(f"(a, b) {HOSTS} hosts behind OpenSSH sshd (ForceCommand {front}), "
          f"baseline `xargs -P{HOSTS} ssh HOST '{BASELINE_REMOTE}'`", flush=True)
    with Network() as net, simulator(HOSTS) as directory:
        sim = SimpleNamespace(directory=directory, client_key=directory / "id_ed25519")
        async with (LightSshd if light else OpenSshd)(sim, directory / "sshd", dict(net.fronts)) as sshd:
            hosts_yaml = fronted_inventory(directory, sshd)
            ssh = ssh_argv(directory / "id_ed25519", directory / "front_known_hosts")
            xargs = net.in_jump_box(["xargs", f"-P{HOSTS}", "-I{}", *ssh, "-p", str(sshd.port), "root@{}",
                                     BASELINE_REMOTE])
            addresses = "".join(f"{a}\n" for a in net.fronts.values()).encode()

            async def check(ok: int, expect: str):
                seconds, out = await timed(net.in_jump_box(check_argv(hosts_yaml)), (ok,), label=f"check {expect}")
                assert verdict_of(out)[0] == expect, out[:2000]
                return seconds

            def baseline(label: str):
                async def run() -> float:
                    return (await timed(xargs, XARGS_OK, addresses, label=label))[0]
                return run

            await check(0, "healthy"), await baseline("warm-up")()  # the page cache and sshd
            healthy = await side_by_side("healthy", lambda: check(0, "healthy"), baseline("xargs healthy"), runs)
            ctl(directory, "cable-out", "plot1")
            net.master_cable(False)
            pulled = await side_by_side("cable pulled", lambda: check(2, "master-lost"), baseline("xargs pulled"),
                                        runs)
    figures = {"healthy check": healthy[0], "healthy baseline": healthy[1],
               "pulled check": pulled[0], "pulled baseline": pulled[1]}
    print(line("healthy: poolterm check", figures["healthy check"], "check healthy"))
    print(line(f"healthy: xargs -P{HOSTS} OpenSSH", figures["healthy baseline"], "xargs healthy"))
    print(line("master's cable pulled: poolterm check", figures["pulled check"], "check master-lost"))
    print(line(f"master's cable pulled: xargs -P{HOSTS} OpenSSH", figures["pulled baseline"], "xargs pulled"))
    return figures


# ---- (c): the fleet ----------------------------------------------------------------------------------------
def process_cpu(directory: Path) -> float:
    """CPU seconds so far of the `poolterm sim` serving ``directory`` (it shares the two cores with check)."""
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"sim" in cmdline and str(directory).encode() in cmdline:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    raise RuntimeError(f"no simulator serving {directory}")


async def fleet(hosts: int, pools: int, runs: int, sample: int) -> dict[str, list[float]]:
    print(f"(c) fleet: {hosts} hosts in {pools} pools, `poolterm sim` serving SSH; baseline `xargs -P{FLEET_PARALLEL}"
          f" ssh HOST cat /etc/xensource/pool.conf` over {sample} hosts, scaled by {hosts / sample:g}", flush=True)
    with simulator(hosts, extra=("--pools", str(pools)), ready_timeout=600) as directory:
        hosts_yaml = directory / "hosts.yaml"
        doc = yaml.safe_load(hosts_yaml.read_text())
        every = [h for p in doc["pools"] for h in p["hosts"]]
        picked = every[:: max(1, len(every) // sample)][:sample]
        lines = "".join(f"{h['address']} {h['port']}\n" for h in picked).encode()
        ssh = " ".join(ssh_argv(directory / "id_ed25519", directory / "known_hosts"))
        xargs = ["xargs", f"-P{FLEET_PARALLEL}", "-L1", "sh", "-c",
                 f'exec {ssh} -p "$1" root@"$0" cat /etc/xensource/pool.conf']

        async def check() -> float:
            served = process_cpu(directory)
            seconds, out = await timed(check_argv(hosts_yaml), (0,), label="fleet check")
            SIM_CPU.append(process_cpu(directory) - served)
            assert verdict_of(out) == ("healthy", []), verdict_of(out)
            return seconds

        async def baseline() -> float:
            return (await timed(xargs, XARGS_OK, lines, label="fleet xargs"))[0] * hosts / len(picked)

        checks, baselines = await side_by_side("fleet", check, baseline, runs)
    print(line(f"fleet: poolterm check, {hosts} hosts", checks, "fleet check")
          + f"; the simulator's CPU meanwhile: median {median(SIM_CPU):.2f} s")
    print(line(f"fleet: xargs -P{FLEET_PARALLEL} OpenSSH, {len(picked)} hosts x {hosts / len(picked):g}", baselines,
               "fleet xargs"))
    return {"fleet check": checks, "fleet baseline": baselines}


def verdicts(figures: dict[str, list[float]]) -> None:
    def met(ok: bool) -> str:
        return "met" if ok else "MISSED"

    if "healthy check" in figures:
        check, base = median(figures["healthy check"]), median(figures["healthy baseline"])
        pulled = median(figures["pulled check"])
        print(f"healthy: check <= 1 s {met(check <= 1)}; faster than xargs -P{HOSTS} OpenSSH "
              f"{met(check < base)} ({base / check:.2f}x)")
        print(f"cable pulled: check <= 3 s {met(pulled <= 3)} (baseline {median(figures['pulled baseline']):.2f} s)")
    if "fleet check" in figures:
        check, base = median(figures["fleet check"]), median(figures["fleet baseline"])
        print(f"fleet: check <= 10 s {met(check <= 10)} ({base / check:.1f}x faster than the scaled baseline)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of each command in (a) and (b)")
    parser.add_argument("--fleet-runs", type=int, default=3)
    parser.add_argument("--fleet-hosts", type=int, default=5000)
    parser.add_argument("--fleet-pools", type=int, default=50)
    parser.add_argument("--fleet-sample", type=int, default=500, help="hosts the fleet's OpenSSH baseline visits")
    parser.add_argument("--front", choices=("light", "sim-exec"), default="light",
                        help="what each sshd session runs: tests/helpers/check_front.py (default: a session costs "
                             "some 40 ms of CPU, sshd's included) or `poolterm sim exec` (about 0.4 s)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--skip-fleet", action="store_true")
    which.add_argument("--fleet-only", action="store_true")
    args = parser.parse_args()
    if os.environ.get(IN_NETNS) != "1":
        if os.geteuid() != 0:
            print("bench_check: needs root (a network namespace of its own, veth links)", file=sys.stderr)
            return 2
        argv = ["unshare", "-n", sys.executable, str(Path(__file__).resolve()), *sys.argv[1:]]
        os.execvpe("unshare", argv, {**os.environ, IN_NETNS: "1"})
    ip("link", "set", "lo", "up")
    # A TERM unwinds like Ctrl-C, so that the jump box's namespace is deleted on the way out.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    figures: dict[str, list[float]] = {}
    if not args.fleet_only:
        figures.update(asyncio.run(eight_hosts(args.runs, args.front == "light")))
    if not args.skip_fleet:
        figures.update(asyncio.run(fleet(args.fleet_hosts, args.fleet_pools, args.fleet_runs, args.fleet_sample)))
    verdicts(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
