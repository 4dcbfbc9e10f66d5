"""Render the README's pictures of the console from the real app: docs/pictures/*.svg.

    python scripts/pictures.py           # write docs/pictures/{healthy,master-lost,split-brain}.svg
    python scripts/pictures.py --check   # only say whether they are current; exit 1 if not

Each picture is the real console (poolterm.ui.app.PoolApp) on the fixed state the snapshot
tests check (tests/helpers/static_console.py: the real probe parser and diagnosis on
hand-made probe output, a frozen clock), built and settled by tests/helpers/screens.py, the
code tests/app/test_snapshots.py uses too. Run it after a change that moves the snapshots;
tests/app/test_pictures.py fails until the pictures are current. Two runs write the same bytes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PICTURES_DIR = ROOT / "docs" / "pictures"


def stale(directory: Path, fresh: Path) -> list[str]:
    """The pictures in ``directory`` that differ from (or are missing beside) those just rendered in ``fresh``."""
    return sorted(path.name for path in fresh.glob("*.svg")
                  if not (directory / path.name).is_file() or (directory / path.name).read_bytes() != path.read_bytes())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare with the pictures in --out; exit 1 if stale")
    parser.add_argument("--out", type=Path, default=PICTURES_DIR, help="their directory (default: docs/pictures)")
    args = parser.parse_args(argv)

    # A colourless terminal setting must not grey the README (Textual reads it when the app starts).
    os.environ.pop("NO_COLOR", None)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.helpers.screens import write_pictures

    if not args.check:
        for path in write_pictures(args.out):
            print(f"wrote {path}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        if not write_pictures(Path(tmp)):
            print("no picture rendered", file=sys.stderr)
            return 1
        differ = stale(args.out, Path(tmp))
    if differ:
        print(f"stale in {args.out}: {', '.join(differ)}; run python scripts/pictures.py", file=sys.stderr)
        return 1
    print(f"the pictures in {args.out} are current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
