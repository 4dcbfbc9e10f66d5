"""`poolterm follow [JOURNAL]`: watch an incident another console drives, live and read-only.

The follower tails the journal (the driver's commands and their output, its playbook steps,
confirmations, refusals, verdicts, drill scores, notes) and probes the pool itself, read-only,
so its grid stays live if the driver's console dies. It sends no command; it writes nothing to
the journal but notes (``n``); ``T`` takes the wheel, visibly. Over SSH from anywhere the
follower can log in to the jump box: ``ssh -t jump poolterm follow``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from poolterm.actions.driver_lock import Seat, current_holder, last_holder
from poolterm.actions.journal import JournalError, journals, read_journal
from poolterm.actions.records import Session, entries
from poolterm.cli.console import (
    add_console_options,
    console_settings,
    exit_status,
    prepare_environment,
    requested_workers,
    require_terminal,
)
from poolterm.cli.options import add_inventory_option
from poolterm.config.inventory import find_inventory, load_inventory
from poolterm.errors import UsageError


def register(sub) -> None:
    follow = sub.add_parser(
        "follow", help="watch an incident another console drives (read-only; notes and taking the wheel)",
        description="Open a read-only console on an incident journal another console drives: its commands, "
                    "output and playbook steps as they happen, and the pool probed from here.")
    follow.add_argument("journal", nargs="?", metavar="JOURNAL",
                        help="the incident journal (default: the newest in the user state directory)")
    add_inventory_option(follow)
    add_console_options(follow)
    follow.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    workers = requested_workers(args)
    path = journal_to_follow(args.journal)
    records = journal_records(path)
    inventory = load_inventory(Path(args.inventory) if args.inventory else inventory_of(records) or find_inventory(None))
    settings = console_settings()
    require_terminal()
    prepare_environment(settings, args.low_bandwidth)
    from poolterm.ui.app import PoolApp

    seat = Seat(path, None, driver=current_holder(path) or last_holder(path))
    app = PoolApp(inventory, settings=settings, theme=args.theme, read_only=args.read_only,
                  ascii_only=True if args.ascii else None, own_process=True, seat=seat,
                  journal_group=args.journal_group, teach=args.teach,
                  probe_workers=workers)
    return exit_status(app, app.run())


def journal_to_follow(explicit: str | None) -> Path:
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise UsageError(f"no journal at {path}: the driver's console names its journal in its first log line")
        return path
    found = journals()
    if not found:
        raise UsageError("no incident journal to follow: name one (poolterm follow JOURNAL)")
    return found[0]


def journal_records(path: Path) -> list[dict]:
    try:
        return read_journal(path).records
    except JournalError as exc:
        raise UsageError(str(exc)) from None


def inventory_of(records: list[dict]) -> Path | None:
    """The inventory the journal's last driver probed (its session record says), if it still exists."""
    for entry in reversed(entries(records)):
        record = entry.record
        if isinstance(record, Session) and record.inventory and record.role != "follower":
            path = Path(record.inventory)
            if path.is_file():
                return path
            print(f"poolterm: the driver's inventory {path} is gone; using the default", file=sys.stderr)
            return None
    return None
