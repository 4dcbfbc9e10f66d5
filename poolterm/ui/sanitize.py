"""Make remote output safe to put on the operator's terminal.

A host under investigation is not trusted: its output could set the window
title, write the clipboard (OSC 52), move the cursor or switch character sets.
Every escape sequence is removed whole (including an OSC's payload), then
every remaining C0/C1 control character; tabs become spaces so columns hold.
"""

from __future__ import annotations

import re

TAB_SIZE = 8

# ECMA-48 shapes, 7-bit and 8-bit. A sequence cut off at the end of the line
# is removed up to the end: the rest of it was never going to be text.
_ESCAPE_SEQUENCE = re.compile(
    r"""
      (?:\x1b\[|\x9b) [0-?]* [ -/]* [@-~]?                          # CSI: colours, cursor moves
    | (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]) [^\x07\x1b\x9c]*       # OSC, DCS, SOS, PM, APC ...
          (?:\x07|\x1b\\|\x9c)?                                     # ... up to BEL or ST
    | \x1b [ -/]* [0-~]?                                            # two-byte and nF escapes
    """,
    re.VERBOSE,
)

# C0 except tab, DEL, C1, line/paragraph separators (they would split the
# line), and the bidi overrides that can make a line read differently.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def sanitize(text: str) -> str:
    """One line of remote output, as plain printable text."""
    if text.isprintable():
        # The common case costs one C-level scan: nothing to remove, no tabs.
        return text
    text = _ESCAPE_SEQUENCE.sub("", text)
    text = _CONTROL.sub("", text)
    return text.expandtabs(TAB_SIZE) if "\t" in text else text
