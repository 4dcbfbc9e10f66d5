"""`poolterm playbook run` whose journal cannot be written mid-run: one warning, the run goes on, nothing lost.

The run is a real subprocess on the simulated pool; the test lowers that process's file size
limit (``prlimit``, as ``ulimit -f`` would) to the journal's size once the run has started, so
its next journal write fails with EFBIG, and lifts it while the run waits for the operator.
"""

from __future__ import annotations

import json
import resource

from poolterm.actions.journal import read_journal
from tests.helpers.playbook_run import PlaybookRun, changes
from tests.helpers.sim import fault, simulated_pool
from tests.helpers.truth import assert_healthy, host_field


async def test_a_journal_that_cannot_be_written_mid_run_warns_once_and_catches_up(tmp_path):
    async with simulated_pool(tmp_path / "pool", 8) as sim:
        await fault(sim, "master-shutdown")
        await sim.wait_until(lambda s: host_field(s, "plot1", "power") == "off", 10)
        journal = tmp_path / "incident.jsonl"
        run = await PlaybookRun.start(sim, "master-lost", journal)
        await run.expect("observing pool lab")
        _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.prlimit(run.proc.pid, resource.RLIMIT_FSIZE, (journal.stat().st_size, hard))
        await run.expect("Type 'done'")
        assert run.text.count("poolterm: warning: cannot write journal") == 1, run.output
        assert "File too large; its records are kept in memory" in run.text

        resource.prlimit(run.proc.pid, resource.RLIMIT_FSIZE, (hard, hard))
        await run.expect(f"poolterm: journal {journal} written again")  # the retry, while the run waits
        await sim.ctl("poweron", "plot1")
        await run.send("done")
        assert await run.finish() == 0, run.output
        assert "DONE: Goal reached" in run.text
        assert run.text.count("poolterm: warning:") == 1 and run.text.count("written again") == 1
        await assert_healthy(sim, "plot2")
        lines = journal.read_bytes().decode("utf-8").split("\n")
        assert lines[-1] == ""
        records = [json.loads(line) for line in lines[:-1]]  # every line whole
        assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
        kinds = [r["kind"] for r in records]
        assert kinds[0] == "session" and "manual-ask" in kinds and kinds[-1] == "playbook-end"
        assert changes(journal) == [("plot2", "xe pool-emergency-transition-to-master", 0),
                                    ("plot2", "xe pool-recover-slaves", 0)]


async def test_records_the_journal_never_could_write_are_named_as_lost_at_the_end(tmp_path):
    async with simulated_pool(tmp_path / "pool") as sim:
        journal = tmp_path / "incident.jsonl"
        run = await PlaybookRun.start(sim, "master-lost", journal)
        await run.expect("observing pool lab")
        _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.prlimit(run.proc.pid, resource.RLIMIT_FSIZE, (journal.stat().st_size, hard))
        assert await run.finish() == 0, run.output  # the run is not cut short by its journal
        assert "NOTHING TO DO: Pool lab is already healthy" in run.text
        assert run.text.count("poolterm: warning: cannot write journal") == 1, run.output
        assert f"journal records could not be written to {journal} and are lost (cannot write journal" \
               in run.text
        kinds = [r["kind"] for r in read_journal(journal).records]
        assert kinds[0] == "session" and "playbook-end" not in kinds  # the end is among the lost
