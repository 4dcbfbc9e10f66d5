"""xe's record printer, byte for byte (xapi `Cli_printer`, `Cli_operations.print_field`).

A record is printed as one line per field, ``key: value``. The key is the field
name plus its access suffix (`` ( RO)``, `` (MRW)`` ...). All keys are padded to
``4 + longest key``: the first one on the right, every later one on the left, so
the colons line up except the first. Each record is followed by two blank lines
because the server sends ``record ^ "\\n"`` and the client ``print_endline``s it.
"""

from __future__ import annotations

ACCESS = ("RO", "RW", "MRO", "MRW", "SRO", "SRW")


def field_key(name: str, access: str, deprecated: bool = False) -> str:
    """The printed key of a field: ``uuid ( RO)``, ``patches (SRO) [DEPRECATED]``."""
    if access not in ACCESS:
        raise ValueError(f"unknown field access {access!r}; expected one of {', '.join(ACCESS)}")
    return f"{name} ({access:>3})" + (" [DEPRECATED]" if deprecated else "")


def format_record(pairs: list[tuple[str, str]]) -> str:
    """One record from ready-made (key, value) pairs, with its two trailing blank lines."""
    width = 4 + max((len(key) for key, _ in pairs), default=0)
    lines = [
        f"{key.ljust(width) if i == 0 else key.rjust(width)}: {value}"
        for i, (key, value) in enumerate(pairs)
    ]
    return "\n".join(lines) + "\n\n\n"


def format_records(rows: list[list[tuple[str, str, str]]]) -> str:
    """What xe prints for a table: each row is a list of (field name, access, value)."""
    return "".join(
        format_record([(field_key(name, access), value) for name, access, value in row])
        for row in rows
    )


def escape_minimal(value: str) -> str:
    """--minimal escaping (`Cli_printer.escape_commas`): ``,`` becomes ``\\,`` and ``\\`` becomes ``\\\\``."""
    return value.replace("\\", "\\\\").replace(",", "\\,")


def format_minimal(values: list[str]) -> str:
    """The --minimal line for these values, comma-joined and escaped, without the newline
    that the xe client adds when it prints the line."""
    return ",".join(escape_minimal(v) for v in values)
