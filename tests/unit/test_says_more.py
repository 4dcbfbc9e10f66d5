"""A probe worker re-diagnoses a pool when a host said something new, not when only the clock moved."""

from __future__ import annotations

from dataclasses import replace

from poolterm.model import XeCall
from poolterm.probing.service import says_more
from tests.helpers.factories import connected, slave_conf

BEFORE = connected("plot2", slave_conf("10.0.0.1"), at=100.0, raw=("ping: time=0.051 ms",))


def test_a_calm_round_that_differs_only_in_its_times_and_raw_output_says_nothing_more():
    later = replace(BEFORE, at=110.0, last_seen=110.0, raw=("ping: time=0.049 ms",), complete=False)
    assert not says_more(later, BEFORE)


def test_a_hung_call_a_new_belief_or_a_first_round_says_more():
    assert says_more(replace(BEFORE, at=110.0, xe=XeCall("hung")), BEFORE)
    assert says_more(replace(BEFORE, pool_conf="master"), BEFORE)
    assert says_more(BEFORE, None)
