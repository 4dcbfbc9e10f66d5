"""What each simulated host serves (its meters), a slave cut off from its master but not
from the jump box (`sim ctl cut`), and `ping` in the simulated shell.

The counting rules are docs/simulator.md's "Load meters": pure World tests on its explicit
clock, then the shell, then one pool over real SSH read back through the control socket.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from poolterm.cli.main import main
from poolterm.sim.control import format_status, request
from poolterm.sim.runtime import HostView, LiveWorld
from poolterm.sim.shell import Io, Shell
from poolterm.sim.world import SimError, SimParams, World, XeAsk, XeDone, XeHang
from tests.helpers.cli import poolterm
from tests.helpers.ssh import connect

PARAMS = SimParams(fuse=0.5, boot=0.5, xapi_start=0.3, shutdown=0.3, emergency_retry=0.5)
T = 2.0
HA_PARAMS = SimParams(fuse=0.5, boot=0.5, xapi_start=0.3, shutdown=0.3, emergency_retry=0.5, ha_timeout=T,
                      ha_poll=0.4)


HOST_IS_SLAVE = (
    "You cannot make regular API calls directly on a supporter. Please pass API calls via the coordinator host.\n"
    "Master IP address: 127.77.0.11\n"
)


def meters(w: World, now: float) -> dict[str, tuple[int, dict[str, int], int]]:
    """(api_sessions, api_commands, https_requests) per host."""
    return {h["name"]: (h["api_sessions"], h["api_commands"], h["https_requests"]) for h in w.status(now)["hosts"]}


def sessions(w: World, now: float) -> dict[str, int]:
    return {name: m[0] for name, m in meters(w, now).items()}


def done(result) -> XeDone:
    assert isinstance(result, XeDone), result
    return result


def hs(w: World, name: str, now: float) -> dict:
    return next(h for h in w.status(now)["hosts"] if h["name"] == name)


# ---------------------------------------------------------------------------
# xapi sessions
# ---------------------------------------------------------------------------


def test_a_forwarded_command_is_a_session_on_the_master_and_a_local_one_on_the_host():
    w = World(3, params=PARAMS)
    assert meters(w, 0.0) == {name: (0, {}, 0) for name in ("plot1", "plot2", "plot3")}
    for _ in range(2):
        assert done(w.xe("plot2", ["pool-list", "params=uuid", "--minimal"], 1.0)).rc == 0
    assert done(w.xe("plot3", ["host-list", "--minimal"], 1.0)).rc == 0
    assert done(w.xe("plot1", ["host-list", "--minimal"], 1.0)).rc == 0  # on the master itself
    # Neverforward: the slave's own xapi answers, the master never hears of it.
    assert done(w.xe("plot2", ["host-is-in-emergency-mode"], 1.0)).stdout == "false\n"
    assert meters(w, 1.0) == {
        "plot1": (4, {"host-list": 2, "pool-list": 2}, 0),
        "plot2": (1, {"host-is-in-emergency-mode": 1}, 0),
        "plot3": (0, {}, 0),
    }


def test_a_command_blocked_on_a_lost_master_counts_once_when_a_master_answers_it():
    w = World(3, params=PARAMS)
    w.crash("plot1", 1.0)
    # The shell asks again at every change of the world: no attempt counts while it waits.
    for now in (1.0, 1.5, 2.0):
        assert isinstance(w.xe("plot2", ["pool-list", "--minimal"], now), XeHang)
    assert sessions(w, 2.0) == {"plot1": 0, "plot2": 0, "plot3": 0}
    # The local command still answers, on the slave.
    assert done(w.xe("plot2", ["host-is-in-emergency-mode"], 2.0)).stdout == "false\n"
    w.poweron("plot1", 3.0)
    up = 3.0 + PARAMS.boot + PARAMS.xapi_start + 0.01
    assert done(w.xe("plot2", ["pool-list", "--minimal"], up)).rc == 0
    assert meters(w, up)["plot1"] == (1, {"pool-list": 1}, 0)
    assert meters(w, up)["plot2"] == (1, {"host-is-in-emergency-mode": 1}, 0)


def test_calls_that_reach_no_xapi_count_on_nobody():
    w = World(3, params=PARAMS)
    assert done(w.xe("plot2", [], 0.5)).rc == 0  # usage: the thin client never connects
    w.hang_xapi("plot2", 1.0)
    assert isinstance(w.xe("plot2", ["host-is-in-emergency-mode"], 1.0), XeHang)
    w.unhang_xapi("plot2", 1.5)
    # A slave in emergency start-up refuses a forwarded command before it reaches any master.
    w.crash("plot1", 2.0)
    w.toolstack_restart("plot3", 2.0)
    emergency = 2.0 + PARAMS.xapi_start + 0.01
    assert hs(w, "plot3", emergency)["emergency"] is True
    assert done(w.xe("plot3", ["pool-list"], emergency)).rc == 1
    # Over TCP to a host that does not answer: no xapi reached.
    assert done(w.xe("plot2", ["-s", "127.77.0.11", "pool-list"], emergency)).stderr.startswith("Unable to contact")
    assert sessions(w, emergency) == {"plot1": 0, "plot2": 0, "plot3": 0}


def test_a_prompt_and_its_answer_are_one_session_and_errors_count_where_answered():
    w = World(3, params=PARAMS)
    u = w.host("plot3").uuid
    assert isinstance(w.xe("plot2", ["host-forget", f"uuid={u}"], 1.0), XeAsk)
    assert done(w.xe("plot2", ["host-forget", f"uuid={u}"], 1.0, reply="no")).rc == 0
    # Errors the CLI server gives before dispatch are the local xapi's answers.
    assert done(w.xe("plot2", ["no-such-command"], 1.0)).rc == 1
    assert done(w.xe("plot2", ["pool-join"], 1.0)).rc == 1  # a required parameter missing
    # Over TCP (`-s`) the addressed xapi answers, a slave with HOST_IS_SLAVE.
    refused = done(w.xe("plot2", ["-s", "plot3", "pool-list"], 1.0))
    assert (refused.stderr, refused.rc) == (HOST_IS_SLAVE, 1)
    assert meters(w, 1.0) == {
        "plot1": (1, {"host-forget": 1}, 0),
        "plot2": (2, {"(unknown)": 1, "pool-join": 1}, 0),
        "plot3": (1, {"pool-list": 1}, 0),
    }


# ---------------------------------------------------------------------------
# HTTPS requests
# ---------------------------------------------------------------------------


def test_https_counts_on_the_target_when_a_running_or_hung_xapi_takes_the_connection():
    w = World(5, params=PARAMS)
    assert w.xapi_port("plot2", "plot1", 1.0) == "ok"
    assert w.xapi_port("plot3", "127.77.0.11", 1.0) == "ok"
    w.hang_xapi("plot4", 1.0)
    assert w.xapi_port("plot2", "plot4", 1.0) == "timeout"  # accepted in front of xapi, never answered
    w.shutdown("plot5", 1.0)
    assert w.xapi_port("plot2", "plot5", 1.0) == "refused"  # xapi already stopped
    w.crash("plot3", 1.0)
    assert w.xapi_port("plot2", "plot3", 1.0) == "timeout"  # black hole: nothing accepted
    assert w.xapi_port("plot2", "10.9.9.9", 1.0) == "timeout"
    assert {name: m[2] for name, m in meters(w, 1.0).items()} == {
        "plot1": 2, "plot2": 0, "plot3": 0, "plot4": 1, "plot5": 0,
    }
    assert sessions(w, 1.0) == {name: 0 for name in w.names}  # a bare HTTPS request opens no session


def test_the_meters_outlive_a_reinstall():
    w = World(3, params=PARAMS)
    done(w.xe("plot3", ["host-is-in-emergency-mode"], 1.0))
    assert w.xapi_port("plot1", "plot3", 1.0) == "ok"
    w.shutdown("plot3", 2.0)
    w.reinstall("plot3", 3.0)
    w.poweron("plot3", 3.0)
    up = 3.0 + PARAMS.boot + PARAMS.xapi_start + 0.01
    assert hs(w, "plot3", up)["installs"] == 2
    assert meters(w, up)["plot3"] == (1, {"host-is-in-emergency-mode": 1}, 1)
    done(w.xe("plot3", ["pool-list", "--minimal"], up))  # now its own master
    assert meters(w, up)["plot3"] == (2, {"host-is-in-emergency-mode": 1, "pool-list": 1}, 1)


# ---------------------------------------------------------------------------
# cut and uncut
# ---------------------------------------------------------------------------


def test_a_slave_cut_from_its_master_hangs_its_forwarded_xe_and_reaches_everyone_else():
    w = World(3, params=PARAMS)
    w.cut("plot3", "plot1", 1.0)
    assert {h["name"]: h["cut_from"] for h in w.status(1.0)["hosts"]} == {
        "plot1": ["plot3"], "plot2": [], "plot3": ["plot1"],
    }
    assert isinstance(w.xe("plot3", ["pool-list"], 1.0), XeHang)
    assert done(w.xe("plot3", ["host-is-in-emergency-mode"], 1.0)).stdout == "false\n"
    assert w.xapi_port("plot3", "plot1", 1.0) == "timeout" and w.xapi_port("plot1", "plot3", 1.0) == "timeout"
    assert w.xapi_port("plot3", "plot2", 1.0) == "ok"
    assert w.ping("plot3", "plot1", 1.0) == ("127.77.0.11", False)
    assert w.ping("plot1", "plot3", 1.0) == ("127.77.0.13", False)
    assert w.ping("plot3", "plot2", 1.0) == ("127.77.0.12", True)
    assert done(w.xe("plot2", ["pool-list", "--minimal"], 1.0)).rc == 0
    # The jump box's SSH is not on the pool's network: the relay's face is untouched.
    assert w.net_face("plot3")[0] == "up" and w.net_face("plot1")[0] == "up"
    # The hung call counted nowhere; plot3's own question and plot2's call did.
    assert meters(w, 1.0) == {
        "plot1": (1, {"pool-list": 1}, 0), "plot2": (0, {}, 1), "plot3": (1, {"host-is-in-emergency-mode": 1}, 0),
    }
    w.uncut("plot1", "plot3", 2.0)
    assert hs(w, "plot3", 2.0)["cut_from"] == []
    assert done(w.xe("plot3", ["pool-list", "--minimal"], 2.0)).rc == 0
    assert w.ping("plot3", "plot1", 2.0) == ("127.77.0.11", True)


def test_a_cut_slave_that_restarts_cannot_say_hello_until_uncut():
    w = World(3, params=PARAMS)
    w.cut("plot3", "plot1", 1.0)
    w.toolstack_restart("plot3", 1.0)
    started = 1.0 + PARAMS.xapi_start + 0.01
    h = hs(w, "plot3", started)
    assert (h["emergency"], h["emergency_error"]) == (True, "INTERNAL_ERROR")
    w.uncut("plot3", "plot1", 2.0)
    back = 2.0 + PARAMS.emergency_retry + 0.01
    h = hs(w, "plot3", back)
    assert (h["emergency"], h["role"], h["master_address"]) == (False, "slave", "127.77.0.11")


@pytest.mark.parametrize(
    "first, then, message",
    [
        (("plot3", "plot1"), ("cut", "plot1", "plot3"), "plot1 and plot3 are already cut apart"),
        (None, ("cut", "plot3", "plot3"), "plot3 cannot be cut from itself"),
        (None, ("cut", "plot3", "plot9"), "no host named 'plot9'"),
        (None, ("uncut", "plot3", "plot1"), "plot3 and plot1 are not cut apart"),
    ],
)
def test_cut_mistakes_are_one_line_errors_and_change_nothing(first, then, message):
    w = World(3, params=PARAMS)
    if first:
        w.cut(*first, 1.0)
    version = w.version
    action, host, peer = then
    with pytest.raises(SimError, match=message) as caught:
        getattr(w, action)(host, peer, 1.0)
    assert "\n" not in str(caught.value)
    assert w.version == version


def test_under_ha_a_pair_cut_apart_is_split_like_a_pulled_cable_and_the_higher_uuid_fences():
    w = World(2, params=HA_PARAMS, ha=True)
    low, high = sorted(("plot1", "plot2"), key=lambda n: w.host(n).uuid)
    w.cut("plot1", "plot2", 1.0)
    assert hs(w, high, 1.0 + T - 0.1)["ha"]["fences"] == 0
    fenced = 1.0 + T + T / 10
    assert (hs(w, high, fenced)["ha"]["fences"], hs(w, low, fenced)["ha"]["fences"]) == (1, 0)


def test_under_ha_of_a_cut_pair_seen_by_a_third_host_only_the_one_without_the_lowest_uuid_fences():
    """xha merges views that disagree: it drops the host whose heartbeat domain is smallest,
    on a tie the one whose domain lacks the lower index, until all left hear each other."""
    w = World(3, params=HA_PARAMS, ha=True)
    by_uuid = sorted(w.names, key=lambda n: w.host(n).uuid)
    a, b = by_uuid[0], by_uuid[1]  # cut the two lowest uuids apart; the third hears both
    w.cut(a, b, 1.0)
    fenced = 1.0 + T + T / 10
    fences = {n: hs(w, n, fenced)["ha"]["fences"] for n in w.names}
    assert fences == {a: 0, b: 1, by_uuid[2]: 0}
    assert "SM: winner_index = 0" in w.read_file(a, "/var/log/xha.log")
    # Back from its reboot, still cut from a live host: its boot join cannot complete.
    waiting = fenced + HA_PARAMS.boot + HA_PARAMS.xapi_start + T / 10
    h = hs(w, b, waiting)
    assert (h["emergency"], h["emergency_error"]) == (True, "HA_HEARTBEAT_DAEMON_STARTUP_FAILED")
    w.uncut(a, b, waiting + 1.0)
    assert b in hs(w, a, waiting + 1.01)["ha"]["liveset"]
    later = waiting + 5.0
    assert all(hs(w, n, later)["ha"]["fences"] == fences[n] for n in w.names)


# ---------------------------------------------------------------------------
# ping in the shell
# ---------------------------------------------------------------------------


async def run(live: LiveWorld, source: str, host: str) -> tuple[int, str, str]:
    out: list[str] = []
    err: list[str] = []
    status = await Shell(HostView(live, host), Io(out.append, err.append)).run(source)
    return status, "".join(out), "".join(err)


def answered(target: str, address: str) -> str:
    named = target if target == address else f"{target} ({address})"
    return (
        f"PING {target} ({address}) 56(84) bytes of data.\n"
        f"64 bytes from {named}: icmp_seq=1 ttl=64 time=0.045 ms\n"
        "\n"
        f"--- {target} ping statistics ---\n"
        "1 packets transmitted, 1 received, 0% packet loss, time 0ms\n"
        "rtt min/avg/max/mdev = 0.045/0.045/0.045/0.000 ms\n"
    )


def lost(target: str, address: str) -> str:
    return (
        f"PING {target} ({address}) 56(84) bytes of data.\n"
        "\n"
        f"--- {target} ping statistics ---\n"
        "1 packets transmitted, 0 received, 100% packet loss, time 0ms\n"
        "\n"
    )


async def test_ping_is_answered_by_a_reachable_kernel_whatever_its_xapi_and_costs_xapi_nothing():
    w = World(4, params=PARAMS)
    live = LiveWorld(w)
    live.act("hang_xapi", "plot3")
    live.act("toolstack_restart", "plot4")  # xapi starting (the clock stands still: it stays so)
    assert w.systemctl_xapi("plot4") == "activating"
    before = w.status(live.now())["hosts"]
    assert await run(live, "ping -c 1 -W 1 127.77.0.11", "plot2") == (0, answered("127.77.0.11", "127.77.0.11"), "")
    assert await run(live, "ping -W1 -c1 plot3", "plot2") == (0, answered("plot3", "127.77.0.13"), "")
    assert await run(live, "ping -c 1 -W 1 plot4", "plot2") == (0, answered("plot4", "127.77.0.14"), "")
    assert await run(live, "ping -c 1 -W 1 nowhere", "plot2") == (2, "", "ping: unknown host nowhere\n")
    status, _, err = await run(live, "ping -c 2 -W 1 plot1", "plot2")  # more than one packet: refused
    assert status == 2 and "unsupported in the poolterm simulator" in err
    after = w.status(live.now())["hosts"]
    assert [(h["api_sessions"], h["https_requests"]) for h in after] == [
        (h["api_sessions"], h["https_requests"]) for h in before
    ]


async def test_ping_loses_its_packet_after_the_wait_to_a_host_off_the_network_or_cut_apart():
    w = World(4, params=PARAMS)
    live = LiveWorld(w)
    live.act("crash", "plot4")
    live.act("cut", "plot2", "plot1")
    loop = asyncio.get_running_loop()
    started = loop.time()
    # Both wait the same second on the shell's clock, side by side.
    results = await asyncio.gather(
        run(live, "ping -c 1 -W 1 127.77.0.14", "plot2"),
        run(live, "ping -c 1 -W 1 plot1", "plot2"),
        run(live, "ping -c 1 -W 1 plot3", "plot2"),
    )
    elapsed = loop.time() - started
    assert results == [
        (1, lost("127.77.0.14", "127.77.0.14"), ""),
        (1, lost("plot1", "127.77.0.11"), ""),
        (0, answered("plot3", "127.77.0.13"), ""),
    ]
    assert 0.9 <= elapsed < 1.9


async def test_a_waiting_ping_dies_with_its_timeout():
    w = World(2, params=PARAMS)
    live = LiveWorld(w)
    live.act("cable_out", "plot2")
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await run(live, "timeout 0.2 ping -c 1 -W 5 plot2", "plot1") == (
        124, "PING plot2 (127.77.0.12) 56(84) bytes of data.\n", "",
    )
    assert loop.time() - started < 1.0


# ---------------------------------------------------------------------------
# over real SSH, counted by the running simulator
# ---------------------------------------------------------------------------


def test_ctl_help_tells_how_to_cut_and_what_status_counts(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["sim", "ctl", "--help"])
    assert exited.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for text in ("cut HOST PEER", "uncut HOST PEER", "PATH|LABEL|PEER", "the xapi sessions and HTTPS requests"):
        assert text in out


async def test_the_running_simulator_counts_what_ssh_clients_ask_and_cuts_a_slave_from_its_master(sim):
    master = sim.address_of("plot1")
    curl = f"curl -s -k -m 1 -o /dev/null -w '%{{http_code}}' https://{master}/"
    async with connect(sim, "plot2") as conn:
        r = await conn.run(f"xe pool-list params=uuid --minimal; xe host-is-in-emergency-mode; {curl}")
        assert r.exit_status == 0 and r.stdout.endswith("false\n200")
    async with connect(sim, "plot3") as conn:
        assert (await conn.run("xe host-list --minimal")).exit_status == 0
    truth = await request(sim.control_path, {"action": "status"})
    counts = {h["name"]: (h["api_sessions"], h["api_commands"], h["https_requests"]) for h in truth["hosts"]}
    assert counts["plot1"] == (2, {"host-list": 1, "pool-list": 1}, 1)
    assert counts["plot2"] == (1, {"host-is-in-emergency-mode": 1}, 0)
    assert all(counts[n] == (0, {}, 0) for n in sim.world.names[2:])
    assert {h["name"]: h["api_sessions"] for h in sim.status()["hosts"]}["plot1"] == 2
    row = next(line.split() for line in format_status(truth).splitlines() if line.startswith("plot1 "))
    assert row[-2:] == ["2", "1"]  # SESSIONS, HTTPS

    # Cut plot3 from its master through the control socket; the jump box still reaches it.
    answer = await request(sim.control_path, {"action": "cut", "host": "plot3", "peer": "plot1"})
    assert answer == {"ok": True, "action": "cut", "host": "plot3", "peer": "plot1"}
    refused = await request(sim.control_path, {"action": "cut", "host": "plot1", "peer": "plot3"})
    assert refused == {"ok": False, "error": "plot1 and plot3 are already cut apart"}
    unknown = await request(sim.control_path, {"action": "cut", "host": "plot3", "peer": "plot9"})
    assert unknown == {"ok": False, "error": "unknown peer 'plot9'"}
    async with connect(sim, "plot3") as conn:
        # Side by side on one connection: each waits its one second at the same time.
        name, xe, ping_master, curl_master, ping_peer = await asyncio.gather(
            conn.run("hostname"), conn.run("timeout 1 xe pool-list"), conn.run(f"ping -c 1 -W 1 {master}"),
            conn.run(curl), conn.run(f"ping -c 1 -W 1 {sim.address_of('plot2')}"),
        )
    assert name.stdout == "plot3\n"
    assert xe.exit_status == 124
    assert (ping_master.exit_status, curl_master.stdout) == (1, "000")
    assert ping_peer.exit_status == 0
    truth = await request(sim.control_path, {"action": "status"})
    plot1 = truth["hosts"][0]
    assert (plot1["api_sessions"], plot1["https_requests"], plot1["cut_from"]) == (2, 1, ["plot3"])
    assert "CUT" in format_status(truth).splitlines()[0]

    # The operator's CLI: `poolterm sim ctl --dir DIR uncut HOST PEER`, and its one-line mistakes.
    d = str(sim.directory)
    assert await poolterm("sim", "ctl", "--dir", d, "uncut", "plot3", "plot1") == (
        0, "plot3 and plot1: uncut done\n", "",
    )
    status, _, err = await poolterm("sim", "ctl", "--dir", d, "cut", "plot3", "plot3")
    assert (status, err) == (2, "poolterm: plot3 cannot be cut from itself\n")
    status, _, err = await poolterm("sim", "ctl", "--dir", d, "cut", "plot3")
    assert (status, err) == (2, "poolterm: sim ctl cut needs a HOST and a PEER\n")
    status, out, _ = await poolterm("sim", "ctl", "--dir", d, "status", "--json")
    assert status == 0 and json.loads(out)["hosts"][2]["cut_from"] == []
    async with connect(sim, "plot3") as conn:
        assert (await conn.run("timeout 2 xe pool-list params=uuid --minimal")).exit_status == 0
