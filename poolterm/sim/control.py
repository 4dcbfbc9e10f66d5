"""The simulator's control socket: JSON lines over DIR/control.sock.

Requests, one JSON object per line:

- ``{"action": "crash", "host": "plot1"}`` (any fault action) ->
  ``{"ok": true, "action": "crash", "host": "plot1"}`` or ``{"ok": false, "error": "..."}``
- ``{"action": "cut", "host": "plot3", "peer": "plot1"}`` (and ``uncut``): the two hosts
  cannot reach each other (both still reach every other host) ->
  ``{"ok": true, "action": "cut", "host": "plot3", "peer": "plot1"}``
- ``{"action": "write-file", "host": "plot3", "path": "/etc/xensource/pool.conf", "content": "..."}``
  and ``{"action": "set-name-label", "host": "plot3", "label": "..."}``: plant any text, hostile
  included (text that stands for bytes which are not UTF-8 leaves the host as those bytes)
- ``{"action": "rekey", "host": "plot5"}``: a new ed25519 host key; connections to plot5 are dropped ->
  ``{"ok": true, "action": "rekey", "host": "plot5", "host_key": "SHA256:..."}``
- ``{"action": "status"}`` -> the World's status with ``"ok": true`` added (and each host's
  ``host_key`` fingerprint)
- ``{"action": "exec", "host": "plot2", "command": "...", "stdin": "..."}`` ->
  frames ``{"stdout": "..."}`` / ``{"stderr": "..."}`` then ``{"exit": N}``
  (plus ``"signal": "TERM"`` when a signal ended it).  Without ``"stdin"`` the
  client streams it while the command runs: ``{"stdin": "..."}``,
  ``{"eof": true}``, and ``{"signal": "TERM"}`` to kill the command.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal as signals
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from poolterm.errors import PooltermError
from poolterm.sim.shell import Io, StreamInput
from poolterm.sim.world import SimError

if TYPE_CHECKING:
    from poolterm.sim.runtime import Simulator

# The fault actions and the World method each one calls.
FAULT_ACTIONS = {
    "shutdown": "shutdown",
    "crash": "crash",
    "poweron": "poweron",
    "cable-out": "cable_out",
    "cable-in": "cable_in",
    "hang-xapi": "hang_xapi",
    "unhang-xapi": "unhang_xapi",
    "statefile-out": "statefile_out",
    "statefile-in": "statefile_in",
    "reinstall": "reinstall",
}
#: Faults between two hosts (the request's "host" and "peer"), and the World method each one calls.
PAIR_ACTIONS = {
    "cut": "cut",
    "uncut": "uncut",
}
#: Actions that plant data on a host, and the request field each one needs besides the host.
DATA_ACTIONS = {
    "write-file": "path",  # content: the request's "content"
    "set-name-label": "label",
}
#: Actions on a host's sshd rather than on the World: a new host key, as after a reinstall.
KEY_ACTIONS = ("rekey",)
ACTIONS = (*FAULT_ACTIONS, *PAIR_ACTIONS, *DATA_ACTIONS, *KEY_ACTIONS, "status")
#: The request fields passed on to `Simulator.ctl` besides the action and the host.
REQUEST_FIELDS = ("path", "content", "label", "peer")

LINE_LIMIT = 1 << 26  # a 1000-host status is one long line
HOST_DOWN_STATUS = 255  # what ssh reports when the host goes away under a command


class ControlError(PooltermError):
    """The control socket cannot be reached or answered nonsense: one line for the operator."""


def _encode(obj: dict) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


def signal_number(name: str) -> int:
    try:
        return int(signals.Signals[f"SIG{name}"])
    except KeyError:
        return int(signals.SIGTERM)


# ---------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------


class _Exec:
    """A command started over the control socket."""

    def __init__(self, task: asyncio.Task, stdin: StreamInput):
        self.task = task
        self.stdin = stdin
        self.signal: str | None = None

    def frame(self, req: dict) -> None:
        if "stdin" in req:
            self.stdin.feed(str(req["stdin"]))
        if req.get("eof"):
            self.stdin.feed_eof()
        if req.get("signal") and not self.task.done():
            self.signal = str(req["signal"]).upper().removeprefix("SIG")
            self.task.cancel(f"SIG{self.signal}")


class ControlServer:
    def __init__(self, sim: "Simulator", path: Path):
        self.sim = sim
        self.path = path
        self._server: asyncio.AbstractServer | None = None
        self._clients: set[asyncio.Task] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(self._client, path=str(self.path), limit=LINE_LIMIT)
        os.chmod(self.path, 0o600)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._clients):
            task.cancel()
        await asyncio.gather(*self._clients, return_exceptions=True)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        me = asyncio.current_task()
        assert me is not None
        self._clients.add(me)
        running: _Exec | None = None

        def send(obj: dict) -> None:
            if not writer.is_closing():
                writer.write(_encode(obj))

        try:
            while line := await reader.readline():
                try:
                    req = json.loads(line)
                    if not isinstance(req, dict):
                        raise ValueError
                except ValueError:
                    send({"ok": False, "error": "bad request: expected one JSON object per line"})
                    continue
                if running is not None and not running.task.done():
                    running.frame(req)
                elif req.get("action") == "exec":
                    running = self._start_exec(req, send)
                else:
                    send(await self._answer(req))
                await writer.drain()
        except (ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        except asyncio.CancelledError:
            # The simulator is stopping. End normally: asyncio's stream server
            # callback calls task.exception(), which raises for a cancelled task.
            pass
        finally:
            if running is not None:
                running.task.cancel()
            writer.close()
            self._clients.discard(me)

    async def _answer(self, req: dict) -> dict:
        try:
            answer = await self.sim.ctl(str(req.get("action", "")), req.get("host"),
                                        **{key: req[key] for key in REQUEST_FIELDS if key in req})
        except SimError as exc:
            return {"ok": False, "error": str(exc)}
        return {"ok": True, **answer}

    def _start_exec(self, req: dict, send: Callable[[dict], None]) -> _Exec | None:
        host, command = req.get("host"), req.get("command")
        if not isinstance(host, str) or not isinstance(command, str):
            send({"ok": False, "error": "exec needs a host and a command"})
            return None
        stdin = StreamInput(str(req["stdin"]), eof=True) if "stdin" in req else StreamInput()
        io = Io(lambda t: send({"stdout": t}), lambda t: send({"stderr": t}), stdin)
        try:
            shell = self.sim.spawn_shell(host, command, io)
        except SimError as exc:
            send({"ok": False, "error": str(exc)})
            return None
        running = _Exec(shell, stdin)
        shell.add_done_callback(lambda t: send(_exit_frame(t, running.signal)))
        return running


def _exit_frame(task: asyncio.Task, signal: str | None) -> dict:
    if not task.cancelled():
        exc = task.exception()
        if exc is None:
            return {"exit": task.result()}
        return {"exit": HOST_DOWN_STATUS, "error": f"simulator error: {exc}"}
    if signal is not None:
        return {"exit": 128 + signal_number(signal), "signal": signal}
    return {"exit": HOST_DOWN_STATUS, "error": "the host went down"}


# ---------------------------------------------------------------------------
# Client
# ---------------------------------------------------------------------------


async def _connect(path: Path) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    try:
        return await asyncio.open_unix_connection(str(path), limit=LINE_LIMIT)
    except (FileNotFoundError, ConnectionRefusedError):
        raise ControlError(f"no simulator running in {path.parent} (nothing answers on {path})") from None
    except OSError as exc:
        raise ControlError(f"cannot reach the simulator at {path}: {exc.strerror}") from None


async def _read_frame(reader: asyncio.StreamReader) -> dict:
    line = await reader.readline()
    if not line:
        raise ControlError("the simulator closed the control connection")
    try:
        frame = json.loads(line)
    except ValueError:
        raise ControlError("the simulator sent something that is not JSON") from None
    if not isinstance(frame, dict):
        raise ControlError("the simulator sent something that is not a JSON object")
    return frame


async def request(path: Path, payload: dict) -> dict:
    """One request, one answer."""
    reader, writer = await _connect(path)
    try:
        writer.write(_encode(payload))
        await writer.drain()
        return await _read_frame(reader)
    finally:
        writer.close()


class RemoteExec:
    """A command running in a simulated host's shell, driven over the control socket."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self._reader = reader
        self._writer = writer

    @classmethod
    async def start(cls, path: Path, host: str, command: str, stdin: str | None = None) -> "RemoteExec":
        reader, writer = await _connect(path)
        req: dict[str, Any] = {"action": "exec", "host": host, "command": command}
        if stdin is not None:
            req["stdin"] = stdin
        writer.write(_encode(req))
        return cls(reader, writer)

    def _send(self, frame: dict) -> None:
        if not self._writer.is_closing():
            self._writer.write(_encode(frame))

    def send_stdin(self, text: str) -> None:
        self._send({"stdin": text})

    def send_eof(self) -> None:
        self._send({"eof": True})

    def send_signal(self, name: str) -> None:
        self._send({"signal": name})

    async def wait(self, out: Callable[[str], None], err: Callable[[str], None]) -> dict:
        """Pass output on as it comes; return the final frame (``exit``, maybe ``signal``)."""
        try:
            while True:
                frame = await _read_frame(self._reader)
                if "stdout" in frame:
                    out(frame["stdout"])
                elif "stderr" in frame:
                    err(frame["stderr"])
                elif frame.get("ok") is False:
                    raise ControlError(str(frame.get("error", "request refused")))
                elif "exit" in frame:
                    return frame
        finally:
            self._writer.close()


