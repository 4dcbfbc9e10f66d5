"""Tuning the process when the console is the whole program.

With 1000 SSH connections the heap holds millions of long-lived objects, and
each full collection walks them all: a quarter-second freeze, dozens of times a
minute. Once the connections are up, what exists is frozen out of those walks.
"""

from __future__ import annotations

import gc
import sys

#: Collector thresholds once the console runs (Python's defaults: 700, 10, 10): young
#: collections rarer, full ones (a walk of the whole heap) ten times rarer.
GC_THRESHOLDS = (10_000, 10, 100)
#: Seconds a thread may hold the GIL before it is asked to hand it over (default 0.005).
SWITCH_INTERVAL = 0.001


def settle_garbage_collector() -> None:
    """Keep the collector from stalling the screen once the connections are up."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    # The diagnosis thread is CPU-bound; a shorter switch interval hands
    # the GIL back to the screen's thread sooner when a key arrives.
    sys.setswitchinterval(SWITCH_INTERVAL)
