"""HA in the pure world: xhad's liveset, fencing and the master lock, xapi's failover and
start-up under HA, and the HA commands, all on the world's explicit clock.

Timers are short (T = 2 s, xapi acts on a liveset change 0.4 s later); docs/xapi.md "## HA"
is the behaviour checked, docs/simulator.md "HA" what the simulator simplifies.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import unescape

from poolterm.sim.world import SimParams, World, XeDone

T = 2.0
PARAMS = SimParams(fuse=0.5, boot=0.5, xapi_start=0.3, shutdown=0.3, emergency_retry=0.5, ha_timeout=T, ha_poll=0.4)
# From the moment the master leaves the liveset to a new master answering: poll, one tick, fuse, xapi start.
ELECTED = PARAMS.ha_poll + T / 10 + PARAMS.fuse + PARAMS.xapi_start + 0.1
# A fenced host is back and has tried to join: boot, xapi start, one tick.
REBOOTED = PARAMS.boot + PARAMS.xapi_start + T / 10

INTERNAL = (
    "The server failed to handle your request, due to an internal error. "
    "The given message may give details useful for debugging the problem.\n"
)
CANNOT_ACCESS_STATEFILE = (
    "The server could not join the liveset because the HA daemon could not access the heartbeat disk.\n"
)
HA_IS_ENABLED = "The operation could not be performed because HA is enabled on the Pool\n"


def ha_world(n: int = 4) -> World:
    return World(n, params=PARAMS, ha=True)


def hs(w: World, name: str, now: float) -> dict:
    return next(h for h in w.status(now)["hosts"] if h["name"] == name)


def run(w: World, name: str, argv: list[str], now: float) -> XeDone:
    result = w.xe(name, argv, now)
    assert isinstance(result, XeDone), result
    return result


def ok(w: World, name: str, argv: list[str], now: float) -> str:
    r = run(w, name, argv, now)
    assert r.rc == 0, r
    return r.stdout


def masters(w: World, now: float) -> list[str]:
    return [m["name"] for m in w.status(now)["masters"]]


def lowest(w: World, names: list[str]) -> str:
    return min(names, key=lambda n: w.host(n).uuid)


def liveset_of(w: World, name: str, now: float) -> list[str]:
    return hs(w, name, now)["ha"]["liveset"]


def xha(w: World, name: str) -> str:
    return w.read_file(name, "/var/log/xha.log") or ""


def xapi_log(w: World, name: str) -> str:
    return w.read_file(name, "/var/log/xensource.log")


def local_db(w: World, name: str) -> dict[str, str]:
    text = w.read_file(name, "/var/lib/xcp/local.db")
    rows = re.findall(r'<row key="([^"]*)" value="([^"]*)"/>', text)
    return {k: unescape(v, {"&apos;": "'", "&quot;": '"'}) for k, v in rows}


def follows(w: World, name: str, master: str, now: float) -> bool:
    h = hs(w, name, now)
    return (h["role"], h["master_address"], h["emergency"]) == ("slave", w.host(master).address, False)


def never_broken(w: World, now: float) -> None:
    assert all(h["pool_conf"] != "broken" for h in w.status(now)["hosts"])


# ---------------------------------------------------------------------------
# a pool started with HA
# ---------------------------------------------------------------------------


def test_a_pool_started_with_ha_is_armed_live_and_locked_by_its_master():
    w = ha_world(3)
    s = w.status(0.0)
    assert s["ha"] == {"enabled": True, "lock": "plot1", "timeout": T}
    for h in s["hosts"]:
        assert h["ha"] == {"armed": True, "xhad": True, "statefile": "up", "fences": 0, "excluded": False,
                           "liveset": ["plot1", "plot2", "plot3"]}
    assert ok(w, "plot2", ["pool-list", "params=ha-enabled", "--minimal"], 0.1) == "true\n"
    assert ok(w, "plot2", ["pool-list", "params=ha-configuration", "--minimal"], 0.1) == "timeout: 2\n"
    db = local_db(w, "plot2")
    assert db["ha.armed"] == "true" and db["ha_base_t"] == "2" and db["ha_cluster_stack"] == "xhad"
    peers = sorted((h.uuid, h.address) for h in w.hosts())
    assert db["ha_peers"] == "(" + " ".join(f"('{u}' '{a}')" for u, a in peers) + ")"
    conf = w.read_file("plot2", "/etc/xensource/xhad.conf")
    assert [m for m in re.findall(r"<HostID>([^<]+)</HostID>", conf)] == [u for u, _ in peers] + [w.host("plot2").uuid]
    assert "<HeartbeatTimeout>2</HeartbeatTimeout>" in conf and "<StateFileWatchdogTimeout>17<" in conf
    assert "Fencing is armed." in xha(w, "plot3")


def test_without_ha_nothing_is_armed_and_no_timer_runs():
    w = World(3, params=PARAMS)
    assert w.next_due() is None
    assert w.read_file("plot1", "/var/lib/xcp/local.db") == '<config><row key="ha.armed" value="false"/></config>'
    assert w.read_file("plot1", "/etc/xensource/xhad.conf") is None
    assert w.read_file("plot1", "/var/log/xha.log") is None
    assert w.status(0.0)["ha"] == {"enabled": False, "lock": None, "timeout": T}


# ---------------------------------------------------------------------------
# failover
# ---------------------------------------------------------------------------


def test_the_master_crashes_and_the_lowest_uuid_survivor_takes_over_without_a_human():
    w = ha_world(4)
    winner = lowest(w, ["plot2", "plot3", "plot4"])
    w.crash("plot1", 1.0)
    before = 1.0 + T - 0.1
    assert "plot1" in liveset_of(w, "plot2", before)
    assert w.status(before)["ha"]["lock"] == "plot1"
    never_broken(w, before)
    gone = 1.0 + T + T / 10
    assert "plot1" not in liveset_of(w, "plot2", gone)
    done = gone + ELECTED
    assert masters(w, done) == [winner]
    never_broken(w, done)
    for other in {"plot2", "plot3", "plot4"} - {winner}:
        assert w.read_file(other, "/etc/xensource/pool.conf") == f"slave:{w.host(winner).address}"
        assert follows(w, other, winner, done + 1.0)
        assert "This node will become the slave of host " + w.host(winner).uuid in xapi_log(w, other)
    s = w.status(done)
    assert s["ha"] == {"enabled": True, "lock": winner, "timeout": T}
    assert ok(w, winner, ["pool-param-get", f"uuid={w.host(winner).db.pool_uuid}", "param-name=ha-enabled"],
              done) == "true\n"
    log = xapi_log(w, winner)
    assert f"We think node {w.host('plot1').uuid} (127.77.0.11) is the master but the liveset disagrees" in log
    assert "ha_propose_master succeeded\n" in log + "\n" and "This node will become the master" in log
    assert "propose_master returns TRUE." in xha(w, winner)


def test_a_crashed_slave_leaves_the_liveset_after_t_and_nobody_fails_over():
    w = ha_world(4)
    w.crash("plot3", 1.0)
    assert "plot3" in liveset_of(w, "plot1", 1.0 + T - 0.1)
    after = 1.0 + T + T / 10
    assert "plot3" not in liveset_of(w, "plot1", after)
    # host-metrics-live follows the liveset under HA, not the 600 s heartbeat
    live = {d["name"]: d["live"] for d in w.status(after)["masters"][0]["db_hosts"]}
    assert live == {"plot1": True, "plot2": True, "plot3": False, "plot4": True}
    bits = "".join("0" if h.name == "plot3" else "1" for h in sorted(w.hosts(), key=lambda h: h.uuid))
    assert f"Liveset has been updated.  new liveset = ({bits})" in xha(w, "plot1")
    later = after + 5 * ELECTED
    assert masters(w, later) == ["plot1"] and w.status(later)["ha"]["lock"] == "plot1"
    assert all(hs(w, n, later)["ha"]["fences"] == 0 for n in ("plot1", "plot2", "plot4"))


def test_a_slave_cut_off_in_an_8_host_pool_fences_and_comes_back_a_slave_once_plugged_in():
    w = ha_world(8)
    w.cable_out("plot5", 1.0)
    assert hs(w, "plot5", 1.0 + T - 0.1)["ha"]["fences"] == 0
    fenced = 1.0 + T + T / 10
    h = hs(w, "plot5", fenced)
    assert h["ha"]["fences"] == 1 and h["power"] in ("booting", "on")
    log = xha(w, "plot5")
    assert "[err] Survival rule failed (1905) FH: Survival Rule is not met for the local host.  - Self-Fence.\n" in log
    assert log.index("Self-Fence.") < log.index("[info] watchdog_selffence.")
    assert "SM: winner_index = " in log
    assert "plot5" not in liveset_of(w, "plot1", fenced)
    # back from the reboot, still unplugged: it cannot join the others
    waiting = fenced + REBOOTED
    h = hs(w, "plot5", waiting)
    assert (h["emergency"], h["emergency_error"]) == (True, "HA_HEARTBEAT_DAEMON_STARTUP_FAILED")
    assert ok(w, "plot5", ["host-is-in-emergency-mode"], waiting) == "true\n"
    w.cable_in("plot5", waiting + 1.0)
    back = waiting + 1.0 + 0.01  # xhad was still in its boot join: no retry round to wait for
    assert follows(w, "plot5", "plot1", back)
    assert "plot5" in liveset_of(w, "plot1", back)
    assert masters(w, back) == ["plot1"] and hs(w, "plot5", back)["ha"]["fences"] == 1


def test_cut_off_halves_of_equal_size_the_half_without_the_lowest_uuid_fences():
    """Two hosts cut apart are partitions of one each: the tie goes to the lower uuid, so the
    other host fences even if it is the master with the good cable (CTX129721)."""
    w = ha_world(2)
    low = lowest(w, ["plot1", "plot2"])
    high = ({"plot1", "plot2"} - {low}).pop()
    w.cable_out(low, 1.0)
    fenced = 1.0 + T + T / 10
    assert hs(w, high, fenced)["ha"]["fences"] == 1
    assert hs(w, low, fenced)["ha"]["fences"] == 0
    assert liveset_of(w, low, fenced) == [low]
    if high == "plot1":  # the master fenced: the cut-off survivor takes the lock
        assert masters(w, fenced + ELECTED) == [low]


def test_four_hosts_cut_off_in_an_8_host_pool_all_fence_and_the_other_four_carry_on():
    w = ha_world(8)
    cut = ["plot2", "plot4", "plot6", "plot8"]
    for name in cut:
        w.cable_out(name, 1.0)
    fenced = 1.0 + T + T / 10
    assert [hs(w, n, fenced)["ha"]["fences"] for n in w.names] == [0, 1, 0, 1, 0, 1, 0, 1]
    assert liveset_of(w, "plot1", fenced) == ["plot1", "plot3", "plot5", "plot7"]
    assert masters(w, fenced + ELECTED) == ["plot1"]


# ---------------------------------------------------------------------------
# the statefile
# ---------------------------------------------------------------------------


def test_one_host_losing_the_statefile_fences_and_rejoins_once_it_is_back():
    w = ha_world(4)
    w.statefile_out("plot3", 1.0)
    assert hs(w, "plot3", 1.0 + T - 0.1)["ha"]["fences"] == 0
    fenced = 1.0 + T + T / 10
    assert [hs(w, n, fenced)["ha"]["fences"] for n in w.names] == [0, 0, 1, 0]
    waiting = fenced + REBOOTED
    h = hs(w, "plot3", waiting)
    assert h["emergency_error"] == "HA_HOST_CANNOT_ACCESS_STATEFILE" and h["ha"]["statefile"] == "down"
    assert "Assuming HA is still enabled on the Pool and that our storage system has failed: will retry in 10s" in (
        xapi_log(w, "plot3"))
    w.statefile_in("plot3", waiting + 1.0)
    assert follows(w, "plot3", "plot1", waiting + 1.0 + PARAMS.emergency_retry + 0.2)


def test_every_host_losing_the_statefile_stays_up_then_a_master_crash_fences_them_all_for_good():
    w = ha_world(4)
    for name in w.names:
        w.statefile_out(name, 1.0)
    calm = 1.0 + 5 * T
    assert [hs(w, n, calm)["ha"]["fences"] for n in w.names] == [0, 0, 0, 0]  # rule 2
    assert "<statefile_lost>TRUE</statefile_lost>" in w.ha_query_liveset("plot2", calm)[0]
    w.crash("plot1", calm)
    assert [hs(w, n, calm + T - 0.1)["ha"]["fences"] for n in w.names] == [0, 0, 0, 0]
    fenced = calm + T + T / 10
    assert [hs(w, n, fenced)["ha"]["fences"] for n in w.names] == [0, 1, 1, 1]
    stuck = fenced + 20 * T
    assert masters(w, stuck) == []
    for name in ("plot2", "plot3", "plot4"):
        h = hs(w, name, stuck)
        assert (h["xapi"], h["emergency"], h["emergency_error"]) == ("running", True, "HA_HOST_CANNOT_ACCESS_STATEFILE")
        assert h["ha"]["fences"] == 1  # stuck, not fencing again
    assert ok(w, "plot3", ["host-is-in-emergency-mode"], stuck) == "true\n"
    r = run(w, "plot3", ["host-list"], stuck)
    assert (r.stderr, r.rc) == (CANNOT_ACCESS_STATEFILE, 1)
    # nobody was left to take the dead master out of the liveset: the statefile still gives it the lock
    assert w.status(stuck)["ha"] == {"enabled": None, "lock": "plot1", "timeout": T}


def test_without_a_candidate_reaching_the_statefile_the_election_waits_for_ever():
    w = ha_world(3)
    w.crash("plot1", 1.0)
    gone = 1.0 + T + T / 10
    assert "plot1" not in liveset_of(w, "plot2", gone)
    for name in ("plot2", "plot3"):  # before xapi acts on it, the survivors lose the statefile (rule 2 keeps them)
        w.statefile_out(name, gone)
    later = gone + 20 * PARAMS.ha_poll
    assert masters(w, later) == [] and w.status(later)["ha"]["lock"] is None
    assert [hs(w, n, later)["ha"]["fences"] for n in ("plot2", "plot3")] == [0, 0]
    for name in ("plot2", "plot3"):
        assert w.read_file(name, "/etc/xensource/pool.conf") == "slave:127.77.0.11"
        assert xapi_log(w, name).count("no other master exists yet; waiting 5 seconds and retrying") >= 10
    w.statefile_in("plot3", later)
    assert masters(w, later + ELECTED) == ["plot3"]


def test_ha_stuck_is_recovered_by_disarming_every_host_and_promoting_one_by_hand():
    w = ha_world(4)
    for name in w.names:
        w.statefile_out(name, 1.0)
    w.crash("plot1", 2.0)
    now = 2.0 + T + T / 10 + REBOOTED + 1.0
    assert masters(w, now) == []
    for name in ("plot2", "plot3", "plot4"):
        assert ok(w, name, ["host-emergency-ha-disable", "--force"], now) == ""
        assert local_db(w, name)["ha.armed"] == "false"
    now += PARAMS.emergency_retry + 0.1
    w.advance(now)
    assert "ha_start_daemon aborted because someone has called Host.emergency_ha_disable" in xapi_log(w, "plot2")
    ok(w, "plot2", ["pool-emergency-transition-to-master"], now)
    now += PARAMS.fuse + PARAMS.xapi_start + 0.1
    assert masters(w, now) == ["plot2"]
    assert "We are the master: disabling HA on the Pool." in xapi_log(w, "plot2")
    recovered = ok(w, "plot2", ["pool-recover-slaves"], now).split()
    assert sorted(recovered) == sorted(w.host(n).uuid for n in ("plot3", "plot4"))
    now += PARAMS.fuse + PARAMS.xapi_start + 0.1
    assert masters(w, now) == ["plot2"]
    assert follows(w, "plot3", "plot2", now) and follows(w, "plot4", "plot2", now)
    assert ok(w, "plot3", ["pool-list", "params=ha-enabled", "--minimal"], now) == "false\n"
    assert w.status(now)["ha"]["enabled"] is False


# ---------------------------------------------------------------------------
# xapi under xhad's watch
# ---------------------------------------------------------------------------


def test_xe_toolstack_restart_on_an_armed_slave_fences_it_and_it_rejoins():
    w = ha_world(3)
    r = w.toolstack_restart("plot2", 1.0)
    assert (r.stdout, r.rc) == ("Executing xe-toolstack-restart\ndone.\n", 0)  # the script has its say first
    h = hs(w, "plot2", 1.0)
    assert h["ha"]["fences"] == 1 and h["power"] == "booting"
    log = xha(w, "plot2")
    assert "[err] Xapi has gone offline (2000) Xapimon: Xapi failed.  - Self-Fence.\n" in log
    assert log.endswith("[info] watchdog_selffence.\n")
    back = 1.0 + REBOOTED + 0.2
    assert follows(w, "plot2", "plot1", back) and "plot2" in liveset_of(w, "plot1", back)


def test_xe_toolstack_restart_on_the_armed_master_fails_over():
    w = ha_world(3)
    winner = lowest(w, ["plot2", "plot3"])
    w.toolstack_restart("plot1", 1.0)
    done = 1.0 + T / 10 + ELECTED + REBOOTED + PARAMS.fuse + PARAMS.xapi_start
    assert masters(w, done) == [winner]
    # the old master came back, lost its proposal and follows the lock holder
    assert w.read_file("plot1", "/etc/xensource/pool.conf") == f"slave:{w.host(winner).address}"
    assert follows(w, "plot1", winner, done + 1.0)


def test_a_hung_master_xapi_is_restarted_once_by_xhad_and_keeps_its_role():
    w = ha_world(3)
    w.hang_xapi("plot1", 1.0)
    assert hs(w, "plot1", 1.0 + T - 0.1)["xapi"] == "hung"
    restarted = 1.0 + T + T / 10 + PARAMS.xapi_start
    assert masters(w, restarted) == ["plot1"]
    log = xha(w, "plot1")
    assert "[info] Xapimon: restarting Xapi.\n" in log and "[info] Xapimon: Xapi restarted.\n" in log
    assert w.status(restarted)["ha"]["lock"] == "plot1"
    assert all(hs(w, n, restarted)["ha"]["fences"] == 0 for n in w.names)
    assert follows(w, "plot2", "plot1", restarted)
    # hung again the same day: xhad fences instead
    w.hang_xapi("plot1", restarted + 1.0)
    fenced = restarted + 1.0 + T + T / 10
    assert hs(w, "plot1", fenced)["ha"]["fences"] == 1
    assert "Xapi has gone offline (2000)" in xha(w, "plot1")
    assert masters(w, fenced + ELECTED) == [lowest(w, ["plot2", "plot3"])]


def test_a_clean_shutdown_is_excluded_at_once_and_a_master_shutdown_frees_the_lock():
    w = ha_world(4)
    ok(w, "plot3", ["host-disable", f"uuid={w.host('plot3').uuid}"], 1.0)
    ok(w, "plot3", ["host-shutdown", f"uuid={w.host('plot3').uuid}"], 1.0)
    h = hs(w, "plot3", 1.0)
    assert h["ha"]["excluded"] and not h["ha"]["xhad"] and h["ha"]["armed"]
    assert "plot3" not in liveset_of(w, "plot1", 1.0)  # no T to wait
    assert "<excluded>TRUE</excluded>" in w.ha_query_liveset("plot1", 1.0)[0]
    # the master: its lock is freed and the others elect after a poll
    winner = lowest(w, ["plot2", "plot4"])
    ok(w, "plot1", ["host-disable", f"uuid={w.host('plot1').uuid}"], 2.0)
    ok(w, "plot1", ["host-shutdown", f"uuid={w.host('plot1').uuid}"], 2.0)
    assert w.status(2.0)["ha"]["lock"] is None
    assert masters(w, 2.0 + ELECTED) == [winner]
    assert all(hs(w, n, 2.0 + ELECTED)["ha"]["fences"] == 0 for n in w.names)


def test_a_clean_shutdown_without_the_statefile_is_refused():
    w = ha_world(3)
    w.statefile_out("plot2", 1.0)
    ok(w, "plot1", ["host-disable", f"uuid={w.host('plot2').uuid}"], 1.0)
    r = run(w, "plot1", ["host-shutdown", f"uuid={w.host('plot2').uuid}"], 1.0)
    assert (r.stderr, r.rc) == ("This server lost access to the HA statefile.\n", 1)
    assert hs(w, "plot2", 1.0)["power"] == "on"


# ---------------------------------------------------------------------------
# the commands
# ---------------------------------------------------------------------------


def test_pool_ha_enable_and_disable_round_trip():
    w = World(3, params=PARAMS)
    sr = w.host("plot1").db.default_sr_uuid
    assert ok(w, "plot2", ["pool-ha-enable", f"heartbeat-sr-uuids={sr}", "ha-config:timeout=30"], 1.0) == ""
    first = w.read_file("plot3", "/etc/xensource/xhad.conf")
    generation = re.search(r"<GenerationUUID>(.*)</GenerationUUID>", first).group(1)
    assert "<HeartbeatTimeout>30</HeartbeatTimeout>" in first
    s = w.status(1.0)
    assert s["ha"] == {"enabled": True, "lock": "plot1", "timeout": 30.0}
    assert all(h["ha"]["armed"] and h["ha"]["xhad"] for h in s["hosts"])
    assert local_db(w, "plot3")["ha_base_t"] == "30"
    pool = w.host("plot1").db.pool_uuid
    fields = ["ha-enabled", "ha-configuration", "ha-statefiles", "ha-plan-exists-for"]
    values = [ok(w, "plot3", ["pool-param-get", f"uuid={pool}", f"param-name={f}"], 1.0).strip() for f in fields]
    statefile = values[2]
    assert values[:2] == ["true", "timeout: 30"] and re.fullmatch(r"[0-9a-f-]{36}", statefile) and values[3] == "0"

    assert ok(w, "plot1", ["pool-ha-disable"], 2.0) == ""
    s = w.status(2.0)
    assert s["ha"]["enabled"] is False and s["ha"]["lock"] is None
    assert not any(h["ha"]["armed"] or h["ha"]["xhad"] for h in s["hosts"])
    assert w.read_file("plot3", "/etc/xensource/xhad.conf") == first  # a disable never removes it
    assert local_db(w, "plot3")["ha.armed"] == "false"
    assert 'set_pool_state "invalid" returns SUCCESS.' in xha(w, "plot1")
    assert ok(w, "plot1", ["pool-param-get", f"uuid={pool}", "param-name=ha-plan-exists-for"], 2.0) == "0\n"

    ok(w, "plot1", ["pool-ha-enable"], 3.0)
    again = w.read_file("plot3", "/etc/xensource/xhad.conf")
    assert generation not in again  # a new generation at every enable
    assert ok(w, "plot1", ["pool-param-get", f"uuid={pool}", "param-name=ha-statefiles"], 3.0) == f"{statefile}\n"
    assert w.status(3.0)["ha"]["timeout"] == T  # no ha-config:timeout: the pool's default


def test_pool_ha_enable_refusals():
    w = World(3, params=PARAMS)
    r = run(w, "plot1", ["pool-ha-enable", "ha-config:timeout=9"], 1.0)
    assert (r.stderr, r.rc) == (INTERNAL + 'message: Failure("constraint violation: timeout >= 10")\n', 1)
    r = run(w, "plot1", ["pool-ha-enable", "ha-config:timeout=soon"], 1.0)
    assert r.stderr == INTERNAL + 'message: Failure("int_of_string")\n'
    r = run(w, "plot1", ["pool-ha-enable", "heartbeat-sr-uuids=nope"], 1.0)
    assert r.stderr == "The uuid you supplied was invalid.\ntype: SR\nuuid: nope\n"
    assert w.read_file("plot1", "/etc/xensource/xhad.conf") is None  # refused before anything was written
    w.statefile_out("plot3", 1.0)
    r = run(w, "plot1", ["pool-ha-enable"], 1.0)
    assert (r.stderr, r.rc) == (CANNOT_ACCESS_STATEFILE, 1)
    s = w.status(1.0)
    assert s["ha"]["enabled"] is False and not any(h["ha"]["armed"] or h["ha"]["xhad"] for h in s["hosts"])
    assert w.read_file("plot2", "/etc/xensource/xhad.conf") is not None  # preconfigured before the join failed
    w.statefile_in("plot3", 1.5)
    ok(w, "plot1", ["pool-ha-enable"], 1.5)
    r = run(w, "plot2", ["pool-ha-enable"], 1.5)
    assert (r.stderr, r.rc) == (HA_IS_ENABLED, 1)


def test_pool_ha_enable_gives_its_database_to_slaves_only():
    """With a second master still listed (split brain), enabling HA must not overwrite that
    master's own database: Host.request_backup refuses on a master."""
    w = World(3, params=PARAMS)
    w.cable_out("plot1", 0.0)
    ok(w, "plot2", ["pool-emergency-transition-to-master"], 0.0)
    w.cable_in("plot1", 1.0)
    assert masters(w, 1.0) == ["plot1", "plot2"]
    ok(w, "plot2", ["pool-ha-enable"], 1.0)
    assert w.host("plot3").db.ha_enabled and not w.host("plot1").db.ha_enabled
    ok(w, "plot1", ["host-disable", f"uuid={w.host('plot1').uuid}"], 1.5)  # still its own, writable


