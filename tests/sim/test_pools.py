"""Several pools in one simulator (`poolterm sim --pools K`): each with its own uuid, name, secret
and master, on one network; the world, the hosts over real SSH, the control socket and the CLI."""

from __future__ import annotations

import json

import pytest

from poolterm.cli.main import main
from poolterm.config.inventory import load_inventory
from poolterm.sim.control import format_status, request
from poolterm.sim.runtime import Simulator
from poolterm.sim.world import ROOT_PASSWORD, PoolPlan, SimError, World, XeDone, pool_layout
from tests.helpers.sim import PARAMS, QUICK
from tests.helpers.ssh import openssh
from tests.helpers.truth import host_field

# ---------------------------------------------------------------------------
# The layout
# ---------------------------------------------------------------------------


def test_hosts_are_split_in_contiguous_runs_the_first_pools_taking_the_remainder():
    assert pool_layout(10, 3) == [
        PoolPlan("lab1", ("plot1", "plot2", "plot3", "plot4")),
        PoolPlan("lab2", ("plot5", "plot6", "plot7")),
        PoolPlan("lab3", ("plot8", "plot9", "plot10")),
    ]
    assert [p.master for p in pool_layout(10, 3)] == ["plot1", "plot5", "plot8"]


def test_one_pool_is_named_as_before_and_many_are_numbered_to_the_width_of_their_count():
    assert pool_layout(8, 1) == [PoolPlan("lab", tuple(f"plot{i}" for i in range(1, 9)))]
    fleet = pool_layout(5000, 50, "dc")
    assert [p.name for p in fleet[:2]] + [fleet[-1].name] == ["dc01", "dc02", "dc50"]
    assert {len(p.hosts) for p in fleet} == {100}
    assert (fleet[36].name, fleet[36].master, fleet[36].hosts[-1]) == ("dc37", "plot3601", "plot3700")


@pytest.mark.parametrize("hosts, pools, message", [
    (3, 0, "at least one pool"),
    (3, 4, "4 pools need at least 4 hosts"),
])
def test_a_pool_count_the_hosts_cannot_fill_is_refused(hosts, pools, message):
    with pytest.raises(SimError, match=message):
        World(hosts, pools=pools)


# ---------------------------------------------------------------------------
# The world
# ---------------------------------------------------------------------------


def test_each_pool_has_its_own_uuid_name_secret_and_master():
    w = World(7, pools=2)
    status = w.status(0.0)
    masters = {m["name"]: m for m in status["masters"]}
    assert set(masters) == {"plot1", "plot5"}
    assert (masters["plot1"]["pool_name"], masters["plot5"]["pool_name"]) == ("lab1", "lab2")
    assert masters["plot1"]["pool_uuid"] != masters["plot5"]["pool_uuid"]
    assert [r["name"] for r in masters["plot5"]["db_hosts"]] == ["plot5", "plot6", "plot7"]
    secrets = {h["name"]: h["ptoken_sha256"] for h in status["hosts"]}
    assert len({secrets[f"plot{i}"] for i in range(1, 5)}) == 1
    assert len({secrets[f"plot{i}"] for i in range(5, 8)}) == 1
    assert secrets["plot1"] != secrets["plot5"]
    confs = {h["name"]: h["pool_conf"] for h in status["hosts"]}
    assert confs["plot5"] == "master"
    assert confs["plot7"] == f"slave:{w.host('plot5').address}"
    assert status["pools"] == [
        {"name": "lab1", "master": "plot1", "hosts": ["plot1", "plot2", "plot3", "plot4"]},
        {"name": "lab2", "master": "plot5", "hosts": ["plot5", "plot6", "plot7"]},
    ]


def test_one_pool_is_built_exactly_as_before():
    """Same seed, same uuids and secrets: a single pool does not notice that pools exist."""
    one, default = World(5, pools=1, seed=3), World(5, seed=3)
    assert [(h.uuid, h.ptoken, h.pool_conf) for h in one.hosts()] == [
        (h.uuid, h.ptoken, h.pool_conf) for h in default.hosts()]


