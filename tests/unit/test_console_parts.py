"""The console's parts without the console: availability rules, the recompute loop, the
playbook progress reducer. Each is a plain object the app wires; here they are driven alone."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from poolterm.actions.gate import CommandEnded, CommandOutput, CommandStarted, GuardRefused
from poolterm.diagnosis.guards import Refuse
from poolterm.model import Diagnosis
from poolterm.playbooks import load_playbook
from poolterm.playbooks.engine import Finished, Notice
from poolterm.playbooks.runner import PlaybookFinished, PlaybookStarted, StepEvent
from poolterm.ui.availability import DRILL_SETUP, RULES, ConsoleState, available, why_not
from poolterm.ui.playbook_progress import PlaybookProgress
from poolterm.ui.recompute import COST_FACTOR, PERIOD, RecomputeLoop

# ---------------------------------------------------------------- availability

LIVE = ConsoleState(live=True, journal=True, has_selection=True)


@pytest.mark.parametrize(("action", "state", "expected"), [
    ("inject_fault", LIVE, False),  # hidden outside the demo
    ("inject_fault", dataclasses.replace(LIVE, demo=True), True),
    ("pause", dataclasses.replace(LIVE, playbook_running=True), False),  # a run needs fresh probes
    ("refresh", dataclasses.replace(LIVE, paused=True), None),  # greyed, not hidden
    ("xe_prompt", dataclasses.replace(LIVE, has_selection=False), None),
    ("xe_prompt", dataclasses.replace(LIVE, journal=False), None),  # no journal, no command
    ("start_playbook", dataclasses.replace(LIVE, read_only=True), None),
    ("recommended", dataclasses.replace(LIVE, resumable=True), True),
    ("recommended", dataclasses.replace(LIVE, recommended=True, playbook_running=True), None),
    ("recommended", dataclasses.replace(LIVE, recommended=True, drill_injecting=True), None),
    ("detail", dataclasses.replace(LIVE, main_in_front=False), False),  # hidden behind another screen
    ("help", LIVE, True),  # no rule: always
])
def test_availability(action, state, expected):
    assert available(action, state) is expected


def test_every_rule_says_why_and_the_drill_says_its_own():
    assert all(reason for _, reason in RULES.values())
    assert why_not("start_playbook", ConsoleState(drill_injecting=True)) == DRILL_SETUP
    assert "no host selected" in why_not("detail", ConsoleState())


# ---------------------------------------------------------------- the recompute loop


class Loop:
    """A RecomputeLoop on real asyncio timers, counting what it diagnoses and shows."""

    def __init__(self, cost: float = 0.0):
        self.jobs = 0
        self.shown: list[Diagnosis] = []
        self.active = True
        self.cost = cost
        loop = asyncio.get_running_loop()

        def job():
            self.jobs += 1

            def diagnose() -> Diagnosis:
                if self.cost:
                    time.sleep(self.cost)  # in the loop's worker thread, as a big pool's diagnosis is
                return Diagnosis()
            return diagnose

        self.loop = RecomputeLoop(job=job, threaded=True, show=self.shown.append,
                                  set_timer=lambda delay, run: loop.call_later(delay, lambda: loop.create_task(run())),
                                  active=lambda: self.active)


async def until(condition, seconds: float = 5.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.005)


async def test_a_burst_of_requests_is_one_diagnosis():
    rig = Loop()
    for _ in range(50):
        rig.loop.request()
    await until(lambda: rig.shown)
    await asyncio.sleep(PERIOD)
    assert rig.jobs == 1 and len(rig.shown) == 1


async def test_a_request_during_a_diagnosis_is_served_after_it_spaced_by_its_cost():
    rig = Loop(cost=0.1)
    rig.loop.request()
    await until(lambda: rig.jobs == 1)
    rig.loop.request()  # arrives while the first one runs in its thread
    await until(lambda: len(rig.shown) == 2, seconds=10)
    assert rig.loop.cost >= 0.1
    assert rig.jobs == 2  # not lost, not doubled
    assert COST_FACTOR * rig.loop.cost > PERIOD  # so the second waited for the cost, not the period


async def test_nothing_is_shown_while_inactive():
    rig = Loop()
    rig.active = False
    rig.loop.request()
    await asyncio.sleep(PERIOD * 2)
    assert rig.jobs == 0 and rig.shown == []


# ---------------------------------------------------------------- the playbook progress reducer


def test_the_reducer_turns_runner_events_into_panel_state_and_log_lines():
    playbook = load_playbook("master-lost")
    progress = PlaybookProgress(playbook, "lab")
    progress.apply(PlaybookStarted("r1", playbook, "lab", {}, resumed_at=1), None)
    assert progress.run == "r1" and progress.statuses[0] == "done" and "resumed at step 2" in progress.notes

    started = progress.apply(StepEvent(Notice("step-started", 1, playbook.steps[1].id, playbook.steps[1].title,
                                              "why it matters", host="plot2"), len(playbook.steps)), None)
    assert progress.current == 1 and progress.statuses[1] == "running" and progress.why == "why it matters"
    assert started.lines[0].text.startswith(f"step 2/{len(playbook.steps)}: ")

    progress.apply(CommandStarted("c1", "plot2", "127.0.0.2", "xe pool-list", False), None)
    output = progress.apply(CommandOutput("c1", "plot2", "stdout", "uuid ( RO): 1"), None)
    assert output.redraw is False  # output never redraws the panel
    assert (output.lines[0].host, output.lines[0].stamped) == ("plot2", False)
    ended = progress.apply(CommandEnded("c1", "plot2", "xe pool-list", 0, 0.25), None)
    assert progress.ended == "exit 0, 0.25 s" and ended.lines[0].text == "[exit 0, 0.25 s] xe pool-list"

    done = progress.apply(PlaybookFinished("r1", Finished("done", "the pool is healthy", "", None), "master-lost"),
                          None)
    assert done.finished is not None and progress.finished.outcome == "done"
    assert done.lines[0].text == "playbook master-lost: done: the pool is healthy"
    assert progress.cancelled() is False  # an ended run cannot be cancelled


def test_a_cancelled_run_marks_its_current_step_failed():
    playbook = load_playbook("master-lost")
    progress = PlaybookProgress(playbook, "lab", run="r2", current=2)
    assert progress.cancelled() is True
    assert progress.statuses[2] == "failed" and progress.finished.outcome == "stopped"


def test_a_refusal_is_noted_and_logged():
    progress = PlaybookProgress(load_playbook("master-lost"), "lab")
    refusal = Refuse("rule", "plot1 is a working master.", "Run it on plot1.", host="plot1")
    applied = progress.apply(GuardRefused(refusal, "plot3", "xe pool-emergency-transition-to-master"), None)
    assert applied.lines[0].stream == "stderr" and "REFUSED" in progress.notes[-1]
