"""The simulator's fault actions as the demo console offers them, and the hand that runs them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from poolterm.ui.dialogs import Choice, ChoiceMenu
from poolterm.ui.messages import FaultInjected

if TYPE_CHECKING:
    from poolterm.ui.app import PoolApp

FAULTS = (
    ("crash", "crash: power loss, no notice"),
    ("shutdown", "shutdown: graceful power off"),
    ("poweron", "poweron: boot the host"),
    ("cable-out", "cable-out: link black-holed, host keeps running"),
    ("cable-in", "cable-in: plug the link back"),
    ("hang-xapi", "hang-xapi: xapi stops answering"),
    ("unhang-xapi", "unhang-xapi: xapi answers again"),
    ("reinstall", "reinstall: a fresh install, master of a pool of its own (host must be off)"),
)


def repairs(host: dict) -> tuple[str, ...]:
    """The actions that undo what is wrong with a host, read from its entry in the simulator's status."""
    return tuple(action for action, broken in (
        ("poweron", host.get("power") == "off"),
        ("cable-in", host.get("link") == "down"),
        ("unhang-xapi", host.get("xapi") == "hung"),
    ) if broken)


def menu_order(hosts: list[str], truth: dict[str, dict]) -> list[tuple[str, str, str, bool]]:
    """(action, host, title, undoes its fault) for every action on every host, repairs first."""
    fixes = {host: repairs(truth.get(host, {})) for host in hosts}
    rows = [(action, host, title, action in fixes[host]) for host in hosts for action, title in FAULTS]
    return sorted(rows, key=lambda row: not row[3])


class SimulatorActions:
    """The demo console's hand on the simulator: a menu of its actions, and running one."""

    def __init__(self, app: PoolApp):
        self.app = app

    def menu(self, hosts: list[str]) -> None:
        """The simulator's actions on ``hosts``, as a menu over whatever is in front."""
        app = self.app

        def chosen(key: str | None) -> None:
            if key:
                action, host = key.split(" ", 1)
                self.inject(action, host)

        # What undoes each host's fault comes first, so enter is the right answer at a manual step.
        truth = {h["name"]: h for h in app.demo.status()["hosts"]}
        choices = [Choice(f"{action} {host}", (title if len(hosts) == 1 else f"{host}: {title}")
                          + ("  (undoes its fault)" if repair else ""))
                   for action, host, title, repair in menu_order(hosts, truth)]
        app.push_screen(ChoiceMenu(f"simulator action on {', '.join(hosts)} (not a pool change)", choices), chosen)

    def inject(self, action: str, host: str) -> None:
        if self.app.check_action("inject_fault", ()) is True:
            self.app.run_worker(self._inject(action, host), group="fault", exit_on_error=False,
                                description="simulator fault")

    async def _inject(self, action: str, host: str) -> None:
        app = self.app
        error = ""
        try:
            await app.demo.ctl(action, host)
        except Exception as exc:  # the simulator's errors are one-line, operator-facing
            error = str(exc) or type(exc).__name__
        if error:
            app.notify(f"{action} {host}: {error}", title="simulator", severity="error", markup=False)
        else:
            app.log_pane.append(host, "info", f"simulator: {action} {host}", at=app.clock())
            app.notify(f"{action} {host}", title="simulator", timeout=4, markup=False)
            app.source.wake()
        app.post_message(FaultInjected(action, host, error))
