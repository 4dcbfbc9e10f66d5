"""The playbook engine: given a playbook, its targets and the latest view of the
pool, what happens next.

Pure: no I/O, no asyncio, no clock (``now`` is passed in). The runner (plain
terminal or console) asks :meth:`Engine.decide` and does what the answer says:

* :class:`RunCommand`: run this exact command on this host (after the guards),
  then report how it ended with :meth:`Engine.command_finished`;
* :class:`AskOperator`: a manual step; report :meth:`Engine.operator_done` or
  :meth:`Engine.operator_stopped`;
* :class:`Wait`: nothing to do until the pool changes or the deadline passes;
  ask again with fresh observations;
* :class:`Finished`: done, already healthy, or stopped with the reason.

It branches on what it observes: a step whose ``when`` does not hold is skipped,
a step whose expectation already holds is skipped ("already so"), and the
playbook ends as soon as its goal holds. A step whose expectation is not seen
within its wait budget stops the playbook with what was seen and what to do.
Every decision leaves a :class:`Notice` for the journal and the screen.

Why one module of this size: the engine is one state machine (plan, run, wait, verify,
resume); its transitions share state that splitting would have to pass around.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, replace
from typing import Callable, Mapping

from poolterm.model import CommandResult, Verdict
from poolterm.playbooks.conditions import (
    CONDITIONS,
    QUERIES,
    Check,
    Cond,
    Fact,
    HostRef,
    NeedFact,
    Not,
    PoolView,
    Spec,
    describe,
    evaluate,
    follows,
    hosts_of,
)
from poolterm.playbooks.model import Playbook, Step
from poolterm.xe import validate_address, validate_name, validate_uuid, wrap_timeout, xe_command

#: Seconds a fact query (a read-only xe on the master) may take.
QUERY_TIMEOUT = 20.0
#: Lines of a failed command's output quoted in the stop reason.
OUTPUT_QUOTE = 3
#: What stands for a secret parameter's value in the command shown, journaled and guarded.
SECRET_MARK = "<redacted>"


@dataclass(frozen=True)
class Timing:
    """How long role changes and boots take; waits are budgets built from these.

    Real hosts: xapi's fuse is 10 s and xapi's start-up about a minute; a server
    boots in a few minutes (the notes: "3 minutes later"). ``probe`` covers one
    probe round with its timeouts, so a change is seen, not just made.
    """

    fuse: float = 10.0
    xapi_start: float = 60.0
    boot: float = 300.0
    probe: float = 15.0

    def budget(self, wait: str | float) -> float:
        if wait == "role-change":
            return self.fuse + self.xapi_start + self.probe
        if wait == "boot":
            return self.boot + self.xapi_start + self.probe
        if wait == "probe":
            return self.probe
        return float(wait)


# --------------------------------------------------------------------------- what the engine says


@dataclass(frozen=True)
class RunCommand:
    index: int
    step: Step
    host: str
    address: str
    command: str  # the exact command, as shown and journaled
    remote: str  # what is sent: the command under `timeout -k`
    argv: tuple[str, ...]
    changes_pool: bool
    timeout: float
    query: str | None = None  # the fact this read-only command establishes
    secrets: tuple[tuple[str, str], ...] = ()  # (xe parameter, host whose root password it takes)
    xe: str = ""
    values: tuple[tuple[str, str], ...] = ()  # every parameter as built, secrets as SECRET_MARK
    flags: tuple[str, ...] = ()

    def sent(self, secrets: Mapping[str, str]) -> str:
        """What goes to the host: ``remote`` with each secret parameter's real value
        (``secrets``: xe parameter -> value). Only the SSH channel ever carries it."""
        if not self.secrets:
            return self.remote
        values = {name: secrets[name] if name in dict(self.secrets) else value for name, value in self.values}
        return wrap_timeout(xe_command(self.xe, *self.flags, **values), self.timeout)


@dataclass(frozen=True)
class AskOperator:
    index: int
    step: Step
    title: str
    text: str  # what to do, with the hosts filled in
    expect: str  # what poolterm will verify afterwards


@dataclass(frozen=True)
class Wait:
    index: int
    step: Step
    expect: str
    deadline: float
    detail: str  # what is seen right now


@dataclass(frozen=True)
class Finished:
    outcome: str  # done | healthy | incomplete | stopped | not-applicable
    reason: str
    advice: str = ""
    index: int | None = None  # the step it stopped at

    @property
    def ok(self) -> bool:
        return self.outcome in ("done", "healthy")


Action = RunCommand | AskOperator | Wait | Finished


@dataclass(frozen=True)
class Notice:
    """Something the journal and the screen should show: a step started, skipped, done."""

    kind: str  # step-started | step-skipped | step-done | step-resumed | fact
    index: int
    step_id: str
    title: str
    detail: str = ""
    host: str | None = None


# --------------------------------------------------------------------------- choosing the targets


class BindError(Exception):
    """A binding cannot be chosen; ``str()`` says why, for the operator."""


@dataclass(frozen=True)
class Plan:
    bindings: Mapping[str, HostRef]


def plan(playbook: Playbook, view: PoolView, target: str | None = None) -> Plan | Finished:
    """Choose the playbook's hosts from the diagnosis, or say why it should not run now."""
    pool = view.pool
    if pool.verdict is Verdict.UNKNOWN:
        return Finished("stopped", f"No host of pool {pool.name} answers SSH, so nothing can be verified.",
                        pool.advice)
    if pool.verdict is Verdict.HEALTHY and Verdict.HEALTHY not in playbook.for_verdicts:
        return Finished("healthy", f"Pool {pool.name} is already healthy: {pool.summary} Nothing to do.")
    if pool.verdict not in playbook.for_verdicts and pool.playbook != playbook.id:
        wanted = " or ".join(v.title for v in playbook.for_verdicts)
        advice = f"Run playbook {pool.playbook} instead." if pool.playbook else pool.advice
        return Finished("not-applicable", f"Playbook {playbook.id} is for {wanted}; pool {pool.name} is "
                                          f"{pool.verdict.title}: {pool.summary}", advice)
    if target is not None and playbook.target is None:
        return Finished("not-applicable", f"Playbook {playbook.id} has no target to choose; run it without --target.")
    bindings: dict[str, HostRef] = {}
    try:
        for name, source in playbook.bindings:
            chosen = target if name == playbook.target else None
            bindings[name] = BINDING_SOURCES[source](view, chosen, bindings)
    except BindError as exc:
        return Finished("stopped", str(exc), pool.advice)
    if playbook.goal is not None:
        goal = evaluate(playbook.goal, view, bindings)
        if isinstance(goal, Check) and goal.ok:
            return Finished("healthy", f"Already so: {goal.detail}. Nothing to do.")
    return Plan(bindings)


