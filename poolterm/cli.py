"""Command-line entry point: one sub-command per module, each registering itself.

A sub-command module exposes ``register(subparsers)``; the parser it adds sets
``func=handler`` where ``handler(args) -> int`` returns the exit status.
Errors the user can fix are raised as :class:`UsageError` (one line, exit 2)
so no traceback ever reaches the terminal.
"""

from __future__ import annotations

import argparse
import sys

from poolterm import __version__


class UsageError(Exception):
    """A problem the operator can fix; printed as one line, exit status 2 unless given."""

    def __init__(self, message: str, status: int = 2):
        super().__init__(message)
        self.status = status


def build_parser() -> argparse.ArgumentParser:
    from poolterm import check, console, demo
    from poolterm.sim import cli as sim_cli
    from poolterm import report
    from poolterm.playbooks import cli as playbook_cli

    parser = argparse.ArgumentParser(
        prog="poolterm",
        description="Incident console for XenServer / XCP-ng pools whose master is in trouble.",
    )
    parser.add_argument("--version", action="version", version=f"poolterm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    console.register(sub, parser)
    check.register(sub)
    demo.register(sub)
    sim_cli.register(sub)
    playbook_cli.register(sub)
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
    except UsageError as exc:
        print(f"poolterm: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
