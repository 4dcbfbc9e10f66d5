"""Each playbook, end to end: break the simulated pool, run `poolterm playbook run` as an
operator would, and check the pool by the simulator's ground truth.

The simulator runs in the test's event loop and the playbook in a subprocess that
reaches it over real SSH on loopback; the test reads the subprocess's terminal
output and answers its prompts (power a host on, then type ``done``). The field
notes' three incidents are injected with the simulator's own scenarios.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from contextlib import asynccontextmanager
from pathlib import Path

import yaml

from poolterm.config.inventory import load_inventory
from poolterm.actions.journal import read_journal
from poolterm.sim.runtime import Simulator
from poolterm.sim.scenario import run_scenario
from poolterm.sim.world import SimParams
from poolterm.transport.ssh import Connections
from tests.truth import healthy_truth, host_field

PARAMS = SimParams(fuse=0.5, boot=0.5, xapi_start=0.3, shutdown=0.3)
PROBE_TIMEOUT = 1.5
TIMING_ARGS = ["--timeout", str(PROBE_TIMEOUT), "--fuse", str(PARAMS.fuse), "--xapi-start", str(PARAMS.xapi_start),
               "--boot", str(PARAMS.boot)]
OPERATOR = "alice"


# ---- the harness (shared with the other e2e playbook tests) ------------------------------------------


@asynccontextmanager
async def simulated_pool(directory: Path, hosts: int = 4):
    async with Simulator(hosts, directory, params=PARAMS) as sim:
        yield sim


def fast_inventory(sim: Simulator) -> Path:
    """The simulator's inventory with short SSH and probe timeouts: a black-holed host costs a second."""
    doc = yaml.safe_load(sim.hosts_yaml.read_text())
    doc["ssh"]["connect_timeout"] = 1
    doc["probe"] = {"interval": 1, "timeout": PROBE_TIMEOUT}
    path = sim.directory / "fast.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


class PlaybookRun:
    """`poolterm playbook run` in a subprocess, driven like a terminal session."""

    def __init__(self, proc: asyncio.subprocess.Process):
        self.proc = proc
        self.output = ""
        self._seen = 0

    @classmethod
    async def start(cls, sim: Simulator, playbook: str, journal: Path | None, *extra: str,
                    yes: bool = True, env: dict[str, str] | None = None) -> "PlaybookRun":
        """``journal`` None: the default journal, in the user state directory under the sim's HOME."""
        args = [sys.executable, "-m", "poolterm", "playbook", "run", playbook, "-i", str(fast_inventory(sim)),
                *(["--journal", str(journal)] if journal else []), *TIMING_ARGS, *(["--yes"] if yes else []),
                *extra]
        environment = dict(os.environ, HOME=str(sim.directory), USER=OPERATOR, PYTHONUNBUFFERED="1",
                           PYTHONFAULTHANDLER="1", **(env or {}))
        for variable in ("SUDO_USER", "XDG_STATE_HOME", *(() if env and "POOLTERM_JOIN_PASSWORD" in env
                                                            else ("POOLTERM_JOIN_PASSWORD",))):
            environment.pop(variable, None)
        proc = await asyncio.create_subprocess_exec(*args, stdin=asyncio.subprocess.PIPE,
                                                    stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.STDOUT, env=environment)
        return cls(proc)

    @property
    def text(self) -> str:
        """The output with line wrapping undone: every run of blanks is one space."""
        return " ".join(self.output.split())

    async def expect(self, text: str, timeout: float = 45) -> None:
        """Read until ``text`` appears (wrapping ignored) after what earlier expects consumed."""
        try:
            async with asyncio.timeout(timeout):
                while text not in self.text[self._seen:]:
                    chunk = await self.proc.stdout.read(4096)
                    if not chunk:
                        break
                    self.output += chunk.decode(errors="replace")
        except TimeoutError:
            pass
        found = self.text.find(text, self._seen)
        assert found >= 0, f"{text!r} never appeared; output so far:\n{self.output}"
        self._seen = found + len(text)

    async def send(self, line: str) -> None:
        self.proc.stdin.write(line.encode() + b"\n")
        await self.proc.stdin.drain()

    async def finish(self, timeout: float = 60) -> int:
        try:
            async with asyncio.timeout(timeout):
                while chunk := await self.proc.stdout.read(4096):
                    self.output += chunk.decode(errors="replace")
                return await self.proc.wait()
        except TimeoutError:
            self.proc.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack
            try:
                async with asyncio.timeout(5):
                    self.output += (await self.proc.stdout.read()).decode(errors="replace")
            except TimeoutError:
                pass
            await self.kill()
            raise AssertionError(f"the playbook did not end within {timeout} s; output:\n{self.output}") from None

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()