def _finding(view: PoolView, *kinds: str):
    return next((f for f in view.pool.findings if f.kind in kinds), None)


def _lost_master(view: PoolView, target: str | None, bound: Mapping[str, HostRef]) -> HostRef:
    finding = _finding(view, "master-lost", "master-hung", "ha-stuck")
    if finding is None:
        return None
    candidates = {c.name for c in finding.candidates}
    return next((h for h in finding.hosts if h not in candidates), None)


def _best_candidate(view: PoolView, target: str | None, bound: Mapping[str, HostRef]) -> HostRef:
    promoted = _finding(view, "master-taking-over")
    if promoted is not None:
        # Promoting anyone now makes two masters; the promoted host needs time, not a rival.
        raise BindError(f"{promoted.hosts[0]} has been promoted already. {view.pool.advice}")
    finding = _finding(view, "master-lost", "master-hung", "ha-stuck")
    names = [c.name for c in finding.candidates] if finding else []
    if target is not None:
        if target not in names:
            raise BindError(f"{target} is not a promotion candidate (candidates, best first: "
                            f"{', '.join(names) or 'none'}).")
        return target
    if not names:
        raise BindError("No reachable host of the pool can be promoted (a candidate must answer SSH and share "
                        "the pool's secret).")
    return names[0]


