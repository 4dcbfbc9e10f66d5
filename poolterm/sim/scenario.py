"""Scripted incidents: YAML files of steps run against a live simulator over real SSH.

A scenario file (``poolterm/sim/scenarios/<name>.yaml``)::

    description: what the incident is
    pool: {ha: true, ha_timeout: 10, hosts: 8}   # optional: the pool the incident needs
    steps:
      - ctl: {action: shutdown, host: plot1}
        fault: true                       # a tag: run_scenario(..., only="fault")
        note: why this step
      - ctl: {action: cut, host: plot3, peer: plot1}   # cut and uncut name a peer
      - wait_until: {host: plot1, field: power, equals: "off", timeout: 30}
      - run: {host: plot2, command: "timeout 3 xe pool-list", expect_exit: 124}
      - sleep: 2                          # only where the incident itself waits for time

``run`` steps go over SSH with the simulator's key and known_hosts; their
``expect_stdout``/``expect_stderr`` are regular expressions searched in the
output.  ``{{plot3.address}}``, ``{{plot3.uuid}}`` and ``{{plot3.name}}`` in
commands, expectations and ``equals`` are replaced from ground truth.

``pool`` says how the simulator must be started for the incident (the runner does not
start it: ``poolterm demo --drill`` and the tests read it): ``ha`` (default false) starts
the pool with HA enabled, ``ha_timeout`` is HA's T in seconds (more than 0), ``hosts``
the exact number of hosts the steps are written for (when they must name every host).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from yaml.nodes import Node

from poolterm.datafile import DataFile, Keys, at_mapping
from poolterm.errors import ScenarioError
from poolterm.sim.world import SimError
from poolterm.transport.sshlib import asyncssh

if TYPE_CHECKING:
    from poolterm.sim.runtime import Simulator

SCENARIO_DIR = Path(__file__).with_name("scenarios")
KINDS = ("ctl", "run", "wait_until", "sleep")
DEFAULT_WAIT = 60.0
DEFAULT_RUN_TIMEOUT = 60.0
CONNECT_TIMEOUT = 10.0
_TEMPLATE = re.compile(r"\{\{\s*([A-Za-z0-9_-]+)\.(address|uuid|name)\s*\}\}")

# The shape of a scenario file; a step names its number, a key out of place is named in the message.
TOP = Keys(expected="expected a mapping with a list of steps")
POOL = Keys(("ha", "ha_timeout", "hosts"))
#: The most hosts a scenario's pool may say it needs (the simulator's demo starts at most this many).
MAX_HOSTS = 1000
STEP = Keys((*KINDS, "note", "fault", "tags"), unknown=at_mapping("unknown key {name!r}"),
            expected="expected a mapping")


def _body(kind: str, allowed: tuple[str, ...], required: tuple[str, ...]) -> Keys:
    """The fields of a step kind; ``required`` in alphabetical order, the first missing one is named."""
    return Keys(allowed, required, unknown=at_mapping(kind + " has unknown field {name!r}"),
                missing=at_mapping(kind + " needs {name!r}"), expected=f"{kind} takes a mapping")


BODIES = {
    "ctl": _body("ctl", ("action", "host", "peer"), ("action",)),
    "run": _body("run", ("host", "command", "stdin", "expect_exit", "expect_stdout", "expect_stderr", "timeout"),
                 ("command", "host")),
    "wait_until": _body("wait_until", ("host", "field", "equals", "timeout"), ("equals", "field", "host")),
}


class _StepFailed(Exception):
    """A step that cannot be carried out against the running simulator (a name it does not know)."""


@dataclass(frozen=True)
class Scenario:
    name: str
    path: Path
    description: str
    steps: tuple[dict, ...]
    ha: bool = False  # the pool starts with HA enabled
    ha_timeout: float | None = None  # HA's T, when the incident needs a particular one
    hosts: int | None = None  # the steps are written for exactly this many hosts


@dataclass(frozen=True)
class StepResult:
    index: int  # position in the file, from 1
    kind: str
    ok: bool
    detail: str  # what was done and checked, or what went wrong
    note: str = ""
    exit_status: int | None = None
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0


def scenario_names() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def load_scenario(path_or_name: str | Path) -> Scenario:
    path = Path(path_or_name)
    if not path.suffix and not path.exists():
        path = SCENARIO_DIR / f"{path_or_name}.yaml"
    reader = _Reader.read(path, missing_ok=True)
    if reader is None:
        known = ", ".join(scenario_names())
        raise ScenarioError(None, f"no scenario {str(path_or_name)!r} (shipped: {known})")
    return reader.scenario(path)


class _Reader(DataFile):
    """A scenario file's checks: the steps' shapes, each at its line; the steps stay plain data."""

    error = ScenarioError

    def scenario(self, path: Path) -> Scenario:
        message = TOP.expected
        top = self.mapping(self.top(message), "", TOP)
        pool = self.pool(top["pool"]) if "pool" in top else {}
        # Without steps the mapping itself is reported: it is not the list of steps expected.
        steps = self.sequence(top.place("steps"), "", message)
        for index, step in enumerate(steps, 1):
            self.step(step, f"step {index}")
        description = str(top.get("description", "")).strip()
        return Scenario(path.stem, path, description, tuple(self.value(top["steps"], "steps")), **pool)

    def pool(self, node: Node) -> dict[str, Any]:
        """The ``pool`` mapping: the Scenario fields it sets."""
        fields = self.mapping(node, "pool", POOL)
        pool: dict[str, Any] = {}
        if "ha" in fields:
            pool["ha"] = self.boolean(fields["ha"], fields.at("ha"))
        if "ha_timeout" in fields:
            pool["ha_timeout"] = self.number(fields["ha_timeout"], fields.at("ha_timeout"),
                                             "expected a number of seconds more than 0, found {found}", above=0)
        if "hosts" in fields:
            pool["hosts"] = self.integer(fields["hosts"], fields.at("hosts"), 1, MAX_HOSTS)
        return pool

    def step(self, node: Node, where: str) -> None:
        fields = self.mapping(node, where, STEP)
        kinds = [kind for kind in KINDS if kind in fields]
        if len(kinds) != 1:
            raise self.fail(node, where, f"needs exactly one of {', '.join(KINDS)}")
        kind = kinds[0]
        if kind == "sleep":
            self.number(fields[kind], where, "sleep takes a number of seconds", low=0)
        else:
            self.mapping(fields[kind], where, BODIES[kind])


def _selected(step: dict, only: str | Callable[[dict], bool] | None) -> bool:
    if only is None:
        return True
    if callable(only):
        return bool(only(step))
    return step.get(only) is True or only in (step.get("tags") or [])


async def run_scenario(
    sim: "Simulator",
    path_or_name: str | Path,
    *,
    only: str | Callable[[dict], bool] | None = None,
) -> list[StepResult]:
    """Run a scenario's steps in order (or only those tagged `only`); stop at the first failure.

    The last result is the failing one when any failed.
    """
    scenario = load_scenario(path_or_name)
    runner = _Runner(sim)
    results: list[StepResult] = []
    for index, step in enumerate(scenario.steps, 1):
        if not _selected(step, only):
            continue
        result = await runner.step(index, step)
        results.append(result)
        if not result.ok:
            break
    return results


class _Runner:
    def __init__(self, sim: "Simulator"):
        self.sim = sim
        self.loop = asyncio.get_running_loop()
        self._key = asyncssh.read_private_key(sim.client_key)
        self._known_hosts = asyncssh.read_known_hosts(str(sim.known_hosts))

    async def step(self, index: int, step: dict) -> StepResult:
        kind = next(k for k in KINDS if k in step)
        started = self.loop.time()
        try:
            fields = await getattr(self, f"_{kind}")(step[kind])
        except (SimError, _StepFailed) as exc:
            fields = {"ok": False, "detail": str(exc)}
        return StepResult(
            index=index, kind=kind, note=str(step.get("note", "")), seconds=self.loop.time() - started, **fields
        )

    # templates

    def expand(self, text: Any, *, regex: bool = False) -> str:
        status = self.sim.status()
        hosts = {h["name"]: h for h in status["hosts"]}

        def value(m: re.Match[str]) -> str:
            host = hosts.get(m.group(1))
            if host is None:
                raise _StepFailed(f"no host {m.group(1)!r} in {m.group(0)}")
            found = str(host[m.group(2)])
            return re.escape(found) if regex else found

        return _TEMPLATE.sub(value, str(text))

    # step kinds

    async def _sleep(self, seconds: float) -> dict:
        await asyncio.sleep(seconds)
        return {"ok": True, "detail": f"slept {seconds} s"}

    async def _ctl(self, body: dict) -> dict:
        host = self.expand(body["host"]) if body.get("host") else None
        # cut and uncut name a second host
        extra = {"peer": self.expand(body["peer"])} if body.get("peer") else {}
        await self.sim.ctl(str(body["action"]), host, **extra)
        shown = " ".join(x for x in (host, extra.get("peer")) if x)
        return {"ok": True, "detail": f"ctl {body['action']} {shown}".rstrip()}

    async def _wait_until(self, body: dict) -> dict:
        host, field = self.expand(body["host"]), str(body["field"])
        want = body["equals"]
        if isinstance(want, str):
            want = self.expand(want)
        timeout = float(body.get("timeout", DEFAULT_WAIT))

        def current(status: dict) -> Any:
            for h in status["hosts"]:
                if h["name"] == host:
                    if field not in h:
                        raise _StepFailed(f"ground truth has no field {field!r}")
                    return h[field]
            raise _StepFailed(f"no host {host!r}")

        try:
            await self.sim.wait_until(lambda s: current(s) == want, timeout)
        except TimeoutError:
            seen = current(self.sim.status())
            return {"ok": False, "detail": f"{host}.{field} is {seen!r}, not {want!r}, after {timeout} s"}
        return {"ok": True, "detail": f"{host}.{field} == {want!r}"}

    async def _run(self, body: dict) -> dict:
        host = self.expand(body["host"])
        command = self.expand(body["command"])
        stdin = self.expand(body["stdin"]) if "stdin" in body else None
        timeout = float(body.get("timeout", DEFAULT_RUN_TIMEOUT))
        try:
            async with asyncssh.connect(
                self.sim.address_of(host),
                self.sim.port_of(host),
                username="root",
                client_keys=[self._key],
                known_hosts=self._known_hosts,
                config=None,
                agent_path=None,
                connect_timeout=CONNECT_TIMEOUT,
            ) as conn:
                done = await conn.run(command, input=stdin, check=False, timeout=timeout)
        except (OSError, asyncssh.Error, asyncio.TimeoutError) as exc:
            return {"ok": False, "detail": f"{host}: {command}: SSH failed: {exc or type(exc).__name__}"}
        status = done.returncode
        out = _text(done.stdout)
        err = _text(done.stderr)
        problems = self._check_output(body, status, out, err)
        detail = f"{host}: {command} -> exit {status}"
        if problems:
            detail += "; " + "; ".join(problems)
        return {"ok": not problems, "detail": detail, "exit_status": status, "stdout": out, "stderr": err}

    def _check_output(self, body: dict, status: int | None, out: str, err: str) -> list[str]:
        problems = []
        if "expect_exit" in body and status != body["expect_exit"]:
            problems.append(f"expected exit {body['expect_exit']}")
        for key, text in (("expect_stdout", out), ("expect_stderr", err)):
            if key in body and not re.search(self.expand(body[key], regex=True), text, re.MULTILINE):
                problems.append(f"{key.removeprefix('expect_')} does not match {body[key]!r}: {text!r}")
        return problems


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data
