"""A journal's records turned back into the runner's events, for a follower's console (issue #15).

The driver's console shows a run through the events its runner emits; the journal keeps each of
them as a record. A follower reads the records and replays them as the same events, so its
playbook panel and log are drawn by the very code that draws the driver's: the same steps, the
same marks, the same lines. What the journal does not keep (a wait's countdown) the follower
does not show.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from poolterm.actions import records as rec
from poolterm.actions.gate import CommandEnded, CommandOutput, CommandStarted, GuardRefused, Overridden
from poolterm.diagnosis.guards import Refuse
from poolterm.errors import PlaybookError
from poolterm.playbooks.engine import Finished, Notice, expand
from poolterm.playbooks.load import load_playbook
from poolterm.playbooks.runner import PlaybookFinished, PlaybookStarted, StepEvent

_STEP_KINDS = {"started": "step-started", "skipped": "step-skipped", "done": "step-done",
               "resumed": "step-resumed", "fact": "fact"}


@dataclass
class Replay:
    """Feeds on records in journal order; :meth:`events` says what each one was on the driver's screen."""

    _runs: dict[str, tuple[str, int, dict]] = field(default_factory=dict)  # run -> (playbook id, steps, bindings)
    _commands: dict[str, tuple[str, str]] = field(default_factory=dict)  # command id -> (host, command)

    def events(self, record: rec.Record) -> list[object]:
        if isinstance(record, rec.PlaybookStart):
            return self._started(record.run, record.playbook, record.pool, record.bindings or {}, None)
        if isinstance(record, rec.PlaybookResume):
            return self._resumed(record)
        if isinstance(record, rec.StepStatus) and record.status in _STEP_KINDS and record.run in self._runs:
            notice = Notice(_STEP_KINDS[record.status], record.index or 0, record.step or "", record.title or "",
                            record.detail or "", record.host)
            return [StepEvent(notice, self._runs[record.run][1])]
        if isinstance(record, rec.CommandStart) and record.id:
            self._commands[record.id] = (record.host, record.command)
            return [CommandStarted(record.id, record.host, "", record.command, bool(record.changes_pool))]
        if isinstance(record, rec.OutputLine) and record.id in self._commands:
            host, _ = self._commands[record.id]
            return [CommandOutput(record.id, host, record.stream or "stdout", record.line or "")]
        if isinstance(record, rec.CommandEnd) and record.id in self._commands:
            host, command = self._commands.pop(record.id)
            return [CommandEnded(record.id, host, command, record.exit_status, record.seconds or 0.0,
                                 record.error or "", bool(record.deadline_hit))]
        if isinstance(record, rec.Refusal):
            refusal = Refuse(record.rule or "", record.reason or "", record.instead or "", record.protects or "")
            return [GuardRefused(refusal, record.host, record.command)]
        if isinstance(record, rec.Override):
            return [Overridden(record.host, record.reason or "", bool(record.accepted))]
        if isinstance(record, rec.PlaybookEnd) and record.run in self._runs:
            playbook = self._runs[record.run][0]
            finished = Finished(record.outcome or "stopped", record.reason or "", record.advice or "", record.index)
            return [PlaybookFinished(record.run, finished, playbook)]
        return []

    def _started(self, run: str, playbook_id: str, pool: str, bindings: dict, at: int | None) -> list[object]:
        try:
            playbook = load_playbook(playbook_id)
        except PlaybookError:
            return []  # a playbook this poolterm does not ship: its commands still show, not its panel
        bound = {k: tuple(v) if isinstance(v, list) else v for k, v in bindings.items()}
        playbook, bound = expand(playbook, bound)
        self._runs[run] = (playbook_id, len(playbook.steps), bindings)
        return [PlaybookStarted(run, playbook, pool, bound, at)]

    def _resumed(self, record: rec.PlaybookResume) -> list[object]:
        """A run resumed in this journal: its start was read before (a resume names no bindings)."""
        known = self._runs.get(record.run)
        if known is None:
            return []
        playbook_id, _, bindings = known
        return self._started(record.run, playbook_id, record.pool, bindings, record.index)
