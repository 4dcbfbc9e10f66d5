"""Host keys as OpenSSH's own tools see them: fingerprints as `ssh-keygen -lf` prints them, and
known_hosts files that `ssh-keygen -F` reads back after poolterm wrote them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from poolterm.errors import HostKeyError
from poolterm.transport import hostkeys
from poolterm.transport.hostkeys import HostKey, KeyStatus

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="OpenSSH's ssh-keygen is not installed")


def keygen(tmp_path: Path, kind: str, bits: int | None = None, name: str = "key") -> Path:
    path = tmp_path / name
    args = ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "root@plot1", "-f", str(path)]
    if bits:
        args[4:4] = ["-b", str(bits)]
    subprocess.run(args, check=True)
    return path.with_suffix(".pub")


def found(known_hosts: Path, host: str) -> str:
    """What `ssh-keygen -F` finds for ``host`` in the file (empty: nothing)."""
    done = subprocess.run(["ssh-keygen", "-F", host, "-f", str(known_hosts)], capture_output=True, text=True)
    return done.stdout


@pytest.mark.parametrize("kind,bits", [("ed25519", None), ("ecdsa", 384), ("rsa", 3072)])
def test_a_key_is_shown_as_ssh_keygen_shows_it(tmp_path, kind, bits):
    pub = keygen(tmp_path, kind, bits)
    key = HostKey.parse(pub.read_text())
    printed = subprocess.run(["ssh-keygen", "-lf", str(pub)], capture_output=True, text=True, check=True).stdout
    assert key.shown("root@plot1") == printed.strip()


def test_a_new_key_is_appended_and_openssh_finds_it(tmp_path):
    known = tmp_path / "ssh" / "known_hosts"
    key = HostKey.parse(keygen(tmp_path, "ed25519").read_text())
    assert hostkeys.status(key, hostkeys.recorded(known, "127.77.0.12", 2222)) is KeyStatus.NEW
    hostkeys.trust(known, "127.77.0.12", 2222, key)
    assert known.stat().st_mode & 0o777 == 0o600
    assert known.parent.stat().st_mode & 0o777 == 0o700
    assert key.openssh().split()[1] in found(known, "[127.77.0.12]:2222")
    assert hostkeys.status(key, hostkeys.recorded(known, "127.77.0.12", 2222)) is KeyStatus.KNOWN
    assert hostkeys.recorded(known, "127.77.0.12", 22) == []  # another port is another host


def test_an_append_never_glues_onto_a_last_line_without_newline(tmp_path):
    known = tmp_path / "known_hosts"
    first = HostKey.parse(keygen(tmp_path, "ed25519", name="a").read_text())
    second = HostKey.parse(keygen(tmp_path, "ed25519", name="b").read_text())
    known.write_text(f"10.0.0.1 {first.openssh()}")  # no newline at the end, as some editors leave it
    hostkeys.trust(known, "10.0.0.2", 22, second)
    assert known.read_text().splitlines() == [f"10.0.0.1 {first.openssh()}", f"10.0.0.2 {second.openssh()}"]


def test_a_changed_key_replaces_only_that_hosts_lines_hashed_or_not(tmp_path):
    known = tmp_path / "known_hosts"
    old = HostKey.parse(keygen(tmp_path, "ed25519", name="old").read_text())
    other = HostKey.parse(keygen(tmp_path, "ed25519", name="other").read_text())
    new = HostKey.parse(keygen(tmp_path, "ed25519", name="new").read_text())
    known.write_text(f"# the team's hosts\n[127.77.0.13]:2222 {old.openssh()}\n127.77.0.14 {other.openssh()}\n"
                     f"@cert-authority *.lab {other.openssh()}\n")
    subprocess.run(["ssh-keygen", "-H", "-f", str(known)], check=True, capture_output=True)  # as HashKnownHosts does
    hashed_lines = known.read_text()
    known.write_text(hashed_lines + f"[127.77.0.13]:2222 {old.openssh()}\n")  # and one plain duplicate
    known.chmod(0o644)
    assert hostkeys.status(new, hostkeys.recorded(known, "127.77.0.13", 2222)) is KeyStatus.CHANGED

    removed = hostkeys.replace(known, "127.77.0.13", 2222, new)

    assert removed == 2
    assert hostkeys.recorded(known, "127.77.0.13", 2222) == [new]
    assert hostkeys.recorded(known, "127.77.0.14", 22) == [other]
    assert "@cert-authority *.lab" in known.read_text() and "# the team's hosts" in known.read_text()
    assert known.stat().st_mode & 0o777 == 0o644  # the operator's own choice of mode is kept
    assert old.openssh().split()[1] not in found(known, "[127.77.0.13]:2222")


def test_a_known_hosts_that_cannot_be_read_or_written_is_a_one_line_error(tmp_path):
    known = tmp_path / "known_hosts"
    known.mkdir()  # a folder where the file should be
    key = HostKey.parse(keygen(tmp_path, "ed25519").read_text())
    with pytest.raises(HostKeyError, match="^cannot read known_hosts .*known_hosts: .*directory"):
        hostkeys.recorded(known, "127.0.0.1", 22)
    with pytest.raises(HostKeyError, match="^cannot write known_hosts .*known_hosts: .*directory"):
        hostkeys.trust(known, "127.0.0.1", 22, key)
