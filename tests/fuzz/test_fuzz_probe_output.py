"""Fuzz: whatever bytes hosts print, nothing raw reaches a terminal or a markdown file, and nothing raises.

Each example is one probe round of a four-host pool. A host prints probe output built the way
the real probe's is (``@@conf`` ... `` @@end 0`` sections) with hostile bytes inside, or mixed
with random bytes, or nothing but random bytes; or it cannot be reached, with an SSH error text
that quotes hostile words, after an earlier round that printed such output. The bytes go the
way the transport sends them: cut into chunks, through :class:`LineDecoder`, line by line into
the real :class:`ProbeParser`; then :func:`diagnose`, and every renderer of what follows:

- the terminal: ``poolterm check`` text and JSON, the banner, the grid's cells and pool headers,
  the host view (side panel and detail screen), the playbook panel in teaching mode and during
  a run of every playbook (the engine driven on the diagnosis, its commands answered with the
  host's own hostile lines, refused where the guards say so), and the narration a log pane or
  ``poolterm playbook run`` prints;
- the journal and ``poolterm report``: the verdict, the commands and their output lines, the
  playbook runs, and a line of raw bytes as an older poolterm may have written it, read back,
  built into a report and rendered as markdown and JSON.

Nothing may raise; no rendered text may hold a character a terminal or markdown viewer acts
on (:func:`poolterm.untrusted.is_safe`: C0 but tab and newline, DEL, C1, zero-width and
direction marks, separators, surrogates); a grid cell stays exactly one cell wide; a report's
code fences hold exactly the lines the report put in them.

Run with ``POOLTERM_FUZZ_EXAMPLES=10000`` for the long run (tests/helpers/fuzz.py).
"""

from __future__ import annotations

import io
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.console import Console, Group

from poolterm.actions.gate import CommandEnded, CommandOutput, CommandStarted, GuardRefused
from poolterm.actions.journal import Journal, read_journal
from poolterm.actions.records import (
    CommandEnd,
    CommandStart,
    OutputLine,
    PlaybookEnd,
    PlaybookStart,
    PoolVerdict,
    Refusal,
    StepStatus,
)
from poolterm.actions.report import OUTPUT_LINES, build_report, render_markdown
from poolterm.cli.check import render_text, to_json
from poolterm.diagnosis import guards
from poolterm.diagnosis.diagnose import diagnose
from poolterm.model import CommandResult, Diagnosis, Observation, PoolDiagnosis, Reach
from poolterm.playbooks import load_all
from poolterm.playbooks.conditions import PoolView
from poolterm.playbooks.engine import AskOperator, Engine, Finished, RunCommand, Wait, plan
from poolterm.playbooks.narrate import narrate
from poolterm.playbooks.runner import PlaybookFinished, PlaybookStarted, StepEvent, Waiting
from poolterm.probing.probe import ProbeParser
from poolterm.transport.ssh import HostUnavailable
from poolterm.ui import hostview
from poolterm.ui.banner import Badges, VerdictBanner
from poolterm.ui.grid import ASCII, CELL_WIDTH, UNICODE, cell_content, header_content
from poolterm.ui.playbook_panel import PlaybookPanel
from poolterm.ui.playbook_progress import PlaybookProgress
from poolterm.untrusted import LineDecoder, is_safe
from tests.helpers.factories import numbered_pool
from tests.helpers.fuzz import HOSTILE_BYTES, HOSTILE_TEXT, fuzz, unsafe_part

pytestmark = pytest.mark.fuzz

POOL = numbered_pool("lab", 4, lambda i: f"10.0.0.{i}")
NAMES = [h.name for h in POOL.hosts]
NOW = 10_000.0
PLAYBOOKS = load_all()
UUIDS = [f"0000000{i}-0000-4000-8000-00000000000{i}".encode() for i in range(1, 5)]
#: Pool-changing commands a front end might be asked to send; the guards' answers are rendered.
ASKED = [("xe", "pool-emergency-transition-to-master"), ("xe", "pool-recover-slaves"),
         ("xe", "host-shutdown"), ("xe", "pool-designate-new-master", f"host-uuid={UUIDS[1].decode()}")]

# --------------------------------------------------------------------------- what hosts print

piece = st.one_of(st.sampled_from(HOSTILE_BYTES), st.binary(max_size=24))
blob = st.lists(piece, max_size=12).map(b"".join)
word = st.one_of(st.sampled_from([b"master", b"slave:10.0.0.1", b"slave:10.0.0.3", b"true", b"false", b"active",
                                  *UUIDS, b"10.0.0.2"]), blob)


