"""Random histories of faults, time and xe commands (recovery commands included, on any
host) never break the world: ctl requests fail only with SimError, and the invariants
below hold after every step."""

import json
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from poolterm.sim.world import SimError, SimParams, World, XeAsk, XeDone, XeHang

N = 5
NAMES = [f"plot{i}" for i in range(1, N + 1)]
PARAMS = SimParams(fuse=3.0, boot=2.0, xapi_start=1.0, shutdown=1.0, emergency_retry=2.0, permanent_retry=7.0,
                   dead_after=30.0)
FAULTS = ["shutdown", "crash", "poweron", "cable_out", "cable_in", "hang_xapi", "unhang_xapi"]
POOL_CONF = re.compile(r"master|broken|slave:127\.77\.0\.\d+")


def _xe_commands(uuids: list[str]) -> st.SearchStrategy[list[str]]:
    any_uuid = st.sampled_from(uuids + ["not-a-uuid"])
    return st.one_of(
        st.sampled_from(
            [
                ["host-list"],
                ["pool-list", "params=master", "--minimal"],
                ["host-list", "params=uuid,enabled,address,host-metrics-live"],
                ["host-is-in-emergency-mode"],
                ["pool-emergency-transition-to-master"],
                ["pool-emergency-transition-to-master", "--force"],
                ["pool-recover-slaves"],
                ["pool-sync-database"],
                ["pool-ha-enable"],
                ["pool-ha-disable"],
                ["host-emergency-ha-disable", "--force"],
                ["host-disable", "--multiple"],
                ["host-enable", "--multiple"],
                ["help"],
                ["bogus-command"],
            ]
        ),
        st.sampled_from(NAMES).map(lambda n: ["pool-emergency-reset-master", f"master-address={n}"]),
        any_uuid.map(lambda u: ["host-forget", f"uuid={u}", "--force"]),
        any_uuid.map(lambda u: ["host-forget", f"uuid={u}"]),
        any_uuid.map(lambda u: ["pool-designate-new-master", f"host-uuid={u}"]),
        any_uuid.map(lambda u: ["host-disable", f"uuid={u}"]),
        any_uuid.map(lambda u: ["host-shutdown", f"uuid={u}"]),
        any_uuid.map(lambda u: ["host-reboot", f"uuid={u}"]),
    )


UUIDS = [h.uuid for h in World(N, params=PARAMS).hosts()]

STEP = st.one_of(
    st.tuples(st.just("wait"), st.sampled_from([0.0, 0.5, 1.0, 2.5, 4.0, 8.0, 31.0])),
    st.tuples(st.just("fault"), st.sampled_from(FAULTS), st.sampled_from(NAMES)),
    st.tuples(st.just("xe"), st.sampled_from(NAMES), _xe_commands(UUIDS), st.sampled_from([None, "yes", "no"])),
    st.tuples(st.just("restart"), st.sampled_from(NAMES)),
    # a partition long enough for a second master to be promoted, then healed: split brain
    st.tuples(st.just("split"), st.sampled_from(NAMES), st.sampled_from(NAMES)),
)


def apply(w: World, step: tuple, now: float) -> float:
    kind = step[0]
    if kind == "wait":
        now += step[1]
        w.advance(now)
    elif kind == "fault":
        try:
            getattr(w, step[1])(step[2], now)
        except SimError as e:
            assert str(e) and "\n" not in str(e)
    elif kind == "split":
        _, cut, promote = step
        if w.host(cut).link == "up":
            w.cable_out(cut, now)
        w.xe(promote, ["pool-emergency-transition-to-master"], now)
        now += PARAMS.fuse + PARAMS.xapi_start + 0.5
        w.advance(now)
        w.cable_in(cut, now)
    elif kind == "restart":
        r = w.toolstack_restart(step[1], now)
        assert r.rc == (0 if w.host(step[1]).power == "on" else 1)
    else:
        _, name, argv, reply = step
        r = w.xe(name, argv, now, reply=reply)
        assert isinstance(r, (XeDone, XeHang, XeAsk))
        if isinstance(r, XeDone):
            assert r.rc in (0, 1)
            assert r.stderr == "" or r.stderr.endswith("\n")
            assert r.stdout == "" or r.stdout.endswith("\n")
        if isinstance(r, XeAsk):
            assert r.text.endswith("Type 'yes' to continue\n")
    return now


