"""`poolterm check`: one probe round, one diagnosis, Nagios exit codes.

The monitoring command the field notes asked for ("for monitoring I will have
to come up with some other method"): it reads every host directly, so it
works exactly when the master does not. ``--format openmetrics`` prints the
metrics `poolterm exporter` serves, once, for node_exporter's textfile collector.
"""

from __future__ import annotations

import asyncio
import json
import sys

from poolterm.cli.options import add_inventory_option, load_pools
from poolterm.diagnosis.diagnose import diagnose
from poolterm.model import Diagnosis, PoolDiagnosis, Severity
from poolterm.monitoring.metrics import Snapshot, openmetrics
from poolterm.monitoring.rounds import RoundTimes
from poolterm.probing.watch import Watcher
from poolterm.transport.ssh import Connections, raise_nofile_limit

#: What `check` can print.
FORMATS = ("text", "json", "openmetrics")


def register(sub) -> None:
    parser = sub.add_parser(
        "check",
        help="probe every host once and print the diagnosis (Nagios exit codes)",
        description="Probe every host of the inventory once, directly over SSH, and print one diagnosis. "
                    "Exit status: 0 healthy, 1 warning, 2 critical, 3 unknown.",
    )
    add_inventory_option(parser)
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="text (default), json (one object), or openmetrics (the metrics `poolterm exporter` "
                             "serves, once: for node_exporter's textfile collector)")
    parser.add_argument("--json", dest="format", action="store_const", const="json", help="the same as --format json")
    parser.add_argument("--pool", metavar="NAME", help="only this pool of the inventory")
    parser.add_argument("--timeout", type=float, metavar="SECONDS",
                        help="how long a remote xe may take before it counts as hung (default: probe.timeout)")
    parser.set_defaults(func=run)


def run(args) -> int:
    inventory, pools = load_pools(args)
    timeout = args.timeout if args.timeout is not None else inventory.probe.timeout
    snapshot = asyncio.run(probe_once(inventory, pools, timeout))
    diagnosis = snapshot.diagnosis
    if args.format == "json":
        json.dump(to_json(diagnosis), sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif args.format == "openmetrics":
        sys.stdout.write(openmetrics(snapshot).decode())
    else:
        sys.stdout.write(render_text(diagnosis))
    return diagnosis.severity.exit_code


async def check(inventory, pools, timeout: float) -> Diagnosis:
    """One probe round on every host of ``pools``, diagnosed."""
    return (await probe_once(inventory, pools, timeout)).diagnosis


async def probe_once(inventory, pools, timeout: float) -> Snapshot:
    """One probe round on every host of ``pools``: its diagnosis and how long each host took."""
    raise_nofile_limit()
    hosts = [h for p in pools for h in p.hosts]
    times = RoundTimes((h.name, p.name) for p in pools for h in p.hosts)
    connections = Connections(hosts, inventory.ssh)
    watcher = Watcher(hosts, connections, interval=inventory.probe.interval, timeout=timeout, on_round=times.observe)
    try:
        observations = await watcher.probe_all()
    finally:
        await connections.close()
    now = asyncio.get_running_loop().time()
    return Snapshot(diagnose(pools, observations, now), now, watcher.rounds, times.snapshot())


def to_json(diagnosis: Diagnosis) -> dict:
    return {
        "verdict": diagnosis.verdict.value,
        "severity": diagnosis.severity.value,
        "pools": [_pool_json(p) for p in diagnosis.pools],
    }


def _pool_json(pool: PoolDiagnosis) -> dict:
    return {
        "name": pool.name,
        "verdict": pool.verdict.value,
        "severity": pool.severity.value,
        "master": pool.master,
        "summary": pool.summary,
        "advice": pool.advice,
        "ha": _ha_json(pool),
        "hosts": [
            {
                "name": h.name,
                "address": h.address,
                "reachable": h.reachable,
                "reach": h.reach.value,
                "role": h.role.value,
                "believed_master": h.believed_master,
                "xapi": h.xapi.value,
                "emergency_flag": h.emergency_flag,
                "agrees": h.agrees,
                "ha": h.ha,
                "evidence": list(h.evidence),
            }
            for h in pool.hosts
        ],
        "findings": [
            {
                "kind": f.kind,
                "severity": f.severity.value,
                "hosts": list(f.hosts),
                "summary": f.summary,
                "playbook": f.playbook,
                "evidence": list(f.evidence),
                "candidates": [{"name": c.name, "score": c.score, "reasons": list(c.reasons)} for c in f.candidates],
            }
            for f in pool.findings
        ],
    }


def _ha_json(pool: PoolDiagnosis) -> dict:
    """HA as the hosts showed it; ``enabled`` is null when no master answered the pool record."""
    ha = pool.ha
    if ha is None:
        return {"enabled": None, "armed": [], "disarmed": [], "failures_to_tolerate": None, "timeout": None}
    return {"enabled": ha.enabled, "armed": list(ha.armed), "disarmed": list(ha.disarmed),
            "failures_to_tolerate": ha.failures_to_tolerate, "timeout": ha.timeout}


def _ha_line(pool: PoolDiagnosis) -> str | None:
    ha = pool.ha
    if ha is None or not (ha.on or ha.armed):
        return None
    state = "on" if ha.enabled else "off" if ha.enabled is False else "unknown (no master answers)"
    tolerate = "" if ha.failures_to_tolerate is None else f", tolerates {ha.failures_to_tolerate} failure(s)"
    timeout = "" if ha.timeout is None else f", timeout {ha.timeout:g} s"
    return f"  HA: {state}, armed on {len(ha.armed)} of {len(pool.hosts)} hosts{tolerate}{timeout}"


def render_text(diagnosis: Diagnosis) -> str:
    lines = [f"poolterm check: {diagnosis.verdict.title} ({diagnosis.severity.value})"]
    for pool in diagnosis.pools:
        lines += ["", f"pool {pool.name}: {pool.verdict.title}", f"  {pool.summary}", f"  next: {pool.advice}"]
        ha_line = _ha_line(pool)
        if ha_line:
            lines.append(ha_line)
        for finding in pool.findings[1:]:
            if finding.severity is not Severity.OK:
                lines.append(f"  also: {finding.summary}")
        for finding in pool.findings:
            for c in finding.candidates[:3]:
                lines.append(f"  candidate {c.name}: {', '.join(c.reasons)}")
        lines.append("")
        lines.append(f"  {'HOST':<12} {'SSH':<17} {'ROLE':<8} {'BELIEVES':<12} {'XAPI':<10} {'HA':<9} EMERGENCY-FLAG")
        for h in pool.hosts:
            role = h.role.value + ("?" if h.stale else "")
            mark = "" if h.agrees else "  <- disagrees"
            flag = "-" if h.emergency_flag is None else str(h.emergency_flag).lower()
            lines.append(f"  {h.name:<12} {h.reach.value:<17} {role:<8} {h.believed_master or '-':<12} "
                         f"{h.xapi.value:<10} {h.ha or '-':<9} {flag}{mark}")
    return "\n".join(lines) + "\n"

