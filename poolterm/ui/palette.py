"""The command palette: every console action, host, query, playbook, theme and (demo) fault.

:func:`palette_commands` builds the list, already filtered by the app's
``check_action``, so the palette never offers what a key would refuse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from textual.command import DiscoveryHit, Hit, Hits, Provider

from poolterm.actions.commands import curated_queries
from poolterm.playbooks import load_all
from poolterm.ui.faults import FAULTS

if TYPE_CHECKING:
    from poolterm.ui.app import PoolApp

Command = tuple[str, str, Callable[[], object]]  # (title, help, callback)


def palette_commands(app: PoolApp) -> list[Command]:
    """Everything the palette offers now."""
    commands = []
    for binding in app.BINDINGS:
        if binding.action == "command_palette" or app.check_action(binding.action, ()) is not True:
            continue
        title = binding.description
        commands.append((title, binding.tooltip or title, _call(app.run_action, binding.action)))
    host = app.selected
    if host and app.check_action("query_menu", ()) is True:
        for query in curated_queries(app.uuid_of(host)):
            commands.append((f"Query {host}: {query.title}", query.command,
                             _call(app.start_command, host, query.command, query.remote())))
    if app.check_action("start_playbook", ()) is True:
        for playbook in load_all():
            verdicts = ", ".join(v.title for v in playbook.for_verdicts)
            commands.append((f"Playbook {playbook.id}: {playbook.title}", f"for {verdicts}",
                             _call(app.start_playbook, playbook.id)))
            if host and playbook.target:
                commands.append((f"Playbook {playbook.id} with {playbook.target} {host}: {playbook.title}",
                                 f"for {verdicts}; {host} (the selected host) as the {playbook.target}",
                                 _call(app.start_playbook, playbook.id, target=host)))
    if host and app.demo is not None:
        for action, title in FAULTS:
            commands.append((f"Simulator: {action} {host}", title, _call(app.inject_fault, action, host)))
    for name in app.source.host_names:
        commands.append((f"Select host {name}", f"move the grid cursor to {name}", _call(app.select_host, name)))
    for name in sorted(app.available_themes):
        if name.startswith("poolterm-"):
            commands.append((f"Theme {name}", "switch the colour theme", _call(setattr, app, "theme", name)))
    return commands


def _call(function: Callable, *args, **kwargs) -> Callable[[], object]:
    return lambda: function(*args, **kwargs)


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
