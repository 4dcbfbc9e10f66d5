"""A real file system that fills up: a tiny tmpfs (root only), and a file that eats its space."""

from __future__ import annotations

import errno
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest


@contextmanager
def tiny_tmpfs(directory: Path, size: str = "64k") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on ``directory`` (made if missing), unmounted after; the test is
    skipped where mounting is not allowed (not root, or in a container without CAP_SYS_ADMIN)."""
    directory.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(directory)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill (needs root): {done.stderr.strip() or done.returncode}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=True)


def fill(directory: Path) -> Path:
    """Write a file in ``directory`` until its file system is full (ENOSPC); delete it to free the space."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as f:
        for chunk in (4096, 64, 1):  # whole pages, then what is left of the last one
            while True:
                try:
                    f.write(b"\0" * chunk)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
                    break
    return filler
