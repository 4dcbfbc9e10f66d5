"""A name-label with a blank line in it (anyone with xe access can set one) does not stop poolterm
probing the master: the master's `xe host-list` then holds a line outside xe's record layout,
the parser raised on it inside the transport's line callback, and the master's probe loop ended
for good (its last observation stayed on screen, so a later crash of the master went unseen).
Found by tests/fuzz/test_fuzz_probe_output.py; benchmarks/soak.py plants such labels too.
"""

from __future__ import annotations

import asyncio

from poolterm.config.inventory import load_inventory
from poolterm.model import Observation
from poolterm.probing.service import start_probing


async def test_a_name_label_with_a_blank_line_leaves_the_master_probed(sim):
    await sim.ctl("set-name-label", "plot2", label="evil\n\n\x1b]52;c;cHduZWQ=\x07line")
    inventory = load_inventory(sim.hosts_yaml)
    published: list[Observation] = []
    connections, watcher = start_probing(inventory, interval=0.3, timeout=3, publish=published.append)
    try:
        # Rounds after the first ask the master for its database (the first asks every host for the pool).
        async with asyncio.timeout(20):
            while sum(1 for o in published if o.host == "plot1" and o.complete and o.db_hosts is None
                      and o.xe is not None and "not readable" in o.xe.output) < 3:
                await asyncio.sleep(0.05)
        listing = next(o for o in reversed(published) if o.host == "plot1" and o.complete)
        assert listing.xe.status == "answered"
        assert "\x1b" not in listing.xe.output and "\\x1b]52" in "\n".join(listing.raw)

        await sim.ctl("crash", "plot1")  # what the dead loop used to hide
        async with asyncio.timeout(20):
            while not any(o.host == "plot1" and not o.reach.reachable for o in published):
                await asyncio.sleep(0.05)
    finally:
        await watcher.stop()
        await connections.close()