def test_pool_ha_enable_needs_every_host_live():
    w = World(3, params=SimParams(dead_after=5.0))
    w.crash("plot3", 1.0)
    r = run(w, "plot1", ["pool-ha-enable"], 7.0)
    u = w.host("plot3").uuid
    offline = f"You attempted an operation which involves a host which could not be contacted.\nhost: {u} (plot3)\n"
    assert (r.stderr, r.rc) == (offline, 1)
    assert w.status(7.0)["ha"]["enabled"] is False


def test_an_armed_host_away_during_the_disable_learns_it_from_the_master_at_start_up():
    w = ha_world(3)
    w.shutdown("plot3", 1.0)
    ok(w, "plot1", ["pool-ha-disable"], 2.0)
    w.statefile_out("plot3", 2.0)  # it cannot read the invalid pool state: it asks the master instead
    w.poweron("plot3", 3.0)
    up = 3.0 + PARAMS.boot + PARAMS.xapi_start + 0.1
    assert follows(w, "plot3", "plot1", up) and not hs(w, "plot3", up)["ha"]["armed"]
    assert "Existing master confirmed that HA is disabled pool-wide: disabling HA on this host" in xapi_log(w, "plot3")


def test_an_armed_host_away_during_the_disable_reads_the_invalid_pool_state():
    w = ha_world(3)
    w.shutdown("plot3", 1.0)
    ok(w, "plot1", ["pool-ha-disable"], 2.0)
    w.poweron("plot3", 3.0)
    up = 3.0 + PARAMS.boot + PARAMS.xapi_start + 0.1
    assert follows(w, "plot3", "plot1", up) and not hs(w, "plot3", up)["ha"]["xhad"]
    assert "ha_start_daemon failed with MTC_EXIT_INVALID_POOL_STATE: disabling HA on this host" in (
        xapi_log(w, "plot3"))