def test_a_slave_pointed_at_another_pools_master_is_unknown_to_it():
    """xapi-facts §1.2: a slave pointed at a master with a different secret gets HOST_UNKNOWN_TO_MASTER
    (permanent emergency mode); the other pool is untouched."""
    w = World(6, pools=2)
    other = w.host("plot1").address
    done = w.xe("plot6", ["pool-emergency-reset-master", f"master-address={other}"], 1.0)
    assert isinstance(done, XeDone) and done.rc == 0, done
    w.advance(1.0 + w.params.fuse + w.params.xapi_start + 1.0)
    plot6 = next(h for h in w.status(w.now)["hosts"] if h["name"] == "plot6")
    assert plot6["pool_conf"] == f"slave:{other}"
    assert (plot6["emergency"], plot6["emergency_error"]) == (True, "HOST_UNKNOWN_TO_MASTER")
    lab1 = next(m for m in w.status(w.now)["masters"] if m["name"] == "plot1")
    assert [r["name"] for r in lab1["db_hosts"]] == ["plot1", "plot2", "plot3"]


def test_the_host_of_a_pool_of_one_joins_another_pool():
    """Pools share the network: `xe pool-join` to another pool's master works as between real pools."""
    w = World(4, params=PARAMS, pools=3)
    assert [p.hosts for p in w.pools] == [("plot1", "plot2"), ("plot3",), ("plot4",)]
    master = w.host("plot1")
    argv = ["pool-join", f"master-address={master.address}", "master-username=root",
            f"master-password={ROOT_PASSWORD}"]
    done = w.xe("plot4", argv, 1.0)
    assert isinstance(done, XeDone) and done.rc == 0, done
    w.advance(1.0 + PARAMS.fuse + PARAMS.xapi_start + 0.1)
    status = w.status(w.now)
    plot4 = next(h for h in status["hosts"] if h["name"] == "plot4")
    assert (plot4["role"], plot4["master_address"], plot4["emergency"]) == ("slave", master.address, False)
    lab1 = next(m for m in status["masters"] if m["name"] == "plot1")
    assert [r["name"] for r in lab1["db_hosts"]] == ["plot1", "plot2", "plot4"]
    assert [m["name"] for m in status["masters"]] == ["plot1", "plot3"]


def test_ha_is_enabled_in_every_pool_each_with_its_own_liveset():
    w = World(6, pools=2, ha=True)
    for name in ("plot1", "plot4"):
        peers = w.ha.cluster(w.host(name)).conf.peers
        assert sorted(w.host_by_uuid(u).name for u, _ in peers) == (
            ["plot1", "plot2", "plot3"] if name == "plot1" else ["plot4", "plot5", "plot6"])
    assert all(h.ha_armed for h in w.hosts())


# ---------------------------------------------------------------------------
# Over SSH
# ---------------------------------------------------------------------------


@pytest.fixture
async def two_pools(tmp_path):
    async with Simulator(7, tmp_path / "sim", params=QUICK, pools=2) as sim:
        yield sim


def field(text: str, name: str) -> list[str]:
    """The values of one field in xe's record output, in order."""
    return [line.split(": ", 1)[1] for line in text.splitlines() if line.strip().startswith(f"{name} (")]


async def test_each_master_serves_its_own_pool(two_pools):
    sim = two_pools
    truth = {m["name"]: m for m in sim.status()["masters"]}
    for master, name, hosts in (("plot1", "lab1", ["plot1", "plot2", "plot3", "plot4"]),
                                ("plot5", "lab2", ["plot5", "plot6", "plot7"])):
        pools = await openssh(sim, master, "xe pool-list")
        assert pools.returncode == 0, pools.stderr
        assert field(pools.stdout, "name-label") == [name]
        assert field(pools.stdout, "uuid") == [truth[master]["pool_uuid"]]
        listed = await openssh(sim, master, "xe host-list params=name-label --minimal")
        assert sorted(listed.stdout.strip().split(",")) == sorted(hosts)


async def test_a_slave_of_the_second_pool_believes_its_master(two_pools):
    sim = two_pools
    conf = await openssh(sim, "plot6", "cat /etc/xensource/pool.conf")
    assert conf.stdout == f"slave:{sim.address_of('plot5')}"
    name = await openssh(sim, "plot6", "xe pool-list params=name-label --minimal")
    assert (name.returncode, name.stdout) == (0, "lab2\n")


