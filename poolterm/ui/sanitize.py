"""Text as the screen shows it: escaped, and tabs expanded so columns hold.

Remote text is already escaped where it enters (:mod:`poolterm.untrusted`); this
is the screen's own last check, which also covers text from local files (an
inventory's host names) and keeps a tab from breaking a fixed-width cell.
"""

from __future__ import annotations

from poolterm.untrusted import escape

TAB_SIZE = 8


def sanitize(text: str) -> str:
    """One line as plain printable text for the screen."""
    if text.isprintable():
        # The common case costs one C-level scan: nothing to escape, no tabs.
        return text
    text = escape(text.replace("\n", " "))
    return text.expandtabs(TAB_SIZE) if "\t" in text else text
