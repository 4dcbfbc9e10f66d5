"""Every error an operator can see: one line, an exit status, no traceback.

Each layer raises from here and ``poolterm.cli.main`` catches :class:`PooltermError`
once, printing ``poolterm: MESSAGE`` and exiting with the error's status.
"""

from __future__ import annotations


class PooltermError(Exception):
    """A problem the operator can read and act on; ``str()`` is one line."""

    status = 2

    def __init__(self, message: str = "", status: int | None = None):
        super().__init__(message)
        if status is not None:
            self.status = status


class UsageError(PooltermError):
    """The command line asks for something that cannot be done as asked."""


class FileError(PooltermError):
    """A data file (inventory, settings, playbook, scenario, theme, verdicts) that cannot
    be used as written; ``str()`` is ``FILE:LINE: KEY: message``. :mod:`poolterm.datafile`
    reads every such file and raises the file's subclass below.

    ``line`` and ``key`` are ``None`` when they do not apply (an unreadable file; a YAML
    syntax error has a column instead of a key). ``file`` is ``None`` when there is no
    file to name (a playbook or scenario asked for by a name nothing ships).
    """

    def __init__(self, file: str | None, message: str, *, line: int | None = None,
                 column: int | None = None, key: str | None = None):
        self.file = None if file is None else str(file)
        self.message = message
        self.line = line
        self.column = column
        self.key = key
        super().__init__(self._render())

    def _render(self) -> str:
        parts = [] if self.file is None else [self.file]
        if parts and self.line is not None:
            parts[0] += f":{self.line}"
            if self.column is not None:
                parts[0] += f":{self.column}"
        parts += ([self.key] if self.key else []) + [self.message]
        return one_line(": ".join(parts))


class ConfigError(FileError):
    """A mistake in (or around) hosts.yaml."""


class SshConfigError(ConfigError):
    """A line of the OpenSSH client config hosts.yaml's ``ssh.config`` names (or a file it
    includes) that would weaken host-key checks: ``FILE:LINE: message``."""


class SettingsError(FileError):
    """A mistake in the console's settings file (config.yaml)."""


class PlaybookError(FileError):
    """A playbook file that cannot be used as written, or a playbook nothing ships."""


class ScenarioError(FileError):
    """A simulator scenario file that cannot be run as written, or a scenario nothing ships."""


class ThemeError(FileError):
    """A theme file that cannot be used (the console reports it and goes on without it)."""


class ExplanationError(FileError):
    """A mistake in verdicts.yaml, the verdicts in plain words."""


class ErrorTableError(FileError):
    """A mistake in the simulator's table of xapi errors (api_errors.yaml)."""


class HostKeyError(PooltermError):
    """A host's key cannot be fetched, or known_hosts cannot be read or written."""


class JournalError(PooltermError):
    """The journal cannot be written or read."""


class SimulatorError(PooltermError):
    """The simulator cannot start as asked (directory, port, another simulator)."""


def one_line(text: str) -> str:
    """Escape anything that would break the message across lines or terminals."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
