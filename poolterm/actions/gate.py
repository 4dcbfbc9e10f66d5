"""The one path for a command sent to a host: guards, confirmation, journal, run.

Whether a playbook step sends it or an operator types it, a command meets the same
policy here: the guards decide, the operator confirms (``--yes`` confirms for them)
or, on a refusal, may override by typing the protected host's name and a reason;
then the command runs under ``timeout -k`` and its output streams to the journal
line by line. What happens is told as events (below) to whichever front end drew it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Callable, Mapping, Protocol, Sequence

from poolterm.actions.journal import Journal
from poolterm.actions.records import CommandEnd, CommandStart, Confirmation, OutputLine, Override, Refusal
from poolterm.diagnosis import guards
from poolterm.model import CommandResult, Diagnosis
from poolterm.transport.ssh import Connections, HostUnavailable

#: Seconds above a command's own `timeout -k` before the SSH channel is torn down.
COMMAND_SLACK = 5.0
#: Lines of output kept for the engine's stop reason.
OUTPUT_KEEP = 20
#: Output lines of one command written to the journal; the rest are counted in one last line.
#: The log pane shows them all, and the transport already stops a command past 8 MiB.
JOURNAL_LINES = 5000


# --------------------------------------------------------------------------- events


@dataclass(frozen=True)
class CommandStarted:
    id: str
    host: str
    address: str
    command: str
    changes_pool: bool


@dataclass(frozen=True)
class CommandOutput:
    id: str
    host: str
    stream: str
    line: str


@dataclass(frozen=True)
class CommandEnded:
    id: str
    host: str
    command: str
    exit_status: int | None
    seconds: float
    error: str = ""
    deadline_hit: bool = False


@dataclass(frozen=True)
class GuardRefused:
    refusal: guards.Refuse
    host: str
    command: str


@dataclass(frozen=True)
class Overridden:
    host: str
    reason: str
    accepted: bool


# --------------------------------------------------------------------------- asking the operator


@dataclass(frozen=True)
class ConfirmRequest:
    host: str
    command: str
    text: str  # the guard's confirmation text: exact command, target, effect


@dataclass(frozen=True)
class OverrideRequest:
    refusal: guards.Refuse
    host: str
    command: str


class Approver(Protocol):
    """Where a person confirms a command, or overrides a refusal."""

    async def confirm(self, request: ConfirmRequest) -> bool: ...

    async def override(self, request: OverrideRequest) -> tuple[str, str] | None: ...


# --------------------------------------------------------------------------- the gate


@dataclass(frozen=True)
class GateResult:
    sent: bool
    result: CommandResult | None = None
    refusal: guards.Refuse | None = None
    declined: bool = False


class CommandGate:
    """Guards, confirmation, journal, run: every pool-changing command goes through here."""

    def __init__(self, connections: Connections, journal: Journal, operator: Approver, *, read_only: bool,
                 assume_yes: bool, addresses: Mapping[str, str] | None = None,
                 emit: Callable[[object], None] = lambda event: None):
        self.connections = connections
        self.addresses = dict(addresses or {})
        self.journal = journal
        self.operator = operator
        self.read_only = read_only
        self.assume_yes = assume_yes
        self.emit = emit

    async def run(self, host: str, command: str, remote: str, *, argv: Sequence[str], timeout: float,
                  diagnosis: Callable[[], Diagnosis], facts: Callable[[], guards.Facts],
                  context: dict | None = None, sent: str | None = None) -> GateResult:
        """Decide, ask, run. ``diagnosis`` and ``facts`` are read again right before sending.

        ``sent``, when given, is what actually goes to the host: ``remote`` with secrets
        filled in. Everything shown, guarded and journaled is ``command``/``remote``.
        ``context`` is journaled with each of the command's records: its ``run``, ``step``,
        ``index`` and ``query`` (a playbook's), or its ``source`` (``console``); see
        :data:`poolterm.actions.records.COMMAND_CONTEXT`."""
        context = context or {}
        decision = guards.decide(argv, host, diagnosis(), read_only=self.read_only, facts=facts())
        overridden = False
        if isinstance(decision, guards.Refuse):
            if not await self._overridden(decision, host, command, context):
                return GateResult(False, refusal=decision)
            overridden = True
        elif isinstance(decision, guards.Confirm):
            if not await self._confirmed(decision, host, command, context):
                return GateResult(False, declined=True)
        if not overridden:
            # The pool may have changed while the operator read the question.
            again = guards.decide(argv, host, diagnosis(), read_only=self.read_only, facts=facts())
            if isinstance(again, guards.Refuse) and not await self._overridden(again, host, command, context):
                return GateResult(False, refusal=again)
        return GateResult(True, await self.execute(host, command, remote, timeout=timeout, context=context,
                                                    changes_pool=not isinstance(decision, guards.Allow), sent=sent))

    async def _confirmed(self, decision: guards.Confirm, host: str, command: str, context: dict) -> bool:
        if self.assume_yes:
            answer, by = True, "--yes"
        else:
            answer, by = await self.operator.confirm(ConfirmRequest(host, command, decision.text)), "operator"
        self.journal.write(Confirmation(host=host, command=command, text=decision.text, answer=answer, by=by,
                                        operator=self.journal.operator, **context))
        return answer

    async def _overridden(self, refusal: guards.Refuse, host: str, command: str, context: dict) -> bool:
        self.journal.write(Refusal(host=host, command=command, rule=refusal.rule, reason=refusal.reason,
                                   instead=refusal.instead, protects=refusal.host, operator=self.journal.operator,
                                   **context))
        self.emit(GuardRefused(refusal, host, command))
        if not refusal.overridable:
            return False
        answer = await self.operator.override(OverrideRequest(refusal, host, command))
        if answer is None:
            return False
        typed, reason = answer
        accepted = guards.accepts_override(refusal, typed, reason)
        self.journal.write(Override(host=host, command=command, rule=refusal.rule, typed=typed, reason=reason,
                                    accepted=accepted, operator=self.journal.operator, **context))
        self.emit(Overridden(refusal.host, reason, accepted))
        return accepted

    async def execute(self, host: str, command: str, remote: str, *, timeout: float, context: dict,
                      changes_pool: bool, sent: str | None = None) -> CommandResult:
        """Run an already-allowed command, streaming its output to the journal and the events."""
        loop = asyncio.get_running_loop()
        command_id = self.journal.command_id()
        address = self.addresses.get(host, "")
        self.journal.write(CommandStart(id=command_id, host=host, command=command, remote=remote,
                                        changes_pool=changes_pool, operator=self.journal.operator, **context))
        self.emit(CommandStarted(command_id, host, address, command, changes_pool))
        started = loop.time()
        output: list[str] = []

        journaled = 0

        def on_line(stream: str, line: str) -> None:
            nonlocal journaled
            output.append(line)
            del output[:-OUTPUT_KEEP]
            journaled += 1
            if journaled <= JOURNAL_LINES:
                self.journal.write(OutputLine(id=command_id, stream=stream, line=line))
            self.emit(CommandOutput(command_id, host, stream, line))

        try:
            ran = await self.connections.run(host, sent or remote, deadline=timeout + COMMAND_SLACK, on_line=on_line)
            cut = "output cut: the command printed more than poolterm reads and was stopped" if ran.output_cut else ""
            result = CommandResult(ran.exit_status, tuple(output), error=cut, deadline_hit=ran.deadline_hit)
        except HostUnavailable as exc:
            result = CommandResult(None, tuple(output), error=f"{exc.reach.value}: {exc.detail}")
        if journaled > JOURNAL_LINES:
            self.journal.write(OutputLine(id=command_id, stream="stderr",
                                          line=f"[poolterm: {journaled - JOURNAL_LINES} more lines not journaled]"))
        seconds = round(loop.time() - started, 3)
        self.journal.write(CommandEnd(id=command_id, host=host, exit_status=result.exit_status,
                                      deadline_hit=result.deadline_hit, error=result.error, seconds=seconds,
                                      **context))
        self.emit(CommandEnded(command_id, host, command, result.exit_status, seconds, result.error,
                               result.deadline_hit))
        return result
