"""The README's pictures (docs/pictures/*.svg) are current: rendered again from the real console on
the snapshot tests' states (tests/helpers/screens.py), they are the same bytes, and each shows
the state its name claims. After a change that moves the snapshots: python scripts/pictures.py
"""

from __future__ import annotations

import html
from pathlib import Path

import pytest

from tests.helpers.screens import PICTURE_SIZE, PICTURES, svg_lines, write_pictures

PICTURES_DIR = Path(__file__).resolve().parents[2] / "docs" / "pictures"
REGENERATE = "run python scripts/pictures.py"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    """Every picture rendered once for this module, as the script renders it."""
    directory = tmp_path_factory.mktemp("pictures")
    with pytest.MonkeyPatch.context() as env:
        env.delenv("NO_COLOR", raising=False)  # as the script does
        write_pictures(directory)
    return directory


def test_every_picture_is_in_the_repository_and_no_other():
    assert sorted(p.name for p in PICTURES_DIR.glob("*.svg")) == sorted(f"{p.name}.svg" for p in PICTURES), REGENERATE


@pytest.mark.parametrize("picture", PICTURES, ids=lambda p: p.name)
def test_picture_is_current(rendered, picture):
    name = f"{picture.name}.svg"
    committed = PICTURES_DIR / name
    assert committed.is_file(), f"docs/pictures/{name} is missing: {REGENERATE}"
    assert (rendered / name).read_bytes() == committed.read_bytes(), f"docs/pictures/{name} is stale: {REGENERATE}"


@pytest.mark.parametrize("picture", PICTURES, ids=lambda p: p.name)
def test_picture_shows_what_it_claims(rendered, picture):
    svg = (rendered / f"{picture.name}.svg").read_text()
    lines = svg_lines(svg)
    text = "\n".join(lines)
    assert len(lines) == PICTURE_SIZE[1], lines  # one string per terminal row, the whole screen
    for shown in picture.shows:
        assert shown in text, f"{picture.name}: {shown!r} not on screen:\n{text}"
    assert f">{picture.caption}</text>" in html.unescape(svg).replace("\xa0", " ")  # a fixed title, not the app's


def test_the_master_lost_picture_has_the_playbook_panel_on_its_first_step(rendered):
    text = "\n".join(svg_lines((rendered / "master-lost.svg").read_text()))
    assert "playbook master-lost" in text  # the panel's border title
    assert "↷ 1. Restart the toolstack on plot1  [skipped]" in text
    assert "▶ 2. Promote plot2 to master  [running]" in text
    assert "next command: on plot2: xe" in text and "pool-emergency-transition-to-master" in text  # wrapped
    assert "Next: follow playbook master-lost in its panel" in text  # the banner agrees: a run is on
