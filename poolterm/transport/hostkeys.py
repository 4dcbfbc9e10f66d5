"""Host keys: what a host offers, what known_hosts records for it, and trusting a new one.

Trust is always the operator's decision (typed, or ``--accept-new`` for keys never seen
before, like OpenSSH's ``StrictHostKeyChecking accept-new``); this module only fetches,
compares, shows and writes. Fingerprints are shown as ``ssh-keygen -lf`` shows them
(``256 SHA256:... (ED25519)``), so an operator can compare them with what the host's
console prints (``ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`` in dom0).

known_hosts is written the way OpenSSH writes it: a new key is appended (a line of its
own, the file made 0600 if it is new); replacing a changed key removes that host's lines,
hashed ones included, and nothing else, through a temporary file renamed over the old one
so that a crash leaves the old file or the new, never half of one.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import tempfile
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from poolterm.errors import HostKeyError
from poolterm.transport.sshlib import asyncssh

#: Key types poolterm asks a host for when nothing is recorded, strongest first (dom0's sshd has
#: ed25519, ECDSA and RSA keys; OpenSSH's own client prefers them in this order too).
PREFERRED_ALGS = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
                  "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")

_NAMES = {"ssh-ed25519": "ED25519", "ssh-ed448": "ED448", "ssh-rsa": "RSA", "ssh-dss": "DSA",
          "ecdsa-sha2-nistp256": "ECDSA", "ecdsa-sha2-nistp384": "ECDSA", "ecdsa-sha2-nistp521": "ECDSA",
          "sk-ssh-ed25519@openssh.com": "ED25519-SK", "sk-ecdsa-sha2-nistp256@openssh.com": "ECDSA-SK"}
_FIXED_BITS = {"ssh-ed25519": 256, "ssh-ed448": 456, "ecdsa-sha2-nistp256": 256, "ecdsa-sha2-nistp384": 384,
               "ecdsa-sha2-nistp521": 521, "sk-ssh-ed25519@openssh.com": 256, "sk-ecdsa-sha2-nistp256@openssh.com": 256}


class KeyStatus(Enum):
    KNOWN = "known"  # the offered key is the one recorded
    NEW = "new"  # nothing recorded for this host
    CHANGED = "changed"  # something else is recorded: a reinstalled host, or someone in the middle


@dataclass(frozen=True)
class HostKey:
    """A public host key, as offered or as recorded."""

    algorithm: str  # ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa...
    blob: bytes  # the key in SSH wire format

    @classmethod
    def of(cls, key: asyncssh.SSHKey) -> HostKey:
        return cls(key.get_algorithm(), bytes(key.public_data))

    @classmethod
    def parse(cls, line: str) -> HostKey:
        """``ALGORITHM BASE64`` (a .pub file's start, or a known_hosts line's key)."""
        algorithm, data = line.split()[:2]
        return cls(algorithm, base64.b64decode(data, validate=True))

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256(self.blob).digest()
        return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")

    @property
    def kind(self) -> str:
        return _NAMES.get(self.algorithm, self.algorithm.upper())

    @property
    def bits(self) -> int:
        if self.algorithm in _FIXED_BITS:
            return _FIXED_BITS[self.algorithm]
        if self.algorithm == "ssh-rsa":
            fields = _wire_strings(self.blob)
            return int.from_bytes(fields[2], "big").bit_length() if len(fields) >= 3 else 0
        return 0

    def shown(self, comment: str = "") -> str:
        """As ``ssh-keygen -lf`` prints it: ``256 SHA256:... host (ED25519)``."""
        return f"{self.bits} {self.fingerprint} {comment or 'no comment'} ({self.kind})"

    def openssh(self) -> str:
        return f"{self.algorithm} {base64.b64encode(self.blob).decode()}"


@dataclass(frozen=True)
class KeyCheck:
    """A host's offered key beside what its known_hosts records for it."""

    name: str  # the inventory's name for the host
    host: str  # the name known_hosts knows it by (its address, or ssh_host)
    port: int
    known_hosts: Path
    offered: HostKey
    recorded: tuple[HostKey, ...]

    @property
    def status(self) -> KeyStatus:
        return status(self.offered, list(self.recorded))

    @property
    def pattern(self) -> str:
        return host_pattern(self.host, self.port)


def accept(check: KeyCheck) -> int:
    """Trust the key ``check`` saw, as the operator decided: appended when nothing was recorded,
    replacing the recorded keys when they differ; the number of lines removed."""
    if check.status is KeyStatus.KNOWN:
        return 0
    if check.status is KeyStatus.NEW:
        trust(check.known_hosts, check.host, check.port, check.offered)
        return 0
    return replace(check.known_hosts, check.host, check.port, check.offered)


