"""A journal's strings are escaped as they are read back, and the report's code fences cannot be closed
from inside: a journal written by an older poolterm (or edited by hand) may hold a host's raw bytes."""

from __future__ import annotations

import json
import re

from poolterm.actions.journal import read_journal
from poolterm.actions.report import build_report, render_markdown

RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
STAMP = "2026-12-06T10:00:0{}.000Z"


def line(seq: int, kind: str, **fields) -> str:
    record = {"at": STAMP.format(seq), "t": 1796551200 + seq, "kind": kind, "session": "s1", "seq": seq, **fields}
    return json.dumps(record, ensure_ascii=False) + "\n"


def journal_with(tmp_path, output: list[str]):
    path = tmp_path / "old.jsonl"
    path.write_text(
        line(1, "session", operator="alice", jump_host="jump", pid=1, argv=[], version=1)
        + line(2, "verdict", pool="lab", verdict="orphaned-slaves", severity="critical", master="plot1",
               summary="plot3 still points at \x1b]52;c;cHduZWQ=\x07 instead of plot1")
        + line(3, "command-start", id="s1-1", host="plot1", command="xe host-list", remote="xe host-list",
               changes_pool=False, operator="alice", source="console")
        + "".join(line(4, "output", id="s1-1", stream="stdout", line=text) for text in output)
        + line(5, "command-end", id="s1-1", host="plot1", exit_status=0, deadline_hit=False, error="", seconds=0.1,
               source="console"))
    return path


def test_raw_bytes_in_an_old_journal_come_out_of_the_report_written_out(tmp_path):
    path = journal_with(tmp_path, ["name-label ( RW): \x1b[2J\u202eevil\x00"])
    records = read_journal(path).records
    assert records[1]["summary"] == "plot3 still points at \\x1b]52;c;cHduZWQ=\\x07 instead of plot1"
    markdown = render_markdown(build_report(read_journal(path)))
    assert not RAW.search(markdown)
    assert "\\x1b]52;c;cHduZWQ=\\x07" in markdown and "name-label ( RW): \\x1b[2J\\u202eevil\\x00" in markdown
    report = json.dumps(build_report(read_journal(path)), ensure_ascii=False)
    assert not RAW.search(json.loads(report)["verdicts"][0]["summary"])


def fenced(markdown: str) -> list[str]:
    """The lines inside the first code fence, read the way CommonMark closes one."""
    lines = markdown.splitlines()
    opening = next(i for i, text in enumerate(lines) if text.strip().startswith("```"))
    fence = lines[opening].strip()
    inside = []
    for text in lines[opening + 1:]:
        stripped = text.strip()
        if stripped.startswith(fence[:3]) and set(stripped) == {"`"} and len(stripped) >= len(fence):
            return inside
        inside.append(text.strip())
    raise AssertionError("the fence never closes")


def test_a_remote_line_of_backticks_cannot_close_the_output_fence(tmp_path):
    output = ["before", "```", "# Injected heading", "`````` more ``` ticks", "after"]
    markdown = render_markdown(build_report(read_journal(journal_with(tmp_path, output))))
    assert fenced(markdown) == output
