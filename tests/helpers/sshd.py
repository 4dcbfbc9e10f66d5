"""A real OpenSSH sshd in front of simulated hosts, started and stopped by a test.

One sshd listens on one loopback address per host; ``Match LocalAddress`` hands each
connection's command to ``poolterm sim exec`` for that host, so poolterm meets real
OpenSSH (its key exchange, its host key, its MaxSessions) while the pool behind it is the
simulator. :meth:`OpenSshd.reinstall` is what a reinstalled host does to its clients: the
daemon and every session it served go away, and it comes back on the same address with a
new host key.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

from poolterm.sim.runtime import Simulator, known_hosts_line
from poolterm.transport.sshlib import asyncssh

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def free_port(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


class OpenSshd:
    """``/usr/sbin/sshd -D`` serving ``fronts`` ({host name: loopback address}) of ``sim`` from ``directory``."""

    def __init__(self, sim: Simulator, directory: Path, fronts: dict[str, str], *, max_sessions: int = 10):
        self.sim = sim
        self.directory = directory
        self.fronts = fronts
        self.max_sessions = max_sessions
        self.port = free_port(next(iter(fronts.values())))
        self.key = asyncssh.generate_private_key("ssh-ed25519")
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def config(self) -> Path:
        return self.directory / "sshd_config"

    def known_hosts(self) -> str:
        """known_hosts lines for every front address, with the current host key."""
        return "".join(known_hosts_line(address, self.port, self.key) for address in self.fronts.values())

    def _write(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        key_file = self.directory / "sshd_host_ed25519"
        key_file.unlink(missing_ok=True)
        self.key.write_private_key(key_file)
        os.chmod(key_file, 0o600)
        (self.directory / "authorized_keys").write_text(Path(f"{self.sim.client_key}.pub").read_text())
        lines = [f"ListenAddress {address}:{self.port}" for address in self.fronts.values()]
        lines += [
            f"HostKey {key_file}",
            f"PidFile {self.directory / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.directory / 'authorized_keys'}",
            "PermitRootLogin prohibit-password",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "LogLevel ERROR",
            f"MaxSessions {self.max_sessions}",
        ]
        for name, address in self.fronts.items():
            exec_host = f"{sys.executable} -m poolterm sim exec --dir {self.sim.directory} --host {name}"
            lines += [f"Match LocalAddress {address}", f"    ForceCommand {exec_host}"]
        self.config.write_text("\n".join(lines) + "\n")

    async def start(self) -> "OpenSshd":
        assert os.path.exists(SSHD), "openssh-server is not installed (.ci/run installs it)"
        Path("/run/sshd").mkdir(exist_ok=True)
        self._write()
        checked = subprocess.run([SSHD, "-t", "-f", str(self.config)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
        self.proc = await asyncio.create_subprocess_exec(SSHD, "-D", "-e", "-f", str(self.config),
                                                         stderr=subprocess.DEVNULL)
        await wait_listening(next(iter(self.fronts.values())), self.port)
        return self

    async def stop(self) -> None:
        """The daemon and every session it forked (each calls setsid, so they are found by parent pid)."""
        if self.proc is None or self.proc.returncode is not None:
            return
        sessions = children_of(self.proc.pid)
        self.proc.terminate()
        await self.proc.wait()
        for pid in sessions:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    async def reinstall(self) -> None:
        """Gone with every session, then back on the same addresses and port with a new host key."""
        await self.stop()
        self.key = asyncssh.generate_private_key("ssh-ed25519")
        await self.start()

    async def __aenter__(self) -> "OpenSshd":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def children_of(pid: int) -> list[int]:
    """The pids whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command name is in parentheses and may hold spaces: the parent pid follows the last ')'
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


async def wait_listening(address: str, port: int) -> None:
    for _ in range(400):
        try:
            _, writer = await asyncio.open_connection(address, port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.025)
    raise AssertionError(f"sshd did not start listening on {address}:{port}")