# ---------------------------------------------------------------------------
# Presentation
# ---------------------------------------------------------------------------

_COLUMNS = ("NAME", "POWER", "LINK", "XAPI", "POOL.CONF", "EMERGENCY", "SESSIONS", "HTTPS")
#: How many hosts a text status (or a start banner) lists when there are many: the rest are in --json.
SHOWN_HOSTS = 16
NOMINAL = "powered on, cable in, xapi running, no emergency, pool.conf as built, no cut"


def ha_mark(h: dict, lock: str | None) -> str:
    """A host's HA state in a word or a few (empty for a host HA never touched)."""
    ha = h.get("ha") or {}
    marks = []
    if ha.get("armed"):
        marks.append("armed")
    if ha.get("xhad"):
        marks.append("xhad")
    if lock is not None and lock == h.get("name"):
        marks.append("lock")
    if ha.get("excluded"):
        marks.append("excluded")
    if ha.get("statefile") == "down":
        marks.append("statefile-out")
    if ha.get("fences"):
        marks.append(f"fenced x{ha['fences']}")
    return ",".join(marks)


def format_status(status: dict) -> str:
    """Ground truth as a table for `poolterm sim ctl status`: the meters (xapi sessions, HTTPS
    requests) per host, a CUT column when hosts are cut apart, an HA column when any host has HA state.
    With several pools: a line per pool, then only the hosts that are not as built (the first
    SHOWN_HOSTS of them), so that 5,000 hosts do not flood the terminal."""
    if len(status.get("pools") or ()) > 1:
        return _format_fleet(status)
    ha = status.get("ha") or {}
    lines = _host_table(status.get("hosts", []), ha.get("lock"), pool_column=False)
    for m in status.get("masters", []):
        db = m.get("db_hosts", [])
        lines.append(f"master {m.get('name')}: pool {m.get('pool_name')!r}, {len(db)} hosts in its database")
    return "\n".join(lines + _footer(status)) + "\n"


