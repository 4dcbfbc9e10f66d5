"""Trusting a host's SSH key from the console (issue #14): a reinstalled host's new key, and a key
known_hosts never had, shown with both fingerprints, trusted only by typing the host's name,
journaled either way, and the host reconnected without a restart."""

from __future__ import annotations

import json

import pytest

from poolterm.config.inventory import load_inventory
from poolterm.model import Reach
from poolterm.probing.source import LiveSource
from poolterm.transport import hostkeys
from poolterm.ui.dialogs import TrustKeyDialog
from tests.helpers.console import CONNECT, INTERVAL, TIMEOUT, console
from tests.helpers.pilot import log_text, plain, type_line, wait_for
from tests.helpers.sim import fast_inventory

pytestmark = pytest.mark.sim(hosts=4)


def reach(app, host: str) -> Reach | None:
    observation = app.source.observation(host)
    return observation.reach if observation is not None else None


def offered_now(sim, host: str) -> str:
    return next(h["host_key"] for h in sim.status()["hosts"] if h["name"] == host)


def recorded_now(sim, host: str) -> list[str]:
    server = sim.hosts_yaml  # the sim's known_hosts sits beside its inventory
    inventory = load_inventory(server)
    spec = next(h for h in inventory.hosts() if h.name == host)
    return [key.fingerprint for key in hostkeys.recorded(spec.known_hosts, spec.address, spec.port)]


def decisions(journal) -> list[dict]:
    return [record for line in journal.read_text().splitlines() if (record := json.loads(line))["kind"] == "host-key"]


def selected_with_k(app, host: str) -> bool:
    """``host`` selected (asked again until the grid has drawn it) and K offered for it."""
    if app.selected != host:
        app.select_host(host)
    return app.selected == host and app.check_action("trust_key", ()) is True


async def open_trust_dialog(pilot, app, host: str) -> TrustKeyDialog:
    await wait_for(pilot, lambda: selected_with_k(app, host), timeout=30, what=f"K offered for {host}")
    await pilot.press("K")
    return await wait_for(pilot, lambda: isinstance(app.screen, TrustKeyDialog) and app.screen,
                          timeout=10, what="the trust dialog")


async def test_a_reinstalled_hosts_new_key_is_shown_beside_the_old_and_trusted_by_its_typed_name(sim, tmp_path):
    journal = tmp_path / "incident.jsonl"
    app = console(sim, journal)
    async with app.run_test(size=(140, 44)) as pilot:
        await wait_for(pilot, lambda: app.banner.headline == "HEALTHY", timeout=30, what="HEALTHY")
        assert app.check_action("trust_key", ()) is False  # a verified host has nothing to trust
        old = recorded_now(sim, "plot3")
        known_hosts_before = sim.known_hosts.read_bytes()

        await sim.ctl("rekey", "plot3")  # reinstalled: a new key, its sshd restarted
        new = offered_now(sim, "plot3")
        assert new not in old
        await wait_for(pilot, lambda: reach(app, "plot3") is Reach.HOST_KEY_CHANGED, timeout=15,
                       what="plot3 in host-key-changed")

        dialog = await open_trust_dialog(pilot, app, "plot3")
        body = plain(dialog.query_one("#trust-body"), width=200)
        assert "THE HOST KEY HAS CHANGED" in plain(dialog.query_one(".dialog-title"), width=200)
        assert new in body and old[0] in body  # both fingerprints, as ssh-keygen -lf shows them
        assert "reinstalled" in body and "pretending" in body

        await type_line(pilot, "plot2")  # the wrong host: nothing trusted, the dialog stays
        await pilot.press("enter")
        await wait_for(pilot, lambda: "not plot3's name" in plain(dialog.query_one("#trust-error")),
                       what="the wrong name refused")
        assert app.screen is dialog and sim.known_hosts.read_bytes() == known_hosts_before

        await type_line(pilot, "plot3")
        await pilot.press("enter")
        await wait_for(pilot, lambda: reach(app, "plot3") is Reach.CONNECTED, timeout=15, what="plot3 reconnected")
        await wait_for(pilot, lambda: app.banner.headline == "HEALTHY", timeout=30, what="HEALTHY again")
        assert recorded_now(sim, "plot3") == [new]
        others = [line for line in known_hosts_before.decode().splitlines() if not line.startswith("[127.77.0.13]")]
        assert sim.known_hosts.read_text().splitlines()[:len(others)] == others  # the other hosts untouched
        assert "trusted plot3's host key" in log_text(app)

    [decision] = decisions(journal)
    assert decision["host"] == "plot3" and decision["was"] == "changed" and decision["trusted"] is True
    assert new in decision["offered"] and old[0] in decision["recorded"][0]


async def test_a_key_never_recorded_is_trusted_through_the_probe_process_or_declined_and_journaled(sim, tmp_path):
    """The probe runs in its own process here (as above 64 hosts): the reconnect reaches it too."""
    lines = sim.known_hosts.read_text().splitlines()
    sim.known_hosts.write_text("".join(line + "\n" for line in lines if not line.startswith("[127.77.0.14]")))
    journal = tmp_path / "incident.jsonl"
    inventory = load_inventory(fast_inventory(sim))
    source = LiveSource(inventory, interval=INTERVAL, timeout=TIMEOUT, probe_workers=1)
    app = console(sim, journal, source=source)
    async with app.run_test(size=(140, 44)) as pilot:
        await wait_for(pilot, lambda: reach(app, "plot4") is Reach.HOST_KEY_UNKNOWN, timeout=30,
                       what="plot4 in host-key-unknown")

        dialog = await open_trust_dialog(pilot, app, "plot4")
        assert offered_now(sim, "plot4") in plain(dialog.query_one("#trust-body"), width=200)
        await pilot.press("escape")  # declined: nothing written, but journaled
        await wait_for(pilot, lambda: not isinstance(app.screen, TrustKeyDialog), what="the dialog closed")
        await wait_for(pilot, lambda: decisions(journal), what="the decision journaled")
        assert recorded_now(sim, "plot4") == [] and reach(app, "plot4") is Reach.HOST_KEY_UNKNOWN

        await open_trust_dialog(pilot, app, "plot4")
        await type_line(pilot, "plot4")
        await pilot.press("enter")
        await wait_for(pilot, lambda: reach(app, "plot4") is Reach.CONNECTED, timeout=15 + CONNECT,
                       what="plot4 connected")
        assert recorded_now(sim, "plot4") == [offered_now(sim, "plot4")]

    declined, trusted = decisions(journal)
    assert (declined["was"], declined["trusted"], declined["recorded"]) == ("new", False, [])
    assert (trusted["was"], trusted["trusted"]) == ("new", True)
    assert offered_now(sim, "plot4") in trusted["offered"]
