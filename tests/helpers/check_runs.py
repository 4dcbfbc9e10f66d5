"""`poolterm check` as the tests of issue #16 run it: timed, in process or as the real command."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from pathlib import Path

from poolterm.cli.check import check
from poolterm.diagnosis.diagnose import diagnose
from poolterm.probing.watch import Watcher
from poolterm.transport.ssh import Connections
from tests.helpers.cli import poolterm


def with_timeouts(inventory, *, connect: float):
    """``inventory`` with SSH's connect timeout set to ``connect`` seconds."""
    return replace(inventory, ssh=replace(inventory.ssh, connect_timeout=connect))


async def timed_check(inventory, timeout: float, *, workers: int = 1):
    """``(seconds, diagnosis)`` of one in-process `poolterm check` round on every pool of ``inventory``."""
    started = time.monotonic()
    diagnosis = await check(inventory, list(inventory.pools), timeout, workers=workers)
    return time.monotonic() - started, diagnosis


async def waited_check(inventory, timeout: float):
    """The diagnosis `poolterm check` gave before it concluded early: every round waited out to its end."""
    hosts = inventory.hosts()
    connections = Connections(hosts, inventory.ssh)
    try:
        observations = await Watcher(hosts, connections, interval=0, timeout=timeout).probe_all()
    finally:
        await connections.close()
    return diagnose(inventory.pools, observations, asyncio.get_running_loop().time())


async def check_cli(hosts_yaml: Path, *args: str, timeout: float = 60):
    """``(exit status, stdout, stderr, seconds)`` of the real `poolterm check -i hosts_yaml ARGS`."""
    started = time.monotonic()
    status, out, err = await poolterm("check", "-i", str(hosts_yaml), *args, timeout=timeout,
                                      env={"HOME": str(hosts_yaml.parent)})
    return status, out, err, time.monotonic() - started


async def check_json(hosts_yaml: Path, *args: str) -> tuple[int, dict]:
    """The exit status and the JSON of `poolterm check --json`; nothing on stderr."""
    status, out, err, _ = await check_cli(hosts_yaml, "--json", *args)
    assert err == "", err
    return status, json.loads(out)


def verdicts(data: dict) -> dict[str, str]:
    return {pool["name"]: pool["verdict"] for pool in data["pools"]}


def shape(pool) -> dict:
    """What a pool's diagnosis says, without the timings in its words: for comparing two rounds."""
    return {
        "verdict": pool.verdict, "master": pool.master,
        "findings": [(f.kind, f.hosts, f.playbook, [c.name for c in f.candidates]) for f in pool.findings],
        "hosts": [(h.name, h.reach, h.role, h.believed_master, h.xapi, h.emergency_flag) for h in pool.hosts],
    }


def json_shape(pool: dict) -> dict:
    """:func:`shape` of a pool as `poolterm check --json` prints it."""
    return {
        "verdict": pool["verdict"], "master": pool["master"],
        "findings": [(f["kind"], f["hosts"], f["playbook"], [c["name"] for c in f["candidates"]])
                     for f in pool["findings"]],
        "hosts": [(h["name"], h["reach"], h["role"], h["believed_master"], h["xapi"], h["emergency_flag"])
                  for h in pool["hosts"]],
    }


def children_alive(pids: list[int]) -> list[int]:
    """The ``pids`` that still run (a zombie has ended: only its parent has not reaped it)."""
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.append(pid)
    return alive


async def wait_for(condition, seconds: float, what: str):
    """Poll ``condition()`` until it returns something true, for at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while not (value := condition()):
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        await asyncio.sleep(0.02)
    return value