def test_host_emergency_ha_disable():
    w = ha_world(3)
    r = run(w, "plot2", ["host-emergency-ha-disable"], 1.0)
    assert (r.stdout, r.stderr, r.rc) == (
        "",
        INTERNAL + "message: Failure: This operation is dangerous and may cause data loss. "
                   "This operation must be forced (use --force).\n",
        1,
    )
    assert ok(w, "plot2", ["host-emergency-ha-disable", "soft=true", "force=true"], 1.0) == ""
    h = hs(w, "plot2", 1.0)
    assert h["ha"]["armed"] and not h["ha"]["xhad"]  # soft: xhad stopped, still armed
    assert ok(w, "plot3", ["host-emergency-ha-disable", "--force"], 1.0) == ""
    assert local_db(w, "plot3")["ha.armed"] == "false"
    r = run(w, "plot3", ["host-emergency-ha-disable", "--force"], 1.1)
    assert (r.stderr, r.rc) == ("The operation could not be performed because HA is not enabled on the Pool\n", 1)
    assert ok(w, "plot3", ["host-emergency-ha-disable", "--force", "soft=true"], 1.1) == ""
    # the others drop them after T without anyone fencing; HA stays on in the pool's database
    later = 1.0 + T + T / 10
    assert liveset_of(w, "plot1", later) == ["plot1"]
    assert all(hs(w, n, later)["ha"]["fences"] == 0 for n in w.names)
    assert w.status(later)["ha"]["enabled"] is True


