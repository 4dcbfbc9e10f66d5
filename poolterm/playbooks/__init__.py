"""The recovery playbooks: one YAML file each, shipped with the package.

A playbook names the hosts it works on (``bindings``, chosen from the diagnosis
when it starts), the state it aims for (``goal``) and its steps. A step has a
title, a ``why`` written for a junior operator, and one of:

* ``run``: an exact command on a bound host, built only from validated values
  (``xe`` sub-command, flags, and parameters whose values are ``binding.field``
  references: the host's name, address or uuid; ``literals``: fixed names such as
  ``root``; ``secrets``: ``binding.password``, asked of the operator when the step
  runs, sent to the host and never shown, journaled or logged);
* ``manual``: something only a person can do (power a host on through its BMC);
  the engine waits for the operator to say it is done, then verifies what it can;
* neither: a check that waits for what it expects.

``expect`` is what must be observed afterwards and ``wait`` how long to wait for
it (``role-change``: the fuse plus xapi's start-up; ``boot``: a host's boot;
``probe``: one probe round; or seconds). ``on_failure`` says what to do when it
is not observed. ``when`` makes a step conditional; a step whose expectation
already holds is skipped. Conditions are the names in
:mod:`poolterm.playbooks.conditions`.

Loading validates everything (unknown keys, bindings, conditions, commands), so
a mistake in a shipped file is caught by the tests, not during an incident.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from poolterm.diagnosis import guards
from poolterm.errors import PooltermError
from poolterm.model import Verdict
from poolterm.playbooks.conditions import Spec, SpecError, parse_spec, referenced
from poolterm.xe import validate_name, validate_param_name

PLAYBOOK_DIR = Path(__file__).resolve().parent
#: The playbooks DESIGN.md fixes, in the order `poolterm playbook list` shows them.
IDS = ("master-lost", "split-brain", "orphaned-slaves", "planned-handover", "forgotten-host")
#: How a binding is chosen from the diagnosis (implemented in engine.BINDING_SOURCES).
BINDING_SOURCES = frozenset({"lost-master", "best-candidate", "master", "true-master", "stale-masters",
                             "orphans", "forgotten", "handover-candidate"})
#: Programs other than xe a playbook may run (fixed command lines, no arguments).
SHELL_COMMANDS = frozenset({"xe-toolstack-restart"})
FIELDS = ("name", "address", "uuid")
WAITS = ("role-change", "boot", "probe")
FACTS = frozenset({"powered-off"})  # what an operator's confirmation of a manual step can establish
DEFAULT_COMMAND_TIMEOUT = 30.0

TOP_KEYS = {"id", "title", "summary", "for_verdicts", "bindings", "target", "goal", "steps", "done"}
STEP_KEYS = {"id", "title", "why", "run", "manual", "changes_pool", "when", "expect", "always", "wait",
             "on_failure", "confirms"}
RUN_KEYS = {"host", "xe", "shell", "params", "literals", "secrets", "flags", "timeout"}
#: What a secret parameter can be: the root password of a bound host (for its xapi login).
SECRET_FIELDS = ("password",)
_TEMPLATE = re.compile(r"\{([a-z_]+)(?:\.(name|address|uuid))?\}")


class PlaybookError(PooltermError):
    """A playbook file that cannot be used as written; ``str()`` names the file and the place."""


@dataclass(frozen=True)
class CommandSpec:
    host: str  # the binding of the host the command runs on
    xe: str | None
    shell: str | None
    params: tuple[tuple[str, str, str], ...]  # (xe parameter, binding, field)
    flags: tuple[str, ...]
    timeout: float
    literals: tuple[tuple[str, str], ...] = ()  # (xe parameter, fixed value)
    secrets: tuple[tuple[str, str], ...] = ()  # (xe parameter, binding whose password it is)

    @property
    def template(self) -> str:
        """The command with placeholders, as `poolterm playbook show` prints it."""
        if self.shell:
            return self.shell
        words = ["xe", self.xe or ""]
        words += [f"{name}=<{binding}.{field}>" for name, binding, field in self.params]
        words += [f"{name}={value}" for name, value in self.literals]
        words += [f"{name}=<{binding}.password, asked>" for name, binding in self.secrets]
        return " ".join(words + list(self.flags))


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    why: str
    run: CommandSpec | None = None
    manual: str | None = None
    changes_pool: bool = False
    when: Spec | None = None
    expect: Spec | None = None
    always: bool = False  # run even when the expectation already holds
    wait: str | float = "probe"
    on_failure: str = ""
    confirms: tuple[tuple[str, str], ...] = ()  # (fact, binding) the operator's "done" establishes

    @property
    def kind(self) -> str:
        if self.run is not None:
            return "command"
        if self.manual is not None:
            return "manual"
        return "check"

    def bindings_used(self) -> set[str]:
        used = set()
        for text in (self.title, self.why, self.manual or "", self.on_failure):
            used |= {m.group(1) for m in _TEMPLATE.finditer(text)}
        if self.run is not None:
            used.add(self.run.host)
            used |= {binding for _, binding, _ in self.run.params}
            used |= {binding for _, binding in self.run.secrets}
        for spec in (self.when, self.expect):
            if spec is not None:
                used |= referenced(spec)
        return used | {binding for _, binding in self.confirms}


@dataclass(frozen=True)
class Playbook:
    id: str
    title: str
    summary: str
    for_verdicts: tuple[Verdict, ...]
    bindings: tuple[tuple[str, str], ...]  # (name, source)
    target: str | None  # the binding `--target HOST` sets
    goal: Spec | None
    steps: tuple[Step, ...]
    done: str
    path: Path

    def step_index(self, step_id: str) -> int:
        return next(i for i, s in enumerate(self.steps) if s.id == step_id)


def playbook_ids() -> list[str]:
    return list(IDS)


def load_playbook(playbook_id: str) -> Playbook:
    if playbook_id not in IDS:
        raise PlaybookError(f"no playbook {playbook_id!r} (playbooks: {', '.join(IDS)})")
    return load_file(PLAYBOOK_DIR / f"{playbook_id}.yaml")


def load_all() -> list[Playbook]:
    return [load_playbook(i) for i in IDS]


def load_file(path: Path) -> Playbook:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlaybookError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise PlaybookError(f"{path}: not valid YAML: {exc}") from None
    try:
        return _Reader(path).playbook(data)
    except SpecError as exc:
        raise PlaybookError(f"{path}: {exc}") from None


class _Reader:
    def __init__(self, path: Path):
        self.path = path

    def fail(self, where: str, message: str) -> PlaybookError:
        return PlaybookError(f"{self.path}: {where}: {message}")

    def keys(self, data: object, allowed: set[str], where: str) -> dict:
        if not isinstance(data, dict):
            raise self.fail(where, "expected a mapping")
        unknown = set(data) - allowed
        if unknown:
            raise self.fail(where, f"unknown key {sorted(unknown)[0]!r}")
        return data

    def text(self, data: dict, key: str, where: str, *, required: bool = True) -> str:
        value = data.get(key)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{where}.{key}", "expected non-empty text")
        return " ".join(value.split())

    def playbook(self, data: object) -> Playbook:
        data = self.keys(data, TOP_KEYS, "top level")
        playbook_id = self.text(data, "id", "top level")
        if playbook_id != self.path.stem:
            raise self.fail("id", f"{playbook_id!r} does not match the file name {self.path.stem!r}")
        bindings = self.bindings(data.get("bindings") or {})
        names = [name for name, _ in bindings]
        target = data.get("target")
        if target is not None and target not in names:
            raise self.fail("target", f"{target!r} is not a binding")
        verdicts = self.verdicts(data.get("for_verdicts"))
        goal = parse_spec(data["goal"], names, "goal") if data.get("goal") is not None else None
        raw_steps = data.get("steps")
        if not isinstance(raw_steps, list) or not raw_steps:
            raise self.fail("steps", "expected a non-empty list")
        steps = tuple(self.step(raw, names, f"steps[{i}]") for i, raw in enumerate(raw_steps))
        ids = [s.id for s in steps]
        if len(set(ids)) != len(ids):
            raise self.fail("steps", "step ids must be unique")
        return Playbook(playbook_id, self.text(data, "title", "top level"), self.text(data, "summary", "top level"),
                        verdicts, tuple(bindings), target, goal, steps,
                        self.text(data, "done", "top level", required=False), self.path)

    def bindings(self, data: object) -> list[tuple[str, str]]:
        if not isinstance(data, dict):
            raise self.fail("bindings", "expected a mapping of name: source")
        out = []
        for name, source in data.items():
            if not isinstance(name, str) or not re.fullmatch(r"[a-z_]+", name):
                raise self.fail("bindings", f"binding names are lower-case words, not {name!r}")
            if source not in BINDING_SOURCES:
                raise self.fail(f"bindings.{name}", f"unknown source {source!r} "
                                                    f"(known: {', '.join(sorted(BINDING_SOURCES))})")
            out.append((name, source))
        return out

    def verdicts(self, data: object) -> tuple[Verdict, ...]:
        if not isinstance(data, list) or not data:
            raise self.fail("for_verdicts", "expected a non-empty list of verdicts")
        try:
            return tuple(Verdict(v) for v in data)
        except ValueError:
            raise self.fail("for_verdicts", f"verdicts are {', '.join(v.value for v in Verdict)}") from None

    def step(self, raw: object, names: list[str], where: str) -> Step:
        data = self.keys(raw, STEP_KEYS, where)
        step_id = self.text(data, "id", where)
        if not re.fullmatch(r"[a-z][a-z0-9-]*", step_id):
            raise self.fail(f"{where}.id", "step ids are lower-case words joined by '-'")
        run = self.command(data["run"], names, f"{where}.run") if "run" in data else None
        manual = self.text(data, "manual", where) if "manual" in data else None
        if run is not None and manual is not None:
            raise self.fail(where, "a step runs a command or asks for a manual action, not both")
        changes = data.get("changes_pool", False)
        if not isinstance(changes, bool):
            raise self.fail(f"{where}.changes_pool", "expected true or false")
        if run is not None and changes == self.reads_only(run):
            raise self.fail(f"{where}.changes_pool", f"says {changes} but `{run.template}` "
                                                     f"{'changes the pool' if not changes else 'only reads'}")
        when = parse_spec(data["when"], names, f"{where}.when") if data.get("when") is not None else None
        expect = parse_spec(data["expect"], names, f"{where}.expect") if data.get("expect") is not None else None
        if run is None and manual is None and expect is None:
            raise self.fail(where, "a check step needs an expect")
        step = Step(step_id, self.text(data, "title", where), self.text(data, "why", where), run, manual, changes,
                    when, expect, bool(data.get("always", False)), self.wait(data.get("wait", "probe"), where),
                    self.text(data, "on_failure", where, required=False), self.confirms(data, names, where))
        unknown = step.bindings_used() - set(names)
        if unknown:
            raise self.fail(where, f"uses {sorted(unknown)[0]!r}, which is not a binding")
        return step

    def command(self, raw: object, names: list[str], where: str) -> CommandSpec:
        data = self.keys(raw, RUN_KEYS, where)
        host = data.get("host")
        if host not in names:
            raise self.fail(f"{where}.host", f"{host!r} is not a binding")
        xe, shell = data.get("xe"), data.get("shell")
        if (xe is None) == (shell is None):
            raise self.fail(where, "give exactly one of xe (a sub-command) or shell")
        if shell is not None and shell not in SHELL_COMMANDS:
            raise self.fail(f"{where}.shell", f"only {', '.join(sorted(SHELL_COMMANDS))} may run")
        if xe is not None:
            self.param_name(xe, f"{where}.xe")
        params = []
        for name, ref in (data.get("params") or {}).items():
            self.param_name(name, f"{where}.params")
            binding, _, field = str(ref).partition(".")
            if binding not in names or field not in FIELDS:
                raise self.fail(f"{where}.params.{name}", f"expected binding.field ({'|'.join(FIELDS)}), "
                                                          f"not {ref!r}")
            params.append((name, binding, field))
        literals = self.literals(data.get("literals") or {}, f"{where}.literals")
        secrets = self.secrets(data.get("secrets") or {}, names, f"{where}.secrets")
        if shell is not None and (literals or secrets or params):
            raise self.fail(where, "a shell command takes no parameters")
        given = [name for name, _, _ in params] + [name for name, _ in literals] + [name for name, _ in secrets]
        if len(set(given)) != len(given):
            raise self.fail(where, "a parameter is given twice")
        flags = data.get("flags") or []
        if not isinstance(flags, list) or any(not re.fullmatch(r"--[a-z][a-z0-9-]*", str(f)) for f in flags):
            raise self.fail(f"{where}.flags", "expected a list of --flags")
        timeout = data.get("timeout", DEFAULT_COMMAND_TIMEOUT)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise self.fail(f"{where}.timeout", "expected a positive number of seconds")
        return CommandSpec(host, xe, shell, tuple(params), tuple(flags), float(timeout), literals, secrets)

    def literals(self, raw: object, where: str) -> tuple[tuple[str, str], ...]:
        if not isinstance(raw, dict):
            raise self.fail(where, "expected a mapping of parameter: value")
        out = []
        for name, value in raw.items():
            self.param_name(name, where)
            try:
                validate_name(value)  # type: ignore[arg-type]
            except ValueError as exc:
                raise self.fail(f"{where}.{name}", str(exc)) from None
            out.append((name, value))
        return tuple(out)

    def secrets(self, raw: object, names: list[str], where: str) -> tuple[tuple[str, str], ...]:
        if not isinstance(raw, dict):
            raise self.fail(where, "expected a mapping of parameter: binding.password")
        out = []
        for name, ref in raw.items():
            self.param_name(name, where)
            binding, _, field = str(ref).partition(".")
            if binding not in names or field not in SECRET_FIELDS:
                raise self.fail(f"{where}.{name}", f"expected binding.password, not {ref!r}")
            out.append((name, binding))
        return tuple(out)

    def param_name(self, name: object, where: str) -> None:
        try:
            validate_param_name(name)  # type: ignore[arg-type]
        except ValueError as exc:
            raise self.fail(where, str(exc)) from None

    @staticmethod
    def reads_only(run: CommandSpec) -> bool:
        if run.shell:
            return guards.parse_command([run.shell]).read_only
        named = [name for name, _, _ in run.params] + [name for name, _ in (*run.literals, *run.secrets)]
        argv = ["xe", run.xe or ""] + [f"{name}=x" for name in named] + list(run.flags)
        return guards.parse_command(argv).read_only

    def wait(self, value: object, where: str) -> str | float:
        if value in WAITS:
            return value  # type: ignore[return-value]
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return float(value)
        raise self.fail(f"{where}.wait", f"expected {', '.join(WAITS)} or seconds, not {value!r}")

    def confirms(self, data: dict, names: list[str], where: str) -> tuple[tuple[str, str], ...]:
        raw = data.get("confirms") or {}
        if not isinstance(raw, dict):
            raise self.fail(f"{where}.confirms", "expected a mapping of fact: binding")
        out = []
        for fact, binding in raw.items():
            if fact not in FACTS or binding not in names:
                raise self.fail(f"{where}.confirms", f"expected one of {', '.join(sorted(FACTS))}: <binding>")
            if "manual" not in data:
                raise self.fail(f"{where}.confirms", "only a manual step's confirmation establishes a fact")
            out.append((fact, binding))
        return tuple(out)
