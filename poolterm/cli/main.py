"""Command-line entry point: one sub-command per module, each registering itself.

A sub-command module exposes ``register(subparsers)``; the parser it adds sets
``func=handler`` where ``handler(args) -> int`` returns the exit status.
Errors the operator can fix are raised as :class:`poolterm.errors.PooltermError`
(one line, exit 2 unless it says otherwise), caught here once, so no traceback
ever reaches the terminal.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from poolterm import __version__
from poolterm.cli import console
from poolterm.errors import PooltermError

#: The sub-commands besides the console, in the order help lists them: each a module of this package.
SUB_COMMANDS = ("check", "discover", "exporter", "demo", "follow", "sim", "playbook", "report")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; given ``argv`` naming a sub-command, with only that one's module imported: a
    monitoring system runs `poolterm check` every minute, and importing the others (the simulator,
    the exporter's HTTP server) cost a tenth of its run."""
    parser = argparse.ArgumentParser(
        prog="poolterm",
        description="Incident console for XenServer / XCP-ng pools whose master is in trouble.",
    )
    parser.add_argument("--version", action="version", version=f"poolterm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    console.register(sub, parser)
    # Every word that names one: an option's value may happen to (`-i report check`).
    named = [name for name in SUB_COMMANDS if name in (argv or ())]
    for name in named or SUB_COMMANDS:
        importlib.import_module(f"poolterm.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        status = _run(argv)
        sys.stdout.flush()  # here, not at the interpreter's exit, where a failure is a traceback
        return status
    except BrokenPipeError:
        # The reader went away (`poolterm check | head -1`): nothing left to say, and nowhere to say
        # it; stdout points at /dev/null so that the interpreter's last flush does not fail too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # what a shell reports for a process ended by SIGPIPE


def _run(argv: list[str] | None) -> int:
    parser = build_parser(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0
    try:
        return int(func(args) or 0)
    except PooltermError as exc:
        print(f"poolterm: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        return 130

