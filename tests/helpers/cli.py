"""`poolterm` as a subprocess: one command run to its end, or `poolterm sim` left running."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

POOLTERM = [sys.executable, "-m", "poolterm"]


async def poolterm(*args: str, stdin: bytes = b"", env: dict | None = None, timeout: float = 20):
    proc = await asyncio.create_subprocess_exec(
        *POOLTERM, *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    return proc.returncode, out.decode(), err.decode()


class RunningSim:
    """`poolterm sim` started as a subprocess, with its banner read."""

    def __init__(self, proc: asyncio.subprocess.Process, banner: str, directory: Path):
        self.proc = proc
        self.banner = banner
        self.dir = directory

    @classmethod
    async def start(cls, directory: Path, *extra: str) -> "RunningSim":
        proc = await asyncio.create_subprocess_exec(
            *POOLTERM, "sim", "--dir", str(directory), *extra,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        lines = []
        while True:
            line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
            if not line:
                assert proc.stderr is not None
                raise AssertionError("poolterm sim exited: " + (await proc.stderr.read()).decode())
            lines.append(line)
            if line.startswith("running;"):
                return cls(proc, "".join(lines), directory)

    async def stop(self) -> int:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), 15)
