"""Freeze the versions the test suite last passed with into requirements.lock.

Run it in the environment that just passed the suite, made fresh by the README's
second command (or by .ci/run):

    python -m venv /tmp/v && . /tmp/v/bin/activate
    pip install -e '.[test]' && python -m pytest && python scripts/lock.py

It writes every distribution poolterm and its test extras need, walked from the
installed metadata (markers evaluated for this machine), as ``name==version``.
``--diff`` only compares this environment with the file and says what moved.
A jump box that wants these exact versions installs with
``pip install -c requirements.lock .``.
"""

from __future__ import annotations

import argparse
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
HEADER = """\
# The exact versions `python -m pytest` last passed with, in a fresh environment.
# Written by `python scripts/lock.py` (see its docstring); do not edit by hand.
# Frozen install on a jump box: pip install -c requirements.lock .
"""


def closure(project: str = "poolterm", extras: tuple[str, ...] = ("test",)) -> dict[str, str]:
    """Installed name -> version of every distribution the project (with extras) needs."""
    found: dict[str, str] = {}
    pending = [(project, set(extras))]
    while pending:
        name, wanted = pending.pop()
        dist = metadata.distribution(name)
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker and not any(
                requirement.marker.evaluate({"extra": extra}) for extra in (wanted or {""})
            ):
                continue
            key = canonicalize_name(requirement.name)
            if key in found:
                continue
            found[key] = metadata.version(requirement.name)
            pending.append((requirement.name, set(requirement.extras)))
    found.pop(canonicalize_name(project), None)
    return dict(sorted(found.items()))


def read_lock(path: Path = LOCK) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version
    return pins


def render(pins: dict[str, str]) -> str:
    return HEADER + "".join(f"{name}=={version}\n" for name, version in pins.items())


def diff(old: dict[str, str], new: dict[str, str]) -> list[str]:
    return [f"{name}: {old.get(name, '-')} -> {new.get(name, '-')}"
            for name in sorted(old.keys() | new.keys()) if old.get(name) != new.get(name)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--diff", action="store_true", help="only say how this environment differs from the lock")
    args = parser.parse_args(argv)
    try:
        current = closure()
    except metadata.PackageNotFoundError as exc:
        print(f"lock: {exc.args[0]} is not installed here: run this in the environment that passed the tests",
              file=sys.stderr)
        return 2
    if args.diff:
        moved = diff(read_lock(), current) if LOCK.exists() else ["requirements.lock: missing"]
        print("requirements.lock: this environment matches it" if not moved else
              "requirements.lock: this environment differs (newer releases since the lock?):\n  "
              + "\n  ".join(moved))
        return 1 if moved else 0
    LOCK.write_text(render(current))
    print(f"wrote {LOCK.name}: {len(current)} distributions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
