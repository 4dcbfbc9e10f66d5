"""pool-join and reinstall in the pure world: a forgotten host reinstalled and joined
again, and each way the join fails as xapi fails it (xapi_pool.ml `join_common` and
`pre_join_checks`, cli_operations.ml `pool_join`, xapi_cli.ml's handling of a failed login).
"""

import pytest

from poolterm.sim.world import ROOT_PASSWORD, SimError, SimParams, World, XeDone, XeHang

PARAMS = SimParams(fuse=0.5, boot=0.5, xapi_start=0.3, shutdown=0.3)
JOINING = "Host agent will restart and attempt to join pool in 0.5 seconds...\n"
CANNOT_CONTACT = (
    "Host cannot contact destination host: connection refused.\n"
    "Check destination host has services running and accessible from this host.\n"
)


def hs(w: World, name: str, now: float) -> dict:
    return next(h for h in w.status(now)["hosts"] if h["name"] == name)


def join(w: World, name: str, master: str, now: float, *, user: str = "root", password: str = ROOT_PASSWORD,
         extra: tuple[str, ...] = ()):
    argv = ["pool-join", f"master-address={master}", f"master-username={user}", f"master-password={password}"]
    return w.xe(name, argv + list(extra), now)


def forgotten_and_reinstalled(n: int = 4) -> tuple[World, float]:
    """plot4 shut down, forgotten by plot1, reinstalled and booted: a pool of its own."""
    w = World(n, params=PARAMS)
    w.shutdown("plot4", 0.0)
    r = w.xe("plot1", ["host-forget", f"uuid={w.host('plot4').uuid}", "--force"], 1.0)
    assert r == XeDone("", "", 0)
    w.reinstall("plot4", 1.0)
    w.poweron("plot4", 1.0)
    return w, 3.0


# ---------------------------------------------------------------------------
# reinstall
# ---------------------------------------------------------------------------


def test_reinstall_gives_a_fresh_host_that_is_the_master_of_its_own_pool():
    w = World(4, params=PARAMS)
    old = w.host("plot4").uuid
    old_secret = hs(w, "plot4", 0.0)["ptoken_sha256"]
    w.crash("plot4", 0.0)
    w.reinstall("plot4", 1.0)
    assert w.read_file("plot4", "/etc/xensource/pool.conf") == "master"
    w.poweron("plot4", 1.0)
    now = 3.0
    new = w.host("plot4").uuid
    assert new != old and w.host_by_uuid(old) is None and w.host_by_uuid(new) is w.host("plot4")
    assert f"INSTALLATION_UUID='{new}'" in w.read_file("plot4", "/etc/xensource-inventory")
    st = hs(w, "plot4", now)
    assert (st["role"], st["emergency"], st["enabled"], st["installs"]) == ("master", False, True, 1 + 1)
    assert st["ptoken_sha256"] not in (old_secret, hs(w, "plot1", now)["ptoken_sha256"])
    assert st["address"] == "127.77.0.14" and st["name"] == "plot4"
    assert w.xe("plot4", ["host-list", "params=uuid", "--minimal"], now) == XeDone(new + "\n", "", 0)
    pools = {m["name"]: m for m in w.status(now)["masters"]}
    assert set(pools) == {"plot1", "plot4"} and pools["plot4"]["pool_uuid"] != pools["plot1"]["pool_uuid"]
    assert pools["plot4"]["pool_name"] == "" and [h["name"] for h in pools["plot4"]["db_hosts"]] == ["plot4"]
    # the installer wiped the disk its log was on
    assert "power lost" not in w.read_file("plot4", "/var/log/xensource.log")


def test_reinstall_needs_the_host_powered_off():
    w = World(3, params=PARAMS)
    with pytest.raises(SimError, match="power it off before reinstalling it"):
        w.reinstall("plot2", 0.0)
    with pytest.raises(SimError, match="no host named"):
        w.reinstall("plot9", 0.0)


def test_a_reinstall_is_seeded_like_the_rest_of_the_world():
    uuids = []
    for _ in range(2):
        w = World(3, params=PARAMS, seed=7)
        w.crash("plot3", 0.0)
        w.reinstall("plot3", 0.0)
        uuids.append(w.host("plot3").uuid)
    assert uuids[0] == uuids[1]