def test_an_armed_host_refuses_emergency_promotion_with_or_without_force():
    w = ha_world(3)
    w.crash("plot1", 1.0)
    for argv in (["pool-emergency-transition-to-master"], ["pool-emergency-transition-to-master", "--force"]):
        r = run(w, "plot2", argv, 1.5)
        assert (r.stderr, r.rc) == (HA_IS_ENABLED, 1)
    r = run(w, "plot3", ["pool-emergency-reset-master", "master-address=plot2"], 1.5)
    assert (r.stderr, r.rc) == (HA_IS_ENABLED, 1)
    assert w.read_file("plot2", "/etc/xensource/pool.conf") == "slave:127.77.0.11"


def test_failures_to_tolerate_is_kept_in_the_pool_database():
    w = ha_world(3)
    pool = w.host("plot1").db.pool_uuid
    q = ["pool-list", "params=master,ha-enabled,ha-host-failures-to-tolerate"]
    assert ok(w, "plot3", q, 1.0) == (  # forwarded from a slave, printed in the record layout
        f"master ( RO)                          : {w.host('plot1').uuid}\n"
        "                      ha-enabled ( RO): true\n"
        "    ha-host-failures-to-tolerate ( RW): 0\n\n\n"
    )
    assert ok(w, "plot2", ["pool-param-set", f"uuid={pool}", "ha-host-failures-to-tolerate=1"], 1.0) == ""
    for field, value in (("ha-host-failures-to-tolerate", "1"), ("ha-plan-exists-for", "1")):
        assert ok(w, "plot3", ["pool-param-get", f"uuid={pool}", f"param-name={field}"], 1.0) == f"{value}\n"
    r = run(w, "plot2", ["pool-param-set", f"uuid={pool}", "ha-host-failures-to-tolerate=-1"], 1.0)
    assert (r.stderr, r.rc) == ("The value given is invalid\nfield: ha_host_failures_to_tolerate\nvalue: -1\n", 1)
    r = run(w, "plot2", ["pool-param-set", f"uuid={pool}", "ha-enabled=false"], 1.0)
    assert r.stderr == INTERNAL + "message: Failure: Field 'ha-enabled' is read-only.\n"


