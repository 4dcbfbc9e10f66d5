"""An incident journal as a timeline (``poolterm report``), as data, markdown or JSON.

What was seen (verdict changes), what was run (each command, on which host, by
whom, with what result and output), what the guards refused and who overrode
them, how each playbook went step by step, and how long recovery took: from
the first verdict that was not healthy to the first healthy one after it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Callable

from poolterm.actions import records as rec
from poolterm.actions.journal import JournalFile
from poolterm.actions.records import Entry, operator_of

#: Output lines of a command quoted in the markdown timeline (the JSON keeps them all).
OUTPUT_LINES = 6


# --------------------------------------------------------------------------- the report as data


def build_report(contents: JournalFile) -> dict:
    entries = rec.entries(contents.records)
    first, last = entries[0], entries[-1]
    report: dict = {
        "journal": str(contents.path),
        "records": len(entries),
        "torn_last_line": contents.torn,
        "unreadable_lines": contents.bad_lines,
        "started": first.at,
        "ended": last.at,
        "seconds": round(last.t - first.t, 3),
        "operators": sorted({who for e in entries if (who := operator_of(e.record))}),
        "jump_hosts": sorted({e.record.jump_host for e in entries
                              if isinstance(e.record, rec.Session) and e.record.jump_host}),
        "verdicts": [_verdict(e, e.record) for e in entries if isinstance(e.record, rec.PoolVerdict)],
        "playbooks": _playbooks(entries),
        "commands": _commands(entries),
        "refusals": [_refusal(e, e.record) for e in entries if isinstance(e.record, rec.Refusal)],
        "overrides": [_override(e, e.record) for e in entries if isinstance(e.record, rec.Override)],
        "drills": [_drill(e, e.record) for e in entries if isinstance(e.record, rec.DrillScored)],
        "host_keys": [_host_key(e, e.record) for e in entries if isinstance(e.record, rec.HostKeyDecision)],
        "notes": [{"at": e.at, "operator": e.record.operator, "role": e.record.role, "text": e.record.text,
                   "takeover": e.record.takeover} for e in entries if isinstance(e.record, rec.Note)],
    }
    report["recovery"] = _recovery(report["verdicts"])
    report["timeline"] = _timeline(entries, first.t)
    return report


def _verdict(e: Entry, r: rec.PoolVerdict) -> dict:
    return {"at": e.at, "pool": r.pool, "verdict": r.verdict, "master": r.master, "summary": r.summary}


def _refusal(e: Entry, r: rec.Refusal) -> dict:
    return {"at": e.at, "host": r.host, "command": r.command, "rule": r.rule, "reason": r.reason,
            "instead": r.instead, "operator": r.operator, "run": r.run, "step": r.step}


def _override(e: Entry, r: rec.Override) -> dict:
    return {"at": e.at, "host": r.host, "command": r.command, "rule": r.rule, "reason": r.reason,
            "accepted": r.accepted, "operator": r.operator}


def _drill(e: Entry, r: rec.DrillScored) -> dict:
    return {"at": e.at, "drill": r.drill, "operator": r.operator, "outcome": r.outcome, "seconds": r.seconds,
            "elapsed": r.elapsed, "refusals": r.refusals, "overrides": r.overrides, "skipped": r.skipped,
            "commands": r.commands, "changes": r.changes, "promotions": r.promotions}


def _host_key(e: Entry, r: rec.HostKeyDecision) -> dict:
    return {"at": e.at, "host": r.host, "known_as": r.known_as, "was": r.was, "offered": r.offered,
            "recorded": r.recorded or [], "trusted": r.trusted, "known_hosts": r.known_hosts, "operator": r.operator}


def _playbooks(entries: list[Entry]) -> list[dict]:
    runs: dict[str | None, dict] = {}
    for e in entries:
        r = e.record
        if isinstance(r, rec.PlaybookStart):
            runs[r.run] = {"run": r.run, "playbook": r.playbook, "pool": r.pool, "operator": r.operator,
                           "started": e.at, "bindings": r.bindings, "steps": [], "resumed": [], "outcome": None,
                           "reason": None, "ended": None}
        elif rec.run_of(r) not in runs:
            continue
        elif isinstance(r, rec.PlaybookResume):
            runs[r.run]["resumed"].append({"at": e.at, "operator": r.operator, "index": r.index})
        elif isinstance(r, rec.StepStatus) and r.status != "fact":
            runs[r.run]["steps"].append({"at": e.at, "index": r.index, "step": r.step, "title": r.title,
                                         "status": r.status, "detail": r.detail})
        elif isinstance(r, rec.PlaybookEnd):
            runs[r.run].update(outcome=r.outcome, reason=r.reason, advice=r.advice, ended=e.at)
    for item in runs.values():
        if item["ended"]:
            item["seconds"] = _seconds_between(item["started"], item["ended"])
        else:
            item["outcome"] = "interrupted"
    return list(runs.values())


def _commands(entries: list[Entry]) -> list[dict]:
    commands: dict[str | None, dict] = {}
    for e in entries:
        r = e.record
        if isinstance(r, rec.CommandStart):
            commands[r.id] = {"id": r.id, "host": r.host, "command": r.command, "operator": r.operator,
                              "changes_pool": r.changes_pool, "run": r.run, "step": r.step, "query": r.query,
                              "started": e.at, "ended": None, "exit_status": None, "error": None,
                              "seconds": None, "output": []}
        elif isinstance(r, rec.OutputLine) and r.id in commands:
            commands[r.id]["output"].append(_line(r))
        elif isinstance(r, rec.CommandEnd) and r.id in commands:
            commands[r.id].update(ended=e.at, exit_status=r.exit_status, error=r.error or None, seconds=r.seconds,
                                  deadline_hit=r.deadline_hit)
    return list(commands.values())


def _line(r: rec.OutputLine) -> str:
    return r.line if r.line is not None else ""


def _recovery(verdicts: list[dict]) -> dict | None:
    broken = next((v for v in verdicts if v["verdict"] != "healthy"), None)
    if broken is None:
        return None
    later = verdicts[verdicts.index(broken) + 1:]
    healed = next((v for v in later if v["verdict"] == "healthy"), None)
    result = {"broken_at": broken["at"], "first_verdict": broken["verdict"], "summary": broken["summary"],
              "healthy_at": healed["at"] if healed else None, "seconds": None}
    if healed:
        result["seconds"] = _seconds_between(broken["at"], healed["at"])
    return result


def _seconds_between(start: str, end: str) -> float:
    return round((_parse_time(end) - _parse_time(start)).total_seconds(), 3)


def _parse_time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


# --------------------------------------------------------------------------- the timeline


def _timeline(entries: list[Entry], start: float) -> list[dict]:
    ends = {e.record.id: e.record for e in entries if isinstance(e.record, rec.CommandEnd) and e.record.id is not None}
    outputs: dict[str, list[str]] = {}
    for e in entries:
        if isinstance(e.record, rec.OutputLine):
            outputs.setdefault(e.record.id if e.record.id is not None else "", []).append(_line(e.record))
    timeline = []
    for e in entries:
        describe = _DESCRIBE.get(type(e.record))
        text = describe(e.record, ends) if describe is not None else None
        if text is None:
            continue
        item = {"at": e.at, "offset": round(e.t - start, 3), "kind": e.kind, "who": operator_of(e.record),
                "text": text}
        if isinstance(e.record, rec.CommandStart):
            item["output"] = outputs.get(e.record.id, [])  # type: ignore[arg-type]
        timeline.append(item)
    return timeline


def _index(index: int | None) -> int:
    """A step's number as people count: the journal's index is 0-based."""
    return (index or 0) + 1


def _session(r: rec.Session, ends: dict) -> str:
    return f"{r.operator} started poolterm on {r.jump_host}"


def _pool_verdict(r: rec.PoolVerdict, ends: dict) -> str:
    return f"verdict {_title(r.verdict)} (pool {r.pool}): {r.summary}"


def _playbook_start(r: rec.PlaybookStart, ends: dict) -> str:
    targets = ", ".join(f"{k}={_hosts(v)}" for k, v in (r.bindings or {}).items())
    return f"{r.operator} started playbook {r.playbook} on pool {r.pool}" + (f" ({targets})" if targets else "")


def _playbook_resume(r: rec.PlaybookResume, ends: dict) -> str:
    return f"{r.operator} resumed playbook {r.playbook} at step {_index(r.index)}"


def _step(r: rec.StepStatus, ends: dict) -> str | None:
    if r.status == "fact":
        return None
    head = f"step {_index(r.index)} {r.title}"
    if r.status == "started":
        return f"{head}: started"
    return f"{head}: {r.status}" + (f" ({r.detail})" if r.detail else "")


def _command_start(r: rec.CommandStart, ends: dict[str, rec.CommandEnd]) -> str:
    end = ends.get(r.id) if r.id is not None else None
    return f"{r.operator} ran on {r.host}: `{r.command}` -> {_result(end)}"


def _confirmation(r: rec.Confirmation, ends: dict) -> str:
    return f"{r.operator} {'confirmed' if r.answer else 'declined'} `{r.command}` on {r.host}" + \
        (" (--yes)" if r.by == "--yes" else "")


def _refused(r: rec.Refusal, ends: dict) -> str:
    return f"REFUSED `{r.command}` on {r.host}: {r.reason} Instead: {r.instead}"


def _overridden(r: rec.Override, ends: dict) -> str:
    verdict = "accepted" if r.accepted else "not accepted"
    return f"OVERRIDE by {r.operator} of {r.rule} on {r.host} ({verdict}): {r.reason}"


def _manual(r: rec.ManualAnswer, ends: dict) -> str:
    return f"{r.operator} answered {r.answer!r} to manual step {_index(r.index)}"


def _playbook_end(r: rec.PlaybookEnd, ends: dict) -> str:
    return f"playbook {(r.outcome or '').upper()}: {r.reason}"


def _host_key_decision(r: rec.HostKeyDecision, ends: dict) -> str:
    decision = "TRUSTED" if r.trusted else "did not trust"
    before = "; known_hosts had " + ", ".join(r.recorded) if r.recorded else ""
    return f"{r.operator} {decision} the {r.was} host key of {r.host} ({r.known_as}): {r.offered}{before}"


def _note(r: rec.Note, ends: dict) -> str:
    if r.takeover:
        return f"{r.operator} TAKES THE WHEEL from {r.takeover}: {r.text}"
    return f"{r.operator}: {r.text}"


def _wheel(r: rec.Wheel, ends: dict) -> str:
    reason = f": {r.reason}" if r.reason else ""
    if r.event == "took":
        before = f" from {r.previous}" if r.previous else ""
        return f"{r.operator} took the wheel{before} (on {r.jump_host}, pid {r.pid}){reason}"
    if r.event == "released":
        return f"{r.operator} let go of the wheel for a takeover{reason}"
    return f"{r.operator} passed the wheel: anyone may take it{reason}"


def describe(record: rec.Record) -> str | None:
    """What the timeline says of one record, read on its own (a command's end is not known yet)."""
    text = _DESCRIBE.get(type(record))
    return text(record, {}) if text is not None else None


def _drill_start(r: rec.DrillStart, ends: dict) -> str:
    return f"DRILL {r.drill}: the simulator injected the fault; {r.operator} recovers the pool"


def _drill_scored(r: rec.DrillScored, ends: dict) -> str:
    return f"DRILL {r.drill} scored: {_drill_result(_drill_fields(r))}"


def _journal_gap(r: rec.JournalGap, ends: dict) -> str:
    seqs = ", ".join(f"{first}" if first == last else f"{first}-{last}" for first, last in r.seqs)
    return f"the journal lost {r.lost} records (seq {seqs}): {r.reason}"


def _drill_fields(r: rec.DrillScored) -> dict:
    return {"seconds": r.seconds, "elapsed": r.elapsed, "refusals": r.refusals, "overrides": r.overrides,
            "skipped": r.skipped, "commands": r.commands, "changes": r.changes}


#: What the timeline says of each kind; a kind not here (a command's output, a manual step's
#: question, a line of an unknown kind) is not a line of its own.
_DESCRIBE: dict[type[rec.Record], Callable[..., str | None]] = {
    rec.Session: _session, rec.PoolVerdict: _pool_verdict, rec.PlaybookStart: _playbook_start,
    rec.PlaybookResume: _playbook_resume, rec.StepStatus: _step, rec.CommandStart: _command_start,
    rec.Confirmation: _confirmation, rec.Refusal: _refused, rec.Override: _overridden, rec.ManualAnswer: _manual,
    rec.PlaybookEnd: _playbook_end, rec.Note: _note, rec.Wheel: _wheel, rec.HostKeyDecision: _host_key_decision,
    rec.DrillStart: _drill_start,
    rec.DrillScored: _drill_scored,
    rec.JournalGap: _journal_gap,
}


def _drill_result(score: dict) -> str:
    """A drill's score in words, from the report's drill fields."""
    seconds = score.get("seconds")
    done = f"recovered in {_duration(seconds)}" if isinstance(seconds, (int, float)) else \
        f"not recovered (quit after {_duration(score.get('elapsed') or 0)})"
    return (f"{done}; {score.get('refusals')} guard refusal(s), {score.get('overrides')} overridden; "
            f"{score.get('skipped')} step(s) skipped; {score.get('commands')} command(s), "
            f"{score.get('changes')} changing the pool")


def _result(end: rec.CommandEnd | None) -> str:
    if end is None:
        return "no end recorded (interrupted)"
    seconds = f" in {end.seconds:g} s" if isinstance(end.seconds, (int, float)) else ""
    if end.error:
        return f"failed: {end.error}{seconds}"
    if end.deadline_hit:
        return f"timed out{seconds}"
    return f"exit {end.exit_status}{seconds}"


def _title(verdict: str | None) -> str:
    return (verdict or "unknown").replace("-", " ").upper()


def _hosts(value: object) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value)


