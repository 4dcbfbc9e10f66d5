"""Each verdict in plain words (``verdicts.yaml``), for teaching mode.

Loaded once and checked strictly: every verdict has a meaning and a warning, so a
gap in the data file is caught by the tests rather than shown as a blank line.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from poolterm.model import Verdict

VERDICTS_FILE = Path(__file__).resolve().parent / "verdicts.yaml"


@dataclass(frozen=True)
class Explanation:
    meaning: str  # what the verdict means for the pool
    careful: str  # the mistake it invites


class ExplanationError(ValueError):
    pass


def parse(text: str, source: str = "verdicts.yaml") -> dict[Verdict, Explanation]:
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ExplanationError(f"{source}: expected a mapping of verdict -> meaning/careful")
    known = {v.value: v for v in Verdict}
    explanations = {}
    for key, entry in data.items():
        if key not in known:
            raise ExplanationError(f"{source}: {key!r} is not a verdict ({', '.join(known)})")
        if not isinstance(entry, dict) or set(entry) != {"meaning", "careful"} \
                or not all(isinstance(v, str) and v.strip() for v in entry.values()):
            raise ExplanationError(f"{source}: {key}: needs exactly `meaning` and `careful`, both non-empty text")
        explanations[known[key]] = Explanation(" ".join(entry["meaning"].split()), " ".join(entry["careful"].split()))
    missing = [v.value for v in Verdict if v not in explanations]
    if missing:
        raise ExplanationError(f"{source}: no explanation for {', '.join(missing)}")
    return explanations


@cache
def explanations() -> dict[Verdict, Explanation]:
    return parse(VERDICTS_FILE.read_text(encoding="utf-8"))


def explain(verdict: Verdict) -> Explanation:
    return explanations()[verdict]


def first_sentence(text: str) -> str:
    """Up to the first full stop that ends a sentence (the whole text if there is none)."""
    text = " ".join(text.split())
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]
