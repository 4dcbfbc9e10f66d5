"""An incident journal as a timeline (``poolterm report``), as data, markdown or JSON.

What was seen (verdict changes), what was run (each command, on which host, by
whom, with what result and output), what the guards refused and who overrode
them, how each playbook went step by step, and how long recovery took: from
the first verdict that was not healthy to the first healthy one after it.
"""

from __future__ import annotations

from datetime import datetime

from poolterm.actions.journal import JournalFile
from poolterm.diagnosis.drill import SCORE_RECORD, START_RECORD

#: Output lines of a command quoted in the markdown timeline (the JSON keeps them all).
OUTPUT_LINES = 6


# --------------------------------------------------------------------------- the report as data


def build_report(contents: JournalFile) -> dict:
    records = contents.records
    start = records[0]["t"]
    report: dict = {
        "journal": str(contents.path),
        "records": len(records),
        "torn_last_line": contents.torn,
        "unreadable_lines": contents.bad_lines,
        "started": records[0]["at"],
        "ended": records[-1]["at"],
        "seconds": round(records[-1]["t"] - start, 3),
        "operators": sorted({r["operator"] for r in records if r.get("operator")}),
        "jump_hosts": sorted({r["jump_host"] for r in records if r.get("jump_host")}),
        "verdicts": [_pick(r, "at", "pool", "verdict", "master", "summary") for r in records
                     if r["kind"] == "verdict"],
        "playbooks": _playbooks(records),
        "commands": _commands(records),
        "refusals": [_pick(r, "at", "host", "command", "rule", "reason", "instead", "operator", "run", "step")
                     for r in records if r["kind"] == "refused"],
        "overrides": [_pick(r, "at", "host", "command", "rule", "reason", "accepted", "operator") for r in records
                      if r["kind"] == "override"],
        "drills": [_pick(r, "at", "drill", "operator", "outcome", "seconds", "elapsed", "refusals", "overrides",
                         "skipped", "commands", "changes") for r in records if r["kind"] == SCORE_RECORD],
    }
    report["recovery"] = _recovery(report["verdicts"], records)
    report["timeline"] = _timeline(records, start)
    return report


def _pick(record: dict, *keys: str) -> dict:
    return {k: record.get(k) for k in keys}


def _playbooks(records: list[dict]) -> list[dict]:
    runs: dict[str, dict] = {}
    for r in records:
        run = r.get("run")
        if r["kind"] == "playbook-start":
            runs[run] = {"run": run, "playbook": r.get("playbook"), "pool": r.get("pool"),
                         "operator": r.get("operator"), "started": r["at"], "bindings": r.get("bindings"),
                         "steps": [], "resumed": [], "outcome": None, "reason": None, "ended": None}
        elif run in runs and r["kind"] == "playbook-resume":
            runs[run]["resumed"].append({"at": r["at"], "operator": r.get("operator"), "index": r.get("index")})
        elif run in runs and r["kind"] == "step" and r.get("status") != "fact":
            runs[run]["steps"].append(_pick(r, "at", "index", "step", "title", "status", "detail"))
        elif run in runs and r["kind"] == "playbook-end":
            runs[run].update(outcome=r.get("outcome"), reason=r.get("reason"), advice=r.get("advice"),
                             ended=r["at"])
    for item in runs.values():
        if item["ended"]:
            item["seconds"] = _seconds_between(item["started"], item["ended"])
        else:
            item["outcome"] = "interrupted"
    return list(runs.values())


def _commands(records: list[dict]) -> list[dict]:
    commands: dict[str, dict] = {}
    for r in records:
        if r["kind"] == "command-start":
            commands[r["id"]] = {**_pick(r, "id", "host", "command", "operator", "changes_pool", "run", "step",
                                         "query"),
                                 "started": r["at"], "ended": None, "exit_status": None, "error": None,
                                 "seconds": None, "output": []}
        elif r["kind"] == "output" and r.get("id") in commands:
            commands[r["id"]]["output"].append(r.get("line", ""))
        elif r["kind"] == "command-end" and r.get("id") in commands:
            commands[r["id"]].update(ended=r["at"], exit_status=r.get("exit_status"), error=r.get("error") or None,
                                     seconds=r.get("seconds"), deadline_hit=r.get("deadline_hit"))
    return list(commands.values())


def _recovery(verdicts: list[dict], records: list[dict]) -> dict | None:
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


