"""A slave whose pool.conf cannot be read while the master works: never HEALTHY (found by fuzzing)."""

from __future__ import annotations

from poolterm.diagnosis.diagnose import diagnose
from poolterm.model import Severity, Verdict
from tests.helpers.factories import Pool, connected, healthy, numbered_pool

NOW = 1000.0
POOL: Pool = numbered_pool("lab", 3, lambda i: f"10.0.0.{i}")


def test_a_slave_with_an_unreadable_pool_conf_degrades_the_pool_and_leads_the_findings():
    obs = healthy([POOL], at=NOW)
    obs["plot3"] = connected("plot3", "garbage\\x1b", at=NOW)
    pool = diagnose([POOL], obs, NOW).pools[0]
    assert (pool.verdict, pool.master) == (Verdict.DEGRADED, "plot1")
    assert pool.verdict.severity is Severity.WARNING
    assert not any(f.kind == "healthy" for f in pool.findings)
    broken = next(f for f in pool.findings if f.kind == "broken")
    assert broken.hosts == ("plot3",) and pool.summary == broken.summary
