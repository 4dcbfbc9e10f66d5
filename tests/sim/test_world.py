"""The pure world: faults, time, xapi start-up, emergency mode, the recovery commands.

Every test drives the world through its public methods with explicit `now` values.
"""

import json
import time

import pytest

from poolterm.sim.world import SimError, SimParams, World, XeAsk, XeDone, XeHang, default_addresses

UNREACHABLE_TEXT = (
    "The server failed to handle your request, due to an internal error. "
    "The given message may give details useful for debugging the problem.\n"
    'message: Unix.Unix_error(Unix.EHOSTUNREACH, "connect", "")\n'
)
UNKNOWN_TO_MASTER = (
    "The coordinator says the server is not known to it. Is the server in the coordinator's database "
    "and pointing to the correct coordinator? Are all servers using the same pool secret?\n"
)


def hs(w: World, name: str, now: float) -> dict:
    return next(h for h in w.status(now)["hosts"] if h["name"] == name)


def done(result) -> XeDone:
    assert isinstance(result, XeDone), result
    return result


def ok(w: World, name: str, argv: list[str], now: float) -> str:
    r = done(w.xe(name, argv, now))
    assert r.rc == 0, r
    return r.stdout


def uuid_of(w: World, name: str) -> str:
    return w.host(name).uuid


def addr(w: World, name: str) -> str:
    return w.host(name).address


def masters(w: World, now: float) -> list[str]:
    return [m["name"] for m in w.status(now)["masters"]]


def points_at(w: World, now: float) -> dict[str, str | None]:
    return {h["name"]: h["master_address"] for h in w.status(now)["hosts"]}


# ---------------------------------------------------------------------------
# construction and ground truth
# ---------------------------------------------------------------------------


def test_default_addresses_are_stable_distinct_loopback():
    a = default_addresses(600)
    assert a[:3] == ["127.77.0.11", "127.77.0.12", "127.77.0.13"]
    assert len(set(a)) == 600
    assert all(x.startswith("127.") and not x.endswith((".0", ".255")) for x in a)
    assert default_addresses(600) == a


def test_initial_pool_plot1_master_all_running():
    w = World(8)
    s = w.status(0.0)
    assert w.names == [f"plot{i}" for i in range(1, 9)]
    assert [m["name"] for m in s["masters"]] == ["plot1"]
    assert len(s["masters"][0]["db_hosts"]) == 8
    assert s["masters"][0]["pool_name"] == "lab"
    p1 = s["hosts"][0]
    assert p1["pool_conf"] == "master" and p1["role"] == "master" and p1["master_address"] == "127.77.0.11"
    for h in s["hosts"][1:]:
        assert h["pool_conf"] == "slave:127.77.0.11"
        assert (h["role"], h["xapi"], h["power"], h["link"], h["emergency"]) == ("slave", "running", "on", "up", False)
    assert len({h["ptoken_sha256"] for h in s["hosts"]}) == 1
    json.dumps(s)


def test_same_seed_same_uuids_other_seed_other_uuids():
    assert World(3, seed=7).status(0)["hosts"] == World(3, seed=7).status(0)["hosts"]
    assert World(3, seed=7).host("plot1").uuid != World(3, seed=8).host("plot1").uuid


def test_bad_construction_and_unknown_host_are_sim_errors():
    with pytest.raises(SimError):
        World(0)
    with pytest.raises(SimError):
        World(2, addresses=["127.0.0.2"])
    with pytest.raises(SimError):
        World(2, addresses=["127.0.0.2", "127.0.0.2"])
    w = World(2)
    with pytest.raises(SimError, match="plot9"):
        w.host("plot9")
    with pytest.raises(SimError):
        w.xe("plot9", ["host-list"], 0)
    assert w.by_address("127.77.0.12") == "plot2"
    assert w.by_address("10.0.0.1") is None


def test_files_on_a_host():
    w = World(3, pool_name="prod")
    u = uuid_of(w, "plot2")
    assert w.read_file("plot2", "/etc/xensource/pool.conf") == "slave:127.77.0.11"
    inv = w.read_file("plot2", "/etc/xensource-inventory")
    assert f"INSTALLATION_UUID='{u}'\n" in inv
    assert "MANAGEMENT_INTERFACE='xenbr0'\n" in inv and "CONTROL_DOMAIN_UUID='" in inv
    assert w.read_file("plot1", "/etc/xensource/ptoken") == w.read_file("plot3", "/etc/xensource/ptoken")
    assert w.read_file("plot1", "/var/run/xapi_init_complete.cookie") == ""
    assert w.read_file("plot1", "/var/run/xapi_startup.cookie") == ""
    assert w.read_file("plot1", "/etc/xensource/xhad.conf") is None
    assert w.read_file("plot1", "/etc/nope") is None


def test_construct_1000_hosts_fast_and_calls_are_not_quadratic():
    t0 = time.perf_counter()
    w = World(1000)
    assert time.perf_counter() - t0 < 0.5
    t0 = time.perf_counter()
    for i in range(50):
        w.xe(f"plot{i + 2}", ["host-is-in-emergency-mode"], 1.0)
        w.cable_out(f"plot{i + 2}", 1.0)
        w.cable_in(f"plot{i + 2}", 1.0)
    assert time.perf_counter() - t0 < 0.5
    w.crash("plot1", 2.0)
    t0 = time.perf_counter()
    for i in range(2, 1001):
        w.toolstack_restart(f"plot{i}", 3.0)
    w.advance(10.0)
    w.status(10.0)
    assert time.perf_counter() - t0 < 2.0
    assert sum(h["emergency"] for h in w.status(10.0)["hosts"]) == 999


# ---------------------------------------------------------------------------
# power, links and the network face
# ---------------------------------------------------------------------------