@st.composite
def db_record(draw) -> bytes:
    """One record of the master's ``xe host-list``, any field hostile."""
    return (b"uuid ( RO)                 : " + draw(word) + b"\n           name-label ( RW): " + draw(blob)
            + b"\n              address ( RO): " + draw(word) + b"\n              enabled ( RO): " + draw(word)
            + b"\n    host-metrics-live ( RO): " + draw(word) + b"\n\n\n")


BODIES = {
    "conf": st.one_of(word, st.tuples(st.sampled_from([b"slave:", b"master", b""]), blob).map(b"".join)),
    "inv": st.tuples(st.sampled_from([b"INSTALLATION_UUID='", b""]), word, st.sampled_from([b"'", b""])).map(b"".join),
    "db": st.lists(db_record(), max_size=5).map(b"".join),
}
SECTIONS = ["conf", "inv", "secret", "init", "svc", "emerg", "mport", "xe", "db", "zz"]
RCS = st.one_of(st.sampled_from([0, 0, 0, 1, 7, 28, 124, 137]), st.integers(0, 999))


@st.composite
def section(draw) -> bytes:
    """One probe section as the remote command prints it, hostile inside, its end marker maybe missing."""
    name = draw(st.sampled_from(SECTIONS))
    body = draw(st.one_of(BODIES.get(name, word), blob))
    out = b"@@" + name.encode() + b"\n" + body + (b"\n" if draw(st.booleans()) else b"")
    end = draw(st.sampled_from(["end", "end", "end", "none", "garbled"]))
    if end == "end":
        out += b" @@end %d\n" % draw(RCS)
    elif end == "garbled":
        out += draw(blob) + b" @@end " + draw(blob) + b"\n"
    return out


output = st.one_of(
    st.lists(section(), max_size=10).map(b"".join),
    st.lists(st.one_of(section(), blob, st.binary(max_size=64)), max_size=10).map(b"".join),
    st.binary(max_size=600),
)
SECRET = b"5" * 64
sprinkle = st.one_of(st.just(b""), st.just(b""), st.just(b""), blob.map(lambda b: b"\n" + b))


def wrap(name: str, body: bytes, rc: int = 0) -> bytes:
    return b"@@" + name.encode() + b"\n" + body + b" @@end %d\n" % rc


def choose(draw, clean: bool, normal, *others):
    """The normal value on a clean host; on another, any of the others (or the normal one) or hostile bytes."""
    if clean:
        return normal
    return draw(st.sampled_from([normal, normal, *others]) | blob)


@st.composite
def believer(draw, me: int, master: int) -> bytes:
    """What the real probe prints on host ``me`` of a pool whose master is host ``master``: every
    section well formed. The master's listing may hold hostile name-labels; a host that is not
    clean also says other things, in hostile words too (its pool.conf, its service, a warning)."""
    clean = draw(st.booleans())
    listed = draw(st.sampled_from([[0, 1, 2, 3]] * 3 + [[0, 1, 2], [0, 1], [master]]))
    if me == master:
        conf = b"master"
        records = b"".join(
            b"uuid ( RO)                 : " + UUIDS[i] + b"\n           name-label ( RW): "
            + draw(st.sampled_from([NAMES[i].encode()]) | blob)
            + b"\n              address ( RO): 10.0.0.%d\n              enabled ( RO): true"
              b"\n    host-metrics-live ( RO): true\n\n\n" % (i + 1) for i in listed)
        tail = wrap("db", records + (b"" if clean else draw(sprinkle)), 0)
    else:
        conf = b"slave:10.0.0.%d" % (master + 1)
        port = choose(draw, clean, (b"200", 0), (b"000", 7), (b"000", 28))
        tail = wrap("mport", *port) if isinstance(port, tuple) else wrap("mport", port, 0)
        xe_rc = choose(draw, clean, 0, 1, 124)
        xe_rc = xe_rc if isinstance(xe_rc, int) else 1
        answer = UUIDS[master] if xe_rc == 0 else choose(
            draw, False, b"Error: Connection refused (calling connect )\nXAPI_NOT_RUNNING", b"", b"HOST_IS_SLAVE")
        tail += wrap("xe", answer + (b"" if clean else draw(sprinkle)), xe_rc)
    if not clean and draw(st.integers(0, 3)) == 0:
        conf += draw(blob)  # a hostile pool.conf: what the host believes, in its own words
    secret = choose(draw, clean, SECRET, b"6" * 64)
    init_rc = choose(draw, clean, 0, 1)
    return (wrap("conf", conf) + wrap("inv", b"PRIMARY_DISK='/dev/sda'\nINSTALLATION_UUID='" + UUIDS[me] + b"'")
            + wrap("secret", secret + b"  /etc/xensource/ptoken")
            + wrap("init", b"" if clean else draw(sprinkle), init_rc if isinstance(init_rc, int) else 1)
            + wrap("svc", choose(draw, clean, b"active", b"activating", b"failed"))
            + wrap("emerg", choose(draw, clean, b"false", b"true"))
            + tail)


