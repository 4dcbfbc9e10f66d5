"""`poolterm sim`, `poolterm sim ctl` and `poolterm sim exec` as an operator runs them."""

from __future__ import annotations

import asyncio
import json
import signal

import pytest
import yaml

from poolterm.cli.main import main
from tests.helpers.cli import POOLTERM, RunningSim, poolterm
from tests.helpers.ssh import openssh


def run_main(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse's --help and usage errors
        status = int(exc.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


# ---------------------------------------------------------------------------
# Help and operator mistakes (in process)
# ---------------------------------------------------------------------------


def test_help_explains_the_simulator_and_its_sub_commands(capsys):
    status, out, _ = run_main(["sim", "--help"], capsys)
    assert status == 0
    for text in ("--hosts", "--dir", "--fuse", "--boot", "--pool-name", "--port", "hosts.yaml", "known_hosts",
                 "id_ed25519", "control.sock", "ctl", "exec", "--ha", "--ha-timeout"):
        assert text in out
    assert "values under xapi's minimum of 10 are allowed" in " ".join(out.split())


def test_ctl_help_lists_every_action(capsys):
    status, out, _ = run_main(["sim", "ctl", "--help"], capsys)
    assert status == 0
    for action in ("shutdown", "crash", "poweron", "cable-out", "cable-in", "hang-xapi", "unhang-xapi", "reinstall",
                   "statefile-out", "statefile-in", "status", "--json"):
        assert action in out


def test_exec_help_mentions_ssh_original_command(capsys):
    status, out, _ = run_main(["sim", "exec", "--help"], capsys)
    assert status == 0
    assert "SSH_ORIGINAL_COMMAND" in out and "ForceCommand" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["sim"], "sim needs --dir DIR"),
        (["sim", "--dir", "{d}", "--hosts", "0"], "--hosts must be at least 1"),
        (["sim", "ctl", "--dir", "{d}", "status"], "no simulator running in {d}"),
        (["sim", "ctl", "--dir", "{d}", "crash"], "sim ctl crash needs a HOST"),
        (["sim", "exec", "--dir", "{d}", "--host", "plot1", "hostname"], "no simulator running in {d}"),
    ],
)
def test_operator_mistakes_are_one_line_and_exit_2(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SSH_ORIGINAL_COMMAND", raising=False)
    d = str(tmp_path)
    status, out, err = run_main([a.format(d=d) for a in argv], capsys)
    assert status == 2
    assert err.startswith(f"poolterm: {message.format(d=d)}")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_exec_without_a_command_is_a_usage_error(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SSH_ORIGINAL_COMMAND", raising=False)
    status, _, err = run_main(["sim", "exec", "--dir", str(tmp_path), "--host", "plot1"], capsys)
    assert status == 2
    assert "needs a COMMAND" in err


# ---------------------------------------------------------------------------
# The real thing, as subprocesses
# ---------------------------------------------------------------------------


@pytest.fixture
async def running(tmp_path):
    sim = await RunningSim.start(tmp_path / "d", "--hosts", "3", "--fuse", "0.5", "--boot", "0.5")
    yield sim
    await sim.stop()


async def test_sim_writes_its_files_and_tells_how_to_log_in(running):
    d = running.dir
    inventory = yaml.safe_load((d / "hosts.yaml").read_text())
    assert inventory["ssh"] == {"user": "root", "identity": "id_ed25519", "known_hosts": "known_hosts", "config": None}
    assert inventory["probe"] == {"interval": 2, "timeout": 5}
    (pool,) = inventory["pools"]
    assert pool["name"] == "lab"
    assert [h["name"] for h in pool["hosts"]] == ["plot1", "plot2", "plot3"]
    known = (d / "known_hosts").read_text().splitlines()
    for host, line in zip(pool["hosts"], known):
        assert line.startswith(f"[{host['address']}]:{host['port']} ssh-ed25519 ")
        assert f"{host['address']}:{host['port']}" in running.banner
    assert (d / "id_ed25519").stat().st_mode & 0o777 == 0o600
    assert (d / "id_ed25519.pub").read_text().startswith("ssh-ed25519 ")
    assert (d / "control.sock").exists()
    first = pool["hosts"][0]
    assert (
        f"ssh -i {d / 'id_ed25519'} -o UserKnownHostsFile={d / 'known_hosts'} "
        f"-p {first['port']} root@{first['address']} xe host-list"
    ) in running.banner


async def test_ctl_drives_the_running_sim(running):
    d = str(running.dir)
    status, out, err = await poolterm("sim", "ctl", "--dir", d, "cable-out", "plot2")
    assert (status, err) == (0, "")
    assert out == "plot2: cable-out done\n"
    status, out, _ = await poolterm("sim", "ctl", "--dir", d, "status")
    assert status == 0
    row = next(line.split() for line in out.splitlines() if line.startswith("plot2"))
    assert row[1:3] == ["on", "down"]
    status, out, _ = await poolterm("sim", "ctl", "--dir", d, "status", "--json")
    truth = json.loads(out)
    assert [h["link"] for h in truth["hosts"]] == ["up", "down", "up"]
    status, _, err = await poolterm("sim", "ctl", "--dir", d, "crash", "plot9")
    assert status == 2 and "plot9" in err and err.count("\n") == 1


async def test_exec_runs_in_a_hosts_shell(running):
    d = str(running.dir)
    assert await poolterm("sim", "exec", "--dir", d, "--host", "plot3", "hostname; exit 7") == (7, "plot3\n", "")
    done = await poolterm("sim", "exec", "--dir", d, "--host", "plot1", env={"SSH_ORIGINAL_COMMAND": "cat >&2"},
                          stdin=b"to stderr\n")
    assert done == (0, "", "to stderr\n")
    status, _, err = await poolterm("sim", "exec", "--dir", d, "--host", "plot7", "true")
    assert status == 2 and "plot7" in err


async def test_exec_dies_of_the_signal_it_forwards(running):
    proc = await asyncio.create_subprocess_exec(
        *POOLTERM, "sim", "exec", "--dir", str(running.dir), "--host", "plot1", "echo started; sleep 30",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert await asyncio.wait_for(proc.stdout.readline(), 10) == b"started\n"
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 10) == -signal.SIGTERM


async def test_a_second_sim_in_the_same_dir_is_refused(running):
    status, _, err = await poolterm("sim", "--dir", str(running.dir), "--hosts", "2")
    assert status == 2
    assert "already running" in err


async def test_sigterm_stops_it_cleanly_having_said_nothing_on_stderr(tmp_path):
    sim = await RunningSim.start(tmp_path / "d", "--hosts", "2")
    assert await sim.stop() == 0
    assert not (tmp_path / "d" / "control.sock").exists()
    assert sim.proc.stderr is not None
    assert await sim.proc.stderr.read() == b""


async def test_openssh_reaches_a_cli_started_sim(running, tmp_path):
    inventory = yaml.safe_load((running.dir / "hosts.yaml").read_text())
    plot2 = inventory["pools"][0]["hosts"][1]

    class Endpoints:
        client_key = running.dir / "id_ed25519"
        known_hosts = running.dir / "known_hosts"

        def port_of(self, _name):
            return plot2["port"]

        def address_of(self, _name):
            return plot2["address"]

    done = await openssh(Endpoints(), "plot2", "hostname")
    assert (done.returncode, done.stdout) == (0, "plot2\n")


async def test_a_port_already_taken_is_a_one_line_error(running, tmp_path):
    inventory = yaml.safe_load((running.dir / "hosts.yaml").read_text())
    taken = inventory["pools"][0]["hosts"][0]["port"]
    status, _, err = await poolterm("sim", "--dir", str(tmp_path / "other"), "--hosts", "2", "--port", str(taken))
    assert status == 2
    assert err.startswith(f"poolterm: cannot listen on 127.77.0.11:{taken} for plot1: ")
    assert err.count("\n") == 1
