"""`poolterm demo`: a simulated pool and the console on it, in one process.

The simulator runs on the console's own event loop and is reached over real
SSH on loopback, exactly like a real pool. Its control socket stays open, so
a trainer can break things from another terminal while a trainee watches:
``poolterm sim ctl --dir DIR crash plot1``.

With ``--drill NAME`` the console turns into a training drill: the fault steps of
the simulator's scenario NAME are injected a few seconds after the pool first
shows HEALTHY, and the trainee's recovery is scored (see :mod:`poolterm.diagnosis.drill`).
The pool is the one the scenario's ``pool:`` asks for (HA on, its timeout, its size);
``--ha`` starts a plain demo with HA enabled.

``--pools K`` splits the hosts into K pools (lab01..labK, each its first host's), for the fleet
view. Up to :data:`IN_PROCESS_HOSTS` hosts the simulator shares the console's event loop, as above;
a bigger one runs as a child `poolterm sim` (see :func:`simulator`).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import re
import shutil
import tempfile
from pathlib import Path

from poolterm.cli.console import (
    add_console_options,
    console_settings,
    exit_status,
    leave_seat,
    open_seat,
    prepare_environment,
    requested_workers,
    require_terminal,
)
from poolterm.config.inventory import ConfigError, load_inventory
from poolterm.diagnosis.drill import DRILLS, FAULT_DELAY, Drill, DrillError, check_name
from poolterm.errors import UsageError
from poolterm.playbooks.engine import Timing
from poolterm.playbooks.runner import probe_budget
from poolterm.sim.process import SimulatorProcess
from poolterm.sim.runtime import Simulator, SimulatorError
from poolterm.sim.scenario import ScenarioError, load_scenario, run_scenario
from poolterm.sim.world import SimError, SimParams, pool_layout

MAX_HOSTS = 5000
#: The largest simulator that runs on the console's own event loop (see :func:`simulator`).
IN_PROCESS_HOSTS = 1000
MIN_DRILL_HOSTS = 2
#: HA's timeout T when neither --ha-timeout nor the drill's scenario gives one (pool-ha-enable's default).
DEFAULT_HA_TIMEOUT = 60.0


def register(sub) -> None:
    parser = sub.add_parser(
        "demo",
        help="simulate a pool (plot1..plot8) and open the console on it",
        description="Start a simulated pool on loopback SSH and open the incident console on it. "
                    "Faults can be injected from the console (i, or the command palette) or from another "
                    "terminal with `poolterm sim ctl --dir DIR ACTION HOST`.",
    )
    parser.add_argument("--hosts", type=int, default=8, metavar="N",
                        help=f"number of hosts (default 8, at most {MAX_HOSTS})")
    parser.add_argument("--pools", type=int, default=1, metavar="K",
                        help="split the hosts into K pools lab1..labK (zero-padded: lab01..lab50), each with its own "
                             "master: its first host (default 1: one pool, lab)")
    parser.add_argument("--dir", metavar="DIR",
                        help="the simulator's directory (hosts.yaml, keys, control socket); "
                             "default: a temporary one, removed on exit")
    parser.add_argument("--fuse", type=float, default=10.0, metavar="SECONDS",
                        help="xapi's delay before a role change restarts it (default 10, as on real hosts)")
    parser.add_argument("--drill", metavar="NAME",
                        help="training drill: a surprise fault once the pool is healthy, and a score for the "
                             f"recovery; NAME is {', '.join(DRILLS[:-1])} or {DRILLS[-1]} (the ha- drills start "
                             "the pool with HA enabled)")
    parser.add_argument("--ha", action="store_true",
                        help="start the pool with HA enabled: every host armed, plot1 holding the master lock")
    parser.add_argument("--ha-timeout", type=float, metavar="SECONDS",
                        help=f"HA's timeout T (default {DEFAULT_HA_TIMEOUT:g}, or the drill's), also "
                             "pool-ha-enable's default; compressed like --fuse, so values under xapi's 10 are allowed")
    add_console_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    requested_workers(args)  # a bad count is said before anything starts
    if not 1 <= args.hosts <= MAX_HOSTS:
        raise UsageError(f"--hosts must be between 1 and {MAX_HOSTS}, not {args.hosts}")
    if not 1 <= args.pools <= args.hosts:
        raise UsageError(f"--pools must be between 1 and the number of hosts ({args.hosts}), not {args.pools}")
    if not args.fuse > 0:
        raise UsageError(f"--fuse must be a positive number of seconds, not {args.fuse:g}")
    if args.ha_timeout is not None and not 0 < args.ha_timeout < math.inf:
        raise UsageError(f"--ha-timeout must be a positive number of seconds, not {args.ha_timeout:g}")
    if args.drill is not None:
        _check_drill(args.drill, args.hosts, args.ha, args.pools)
    ha, ha_timeout = pool_settings(args.drill, args.ha, args.ha_timeout)
    settings = console_settings()
    require_terminal()
    temporary = args.dir is None
    directory = Path(tempfile.mkdtemp(prefix="poolterm-demo-")) if temporary else Path(args.dir).expanduser()
    ha_text = f", HA on (timeout {ha_timeout:g} s)" if ha else ""
    first = pool_layout(args.hosts, args.pools)[0]
    pools = f" in {args.pools} pools" if args.pools > 1 else ""
    master = f" (the master of pool {first.name})" if args.pools > 1 else ""
    print(f"poolterm demo: {args.hosts} simulated hosts{pools}{ha_text}, simulator directory {directory}")
    print(f"  break things from another terminal: poolterm sim ctl --dir {directory} crash {first.master}{master}")
    prepare_environment(settings, args.low_bandwidth)
    try:
        params = SimParams(fuse=args.fuse, ha_timeout=ha_timeout)
        status = asyncio.run(_demo(args, directory, settings, params, ha))
    finally:
        if temporary:
            shutil.rmtree(directory, ignore_errors=True)
    _say(f"poolterm demo: simulator stopped ({directory}{' removed' if temporary else ''})")
    return status


def _say(text: str) -> None:
    """Print unless the terminal is gone (the SSH session dropped: that is how we got here)."""
    try:
        print(text, flush=True)
    except OSError:
        pass


def _check_drill(name: str, hosts: int, ha: bool, pools: int) -> None:
    try:
        check_name(name)
    except DrillError as exc:
        raise UsageError(str(exc)) from None
    if pools > 1:
        raise UsageError(f"drill {name} runs on one pool: leave out --pools")
    if hosts > IN_PROCESS_HOSTS:
        # The drill's coach waits on the simulator's ground truth, which only an in-process simulator offers.
        raise UsageError(f"drill {name} runs on at most {IN_PROCESS_HOSTS} hosts, not {hosts}")
    scenario = load_scenario(name)
    if scenario.hosts is not None and hosts != scenario.hosts:
        # Its steps name every host: on a bigger pool the hosts they leave out would change the incident.
        raise UsageError(f"drill {name} needs exactly {scenario.hosts} hosts (--hosts {scenario.hosts}), not {hosts}")
    needed = hosts_needed(name)
    if hosts < needed:
        raise UsageError(f"drill {name} needs at least {needed} hosts (--hosts {needed}), not {hosts}")
    if ha and not scenario.ha:
        raise UsageError(f"drill {name} runs on a pool without HA: leave out --ha")


def pool_settings(drill: str | None, ha: bool, ha_timeout: float | None) -> tuple[bool, float]:
    """The demo pool's HA (on or off) and timeout T: the drill's scenario says what its incident
    needs (``pool:`` in its file), ``--ha`` turns HA on for a plain demo; ``--ha-timeout`` wins."""
    scenario = load_scenario(drill) if drill is not None else None
    on = ha or (scenario is not None and scenario.ha)
    if ha_timeout is None:
        ha_timeout = scenario.ha_timeout if scenario is not None and scenario.ha_timeout else DEFAULT_HA_TIMEOUT
    return on, ha_timeout


def hosts_needed(name: str) -> int:
    """How many hosts the drill's fault steps need: the highest plotN they name, the size its
    scenario's pool is written for, and two at least (a lone host has no pool to recover: only
    its power button)."""
    scenario = load_scenario(name)
    named = [int(n) for step in scenario.steps if step.get("fault")
             for n in re.findall(r"\bplot(\d+)\b", str(step))]
    return max([MIN_DRILL_HOSTS, *named, scenario.hosts or 0])


def drill_for(sim, name: str, delay: float | None = None):
    """The drill ``name`` on ``sim``: its fault is the scenario's fault-tagged steps, run over SSH."""

    async def inject() -> str:
        try:
            results = await run_scenario(sim, name, only="fault")
        except (ScenarioError, SimError) as exc:
            return str(exc)
        failed = [r for r in results if not r.ok]
        return f"step {failed[0].index}: {failed[0].detail}" if failed else ""

    return Drill(name, inject, FAULT_DELAY if delay is None else delay)