# ---------------------------------------------------------------------------
# pool-join: success
# ---------------------------------------------------------------------------


def test_a_reinstalled_host_joins_and_becomes_a_slave_of_the_master():
    w, now = forgotten_and_reinstalled()
    master = w.host("plot1")
    r = join(w, "plot4", master.address, now)
    assert r == XeDone(JOINING, "", 0)
    # pool.conf and the secret are written at once; xapi acts on them after the fuse
    assert w.read_file("plot4", "/etc/xensource/pool.conf") == f"slave:{master.address}"
    assert hs(w, "plot4", now)["ptoken_sha256"] == hs(w, "plot1", now)["ptoken_sha256"]
    assert hs(w, "plot4", now)["role"] == "master"
    now += 0.5 + 0.3 + 0.1
    st = hs(w, "plot4", now)
    assert (st["role"], st["master_address"], st["emergency"], st["enabled"]) == ("slave", master.address, False, True)
    db = next(m for m in w.status(now)["masters"] if m["name"] == "plot1")["db_hosts"]
    assert {h["name"]: h["live"] for h in db} == {f"plot{i}": True for i in range(1, 5)}
    assert [m["name"] for m in w.status(now)["masters"]] == ["plot1"]
    # forwarded commands on the new slave are answered by plot1
    out = w.xe("plot4", ["pool-list", "params=master", "--minimal"], now)
    assert out == XeDone(master.uuid + "\n", "", 0)
    log = w.read_file("plot4", "/var/log/xensource.log") + w.read_file("plot1", "/var/log/xensource.log")
    assert "Startup successful" in log and ROOT_PASSWORD not in log


def test_force_joins_as_well():
    w, now = forgotten_and_reinstalled()
    assert join(w, "plot4", "127.77.0.11", now, extra=("--force",)) == XeDone(JOINING, "", 0)


# ---------------------------------------------------------------------------
# pool-join: each failure
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["crash", "shutdown", "cable_out"])
def test_an_unreachable_master_is_reported_on_stdout_with_exit_0(fault):
    w, now = forgotten_and_reinstalled()
    getattr(w, fault)("plot1", now)
    assert join(w, "plot4", "127.77.0.11", now + 2) == XeDone(CANNOT_CONTACT, "", 0)
    assert w.read_file("plot4", "/etc/xensource/pool.conf") == "master"


def test_a_master_whose_xapi_is_stopped_refuses_the_connection():
    w, now = forgotten_and_reinstalled()
    w.toolstack_restart("plot1", now)  # xapi starting: nothing listens yet
    assert join(w, "plot4", "127.77.0.11", now) == XeDone(CANNOT_CONTACT, "", 0)


def test_a_hung_master_xapi_hangs_the_join():
    w, now = forgotten_and_reinstalled()
    w.hang_xapi("plot1", now)
    assert isinstance(join(w, "plot4", "127.77.0.11", now), XeHang)


@pytest.mark.parametrize("user,password", [("root", "wrong"), ("admin", ROOT_PASSWORD), ("root", "")])
def test_wrong_credentials_fail_as_xe_words_a_failed_login(user, password):
    w, now = forgotten_and_reinstalled()
    r = join(w, "plot4", "127.77.0.11", now, user=user, password=password)
    assert r == XeDone("", "Authentication failed\nFor usage run: 'xe help'\n", 1)
    assert w.read_file("plot4", "/etc/xensource/pool.conf") == "master"
    assert hs(w, "plot4", now)["ptoken_sha256"] != hs(w, "plot1", now)["ptoken_sha256"]


def test_an_empty_username_asks_for_credentials():
    w, now = forgotten_and_reinstalled()
    r = join(w, "plot4", "127.77.0.11", now, user="")
    assert r == XeDone("", "Username/password must be specified\nFor usage run: 'xe help'\n", 1)


def test_joining_a_slave_is_redirected_to_its_master():
    w, now = forgotten_and_reinstalled()
    r = join(w, "plot4", "127.77.0.12", now)
    assert r == XeDone("", "You cannot make regular API calls directly on a supporter. Please pass API calls "
                           "via the coordinator host.\nMaster IP address: 127.77.0.11\n", 1)


