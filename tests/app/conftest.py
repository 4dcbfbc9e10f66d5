"""Fixtures for the console tests: isolated settings.

The console on fixed diagnoses is built by tests.helpers.static_console; the
simulated pool is the `sim` fixture of tests/conftest.py.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, monkeypatch):
    """No test reads the developer's settings or themes, or writes into their state dir."""
    monkeypatch.setenv("POOLTERM_CONFIG", str(tmp_path / "no-config.yaml"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.delenv("NO_COLOR", raising=False)
    return tmp_path

