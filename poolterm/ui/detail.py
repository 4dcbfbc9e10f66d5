"""The detail screen of one host, and the compact side panel shown on wide terminals."""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Label, Static

from poolterm.model import Diagnosis, Observation
from poolterm.ui import hostview


def locate(diagnosis: Diagnosis | None, name: str | None):
    """(pool, host state) for ``name`` in ``diagnosis``, or (None, None)."""
    if diagnosis is None or name is None:
        return None, None
    for pool in diagnosis.pools:
        host = hostview.find_host(pool, name)
        if host is not None:
            return pool, host
    return None, None


#: Candidates listed in the side panel; the detail screen lists them all.
PANEL_CANDIDATES = 8


class HostPanel(Vertical, can_focus=False):
    """The selected host's state, findings, evidence and ranking, beside the grid when there is room.

    Its body has a fixed size and is redrawn without a layout pass, and only when
    it is on screen and what it shows changed: re-laying out the screen costs
    several frames, and the panel follows every arrow key. What does not fit is
    in the detail screen (d).
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._body = Static(id="panel-body")
        self._wanted: tuple = (None, None, 0.0)
        self._shown: object = None

    def compose(self) -> ComposeResult:
        yield self._body

    def show(self, diagnosis: Diagnosis | None, name: str | None, now: float) -> None:
        self._wanted = (diagnosis, name, now)
        if self.display:
            self._draw()

    def on_show(self) -> None:
        self._draw()

    def _draw(self) -> None:
        diagnosis, name, now = self._wanted
        pool, host = locate(diagnosis, name)
        # HostState and Finding are frozen dataclasses: equal values, equal picture. A reachable
        # host shows "now", not its age, so its last_seen (new every round) changes nothing.
        shown_host = replace(host, last_seen=None) if host is not None and host.reachable else host
        signature = (name, shown_host, pool.master if pool else None, pool.findings if pool else None)
        if signature == self._shown:
            return
        self._shown = signature
        self.border_title = f"host {name}" if name else "host"
        self.border_subtitle = "d: full detail" if host else ""
        if host is None:
            self._body.update(Text("no host selected", style="italic"), layout=False)
            return
        self._body.update(hostview.detail(host, pool, None, now, with_raw=False, max_candidates=PANEL_CANDIDATES),
                          layout=False)


class HostDetailScreen(Screen[None]):
    """Everything poolterm knows about one host, including the raw output of its last probe."""

    BINDINGS = [Binding("escape,q", "close", "Back", id="detail.close")]

    def __init__(self, name: str) -> None:
        super().__init__(id="detail")
        self.host_name = name
        self._shown: object = None

    def compose(self) -> ComposeResult:
        yield Label(f" host {self.host_name}: detail", id="detail-title")
        with VerticalScroll(id="detail-scroll"):
            yield Static(id="detail-body")
        yield Footer()

    def show(self, diagnosis: Diagnosis | None, observation: Observation | None, now: float) -> None:
        pool, host = locate(diagnosis, self.host_name)
        signature = (host, pool.master if pool else None, pool.findings if pool else None, observation)
        if signature == self._shown:
            return
        self._shown = signature
        body = self.query_one("#detail-body", Static)
        if host is None:
            body.update(Text(f"{self.host_name} is not in the current diagnosis", style="italic"))
            return
        body.update(hostview.detail(host, pool, observation, now))

    def action_close(self) -> None:
        self.dismiss(None)
