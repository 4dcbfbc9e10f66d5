"""Reading a playbook file into a :class:`~poolterm.playbooks.model.Playbook`, checking everything.

Unknown keys, bindings, conditions and commands are all checked at load time, so a
mistake in a shipped file is caught by the tests, not during an incident. Every
mistake is a :class:`~poolterm.errors.PlaybookError`, ``FILE:LINE: KEY: message``,
where KEY is the place in the playbook (``steps[2].run.params.uuid``).
"""

from __future__ import annotations

import re
from pathlib import Path

from yaml.nodes import Node

from poolterm.datafile import DataFile, Fields, Keys, at_mapping
from poolterm.diagnosis import guards
from poolterm.errors import PlaybookError
from poolterm.model import Verdict
from poolterm.playbooks.conditions import Spec, SpecError, parse_spec
from poolterm.playbooks.model import (
    BINDING_SOURCES,
    DEFAULT_COMMAND_TIMEOUT,
    FACTS,
    FIELDS,
    IDS,
    SECRET_FIELDS,
    SHELL_COMMANDS,
    WAITS,
    CommandSpec,
    Playbook,
    Step,
)
from poolterm.xe import validate_name, validate_param_name

PLAYBOOK_DIR = Path(__file__).resolve().parent

# The shape of a playbook file. A fixed key out of place is named in the message, at its mapping.
_NAMED = at_mapping("unknown key {name!r}")
TOP = Keys(("id", "title", "summary", "for_verdicts", "bindings", "target", "goal", "steps", "done"),
           unknown=_NAMED, expected="expected a mapping")
STEP = Keys(("id", "title", "why", "run", "manual", "changes_pool", "when", "expect", "always", "wait",
             "on_failure", "confirms"), unknown=_NAMED, expected="expected a mapping")
RUN = Keys(("host", "xe", "shell", "params", "literals", "secrets", "flags", "timeout"),
           unknown=_NAMED, expected="expected a mapping")
# Mappings whose keys the author chooses (binding and parameter names, facts).
BINDINGS = Keys(expected="expected a mapping of name: source")
PARAMS = Keys(expected="expected a mapping of parameter: binding.field")
LITERALS = Keys(expected="expected a mapping of parameter: value")
SECRETS = Keys(expected="expected a mapping of parameter: binding.password")
CONFIRMS = Keys(expected="expected a mapping of fact: binding")


def load_playbook(playbook_id: str) -> Playbook:
    if playbook_id not in IDS:
        raise PlaybookError(None, f"no playbook {playbook_id!r} (playbooks: {', '.join(IDS)})")
    return load_file(PLAYBOOK_DIR / f"{playbook_id}.yaml")


def load_all() -> list[Playbook]:
    return [load_playbook(i) for i in IDS]


def load_file(path: Path) -> Playbook:
    return _Reader.read(path).playbook(path)


