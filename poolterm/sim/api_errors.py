"""xapi API errors the simulator raises, with their xe texts (the table is ``api_errors.yaml``).

`xe` prints a server error as the error's doc line, then one ``name: value`` line per
parameter (`Cli_util.server_error`). A code that is not in the datamodel table is printed
by the client as ``Error code: ...`` / ``Error parameters: ...`` instead.

The table is loaded once, at import, and checked strictly: a malformed entry would
otherwise surface as a wrong error text deep inside a simulated incident.
"""

from __future__ import annotations

from pathlib import Path

import yaml

ERRORS_FILE = Path(__file__).resolve().with_name("api_errors.yaml")


class ErrorTableError(ValueError):
    """The error table's data file is malformed."""


def parse(text: str, source: str = "api_errors.yaml") -> dict[str, tuple[str, tuple[str, ...]]]:
    """code -> (doc, parameter names), from the YAML mapping code -> {doc, params}."""
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ErrorTableError(f"{source}: expected a mapping of error code -> doc/params")
    return {code: _entry(source, code, entry) for code, entry in data.items()}


def _entry(source: str, code: object, entry: object) -> tuple[str, tuple[str, ...]]:
    if not isinstance(code, str):
        raise ErrorTableError(f"{source}: error code {code!r} is not a string")
    if not isinstance(entry, dict) or set(entry) != {"doc", "params"}:
        raise ErrorTableError(f"{source}: {code}: needs exactly `doc` and `params`")
    doc, params = entry["doc"], entry["params"]
    if not isinstance(doc, str):
        raise ErrorTableError(f"{source}: {code}: `doc` must be a string, not {doc!r}")
    if not isinstance(params, list) or not all(isinstance(name, str) for name in params):
        raise ErrorTableError(f"{source}: {code}: `params` must be a list of strings, not {params!r}")
    return doc, tuple(params)


ERRORS = parse(ERRORS_FILE.read_text(encoding="utf-8"))

# What an API call to an address that does not answer raises inside xapi, as
# `ExnHelper.string_of_exn` shows it in INTERNAL_ERROR's message.
UNREACHABLE = 'Unix.Unix_error(Unix.EHOSTUNREACH, "connect", "")'
REFUSED = 'Unix.Unix_error(Unix.ECONNREFUSED, "connect", "")'


class ApiError(Exception):
    """A xapi server error: its code and its parameters, already as xe shows them."""

    def __init__(self, code: str, *params: str):
        super().__init__(code, *params)
        self.code = code
        self.params = tuple(params)

    def parts(self) -> tuple[str | None, list[str]]:
        """The doc line and the ``name: value`` lines, or (None, []) for a code xe does not know."""
        known = ERRORS.get(self.code)
        if known is None:
            return None, []
        doc, names = known
        lines = []
        for i in range(max(len(names), len(self.params))):
            name = names[i] if i < len(names) else "<extra>"
            value = self.params[i] if i < len(self.params) else "<unknown>"
            lines.append(f"{name}: {value}")
        return doc, lines

    def text(self) -> str:
        """What xe writes on stderr for this error."""
        doc, lines = self.parts()
        if doc is None:
            return f"Error code: {self.code}\nError parameters: {', '.join(self.params)}\n"
        return "\n".join([doc, *lines]) + "\n"
