"""The simulator's fault actions as the demo console offers them."""

from __future__ import annotations

FAULTS = (
    ("crash", "crash: power loss, no notice"),
    ("shutdown", "shutdown: graceful power off"),
    ("poweron", "poweron: boot the host"),
    ("cable-out", "cable-out: link black-holed, host keeps running"),
    ("cable-in", "cable-in: plug the link back"),
    ("hang-xapi", "hang-xapi: xapi stops answering"),
    ("unhang-xapi", "unhang-xapi: xapi answers again"),
    ("reinstall", "reinstall: a fresh install, master of a pool of its own (host must be off)"),
)


def repairs(host: dict) -> tuple[str, ...]:
    """The actions that undo what is wrong with a host, read from its entry in the simulator's status."""
    return tuple(action for action, broken in (
        ("poweron", host.get("power") == "off"),
        ("cable-in", host.get("link") == "down"),
        ("unhang-xapi", host.get("xapi") == "hung"),
    ) if broken)


def menu_order(hosts: list[str], truth: dict[str, dict]) -> list[tuple[str, str, str, bool]]:
    """(action, host, title, undoes its fault) for every action on every host, repairs first."""
    fixes = {host: repairs(truth.get(host, {})) for host in hosts}
    rows = [(action, host, title, action in fixes[host]) for host in hosts for action, title in FAULTS]
    return sorted(rows, key=lambda row: not row[3])