def test_graceful_shutdown_then_power_on_timeline():
    w = World(3)
    w.shutdown("plot2", 10.0)
    assert hs(w, "plot2", 10.0)["power"] == "shutting-down"
    assert hs(w, "plot2", 10.0)["xapi"] == "stopped"
    assert w.net_face("plot2") == ("refuse", 1)
    assert w.next_due() == 11.0
    w.advance(11.0)
    assert hs(w, "plot2", 11.0)["power"] == "off"
    assert w.net_face("plot2") == ("refuse", 1)
    w.poweron("plot2", 20.0)
    assert hs(w, "plot2", 20.0)["power"] == "booting"
    assert w.net_face("plot2") == ("refuse", 2)
    w.advance(25.0)
    assert hs(w, "plot2", 25.0)["power"] == "on"
    assert hs(w, "plot2", 25.0)["xapi"] == "starting"
    assert w.systemctl_xapi("plot2") == "activating"
    assert w.net_face("plot2") == ("up", 2)
    w.advance(27.0)
    h = hs(w, "plot2", 27.0)
    assert (h["xapi"], h["role"], h["emergency"]) == ("running", "slave", False)
    assert w.systemctl_xapi("plot2") == "active"
    assert w.next_due() is None


def test_crash_blackholes_and_cable_out_keeps_processes():
    w = World(3)
    epoch = w.xapi_epoch("plot3")
    w.crash("plot3", 1.0)
    assert w.net_face("plot3") == ("blackhole", 1)
    assert hs(w, "plot3", 1.0)["xapi"] == "stopped"
    assert w.systemctl_xapi("plot3") == "inactive"
    assert w.xapi_epoch("plot3") > epoch
    w.cable_out("plot2", 1.0)
    assert w.net_face("plot2") == ("blackhole", 1)
    assert hs(w, "plot2", 1.0)["xapi"] == "running"


@pytest.mark.parametrize(
    "action, setup",
    [
        ("poweron", None),
        ("shutdown", "crash"),
        ("crash", "crash"),
        ("cable_in", None),
        ("cable_out", "cable_out"),
        ("unhang_xapi", None),
        ("hang_xapi", "crash"),
    ],
)
def test_nonsense_faults_are_sim_errors(action, setup):
    w = World(2)
    if setup:
        getattr(w, setup)("plot2", 1.0)
    before = w.version
    with pytest.raises(SimError):
        getattr(w, action)("plot2", 2.0)
    assert w.version == before


def test_version_bumps_on_every_fault():
    w = World(2)
    v = w.version
    w.cable_out("plot2", 1.0)
    assert w.version > v


def test_xapi_port_as_curl_sees_it():
    w = World(4)
    assert w.xapi_port("plot2", "127.77.0.11", 0) == "ok"
    assert w.xapi_port("plot2", "plot1", 0) == "ok"
    assert w.xapi_port("plot2", "10.9.9.9", 0) == "timeout"
    w.hang_xapi("plot1", 1)
    assert w.xapi_port("plot2", "127.77.0.11", 1) == "timeout"
    w.toolstack_restart("plot3", 1)
    assert w.xapi_port("plot2", "127.77.0.13", 1) == "refused"
    w.crash("plot4", 1)
    assert w.xapi_port("plot2", "127.77.0.14", 1) == "timeout"
    w.cable_out("plot2", 1)
    assert w.xapi_port("plot2", "127.77.0.13", 1) == "timeout"
    assert w.xapi_port("plot2", "127.77.0.12", 1) == "ok"  # its own address still answers locally


def test_commands_see_connection_refused_while_xapi_is_down():
    w = World(2)
    w.toolstack_restart("plot2", 1.0)
    r = done(w.xe("plot2", ["host-list"], 1.5))
    assert (r.stdout, r.stderr, r.rc) == ("", "Error: Connection refused (calling connect )\n", 1)


# ---------------------------------------------------------------------------
# a running slave whose master goes away: hang, emergency flag false
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["shutdown", "crash", "cable_out", "hang_xapi"])
def test_running_slave_hangs_while_emergency_flag_stays_false(fault):
    w = World(4)
    getattr(w, fault)("plot1", 10.0)
    for t in (12.0, 2 * 3600.0):
        assert isinstance(w.xe("plot3", ["pool-list"], t), XeHang)
        assert isinstance(w.xe("plot3", ["host-list"], t), XeHang)
        assert ok(w, "plot3", ["host-is-in-emergency-mode"], t) == "false\n"
        assert w.read_file("plot3", "/var/run/xapi_init_complete.cookie") == ""


def test_hung_commands_complete_once_the_master_answers_again():
    w = World(4)
    w.cable_out("plot1", 10.0)
    assert isinstance(w.xe("plot3", ["pool-list", "params=master", "--minimal"], 11.0), XeHang)
    v = w.version
    w.cable_in("plot1", 50.0)
    assert w.version > v
    assert ok(w, "plot3", ["pool-list", "params=master", "--minimal"], 50.0) == uuid_of(w, "plot1") + "\n"


def test_slave_pointing_at_a_host_that_is_not_master_hangs():
    w = World(4)
    ok(w, "plot3", ["pool-emergency-reset-master", "master-address=127.77.0.14"], 1.0)
    w.advance(14.0)
    # plot3's xapi restarted as a slave of plot4, which is itself a slave: emergency, HOST_IS_SLAVE.
    h = hs(w, "plot3", 14.0)
    assert h["emergency"] and h["emergency_error"] == "HOST_IS_SLAVE"
    r = done(w.xe("plot3", ["pool-list"], 14.0))
    assert r.stderr == (
        "You cannot make regular API calls directly on a supporter. Please pass API calls via the coordinator host.\n"
        "Master IP address: 127.77.0.11\n"
    )
    # A slave whose xapi is *running* when its master demotes itself just hangs.
    w2 = World(3)
    ok(w2, "plot1", ["pool-emergency-reset-master", "master-address=plot3"], 1.0)
    w2.advance(14.0)
    assert hs(w2, "plot1", 14.0)["role"] == "slave" and hs(w2, "plot2", 14.0)["emergency"] is False
    assert isinstance(w2.xe("plot2", ["host-list"], 14.0), XeHang)


