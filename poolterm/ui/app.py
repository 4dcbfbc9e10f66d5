"""The incident console: verdict banner, host grid, command log, and the keys to drive them.

Flow: the source (live SSH probes, or a fixed diagnosis) publishes
observations; each batch becomes one :class:`Observed` message; the diagnosis
is recomputed at most :data:`RECOMPUTE_PERIOD` apart and pushed to the banner,
the grid and the host panels. Commands typed by the operator run as workers
on the same loop, stream into the log pane, and can be cancelled. Every
decision about what may run is taken in :meth:`PoolApp.check_action`.

Every command (a curated query, a line typed at the xe prompt, a playbook step)
goes through the runner's :class:`CommandGate`: the guards decide, a dialog asks
for confirmation or offers an override, and the journal records it all. A
playbook runs as a worker driving :class:`PlaybookRunner`, whose events fill the
playbook panel and the log.
"""

from __future__ import annotations

import asyncio
import gc
import os
import shlex
import signal
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Awaitable, Callable, Iterable

from textual import events, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.command import CommandPalette
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Footer, Input, Label, Static
from textual.worker import Worker, WorkerState

from poolterm.actions.commands import (
    COMMAND_TIMEOUT,
    DEADLINE_SLACK,
    PromptError,
    curated_queries,
    parse_prompt,
    read_only_refusal,
)
from poolterm.actions.journal import Journal, JournalError, ResumePoint, interrupted_run, new_path, read_journal
from poolterm.config.settings import Settings, default_save_dir, user_themes_dir
from poolterm.diagnosis import guards
from poolterm.diagnosis.drill import Drill
from poolterm.model import Diagnosis, Verdict
from poolterm.playbooks import PlaybookError, load_all, load_playbook
from poolterm.playbooks import runner as pb
from poolterm.playbooks.conditions import known_uuids
from poolterm.playbooks.engine import CommandResult, Finished, Timing, render, resume_at
from poolterm.probing.source import LiveSource, SourceWatch, StaticSource
from poolterm.ui.banner import Badges, VerdictBanner
from poolterm.ui.detail import HostDetailScreen, HostPanel
from poolterm.ui.dialogs import Choice, ChoiceMenu, Confirm, LinePrompt, ManualStep, OverrideDialog, PasswordPrompt
from poolterm.ui.drill_coach import DrillCoach
from poolterm.ui.drill_score import DrillScore
from poolterm.ui.faults import FAULTS, menu_order
from poolterm.ui.grid import HostGrid
from poolterm.ui.help import HelpScreen
from poolterm.ui.logpane import LogPane
from poolterm.ui.messages import (
    CommandFinished,
    CommandRefused,
    CommandStarted,
    DiagnosisUpdated,
    FaultInjected,
    Observed,
    PlaybookEnded,
    Saved,
    VerdictChanged,
)
from poolterm.ui.operator import ConsoleOperator
from poolterm.ui.palette import PoolCommands
from poolterm.ui.playbook_panel import ENGINE_STATUS, PlaybookPanel, PlaybookProgress, command_preview
from poolterm.ui.terminal_watch import TerminalWatch
from poolterm.ui.themes import DEFAULT_THEME, SHIPPED_DIR, load_themes, with_poolterm_defaults

#: Seconds between two diagnoses at most: fast enough to feel live, cheap at 1000 hosts.
RECOMPUTE_PERIOD = 0.2
#: Inventories bigger than this are probed from a process of their own (see source.py).
PROBE_PROCESS_ABOVE = 64
#: A diagnosis waits at least this many times the last one's duration after it.
COST_FACTOR = 4
#: Collector thresholds once the console runs (Python's defaults: 700, 10, 10): young
#: collections rarer, full ones (a walk of the whole heap) ten times rarer.
GC_THRESHOLDS = (10_000, 10, 100)
#: Seconds a thread may hold the GIL before it is asked to hand it over (default 0.005).
SWITCH_INTERVAL = 0.001
#: Seconds between log pane flushes: output looks live, and a flush (a repaint of the
#: pane, no layout pass) stays a small share of each second.
LOG_FLUSH = 0.1
#: Seconds the side panel waits after the cursor stops before it shows the new host.
PANEL_DELAY = 0.12
#: Seconds between checks that the terminal is still there (an SSH session can vanish).
TTY_POLL = 1.0
#: Exit status after the terminal went away (128 + SIGHUP, as a shell would report it).
HANGUP_STATUS = 128 + signal.SIGHUP
#: Seconds the end-of-playbook notice stays up (the panel keeps the whole story).
PLAYBOOK_TOAST = 5.0
#: Seconds the console has to release what it holds once its terminal is gone.
HANGUP_GRACE = 10.0
#: Seconds a playbook waits for the first complete probe round before it decides anyway.
OBSERVE_SLACK = 10.0
#: Actions on the main screen's grid and log: hidden while another screen is on top.
MAIN_SCREEN_ONLY = frozenset({"filter", "clear_filter", "detail", "log_only_host", "log_search"})
#: Why an action is greyed out; check_action decides, this explains.
UNAVAILABLE = {
    "inject_fault": "fault injection exists only in `poolterm demo`",
    "cancel_command": "no command or playbook is running",
    "clear_filter": "no filter is set",
    "refresh": "probing is paused (p) or this is a static view",
    "query_menu": "no host selected, or no connections in this view",
    "xe_prompt": "no host selected, or no connections in this view",
    "detail": "no host selected",
    "recommended": "no playbook is recommended for the current verdict, or one is running already",
    "start_playbook": "a playbook is running already, or this view cannot change the pool (static view, "
                      "--read-only, or no journal)",
    "pause": "a playbook is running: it needs fresh probes to verify its steps",
    "log_only_host": "no host selected",
}


