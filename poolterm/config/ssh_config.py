"""The OpenSSH client config hosts.yaml names (``ssh.config``), checked for lines that weaken host-key checks.

poolterm verifies every host key on every hop, always. A config that says otherwise is
refused, not quietly overridden, so the operator learns that the file means something
else to their own ``ssh``. Refused, anywhere in the file or a file it includes:

* ``StrictHostKeyChecking no`` (``off``, ``false``): connect to any key.
* ``StrictHostKeyChecking accept-new``: trust a host's first key unchecked. It still refuses
  a *changed* key, but poolterm refuses an unknown one too (``host-key-unknown``, not
  retried), and asyncssh has no such mode; a hop opened by ``ssh`` itself (a
  ``ProxyCommand``) must not be weaker than one poolterm opens.
* ``UserKnownHostsFile none`` or ``/dev/null`` (as any of its files): no known keys to check against.
* The same options passed by ``-o`` to the ``ssh`` a ``ProxyCommand`` runs.

Not refused: ``GlobalKnownHostsFile /dev/null`` (the user's known_hosts is still checked;
it only drops the system-wide list), ``StrictHostKeyChecking yes|ask``, and ciphers (poolterm
sets its own on every hop, whatever ``Ciphers`` says).

``Host`` and ``Match`` are not evaluated: which hosts a block applies to depends on names,
users and ``Match exec`` commands as ``ssh`` sees them at connect time, so a line counts
wherever it is. Keywords are case-insensitive, ``Keyword value`` and ``Keyword=value`` both
work, and ``Include`` is followed as ``ssh`` follows it (globs; a relative path is in
``~/.ssh``; at most 16 deep).

Every problem raises :class:`SshConfigError`: ``FILE:LINE: message``, one line.
"""

from __future__ import annotations

import glob
import re
import shlex
from pathlib import Path

from poolterm.errors import SshConfigError

MAX_INCLUDE_DEPTH = 16  # OpenSSH's READCONF_MAX_DEPTH

OFF = "turns off host-key checks; poolterm always verifies host keys"
NEW = "trusts a host's first key unchecked; poolterm always verifies host keys"
_STRICT = {"no": OFF, "off": OFF, "false": OFF, "accept-new": NEW}
_NO_FILE = {"none", "/dev/null"}

# "Keyword value", "Keyword=value", "Keyword = value" (OpenSSH allows one "=" between them).
_LINE = re.compile(r"\s*(?P<keyword>[^\s=]+)\s*(?:=\s*)?(?P<rest>.*)")
# An option inside a ProxyCommand: -o StrictHostKeyChecking=no, -oUserKnownHostsFile=/dev/null,
# -o 'UserKnownHostsFile /dev/null'.
_PROXY_OPTION = re.compile(r"(?i)\b(StrictHostKeyChecking|UserKnownHostsFile)[\"']?\s*(?:=|\s)\s*[\"']?([^\s\"']+)")


def check_ssh_config(path: Path | str | None) -> None:
    """Raise :class:`SshConfigError` at the first line of ``path`` (or an included file) that
    weakens host-key checks. ``None`` or a missing file is no config: nothing to check."""
    if path is None or not Path(path).exists():
        return
    _check_file(Path(path), depth=0)


def _check_file(path: Path, depth: int) -> None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise SshConfigError(str(path), f"cannot read ({exc.strerror or exc}): poolterm checks every file "
                                        "the SSH config includes") from None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _LINE.fullmatch(stripped)
        if match is None:
            continue
        keyword, rest = match["keyword"].lower(), match["rest"]
        problem = _problem(keyword, rest)
        if problem:
            raise SshConfigError(str(path), problem, line=number)
        if keyword == "include":
            if depth >= MAX_INCLUDE_DEPTH:
                raise SshConfigError(str(path), f"Include nested more than {MAX_INCLUDE_DEPTH} deep (a loop?)",
                                     line=number)
            for included in _included(_words(rest)):
                _check_file(included, depth + 1)


def _problem(keyword: str, rest: str) -> str | None:
    if keyword == "stricthostkeychecking":
        value = (_words(rest) or [""])[0]
        why = _STRICT.get(value.lower())
        return f"StrictHostKeyChecking {value} {why}" if why else None
    if keyword == "userknownhostsfile":
        for value in _words(rest):
            if value.lower() in _NO_FILE:
                return f"UserKnownHostsFile {value} {OFF}"
        return None
    if keyword == "proxycommand":
        for option, value in _PROXY_OPTION.findall(rest):
            option = "StrictHostKeyChecking" if option.lower() == "stricthostkeychecking" else "UserKnownHostsFile"
            why = _STRICT.get(value.lower()) if option == "StrictHostKeyChecking" else (
                OFF if value.lower() in _NO_FILE else None)
            if why:
                return f"ProxyCommand passes {option} {value} to ssh, which {why}"
    return None


def _words(rest: str) -> list[str]:
    """The arguments as ssh splits them: whitespace, double or single quotes; a ``#`` word ends them."""
    try:
        lexer = shlex.shlex(rest, posix=True, punctuation_chars=False)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        return list(lexer)
    except ValueError:  # an unbalanced quote: ssh refuses the file; read the words as they stand
        return rest.split()


def _included(patterns: list[str]) -> list[Path]:
    found: list[Path] = []
    for pattern in patterns:
        expanded = Path(pattern).expanduser()
        if not expanded.is_absolute():
            expanded = Path("~/.ssh").expanduser() / expanded
        found += sorted(Path(p) for p in glob.glob(str(expanded)) if Path(p).is_file())
    return found
