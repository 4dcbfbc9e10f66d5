"""The architecture, checked on the source by import-linter with the contracts in pyproject.toml.

The layers (front ends > playbooks > actions > probing > transport > config > pure
core), only the console importing Textual, a pure core without I/O, no import
cycles inside any package, and the simulator reached only by the demo and
`poolterm sim`. A second set of tests proves the contracts bite: a copy of the
package with one forbidden import added must fail them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import poolterm

ROOT = Path(poolterm.__file__).resolve().parent.parent
LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
                              "sys.exit(lint_imports_command())"]


def lint(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LINT, "--no-cache"], cwd=project, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(project), "PATH": "/usr/bin:/bin"})


def test_the_contracts_hold():
    done = lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 kept, 0 broken" in done.stdout


@pytest.fixture
def copy(tmp_path) -> Path:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(ROOT / "poolterm", tmp_path / "poolterm", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


@pytest.mark.parametrize(("module", "added", "broken"), [
    # a back-import from the pure core into the transport it must never touch
    ("diagnosis/guards.py", "from poolterm.transport import ssh", "poolterm.diagnosis is not allowed to import"),
    # an import up the layers, hidden inside a function
    ("config/inventory.py", "def _late():\n    from poolterm.probing import watch", "poolterm.config is not allowed"),
    # Textual outside the console
    ("model.py", "import textual", "only the console imports Textual BROKEN"),
    # a cycle between two modules of one package
    ("probing/probe.py", "from poolterm.probing import watch", "No cycles are allowed in poolterm.probing"),
    # the console reaching into the simulator
    ("ui/grid.py", "from poolterm.sim import world", "poolterm.ui is not allowed to import poolterm.sim"),
])
def test_a_forbidden_import_breaks_a_contract(copy, module, added, broken):
    path = copy / "poolterm" / module
    path.write_text(path.read_text() + "\n\n" + added + "\n")
    done = lint(copy)
    assert done.returncode != 0
    assert broken in " ".join(done.stdout.split()), done.stdout


def test_a_module_outside_every_layer_breaks_the_contract(copy):
    (copy / "poolterm" / "stray.py").write_text('"""A module nobody placed in a layer."""\n')
    done = lint(copy)
    assert done.returncode != 0
    assert "poolterm.stray" in done.stdout


@pytest.mark.parametrize("module", ["poolterm.cli.check", "poolterm.diagnosis.diagnose", "poolterm.probing.watch",
                                    "poolterm.model", "poolterm.probing.probe", "poolterm.transport.ssh",
                                    "poolterm.config.settings", "poolterm.cli.console", "poolterm.cli.demo",
                                    "poolterm.actions.commands", "poolterm.probing.source", "poolterm.cli.main"])
def test_importing_does_not_load_textual(module):
    """At run time too: low-bandwidth settings must reach the environment before Textual is imported."""
    code = (f"import sys, {module}\n"
            "loaded = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
            "print(','.join(loaded))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"{module} loaded {result.stdout.strip()}"
