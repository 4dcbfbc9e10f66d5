"""The console on a live simulated pool, set up to run playbooks on the short timers of
:data:`tests.helpers.sim.PARAMS`."""

from __future__ import annotations

from poolterm.actions.journal import Journal
from poolterm.config.inventory import load_inventory
from poolterm.playbooks.engine import Timing
from poolterm.playbooks.runner import WAIT_INTERVAL
from poolterm.sim.runtime import Simulator
from poolterm.ui.app import PoolApp
from tests.helpers.sim import PARAMS, fast_inventory

INTERVAL, TIMEOUT, CONNECT = 0.5, 1.5, 1
TIMING = Timing(fuse=PARAMS.fuse, xapi_start=PARAMS.xapi_start, boot=PARAMS.boot,
                probe=WAIT_INTERVAL + TIMEOUT + 5.0 + CONNECT)


def console(sim: Simulator, journal_path, **kwargs) -> PoolApp:
    """The console on ``sim`` (a one-second SSH connect timeout: a powered-off host costs a second,
    not five), journaling to ``journal_path``."""
    return PoolApp(load_inventory(fast_inventory(sim)), interval=INTERVAL, timeout=TIMEOUT, timing=TIMING,
                   journal=Journal.open(journal_path), **kwargs)
