"""The journal's typed records: each kind round-trips through a real journal file, writes the very
line the keyword form wrote, reads old lines with unknown keys, and reports as before.

The report's golden files (tests/unit/data/incident-report.*) were rendered from the same
incident by the report module as it was before the records had types.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from poolterm.actions import journal as journal_module
from poolterm.actions import records as rec
from poolterm.actions.journal import Journal, interrupted_run, read_journal
from poolterm.actions.report import build_report, render_markdown

DATA = Path(__file__).parent / "data"
START = 1767225600.0  # 2026-01-01T00:00:00Z
CONTEXT = {"run": "r1", "step": "promote", "index": 1}
CONSOLE = {"source": "console"}

#: One record of every kind as its writer builds it, beside the keywords that writer passed
#: before records had types (in that writer's order): the line must not change.
EXAMPLES: list[tuple[rec.Record, str, dict]] = [
    (rec.PoolVerdict(pool="lab", verdict="master-lost", severity="critical", master=None,
                     summary="Master plot1 is lost"),
     "verdict", dict(pool="lab", verdict="master-lost", severity="critical", master=None,
                     summary="Master plot1 is lost")),
    (rec.PlaybookStart(run="r1", playbook="master-lost", pool="lab", target=None,
                       bindings={"old_master": "plot1", "slaves": ["plot3", "plot4"]}, operator="alice",
                       verdict="master-lost"),
     "playbook-start", dict(run="r1", playbook="master-lost", pool="lab", target=None,
                            bindings={"old_master": "plot1", "slaves": ["plot3", "plot4"]}, operator="alice",
                            verdict="master-lost")),
    (rec.PlaybookResume(run="r1", playbook="master-lost", pool="lab", index=4, step=None, acted=False,
                        operator="bob"),
     "playbook-resume", dict(run="r1", playbook="master-lost", pool="lab", index=4, step=None, acted=False,
                             operator="bob")),
    (rec.StepStatus(run="r1", index=1, step="promote", title="Promote plot2", status="started",
                    detail="the best candidate", host="plot2"),
     "step", dict(run="r1", index=1, step="promote", title="Promote plot2", status="started",
                  detail="the best candidate", host="plot2")),
    (rec.ManualAsk(run="r1", step="power-on", index=3, text="Power plot1 on"),
     "manual-ask", dict(run="r1", step="power-on", index=3, text="Power plot1 on")),
    (rec.ManualAnswer(run="r1", step="power-on", index=3, answer="done", operator="alice", powered_off=["plot5"]),
     "manual", dict(run="r1", step="power-on", index=3, answer="done", operator="alice", powered_off=["plot5"])),
    (rec.PlaybookEnd(run="r1", outcome="abandoned", reason="the operator started afresh", advice="", index=None),
     "playbook-end", dict(run="r1", outcome="abandoned", reason="the operator started afresh", advice="",
                          index=None)),
    (rec.Confirmation(host="plot2", command="xe pool-recover-slaves", text="Recover the slaves", answer=True,
                      by="--yes", operator="alice", **CONTEXT),
     "confirm", dict(host="plot2", command="xe pool-recover-slaves", text="Recover the slaves", answer=True,
                     by="--yes", operator="alice", **CONTEXT)),
    (rec.Refusal(host="plot1", command="xe host-shutdown", rule="master-alive", reason="plot1 is the master.",
                 instead="Promote first.", protects="plot1", operator="alice", **CONTEXT, query="ha-enabled"),
     "refused", dict(host="plot1", command="xe host-shutdown", rule="master-alive", reason="plot1 is the master.",
                     instead="Promote first.", protects="plot1", operator="alice", **CONTEXT, query="ha-enabled")),
    (rec.Refusal(host="plot1", command="xe vm-list", rule="console", reason="read-only", operator="alice",
                 source="console"),
     "refused", dict(host="plot1", command="xe vm-list", rule="console", reason="read-only", operator="alice",
                     source="console")),
    (rec.Override(host="plot1", command="xe host-shutdown", rule="master-alive", typed="plot1", reason="it is off",
                  accepted=True, operator="alice", **CONSOLE),
     "override", dict(host="plot1", command="xe host-shutdown", rule="master-alive", typed="plot1",
                      reason="it is off", accepted=True, operator="alice", **CONSOLE)),
    (rec.CommandStart(id="s-1", host="plot2", command="xe pool-list", remote="timeout -k 2 20 xe pool-list",
                      changes_pool=False, operator="alice"),
     "command-start", dict(id="s-1", host="plot2", command="xe pool-list", remote="timeout -k 2 20 xe pool-list",
                           changes_pool=False, operator="alice")),
    (rec.HostKeyDecision(host="plot3", known_as="10.0.0.3", was="changed",
                         offered="256 SHA256:new 10.0.0.3 (ED25519)", recorded=["256 SHA256:old 10.0.0.3 (ED25519)"],
                         trusted=True, known_hosts="/root/.ssh/known_hosts", operator="alice"),
     "host-key", dict(host="plot3", known_as="10.0.0.3", was="changed", offered="256 SHA256:new 10.0.0.3 (ED25519)",
                      recorded=["256 SHA256:old 10.0.0.3 (ED25519)"], trusted=True,
                      known_hosts="/root/.ssh/known_hosts", operator="alice")),
    (rec.Note(operator="bob", role="follower", text="check plot1's iLO before promoting"),
     "note", dict(operator="bob", role="follower", text="check plot1's iLO before promoting")),
    (rec.Note(operator="bob", role="follower", text="alice is off the call", takeover="alice"),
     "note", dict(operator="bob", role="follower", text="alice is off the call", takeover="alice")),
    (rec.Wheel(event="took", operator="bob", jump_host="jump1", pid=42, reason="alice's console died",
               previous="alice"),
     "wheel", dict(event="took", operator="bob", jump_host="jump1", pid=42, reason="alice's console died",
                   previous="alice")),
    (rec.JournalGap(lost=2, seqs=[[7, 8]], reason="No space left on device"),
     "journal-gap", dict(lost=2, seqs=[[7, 8]], reason="No space left on device")),
    (rec.OutputLine(id="s-1", stream="stdout", line="uuid ( RO): 1234"),
     "output", dict(id="s-1", stream="stdout", line="uuid ( RO): 1234")),
    (rec.CommandEnd(id="s-1", host="plot2", exit_status=None, deadline_hit=False, error="cancelled by the operator",
                    seconds=None, source="console"),
     "command-end", dict(id="s-1", host="plot2", exit_status=None, deadline_hit=False,
                         error="cancelled by the operator", seconds=None, source="console")),
    (rec.Session(operator="alice", jump_host="jump1", pid=42, argv=["poolterm", "console"], version=1),
     "session", dict(operator="alice", jump_host="jump1", pid=42, argv=["poolterm", "console"], version=1)),
    (rec.DrillStart(drill="master-shutdown", operator="alice"),
     "drill-start", dict(drill="master-shutdown", operator="alice")),
    (rec.DrillScored(operator="alice", drill="master-shutdown", outcome="recovered", seconds=41.5, elapsed=44.0,
                     refusals=1, overrides=0, skipped=2, commands=5, changes=2, promotions=0),
     "drill", dict(operator="alice", drill="master-shutdown", outcome="recovered", seconds=41.5, elapsed=44.0,
                   refusals=1, overrides=0, skipped=2, commands=5, changes=2, promotions=0)),
]


class Clock:
    """The journal's clock, stepping a second per record: reports of the same incident are alike."""

    def __init__(self) -> None:
        self.now = START

    def time(self) -> float:
        self.now += 1.0
        return self.now

    @staticmethod
    def monotonic() -> float:
        return 0.0


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(journal_module, "time", fake)
    monkeypatch.setattr(journal_module.socket, "gethostname", lambda: "jump1")
    return fake


