"""The help screen: the keys that work right now, where the operator is, and what the colours mean."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static

from poolterm.ui.theme_vars import HOST_VARIABLES

VERDICTS = (
    ("HEALTHY", "one master, every host answers and agrees"),
    ("DEGRADED", "master fine, some members down or hung"),
    ("MASTER LOST", "no working master: promote the best candidate, then recover the slaves"),
    ("SPLIT BRAIN", "two masters: recover slaves on the true one only"),
    ("ORPHANED SLAVES", "slaves point at a host that is not the master"),
    ("EMERGENCY", "hosts in emergency mode although the master answers"),
    ("HANDOVER IN PROGRESS", "a master change under way: it finishes by itself; touch nothing"),
    ("HA FAILOVER", "HA is electing a new master: wait; never promote by hand"),
    ("HA STUCK", "HA armed but no new master came: playbook ha-stuck (disarm, promote one, recover)"),
    ("UNKNOWN", "nothing reachable from this jump box"),
)


def bindings_table(screen: Screen, reasons) -> Table:
    """Every binding active on ``screen``, one row per action, with its keymap id.

    ``reasons(action)`` says why a greyed-out action is unavailable.
    """
    app = screen.app
    rows: dict[str, list] = {}
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if binding.system:
            continue
        row_id = binding.id or binding.action
        row = rows.setdefault(row_id, [[], binding, active.enabled])
        display = app.get_key_display(Binding(key, binding.action, key_display=None))
        if display not in row[0]:
            row[0].append(display)
    # Fixed outer columns and expand=True: the table is exactly as wide as the screen gives it.
    table = Table(box=None, padding=(0, 1), header_style="bold", expand=True)
    table.add_column("keys", width=14)
    table.add_column("action", ratio=1)
    table.add_column("keymap id", style="dim", width=18)
    for keys, binding, enabled in rows.values():
        description = binding.description or binding.action
        if binding.tooltip:
            description += f": {binding.tooltip}"
        if not enabled:
            description += f"  (unavailable: {reasons(binding.action)})"
        table.add_row(", ".join(keys), Text(description, style="" if enabled else "dim"), binding.id or "")
    return table


def legend() -> Group:
    verdicts = Table(box=None, padding=(0, 2), show_header=False)
    verdicts.add_column(style="bold", no_wrap=True)
    verdicts.add_column()
    for title, meaning in VERDICTS:
        verdicts.add_row(title, meaning)
    colours = Table(box=None, padding=(0, 2), show_header=False)
    colours.add_column(no_wrap=True)
    colours.add_column()
    for name, (_, meaning) in HOST_VARIABLES.items():
        colours.add_row(f"${name}", meaning)
    return Group(Text("verdicts", style="bold underline"), verdicts, Text(""),
                 Text("grid colours (always paired with a glyph or a word)", style="bold underline"), colours,
                 Text(""), Text(HA_MARKS))


#: The HA marks of the grid, in one line.
HA_MARKS = ("HA marks (HA pools only, before xapi's word): HA armed ($host-up) · noHA disarmed, neither fences "
            "nor elects ($host-warn) · FENCED dropped from its peers' liveset, rebooting or down ($host-down); "
            "the pool's header says HA on/off/? · armed n/N · tolerates k; filter ha:fenced, ha:off.")


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "close", "Close help", id="help.close")]

    def __init__(self, context: Screen, reasons, *, extra: str = "") -> None:
        super().__init__(id="help")
        self.context = context
        self.reasons = reasons
        self.extra = extra

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help-dialog"):
            yield Label("poolterm: keys for this view (esc, q, ? or F1 closes)", classes="dialog-title")
            yield Static(bindings_table(self.context, self.reasons), id="help-bindings")
            yield Static(Text(
                "Every action is also in the command palette (ctrl+p or :). Remap keys in the settings "
                "file under keymap: <keymap id>: <keys>."), classes="dialog-hint")
            if self.extra:
                yield Static(self.extra, id="help-extra")
            yield Static(legend(), id="help-legend")

    def action_close(self) -> None:
        self.dismiss(None)
