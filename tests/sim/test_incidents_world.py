"""The field notes' three incidents (seed/pool-failure-field-notes.txt), replayed on the pure world.

An 8-host pool plot1..plot8, plot1 master, default timings (fuse 10 s, boot 5 s,
xapi start 2 s, hosts marked dead after 600 s).
"""

from poolterm.sim.world import World, XeAsk, XeDone, XeHang

HOURS = 3600.0


def ok(w: World, name: str, argv: list[str], now: float) -> str:
    r = w.xe(name, argv, now)
    assert isinstance(r, XeDone) and r.rc == 0, r
    return r.stdout


def fails(w: World, name: str, argv: list[str], now: float) -> str:
    r = w.xe(name, argv, now)
    assert isinstance(r, XeDone) and r.rc == 1, r
    return r.stderr


def uuid(w: World, name: str) -> str:
    return w.host(name).uuid


def view(w: World, now: float) -> dict[str, tuple]:
    return {h["name"]: (h["role"], h["master_address"], h["emergency"]) for h in w.status(now)["hosts"]}


def masters(w: World, now: float) -> list[str]:
    return sorted(m["name"] for m in w.status(now)["masters"])


def healthy_under(w: World, master: str, now: float) -> bool:
    address = w.host(master).address
    return masters(w, now) == [master] and all(
        h["xapi"] == "running" and h["master_address"] == address and not h["emergency"]
        for h in w.status(now)["hosts"]
    )


def incident_1(w: World) -> float:
    """Master shut down; plot2 takes over; plot1 comes back as a slave. Returns the time reached."""
    w.shutdown("plot1", 100.0)
    w.advance(101.0)
    assert w.status(101.0)["hosts"][0]["power"] == "off"

    # "The server said FALSE!?!" and "the commands above never returned"
    assert ok(w, "plot2", ["host-is-in-emergency-mode"], 120.0) == "false\n"
    assert isinstance(w.xe("plot2", ["pool-list"], 120.0), XeHang)
    assert isinstance(w.xe("plot5", ["host-list"], 300.0), XeHang)

    assert ok(w, "plot2", ["pool-emergency-transition-to-master"], 400.0) == (
        "Host agent will restart and transition to master in 10. seconds...\n"
    )
    w.advance(412.0)
    assert masters(w, 412.0) == ["plot2"]
    # "the pool was restored but we could still not connect to ... the other plots"
    assert isinstance(w.xe("plot3", ["host-list"], 412.0), XeHang)

    out = ok(w, "plot2", ["pool-recover-slaves"], 420.0)
    recovered = out.split()
    assert sorted(recovered) == sorted(uuid(w, f"plot{i}") for i in range(3, 9))
    assert out == "".join(x + "\n" for x in recovered)
    w.advance(432.0)
    for i in range(3, 9):
        assert view(w, 432.0)[f"plot{i}"] == ("slave", "127.77.0.12", False)
    # plot1 stays in plot2's database; the new master gives every host 600 s from its
    # own start to heartbeat before marking it dead
    live = {h["name"]: h["live"] for h in w.status(1011.0)["masters"][0]["db_hosts"]}
    assert all(live.values())
    live = {h["name"]: h["live"] for h in w.status(1012.0)["masters"][0]["db_hosts"]}
    assert live["plot1"] is False and all(live[f"plot{i}"] for i in range(2, 9))

    # "I hold my breath to see if there are any master master conflicts"
    w.poweron("plot1", 1100.0)
    w.advance(1107.0)
    assert w.read_file("plot1", "/etc/xensource/pool.conf") == "slave:127.77.0.12"
    w.advance(1109.0)
    assert healthy_under(w, "plot2", 1109.0)
    assert ok(w, "plot1", ["pool-list", "params=master", "--minimal"], 1109.0) == uuid(w, "plot2") + "\n"
    return 1109.0


def test_incident_1_master_shut_down():
    w = World(8)
    incident_1(w)