def test_ha_query_liveset_without_xhad_exits_14_silently():
    w = World(2, params=PARAMS)
    assert w.ha_query_liveset("plot1", 0.0) == ("", 14)
    w = ha_world(2)
    w.crash("plot2", 1.0)
    w.poweron("plot2", 1.1)
    assert w.ha_query_liveset("plot2", 1.2) == ("", 14)  # still booting


def test_reinstall_wipes_xhad_conf_and_local_db_but_a_disable_does_not():
    w = ha_world(3)
    ok(w, "plot1", ["pool-ha-disable"], 1.0)
    assert w.read_file("plot3", "/etc/xensource/xhad.conf") is not None
    w.crash("plot3", 2.0)
    w.reinstall("plot3", 2.0)
    assert w.read_file("plot3", "/etc/xensource/xhad.conf") is None
    assert local_db(w, "plot3") == {"ha.armed": "false"}
    assert w.read_file("plot3", "/var/log/xha.log") is None


def test_the_same_seed_gives_the_same_failover():
    def history(seed: int) -> dict:
        w = World(5, params=PARAMS, ha=True, seed=seed)
        w.crash("plot1", 1.0)
        w.cable_out("plot4", 2.0)
        return w.status(1.0 + 4 * T)

    assert history(7) == history(7)
