"""Client side of ``xe``: parse what it prints, and build command lines that are safe to send.

Everything here is pure: text in, values out. The layouts follow xapi's
``Cli_printer`` byte for byte (see docs/xapi.md, "Record layout and --minimal" and "Error texts"):

* records: ``key ( RO)    : value`` lines, the first key padded on the right and the
  others on the left, each record followed by blank lines;
* ``--minimal``: one line, items joined with ``,``; inside items ``,`` is escaped as
  ``\\,`` and ``\\`` as ``\\\\`` (``Cli_printer.escape_commas``);
* maps ``k1: v1; k2: v2`` and sets ``a; b``;
* errors on stderr: the message, then one ``param: value`` line per parameter.

Anything that ends up in a remote command line goes through a validator here and is
always ``shlex.quote``-d by :func:`xe_command`: a host name or UUID typed by a tired
operator, or read from a hostile host, must never become shell syntax on another host.
"""

from __future__ import annotations

import ipaddress
import math
import re
import shlex
from dataclasses import dataclass, field
from typing import Sequence

# --------------------------------------------------------------------------- records

_ACCESS = r"(?: RO| RW|MRO|MRW|SRO|SRW)"
# The key is the first token on the line; xapi field names never contain blanks, so a
# value that itself looks like "x ( RW): y" cannot be mistaken for the key.
_FIELD_LINE = re.compile(
    r"^ *(?P<key>[^\s()]+) \(" + _ACCESS + r"\)(?: \[DEPRECATED\])? *: ?(?P<value>.*)$"
)


class XeParseError(ValueError):
    """Output that is not in xe's record layout; ``str()`` is one line."""


def parse_records(text: str) -> list[dict[str, str]]:
    """Parse xe's multi-record output into one dict per record, keys without access markers.

    A line that is not a field line continues the previous field's value (xe prints a
    value containing a newline verbatim). Blank lines separate records.
    """
    records: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last_key: str | None = None
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line.strip():
            if current:
                records.append(current)
            current, last_key = {}, None
            continue
        match = _FIELD_LINE.match(line)
        if match:
            last_key = match["key"]
            current[last_key] = match["value"]
        elif last_key is not None:
            current[last_key] += "\n" + line
        else:
            raise XeParseError(f"line {number}: not an xe record field: {_short(line)}")
    if current:
        records.append(current)
    return records


def parse_minimal(text: str) -> list[str]:
    """Split ``--minimal`` output into items, undoing the ``\\,`` and ``\\\\`` escapes.

    An empty result and a single empty item print the same empty line: both give ``[]``.
    """
    line = text.rstrip("\r\n")
    if not line:
        return []
    items: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(line):
        char = line[i]
        if char == "\\" and i + 1 < len(line) and line[i + 1] in ",\\":
            current.append(line[i + 1])
            i += 2
            continue
        if char == ",":
            items.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    items.append("".join(current))
    return items


def parse_map(value: str) -> dict[str, str]:
    """``k1: v1; k2: v2`` → ``{"k1": "v1", "k2": "v2"}``; an entry without ``: `` maps to ``""``."""
    result: dict[str, str] = {}
    for entry in parse_set(value):
        key, _, item = entry.partition(": ")
        result[key] = item
    return result


def parse_set(value: str) -> list[str]:
    """``a; b`` → ``["a", "b"]``; the empty string is the empty set."""
    if value == "":
        return []
    return value.split("; ")


# --------------------------------------------------------------------------- errors

