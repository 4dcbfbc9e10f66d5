"""What a host prints, over real SSH: escaped where it enters, lines cut, floods stopped.

The simulated hosts are real asyncssh servers; hostile content is planted with the
simulator's ``write-file`` action (text that stands for bytes which are not UTF-8
leaves the host as those bytes) and read back with ``cat``, as any command's
output would be.
"""

from __future__ import annotations

import time

from poolterm.actions.gate import JOURNAL_LINES, CommandGate
from poolterm.actions.journal import Journal, read_journal
from poolterm.config.inventory import load_inventory
from poolterm.transport.ssh import OUTPUT_LIMIT, Connections
from poolterm.untrusted import MAX_LINE, is_safe

INVENTORY = "/etc/xensource-inventory"


async def plant(sim, content: bytes, host: str = "plot2") -> None:
    await sim.ctl("write-file", host, path=INVENTORY, content=content.decode("utf-8", "surrogateescape"))


async def run(sim, command: str, host: str = "plot2", **options):
    inventory = load_inventory(sim.hosts_yaml)
    connections = Connections([inventory.host(host)], inventory.ssh)
    lines: list[tuple[str, str]] = []
    try:
        started = time.perf_counter()
        result = await connections.run(host, command, deadline=60, on_line=lambda s, line: lines.append((s, line)),
                                       **options)
        return result, lines, time.perf_counter() - started
    finally:
        await connections.close()


async def test_escapes_nul_and_bytes_that_are_not_utf8_arrive_written_out(sim):
    await plant(sim, b"title\x1b]0;owned\x07 nul\x00 bad\xff\xc3 bidi\xe2\x80\xae rtl\n\x9b2J c1 as a byte\n")
    result, lines, _ = await run(sim, f"cat {INVENTORY}")
    assert result.exit_status == 0
    assert [line for _, line in lines] == [
        "title\\x1b]0;owned\\x07 nul\\x00 bad\\xff\\xc3 bidi\\u202e rtl",
        "\\x9b2J c1 as a byte",
    ]


async def test_a_one_megabyte_line_arrives_cut_and_says_so(sim):
    await plant(sim, b"A" * (1 << 20) + b"\nafter\n")
    result, lines, _ = await run(sim, f"cat {INVENTORY}")
    assert result.exit_status == 0 and not result.output_cut
    assert [line for _, line in lines] == [
        "A" * MAX_LINE + f" [poolterm: line cut, {(1 << 20) - MAX_LINE} more characters not shown]", "after"]


async def test_a_50_megabyte_flood_is_stopped_at_the_limit_and_says_so(sim):
    await plant(sim, b"flood line of output\n" * (50 * (1 << 20) // 21))
    result, lines, seconds = await run(sim, f"cat {INVENTORY}")
    assert result.output_cut and result.exit_status is None
    stream, last = lines[-1]
    assert (stream, last) == ("stderr", "[poolterm: output cut after 8 MiB; the command was stopped]")
    received = sum(len(line) + 1 for _, line in lines[:-1])
    assert OUTPUT_LIMIT - 64 <= received <= OUTPUT_LIMIT + 1  # +1: the cut last line had no newline
    assert all(line == "flood line of output" for _, line in lines[:-2])
    print(f"\n50 MB flood: stopped after {received / (1 << 20):.1f} MiB in {seconds:.2f} s")


async def test_a_smaller_limit_stops_a_command_whose_stderr_floods_while_stdout_is_quiet(sim):
    await plant(sim, b"e" * 4096 + b"\n")
    result, lines, seconds = await run(sim, f"cat {INVENTORY} >&2; sleep 30", limit=1000)
    assert result.output_cut and seconds < 10  # stopped at the limit, not when the command ended
    assert lines[-1] == ("stderr", "[poolterm: output cut after 1000 bytes; the command was stopped]")
    assert all(stream == "stderr" for stream, _ in lines)


async def test_a_flood_through_the_gate_journals_a_bounded_count_of_lines(sim, tmp_path):
    await plant(sim, b"row\n" * (JOURNAL_LINES + 2500))
    inventory = load_inventory(sim.hosts_yaml)
    connections = Connections([inventory.host("plot2")], inventory.ssh)
    journal = Journal.open(tmp_path / "journal.jsonl", operator="alice")
    shown: list[str] = []
    gate = CommandGate(connections, journal, operator=None, read_only=False, assume_yes=True,
                       emit=lambda event: shown.append(getattr(event, "line", "")))
    try:
        result = await gate.execute("plot2", f"cat {INVENTORY}", f"cat {INVENTORY}", timeout=30,
                                    context={"source": "console"}, changes_pool=False)
    finally:
        journal.close()
        await connections.close()
    assert result.exit_status == 0 and result.ok
    assert shown.count("row") == JOURNAL_LINES + 2500  # the screen sees every line
    output = [r for r in read_journal(tmp_path / "journal.jsonl").records if r["kind"] == "output"]
    assert len(output) == JOURNAL_LINES + 1
    assert output[-1]["line"] == "[poolterm: 2500 more lines not journaled]"
    assert all(is_safe(r["line"]) for r in output)
