"""The command palette provider: every console action, host, query, theme and (demo) fault.

The app builds the list (:meth:`PoolApp.palette_commands`), already filtered by
``check_action``, so the palette never offers what a key would refuse.
"""

from __future__ import annotations

from textual.command import DiscoveryHit, Hit, Hits, Provider


class PoolCommands(Provider):
    """Commands of the poolterm console."""

    def _commands(self):
        return self.app.palette_commands()

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
