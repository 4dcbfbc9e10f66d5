"""The suite's own layout: no test module imports another test module or a conftest.

Fixtures reach a test as fixtures (from the conftest.py files), everything else the
tests share comes from tests/helpers; a test module that lends helpers to others
couples their fates, and importing a conftest runs its hooks twice.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def is_test_module(module: str) -> bool:
    last = module.rpartition(".")[2]
    return last == "conftest" or last.startswith("test_") or last.endswith("_test")


def imported_modules(tree: ast.Module, package: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``tree``, at any depth, ``from X import name``
    counted as both X and X.name (the name may be a module); ``package`` resolves relative imports."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[:len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def offences(source: str, package: str) -> list[str]:
    return [f"line {line}: imports {module}" for line, module in imported_modules(ast.parse(source), package)
            if (module == "tests" or module.startswith("tests.")) and is_test_module(module)]


def test_no_test_module_imports_another_test_module_or_a_conftest():
    # the check itself sees each way of writing such an import
    bad = ("from tests.e2e.test_playbooks import xe\nfrom .conftest import sim\nfrom . import test_app\n"
           "def f():\n    import tests.unit.test_guards\n")
    assert len(offences(bad, "tests.app")) == 4, offences(bad, "tests.app")
    assert offences("from tests.helpers.ssh import xe\nfrom poolterm.cli import main\n", "tests.app") == []

    files = sorted(TESTS.rglob("*.py"))
    assert len([f for f in files if f.name.startswith("test_")]) > 40, "the scan missed the test modules"
    found = []
    for path in files:
        relative = path.relative_to(TESTS.parent)
        package = ".".join(relative.parent.parts)
        found += [f"{relative} {offence}" for offence in offences(path.read_text(), package)]
    assert found == [], "shared helpers belong in tests/helpers, fixtures in conftest.py:\n" + "\n".join(found)
