"""Operator commands in the console: one at a time, through the command gate, into the log.

A curated query, a line typed at the xe prompt: each goes through
:class:`poolterm.actions.gate.CommandGate` (guards, a confirmation or an override
dialog, the journal), runs as a worker, streams its output into the log pane and
can be cancelled with ``x``. The app wires this controller; it owns no widget.
"""

from __future__ import annotations

import asyncio
import shlex
from typing import TYPE_CHECKING

from textual.worker import Worker

from poolterm.actions.commands import COMMAND_TIMEOUT, parse_prompt
from poolterm.actions.gate import COMMAND_SLACK, CommandGate, CommandOutput, CommandStarted, GuardRefused, Overridden
from poolterm.actions.records import CommandEnd, Refusal
from poolterm.diagnosis import guards
from poolterm.model import CommandResult
from poolterm.playbooks.conditions import known_uuids
from poolterm.ui.messages import CommandFinished, CommandRefused
from poolterm.ui.messages import CommandStarted as CommandStartedMessage

if TYPE_CHECKING:
    from poolterm.ui.app import PoolApp


class CommandRuns:
    """The console's one running operator command, if any."""

    def __init__(self, app: PoolApp):
        self.app = app
        self.worker: Worker | None = None
        self.label = ""  # "COMMAND on HOST" while it runs

    @property
    def running(self) -> bool:
        return self.worker is not None

    def run_xe(self, host: str, line: str) -> bool:
        """An operator's xe line on ``host``, through the guards; refused visibly if it cannot run."""
        app = self.app
        if app.check_action("run_xe", (line,)) is not True:
            self.refuse(host, line, app.xe_refusal(line) or "refused")
            return False
        request = parse_prompt(line)
        return self.start(host, request.shown, request.remote(), argv=request.argv)

    def refuse(self, host: str, command: str, reason: str) -> None:
        app = self.app
        app.log_pane.append(host, "stderr", reason, at=app.clock())
        app.notify(reason, title="refused", severity="error", timeout=12, markup=False)
        if app.journal is not None:
            app.journal.write(Refusal(host=host, command=command, rule="console", reason=reason,
                                      operator=app.journal.operator, source="console"))
        app.post_message(CommandRefused(command, reason))

    def start(self, host: str, shown: str, remote: str, *, argv: tuple[str, ...] | None = None) -> bool:
        """Send ``shown`` (as ``remote``) to ``host`` through the command gate, in a worker."""
        app = self.app
        if self.worker is not None:
            app.notify(f"{self.label} is still running; x cancels it", title="busy", severity="warning", markup=False)
            return False
        if app.journal is None:
            app.notify(app.unavailable_reason("xe_prompt"), title="not available", severity="warning", markup=False)
            return False
        self.label = f"{shown} on {host}"
        self.worker = app.run_worker(self._run(host, shown, remote, argv or tuple(shlex.split(shown))),
                                     group="command", exit_on_error=False, description="operator command")
        app.refresh_state()
        return True

    def cancel(self) -> bool:
        if self.worker is None:
            return False
        self.worker.cancel()
        return True

    def gate(self, emit) -> CommandGate:
        app = self.app
        addresses = {h.name: h.address for p in app.source.pools for h in p.hosts}
        return CommandGate(app.source, app.journal, app.operator, read_only=app.read_only, assume_yes=False,
                           addresses=addresses, emit=emit)

    def facts(self) -> guards.Facts:
        observations = self.app.source.observations
        return guards.Facts(uuids=known_uuids(observations), databases=guards.databases(observations))

    async def _run(self, host: str, shown: str, remote: str, argv: tuple[str, ...]) -> None:
        app = self.app
        log = app.log_pane.append
        sent: dict[str, str] = {}  # the journal's id of the command once it is sent

        def emit(event: object) -> None:
            if isinstance(event, CommandStarted):
                sent["id"] = event.id
                log(host, "cmd", shown, at=app.clock())
                app.post_message(CommandStartedMessage(host, shown, remote))
            elif isinstance(event, CommandOutput):
                log(host, event.stream, event.line)
            elif isinstance(event, GuardRefused):
                log(host, "stderr", f"REFUSED {shown}: {event.refusal.text}", at=app.clock())
            elif isinstance(event, Overridden):
                word = "accepted" if event.accepted else "not accepted (it needs the exact host name and a reason)"
                log(host, "info", f"override {word}", at=app.clock())

        outcome, status = "", None
        try:
            gated = await self.gate(emit).run(host, shown, remote, argv=argv, timeout=COMMAND_TIMEOUT,
                                              diagnosis=app.source.diagnosis, facts=self.facts,
                                              context={"source": "console"})
            if gated.refusal is not None:
                outcome = f"refused: {gated.refusal.reason} Instead: {gated.refusal.instead}"
                app.notify(outcome, title="refused", severity="error", timeout=15, markup=False)
                app.post_message(CommandRefused(shown, outcome))
            elif gated.declined:
                outcome = "not run: declined by the operator"
            else:
                outcome, status = describe(gated.result), gated.result.exit_status
        except asyncio.CancelledError:
            outcome = "cancelled by the operator"
            if "id" in sent:
                app.journal.write(CommandEnd(id=sent["id"], host=host, exit_status=None, deadline_hit=False,
                                             error=outcome, seconds=None, source="console"))
            raise
        finally:
            self.worker = None
            if app.ui_alive():
                log(host, "info", f"[{outcome}] {shown}", at=app.clock())
                if not outcome.startswith("refused"):
                    app.post_message(CommandFinished(host, shown, outcome, status))
                app.refresh_state()


def describe(result: CommandResult) -> str:
    """How a command ended, for the log line that closes it."""
    if result.error:
        return f"failed: {result.error}"  # it may have run in part: a connection lost mid-way, output cut
    if result.deadline_hit:
        return f"no answer within {COMMAND_TIMEOUT + COMMAND_SLACK:g} s; the channel was closed"
    if result.exit_status in (124, 137):
        return (f"timed out after {COMMAND_TIMEOUT:g} s (a forwarded xe waits for a master that does not answer, "
                "or xapi is hung)")
    if result.exit_status is None:
        return "ended without an exit status (killed by a signal)"
    return f"exit {result.exit_status}"
