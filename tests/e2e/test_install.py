"""`pip install .` (not editable) ships everything poolterm reads at run time.

The wheel is built offline from a copy of the project (no build isolation, so the
backend comes from the test extras), installed into a folder of its own, and run
from there: playbooks, verdicts, themes, scenarios and the console's stylesheet
must all load from the installed copy, not from this checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("install")
    source = work / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "poolterm", source / "poolterm",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(work / "dist"),
                    str(source)], check=True, capture_output=True, timeout=240)
    wheel = next((work / "dist").glob("poolterm-*.whl"))
    target = work / "site"
    subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=240)
    return target


def run_installed(target: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(target)}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                          cwd=target, timeout=60)


def data_files(top: Path) -> set[str]:
    """Relative paths of the run-time data files below top/poolterm, through symlinked folders too."""
    found = set()
    for folder, _, files in os.walk(top / "poolterm", followlinks=True):
        found |= {(Path(folder) / name).relative_to(top).as_posix()
                  for name in files if Path(name).suffix in {".yaml", ".tcss"}}
    return found


def test_the_wheel_holds_every_data_file_of_the_source_tree(installed):
    shipped = data_files(ROOT)
    assert {"poolterm/diagnosis/verdicts.yaml", "poolterm/themes/poolterm-dark.yaml", "poolterm/ui/app.tcss"} <= shipped
    assert data_files(installed) == shipped


def test_the_installed_copy_runs_and_loads_its_data_from_itself(installed):
    probe = run_installed(installed, "-c", (
        "import poolterm, pathlib\n"
        "from poolterm.playbooks import load_all\n"
        "from poolterm.sim.scenario import load_scenario, scenario_names\n"
        "from poolterm.ui.themes import SHIPPED_DIR, load_themes\n"
        "from poolterm.diagnosis.explain import explanations\n"
        "print(pathlib.Path(poolterm.__file__).parent)\n"
        "print(len(load_all()), len(load_themes([SHIPPED_DIR]).themes),\n"
        "      len([load_scenario(n) for n in scenario_names()]), len(explanations()))\n"
    ))
    assert probe.returncode == 0, probe.stderr
    assert probe.stderr == ""
    where, counts = probe.stdout.splitlines()
    assert Path(where) == installed / "poolterm"
    assert all(int(n) > 0 for n in counts.split()), counts

    listed = run_installed(installed, "-m", "poolterm", "playbook", "list")
    assert (listed.returncode, listed.stderr) == (0, "")
    assert "master-lost" in listed.stdout and "split-brain" in listed.stdout