def open_journal(path: Path) -> Journal:
    journal = Journal.open(path, operator="alice", argv=["poolterm", "playbook", "run", "master-lost"])
    journal.session = "s"
    return journal


def lines_after_session(path: Path) -> list[str]:
    return path.read_text().splitlines()[1:]


def test_every_kind_has_an_example_and_one_class():
    assert {type(record) for record, _, _ in EXAMPLES} == set(rec.KINDS.values())
    assert all(rec.KINDS[kind] is type(record) for record, kind, _ in EXAMPLES)


@pytest.mark.parametrize(("record", "kind", "fields"), EXAMPLES, ids=lambda v: getattr(v, "KIND", None))
def test_a_record_round_trips_through_a_journal_file(tmp_path, clock, record, kind, fields):
    path = tmp_path / "j.jsonl"
    journal = open_journal(path)
    written = journal.write(record)
    journal.close()
    entry = rec.entry(read_journal(path).records[-1])
    assert entry.record == record
    assert (entry.kind, entry.at, entry.t, entry.seq) == (kind, written["at"], written["t"], 2)


@pytest.mark.parametrize(("record", "kind", "fields"), EXAMPLES, ids=lambda v: getattr(v, "KIND", None))
def test_a_typed_record_writes_the_line_the_keywords_wrote(tmp_path, clock, record, kind, fields):
    typed, loose = tmp_path / "typed.jsonl", tmp_path / "loose.jsonl"
    for path, write in ((typed, lambda j: j.write(record)), (loose, lambda j: j.write(kind, **fields))):
        clock.now = START
        journal = open_journal(path)
        write(journal)
        journal.close()
    assert lines_after_session(typed) == lines_after_session(loose)


