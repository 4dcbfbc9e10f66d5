"""Text from a host, made safe where it enters.

A host under investigation is not trusted: a line it prints could write the
operator's clipboard (OSC 52), clear the screen, retitle the window, hide
words behind zero-width or direction marks, or carry bytes that are not UTF-8
at all. Nothing is removed, because the operator (and the journal) should still
see what the host sent; every character a terminal, a markdown viewer or a log
reader could act on is written out as an escape instead: ESC becomes ``\\x1b``,
a right-to-left mark ``\\u200f``, an invalid byte ``\\xff``. What comes out is
printable text and stays so through any later renderer.

The transport applies this to every line and every error text a host sends,
and the journal reader to every string it reads back, so no path downstream
has to remember it.
"""

from __future__ import annotations

import codecs

#: Characters of one line kept; the rest is counted and said, not kept. A pool.conf is
#: one word, an xe record line a few hundred characters; 16 K is generous for both.
MAX_LINE = 16 * 1024

#: Escapes for characters below this code point are remembered; above it (rare in host output,
#: and unbounded in variety) each is worked out again, so a hostile stream cannot grow the table.
_CACHE_BELOW = 0x3000


class _Escapes(dict):
    """``str.translate`` table built on demand: printable characters map to themselves."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        value = char if char == "\t" or char.isprintable() else _escape_form(code)
        if code < _CACHE_BELOW:
            self[code] = value
        return value


def _escape_form(code: int) -> str:
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


_TABLE = _Escapes()


def escape(text: str) -> str:
    """``text`` with every non-printable character (tab aside) written as a visible escape.

    Non-printable, in Python's sense: C0 and C1 controls, DEL, format characters
    (zero-width spaces and joiners, direction marks and overrides, U+061C, U+FEFF),
    line and paragraph separators, unusual spaces, surrogates, private-use and
    unassigned code points. Idempotent: escaped text is printable.
    """
    if text.isprintable():  # the common case: one scan in C, nothing to change
        return text
    return text.translate(_TABLE)


def is_safe(text: str) -> bool:
    """Whether ``text`` holds nothing but printable characters, tabs and newlines."""
    return all(line.replace("\t", " ").isprintable() for line in text.split("\n"))


class LineDecoder:
    """One stream of bytes from a host → safe lines, each at most :data:`MAX_LINE` characters.

    Bytes that are not UTF-8 become ``\\xNN`` escapes (a character split across two
    chunks is still decoded whole). A longer line is cut, and says so at its end.
    The unfinished line is kept as a list of pieces, so a long line arriving in many
    chunks costs its length once, not once per chunk.
    """

    def __init__(self, max_line: int = MAX_LINE):
        self._decode = codecs.getincrementaldecoder("utf-8")("backslashreplace").decode
        self._max = max_line
        self._pieces: list[str] = []
        self._kept = 0  # characters of the unfinished line held in _pieces
        self._cut = 0  # characters of the unfinished line dropped

    def feed(self, data: bytes) -> list[str]:
        """The lines ``data`` completes."""
        parts = self._decode(data).split("\n")
        lines = []
        for part in parts[:-1]:
            self._hold(part)
            lines.append(self._finish())
        self._hold(parts[-1])
        return lines

    def close(self) -> list[str]:
        """The last line, if the stream did not end with a newline."""
        self._hold(self._decode(b"", True))
        return [self._finish()] if self._kept or self._cut else []

    def _hold(self, piece: str) -> None:
        room = self._max - self._kept
        if len(piece) > room:
            self._cut += len(piece) - room
            piece = piece[:room]
        if piece:
            self._pieces.append(piece)
            self._kept += len(piece)

    def _finish(self) -> str:
        line = "".join(self._pieces)
        cut, self._pieces, self._kept, self._cut = self._cut, [], 0, 0
        if line.endswith("\r") and not cut:
            line = line[:-1]  # CRLF is a line end, not a character to show
        line = escape(line)
        if cut:
            line += f" [poolterm: line cut, {cut} more characters not shown]"
        return line