detail_text = st.lists(st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=12)), max_size=8).map("".join)
UNREACHED = [r for r in Reach if not r.reachable and r is not Reach.PENDING]
chunks = st.lists(st.integers(1, 97), min_size=1, max_size=8)


@st.composite
def rounds(draw) -> list[tuple]:
    """One round of the pool: most hosts print what a pool whose master is one of them prints
    (hostile bytes sprinkled in), others print broken sections or random bytes, are not reached
    (with an SSH error in hostile words, after printing anything earlier) or never answer."""
    master = draw(st.integers(0, 3))
    spec = []
    for me in range(len(NAMES)):
        kind = draw(st.sampled_from(["believer"] * 6 + ["rival", "sections", "unreachable", "silent"]))
        if kind in ("believer", "rival", "sections"):
            data = draw(believer(me, master if kind == "believer" else me) if kind != "sections" else output)
            spec.append(("answered", data, draw(chunks), draw(st.integers(0, 9)) == 0))
        elif kind == "unreachable":
            earlier = draw(st.none() | believer(me, master) | output)
            spec.append(("unreachable", draw(st.sampled_from(UNREACHED)), draw(detail_text), earlier))
        else:
            spec.append(("silent",))
    return spec


OSC52_CONF = b"@@conf\nslave:\x1b]52;c;cHduZWQ=\x07\x1b[2J @@end 0\n"


# --------------------------------------------------------------------------- one round, as poolterm takes it in


@dataclass
class Round:
    observations: dict[str, Observation] = field(default_factory=dict)
    lines: dict[str, list[str]] = field(default_factory=dict)  # what each host printed, decoded
    errors: dict[str, str] = field(default_factory=dict)  # the SSH error of a host not reached


def decoded(data: bytes, sizes: list[int]) -> list[str]:
    """``data`` as the transport hands it on: read in chunks of these sizes, one safe line at a time."""
    decoder, lines, at = LineDecoder(), [], 0
    for size in itertools.cycle(sizes):
        if at >= len(data):
            break
        lines += decoder.feed(data[at:at + size])
        at += size
    return lines + decoder.close()


def probed(name: str, lines: list[str], at: float, hung: bool) -> Observation:
    parser = ProbeParser(name)
    for line in lines:
        parser.feed(line)
    return parser.observation(at, complete=True, hung=hung)


def take_in(spec: list[tuple]) -> Round:
    """The observations one probe round makes of what each host did, the way the Watcher makes them."""
    taken = Round()
    for name, (kind, *rest) in zip(NAMES, spec):
        if kind == "answered":
            data, sizes, hung = rest
            taken.lines[name] = decoded(data, sizes)
            taken.observations[name] = probed(name, taken.lines[name], NOW, hung)
        elif kind == "unreachable":
            reach, detail, earlier = rest
            known = probed(name, decoded(earlier, [4096]), NOW - 7, False) if earlier is not None else None
            error = HostUnavailable(reach, detail)  # the transport's error, escaped where it is made
            taken.errors[name] = error.detail
            taken.observations[name] = Observation(host=name, at=NOW, reach=error.reach, reach_detail=error.detail,
                                                   last_seen=known.last_seen if known else None, complete=True,
                                                   stale=known)
    return taken


# --------------------------------------------------------------------------- checks


def assert_safe(text: str, where: str) -> None:
    problem = unsafe_part(text)
    assert problem is None, f"{where}: {problem}"
    assert is_safe(text), where