def _master(view: PoolView, target: str | None, bound: Mapping[str, HostRef]) -> HostRef:
    if view.pool.master is None:
        raise BindError(f"Pool {view.pool.name} has no working master: {view.pool.summary}")
    return view.pool.master


def _claimants(view: PoolView) -> list[str]:
    split = _finding(view, "split-brain")
    names = list(split.hosts) if split else ([view.pool.master] if view.pool.master else [])
    stale = _finding(view, "stale-master")
    return names + [h for h in (stale.hosts if stale else ()) if h not in names]


def _true_master(view: PoolView, target: str | None, bound: Mapping[str, HostRef]) -> HostRef:
    claimants = _claimants(view)
    if target is not None:
        if target not in claimants:
            raise BindError(f"{target} does not claim to be master (claimants: {', '.join(claimants) or 'none'}).")
        return target
    return _master(view, None, bound)


def _stale_masters(view: PoolView, target: str | None, bound: Mapping[str, HostRef]) -> HostRef:
    chosen = set(hosts_of(bound.get("master")))
    stale = tuple(h for h in _claimants(view) if h not in chosen)
    if not stale:
        raise BindError("No second master is seen: there is no split brain to resolve.")
    return stale


def _orphans(view: PoolView, target: str | None, bound: Mapping[str, HostRef]) -> HostRef:
    finding = _finding(view, "orphaned-slaves")
    return tuple(finding.hosts) if finding else ()


def _forgotten(view: PoolView, target: str | None, bound: Mapping[str, HostRef]) -> HostRef:
    finding = _finding(view, "forgotten-host")
    names = list(finding.hosts) if finding else []
    if target is not None:
        if target not in names:
            raise BindError(f"{target} is not diagnosed as forgotten (forgotten: {', '.join(names) or 'none'}).")
        return target
    if not names:
        raise BindError("No forgotten host is seen (a host the master does not know, in emergency mode).")
    return names[0]


def _handover_candidate(view: PoolView, target: str | None, bound: Mapping[str, HostRef]) -> HostRef:
    master = _master(view, None, bound)
    if target is not None:
        if target == master:
            raise BindError(f"{target} is already the master.")
        check = follows(view, target, master)  # type: ignore[arg-type]
        if not check.ok:
            raise BindError(f"{target} cannot take over: {check.detail}.")
        return target
    for host in view.pool.hosts:
        if host.name != master and follows(view, host.name, master).ok:  # type: ignore[arg-type]
            return host.name
    raise BindError(f"No host follows {master}, so none can take the master role over.")


def _ha_survivors(view: PoolView, target: str | None, bound: Mapping[str, HostRef]) -> HostRef:
    """Every reachable host still armed for HA: each must be disarmed on the host itself."""
    return tuple(h.name for h in view.pool.hosts if h.reachable and h.ha == "armed")


BINDING_SOURCES: Mapping[str, Callable[[PoolView, str | None, Mapping[str, HostRef]], HostRef]] = {
    "lost-master": _lost_master,
    "best-candidate": _best_candidate,
    "master": _master,
    "true-master": _true_master,
    "stale-masters": _stale_masters,
    "orphans": _orphans,
    "forgotten": _forgotten,
    "handover-candidate": _handover_candidate,
    "ha-survivors": _ha_survivors,
}


# --------------------------------------------------------------------------- one step per host


