"""The runner's events in words: each event's log line (host, stream, text) and terminal transcript."""

from __future__ import annotations

import pytest

from poolterm.actions.gate import CommandEnded, CommandOutput, CommandStarted, GuardRefused, Overridden
from poolterm.diagnosis.guards import Refuse
from poolterm.model import Verdict
from poolterm.playbooks import load_playbook
from poolterm.playbooks.engine import Finished, Notice
from poolterm.playbooks.narrate import BLANK, Line, Narration, narrate
from poolterm.playbooks.runner import PlaybookFinished, PlaybookStarted, StepEvent, VerdictChanged, Waiting

PLAYBOOK = load_playbook("master-lost")
REFUSAL = Refuse("master-alive", "plot1 may still be the master.", "Promote plot2 first.", "plot1")


def step(kind: str, detail: str = "why not", host: str | None = None) -> StepEvent:
    return StepEvent(Notice(kind, 1, "promote", "Promote plot2", detail, host), 7)


HEAD = "step 2/7: Promote plot2"

#: event -> (host, stream, log line, transcript)
TOLD = [
    (PlaybookStarted("r1", PLAYBOOK, "lab", {"old_master": "plot1", "candidate": "plot2", "slaves": ("a", "b"),
                                             "none": None}),
     None, "info", None,
     (BLANK, Line("playbook master-lost: Recover from a lost master (pool lab, run r1)"),
      Line("targets: old_master=plot1, candidate=plot2, slaves=a, b, none=-", "  "))),
    (PlaybookStarted("r1", PLAYBOOK, "lab", {}, resumed_at=2),
     None, "info", None,
     (BLANK, Line("playbook master-lost: Recover from a lost master (pool lab, run r1, resuming at step 3)"),
      Line("targets: ", "  "))),
    (step("step-started", "plot2 is the best candidate", "plot2"), None, "info", HEAD,
     (BLANK, Line(HEAD), Line("plot2 is the best candidate", "  why: ", wrap=True))),
    (step("step-skipped", "HA is on"), None, "info", f"{HEAD}: skipped (HA is on)",
     (BLANK, Line(f"{HEAD}: skipped (HA is on)"))),
    (step("step-resumed", "after a stop"), None, "info", f"{HEAD} (after a stop)",
     (BLANK, Line(f"{HEAD}: resumed (after a stop)"))),
    (step("step-done", "plot2 is master"), None, "info", f"{HEAD}: ok: plot2 is master",
     (Line("ok: plot2 is master", "  "),)),
    (step("fact", "HA is off"), None, "info", None, (Line("learned: HA is off", "  "),)),
    (CommandStarted("s-1", "plot2", "10.0.0.2", "xe pool-recover-slaves", True), "plot2", "cmd",
     "xe pool-recover-slaves", (Line("$ on plot2 (10.0.0.2): xe pool-recover-slaves", "  "),)),
    (CommandStarted("s-1", "plot2", "", "xe pool-list", False), "plot2", "cmd", "xe pool-list",
     (Line("$ on plot2: xe pool-list [read-only]", "  "),)),
    (CommandOutput("s-1", "plot2", "stderr", "no such host"), "plot2", "stderr", "no such host",
     (Line("| no such host", "  "),)),
    (CommandEnded("s-1", "plot2", "xe pool-list", 0, 1.25), "plot2", "info", "[exit 0, 1.25 s] xe pool-list",
     (Line("exit 0 (1.25 s)", "  "),)),
    (CommandEnded("s-1", "plot2", "xe pool-list", None, 35.0, deadline_hit=True), "plot2", "info",
     "[timed out after 35 s] xe pool-list", (Line("timed out (35 s)", "  "),)),
    (CommandEnded("s-1", "plot2", "xe pool-list", None, 5.0, error="timeout: no answer"), "plot2", "info",
     "[failed: timeout: no answer] xe pool-list", (Line("failed: timeout: no answer (5 s)", "  "),)),
    (GuardRefused(REFUSAL, "plot1", "xe host-shutdown"), "plot1", "stderr",
     "REFUSED xe host-shutdown on plot1: plot1 may still be the master. Instead: Promote plot2 first.",
     (Line("REFUSED `xe host-shutdown` on plot1: plot1 may still be the master.", "  ", wrap=True),
      Line("instead: Promote plot2 first.", "  ", wrap=True))),
    (Overridden("plot1", "it is off", True), "plot1", "info", None,
     (Line("override accepted for plot1 (reason journaled: it is off)", "  "),)),
    (Overridden("plot1", "", False), "plot1", "info", None,
     (Line("override not accepted: it needs the exact host name and a reason", "  "),)),
    (Waiting(1, "plot2 answers as master", 29.6, "plot2 is slave"), None, "info", None,
     (Line("waiting up to 30 s for: plot2 answers as master (now: plot2 is slave)", "  ", wrap=True),)),
    (VerdictChanged("lab", Verdict.HEALTHY, "plot2", "All is well"), None, "info", None,
     (Line(f"verdict: {Verdict.HEALTHY.title}: All is well", "  ", wrap=True),)),
    (PlaybookFinished("r1", Finished("stopped", "plot2 never answered.", "Resume it later.", 1), "master-lost"),
     None, "info", "playbook master-lost: stopped: plot2 never answered.",
     (BLANK, Line("STOPPED: plot2 never answered.", wrap=True), Line("next: Resume it later.", wrap=True))),
    (PlaybookFinished("r1", Finished("healthy", "Nothing is wrong."), "master-lost"),
     None, "info", "playbook master-lost: healthy: Nothing is wrong.",
     (BLANK, Line("NOTHING TO DO: Nothing is wrong.", wrap=True))),
    (PlaybookFinished("r1", Finished("odd-outcome", "Why."), "master-lost"),
     None, "info", "playbook master-lost: odd-outcome: Why.", (BLANK, Line("ODD-OUTCOME: Why.", wrap=True))),
]


@pytest.mark.parametrize(("event", "host", "stream", "line", "transcript"), TOLD,
                         ids=lambda v: type(v).__name__ if not isinstance(v, (str, tuple, type(None))) else None)
def test_each_event_is_told_for_a_log_and_a_terminal(event, host, stream, line, transcript):
    assert narrate(event) == Narration(host, stream, line, transcript)


@pytest.mark.parametrize("event", [object(), "text", step("step-unheard-of")])
def test_what_nobody_tells_is_none(event):
    assert narrate(event) is None