def assert_strings_safe(value: object, where: str) -> None:
    """Every string in a JSON-like value (keys too) is safe."""
    if isinstance(value, str):
        assert_safe(value, where)
    elif isinstance(value, dict):
        for key, item in value.items():
            assert_safe(str(key), f"{where} key")
            assert_strings_safe(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            assert_strings_safe(item, f"{where}[{i}]")


def rendered(renderable, width: int) -> str:
    """What a terminal would be sent, colours left out (they are poolterm's own escapes)."""
    console = Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False,
                      legacy_windows=False, emoji=False, highlight=False)
    console.print(renderable)
    return console.file.getvalue()


# --------------------------------------------------------------------------- a playbook run on the diagnosis


def drive(playbook, pool: PoolDiagnosis, diagnosis: Diagnosis, taken: Round) -> tuple[list, Engine | None]:
    """The runner's events for one run of ``playbook`` on this pool: the engine decides on the
    diagnosis; a command is judged by the guards and, when sent, answered with the host's own
    lines (or its SSH error); a wait runs out; a manual step is done. Bounded: a few decisions."""
    view = PoolView(pool, taken.observations)
    planned = plan(playbook, view)
    if isinstance(planned, Finished):
        return [PlaybookStarted("run", playbook, pool.name, {}), PlaybookFinished("run", planned, playbook.id)], None
    engine = Engine(playbook, planned.bindings, now=NOW)
    events: list = [PlaybookStarted("run", playbook, pool.name, dict(engine.bindings))]
    facts = guards.Facts(databases=guards.databases(taken.observations))
    now = NOW
    for count in range(8):
        action = engine.decide(view, now)
        events += [StepEvent(notice, len(playbook.steps)) for notice in engine.drain()]
        if isinstance(action, Finished):
            break
        if isinstance(action, Wait):
            events.append(Waiting(action.index, action.expect, max(0.0, action.deadline - now), action.detail))
            now = action.deadline + 1
        elif isinstance(action, AskOperator):
            engine.operator_done(now)
        elif isinstance(action, RunCommand):
            decision = guards.decide(action.argv, action.host, diagnosis, read_only=False, facts=facts)
            if isinstance(decision, guards.Refuse):
                events.append(GuardRefused(decision, action.host, action.command))
                engine.stop(f"refused: {decision.reason}", decision.instead)
                continue
            lines = tuple(taken.lines.get(action.host, ()))[:40]
            error = taken.errors.get(action.host, "")
            events.append(CommandStarted(f"c{count}", action.host, action.address, action.command,
                                         action.changes_pool))
            events += [CommandOutput(f"c{count}", action.host, "stdout", line) for line in lines]
            events.append(CommandEnded(f"c{count}", action.host, action.command, None if error else 0, 0.5, error))
            engine.command_finished(CommandResult(None if error else 0, lines, error), now)
    else:
        engine.stop("the fuzz run ends here")
    events += [StepEvent(notice, len(playbook.steps)) for notice in engine.drain()]
    if engine.finished is not None:
        events.append(PlaybookFinished("run", engine.finished, playbook.id))
    return events, engine


# --------------------------------------------------------------------------- the terminal


def check_terminal(diagnosis: Diagnosis, taken: Round, ascii_only: bool, width: int) -> None:
    assert_safe(render_text(diagnosis), "poolterm check")
    as_json = to_json(diagnosis)
    assert_strings_safe(as_json, "poolterm check --json")
    assert json.loads(json.dumps(as_json, indent=2)) == as_json

    banner = VerdictBanner(ascii_only=ascii_only)
    banner.set_badges(Badges(playbook="master-lost", playbook_pool="lab", teach=True))
    banner.show(diagnosis)
    assert_safe(banner.text, "banner")
    assert_safe(rendered(banner.content, width), "banner, drawn")

    glyphs = ASCII if ascii_only else UNICODE
    for pool in diagnosis.pools:
        header = "".join(text for text, _ in header_content(pool, len(pool.hosts), False, glyphs))
        assert_safe(header, "grid header")
        for host in pool.hosts:
            cell = "".join(text for text, _ in cell_content(host, NOW, glyphs))
            assert_safe(cell, f"grid cell of {host.name}")
            assert cell_len(cell) == CELL_WIDTH, (host.name, cell)

            observation = taken.observations.get(host.name)
            panel = hostview.detail(host, pool, observation, NOW, with_raw=False, max_candidates=3)
            assert_safe(rendered(panel, 40), f"side panel of {host.name}")
            screen = hostview.detail(host, pool, observation, NOW)
            assert_safe(rendered(screen, width), f"detail screen of {host.name}")

        teaching = PlaybookPanel(ascii_only=ascii_only)
        teaching.teach, teaching.pool, teaching.next_key = True, pool, "R runs the recommended playbook"
        assert_safe(teaching.text, "teaching panel")
        for playbook in PLAYBOOKS:
            events, engine = drive(playbook, pool, diagnosis, taken)
            if any(isinstance(e, (CommandStarted, GuardRefused)) for e in events):
                event(f"{playbook.id} reached a command")
            progress = PlaybookProgress(playbook, pool.name)
            for happened in events:
                applied = progress.apply(happened, engine)
                for line in applied.lines:
                    assert_safe(line.text, f"log line of {playbook.id}")
                told = narrate(happened)
                for line in told.transcript if told is not None else ():
                    assert_safe(line.indent + line.text, f"`poolterm playbook run {playbook.id}`")
            shown = PlaybookPanel(ascii_only=ascii_only)
            shown.progress, shown.teach, shown.pool = progress, True, pool
            assert_safe(shown.text, f"playbook panel of {playbook.id}")
            assert_safe(rendered(Group(*shown.shown_lines()), width), f"playbook panel of {playbook.id}, drawn")