def test_a_master_of_other_hosts_cannot_join_another_pool():
    w, now = forgotten_and_reinstalled()
    r = join(w, "plot1", "127.77.0.14", now)
    assert r == XeDone("", "The host joining the pool cannot already be a master of another pool.\n", 1)


def test_a_host_cannot_join_itself():
    w, now = forgotten_and_reinstalled()
    r = join(w, "plot4", "127.77.0.14", now)
    assert r == XeDone("", "You attempted an operation that was not allowed.\n"
                           "reason: Host cannot become slave of itself\n", 1)


def test_a_member_cannot_join_its_own_pool_again():
    w = World(3, params=PARAMS)
    r = join(w, "plot2", "127.77.0.11", 0.0)  # forwarded to plot1, which is the pool to join
    assert r == XeDone("", "You attempted an operation that was not allowed.\n"
                           "reason: Host is already part of a pool\n", 1)


def test_ha_on_either_side_refuses_the_join():
    w, now = forgotten_and_reinstalled()
    assert w.xe("plot1", ["pool-ha-enable"], now).rc == 0
    r = join(w, "plot4", "127.77.0.11", now)
    assert r == XeDone("", "The operation could not be performed because HA is enabled on the Pool\n", 1)


def test_the_forgotten_host_itself_cannot_join_it_is_stuck_in_emergency_mode():
    """The notes: "xe pool-join force=1 ... (i doubt this would work since it is already the member
    of a pool)". It does not: pool-join is forwarded, and the forgotten host's xapi refuses every
    forwarded command with the master's verdict."""
    w = World(4, params=PARAMS)
    w.shutdown("plot4", 0.0)
    assert w.xe("plot1", ["host-forget", f"uuid={w.host('plot4').uuid}", "--force"], 1.0).rc == 0
    w.poweron("plot4", 1.0)
    r = join(w, "plot4", "127.77.0.11", 3.0, extra=("force=true",))
    assert r.rc == 1 and "not known to it" in r.stderr


def test_a_missing_parameter_is_named():
    w, now = forgotten_and_reinstalled()
    r = w.xe("plot4", ["pool-join", "master-address=127.77.0.11", "master-username=root"], now)
    assert r == XeDone("", "Required parameter not found: master-password\nFor usage run: 'xe help'\n", 1)


def test_pool_join_is_in_xe_help():
    w = World(1, params=PARAMS)
    r = w.xe("plot1", ["help", "pool-join"], 0.0)
    assert "reqd params     : master-address, master-username, master-password" in r.stdout


# ---------------------------------------------------------------------------
# over SSH and the control socket, with every log captured
# ---------------------------------------------------------------------------


async def test_reinstall_and_join_over_ssh_log_no_password(tmp_path, caplog):
    import logging
    import shlex

    from poolterm.sim.runtime import Simulator
    from tests.helpers.ssh import openssh

    caplog.set_level(logging.DEBUG)
    async with Simulator(3, tmp_path / "sim", params=PARAMS) as sim:
        await sim.ctl("crash", "plot3")
        assert await sim.ctl("reinstall", "plot3") == {"ok": True, "action": "reinstall", "host": "plot3"}
        await sim.ctl("poweron", "plot3")
        await sim.wait_until(lambda s: s["hosts"][2]["role"] == "master", 10)
        command = (f"xe pool-join master-address={sim.address_of('plot1')} master-username=root "
                   f"master-password={shlex.quote(ROOT_PASSWORD)}")
        done = await openssh(sim, "plot3", command)
        assert (done.returncode, done.stdout, done.stderr) == (0, JOINING, "")
        status = await sim.wait_until(lambda s: s["hosts"][2]["role"] == "slave" and not s["hosts"][2]["emergency"],
                                      10)
        assert status["hosts"][2]["installs"] == 2
        assert any("pool-join" in r.getMessage() for r in caplog.records)  # asyncssh did log the command ...
        assert all(ROOT_PASSWORD not in r.getMessage() for r in caplog.records)  # ... without the password