def _timeline(records: list[dict], start: float) -> list[dict]:
    ends = {r["id"]: r for r in records if r["kind"] == "command-end" and "id" in r}
    outputs: dict[str, list[str]] = {}
    for r in records:
        if r["kind"] == "output":
            outputs.setdefault(r.get("id", ""), []).append(r.get("line", ""))
    entries = []
    for r in records:
        text = _describe(r, ends)
        if text is None:
            continue
        entry = {"at": r["at"], "offset": round(r["t"] - start, 3), "kind": r["kind"], "who": r.get("operator"),
                 "text": text}
        if r["kind"] == "command-start":
            entry["output"] = outputs.get(r["id"], [])
        entries.append(entry)
    return entries


def _describe(r: dict, ends: dict[str, dict]) -> str | None:
    kind = r["kind"]
    if kind == "session":
        return f"{r.get('operator')} started poolterm on {r.get('jump_host')}"
    if kind == "verdict":
        return f"verdict {_title(r.get('verdict'))} (pool {r.get('pool')}): {r.get('summary')}"
    if kind == "playbook-start":
        targets = ", ".join(f"{k}={_hosts(v)}" for k, v in (r.get("bindings") or {}).items())
        return f"{r.get('operator')} started playbook {r.get('playbook')} on pool {r.get('pool')}" + \
            (f" ({targets})" if targets else "")
    if kind == "playbook-resume":
        return f"{r.get('operator')} resumed playbook {r.get('playbook')} at step {(r.get('index') or 0) + 1}"
    if kind == "step":
        status = r.get("status")
        if status == "fact":
            return None
        head = f"step {(r.get('index') or 0) + 1} {r.get('title')}"
        detail = r.get("detail") or ""
        if status == "started":
            return f"{head}: started"
        return f"{head}: {status}" + (f" ({detail})" if detail else "")
    if kind == "command-start":
        end = ends.get(r.get("id", ""))
        return f"{r.get('operator')} ran on {r.get('host')}: `{r.get('command')}` -> {_result(end)}"
    if kind == "confirm":
        return f"{r.get('operator')} {'confirmed' if r.get('answer') else 'declined'} `{r.get('command')}` " \
               f"on {r.get('host')}" + (" (--yes)" if r.get("by") == "--yes" else "")
    if kind == "refused":
        return f"REFUSED `{r.get('command')}` on {r.get('host')}: {r.get('reason')} Instead: {r.get('instead')}"
    if kind == "override":
        verdict = "accepted" if r.get("accepted") else "not accepted"
        return f"OVERRIDE by {r.get('operator')} of {r.get('rule')} on {r.get('host')} ({verdict}): {r.get('reason')}"
    if kind == "manual":
        return f"{r.get('operator')} answered {r.get('answer')!r} to manual step {(r.get('index') or 0) + 1}"
    if kind == "playbook-end":
        return f"playbook {(r.get('outcome') or '').upper()}: {r.get('reason')}"
    if kind == START_RECORD:
        return f"DRILL {r.get('drill')}: the simulator injected the fault; {r.get('operator')} recovers the pool"
    if kind == SCORE_RECORD:
        return f"DRILL {r.get('drill')} scored: {_drill_result(r)}"
    return None


def _drill_result(r: dict) -> str:
    seconds = r.get("seconds")
    done = f"recovered in {_duration(seconds)}" if isinstance(seconds, (int, float)) else \
        f"not recovered (quit after {_duration(r.get('elapsed') or 0)})"
    return (f"{done}; {r.get('refusals')} guard refusal(s), {r.get('overrides')} overridden; "
            f"{r.get('skipped')} step(s) skipped; {r.get('commands')} command(s), {r.get('changes')} changing the pool")


def _result(end: dict | None) -> str:
    if end is None:
        return "no end recorded (interrupted)"
    seconds = f" in {end.get('seconds'):g} s" if isinstance(end.get("seconds"), (int, float)) else ""
    if end.get("error"):
        return f"failed: {end['error']}{seconds}"
    if end.get("deadline_hit"):
        return f"timed out{seconds}"
    return f"exit {end.get('exit_status')}{seconds}"


def _title(verdict: str | None) -> str:
    return (verdict or "unknown").replace("-", " ").upper()


def _hosts(value: object) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value)


# --------------------------------------------------------------------------- markdown


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
            lines.append("  ```")
            lines += [f"  {line}" for line in shown]
            if len(output) > len(shown):
                lines.append(f"  ... {len(output) - len(shown)} more lines")
            lines.append("  ```")
    return "\n".join(lines) + "\n"


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
