"""The incident journal: durable appends, a reader that survives a torn line, the resume point.

Real files throughout; the durability test kills a real writer process with SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from poolterm.actions.journal import (
    Journal,
    JournalError,
    find_interrupted,
    interrupted_run,
    journals,
    operator_name,
    read_journal,
    redact,
)


def records_of(path: Path) -> list[dict]:
    return read_journal(path).records


def test_every_record_is_one_json_line_with_time_kind_and_session(tmp_path):
    path = tmp_path / "j" / "incident.jsonl"
    journal = Journal.open(path, operator="alice", argv=["poolterm", "playbook", "run", "master-lost"])
    journal.write("verdict", pool="lab", verdict="master-lost", summary="Master plot1 is lost")
    journal.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    session, verdict = (json.loads(line) for line in lines)
    assert session["kind"] == "session" and session["operator"] == "alice"
    assert session["argv"] == ["poolterm", "playbook", "run", "master-lost"]
    assert verdict["kind"] == "verdict" and verdict["verdict"] == "master-lost"
    assert verdict["session"] == session["session"] and verdict["seq"] == 2
    assert verdict["at"].endswith("Z") and verdict["t"] >= session["t"]
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_a_second_session_appends_to_the_same_journal(tmp_path):
    path = tmp_path / "incident.jsonl"
    Journal.open(path, operator="alice").close()
    second = Journal.open(path, operator="bob")
    second.write("verdict", verdict="healthy")
    second.close()
    records = records_of(path)
    assert [r["operator"] for r in records if r["kind"] == "session"] == ["alice", "bob"]
    assert len({r["session"] for r in records}) == 2


def test_a_torn_last_line_is_skipped_and_ended_by_the_next_writer(tmp_path):
    path = tmp_path / "incident.jsonl"
    journal = Journal.open(path, operator="alice")
    journal.write("command-start", id="a-1", host="plot2", command="xe pool-recover-slaves")
    journal.close()
    with open(path, "ab") as f:
        f.write(b'{"at":"2026-01-01T00:00:00.000Z","kind":"outp')  # the writer died mid-record
    torn = read_journal(path)
    assert torn.torn and [r["kind"] for r in torn.records] == ["session", "command-start"]
    again = Journal.open(path, operator="alice")
    again.write("command-end", id="a-1", exit_status=0)
    again.close()
    healed = read_journal(path)
    assert not healed.torn and healed.bad_lines == 1
    assert [r["kind"] for r in healed.records] == ["session", "command-start", "session", "command-end"]


def test_a_complete_last_record_without_its_newline_still_counts(tmp_path):
    path = tmp_path / "incident.jsonl"
    path.write_bytes(b'{"kind":"session","at":"x","t":1}\n{"kind":"verdict","at":"y","t":2}')
    contents = read_journal(path)
    assert not contents.torn and [r["kind"] for r in contents.records] == ["session", "verdict"]


def test_a_record_written_is_on_disk_when_the_writer_is_killed(tmp_path):
    """SIGKILL right after write(): nothing already written is lost."""
    path = tmp_path / "incident.jsonl"
    script = textwrap.dedent(f"""
        import os, signal, sys
        from poolterm.actions.journal import Journal
        journal = Journal.open({str(path)!r}, operator="alice")
        for n in range(200):
            journal.write("output", id="s-1", stream="stdout", line=f"line {{n}}")
        journal.write("command-end", id="s-1", exit_status=0)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert result.returncode == -signal.SIGKILL
    records = records_of(path)
    assert [r["line"] for r in records if r["kind"] == "output"] == [f"line {n}" for n in range(200)]
    assert records[-1]["kind"] == "command-end"


@pytest.mark.parametrize("text, shown", [
    ("xe pool-join master-address=10.0.0.11 master-username=root master-password=hunter2",
     "xe pool-join master-address=10.0.0.11 master-username=root master-password=<redacted>"),
    ("xe -u root -pw hunter2 host-list", "xe -u root -pw <redacted> host-list"),
    ("xe host-list params=uuid", "xe host-list params=uuid"),
])
def test_passwords_never_reach_the_journal(tmp_path, text, shown):
    assert redact(text) == shown
    path = tmp_path / "incident.jsonl"
    journal = Journal.open(path, operator="alice", argv=["poolterm", text])
    journal.write("command-start", id="a-1", command=text, host="plot1")
    journal.close()
    raw = path.read_text()
    assert "hunter2" not in raw and shown in raw


def test_the_operator_is_the_sudo_caller_first(monkeypatch):
    monkeypatch.setenv("SUDO_USER", "alice")
    monkeypatch.setenv("USER", "root")
    assert operator_name() == "alice"
    monkeypatch.delenv("SUDO_USER")
    assert operator_name() == "root"


