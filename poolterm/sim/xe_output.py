"""How the xe CLI server prints (`Cli_printer.make_printer`) and the ways a command can stop.

Without --minimal every printer call goes straight out. With --minimal, tables keep only
each record's first value and lists stay as they are; both are buffered and printed as
one comma-joined line when the command succeeds (messages are dropped). Lines a command
marshals directly (host-forget's warnings) bypass the printer.
"""

from __future__ import annotations

from poolterm.sim.records import escape_minimal, format_record


class CliFailure(Exception):
    """xe's own failure (`Cli_util.Cli_failure`): printed as ``Error: <text>``."""


class MissingParam(Exception):
    """`Records.CLI_failed_to_find_param`: a field name that is not in the record."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


class MultipleFailure(Exception):
    """Some hosts of a --multiple operation failed: (uuid, message) each."""

    def __init__(self, failures: list[tuple[str, str]]):
        super().__init__(failures)
        self.failures = failures


class Blocked(Exception):
    """The call is stuck inside a xapi that does not answer: the command hangs."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class AskUser(Exception):
    """The command printed `text` and waits for a line of stdin."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text


class Output:
    def __init__(self, *, minimal: bool):
        self.minimal = minimal
        self._chunks: list[str] = []
        self._buffer: list[str] = []

    def table(self, records: list[list[tuple[str, str]]]) -> None:
        """PTable: records of (printed key, value)."""
        if self.minimal:
            if records and records[0]:
                self._buffer.append(",".join(escape_minimal(r[0][1]) for r in records))
        else:
            self._chunks.extend(format_record(r) for r in records)

    def items(self, values: list[str]) -> None:
        """PList: one line per value."""
        if self.minimal:
            self._buffer.append(",".join(escape_minimal(v) for v in values))
        else:
            self._chunks.extend(v + "\n" for v in values)

    def message(self, text: str) -> None:
        """PMsg: dropped under --minimal."""
        if not self.minimal:
            self._chunks.append(text + "\n")

    def line(self, text: str) -> None:
        """A line marshalled directly to the client, whatever the mode."""
        self._chunks.append(text + "\n")

    def printed(self) -> str:
        """What has reached the terminal so far (the --minimal buffer has not)."""
        return "".join(self._chunks)

    def finish(self) -> str:
        """Everything printed by a successful command."""
        if self.minimal:
            # The buffer is a list built by prepending, so the flush reverses print order.
            return self.printed() + ",".join(reversed(self._buffer)) + "\n"
        return self.printed()
