"""What the console may run on a host: curated queries and the free-form ``xe`` prompt.

No Textual here: the decisions are plain functions the app's ``check_action``
calls. Everything the operator types is parsed into an argv, checked word by
word with :mod:`poolterm.xe`, and rebuilt with :func:`poolterm.xe.xe_command`,
so what runs on the host is exactly one ``xe`` invocation with every value
quoted, under ``timeout -k``. A command is read-only only if it is on
:data:`READ_ONLY_COMMANDS`; everything else changes the pool and is refused in
this build (changes will go through playbook steps and their guards).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from poolterm.xe import validate_param_name, wrap_timeout, xe_command

#: Seconds an operator's command may run on the host before ``timeout`` ends it.
#: Long enough for a slow pool-list, short enough that a hang is seen as one.
COMMAND_TIMEOUT = 20.0
#: Local guard above the remote timeout (kill grace + transport).
DEADLINE_SLACK = 5.0

#: xe commands that only read. Anything else is treated as a change to the pool.
READ_ONLY_COMMANDS = frozenset({
    "help",
    "host-list", "host-param-list", "host-param-get", "host-is-in-emergency-mode",
    "host-cpu-info", "host-data-source-list", "host-data-source-query", "host-get-cpu-features",
    "host-metrics-list", "host-crashdump-list", "host-call-plugin-list",
    "pool-list", "pool-param-list", "pool-param-get",
    "vm-list", "vm-param-list", "vm-param-get",
    "sr-list", "sr-param-list", "pbd-list", "pbd-param-list",
    "vdi-list", "vdi-param-list", "vbd-list", "vif-list",
    "network-list", "network-param-list", "pif-list", "pif-param-list", "bond-list", "vlan-list",
    "patch-list", "update-list", "task-list", "message-list", "log-get-keys",
})
#: Flags that change nothing about what a read-only command does.
READ_ONLY_FLAGS = frozenset({"--minimal", "--all", "--multiple"})


class PromptError(ValueError):
    """The line is not one ``xe`` command poolterm can send; ``str()`` is one line."""


@dataclass(frozen=True)
class XeRequest:
    """One parsed ``xe`` command line."""

    command: str
    params: tuple[tuple[str, str], ...] = ()
    flags: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """As the operator would type it (quoted where needed)."""
        return xe_command(self.command, *self.flags, **dict(self.params))

    @property
    def read_only(self) -> bool:
        return self.command in READ_ONLY_COMMANDS and all(f in READ_ONLY_FLAGS for f in self.flags)

    def remote(self, timeout: float = COMMAND_TIMEOUT) -> str:
        """The command line sent to the host: validated, quoted, under ``timeout -k``."""
        return wrap_timeout(self.text, timeout)


def parse_prompt(line: str) -> XeRequest:
    """``xe host-list params=uuid --minimal`` → :class:`XeRequest`; PromptError otherwise."""
    try:
        words = shlex.split(line, comments=False, posix=True)
    except ValueError as exc:
        raise PromptError(f"cannot read the line: {exc}") from None
    if not words:
        raise PromptError("type an xe command, e.g. xe host-list")
    if words[0] != "xe":
        raise PromptError(f"refused: {words[0]!r} is not xe; the prompt runs xe commands only")
    if len(words) < 2:
        raise PromptError("xe needs a command, e.g. xe host-list")
    command = _checked(words[1], "command")
    params: list[tuple[str, str]] = []
    flags: list[str] = []
    for word in words[2:]:
        if word.startswith("--"):
            flags.append("--" + _checked(word[2:], "flag"))
        elif "=" in word:
            key, _, value = word.partition("=")
            params.append((_checked(key, "parameter"), value))
        else:
            raise PromptError(f"refused: {word!r} is neither key=value nor --flag")
    request = XeRequest(command, tuple(params), tuple(flags))
    try:
        request.remote()
    except ValueError as exc:
        raise PromptError(f"refused: {exc}") from None
    return request


def _checked(word: str, what: str) -> str:
    try:
        return validate_param_name(word)
    except ValueError:
        raise PromptError(f"refused: {word!r} is not a valid xe {what} name") from None


def refusal(request: XeRequest, *, read_only_mode: bool) -> str | None:
    """Why ``request`` may not run (one line), or None when it may."""
    if request.read_only:
        return None
    if read_only_mode:
        return (f"refused: {request.text} changes the pool and this console is read-only (--read-only); "
                "only queries run here")
    return (f"refused: {request.text} changes the pool; poolterm runs changes only through a playbook step "
            "with its guard checks (press R for the recommended playbook); changes are not available in "
            "this build")


@dataclass(frozen=True)
class Query:
    """A curated read-only query offered in the query menu."""

    key: str
    title: str
    command: str  # shell text; only fixed strings or xe_command output

    def remote(self, timeout: float = COMMAND_TIMEOUT) -> str:
        return wrap_timeout(self.command, timeout)


def curated_queries(host_uuid: str | None) -> list[Query]:
    """The menu for one host; the self-describing query needs the host's uuid from its last probe."""
    queries = [
        Query("pool-conf", "pool.conf: who this host thinks is master", "cat /etc/xensource/pool.conf"),
        Query("emergency", "host-is-in-emergency-mode (local, never forwarded)",
              xe_command("host-is-in-emergency-mode")),
        Query("pool-list", "pool-list (forwarded: hangs if the master is gone)", xe_command("pool-list")),
        Query("host-list", "host-list (forwarded)",
              xe_command("host-list", params="uuid,name-label,address,enabled,host-metrics-live")),
        Query("xapi", "xapi service state", "systemctl is-active xapi"),
    ]
    if host_uuid:
        queries.append(Query("self", "host-param-list of this host (forwarded)",
                             xe_command("host-param-list", uuid=host_uuid)))
    return queries
