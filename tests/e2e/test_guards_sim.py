"""Each guard against the simulated pool over real SSH: the refused command is never sent.

The command gate is the one path for pool-changing commands (the console's prompt
and every playbook step use it). For each refusal the simulator's ground truth is
the same before and after, the journal holds the refusal, and no command was
started. ``--yes`` never overrides; an override needs the protected host's exact
name and a reason, both journaled.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace

from poolterm.actions.gate import CommandGate, GateResult
from poolterm.actions.journal import Journal, read_journal
from poolterm.config.inventory import load_inventory
from poolterm.diagnosis import guards
from poolterm.diagnosis.diagnose import diagnose
from poolterm.diagnosis.guards import Facts
from poolterm.playbooks.conditions import known_uuids
from poolterm.probing.watch import Watcher
from poolterm.transport.ssh import Connections
from poolterm.xe import wrap_timeout
from tests.helpers.playbook_run import PlaybookRun
from tests.helpers.sim import simulated_pool
from tests.helpers.ssh import promote_by_hand, xe
from tests.helpers.truth import host_field


@dataclass
class Operator:
    """Answers the gate's questions as scripted, and remembers what it was asked."""

    confirm_answer: bool = True
    override_answer: tuple[str, str] | None = None
    confirms: list = field(default_factory=list)
    overrides: list = field(default_factory=list)

    async def confirm(self, request) -> bool:
        self.confirms.append(request)
        return self.confirm_answer

    async def override(self, request):
        self.overrides.append(request)
        return self.override_answer

    async def manual(self, request) -> bool:
        return True


@dataclass
class Harness:
    gate: CommandGate
    watcher: Watcher
    pools: list
    journal: Journal
    powered_off: frozenset[str] = frozenset()

    async def attempt(self, host: str, command: str) -> GateResult:
        # Two rounds, as a running console has: the second reads the master's database (uuids of hosts
        # that never answered) because the first told the watcher which host is master.
        await self.watcher.probe_all()
        observations = await self.watcher.probe_all()
        diagnosis = diagnose(self.pools, observations, asyncio.get_running_loop().time())
        facts = Facts(uuids=known_uuids(observations), databases=guards.databases(observations),
                      powered_off=self.powered_off)
        return await self.gate.run(host, command, wrap_timeout(command, 20), argv=command.split(), timeout=20,
                                   diagnosis=lambda: diagnosis, facts=lambda: facts)

    def records(self, kind: str) -> list[dict]:
        return [r for r in read_journal(self.journal.path).records if r["kind"] == kind]


@asynccontextmanager
async def gate_on(sim, tmp_path, operator: Operator, *, read_only: bool = False, assume_yes: bool = False):
    inventory = load_inventory(sim.hosts_yaml)
    inventory = replace(inventory, ssh=replace(inventory.ssh, connect_timeout=1.0))
    hosts = inventory.hosts()
    connections = Connections(hosts, inventory.ssh)
    watcher = Watcher(hosts, connections, interval=1, timeout=1.5)
    journal = Journal.open(tmp_path / "incident.jsonl", operator="alice")
    gate = CommandGate(connections, journal, operator, read_only=read_only, assume_yes=assume_yes,
                       addresses={h.name: h.address for h in hosts})
    try:
        yield Harness(gate, watcher, list(inventory.pools), journal)
    finally:
        journal.close()
        await connections.close()


def truth(sim) -> dict:
    """The pool's state, without the clock and the meters (they count the probe's own queries too)."""
    status = sim.status()
    status.pop("time")
    for host in status["hosts"]:
        for meter in ("api_sessions", "api_commands", "https_requests"):
            host.pop(meter)
    return status


def uuid_of(sim, name: str) -> str:
    return host_field(sim.status(), name, "uuid")


async def assert_refused_and_not_sent(harness: Harness, sim, host: str, command: str, rule: str) -> None:
    before = truth(sim)
    result = await harness.attempt(host, command)
    assert not result.sent and result.refusal is not None and result.refusal.rule == rule, result
    assert truth(sim) == before
    refused = harness.records("refused")
    assert refused and refused[-1]["rule"] == rule and refused[-1]["command"] == command
    assert refused[-1]["host"] == host and refused[-1]["operator"] == "alice"
    assert harness.records("command-start") == []


async def test_no_second_master_while_one_works_and_yes_does_not_override(tmp_path):
    async with simulated_pool(tmp_path / "pool") as sim:
        operator = Operator()
        async with gate_on(sim, tmp_path, operator, assume_yes=True) as harness:
            await assert_refused_and_not_sent(harness, sim, "plot2", "xe pool-emergency-transition-to-master",
                                              "second-master")
            assert len(operator.overrides) == 1 and operator.overrides[0].refusal.host == "plot2"


async def test_recover_slaves_never_on_the_stale_master_of_a_split_brain(tmp_path):
    async with simulated_pool(tmp_path / "pool") as sim:
        await sim.ctl("cable-out", "plot1")
        await promote_by_hand(sim, "plot2")
        assert (await xe(sim, "plot2", "xe pool-recover-slaves"))[0] == 0
        await sim.wait_until(lambda s: host_field(s, "plot4", "master_address") == sim.address_of("plot2"), 10)
        await sim.ctl("cable-in", "plot1")
        async with gate_on(sim, tmp_path, Operator()) as harness:
            await assert_refused_and_not_sent(harness, sim, "plot1", "xe pool-recover-slaves", "not-true-master")
            assert "plot2 is" in harness.records("refused")[-1]["reason"]


