"""The incident console: verdict banner, host grid, command log, and the keys to drive them.

The app is the shell that wires the console's parts; each part lives in its own module:

- the source (:mod:`poolterm.probing.source`) publishes observations; each batch becomes
  one :class:`Observed` message and asks :class:`RecomputeLoop` for a diagnosis, which
  is shown in the banner, the grid and the host panels;
- which action may run, and why not, is one table (:mod:`poolterm.ui.availability`);
- operator commands run through :class:`CommandRuns`, playbooks through
  :class:`PlaybookRuns`, both on :class:`poolterm.actions.gate.CommandGate`;
- the palette's list (:mod:`poolterm.ui.palette`), teaching mode's next key
  (:mod:`poolterm.ui.teaching`), the demo's simulator actions (:mod:`poolterm.ui.faults`)
  and the terminal going away (:mod:`poolterm.ui.hangup`) each have their module.

Why one module of this size: Textual drives one App object: its bindings, reactives,
action_* methods and message handlers must live on it. Everything else is delegated to
the modules above; what stays here is wiring, each method a few lines.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Awaitable, Callable, Iterable

from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.command import CommandPalette
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Footer, Input, Label, Static
from textual.worker import Worker, WorkerCancelled, WorkerFailed, WorkerState

from poolterm.actions.commands import PromptError, curated_queries, parse_prompt, read_only_refusal
from poolterm.actions.driver_lock import Seat
from poolterm.actions.journal import RETRY_INTERVAL, Journal, JournalError, ResumePoint, new_path
from poolterm.actions.records import Note, PoolVerdict
from poolterm.config.settings import Settings, default_save_dir, user_themes_dir
from poolterm.diagnosis.drill import Drill
from poolterm.model import Diagnosis, Verdict
from poolterm.playbooks.engine import Timing
from poolterm.probing.shards import workers_for
from poolterm.probing.source import LiveSource, StaticSource
from poolterm.probing.watch import DEADLINE_SLACK
from poolterm.ui.availability import ConsoleState, available, why_not
from poolterm.ui.banner import Badges, VerdictBanner
from poolterm.ui.command_runs import CommandRuns
from poolterm.ui.crew import Crew
from poolterm.ui.detail import HostDetailScreen, HostPanel
from poolterm.ui.dialogs import Choice, ChoiceMenu, Confirm, LinePrompt, ManualStep, OverrideDialog
from poolterm.ui.drill_coach import DrillCoach
from poolterm.ui.drill_score import DrillScore
from poolterm.ui.faults import SimulatorActions
from poolterm.ui.fleet import FleetTable
from poolterm.ui.grid import HostGrid
from poolterm.ui.hangup import HangUp
from poolterm.ui.help import HelpScreen
from poolterm.ui.key_trust import KEY_PROBLEMS, KeyTrust
from poolterm.ui.logpane import LogPane
from poolterm.ui.messages import (
    CommandFinished,
    CommandRefused,
    DiagnosisUpdated,
    Observed,
    PlaybookEnded,
    Saved,
    VerdictChanged,
)
from poolterm.ui.operator import ConsoleOperator
from poolterm.ui.palette import PoolCommands, palette_commands
from poolterm.ui.playbook_panel import PlaybookPanel
from poolterm.ui.playbook_runs import PlaybookRuns
from poolterm.ui.process import settle_garbage_collector
from poolterm.ui.recompute import RecomputeLoop
from poolterm.ui.teaching import next_key
from poolterm.ui.themes import DEFAULT_THEME, SHIPPED_DIR, load_themes, with_poolterm_defaults

#: Seconds between log pane flushes: output looks live, and a flush (a repaint of the
#: pane, no layout pass) stays a small share of each second.
LOG_FLUSH = 0.1
#: Seconds the side panel waits after the cursor stops before it shows the new host.
PANEL_DELAY = 0.12


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
        Binding("escape,b", "fleet", "Fleet", id="fleet", tooltip="back to every pool's row, worst first"),
        Binding("s", "save", "Save", id="save", tooltip="save the log and an SVG screenshot"),
        Binding("R", "recommended", "Playbook", id="recommended", show=False,
                tooltip="start the playbook the verdict recommends"),
        Binding("t", "teach", "Teach", id="teach", show=False,
                tooltip="teaching mode: every step's why, the verdict's evidence, the next key"),
        Binding("o", "log_only_host", "Log: host", id="log-host", show=False,
                tooltip="show only the selected host's lines in the log (again: all hosts)"),
        Binding("ctrl+f", "log_search", "Search log", id="log-search", show=False),
        Binding("i", "inject_fault", "Inject", id="inject-fault", tooltip="simulator fault on the selected host"),
        Binding("n", "note", "Note", id="note", tooltip="a one-line note for everyone on this incident (journaled)"),
        Binding("T", "take_wheel", "Take the wheel", id="take-wheel",
                tooltip="drive this incident: type the driver's user name and a reason (journaled)"),
        Binding("W", "pass_wheel", "Pass the wheel", id="pass-wheel", show=False,
                tooltip="stop driving: what runs stops, and a follower may take the wheel"),
        Binding("K", "trust_key", "Trust key", id="trust-key",
                tooltip="compare the SSH host key the selected host offers with known_hosts, and trust it"),
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
        seat: Seat | None = None,
        journal_group: str | None = None,
        probe_workers: int | None = None,
    ) -> None:
        super().__init__()
        if drill is not None and demo is None:
            raise ValueError("a drill needs the simulator (demo)")
        if source is None:
            if inventory is None:
                raise ValueError("PoolApp needs an inventory or a source")
            source = LiveSource(inventory, interval=interval, timeout=timeout,
                                probe_workers=workers_for(len(inventory.hosts()), probe_workers))
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
        self.journal = journal
        self._own_journal = False  # opened here (and so closed here), not handed in
        self._journal_retry = None  # the timer that retries a journal that cannot be written
        self.teach = teach
        self.operator = ConsoleOperator(self, on_change=self._teaching_changed,
                                        simulate=self.simulator_menu if demo is not None else None)
        self.drill = DrillCoach(self, drill, demo) if drill is not None else None
        self.simulator = SimulatorActions(self) if demo is not None else None
        self.commands = CommandRuns(self)
        self.key_trust = KeyTrust(self)
        self.crew: Crew | None = None
        if seat is not None:  # driver or follower of the journal: the wheel, the notes, the replay
            self.journal = seat.journal
            self.crew = Crew(self, seat.path, lock=seat.lock, driver=seat.driver, group=journal_group,
                             inventory=getattr(getattr(source, "inventory", None), "path", None))
        self.playbooks = PlaybookRuns(self, timing=timing, resume=resume)
        self.recompute = RecomputeLoop(job=source.diagnosis_job, threaded=source.live,
                                       show=lambda diagnosis: self._show(diagnosis),
                                       set_timer=lambda delay, run: self.set_timer(delay, run, name="recompute"),
                                       active=lambda: not self.paused and self.ui_alive())
        self.hangup = HangUp(self)
        self.diagnosis: Diagnosis | None = None
        self._announced: Verdict | None = None  # the last verdict written to the log
        self._pending: Observed | None = None
        self._heard: set[str] = set()
        self._waiting = source.live
        self._filter_bar_open = False
        self.zoomed: str | None = None  # the pool whose grid is shown, out of several (None: the fleet's rows)
        self._binding_state: ConsoleState | None = None
        self._closing = False
        self._panel_timer = None
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
        self.fleet = FleetTable(ascii_only=self.ascii_only, id="fleet")
        self.log_pane = LogPane(ascii_only=self.ascii_only, id="log", flush_seconds=LOG_FLUSH)
        self.host_panel = HostPanel(id="side")
        self.playbook_panel = PlaybookPanel(ascii_only=self.ascii_only, id="playbook")
        yield self.banner
        with Horizontal(id="body"):
            with Vertical(id="main"):
                yield self.fleet
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
            self.notify(error, title="theme not loaded", severity="error", timeout=10, markup=False)
        if self.theme != self._requested_theme:
            self.notify(f"no theme named {self._requested_theme!r}; using {self.theme}",
                        title="theme", severity="error", timeout=10, markup=False)
        self._apply_keymap()
        self._open_journal()
        self._watch_journal()
        if self.crew is not None:
            self.crew.start()
        self._zoom(None)
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
                        title="demo", timeout=15, markup=False)
        self.hangup.watch()

    def _probing_failed(self, reason: str) -> None:
        if self.ui_alive():
            self.log_pane.append(None, "stderr", reason, at=self.clock())
            self.notify(reason, title="probing stopped", severity="error", timeout=30, markup=False)

    async def on_unmount(self) -> None:
        await self.release()

    async def release(self) -> None:
        """Stop probing, score a drill still under way, close a journal opened here."""
        self._closing = True
        if self.drill is not None:
            self.drill.abandon()
        await self.source.close()
        if self._own_journal and self.journal is not None:
            self.journal.close()
        if self.crew is not None:
            self.crew.close()

    def _open_journal(self) -> None:
        """A live console journals everything; without a journal it runs no command at all."""
        if self.journal is not None or not self.source.live or self.crew is not None:
            return
        try:
            self.journal = Journal.open(new_path(), argv=sys.argv)
            self._own_journal = True
        except JournalError as exc:
            self.notify(f"{exc}; no command can run without a journal", title="journal", severity="error",
                        timeout=30, markup=False)

    def _watch_journal(self) -> None:
        """A journal that cannot be written keeps its records in memory: say so, and retry on a timer."""
        if self.journal is None:
            return
        self.journal.on_change = self._journal_changed
        if self.journal.failing is not None:
            self._journal_changed(self.journal)

    def _journal_changed(self, journal: Journal) -> None:
        if not self.ui_alive():
            return
        if journal.failing is not None:
            text = (f"{journal.failing}. Every record is kept in memory and written as soon as it can be "
                    f"(retried every {RETRY_INTERVAL:g} s): free space on its disk.")
            if self._journal_retry is None:
                self._journal_retry = self.set_interval(RETRY_INTERVAL, self._retry_journal, name="journal-retry")
            self.notify(text, title="JOURNAL FAILING", severity="error", timeout=30, markup=False)
        else:
            if self._journal_retry is not None:
                self._journal_retry.stop()
                self._journal_retry = None
            text = f"journal written again: every record held in memory is now in {journal.path}"
            self.notify(text, title="journal", timeout=10, markup=False)
        self.log_pane.append(None, "stderr" if journal.failing else "info", text, at=self.clock())
        self._badges()

    def take_journal(self, journal: Journal) -> None:
        """This console drives now (it took the wheel): it writes ``journal``."""
        self.journal, self._own_journal = journal, True
        self._watch_journal()
        self._badges()

    def give_up_journal(self) -> None:
        """This console follows now (it let go of the wheel): it writes nothing but notes."""
        if self.journal is not None:
            self.journal.close()
        self.journal, self._own_journal = None, False
        self._badges()

    async def stop_runs(self) -> None:
        """Cancel the command and the playbook this console runs, and wait until their ends are journaled."""
        workers = [w for w in (self.commands.worker, self.playbooks.worker) if w is not None]
        for worker in workers:
            worker.cancel()
        for worker in workers:
            try:
                await worker.wait()
            except (WorkerCancelled, WorkerFailed):
                pass  # what it ended with is journaled by the run itself

    def _retry_journal(self) -> None:
        if self.journal is not None:
            self.journal.retry()

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
                        "(the help screen lists the ids)", title="keymap", severity="warning", timeout=10, markup=False)
        self.set_keymap({k: v for k, v in keymap.items() if k in known})

    def _all_bindings(self) -> list[Binding]:
        bindings = list(self.BINDINGS)
        for cls in (HostGrid, FleetTable, LogPane, HostDetailScreen, HelpScreen, LinePrompt, ChoiceMenu, Confirm, OverrideDialog,
                    ManualStep, DrillScore):
            bindings += cls.BINDINGS
        return [b for b in bindings if isinstance(b, Binding)]

    def on_resize(self, event: events.Resize) -> None:
        # The playbook panel fits its text to the room it has: measure after the new layout.
        self.call_after_refresh(self.playbook_panel.redraw)

    def ui_alive(self) -> bool:
        """False once shutdown has begun: timers may still fire after the screens are gone."""
        return not self._closing and bool(self.screen_stack)

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
        runner = self.playbooks.runner
        if runner is not None:
            runner.observed(observation)

    def on_observed(self, message: Observed) -> None:
        if self._pending is message:
            self._pending = None
        self._heard.update(message.hosts)
        if self._waiting and len(self._heard) >= len(self.source.host_names):
            self._waiting = False
        self.recompute.request()

    def _end_waiting(self) -> None:
        if self._waiting:
            self._waiting = False
            self.recompute.request()

    def _show(self, diagnosis: Diagnosis) -> None:
        self.diagnosis = diagnosis
        now = self.source.now()
        with self.batch_update():
            self._show_pools(diagnosis, now)
            if self._waiting:
                self.banner.show_waiting(len(self._heard), len(self.source.host_names))
            else:
                self.banner.show(diagnosis, self.source.pacing())
            self._show_host_panels()
        self._refresh_bindings()
        if not self._waiting and diagnosis.verdict != self._announced:
            self._verdict_changed(diagnosis)
        self._teaching_changed()
        self.post_message(DiagnosisUpdated(diagnosis))

    def _show_pools(self, diagnosis: Diagnosis, now: float) -> None:
        """The fleet's rows, or the zoomed pool's grid (the grid of every pool with just one)."""
        if not self.many_pools:
            self.grid.update(diagnosis, now)
        elif self.zoomed is None:
            self.fleet.update(diagnosis)
        else:
            self.grid.update(Diagnosis(tuple(p for p in diagnosis.pools if p.name == self.zoomed)), now)

    def _verdict_changed(self, diagnosis: Diagnosis) -> None:
        old, self._announced = self._announced, diagnosis.verdict
        if old is None and self.own_process:
            settle_garbage_collector()
        pool = diagnosis.worst
        summary = pool.summary if pool else ""
        self.log_pane.append(None, "info", f"verdict {diagnosis.verdict.title}: {summary}", at=self.clock())
        # While a playbook runs, its runner journals the verdicts of its pool itself.
        if pool is not None and self.journal is not None and self.playbooks.runner is None:
            self.journal.write(PoolVerdict(pool=pool.name, verdict=pool.verdict.value,
                                           severity=pool.verdict.severity.value, master=pool.master,
                                           summary=pool.summary))
        self.post_message(VerdictChanged(old, diagnosis.verdict, summary))
        if self.drill is not None:
            self.drill.verdict(diagnosis.verdict)
        if old is None and self.playbooks.offered is not None:
            self.playbooks.offer_resume(self.playbooks.offered)

    def _show_host_panels(self) -> None:
        now = self.source.now()
        self.host_panel.show(self.diagnosis, self.selected, now)
        if isinstance(self.screen, HostDetailScreen):
            name = self.screen.host_name
            self.screen.show(self.diagnosis, self.source.observation(name), now)

    # ---- the fleet and its pools ---------------------------------------------------------------
    @property
    def many_pools(self) -> bool:
        """More than one pool: the console opens on the fleet's rows, enter zooms into one."""
        return len(self.source.pools) > 1

    def _zoom(self, pool: str | None) -> None:
        """Show ``pool``'s grid, or (None) the fleet's rows; a single pool is always shown as its grid."""
        self.zoomed = pool if self.many_pools else None
        fleet = self.many_pools and self.zoomed is None
        self.fleet.display, self.grid.display = fleet, not fleet
        if self.diagnosis is not None:
            self._show_pools(self.diagnosis, self.source.now())
        (self.fleet if fleet else self.grid).focus()
        self._badges()
        self._refresh_bindings()

    def on_fleet_table_highlighted(self, message: FleetTable.Highlighted) -> None:
        # The side panel shows the pool's master (or first host): where a look at the pool starts.
        pool = next((p for p in self.diagnosis.pools if p.name == message.pool), None) if self.diagnosis else None
        if pool is not None and pool.hosts:
            self.selected = pool.master if pool.master in {h.name for h in pool.hosts} else pool.hosts[0].name

    def on_fleet_table_opened(self, message: FleetTable.Opened) -> None:
        self._zoom(message.pool)

    def action_fleet(self) -> None:
        self._zoom(None)

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
        if self.ui_alive():
            self._show_host_panels()

    def select_host(self, name: str) -> None:
        if self.filter_text:
            self.action_clear_filter()
        pool = next((p.name for p in self.source.pools if any(h.name == name for h in p.hosts)), None)
        if self.many_pools and pool is not None and pool != self.zoomed:
            self._zoom(pool)
        self.grid.cursor = name

    # ---- what may run (poolterm/ui/availability.py holds the rules) -----------------------------
    def console_state(self) -> ConsoleState:
        return ConsoleState(
            live=self.source.live, main_in_front=self._main_screen_in_front(), demo=self.demo is not None,
            command_running=self.commands.running, playbook_running=self.playbooks.running, paused=self.paused,
            filter_set=bool(self.filter_text or self._filter_bar_open), has_selection=bool(self.selected),
            journal=self.journal is not None, read_only=self.read_only,
            drill_injecting=self.drill is not None and self.drill.injecting,
            recommended=self.recommended_pool() is not None, resumable=self.playbooks.resumable is not None,
            key_problem=self._key_problem(self.selected),
            crew=self.crew is not None, following=self.crew.driver_text() if self.crew is not None else "",
            zoomed=self.zoomed is not None)

    def _key_problem(self, name: str | None) -> bool:
        observation = self.source.observation(name) if name else None
        return observation is not None and observation.reach in KEY_PROBLEMS

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "run_xe":
            return True if self.xe_refusal(str(parameters[0])) is None else None
        return available(action, self.console_state())

    def unavailable_reason(self, action: str) -> str:
        return why_not(action, self.console_state())

    def _refresh_bindings(self) -> None:
        """Re-run check_action for the footer only when what it reads changed.

        The footer rebuilds itself on every refresh; doing that with each diagnosis
        (five times a second) would waste most of a frame.
        """
        state = self.console_state()
        if state != self._binding_state:
            self._binding_state = state
            self.refresh_bindings()

    def _main_screen_in_front(self) -> bool:
        """True unless a screen (detail, help, a dialog) hides the grid; the palette does not count."""
        return all(isinstance(screen, CommandPalette) for screen in self.screen_stack[1:])

    def xe_refusal(self, line: str) -> str | None:
        if self.crew is not None and self.crew.following:
            return self.crew.driver_text()
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
        self.notify(self.unavailable_reason(action), title="not available", severity="warning", markup=False)
        return False

    def refresh_state(self) -> None:
        """Badges and key availability after something started or stopped."""
        self._badges()
        self._refresh_bindings()

    def after_run_change(self) -> None:
        self.refresh_state()
        self._teaching_changed()

    # ---- operator actions ------------------------------------------------------------------------
    async def action_quit(self) -> None:
        running = self._running_label()
        held = self._journal_held()
        if not running and not held:
            self._leave()
            return

        def answer(quit_now: bool | None) -> None:
            if quit_now:
                self._leave()

        question = f"{running} is still running. Cancel it and quit?" if running else "Quit anyway?"
        self.push_screen(Confirm(question, body=held), answer)

    def _journal_held(self) -> str:
        """What quitting now would lose of the journal (records it cannot write yet), or ""."""
        journal = self.journal
        if journal is None or journal.retry() or not journal.pending:
            return ""
        return (f"{journal.failing}: quitting loses the {journal.pending} journal records held in memory. "
                "Free space on its disk first, and they are written.")

    def _leave(self) -> None:
        """Exit; a drill under way shows its score first, and exits when it is closed."""
        if self.drill is None or not self.drill.quit():
            self.exit(0)

    def busy(self) -> bool:
        """A playbook or a command is at work."""
        return self.playbooks.running or self.commands.running

    def _running_label(self) -> str:
        if self.playbooks.running and self.playbook_panel.progress is not None:
            return f"playbook {self.playbook_panel.progress.playbook.id}"
        return self.commands.label if self.commands.running else ""

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
        self.refresh_state()
        if paused:
            self.notify("probing stopped, display frozen; p resumes", title="paused", markup=False)
        else:
            self.recompute.request()

    def action_note(self) -> None:
        if self._allowed("note"):
            self.run_worker(self._note(), group="note", exclusive=True, exit_on_error=False)

    async def _note(self) -> None:
        if self.crew is not None:
            await self.crew.write_note()
            return
        text = await self.push_screen_wait(LinePrompt("Note for the journal", placeholder="one line"))
        if text and self.journal is not None:
            self.journal.write(Note(operator=self.journal.operator, role="driver", text=text))
            self.log_pane.append(None, "note", f"{self.journal.operator} (you): {text}", at=self.clock())

    def action_take_wheel(self) -> None:
        if self._allowed("take_wheel"):
            self.run_worker(self.crew.ask_for_wheel(), group="wheel", exclusive=True, exit_on_error=False)

    def action_pass_wheel(self) -> None:
        if self._allowed("pass_wheel"):
            self.run_worker(self.crew.pass_wheel(), group="wheel", exclusive=True, exit_on_error=False)

    def action_trust_key(self) -> None:
        if self._allowed("trust_key"):
            self.run_worker(self.key_trust.check(self.selected), group="trust-key", exclusive=True,
                            exit_on_error=False)

    def action_pause(self) -> None:
        if self._allowed("pause"):
            self.paused = not self.paused

    def action_refresh(self) -> None:
        if self._allowed("refresh"):
            self.source.wake()
            self.notify("probing every host now", title="refresh", timeout=2, markup=False)

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
            self._focus_main()
            self._refresh_bindings()

    def watch_filter_text(self, text: str) -> None:
        self.grid.set_filter(text)
        self.fleet.set_filter(text)
        self.refresh_state()

    def action_clear_filter(self) -> None:
        self.filter_input.value = ""
        self.filter_text = ""
        self._open_filter_bar(False)
        self._focus_main()
        self._refresh_bindings()

    def _focus_main(self) -> None:
        (self.fleet if self.fleet.display else self.grid).focus()

    # log -----------------------------------------------------------------------------------------
    def action_log_only_host(self) -> None:
        if not self._allowed("log_only_host"):
            return
        pane = self.log_pane
        pane.set_host_filter(None if pane.host_filter is not None else self.selected)

    def action_log_search(self) -> None:
        def search(text: str | None) -> None:
            if text and not self.log_pane.search(text):
                self.notify(f"no log line contains {text!r}", title="search", severity="warning", markup=False)

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
            self.notify(f"cannot save into {directory}: {exc.strerror or exc}", title="save", severity="error", markup=False)
            return
        self.notify(f"{count} log lines and a screenshot saved in {directory}", title="saved", timeout=8, markup=False)
        self.post_message(Saved(str(log_path), str(svg_path)))

    # playbooks (poolterm/ui/playbook_runs.py runs them) ----------------------------------------------
    def action_recommended(self) -> None:
        """R: resume the run that stopped in this session, else start the verdict's playbook."""
        if self.check_action("recommended", ()) is not True:
            self.notify(self.unavailable_reason("recommended"), title="playbook", severity="warning", markup=False)
            return
        if self.playbooks.resumable is not None:
            self.playbooks.offer_resume(self.playbooks.resumable)
            return
        pool = self.recommended_pool()
        if pool is not None:
            self.start_playbook(pool.playbook, pool.name)

    def recommended_pool(self):
        """The worst pool, if its verdict recommends a playbook."""
        if self.diagnosis is None:
            return None
        pool = self.diagnosis.worst
        return pool if pool is not None and pool.playbook else None

    def start_playbook(self, playbook_id: str, pool_name: str | None = None,
                       resume: ResumePoint | None = None, target: str | None = None) -> bool:
        return self.playbooks.start(playbook_id, pool_name, resume=resume, target=target)

    # A drill ends once nothing is at work: these are the moments something stops.
    def on_playbook_ended(self, message: PlaybookEnded) -> None:
        self.playbooks.ended()
        self.after_run_change()
        if self.drill is not None:
            self.drill.check()

    def on_command_finished(self, message: CommandFinished) -> None:
        if self.drill is not None:
            self.drill.check()

    def on_command_refused(self, message: CommandRefused) -> None:
        if self.drill is not None:
            self.drill.check()

    # teaching ---------------------------------------------------------------------------------------
    def action_teach(self) -> None:
        self.teach = not self.teach
        self.playbook_panel.teach = self.teach
        self._teaching_changed()
        self.playbook_panel.redraw()
        self._badges()
        self.notify("teaching mode " + ("on: the panel explains" if self.teach else "off"), title="teach", timeout=3, markup=False)

    def _teaching_changed(self) -> None:
        """Teaching mode follows the verdict, the run and the dialog in front."""
        if not self.teach or not self.ui_alive():
            return
        panel = self.playbook_panel
        panel.pool = self.diagnosis.worst if self.diagnosis else None
        panel.next_key = next_key(self)
        panel.redraw()

    # commands on a host (poolterm/ui/command_runs.py runs them) --------------------------------------
    def action_query_menu(self) -> None:
        if not self._allowed("query_menu"):
            return
        host = self.selected
        queries = {q.key: q for q in curated_queries(self.uuid_of(host))}

        def chosen(key: str | None) -> None:
            if key:
                query = queries[key]
                self.start_command(host, query.command, query.remote())

        choices = [Choice(q.key, f"{q.title}:  {q.command}") for q in queries.values()]
        self.push_screen(ChoiceMenu(f"read-only query on {host}", choices), chosen)

    def uuid_of(self, host: str) -> str | None:
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
        return self.commands.run_xe(host, line)

    def start_command(self, host: str, shown: str, remote: str, *, argv: tuple[str, ...] | None = None) -> bool:
        """Send ``shown`` (as ``remote``) to ``host`` through the command gate, in a worker."""
        return self.commands.start(host, shown, remote, argv=argv)

    def action_cancel_command(self) -> None:
        if not self.commands.cancel():
            self.playbooks.cancel()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            self.notify(f"{event.worker.description}: {type(error).__name__}: {error}",
                        title="error", severity="error", timeout=15, markup=False)

    # demo: simulator faults (poolterm/ui/faults.py) ----------------------------------------------------
    def action_inject_fault(self) -> None:
        if not self._allowed("inject_fault"):
            return
        host = self.selected
        if host is None:
            self.notify("select a host first", title="inject", severity="warning", markup=False)
            return
        self.simulator_menu([host])

    def simulator_menu(self, hosts: list[str]) -> None:
        """The simulator's actions on ``hosts``, as a menu over whatever is in front."""
        self.simulator.menu(hosts)

    def inject_fault(self, action: str, host: str) -> None:
        if self.simulator is not None:
            self.simulator.inject(action, host)

    def _demo_hint(self) -> str:
        demo = (f"DEMO | simulator in {self.demo_dir} | trainer: poolterm sim ctl --dir {self.demo_dir} "
                "crash plot1 | i: inject a fault")
        return demo if self.drill is None else f"{self.drill.hint()} | {demo}"

    def drill_changed(self) -> None:
        """The drill moved on: its hint line, and the keys it holds back while its fault is set up."""
        if self.demo is not None and self.ui_alive():
            self.demo_hint.update(self._demo_hint())
            self.refresh_bindings()
            self._badges()

    # ---- badges and the palette ---------------------------------------------------------------------
    def _badges(self) -> None:
        if not self.is_mounted:
            return
        progress = self.playbook_panel.progress
        running = progress is not None and self.playbooks.running
        playbook, pool = (progress.playbook.id, progress.pool) if running else ("", "")
        self.banner.set_badges(Badges(paused=self.paused, filter_text=self.filter_text, read_only=self.read_only,
                                      demo=self.demo is not None,
                                      command=self.commands.label if self.commands.running else "",
                                      playbook=playbook, playbook_pool=pool, teach=self.teach,
                                      drill_setup=self.drill is not None and self.drill.injecting,
                                      journal_failing=self.journal is not None and self.journal.failing is not None,
                                      following=self._following_badge()))

    def _following_badge(self) -> str:
        crew = self.crew
        if crew is None or not crew.following:
            return ""
        return "no driver" if crew.free else (crew.driver.user if crew.driver else "another console")

    def palette_commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        """(title, help, callback) for everything the palette offers now, filtered by check_action."""
        return palette_commands(self)