def _host_table(hosts: list[dict], lock: str | None, *, pool_column: bool) -> list[str]:
    marks = [ha_mark(h, lock) for h in hosts]
    cuts = [",".join(h.get("cut_from") or ()) for h in hosts]
    extra = (("CUT",) if any(cuts) else ()) + (("HA",) if any(marks) else ())
    head = (_COLUMNS[:1] + ("POOL",) + _COLUMNS[1:]) if pool_column else _COLUMNS
    rows = [head + extra]
    for h, cut, mark in zip(hosts, cuts, marks):
        row = _host_row(h)
        if pool_column:
            row = row[:1] + (str(h.get("pool") or "-"),) + row[1:]
        row += ((cut or "-",) if "CUT" in extra else ()) + ((mark or "-",) if "HA" in extra else ())
        rows.append(row)
    return _columns(rows)


def _host_row(h: dict) -> tuple[str, ...]:
    emergency = "true" if h.get("emergency") else "false"
    if h.get("emergency_error"):
        emergency += f" ({h['emergency_error']})"
    return (
        str(h.get("name")),
        str(h.get("power")),
        str(h.get("link")),
        str(h.get("xapi")),
        h.get("pool_conf") or "-",
        emergency,
        str(h.get("api_sessions", 0)),
        str(h.get("https_requests", 0)),
    )


