"""Each verdict in plain words (``verdicts.yaml``), for teaching mode.

Loaded once and checked strictly: every verdict has a meaning and a warning, so a
gap in the data file is caught by the tests rather than shown as a blank line.
Mistakes are :class:`~poolterm.errors.ExplanationError`, ``FILE:LINE: KEY: message``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from yaml.nodes import Node

from poolterm.datafile import DataFile, Keys, at_mapping, read_text
from poolterm.errors import ExplanationError
from poolterm.model import Verdict

VERDICTS_FILE = Path(__file__).resolve().parent / "verdicts.yaml"


@dataclass(frozen=True)
class Explanation:
    meaning: str  # what the verdict means for the pool
    careful: str  # the mistake it invites


_NEEDS = "needs exactly `meaning` and `careful`, both non-empty text"
# The file's shape: each verdict's name, then its two texts.
TOP = Keys(tuple(v.value for v in Verdict), unknown=at_mapping("{name!r} is not a verdict ({allowed})"),
           expected="expected a mapping of verdict -> meaning/careful")
ENTRY = Keys(("meaning", "careful"), required=("meaning", "careful"), unknown=at_mapping(_NEEDS),
             missing=at_mapping(_NEEDS), expected=_NEEDS)


def parse(text: str, source: str = "verdicts.yaml") -> dict[Verdict, Explanation]:
    """Every verdict's explanation; :class:`ExplanationError` at the line of any mistake."""
    data = DataFile.parse(text, source, ExplanationError)
    top = data.mapping(data.top(TOP.expected), "", TOP)
    explanations = {Verdict(name): _entry(data, node, name) for name, node in top.items()}
    missing = [v.value for v in Verdict if v not in explanations]
    if missing:
        raise data.fail(top.node, None, f"no explanation for {', '.join(missing)}")
    return explanations


def _entry(data: DataFile, node: Node, name: str) -> Explanation:
    fields = data.mapping(node, name, ENTRY)
    texts = [data.value(fields[key], fields.at(key)) for key in ENTRY.allowed]
    if not all(isinstance(text, str) and text.strip() for text in texts):
        raise data.fail(node, name, _NEEDS)
    meaning, careful = (" ".join(text.split()) for text in texts)
    return Explanation(meaning, careful)


@cache
def explanations() -> dict[Verdict, Explanation]:
    return parse(read_text(VERDICTS_FILE, ExplanationError))


def explain(verdict: Verdict) -> Explanation:
    return explanations()[verdict]


def first_sentence(text: str) -> str:
    """Up to the first full stop that ends a sentence (the whole text if there is none)."""
    text = " ".join(text.split())
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]
