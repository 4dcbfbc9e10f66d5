"""The playbooks' data model: a :class:`Playbook` of :class:`Step` s, some running a
:class:`CommandSpec`, and the fixed vocabulary they are written in (ids, binding
sources, waits, facts). Plain frozen data: :mod:`poolterm.playbooks.load` builds it
from the YAML files, the engine plans and runs it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from poolterm.model import Verdict
from poolterm.playbooks.conditions import Spec, referenced

#: The shipped playbooks (docs/architecture.md, "A playbook"), in the order `poolterm playbook list` shows them.
IDS = ("master-lost", "split-brain", "orphaned-slaves", "planned-handover", "forgotten-host", "ha-stuck")
#: How a binding is chosen from the diagnosis (implemented in engine.BINDING_SOURCES).
BINDING_SOURCES = frozenset({"lost-master", "best-candidate", "master", "true-master", "stale-masters",
                             "orphans", "forgotten", "handover-candidate", "ha-survivors"})
#: Programs other than xe a playbook may run (fixed command lines, no arguments).
SHELL_COMMANDS = frozenset({"xe-toolstack-restart"})
FIELDS = ("name", "address", "uuid")
WAITS = ("role-change", "boot", "probe")
FACTS = frozenset({"powered-off"})  # what an operator's confirmation of a manual step can establish
DEFAULT_COMMAND_TIMEOUT = 30.0
#: What a secret parameter can be: the root password of a bound host (for its xapi login).
SECRET_FIELDS = ("password",)
_TEMPLATE = re.compile(r"\{([a-z_]+)(?:\.(name|address|uuid))?\}")


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
