"""The metrics `poolterm exporter` serves and `check --format openmetrics` prints, from the field
notes' pool states: each rendered by prometheus_client and read back with its own parsers."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import pytest
from prometheus_client import generate_latest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from poolterm.model import Reach, Verdict, XapiState
from poolterm.monitoring.metrics import PROBE_MODES, VERDICTS, XAPI_STATES, Snapshot, openmetrics, registry
from poolterm.monitoring.rounds import BUCKETS, RoundTimes
from poolterm.probing.pacing import ALERT_HOLD, Pacer
from tests.helpers import pool_states as lab
from tests.helpers.pool_states import NAMES, NOW


def samples(text: str, parse=parse_text) -> dict[str, dict[tuple, float]]:
    """Sample name -> {sorted label items: value}."""
    out: dict[str, dict[tuple, float]] = {}
    for family in parse(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def scrape(snapshot: Snapshot) -> dict[str, dict[tuple, float]]:
    """What Prometheus reads from the exporter for this snapshot (the text format it asks for by default)."""
    return samples(generate_latest(registry(lambda: snapshot)).decode())


def snapshot_of(observations, **fields) -> Snapshot:
    return Snapshot(lab.diagnosed(observations), NOW, rounds=fields.pop("rounds", 12), **fields)


def of(found: dict, **labels) -> float:
    return found[tuple(sorted(labels.items()))]


def verdicts(found) -> dict[str, float]:
    return {dict(k)["verdict"]: v for k, v in found["poolterm_pool_verdict"].items() if dict(k)["pool"] == "lab"}


def test_a_healthy_pool():
    found = scrape(snapshot_of(lab.healthy()))
    assert verdicts(found) == {v: (1.0 if v == "healthy" else 0.0) for v in VERDICTS}
    assert {dict(k)["host"]: v for k, v in found["poolterm_host_up"].items()} == dict.fromkeys(NAMES, 1.0)
    assert {dict(k)["host"]: v for k, v in found["poolterm_host_believes_master"].items()} == {
        "plot1": 1.0, "plot2": 0.0, "plot3": 0.0, "plot4": 0.0}
    for name in NAMES:
        states = {dict(k)["state"]: v for k, v in found["poolterm_host_xapi_state"].items() if dict(k)["host"] == name}
        assert states == {s: (1.0 if s == "answering" else 0.0) for s in XAPI_STATES}
        assert of(found["poolterm_host_last_answer_age_seconds"], pool="lab", host=name) == 0.0
    assert found["poolterm_findings"] == {(("kind", "healthy"), ("pool", "lab"), ("severity", "ok")): 1.0}
    assert found["poolterm_probe_rounds_total"] == {(): 12.0}


def test_every_verdict_and_state_is_spelled_as_check_json_spells_it():
    assert VERDICTS == tuple(v.value for v in Verdict) and "master-lost" in VERDICTS and "ha-failover" in VERDICTS
    assert XAPI_STATES == tuple(s.value for s in XapiState)


def test_master_lost():
    found = scrape(snapshot_of(lab.master_lost()))
    assert [v for v, on in verdicts(found).items() if on] == ["master-lost"]
    assert of(found["poolterm_host_up"], pool="lab", host="plot1") == 0.0
    # as last seen: plot1 was the master 20 s ago, and nobody else claims to be
    assert of(found["poolterm_host_believes_master"], pool="lab", host="plot1") == 1.0
    assert of(found["poolterm_host_last_answer_age_seconds"], pool="lab", host="plot1") == 20.0
    assert of(found["poolterm_host_xapi_state"], pool="lab", host="plot2", state="hung") == 1.0
    assert of(found["poolterm_findings"], pool="lab", kind="master-lost", severity="critical") == 1.0


def test_split_brain_shows_two_hosts_that_believe_they_are_master():
    found = scrape(snapshot_of(lab.split_brain()))
    assert [v for v, on in verdicts(found).items() if on] == ["split-brain"]
    believers = sorted(dict(k)["host"] for k, v in found["poolterm_host_believes_master"].items() if v == 1.0)
    assert believers == ["plot1", "plot2"]
    assert of(found["poolterm_findings"], pool="lab", kind="split-brain", severity="critical") == 1.0


def test_a_host_never_seen_has_an_infinite_age_and_findings_are_counted_by_kind():
    state = lab.healthy()
    state["plot3"] = lab.down("plot3", Reach.TIMEOUT)  # never answered: nothing remembered
    state["plot4"] = lab.down("plot4", Reach.REFUSED, was=lab.slave_of("plot1"))
    found = scrape(snapshot_of(state))
    assert math.isinf(of(found["poolterm_host_last_answer_age_seconds"], pool="lab", host="plot3"))
    assert of(found["poolterm_host_last_answer_age_seconds"], pool="lab", host="plot4") == 20.0
    assert [v for v, on in verdicts(found).items() if on] == ["degraded"]
    kinds = {(dict(k)["kind"], dict(k)["severity"]): v for k, v in found["poolterm_findings"].items()}
    assert sum(kinds.values()) == len(lab.diagnosed(state).pools[0].findings)
    assert all(count >= 1 for count in kinds.values())
    assert ("hosts-down", "warning") in kinds


def test_what_a_host_sends_never_becomes_a_label():
    """A hostile pool.conf (quotes, braces, a newline, an ANSI escape) shows in no label: labels are
    hosts.yaml's names and poolterm's own words."""
    state = lab.healthy()
    evil = 'slave:10.0.0.66"} poolterm_pool_verdict{pool="lab",verdict="healthy"} 1\n\x1b[2J'
    state["plot2"] = lab.up("plot2", evil, xe="hung")
    text = generate_latest(registry(lambda: snapshot_of(state))).decode()
    assert "10.0.0.66" not in text and "\x1b" not in text
    found = samples(text)
    values = {value for series in found.values() for key in series for _, value in key}
    assert values <= {"lab", *NAMES, *VERDICTS, *XAPI_STATES, "ok", "warning", "critical", "unknown",
                      *(f.kind for f in lab.diagnosed(state).pools[0].findings)}
    assert sum(verdicts(found).values()) == 1.0


def test_the_probes_pace_and_round_times():
    times = RoundTimes((name, "lab") for name in NAMES)
    for seconds in (0.01, 0.03, 0.03, 0.2, 7.0):
        times.observe("plot1", seconds)
    times.observe("not-in-the-inventory", 1.0)  # ignored, as the pacer ignores it
    snapshot = snapshot_of(lab.healthy(), round_times=times.snapshot(), pacing={"lab": ("alert", 17)}, budget=60)
    found = scrape(snapshot)
    buckets = {dict(k)["le"]: v for k, v in found["poolterm_probe_round_seconds_bucket"].items()}
    assert list(buckets) == [*(repr(b) for b in BUCKETS), "+Inf"]
    assert buckets["0.025"] == 1 and buckets["0.05"] == 3 and buckets["0.25"] == 4 and buckets["5.0"] == 4
    assert buckets["10.0"] == buckets["+Inf"] == 5
    assert of(found["poolterm_probe_round_seconds_count"], pool="lab") == 5
    assert of(found["poolterm_probe_round_seconds_sum"], pool="lab") == pytest.approx(7.27)
    assert {dict(k)["mode"]: v for k, v in found["poolterm_probe_mode"].items()} == {"calm": 0.0, "alert": 1.0}
    assert of(found["poolterm_probe_master_load_per_minute"], pool="lab") == 17.0
    assert found["poolterm_probe_master_budget_per_minute"] == {(): 60.0}


def test_without_pacing_there_is_no_mode_and_no_load():
    found = scrape(snapshot_of(lab.healthy()))
    assert not {"poolterm_probe_mode", "poolterm_probe_master_load_per_minute",
                "poolterm_probe_master_budget_per_minute"} & found.keys()


def test_the_pacers_modes_are_the_ones_the_metric_lists():
    pacer = Pacer([("plot1", "lab")], budget=60)
    assert pacer.mode("lab", 0.0) in PROBE_MODES
    pacer.observed(lab.down("plot1", Reach.TIMEOUT), None, 0.0)  # trouble: the pool goes on alert
    assert pacer.mode("lab", 1.0) == "alert"
    assert pacer.mode("lab", 1.0 + ALERT_HOLD) == "calm"
    assert set(PROBE_MODES) == {"calm", "alert"}


def test_openmetrics_parses_with_the_openmetrics_parser_and_ends_with_eof():
    times = RoundTimes((name, "lab") for name in NAMES)
    times.observe("plot2", 0.04)
    text = openmetrics(snapshot_of(lab.master_lost(), round_times=times.snapshot())).decode()
    assert text.endswith("# EOF\n")
    found = samples(text, parse_openmetrics)
    assert [v for v, on in verdicts(found).items() if on] == ["master-lost"]
    assert of(found["poolterm_host_up"], pool="lab", host="plot1") == 0.0
    assert found["poolterm_probe_rounds_total"] == {(): 12.0}
    assert of(found["poolterm_probe_round_seconds_count"], pool="lab") == 1


def test_check_format_openmetrics_prints_them_once_with_nagios_exit_codes(tmp_path):
    """The real command on a pool nothing answers (every port refused): UNKNOWN, exit 3, and the
    metrics say why, parsed by the OpenMetrics parser; --json still works beside it."""
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    inventory = tmp_path / "hosts.yaml"
    inventory.write_text(textwrap.dedent(f"""\
        ssh: {{port: 9, known_hosts: {known_hosts}, connect_timeout: 2}}
        probe: {{timeout: 1}}
        pools:
          - name: far
            hosts:
              - {{name: h1, address: 127.0.0.1}}
              - {{name: h2, address: 127.0.0.2}}
        """))
    base = [sys.executable, "-m", "poolterm", "check", "-i", str(inventory)]
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([*base, "--format", "openmetrics"], capture_output=True, text=True, timeout=60, env=env)
    assert (done.returncode, done.stderr) == (3, "")
    assert done.stdout.endswith("# EOF\n")
    found = samples(done.stdout, parse_openmetrics)
    assert {dict(k)["verdict"] for k, v in found["poolterm_pool_verdict"].items() if v == 1.0} == {"unknown"}
    assert {dict(k)["host"]: v for k, v in found["poolterm_host_up"].items()} == {"h1": 0.0, "h2": 0.0}
    assert found["poolterm_probe_rounds_total"] == {(): 2.0}
    assert of(found["poolterm_probe_round_seconds_count"], pool="far") == 2

    json_done = subprocess.run([*base, "--json"], capture_output=True, text=True, timeout=60, env=env)
    assert json_done.returncode == 3 and '"verdict": "unknown"' in json_done.stdout
