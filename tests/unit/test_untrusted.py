"""Remote text made safe where it enters: escapes, not deletions; lines cut, and said so."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from poolterm.untrusted import MAX_LINE, LineDecoder, escape, is_safe

OSC52 = "slave:\x1b]52;c;cHduZWQ=\x07\x1b[2J"


def test_an_osc52_clipboard_write_is_shown_written_out():
    assert escape(OSC52) == "slave:\\x1b]52;c;cHduZWQ=\\x07\\x1b[2J"


def test_marks_that_hide_or_reorder_text_are_written_out():
    marks = ["\u200b", "\u200e", "\u200f", "\u061c", "\ufeff", "\u202e", "\u2066", "\u2028", "\x85", "\x9b", "\x7f"]
    for mark in marks:
        shown = escape(f"a{mark}b")
        assert shown == f"a\\{'x' if ord(mark) < 0x100 else 'u'}{ord(mark):0{2 if ord(mark) < 0x100 else 4}x}b"
        assert shown.isprintable()


def test_printable_text_and_tabs_pass_unchanged():
    for text in ("plot1", "slave:192.0.2.10", "naïve 東京 😀", "a\tb", ""):
        assert escape(text) == text


@settings(max_examples=300)
@given(st.text())
def test_escaped_text_is_printable_and_escaping_it_again_changes_nothing(text):
    shown = escape(text)
    assert shown.replace("\t", " ").isprintable()
    assert escape(shown) == shown
    assert is_safe(shown)


def test_is_safe_tells_a_raw_escape_from_a_written_out_one():
    assert not is_safe(OSC52)
    assert is_safe(escape(OSC52) + "\nsecond line\twith tab")


# ---- the line decoder ---------------------------------------------------------------------


def decode(chunks: list[bytes], max_line: int = MAX_LINE) -> list[str]:
    decoder = LineDecoder(max_line)
    lines = [line for chunk in chunks for line in decoder.feed(chunk)]
    return lines + decoder.close()


def test_invalid_utf8_and_nul_are_written_out_as_bytes():
    assert decode([b"ok \xff\xfe nul\x00 end\n"]) == ["ok \\xff\\xfe nul\\x00 end"]


def test_a_character_split_between_two_chunks_is_decoded_whole():
    data = "東京 é\n".encode()
    for cut in range(1, len(data)):
        assert decode([data[:cut], data[cut:]]) == ["東京 é"]


def test_crlf_ends_a_line_and_a_lone_cr_is_shown():
    assert decode([b"one\r\ntwo\rthree\n"]) == ["one", "two\\x0dthree"]


def test_the_last_line_without_a_newline_is_kept():
    assert decode([b"a\nb"]) == ["a", "b"]
    assert decode([b"a\n"]) == ["a"]


def test_a_long_line_is_cut_and_says_how_much_was_not_shown():
    lines = decode([b"x" * 1000 + b"\nnext\n"], max_line=100)
    assert lines == ["x" * 100 + " [poolterm: line cut, 900 more characters not shown]", "next"]


def test_a_cut_line_counts_what_arrived_in_later_chunks():
    lines = decode([b"y" * 60, b"y" * 60, b"y" * 60, b"\n"], max_line=100)
    assert lines == ["y" * 100 + " [poolterm: line cut, 80 more characters not shown]"]


def test_a_32_megabyte_line_in_32_kb_chunks_costs_its_length_once():
    # Re-concatenating the pending line per chunk costs the square of its length (16 GB copied here).
    chunk = b"z" * 32768
    decoder = LineDecoder()
    started = time.perf_counter()
    for _ in range(1024):
        assert decoder.feed(chunk) == []
    (line,) = decoder.feed(b"\n")
    elapsed = time.perf_counter() - started
    assert line == "z" * MAX_LINE + f" [poolterm: line cut, {(32 << 20) - MAX_LINE} more characters not shown]"
    assert elapsed < 0.5, f"{elapsed:.2f} s for a 32 MB line in 32 KB chunks"


@settings(max_examples=300)
@given(st.lists(st.binary(max_size=64), max_size=12))
def test_any_bytes_come_out_as_safe_lines_of_bounded_length(chunks):
    lines = decode(chunks, max_line=40)
    for line in lines:
        assert is_safe(line) and "\n" not in line
        assert len(line) <= 40 * 4 + len(" [poolterm: line cut, 9999 more characters not shown]")
    if b"".join(chunks) and b"\n" not in b"".join(chunks):
        assert len(lines) == 1