# --------------------------------------------------------------------------- markdown

_BACKTICKS = re.compile("`+")


def render_markdown(report: dict) -> str:
    pools = sorted({v["pool"] for v in report["verdicts"] if v.get("pool")}
                   | {p["pool"] for p in report["playbooks"] if p.get("pool")})
    lines = [f"# Incident report{': pool ' + ', '.join(pools) if pools else ''}", ""]
    lines.append(f"- Journal: `{report['journal']}` ({report['records']} records"
                 + (", last line torn: the writer was killed mid-line" if report["torn_last_line"] else "") + ")")
    lines.append(f"- From {report['started']} to {report['ended']} ({_duration(report['seconds'])}); "
                 "times below are UTC")
    lines.append(f"- Operators: {', '.join(report['operators']) or 'unknown'}; "
                 f"jump host: {', '.join(report['jump_hosts']) or 'unknown'}")
    lines += ["", "## Summary", ""]
    lines += _summary(report)
    lines += ["", "## Timeline", ""]
    for entry in report["timeline"]:
        lines.append(f"- **{_clock(entry['at'])}** (+{_offset(entry['offset'])}) {entry['text']}")
        output = entry.get("output") or []
        if output:
            shown = output[:OUTPUT_LINES]
            fence = _fence(shown)
            lines.append(f"  {fence}")
            lines += [f"  {line}" for line in shown]
            if len(output) > len(shown):
                lines.append(f"  ... {len(output) - len(shown)} more lines")
            lines.append(f"  {fence}")
    return "\n".join(lines) + "\n"


