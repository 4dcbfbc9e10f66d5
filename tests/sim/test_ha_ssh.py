"""HA over real SSH and the control socket: local.db and ha_query_liveset as an operator
reads them on a host, the statefile faults and HA's ground truth, and `poolterm sim --ha`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from xml.sax.saxutils import unescape

import pytest

from poolterm.sim.control import format_status, request
from poolterm.sim.ha import QUERY_LIVESET
from poolterm.sim.runtime import Simulator
from poolterm.sim.world import SimParams
from poolterm.xha import parse_liveset, parse_local_db
from tests.helpers.cli import RunningSim, poolterm
from tests.helpers.ssh import connect
from tests.helpers.truth import host_status

T = 1.5
PARAMS = SimParams(fuse=0.3, boot=0.3, xapi_start=0.2, shutdown=0.2, emergency_retry=0.3, ha_timeout=T, ha_poll=0.3)
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture
async def ha_sim(tmp_path: Path):
    async with Simulator(4, tmp_path / "sim", params=PARAMS, ha=True) as sim:
        yield sim


async def ssh(sim: Simulator, host: str, command: str):
    async with connect(sim, host) as conn:
        return await conn.run(command)


def liveset_shape(n: int) -> list[str]:
    """ha_query_liveset's lines for n hosts, as calldaemon.c's printfs write them (regexes)."""
    def uuid_lines(indent: int) -> list[str]:
        return [rf"{' ' * indent}<HostID>{UUID}</HostID>", rf"{' ' * indent}<HostIndex>\d+</HostIndex>"]

    lines = [re.escape('<?xml version="1.0" encoding="UTF-8"?>'), re.escape('<ha_liveset_info version="1.0">'),
             "  <status>Online</status>", "  <localhost>", *uuid_lines(4), "  </localhost>"]
    for _ in range(n):
        lines += ["  <host>", *uuid_lines(4)]
        lines += [f"    <{tag}>(TRUE|FALSE)</{tag}>"
                  for tag in ("liveness", "master", "statefile_access", "statefile_corrupted", "excluded")]
        lines.append("  </host>")
    lines.append("  <raw_status_on_local_host>")
    for kind in ("statefile", "heartbeat", "Xapi_healthcheck"):
        lines += [rf"    <{kind}_latency{s}>-?\d+</{kind}_latency{s}>" for s in ("", "_max", "_min")]
    for _ in range(n):
        lines += ["    <host_raw_data>", *uuid_lines(6)]
        lines += [rf"      <{t}>-?\d+</{t}>" for t in ("time_since_last_update_on_statefile",
                                                      "time_since_last_heartbeat",
                                                      "time_since_xapi_restart_first_attempted")]
        lines.append("      <xapi_error_string></xapi_error_string>")
        for tag in ("heartbeat_active_list_on_heartbeat", "heartbeat_active_list_on_statefile",
                    "statefile_active_list_on_heartbeat", "statefile_active_list_on_statefile"):
            lines += [f"      <{tag}>", f"(          {UUID}\n)*      </{tag}>"]
        lines.append("    </host_raw_data>")
    lines += ["  </raw_status_on_local_host>", "  <timeout>"]
    lines += [rf"    <{t}>\d+</{t}>" for t in ("T1", "T2", "T3", "Wh", "Ws")]
    lines += ["  </timeout>", "  <warning_on_local_host>"]
    lines += [f"    <{t}>(TRUE|FALSE)</{t}>" for t in ("statefile_lost", "heartbeat_approaching_timeout",
                                                      "statefile_approaching_timeout",
                                                      "Xapi_healthcheck_approaching_timeout", "network_bonding_error")]
    lines += ["  </warning_on_local_host>", "</ha_liveset_info>"]
    return lines


def liveness(text: str) -> dict[str, bool]:
    entry = r"  <host>\n    <HostID>([^<]+)</HostID>\n    <HostIndex>\d+</HostIndex>\n    <liveness>(\w+)</liveness>"
    return {u: v == "TRUE" for u, v in re.findall(entry, text)}


async def test_local_db_over_ssh_is_one_line_of_rows(ha_sim):
    done = await ssh(ha_sim, "plot3", "cat /var/lib/xcp/local.db")
    assert done.exit_status == 0 and "\n" not in done.stdout
    assert re.fullmatch(r'<config>(<row key="[^"]*" value="[^"]*"/>)+</config>', done.stdout)
    rows = {k: unescape(v, {"&apos;": "'"}) for k, v in re.findall(r'key="([^"]*)" value="([^"]*)"', done.stdout)}
    truth = ha_sim.status()
    peers = sorted((h["uuid"], h["address"]) for h in truth["hosts"])
    assert rows["ha.armed"] == "true" and rows["ha_base_t"] == "1.5" and rows["ha_cluster_stack"] == "xhad"
    assert rows["ha_peers"] == "(" + " ".join(f"('{u}' '{a}')" for u, a in peers) + ")"
    local = parse_local_db(done.stdout)  # what poolterm itself reads from it
    assert (local.armed, local.timeout) == (True, T)


async def test_ha_query_liveset_has_xhas_shape_and_sees_a_crash_after_t(ha_sim):
    done = await ssh(ha_sim, "plot2", QUERY_LIVESET)
    assert (done.exit_status, done.stderr) == (0, "")
    text = done.stdout
    assert re.fullmatch("\n".join(liveset_shape(4)) + "\n", text), text
    truth = ha_sim.status()
    uuids = sorted(h["uuid"] for h in truth["hosts"])
    assert re.findall(r"  <host>\n    <HostID>([^<]+)", text) == uuids
    assert re.search(r"<localhost>\n    <HostID>([^<]+)</HostID>\n    <HostIndex>(\d+)", text).groups() == (
        host_status(truth, "plot2")["uuid"], str(uuids.index(host_status(truth, "plot2")["uuid"])))
    assert liveness(text) == {u: True for u in uuids}
    assert "<T1>1500</T1>" in text and "<Ws>16500</Ws>" in text

    await ha_sim.ctl("crash", "plot4")
    await ha_sim.wait_until(lambda s: "plot4" not in host_status(s, "plot2")["ha"]["liveset"], 10)
    done = await ssh(ha_sim, "plot2", f"timeout 5 {QUERY_LIVESET}")
    dead = host_status(ha_sim.status(), "plot4")["uuid"]
    assert liveness(done.stdout) == {u: u != dead for u in uuids}
    seen = parse_liveset(done.stdout)  # what poolterm itself reads from it
    assert seen is not None and seen.online and not seen.statefile_lost
    assert seen.live == frozenset(uuids) - {dead}
    assert seen.lock_holder == host_status(ha_sim.status(), "plot1")["uuid"]


async def test_ha_query_liveset_exits_14_where_xhad_is_not_running(ha_sim):
    done = await ssh(ha_sim, "plot3", "xe host-emergency-ha-disable --force; "
                                      f"{QUERY_LIVESET}; echo status $?")
    assert (done.stdout, done.stderr) == ("status 14\n", "")
    assert host_status(ha_sim.status(), "plot3")["ha"]["xhad"] is False


async def test_statefile_faults_through_the_control_socket_and_the_status_json(ha_sim):
    answer = await request(ha_sim.control_path, {"action": "statefile-out", "host": "plot3"})
    assert answer == {"ok": True, "action": "statefile-out", "host": "plot3"}
    again = await request(ha_sim.control_path, {"action": "statefile-out", "host": "plot3"})
    assert again == {"ok": False, "error": "plot3's statefile path is already out"}
    status = await ha_sim.wait_until(lambda s: host_status(s, "plot3")["ha"]["fences"] == 1, 10)
    assert status["ha"] == {"enabled": True, "lock": "plot1", "timeout": T}
    status = await ha_sim.wait_until(
        lambda s: host_status(s, "plot3")["emergency_error"] == "HA_HOST_CANNOT_ACCESS_STATEFILE", 10)
    ha = host_status(status, "plot3")["ha"]
    assert ha == {"armed": True, "xhad": False, "statefile": "down", "fences": 1, "excluded": False, "liveset": []}
    assert "statefile-out,fenced x1" in format_status(status)
    answer = await request(ha_sim.control_path, {"action": "statefile-in", "host": "plot3"})
    assert answer["ok"] is True
    status = await ha_sim.wait_until(lambda s: not host_status(s, "plot3")["emergency"], 10)
    assert host_status(status, "plot3")["ha"]["liveset"] == ["plot1", "plot2", "plot3", "plot4"]
    assert host_status(status, "plot3")["role"] == "slave"
    json.dumps(status)


async def test_poolterm_sim_with_ha_on_the_command_line(tmp_path):
    sim = await RunningSim.start(tmp_path / "d", "--hosts", "3", "--ha", "--ha-timeout", "2", "--fuse", "0.5",
                                 "--boot", "0.5")
    try:
        assert "HA on, timeout 2 s" in sim.banner.splitlines()[0]
        d = str(sim.dir)
        status, out, err = await poolterm("sim", "ctl", "--dir", d, "statefile-out", "plot2")
        assert (status, out, err) == (0, "plot2: statefile-out done\n", "")
        status, out, _ = await poolterm("sim", "ctl", "--dir", d, "status", "--json")
        truth = json.loads(out)
        assert truth["ha"] == {"enabled": True, "lock": "plot1", "timeout": 2.0}
        assert host_status(truth, "plot2")["ha"]["statefile"] == "down"
        status, out, _ = await poolterm("sim", "ctl", "--dir", d, "status")
        header, *rows = out.splitlines()
        assert header.split()[-1] == "HA"
        assert next(r for r in rows if r.startswith("plot1")).split()[-1] == "armed,xhad,lock"
        status, _, err = await poolterm("sim", "ctl", "--dir", d, "statefile-in", "plot1")
        assert status == 2 and err == "poolterm: plot1's statefile path is already in\n"
    finally:
        assert await sim.stop() == 0


async def test_ha_timeout_must_be_positive(tmp_path):
    status, _, err = await poolterm("sim", "--dir", str(tmp_path), "--ha", "--ha-timeout", "0")
    assert status == 2 and err == "poolterm: --ha-timeout must be more than 0\n"
