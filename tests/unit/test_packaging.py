"""What a fresh install meets: version bounds that agree with the lock, imports without noise."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def project_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    texts = project["dependencies"] + [t for extra in project["optional-dependencies"].values() for t in extra]
    return [Requirement(text) for text in texts]


def locked() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep and version, f"requirements.lock: {line!r} is not NAME==VERSION"
            pins[canonicalize_name(name)] = version
    return pins


def test_the_lock_pins_every_direct_requirement_inside_its_bounds():
    pins = locked()
    for requirement in project_requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is required by pyproject.toml but not in requirements.lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {name}=={pins[name]}, outside pyproject.toml's {requirement}")


def test_the_lock_does_not_pin_poolterm_itself():
    assert "poolterm" not in locked()


def test_importing_the_ssh_layer_prints_nothing_even_when_warnings_are_errors():
    """A fresh interpreter, every warning an error: asyncssh's import-time noise is filtered."""
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", "import poolterm.transport.ssh, poolterm.sim.runtime; print('imported')"],
        capture_output=True, text=True, timeout=60,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "imported\n", "")


def test_the_filter_is_narrow_a_warning_of_our_own_still_shows():
    done = subprocess.run(
        [sys.executable, "-c",
         "import warnings, poolterm.transport.sshlib\n"
         "from cryptography.utils import CryptographyDeprecationWarning\n"
         "warnings.warn('DSA is deprecated (ours)', CryptographyDeprecationWarning)\n"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0
    assert "DSA is deprecated (ours)" in done.stderr
