"""The simulated hosts' sshds and network faces, seen through real SSH clients."""

from __future__ import annotations

import asyncio
import socket

import pytest

from poolterm.sim.runtime import Simulator, known_hosts_line
from poolterm.sim.server import MAX_SESSIONS
from poolterm.transport.sshlib import asyncssh
from tests.helpers.ssh import connect, openssh
from tests.helpers.truth import wait_host


async def test_openssh_client_logs_in_and_runs_a_command(sim):
    done = await openssh(sim, "plot2", "hostname; cat /etc/xensource/pool.conf")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"plot2\nslave:{sim.address_of('plot1')}"


async def test_openssh_exit_status_and_stderr_come_through(sim):
    done = await openssh(sim, "plot1", "cat /nonexistent; exit 3")
    assert done.returncode == 3
    assert done.stderr == "cat: /nonexistent: No such file or directory\n"


async def test_stdin_reaches_the_command(sim):
    done = await openssh(sim, "plot1", "cat", stdin="piped through\n")
    assert done.stdout == "piped through\n"


async def test_a_key_that_is_not_authorised_is_refused(sim, tmp_path):
    stranger = tmp_path / "stranger"
    stranger.write_bytes(asyncssh.generate_private_key("ssh-ed25519").export_private_key("openssh"))
    stranger.chmod(0o600)
    done = await openssh(sim, "plot1", "true", key=stranger)
    assert done.returncode == 255
    assert "Permission denied (publickey)" in done.stderr
    with pytest.raises(asyncssh.PermissionDenied):
        async with asyncssh.connect(
            sim.address_of("plot1"), sim.port_of("plot1"), username="root", client_keys=[str(stranger)],
            known_hosts=str(sim.known_hosts), config=None, agent_path=None,
        ):
            pass


async def test_only_root_may_log_in(sim):
    with pytest.raises(asyncssh.PermissionDenied):
        async with asyncssh.connect(
            sim.address_of("plot1"), sim.port_of("plot1"), username="admin", client_keys=[str(sim.client_key)],
            known_hosts=str(sim.known_hosts), config=None, agent_path=None,
        ):
            pass


async def test_host_keys_are_verified(sim, tmp_path):
    wrong = tmp_path / "wrong_known_hosts"
    impostor = asyncssh.generate_private_key("ssh-ed25519")
    wrong.write_text(known_hosts_line(sim.address_of("plot3"), sim.port_of("plot3"), impostor))
    done = await openssh(sim, "plot3", "true", "-o", "StrictHostKeyChecking=yes", known_hosts=wrong)
    assert done.returncode == 255
    assert "Host key verification failed" in done.stderr
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        async with asyncssh.connect(
            sim.address_of("plot3"), sim.port_of("plot3"), username="root", client_keys=[str(sim.client_key)],
            known_hosts=str(wrong), config=None, agent_path=None,
        ):
            pass


async def test_each_host_has_its_own_key_and_address(sim):
    lines = sim.known_hosts.read_text().splitlines()
    assert len(lines) == 8
    assert len({line.split()[2] for line in lines}) == 8
    assert len({sim.address_of(n) for n in sim.world.names}) == 8


async def test_blackhole_new_connections_time_out(sim):
    await sim.ctl("cable-out", "plot3")
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(asyncio.TimeoutError):
        async with connect(sim, "plot3", connect_timeout=1):
            pass
    assert loop.time() - started >= 0.9


async def test_blackhole_stalls_an_established_connection_until_keepalive_gives_up(sim):
    async with connect(sim, "plot3", keepalive_interval=0.3, keepalive_count_max=2) as conn:
        assert (await conn.run("hostname", check=True)).stdout == "plot3\n"
        await sim.ctl("cable-out", "plot3")
        loop = asyncio.get_running_loop()
        started = loop.time()
        # The command never answers; the keepalive gives up on the connection.
        with pytest.raises((asyncssh.ConnectionLost, asyncssh.ChannelOpenError)):
            await asyncio.wait_for(conn.run("hostname"), 10)
        await asyncio.wait_for(conn.wait_closed(), 1)
        assert 0.6 <= loop.time() - started < 5


