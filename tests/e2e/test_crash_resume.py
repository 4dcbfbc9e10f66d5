"""Killed mid-playbook with SIGKILL, again and again: the journal keeps everything seen,
and each restart offers to resume from the right step.

One master-lost recovery, killed three times: right after the promotion command
returned (its effect not yet verified), while pool-recover-slaves streamed its
output, and at the manual step. After each kill the journal parses, holds every
command and output line the terminal had shown, and the next `playbook run`
names the last completed step and resumes at the step the journal implies; the
promotion is never sent twice. The fourth run finishes the recovery.
"""

from __future__ import annotations

import re

from poolterm.actions.journal import interrupted_run, read_journal
from poolterm.playbooks import load_playbook
from poolterm.playbooks.engine import resume_at
from tests.helpers.playbook_run import PlaybookRun, commands
from tests.helpers.sim import simulated_pool
from tests.helpers.truth import assert_healthy, host_field

PROMOTE = "xe pool-emergency-transition-to-master"
RECOVER = "xe pool-recover-slaves"


def check_journal(path, shown: str) -> None:
    """The journal parses and holds every command and output line the terminal showed."""
    contents = read_journal(path)
    assert not contents.torn and contents.bad_lines == 0  # one write() per record: a kill cannot tear one
    journaled = {(r["host"], r["command"]) for r in contents.records if r["kind"] == "command-start"}
    for host, command in re.findall(r"\$ on (\w+) \([\d.]+\): (xe [\w-]+(?: [^\s\[]+)*)", shown):
        assert (host, command) in journaled, (host, command)
    lines = {r["line"] for r in contents.records if r["kind"] == "output"}
    for line in re.findall(r"^  \| (.*)$", shown, re.M):
        assert line in lines, line
    ended = [r["exit_status"] for r in contents.records if r["kind"] == "command-end"]
    assert len(ended) >= len(re.findall(r"^  exit \d+ \(", shown, re.M))


def expected_resume(path) -> tuple[int, bool, str]:
    """Where the journal says the run should resume: (step number, action taken, last completed title)."""
    point = interrupted_run(read_journal(path).records, path)
    assert point is not None and point.state == "interrupted"
    at = resume_at(load_playbook("master-lost"), list(point.completed), point.acted)
    last = point.last_completed["title"] if point.last_completed else "none"
    return at.index + 1, at.acted, last


async def test_kill_9_at_three_points_then_resume_to_a_healthy_pool(tmp_path):
    async with simulated_pool(tmp_path / "pool") as sim:
        await sim.ctl("shutdown", "plot1")
        await sim.wait_until(lambda s: host_field(s, "plot1", "power") == "off", 10)
        journal = tmp_path / "incident.jsonl"

        # 1. killed right after the promotion returned, before its effect was seen
        first = await PlaybookRun.start(sim, "master-lost", journal)
        await first.expect(f": {PROMOTE}")
        await first.expect("exit 0")
        await first.kill()
        check_journal(journal, first.output)
        number, acted, last = expected_resume(journal)
        assert number in (2, 3) and (acted or number == 3)  # the promotion is done or awaits verification

        # 2. resumed, then killed while pool-recover-slaves streams its output
        second = await PlaybookRun.start(sim, "master-lost", journal)
        await second.expect(f"last completed step: step {number - 1} ({last})")
        await second.expect(f"It resumes at step {number} of 7")
        if acted:
            await second.expect("its action was taken before the interruption: poolterm checks its effect first")
        await second.expect(f": {RECOVER}")
        await second.expect("| ")
        await second.kill()
        check_journal(journal, first.output + second.output)
        assert [c[1] for c in commands(journal)].count(PROMOTE) == 1
        number, acted, last = expected_resume(journal)
        assert (number, last) == (3, "Promote plot2 to master")

        # 3. resumed, then killed while waiting for the operator at the manual step
        third = await PlaybookRun.start(sim, "master-lost", journal)
        await third.expect("last completed step: step 2 (Promote plot2 to master)")
        await third.expect("It resumes at step 3 of 7: Point every reachable host at plot2")
        await third.expect("Type 'done'")
        await third.kill()
        number, acted, last = expected_resume(journal)
        assert (number, acted, last) == (4, False, "Point every reachable host at plot2")

        # 4. resumed at the manual step, finished
        fourth = await PlaybookRun.start(sim, "master-lost", journal)
        await fourth.expect("last completed step: step 3 (Point every reachable host at plot2)")
        await fourth.expect("It resumes at step 4 of 7: Bring plot1 back.")
        await fourth.expect("Type 'done'")
        await sim.ctl("poweron", "plot1")
        await fourth.send("done")
        assert await fourth.finish() == 0, fourth.output
        assert "DONE: Goal reached" in fourth.text
        await assert_healthy(sim, "plot2")

        records = read_journal(journal).records
        assert [c[1] for c in commands(journal)].count(PROMOTE) == 1
        assert len([r for r in records if r["kind"] == "session"]) == 4
        runs = {r["run"] for r in records if r["kind"] in ("playbook-start", "playbook-resume", "playbook-end")}
        assert len(runs) == 1  # one recovery, resumed three times
        assert [r["outcome"] for r in records if r["kind"] == "playbook-end"] == ["done"]
