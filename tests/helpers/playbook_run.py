"""`poolterm playbook run` in a subprocess against the simulated pool, driven like a terminal session,
and what its journal says it sent."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from poolterm.actions.journal import read_journal
from poolterm.sim.runtime import Simulator
from tests.helpers.sim import PARAMS, fast_inventory

PROBE_TIMEOUT = 1.5
TIMING_ARGS = ["--timeout", str(PROBE_TIMEOUT), "--fuse", str(PARAMS.fuse), "--xapi-start", str(PARAMS.xapi_start),
               "--boot", str(PARAMS.boot)]
OPERATOR = "alice"


class PlaybookRun:
    """`poolterm playbook run` in a subprocess, driven like a terminal session."""

    def __init__(self, proc: asyncio.subprocess.Process):
        self.proc = proc
        self.output = ""
        self._seen = 0

    @classmethod
    async def start(cls, sim: Simulator, playbook: str, journal: Path | None, *extra: str,
                    yes: bool = True, env: dict[str, str] | None = None) -> "PlaybookRun":
        """``journal`` None: the default journal, in the user state directory under the sim's HOME."""
        inventory = fast_inventory(sim, probe={"interval": 1, "timeout": PROBE_TIMEOUT})
        args = [sys.executable, "-m", "poolterm", "playbook", "run", playbook, "-i", str(inventory),
                *(["--journal", str(journal)] if journal else []), *TIMING_ARGS, *(["--yes"] if yes else []),
                *extra]
        environment = dict(os.environ, HOME=str(sim.directory), USER=OPERATOR, PYTHONUNBUFFERED="1",
                           PYTHONFAULTHANDLER="1", **(env or {}))
        for variable in ("SUDO_USER", "XDG_STATE_HOME", *(() if env and "POOLTERM_JOIN_PASSWORD" in env
                                                            else ("POOLTERM_JOIN_PASSWORD",))):
            environment.pop(variable, None)
        proc = await asyncio.create_subprocess_exec(*args, stdin=asyncio.subprocess.PIPE,
                                                    stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.STDOUT, env=environment)
        return cls(proc)

    @property
    def text(self) -> str:
        """The output with line wrapping undone: every run of blanks is one space."""
        return " ".join(self.output.split())

    async def expect(self, text: str, timeout: float = 45) -> None:
        """Read until ``text`` appears (wrapping ignored) after what earlier expects consumed."""
        try:
            async with asyncio.timeout(timeout):
                while text not in self.text[self._seen:]:
                    chunk = await self.proc.stdout.read(4096)
                    if not chunk:
                        break
                    self.output += chunk.decode(errors="replace")
        except TimeoutError:
            pass
        found = self.text.find(text, self._seen)
        assert found >= 0, f"{text!r} never appeared; output so far:\n{self.output}"
        self._seen = found + len(text)

    async def send(self, line: str) -> None:
        self.proc.stdin.write(line.encode() + b"\n")
        await self.proc.stdin.drain()

    async def finish(self, timeout: float = 60) -> int:
        try:
            async with asyncio.timeout(timeout):
                while chunk := await self.proc.stdout.read(4096):
                    self.output += chunk.decode(errors="replace")
                return await self.proc.wait()
        except TimeoutError:
            self.proc.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack
            try:
                async with asyncio.timeout(5):
                    self.output += (await self.proc.stdout.read()).decode(errors="replace")
            except TimeoutError:
                pass
            await self.kill()
            raise AssertionError(f"the playbook did not end within {timeout} s; output:\n{self.output}") from None

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()


def commands(journal: Path) -> list[tuple[str, str, int | None]]:
    """(host, command, exit status) of every command the journal records, in order."""
    records = read_journal(journal).records
    ends = {r["id"]: r for r in records if r["kind"] == "command-end"}
    return [(r["host"], r["command"], ends.get(r["id"], {}).get("exit_status"))
            for r in records if r["kind"] == "command-start"]


def changes(journal: Path) -> list[tuple[str, str, int | None]]:
    """:func:`commands` but the ``xe pool-list`` queries."""
    return [c for c in commands(journal) if not c[1].startswith("xe pool-list")]
