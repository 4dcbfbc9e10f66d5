"""`poolterm check`: one probe round, one diagnosis, Nagios exit codes.

The monitoring command the field notes asked for ("for monitoring I will have
to come up with some other method"): it reads every host directly, so it
works exactly when the master does not. ``--format openmetrics`` prints the
metrics `poolterm exporter` serves, once, for node_exporter's textfile collector.

The round ends as soon as every host is settled (:mod:`poolterm.probing.oneshot`: a master
whose slaves all say it is gone is not waited for), and a fleet's hosts are probed by
several worker processes (``--probe-workers``: one per core, at most one per 250 hosts).
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
from collections import Counter
from typing import TYPE_CHECKING

from poolterm.cli.options import add_inventory_option, checked_workers, load_pools
from poolterm.diagnosis.diagnose import diagnose
from poolterm.model import Diagnosis, PoolDiagnosis, Severity
from poolterm.monitoring.rounds import RoundTimes
from poolterm.probing import oneshot
from poolterm.probing.shards import default_workers
from poolterm.transport.ssh import raise_nofile_limit

if TYPE_CHECKING:
    from poolterm.monitoring.metrics import Snapshot

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
    parser.add_argument("--pool", metavar="NAME|GLOB", action="append",
                        help="only these pools: a name or a shell glob (lab*), comma-separated or repeated; "
                             "the exit status is the worst pool's")
    parser.add_argument("--timeout", type=float, metavar="SECONDS",
                        help="how long a remote xe may take before it counts as hung (default: probe.timeout)")
    parser.add_argument("--probe-workers", type=int, metavar="N",
                        help="probe from N worker processes, each a slice of the hosts (default: one per core, "
                             "at most one per 250 hosts; 1 probes in check's own process)")
    parser.set_defaults(func=run)


def run(args) -> int:
    # What is loaded by now (some 50,000 objects: poolterm, asyncssh, cryptography) lives until the process
    # ends. Out of the collector's way it costs neither the round's collections nor the interpreter's exit,
    # which otherwise spends 50 ms of a half-second check collecting it.
    gc.freeze()
    inventory, pools = load_pools(args)
    timeout = args.timeout if args.timeout is not None else inventory.probe.timeout
    workers = _workers(args.probe_workers, sum(len(p.hosts) for p in pools))
    if args.format == "openmetrics":
        from poolterm.monitoring.metrics import openmetrics  # prometheus_client: only this format needs it

        snapshot = asyncio.run(probe_once(inventory, pools, timeout, workers=workers))
        sys.stdout.write(openmetrics(snapshot).decode())
        return snapshot.diagnosis.severity.exit_code
    diagnosis = asyncio.run(check(inventory, pools, timeout, workers=workers))
    if args.format == "json":
        json.dump(to_json(diagnosis), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_text(diagnosis))
    return diagnosis.severity.exit_code


def _workers(asked: int | None, hosts: int) -> int:
    asked = checked_workers(asked, least=1)
    return default_workers(hosts) if asked is None else asked


async def check(inventory, pools, timeout: float, *, workers: int = 1) -> Diagnosis:
    """One probe round on every host of ``pools``, diagnosed."""
    return (await _diagnosed_round(inventory, pools, timeout, workers))[0]


async def probe_once(inventory, pools, timeout: float, *, workers: int = 1) -> "Snapshot":
    """One probe round on every host of ``pools``: its diagnosis and how long each host took."""
    from poolterm.monitoring.metrics import Snapshot  # prometheus_client: only the metrics need it

    diagnosis, now, rounds, times = await _diagnosed_round(inventory, pools, timeout, workers)
    return Snapshot(diagnosis, now, rounds, times.snapshot())


async def _diagnosed_round(inventory, pools, timeout: float, workers: int) -> tuple[Diagnosis, float, int, RoundTimes]:
    """The round's diagnosis, the loop's clock at it, the rounds that ended and how long they took."""
    raise_nofile_limit()
    times = RoundTimes((h.name, p.name) for p in pools for h in p.hosts)
    result = await oneshot.probe_once(pools, inventory.ssh, timeout, workers=workers, on_round=times.observe)
    now = asyncio.get_running_loop().time()
    return diagnose(pools, result.observations, now), now, result.rounds, times


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
    """One pool in full. Several: how many of each verdict, the pools in trouble in full (worst first),
    then one line per healthy pool, so that fifty pools read on one screen."""
    lines = [f"poolterm check: {diagnosis.verdict.title} ({diagnosis.severity.value})"]
    pools = list(diagnosis.pools)
    if len(pools) == 1:
        return "\n".join(lines + _pool_lines(pools[0])) + "\n"
    counts = Counter(p.verdict for p in pools)
    lines.append(f"{len(pools)} pools: " + ", ".join(
        f"{n} {verdict.title}" for verdict, n in sorted(counts.items(), key=lambda item: -item[0].severity.rank)))
    order = {p.name: i for i, p in enumerate(pools)}
    troubled = sorted((p for p in pools if p.severity is not Severity.OK),
                      key=lambda p: (-p.severity.rank, order[p.name]))
    for pool in troubled:
        lines += _pool_lines(pool)
    healthy = [p for p in pools if p.severity is Severity.OK]
    if healthy:
        width = max(len(p.name) for p in healthy)
        lines += ["", f"healthy pools ({len(healthy)}):"]
        lines += [f"  {p.name:<{width}}  {p.verdict.title}  {p.summary}" for p in healthy]
    return "\n".join(lines) + "\n"


def _pool_lines(pool: PoolDiagnosis) -> list[str]:
    lines = ["", f"pool {pool.name}: {pool.verdict.title}", f"  {pool.summary}", f"  next: {pool.advice}"]
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
    return lines