def simulator(hosts: int, directory: Path, params: SimParams, *, ha: bool = False,
              pools: int = 1) -> Simulator | SimulatorProcess:
    """The demo's simulator: in the console's process up to :data:`IN_PROCESS_HOSTS` hosts, a
    child `poolterm sim` beyond.

    The dividing line is the host count, not the pools: what the simulator costs is the SSH it
    serves, one connection and one probe per host every round, however the hosts are split.
    Up to 1,000 hosts that fits beside the console on one event loop (the key-press and memory
    benchmarks measure the demo so); 5,000 would take the loop from the UI for seconds at a time
    (every host's login at once when the console starts, then thousands of probes a round), so
    they get a process, and a core, of their own."""
    if hosts <= IN_PROCESS_HOSTS:
        return Simulator(hosts, directory, params=params, ha=ha, pools=pools)
    return SimulatorProcess(hosts, directory, params=params, ha=ha, pools=pools)


async def _demo(args: argparse.Namespace, directory: Path, settings, params: SimParams, ha: bool) -> int:
    from poolterm.ui.app import PoolApp

    try:
        async with simulator(args.hosts, directory, params, ha=ha, pools=args.pools) as sim:
            inventory = load_inventory(sim.hosts_yaml)
            params = sim.params
            timing = Timing(fuse=params.fuse, xapi_start=params.xapi_start, boot=params.boot,
                            probe=probe_budget(inventory.probe.timeout, inventory.ssh.connect_timeout))
            if args.journal is None:
                # A drill's journal lives with its simulator: never offer to resume a real incident here.
                args.journal = str(directory / "journal.jsonl")
            seat = open_seat(args, sim.hosts_yaml)

            async def hang_up() -> None:
                """The terminal vanished and the process ends at once: what run() would have done."""
                await sim.stop()
                if seat.journal is not None:
                    seat.journal.close()
                if args.dir is None:
                    shutil.rmtree(directory, ignore_errors=True)

            try:
                app = PoolApp(inventory, settings=settings, theme=args.theme, read_only=args.read_only,
                              ascii_only=True if args.ascii else None, demo=sim, demo_dir=directory,
                              own_process=True, seat=seat, journal_group=args.journal_group, timing=timing,
                              teach=args.teach, resume=seat.point if seat.driving else None,
                              drill=drill_for(sim, args.drill) if args.drill else None, on_hangup=hang_up,
                              probe_workers=requested_workers(args))
                result = await app.run_async()
            finally:
                leave_seat(seat)
            return exit_status(app, result)
    except (SimulatorError, ConfigError) as exc:
        raise UsageError(str(exc)) from None
