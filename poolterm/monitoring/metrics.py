"""One snapshot of the probe as Prometheus metric families.

A :class:`Snapshot` is everything one scrape shows, taken at one instant: the diagnosis
of the latest observations, the probe's pacing, its round times. :func:`families` renders
it; :class:`SnapshotCollector` renders a fresh one at each scrape (no gauge is kept and
mutated per round, so a scrape can never see half of one round and half of the next), and
:func:`openmetrics` renders one once (`poolterm check --format openmetrics`).

Every label value is a name from hosts.yaml (checked when the inventory was read) or one
of poolterm's own enums and finding kinds; nothing a host sent becomes a label, so a
hostile host can neither forge a series nor blow up the number of them. The names of
verdicts, xapi states and severities are the ones `poolterm check --json` prints.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.registry import Collector, CollectorRegistry

from poolterm.model import Diagnosis, Role, Verdict, XapiState
from poolterm.monitoring.rounds import RoundHistogram

#: Every verdict, as `poolterm check --json` spells it: each pool shows them all, 1 for its own.
VERDICTS = tuple(v.value for v in Verdict)
#: Every xapi state of a host, likewise.
XAPI_STATES = tuple(s.value for s in XapiState)
#: The probe's modes (``Pacer.mode``): calm pools are paced to the master budget, alert ones are not.
PROBE_MODES = ("calm", "alert")


@dataclass(frozen=True)
class Snapshot:
    """What one scrape shows, all of it as of ``now`` (the probe loop's clock).

    ``pacing``: pool -> (mode, sessions and TLS handshakes on its master over the last
    minute), empty when the probe is not paced (`poolterm check`); ``budget``: the master
    budget it is paced to, None likewise; ``rounds``: probe rounds finished so far.
    """

    diagnosis: Diagnosis
    now: float
    rounds: int
    round_times: Mapping[str, RoundHistogram] = field(default_factory=dict)
    pacing: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    budget: int | None = None


def families(snapshot: Snapshot) -> Iterator[Metric]:
    """The snapshot's metric families, in a fixed order."""
    pools = snapshot.diagnosis.pools
    verdict = GaugeMetricFamily("poolterm_pool_verdict", "The pool's verdict: 1 for the current one, 0 for the others.",
                                labels=["pool", "verdict"])
    up = GaugeMetricFamily("poolterm_host_up", "1 when the host answered the probe over SSH, 0 when it did not.",
                           labels=["pool", "host"])
    believes = GaugeMetricFamily("poolterm_host_believes_master",
                                 "1 when the host's pool.conf says it is the pool master (as last seen).",
                                 labels=["pool", "host"])
    xapi = GaugeMetricFamily("poolterm_host_xapi_state",
                             "How the host's xapi answered: 1 for its current state, 0 for the others.",
                             labels=["pool", "host", "state"])
    age = GaugeMetricFamily("poolterm_host_last_answer_age_seconds",
                            "Seconds since the host last answered the probe; +Inf if it never has.",
                            labels=["pool", "host"])
    findings = GaugeMetricFamily("poolterm_findings", "Findings of the diagnosis, by kind and severity.",
                                 labels=["pool", "kind", "severity"])
    for pool in pools:
        for name in VERDICTS:
            verdict.add_metric([pool.name, name], 1.0 if pool.verdict.value == name else 0.0)
        for host in pool.hosts:
            labels = [pool.name, host.name]
            up.add_metric(labels, 1.0 if host.reachable else 0.0)
            believes.add_metric(labels, 1.0 if host.role is Role.MASTER else 0.0)
            for state in XAPI_STATES:
                xapi.add_metric([*labels, state], 1.0 if host.xapi.value == state else 0.0)
            seen = host.last_seen
            age.add_metric(labels, math.inf if seen is None else max(0.0, snapshot.now - seen))
        for (kind, severity), count in sorted(Counter((f.kind, f.severity.value) for f in pool.findings).items()):
            findings.add_metric([pool.name, kind, severity], float(count))
    yield from (verdict, up, believes, xapi, age, findings)
    yield from _probe_families(snapshot)


def _probe_families(snapshot: Snapshot) -> Iterator[Metric]:
    rounds = CounterMetricFamily("poolterm_probe_rounds", "Probe rounds finished (one host probed once).",
                                 value=snapshot.rounds)
    seconds = HistogramMetricFamily("poolterm_probe_round_seconds", "How long each host's probe round took, by pool.",
                                    labels=["pool"])
    for pool, histogram in sorted(snapshot.round_times.items()):
        seconds.add_metric([pool], histogram.cumulative(), histogram.total)
    yield from (rounds, seconds)
    if not snapshot.pacing:
        return
    mode = GaugeMetricFamily("poolterm_probe_mode",
                             "The probe's mode per pool: calm (paced to the master budget) or alert (everything, "
                             "every round): 1 for the current one.", labels=["pool", "mode"])
    load = GaugeMetricFamily("poolterm_probe_master_load_per_minute",
                             "xapi sessions and TLS handshakes the probe caused on the pool's master over the last "
                             "minute.", labels=["pool"])
    for pool, (current, cost) in sorted(snapshot.pacing.items()):
        for name in PROBE_MODES:
            mode.add_metric([pool, name], 1.0 if current == name else 0.0)
        load.add_metric([pool], float(cost))
    yield from (mode, load)
    if snapshot.budget is not None:
        yield GaugeMetricFamily("poolterm_probe_master_budget_per_minute",
                                "probe.master_budget: what a calm pool's probe may cost its master a minute.",
                                value=float(snapshot.budget))


class SnapshotCollector(Collector):
    """Renders ``take()`` at each collection: a fresh, consistent snapshot per scrape."""

    def __init__(self, take: Callable[[], Snapshot]):
        self._take = take

    def collect(self) -> Iterator[Metric]:
        return families(self._take())


def registry(take: Callable[[], Snapshot]) -> CollectorRegistry:
    """A registry of poolterm's metrics alone (none of the library's process or GC metrics)."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(SnapshotCollector(take))
    return reg


def openmetrics(snapshot: Snapshot) -> bytes:
    """The snapshot in the OpenMetrics text format, ``# EOF`` last (node_exporter's textfile collector)."""
    return generate_openmetrics(registry(lambda: snapshot))