class PoolApp(App[int]):
    """The poolterm console for the pools of one inventory."""

    CSS_PATH = "app.tcss"
    TITLE = "poolterm"
    COMMANDS = App.COMMANDS | {PoolCommands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide"), (150, "-very-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (40, "-tall")]
    BINDINGS = [
        Binding("ctrl+p", "command_palette", "Palette", id="palette", priority=True, show=False),
        Binding("colon", "command_palette", "Palette", id="palette-colon", show=False),
        Binding("question_mark,f1", "help", "Help", id="help"),
        Binding("q", "quit", "Quit", id="quit"),
        Binding("d", "detail", "Detail", id="detail", show=False,
                tooltip="everything about the selected host (also enter)"),
        Binding("c", "query_menu", "Query", id="query", tooltip="curated read-only queries on the selected host"),
        Binding("e", "xe_prompt", "xe", id="xe-prompt", tooltip="type an xe command for the selected host"),
        Binding("x", "cancel_command", "Cancel", id="cancel-command", tooltip="stop the running command"),
        Binding("p", "pause", "Pause", id="pause", tooltip="stop probing and freeze the display"),
        Binding("r", "refresh", "Probe", id="refresh", tooltip="probe every host now"),
        Binding("slash", "filter", "Filter", id="filter", tooltip="filter the grid: text, role:, state:, xapi:, pool:"),
        Binding("ctrl+u,escape", "clear_filter", "Clear filter", id="clear-filter"),
        Binding("s", "save", "Save", id="save", tooltip="save the log and an SVG screenshot"),
        Binding("R", "recommended", "Playbook", id="recommended", show=False,
                tooltip="start the playbook the verdict recommends"),
        Binding("t", "teach", "Teach", id="teach", show=False,
                tooltip="teaching mode: every step's why, the verdict's evidence, the next key"),
        Binding("o", "log_only_host", "Log: host", id="log-host", show=False,
                tooltip="show only the selected host's lines in the log (again: all hosts)"),
        Binding("ctrl+f", "log_search", "Search log", id="log-search", show=False),
        Binding("i", "inject_fault", "Inject", id="inject-fault", tooltip="simulator fault on the selected host"),
    ]

    # repaint=False: a reactive on the App repaints the whole screen by default, and
    # `selected` changes with every arrow key; the watchers update what depends on them.
    paused: reactive[bool] = reactive(False, init=False, repaint=False)
    selected: reactive[str | None] = reactive(None, init=False, repaint=False)
    filter_text: reactive[str] = reactive("", init=False, repaint=False)

    def __init__(
        self,
        inventory=None,
        *,
        source: LiveSource | StaticSource | None = None,
        settings: Settings | None = None,
        theme: str | None = None,
        read_only: bool = False,
        ascii_only: bool | None = None,
        demo=None,
        demo_dir: Path | None = None,
        save_dir: Path | None = None,
        clock: Callable[[], datetime] = datetime.now,
        interval: float | None = None,
        timeout: float | None = None,
        theme_dirs: Iterable[Path] | None = None,
        own_process: bool = False,
        journal: Journal | None = None,
        timing: Timing | None = None,
        teach: bool = False,
        resume: ResumePoint | None = None,
        drill: Drill | None = None,
        on_hangup: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__()
        if drill is not None and demo is None:
            raise ValueError("a drill needs the simulator (demo)")
        if source is None:
            if inventory is None:
                raise ValueError("PoolApp needs an inventory or a source")
            source = LiveSource(inventory, interval=interval, timeout=timeout,
                                probe_process=len(inventory.hosts()) > PROBE_PROCESS_ABOVE)
        self.source = source
        self.settings = settings or Settings()
        self.read_only = read_only
        self.ascii_only = self.settings.ascii if ascii_only is None else ascii_only
        self.demo = demo
        self.demo_dir = demo_dir
        self.save_dir = save_dir or self.settings.save_dir or default_save_dir()
        self.clock = clock
        self.own_process = own_process  # the console is the whole program: it may tune (and end) the process
        self.on_hangup = on_hangup  # what the program releases when its terminal vanishes (own_process)
        self._tty_watch: TerminalWatch | None = None
        self.journal = journal
        self._own_journal = False  # opened here (and so closed here), not handed in
        self.timing = timing
        self.teach = teach
        self.resume_point = resume  # offered once, at start-up
        self._resumable: ResumePoint | None = None  # a run of this session that stopped: R resumes it
        self.operator = ConsoleOperator(self, on_change=self._teaching_changed,
                                        simulate=self.simulator_menu if demo is not None else None)
        self.drill = DrillCoach(self, drill, demo) if drill is not None else None
        self._playbook: Worker | None = None
        self._runner: pb.PlaybookRunner | None = None
        self.diagnosis: Diagnosis | None = None
        self._announced: Verdict | None = None  # the last verdict written to the log
        self._pending: Observed | None = None
        self._heard: set[str] = set()
        self._waiting = source.live
        self._recompute_timer = None
        self._last_recompute = 0.0
        self._command: Worker | None = None
        self._command_label = ""
        self._terminal_gone = False
        self._filter_bar_open = False
        self._binding_state: tuple = ()
        self._closing = False
        self._panel_timer = None
        self._diagnosing = False
        self._again = False  # observations arrived while a diagnosis was running
        self._recompute_cost = 0.0
        self._theme_errors: list[str] = []
        self._register_themes(theme_dirs if theme_dirs is not None else (SHIPPED_DIR, user_themes_dir()))
        self._requested_theme = theme or self.settings.theme or DEFAULT_THEME
        self.theme = self._requested_theme if self._requested_theme in self.available_themes else DEFAULT_THEME

    # ---- layout ---------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        # Kept as attributes, not queried: probe results can still arrive while the
        # app shuts down and its DOM is already gone.
        self.banner = VerdictBanner(ascii_only=self.ascii_only, id="banner")
        self.grid = HostGrid(ascii_only=self.ascii_only, id="grid")
        self.log_pane = LogPane(ascii_only=self.ascii_only, id="log", flush_seconds=LOG_FLUSH)
        self.host_panel = HostPanel(id="side")
        self.playbook_panel = PlaybookPanel(ascii_only=self.ascii_only, id="playbook")
        yield self.banner
        with Horizontal(id="body"):
            with Vertical(id="main"):
                yield self.grid
                yield self.playbook_panel
                yield self.log_pane
            yield self.host_panel
        self.filter_bar = Horizontal(id="filter-bar")
        with self.filter_bar:
            yield Label("/ filter: ", id="filter-label")
            self.filter_input = Input(
                placeholder="text, role:master, state:down, xapi:hung, pool:NAME  (enter: keep, esc or ctrl+u: clear)",
                id="filter", compact=True)
            yield self.filter_input
        if self.demo is not None:
            self.demo_hint = Static(self._demo_hint(), id="demo-hint", classes="-drill" if self.drill else "",
                                    markup=False)
            yield self.demo_hint
        yield Footer(compact=True)

    def get_css_variables(self) -> dict[str, str]:
        return with_poolterm_defaults(super().get_css_variables())

    # ---- start and stop ---------------------------------------------------------------------
    def on_mount(self) -> None:
        for error in self._theme_errors:
            self.notify(error, title="theme not loaded", severity="error", timeout=10)
        if self.theme != self._requested_theme:
            self.notify(f"no theme named {self._requested_theme!r}; using {self.theme}",
                        title="theme", severity="error", timeout=10)
        self._apply_keymap()
        self._open_journal()
        self.grid.focus()
        self._badges()
        self.playbook_panel.teach = self.teach
        self.playbook_panel.redraw()
        self.source.start(self._publish, self._probing_failed)
        if self._waiting:
            self.banner.show_waiting(0, len(self.source.host_names))
            # A host that never answers must not keep the verdict away for ever.
            self.set_timer(self.source.timeout + DEADLINE_SLACK, self._end_waiting, name="first-verdict")
        else:
            self._show(self.source.diagnosis())
        if self.demo is not None:
            self.notify(f"simulator directory: {self.demo_dir}\n"
                        f"a trainer can run: poolterm sim ctl --dir {self.demo_dir} crash plot1",
                        title="demo", timeout=15)
        self._watch_terminal()

    def _probing_failed(self, reason: str) -> None:
        if self._ui_alive():
            self.log_pane.append(None, "stderr", reason, at=self.clock())
            self.notify(reason, title="probing stopped", severity="error", timeout=30)

    async def on_unmount(self) -> None:
        await self._release()

    async def _release(self) -> None:
        """Stop probing, score a drill still under way, close a journal opened here."""
        self._closing = True
        if self.drill is not None:
            self.drill.abandon()
        await self.source.close()
        if self._own_journal and self.journal is not None:
            self.journal.close()

    def _open_journal(self) -> None:
        """A live console journals everything; without a journal it runs no command at all."""
        if self.journal is not None or not self.source.live:
            return
        try:
            self.journal = Journal.open(new_path(), argv=sys.argv)
            self._own_journal = True
        except JournalError as exc:
            self.notify(f"{exc}; no command can run without a journal", title="journal", severity="error",
                        timeout=30)

    def _register_themes(self, directories: Iterable[Path]) -> None:
        loaded = load_themes(directories)
        for theme in loaded.themes.values():
            self.register_theme(theme)
        self._theme_errors = list(loaded.errors)

    def _apply_keymap(self) -> None:
        keymap = dict(self.settings.keymap)
        known = {b.id for b in self._all_bindings() if b.id}
        unknown = sorted(set(keymap) - known)
        if unknown:
            self.notify(f"unknown binding ids in the settings keymap: {', '.join(unknown)} "
                        "(the help screen lists the ids)", title="keymap", severity="warning", timeout=10)
        self.set_keymap({k: v for k, v in keymap.items() if k in known})

    def _all_bindings(self) -> list[Binding]:
        bindings = list(self.BINDINGS)
        for cls in (HostGrid, LogPane, HostDetailScreen, HelpScreen, LinePrompt, ChoiceMenu, Confirm, OverrideDialog,
                    ManualStep, DrillScore):
            bindings += cls.BINDINGS
        return [b for b in bindings if isinstance(b, Binding)]

    def on_resize(self, event: events.Resize) -> None:
        # The playbook panel fits its text to the room it has: measure after the new layout.
        self.call_after_refresh(self.playbook_panel.redraw)

    # ---- the terminal going away ----------------------------------------------------------
    def _watch_terminal(self) -> None:
        """Exit when the SSH session carrying the terminal drops, instead of spinning on a dead tty."""
        if self.is_headless or not sys.__stdin__ or not sys.__stdin__.isatty():
            return
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGHUP, self._terminal_lost)
        except (ValueError, RuntimeError):  # RuntimeError covers loops without signal support
            pass  # the watch thread still polls the tty
        self._tty_watch = TerminalWatch(sys.__stdin__.fileno(), poll=TTY_POLL,
                                        grace=HANGUP_GRACE if self.own_process else None,
                                        status=HANGUP_STATUS,
                                        on_lost=lambda: self._tell_lost(loop))
        self._tty_watch.start()

    def _tell_lost(self, loop: asyncio.AbstractEventLoop) -> None:
        """From the watch thread: hand the loss to the loop."""
        try:
            loop.call_soon_threadsafe(self._terminal_lost)
        except RuntimeError:
            pass  # the loop has already ended: there is nothing left to tell

    def _terminal_lost(self) -> None:
        if self._terminal_gone:
            return
        self._terminal_gone = True
        if self._tty_watch is not None:
            self._tty_watch.arm()
        if self.own_process:
            self.run_worker(self._hang_up(), group="hangup", exit_on_error=False, description="hang-up")
        else:
            self.exit(HANGUP_STATUS)

    async def _hang_up(self) -> None:
        """Release what poolterm holds and end the process, skipping Textual's teardown.

        There is no terminal left to restore, and that teardown can block for ever
        on the vanished tty (seen: the driver's close() stuck in its output thread).
        """
        try:
            async with asyncio.timeout(HANGUP_GRACE / 2):
                await self._release()
                if self.on_hangup is not None:
                    await self.on_hangup()
        finally:
            os._exit(HANGUP_STATUS)

    # ---- observations in, diagnosis out -------------------------------------------------------
    def _publish(self, observation) -> None:
        """Called by the probe loop for every observation; one message per batch, not per line."""
        if self._closing:
            return
        pending = self._pending
        if pending is None:
            pending = self._pending = Observed()
            self.post_message(pending)
        pending.hosts.append(observation.host)
        if self._runner is not None:
            self._runner.observed(observation)

    def on_observed(self, message: Observed) -> None:
        if self._pending is message:
            self._pending = None
        self._heard.update(message.hosts)
        if self._waiting and len(self._heard) >= len(self.source.host_names):
            self._waiting = False
        self._schedule_recompute()

    def _end_waiting(self) -> None:
        if self._waiting:
            self._waiting = False
            self._schedule_recompute()

    def _schedule_recompute(self) -> None:
        if self.paused or self._recompute_timer is not None:
            return
        if self._diagnosing:
            self._again = True
            return
        # Spaced by at least a few times its own cost, so diagnosing 1000 hosts never
        # takes more than a fraction of the loop. Never 0: Textual's Timer divides by it.
        period = max(RECOMPUTE_PERIOD, COST_FACTOR * self._recompute_cost)
        delay = max(0.01, self._last_recompute + period - time.monotonic())
        self._recompute_timer = self.set_timer(delay, self._recompute, name="recompute")

    async def _recompute(self) -> None:
        self._recompute_timer = None
        if self.paused or not self._ui_alive():
            return
        self._diagnosing = True
        started = time.monotonic()
        try:
            job = self.source.diagnosis_job()
            # In a thread: the loop keeps answering keys while a big pool is diagnosed.
            diagnosis = await asyncio.to_thread(job) if self.source.live else job()
        finally:
            self._diagnosing = False
        self._last_recompute = time.monotonic()
        self._recompute_cost = self._last_recompute - started
        if self.paused or not self._ui_alive():
            return
        self._show(diagnosis)
        if self._again:
            self._again = False
            self._schedule_recompute()

    def _show(self, diagnosis: Diagnosis) -> None:
        self.diagnosis = diagnosis
        now = self.source.now()
        with self.batch_update():
            self.grid.update(diagnosis, now)
            if self._waiting:
                self.banner.show_waiting(len(self._heard), len(self.source.host_names))
            else:
                self.banner.show(diagnosis)
            self._show_host_panels()
        self._refresh_bindings()
        if not self._waiting and diagnosis.verdict != self._announced:
            self._verdict_changed(diagnosis)
        self._teaching_changed()
        self.post_message(DiagnosisUpdated(diagnosis))

    def _verdict_changed(self, diagnosis: Diagnosis) -> None:
        old, self._announced = self._announced, diagnosis.verdict
        if old is None and self.own_process:
            settle_garbage_collector()
        pool = diagnosis.worst
        summary = pool.summary if pool else ""
        self.log_pane.append(None, "info", f"verdict {diagnosis.verdict.title}: {summary}", at=self.clock())
        # While a playbook runs, its runner journals the verdicts of its pool itself.
        if pool is not None and self.journal is not None and self._runner is None:
            self.journal.write("verdict", pool=pool.name, verdict=pool.verdict.value,
                               severity=pool.verdict.severity.value, master=pool.master, summary=pool.summary)
        self.post_message(VerdictChanged(old, diagnosis.verdict, summary))
        if self.drill is not None:
            self.drill.verdict(diagnosis.verdict)
        if old is None and self.resume_point is not None:
            self._offer_resume(self.resume_point)

    def _show_host_panels(self) -> None:
        now = self.source.now()
        self.host_panel.show(self.diagnosis, self.selected, now)
        if isinstance(self.screen, HostDetailScreen):
            name = self.screen.host_name
            self.screen.show(self.diagnosis, self.source.observation(name), now)

    # ---- selection ---------------------------------------------------------------------------
    def on_host_grid_selected(self, message: HostGrid.Selected) -> None:
        self.selected = message.name

    async def on_host_grid_opened(self, message: HostGrid.Opened) -> None:
        self.selected = message.name
        await self.action_detail()

    def watch_selected(self, name: str | None) -> None:
        if self.log_pane.host_filter is not None and name is not None:
            self.log_pane.set_host_filter(name)
        # The panel follows the cursor a moment later, in its own frame: re-laying it
        # out in the same frame as the cursor move would slow every arrow key.
        if self._panel_timer is not None:
            self._panel_timer.stop()
        self._panel_timer = self.set_timer(PANEL_DELAY, self._panel_caught_up, name="panel")
        self._refresh_bindings()

    def _panel_caught_up(self) -> None:
        self._panel_timer = None
        if self._ui_alive():
            self._show_host_panels()

    def _ui_alive(self) -> bool:
        """False once shutdown has begun: timers may still fire after the screens are gone."""
        return not self._closing and bool(self.screen_stack)

    # ---- the one place that decides what may run ----------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        live = self.source.live
        if action in MAIN_SCREEN_ONLY and not self._main_screen_in_front():
            return False
        if action == "inject_fault":
            return True if self.demo is not None else False
        if action == "cancel_command":
            return True if self._command is not None or self._playbook is not None else False
        if action == "pause":
            return False if self._playbook is not None else True
        if action == "clear_filter":
            return True if self.filter_text or self._filter_bar_open else False
        if action == "refresh":
            return True if live and not self.paused else None
        if action in ("query_menu", "xe_prompt"):
            return True if live and self.selected and self.journal is not None else None
        if action in ("detail", "log_only_host"):
            return True if self.selected else None
        if action in ("recommended", "start_playbook") and self.drill is not None and self.drill.injecting:
            return None
        if action == "recommended":
            return True if (self._recommended() or self._resumable) and self._playbook is None else None
        if action == "start_playbook":
            return True if live and self.journal is not None and not self.read_only and self._playbook is None \
                else None
        if action == "run_xe":
            return True if self._xe_refusal(str(parameters[0])) is None else None
        return True

    def _refresh_bindings(self) -> None:
        """Re-run check_action for the footer only when one of its inputs changed.

        The footer rebuilds itself on every refresh; doing that with each diagnosis
        (five times a second) would waste most of a frame.
        """
        state = (self.paused, self.selected is not None, self._command is not None,
                 bool(self.filter_text or self._filter_bar_open), self._recommended() is not None,
                 self._resumable is not None,
                 self._playbook is not None, self.journal is not None)
        if state != self._binding_state:
            self._binding_state = state
            self.refresh_bindings()

    def _main_screen_in_front(self) -> bool:
        """True unless a screen (detail, help, a dialog) hides the grid; the palette does not count."""
        return all(isinstance(screen, CommandPalette) for screen in self.screen_stack[1:])

    def unavailable_reason(self, action: str) -> str:
        if action in ("recommended", "start_playbook") and self.drill is not None and self.drill.injecting:
            return "the drill is still setting up its fault: wait for \"recover the pool\""
        return UNAVAILABLE.get(action, "not available here")

    def _xe_refusal(self, line: str) -> str | None:
        try:
            request = parse_prompt(line)
        except PromptError as exc:
            return str(exc)
        if self.read_only and not request.read_only:
            return read_only_refusal(request)
        return None

    def _allowed(self, action: str, *parameters: object) -> bool:
        if self.check_action(action, parameters) is True:
            return True
        self.notify(self.unavailable_reason(action), title="not available", severity="warning")
        return False

    # ---- operator actions ------------------------------------------------------------------------
    async def action_quit(self) -> None:
        running = self._running_label()
        if not running:
            self._leave()
            return

        def answer(quit_now: bool | None) -> None:
            if quit_now:
                self._leave()

        self.push_screen(Confirm(f"{running} is still running. Cancel it and quit?"), answer)

    def _leave(self) -> None:
        """Exit; a drill under way shows its score first, and exits when it is closed."""
        if self.drill is None or not self.drill.quit():
            self.exit(0)

    def busy(self) -> bool:
        """A playbook or a command is at work."""
        return self._playbook is not None or self._command is not None

    def _running_label(self) -> str:
        if self._playbook is not None and self.playbook_panel.progress is not None:
            return f"playbook {self.playbook_panel.progress.playbook.id}"
        return self._command_label if self._command is not None else ""

    def action_help(self) -> None:
        extra = self._demo_hint() if self.demo is not None else ""
        self.push_screen(HelpScreen(self.screen, self.unavailable_reason, extra=extra))

    async def action_detail(self) -> None:
        if not self._allowed("detail"):
            return
        screen = HostDetailScreen(self.selected)
        await self.push_screen(screen)
        screen.show(self.diagnosis, self.source.observation(self.selected), self.source.now())

    def watch_paused(self, paused: bool) -> None:
        self.source.paused = paused
        self._badges()
        self._refresh_bindings()
        if paused:
            self.notify("probing stopped, display frozen; p resumes", title="paused")
        else:
            self._schedule_recompute()

    def action_pause(self) -> None:
        if self._allowed("pause"):
            self.paused = not self.paused

    def action_refresh(self) -> None:
        if self._allowed("refresh"):
            self.source.wake()
            self.notify("probing every host now", title="refresh", timeout=2)

    # filter --------------------------------------------------------------------------------------
    def _open_filter_bar(self, open_: bool) -> None:
        self._filter_bar_open = open_
        self.filter_bar.set_class(open_, "-open")

    def action_filter(self) -> None:
        self._open_filter_bar(True)
        field = self.filter_input
        field.value = self.filter_text
        field.focus()
        self._refresh_bindings()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.filter_text = event.value.strip()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self._open_filter_bar(False)
            self.grid.focus()
            self._refresh_bindings()

    def watch_filter_text(self, text: str) -> None:
        self.grid.set_filter(text)
        self._badges()
        self._refresh_bindings()

    def action_clear_filter(self) -> None:
        self.filter_input.value = ""
        self.filter_text = ""
        self._open_filter_bar(False)
        self.grid.focus()
        self._refresh_bindings()

    # log -----------------------------------------------------------------------------------------
    def action_log_only_host(self) -> None:
        if not self._allowed("log_only_host"):
            return
        pane = self.log_pane
        pane.set_host_filter(None if pane.host_filter is not None else self.selected)

    def action_log_search(self) -> None:
        def search(text: str | None) -> None:
            if text and not self.log_pane.search(text):
                self.notify(f"no log line contains {text!r}", title="search", severity="warning")

        self.push_screen(LinePrompt("search the log (n / N: next / previous when the log has focus)",
                                    placeholder="text"), search)

    def action_save(self) -> None:
        directory = Path(self.save_dir)
        stamp = self.clock().strftime("%Y%m%d-%H%M%S")
        try:
            directory.mkdir(parents=True, exist_ok=True)
            log_path = directory / f"poolterm-{stamp}.log"
            count = self.log_pane.save(log_path)
            svg_path = self.save_screenshot(f"poolterm-{stamp}.svg", str(directory))
        except OSError as exc:
            self.notify(f"cannot save into {directory}: {exc.strerror or exc}", title="save", severity="error")
            return
        self.notify(f"{count} log lines and a screenshot saved in {directory}", title="saved", timeout=8)
        self.post_message(Saved(str(log_path), str(svg_path)))

    # playbooks ---------------------------------------------------------------------------------------
    def action_recommended(self) -> None:
        """R: resume the run that stopped in this session, else start the verdict's playbook."""
        if self.check_action("recommended", ()) is not True:
            self.notify(self.unavailable_reason("recommended"), title="playbook", severity="warning")
            return
        if self._resumable is not None:
            self._offer_resume(self._resumable)
            return
        pool = self._recommended()
        if pool is not None:
            self.start_playbook(pool.playbook, pool.name)

    def _recommended(self):
        if self.diagnosis is None:
            return None
        pool = self.diagnosis.worst
        return pool if pool is not None and pool.playbook else None

    def start_playbook(self, playbook_id: str, pool_name: str | None = None,
                       resume: ResumePoint | None = None, target: str | None = None) -> bool:
        """Run a playbook on a pool (the worst one by default) as a worker; False if it cannot start.

        ``target`` is the host the playbook acts on (the promotion candidate, the new
        master, ...); by default the engine takes the diagnosis' choice."""
        if self.check_action("start_playbook", ()) is not True:
            self.notify(self.unavailable_reason("start_playbook"), title="playbook", severity="warning")
            return False
        try:
            playbook = load_playbook(playbook_id)
        except PlaybookError as exc:
            self.notify(str(exc), title="playbook", severity="error")
            return False
        if target is not None and pool_name is None:
            pool_name = next((p.name for p in self.source.pools if target in {h.name for h in p.hosts}), None)
        pool = self._config_pool(pool_name)
        if pool is None:
            self.notify(f"no pool named {pool_name!r} in this inventory", title="playbook", severity="error")
            return False
        # The runner verifies every step on fresh probes: a paused watcher would starve it.
        self.paused = False
        if self._resumable is not None and resume is None:
            self._abandon(self._resumable, f"the operator started playbook {playbook.id} afresh")
        self._resumable = None
        self.playbook_panel.progress = PlaybookProgress(playbook, pool.name)
        self.playbook_panel.redraw()
        aimed = f" (target {target})" if target else ""
        self.log_pane.append(None, "info", f"playbook {playbook.id} on pool {pool.name}{aimed}: {playbook.title}",
                             at=self.clock())
        self._playbook = self._run_playbook(playbook, pool, resume, target)
        self._after_run_change()
        return True

    def _config_pool(self, name: str | None):
        if name is None:
            worst = self.diagnosis.worst if self.diagnosis else None
            name = worst.name if worst else None
        return next((p for p in self.source.pools if name is None or p.name == name), None)

    def _timing(self) -> Timing:
        if self.timing is not None:
            return self.timing
        connect = self.source.inventory.ssh.connect_timeout
        return Timing(probe=pb.WAIT_INTERVAL + self.source.timeout + DEADLINE_SLACK + connect)

    @work(group="playbook", exit_on_error=False, description="playbook")
    async def _run_playbook(self, playbook, pool, resume: ResumePoint | None, target: str | None) -> None:
        runner = pb.PlaybookRunner(pool=pool, connections=self.source, journal=self.journal, operator=self.operator,
                                   timing=self._timing(), read_only=self.read_only, on_event=self._playbook_event,
                                   secrets=self.operator)
        runner.attach(SourceWatch(self.source))
        self._runner = runner
        outcome = "cancelled"
        try:
            finished = await runner.run(playbook, target=target, resume=resume,
                                        observe_timeout=self.source.timeout + OBSERVE_SLACK)
            outcome = finished.outcome
        except asyncio.CancelledError:
            self._playbook_cancelled()
            raise
        finally:
            self._runner = None
            self._playbook = None
            await runner.close()
            if self._ui_alive():
                self._after_run_change()
                self.post_message(PlaybookEnded(playbook.id, outcome))

    def _playbook_cancelled(self) -> None:
        progress = self.playbook_panel.progress
        if progress is None or not progress.run or progress.finished is not None:
            return
        reason = "The operator cancelled the playbook in the console."
        self.journal.write("playbook-end", run=progress.run, outcome="stopped", reason=reason,
                           advice=f"Press R (or run `poolterm playbook run {progress.playbook.id}`) to resume.",
                           index=progress.current)
        if progress.current is not None:
            progress.statuses[progress.current] = "failed"
        progress.finished = Finished("stopped", reason, "", progress.current)
        self.log_pane.append(None, "info", f"playbook {progress.playbook.id}: cancelled", at=self.clock())
        if self._ui_alive():
            self.playbook_panel.redraw()

    def _after_run_change(self) -> None:
        self._badges()
        self._refresh_bindings()
        self._teaching_changed()

    def _playbook_event(self, event: object) -> None:
        """The runner's events: the panel shows the run, the log its commands and their output."""
        progress = self.playbook_panel.progress
        if progress is None or not self._ui_alive():
            return
        at = self.clock()
        log = self.log_pane.append
        if isinstance(event, pb.PlaybookStarted):
            progress.run = event.run
            if event.resumed_at is not None:
                progress.statuses[:event.resumed_at] = ["done"] * event.resumed_at
                progress.note(f"resumed at step {event.resumed_at + 1}")
        elif isinstance(event, pb.StepEvent):
            self._step_event(progress, event.notice, at)
        elif isinstance(event, pb.CommandStarted):
            progress.command, progress.command_state, progress.ended = event.command, "running", ""
            progress.host_of[event.id] = event.host
            log(event.host, "cmd", event.command, at=at)
        elif isinstance(event, pb.CommandOutput):
            # Output goes to the log only: the panel shows nothing of it, so no redraw per line.
            log(progress.host_of.get(event.id), event.stream, event.line)
            return
        elif isinstance(event, pb.CommandEnded):
            progress.command_state, progress.ended = "ended", _ended(event)
            log(progress.host_of.get(event.id), "info", f"[{progress.ended}] {progress.command}", at=at)
        elif isinstance(event, pb.GuardRefused):
            text = f"REFUSED {event.command} on {event.host}: {event.refusal.reason} Instead: {event.refusal.instead}"
            progress.note(text)
            log(event.host, "stderr", text, at=at)
        elif isinstance(event, pb.Overridden):
            progress.note(f"override for {event.host} {'accepted' if event.accepted else 'not accepted'}")
        elif isinstance(event, pb.Waiting):
            progress.waiting = f"up to {event.seconds_left:.0f} s for {event.expect} (now: {event.detail})"
        elif isinstance(event, pb.PlaybookFinished):
            self._playbook_finished(progress, event.finished, at)
        self.playbook_panel.redraw()

    def _step_event(self, progress: PlaybookProgress, notice, at) -> None:
        index = notice.index
        progress.titles[index] = notice.title
        head = f"step {index + 1}/{len(progress.playbook.steps)}: {notice.title}"
        if notice.kind in ("step-started", "step-resumed"):
            progress.statuses[index] = "running"
            progress.current, progress.waiting = index, ""
            step = progress.playbook.steps[index]
            engine = self._runner.engine if self._runner else None
            if notice.kind == "step-started":
                progress.why = notice.detail
                preview = command_preview(step, engine.render if engine else lambda text: text)
                progress.command, progress.command_state, progress.ended = preview, "next", ""
                if preview and notice.host:
                    progress.command = f"on {notice.host}: {preview}"
            self.log_pane.append(None, "info", head + (f" ({notice.detail})" if notice.kind == "step-resumed"
                                                       else ""), at=at)
        elif notice.kind == "step-done":
            progress.statuses[index] = "done"
            progress.waiting = ""
            self.log_pane.append(None, "info", f"{head}: ok: {notice.detail}", at=at)
        elif notice.kind == "step-skipped":
            progress.statuses[index] = "skipped"
            progress.note(f"step {index + 1} skipped: {notice.detail}")
            self.log_pane.append(None, "info", f"{head}: skipped ({notice.detail})", at=at)
        elif notice.kind == "fact":
            progress.note(f"learned: {notice.detail}")

    def _playbook_finished(self, progress: PlaybookProgress, finished, at) -> None:
        progress.finished = finished
        engine = self._runner.engine if self._runner else None
        if engine is not None:
            progress.statuses = [ENGINE_STATUS[status] for status in engine.statuses]
        text = f"playbook {progress.playbook.id}: {finished.outcome}: {finished.reason}"
        self.log_pane.append(None, "info", text, at=at)
        # Brief: the panel holds the reason and the advice, and on a small terminal a toast
        # would sit on top of them.
        where = f" at step {finished.index + 1}" if not finished.ok and finished.index is not None else ""
        self.notify(f"{finished.outcome}{where}: the playbook panel says why and what next",
                    title=f"playbook {progress.playbook.id}", severity="information" if finished.ok else "warning",
                    timeout=PLAYBOOK_TOAST)

    # resuming an interrupted run ---------------------------------------------------------------------
    def _offer_resume(self, point: ResumePoint) -> None:
        self.resume_point = self._resumable = None
        try:
            playbook = load_playbook(point.playbook)
        except PlaybookError as exc:
            self.notify(f"the journal's unfinished run cannot be resumed: {exc}", title="resume", severity="error")
            return
        last = point.last_completed
        done = f"step {last['index'] + 1} ({last['title']})" if last else "none"
        how = f"it stopped: {point.reason}" if point.state == "stopped" else "poolterm was interrupted"
        at = resume_at(playbook, list(point.completed), point.acted)
        if at.index < len(playbook.steps):
            bindings = {k: tuple(v) if isinstance(v, list) else v for k, v in point.bindings.items()}
            where = f"step {at.index + 1} of {len(playbook.steps)}: {render(playbook.steps[at.index].title, bindings)}"
        else:
            where = "the goal check (every step was completed)"
        body = (f"Playbook {point.playbook} on pool {point.pool}, started {point.started} by "
                f"{point.operator or 'unknown'} (journal {point.path}).\nLast completed step: {done}; {how}.\n"
                f"It resumes at {where}, after poolterm observes every host again.")
        self.notify(f"unfinished playbook {point.playbook} in the journal", title="resume", timeout=10)

        def answer(resume: bool | None) -> None:
            if resume:
                self.start_playbook(point.playbook, point.pool, resume=point)
            else:
                self._abandon(point, "the operator started afresh")

        self.push_screen(Confirm("Resume the unfinished playbook?", body=body, id="resume"), answer)

    # teaching ---------------------------------------------------------------------------------------
    def action_teach(self) -> None:
        self.teach = not self.teach
        self.playbook_panel.teach = self.teach
        self._teaching_changed()
        self.playbook_panel.redraw()
        self._badges()
        self.notify("teaching mode " + ("on: the panel explains" if self.teach else "off"), title="teach", timeout=3)

    def _teaching_changed(self) -> None:
        """Teaching mode follows the verdict, the run and the dialog in front."""
        if not self.teach or not self._ui_alive():
            return
        panel = self.playbook_panel
        panel.pool = self.diagnosis.worst if self.diagnosis else None
        panel.next_key = self._next_key()
        panel.redraw()

    def _next_key(self) -> str:
        screen = self.screen
        if isinstance(screen, Confirm):
            return "y runs exactly the command shown, on the host named; n declines and nothing is sent."
        if isinstance(screen, ManualStep):
            simulate = "; i does it in the simulator" if screen.simulate is not None else ""
            return f"do what the dialog says, then enter{simulate}; s stops the playbook here (it can be resumed)."
        if isinstance(screen, PasswordPrompt):
            return "type the password the dialog names, then enter; esc stops the playbook here (it can be resumed)."
        if isinstance(screen, OverrideDialog):
            return "esc keeps the refusal (almost always right); an override needs the host's name and a reason."
        if self._playbook is not None:
            return "none: poolterm runs the step or waits for its effect; x cancels the playbook."
        if self.drill is not None and self.drill.injecting:
            return "none yet: the drill is still setting up its fault; R works once it says “recover the pool”."
        if self._resumable is not None and self.check_action("recommended", ()) is True:
            return (f"R offers to resume playbook {self._resumable.playbook} where it stopped "
                    "(n then R starts afresh).")
        pool = self._recommended()
        if pool is not None and self.check_action("start_playbook", ()) is True:
            return f"R starts playbook {pool.playbook}, which guides the fix step by step."
        if pool is not None:
            return (f"none here: playbook {pool.playbook} fixes this, from a live console without --read-only "
                    f"(or `poolterm playbook run {pool.playbook}`).")
        if self.diagnosis is not None and self.diagnosis.verdict is Verdict.HEALTHY:
            return "none needed: the pool is healthy. c runs read-only queries on the selected host."
        return "d shows the selected host's evidence; c runs read-only queries on it."

    # commands on a host ----------------------------------------------------------------------------
    def action_query_menu(self) -> None:
        if not self._allowed("query_menu"):
            return
        host = self.selected
        queries = {q.key: q for q in curated_queries(self._uuid_of(host))}

        def chosen(key: str | None) -> None:
            if key:
                query = queries[key]
                self.start_command(host, query.command, query.remote())

        choices = [Choice(q.key, f"{q.title}:  {q.command}") for q in queries.values()]
        self.push_screen(ChoiceMenu(f"read-only query on {host}", choices), chosen)

    def _uuid_of(self, host: str) -> str | None:
        observation = self.source.observation(host)
        while observation is not None and observation.uuid is None:
            observation = observation.stale
        return observation.uuid if observation else None

    def action_xe_prompt(self) -> None:
        if not self._allowed("xe_prompt"):
            return
        host = self.selected
        hint = ("read-only console: queries only" if self.read_only
                else "queries run at once; a command that changes the pool meets the guards: confirm, or a "
                     "refusal with what to do instead")

        def submitted(line: str | None) -> None:
            if line:
                self.run_xe(host, line)

        self.push_screen(LinePrompt(f"xe on {host}", placeholder="xe host-list params=uuid,name-label,address",
                                    value="xe ", hint=hint), submitted)

    def run_xe(self, host: str, line: str) -> bool:
        """Run an operator's xe line on ``host`` through the guards; refuse it visibly if check_action does."""
        if self.check_action("run_xe", (line,)) is not True:
            self._refuse(host, line, self._xe_refusal(line) or "refused")
            return False
        request = parse_prompt(line)
        return self.start_command(host, request.text, request.remote(), argv=request.argv)

    def _refuse(self, host: str, command: str, reason: str) -> None:
        self.log_pane.append(host, "stderr", reason, at=self.clock())
        self.notify(reason, title="refused", severity="error", timeout=12)
        if self.journal is not None:
            self.journal.write("refused", host=host, command=command, rule="console", reason=reason,
                               operator=self.journal.operator, source="console")
        self.post_message(CommandRefused(command, reason))

    def start_command(self, host: str, shown: str, remote: str, *, argv: tuple[str, ...] | None = None) -> bool:
        """Send ``shown`` (as ``remote``) to ``host`` through the command gate, in a worker."""
        if self._command is not None:
            self.notify(f"{self._command_label} is still running; x cancels it", title="busy", severity="warning")
            return False
        if self.journal is None:
            self.notify(self.unavailable_reason("xe_prompt"), title="not available", severity="warning")
            return False
        self._command_label = f"{shown} on {host}"
        self._command = self._run_command(host, shown, remote, argv or tuple(shlex.split(shown)))
        self._badges()
        self._refresh_bindings()
        return True

    def _gate(self, emit: Callable[[object], None]) -> pb.CommandGate:
        addresses = {h.name: h.address for p in self.source.pools for h in p.hosts}
        return pb.CommandGate(self.source, self.journal, self.operator, read_only=self.read_only, assume_yes=False,
                              addresses=addresses, emit=emit)

    def _facts(self) -> guards.Facts:
        return guards.Facts(uuids=known_uuids(self.source.observations))

    @work(group="command", exit_on_error=False, description="operator command")
    async def _run_command(self, host: str, shown: str, remote: str, argv: tuple[str, ...]) -> None:
        sent: dict[str, str] = {}  # the journal's id of the command once it is sent

        def emit(event: object) -> None:
            if isinstance(event, pb.CommandStarted):
                sent["id"] = event.id
                self.log_pane.append(host, "cmd", shown, at=self.clock())
                self.post_message(CommandStarted(host, shown, remote))
            elif isinstance(event, pb.CommandOutput):
                self.log_pane.append(host, event.stream, event.line)
            elif isinstance(event, pb.GuardRefused):
                self.log_pane.append(host, "stderr", f"REFUSED {shown}: {event.refusal.text}", at=self.clock())
            elif isinstance(event, pb.Overridden):
                word = "accepted" if event.accepted else "not accepted (it needs the exact host name and a reason)"
                self.log_pane.append(host, "info", f"override {word}", at=self.clock())

        outcome, status = "", None
        try:
            gated = await self._gate(emit).run(host, shown, remote, argv=argv, timeout=COMMAND_TIMEOUT,
                                               diagnosis=self.source.diagnosis, facts=self._facts,
                                               context={"source": "console"})
            if gated.refusal is not None:
                outcome = f"refused: {gated.refusal.reason} Instead: {gated.refusal.instead}"
                self.notify(outcome, title="refused", severity="error", timeout=15)
                self.post_message(CommandRefused(shown, outcome))
            elif gated.declined:
                outcome = "not run: declined by the operator"
            else:
                outcome, status = describe(gated.result), gated.result.exit_status
        except asyncio.CancelledError:
            outcome = "cancelled by the operator"
            if "id" in sent:
                self.journal.write("command-end", id=sent["id"], host=host, exit_status=None, deadline_hit=False,
                                   error=outcome, seconds=None, source="console")
            raise
        finally:
            self._command = None
            if self._ui_alive():
                self.log_pane.append(host, "info", f"[{outcome}] {shown}", at=self.clock())
                if not outcome.startswith("refused"):
                    self.post_message(CommandFinished(host, shown, outcome, status))
                self._badges()
                self._refresh_bindings()

    def action_cancel_command(self) -> None:
        if self._command is not None:
            self._command.cancel()
        elif self._playbook is not None:
            self._playbook.cancel()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            self.notify(f"{event.worker.description}: {type(error).__name__}: {error}",
                        title="error", severity="error", timeout=15)

    # demo: simulator faults ------------------------------------------------------------------------
    def action_inject_fault(self) -> None:
        if not self._allowed("inject_fault"):
            return
        host = self.selected
        if host is None:
            self.notify("select a host first", title="inject", severity="warning")
            return
        self.simulator_menu([host])

    def simulator_menu(self, hosts: list[str]) -> None:
        """The simulator's actions on ``hosts``, as a menu over whatever is in front."""
        def chosen(key: str | None) -> None:
            if key:
                action, host = key.split(" ", 1)
                self.inject_fault(action, host)

        # What undoes each host's fault comes first, so enter is the right answer at a manual step.
        truth = {h["name"]: h for h in self.demo.status()["hosts"]}
        choices = [Choice(f"{action} {host}", (title if len(hosts) == 1 else f"{host}: {title}")
                          + ("  (undoes its fault)" if repair else ""))
                   for action, host, title, repair in menu_order(hosts, truth)]
        self.push_screen(ChoiceMenu(f"simulator action on {', '.join(hosts)} (not a pool change)", choices), chosen)

    def inject_fault(self, action: str, host: str) -> None:
        if self.check_action("inject_fault", ()) is True:
            self._inject(action, host)

    @work(group="fault", exit_on_error=False, description="simulator fault")
    async def _inject(self, action: str, host: str) -> None:
        error = ""
        try:
            await self.demo.ctl(action, host)
        except Exception as exc:  # the simulator's errors are one-line, operator-facing
            error = str(exc) or type(exc).__name__
        if error:
            self.notify(f"{action} {host}: {error}", title="simulator", severity="error")
        else:
            self.log_pane.append(host, "info", f"simulator: {action} {host}", at=self.clock())
            self.notify(f"{action} {host}", title="simulator", timeout=4)
            self.source.wake()
        self.post_message(FaultInjected(action, host, error))

    def _demo_hint(self) -> str:
        demo = (f"DEMO | simulator in {self.demo_dir} | trainer: poolterm sim ctl --dir {self.demo_dir} "
                "crash plot1 | i: inject a fault")
        return demo if self.drill is None else f"{self.drill.hint()} | {demo}"

    def drill_changed(self) -> None:
        """The drill moved on: its hint line, and the keys it holds back while its fault is set up."""
        if self.demo is not None and self._ui_alive():
            self.demo_hint.update(self._demo_hint())
            self.refresh_bindings()
            self._badges()

    # A drill ends once nothing is at work: these are the moments something stops.
    def on_playbook_ended(self, message: PlaybookEnded) -> None:
        self._resumable = self._stopped_run()
        progress = self.playbook_panel.progress
        if self._resumable is not None and progress is not None and self._ui_alive():
            progress.then = "In this console: R offers to resume it where it stopped."
            self.playbook_panel.redraw()
        self._after_run_change()
        if self.drill is not None:
            self.drill.check()

    def _stopped_run(self) -> ResumePoint | None:
        """The run that just ended, if the journal says it can be resumed."""
        progress = self.playbook_panel.progress
        if self.journal is None or progress is None or not progress.run or not self._ui_alive():
            return None
        try:
            point = interrupted_run(read_journal(self.journal.path).records, self.journal.path)
        except JournalError as exc:
            self.notify(f"the stopped playbook cannot be resumed from here: {exc}", title="resume",
                        severity="error")
            return None
        return point if point is not None and point.run == progress.run else None

    def _abandon(self, point: ResumePoint, reason: str) -> None:
        if self.journal is not None:
            self.journal.write("playbook-end", run=point.run, outcome="abandoned", reason=reason, advice="",
                               index=None)

    def on_command_finished(self, message: CommandFinished) -> None:
        if self.drill is not None:
            self.drill.check()

    def on_command_refused(self, message: CommandRefused) -> None:
        if self.drill is not None:
            self.drill.check()

    # ---- badges and the palette ---------------------------------------------------------------------
    def _badges(self) -> None:
        if not self.is_mounted:
            return
        progress = self.playbook_panel.progress
        running = progress is not None and self._playbook is not None
        playbook, pool = (progress.playbook.id, progress.pool) if running else ("", "")
        self.banner.set_badges(Badges(paused=self.paused, filter_text=self.filter_text, read_only=self.read_only,
                                      demo=self.demo is not None, command=self._command_label if self._command else "",
                                      playbook=playbook, playbook_pool=pool, teach=self.teach,
                                      drill_setup=self.drill is not None and self.drill.injecting))

    def palette_commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        """(title, help, callback) for everything the palette offers now, filtered by check_action."""
        commands = []
        for binding in self.BINDINGS:
            if binding.action == "command_palette" or self.check_action(binding.action, ()) is not True:
                continue
            title = binding.description
            commands.append((title, binding.tooltip or title, _runner(self, binding.action)))
        host = self.selected
        if host and self.check_action("query_menu", ()) is True:
            for query in curated_queries(self._uuid_of(host)):
                commands.append((f"Query {host}: {query.title}", query.command,
                                 _starter(self, host, query.command, query.remote())))
        if self.check_action("start_playbook", ()) is True:
            for playbook in load_all():
                verdicts = ", ".join(v.title for v in playbook.for_verdicts)
                commands.append((f"Playbook {playbook.id}: {playbook.title}", f"for {verdicts}",
                                 _playbook_starter(self, playbook.id)))
                if host and playbook.target:
                    commands.append((f"Playbook {playbook.id} with {playbook.target} {host}: {playbook.title}",
                                     f"for {verdicts}; {host} (the selected host) as the {playbook.target}",
                                     _playbook_starter(self, playbook.id, host)))
        if host and self.demo is not None:
            for action, title in FAULTS:
                commands.append((f"Simulator: {action} {host}", title, _injector(self, action, host)))
        for name in self.source.host_names:
            commands.append((f"Select host {name}", f"move the grid cursor to {name}", _selector(self, name)))
        for name in sorted(self.available_themes):
            if name.startswith("poolterm-"):
                commands.append((f"Theme {name}", "switch the colour theme", _theme_setter(self, name)))
        return commands

    def select_host(self, name: str) -> None:
        if self.filter_text:
            self.action_clear_filter()
        self.grid.cursor = name