def commands(journal: Path) -> list[tuple[str, str, int | None]]:
    """(host, command, exit status) of every command the journal records, in order."""
    records = read_journal(journal).records
    ends = {r["id"]: r for r in records if r["kind"] == "command-end"}
    return [(r["host"], r["command"], ends.get(r["id"], {}).get("exit_status"))
            for r in records if r["kind"] == "command-start"]


def changes(journal: Path) -> list[tuple[str, str, int | None]]:
    return [c for c in commands(journal) if not c[1].startswith("xe pool-list")]


async def assert_healthy(sim: Simulator, master: str, absent: tuple[str, ...] = ()) -> None:
    """Ground truth settles within a moment of the last verification; wait for it, then say what is wrong."""
    try:
        await sim.wait_until(lambda s: not healthy_truth(s, master, absent), 5)
    except TimeoutError:
        pass
    assert healthy_truth(sim.status(), master, absent) == []


async def xe(sim: Simulator, host: str, command: str) -> tuple[int | None, str]:
    """A command an operator types on a host over SSH, outside poolterm."""
    inventory = load_inventory(sim.hosts_yaml)
    connections = Connections([inventory.host(host)], inventory.ssh)
    lines: list[str] = []
    try:
        result = await connections.run(host, command, deadline=20, on_line=lambda s, line: lines.append(line))
    finally:
        await connections.close()
    return result.exit_status, "\n".join(lines)


async def promote_by_hand(sim: Simulator, host: str) -> None:
    code, out = await xe(sim, host, "xe pool-emergency-transition-to-master")
    assert code == 0, out
    await sim.wait_until(lambda s: host_field(s, host, "role") == "master", 10)


async def fault(sim: Simulator, scenario: str) -> None:
    results = await run_scenario(sim, scenario, only="fault")
    assert results and all(r.ok for r in results), results[-1].detail


# ---- the field notes' incidents -------------------------------------------------------------------


async def test_incident_1_master_shut_down_is_recovered(tmp_path):
    async with simulated_pool(tmp_path / "pool", 8) as sim:
        await fault(sim, "master-shutdown")
        await sim.wait_until(lambda s: host_field(s, "plot1", "power") == "off", 10)
        journal = tmp_path / "incident.jsonl"
        run = await PlaybookRun.start(sim, "master-lost", journal)
        await run.expect("verdict: MASTER LOST")
        await run.expect("Power plot1 on through its BMC")
        await run.expect("Type 'done'")
        await sim.ctl("poweron", "plot1")
        await run.send("done")
        assert await run.finish() == 0, run.output
        assert "DONE: Goal reached: the pool is healthy: every host follows plot2" in run.text
        await assert_healthy(sim, "plot2")
        assert changes(journal) == [("plot2", "xe pool-emergency-transition-to-master", 0),
                                    ("plot2", "xe pool-recover-slaves", 0)]
        records = read_journal(journal).records
        verdicts = [r["verdict"] for r in records if r["kind"] == "verdict"]
        assert verdicts[0] == "master-lost" and verdicts[-1] == "healthy"
        assert {r["operator"] for r in records if r["kind"] == "command-start"} == {OPERATOR}