# ---------------------------------------------------------------------------
# a slave whose xapi (re)starts without its master: emergency mode
# ---------------------------------------------------------------------------


def test_slave_restarting_without_master_enters_emergency_and_leaves_it():
    w = World(4)
    w.crash("plot1", 10.0)
    r = w.toolstack_restart("plot3", 20.0)
    assert r == XeDone("Executing xe-toolstack-restart\ndone.\n", "", 0)
    w.advance(22.0)
    h = hs(w, "plot3", 22.0)
    assert h["emergency"] and h["emergency_error"] == "INTERNAL_ERROR"
    assert ok(w, "plot3", ["host-is-in-emergency-mode"], 22.0) == "true\n"
    assert w.read_file("plot3", "/var/run/xapi_init_complete.cookie") is None
    assert w.read_file("plot3", "/var/run/xapi_startup.cookie") == ""
    assert w.systemctl_xapi("plot3") == "active"
    r = done(w.xe("plot3", ["pool-list"], 23.0))
    assert (r.stdout, r.stderr, r.rc) == ("", UNREACHABLE_TEXT, 1)
    # retries every emergency_retry seconds
    assert w.next_due() == 27.0
    w.poweron("plot1", 30.0)
    w.advance(37.0)  # plot1 up at 35, master at 37
    assert hs(w, "plot1", 37.0)["role"] == "master"
    assert hs(w, "plot3", 37.0)["emergency"]
    w.advance(42.0)  # next retry lands at 42
    h = hs(w, "plot3", 42.0)
    assert not h["emergency"] and h["emergency_error"] is None
    assert ok(w, "plot3", ["host-is-in-emergency-mode"], 42.0) == "false\n"
    assert ok(w, "plot3", ["pool-list", "params=uuid", "--minimal"], 42.0).strip()
    log = w.read_file("plot3", "/var/log/xensource.log")
    assert "I think the error is a temporary one, retrying in 5s" in log and "Startup successful" in log


def test_emergency_with_master_xapi_stopped_is_connection_refused():
    w = World(3)
    w.toolstack_restart("plot1", 1.0)
    w.toolstack_restart("plot2", 1.0)
    w.advance(3.0)  # both decide at 3.0; plot1 first (scheduled first)
    assert not hs(w, "plot2", 3.0)["emergency"]
    w.toolstack_restart("plot2", 4.0)
    w.toolstack_restart("plot1", 5.0)
    w.advance(6.0)  # plot2 hellos while plot1 is starting
    r = done(w.xe("plot2", ["host-list"], 6.0))
    assert 'message: Unix.Unix_error(Unix.ECONNREFUSED, "connect", "")\n' in r.stderr


def test_unknown_to_master_is_permanent_and_retried_every_minute():
    w = World(3)
    w.host("plot3").ptoken = "wrong-secret"  # a pool secret the master does not share
    w.toolstack_restart("plot3", 1.0)
    w.advance(3.0)
    h = hs(w, "plot3", 3.0)
    assert h["emergency_error"] == "HOST_UNKNOWN_TO_MASTER"
    r = done(w.xe("plot3", ["host-list"], 3.0))
    assert r.stderr == UNKNOWN_TO_MASTER + f"host: {uuid_of(w, 'plot3')}\n"
    assert w.next_due() == 63.0
    assert "Permanent error in attempt_host_status_check_with_coordinator" in w.read_file(
        "plot3", "/var/log/xensource.log"
    )


def test_own_slave_and_broken_pool_conf():
    w = World(3)
    w.write_file("plot2", "/etc/xensource/pool.conf", "slave:127.77.0.12")
    w.write_file("plot3", "/etc/xensource/pool.conf", "garbage\n")
    w.toolstack_restart("plot2", 1.0)
    w.toolstack_restart("plot3", 1.0)
    w.advance(3.0)
    assert hs(w, "plot2", 3.0)["emergency_error"] == "HOST_ITS_OWN_SLAVE"
    h = hs(w, "plot3", 3.0)
    assert (h["role"], h["emergency_error"]) == ("broken", "HOST_BROKEN")
    r = done(w.xe("plot3", ["pool-list"], 3.0))
    assert r.stderr.startswith("This server failed in the middle of an automatic failover operation")
    with pytest.raises(SimError):
        w.write_file("plot3", "/etc/passwd", "x")


# ---------------------------------------------------------------------------
# the emergency commands
# ---------------------------------------------------------------------------


def test_transition_to_master_message_fuse_and_restart():
    w = World(3)
    w.crash("plot1", 5.0)
    assert ok(w, "plot2", ["pool-emergency-transition-to-master"], 10.0) == (
        "Host agent will restart and transition to master in 10. seconds...\n"
    )
    assert w.read_file("plot2", "/etc/xensource/pool.conf") == "master"
    h = hs(w, "plot2", 19.9)
    assert (h["role"], h["xapi"]) == ("slave", "running")  # the role changes only at the restart
    w.advance(20.0)
    assert hs(w, "plot2", 20.0)["xapi"] == "starting"
    w.advance(22.0)
    assert hs(w, "plot2", 22.0)["role"] == "master"
    assert masters(w, 22.0) == ["plot2"]
    assert ok(w, "plot2", ["pool-emergency-transition-to-master"], 23.0) == (
        "Host agent is already master. Use '--force' to execute the operation anyway.\n"
    )
    assert w.next_due() is None
    assert "transition to master in 10." in ok(w, "plot2", ["pool-emergency-transition-to-master", "--force"], 24.0)
    assert w.next_due() == 34.0


def test_fuse_number_is_ocaml_string_of_float():
    w = World(2, params=SimParams(fuse=0.5))
    assert ok(w, "plot2", ["pool-emergency-transition-to-master"], 1.0) == (
        "Host agent will restart and transition to master in 0.5 seconds...\n"
    )
    assert w.next_due() == 1.5


