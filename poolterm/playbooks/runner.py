"""Running a playbook for real: the engine's decisions carried out over SSH.

The runner owns no UI. It asks an :class:`Operator` (a terminal prompt, or the
console's dialogs) whenever a person must decide, and reports everything it does
as events to ``on_event`` so any front end can draw it. Everything it sees and
does is journaled as it happens.

Every command a step sends goes through :class:`poolterm.actions.gate.CommandGate`,
the same path as a command typed in the console.

Verification never sleeps and hopes: while the engine waits for a condition the
watcher probes every host every :data:`WAIT_INTERVAL` seconds (woken at once
after each command), and the engine re-decides on each new observation.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Callable, Protocol

from poolterm.actions.gate import (
    Approver,
    CommandEnded,
    CommandGate,
    CommandOutput,
    CommandStarted,
    GuardRefused,
    Overridden,
)
from poolterm.actions.journal import Journal, ResumePoint
from poolterm.actions.records import (
    ManualAnswer,
    ManualAsk,
    PlaybookEnd,
    PlaybookResume,
    PlaybookStart,
    PoolVerdict,
    StepStatus,
)
from poolterm.diagnosis import guards
from poolterm.diagnosis.diagnose import diagnose
from poolterm.model import Diagnosis, Observation, Verdict
from poolterm.playbooks import Playbook
from poolterm.playbooks.conditions import PoolView, known_uuids
from poolterm.playbooks.engine import (
    AskOperator,
    Engine,
    Finished,
    Notice,
    Plan,
    RunCommand,
    Timing,
    Wait,
    expand,
    plan,
    resume_at,
)
from poolterm.probing.watch import DEADLINE_SLACK
from poolterm.transport.ssh import Connections

#: Seconds between probe rounds while a step waits for what it expects.
WAIT_INTERVAL = 0.5
#: Seconds a diagnosis is reused: a round of a large pool publishes one observation per host, and
#: diagnosing the whole pool on each of them would cost O(hosts²) per round.
VIEW_REUSE = 0.1


def probe_budget(timeout: float, connect_timeout: float) -> float:
    """Seconds one probe round may take while a step waits for its effect (``Timing.probe``).

    ``timeout`` is the probe's, ``connect_timeout`` the SSH connection's. A round can start up
    to one fast interval late, may have to connect first, and the watcher gives up on a probe
    only after its own slack above the timeout."""
    return WAIT_INTERVAL + timeout + DEADLINE_SLACK + connect_timeout


# --------------------------------------------------------------------------- events (for any UI)


@dataclass(frozen=True)
class PlaybookStarted:
    run: str
    playbook: Playbook
    pool: str
    bindings: dict
    resumed_at: int | None = None  # the step index a resumed run starts from


@dataclass(frozen=True)
class StepEvent:
    notice: Notice
    total: int


@dataclass(frozen=True)
class Waiting:
    index: int
    expect: str
    seconds_left: float
    detail: str


@dataclass(frozen=True)
class VerdictChanged:
    pool: str
    verdict: Verdict
    master: str | None
    summary: str


@dataclass(frozen=True)
class PlaybookFinished:
    run: str
    finished: Finished
    playbook: str  # the playbook's id, for a log line that names the run's playbook


Event = (PlaybookStarted | StepEvent | CommandStarted | CommandOutput | CommandEnded | GuardRefused | Overridden
         | Waiting | VerdictChanged | PlaybookFinished)


# --------------------------------------------------------------------------- the operator


class Operator(Approver, Protocol):
    """Where decisions a person must make are asked: the gate's, and a playbook's manual steps."""

    async def manual(self, request: AskOperator) -> bool: ...


class SecretSource(Protocol):
    """Where a password a step needs comes from (a prompt, a file, the environment).

    The runner hands the answer to the SSH channel only: not to the journal, the
    events or the guards."""

    async def password(self, host: str, address: str) -> str | None: ...


def secret_problem(value: str) -> str | None:
    """Why ``value`` cannot be sent as one xe parameter, or None."""
    if not value:
        return "it is empty"
    if any(c in value for c in "\0\r\n"):
        return "it holds a line break or a NUL byte, which xe cannot pass on"
    return None


# --------------------------------------------------------------------------- the runner


class PlaybookRunner:
    """Drives one playbook on one pool: observe, decide, guard, run, verify, journal."""

    def __init__(self, *, pool, connections: Connections, journal: Journal, operator: Operator,
                 timing: Timing = Timing(), read_only: bool = False, assume_yes: bool = False,
                 on_event: Callable[[object], None] | None = None, secrets: SecretSource | None = None):
        self.pool = pool  # config.Pool: name and hosts
        self.secrets = secrets
        self.connections = connections
        self.journal = journal
        self.operator = operator
        self.timing = timing
        self.watcher = None
        self._emit = on_event or (lambda event: None)
        self.gate = CommandGate(connections, journal, operator, read_only=read_only, assume_yes=assume_yes,
                                addresses={h.name: h.address for h in pool.hosts}, emit=self._emit)
        self._names = {h.name for h in pool.hosts}
        self._seen: set[str] = set()
        self._listeners: set[asyncio.Event] = set()
        self._verdict: Verdict | None = None
        self._base_interval: float | None = None
        self._engine: Engine | None = None
        self._tracker: asyncio.Task | None = None
        self._view: tuple[float, PoolView] | None = None  # (when, view): the latest diagnosis

    def attach(self, watcher) -> None:
        """The watcher whose observations this runner judges (its ``publish`` must call :meth:`observed`)."""
        self.watcher = watcher
        self._base_interval = watcher.interval

    def observed(self, obs: Observation) -> None:
        """The watcher's publish callback."""
        if obs.host in self._names and obs.complete:
            self._seen.add(obs.host)
            for event in self._listeners:
                event.set()

    # ---- observing -------------------------------------------------------------------
    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def diagnosis(self) -> Diagnosis:
        return diagnose([self.pool], self.watcher.observations, self.now())

    @property
    def engine(self) -> Engine | None:
        """The engine of the playbook being run: its ``statuses`` and ``index`` are the progress to show."""
        return self._engine

    def view(self) -> PoolView:
        """The pool now; a verdict change is journaled the moment it is first seen."""
        now = self.now()
        if self._view is not None and now - self._view[0] < VIEW_REUSE:
            return self._view[1]
        pool = self.diagnosis().pools[0]
        if pool.verdict is not self._verdict and self._seen >= self._names:
            self._verdict = pool.verdict
            self.journal.write(PoolVerdict(pool=pool.name, verdict=pool.verdict.value,
                                           severity=pool.verdict.severity.value, master=pool.master,
                                           summary=pool.summary))
            self._emit(VerdictChanged(pool.name, pool.verdict, pool.master, pool.summary))
        view = PoolView(pool, dict(self.watcher.observations))
        self._view = (now, view)
        return view

    def facts(self) -> guards.Facts:
        engine = self._engine
        ha = engine.facts.get("ha-enabled") if engine else None
        observations = self.watcher.observations
        return guards.Facts(uuids=known_uuids(observations), databases=guards.databases(observations),
                            powered_off=frozenset(engine.powered_off) if engine else frozenset(),
                            ha_enabled=ha.value if ha is not None else None)  # type: ignore[arg-type]

    async def observe(self, timeout: float) -> PoolView:
        """One complete round on every host of the pool (or as much as arrives within ``timeout``)."""
        self._start_tracking()
        self.watcher.wake()
        deadline = self.now() + timeout
        while not self._seen >= self._names and self.now() < deadline:
            await self._next_observation(deadline)
        self._seen |= self._names  # what did not answer in time counts as seen: unreachable
        self._view = None
        return self.view()

    def _start_tracking(self) -> None:
        if self._tracker is None:
            self._tracker = asyncio.create_task(self._track(), name="playbook-verdicts")

    async def _track(self) -> None:
        """Journal verdict changes while the runner itself is busy (a prompt, a long command)."""
        while True:
            await self._next_observation(None)
            self.view()

    async def _next_observation(self, deadline: float | None) -> None:
        """Until the next complete observation of a host of the pool, or the deadline."""
        event = asyncio.Event()
        self._listeners.add(event)
        try:
            async with asyncio.timeout(None if deadline is None else max(0.0, deadline - self.now())):
                await event.wait()
        except TimeoutError:
            pass
        finally:
            self._listeners.discard(event)

    async def close(self) -> None:
        if self._tracker is not None:
            self._tracker.cancel()
            await asyncio.gather(self._tracker, return_exceptions=True)
            self._tracker = None
        self._normal_pace()

    # ---- running -----------------------------------------------------------------------
    async def run(self, playbook: Playbook, *, target: str | None = None,
                  resume: ResumePoint | None = None, observe_timeout: float = 30.0) -> Finished:
        if not self._seen >= self._names:
            await self.observe(observe_timeout)
        view = self.view()
        run_id = resume.run if resume else uuid.uuid4().hex[:12]
        if resume is not None:
            engine = self._resumed(playbook, resume)
        else:
            planned = plan(playbook, view, target)
            self.journal.write(PlaybookStart(
                run=run_id, playbook=playbook.id, pool=self.pool.name, target=target,
                bindings=_jsonable(planned.bindings) if isinstance(planned, Plan) else {},
                operator=self.journal.operator, verdict=view.verdict.value))
            if isinstance(planned, Finished):
                return self._finish(run_id, playbook, planned)
            playbook, bindings = expand(playbook, planned.bindings)
            engine = Engine(playbook, bindings, self.timing, now=self.now())
        self._engine = engine
        playbook = engine.playbook  # as expanded for its hosts
        self._emit(PlaybookStarted(run_id, playbook, self.pool.name, dict(engine.bindings),
                                   engine.index if resume else None))
        try:
            return await self._drive(engine, run_id)
        finally:
            self._normal_pace()

    def _resumed(self, playbook: Playbook, point: ResumePoint) -> Engine:
        bindings = {k: tuple(v) if isinstance(v, list) else v for k, v in point.bindings.items()}
        playbook, bindings = expand(playbook, bindings)
        at = resume_at(playbook, list(point.completed), point.acted)
        self.journal.write(PlaybookResume(
            run=point.run, playbook=playbook.id, pool=self.pool.name, index=at.index,
            step=playbook.steps[at.index].id if at.index < len(playbook.steps) else None, acted=at.acted,
            operator=self.journal.operator))
        return Engine(playbook, bindings, self.timing, start=at.index, acted=at.acted,
                      powered_off=frozenset(point.powered_off), now=self.now())

    async def _drive(self, engine: Engine, run_id: str) -> Finished:
        shown = ""
        while True:
            action = engine.decide(self.view(), self.now())
            self._notices(engine, run_id)
            if isinstance(action, Finished):
                return self._finish(run_id, engine.playbook, action)
            if isinstance(action, Wait):
                if action.detail != shown:
                    shown = action.detail
                    self._emit(Waiting(action.index, action.expect, max(0.0, action.deadline - self.now()),
                                       action.detail))
                await self._changed(action.deadline + 0.01)
                continue
            self._normal_pace()
            if isinstance(action, RunCommand):
                await self._command(engine, action, run_id)
            else:
                await self._manual(engine, action, run_id)

    async def _command(self, engine: Engine, action: RunCommand, run_id: str) -> None:
        context = {"run": run_id, "step": action.step.id, "index": action.index}
        if action.query:
            context["query"] = action.query
        sent = None
        if action.secrets:
            sent = await self._with_secrets(engine, action)
            if sent is None:
                return
        outcome = await self.gate.run(action.host, action.command, action.remote, argv=action.argv,
                                      timeout=action.timeout, diagnosis=self.diagnosis, facts=self.facts,
                                      context=context, sent=sent)
        if outcome.refusal is not None:
            engine.stop(f"Step {action.index + 1} ({engine.render(action.step.title)}): refused: "
                        f"{outcome.refusal.reason}", outcome.refusal.instead)
        elif outcome.declined:
            engine.operator_stopped(f"the operator chose not to run `{action.command}`.")
        else:
            engine.command_finished(outcome.result, self.now())  # type: ignore[arg-type]
            self._fast_pace()

    async def _with_secrets(self, engine: Engine, action: RunCommand) -> str | None:
        """The command line to send, with the passwords it needs; None when the engine was stopped."""
        where = f"Step {action.index + 1} ({engine.render(action.step.title)})"
        values: dict[str, str] = {}
        for name, host in action.secrets:
            if self.secrets is None:
                engine.stop(f"{where}: it needs the root password of {host}, and this front end cannot ask for it.",
                            f"Run `poolterm playbook run {engine.playbook.id}` on a terminal: it asks for it.")
                return None
            address = next((h.address for h in self.pool.hosts if h.name == host), "")
            value = await self.secrets.password(host, address)
            if value is None:
                engine.operator_stopped(f"no root password of {host} was given.")
                return None
            problem = secret_problem(value)
            if problem is not None:
                engine.stop(f"{where}: the root password of {host} cannot be used: {problem}.",
                            "Give the password again (prompt, --password-file or POOLTERM_JOIN_PASSWORD).")
                return None
            values[name] = value
        return action.sent(values)

    async def _manual(self, engine: Engine, action: AskOperator, run_id: str) -> None:
        self.journal.write(ManualAsk(run=run_id, step=action.step.id, index=action.index, text=action.text))
        done = await self.operator.manual(action)
        if done:
            engine.operator_done(self.now())
            self._fast_pace()
        else:
            engine.operator_stopped()
        self.journal.write(ManualAnswer(run=run_id, step=action.step.id, index=action.index,
                                        answer="done" if done else "stop", operator=self.journal.operator,
                                        powered_off=sorted(engine.powered_off) if done else []))

    def _notices(self, engine: Engine, run_id: str) -> None:
        status = {"step-started": "started", "step-skipped": "skipped", "step-done": "done",
                  "step-resumed": "resumed", "fact": "fact"}
        for notice in engine.drain():
            self.journal.write(StepStatus(run=run_id, index=notice.index, step=notice.step_id, title=notice.title,
                                          status=status[notice.kind], detail=notice.detail, host=notice.host))
            self._emit(StepEvent(notice, len(engine.playbook.steps)))

    def _finish(self, run_id: str, playbook: Playbook, finished: Finished) -> Finished:
        self.journal.write(PlaybookEnd(run=run_id, outcome=finished.outcome, reason=finished.reason,
                                       advice=finished.advice, index=finished.index))
        self._emit(PlaybookFinished(run_id, finished, playbook.id))
        return finished

    # ---- pacing the probes while waiting ---------------------------------------------------
    def _fast_pace(self) -> None:
        """Probe every host now and often: a change was just made, its effect should show soon."""
        if self.watcher is not None:
            self.watcher.interval = min(self._base_interval or WAIT_INTERVAL, WAIT_INTERVAL)
            self.watcher.wake()

    def _normal_pace(self) -> None:
        if self.watcher is not None and self._base_interval is not None:
            self.watcher.interval = self._base_interval

    async def _changed(self, deadline: float) -> None:
        """Probe fast, and return at the next complete observation or at the deadline."""
        if self.watcher.interval > WAIT_INTERVAL:
            self._fast_pace()
        await self._next_observation(deadline)


def _jsonable(bindings) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in bindings.items()}
