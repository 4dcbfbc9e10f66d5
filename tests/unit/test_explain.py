"""The verdicts in plain words: the shipped file covers every verdict, and a broken one is refused."""

from __future__ import annotations

import pytest
import yaml

from poolterm.diagnosis.explain import VERDICTS_FILE, ExplanationError, explanations, parse
from poolterm.model import Verdict


def test_the_shipped_file_explains_every_verdict_in_one_paragraph_each():
    shipped = explanations()
    assert set(shipped) == set(Verdict)
    for verdict, explanation in shipped.items():
        for text in (explanation.meaning, explanation.careful):
            assert "\n" not in text and "  " not in text, (verdict, text)
            assert text.endswith("."), (verdict, text)


def _shipped() -> dict:
    return yaml.safe_load(VERDICTS_FILE.read_text())


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.pop("split-brain"), "no explanation for split-brain"),
    (lambda d: d.update({"on-fire": d["healthy"]}), "'on-fire' is not a verdict"),
    (lambda d: d["emergency"].pop("careful"), "emergency: needs exactly `meaning` and `careful`"),
    (lambda d: d["unknown"].update({"meaning": "  "}), "unknown: needs exactly `meaning` and `careful`"),
    (lambda d: d["degraded"].update({"extra": "x"}), "degraded: needs exactly"),
])
def test_a_broken_file_is_refused_with_the_verdict_it_breaks(mutate, message):
    data = _shipped()
    mutate(data)
    with pytest.raises(ExplanationError, match=message):
        parse(yaml.safe_dump(data), "verdicts.yaml")


def test_a_file_that_is_not_a_mapping_is_refused():
    with pytest.raises(ExplanationError, match="expected a mapping"):
        parse("- healthy\n")