def expand(playbook: Playbook, bindings: Mapping[str, HostRef]) -> tuple[Playbook, dict[str, HostRef]]:
    """The playbook as run with these bindings: a step whose command runs on a binding of several
    hosts (``run: {host: survivors}``) becomes one step per host, in order, each naming its host.

    Deterministic in the bindings, so a resumed run (bindings from the journal) expands alike."""
    bound = dict(bindings)
    steps: list[Step] = []
    for step in playbook.steps:
        value = bound.get(step.run.host) if step.run else None
        if not isinstance(value, tuple) or not value:
            steps.append(step)
            continue
        for i, host in enumerate(value):
            name = f"{step.run.host}_{_letters(i)}"
            bound[name] = host
            steps.append(replace(
                step, id=f"{step.id}-{i + 1}", title=step.title.replace("{" + step.run.host, "{" + name),
                run=replace(step.run, host=name), expect=_rebind(step.expect, step.run.host, name)))
    if len(steps) == len(playbook.steps):
        return playbook, bound
    return replace(playbook, steps=tuple(steps)), bound


def _letters(i: int) -> str:
    """a, b, ..., z, ba, bb: binding names are letters and underscores."""
    out = ""
    while True:
        i, r = divmod(i, 26)
        out = chr(ord("a") + r) + out
        if i == 0:
            return out


def _rebind(spec: Spec | None, old: str, new: str) -> Spec | None:
    if spec is None:
        return None
    if isinstance(spec, Cond):
        return Cond(spec.name, {k: (new if v == old else v) for k, v in spec.args.items()})
    if isinstance(spec, Not):
        return Not(_rebind(spec.item, old, new))  # type: ignore[arg-type]
    return type(spec)(tuple(_rebind(item, old, new) for item in spec.items))  # type: ignore[union-attr]


# --------------------------------------------------------------------------- the state machine