def test_incident_2_master_cable_pulled_then_split_brain():
    w = World(8)
    t = incident_1(w)

    # "On plot2 (current pool master) I disconnected the ethernet cables."
    w.cable_out("plot2", t + 60)
    t0 = t + 120
    assert ok(w, "plot3", ["host-is-in-emergency-mode"], t0) == "false\n"
    assert isinstance(w.xe("plot3", ["pool-list"], t0), XeHang)
    assert isinstance(w.xe("plot3", ["host-list"], t0), XeHang)
    # "Even after 2 hours, the xe host-is-in-emergency-mode still returns false."
    t1 = t0 + 2 * HOURS
    assert ok(w, "plot3", ["host-is-in-emergency-mode"], t1) == "false\n"
    assert isinstance(w.xe("plot3", ["pool-list"], t1), XeHang)

    ok(w, "plot3", ["pool-emergency-transition-to-master"], t1)
    w.advance(t1 + 12)
    out = ok(w, "plot3", ["pool-recover-slaves"], t1 + 20)
    assert sorted(out.split()) == sorted(uuid(w, n) for n in ("plot1", "plot4", "plot5", "plot6", "plot7", "plot8"))
    w.advance(t1 + 32)
    assert view(w, t1 + 32)["plot2"] == ("master", "127.77.0.12", False)  # still partitioned, still master

    # "After reconnecting the ethernet cable to plot 2 ... they both, happily think they are the masters."
    t2 = t1 + 600
    w.cable_in("plot2", t2)
    w.advance(t2 + 300)
    assert masters(w, t2 + 300) == ["plot2", "plot3"]

    # "plot2 could not disable the host, because the host 'could not be contacted'"
    err = fails(w, "plot2", ["host-disable", f"uuid={uuid(w, 'plot4')}"], t2 + 310)
    assert err == (
        "You attempted an operation which involves a host which could not be contacted.\n"
        f"host: {uuid(w, 'plot4')} (plot4)\n"
    )
    # "On the plot2 master I used XenCenter to destroy the disconnected host plot7."
    assert ok(w, "plot2", ["host-forget", f"uuid={uuid(w, 'plot7')}", "--force"], t2 + 320) == ""
    plot2_db = next(m for m in w.status(t2 + 320)["masters"] if m["name"] == "plot2")["db_hosts"]
    plot3_db = next(m for m in w.status(t2 + 320)["masters"] if m["name"] == "plot3")["db_hosts"]
    assert "plot7" not in [h["name"] for h in plot2_db] and "plot7" in [h["name"] for h in plot3_db]

    # "We need to tell the new master to recover slaves."
    out = ok(w, "plot3", ["pool-recover-slaves"], t2 + 330)
    assert uuid(w, "plot2") in out.split()
    w.advance(t2 + 345)
    assert healthy_under(w, "plot3", t2 + 345)
    # "it did not use any of the pool definition from plot2"
    names = ok(w, "plot2", ["host-list", "params=name-label", "--minimal"], t2 + 346).strip().split(",")
    assert sorted(names) == [f"plot{i}" for i in range(1, 9)]


def test_incident_3_host_forgotten_while_down_comes_back_orphaned():
    w = World(8)
    w.shutdown("plot6", 10.0)
    w.advance(11.0)
    ask = w.xe("plot1", ["host-forget", f"uuid={uuid(w, 'plot6')}"], 20.0)
    assert isinstance(ask, XeAsk)
    r = w.xe("plot1", ["host-forget", f"uuid={uuid(w, 'plot6')}"], 21.0, reply="yes")
    assert r == XeDone("", "", 0)

    w.poweron("plot6", 100.0)
    w.advance(107.0)
    h = next(h for h in w.status(107.0)["hosts"] if h["name"] == "plot6")
    # "The orphaned server thinks it is in a pool, but can not get out of the pool"
    assert h["pool_conf"] == "slave:127.77.0.11"
    assert (h["role"], h["emergency"], h["emergency_error"]) == ("slave", True, "HOST_UNKNOWN_TO_MASTER")
    assert ok(w, "plot6", ["host-is-in-emergency-mode"], 107.0) == "true\n"
    err = fails(w, "plot6", ["pool-list"], 107.0)
    assert err.startswith("The coordinator says the server is not known to it.")
    assert err.endswith(f"host: {uuid(w, 'plot6')}\n")
    # "The master will not recognize the orphaned server": recovering slaves does not help
    assert uuid(w, "plot6") not in ok(w, "plot1", ["pool-recover-slaves"], 110.0).split()
    w.advance(110.0 + 3 * 60.0)
    h = next(h for h in w.status(290.0)["hosts"] if h["name"] == "plot6")
    assert h["emergency_error"] == "HOST_UNKNOWN_TO_MASTER"
    assert "Permanent error" in w.read_file("plot6", "/var/log/xensource.log")