# (code, first line of stderr). Both wordings where xapi 1.249 (XCP-ng 8.2) and
# xapi >= 1.316 (8.3, XenServer 8) differ; matching also ignores case, runs of blanks
# and a trailing full stop, because 1.249 is inconsistent about all three.
ERROR_TEXTS: tuple[tuple[str, str], ...] = (
    ("HOST_IS_SLAVE", "You cannot make regular API calls directly on a supporter. "
                      "Please pass API calls via the coordinator host."),
    ("HOST_IS_SLAVE", "You cannot make regular API calls directly on a slave. "
                      "Please pass API calls via the master host."),
    ("HOST_ITS_OWN_SLAVE", "The host is its own supporter. "
                           "Please use pool-emergency-transition-to-master or pool-emergency-reset-master."),
    ("HOST_ITS_OWN_SLAVE", "The host is its own slave. "
                           "Please use pool-emergency-transition-to-master or pool-emergency-reset-master."),
    ("HOST_STILL_BOOTING", "The host toolstack is still initialising. Please wait."),
    ("HOST_UNKNOWN_TO_MASTER", "The coordinator says the server is not known to it. Is the server in the "
                               "coordinator's database and pointing to the correct coordinator? Are all "
                               "servers using the same pool secret?"),
    ("HOST_UNKNOWN_TO_MASTER", "The master says the host is not known to it. Perhaps the Host was deleted "
                               "from the master's database? Perhaps the slave is pointing to the wrong master?"),
    ("HOST_MASTER_CANNOT_TALK_BACK", "The coordinator reports that it cannot talk back to the supporter on "
                                     "the supplied management IP address."),
    ("HOST_MASTER_CANNOT_TALK_BACK", "The master reports that it cannot talk back to the slave on the "
                                     "supplied management IP address."),
    ("HOST_HAS_NO_MANAGEMENT_IP", "The server failed to acquire an IP address on its management interface "
                                  "and therefore cannot contact the coordinator."),
    ("HOST_HAS_NO_MANAGEMENT_IP", "The host failed to acquire an IP address on its management interface "
                                  "and therefore cannot contact the master."),
    ("HOST_BROKEN", "This server failed in the middle of an automatic failover operation and needs to "
                    "retry the failover action."),
    ("HOST_BROKEN", "This host failed in the middle of an automatic failover operation and needs to "
                    "retry the failover action"),
    ("HOST_IN_EMERGENCY_MODE", "Cannot perform operation as the host is running in emergency mode."),
    ("HA_IS_ENABLED", "The operation could not be performed because HA is enabled on the Pool"),
    ("HA_NOT_ENABLED", "The operation could not be performed because HA is not enabled on the Pool"),
    # The HA start-up errors of an armed host (docs/xapi.md, "HA"); the 8.2 wordings say "host" where 8.3
    # says "server", as XCP-ng's documentation quotes them.
    ("HA_HOST_CANNOT_ACCESS_STATEFILE", "The server could not join the liveset because the HA daemon could not "
                                        "access the heartbeat disk."),
    ("HA_HOST_CANNOT_ACCESS_STATEFILE", "The host could not join the liveset because the HA daemon could not "
                                        "access the heartbeat disk."),
    ("HA_HEARTBEAT_DAEMON_STARTUP_FAILED", "The server could not join the liveset because the HA daemon failed "
                                           "to start."),
    ("HA_HEARTBEAT_DAEMON_STARTUP_FAILED", "The host could not join the liveset because the HA daemon failed to "
                                           "start."),
    ("HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED", "This server cannot join the pool because the pool has HA enabled "
                                                "but this server has HA disabled."),
    ("HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED", "This host cannot join the pool because the pool has HA enabled "
                                                "but this host has HA disabled."),
    ("HA_LOST_STATEFILE", "This server lost access to the HA statefile."),
    ("HA_LOST_STATEFILE", "This host lost access to the HA statefile."),
    ("HOST_IS_LIVE", "This operation cannot be completed because the server is still live."),
    ("HOST_IS_LIVE", "This operation cannot be completed as the host is still live."),
    ("HOST_HAS_RESIDENT_VMS", "This server cannot be forgotten because there are user VMs still running."),
    ("HOST_HAS_RESIDENT_VMS", "This host cannot be forgotten because there are some user VMs still running"),
    ("HOST_CANNOT_DESTROY_SELF", "The pool coordinator host cannot be removed."),
    ("HOST_CANNOT_DESTROY_SELF", "The pool master host cannot be removed."),
    ("HOST_OFFLINE", "You attempted an operation which involves a host which could not be contacted."),
    ("CANNOT_CONTACT_HOST", "Cannot forward messages because the server cannot be contacted. The server "
                            "may be switched off or there may be network connectivity problems."),
    ("CANNOT_CONTACT_HOST", "Cannot forward messages because the host cannot be contacted.  The host "
                            "may be switched off or there may be network connectivity problems."),
    ("HOST_NOT_DISABLED", "This operation cannot be performed because the host is not disabled. "
                          "Please disable the host and then try again."),
    ("POOL_NOT_IN_EMERGENCY_MODE", "This pool is not in emergency mode."),
    ("INTERNAL_ERROR", "The server failed to handle your request, due to an internal error. The given "
                       "message may give details useful for debugging the problem."),
    # Failures of the xe client itself or of the CLI layer (not API error codes; the
    # names are poolterm's).
    ("UNABLE_TO_CONTACT_SERVER", "Unable to contact server. Please check server and port settings."),
    ("LOST_CONNECTION", "Lost connection to the server."),
    ("NO_MANAGEMENT_AGENT", "Failed to contact a running management agent."),
    ("NO_MATCHING_HOSTS", "Error: No matching hosts found"),
    ("MULTIPLE_MATCHING_HOSTS", "Error: Multiple matching hosts found. "
                                "--multiple required to complete the operation"),
    ("ALREADY_MASTER", "Host agent is already master. Use '--force' to execute the operation anyway."),
    ("FORCE_REQUIRED", "Error: This operation is dangerous and may cause data loss. "
                       "This operation must be forced (use --force)."),
    ("FORCE_REQUIRED", "Error: This operation is extremely dangerous and may cause data loss. "
                       "This operation must be forced (use --force)."),
    ("AUTHENTICATION_FAILED", "Authentication failed"),
    ("CREDENTIALS_REQUIRED", "Username/password must be specified"),
)