class _Reader(DataFile):
    """A playbook file's checks. Values are read as YAML reads them (``yes`` is true), and
    every check knows the node it looks at, hence the line."""

    error = PlaybookError

    def text(self, fields: Fields, name: str, *, required: bool = True) -> str:
        """Non-empty text, its whitespace folded to single spaces ("" if absent and not required)."""
        value = fields.get(name)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or not value.strip():
            raise self.fail(fields.place(name), fields.at(name), "expected non-empty text")
        return " ".join(value.split())

    def items(self, fields: Fields, name: str, message: str) -> list[Node]:
        """The non-empty list under the top-level key ``name``; ``message`` otherwise."""
        items = self.sequence(fields[name], name, message) if name in fields else []
        if not items:
            raise self.fail(fields.place(name), name, message)
        return items

    def spec(self, fields: Fields, name: str, names: list[str], where: str) -> Spec | None:
        """The condition under ``name``, if any; a SpecError's message already names its place."""
        value = fields.get(name)
        if value is None:
            return None
        try:
            return parse_spec(value, names, where)
        except SpecError as exc:
            raise self.fail(fields[name], None, str(exc)) from None

    def playbook(self, path: Path) -> Playbook:
        top = self.mapping(self.top("expected a mapping", "top level"), "top level", TOP)
        playbook_id = self.text(top, "id")
        if playbook_id != path.stem:
            raise self.fail(top["id"], "id", f"{playbook_id!r} does not match the file name {path.stem!r}")
        bindings = self.bindings(top)
        names = [name for name, _ in bindings]
        target = top.get("target")
        if target is not None and target not in names:
            raise self.fail(top["target"], "target", f"{target!r} is not a binding")
        verdicts = self.verdicts(top)
        goal = self.spec(top, "goal", names, "goal")
        items = self.items(top, "steps", "expected a non-empty list")
        steps = tuple(self.step(item, names, f"steps[{i}]") for i, item in enumerate(items))
        seen: set[str] = set()
        for item, step in zip(items, steps):
            if step.id in seen:
                raise self.fail(item, "steps", "step ids must be unique")
            seen.add(step.id)
        return Playbook(playbook_id, self.text(top, "title"), self.text(top, "summary"), verdicts, tuple(bindings),
                        target, goal, steps, self.text(top, "done", required=False), path)

    def bindings(self, top: Fields) -> list[tuple[str, str]]:
        if not top.get("bindings"):
            return []
        fields = self.mapping(top["bindings"], "bindings", BINDINGS)
        out = []
        for name, node in fields.items():
            if not re.fullmatch(r"[a-z_]+", name):
                raise self.fail(fields.key_node(name), "bindings", f"binding names are lower-case words, not {name!r}")
            source = self.value(node, fields.at(name))
            if not isinstance(source, str) or source not in BINDING_SOURCES:
                raise self.fail(node, fields.at(name), f"unknown source {source!r} "
                                                       f"(known: {', '.join(sorted(BINDING_SOURCES))})")
            out.append((name, source))
        return out

    def verdicts(self, top: Fields) -> tuple[Verdict, ...]:
        verdicts = []
        for item in self.items(top, "for_verdicts", "expected a non-empty list of verdicts"):
            try:
                verdicts.append(Verdict(self.value(item, "for_verdicts")))
            except ValueError:
                raise self.fail(item, "for_verdicts", f"verdicts are {', '.join(v.value for v in Verdict)}") from None
        return tuple(verdicts)

    def step(self, node: Node, names: list[str], where: str) -> Step:
        fields = self.mapping(node, where, STEP)
        step_id = self.text(fields, "id")
        if not re.fullmatch(r"[a-z][a-z0-9-]*", step_id):
            raise self.fail(fields["id"], fields.at("id"), "step ids are lower-case words joined by '-'")
        run = self.command(fields["run"], names, fields.at("run")) if "run" in fields else None
        manual = self.text(fields, "manual") if "manual" in fields else None
        if run is not None and manual is not None:
            raise self.fail(node, where, "a step runs a command or asks for a manual action, not both")
        changes = self.boolean(fields["changes_pool"], fields.at("changes_pool")) if "changes_pool" in fields else False
        if run is not None and changes == self.reads_only(run):
            does = "changes the pool" if not changes else "only reads"
            raise self.fail(fields.place("changes_pool"), fields.at("changes_pool"),
                            f"says {changes} but `{run.template}` {does}")
        when = self.spec(fields, "when", names, f"{where}.when")
        expect = self.spec(fields, "expect", names, f"{where}.expect")
        if run is None and manual is None and expect is None:
            raise self.fail(node, where, "a check step needs an expect")
        step = Step(step_id, self.text(fields, "title"), self.text(fields, "why"), run, manual, changes,
                    when, expect, bool(fields.get("always", False)), self.wait(fields),
                    self.text(fields, "on_failure", required=False), self.confirms(fields, names))
        unknown = step.bindings_used() - set(names)
        if unknown:
            raise self.fail(node, where, f"uses {sorted(unknown)[0]!r}, which is not a binding")
        return step

    def command(self, node: Node, names: list[str], where: str) -> CommandSpec:
        fields = self.mapping(node, where, RUN)
        host = fields.get("host")
        if host not in names:
            raise self.fail(fields.place("host"), fields.at("host"), f"{host!r} is not a binding")
        xe, shell = fields.get("xe"), fields.get("shell")
        if (xe is None) == (shell is None):
            raise self.fail(node, where, "give exactly one of xe (a sub-command) or shell")
        if shell is not None and not (isinstance(shell, str) and shell in SHELL_COMMANDS):
            raise self.fail(fields["shell"], fields.at("shell"), f"only {', '.join(sorted(SHELL_COMMANDS))} may run")
        if xe is not None:
            self.param_name(xe, fields["xe"], fields.at("xe"))
        params = self.params(fields, names)
        literals = self.literals(fields)
        secrets = self.secrets(fields, names)
        if shell is not None and (literals or secrets or params):
            raise self.fail(node, where, "a shell command takes no parameters")
        given = [name for name, _, _ in params] + [name for name, _ in literals] + [name for name, _ in secrets]
        if len(set(given)) != len(given):
            raise self.fail(node, where, "a parameter is given twice")
        flags = fields.get("flags") or []
        if not isinstance(flags, list) or any(not re.fullmatch(r"--[a-z][a-z0-9-]*", str(f)) for f in flags):
            raise self.fail(fields.place("flags"), fields.at("flags"), "expected a list of --flags")
        timeout = DEFAULT_COMMAND_TIMEOUT
        if "timeout" in fields:
            timeout = self.number(fields["timeout"], fields.at("timeout"), "expected a positive number of seconds",
                                  above=0)
        return CommandSpec(host, xe, shell, tuple(params), tuple(flags), timeout, literals, secrets)

    def named(self, fields: Fields, name: str, keys: Keys) -> Fields | None:
        """The mapping of author-chosen names under ``name``, each checked as an xe parameter
        name; None when absent or empty."""
        if not fields.get(name):
            return None
        named = self.mapping(fields[name], fields.at(name), keys)
        for parameter in named:
            self.param_name(parameter, named.key_node(parameter), named.where)
        return named

    def params(self, fields: Fields, names: list[str]) -> list[tuple[str, str, str]]:
        params = self.named(fields, "params", PARAMS)
        out = []
        for name, node in params.items() if params else ():
            ref = self.value(node, params.at(name))
            binding, _, field = str(ref).partition(".")
            if binding not in names or field not in FIELDS:
                raise self.fail(node, params.at(name), f"expected binding.field ({'|'.join(FIELDS)}), not {ref!r}")
            out.append((name, binding, field))
        return out

    def literals(self, fields: Fields) -> tuple[tuple[str, str], ...]:
        literals = self.named(fields, "literals", LITERALS)
        out = []
        for name, node in literals.items() if literals else ():
            value = self.value(node, literals.at(name))
            try:
                validate_name(value)  # type: ignore[arg-type]
            except ValueError as exc:
                raise self.fail(node, literals.at(name), str(exc)) from None
            out.append((name, value))
        return tuple(out)

    def secrets(self, fields: Fields, names: list[str]) -> tuple[tuple[str, str], ...]:
        secrets = self.named(fields, "secrets", SECRETS)
        out = []
        for name, node in secrets.items() if secrets else ():
            ref = self.value(node, secrets.at(name))
            binding, _, field = str(ref).partition(".")
            if binding not in names or field not in SECRET_FIELDS:
                raise self.fail(node, secrets.at(name), f"expected binding.password, not {ref!r}")
            out.append((name, binding))
        return tuple(out)

    def param_name(self, name: object, node: Node, where: str) -> None:
        try:
            validate_param_name(name)  # type: ignore[arg-type]
        except ValueError as exc:
            raise self.fail(node, where, str(exc)) from None

    @staticmethod
    def reads_only(run: CommandSpec) -> bool:
        if run.shell:
            return guards.parse_command([run.shell]).read_only
        named = [name for name, _, _ in run.params] + [name for name, _ in (*run.literals, *run.secrets)]
        argv = ["xe", run.xe or ""] + [f"{name}=x" for name in named] + list(run.flags)
        return guards.parse_command(argv).read_only

    def wait(self, fields: Fields) -> str | float:
        value = fields.get("wait", "probe")
        if value in WAITS:
            return value  # type: ignore[return-value]
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return float(value)
        raise self.fail(fields.place("wait"), fields.at("wait"), f"expected {', '.join(WAITS)} or seconds, "
                                                                 f"not {value!r}")

    def confirms(self, fields: Fields, names: list[str]) -> tuple[tuple[str, str], ...]:
        if not fields.get("confirms"):
            return ()
        where = fields.at("confirms")
        confirms = self.mapping(fields["confirms"], where, CONFIRMS)
        out = []
        for fact, node in confirms.items():
            binding = self.value(node, confirms.at(fact))
            if fact not in FACTS or binding not in names:
                raise self.fail(node, where, f"expected one of {', '.join(sorted(FACTS))}: <binding>")
            if "manual" not in fields:
                raise self.fail(node, where, "only a manual step's confirmation establishes a fact")
            out.append((fact, binding))
        return tuple(out)
