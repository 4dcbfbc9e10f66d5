"""What the fuzz tests (tests/fuzz) share: how many examples they run, and the hostile pieces
their inputs are built of.

By default each property runs a few hundred examples, so the suite stays quick; the long run
sets ``POOLTERM_FUZZ_EXAMPLES`` (``POOLTERM_FUZZ_EXAMPLES=10000 python -m pytest tests/fuzz``)
and every property runs that many, with a per-test time limit that grows with the count.
"""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import HealthCheck, Phase, settings

#: The environment variable that sets every fuzz property's number of examples.
EXAMPLES_VARIABLE = "POOLTERM_FUZZ_EXAMPLES"
#: The suite's own per-test limit (pyproject.toml, pytest-timeout), kept as the floor.
BASE_TIMEOUT = 120


def examples(default: int) -> int:
    """The number of examples a property runs: ``default``, or what the environment asks for."""
    value = os.environ.get(EXAMPLES_VARIABLE, "").strip()
    if not value:
        return default
    count = int(value)
    if count < 1:
        raise ValueError(f"{EXAMPLES_VARIABLE} must be a positive number of examples, not {value!r}")
    return count


def fuzz(default: int, seconds_per_example: float):
    """Decorators for one fuzz property: its example count and a time limit that fits it.

    ``seconds_per_example`` is a generous bound on one example's cost on a slow, shared
    machine; the limit is never below the suite's own."""
    count = examples(default)
    limit = max(BASE_TIMEOUT, int(count * seconds_per_example) + 60)

    def apply(test):
        # No explain phase: on inputs this size it takes minutes, and the shrunk example says enough.
        test = settings(max_examples=count, deadline=None, phases=[p for p in Phase if p is not Phase.explain],
                        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                               HealthCheck.data_too_large, HealthCheck.large_base_example])(test)
        return pytest.mark.timeout(limit)(test)
    return apply


# ---- what may not reach a terminal or a markdown file --------------------------------------

#: C0 controls but tab and newline, DEL, C1: the bytes a terminal acts on.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def unsafe_part(text: str) -> str | None:
    """The first character of ``text`` a terminal or a markdown viewer could act on, in context;
    None when there is none. Non-printable in Python's sense (:func:`poolterm.untrusted.is_safe`):
    C0 and C1 controls, DEL, zero-width and direction marks, line separators, surrogates."""
    for line in text.split("\n"):
        for i, char in enumerate(line):
            if char != "\t" and not char.isprintable():
                return f"{char!r} in {line[max(0, i - 30):i + 30]!r}"
    return None


# ---- hostile pieces ---------------------------------------------------------------------------

#: Bytes a hostile or broken host might print: terminal escapes (OSC 52 clipboard write, clear
#: screen, CSI in its 8-bit form, DCS), C0/C1 controls, direction and zero-width marks, invalid
#: and truncated UTF-8, markdown that could close a code fence or start a table, wide and
#: combining characters, and words the probe's parser and the diagnosis react to.
HOSTILE_BYTES = [
    b"\x1b]52;c;cHduZWQ=\x07", b"\x1b[2J", b"\x1b[31m", b"\x1bP1$r\x1b\\", b"\x1b]0;title\x1b\\", b"\x9b2J",
    "\x9b".encode(), "\x85".encode(), b"\x07", b"\x00", b"\x7f", b"\r", b"\r\n", b"\x08", b"\x0b\x0c",
    "\u202e".encode(), "\u2066".encode(), "\u200b\u200e\u200f\u061c\ufeff".encode(), "\u2028\u2029".encode(),
    b"\xff\xfe", b"\xc3", b"\xe2\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
    b"`", b"```", b"````", b"~~~", b"|", b"<!--", b"**", b"#", b"[x](javascript:1)", b"\t",
    "東京ｗｉｄｅ".encode(), "e\u0301\u0301".encode(), "\U0001f600".encode(), b"A" * 200,
    b"@@end 0", b" @@end 124", b"@@conf", b"@@xe", b"@@db", b"\n", b"\n", b" ",
    b"master", b"slave:", b"slave:10.0.0.1", b"slave:10.0.0.2", b"slave:10.0.0.9", b"broken",
    b"active", b"failed", b"true", b"false", b"XAPI_NOT_RUNNING", b"HOST_IS_SLAVE", b"000", b"200",
    b"INSTALLATION_UUID='00000000-0000-4000-8000-000000000001'", b"0" * 64,
    b"uuid ( RO)                 : ", b"name-label ( RW): ", b"address ( RO): ", b"enabled ( RO): ",
    b"host-metrics-live ( RO): ",
]

#: The same, as text (an SSH error's words, a file's contents): escapes, marks, lone surrogates.
HOSTILE_TEXT = [
    "\x1b]52;c;cHduZWQ=\x07", "\x1b[2J", "\x9b", "\x85", "\x00", "\x07", "\r", "\n", "\x7f", "\u202e",
    "\u200b", "\u200f", "\u061c", "\ufeff", "\u2028", "\ud800", "\udfff", "`", "```", "|", "\t", "東京",
    "e\u0301", "\U0001f600", "'", '"', "\\", "%s", "{0}", "plot1",
]
