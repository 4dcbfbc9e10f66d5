"""The theme variables the host grid and the log pane colour themselves with.

This file is the agreement between the widgets (grid.py, logpane.py) and the
themes: a theme YAML may set any of these under ``variables:``; the widgets'
CSS uses them as ``$host-up`` and so on. Colour is never the only signal: every
state also has a glyph or a word, so a monochrome theme loses nothing.

Textual refuses to parse CSS that names an undefined variable, and a theme
default cannot refer to another variable (``$error`` is not a colour there).
So the App fills the gaps from the theme's own colour system::

    def get_css_variables(self) -> dict[str, str]:
        return with_host_defaults(super().get_css_variables())
"""

from __future__ import annotations

from collections.abc import Mapping

# name -> (Textual base colour used when the theme does not set it, meaning)
HOST_VARIABLES: dict[str, tuple[str, str]] = {
    "host-up": ("success", "reachable over SSH; xapi answers (`●`, `ok`)"),
    "host-down": ("error", "unreachable, refused, xapi down, broken pool.conf (`✖`, `⊘`, `down`)"),
    "host-master": ("accent", "the host that is (or believes it is) master (`★`)"),
    "host-warn": ("warning", "needs attention: xapi HUNG/EMERG, host-key or auth problem, "
                             "belief disagrees with the pool (`!`, `⚿`)"),
    "host-stale": ("foreground-muted", "remembered or unknown: pending, last seen, `?`, stale belief"),
    "host-header": ("primary", "pool header line of the grid"),
    "log-stderr": ("warning", "the `!` marking a stderr line in the log pane"),
    "log-match": ("accent", "the current search match in the log pane (also reverse video)"),
}


def with_host_defaults(variables: Mapping[str, str]) -> dict[str, str]:
    """The CSS variables with every host-*/log-* variable the theme left out filled in."""
    filled = {name: variables.get(base, "ansi_default") for name, (base, _) in HOST_VARIABLES.items()}
    filled.update(variables)
    return filled