def test_transition_works_in_emergency_mode_and_is_refused_with_ha_armed():
    w = World(3)
    ok(w, "plot1", ["pool-ha-enable"], 0.5)
    w.crash("plot1", 1.0)
    ok(w, "plot2", ["host-emergency-ha-disable", "--force"], 1.5)
    w.toolstack_restart("plot2", 2.0)
    w.advance(4.0)
    assert hs(w, "plot2", 4.0)["emergency"]
    assert "transition to master" in ok(w, "plot2", ["pool-emergency-transition-to-master"], 5.0)
    r = done(w.xe("plot3", ["pool-emergency-transition-to-master"], 5.0))
    assert (r.stderr, r.rc) == ("The operation could not be performed because HA is enabled on the Pool\n", 1)
    r = done(w.xe("plot3", ["pool-emergency-reset-master", "master-address=127.77.0.12"], 5.0))
    assert r.stderr == "The operation could not be performed because HA is enabled on the Pool\n"
    assert w.read_file("plot3", "/etc/xensource/pool.conf") == "slave:127.77.0.11"


def test_reset_master_writes_resolved_address_and_prints_it_as_typed():
    w = World(3)
    assert ok(w, "plot3", ["pool-emergency-reset-master", "master-address=plot2"], 1.0) == (
        "Host agent will restart and become slave of plot2 in 10. seconds...\n"
    )
    assert w.read_file("plot3", "/etc/xensource/pool.conf") == "slave:127.77.0.12"


def test_reset_master_to_current_master_is_nothing_to_do():
    w = World(3)
    out = ok(w, "plot3", ["pool-emergency-reset-master", "master-address=127.77.0.11"], 1.0)
    assert out == "Host agent will restart and become slave of 127.77.0.11 in 10. seconds...\n"
    assert w.next_due() is None  # no restart
    assert "We are already a slave of 127.77.0.11; nothing to do" in w.read_file("plot3", "/var/log/xensource.log")


def test_reset_master_demotes_a_master_and_rejects_unresolvable_names():
    w = World(3)
    ok(w, "plot1", ["pool-emergency-reset-master", "master-address=127.77.0.12"], 1.0)
    assert w.read_file("plot1", "/etc/xensource/pool.conf") == "slave:127.77.0.12"
    r = done(w.xe("plot2", ["pool-emergency-reset-master", "master-address=nosuchhost"], 1.0))
    assert r.rc == 1 and "message: Couldn't resolve hostname: nosuchhost\n" in r.stderr


def test_emergency_ha_disable_needs_force():
    w = World(2)
    ok(w, "plot1", ["pool-ha-enable"], 0.5)
    r = done(w.xe("plot2", ["host-emergency-ha-disable"], 1.0))
    # fail_without_force is a plain failwith, which the CLI turns into an internal error
    assert (r.stderr, r.rc) == (
        "The server failed to handle your request, due to an internal error. The given message may give details "
        "useful for debugging the problem.\n"
        "message: Failure: This operation is dangerous and may cause data loss. This operation must be forced "
        "(use --force).\n",
        1,
    )
    assert 'key="ha.armed" value="true"' in w.read_file("plot2", "/var/lib/xcp/local.db")
    assert ok(w, "plot2", ["host-emergency-ha-disable", "--force"], 1.0) == ""
    assert 'key="ha.armed" value="false"' in w.read_file("plot2", "/var/lib/xcp/local.db")
    assert w.read_file("plot2", "/etc/xensource/xhad.conf") is not None  # configured once, not armed


# ---------------------------------------------------------------------------
# master start-up: the no-other-masters check
# ---------------------------------------------------------------------------


def test_rebooting_old_master_demotes_itself_when_another_master_answers():
    w = World(4)
    w.crash("plot1", 1.0)
    ok(w, "plot2", ["pool-emergency-transition-to-master"], 2.0)
    w.advance(14.0)
    w.poweron("plot1", 20.0)
    w.advance(27.0)  # up at 25, check at 27 finds plot2
    assert w.read_file("plot1", "/etc/xensource/pool.conf") == "slave:127.77.0.12"
    assert "Detected another master in my database of known hosts" in w.read_file("plot1", "/var/log/xensource.log")
    w.advance(29.0)
    h = hs(w, "plot1", 29.0)
    assert (h["role"], h["emergency"]) == ("slave", False)
    assert masters(w, 29.0) == ["plot2"]


def test_old_master_booting_inside_a_partition_stays_master():
    w = World(4)
    w.crash("plot1", 1.0)
    ok(w, "plot2", ["pool-emergency-transition-to-master"], 2.0)
    w.advance(14.0)
    w.cable_out("plot1", 15.0)
    w.poweron("plot1", 20.0)
    w.advance(30.0)
    assert sorted(masters(w, 30.0)) == ["plot1", "plot2"]
    assert "Couldn't contact slave on startup check" in w.read_file("plot1", "/var/log/xensource.log")


def test_demoted_master_that_was_forgotten_sits_in_unknown_to_master():
    w = World(4)
    w.crash("plot1", 1.0)
    ok(w, "plot2", ["pool-emergency-transition-to-master"], 2.0)
    w.advance(14.0)
    r = done(w.xe("plot2", ["host-forget", f"uuid={uuid_of(w, 'plot1')}", "--force"], 15.0))
    assert r.rc == 0, r
    w.poweron("plot1", 20.0)
    w.advance(30.0)
    h = hs(w, "plot1", 30.0)
    assert (h["role"], h["emergency"], h["emergency_error"]) == ("slave", True, "HOST_UNKNOWN_TO_MASTER")


# ---------------------------------------------------------------------------
# pool-recover-slaves
# ---------------------------------------------------------------------------


