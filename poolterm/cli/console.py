"""`poolterm` (no sub-command) and `poolterm console`: open the incident console.

Textual is imported only inside :func:`run`, after the environment is set:
low-bandwidth mode works through Textual's own settings (frame rate,
animations), which Textual reads once, when it is first imported.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from poolterm.actions.driver_lock import Seat, take_seat
from poolterm.actions.journal import JournalError
from poolterm.cli.journal_notes import close_journal
from poolterm.cli.options import add_inventory_option, checked_workers, load_pools, shared_default
from poolterm.config.settings import Settings, SettingsError, load_settings
from poolterm.errors import UsageError
from poolterm.probing.shards import MIN_HOSTS_PER_WORKER, PROBE_PROCESS_ABOVE

#: Frames per second in low-bandwidth mode: a tenth of the default 60 bytes-per-change.
LOW_BANDWIDTH_FPS = "10"


def register(sub, parser: argparse.ArgumentParser | None = None) -> None:
    """Add `poolterm console`; with ``parser``, also make the console what bare `poolterm` runs."""
    console = sub.add_parser(
        "console",
        help="open the incident console (also what `poolterm` alone does)",
        description="Open the full-screen incident console on every host of the inventory.",
    )
    add_inventory_option(console)
    add_console_options(console)
    console.set_defaults(func=run)
    if parser is not None:
        add_inventory_option(parser, sub_command=False)
        add_console_options(parser, sub_command=False)
        parser.set_defaults(func=run)


def add_console_options(parser: argparse.ArgumentParser, *, sub_command: bool = True) -> None:
    """The console's options, on `poolterm` itself and on each sub-command that opens a console."""
    unset, off = shared_default(sub_command), shared_default(sub_command, False)
    parser.add_argument("--theme", metavar="NAME", default=unset,
                        help="colour theme: poolterm-dark (default), poolterm-light, poolterm-high-contrast, "
                             "poolterm-colorblind, poolterm-ansi, or one of your own")
    parser.add_argument("--read-only", action="store_true", default=off,
                        help="queries only: every action that could change a pool is disabled")
    parser.add_argument("--ascii", action="store_true", default=off, help="ASCII glyphs only (terminals without Unicode)")
    parser.add_argument("--low-bandwidth", action="store_true", default=off,
                        help="fewer frames per second and no animation, for slow SSH links")
    parser.add_argument("--teach", action="store_true", default=off,
                        help="teaching mode: every step's why, the verdict's evidence and the next key (t toggles)")
    parser.add_argument("--journal", metavar="PATH", default=unset,
                        help="the incident journal to append to (default: a new one in the user state directory, "
                             "or the one holding an interrupted playbook run); a console opened on a journal "
                             "another console drives follows it")
    parser.add_argument("--journal-group", metavar="GROUP", default=unset,
                        help="share the journal with this group (mode 0660), for followers logged in as other "
                             "users (`poolterm follow`); never readable by others")
    parser.add_argument("--probe-workers", metavar="N", type=int, default=unset,
                        help="probe from N worker processes, each owning a slice of the hosts (default: one per "
                             f"core above {PROBE_PROCESS_ABOVE} hosts, at least {MIN_HOSTS_PER_WORKER} hosts each; "
                             "0 probes from the console's own process)")


def requested_workers(args: argparse.Namespace) -> int | None:
    """The console's ``--probe-workers``, checked (None: the console chooses)."""
    return checked_workers(getattr(args, "probe_workers", None), least=0)


def run(args: argparse.Namespace) -> int:
    workers = requested_workers(args)
    settings = console_settings()
    inventory, _pools = load_pools(args)
    require_terminal()
    prepare_environment(settings, args.low_bandwidth)
    from poolterm.ui.app import PoolApp

    seat = open_seat(args, inventory.path)

    async def hang_up() -> None:  # the terminal vanished: the journal's last output reaches the disk
        if seat.journal is not None:
            seat.journal.close()

    try:
        app = PoolApp(inventory, settings=settings, theme=args.theme, read_only=args.read_only,
                      ascii_only=True if args.ascii else None, own_process=True, seat=seat,
                      journal_group=args.journal_group, teach=args.teach,
                      resume=seat.point if seat.driving else None, on_hangup=hang_up,
                      probe_workers=workers)
        return exit_status(app, app.run())
    finally:
        leave_seat(seat)


def open_seat(args: argparse.Namespace, inventory) -> Seat:
    """The journal (``--journal``, or the one holding an interrupted run, or a new one), to drive, or
    to follow when another console drives it."""
    try:
        return take_seat(args.journal, sys.argv, inventory=inventory, group=getattr(args, "journal_group", None))
    except JournalError as exc:
        raise UsageError(str(exc)) from None


def leave_seat(seat: Seat) -> None:
    if seat.journal is not None:
        close_journal(seat.journal)
    if seat.lock is not None:
        seat.lock.release()


def console_settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise UsageError(str(exc)) from None


def require_terminal() -> None:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("the console needs a terminal (stdin and stdout are not one); "
                         "for a one-shot diagnosis use `poolterm check`")


def prepare_environment(settings: Settings, low_bandwidth: bool) -> None:
    """Set what Textual reads at import time, and keep library logging off the screen."""
    if low_bandwidth or settings.low_bandwidth:
        os.environ.setdefault("TEXTUAL_FPS", LOW_BANDWIDTH_FPS)
        os.environ["TEXTUAL_ANIMATIONS"] = "none"
        os.environ["TEXTUAL_SMOOTH_SCROLL"] = "0"
    # The console owns the terminal: a library warning printed to stderr would tear the screen.
    logging.getLogger().addHandler(logging.NullHandler())


def exit_status(app, result) -> int:
    """The app's result (0, or 128 + SIGHUP when the terminal went away), or its error status."""
    if app.return_code:
        return app.return_code
    return int(result or 0)