def check_invariants(w: World, now: float) -> None:
    status = w.status(now)
    json.loads(json.dumps(status))
    for h in status["hosts"]:
        assert POOL_CONF.fullmatch(h["pool_conf"]), h["pool_conf"]
        assert (h["role"] is None) == (h["xapi"] in ("starting", "stopped")), h
        assert h["role"] in (None, "master", "slave", "broken")
        assert h["emergency"] == (h["emergency_error"] is not None), h
        if h["emergency"]:
            assert h["xapi"] in ("running", "hung") and h["role"] != "master"
        if h["power"] != "on":
            assert h["xapi"] == "stopped"
    for m in status["masters"]:
        db = m["db_hosts"]
        assert len({d["uuid"] for d in db}) == len(db)
        assert len({d["address"] for d in db}) == len(db)
        assert next(h for h in status["hosts"] if h["name"] == m["name"])["role"] == "master"
    due = w.next_due()
    assert due is None or due > now


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(STEP, min_size=10, max_size=60))
def test_random_histories_keep_the_invariants(steps):
    w = World(N, params=PARAMS)
    now, version = 0.0, w.version
    for step in steps:
        now = apply(w, step, now)
        assert w.version >= version
        version = w.version
        check_invariants(w, now)


@settings(max_examples=40, deadline=None)
@given(st.lists(STEP, min_size=5, max_size=40))
def test_histories_are_deterministic(steps):
    a, b = World(N, params=PARAMS, seed=3), World(N, params=PARAMS, seed=3)
    now_a = now_b = 0.0
    for step in steps:
        now_a = apply(a, step, now_a)
        now_b = apply(b, step, now_b)
    assert a.status(now_a) == b.status(now_b)
    assert a.version == b.version


@settings(max_examples=60, deadline=None)
@given(st.lists(STEP, min_size=5, max_size=40))
def test_healing_everything_and_recovering_on_one_master_converges(steps):
    """Whatever happened: power everything on, plug every cable in, unhang every xapi,
    disarm HA, point every pool.conf at plot1 by hand and restart every toolstack. The
    pool ends with plot1 its only master and every host it knows a healthy slave
    (hosts plot1's database forgot sit in HOST_UNKNOWN_TO_MASTER)."""
    w = World(N, params=PARAMS)
    now = 0.0
    for step in steps:
        now = apply(w, step, now)
    settle = PARAMS.shutdown + PARAMS.boot + PARAMS.xapi_start + 0.1
    now += settle  # let shutdowns and reboots in flight finish
    w.advance(now)
    for name in NAMES:
        h = w.host(name)
        if h.power == "off":
            w.poweron(name, now)
        if h.link == "down":
            w.cable_in(name, now)
    now += settle
    w.advance(now)
    for name in NAMES:
        if w.host(name).xapi == "hung":
            w.unhang_xapi(name, now)
    # Disarm until every host is: one mid-restart (a fuse after a failover) does not answer yet, and
    # a host left armed fences on the toolstack restart below, as a real one would.
    for _ in range(20):
        armed = [name for name in NAMES if w.host(name).ha_armed]
        if not armed:
            break
        for name in armed:
            w.xe(name, ["host-emergency-ha-disable", "--force"], now)
        now += PARAMS.xapi_start + 0.5
        w.advance(now)
    assert not [name for name in NAMES if w.host(name).ha_armed]
    w.write_file("plot1", "/etc/xensource/pool.conf", "master")
    for name in NAMES[1:]:
        w.write_file(name, "/etc/xensource/pool.conf", f"slave:{w.host('plot1').address}")
    for name in NAMES:
        w.toolstack_restart(name, now)
    w.advance(now + PARAMS.xapi_start + PARAMS.emergency_retry + 1)
    now += PARAMS.xapi_start + PARAMS.emergency_retry + 1
    status = w.status(now)
    assert [m["name"] for m in status["masters"]] == ["plot1"]
    known = {d["uuid"] for d in status["masters"][0]["db_hosts"]}
    for h in status["hosts"]:
        assert h["xapi"] == "running"
        assert h["master_address"] == w.host("plot1").address
        if h["uuid"] in known:
            assert not h["emergency"], h
        else:
            assert h["emergency_error"] == "HOST_UNKNOWN_TO_MASTER"
