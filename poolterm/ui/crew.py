"""Two operators on one incident (issue #15): who drives, what the others see, notes between them.

Every console on an incident's journal runs one :class:`Crew`. The driver holds the lock beside
the journal (:mod:`poolterm.actions.driver_lock`) and is the only one that sends commands; a
follower tails the journal and replays what the driver's console did (its commands and their
output in the log, its playbook in the same panel, with the same marks), and probes the pool
itself, read-only, so its grid stays live if the driver's console dies. Both read the notes the
other writes (``n``). The wheel changes hands only visibly: the driver passes it (``W``), or a
follower takes it (``T``) after typing the driver's user name and a reason: at once when the
driver is gone (its lock is free: the kernel dropped it with the process), else by asking the
driver's console, which stops what it runs (a playbook stays resumable) and lets go.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from poolterm.actions import records as rec
from poolterm.actions.driver_lock import DriverLock, Holder, current_holder, last_holder
from poolterm.actions.journal import Journal, JournalError, interrupted_run, operator_name, read_journal
from poolterm.actions.journal_tail import JournalTail
from poolterm.actions.report import describe
from poolterm.playbooks.narrate import narrate
from poolterm.playbooks.replay import Replay
from poolterm.playbooks.runner import PlaybookStarted
from poolterm.ui.dialogs import LinePrompt, TakeWheelDialog
from poolterm.ui.playbook_progress import PlaybookProgress

if TYPE_CHECKING:
    from poolterm.ui.app import PoolApp

#: Seconds between two reads of the journal: a record reaches a follower's screen within this
#: plus one frame.
TAIL_INTERVAL = 0.1
#: Seconds between two looks at the lock: a driver that died is noticed within this.
LOCK_INTERVAL = 1.0
#: What the log says when the journal changes under a follower.
FILE_EVENTS = {
    "deleted": "the journal file was deleted: what is on screen stays; a new file of that name will be followed",
    "rotated": "the journal file was replaced (rotated): following the new one from its start",
    "truncated": "the journal file was truncated: following it from its start",
    "back": "a journal file of that name is back: following it",
}
#: Records whose narration comes from the replayed runner events, not from their own line.
REPLAYED = (rec.PlaybookStart, rec.PlaybookResume, rec.StepStatus, rec.CommandStart, rec.OutputLine,
            rec.CommandEnd, rec.Refusal, rec.Override, rec.PlaybookEnd)


class Crew:
    """This console's seat on the incident: driving (``lock``) or following (``driver``)."""

    def __init__(self, app: PoolApp, path: Path, *, lock: DriverLock | None = None, driver: Holder | None = None,
                 inventory: Path | None = None, group: str | None = None):
        self.app = app
        self.path = path
        self.lock = lock
        self.driver = driver if lock is None else None
        self.inventory = inventory
        self.group = group
        self.tail = JournalTail(path)
        self.replay = Replay()
        self.own_sessions: set[str] = set()
        self.notes: Journal | None = None  # a follower's: written to only for notes
        self.since = time.time()  # takeover requests older than this seat are history, not requests
        self.asked: str | None = None  # this follower asked the driver to let go, for this reason
        self.free = False  # following, and the lock is free: the driver is gone or passed the wheel

    # ---- state --------------------------------------------------------------------------------
    @property
    def following(self) -> bool:
        return self.lock is None

    def driver_text(self) -> str:
        """Who drives, for a refusal: '' while this console drives."""
        if not self.following:
            return ""
        if self.free:
            return f"no one drives ({self._last_driver()} is gone): T takes the wheel"
        who = self.driver.describe() if self.driver else "another console"
        return f"{who} drives this incident: a follower watches (n writes a note, T takes the wheel)"

    def start(self) -> None:
        app = self.app
        if app.journal is not None:
            self.own_sessions.add(app.journal.session)
        app.set_interval(TAIL_INTERVAL, self.read, name="crew-tail")
        app.set_interval(LOCK_INTERVAL, self.look_at_wheel, name="crew-lock")
        if self.following:
            self._say("info", f"following {self.path}: {self.driver_text()}")

    def close(self) -> None:
        self.tail.close()
        if self.notes is not None:
            self.notes.close()
        if self.lock is not None:
            self.lock.release()

    # ---- reading what the others wrote --------------------------------------------------------
    def read(self) -> None:
        batch = self.tail.poll()
        for event in batch.events:
            self._say("stderr", FILE_EVENTS.get(event, event))
        for fields in batch.records:  # at most a megabyte's worth: a long journal is caught up over ticks
            entry = rec.entry(fields)
            if entry.session not in self.own_sessions:
                self._show(entry)

    def _show(self, entry: rec.Entry) -> None:
        record = entry.record
        if isinstance(record, rec.Note):
            self._note(record, entry.t or 0.0)
        elif isinstance(record, rec.Wheel):
            self._say("info", describe(record) or "")
        elif isinstance(record, rec.Session):
            if record.role == "driver" and self.following:
                self.driver = Holder(record.operator, record.jump_host, record.pid, entry.t or 0.0)
        elif self.following and isinstance(record, REPLAYED):
            for event in self.replay.events(record):
                self._replayed(event)
        elif self.following:
            text = describe(record)
            if text:
                self._say("info", text)

    def _replayed(self, event: object) -> None:
        """One of the driver's runner events, shown as the driver's console showed it."""
        app = self.app
        if isinstance(event, PlaybookStarted):
            app.playbook_panel.progress = PlaybookProgress(event.playbook, event.pool)
        progress = app.playbook_panel.progress
        in_run = progress is not None and bool(progress.run) and progress.finished is None
        if in_run or isinstance(event, PlaybookStarted):
            applied = progress.apply(event, None)
            for line in applied.lines:
                app.log_pane.append(line.host, line.stream, line.text, at=app.clock() if line.stamped else None)
            if applied.redraw:
                app.playbook_panel.redraw()
            return
        told = narrate(event)
        if told is not None and told.line is not None:
            app.log_pane.append(told.host, told.stream, told.line, at=app.clock())

    def _note(self, note: rec.Note, at: float) -> None:
        app = self.app
        if note.takeover:
            self._say("note", f"{note.operator} TAKES THE WHEEL from {note.takeover}: {note.text}")
            if not self.following and at >= self.since and note.takeover == self.lock.holder.user:
                self._let_go(note)
            return
        self._say("note", f"{note.operator}: {note.text}")
        if not self.following and app.teach:
            app.playbook_panel.notes.append(f"{note.operator}: {note.text}")
            app.playbook_panel.redraw()

    # ---- notes --------------------------------------------------------------------------------
    async def write_note(self) -> None:
        text = await self.app.push_screen_wait(LinePrompt(
            "Note for everyone on this incident", placeholder="one line: what you see, what to check",
            hint="shown in every console's log, kept in the journal and the report"))
        if text:
            self._write(rec.Note(operator=self._operator(), role="follower" if self.following else "driver",
                                 text=text))
            self._say("note", f"{self._operator()} (you): {text}")

    def _write(self, record: rec.Record) -> None:
        journal = self.app.journal if not self.following else self._notes_journal()
        if journal is not None:
            journal.write(record)

    def _notes_journal(self) -> Journal | None:
        """A follower's own handle on the journal, for notes only: no session record."""
        if self.notes is None:
            try:
                self.notes = Journal.open(self.path, announce=False)
            except JournalError as exc:
                self.app.notify(f"the note was not written: {exc}", title="note", severity="error", markup=False)
                return None
            self.own_sessions.add(self.notes.session)
        return self.notes

    def _operator(self) -> str:
        return self.app.journal.operator if self.app.journal is not None else operator_name()

    # ---- the wheel ----------------------------------------------------------------------------
    def look_at_wheel(self) -> None:
        if not self.following:
            return
        holder = current_holder(self.path)
        if holder is not None:
            changed = holder != self.driver or self.free
            self.driver, self.free = holder, False
            if changed:  # the banner and the refusals name the new driver
                self.app.refresh_state()
            return
        if self.asked is not None:
            self._take(self.asked)
            return
        if not self.free:
            self.free = True
            self._say("stderr", f"{self._last_driver()}'s console let go of the wheel or is gone: no one drives. "
                                "T takes the wheel (the playbook it ran can then be resumed).")
            self.app.notify("no one drives this incident now: T takes the wheel", title="wheel", timeout=15,
                            markup=False)
            self.app.refresh_state()

    async def ask_for_wheel(self) -> None:
        """T: type the driver's user name and a reason, then take the wheel (or ask the driver for it)."""
        driver = self._last_driver()
        answer = await self.app.push_screen_wait(TakeWheelDialog(driver, alive=not self.free))
        if answer is None:
            return
        typed, reason = answer
        if typed != driver:
            self._say("stderr", f"not taken: {typed!r} is not the driver's user name ({driver})")
            return
        if self.free:
            self._take(reason)
            return
        self.asked = reason
        self._write(rec.Note(operator=self._operator(), role="follower", text=reason, takeover=driver))
        self._say("info", f"asked {driver}'s console to let go of the wheel; it stops what it runs first")

    def _take(self, reason: str) -> None:
        app = self.app
        previous = self._last_driver()
        taken = DriverLock.try_take(self.path, self._operator(), group=self.group)
        if not isinstance(taken, DriverLock):
            self.driver = taken
            return
        try:
            journal = Journal.open(self.path, operator=self._operator(), inventory=self.inventory, role="driver",
                                   group=self.group)
        except JournalError as exc:
            taken.release()
            app.notify(str(exc), title="wheel", severity="error", markup=False)
            return
        self.lock, self.driver, self.free, self.asked = taken, None, False, None
        self.since = time.time()
        self.own_sessions.add(journal.session)
        app.take_journal(journal)
        journal.write(rec.Wheel(event="took", operator=journal.operator, jump_host=taken.holder.host,
                                pid=taken.holder.pid, reason=reason, previous=previous))
        self._say("info", f"you drive this incident now (took the wheel from {previous})")
        point = interrupted_run(read_journal(self.path).records, self.path)
        if point is not None:
            app.playbooks.offer_resume(point)
        app.refresh_state()

    async def pass_wheel(self) -> None:
        """W: stop what runs, let go; anyone may take the wheel."""
        await self._leave("passed", "the driver passed the wheel")

    def _let_go(self, note: rec.Note) -> None:
        self.app.notify(f"{note.operator} takes the wheel: {note.text}", title="wheel", severity="warning",
                        timeout=20, markup=False)
        self.app.run_worker(self._leave("released", f"{note.operator} takes over: {note.text}"), group="wheel",
                            exclusive=True, exit_on_error=False)

    async def _leave(self, event: str, reason: str) -> None:
        """Stop the command or playbook this console runs (its end journaled: a playbook stays
        resumable), say who let go and why, then let go."""
        if self.lock is None:
            return
        app = self.app
        await app.stop_runs()
        journal = app.journal
        holder = self.lock.holder
        if journal is not None:
            journal.write(rec.Wheel(event=event, operator=journal.operator, jump_host=holder.host, pid=holder.pid,
                                    reason=reason, previous=None))
        app.give_up_journal()
        self.lock.release()
        self.lock, self.driver, self.free = None, last_holder(self.path), False
        self._say("info", f"you follow this incident now: {reason}")
        app.refresh_state()

    def _last_driver(self) -> str:
        holder = self.driver or last_holder(self.path)
        return holder.user if holder is not None else "the last driver"

    def _say(self, stream: str, text: str) -> None:
        self.app.log_pane.append(None, stream, text, at=self.app.clock())