def _wire_strings(blob: bytes) -> list[bytes]:
    """The length-prefixed strings of an SSH wire-format key."""
    fields, at = [], 0
    while at + 4 <= len(blob):
        size = int.from_bytes(blob[at:at + 4], "big")
        fields.append(blob[at + 4:at + 4 + size])
        at += 4 + size
    return fields


def host_pattern(host: str, port: int) -> str:
    """How known_hosts names ``host`` on ``port`` (OpenSSH's ``[host]:port`` off port 22)."""
    return host if port == 22 else f"[{host}]:{port}"


def recorded(path: Path, host: str, port: int) -> list[HostKey]:
    """The keys ``path`` trusts for ``host`` on ``port`` (none when the file does not exist)."""
    try:
        known = asyncssh.read_known_hosts(str(path))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise HostKeyError(f"cannot read known_hosts {path}: {exc}") from None
    keys = known.match(host, host, port if port != 22 else None)[0]  # the name and the address: twice
    return list(dict.fromkeys(HostKey.of(key) for key in keys))


def status(offered: HostKey, keys: list[HostKey]) -> KeyStatus:
    if not keys:
        return KeyStatus.NEW
    return KeyStatus.KNOWN if offered in keys else KeyStatus.CHANGED


def trust(path: Path, host: str, port: int, key: HostKey) -> None:
    """Append ``key`` for ``host``: OpenSSH's ``accept-new`` (the file and its folder made if need be)."""
    line = f"{host_pattern(host, port)} {key.openssh()}\n"
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "ab") as f:
            if f.tell() and not _ends_with_newline(path):
                line = "\n" + line
            f.write(line.encode())
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise HostKeyError(f"cannot write known_hosts {path}: {exc.strerror or exc}") from None


def replace(path: Path, host: str, port: int, key: HostKey) -> int:
    """Trust ``key`` for ``host`` instead of what was recorded (``ssh-keygen -R`` then an append, in one
    rename); the number of lines removed. Every other line is kept byte for byte."""
    pattern = host_pattern(host, port)
    try:
        old = path.read_bytes()
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        old, mode = b"", 0o600
    except OSError as exc:
        raise HostKeyError(f"cannot read known_hosts {path}: {exc.strerror or exc}") from None
    lines = old.splitlines(keepends=True)
    kept = [line for line in lines if not _names(line, pattern)]
    if kept and not kept[-1].endswith(b"\n"):
        kept[-1] += b"\n"
    kept.append(f"{pattern} {key.openssh()}\n".encode())
    try:
        fd, tmp = tempfile.mkstemp(prefix=".known_hosts.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(b"".join(kept))
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        raise HostKeyError(f"cannot write known_hosts {path}: {exc.strerror or exc}") from None
    return len(lines) - (len(kept) - 1)


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


def _names(line: bytes, pattern: str) -> bool:
    """Whether a known_hosts line is a plain key line for exactly ``pattern`` (its host field, comma
    separated, or a hashed ``|1|salt|hash`` entry). Markers (@revoked, @cert-authority) and wildcard
    patterns are the operator's own policy and are never touched."""
    fields = line.split()
    if not fields or fields[0].startswith((b"#", b"@")):
        return False
    names = fields[0].decode(errors="replace")
    for name in names.split(","):
        if name.startswith("|1|"):
            try:
                _, _, salt, digest = name.split("|")
                mac = hmac.new(base64.b64decode(salt), pattern.encode(), hashlib.sha1).digest()
            except ValueError:
                continue
            if hmac.compare_digest(base64.b64encode(mac).decode(), digest):
                return True
        elif name == pattern:
            return True
    return False


async def offered(host: str, port: int, *, tunnel=None, algorithms: tuple[str, ...] = (),
                  timeout: float = 10.0) -> HostKey:
    """The key ``host`` offers on ``port`` (through ``tunnel``, an open connection, for a jump), of
    the first of ``algorithms`` it has (default :data:`PREFERRED_ALGS`). No authentication is tried:
    the handshake stops once the key is seen."""
    algs = list(algorithms or PREFERRED_ALGS)
    if "ssh-rsa" in algs:  # an RSA key recorded as ssh-rsa is offered under the SHA-2 signature names too
        algs = list(dict.fromkeys(["rsa-sha2-512", "rsa-sha2-256", *algs]))
    try:
        async with asyncio.timeout(timeout):
            key = await asyncssh.get_server_host_key(host, port, tunnel=tunnel if tunnel is not None else (),
                                                     server_host_key_algs=algs, config=None)
    except TimeoutError:
        raise HostKeyError(f"{host}:{port}: no SSH answer within {timeout:g} s") from None
    except (OSError, asyncssh.Error) as exc:
        raise HostKeyError(f"{host}:{port}: {_reason(exc)}") from None
    if key is None:
        raise HostKeyError(f"{host}:{port}: offered no host key")
    return HostKey.of(key)


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text.splitlines()[0]
