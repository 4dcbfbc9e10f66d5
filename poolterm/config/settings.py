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
from yaml.nodes import Node

from poolterm.datafile import DataFile, Keys, at_key, is_null
from poolterm.errors import SettingsError

APP_NAME = "poolterm"
SETTINGS_NAME = "config.yaml"
DEFAULT_THEME = "poolterm-dark"
KEYS = ("theme", "keymap", "low_bandwidth", "ascii", "save_dir")

# Textual key names joined by commas: "ctrl+s", "space,r", "question_mark".
_KEY_LIST = re.compile(r"[a-z0-9_+]+(?:,[a-z0-9_+]+)*")
_BINDING_ID = re.compile(r"[a-z][a-z0-9-]*")


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
    reader = _Reader.read(path, missing_ok=True)
    if reader is None:
        return Settings()
    return reader.settings(path)


# The settings file's shape; the messages are the ones this file has always given.
TOP = Keys(KEYS, unknown=at_key("unknown setting (expected one of: {allowed})"), repeated="given twice",
           expected=f"expected a mapping of settings ({', '.join(KEYS)})")
KEYMAP = Keys(repeated="given twice", expected="expected a mapping of binding id to keys, e.g. pause: ctrl+s")
SINGLE = "expected a single value"


class _Reader(DataFile):
    """config.yaml's checks: every value's node at hand, so every message has its line."""

    error = SettingsError

    def settings(self, path: Path) -> Settings:
        if self.root is None:
            return Settings(path=path)
        fields = self.mapping(self.root, "", TOP)
        values = {name: self.setting(name, node, path) for name, node in fields.items() if not is_null(node)}
        return Settings(path=path, **values)

    def setting(self, key: str, node: Node, path: Path) -> object:
        if key in ("low_bandwidth", "ascii"):
            return self.boolean(node, key)
        if key == "keymap":
            return self.keymap(node)
        text = self.string(node, key, SINGLE) or ""
        if key == "save_dir":
            save_dir = Path(text).expanduser()
            return save_dir if save_dir.is_absolute() else path.absolute().parent / save_dir
        if not text:
            raise self.fail(node, key, "must not be empty")
        return text

    def keymap(self, node: Node) -> dict[str, str]:
        keymap = {}
        fields = self.mapping(node, "keymap", KEYMAP)
        for binding, value in fields.items():
            where = fields.at(binding)
            if not _BINDING_ID.fullmatch(binding):
                raise self.fail(fields.key_node(binding), where, "not a binding id (the help screen lists them)")
            keys = (self.string(value, where, SINGLE) or "").replace(" ", "")
            if not _KEY_LIST.fullmatch(keys):
                raise self.fail(value, where, f"not a key list: {keys!r} (e.g. ctrl+s or space,r)")
            keymap[binding] = keys
        return keymap