class Engine:
    """One run of one playbook. Mutable, but deterministic: same inputs, same answers."""

    def __init__(self, playbook: Playbook, bindings: Mapping[str, HostRef], timing: Timing = Timing(), *,
                 start: int = 0, acted: bool = False, facts: Mapping[str, Fact] | None = None,
                 powered_off: frozenset[str] = frozenset(), now: float = 0.0):
        self.playbook = playbook
        self.bindings = dict(bindings)
        self.timing = timing
        self.index = start
        self.phase = "pending"  # pending | command | manual | verify
        self.phase_started = now
        self.deadline: float | None = None
        self.facts: dict[str, Fact] = dict(facts or {})
        self.powered_off = set(powered_off)
        self.statuses = ["done" if i < start else "pending" for i in range(len(playbook.steps))]
        self.finished: Finished | None = None
        self.notices: list[Notice] = []
        self._pending: RunCommand | AskOperator | None = None  # handed out, not answered yet
        self._query: RunCommand | None = None  # a fact query handed out, not answered yet
        self._acted = start if acted else None
        self._retry: int | None = None  # a resumed step whose effect was not seen gets its action once more
        self._view: PoolView | None = None

    # ---- reading the state -------------------------------------------------------
    @property
    def step(self) -> Step | None:
        return self.playbook.steps[self.index] if self.index < len(self.playbook.steps) else None

    def drain(self) -> list[Notice]:
        notices, self.notices = self.notices, []
        return notices

    def render(self, text: str, view: PoolView | None = None) -> str:
        """A playbook text with the hosts filled in (addresses and uuids from the latest view)."""
        return render(text, self.bindings, view or self._view)

    # ---- the decision --------------------------------------------------------------
    def decide(self, view: PoolView, now: float) -> Action:
        self._view = view
        while self.finished is None:
            if self._query is not None:
                return self._query
            if self._pending is not None:
                return self._pending
            if self.index >= len(self.playbook.steps):
                return self._end(view)
            step = self.playbook.steps[self.index]
            current = view.with_facts(self.facts, self.phase_started)
            action = self._enter(step, current, now) if self.phase == "pending" else self._verify(step, current, now)
            if action is not None:
                return action
        return self.finished

    def _enter(self, step: Step, view: PoolView, now: float) -> Action | None:
        missing = sorted(b for b in step.bindings_used() if not hosts_of(self.bindings.get(b)))
        if missing:
            return self._skip(step, f"no host is known for {missing[0]}", now)
        if self.index > 0 and self.playbook.goal is not None:
            goal = evaluate(self.playbook.goal, view, self.bindings)
            if isinstance(goal, Check) and goal.ok:
                return self._finish("done", f"Goal reached: {goal.detail}. {self.render(self.playbook.done)}".strip())
        if step.when is not None:
            when = evaluate(step.when, view, self.bindings)
            if isinstance(when, NeedFact):
                return self._ask_fact(when, view)
            if not when.ok:
                return self._skip(step, f"not needed: {when.detail}", now)
        if self._acted == self.index:
            self._acted = None
            self._retry = self.index
            self._note("step-resumed", step, "interrupted after its action: checking its effect first", None)
            self._to_verify(now)
            return None
        if step.expect is not None and step.kind != "check" and not step.always:
            already = evaluate(step.expect, view, self.bindings)
            if isinstance(already, NeedFact):
                return self._ask_fact(already, view)
            if already.ok:
                return self._skip(step, f"already so: {already.detail}", now)
        self.statuses[self.index] = "current"
        host = self.bindings.get(step.run.host) if step.run else None
        self._note("step-started", step, self.render(step.why), host if isinstance(host, str) else None)
        if step.run is not None:
            built = self._build(step, view)
            if isinstance(built, Finished):
                return built
            self.phase = "command"
            self._pending = built
            return built
        if step.manual is not None:
            self.phase = "manual"
            ask = AskOperator(self.index, step, self.render(step.title), self.render(step.manual, view),
                              self._expect_text(step))
            self._pending = ask
            return ask
        self._to_verify(now)
        return None

    def _verify(self, step: Step, view: PoolView, now: float) -> Action | None:
        if self.deadline is None:
            self.deadline = self.phase_started + self.timing.budget(step.wait)
        check = evaluate(step.expect, view, self.bindings) if step.expect is not None else Check(True, "done")
        if isinstance(check, NeedFact):
            return self._ask_fact(check, view)
        if check.ok:
            self.statuses[self.index] = "done"
            self._note("step-done", step, check.detail, None)
            self._advance(now)
            return None
        if self._retry == self.index and now >= self.deadline and step.kind != "check":
            self._retry = None
            self._note("step-resumed", step, f"its effect was not seen ({check.detail}): doing it again", None)
            self.phase = "pending"
            self.phase_started = now
            self.deadline = None
            return None
        if _uses_facts(step.expect) or now >= self.deadline:
            waited = "" if _uses_facts(step.expect) else f" within {self.timing.budget(step.wait):g} s"
            reason = f"Step {self.index + 1} ({self.render(step.title)}): expected {self._expect_text(step)}" \
                     f"{waited}, but {check.detail}."
            return self._finish("stopped", reason, self.render(step.on_failure, view))
        return Wait(self.index, step, self._expect_text(step), self.deadline, check.detail)

    def _end(self, view: PoolView) -> Finished:
        if self.playbook.goal is None:
            return self._finish("done", self.render(self.playbook.done) or "Every step is done.")
        goal = evaluate(self.playbook.goal, view.with_facts(self.facts, float("-inf")), self.bindings)
        if isinstance(goal, Check) and goal.ok:
            return self._finish("done", f"Goal reached: {goal.detail}. {self.render(self.playbook.done)}".strip())
        detail = goal.detail if isinstance(goal, Check) else "it could not be checked"
        return self._finish("incomplete", f"Every step is done, but {describe(self.playbook.goal, self.bindings)} "
                                          f"does not hold yet: {detail}.", view.pool.advice)

    # ---- what the runner reports back ------------------------------------------------
    def command_finished(self, result: CommandResult, now: float) -> None:
        """The command (or fact query) last handed out ended with ``result``."""
        if self._query is not None:
            query = self._query
            assert query.query is not None
            self._query = None
            value = QUERIES[query.query].parse("\n".join(result.output)) if result.ok else None
            self.facts[query.query] = Fact(value, now)
            self._note("fact", self.step, f"{query.query}: {value}", query.host)  # type: ignore[arg-type]
            return
        action = self._pending
        if not isinstance(action, RunCommand):
            return
        self._pending = None
        if result.ok:
            self._to_verify(now)
            return
        if result.error:
            why = f"could not run on {action.host}: {result.error}"
        elif result.deadline_hit or result.exit_status in (124, 137):
            why = f"did not finish within {action.timeout:g} s"
        else:
            quoted = " / ".join(line for line in result.output[-OUTPUT_QUOTE:] if line.strip())
            why = f"exited with status {result.exit_status}" + (f": {quoted}" if quoted else "")
        step = action.step
        self._finish("stopped", f"Step {self.index + 1} ({self.render(step.title)}): `{action.command}` {why}.",
                     self.render(step.on_failure))

    def operator_done(self, now: float) -> None:
        step = self.step
        if self._pending is None or step is None:
            return
        self._pending = None
        for fact, binding in step.confirms:
            if fact == "powered-off":
                self.powered_off.update(hosts_of(self.bindings.get(binding)))
        self._to_verify(now)

    def operator_stopped(self, reason: str = "The operator stopped at this step.") -> Finished:
        step = self.step
        title = self.render(step.title) if step else ""
        return self._finish("stopped", f"Step {self.index + 1} ({title}): {reason}",
                            f"Run `poolterm playbook run {self.playbook.id}` again to resume here.")

    def stop(self, reason: str, advice: str = "") -> Finished:
        return self._finish("stopped", reason, advice)

    # ---- helpers ----------------------------------------------------------------------
    def _to_verify(self, now: float) -> None:
        self.phase = "verify"
        self.phase_started = now
        self.deadline = None

    def _advance(self, now: float) -> None:
        self.index += 1
        self.phase = "pending"
        self.phase_started = now
        self.deadline = None

    def _skip(self, step: Step, why: str, now: float) -> None:
        self.statuses[self.index] = "skipped"
        self._note("step-skipped", step, why, None)
        self._advance(now)
        return None

    def _finish(self, outcome: str, reason: str, advice: str = "") -> Finished:
        if self.finished is None:
            index = self.index if self.index < len(self.playbook.steps) else None
            if outcome == "stopped" and index is not None:
                self.statuses[index] = "failed"
            if outcome == "done":  # the goal holds: what is left is not needed
                self.statuses = ["skipped" if st in ("pending", "current") else st for st in self.statuses]
            self.finished = Finished(outcome, reason, advice, index)
        return self.finished

    def _note(self, kind: str, step: Step | None, detail: str, host: str | None) -> None:
        if step is None:
            return
        self.notices.append(Notice(kind, self.index, step.id, self.render(step.title), detail, host))

    def _expect_text(self, step: Step) -> str:
        return describe(step.expect, self.bindings) if step.expect is not None else "nothing"

    def _ask_fact(self, need: NeedFact, view: PoolView) -> RunCommand:
        query = QUERIES[need.fact]
        action = RunCommand(self.index, self.playbook.steps[self.index], need.host, view.address(need.host) or "",
                            query.command, wrap_timeout(query.command, QUERY_TIMEOUT),
                            tuple(shlex.split(query.command)), False, QUERY_TIMEOUT, query=need.fact)
        self._query = action
        return action

    def _build(self, step: Step, view: PoolView) -> RunCommand | Finished:
        spec = step.run
        assert spec is not None
        host = self.bindings[spec.host]
        assert isinstance(host, str)
        try:
            values = [(name, _field(view, self.bindings.get(binding), field)) for name, binding, field in spec.params]
            values += list(spec.literals)
            secrets = tuple((name, _secret_host(self.bindings.get(binding))) for name, binding in spec.secrets)
            values += [(name, SECRET_MARK) for name, _ in secrets]
            command = spec.shell or xe_command(spec.xe or "", *spec.flags, **dict(values))
            if secrets:
                # Shown and journaled as `name=<redacted>`, the way the journal's redaction writes it;
                # this line is never sent (RunCommand.sent rebuilds it with the values).
                command = command.replace(shlex.quote(SECRET_MARK), SECRET_MARK)
            remote = wrap_timeout(command, spec.timeout)
        except ValueError as exc:
            return self._finish("stopped", f"Step {self.index + 1} ({self.render(step.title)}): cannot build the "
                                           f"command from what is known: {exc}.",
                                "Wait for a probe round to read the hosts' inventories, then run the playbook again.")
        return RunCommand(self.index, step, host, view.address(host) or "", command, remote,
                          tuple(shlex.split(command)), step.changes_pool, spec.timeout, secrets=secrets,
                          xe=spec.xe or "", values=tuple(values), flags=spec.flags)


