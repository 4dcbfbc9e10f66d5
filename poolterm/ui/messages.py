"""Messages the console posts about what happened; tests assert on them."""

from __future__ import annotations

from textual.message import Message

from poolterm.model import Diagnosis, Verdict


class Observed(Message):
    """Probe results arrived for these hosts (coalesced: one message per batch)."""

    def __init__(self) -> None:
        super().__init__()
        self.hosts: list[str] = []


class DiagnosisUpdated(Message):
    """A new diagnosis reached the banner and the grid."""

    def __init__(self, diagnosis: Diagnosis) -> None:
        super().__init__()
        self.diagnosis = diagnosis


class VerdictChanged(Message):
    def __init__(self, old: Verdict | None, new: Verdict, summary: str) -> None:
        super().__init__()
        self.old, self.new, self.summary = old, new, summary


class CommandStarted(Message):
    def __init__(self, host: str, command: str, remote: str) -> None:
        super().__init__()
        self.host = host
        self.command = command  # as shown to the operator
        self.remote = remote  # as sent to the host


class CommandFinished(Message):
    def __init__(self, host: str, command: str, outcome: str, exit_status: int | None = None) -> None:
        super().__init__()
        self.host, self.command, self.outcome, self.exit_status = host, command, outcome, exit_status


class CommandRefused(Message):
    def __init__(self, command: str, reason: str) -> None:
        super().__init__()
        self.command, self.reason = command, reason


class FaultInjected(Message):
    def __init__(self, action: str, host: str, error: str = "") -> None:
        super().__init__()
        self.action, self.host, self.error = action, host, error


class Saved(Message):
    def __init__(self, log: str, screenshot: str) -> None:
        super().__init__()
        self.log, self.screenshot = log, screenshot


class PlaybookEnded(Message):
    """A playbook run from the console ended: ``outcome`` is the engine's, or ``cancelled``."""

    def __init__(self, playbook: str, outcome: str) -> None:
        super().__init__()
        self.playbook, self.outcome = playbook, outcome


class DrillEnded(Message):
    """A drill ended (recovered, or the trainee quit) with this score."""

    def __init__(self, score) -> None:
        super().__init__()
        self.score = score  # poolterm.diagnosis.drill.Score