# Client errors whose text carries a variable part.
_ERROR_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # `Error: %s (calling %s %s)` from a Unix_error while connecting: nothing listens
    # on xapi's socket or port, i.e. xapi is down.
    ("XAPI_NOT_RUNNING", re.compile(r"^Error: (?P<reason>.+?) \(calling connect\b.*\)$")),
    ("KEY_NOT_FOUND", re.compile(r"^Error: Key (?P<key>.*) not found in map$")),
)


def _canonical(text: str) -> str:
    return " ".join(text.split()).rstrip(".").casefold()


_CODE_BY_TEXT: dict[str, str] = {_canonical(text): code for code, text in ERROR_TEXTS}
KNOWN_CODES: frozenset[str] = frozenset(
    [code for code, _ in ERROR_TEXTS] + [code for code, _ in _ERROR_PATTERNS]
)


@dataclass(frozen=True)
class XeFailure:
    """What a failed ``xe`` said. ``code`` is the error code when the text is known, else the text."""

    code: str
    params: dict[str, str] = field(default_factory=dict)
    text: str = ""

    @property
    def known(self) -> bool:
        return self.code in KNOWN_CODES


_PARAM_LINE = re.compile(r"^(?P<name>[^:]+): (?P<value>.*)$")


def parse_error(stderr: str) -> XeFailure:
    """Classify xe's stderr: the first non-blank line is the message, ``name: value`` lines follow."""
    lines = [line.rstrip("\r") for line in stderr.split("\n")]
    lines = [line for line in lines if line.strip()]
    if not lines:
        return XeFailure(code="", params={}, text="")
    head = lines[0].strip()
    params: dict[str, str] = {}
    for line in lines[1:]:
        match = _PARAM_LINE.match(line)
        if match:
            params[match["name"].strip()] = match["value"]
    code = _CODE_BY_TEXT.get(_canonical(head))
    if code is None:
        for pattern_code, pattern in _ERROR_PATTERNS:
            match = pattern.match(head)
            if match:
                code = pattern_code
                params = {**match.groupdict(), **params}
                break
    return XeFailure(code=code or head, params=params, text="\n".join(lines))


# --------------------------------------------------------------------------- validation

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
_PARAM_NAME = re.compile(r"[a-z][a-z0-9-]*")
_FLAG = re.compile(r"--[a-z][a-z0-9-]*")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def _short(value: object, limit: int = 60) -> str:
    """repr() of a value, cut to one short line for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def validate_uuid(value: str) -> str:
    """A lower-case xapi UUID, returned unchanged."""
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        raise ValueError(f"not a UUID: {_short(value)}")
    return value


def validate_name(value: str) -> str:
    """A host or pool name safe in commands and file names: ``[A-Za-z0-9][A-Za-z0-9._-]{0,62}``."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ValueError(
            f"not a valid name: {_short(value)} (letters, digits, '.', '_', '-'; "
            "starting with a letter or digit; at most 63 characters)"
        )
    return value


def validate_param_name(value: str) -> str:
    """An xe parameter or command name: ``[a-z][a-z0-9-]*``."""
    if not isinstance(value, str) or not _PARAM_NAME.fullmatch(value):
        raise ValueError(f"not a valid xe parameter name: {_short(value)}")
    return value


def validate_address(value: str) -> str:
    """An IPv4 or IPv6 address (no zone id) or a DNS host name, returned unchanged."""
    if not isinstance(value, str):
        raise ValueError(f"not an address: {_short(value)}")
    if _is_ip(value) or _is_hostname(value):
        return value
    raise ValueError(f"not an IP address or host name: {_short(value)}")


