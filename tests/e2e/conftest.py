"""Fixtures of the end-to-end tests: a private tmux server."""

from __future__ import annotations

import uuid

import pytest

from tests.helpers.tmux import Tmux


@pytest.fixture
def tmux():
    server = Tmux(f"poolterm-e2e-{uuid.uuid4().hex[:8]}")
    yield server
    server("kill-server", check=False)
