"""What the operator is told about an unfinished run: the terminal's lines and the console's dialog."""

from __future__ import annotations

from pathlib import Path

import pytest

from poolterm.actions.journal import ResumePoint
from poolterm.playbooks import load_playbook
from poolterm.playbooks.resume import ResumeOffer, describe_resume

PLAYBOOK = load_playbook("master-lost")  # 7 steps: restart-hung-master, promote, recover-slaves, ...
STEPS = [step.id for step in PLAYBOOK.steps]
JOURNAL = Path("/var/j.jsonl")
RUN = "master-lost on pool lab, started 2026-01-01T00:00:00.000Z by alice (journal /var/j.jsonl)"


def point(done: int, *, acted: str | None = None, state: str = "interrupted", reason: str = "",
          operator: str = "alice") -> ResumePoint:
    last = {"index": done - 1, "step": STEPS[done - 1], "title": f"Title {done}"} if done else None
    return ResumePoint(JOURNAL, "r1", "master-lost", "lab", {"old_master": "plot1", "candidate": ["plot2"]},
                       operator, "2026-01-01T00:00:00.000Z", tuple(STEPS[:done]), last, acted, state=state,
                       reason=reason)


#: point -> the offer
OFFERS = [
    (point(0), ResumeOffer(RUN, "none", "poolterm was interrupted",
                           "step 1 of 7: Restart the toolstack on plot1", False)),
    (point(1, acted="promote"), ResumeOffer(RUN, "step 1 (Title 1)", "poolterm was interrupted",
                                            "step 2 of 7: Promote plot2 to master", True)),
    (point(1, acted="verify"), ResumeOffer(RUN, "step 1 (Title 1)", "poolterm was interrupted",
                                           "step 2 of 7: Promote plot2 to master", False)),
    (point(2, state="stopped", reason="plot2 never answered."),
     ResumeOffer(RUN, "step 2 (Title 2)", "it stopped: plot2 never answered.",
                 "step 3 of 7: Point every reachable host at plot2", False)),
    (point(7), ResumeOffer(RUN, "step 7 (Title 7)", "poolterm was interrupted", None, False)),
    (point(0, operator=""), ResumeOffer(RUN.replace("by alice", "by unknown"), "none", "poolterm was interrupted",
                                        "step 1 of 7: Restart the toolstack on plot1", False)),
]


@pytest.mark.parametrize(("resume", "offer"), OFFERS)
def test_the_offer_says_which_run_how_far_and_where_it_goes_on(resume, offer):
    assert describe_resume(resume, PLAYBOOK) == offer


#: offer -> (terminal head, terminal resume line, dialog body)
WORDS = [
    (OFFERS[1][1],
     (f"unfinished: playbook {RUN}", "  last completed step: step 1 (Title 1); poolterm was interrupted"),
     ("It resumes at step 2 of 7: Promote plot2 to master (its action was taken before the interruption: "
      "poolterm checks its effect first)."),
     (f"Playbook {RUN}.\nLast completed step: step 1 (Title 1); poolterm was interrupted.\n"
      "It resumes at step 2 of 7: Promote plot2 to master, after poolterm observes every host again.")),
    (OFFERS[3][1],
     (f"unfinished: playbook {RUN}", "  last completed step: step 2 (Title 2); it stopped: plot2 never answered."),
     "It resumes at step 3 of 7: Point every reachable host at plot2.",
     # the reason's own full stop and the sentence's: the console's dialog has always shown both
     (f"Playbook {RUN}.\nLast completed step: step 2 (Title 2); it stopped: plot2 never answered..\n"
      "It resumes at step 3 of 7: Point every reachable host at plot2, after poolterm observes every host again.")),
    (OFFERS[4][1],
     (f"unfinished: playbook {RUN}", "  last completed step: step 7 (Title 7); poolterm was interrupted"),
     "Every step of it was completed; checking the goal.",
     (f"Playbook {RUN}.\nLast completed step: step 7 (Title 7); poolterm was interrupted.\n"
      "It resumes at the goal check (every step was completed), after poolterm observes every host again.")),
]


@pytest.mark.parametrize(("offer", "head", "resume_line", "body"), WORDS)
def test_the_terminal_and_the_dialog_word_it_as_before(offer, head, resume_line, body):
    assert offer.terminal_head == head
    assert offer.terminal_resume == resume_line
    assert offer.dialog_body == body