@fuzz(default=150, seconds_per_example=0.3)
@given(spec=rounds(), ascii_only=st.booleans(), width=st.sampled_from([80, 120, 200]))
@example(spec=[("answered", OSC52_CONF, [3], False)] * 4, ascii_only=False, width=80)
def test_hostile_probe_output_reaches_no_screen_raw(spec, ascii_only, width):
    taken = take_in(spec)
    diagnosis = diagnose([POOL], taken.observations, NOW)
    for observation in taken.observations.values():
        for seen in filter(None, (observation, observation.stale)):
            for value in (seen.pool_conf, seen.xapi_service, seen.reach_detail, *seen.raw):
                if value is not None:
                    assert_safe(value, f"observation of {observation.host}")
    event(f"verdict {diagnosis.verdict.value}")
    check_terminal(diagnosis, taken, ascii_only, width)


# --------------------------------------------------------------------------- the journal and the report

_FENCE_OPEN = re.compile(r" {0,3}(`{3,})[^`]*")


def fenced_blocks(markdown: str) -> list[list[str]]:
    """The lines inside each code fence, closed the way CommonMark closes one (up to three
    blanks, at least as many backticks as opened it, nothing after them but blanks)."""
    blocks, lines, i = [], markdown.split("\n"), 0
    while i < len(lines):
        opened = _FENCE_OPEN.fullmatch(lines[i])
        i += 1
        if not opened:
            continue
        closing = re.compile(r" {0,3}`{%d,} *" % len(opened.group(1)))
        inside = []
        while i < len(lines) and not closing.fullmatch(lines[i]):
            inside.append(lines[i])
            i += 1
        blocks.append(inside)
        i += 1
    return blocks


def journal_run(journal: Journal, diagnosis: Diagnosis, taken: Round) -> None:
    """What the front ends journal of this round: the verdict, one command per host with the host's
    lines as its output, the guards' answers to pool-changing commands, and every playbook's run."""
    for pool in diagnosis.pools:
        journal.write(PoolVerdict(pool=pool.name, verdict=pool.verdict.value, severity=pool.severity.value,
                                  master=pool.master, summary=pool.summary))
        facts = guards.Facts(databases=guards.databases(taken.observations))
        for name in NAMES:
            command_id = journal.command_id()
            journal.write(CommandStart(id=command_id, host=name, command="xe host-list", remote="xe host-list",
                                       changes_pool=False, operator=journal.operator, source="console"))
            for line in taken.lines.get(name, [])[:40]:
                journal.write(OutputLine(id=command_id, stream="stdout", line=line))
            journal.write(CommandEnd(id=command_id, host=name, exit_status=0, deadline_hit=False,
                                     error=taken.errors.get(name, ""), seconds=0.2, source="console"))
            for argv in ASKED:
                decision = guards.decide(argv, name, diagnosis, read_only=False, facts=facts)
                if isinstance(decision, guards.Refuse):
                    journal.write(Refusal(host=name, command=" ".join(argv), rule=decision.rule,
                                          reason=decision.reason, instead=decision.instead,
                                          protects=decision.host, operator=journal.operator, source="console"))
        for playbook in PLAYBOOKS:
            events, _ = drive(playbook, pool, diagnosis, taken)
            for happened in events:
                record = _record_of(happened, pool, journal.operator)
                if record is not None:
                    journal.write(record)