def test_secrets_are_redacted_from_typed_records_too(tmp_path, clock):
    path = tmp_path / "j.jsonl"
    journal = open_journal(path)
    command = "xe pool-join master-address=10.0.0.1 master-password='Lab root pw'"
    journal.write(rec.CommandStart(id="s-1", host="plot5", command=command, remote=f"timeout 5 {command}",
                                   changes_pool=True, operator="alice"))
    journal.close()
    assert "Lab root pw" not in path.read_text()
    start = rec.entry(read_journal(path).records[-1]).record
    assert isinstance(start, rec.CommandStart) and start.command.endswith("master-password=<redacted>")


def test_a_typed_record_takes_no_loose_fields_besides(tmp_path, clock):
    journal = open_journal(tmp_path / "j.jsonl")
    with pytest.raises(TypeError):
        journal.write(rec.DrillStart(drill="cable-pull", operator="alice"), extra=1)
    journal.close()


def test_an_old_line_with_an_unknown_field_and_missing_ones_still_reads():
    line = {"at": "2025-06-01T10:00:00.000Z", "t": 1748772000.0, "kind": "command-end", "session": "old",
            "seq": 9, "id": "old-3", "exit_status": 0, "retries": 2}
    entry = rec.entry(line)
    assert entry.kind == "command-end" and entry.session == "old" and entry.seq == 9
    assert entry.record == rec.CommandEnd(id="old-3", host=None, exit_status=0, deadline_hit=None, error=None,
                                          seconds=None)


def test_a_line_of_a_kind_this_version_does_not_know_is_kept_whole():
    line = {"at": "2027-01-01T00:00:00.000Z", "t": 1798761600.0, "kind": "snapshot", "operator": "carol",
            "run": "r9", "host": "plot1"}
    entry = rec.entry(line)
    assert entry.record == rec.Unknown(line)
    assert rec.operator_of(entry.record) == "carol" and rec.run_of(entry.record) == "r9"


def test_the_resume_point_reads_typed_records_from_an_old_journal_line_by_line(tmp_path):
    """Old lines: an extra key on every record; the resume point is still found."""
    path = tmp_path / "old.jsonl"
    lines = [
        {"kind": "playbook-start", "run": "r1", "playbook": "master-lost", "pool": "lab", "bindings": {},
         "operator": "alice"},
        {"kind": "step", "run": "r1", "index": 0, "step": "check", "title": "Check", "status": "done"},
        {"kind": "step", "run": "r1", "index": 1, "step": "promote", "title": "Promote", "status": "started"},
        {"kind": "command-start", "run": "r1", "step": "promote", "id": "c-1", "host": "plot2"},
        {"kind": "command-end", "run": "r1", "step": "promote", "id": "c-1", "exit_status": 0},
    ]
    path.write_text("".join(json.dumps({"at": f"2025-06-01T10:00:0{i}.000Z", "t": 1748772000.0 + i, **line,
                                        "legacy": True}) + "\n" for i, line in enumerate(lines)))
    point = interrupted_run(read_journal(path).records, path)
    assert point is not None and point.completed == ("check",) and point.acted == "promote"
    assert point.started == "2025-06-01T10:00:00.000Z" and point.operator == "alice"


