"""The architecture's boundaries, checked on the source: only the UI imports Textual.

The pure core and the I/O layer must work without Textual (``poolterm check``
on a monitoring host, the simulator); the simulator is a peer on the network
that only the demo wiring and the CLI may reach into.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import poolterm

PACKAGE = Path(poolterm.__file__).resolve().parent
UI = PACKAGE / "ui"
SIM = PACKAGE / "sim"
#: Modules outside poolterm/sim allowed to import it: the demo runs it, the CLI registers `poolterm sim`.
SIM_USERS = {"cli.py", "demo.py"}


def modules() -> list[Path]:
    found = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
    assert len(found) > 10, f"suspiciously few modules under {PACKAGE}"
    return found


def imported(path: Path) -> set[str]:
    """Every module name an import statement in ``path`` names, anywhere in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def top(name: str) -> str:
    return name.split(".")[0]


def test_only_the_ui_imports_textual():
    offenders = {
        str(path.relative_to(PACKAGE.parent)): sorted(n for n in imported(path) if top(n) == "textual")
        for path in modules() if UI not in path.parents
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_ui_does_import_textual():
    """The scan above sees imports at all: the UI's own files must show up in it."""
    assert any("textual.app" in imported(path) for path in UI.rglob("*.py"))


def test_only_the_demo_and_cli_reach_into_the_simulator():
    offenders = {
        str(path.relative_to(PACKAGE.parent)): sorted(n for n in imported(path) if n.startswith("poolterm.sim"))
        for path in modules()
        if SIM not in path.parents and path.relative_to(PACKAGE).as_posix() not in SIM_USERS
    }
    assert {k: v for k, v in offenders.items() if v} == {}


@pytest.mark.parametrize("module", ["poolterm.check", "poolterm.diagnosis", "poolterm.watch", "poolterm.model",
                                   "poolterm.probe", "poolterm.ssh", "poolterm.settings", "poolterm.console",
                                   "poolterm.demo", "poolterm.ui.queries", "poolterm.ui.source"])
def test_importing_does_not_load_textual(module):
    code = (f"import sys, {module}\n"
            "loaded = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
            "print(','.join(loaded))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"{module} loaded {result.stdout.strip()}"


def test_building_the_cli_does_not_load_textual():
    """Low-bandwidth settings must reach the environment before Textual is first imported."""
    code = ("import sys\nfrom poolterm.cli import build_parser\nbuild_parser()\n"
            "print('textual' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
