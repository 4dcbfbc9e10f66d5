"""Command-line entry point: one sub-command per module, each registering itself.

A sub-command module exposes ``register(subparsers)``; the parser it adds sets
``func=handler`` where ``handler(args) -> int`` returns the exit status.
Errors the operator can fix are raised as :class:`poolterm.errors.PooltermError`
(one line, exit 2 unless it says otherwise), caught here once, so no traceback
ever reaches the terminal.
"""

from __future__ import annotations

import argparse
import sys

from poolterm import __version__
from poolterm.cli import check, console, demo, discover, exporter, follow, playbook, report, sim
from poolterm.errors import PooltermError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="poolterm",
        description="Incident console for XenServer / XCP-ng pools whose master is in trouble.",
    )
    parser.add_argument("--version", action="version", version=f"poolterm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    console.register(sub, parser)
    check.register(sub)
    discover.register(sub)
    exporter.register(sub)
    demo.register(sub)
    follow.register(sub)
    sim.register(sub)
    playbook.register(sub)
    report.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
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