def _is_ip(value: str) -> bool:
    # A zone id ("fe80::1%eth0") may hold any character, so it is refused outright.
    if "%" in value:
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _is_hostname(value: str) -> bool:
    name = value[:-1] if value.endswith(".") else value
    if not name or len(name) > 253:
        return False
    labels = name.split(".")
    if not all(_LABEL.fullmatch(label) for label in labels):
        return False
    # An all-digit last label ("10.0.0.300", "1.2.3") is a mistyped IP, not a name.
    return not labels[-1].isdigit()


def address_key(value: str) -> str:
    """A comparable form of an address: IPs normalised (``::0:1`` == ``::1``), names case-folded."""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return value.rstrip(".").casefold()


# --------------------------------------------------------------------------- command lines


#: What a secret is shown as wherever a command is displayed or journaled.
SECRET_MARK = "<redacted>"


def is_secret_name(name: str) -> bool:
    """A parameter whose value is a secret: any name holding ``pass`` (``master-password``, ``passwordfile``)."""
    return "pass" in name.casefold()


def masked_words(words: Sequence[str]) -> tuple[str, ...]:
    """Command words as they may be shown: the value of a secret parameter (:func:`is_secret_name`)
    and the word after xe's ``-pw`` option are :data:`SECRET_MARK`."""
    shown = []
    hide_next = False
    for word in words:
        name, equals, _ = word.partition("=")
        if hide_next:
            shown.append(SECRET_MARK)
        elif equals and is_secret_name(name):
            shown.append(f"{name}={SECRET_MARK}")
        else:
            shown.append(word)
        hide_next = word.casefold() == "-pw"
    return tuple(shown)


def xe_command(command: str, *flags: str, **params: str) -> str:
    """Build ``xe COMMAND key=value... --flag...`` with every value shell-quoted.

    Keyword names become parameter names with ``_`` → ``-`` (``param_name="x"`` →
    ``param-name=x``). Values must be strings; callers validate their *meaning* with the
    validators above, this function guarantees they stay one argument each.
    """
    return " ".join(_xe_words(command, flags, params, masked=False))


def xe_command_shown(command: str, *flags: str, **params: str) -> str:
    """:func:`xe_command`'s line as it may be shown or journaled: every secret value is :data:`SECRET_MARK`."""
    return " ".join(_xe_words(command, flags, params, masked=True))


def _xe_words(command: str, flags: Sequence[str], params: dict[str, str], *, masked: bool) -> list[str]:
    validate_param_name(command)
    words = ["xe", command]
    for key, value in params.items():
        name = key.replace("_", "-")
        validate_param_name(name)
        if not isinstance(value, str):
            raise ValueError(f"value of {name} must be a string, not {type(value).__name__}")
        if "\0" in value:
            raise ValueError(f"value of {name} contains a NUL byte")
        words.append(f"{name}={SECRET_MARK if masked and is_secret_name(name) else shlex.quote(value)}")
    for flag in flags:
        if not isinstance(flag, str) or not _FLAG.fullmatch(flag):
            raise ValueError(f"not a valid xe flag: {_short(flag)} (expected --name)")
        words.append(flag)
    return words


def wrap_timeout(cmd: str, seconds: float, kill_after: float = 2) -> str:
    """Prefix a built command line with ``timeout -k KILL_AFTER SECONDS``.

    A hung forwarded ``xe`` never returns by itself (docs/xapi.md, "Forwarded calls hang"); ``timeout`` turns
    the hang into exit status 124, and ``-k`` makes sure an xe that ignores SIGTERM dies.
    """
    if not isinstance(cmd, str) or not cmd.strip():
        raise ValueError("command to wrap is empty")
    return f"timeout -k {_duration(kill_after, 'kill_after')} {_duration(seconds, 'seconds')} {cmd}"


def _duration(value: float, what: str) -> str:
    # timeout(1) treats 0 as "no timeout", so the smallest accepted value is one
    # millisecond, and values are rounded up so they never become 0.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} must be a number of seconds, not {_short(value)}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{what} must be a positive finite number of seconds, not {_short(value)}")
    millis = math.ceil(round(value * 1000, 6))
    if millis % 1000 == 0:
        return str(millis // 1000)
    return f"{millis // 1000}.{millis % 1000:03d}".rstrip("0")
