"""What the operator is told about an unfinished playbook run before choosing to resume it.

The journal says where the run got to (:class:`poolterm.actions.journal.ResumePoint`);
this turns that into the facts a person decides on: which run, the last step
completed, how it stopped, and the step it would resume at. The terminal prints
them as lines, the console as a dialog; both take their words from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from poolterm.actions.journal import ResumePoint
from poolterm.playbooks import Playbook
from poolterm.playbooks.engine import expand, render, resume_at

#: Said of a step resumed after its action was taken: the effect is checked before anything is sent again.
ACTED = " (its action was taken before the interruption: poolterm checks its effect first)"


@dataclass(frozen=True)
class ResumeOffer:
    run: str  # "<playbook> on pool <pool>, started <when> by <operator> (journal <path>)"
    last_completed: str  # "step 2 (<title>)", or "none"
    how_ended: str  # "it stopped: <reason>", or "poolterm was interrupted"
    resumes_at: str | None  # "step 3 of 5: <title>"; None: every step was completed, only the goal is checked
    acted: bool  # that step's action was taken before the interruption

    @property
    def terminal_head(self) -> tuple[str, str]:
        """The terminal's first two lines: which run, and how far it got."""
        return (f"unfinished: playbook {self.run}",
                f"  last completed step: {self.last_completed}; {self.how_ended}")

    @property
    def terminal_resume(self) -> str:
        """The terminal's line saying where the run goes on."""
        if self.resumes_at is None:
            return "Every step of it was completed; checking the goal."
        return f"It resumes at {self.resumes_at}{ACTED if self.acted else ''}."

    @property
    def dialog_body(self) -> str:
        """The console's resume dialog."""
        where = self.resumes_at or "the goal check (every step was completed)"
        return (f"Playbook {self.run}.\nLast completed step: {self.last_completed}; {self.how_ended}.\n"
                f"It resumes at {where}, after poolterm observes every host again.")


def describe_resume(point: ResumePoint, playbook: Playbook) -> ResumeOffer:
    """The offer to resume ``point``, a run of ``playbook``.

    Only ``resumes_at`` and ``acted`` are counted in ``playbook``'s steps: a front end asked
    to run another playbook prints the head alone (the run must be finished or abandoned first).
    """
    last = point.last_completed
    # The journal keeps a binding's hosts as a JSON list; a step title renders a tuple of them.
    bindings = {k: tuple(v) if isinstance(v, list) else v for k, v in point.bindings.items()}
    playbook, bindings = expand(playbook, bindings)  # the steps as the run had them, one per host
    at = resume_at(playbook, list(point.completed), point.acted)
    resumes_at = None
    if at.index < len(playbook.steps):
        resumes_at = f"step {at.index + 1} of {len(playbook.steps)}: {render(playbook.steps[at.index].title, bindings)}"
    return ResumeOffer(
        run=f"{point.playbook} on pool {point.pool}, started {point.started} by {point.operator or 'unknown'} "
            f"(journal {point.path})",
        last_completed=f"step {last['index'] + 1} ({last['title']})" if last else "none",
        how_ended=f"it stopped: {point.reason}" if point.state == "stopped" else "poolterm was interrupted",
        resumes_at=resumes_at,
        acted=at.acted,
    )
