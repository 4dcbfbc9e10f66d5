"""Following a journal while another process writes it: complete records only, a record cut
mid-write picked up once its newline lands, a line torn by a crash skipped, and the file
rotated, truncated or deleted under the follower reported, never raised."""

from __future__ import annotations

import json
import os

from poolterm.actions.journal import Journal
from poolterm.actions.journal_tail import JournalTail
from poolterm.actions.records import PoolVerdict


def verdict(name: str) -> PoolVerdict:
    return PoolVerdict(pool="lab", verdict=name, severity="critical", master=None, summary=name)


def kinds(batch) -> list[str]:
    return [r.get("verdict", r["kind"]) for r in batch.records]


def test_records_arrive_as_they_are_appended_and_a_half_written_one_waits_for_its_newline(tmp_path):
    path = tmp_path / "incident.jsonl"
    journal = Journal.open(path, operator="alice")
    tail = JournalTail(path)
    assert kinds(tail.poll()) == ["session"]
    journal.write(verdict("master-lost"))
    assert kinds(tail.poll()) == ["master-lost"]
    assert tail.poll().records == []

    line = json.dumps({"kind": "verdict", "pool": "lab", "verdict": "healthy"}).encode() + b"\n"
    with open(path, "ab") as f:  # another writer, caught between two writes
        f.write(line[:20])
    assert tail.poll().records == [] and tail.waiting
    with open(path, "ab") as f:
        f.write(line[20:])
    assert kinds(tail.poll()) == ["healthy"] and not tail.waiting
    journal.close()


def test_a_line_torn_by_a_killed_writer_is_skipped_once_the_next_writer_ends_it(tmp_path):
    path = tmp_path / "incident.jsonl"
    Journal.open(path, operator="alice").close()
    with open(path, "ab") as f:
        f.write(b'{"kind": "verdict", "pool": "la')  # kill -9 mid-record
    tail = JournalTail(path)
    tail.poll()
    journal = Journal.open(path, operator="bob")  # ends the torn line, then writes its session
    batch = tail.poll()
    assert batch.bad_lines == 1 and kinds(batch) == ["session"]
    assert batch.records[0]["operator"] == "bob"
    journal.close()


def test_rotation_truncation_and_deletion_are_reported_once_each(tmp_path):
    path = tmp_path / "incident.jsonl"
    journal = Journal.open(path, operator="alice")
    journal.write(verdict("master-lost"))
    journal.close()
    tail = JournalTail(path)
    assert len(tail.poll().records) == 2

    os.rename(path, tmp_path / "incident.jsonl.1")  # logrotate's way: a new file under the old name
    journal = Journal.open(path, operator="alice")
    journal.write(verdict("healthy"))
    journal.close()
    batch = tail.poll()
    assert batch.events == ["rotated"] and kinds(batch) == ["session", "healthy"]

    path.write_bytes(b"")
    Journal.open(path, operator="carol").close()  # shorter than what was read: truncated and rewritten
    batch = tail.poll()
    assert batch.events == ["truncated"] and batch.records[0]["operator"] == "carol"

    path.unlink()
    assert tail.poll().events == ["deleted"]
    assert tail.poll().events == []
    Journal.open(path, operator="dave").close()
    batch = tail.poll()
    assert batch.events == ["back"] and batch.records[0]["operator"] == "dave"
    tail.close()


def test_a_deleted_journal_still_open_by_its_writer_is_still_followed(tmp_path):
    path = tmp_path / "incident.jsonl"
    journal = Journal.open(path, operator="alice")
    tail = JournalTail(path)
    tail.poll()
    path.unlink()
    journal.write(verdict("split-brain"))  # the driver writes on, into the unlinked file
    batch = tail.poll()
    assert batch.events == ["deleted"] and kinds(batch) == ["split-brain"]
    journal.close()
    tail.close()
