"""`poolterm sim` in a child process, driven through its control socket as the in-process
:class:`~poolterm.sim.runtime.Simulator` is driven: what `poolterm demo` runs when the simulator
is too big to share the console's event loop.

:class:`SimulatorProcess` offers the part of the Simulator the console uses: ``status()``
(synchronous, as the fault menu asks for it), ``await ctl(action, host, **data)``, the files
(``hosts_yaml`` ...), ``params`` and ``stop()``. The child is `poolterm sim --stop-on-eof` with
its standard input a pipe from this process: when this process ends, however it ends (SIGKILL
included), the kernel closes the pipe and the child stops too.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
from pathlib import Path

from poolterm.errors import SimulatorError
from poolterm.sim.control import LINE_LIMIT, ControlError, request
from poolterm.sim.runtime import socket_answers
from poolterm.sim.world import PoolPlan, SimError, SimParams, pool_layout

#: How long the child may take to start (5,000 hosts take a few seconds; a loaded machine more).
READY_TIMEOUT = 120.0
#: How long a stopping child may take before it is terminated, then killed.
STOP_TIMEOUT = 15.0
#: How long a status may take to come back (a 5,000-host status is a few megabytes).
STATUS_TIMEOUT = 20.0
#: The line `poolterm sim` ends its start banner with, once everything listens.
READY_LINE = "running;"
LOG_NAME = "sim.log"


class SimulatorProcess:
    """N simulated hosts in K pools served by a child `poolterm sim` writing into ``directory``."""

    def __init__(
        self,
        n_hosts: int,
        directory: str | Path,
        *,
        params: SimParams | None = None,
        pools: int = 1,
        ha: bool = False,
        pool_name: str = "lab",
    ):
        try:
            self.pools: list[PoolPlan] = pool_layout(n_hosts, pools, pool_name)
        except SimError as exc:
            raise SimulatorError(str(exc)) from None
        self.n_hosts = n_hosts
        self.directory = Path(directory)
        self.params = params or SimParams()
        self.ha = ha
        self.pool_name = pool_name
        self.hosts_yaml = self.directory / "hosts.yaml"
        self.known_hosts = self.directory / "known_hosts"
        self.client_key = self.directory / "id_ed25519"
        self.control_path = self.directory / "control.sock"
        self.log_path = self.directory / LOG_NAME
        self._proc: asyncio.subprocess.Process | None = None

    def argv(self) -> list[str]:
        p = self.params
        argv = [sys.executable, "-m", "poolterm", "sim", "--hosts", str(self.n_hosts), "--pools", str(len(self.pools)),
                "--pool-name", self.pool_name, "--dir", str(self.directory), "--fuse", f"{p.fuse:g}",
                "--boot", f"{p.boot:g}", "--ha-timeout", f"{p.ha_timeout:g}", "--stop-on-eof"]
        return argv + (["--ha"] if self.ha else [])

    # lifecycle

    async def __aenter__(self) -> "SimulatorProcess":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start the child and return once its hosts listen; SimulatorError (its own one-line
        error) when it does not start."""
        if socket_answers(self.control_path):
            # Said here, not by a child that would first have emptied the running one's log.
            raise SimulatorError(f"a simulator is already running in {self.directory}")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            log = self.log_path.open("wb")
        except OSError as exc:
            raise SimulatorError(f"cannot use {self.directory}: {exc.strerror}") from None
        with log:
            # A session of its own: the terminal's Ctrl-C and hang-up are the console's to handle.
            self._proc = await asyncio.create_subprocess_exec(
                *self.argv(), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log,
                start_new_session=True)
        try:
            await asyncio.wait_for(self._banner(), READY_TIMEOUT)
        except TimeoutError:
            await self.stop()
            raise SimulatorError(f"the simulator did not start within {READY_TIMEOUT:g} s (its log: {self.log_path})")
        except BaseException:
            await self.stop()
            raise

    async def _banner(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        while True:
            line = await self._proc.stdout.readline()
            if not line:
                await self._proc.wait()
                raise SimulatorError(self._failure())
            if line.decode(errors="replace").startswith(READY_LINE):
                return

    def _failure(self) -> str:
        """The child's own one-line error (`poolterm: ...`), or what is known of its end."""
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            lines = []
        if lines:
            return lines[-1].removeprefix("poolterm: ")
        code = self._proc.returncode if self._proc is not None else None
        return f"the simulator exited with status {code} before it was ready"

    async def stop(self) -> None:
        """End the child: its standard input closes (it stops as at Ctrl-C), then SIGTERM, then SIGKILL."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if sig is not None and proc.returncode is None:
                proc.send_signal(sig)
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
                return
            except TimeoutError:
                continue

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    # driving

    def status(self) -> dict:
        """Ground truth, asked of the child while the caller waits (the fault menu orders its
        actions by it, so it must be now's)."""
        answer = self._ask({"action": "status"})
        answer.pop("ok", None)
        return answer

    async def ctl(self, action: str, host: str | None = None, **data: object) -> dict:
        """Apply a fault or plant data, as :meth:`Simulator.ctl`; SimError when the simulator refuses."""
        payload: dict = {"action": action, **data}
        if host is not None:
            payload["host"] = host
        try:
            answer = await request(self.control_path, payload)
        except ControlError as exc:
            raise SimError(str(exc)) from None
        if not answer.get("ok"):
            raise SimError(str(answer.get("error", "the simulator refused the request")))
        answer.pop("ok")
        return answer

    def _ask(self, payload: dict) -> dict:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(STATUS_TIMEOUT)
                s.connect(str(self.control_path))
                s.sendall(json.dumps(payload).encode() + b"\n")
                line = _read_line(s)
        except (FileNotFoundError, ConnectionRefusedError):
            raise SimError(f"no simulator running in {self.directory}") from None
        except TimeoutError:
            raise SimError(f"the simulator did not answer within {STATUS_TIMEOUT:g} s") from None
        except OSError as exc:
            raise SimError(f"cannot reach the simulator at {self.control_path}: {exc.strerror}") from None
        try:
            answer = json.loads(line)
        except ValueError:
            raise SimError("the simulator sent something that is not JSON") from None
        if not isinstance(answer, dict) or not answer.get("ok"):
            error = answer.get("error") if isinstance(answer, dict) else None
            raise SimError(str(error or "the simulator refused the request"))
        return answer


def _read_line(s: socket.socket) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            raise SimError("the simulator closed the control connection")
        end = chunk.find(b"\n")
        if end >= 0:
            chunks.append(chunk[:end])
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > LINE_LIMIT:
            raise SimError("the simulator's answer is too long")