# ---- the report of an incident written with typed records: as before ---------------------------------


def incident(journal: Journal) -> None:
    """A master-lost incident as the writers journal it: a verdict, a playbook run with a query, a
    confirmed command, a refusal and its override, a manual step, a stop and a resume, the console's
    own refusal and a cancelled command, a drill, and a line of a kind from a newer poolterm."""
    write = journal.write
    run = {"run": "r1"}
    write(rec.DrillStart(drill="master-shutdown", operator="alice"))
    write(rec.PoolVerdict(pool="lab", verdict="master-lost", severity="critical", master=None,
                          summary="Master plot1 is lost"))
    write(rec.PlaybookStart(run="r1", playbook="master-lost", pool="lab", target=None,
                            bindings={"old_master": "plot1", "candidate": "plot2", "slaves": ["plot3", "plot4"]},
                            operator="alice", verdict="master-lost"))
    write(rec.StepStatus(**run, index=0, step="check", title="Check plot1 is gone", status="started",
                         detail="A master that answers must not be replaced.", host=None))
    promote = {**run, "step": "check", "index": 0}
    write(rec.CommandStart(id="s-1", host="plot2", command="xe pool-list", remote="timeout -k 2 10 xe pool-list",
                           changes_pool=False, operator="alice", **promote, query="ha-enabled"))
    write(rec.OutputLine(id="s-1", stream="stdout", line="ha-enabled ( RO): false"))
    write(rec.CommandEnd(id="s-1", host="plot2", exit_status=0, deadline_hit=False, error="", seconds=0.4, **promote,
                         query="ha-enabled"))
    write(rec.StepStatus(**run, index=0, step="check", title="Check plot1 is gone", status="fact",
                         detail="HA is off", host=None))
    write(rec.StepStatus(**run, index=0, step="check", title="Check plot1 is gone", status="done",
                         detail="plot1 does not answer", host=None))
    step = {**run, "step": "promote", "index": 1}
    write(rec.StepStatus(**run, index=1, step="promote", title="Promote plot2", status="started",
                         detail="plot2 is the best candidate", host="plot2"))
    write(rec.Refusal(host="plot1", command="xe host-shutdown host=plot1", rule="master-alive",
                      reason="plot1 may still be the master.", instead="Promote plot2 first.", protects="plot1",
                      operator="alice", **step))
    write(rec.Override(host="plot1", command="xe host-shutdown host=plot1", rule="master-alive", typed="plot1",
                       reason="it is powered off", accepted=False, operator="alice", **step))
    write(rec.Confirmation(host="plot2", command="xe pool-emergency-transition-to-master",
                           text="Promote plot2", answer=True, by="--yes", operator="alice", **step))
    write(rec.CommandStart(id="s-2", host="plot2", command="xe pool-emergency-transition-to-master",
                           remote="timeout -k 2 30 xe pool-emergency-transition-to-master", changes_pool=True,
                           operator="alice", **step))
    for n in range(8):
        write(rec.OutputLine(id="s-2", stream="stdout", line=f"line {n}"))
    write(rec.CommandEnd(id="s-2", host="plot2", exit_status=0, deadline_hit=False, error="", seconds=1.25, **step))
    write(rec.StepStatus(**run, index=1, step="promote", title="Promote plot2", status="done",
                         detail="plot2 is master", host="plot2"))
    write(rec.ManualAsk(**run, step="power-on", index=2, text="Power plot1 on"))
    write(rec.ManualAnswer(**run, step="power-on", index=2, answer="stop", operator="alice", powered_off=[]))
    write(rec.PlaybookEnd(**run, outcome="stopped", reason="The operator stopped at step 3.",
                          advice="Resume it later.", index=2))
    write(rec.PlaybookResume(**run, playbook="master-lost", pool="lab", index=2, step="power-on", acted=False,
                             operator="bob"))
    write(rec.StepStatus(**run, index=2, step="power-on", title="Power plot1 on", status="resumed",
                         detail="after a stop", host=None))
    write(rec.ManualAnswer(**run, step="power-on", index=2, answer="done", operator="bob", powered_off=["plot1"]))
    write(rec.StepStatus(**run, index=2, step="power-on", title="Power plot1 on", status="skipped", detail="",
                         host=None))
    recover = {**run, "step": "recover", "index": 3}
    write(rec.CommandStart(id="s-3", host="plot2", command="xe pool-recover-slaves",
                           remote="timeout -k 2 30 xe pool-recover-slaves", changes_pool=True, operator="bob",
                           **recover))
    write(rec.CommandEnd(id="s-3", host="plot2", exit_status=None, deadline_hit=True, error="", seconds=35.0,
                         **recover))
    write(rec.CommandStart(id="s-4", host="plot2", command="xe pool-recover-slaves",
                           remote="timeout -k 2 30 xe pool-recover-slaves", changes_pool=True, operator="bob",
                           **recover))
    write(rec.CommandEnd(id="s-4", host="plot2", exit_status=None, deadline_hit=False,
                         error="timeout: no answer within 5 s", seconds=5.0, **recover))
    write(rec.PlaybookEnd(**run, outcome="done", reason="The pool has a master again.", advice="", index=None))
    write(rec.PoolVerdict(pool="lab", verdict="healthy", severity="ok", master="plot2", summary="All is well"))
    write(rec.Refusal(host="plot3", command="xe vm-list", rule="console", reason="read-only session",
                      operator="bob", source="console"))
    write(rec.CommandStart(id="s-5", host="plot3", command="xe host-list", remote="timeout -k 2 20 xe host-list",
                           changes_pool=False, operator="bob", source="console"))
    write(rec.CommandEnd(id="s-5", host="plot3", exit_status=None, deadline_hit=False,
                         error="cancelled by the operator", seconds=None, source="console"))
    write(rec.CommandStart(id="s-6", host="plot4", command="xe vm-list", remote="timeout -k 2 20 xe vm-list",
                           changes_pool=False, operator="bob", source="console"))
    write(rec.Note(operator="bob", role="follower", text="check plot1's iLO before promoting"))
    write(rec.Wheel(event="took", operator="bob", jump_host="jump1", pid=4242, reason="alice's console is gone",
                    previous="alice"))
    write(rec.HostKeyDecision(host="plot5", known_as="10.0.0.5", was="changed",
                              offered="256 SHA256:n3wK3y 10.0.0.5 (ED25519)",
                              recorded=["256 SHA256:0ldK3y 10.0.0.5 (ED25519)"], trusted=True,
                              known_hosts="/home/bob/.ssh/known_hosts", operator="bob"))
    write("snapshot", operator="carol", host="plot4")  # a newer poolterm's kind: counted, not described
    write(rec.DrillScored(operator="alice", drill="master-shutdown", outcome="recovered", seconds=71.0,
                          elapsed=75.5, refusals=1, overrides=0, skipped=1, commands=5, changes=2))
    write(rec.JournalGap(lost=3, seqs=[[31, 32], [35, 35]],
                         reason="cannot write journal: No space left on device; the memory was full"))


@pytest.fixture
def incident_journal(tmp_path, clock) -> Path:
    path = tmp_path / "incident.jsonl"
    journal = open_journal(path)
    incident(journal)
    journal.close()
    return path


def golden(name: str, journal: Path) -> str:
    return (DATA / name).read_text().replace("JOURNAL", str(journal))


def test_the_report_of_typed_records_is_todays_markdown(incident_journal):
    assert render_markdown(build_report(read_journal(incident_journal))) == golden("incident-report.md",
                                                                                    incident_journal)


def test_the_report_of_typed_records_is_todays_json(incident_journal):
    report = build_report(read_journal(incident_journal))
    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    assert text == golden("incident-report.json", incident_journal)


def test_the_incident_covers_every_kind(incident_journal):
    kinds = {entry.kind for entry in rec.entries(read_journal(incident_journal).records)}
    assert kinds == set(rec.KINDS) | {"snapshot"}


def test_fields_are_named_as_the_line_names_them():
    """A record's fields are the line's keys after the envelope: none may shadow the envelope."""
    envelope = {field.name for field in dataclasses.fields(rec.Entry)} - {"record"}
    for cls in rec.KINDS.values():
        assert not envelope & {field.name for field in dataclasses.fields(cls)}, cls

