"""`sim ctl rekey HOST`: a host's new SSH host key, as after a reinstall, seen over real SSH."""

from __future__ import annotations

import asyncio

import pytest

from poolterm.sim.control import request
from poolterm.transport import hostkeys
from poolterm.transport.hostkeys import HostKey
from poolterm.transport.sshlib import asyncssh
from tests.helpers.cli import poolterm
from tests.helpers.ssh import connect
from tests.helpers.truth import host_field

pytestmark = pytest.mark.sim(hosts=3)


def recorded(sim, host: str) -> HostKey:
    """The key DIR/known_hosts holds for ``host`` (what the simulator wrote at start)."""
    (key,) = hostkeys.recorded(sim.known_hosts, sim.address_of(host), sim.port_of(host))
    return key


async def offered(sim, host: str) -> HostKey:
    return await hostkeys.offered(sim.address_of(host), sim.port_of(host))


async def test_status_shows_each_hosts_key_as_ssh_keygen_prints_it(sim):
    for name in sim.world.names:
        fingerprint = host_field(sim.status(), name, "host_key")
        assert fingerprint == recorded(sim, name).fingerprint == (await offered(sim, name)).fingerprint


async def test_a_rekeyed_host_drops_its_connections_and_offers_a_new_key(sim):
    old = host_field(sim.status(), "plot2", "host_key")
    async with connect(sim, "plot2") as before, connect(sim, "plot3") as bystander:
        assert (await before.run("cat /etc/xensource/pool.conf", check=True)).stdout.startswith("slave:")
        answer = await request(sim.control_path, {"action": "rekey", "host": "plot2"})
        assert answer["ok"] is True and answer["host"] == "plot2"
        new = answer["host_key"]
        assert new.startswith("SHA256:") and new != old
        # its sshd went away under the open connection, as a reinstalled host's does
        await asyncio.wait_for(before.wait_closed(), 5)
        # another host is untouched
        assert (await bystander.run("true", check=True)).returncode == 0
    assert host_field(sim.status(), "plot2", "host_key") == new
    assert (await offered(sim, "plot2")).fingerprint == new
    # the operator's known_hosts (here DIR/known_hosts) still has the old key: a new login is refused
    assert recorded(sim, "plot2").fingerprint == old
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        async with connect(sim, "plot2"):
            pass


async def test_rekey_from_the_command_line(sim):
    status, out, err = await poolterm("sim", "ctl", "--dir", str(sim.directory), "rekey", "plot1")
    assert (status, err) == (0, "")
    new = host_field(sim.status(), "plot1", "host_key")
    assert out == f"plot1: rekey done, new host key {new}\n"
    status, _, err = await poolterm("sim", "ctl", "--dir", str(sim.directory), "rekey")
    assert status == 2 and err == "poolterm: sim ctl rekey needs a HOST\n"
    status, _, err = await poolterm("sim", "ctl", "--dir", str(sim.directory), "rekey", "plot9")
    assert status == 2 and "plot9" in err and err.count("\n") == 1