def test_recover_slaves_repoints_reachable_hosts_and_skips_the_rest_silently():
    w = World(6)
    w.crash("plot1", 1.0)
    w.cable_out("plot4", 1.0)
    w.hang_xapi("plot5", 1.0)
    ok(w, "plot2", ["pool-emergency-transition-to-master"], 2.0)
    w.advance(14.0)
    out = ok(w, "plot2", ["pool-recover-slaves"], 15.0)
    assert sorted(out.split()) == sorted([uuid_of(w, "plot3"), uuid_of(w, "plot6")])
    assert out.count("\n") == 2
    assert w.read_file("plot3", "/etc/xensource/pool.conf") == "slave:127.77.0.12"
    assert w.read_file("plot4", "/etc/xensource/pool.conf") == "slave:127.77.0.11"
    assert w.read_file("plot5", "/etc/xensource/pool.conf") == "slave:127.77.0.11"
    w.advance(27.0)
    assert points_at(w, 27.0)["plot3"] == "127.77.0.12" and points_at(w, 27.0)["plot6"] == "127.77.0.12"
    assert not hs(w, "plot3", 27.0)["emergency"]
    assert ok(w, "plot2", ["pool-recover-slaves", "--minimal"], 28.0).count(",") == 1


def test_recover_slaves_issued_on_a_slave_is_forwarded_to_its_master():
    w = World(3)
    out = ok(w, "plot3", ["pool-recover-slaves"], 1.0)
    # plot1 recovers everyone but itself; they are already its slaves: nothing restarts.
    assert sorted(out.split()) == sorted([uuid_of(w, "plot2"), uuid_of(w, "plot3")])
    assert w.next_due() is None


def test_recover_slaves_on_the_stale_master_drags_everyone_to_it():
    # Danger 2 of the fact sheet: after a partition, the *old* master recovers slaves.
    w = World(5)
    w.cable_out("plot1", 1.0)
    ok(w, "plot2", ["pool-emergency-transition-to-master"], 2.0)
    w.advance(14.0)
    ok(w, "plot2", ["pool-recover-slaves"], 15.0)
    w.advance(30.0)
    w.cable_in("plot1", 40.0)
    assert sorted(masters(w, 40.0)) == ["plot1", "plot2"]
    out = ok(w, "plot1", ["pool-recover-slaves"], 41.0)
    assert uuid_of(w, "plot2") in out.split()  # the real new master, too
    w.advance(60.0)
    assert masters(w, 60.0) == ["plot1"]
    assert set(points_at(w, 60.0).values()) == {"127.77.0.11"}


# ---------------------------------------------------------------------------
# pool-designate-new-master
# ---------------------------------------------------------------------------


def test_designate_new_master_hands_over_in_order():
    w = World(5)
    assert ok(w, "plot4", ["pool-designate-new-master", f"host-uuid={uuid_of(w, 'plot3')}"], 1.0) == ""
    assert w.read_file("plot3", "/etc/xensource/pool.conf") == "master"
    for n in ("plot1", "plot2", "plot4", "plot5"):
        assert w.read_file(n, "/etc/xensource/pool.conf") == "slave:127.77.0.13"
    log = w.read_file("plot3", "/var/log/xensource.log")
    for line in ("Phase 1: proposing myself as new master", "Phase 2: committing transaction", "Phase 2.2"):
        assert line in log
    assert masters(w, 10.9) == ["plot1"]  # the old master runs until the fuse
    w.advance(13.0)
    assert masters(w, 13.0) == ["plot3"]
    assert set(points_at(w, 13.0).values()) == {"127.77.0.13"}
    assert not any(h["emergency"] for h in w.status(13.0)["hosts"])
    assert ok(w, "plot1", ["pool-list", "params=master", "--minimal"], 14.0) == uuid_of(w, "plot3") + "\n"


def test_designate_needs_every_host_reachable_and_a_known_uuid():
    w = World(4)
    w.cable_out("plot4", 1.0)
    r = done(w.xe("plot1", ["pool-designate-new-master", f"host-uuid={uuid_of(w, 'plot2')}"], 2.0))
    assert r.rc == 1 and "EHOSTUNREACH" in r.stderr
    assert w.read_file("plot2", "/etc/xensource/pool.conf") == "slave:127.77.0.11"
    r = done(w.xe("plot1", ["pool-designate-new-master", "host-uuid=nope"], 2.0))
    assert r.stderr == "The uuid you supplied was invalid.\ntype: host\nuuid: nope\n"
    assert ok(w, "plot1", ["pool-designate-new-master", f"host-uuid={uuid_of(w, 'plot1')}"], 2.0) == ""


def test_designate_with_a_peer_that_refuses_commit_leaves_new_master_broken():
    w = World(3)
    # plot3 misses the HA disable and stays armed while the pool says HA is off
    ok(w, "plot1", ["pool-ha-enable"], 0.1)
    w.cable_out("plot3", 0.2)
    ok(w, "plot1", ["pool-ha-disable"], 0.3)
    w.cable_in("plot3", 0.4)
    assert w.read_file("plot3", "/etc/xensource/xhad.conf") is not None
    r = done(w.xe("plot1", ["pool-designate-new-master", f"host-uuid={uuid_of(w, 'plot2')}"], 1.0))
    assert r.rc == 1
    assert w.read_file("plot2", "/etc/xensource/pool.conf") == "broken"
    w.advance(3.0)
    assert hs(w, "plot2", 3.0)["emergency_error"] == "HOST_BROKEN"


# ---------------------------------------------------------------------------
# host-disable / enable / shutdown / reboot
# ---------------------------------------------------------------------------


