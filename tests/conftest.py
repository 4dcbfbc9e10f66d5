"""Fixtures shared by every test directory: the simulated pool.

The helpers they call, and every plain helper the tests share, are in tests/helpers.
"""

from __future__ import annotations

import pytest

from tests.helpers.sim import FAST, simulated_pool

#: The `sim` fixture's pool unless a `sim` mark says otherwise.
SIM_DEFAULTS = {"hosts": 8, "params": FAST}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sim(hosts=8, params=FAST): the simulated pool the `sim` fixture starts (tests/conftest.py)")


@pytest.fixture
async def sim(request: pytest.FixtureRequest, tmp_path):
    """A simulated pool serving SSH on loopback from tmp_path/sim, stopped after the test: eight hosts
    with a half-second fuse and boot (tests.helpers.sim.FAST). A test or its module asks for another
    with ``pytest.mark.sim(hosts=..., params=SimParams(...))``."""
    mark = request.node.get_closest_marker("sim")
    options = {**SIM_DEFAULTS, **(mark.kwargs if mark else {})}
    async with simulated_pool(tmp_path / "sim", options["hosts"], params=options["params"]) as running:
        yield running
