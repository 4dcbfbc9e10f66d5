"""Following a journal another process writes: its records as they are appended (issue #15).

A follower reads; it never writes here. Only complete lines are records: the bytes after the
last newline are a record still being written, kept until its newline arrives (one
``os.write`` per record makes that rare, but a reader can land between two). A line that never
became JSON (the driver was killed mid-write and the next writer ended the line) is counted and
skipped. The file being replaced (rotated), truncated or deleted under the follower is reported
once as an event, never raised: the follower keeps what it showed and says what happened.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from poolterm.actions.journal import parse_line

#: Bytes read per poll at most: a follower that fell behind catches up over several polls, each
#: a bounded piece of work for its event loop.
READ_CHUNK = 1 << 20


@dataclass
class TailBatch:
    records: list[dict] = field(default_factory=list)
    events: list[str] = field(default_factory=list)  # "deleted", "rotated", "truncated", "back"
    bad_lines: int = 0


class JournalTail:
    """Reads the records appended to ``path`` since the last :meth:`poll`."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._fd: int | None = None
        self._identity: tuple[int, int] | None = None
        self._offset = 0
        self._partial = b""
        self._missing = False

    def poll(self) -> TailBatch:
        batch = TailBatch()
        self._check_file(batch)
        if self._fd is None:
            return batch
        data = os.pread(self._fd, READ_CHUNK, self._offset)
        if not data:
            return batch
        self._offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for raw in lines:
            record = parse_line(raw)
            if record is not None:
                batch.records.append(record)
            elif raw.strip():
                batch.bad_lines += 1
        return batch

    @property
    def waiting(self) -> bool:
        """Bytes of a record not complete yet (still being written, or torn by a crash)."""
        return bool(self._partial.strip())

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _check_file(self, batch: TailBatch) -> None:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            if not self._missing and self._fd is not None:
                batch.events.append("deleted")
            self._missing = True
            return
        identity = (stat.st_dev, stat.st_ino)
        if self._fd is None or identity != self._identity:
            if self._missing:
                batch.events.append("back")
            elif self._fd is not None:
                batch.events.append("rotated")
            self._open(identity)
        elif stat.st_size < self._offset:
            batch.events.append("truncated")
            self._offset, self._partial = 0, b""
        self._missing = False

    def _open(self, identity: tuple[int, int]) -> None:
        self.close()
        self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        self._identity = identity
        self._offset, self._partial = 0, b""