def test_disable_then_shutdown_a_slave():
    w = World(3)
    u = uuid_of(w, "plot3")
    r = done(w.xe("plot1", ["host-shutdown", f"uuid={u}"], 1.0))
    assert r.stderr == (
        "This operation cannot be performed because the host is not disabled. "
        "Please disable the host and then try again.\n"
    )
    assert ok(w, "plot2", ["host-disable", f"uuid={u}"], 1.0) == ""
    assert hs(w, "plot3", 1.0)["enabled"] is False
    assert ok(w, "plot1", ["host-list", "enabled=false", "--minimal"], 1.0) == u + "\n"
    assert ok(w, "plot1", ["host-shutdown", f"uuid={u}"], 2.0) == ""
    assert hs(w, "plot3", 2.0)["power"] == "shutting-down"
    w.advance(3.0)
    assert hs(w, "plot3", 3.0)["power"] == "off"
    assert w.net_face("plot3")[0] == "refuse"


def test_reboot_comes_back_and_auto_enables():
    w = World(3)
    ok(w, "plot1", ["host-disable", "host=plot2"], 1.0)
    ok(w, "plot1", ["host-reboot", "name-label=plot2"], 1.0)
    w.advance(2.0)
    assert hs(w, "plot2", 2.0)["power"] == "booting"
    w.advance(8.0)
    h = hs(w, "plot2", 8.0)
    assert (h["power"], h["xapi"], h["enabled"]) == ("on", "starting", False)
    w.advance(9.0)
    h = hs(w, "plot2", 9.0)
    assert (h["power"], h["role"], h["enabled"]) == ("on", "slave", True)


def test_disable_auto_enable_false_survives_a_restart():
    w = World(2)
    ok(w, "plot1", ["host-disable", "uuid=" + uuid_of(w, "plot2"), "auto-enable=false"], 1.0)
    w.toolstack_restart("plot2", 2.0)
    w.advance(5.0)
    assert hs(w, "plot2", 5.0)["enabled"] is False
    ok(w, "plot1", ["host-enable", "host=plot2"], 6.0)
    assert hs(w, "plot2", 6.0)["enabled"] is True


def test_host_selectors_errors():
    w = World(3)
    r = done(w.xe("plot1", ["host-disable", "name-label=nope"], 1.0))
    assert (r.stderr, r.rc) == ("Error: No matching hosts found\n", 1)
    r = done(w.xe("plot1", ["host-disable"], 1.0))
    assert r.stderr == "Error: Multiple matching hosts found. --multiple required to complete the operation\n"
    r = done(w.xe("plot1", ["host-disable", "bogus=1"], 1.0))
    assert r.stderr == "Error: Unknown field 'bogus'\n"
    assert ok(w, "plot1", ["host-disable", "--multiple"], 1.0) == ""
    assert all(h["enabled"] is False for h in w.status(1.0)["hosts"])


def test_disable_of_an_unreachable_host_and_multiple_failures():
    w = World(3)
    w.cable_out("plot3", 1.0)
    u3 = uuid_of(w, "plot3")
    r = done(w.xe("plot1", ["host-disable", f"uuid={u3}"], 2.0))
    assert r.stderr == (
        "Cannot forward messages because the server cannot be contacted. "
        "The server may be switched off or there may be network connectivity problems.\n"
        f"host: {u3} (plot3)\n"
    )
    r = done(w.xe("plot1", ["host-disable", "--multiple"], 2.0))
    assert r.rc == 1
    assert r.stdout == (
        f"operation failed on {u3}: Cannot forward messages because the server cannot be contacted. "
        "The server may be switched off or there may be network connectivity problems.\n"
        f"host: {u3} (plot3)\n"
    )
    assert hs(w, "plot2", 2.0)["enabled"] is False
    # once the master has marked it dead, the error is HOST_OFFLINE
    r = done(w.xe("plot1", ["host-enable", f"uuid={u3}"], 700.0))
    assert r.stderr == (
        "You attempted an operation which involves a host which could not be contacted.\n"
        f"host: {u3} (plot3)\n"
    )


# ---------------------------------------------------------------------------
# host-forget
# ---------------------------------------------------------------------------


def test_host_forget_asks_and_aborts():
    w = World(3)
    u = uuid_of(w, "plot3")
    ask = w.xe("plot1", ["host-forget", f"uuid={u}"], 1.0)
    assert isinstance(ask, XeAsk)
    assert ask.text == (
        "WARNING: A host should only be forgotten if it is physically unrecoverable;\n"
        "WARNING: if possible, Hosts should be 'ejected' from the Pool instead.\n"
        "WARNING: Once a host has been forgotten it will have to be re-installed.\n"
        "WARNING: This operation is irreversible.\n"
        "Type 'yes' to continue\n"
    )
    r = done(w.xe("plot1", ["host-forget", f"uuid={u}"], 1.0, reply="no"))
    assert (r.stdout, r.stderr, r.rc) == ("Aborted (you typed: 'no')\n", "", 0)
    assert len(w.status(1.0)["masters"][0]["db_hosts"]) == 3


def test_host_forget_refuses_a_live_host_and_the_master():
    w = World(3)
    u = uuid_of(w, "plot3")
    r = done(w.xe("plot1", ["host-forget", f"uuid={u}"], 1.0, reply="yes"))
    assert (r.stderr, r.rc) == (
        f"This operation cannot be completed because the server is still live.\nhost: {u} (plot3)\n",
        1,
    )
    u1 = uuid_of(w, "plot1")
    r = done(w.xe("plot2", ["host-forget", f"uuid={u1}", "--force"], 1.0))
    assert r.stderr == f"This operation cannot be completed because the server is still live.\nhost: {u1} (plot1)\n"
    ok(w, "plot1", ["pool-ha-enable"], 1.5)
    w.crash("plot3", 2.0)
    r = done(w.xe("plot1", ["host-forget", f"uuid={u}", "--force"], 3.0))
    assert r.stderr == "The operation could not be performed because HA is enabled on the Pool\n"


