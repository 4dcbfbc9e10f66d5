"""xapi API errors the simulator raises, with their xe texts (the table is ``api_errors.yaml``).

`xe` prints a server error as the error's doc line, then one ``name: value`` line per
parameter (`Cli_util.server_error`). A code that is not in the datamodel table is printed
by the client as ``Error code: ...`` / ``Error parameters: ...`` instead.

The table is loaded once, at import, and checked strictly: a malformed entry would
otherwise surface as a wrong error text deep inside a simulated incident. A mistake
is an :class:`~poolterm.errors.ErrorTableError`, ``FILE:LINE: CODE: message``.
"""

from __future__ import annotations

from pathlib import Path

from poolterm.datafile import STR, DataFile, Fields, Keys, at_mapping, read_text
from poolterm.errors import ErrorTableError

ERRORS_FILE = Path(__file__).resolve().with_name("api_errors.yaml")

_NEEDS = "needs exactly `doc` and `params`"
# The table's shape: each error code, then its doc line and parameter names.
TOP = Keys(expected="expected a mapping of error code -> doc/params")
ENTRY = Keys(("doc", "params"), required=("doc", "params"), unknown=at_mapping(_NEEDS),
             missing=at_mapping(_NEEDS), expected=_NEEDS)


def parse(text: str, source: str = "api_errors.yaml") -> dict[str, tuple[str, tuple[str, ...]]]:
    """code -> (doc, parameter names), from the YAML mapping code -> {doc, params}."""
    data = DataFile.parse(text, source, ErrorTableError)
    top = data.mapping(data.top(TOP.expected), "", TOP)
    return {code: _entry(data, top, code) for code in top}


def _entry(data: DataFile, top: Fields, code: str) -> tuple[str, tuple[str, ...]]:
    key = top.key_node(code)
    if key.tag != STR:  # `7:` is a number to YAML, never an error code
        raise data.fail(key, None, f"error code {data.value(key, code)!r} is not a string")
    fields = data.mapping(top[code], code, ENTRY)
    doc, params = (data.value(fields[key], fields.at(key)) for key in ENTRY.allowed)
    if not isinstance(doc, str):
        raise data.fail(fields["doc"], code, f"`doc` must be a string, not {doc!r}")
    if not isinstance(params, list) or not all(isinstance(name, str) for name in params):
        raise data.fail(fields["params"], code, f"`params` must be a list of strings, not {params!r}")
    return doc, tuple(params)


ERRORS = parse(read_text(ERRORS_FILE, ErrorTableError))

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
