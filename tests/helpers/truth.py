"""The simulated pool by its ground truth (`Simulator.status()`): a host's record, and the pool's health."""

from __future__ import annotations


def host_status(status: dict, name: str) -> dict:
    """Host ``name``'s record in the simulator's status."""
    return next(h for h in status["hosts"] if h["name"] == name)


def host_field(status: dict, name: str, key: str):
    """One field of host ``name``'s record in the simulator's status."""
    return host_status(status, name)[key]


def healthy_truth(status: dict, master: str, absent: tuple[str, ...] = ()) -> list[str]:
    """What is wrong with the pool by the simulator's ground truth (empty: one master, everyone follows it)."""
    problems = []
    masters = [h["name"] for h in status["hosts"] if h["role"] == "master"]
    if masters != [master]:
        problems.append(f"running masters: {masters}")
    address = host_field(status, master, "address")
    for host in status["hosts"]:
        if host["name"] in absent:
            if host["power"] != "off":
                problems.append(f"{host['name']} should be off, is {host['power']}")
            continue
        if host["power"] != "on" or host["xapi"] != "running" or host["emergency"]:
            problems.append(f"{host['name']}: power {host['power']}, xapi {host['xapi']}, "
                            f"emergency {host['emergency']}")
        elif host["name"] != master and (host["role"] != "slave" or host["master_address"] != address):
            problems.append(f"{host['name']}: role {host['role']} of {host['master_address']}")
    database = next((m for m in status["masters"] if m["name"] == master), {"db_hosts": []})
    listed = {h["name"] for h in database["db_hosts"]}
    members = {h["name"] for h in status["hosts"] if h["name"] not in absent}
    if listed != members:
        problems.append(f"{master}'s database lists {sorted(listed)}, not {sorted(members)}")
    return problems


async def wait_host(sim, name: str, timeout: float = 15, **fields) -> dict:
    """Wait until host `name` shows every `field=value` in ground truth."""
    status = await sim.wait_until(
        lambda s: all(host_status(s, name).get(k) == v for k, v in fields.items()), timeout
    )
    return host_status(status, name)


async def assert_healthy(sim, master: str, absent: tuple[str, ...] = ()) -> None:
    """Ground truth settles within a moment of the last verification; wait for it, then say what is wrong."""
    try:
        await sim.wait_until(lambda s: not healthy_truth(s, master, absent), 5)
    except TimeoutError:
        pass
    assert healthy_truth(sim.status(), master, absent) == []
