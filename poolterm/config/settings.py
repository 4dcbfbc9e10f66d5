"""The console's user settings: ``config.yaml`` in the user config dir.

The file (every key optional)::

    theme: poolterm-dark        # any built-in or user theme name
    keymap:                     # binding id -> keys (see the help screen for ids)
      pause: ctrl+s
      refresh: space,r
    low_bandwidth: false        # fewer frames, no animation: for slow SSH links
    ascii: false                # ASCII glyphs for terminals without Unicode
    save_dir: ~/incidents       # where `s` saves the log and the screenshot

``POOLTERM_CONFIG`` names another file. A missing file means defaults; any
mistake raises :class:`SettingsError`, whose ``str()`` is one line
``FILE:LINE: KEY: message``. No Textual here: the console reads this before
Textual is imported, because low-bandwidth mode must be set in the environment
first.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

from poolterm.errors import PooltermError

APP_NAME = "poolterm"
SETTINGS_NAME = "config.yaml"
DEFAULT_THEME = "poolterm-dark"
KEYS = ("theme", "keymap", "low_bandwidth", "ascii", "save_dir")

_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
# Textual key names joined by commas: "ctrl+s", "space,r", "question_mark".
_KEY_LIST = re.compile(r"[a-z0-9_+]+(?:,[a-z0-9_+]+)*")
_BINDING_ID = re.compile(r"[a-z][a-z0-9-]*")


class SettingsError(PooltermError):
    """A mistake in the settings file; ``str()`` is one line."""


@dataclass(frozen=True)
class Settings:
    theme: str = DEFAULT_THEME
    keymap: dict[str, str] = field(default_factory=dict)
    low_bandwidth: bool = False
    ascii: bool = False
    save_dir: Path | None = None
    path: Path | None = None  # the file these came from, None for defaults


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME))


def settings_path() -> Path:
    explicit = os.environ.get("POOLTERM_CONFIG")
    return Path(explicit).expanduser() if explicit else config_dir() / SETTINGS_NAME


def user_themes_dir() -> Path:
    """Where a user drops extra ``*.yaml`` themes."""
    return config_dir() / "themes"


def default_save_dir() -> Path:
    return Path(platformdirs.user_state_dir(APP_NAME)) / "captures"


def load_settings(path: Path | None = None) -> Settings:
    path = path or settings_path()
    label = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{label}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{label}:{mark.line + 1}" if mark else label
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise SettingsError(f"{where}: YAML syntax error: {problem}") from None
    if root is None:
        return Settings(path=path)
    return _Reader(label, path).settings(root)


class _Reader:
    def __init__(self, label: str, path: Path):
        self.label = label
        self.path = path

    def fail(self, node: Node, key: str, message: str) -> SettingsError:
        return SettingsError(f"{self.label}:{node.start_mark.line + 1}: {key}: {message}")

    def settings(self, root: Node) -> Settings:
        if not isinstance(root, MappingNode):
            raise SettingsError(f"{self.label}:1: expected a mapping of settings ({', '.join(KEYS)})")
        values: dict[str, object] = {}
        for key_node, value in root.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else "?"
            if key not in KEYS:
                raise self.fail(key_node, key, f"unknown setting (expected one of: {', '.join(KEYS)})")
            if key in values:
                raise self.fail(key_node, key, "given twice")
            values[key] = self.value(key, value)
        return Settings(path=self.path, **{k: v for k, v in values.items() if v is not None})

    def value(self, key: str, node: Node) -> object:
        if isinstance(node, ScalarNode) and node.tag == _NULL:
            return None
        if key in ("low_bandwidth", "ascii"):
            if not isinstance(node, ScalarNode) or node.tag != _BOOL:
                raise self.fail(node, key, "expected true or false")
            return node.value.lower() in ("true", "yes", "on")
        if key == "keymap":
            return self.keymap(node)
        text = self.scalar(node, key)
        if key == "save_dir":
            path = Path(text).expanduser()
            return path if path.is_absolute() else self.path.absolute().parent / path
        if not text:
            raise self.fail(node, key, "must not be empty")
        return text

    def scalar(self, node: Node, key: str) -> str:
        if not isinstance(node, ScalarNode):
            raise self.fail(node, key, "expected a single value")
        return node.value

    def keymap(self, node: Node) -> dict[str, str]:
        if not isinstance(node, MappingNode):
            raise self.fail(node, "keymap", "expected a mapping of binding id to keys, e.g. pause: ctrl+s")
        keymap = {}
        for key_node, value in node.value:
            binding = self.scalar(key_node, "keymap")
            where = f"keymap.{binding}"
            if not _BINDING_ID.fullmatch(binding):
                raise self.fail(key_node, where, "not a binding id (the help screen lists them)")
            keys = self.scalar(value, where).replace(" ", "")
            if not _KEY_LIST.fullmatch(keys):
                raise self.fail(value, where, f"not a key list: {keys!r} (e.g. ctrl+s or space,r)")
            keymap[binding] = keys
        return keymap