def test_an_unwritable_journal_is_one_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(JournalError, match="cannot open journal"):
        Journal.open(blocker / "incident.jsonl")
    with pytest.raises(JournalError, match="cannot read journal"):
        read_journal(tmp_path / "missing.jsonl")


# ---- where to resume ----------------------------------------------------------------------------


def write_run(path: Path, *events: tuple[str, dict], run: str = "r1") -> None:
    journal = Journal.open(path, operator="alice")
    journal.write("playbook-start", run=run, playbook="master-lost", pool="lab",
                  bindings={"old_master": "plot1", "candidate": "plot2"}, operator="alice")
    for kind, fields in events:
        journal.write(kind, **({"run": run} | fields))
    journal.close()


def step(index: int, name: str, status: str) -> tuple[str, dict]:
    return "step", {"index": index, "step": name, "title": name.title(), "status": status}


def test_resume_point_after_a_completed_command_not_yet_verified(tmp_path):
    path = tmp_path / "incident.jsonl"
    write_run(path, step(0, "restart-hung-master", "skipped"), step(1, "promote", "started"),
              ("command-start", {"id": "c-1", "step": "promote", "host": "plot2"}),
              ("command-end", {"id": "c-1", "step": "promote", "exit_status": 0}))
    point = interrupted_run(records_of(path), path)
    assert point is not None and point.state == "interrupted"
    assert point.playbook == "master-lost" and point.bindings == {"old_master": "plot1", "candidate": "plot2"}
    assert point.completed == ("restart-hung-master",)
    assert point.last_completed == {"index": 0, "step": "restart-hung-master", "title": "Restart-Hung-Master"}
    assert point.acted == "promote"


def test_resume_point_after_a_command_cut_off_before_its_end(tmp_path):
    path = tmp_path / "incident.jsonl"
    write_run(path, step(1, "promote", "started"), ("command-start", {"id": "c-1", "step": "promote"}),
              ("output", {"id": "c-1", "line": "Host agent will restart"}))
    point = interrupted_run(records_of(path), path)
    assert point.acted is None and point.completed == ()


def test_a_failed_command_or_a_query_is_not_an_action_taken(tmp_path):
    path = tmp_path / "incident.jsonl"
    write_run(path, step(1, "promote", "started"),
              ("command-start", {"id": "c-1", "step": "promote", "query": "ha-enabled"}),
              ("command-end", {"id": "c-1", "exit_status": 0}),
              ("command-start", {"id": "c-2", "step": "promote"}),
              ("command-end", {"id": "c-2", "exit_status": 1}))
    assert interrupted_run(records_of(path), path).acted is None


def test_resume_point_after_a_manual_confirmation_keeps_what_it_confirmed(tmp_path):
    path = tmp_path / "incident.jsonl"
    write_run(path, step(0, "confirm-forgotten", "done"), step(2, "power-off", "started"),
              ("manual", {"step": "power-off", "answer": "done", "powered_off": ["plot5"]}))
    point = interrupted_run(records_of(path), path)
    assert point.acted == "power-off" and point.powered_off == ("plot5",)


def test_a_stopped_run_is_resumable_and_repeats_its_step(tmp_path):
    path = tmp_path / "incident.jsonl"
    write_run(path, step(1, "promote", "started"), ("command-start", {"id": "c-1", "step": "promote"}),
              ("command-end", {"id": "c-1", "exit_status": 0}),
              ("playbook-end", {"outcome": "stopped", "reason": "plot2 never answered as master"}))
    point = interrupted_run(records_of(path), path)
    assert point.state == "stopped" and point.reason == "plot2 never answered as master"
    assert point.acted is None


@pytest.mark.parametrize("outcome", ["done", "healthy", "not-applicable", "incomplete", "abandoned"])
def test_finished_runs_are_not_offered(tmp_path, outcome):
    path = tmp_path / "incident.jsonl"
    write_run(path, step(1, "promote", "done"), ("playbook-end", {"outcome": outcome}))
    assert interrupted_run(records_of(path), path) is None


def test_the_newest_unfinished_run_is_found_across_journals(tmp_path):
    old, new = tmp_path / "incident-1.jsonl", tmp_path / "incident-2.jsonl"
    write_run(old, step(0, "restart-hung-master", "skipped"), run="old")
    write_run(new, step(1, "promote", "done"), ("playbook-end", {"outcome": "done"}), run="new")
    os.utime(old, (1, 1))
    assert journals(tmp_path) == [new, old]
    point = find_interrupted(tmp_path, max_age=float("inf"))
    assert point is not None and point.run == "old" and point.path == old
    assert find_interrupted(tmp_path) is None  # a day-old interruption is history, not today's incident
    assert find_interrupted(tmp_path / "nothing-here") is None