async def test_incident_2_cable_pull_and_the_split_brain_after_it(tmp_path):
    async with simulated_pool(tmp_path / "pool", 8) as sim:
        await fault(sim, "cable-pull")
        journal = tmp_path / "incident.jsonl"
        run = await PlaybookRun.start(sim, "master-lost", journal, "--target", "plot3")
        await run.expect("targets: old_master=plot1, candidate=plot3")
        await run.expect("Type 'done'")
        await sim.ctl("cable-in", "plot1")
        await run.send("done")
        assert await run.finish() == 0, run.output
        assert "plot1 is back and still answers as master" in run.text
        await assert_healthy(sim, "plot3")
        assert host_field(sim.status(), "plot1", "pool_conf") == f"slave:{sim.address_of('plot3')}"
        assert changes(journal) == [("plot3", "xe pool-emergency-transition-to-master", 0),
                                    ("plot3", "xe pool-recover-slaves", 0),
                                    ("plot3", "xe pool-recover-slaves", 0)]


async def test_incident_3_forgotten_host_is_contained_and_guided_to_a_reinstall(tmp_path):
    async with simulated_pool(tmp_path / "pool", 8) as sim:
        await fault(sim, "forgotten-host")
        await sim.wait_until(lambda s: host_field(s, "plot5", "emergency_error") == "HOST_UNKNOWN_TO_MASTER", 15)
        journal = tmp_path / "incident.jsonl"
        run = await PlaybookRun.start(sim, "forgotten-host", journal)
        await run.expect("ok: plot5 is not in the master's database and sits in emergency mode")
        await run.expect("Do NOT run pool-emergency-transition-to-master")
        await run.expect("Type 'done'")
        await sim.ctl("shutdown", "plot5")
        await sim.wait_until(lambda s: host_field(s, "plot5", "power") == "off", 10)
        await run.send("done")
        await run.expect("ok: plot5 does not answer SSH")
        await run.expect(f"Keep its host name and its management address ({sim.address_of('plot5')})")
        await run.expect("Type 'done'")
        await run.send("stop")  # the reinstall takes an afternoon: stop here, resume later
        assert await run.finish() == 1, run.output
        assert "STOPPED: Step 4 (Reinstall plot5 and power it on)" in run.text
        # contained: the seven members are healthy, the forgotten host is off and out of the database
        await assert_healthy(sim, "plot1", absent=("plot5",))
        assert changes(journal) == []
        manual = [r for r in read_journal(journal).records if r["kind"] == "manual"]
        assert [(m["answer"], m["powered_off"]) for m in manual] == [("done", ["plot5"]), ("stop", [])]


# ---- the other playbooks ----------------------------------------------------------------------------


async def test_split_brain_is_resolved_on_the_true_master_only(tmp_path):
    async with simulated_pool(tmp_path / "pool") as sim:
        await sim.ctl("cable-out", "plot1")
        await promote_by_hand(sim, "plot2")
        assert (await xe(sim, "plot2", "xe pool-recover-slaves"))[0] == 0
        await sim.wait_until(lambda s: all(host_field(s, n, "master_address") == sim.address_of("plot2")
                                           for n in ("plot3", "plot4")), 10)
        await sim.ctl("cable-in", "plot1")
        journal = tmp_path / "incident.jsonl"
        # without --yes: the exact command and its target are shown and asked; "n" stops, nothing is sent
        run = await PlaybookRun.start(sim, "split-brain", journal, yes=False)
        await run.expect("ok: plot2 is the true master (plot2: 2 followers; plot1: 0 followers)")
        await run.expect(f"confirm: On plot2 ({sim.address_of('plot2')}): xe pool-recover-slaves.")
        await run.expect("Run it? [y/N]")
        await run.send("n")
        assert await run.finish() == 1, run.output
        assert "the operator chose not to run `xe pool-recover-slaves`" in run.text
        assert host_field(sim.status(), "plot1", "role") == "master" and changes(journal) == []

        again = await PlaybookRun.start(sim, "split-brain", journal, yes=False)
        await again.expect("It resumes at step 3 of 4: Run pool-recover-slaves on plot2 only.")
        await again.expect("Resume it? [Y/n]")
        await again.send("")
        await again.expect("Run it? [y/N]")
        await again.send("y")
        assert await again.finish() == 0, again.output
        await assert_healthy(sim, "plot2")
        assert changes(journal) == [("plot2", "xe pool-recover-slaves", 0)]