def _record_of(event, pool: PoolDiagnosis, operator: str):
    """The journal record the runner and the gate write for one event."""
    if isinstance(event, PlaybookStarted):
        return PlaybookStart(run=event.run, playbook=event.playbook.id, pool=pool.name, target=None,
                             bindings={k: list(v) if isinstance(v, tuple) else v for k, v in event.bindings.items()},
                             operator=operator, verdict=pool.verdict.value)
    if isinstance(event, StepEvent):
        n = event.notice
        return StepStatus(run="run", index=n.index, step=n.step_id, title=n.title, status=n.kind.removeprefix("step-"),
                          detail=n.detail, host=n.host)
    if isinstance(event, GuardRefused):
        return Refusal(host=event.host, command=event.command, rule=event.refusal.rule, reason=event.refusal.reason,
                       instead=event.refusal.instead, operator=operator, run="run")
    if isinstance(event, CommandStarted):
        return CommandStart(id=event.id, host=event.host, command=event.command, remote=event.command,
                            changes_pool=event.changes_pool, operator=operator, run="run")
    if isinstance(event, CommandOutput):
        return OutputLine(id=event.id, stream=event.stream, line=event.line)
    if isinstance(event, CommandEnded):
        return CommandEnd(id=event.id, host=event.host, exit_status=event.exit_status, deadline_hit=False,
                          error=event.error, seconds=event.seconds, run="run")
    if isinstance(event, PlaybookFinished):
        f = event.finished
        return PlaybookEnd(run=event.run, outcome=f.outcome, reason=f.reason, advice=f.advice, index=f.index)
    return None


def raw_record(text: str, lines: list[str]) -> bytes:
    """Records as an older poolterm, or a hand edit, may have left them: a host's text unescaped."""
    records = [{"at": "2026-12-06T10:00:09.000Z", "t": 1796551209.0, "kind": "verdict", "pool": text,
                "verdict": "orphaned-slaves", "severity": "critical", "master": text, "summary": text},
               {"at": "2026-12-06T10:00:09.500Z", "t": 1796551209.5, "kind": "command-start", "id": "old-1",
                "host": text, "command": text, "remote": text, "changes_pool": False, "operator": text},
               *({"at": "2026-12-06T10:00:09.600Z", "t": 1796551209.6, "kind": "output", "id": "old-1",
                  "stream": "stdout", "line": line} for line in lines),
               {"at": "2026-12-06T10:00:10.000Z", "t": 1796551210.0, "kind": text or "x", text: text}]
    return b"".join(json.dumps(r, ensure_ascii=False).encode("utf-8", "surrogatepass") + b"\n" for r in records)


_JOURNALS = itertools.count()


@fuzz(default=100, seconds_per_example=0.5)
@given(spec=rounds(), raw=detail_text, raw_lines=st.lists(st.one_of(detail_text, blob.map(
    lambda b: b.decode("utf-8", "surrogateescape"))), max_size=8))
@example(spec=[("answered", OSC52_CONF + b"```\n````` x\n", [64], False)] * 4, raw="\x1b]52;c;eA==\x07",
         raw_lines=["```", "\x9b2J"])
def test_hostile_probe_output_reaches_no_report_raw(tmp_path: Path, spec, raw, raw_lines):
    taken = take_in(spec)
    diagnosis = diagnose([POOL], taken.observations, NOW)
    path = tmp_path / f"incident-{next(_JOURNALS)}.jsonl"
    journal = Journal.open(path, operator="alice", argv=["poolterm", "check"])
    try:
        journal_run(journal, diagnosis, taken)
    finally:
        journal.close()
    assert journal.failing is None and journal.pending == 0
    with open(path, "ab") as f:
        f.write(raw_record(raw, raw_lines))

    contents = read_journal(path)
    report = build_report(contents)
    assert_strings_safe(report, "report")
    assert_strings_safe(json.loads(json.dumps(report, ensure_ascii=False)), "report --format json")
    markdown = render_markdown(report)
    assert_safe(markdown, "report markdown")
    expected = []
    for entry in report["timeline"]:
        output = entry.get("output") or []
        if output:
            expected.append([f"  {line}" for line in output[:OUTPUT_LINES]]
                            + ([f"  ... {len(output) - OUTPUT_LINES} more lines"] if len(output) > OUTPUT_LINES
                               else []))
    assert fenced_blocks(markdown) == expected
    path.unlink()