def _fence(lines: list[str]) -> str:
    """A code fence no line inside can close: longer than any run of backticks in them (CommonMark)."""
    longest = max((len(run) for line in lines for run in _BACKTICKS.findall(line)), default=0)
    return "`" * max(3, longest + 1)


def _summary(report: dict) -> list[str]:
    lines = []
    recovery = report["recovery"]
    if recovery is None:
        lines.append("- No problem was seen: every verdict was HEALTHY.")
    else:
        lines.append(f"- First seen: {_title(recovery['first_verdict'])} at {_clock(recovery['broken_at'])}: "
                     f"{recovery['summary']}")
        if recovery["healthy_at"]:
            lines.append(f"- Healthy again at {_clock(recovery['healthy_at'])}: recovery took "
                         f"{_duration(recovery['seconds'])}.")
        else:
            lines.append("- Not healthy again by the end of the journal.")
    for run in report["playbooks"]:
        took = f" in {_duration(run['seconds'])}" if run.get("seconds") is not None else ""
        resumed = f", resumed {len(run['resumed'])} time(s)" if run["resumed"] else ""
        lines.append(f"- Playbook {run['playbook']} by {run['operator']}: {(run['outcome'] or '').upper()}{took}"
                     f"{resumed}" + (f": {run['reason']}" if run.get("reason") else ""))
    for drill in report["drills"]:
        lines.append(f"- Drill {drill['drill']} by {drill['operator']}: {_drill_result(drill)}.")
    for key in report["host_keys"]:
        lines.append(f"- Host key of {key['host']} ({key['was']}): {'trusted' if key['trusted'] else 'not trusted'} "
                     f"by {key['operator']}: {key['offered']}"
                     + (f" (was {', '.join(key['recorded'])})" if key["recorded"] else ""))
    commands = report["commands"]
    changed = [c for c in commands if c.get("changes_pool")]
    failed = [c for c in commands if c["exit_status"] != 0]
    lines.append(f"- Commands: {len(commands)} run, {len(changed)} changing the pool, {len(failed)} not "
                 f"successful; {len(report['refusals'])} refused by the guards; "
                 f"{len(report['overrides'])} override attempt(s).")
    return lines


def _clock(stamp: str) -> str:
    return _parse_time(stamp).strftime("%H:%M:%S")


def _offset(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    whole = int(round(seconds))
    if whole < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"
