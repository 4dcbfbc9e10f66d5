"""The example alert rules (docs/alerts.yml) as Prometheus itself reads them: `promtool check rules`,
and `promtool test rules` on docs/alerts.test.yml (series fed in; which alerts fire, when, with what
text). promtool is Debian's `prometheus` package, which .ci/run installs."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from poolterm.model import Verdict
from poolterm.playbooks import load_all

DOCS = Path(__file__).resolve().parents[2] / "docs"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian package prometheus)")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROMTOOL, *args], cwd=DOCS, capture_output=True, text=True, timeout=120)


@needs_promtool
def test_promtool_checks_the_rules():
    done = promtool("check", "rules", "alerts.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 10 rules found" in done.stdout, done.stdout


@needs_promtool
def test_the_rules_fire_as_their_unit_tests_say():
    done = promtool("test", "rules", "alerts.test.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout, done.stdout


@needs_promtool
def test_a_wrong_expectation_fails_the_unit_tests(tmp_path):
    """The unit tests can fail: the same file with one alert expected a minute too early does."""
    tests = yaml.safe_load((DOCS / "alerts.test.yml").read_text())
    check = tests["tests"][0]["alert_rule_test"][0]
    assert (check["alertname"], check["exp_alerts"]) == ("PooltermMasterLost", [])
    check["exp_alerts"] = tests["tests"][0]["alert_rule_test"][1]["exp_alerts"]
    shutil.copy(DOCS / "alerts.yml", tmp_path / "alerts.yml")
    (tmp_path / "alerts.test.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    done = subprocess.run([PROMTOOL, "test", "rules", "alerts.test.yml"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode != 0
    assert "PooltermMasterLost" in done.stdout + done.stderr


def test_every_rule_names_real_verdicts_and_playbooks():
    """Without promtool too: the verdicts the rules match are poolterm's, their playbooks exist, and each
    description tells the on-call what to run."""
    rules = [r for group in yaml.safe_load((DOCS / "alerts.yml").read_text())["groups"] for r in group["rules"]]
    verdicts = {v.value for v in Verdict}
    playbooks = {p.id for p in load_all()}
    for rule in rules:
        for verdict in re.findall(r'verdict="([^"]+)"', rule["expr"]):
            assert verdict in verdicts, (rule["alert"], verdict)
        playbook = rule["labels"].get("playbook")
        if playbook:
            assert playbook in playbooks, (rule["alert"], playbook)
            assert f"{playbook} playbook" in rule["annotations"]["description"], rule["alert"]
        assert "`poolterm" in rule["annotations"]["description"], rule["alert"]
        assert rule["annotations"]["summary"]
    assert {"PooltermMasterLost", "PooltermSplitBrain", "PooltermHaFailover", "PooltermHostDown",
            "PooltermExporterDown"} <= {r["alert"] for r in rules}
