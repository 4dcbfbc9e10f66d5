"""What the console may run on a host: curated queries and the free-form ``xe`` prompt.

No Textual here: the decisions are plain functions the app's ``check_action``
calls. Everything the operator types is parsed into an argv, checked word by
word with :mod:`poolterm.xe`, and rebuilt with :func:`poolterm.xe.xe_command`,
so what runs on the host is exactly one ``xe`` invocation with every value
quoted, under ``timeout -k``. Whether a command only reads is the guards'
decision (:mod:`poolterm.diagnosis.guards`), the same one every playbook step meets;
what may run of the rest is decided by the command gate.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from poolterm.diagnosis import guards
from poolterm.xe import is_secret_name, validate_param_name, wrap_timeout, xe_command, xe_command_shown

#: Seconds an operator's command may run on the host before ``timeout`` ends it.
#: Long enough for a slow pool-list, short enough that a hang is seen as one.
COMMAND_TIMEOUT = 20.0


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
        """As the operator would type it (quoted where needed), secrets included: what is sent, never shown."""
        return xe_command(self.command, *self.flags, **dict(self.params))

    @property
    def shown(self) -> str:
        """:attr:`text` with every secret value (a parameter whose name holds ``pass``) as ``<redacted>``:
        what the log pane, the dialogs, the notifications and the journal show."""
        return xe_command_shown(self.command, *self.flags, **dict(self.params))

    @property
    def argv(self) -> tuple[str, ...]:
        """The words the guards read: ``xe``, the command, its flags and ``key=value`` parameters."""
        return ("xe", self.command, *self.flags, *(f"{key}={value}" for key, value in self.params))

    @property
    def read_only(self) -> bool:
        return guards.parse_command(self.argv).read_only

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
    for number, word in enumerate(words[2:]):
        option = guards.xe_client_option(word)
        if option is not None:
            raise PromptError(f"refused: {option} is an option of the xe client itself (it would send the command "
                              "to another server or as another user); the prompt runs xe on the selected host only")
        if word.startswith("--"):
            flags.append("--" + _checked(word[2:], "flag"))
        elif "=" in word:
            key, _, value = word.partition("=")
            params.append((_checked(key, "parameter"), value))
        elif number and params and params[-1][1] == "" and is_secret_name(params[-1][0]):
            # `master-password= hunter2`: the stray word is the password, and is not echoed.
            raise PromptError(f"refused: a blank after {params[-1][0]}= makes its value a word of its own; "
                              "quote a value that holds blanks")
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


def read_only_refusal(request: XeRequest) -> str:
    """Why a command that changes the pool does not run in a read-only console (one line)."""
    return (f"refused: {request.shown} changes the pool and this console is read-only (--read-only); "
            "only queries run here")


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