async def test_no_forgetting_a_host_that_is_only_cut_off(tmp_path):
    async with simulated_pool(tmp_path / "pool") as sim:
        await sim.ctl("cable-out", "plot4")
        async with gate_on(sim, tmp_path, Operator()) as harness:
            await assert_refused_and_not_sent(harness, sim, "plot1",
                                              f"xe host-forget uuid={uuid_of(sim, 'plot4')} --force",
                                              "forget-not-off")
            assert "unreachable is not off" in harness.records("refused")[-1]["reason"]


async def test_no_shutting_down_the_master_without_a_handover(tmp_path):
    async with simulated_pool(tmp_path / "pool") as sim:
        async with gate_on(sim, tmp_path, Operator()) as harness:
            await assert_refused_and_not_sent(harness, sim, "plot2",
                                              f"xe host-shutdown uuid={uuid_of(sim, 'plot1')}", "master-power")
            await assert_refused_and_not_sent(harness, sim, "plot1", "xe host-reboot name-label=plot1",
                                              "master-power")


async def test_read_only_refuses_everything_and_offers_no_override(tmp_path):
    async with simulated_pool(tmp_path / "pool") as sim:
        operator = Operator(override_answer=("plot1", "I really mean it"))
        async with gate_on(sim, tmp_path, operator, read_only=True) as harness:
            await assert_refused_and_not_sent(harness, sim, "plot1",
                                              f"xe host-disable uuid={uuid_of(sim, 'plot3')}", "read-only")
            assert operator.overrides == []
            query = await harness.attempt("plot1", "xe host-list params=uuid --minimal")
            assert query.sent and query.result.exit_status == 0  # queries still run


async def test_an_override_needs_the_host_name_and_a_reason_both_journaled(tmp_path):
    async with simulated_pool(tmp_path / "pool") as sim:
        await sim.ctl("cable-out", "plot4")
        command = f"xe host-forget uuid={uuid_of(sim, 'plot4')} --force"
        wrong = Operator(override_answer=("plot1", "typed the wrong host"))
        async with gate_on(sim, tmp_path / "wrong", wrong) as harness:
            await assert_refused_and_not_sent(harness, sim, "plot1", command, "forget-not-off")
            assert harness.records("override")[-1]["accepted"] is False
        right = Operator(override_answer=("plot4", "DC staff confirm plot4's PSU is dead"))
        async with gate_on(sim, tmp_path / "right", right) as harness:
            result = await harness.attempt("plot1", command)
            assert result.sent and result.result.exit_status == 0, result
            override = harness.records("override")[-1]
            assert (override["accepted"], override["typed"], override["reason"], override["operator"]) == (
                True, "plot4", "DC staff confirm plot4's PSU is dead", "alice")
            assert [r["command"] for r in harness.records("command-start")] == [command]
        names = {h["name"] for h in sim.status()["masters"][0]["db_hosts"]}
        assert "plot4" not in names  # the override did what the operator insisted on


async def test_ordinary_changes_are_confirmed_and_yes_confirms_them(tmp_path):
    async with simulated_pool(tmp_path / "pool") as sim:
        command = f"xe host-disable uuid={uuid_of(sim, 'plot3')}"
        declining = Operator(confirm_answer=False)
        async with gate_on(sim, tmp_path / "no", declining) as harness:
            before = truth(sim)
            result = await harness.attempt("plot1", command)
            assert result.declined and not result.sent and truth(sim) == before
            assert f"On plot1 ({sim.address_of('plot1')}): {command}." in declining.confirms[0].text
        async with gate_on(sim, tmp_path / "yes", Operator(confirm_answer=False), assume_yes=True) as harness:
            result = await harness.attempt("plot1", command)
            assert result.sent and result.result.exit_status == 0
            assert harness.records("confirm")[-1]["by"] == "--yes"
        assert host_field(sim.status(), "plot3", "enabled") is False


async def test_a_playbook_in_read_only_mode_is_refused_at_its_first_change(tmp_path):
    async with simulated_pool(tmp_path / "pool") as sim:
        await sim.ctl("shutdown", "plot1")
        await sim.wait_until(lambda s: host_field(s, "plot1", "power") == "off", 10)
        before = truth(sim)
        journal = tmp_path / "incident.jsonl"
        run = await PlaybookRun.start(sim, "master-lost", journal, "--read-only")
        assert await run.finish() == 1, run.output
        assert "REFUSED `xe pool-emergency-transition-to-master` on plot2" in run.text
        assert "STOPPED: Step 2 (Promote plot2 to master): refused:" in run.text
        assert truth(sim) == before
        records = read_journal(journal).records
        assert [r["rule"] for r in records if r["kind"] == "refused"] == ["read-only"]
        assert not [r for r in records if r["kind"] == "command-start"]
