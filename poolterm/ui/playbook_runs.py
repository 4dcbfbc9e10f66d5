"""Playbook runs in the console: start, follow, cancel, and resume where one stopped.

A run is a worker driving :class:`poolterm.playbooks.runner.PlaybookRunner`; its
events go through :meth:`PlaybookProgress.apply` into the playbook panel and the
log. A run that stopped (a refusal, a failed check, the operator's ``x``) can be
resumed with ``R`` at the step the journal says; an interrupted run found at
start-up is offered once. The app wires this controller; it owns no widget.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from textual.worker import Worker

from poolterm.actions.journal import JournalError, ResumePoint, interrupted_run, read_journal
from poolterm.actions.records import PlaybookEnd
from poolterm.playbooks import PlaybookError, load_playbook
from poolterm.playbooks.engine import Timing
from poolterm.playbooks.resume import describe_resume
from poolterm.playbooks.runner import PlaybookRunner, probe_budget
from poolterm.probing.source import SourceWatch
from poolterm.ui.dialogs import Confirm
from poolterm.ui.messages import PlaybookEnded
from poolterm.ui.playbook_progress import CANCELLED, PlaybookProgress

if TYPE_CHECKING:
    from poolterm.ui.app import PoolApp

#: Seconds a playbook waits for the first complete probe round before it decides anyway.
OBSERVE_SLACK = 10.0
#: Seconds the end-of-playbook notice stays up (the panel keeps the whole story).
PLAYBOOK_TOAST = 5.0


class PlaybookRuns:
    """The console's one playbook run, and the stopped one ``R`` would resume."""

    def __init__(self, app: PoolApp, *, timing: Timing | None, resume: ResumePoint | None):
        self.app = app
        self.timing = timing
        self.offered = resume  # an interrupted run from the journal: offered once, at start-up
        self.resumable: ResumePoint | None = None  # a run of this session that stopped: R resumes it
        self.worker: Worker | None = None
        self.runner: PlaybookRunner | None = None

    @property
    def running(self) -> bool:
        return self.worker is not None

    @property
    def progress(self) -> PlaybookProgress | None:
        return self.app.playbook_panel.progress

    def start(self, playbook_id: str, pool_name: str | None = None, resume: ResumePoint | None = None,
              target: str | None = None) -> bool:
        """Run a playbook on a pool (the worst one by default) as a worker; False if it cannot start.

        ``target`` is the host the playbook acts on (the promotion candidate, the new
        master, ...); by default the engine takes the diagnosis' choice."""
        app = self.app
        if app.check_action("start_playbook", ()) is not True:
            app.notify(app.unavailable_reason("start_playbook"), title="playbook", severity="warning", markup=False)
            return False
        try:
            playbook = load_playbook(playbook_id)
        except PlaybookError as exc:
            app.notify(str(exc), title="playbook", severity="error", markup=False)
            return False
        if target is not None and pool_name is None:
            pool_name = next((p.name for p in app.source.pools if target in {h.name for h in p.hosts}), None)
        pool = self._config_pool(pool_name)
        if pool is None:
            app.notify(f"no pool named {pool_name!r} in this inventory", title="playbook", severity="error", markup=False)
            return False
        # The runner verifies every step on fresh probes: a paused watcher would starve it.
        app.paused = False
        if self.resumable is not None and resume is None:
            self.abandon(self.resumable, f"the operator started playbook {playbook.id} afresh")
        self.resumable = None
        app.playbook_panel.progress = PlaybookProgress(playbook, pool.name)
        app.playbook_panel.redraw()
        aimed = f" (target {target})" if target else ""
        app.log_pane.append(None, "info", f"playbook {playbook.id} on pool {pool.name}{aimed}: {playbook.title}",
                            at=app.clock())
        self.worker = app.run_worker(self._run(playbook, pool, resume, target), group="playbook",
                                     exit_on_error=False, description="playbook")
        app.after_run_change()
        return True

    def cancel(self) -> bool:
        if self.worker is None:
            return False
        self.worker.cancel()
        return True

    def _config_pool(self, name: str | None):
        app = self.app
        if name is None:
            worst = app.diagnosis.worst if app.diagnosis else None
            name = worst.name if worst else None
        return next((p for p in app.source.pools if name is None or p.name == name), None)

    def _timing(self) -> Timing:
        if self.timing is not None:
            return self.timing
        source = self.app.source
        return Timing(probe=probe_budget(source.timeout, source.inventory.ssh.connect_timeout))

    async def _run(self, playbook, pool, resume: ResumePoint | None, target: str | None) -> None:
        app = self.app
        runner = PlaybookRunner(pool=pool, connections=app.source, journal=app.journal, operator=app.operator,
                                timing=self._timing(), read_only=app.read_only, on_event=self._event,
                                secrets=app.operator)
        runner.attach(SourceWatch(app.source))
        self.runner = runner
        outcome = "cancelled"
        try:
            finished = await runner.run(playbook, target=target, resume=resume,
                                        observe_timeout=app.source.timeout + OBSERVE_SLACK)
            outcome = finished.outcome
        except asyncio.CancelledError:
            self._cancelled()
            raise
        finally:
            self.runner = None
            self.worker = None
            await runner.close()
            if app.ui_alive():
                app.after_run_change()
                app.post_message(PlaybookEnded(playbook.id, outcome))

    def _event(self, event: object) -> None:
        """The runner's events: the panel shows the run, the log its commands and their output."""
        app = self.app
        progress = self.progress
        if progress is None or not app.ui_alive():
            return
        applied = progress.apply(event, self.runner.engine if self.runner else None)
        at = app.clock()
        for line in applied.lines:
            app.log_pane.append(line.host, line.stream, line.text, at=at if line.stamped else None)
        if applied.finished is not None:
            finished = applied.finished
            # Brief: the panel holds the reason and the advice, and on a small terminal a toast
            # would sit on top of them.
            where = f" at step {finished.index + 1}" if not finished.ok and finished.index is not None else ""
            app.notify(f"{finished.outcome}{where}: the playbook panel says why and what next",
                       title=f"playbook {progress.playbook.id}", severity="information" if finished.ok else "warning",
                       timeout=PLAYBOOK_TOAST, markup=False)
        if applied.redraw:
            app.playbook_panel.redraw()

    def _cancelled(self) -> None:
        app = self.app
        progress = self.progress
        if progress is None or not progress.cancelled():
            return
        app.journal.write(PlaybookEnd(
            run=progress.run, outcome="stopped", reason=CANCELLED,
            advice=f"Press R (or run `poolterm playbook run {progress.playbook.id}`) to resume.",
            index=progress.current))
        app.log_pane.append(None, "info", f"playbook {progress.playbook.id}: cancelled", at=app.clock())
        if app.ui_alive():
            app.playbook_panel.redraw()

    def ended(self) -> None:
        """The run's worker is over: remember it for R if the journal says it can be resumed."""
        app = self.app
        self.resumable = self._stopped_run()
        progress = self.progress
        if self.resumable is not None and progress is not None and app.ui_alive():
            progress.then = "In this console: R offers to resume it where it stopped."
            app.playbook_panel.redraw()

    def _stopped_run(self) -> ResumePoint | None:
        """The run that just ended, if the journal says it can be resumed."""
        app = self.app
        progress = self.progress
        if app.journal is None or progress is None or not progress.run or not app.ui_alive():
            return None
        try:
            point = interrupted_run(read_journal(app.journal.path).records, app.journal.path)
        except JournalError as exc:
            app.notify(f"the stopped playbook cannot be resumed from here: {exc}", title="resume",
                       severity="error", markup=False)
            return None
        return point if point is not None and point.run == progress.run else None

    def abandon(self, point: ResumePoint, reason: str) -> None:
        if self.app.journal is not None:
            self.app.journal.write(PlaybookEnd(run=point.run, outcome="abandoned", reason=reason, advice="",
                                               index=None))

    def offer_resume(self, point: ResumePoint) -> None:
        app = self.app
        self.offered = self.resumable = None
        try:
            playbook = load_playbook(point.playbook)
        except PlaybookError as exc:
            app.notify(f"the journal's unfinished run cannot be resumed: {exc}", title="resume", severity="error", markup=False)
            return
        body = describe_resume(point, playbook).dialog_body
        app.notify(f"unfinished playbook {point.playbook} in the journal", title="resume", timeout=10, markup=False)

        def answer(resume: bool | None) -> None:
            if resume:
                self.start(point.playbook, point.pool, resume=point)
            else:
                self.abandon(point, "the operator started afresh")

        app.push_screen(Confirm("Resume the unfinished playbook?", body=body, id="resume"), answer)