async def test_a_frozen_connection_resumes_when_the_cable_is_back(sim):
    async with connect(sim, "plot3") as conn:
        await sim.ctl("cable-out", "plot3")
        pending = asyncio.ensure_future(conn.run("hostname"))
        done, _ = await asyncio.wait({pending}, timeout=0.5)
        assert not done, "nothing may cross a black-holed link"
        await sim.ctl("cable-in", "plot3")
        result = await asyncio.wait_for(pending, 5)
        assert result.stdout == "plot3\n"


async def test_a_host_that_is_off_refuses_connections(sim):
    async with connect(sim, "plot4") as conn:
        await sim.ctl("shutdown", "plot4")
        await wait_host(sim, "plot4", power="off")
        await asyncio.wait_for(conn.wait_closed(), 5)
    with pytest.raises(ConnectionRefusedError):
        async with connect(sim, "plot4", connect_timeout=5):
            pass
    done = await openssh(sim, "plot4", "true")
    assert done.returncode == 255
    assert "Connection refused" in done.stderr


async def test_crash_then_poweron_resets_connections_from_before(sim):
    async with connect(sim, "plot5") as old:
        await sim.ctl("crash", "plot5")
        assert sim.connections_of("plot5") == 1  # frozen, not dropped
        await sim.ctl("poweron", "plot5")
        await wait_host(sim, "plot5", power="on")
        await asyncio.wait_for(old.wait_closed(), 5)
    async with connect(sim, "plot5") as new:
        assert (await new.run("hostname")).stdout == "plot5\n"


async def test_an_eleventh_session_is_refused_like_openssh_maxsessions(sim):
    async with connect(sim, "plot1") as conn:
        procs = [await conn.create_process("sleep 30") for _ in range(MAX_SESSIONS)]
        with pytest.raises(asyncssh.ChannelOpenError) as refused:
            await conn.create_process("true")
        assert refused.value.code == asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED
        assert refused.value.reason == "open failed"

        # Closing the channel does not free the slot while the command runs (no PTY) ...
        procs[0].close()
        await asyncio.wait_for(procs[0].wait_closed(), 5)
        with pytest.raises(asyncssh.ChannelOpenError):
            await conn.create_process("true")

        # ... ending the command does.
        procs[1].send_signal("TERM")
        await procs[1].wait()
        result = await conn.run("echo free")
        assert result.stdout == "free\n"
        for p in procs[2:]:
            p.kill()


async def test_a_signal_ends_a_hung_xe(sim):
    await sim.ctl("hang-xapi", "plot2")
    async with connect(sim, "plot2") as conn:
        proc = await conn.create_process("xe pool-list")
        done, _ = await asyncio.wait({asyncio.ensure_future(proc.wait())}, timeout=0.3)
        assert not done, "xe must hang while xapi is hung"
        proc.send_signal("TERM")
        result = await asyncio.wait_for(proc.wait(), 5)
        assert result.exit_signal is not None and result.exit_signal[0] == "TERM"


async def test_timeout_ends_xe_on_a_slave_whose_master_is_down(sim):
    await sim.ctl("crash", "plot1")
    loop = asyncio.get_running_loop()
    started = loop.time()
    done = await openssh(sim, "plot2", "timeout 1 xe pool-list")
    assert done.returncode == 124
    assert 1.0 <= loop.time() - started < 5


async def test_interactive_shell_runs_lines_until_exit(sim):
    async with connect(sim, "plot6") as conn:
        result = await conn.run(input="hostname\necho $?\nexit 4\necho never\n")
        assert result.stdout == "plot6\n0\n"
        assert result.exit_status == 4


async def test_one_fixed_port_for_every_host(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.77.0.11", 0))
        port = probe.getsockname()[1]
    async with Simulator(3, tmp_path / "fixed", port=port) as sim:
        assert {sim.port_of(n) for n in sim.world.names} == {port}
        assert sim.known_hosts.read_text().splitlines()[2].startswith(f"[127.77.0.13]:{port} ssh-ed25519 ")
        done = await openssh(sim, "plot3", "hostname")
        assert done.stdout == "plot3\n"
