"""Teaching mode's "next key": what to press now, and why, from what is in front."""

from __future__ import annotations

from typing import TYPE_CHECKING

from poolterm.model import Verdict
from poolterm.ui.dialogs import Confirm, ManualStep, OverrideDialog, PasswordPrompt

if TYPE_CHECKING:
    from poolterm.ui.app import PoolApp


#: Verdicts whose right move is to wait: the pool changes by itself, and a key pressed now breaks it.
WAIT = {
    Verdict.HA_FAILOVER: (
        "none: HA elects the new master by itself, within the HA timeout and a minute or two. Do not "
        "promote a host: an armed host refuses, and one disarmed to force it becomes a second master when "
        "HA's choice comes up. Do not restart a toolstack either: under HA that fences (reboots) the host."),
    Verdict.HANDOVER: (
        "none: the master change finishes by itself, usually within a minute; touch nothing until it does "
        "(a promotion or a toolstack restart now makes the split brain the handover avoids)."),
}
#: What playbook ha-stuck does, in the order that matters.
STUCK_ORDER = (" It disarms HA on every surviving host first, promotes exactly one, recovers the others; "
               "HA is enabled again only once the pool is healthy.")


def next_key(app: PoolApp) -> str:
    screen = app.screen
    if isinstance(screen, Confirm):
        return "y runs exactly the command shown, on the host named; n declines and nothing is sent."
    if isinstance(screen, ManualStep):
        simulate = "; i does it in the simulator" if screen.simulate is not None else ""
        return f"do what the dialog says, then enter{simulate}; s stops the playbook here (it can be resumed)."
    if isinstance(screen, PasswordPrompt):
        return "type the password the dialog names, then enter; esc stops the playbook here (it can be resumed)."
    if isinstance(screen, OverrideDialog):
        return "esc keeps the refusal (almost always right); an override needs the host's name and a reason."
    if app.playbooks.running:
        return "none: poolterm runs the step or waits for its effect; x cancels the playbook."
    if app.drill is not None and app.drill.injecting:
        return "none yet: the drill is still setting up its fault; R works once it says “recover the pool”."
    worst = app.diagnosis.worst if app.diagnosis is not None else None
    if worst is not None and worst.verdict in WAIT:  # before a resume: a playbook now would fight the change
        return WAIT[worst.verdict]
    resumable = app.playbooks.resumable
    if resumable is not None and app.check_action("recommended", ()) is True:
        return f"R offers to resume playbook {resumable.playbook} where it stopped (n then R starts afresh)."
    pool = app.recommended_pool()
    after = STUCK_ORDER if pool is not None and pool.verdict is Verdict.HA_STUCK else ""
    if pool is not None and app.check_action("start_playbook", ()) is True:
        return f"R starts playbook {pool.playbook}, which guides the fix step by step.{after}"
    if pool is not None:
        return (f"none here: playbook {pool.playbook} fixes this, from a live console without --read-only "
                f"(or `poolterm playbook run {pool.playbook}`).{after}")
    if app.diagnosis is not None and app.diagnosis.verdict is Verdict.HEALTHY:
        return "none needed: the pool is healthy. c runs read-only queries on the selected host."
    return "d shows the selected host's evidence; c runs read-only queries on it."