async def test_losing_the_second_pools_master_leaves_the_first_untouched(two_pools):
    sim = two_pools
    await sim.ctl("crash", "plot5")
    status = await sim.wait_until(lambda s: host_field(s, "plot5", "power") == "off")
    assert [m["name"] for m in status["masters"]] == ["plot1"]
    lab1 = [h for h in status["hosts"] if h["pool"] == "lab1"]
    assert [(h["power"], h["xapi"], h["emergency"]) for h in lab1] == [("on", "running", False)] * 4
    answer = await openssh(sim, "plot3", "xe pool-list params=name-label --minimal")
    assert (answer.returncode, answer.stdout) == (0, "lab1\n")
    # plot6's forwarded call waits for its master, as on a real slave: only `timeout` ends it.
    hung = await openssh(sim, "plot6", "timeout 1 xe pool-list params=name-label --minimal")
    assert hung.returncode == 124


async def test_status_over_the_control_socket_names_pools_and_their_masters(two_pools):
    sim = two_pools
    answer = await request(sim.control_path, {"action": "status"})
    truth = json.loads(json.dumps(answer))
    assert truth["pools"] == [
        {"name": "lab1", "master": "plot1", "hosts": ["plot1", "plot2", "plot3", "plot4"]},
        {"name": "lab2", "master": "plot5", "hosts": ["plot5", "plot6", "plot7"]},
    ]
    assert {h["name"]: h["pool"] for h in truth["hosts"]} == {
        **{f"plot{i}": "lab1" for i in range(1, 5)}, **{f"plot{i}": "lab2" for i in range(5, 8)}}


async def test_the_text_status_has_a_line_per_pool_and_lists_only_hosts_not_as_built(two_pools):
    sim = two_pools
    await sim.ctl("cable-out", "plot6")
    lines = format_status(sim.status()).splitlines()
    assert lines[0].split() == ["POOL", "HOSTS", "BUILT", "MASTER", "MASTERS", "NOW", "NOT", "AS", "BUILT"]
    assert lines[1].split() == ["lab1", "4", "plot1", "plot1", "0"]
    assert lines[2].split() == ["lab2", "3", "plot5", "plot5", "1"]
    assert lines[3].startswith("1 of 7 hosts not as built")
    assert lines[4].split()[:3] == ["NAME", "POOL", "POWER"]
    assert lines[5].split()[:4] == ["plot6", "lab2", "on", "down"]
    assert lines[6].startswith("simulated time")


async def test_hosts_of_different_pools_can_be_cut_apart(two_pools):
    """One network: a firewall between two hosts works whatever pools they are in."""
    sim = two_pools
    await sim.ctl("cut", "plot2", peer="plot6")
    assert host_field(sim.status(), "plot6", "cut_from") == ["plot2"]
    ping = await openssh(sim, "plot2", f"ping -c 1 {sim.address_of('plot6')}")
    assert ping.returncode != 0


async def test_hosts_yaml_has_one_entry_per_pool(two_pools):
    inventory = load_inventory(two_pools.hosts_yaml)
    assert [(p.name, [h.name for h in p.hosts]) for p in inventory.pools] == [
        ("lab1", ["plot1", "plot2", "plot3", "plot4"]), ("lab2", ["plot5", "plot6", "plot7"])]
    assert len({h.address for p in inventory.pools for h in p.hosts}) == 7


# ---------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------


POOLS_RANGE = "--pools must be between 1 and the number of hosts (3), not {}"


@pytest.mark.parametrize("argv, message", [
    (["sim", "--dir", "{d}", "--hosts", "3", "--pools", "4"], POOLS_RANGE.format(4)),
    (["sim", "--dir", "{d}", "--hosts", "3", "--pools", "0"], POOLS_RANGE.format(0)),
    (["demo", "--hosts", "3", "--pools", "5"], POOLS_RANGE.format(5)),
    (["demo", "--hosts", "5001"], "--hosts must be between 1 and 5000, not 5001"),
    (["demo", "--hosts", "8", "--pools", "2", "--drill", "master-shutdown"],
     "drill master-shutdown runs on one pool: leave out --pools"),
    (["demo", "--hosts", "2000", "--drill", "master-shutdown"], "drill master-shutdown runs on at most 1000 hosts"),
])
def test_a_bad_pool_count_is_one_line_and_exit_2(argv, message, tmp_path, capsys):
    try:
        status = main([a.format(d=tmp_path) for a in argv])
    except SystemExit as exc:
        status = int(exc.code or 0)
    _, err = capsys.readouterr()
    assert status == 2
    assert err.startswith(f"poolterm: {message}")
    assert err.count("\n") == 1 and "Traceback" not in err
