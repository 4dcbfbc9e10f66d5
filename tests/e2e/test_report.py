"""`poolterm report` on the journal of a real recovery: a timeline a person can read.

The playbook runs without --journal, so the journal lands in the default place
(the user state directory) and `poolterm report` without arguments finds it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from poolterm.actions.journal import read_journal
from tests.helpers.playbook_run import OPERATOR, PlaybookRun
from tests.helpers.sim import simulated_pool
from tests.helpers.truth import assert_healthy, host_field


async def report(home: Path, *args: str) -> tuple[int, str, str]:
    env = dict(os.environ, HOME=str(home))
    env.pop("XDG_STATE_HOME", None)
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "poolterm", "report", *args,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                                                env=env)
    out, err = await proc.communicate()
    return proc.returncode, out.decode(), err.decode()


async def test_report_of_a_real_recovery(tmp_path):
    async with simulated_pool(tmp_path / "pool") as sim:
        home = sim.directory
        code, _, err = await report(home)
        assert code == 2 and err.startswith("poolterm: no journal in ") and len(err.splitlines()) == 1

        await sim.ctl("shutdown", "plot1")
        await sim.wait_until(lambda s: host_field(s, "plot1", "power") == "off", 10)
        run = await PlaybookRun.start(sim, "master-lost", None)
        await run.expect("Type 'done'")
        await sim.ctl("poweron", "plot1")
        await run.send("done")
        assert await run.finish() == 0, run.output
        await assert_healthy(sim, "plot2")
        journals = list((home / ".local/state/poolterm/journal").glob("incident-*.jsonl"))
        assert len(journals) == 1
        assert oct(journals[0].stat().st_mode & 0o777) == "0o600"

        code, markdown, err = await report(home)
        assert code == 0, err
        lines = markdown.splitlines()
        assert lines[0] == "# Incident report: pool lab"
        assert f"- Operators: {OPERATOR};" in markdown
        assert "- First seen: MASTER LOST at " in markdown and "Master plot1 is lost" in markdown
        recovered = next(line for line in lines if line.startswith("- Healthy again at "))
        assert "recovery took" in recovered
        assert f"- Playbook master-lost by {OPERATOR}: DONE in " in markdown
        assert "- Commands: 2 run, 2 changing the pool, 0 not successful; 0 refused by the guards" in markdown
        timeline = lines[lines.index("## Timeline") + 2:]
        promote = next(line for line in timeline
                       if "ran on plot2: `xe pool-emergency-transition-to-master` -> exit 0 in" in line)
        assert promote.startswith("- **") and f"{OPERATOR} ran on plot2" in promote
        assert any("Host agent will restart and transition to master in 0.5 seconds..." in line for line in timeline)
        assert any("verdict MASTER LOST (pool lab)" in line for line in timeline)
        assert any("step 2 Promote plot2 to master: done (plot2 is master and answers as master)" in line
                   for line in timeline)
        assert any(f"{OPERATOR} answered 'done' to manual step 4" in line for line in timeline)
        first_verdict = next(line for line in timeline if "verdict MASTER LOST" in line)
        assert timeline.index(first_verdict) < timeline.index(promote)

        code, text, err = await report(home, str(journals[0]), "--format", "json")
        assert code == 0, err
        data = json.loads(text)
        assert data["operators"] == [OPERATOR] and data["journal"] == str(journals[0])
        assert data["recovery"]["first_verdict"] == "master-lost" and data["recovery"]["seconds"] > 0
        assert [(c["host"], c["command"], c["exit_status"], c["operator"]) for c in data["commands"]] == [
            ("plot2", "xe pool-emergency-transition-to-master", 0, OPERATOR),
            ("plot2", "xe pool-recover-slaves", 0, OPERATOR)]
        assert len(data["commands"][1]["output"]) == 2  # the two uuids recover-slaves printed
        (playbook,) = data["playbooks"]
        assert playbook["outcome"] == "done" and playbook["seconds"] > 0
        offsets = [entry["offset"] for entry in data["timeline"]]
        assert offsets == sorted(offsets) and offsets[0] == 0

        # a journal whose writer was killed mid-line still reports, and says so
        torn = tmp_path / "torn.jsonl"
        torn.write_bytes(journals[0].read_bytes() + b'{"kind":"outp')
        code, markdown, err = await report(home, str(torn))
        assert code == 0, err
        assert "last line torn: the writer was killed mid-line" in markdown
        assert len(read_journal(torn).records) == len(read_journal(journals[0]).records)


async def test_report_of_a_missing_or_empty_journal_is_one_line(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    for path, message in ((tmp_path / "missing.jsonl", "cannot read journal"), (empty, "no journal records")):
        code, out, err = await report(tmp_path, str(path))
        assert code == 2 and out == "" and message in err and len(err.splitlines()) == 1