def test_forget_a_down_host_removes_it_from_that_masters_db_only():
    w = World(4)
    u = uuid_of(w, "plot4")
    w.crash("plot4", 1.0)
    ask = w.xe("plot2", ["host-forget", f"uuid={u}"], 2.0)
    assert isinstance(ask, XeAsk)
    r = done(w.xe("plot2", ["host-forget", f"uuid={u}"], 2.0, reply="yes"))
    assert (r.stdout, r.stderr, r.rc) == ("", "", 0)
    db = w.status(2.0)["masters"][0]["db_hosts"]
    assert u not in [h["uuid"] for h in db] and len(db) == 3
    assert u in w.host("plot3").db  # the slaves' backups still know it
    r = done(w.xe("plot1", ["host-param-get", f"uuid={u}", "param-name=name-label"], 2.0))
    assert r.stderr == f"The uuid you supplied was invalid.\ntype: host\nuuid: {u}\n"


def test_a_partitioned_host_marked_dead_can_be_forgotten_and_returns_unknown():
    w = World(3)
    u = uuid_of(w, "plot3")
    w.cable_out("plot3", 1.0)
    r = done(w.xe("plot1", ["host-forget", f"uuid={u}", "--force"], 700.0))
    assert r.rc == 0
    w.cable_in("plot3", 800.0)
    w.toolstack_restart("plot3", 801.0)
    w.advance(803.0)
    assert hs(w, "plot3", 803.0)["emergency_error"] == "HOST_UNKNOWN_TO_MASTER"


# ---------------------------------------------------------------------------
# split brain after a partition
# ---------------------------------------------------------------------------


def test_partitioned_master_stays_master_after_cable_in_and_its_slaves_carry_on():
    w = World(6)
    w.cable_out("plot1", 10.0)
    ok(w, "plot3", ["pool-emergency-transition-to-master"], 20.0)
    w.advance(32.0)
    # recover only plot4 and plot5; plot6 stays pointed at the old master
    w.cable_out("plot6", 33.0)
    ok(w, "plot3", ["pool-recover-slaves"], 34.0)
    w.advance(50.0)
    w.cable_in("plot1", 60.0)
    w.cable_in("plot6", 60.0)
    assert sorted(masters(w, 60.0)) == ["plot1", "plot3"]
    # plot6 carries on in plot1's (old) database
    ok(w, "plot1", ["host-disable", "host=plot2"], 61.0)
    assert ok(w, "plot6", ["host-list", "enabled=false", "params=name-label", "--minimal"], 61.0) == "plot2\n"
    assert ok(w, "plot4", ["host-list", "enabled=false", "params=name-label", "--minimal"], 61.0) == "\n"
    # the two databases have different masters
    assert ok(w, "plot6", ["pool-list", "params=master", "--minimal"], 61.0) == uuid_of(w, "plot1") + "\n"
    assert ok(w, "plot4", ["pool-list", "params=master", "--minimal"], 61.0) == uuid_of(w, "plot3") + "\n"


# ---------------------------------------------------------------------------
# liveness, HA, sync, toolstack restart
# ---------------------------------------------------------------------------


def test_host_metrics_live_goes_false_after_dead_after():
    w = World(3)
    w.crash("plot3", 100.0)
    q = ["host-list", "name-label=plot3", "params=host-metrics-live", "--minimal"]
    assert ok(w, "plot1", q, 699.0) == "true\n"
    assert ok(w, "plot1", q, 700.0) == "false\n"
    live = {h["name"]: h["live"] for h in w.status(700.0)["masters"][0]["db_hosts"]}
    assert live == {"plot1": True, "plot2": True, "plot3": False}
    w.poweron("plot3", 800.0)
    assert ok(w, "plot1", q, 807.0) == "true\n"


def test_ha_enable_arms_every_host_and_disable_disarms():
    w = World(3)
    assert ok(w, "plot2", ["pool-ha-enable"], 1.0) == ""
    assert all(w.read_file(n, "/etc/xensource/xhad.conf") for n in w.names)
    assert ok(w, "plot1", ["pool-list", "params=ha-enabled", "--minimal"], 1.0) == "true\n"
    r = done(w.xe("plot1", ["pool-ha-enable"], 1.0))
    assert r.stderr == "The operation could not be performed because HA is enabled on the Pool\n"
    assert ok(w, "plot1", ["pool-ha-disable"], 2.0) == ""
    assert all(w.read_file(n, "/etc/xensource/xhad.conf") for n in w.names)  # a disable never deletes it
    assert not any(w.host(n).ha_armed for n in w.names)
    r = done(w.xe("plot1", ["pool-ha-disable"], 2.0))
    assert r.stderr == "The operation could not be performed because HA is not enabled on the Pool\n"


def test_slave_disarmed_locally_cannot_rejoin_an_ha_pool():
    w = World(3)
    ok(w, "plot1", ["pool-ha-enable"], 1.0)
    ok(w, "plot3", ["host-emergency-ha-disable", "--force"], 2.0)
    w.toolstack_restart("plot3", 3.0)
    w.advance(5.0)
    assert hs(w, "plot3", 5.0)["emergency_error"] == "HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED"


def test_sync_database_refreshes_backups_and_promotion_uses_them():
    w = World(4)
    w.crash("plot4", 1.0)
    ok(w, "plot1", ["host-forget", f"uuid={uuid_of(w, 'plot4')}", "--force"], 2.0)
    assert uuid_of(w, "plot4") in w.host("plot2").db
    ok(w, "plot2", ["pool-sync-database"], 3.0)
    assert uuid_of(w, "plot4") not in w.host("plot2").db
    w.crash("plot1", 4.0)
    ok(w, "plot2", ["pool-emergency-transition-to-master"], 5.0)
    w.advance(20.0)
    names = [h["name"] for h in w.status(20.0)["masters"][0]["db_hosts"]]
    assert names == ["plot1", "plot2", "plot3"]


