"""The control socket: JSON lines driving faults, reading ground truth, running commands."""

from __future__ import annotations

import asyncio
import json

import pytest

from poolterm.sim.control import ControlError, RemoteExec, format_status, request
from tests.helpers.truth import host_status


async def raw(sim, *lines: bytes) -> list[dict]:
    reader, writer = await asyncio.open_unix_connection(str(sim.control_path))
    try:
        answers = []
        for line in lines:
            writer.write(line)
            answers.append(json.loads(await reader.readline()))
        return answers
    finally:
        writer.close()


async def test_status_is_the_worlds_ground_truth(sim):
    answer = await request(sim.control_path, {"action": "status"})
    assert answer.pop("ok") is True
    assert [h["name"] for h in answer["hosts"]] == sim.world.names
    assert host_status(answer, "plot2")["power"] == "on"
    assert {"time", "hosts", "masters"} <= set(answer)


async def test_a_fault_request_changes_the_world(sim):
    answer = await request(sim.control_path, {"action": "crash", "host": "plot3"})
    assert answer == {"ok": True, "action": "crash", "host": "plot3"}
    assert host_status(sim.status(), "plot3")["power"] == "off"


@pytest.mark.parametrize(
    "payload, error",
    [
        ({"action": "crash", "host": "plot99"}, "plot99"),
        ({"action": "explode", "host": "plot1"}, "unknown action 'explode'"),
        ({"action": "crash"}, "crash needs a host name"),
        ({"action": "poweron", "host": "plot1"}, ""),
    ],
)
async def test_bad_requests_get_an_error_not_a_crash(sim, payload, error):
    answer = await request(sim.control_path, payload)
    assert answer["ok"] is False
    assert error in answer["error"]
    assert "\n" not in answer["error"]
    # the simulator still answers
    assert (await request(sim.control_path, {"action": "status"}))["ok"] is True


async def test_garbage_lines_are_answered_and_the_connection_survives(sim):
    answers = await raw(sim, b"not json\n", b"[1, 2]\n", b'{"action": "status"}\n')
    assert [a["ok"] for a in answers] == [False, False, True]


async def test_exec_streams_output_and_exit_status(sim):
    remote = await RemoteExec.start(sim.control_path, "plot2", "hostname; cat /nope; exit 5", stdin="")
    out: list[str] = []
    err: list[str] = []
    final = await remote.wait(out.append, err.append)
    assert final == {"exit": 5}
    assert "".join(out) == "plot2\n"
    assert "".join(err) == "cat: /nope: No such file or directory\n"


async def test_exec_stdin_can_be_streamed(sim):
    remote = await RemoteExec.start(sim.control_path, "plot1", "cat; echo done")
    out: list[str] = []
    remote.send_stdin("line one\n")
    remote.send_stdin("line two\n")
    remote.send_eof()
    final = await remote.wait(out.append, out.append)
    assert final == {"exit": 0}
    assert "".join(out) == "line one\nline two\ndone\n"


async def start_sleeper(sim, host: str) -> tuple[RemoteExec, asyncio.Future]:
    """A command that says it started, then sleeps; returns it and its pending final frame."""
    remote = await RemoteExec.start(sim.control_path, host, "echo started; sleep 30")
    started = asyncio.Event()
    waiting = asyncio.ensure_future(remote.wait(lambda _t: started.set(), lambda _t: None))
    await asyncio.wait_for(started.wait(), 5)
    return remote, waiting


async def test_a_signal_frame_kills_the_command(sim):
    remote, waiting = await start_sleeper(sim, "plot1")
    remote.send_signal("TERM")
    assert await asyncio.wait_for(waiting, 5) == {"exit": 143, "signal": "TERM"}


async def test_a_command_dies_with_its_host(sim):
    _, waiting = await start_sleeper(sim, "plot4")
    await sim.ctl("crash", "plot4")
    final = await asyncio.wait_for(waiting, 5)
    assert final["exit"] == 255
    assert "went down" in final["error"]


async def test_exec_on_an_unknown_host_is_an_error(sim):
    remote = await RemoteExec.start(sim.control_path, "plot42", "true")
    with pytest.raises(ControlError, match="plot42"):
        await remote.wait(lambda _t: None, lambda _t: None)


async def test_nothing_runs_on_a_host_that_is_off(sim):
    await sim.ctl("crash", "plot6")
    remote = await RemoteExec.start(sim.control_path, "plot6", "hostname")
    with pytest.raises(ControlError, match="plot6 is off"):
        await remote.wait(lambda _t: None, lambda _t: None)


async def test_no_simulator_means_a_clear_error(tmp_path):
    with pytest.raises(ControlError, match="no simulator running"):
        await request(tmp_path / "control.sock", {"action": "status"})


async def test_status_table_has_one_row_per_host(sim):
    await sim.ctl("cable-out", "plot2")
    table = format_status(sim.status()).splitlines()
    assert table[0].split() == ["NAME", "POWER", "LINK", "XAPI", "POOL.CONF", "EMERGENCY", "SESSIONS", "HTTPS"]
    rows = {line.split()[0]: line.split() for line in table[1:9]}
    assert rows["plot1"][1:5] == ["on", "up", "running", "master"]
    assert rows["plot2"][1:5] == ["on", "down", "running", f"slave:{sim.address_of('plot1')}"]
    assert rows["plot2"][5] == "false"


async def test_the_control_socket_is_private(sim):
    assert sim.control_path.stat().st_mode & 0o777 == 0o600
