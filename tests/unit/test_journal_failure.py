"""The journal on a disk that fills: nothing escapes write(), nothing is lost, no record is torn.

Real failures only: a child Python process writes under ``RLIMIT_FSIZE`` (SIGXFSZ ignored, as
Python does at start, so a write past the limit fails with EFBIG, and a write that crosses it is
cut short by the kernel: a real short write), or a real tmpfs of a few pages fills up (ENOSPC).
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from poolterm.actions.journal import Journal, JournalError, read_journal
from tests.helpers.full_disk import fill, tiny_tmpfs

ROOT = Path(__file__).resolve().parents[2]
GAP_KIND = "journal-gap"  # the record that says records were dropped

#: Run in the child: the journal's lines as written, checked by the parent.
CHILD_HEAD = """
import json, os, resource, signal, sys
from poolterm.actions import journal as journal_module
from poolterm.actions.journal import Journal

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
_, HARD = resource.getrlimit(resource.RLIMIT_FSIZE)
path = sys.argv[1]
def limit(size):
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, HARD))
def unlimit():
    resource.setrlimit(resource.RLIMIT_FSIZE, (HARD, HARD))
out = {}
"""


def run_child(body: str, path: Path) -> dict:
    script = CHILD_HEAD + textwrap.dedent(body) + "\nprint(json.dumps(out))\n"
    done = subprocess.run([sys.executable, "-c", script, str(path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def lines_of(path: Path) -> list[dict]:
    """Every line of the file, each of which must be one JSON record (no fragment, no two glued)."""
    data = path.read_bytes()
    assert data.endswith(b"\n")
    return [json.loads(line) for line in data.decode("utf-8").split("\n")[:-1]]


def test_a_write_past_the_file_size_limit_is_held_and_written_in_order_once_it_fits(tmp_path):
    path = tmp_path / "incident.jsonl"
    out = run_child("""
        journal = Journal.open(path, operator="alice")
        changes = []
        journal.on_change = lambda j: changes.append(j.failing)
        limit(os.path.getsize(path) + 2000)
        n = 0
        while getattr(journal, "failing", None) is None:  # write() never raises: it says so in `failing`
            n += 1
            journal.write("verdict", pool="lab", n=n, summary="x" * 100)
            assert n < 100, "the limit never bit"
        out["failed_at"] = n
        out["failing"] = journal.failing
        for _ in range(20):  # the console keeps working: more records, held in memory
            n += 1
            journal.write("output", id="c-1", stream="stdout", line=f"line {n}")
        out["pending"] = journal.pending
        out["retry_while_full"] = journal.retry()
        out["size_while_full"] = os.path.getsize(path)
        unlimit()
        out["retry"] = journal.retry()
        out["after"] = (journal.failing, journal.pending)
        n += 1
        journal.write("verdict", pool="lab", n=n, summary="back")
        journal.close()
        out["n"] = n
        out["changes"] = changes
    """, path)
    assert out["failing"].startswith(f"cannot write journal {path}: ")
    assert os.strerror(errno.EFBIG) in out["failing"]
    assert out["pending"] >= 21  # the record that failed and the twenty after it
    assert out["retry_while_full"] is False
    assert out["retry"] is True and out["after"] == [None, 0]
    assert out["changes"] == [out["failing"], None]  # one change each way, not one per record
    records = lines_of(path)
    assert [r["seq"] for r in records] == list(range(1, out["n"] + 2))  # the session, then every record
    assert [r.get("n") for r in records if r["kind"] == "verdict"][-1] == out["n"]
    assert [r["line"] for r in records if r["kind"] == "output"] == \
        [f"line {n}" for n in range(out["failed_at"] + 1, out["failed_at"] + 21)]
    assert not any(r["kind"] == GAP_KIND for r in records)


def test_a_write_cut_short_by_the_limit_is_finished_not_glued_to_the_next_record(tmp_path):
    path = tmp_path / "incident.jsonl"
    out = run_child("""
        journal = Journal.open(path, operator="alice")
        before = os.path.getsize(path)
        limit(before + 40)  # the next record crosses it: the kernel writes 40 bytes of it and says so
        journal.write("command-start", id="a-1", host="plot2", command="xe pool-recover-slaves")
        out["short"] = os.path.getsize(path) - before
        out["failing"] = getattr(journal, "failing", None)
        unlimit()
        journal.write("command-end", id="a-1", exit_status=0)
        journal.close()
    """, path)
    assert out["short"] == 40  # a real short write happened: 40 bytes of a longer line reached the file
    assert read_journal(path).bad_lines == 0
    records = lines_of(path)
    assert [(r["seq"], r["kind"]) for r in records] == [(1, "session"), (2, "command-start"), (3, "command-end")]
    assert records[1]["command"] == "xe pool-recover-slaves"
    assert out["failing"] is not None  # the rest of the line could not be written at once: said so


def test_beyond_the_memory_cap_the_newest_are_dropped_and_a_gap_record_says_which(tmp_path):
    path = tmp_path / "incident.jsonl"
    out = run_child("""
        journal_module.HELD_RECORDS = 5
        journal = Journal.open(path, operator="alice")
        limit(os.path.getsize(path))
        for n in range(1, 13):
            journal.write("verdict", pool="lab", n=n)
        out["held"] = (journal.pending, journal.dropped)
        unlimit()
        journal.write("verdict", pool="lab", n=13)
        journal.close()
    """, path)
    assert out["held"] == [5, 7]
    records = lines_of(path)
    assert [r.get("n") for r in records if r["kind"] == "verdict"] == [1, 2, 3, 4, 5, 13]
    [gap] = [r for r in records if r["kind"] == GAP_KIND]
    assert (gap["lost"], gap["seqs"]) == (7, [[7, 13]])
    assert os.strerror(errno.EFBIG) in gap["reason"]
    assert [r["kind"] for r in records[-2:]] == [GAP_KIND, "verdict"]  # the gap is told before what follows it


# ---------------------------------------------------------------------------- a real full file system


@pytest.fixture
def tiny_fs(tmp_path):
    with tiny_tmpfs(tmp_path / "fs") as mount:
        yield mount


def test_a_full_file_system_holds_records_until_space_is_freed(tiny_fs):
    path = tiny_fs / "incident.jsonl"
    journal = Journal.open(path, operator="alice")
    filler = fill(tiny_fs)
    n = 0
    while journal.failing is None:
        n += 1
        journal.write("output", id="c-1", stream="stdout", line=f"line {n} " + "y" * 200)
        assert n < 1000, "the file system never filled"
    assert os.strerror(errno.ENOSPC) in journal.failing
    for _ in range(10):
        n += 1
        journal.write("output", id="c-1", stream="stdout", line=f"line {n} " + "y" * 200)
    assert journal.pending >= 11 and not journal.retry()
    filler.unlink()
    assert journal.retry() and journal.failing is None and journal.pending == 0
    journal.close()
    records = lines_of(path)
    assert [r["seq"] for r in records] == list(range(1, n + 2))
    assert [r["line"].split()[1] for r in records[1:]] == [str(i) for i in range(1, n + 1)]


def test_a_journal_that_cannot_write_its_first_line_is_refused_at_open(tiny_fs):
    fill(tiny_fs)
    with pytest.raises(JournalError, match=f"cannot write journal .*: {os.strerror(errno.ENOSPC)}"):
        Journal.open(tiny_fs / "new.jsonl", operator="alice")