def test_toolstack_restart_rereads_pool_conf():
    w = World(3)
    w.write_file("plot3", "/etc/xensource/pool.conf", "master\n")
    assert hs(w, "plot3", 1.0)["role"] == "slave"
    epoch = w.xapi_epoch("plot3")
    assert w.toolstack_restart("plot3", 1.0).stdout == "Executing xe-toolstack-restart\ndone.\n"
    assert w.xapi_epoch("plot3") > epoch
    w.advance(3.0)
    # plot1 still answers as master: the no-other-masters check demotes plot3 again
    assert w.read_file("plot3", "/etc/xensource/pool.conf") == "slave:127.77.0.11"
    w.advance(5.0)
    assert hs(w, "plot3", 5.0)["role"] == "slave"
    w.shutdown("plot2", 6.0)
    v = w.version
    r = w.toolstack_restart("plot2", 6.0)
    assert (r.stdout, r.rc) == ("Executing xe-toolstack-restart\n", 1)
    assert r.stderr == "Failed to start xapi.service: Transaction is destructive.\n"
    assert w.version == v


def test_status_is_json_and_has_the_contract_keys():
    w = World(3)
    w.crash("plot2", 1.0)
    s = json.loads(json.dumps(w.status(1.5)))
    assert s["time"] == 1.5
    assert set(s["hosts"][0]) == {
        "name", "uuid", "address", "power", "link", "xapi", "pool_conf", "role", "master_address",
        "emergency", "emergency_error", "enabled", "ptoken_sha256", "installs", "ha",
        "cut_from", "api_sessions", "api_commands", "https_requests",
    }
    assert s["hosts"][0]["ha"] == {
        "armed": False, "xhad": False, "statefile": "up", "fences": 0, "excluded": False, "liveset": [],
    }
    assert s["ha"] == {"enabled": False, "lock": None, "timeout": 60.0}
    assert s["hosts"][1]["role"] is None and s["hosts"][1]["master_address"] is None
    assert set(s["masters"][0]) == {"name", "pool_uuid", "pool_name", "db_hosts"}
    assert set(s["masters"][0]["db_hosts"][0]) == {"uuid", "name", "address", "enabled", "live"}


# ---------------------------------------------------------------------------
# corners
# ---------------------------------------------------------------------------


def test_hello_to_a_host_in_emergency_gets_its_stored_error():
    w = World(3)
    w.crash("plot1", 1.0)
    w.toolstack_restart("plot2", 1.0)
    w.advance(3.0)
    ok(w, "plot3", ["pool-emergency-reset-master", "master-address=plot2"], 4.0)
    w.advance(16.0)
    h = hs(w, "plot3", 16.0)
    assert h["emergency"] and h["emergency_error"] == "INTERNAL_ERROR"
    assert done(w.xe("plot3", ["host-list"], 16.0)).stderr == UNREACHABLE_TEXT


def test_designate_onto_a_host_that_is_already_a_master_does_nothing():
    w = World(4)
    w.cable_out("plot1", 1.0)
    ok(w, "plot2", ["pool-emergency-transition-to-master"], 2.0)
    w.advance(20.0)
    w.cable_in("plot1", 21.0)
    assert ok(w, "plot1", ["pool-designate-new-master", f"host-uuid={uuid_of(w, 'plot2')}"], 22.0) == ""
    assert w.next_due() is None
    assert sorted(masters(w, 22.0)) == ["plot1", "plot2"]


def test_recover_slaves_skips_hosts_with_ha_armed_and_other_pools():
    w = World(4)
    ok(w, "plot1", ["pool-ha-enable"], 0.5)
    ok(w, "plot2", ["host-emergency-ha-disable", "--force"], 0.6)
    ok(w, "plot1", ["host-emergency-ha-disable", "--force"], 0.6)
    w.host("plot4").ptoken = "another-pool"  # a host reinstalled into another pool at the same address
    out = ok(w, "plot1", ["pool-recover-slaves"], 1.0)
    assert out.split() == [uuid_of(w, "plot2")]


def test_host_in_emergency_mode_still_answers_so_it_cannot_be_forgotten():
    w = World(3)
    ok(w, "plot3", ["pool-emergency-reset-master", "master-address=plot2"], 0.0)
    w.advance(12.0)
    assert hs(w, "plot3", 12.0)["emergency_error"] == "HOST_IS_SLAVE"
    r = done(w.xe("plot1", ["host-forget", f"uuid={uuid_of(w, 'plot3')}", "--force"], 13.0))
    assert r.stderr.startswith("This operation cannot be completed because the server is still live.")


def test_net_face_while_booting_with_the_cable_out():
    w = World(2)
    w.crash("plot2", 1.0)
    w.cable_out("plot2", 1.0)
    w.poweron("plot2", 2.0)
    assert w.net_face("plot2") == ("blackhole", 2)
    w.cable_in("plot2", 3.0)
    assert w.net_face("plot2") == ("refuse", 2)


def test_a_hung_command_ends_when_the_local_xapi_restarts():
    w = World(3)
    w.cable_out("plot1", 1.0)
    epoch = w.xapi_epoch("plot2")
    assert isinstance(w.xe("plot2", ["host-list"], 2.0), XeHang)
    ok(w, "plot2", ["pool-emergency-transition-to-master"], 3.0)
    w.advance(13.0)
    assert w.xapi_epoch("plot2") != epoch  # the runtime ends the hung xe with "Lost connection"


def test_the_pool_secret_is_only_ever_read_from_its_file():
    w = World(3)
    secret = w.read_file("plot1", "/etc/xensource/ptoken")
    w.crash("plot1", 1.0)
    w.toolstack_restart("plot2", 1.0)
    w.advance(5.0)
    seen = [
        json.dumps(w.status(5.0)),
        repr(w.host("plot2")),
        w.read_file("plot2", "/var/log/xensource.log"),
        done(w.xe("plot2", ["pool-emergency-transition-to-master"], 5.0)).stdout,
        done(w.xe("plot2", ["pool-list"], 5.0)).stderr,
    ]
    assert secret and not any(secret in text for text in seen)
