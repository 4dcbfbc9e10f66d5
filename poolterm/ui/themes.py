"""Themes are data: ``*.yaml`` files loaded into Textual ``Theme`` objects.

Shipped themes live in the package's ``themes/`` directory; a user adds more
by dropping files into ``<user config dir>/themes/`` (a user theme with a
shipped name replaces it). A file that cannot be used is reported as one line
and skipped, never fatal: an incident is the wrong moment for a crash over a
colour.

A theme file holds Textual's theme fields plus ``variables``: the grid's and
log's (:mod:`poolterm.ui.theme_vars`) and the verdict banner's
(:data:`BANNER_VARIABLES`). Variables a theme leaves out fall back to one of
its own base colours, so a minimal user theme still shows every state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from textual.color import Color, ColorParseError
from textual.theme import Theme
from yaml.nodes import Node

from poolterm.datafile import DataFile, Fields, Keys, is_null
from poolterm.errors import ThemeError
from poolterm.ui.theme_vars import HOST_VARIABLES, with_host_defaults

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "themes"
DEFAULT_THEME = "poolterm-dark"

# name -> base colour used when the theme does not set it
BANNER_VARIABLES: dict[str, str] = {
    "verdict-ok": "success",
    "verdict-ok-text": "background",
    "verdict-warning": "warning",
    "verdict-warning-text": "background",
    "verdict-critical": "error",
    "verdict-critical-text": "background",
    "verdict-unknown": "foreground-muted",
    "verdict-unknown-text": "background",
}
COLOUR_FIELDS = ("primary", "secondary", "warning", "error", "success", "accent",
                 "foreground", "background", "surface", "panel", "boost")
OTHER_FIELDS = ("name", "dark", "ansi", "luminosity_spread", "text_alpha", "variables")
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
# Textual's own non-colour variables a theme may set (e.g. the ANSI theme's cursor style).
_STYLE_VARIABLES = frozenset({"input-cursor-text-style"})


@dataclass(frozen=True)
class LoadedThemes:
    themes: dict[str, Theme]
    errors: tuple[str, ...]


def with_poolterm_defaults(variables: Mapping[str, str]) -> dict[str, str]:
    """CSS variables with every grid, log and banner variable the theme left out filled in."""
    filled = with_host_defaults(variables)
    for name, base in BANNER_VARIABLES.items():
        filled.setdefault(name, variables.get(base, "ansi_default"))
    return filled


def load_theme_file(path: Path) -> Theme:
    return _Reader.read(path).theme()


TOP = Keys(OTHER_FIELDS + COLOUR_FIELDS, expected="expected a mapping with at least name and primary")
VARIABLES = Keys(expected="expected a mapping of name to colour")


class _Reader(DataFile):
    """A theme file's checks, each message at its line."""

    error = ThemeError

    def theme(self) -> Theme:
        fields = self.mapping(self.top(TOP.expected), "", TOP)
        name = fields.get("name")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise self.fail(fields.place("name"), "name",
                            f"expected lower-case letters, digits and '-', got {name!r}")
        if "primary" not in fields or is_null(fields["primary"]):  # Textual needs a colour
            raise self.fail(fields.place("primary"), "primary", "missing (every theme needs a primary colour)")
        values: dict[str, object] = {"name": name}
        for key in COLOUR_FIELDS:
            if key in fields and not is_null(fields[key]):
                values[key] = self.colour(fields[key], key)
        for key in ("dark", "ansi"):
            if key in fields:
                values[key] = self.boolean(fields[key], key, "expected true or false, got {value!r}")
        for key in ("luminosity_spread", "text_alpha"):
            if key in fields:
                values[key] = self.number(fields[key], key, "expected a number from 0 to 1, got {value!r}",
                                          low=0, high=1)
        values["variables"] = self.variables(fields)
        return Theme(**values)

    def colour(self, node: Node, key: str) -> str:
        value = self.value(node, key)
        if not isinstance(value, str):
            raise self.fail(node, key, f"expected a colour such as '#4f9dde' or ansi_blue, got {value!r}")
        try:
            Color.parse(value)
        except ColorParseError:
            raise self.fail(node, key, f"not a colour: {value!r}") from None
        return value

    def variables(self, fields: Fields) -> dict[str, str]:
        if not fields.get("variables"):
            return {}
        variables = self.mapping(fields["variables"], "variables", VARIABLES)
        result = {}
        for key, node in variables.items():
            if key in _STYLE_VARIABLES:
                result[key] = str(self.value(node, variables.at(key)))
            else:
                result[key] = self.colour(node, variables.at(key))
        return result


def load_themes(directories: Iterable[Path]) -> LoadedThemes:
    """Every ``*.yaml`` theme of ``directories``, later directories overriding earlier ones."""
    themes: dict[str, Theme] = {}
    errors: list[str] = []
    for directory in directories:
        try:
            paths = sorted(directory.glob("*.yaml"))
        except OSError as exc:
            errors.append(f"{directory}: cannot list themes: {exc.strerror or exc}")
            continue
        for path in paths:
            try:
                theme = load_theme_file(path)
            except ThemeError as exc:
                errors.append(str(exc))
                continue
            themes[theme.name] = theme
    return LoadedThemes(themes, tuple(errors))


def poolterm_variable_names() -> tuple[str, ...]:
    return tuple(HOST_VARIABLES) + tuple(BANNER_VARIABLES)
