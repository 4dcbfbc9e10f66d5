"""The process-wide asyncssh patches go in only on the asyncssh releases they were written for.

Each run is a fresh interpreter, so nothing is patched before poolterm's sshlib is imported;
the version asyncssh reports is set there before the import, as another release would report it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import json, sys, warnings
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # asyncssh's own import-time noise is sshlib's business, not this test's
    import asyncssh
if sys.argv[1] != "as installed":
    asyncssh.__version__ = sys.argv[1]
from asyncssh.connection import SSHConnection
from asyncssh.logging import SSHLogger
from asyncssh.packet import SSHPacketLogger
shipped = (SSHConnection.send_packet, SSHLogger.log, SSHPacketLogger._log_packet)
from poolterm.transport import sshlib
now = (SSHConnection.send_packet, SSHLogger.log, SSHPacketLogger._log_packet)
print(json.dumps({"installed": list(sshlib.PATCHES), "replaced": [a is not b for a, b in zip(shipped, now)]}))
"""


def probe(version: str) -> tuple[dict, str]:
    done = subprocess.run([sys.executable, "-c", PROBE, version], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr


@pytest.mark.parametrize("version", ["as installed", "2.24.1", "2.23.0"])
def test_the_patches_go_in_silently_on_a_version_they_were_written_for(version):
    result, stderr = probe(version)
    assert result == {"installed": ["padding", "logging"], "replaced": [True, True, True]}
    assert stderr == ""


@pytest.mark.parametrize("version", ["2.25.0", "2.24.2", "3.0.0", "2.22.0"])
def test_on_any_other_version_they_stay_off_with_one_line_on_stderr(version):
    result, stderr = probe(version)
    assert result == {"installed": [], "replaced": [False, False, False]}
    assert stderr.count("\n") == 1 and stderr.endswith("\n"), stderr
    assert stderr.startswith(f"poolterm: asyncssh {version} is not a release poolterm's asyncssh patches"), stderr


def test_install_patches_returns_what_it_did(capsys):
    from poolterm.transport.sshlib import install_patches

    assert install_patches("0.1") == ()
    assert capsys.readouterr().err == ("poolterm: asyncssh 0.1 is not a release poolterm's asyncssh patches were "
                                       "written for (2.23.0, 2.23.1, 2.24.0, 2.24.1); running without them\n")
