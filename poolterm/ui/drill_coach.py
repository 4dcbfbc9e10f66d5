"""A drill in the console: the fault after the first HEALTHY, the watch on ground truth, the score.

The console's own picture of the pool comes from its probes, as on a real pool;
only the drill reads the simulator's ground truth, to know when the trainee has
really recovered it. The simulator is reached through what the demo hands in:
the drill's ``inject``, and the simulator's ``wait_until`` (ground truth).
"""

from __future__ import annotations

import time
from typing import Callable

from textual.app import App

from poolterm.actions.journal import JournalError, read_journal
from poolterm.actions.records import DrillScored, DrillStart
from poolterm.diagnosis.drill import Drill, DrillState, Score, healthy, score
from poolterm.model import Verdict
from poolterm.ui.drill_score import DrillScore
from poolterm.ui.messages import DrillEnded

#: What the hint line says at each stage of a drill.
STAGE_HINTS = {
    "waiting": "starts once the pool shows HEALTHY",
    "armed": "a fault is coming",
    "injecting": "the fault is being injected",
    "live": "recover the pool",
    "failed": "the fault could not be injected",
}
#: While the fault is live, what the verdict in front asks of the trainee, where waiting is the answer
#: or the way out is not the usual one.
LIVE_HINTS = {
    Verdict.HA_FAILOVER: "HA is electing a master: wait, do not promote or restart a toolstack",
    Verdict.HANDOVER: "a master change is finishing by itself: touch nothing",
    Verdict.HA_STUCK: "HA is stuck: playbook ha-stuck (R) disarms HA first, then promotes one host",
}


class DrillCoach:
    """Runs one drill on ``app``; ``sim`` is the simulator (its ground truth)."""

    def __init__(self, app: App, drill: Drill, sim, *, clock: Callable[[], float] = time.time) -> None:
        self.app = app
        self.drill = drill
        self.sim = sim
        self.state = DrillState(drill.name)
        self.score: Score | None = None
        self.last_verdict: Verdict | None = None
        self._clock = clock  # the journal's clock: scores subtract journal times from it

    @property
    def injecting(self) -> bool:
        """The fault is being set up: a playbook started now would act on a pool still changing."""
        return self.state.stage == "injecting"

    def hint(self) -> str:
        if self.score is not None:
            return f"DRILL {self.drill.name}: {self.score.summary}"
        hint = STAGE_HINTS[self.state.stage]
        if self.state.stage == "live" and self.last_verdict in LIVE_HINTS:
            hint += f" ({LIVE_HINTS[self.last_verdict]})"
        return f"DRILL {self.drill.name}: {hint}"

    # ---- the fault -------------------------------------------------------------------------------
    def verdict(self, verdict: Verdict) -> None:
        """The console's verdict changed: the first HEALTHY arms the fault."""
        before, self.last_verdict = self.last_verdict, verdict
        if self.state.stage == "live" and LIVE_HINTS.get(before) != LIVE_HINTS.get(verdict):
            self._show()
        if verdict is Verdict.HEALTHY and self.state.stage == "waiting":
            self.state.stage = "armed"
            self._show()
            self.app.set_timer(self.drill.delay, self._start, name="drill-fault")

    def _start(self) -> None:
        self.app.run_worker(self._inject(), group="drill", exit_on_error=False, description="drill")

    async def _inject(self) -> None:
        self.state.stage = "injecting"
        self._show()
        error = await self.drill.inject()
        if error:
            self.state.stage = "failed"
            self._show()
            self.app.notify(f"DRILL {self.drill.name}: the fault could not be injected: {error}", title="drill",
                            severity="error", timeout=30, markup=False)
            return
        journal = self.app.journal
        record = journal.write(DrillStart(drill=self.drill.name, operator=journal.operator))
        self.state.fault_in(float(record["t"]))
        self._show()
        self.app.source.wake()
        self.app.notify(f"DRILL {self.drill.name}: recover the pool", title="drill", severity="warning",
                        timeout=20, markup=False)
        await self._watch_truth()

    async def _watch_truth(self) -> None:
        """Follow ground truth from broken to healthy (and back, should the trainee break it again)."""
        was = True
        while self.state.stage == "live":
            status = await self.sim.wait_until(lambda s: healthy(s) != was, None)
            was = healthy(status)
            self.state.truth(was, self._clock())
            self.check()

    # ---- the end ---------------------------------------------------------------------------------
    def check(self) -> None:
        """End the drill if the pool is recovered and nothing the trainee started is still at work."""
        if self.state.recovered(busy=self.app.busy()):
            self._end(self.state.healthy_since, quitting=False)

    def quit(self) -> bool:
        """The trainee quits: show the score first. False when there is no drill to score."""
        if self.state.stage != "live":
            return False
        return self._end(self.state.healthy_since, quitting=True)

    def abandon(self) -> None:
        """The console is going away without a quit (the terminal dropped): journal the score anyway."""
        if self.state.stage == "live":
            self._scored(self.state.healthy_since)

    def _end(self, healthy_at: float | None, *, quitting: bool) -> bool:
        result = self._scored(healthy_at)
        if result is None:
            return False
        self.app.post_message(DrillEnded(result))

        def closed(leave: bool | None) -> None:
            if leave:
                self.app.exit(0)

        self.app.push_screen(DrillScore(result, str(self.app.journal.path), quitting=quitting), closed)
        return True

    def _scored(self, healthy_at: float | None) -> Score | None:
        journal = self.app.journal
        try:
            records = read_journal(journal.path).records
        except JournalError as exc:
            self.app.notify(f"DRILL {self.drill.name}: no score: {exc}", title="drill", severity="error", markup=False)
            return None
        self.state.stage = "ended"
        self.score = score(records, self.drill.name, healthy_at=healthy_at, ended_at=self._clock())
        journal.write(DrillScored(operator=journal.operator, **self.score.record()))
        self._show()
        return self.score

    def _show(self) -> None:
        self.app.drill_changed()