async def test_orphaned_slaves_are_brought_back(tmp_path):
    """A promotion without pool-recover-slaves: the old master demoted itself, the others still point at it."""
    async with simulated_pool(tmp_path / "pool") as sim:
        await sim.ctl("shutdown", "plot1")
        await sim.wait_until(lambda s: host_field(s, "plot1", "power") == "off", 10)
        await promote_by_hand(sim, "plot2")
        await sim.ctl("poweron", "plot1")
        await sim.wait_until(lambda s: host_field(s, "plot1", "role") == "slave", 10)
        journal = tmp_path / "incident.jsonl"
        run = await PlaybookRun.start(sim, "orphaned-slaves", journal)
        await run.expect("targets: master=plot2, orphans=plot3, plot4")
        assert await run.finish() == 0, run.output
        await assert_healthy(sim, "plot2")
        assert changes(journal) == [("plot2", "xe pool-recover-slaves", 0)]


async def test_planned_handover_disables_ha_and_designates_the_new_master(tmp_path):
    async with simulated_pool(tmp_path / "pool") as sim:
        assert (await xe(sim, "plot1", "xe pool-ha-enable"))[0] == 0
        journal = tmp_path / "incident.jsonl"
        run = await PlaybookRun.start(sim, "planned-handover", journal, "--target", "plot3")
        await run.expect("learned: ha-enabled: True")
        assert await run.finish() == 0, run.output
        await assert_healthy(sim, "plot3")
        uuid = host_field(sim.status(), "plot3", "uuid")
        assert changes(journal) == [("plot1", "xe pool-ha-disable", 0),
                                    ("plot1", f"xe pool-designate-new-master host-uuid={uuid}", 0)]
        assert await xe(sim, "plot3", "xe pool-list params=ha-enabled --minimal") == (0, "false")


async def test_a_healthy_pool_is_left_alone(tmp_path):
    async with simulated_pool(tmp_path / "pool") as sim:
        journal = tmp_path / "incident.jsonl"
        run = await PlaybookRun.start(sim, "master-lost", journal)
        assert await run.finish() == 0, run.output
        assert "NOTHING TO DO: Pool lab is already healthy" in run.text
        assert commands(journal) == []


async def test_an_unmet_expectation_stops_and_the_run_resumes_once_fixed(tmp_path):
    async with simulated_pool(tmp_path / "pool") as sim:
        await sim.ctl("cable-out", "plot1")
        await sim.ctl("hang-xapi", "plot4")  # pool-recover-slaves will skip it silently
        journal = tmp_path / "incident.jsonl"
        run = await PlaybookRun.start(sim, "master-lost", journal)
        assert await run.finish() == 1, run.output
        assert "STOPPED: Step 3 (Point every reachable host at plot2): expected every reachable host follows " \
               "plot2 within" in run.text
        assert "plot4's pool.conf says slave:" in run.text and "(plot1), not slave of plot2" in run.text
        assert "check that it can reach" in run.text  # the step's on_failure advice
        assert host_field(sim.status(), "plot4", "pool_conf") == f"slave:{sim.address_of('plot1')}"

        await sim.ctl("unhang-xapi", "plot4")
        again = await PlaybookRun.start(sim, "master-lost", journal)
        await again.expect("it stopped: Step 3")
        await again.expect("It resumes at step 3 of 7: Point every reachable host at plot2.")
        await again.expect("Type 'done'")
        await sim.ctl("cable-in", "plot1")
        await again.send("done")
        assert await again.finish() == 0, again.output
        await assert_healthy(sim, "plot2")
        assert [c[1] for c in changes(journal)] == ["xe pool-emergency-transition-to-master",
                                                    "xe pool-recover-slaves", "xe pool-recover-slaves",
                                                    "xe pool-recover-slaves"]