def settle_garbage_collector() -> None:
    """Keep the collector from stalling the screen once the connections are up.

    With 1000 SSH connections the heap holds millions of long-lived objects, and
    each full collection walks them all: a quarter-second freeze, dozens of times
    a minute. Freezing what exists after start-up takes it out of those walks, and
    a higher first threshold makes the young collections rarer.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    # The diagnosis thread is CPU-bound; a shorter switch interval hands
    # the GIL back to the screen's thread sooner when a key arrives.
    sys.setswitchinterval(SWITCH_INTERVAL)


def describe(result: CommandResult) -> str:
    if result.error:
        return f"not run: {result.error}"
    if result.deadline_hit:
        return f"no answer within {COMMAND_TIMEOUT + DEADLINE_SLACK:g} s; the channel was closed"
    if result.exit_status in (124, 137):
        return (f"timed out after {COMMAND_TIMEOUT:g} s (a forwarded xe waits for a master that does not answer, "
                "or xapi is hung)")
    if result.exit_status is None:
        return "ended without an exit status (killed by a signal)"
    return f"exit {result.exit_status}"


def _ended(event: pb.CommandEnded) -> str:
    if event.error:
        return f"failed: {event.error}"
    if event.deadline_hit:
        return f"timed out after {event.seconds:g} s"
    return f"exit {event.exit_status}, {event.seconds:g} s"


def _runner(app: PoolApp, action: str) -> Callable[[], object]:
    return lambda: app.run_action(action)


def _starter(app: PoolApp, host: str, shown: str, remote: str) -> Callable[[], object]:
    return lambda: app.start_command(host, shown, remote)


def _playbook_starter(app: PoolApp, playbook_id: str, target: str | None = None) -> Callable[[], object]:
    return lambda: app.start_playbook(playbook_id, target=target)


def _injector(app: PoolApp, action: str, host: str) -> Callable[[], object]:
    return lambda: app.inject_fault(action, host)


def _selector(app: PoolApp, name: str) -> Callable[[], object]:
    return lambda: app.select_host(name)


def _theme_setter(app: PoolApp, name: str) -> Callable[[], object]:
    def apply() -> None:
        app.theme = name

    return apply