def _columns(rows: list[tuple[str, ...]]) -> list[str]:
    """Left-aligned columns, the last one unpadded."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1] for r in rows]


def _footer(status: dict) -> list[str]:
    ha = status.get("ha") or {}
    lines = []
    if ha.get("enabled") or ha.get("lock"):
        lock = ha.get("lock") or "nobody"
        enabled = str(ha.get("enabled")).lower()
        lines.append(f"HA: enabled {enabled}, master lock {lock}, timeout {ha.get('timeout'):g} s")
    lines.append(f"simulated time {status.get('time', 0):.1f} s")
    return lines


def _format_fleet(status: dict) -> str:
    hosts = {h.get("name"): h for h in status.get("hosts", [])}
    pools = status.get("pools") or []
    built = _built_confs(pools, hosts)
    odd = [h for h in hosts.values() if not _as_built(h, built.get(h.get("name")))]
    rows = [("POOL", "HOSTS", "BUILT MASTER", "MASTERS NOW", "NOT AS BUILT")]
    for pool in pools:
        members = [hosts[n] for n in pool.get("hosts", []) if n in hosts]
        masters = [str(h.get("name")) for h in members if h.get("role") == "master"]
        trouble = sum(1 for h in members if h in odd)
        rows.append((str(pool.get("name")), str(len(members)), str(pool.get("master")),
                     ",".join(masters) or "-", str(trouble)))
    lines = _columns(rows)
    if odd:
        lines.append(f"{len(odd)} of {len(hosts)} hosts not as built ({NOMINAL}):")
        lines += _host_table(odd[:SHOWN_HOSTS], (status.get("ha") or {}).get("lock"), pool_column=True)
        if len(odd) > SHOWN_HOSTS:
            lines.append(f"... and {len(odd) - SHOWN_HOSTS} more (status --json lists every host)")
    else:
        lines.append(f"all {len(hosts)} hosts as built ({NOMINAL})")
    return "\n".join(lines + _footer(status)) + "\n"


def _built_confs(pools: list[dict], hosts: dict) -> dict:
    """The pool.conf each host was built with: master, or slave of its pool's first host."""
    confs = {}
    for pool in pools:
        master = hosts.get(pool.get("master")) or {}
        for name in pool.get("hosts", []):
            confs[name] = "master" if name == pool.get("master") else f"slave:{master.get('address')}"
    return confs


def _as_built(h: dict, conf: str | None) -> bool:
    return (h.get("power") == "on" and h.get("link") == "up" and h.get("xapi") == "running"
            and not h.get("emergency") and not h.get("cut_from") and h.get("pool_conf") == conf)
