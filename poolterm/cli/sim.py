"""`poolterm sim`: run a simulated pool, drive its faults, run commands on its hosts."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from poolterm.errors import UsageError
from poolterm.sim.control import (
    ACTIONS,
    DATA_ACTIONS,
    FAULT_ACTIONS,
    KEY_ACTIONS,
    PAIR_ACTIONS,
    SHOWN_HOSTS,
    ControlError,
    RemoteExec,
    format_status,
    request,
    signal_number,
)
from poolterm.sim.runtime import Simulator, SimulatorError
from poolterm.sim.world import SimParams

if TYPE_CHECKING:
    from poolterm.sim.runtime import Simulator

CONTROL = "control.sock"

RUN_HELP = """\
Run N simulated XenServer/XCP-ng hosts plot1..plotN in the foreground until
Ctrl-C or SIGTERM. Each host is a real SSH server (public-key login as root) on
its own loopback address; plot1 starts as pool master, the others as its slaves.
With --pools K the hosts form K pools named lab1..labK (zero-padded to the
width of K: lab01..lab50), each a contiguous run of hosts with its own master
(its first host), pool secret and uuid.

Files written to DIR: hosts.yaml (the inventory, for poolterm -i), known_hosts
(every host's key), id_ed25519 (+ .pub; the one client key the hosts accept)
and control.sock (what `poolterm sim ctl` and `poolterm sim exec` talk to).

sub-commands:
  ctl    drive faults and read ground truth: poolterm sim ctl --dir DIR crash plot1
  exec   run a command in a host's shell: poolterm sim exec --dir DIR --host plot2 xe host-list
"""

CTL_HELP = """\
Drive a running simulator.

  shutdown HOST     graceful shutdown (sshd and xapi stop, host powers off)
  crash HOST        power loss: no notice, the host's network goes dark
  poweron HOST      boot a powered-off host
  cable-out HOST    unplug its network: packets vanish, processes keep running
  cable-in HOST     plug it back in
  hang-xapi HOST    xapi stops answering (xe blocks)
  unhang-xapi HOST  xapi answers again
  statefile-out HOST
                    the host loses its path to the HA statefile (heartbeat SR); network untouched
  statefile-in HOST the path to the statefile is back
  cut HOST PEER     HOST and PEER can no longer reach each other (xapi, curl, ping, HA
                    heartbeats); both still reach every other host, and SSH from here
  uncut HOST PEER   they reach each other again
  reinstall HOST    fresh install of a powered-off host: new uuid and pool secret,
                    its own pool of one (root password: "Lab root pw") once powered on
  rekey HOST        a new SSH host key, as after a reinstall: its connections are dropped, new
                    ones see the new key (DIR/known_hosts keeps the old one, as yours would)
  write-file HOST PATH
                    replace PATH (/etc/xensource/pool.conf or /etc/xensource-inventory)
                    with standard input, byte for byte: hostile or damaged content
  set-name-label HOST LABEL
                    give HOST any name-label in its pool's databases, as xapi would
                    take it from xe host-param-set (hostile text included)
  status            ground truth: power, link, xapi, pool.conf, emergency, the xapi sessions
                    and HTTPS requests each host has served (and cuts, HA) per host;
                    --json adds each host's host_key fingerprint
"""

EXEC_HELP = """\
Run COMMAND in HOST's simulated shell (the sh subset of docs/simulator.md),
streaming its stdout and stderr and exiting with its status. Without COMMAND,
$SSH_ORIGINAL_COMMAND is used, so this can be an OpenSSH sshd ForceCommand.
Standard input is passed through (for prompts such as host-forget's).
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sim",
        help="run a simulated pool over real SSH on loopback",
        description=RUN_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--hosts", type=int, default=8, metavar="N", help="number of hosts (default 8)")
    p.add_argument("--dir", metavar="DIR", help="directory for hosts.yaml, keys and the control socket")
    p.add_argument(
        "--fuse", type=float, default=10.0, metavar="SECONDS",
        help="xapi's fuse: seconds from a role change to the xapi restart (default 10)",
    )
    p.add_argument(
        "--boot", type=float, default=5.0, metavar="SECONDS",
        help="seconds from power-on to sshd up and xapi starting (default 5)",
    )
    p.add_argument(
        "--ha", action="store_true",
        help="start the pool with HA enabled: every host armed, xhad running, plot1 holding the master lock",
    )
    p.add_argument(
        "--ha-timeout", type=float, default=60.0, metavar="SECONDS",
        help="HA's timeout T (default 60), also pool-ha-enable's default. The clock is compressed like "
             "--fuse's, so values under xapi's minimum of 10 are allowed here",
    )
    p.add_argument("--pool-name", default="lab", metavar="NAME",
                   help="pool name-label (default lab); with --pools K, NAME01..NAMEK")
    p.add_argument(
        "--pools", type=int, default=1, metavar="K",
        help="split the hosts into K pools of (nearly) equal size, each with its own master (default 1)",
    )
    p.add_argument(
        "--stop-on-eof", action="store_true",
        help="also stop when standard input reaches its end: a pipe from a supervisor, which closes when "
             "it dies (poolterm demo runs its large simulators so)",
    )
    p.add_argument(
        "--port", type=int, default=0, metavar="P",
        help="SSH port on every host's address (default: a free port per host)",
    )
    p.set_defaults(func=run_command)
    actions = p.add_subparsers(dest="sim_action", metavar="{ctl,exec}")

    ctl = actions.add_parser(
        "ctl",
        help="drive faults of a running simulator, or read its ground truth",
        description=CTL_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ctl.add_argument("--dir", required=True, metavar="DIR", help="the simulator's directory")
    ctl.add_argument("action", choices=ACTIONS, metavar="ACTION", help="one of: " + ", ".join(ACTIONS))
    ctl.add_argument("host", nargs="?", metavar="HOST", help="the host to act on (not for status)")
    ctl.add_argument("value", nargs="?", metavar="PATH|LABEL|PEER",
                     help="write-file: the file to replace; set-name-label: the new label; "
                          "cut, uncut: the other host")
    ctl.add_argument("--json", action="store_true", help="print the answer as JSON")
    ctl.set_defaults(func=ctl_command)

    ex = actions.add_parser(
        "exec",
        help="run a command in a simulated host's shell",
        description=EXEC_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ex.add_argument("--dir", required=True, metavar="DIR", help="the simulator's directory")
    ex.add_argument("--host", required=True, metavar="NAME", help="the host whose shell runs the command")
    ex.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND", help="the command line")
    ex.set_defaults(func=exec_command)


# ---------------------------------------------------------------------------
# poolterm sim
# ---------------------------------------------------------------------------


def run_command(args: argparse.Namespace) -> int:
    if not args.dir:
        raise UsageError("sim needs --dir DIR (where hosts.yaml, keys and the control socket go)")
    if args.hosts < 1:
        raise UsageError("--hosts must be at least 1")
    if not 1 <= args.pools <= args.hosts:
        raise UsageError(f"--pools must be between 1 and the number of hosts ({args.hosts}), not {args.pools}")
    if not 0 <= args.port <= 65535:
        raise UsageError("--port must be between 0 and 65535")
    if args.fuse < 0 or args.boot < 0:
        raise UsageError("--fuse and --boot must not be negative")
    if not args.ha_timeout > 0:
        raise UsageError("--ha-timeout must be more than 0")
    return asyncio.run(_serve(args))


async def _serve(args: argparse.Namespace) -> int:
    # Imported here: asyncssh is heavy and only running a simulator needs it.

    params = SimParams(fuse=args.fuse, boot=args.boot, ha_timeout=args.ha_timeout)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        sim = Simulator(args.hosts, args.dir, params=params, pool_name=args.pool_name, port=args.port, ha=args.ha,
                        pools=args.pools)
        await sim.start()
    except SimulatorError as exc:
        raise UsageError(str(exc)) from None
    try:
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if args.stop_on_eof:
            _stop_at_eof(loop, stop)
        print(_banner(sim, args, loop.time() - started), flush=True)
        await stop.wait()
        print("poolterm sim: stopping", flush=True)
    finally:
        await sim.stop()
    return 0


def _stop_at_eof(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """Set ``stop`` once standard input ends; a thread, as stdin may be any kind of file."""

    def watch() -> None:
        try:
            while os.read(0, 65536):
                pass
        except OSError:
            pass
        try:
            loop.call_soon_threadsafe(stop.set)
        except RuntimeError:
            return  # the simulator stopped first and its loop is gone

    threading.Thread(target=watch, name="poolterm-sim-stdin", daemon=True).start()


def _banner(sim: "Simulator", args: argparse.Namespace, seconds: float) -> str:
    names = sim.world.names
    d = sim.directory
    ha = f"HA on, timeout {args.ha_timeout:g} s" if args.ha else "HA off"
    settings = f"fuse {args.fuse:g} s, boot {args.boot:g} s; {ha}; started in {seconds:.1f} s"
    if len(sim.world.pools) == 1:
        lines = [f"poolterm sim: {len(names)} hosts in pool {args.pool_name!r}, plot1 master ({settings})"]
        lines += _host_lines(sim, names)
    else:
        lines = [f"poolterm sim: {len(names)} hosts in {len(sim.world.pools)} pools ({settings})"]
        lines += _pool_lines(sim)
    first = names[0]
    lines += [
        "files:",
        f"  {sim.hosts_yaml}",
        f"  {sim.known_hosts}",
        f"  {sim.client_key} (+ .pub)",
        f"  {sim.control_path}",
        "log in with OpenSSH:",
        f"  ssh -i {sim.client_key} -o UserKnownHostsFile={sim.known_hosts} "
        f"-p {sim.port_of(first)} root@{sim.address_of(first)} xe host-list",
        "drive faults:",
        f"  poolterm sim ctl --dir {d} crash {first}",
        f"  poolterm sim ctl --dir {d} status",
        "running; Ctrl-C stops it",
    ]
    return "\n".join(lines)


def _host_lines(sim: "Simulator", names: list[str]) -> list[str]:
    lines = [f"  {name:<8} {sim.address_of(name)}:{sim.port_of(name)}" for name in names[:SHOWN_HOSTS]]
    if len(names) > SHOWN_HOSTS:
        lines.append(f"  ... and {len(names) - SHOWN_HOSTS} more (see {sim.hosts_yaml})")
    return lines


def _pool_lines(sim: "Simulator") -> list[str]:
    pools = sim.world.pools
    lines = []
    for plan in pools[:SHOWN_HOSTS]:
        hosts = f"{plan.hosts[0]}..{plan.hosts[-1]}" if len(plan.hosts) > 1 else plan.hosts[0]
        lines.append(f"  {plan.name}  {hosts} ({len(plan.hosts)}), master {plan.master} "
                     f"{sim.address_of(plan.master)}:{sim.port_of(plan.master)}")
    if len(pools) > SHOWN_HOSTS:
        lines.append(f"  ... and {len(pools) - SHOWN_HOSTS} more pools (see {sim.hosts_yaml})")
    return lines


# ---------------------------------------------------------------------------
# poolterm sim ctl
# ---------------------------------------------------------------------------


def _control_path(directory: str) -> Path:
    return Path(directory) / CONTROL


def ctl_command(args: argparse.Namespace) -> int:
    if args.action in (*FAULT_ACTIONS, *KEY_ACTIONS) and not args.host:
        raise UsageError(f"sim ctl {args.action} needs a HOST")
    if args.action in PAIR_ACTIONS and (not args.host or not args.value):
        raise UsageError(f"sim ctl {args.action} needs a HOST and a PEER")
    if args.action == "status" and args.host:
        raise UsageError("sim ctl status takes no HOST")
    payload = {"action": args.action}
    if args.host:
        payload["host"] = args.host
    payload.update(_planted(args))
    try:
        answer = asyncio.run(request(_control_path(args.dir), payload))
    except ControlError as exc:
        raise UsageError(str(exc)) from None
    if not answer.get("ok"):
        raise UsageError(str(answer.get("error", "the simulator refused the request")))
    answer.pop("ok")
    if args.json:
        print(json.dumps(answer, indent=2))
    elif args.action == "status":
        sys.stdout.write(format_status(answer))
    elif args.action in PAIR_ACTIONS:
        print(f"{args.host} and {args.value}: {args.action} done")
    elif args.action in KEY_ACTIONS:
        print(f"{args.host}: {args.action} done, new host key {answer.get('host_key')}")
    else:
        print(f"{args.host}: {args.action} done")
    return 0


def _planted(args: argparse.Namespace) -> dict:
    """The data a write-file, set-name-label, cut or uncut request carries; UsageError for a bad request."""
    if args.action in PAIR_ACTIONS:
        return {"peer": args.value}
    if args.action not in DATA_ACTIONS:
        if args.value is not None:
            raise UsageError(f"sim ctl {args.action} takes no {args.value!r}")
        return {}
    field = DATA_ACTIONS[args.action]
    if not args.host or args.value is None:
        raise UsageError(f"sim ctl {args.action} needs a HOST and a {field.upper()}")
    if args.action == "write-file":
        # Bytes that are not UTF-8 travel as surrogates and leave the simulated host as those bytes.
        content = sys.stdin.buffer.read().decode("utf-8", "surrogateescape")
        return {"path": args.value, "content": content}
    return {"label": args.value}


# ---------------------------------------------------------------------------
# poolterm sim exec
# ---------------------------------------------------------------------------


def exec_command(args: argparse.Namespace) -> int:
    command = " ".join(args.command) if args.command else os.environ.get("SSH_ORIGINAL_COMMAND", "")
    if not command.strip():
        raise UsageError("sim exec needs a COMMAND (or $SSH_ORIGINAL_COMMAND)")
    try:
        final = asyncio.run(_exec(_control_path(args.dir), args.host, command))
    except ControlError as exc:
        raise UsageError(str(exc)) from None
    if final.get("signal"):
        # Die of the same signal, so an sshd in front reports exit-signal as for a real command.
        sys.stdout.flush()
        sig = signal_number(str(final["signal"]))
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    if final.get("error"):
        print(f"poolterm sim exec: {final['error']}", file=sys.stderr)
    return int(final["exit"])


async def _exec(path: Path, host: str, command: str) -> dict:
    remote = await RemoteExec.start(path, host, command)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, remote.send_signal, signal.Signals(sig).name.removeprefix("SIG"))
    _pump_stdin(loop, remote)

    def out(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    def err(text: str) -> None:
        sys.stderr.write(text)
        sys.stderr.flush()

    return await remote.wait(out, err)


def _pump_stdin(loop: asyncio.AbstractEventLoop, remote: RemoteExec) -> None:
    """Forward our stdin as it arrives; a thread, because stdin may be a file, a pipe or a tty."""

    def pump() -> None:
        while True:
            try:
                chunk = os.read(0, 65536)
            except OSError:
                chunk = b""
            try:
                if not chunk:
                    loop.call_soon_threadsafe(remote.send_eof)
                    return
                loop.call_soon_threadsafe(remote.send_stdin, chunk.decode(errors="replace"))
            except RuntimeError:
                return  # the command finished and the loop is gone

    threading.Thread(target=pump, name="poolterm-sim-exec-stdin", daemon=True).start()
