"""What the command line says of its journal on stderr: that it is failing, that it recovered,
and, once it is closed, what could never be written to it."""

from __future__ import annotations

import sys

from poolterm.actions.journal import RETRY_INTERVAL, Journal


def journal_changed(journal: Journal) -> None:
    """The journal's ``on_change``: one line on stderr when it starts failing, one when it is written again."""
    if journal.failing is not None:
        print(f"poolterm: warning: {journal.failing}; its records are kept in memory and written as soon as "
              f"it can be (retried every {RETRY_INTERVAL:g} s)", file=sys.stderr, flush=True)
    else:
        print(f"poolterm: journal {journal.path} written again: every record kept in memory is in it",
              file=sys.stderr, flush=True)


def journal_lost(journal: Journal) -> None:
    """After the journal is closed: say on stderr what could never be written to it."""
    loss = journal.loss()
    if loss:
        print(f"poolterm: warning: {loss}", file=sys.stderr, flush=True)


def close_journal(journal: Journal) -> None:
    """Close the journal (it never raises), then say what it lost, if anything."""
    journal.close()
    journal_lost(journal)
