"""Trusting a host's SSH key from the console: ``K`` on a host in host-key-unknown or host-key-changed.

The key is fetched anew through the host's own jumps and shown beside what known_hosts
records; only the host's typed name trusts it. The key written is the key shown, never one
fetched after the operator looked. Every decision, yes or no, is journaled with both
fingerprints, and the host reconnects at once: no restart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from poolterm.actions.records import HostKeyDecision
from poolterm.errors import HostKeyError
from poolterm.model import Reach
from poolterm.transport import hostkeys
from poolterm.transport.hostkeys import KeyCheck, KeyStatus
from poolterm.ui.dialogs import TrustKeyDialog

if TYPE_CHECKING:
    from poolterm.ui.app import PoolApp

#: The reaches this action answers.
KEY_PROBLEMS = frozenset({Reach.HOST_KEY_UNKNOWN, Reach.HOST_KEY_CHANGED})

CHANGED_MEANS = (
    "A changed key means one of two things: the host was reinstalled (or its keys were made anew), or "
    "someone between the jump box and the host is pretending to be it. Before trusting it, compare the "
    "fingerprint with what the host itself says, from its own console (iLO, iDRAC, IPMI or the screen): "
    "ssh-keygen -lf /etc/ssh/ssh_host_{kind}_key.pub")
NEW_MEANS = (
    "Nothing is recorded for this host yet. Before trusting it, compare the fingerprint with what the host "
    "itself says, from its own console: ssh-keygen -lf /etc/ssh/ssh_host_{kind}_key.pub")


def explain(check: KeyCheck) -> tuple[str, str]:
    """The dialog's title and body for ``check``."""
    where = check.pattern
    kind = check.offered.kind.lower()
    if check.status is KeyStatus.CHANGED:
        title = f"{check.name}: THE HOST KEY HAS CHANGED"
        recorded = "\n".join(f"  {key.shown(where)}" for key in check.recorded)
        means = CHANGED_MEANS.format(kind=kind)
        lines = [f"{check.name} ({where}) now offers:", f"  {check.offered.shown(where)}", "",
                 f"{check.known_hosts} records:", recorded, "", means]
    else:
        title = f"{check.name}: a host key known_hosts does not have"
        lines = [f"{check.name} ({where}) offers:", f"  {check.offered.shown(where)}", "",
                 NEW_MEANS.format(kind=kind)]
    lines += ["", f"To trust it, type the host's name ({check.name}). The key is written to {check.known_hosts} "
                  f"(the lines recorded for {where} replace{'d' if check.recorded else ''}), the decision is "
                  f"journaled, and {check.name} reconnects at once."]
    return title, "\n".join(lines)


class KeyTrust:
    """The console's host-key trust flow (:meth:`check` runs in a worker)."""

    def __init__(self, app: PoolApp) -> None:
        self.app = app

    async def check(self, host: str) -> None:
        app = self.app
        say = self._say
        say(host, "info", f"asking {host} for its host key (through its own jumps) to compare with known_hosts")
        try:
            check = await app.source.host_keys(host)
        except HostKeyError as exc:
            say(host, "stderr", f"cannot check {host}'s host key: {exc}")
            app.notify(str(exc), title="host key", severity="error", timeout=12, markup=False)
            return
        if check.status is KeyStatus.KNOWN:
            say(host, "info", f"{host} offers the key known_hosts records ({check.offered.fingerprint}): reconnecting")
            app.source.reconnect(host)
            return
        title, body = explain(check)
        trusted = bool(await app.push_screen_wait(TrustKeyDialog(host, title, body)))
        if trusted:
            try:
                hostkeys.accept(check)
            except HostKeyError as exc:
                say(host, "stderr", f"{host}'s key was not trusted: {exc}")
                app.notify(str(exc), title="host key", severity="error", timeout=12, markup=False)
                return
        self._journal(check, trusted)
        if not trusted:
            say(host, "info", f"{host}'s {check.status.value} host key was not trusted: nothing written")
            return
        say(host, "info", f"trusted {host}'s host key {check.offered.shown(check.pattern)} in {check.known_hosts}: "
                          "reconnecting")
        app.source.reconnect(host)

    def _journal(self, check: KeyCheck, trusted: bool) -> None:
        journal = self.app.journal
        if journal is None:
            return
        journal.write(HostKeyDecision(
            host=check.name, known_as=check.pattern, was=check.status.value, offered=check.offered.shown(check.pattern),
            recorded=[key.shown(check.pattern) for key in check.recorded], trusted=trusted, known_hosts=str(check.known_hosts),
            operator=journal.operator))

    def _say(self, host: str, stream: str, text: str) -> None:
        self.app.log_pane.append(host, stream, text, at=self.app.clock())
