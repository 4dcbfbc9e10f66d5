"""`poolterm report [JOURNAL] [--format md|json]`: an incident journal as a timeline."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from poolterm.actions.journal import JournalError, default_dir, journals, read_journal
from poolterm.actions.report import build_report, render_markdown
from poolterm.errors import UsageError


def register(sub) -> None:
    parser = sub.add_parser(
        "report",
        help="render an incident journal as a timeline (markdown or JSON)",
        description="Render an incident journal: what was seen, what was run, by whom, with what result, "
                    "and how long recovery took.",
    )
    parser.add_argument("journal", nargs="?", metavar="JOURNAL",
                        help="the journal (default: the newest one in the user state directory)")
    parser.add_argument("--format", choices=("md", "json"), default="md", help="markdown (default) or JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = Path(args.journal).expanduser() if args.journal else _newest()
    try:
        contents = read_journal(path)
    except JournalError as exc:
        raise UsageError(str(exc)) from None
    if not contents.records:
        raise UsageError(f"{path}: no journal records in it")
    report = build_report(contents)
    if args.format == "json":
        json.dump(report, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_markdown(report))
    return 0


def _newest() -> Path:
    found = journals()
    if not found:
        raise UsageError(f"no journal in {default_dir()}; name one: poolterm report JOURNAL")
    return found[0]
