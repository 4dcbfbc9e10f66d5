"""The demo's simulator menu: what undoes a host's fault is offered first."""

from __future__ import annotations

import pytest

from poolterm.ui.faults import FAULTS, menu_order, repairs

HEALTHY = {"power": "on", "link": "up", "xapi": "running"}


@pytest.mark.parametrize("broken, fix", [
    ({"power": "off", "xapi": "stopped"}, ("poweron",)),
    ({"link": "down"}, ("cable-in",)),
    ({"xapi": "hung"}, ("unhang-xapi",)),
    ({"link": "down", "xapi": "hung"}, ("cable-in", "unhang-xapi")),
    ({}, ()),
])
def test_repairs_read_the_hosts_truth(broken, fix):
    assert repairs({**HEALTHY, **broken}) == fix


def test_the_menu_puts_each_hosts_repair_first_and_keeps_every_action():
    truth = {"plot1": {**HEALTHY, "power": "off"}, "plot2": {**HEALTHY, "link": "down"}}
    rows = menu_order(["plot1", "plot2"], truth)
    assert [(a, h) for a, h, _, fix in rows if fix] == [("poweron", "plot1"), ("cable-in", "plot2")]
    assert rows[0][:2] == ("poweron", "plot1") and rows[1][:2] == ("cable-in", "plot2")
    assert len(rows) == 2 * len(FAULTS)
    assert not any(fix for *_, fix in rows[2:])
