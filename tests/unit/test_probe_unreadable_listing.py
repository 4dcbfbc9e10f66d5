"""A master whose host list is not in xe's record layout (a warning printed before the records,
a broken xe, hostile bytes) is an observation like any other, not an exception: the parser runs
inside the transport's line callback, and an exception there ended the host's probe loop for good.

Found by tests/fuzz/test_fuzz_probe_output.py.
"""

from __future__ import annotations

from poolterm.model import Role
from poolterm.probing.probe import ProbeParser
from poolterm.untrusted import LineDecoder
from tests.helpers.factories import probe_section

RECORD = ["uuid ( RO)                 : 00000001-0000-4000-8000-000000000001",
          "           name-label ( RW): plot1", "              address ( RO): 10.0.0.1",
          "              enabled ( RO): true", "    host-metrics-live ( RO): true"]


def parse(lines: list[str]):
    parser = ProbeParser("plot1")
    ended = [parser.feed(line) for line in lines]
    return parser.observation(5.0, complete=True), ended


def test_a_listing_that_starts_with_a_stray_line_is_read_as_no_database():
    decoder = LineDecoder()
    hostile = decoder.feed(b"\x1b]52;c;cHduZWQ=\x07 warning: certificate expires soon\n") + decoder.close()
    lines = probe_section("conf", "master", 0) + probe_section("db", "\n".join(hostile + RECORD), 0)
    observation, ended = parse(lines)
    assert ended.count("db") == 1
    assert observation.role is Role.MASTER
    assert observation.db_hosts is None
    assert observation.xe.status == "answered"
    assert "host list not readable" in observation.xe.output and "\\x1b]52" in observation.xe.output


def test_a_well_formed_listing_is_still_read():
    observation, _ = parse(probe_section("conf", "master", 0) + probe_section("db", "\n".join(RECORD), 0))
    assert [h.name for h in observation.db_hosts] == ["plot1"]
    assert observation.xe.output == "1 records"
