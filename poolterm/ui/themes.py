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

import yaml
from textual.color import Color, ColorParseError
from textual.theme import Theme

from poolterm.errors import PooltermError
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


class ThemeError(PooltermError):
    """A theme file that cannot be used; ``str()`` is one line naming the file."""


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
    label = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ThemeError(f"{label}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{label}:{mark.line + 1}" if mark else label
        raise ThemeError(f"{where}: YAML syntax error: {getattr(exc, 'problem', None) or exc}") from None
    return theme_from_data(data, label)


def theme_from_data(data: object, label: str) -> Theme:
    if not isinstance(data, dict):
        raise ThemeError(f"{label}: expected a mapping with at least name and primary")
    unknown = sorted(set(map(str, data)) - set(COLOUR_FIELDS) - set(OTHER_FIELDS))
    if unknown:
        raise ThemeError(f"{label}: unknown key {unknown[0]!r} "
                         f"(expected: {', '.join(OTHER_FIELDS + COLOUR_FIELDS)})")
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ThemeError(f"{label}: name: expected lower-case letters, digits and '-', got {name!r}")
    if "primary" not in data:
        raise ThemeError(f"{label}: primary: missing (every theme needs a primary colour)")
    fields: dict[str, object] = {"name": name}
    for key in COLOUR_FIELDS:
        if data.get(key) is not None:
            fields[key] = _colour(data[key], f"{label}: {key}")
    for key in ("dark", "ansi"):
        if key in data:
            if not isinstance(data[key], bool):
                raise ThemeError(f"{label}: {key}: expected true or false, got {data[key]!r}")
            fields[key] = data[key]
    for key in ("luminosity_spread", "text_alpha"):
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ThemeError(f"{label}: {key}: expected a number from 0 to 1, got {value!r}")
            fields[key] = float(value)
    fields["variables"] = _variables(data.get("variables") or {}, label)
    return Theme(**fields)


def _colour(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise ThemeError(f"{where}: expected a colour such as '#4f9dde' or ansi_blue, got {value!r}")
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeError(f"{where}: not a colour: {value!r}") from None
    return value


def _variables(variables: object, label: str) -> dict[str, str]:
    if not isinstance(variables, dict):
        raise ThemeError(f"{label}: variables: expected a mapping of name to colour")
    result = {}
    for key, value in variables.items():
        key = str(key)
        if key in _STYLE_VARIABLES:
            result[key] = str(value)
        else:
            result[key] = _colour(value, f"{label}: variables.{key}")
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