def _field(view: PoolView, bound: HostRef, field: str) -> str:
    if not isinstance(bound, str):
        raise ValueError("the host is not known")
    if field == "name":
        return validate_name(bound)
    if field == "address":
        return validate_address(view.address(bound) or "")
    uuid = view.uuid(bound)
    if uuid is None:
        raise ValueError(f"{bound}'s uuid has not been read yet")
    return validate_uuid(uuid)


def _secret_host(bound: HostRef) -> str:
    if not isinstance(bound, str):
        raise ValueError("the host whose password is needed is not known")
    return validate_name(bound)


def _uses_facts(spec: Spec | None) -> bool:
    if spec is None:
        return False
    if isinstance(spec, Cond):
        return spec.name in FACT_CONDITIONS
    items = (spec.item,) if hasattr(spec, "item") else spec.items  # type: ignore[union-attr]
    return any(_uses_facts(item) for item in items)


#: Conditions answered from a queried fact: waiting does not change them, so a miss stops at once.
FACT_CONDITIONS = frozenset(name for name in CONDITIONS if name.startswith("ha-"))

_TEMPLATE = re.compile(r"\{([a-z_]+)(?:\.(name|address|uuid))?\}")


def render(text: str, bindings: Mapping[str, HostRef], view: PoolView | None = None) -> str:
    """Fill ``{binding}`` and ``{binding.address}`` in a playbook text."""

    def value(match: re.Match[str]) -> str:
        hosts = hosts_of(bindings.get(match.group(1)))
        if not hosts:
            return f"<{match.group(1)}>"
        field = match.group(2) or "name"
        if field == "name" or view is None:
            return ", ".join(hosts) if field == "name" else f"<{match.group(1)}.{field}>"
        found = [(view.address(h) if field == "address" else view.uuid(h)) or f"<{h}.{field}>" for h in hosts]
        return ", ".join(found)

    return _TEMPLATE.sub(value, text)


def render_known(text: str, bindings: Mapping[str, HostRef]) -> str:
    """``text`` with the bindings that are known filled in; the others stay as written (``{candidate}``
    until the step that chooses it)."""
    return _TEMPLATE.sub(lambda m: render(m.group(0), bindings) if hosts_of(bindings.get(m.group(1))) else m.group(0),
                         text)


@dataclass(frozen=True)
class ResumeAt:
    """Where a resumed run starts: the first step not completed, and whether its action was already taken."""

    index: int
    acted: bool


def resume_at(playbook: Playbook, completed: list[str], acted: str | None) -> ResumeAt:
    """The right step to resume from, given the steps the journal says were completed."""
    index = 0
    for i, step in enumerate(playbook.steps):
        if step.id in completed:
            index = i + 1
    current = playbook.steps[index].id if index < len(playbook.steps) else None
    return ResumeAt(index, acted is not None and acted == current)
