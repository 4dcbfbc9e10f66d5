"""`poolterm playbook list | show ID | run ID`: the playbooks on a plain terminal.

``run`` drives the same engine and runner as the console: every step is printed
with its why, every command with its exact text and target, confirmations are
prompts (``--yes`` answers them, but never a guard's refusal), and manual steps
wait for the operator to type ``done``. If a journal holds a playbook run that
never ended (poolterm was killed mid-way), ``run`` shows it, re-observes the
pool and offers to resume it from the right step.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
import textwrap
from pathlib import Path

from poolterm.actions.driver_lock import take_seat
from poolterm.actions.gate import ConfirmRequest, OverrideRequest
from poolterm.actions.journal import RETRY_INTERVAL, Journal, JournalError, ResumePoint
from poolterm.actions.records import PlaybookEnd
from poolterm.cli.journal_notes import close_journal, journal_changed
from poolterm.cli.options import add_inventory_option, load_pools, shared_default
from poolterm.errors import UsageError
from poolterm.playbooks import IDS, Playbook, PlaybookError, load_all, load_playbook
from poolterm.playbooks.conditions import describe
from poolterm.playbooks.engine import AskOperator, Timing
from poolterm.playbooks.narrate import Line, narrate
from poolterm.playbooks.resume import describe_resume
from poolterm.playbooks.runner import PlaybookFinished, PlaybookRunner, probe_budget
from poolterm.probing.watch import Watcher
from poolterm.transport.ssh import Connections, raise_nofile_limit

WIDTH = 78
#: Exit statuses of `playbook run`.
EXIT_DONE, EXIT_STOPPED = 0, 1
#: Where `playbook run` takes the master's root password from without asking (forgotten-host's pool-join).
PASSWORD_VARIABLE = "POOLTERM_JOIN_PASSWORD"


def register(sub) -> None:
    parser = sub.add_parser(
        "playbook",
        help="recovery playbooks: list, show, run",
        description="Step-by-step recovery playbooks with guard rails, verification and a journal.",
    )
    actions = parser.add_subparsers(dest="playbook_command", metavar="ACTION")
    listing = actions.add_parser("list", help="list the playbooks")
    listing.set_defaults(func=run_list)
    show = actions.add_parser("show", help="print a playbook's steps, commands and checks")
    show.add_argument("id", metavar="ID", help=f"one of: {', '.join(IDS)}")
    show.set_defaults(func=run_show)
    run = actions.add_parser(
        "run", help="run a playbook on the pool, step by step",
        description="Run a playbook on the pool of the inventory. Every command that changes the pool is "
                    "checked by the guards, shown and confirmed; every step is verified on the hosts; "
                    "everything is journaled.")
    run.add_argument("id", metavar="ID", help=f"one of: {', '.join(IDS)}")
    add_inventory_option(run)
    run.add_argument("--pool", metavar="NAME", help="the pool to work on (needed when the inventory has several)")
    run.add_argument("--target", metavar="HOST",
                     help="the host the playbook acts on (master-lost: the host to promote; split-brain: "
                          "the true master; planned-handover: the new master; forgotten-host: the host)")
    run.add_argument("--yes", action="store_true",
                     help="answer yes to ordinary confirmations (never overrides a guard's refusal)")
    run.add_argument("--read-only", action="store_true", default=shared_default(True, False),
                     help="refuse every command that would change the pool")
    run.add_argument("--password-file", metavar="PATH",
                     help="read the master's root password, when a step needs it (pool-join), from the first line "
                          f"of PATH instead of asking; ${PASSWORD_VARIABLE} does the same. It is never shown, "
                          "journaled or logged")
    run.add_argument("--journal", metavar="PATH", default=shared_default(True),
                     help="the incident journal to append to (default: a new one in the user state directory, "
                          "or the one holding an interrupted run)")
    timing = run.add_argument_group("timing (defaults are real hosts'; labs and the simulator are faster)")
    timing.add_argument("--timeout", type=_seconds, metavar="SECONDS",
                        help="how long a remote xe may take before it counts as hung (default: probe.timeout)")
    timing.add_argument("--fuse", type=_seconds, default=Timing.fuse, metavar="SECONDS",
                        help=f"xapi's delay before a role change restarts it (default {Timing.fuse:g})")
    timing.add_argument("--xapi-start", type=_seconds, default=Timing.xapi_start, metavar="SECONDS",
                        help=f"how long xapi takes to start (default {Timing.xapi_start:g})")
    timing.add_argument("--boot", type=_seconds, default=Timing.boot, metavar="SECONDS",
                        help=f"how long a host takes to boot (default {Timing.boot:g})")
    run.set_defaults(func=run_playbook)
    parser.set_defaults(func=lambda args: _usage(parser))


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text}")
    return value


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _load(playbook_id: str) -> Playbook:
    try:
        return load_playbook(playbook_id)
    except PlaybookError as exc:
        raise UsageError(str(exc)) from None


# --------------------------------------------------------------------------- list and show


def run_list(args: argparse.Namespace) -> int:
    for playbook in load_all():
        verdicts = ", ".join(v.title for v in playbook.for_verdicts)
        print(f"{playbook.id:<18} {playbook.title}  [{verdicts}]")
    return 0


def run_show(args: argparse.Namespace) -> int:
    sys.stdout.write(render_playbook(_load(args.id), Timing()))
    return 0


def render_playbook(playbook: Playbook, timing: Timing) -> str:
    placeholders = {name: f"<{name}>" for name, _ in playbook.bindings}
    lines = [f"{playbook.id}: {playbook.title}", ""]
    lines += _wrap(playbook.summary, "")
    lines += ["", f"for: {', '.join(v.title for v in playbook.for_verdicts)}",
              "targets: " + ", ".join(f"<{name}> = {source.replace('-', ' ')}" for name, source in playbook.bindings)]
    if playbook.target:
        lines.append(f"--target HOST chooses <{playbook.target}>")
    for number, step in enumerate(playbook.steps, 1):
        lines += ["", f"{number}. {_placeholders(step.title)}"]
        if step.when is not None:
            lines.append(f"   only when: {describe(step.when, placeholders)}")
        lines += _wrap(_placeholders(step.why), "   why: ")
        if step.run is not None:
            lines.append(f"   run on <{step.run.host}>: {step.run.template}  (timeout {step.run.timeout:g} s)")
            lines.append(f"   changes the pool: {'yes' if step.changes_pool else 'no'}")
        if step.manual is not None:
            lines += _wrap(_placeholders(step.manual), "   you do: ")
        if step.expect is not None:
            lines.append(f"   then expects: {describe(step.expect, placeholders)} "
                         f"(waits up to {timing.budget(step.wait):g} s: {step.wait})")
        if step.on_failure:
            lines += _wrap(_placeholders(step.on_failure), "   if not: ")
    return "\n".join(lines) + "\n"


def _placeholders(text: str) -> str:
    return text.replace("{", "<").replace("}", ">")


def _wrap(text: str, prefix: str) -> list[str]:
    # Commands and host names stay whole: an operator copies them from the screen.
    return textwrap.wrap(text, WIDTH, initial_indent=prefix, subsequent_indent=" " * len(prefix),
                         break_on_hyphens=False, break_long_words=False) or [prefix]


# --------------------------------------------------------------------------- run


def run_playbook(args: argparse.Namespace) -> int:
    playbook = _load(args.id)
    inventory, pools = load_pools(args)
    if len(pools) > 1:
        raise UsageError(f"the inventory has {len(pools)} pools; choose one with --pool NAME "
                         f"({', '.join(p.name for p in pools)})")
    pool = pools[0]
    if args.target is not None and args.target not in {h.name for h in pool.hosts}:
        raise UsageError(f"--target {args.target}: no such host in pool {pool.name}")
    secrets = TerminalSecrets(_preset_password(args))
    timeout = args.timeout if args.timeout is not None else inventory.probe.timeout
    timing = Timing(fuse=args.fuse, xapi_start=args.xapi_start, boot=args.boot,
                    probe=probe_budget(timeout, inventory.ssh.connect_timeout))
    try:
        seat = take_seat(args.journal, sys.argv, inventory=inventory.path)
    except JournalError as exc:
        raise UsageError(str(exc)) from None
    if not seat.driving:
        raise UsageError(f"{seat.driver.describe()} drives the incident in {seat.path}: one driver at a time. "
                         f"Watch it with `poolterm follow {seat.path}`, or take the wheel there (T)")
    journal, point = seat.journal, seat.point
    journal.on_change = journal_changed
    try:
        return asyncio.run(_run(args, inventory, pool, playbook, timing, timeout, journal, point, secrets))
    finally:
        close_journal(journal)
        seat.lock.release()


async def _retry_journal(journal: Journal) -> None:
    """Write what the journal holds in memory every few seconds, even while nothing else is written."""
    while True:
        await asyncio.sleep(RETRY_INTERVAL)
        if journal.failing is not None:
            journal.retry()


def _preset_password(args: argparse.Namespace) -> str | None:
    """The password given without a prompt: --password-file first, then the environment."""

    if args.password_file:
        path = Path(args.password_file).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--password-file {path}: cannot read it: "
                             f"{getattr(exc, 'strerror', None) or 'not UTF-8 text'}") from None
        password = text.split("\n", 1)[0].removesuffix("\r")
        if not password:
            raise UsageError(f"--password-file {path}: its first line is empty")
        return password
    return os.environ.get(PASSWORD_VARIABLE) or None


async def _run(args, inventory, pool, playbook: Playbook, timing: Timing, timeout: float, journal: Journal,
               point: ResumePoint | None, secrets: "TerminalSecrets") -> int:
    raise_nofile_limit()
    out = Printer(journal)
    operator = TerminalOperator()
    connections = Connections(pool.hosts, inventory.ssh)
    runner = PlaybookRunner(pool=pool, connections=connections, journal=journal, operator=operator,
                            timing=timing, read_only=args.read_only, assume_yes=args.yes, on_event=out.event,
                            secrets=secrets)
    watcher = Watcher(pool.hosts, connections, interval=inventory.probe.interval, timeout=timeout,
                      publish=runner.observed)
    runner.attach(watcher)
    watcher.start()
    retrying = asyncio.create_task(_retry_journal(journal))
    try:
        out.line(f"poolterm playbook {playbook.id}: observing pool {pool.name} "
                 f"({len(pool.hosts)} hosts; operator {journal.operator}; journal {journal.path})")
        await runner.observe(timeout + inventory.ssh.connect_timeout + 10.0)
        resume = await _offer_resume(point, playbook, pool.name, operator, out, args.yes, journal)
        if resume is False:
            return EXIT_STOPPED
        finished = await runner.run(playbook, target=args.target, resume=resume or None)
        return EXIT_DONE if finished.ok else EXIT_STOPPED
    finally:
        retrying.cancel()
        await runner.close()
        await watcher.stop()
        await connections.close()


async def _offer_resume(point: ResumePoint | None, playbook: Playbook, pool: str, operator: "TerminalOperator",
                        out: "Printer", assume_yes: bool, journal: Journal) -> ResumePoint | bool | None:
    """The interrupted run to resume; None to start afresh; False to stop here."""
    if point is None:
        return None
    offer = describe_resume(point, playbook)
    for line in offer.terminal_head:
        out.line(line)
    if point.playbook != playbook.id or point.pool != pool:
        out.line(f"Finish or abandon it first: `poolterm playbook run {point.playbook}` resumes it.")
        if assume_yes or not await operator.yes_no(f"Abandon it and start {playbook.id}? [y/N] "):
            return False
        _abandon(point, journal)
        return None
    out.line(offer.terminal_resume)
    if assume_yes or await operator.yes_no("Resume it? [Y/n] ", default=True):
        return point
    _abandon(point, journal)
    return None


def _abandon(point: ResumePoint, journal: Journal) -> None:
    journal.write(PlaybookEnd(run=point.run, outcome="abandoned", reason="the operator started afresh", advice="",
                              index=None))


# --------------------------------------------------------------------------- the terminal as operator


class TerminalOperator:
    """Prompts on stdin/stdout. End of input answers no, stop, and no override.

    ``--yes`` is applied by the command gate, so :meth:`confirm` is only asked without it.
    """

    async def ask(self, prompt: str) -> str | None:
        sys.stdout.write(prompt)
        sys.stdout.flush()
        line = await asyncio.to_thread(sys.stdin.readline)
        return line.strip() if line else None

    async def yes_no(self, prompt: str, default: bool = False) -> bool:
        answer = await self.ask(prompt)
        if answer is None:
            sys.stdout.write("\n")
            return False
        if not answer:
            return default
        return answer.lower() in ("y", "yes")

    async def confirm(self, request: ConfirmRequest) -> bool:
        _print_wrapped(request.text, "  confirm: ")
        return await self.yes_no("  Run it? [y/N] ")

    async def override(self, request: OverrideRequest) -> tuple[str, str] | None:
        host = request.refusal.host
        name = await self.ask(f"  To override anyway, type the host's name ({host}) and a reason; "
                              "press Enter to keep the refusal: ")
        if not name:
            return None
        reason = await self.ask("  Reason (journaled): ")
        return name, reason or ""

    async def manual(self, request: AskOperator) -> bool:
        _print_wrapped(request.text, "  you do: ")
        _print_wrapped(f"then poolterm checks: {request.expect}", "  ")
        while True:
            answer = await self.ask("  Type 'done' when it is done, or 'stop' to stop here: ")
            if answer is None or answer.lower() == "stop":
                return False
            if answer.lower() == "done":
                return True


class TerminalSecrets:
    """The master's root password for a step that needs it: given up front
    (--password-file, $POOLTERM_JOIN_PASSWORD) or asked when the step runs, without
    echo on a terminal. Kept in memory only; the runner sends it to the host and nowhere else."""

    def __init__(self, preset: str | None = None):
        self._preset = preset

    async def password(self, host: str, address: str) -> str | None:
        if self._preset is not None:
            return self._preset
        where = f"{host} ({address})" if address else host
        prompt = f"  root password of {where} (not shown, not journaled; empty to stop): "
        if sys.stdin.isatty():
            try:
                value = await asyncio.to_thread(getpass.getpass, prompt)
            except EOFError:
                return None
        else:
            # No terminal to turn echo off on: the line comes from a pipe, which echoes nothing.
            sys.stdout.write(prompt)
            sys.stdout.flush()
            line = await asyncio.to_thread(sys.stdin.readline)
            sys.stdout.write("\n")
            value = line.removesuffix("\n").removesuffix("\r") if line else ""
        return value or None


def _print_wrapped(text: str, prefix: str) -> None:
    for line in _wrap(text, prefix):
        print(line)
    sys.stdout.flush()


class Printer:
    """Prints the runner's events as :func:`poolterm.playbooks.narrate.narrate` tells them."""

    def __init__(self, journal: Journal):
        self.journal = journal

    def line(self, text: str) -> None:
        print(text, flush=True)

    def event(self, event: object) -> None:
        """The runner's ``on_event``."""
        told = narrate(event)
        for line in told.transcript if told is not None else ():
            _print_line(line)
        if isinstance(event, PlaybookFinished):
            print(f"journal: {self.journal.path}")
        sys.stdout.flush()


def _print_line(line: Line) -> None:
    if line.wrap:
        for wrapped in _wrap(line.text, line.indent):
            print(wrapped)
    else:
        print(line.indent + line.text)
