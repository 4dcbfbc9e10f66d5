"""The simulated pool's health by its ground truth, shared by the console and end-to-end tests."""

from __future__ import annotations


def host_field(status: dict, name: str, key: str):
    return next(h[key] for h in status["hosts"] if h["name"] == name)


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
