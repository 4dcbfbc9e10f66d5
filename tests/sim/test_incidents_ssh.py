"""The field notes' three incidents, replayed over real SSH.

Incident 1 is done by hand, as the engineer did: the real `poolterm sim` CLI
as a subprocess, faults through `poolterm sim ctl`, commands through the
OpenSSH client. All three also run as scenario files through the runner.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import replace

import pytest
import yaml

from poolterm.sim.runtime import Simulator
from poolterm.sim.scenario import ScenarioError, load_scenario, run_scenario, scenario_names
from tests.helpers.cli import RunningSim, poolterm
from tests.helpers.sim import QUICK
from tests.helpers.ssh import openssh
from tests.helpers.truth import host_status


class CliPool:
    """A `poolterm sim` subprocess seen as the operator sees it: hosts.yaml, ssh and `sim ctl`."""

    def __init__(self, running: RunningSim):
        self.running = running
        d = running.dir
        self.client_key = d / "id_ed25519"
        self.known_hosts = d / "known_hosts"
        hosts = yaml.safe_load((d / "hosts.yaml").read_text())["pools"][0]["hosts"]
        self.hosts = {h["name"]: h for h in hosts}

    def address_of(self, name: str) -> str:
        return self.hosts[name]["address"]

    def port_of(self, name: str) -> int:
        return self.hosts[name]["port"]

    async def ctl(self, *args: str) -> str:
        status, out, err = await poolterm("sim", "ctl", "--dir", str(self.running.dir), *args)
        assert status == 0, err
        return out

    async def truth(self) -> dict:
        return json.loads(await self.ctl("status", "--json"))

    async def wait(self, name: str, timeout: float = 30, **fields) -> dict:
        """Poll `poolterm sim ctl status --json` until host `name` shows `fields`."""
        async with asyncio.timeout(timeout):
            while True:
                host = host_status(await self.truth(), name)
                if all(host[k] == v for k, v in fields.items()):
                    return host


@pytest.fixture
async def cli_pool(tmp_path):
    running = await RunningSim.start(tmp_path / "lab", "--hosts", "8", "--fuse", "0.5", "--boot", "0.5")
    yield CliPool(running)
    assert await running.stop() == 0


def host_list(truth: dict) -> str:
    return "".join(
        f"uuid ( RO)                : {h['uuid']}\n"
        f"          name-label ( RW): {h['name']}\n"
        f"    name-description ( RW): Default install\n\n\n"
        for h in truth["hosts"]
    )


async def test_master_shutdown_by_hand_with_openssh_and_sim_ctl(cli_pool):
    pool = cli_pool
    truth = await pool.truth()
    uuid = {h["name"]: h["uuid"] for h in truth["hosts"]}

    done = await openssh(pool, "plot1", "xe host-list")
    assert (done.returncode, done.stdout) == (0, host_list(truth))
    assert done.stdout.count("uuid ( RO)") == 8

    done = await openssh(pool, "plot2", "cat /etc/xensource/pool.conf")
    assert done.stdout == f"slave:{pool.address_of('plot1')}"

    assert await pool.ctl("shutdown", "plot1") == "plot1: shutdown done\n"
    await pool.wait("plot1", power="off")

    loop = asyncio.get_running_loop()
    started = loop.time()
    done = await openssh(pool, "plot2", "timeout 3 xe pool-list")
    assert done.returncode == 124
    assert loop.time() - started >= 3

    done = await openssh(pool, "plot2", "xe host-is-in-emergency-mode")
    assert (done.returncode, done.stdout) == (0, "false\n")

    done = await openssh(pool, "plot2", "xe pool-emergency-transition-to-master")
    assert (done.returncode, done.stdout) == (0, "Host agent will restart and transition to master in 0.5 seconds...\n")

    await pool.wait("plot2", role="master", xapi="running")
    done = await openssh(pool, "plot2", "xe pool-recover-slaves")
    assert done.returncode == 0
    assert sorted(done.stdout.splitlines()) == sorted(uuid[f"plot{i}"] for i in range(3, 9))

    await pool.ctl("poweron", "plot1")
    plot1 = await pool.wait("plot1", role="slave", xapi="running")
    assert plot1["pool_conf"] == f"slave:{pool.address_of('plot2')}"
    done = await openssh(pool, "plot1", "cat /etc/xensource/pool.conf")
    assert done.stdout == f"slave:{pool.address_of('plot2')}"
    masters = (await pool.truth())["masters"]
    assert [m["name"] for m in masters] == ["plot2"]


async def test_the_fuse_message_is_xapis_literal_text(tmp_path):
    async with Simulator(2, tmp_path / "sim", fuse=10.0) as sim:
        done = await openssh(sim, "plot2", "xe pool-emergency-transition-to-master")
    assert done.stdout == "Host agent will restart and transition to master in 10. seconds...\n"


# ---------------------------------------------------------------------------
# The scenarios
# ---------------------------------------------------------------------------


def assert_all_ok(results) -> None:
    assert results, "no step ran"
    failed = [r for r in results if not r.ok]
    assert not failed, f"step {failed[0].index} ({failed[0].kind}) failed: {failed[0].detail}"


#: The HA scenarios' pool on quick timers: their own T (10 s) would make the test wait that long.
QUICK_HA = replace(QUICK, ha_timeout=2.0, ha_poll=0.5)


async def run_on_its_pool(tmp_path, name: str):
    """Scenario ``name`` run whole on the pool its file asks for (``pool:``), with :data:`QUICK_HA` timers;
    returns the results and the final ground truth."""
    scenario = load_scenario(name)
    async with Simulator(scenario.hosts or 8, tmp_path / "sim", params=QUICK_HA, ha=scenario.ha) as sim:
        results = await run_scenario(sim, name)
        return results, sim.status()


async def test_ha_failover_scenario_is_won_by_waiting(tmp_path):
    results, truth = await run_on_its_pool(tmp_path, "ha-failover")
    assert_all_ok(results)
    assert len(results) == len(load_scenario("ha-failover").steps)
    refused = [r for r in results if r.kind == "run" and r.exit_status == 1]
    assert [r.detail.split(" -> ")[0] for r in refused] == [
        "plot2: xe pool-emergency-transition-to-master", "plot3: xe pool-emergency-transition-to-master --force"]
    assert [m["name"] for m in truth["masters"]] == ["plot2"]
    assert truth["ha"] == {"enabled": True, "lock": "plot2", "timeout": 2.0}
    assert host_status(truth, "plot1")["role"] == "slave"


async def test_ha_stuck_scenario_is_recovered_by_hand_and_ha_enabled_again(tmp_path):
    results, truth = await run_on_its_pool(tmp_path, "ha-stuck")
    assert_all_ok(results)
    assert len(results) == len(load_scenario("ha-stuck").steps)
    assert [m["name"] for m in truth["masters"]] == ["plot2"]
    assert truth["ha"]["enabled"] is True and truth["ha"]["lock"] == "plot2"
    # every host but plot1 fenced once when the master crashed without the statefile
    assert [h["ha"]["fences"] for h in truth["hosts"]] == [0] + [1] * 7
    assert all(h["ha"]["armed"] and not h["emergency"] for h in truth["hosts"])


def test_the_three_incidents_ship_as_scenarios():
    assert {"master-shutdown", "cable-pull", "forgotten-host"} <= set(scenario_names())
    for name in ("master-shutdown", "cable-pull", "forgotten-host"):
        scenario = load_scenario(name)
        assert scenario.description
        assert any(s.get("fault") for s in scenario.steps)


async def test_master_shutdown_scenario(quick_sim):
    results = await run_scenario(quick_sim, "master-shutdown")
    assert_all_ok(results)
    assert len(results) == len(load_scenario("master-shutdown").steps)
    truth = quick_sim.status()
    assert [m["name"] for m in truth["masters"]] == ["plot2"]


async def test_cable_pull_scenario_ends_in_split_brain_then_recovers(quick_sim):
    results = await run_scenario(quick_sim, "cable-pull")
    assert_all_ok(results)
    split = [r for r in results if r.kind == "run" and r.stdout == "master"]
    assert len(split) == 2, "both plot1 and plot3 claimed master"
    hung = [r for r in results if r.exit_status == 124]
    assert len(hung) == 2
    truth = quick_sim.status()
    assert [m["name"] for m in truth["masters"]] == ["plot3"]
    assert host_status(truth, "plot1")["master_address"] == quick_sim.address_of("plot3")


async def test_forgotten_host_scenario(quick_sim):
    results = await run_scenario(quick_sim, "forgotten-host")
    assert_all_ok(results)
    plot5 = host_status(quick_sim.status(), "plot5")
    assert plot5["emergency"] is True
    assert plot5["emergency_error"] == "HOST_UNKNOWN_TO_MASTER"


async def test_only_the_fault_steps_can_be_injected(quick_sim):
    results = await run_scenario(quick_sim, "forgotten-host", only="fault")
    assert_all_ok(results)
    assert [r.kind for r in results] == ["ctl", "wait_until", "run", "ctl"]
    await quick_sim.wait_until(lambda s: host_status(s, "plot5")["emergency"], 30)


async def test_a_failed_expectation_stops_the_run_and_says_why(quick_sim, tmp_path):
    path = tmp_path / "wrong.yaml"
    path.write_text(
        "steps:\n"
        "  - run: {host: plot2, command: xe host-is-in-emergency-mode, expect_stdout: '^true$'}\n"
        "  - ctl: {action: crash, host: plot1}\n"
    )
    results = await run_scenario(quick_sim, path)
    assert len(results) == 1
    assert not results[0].ok
    assert "does not match" in results[0].detail and "'false\\n'" in results[0].detail
    assert host_status(quick_sim.status(), "plot1")["power"] == "on"


@pytest.mark.parametrize(
    "body, message",
    [
        ("steps: nope\n", "expected a mapping with a list of steps"),
        ("steps:\n  - {}\n", "step 1: needs exactly one of ctl, run, wait_until, sleep"),
        ("steps:\n  - ctl: {action: crash}\n    color: red\n", "step 1: unknown key 'color'"),
        ("steps:\n  - run: {host: plot1}\n", "step 1: run needs 'command'"),
        ("steps:\n  - sleep: soon\n", "step 1: sleep takes a number of seconds"),
        ("steps:\n  - wait_until: {host: plot1, field: power, equals: on, within: 3}\n", "unknown field 'within'"),
    ],
)
def test_malformed_scenarios_are_refused_with_file_and_step(tmp_path, body, message):
    path = tmp_path / "bad.yaml"
    path.write_text(body)
    with pytest.raises(ScenarioError) as bad:
        load_scenario(path)
    assert str(path) in str(bad.value)
    assert message in str(bad.value)


def test_an_unknown_scenario_name_lists_the_shipped_ones():
    with pytest.raises(ScenarioError, match=re.escape("master-shutdown")):
        load_scenario("no-such-incident")
