"""The console driven like an operator drives it: keys in, messages and widget state out.

Live tests run the app against the in-process simulator over real SSH on
loopback; static tests use a fixed diagnosis (no SSH) where the point is the
console itself (settings, themes, keymap, colour).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from poolterm.actions.commands import PromptError, parse_prompt, read_only_refusal
from poolterm.actions.journal import Journal, read_journal
from poolterm.config.settings import SettingsError, load_settings
from poolterm.diagnosis.explain import explain, first_sentence
from poolterm.model import Verdict
from poolterm.sim.world import SimParams
from poolterm.ui.app import PoolApp
from poolterm.ui.detail import HostDetailScreen
from poolterm.ui.dialogs import ChoiceMenu, Confirm, LinePrompt, OverrideDialog
from poolterm.ui.help import HelpScreen
from poolterm.ui.messages import (
    CommandFinished,
    CommandRefused,
    CommandStarted,
    DiagnosisUpdated,
    FaultInjected,
    Saved,
    VerdictChanged,
)
from poolterm.ui.themes import SHIPPED_DIR, ThemeError, load_theme_file, load_themes
from tests.helpers.pilot import log_text, of, palette_run, plain, type_line, wait_for
from tests.helpers.static_console import make_static_app

# The `sim` fixture's pool (tests/conftest.py): eight hosts, a one-second fuse and boot.
pytestmark = pytest.mark.sim(params=SimParams(fuse=1.0, boot=1.0))

SIZE = (100, 30)
INTERVAL = 0.5  # probe rounds in these tests: quick, so conditions are met quickly
TIMEOUT = 2.0


# ---- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def inventory(sim):
    from poolterm.config.inventory import load_inventory

    return load_inventory(sim.hosts_yaml)


def live_app(inventory, **kwargs) -> PoolApp:
    return PoolApp(inventory, interval=INTERVAL, timeout=TIMEOUT, **kwargs)


async def healthy(pilot, app):
    await wait_for(pilot, lambda: app.banner.headline == "HEALTHY" and app.selected,
                   what="the HEALTHY verdict and the grid's cursor")


async def select(pilot, app, name: str):
    await pilot.press("home")
    while app.selected != name:
        await pilot.press("right")
    assert app.grid.cursor == name


# ---- live: the simulator over SSH -------------------------------------------------------------------


async def test_starts_probing_and_shows_healthy(inventory):
    messages = []
    app = live_app(inventory)
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        assert app.banner.headline == "PROBING"
        await healthy(pilot, app)
        assert app.banner.has_class("-ok")
        assert "All 8 hosts answer" in app.banner.text
        changes = of(messages, VerdictChanged)
        assert [c.new for c in changes] == [Verdict.HEALTHY]
        assert app.grid.total == 8


async def test_master_crash_shows_master_lost_naming_the_candidate(sim, inventory):
    messages = []
    app = live_app(inventory)
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await healthy(pilot, app)
        await sim.ctl("crash", "plot1")
        await wait_for(pilot, lambda: app.banner.headline == "MASTER LOST", what="MASTER LOST")
        pool = app.diagnosis.worst
        best = next(f for f in pool.findings if f.candidates).candidates[0].name
        assert best == "plot2"  # every slave equal: the first in inventory order
        assert "Master plot1 is lost" in app.banner.text
        assert f"Promote {best}" in app.banner.text
        assert app.banner.has_class("-critical")
        assert [c.new for c in of(messages, VerdictChanged)][-1] is Verdict.MASTER_LOST


async def test_select_host_and_open_its_detail(inventory):
    messages = []
    app = live_app(inventory)
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await healthy(pilot, app)
        await pilot.press("right")
        assert app.selected == "plot2"
        assert of(messages, type(app.grid).Selected)[-1].name == "plot2"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, HostDetailScreen))
        body = plain(app.screen.query_one("#detail-body"))
        assert "believes master" in body and "plot1" in body
        assert "evidence" in body
        assert "raw output of the last probe" in body
        assert "@@conf" in body  # the probe's own output, as it came back
        await pilot.press("q")
        assert not isinstance(app.screen, HostDetailScreen)


async def test_curated_query_output_reaches_the_log(sim, inventory):
    messages = []
    app = live_app(inventory)
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await healthy(pilot, app)
        await select(pilot, app, "plot3")
        await pilot.press("c")
        assert isinstance(app.screen, ChoiceMenu)
        await pilot.press("enter")  # the first query: pool.conf
        await wait_for(pilot, lambda: of(messages, CommandFinished), what="the command to finish")
        [started] = of(messages, CommandStarted)
        assert started.host == "plot3" and started.command == "cat /etc/xensource/pool.conf"
        assert started.remote.startswith("timeout -k ")
        [finished] = of(messages, CommandFinished)
        assert finished.exit_status == 0
        assert f"slave:{sim.address_of('plot1')}" in log_text(app)


async def test_free_form_xe_runs_and_streams(inventory):
    messages = []
    app = live_app(inventory)
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await healthy(pilot, app)
        await pilot.press("e")
        assert isinstance(app.screen, LinePrompt)
        await type_line(pilot, "host-list params=name-label --minimal")
        await pilot.press("enter")
        await wait_for(pilot, lambda: of(messages, CommandFinished), what="xe host-list to finish")
        assert of(messages, CommandStarted)[0].command == "xe host-list params=name-label --minimal"
        assert of(messages, CommandFinished)[0].exit_status == 0
        text = log_text(app)
        assert all(f"plot{i}" in text for i in range(1, 9))


def journal_records(path, kind: str) -> list[dict]:
    return [r for r in read_journal(path).records if r["kind"] == kind]


async def test_refused_command_is_never_sent_and_the_refusal_is_journaled(sim, inventory, tmp_path):
    messages = []
    path = tmp_path / "incident.jsonl"
    app = live_app(inventory, journal=Journal.open(path))
    before = sim.status()
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await healthy(pilot, app)
        await select(pilot, app, "plot2")
        for attempt in ("wrong name", "keep"):
            await pilot.press("e")
            await type_line(pilot, "pool-emergency-transition-to-master")
            await pilot.press("enter")
            dialog = await wait_for(pilot, lambda: isinstance(app.screen, OverrideDialog) and app.screen,
                                    what="the guard's refusal")
            assert "plot1 is reachable and is a working master" in dialog.reason
            assert "split brain" in dialog.reason and "pool-recover-slaves on plot1" in dialog.instead
            if attempt == "wrong name":  # the host it protects is plot2: typing another name overrides nothing
                await type_line(pilot, "plot1")
                await pilot.press("enter")
                await type_line(pilot, "testing the guard")
                await pilot.press("enter")
            else:
                await pilot.press("escape")
            await wait_for(pilot, lambda: len(of(messages, CommandRefused)) == (1 if attempt == "wrong name" else 2),
                           what="the refusal")
        refused = of(messages, CommandRefused)[-1]
        assert refused.reason.startswith("refused: plot1 is reachable and is a working master")
        assert "Instead: If hosts are orphaned" in refused.reason
        assert "not available in this build" not in refused.reason
        assert "REFUSED xe pool-emergency-transition-to-master" in log_text(app)
        assert not of(messages, CommandStarted)
        # Give a wrongly sent command's fuse (1 s) time to act before checking the ground truth.
        await asyncio.sleep(1.5)
    after = sim.status()
    assert [h["pool_conf"] for h in after["hosts"]] == [h["pool_conf"] for h in before["hosts"]]
    assert [m["name"] for m in after["masters"]] == ["plot1"]
    refusals = journal_records(path, "refused")
    assert [(r["host"], r["rule"], r["command"]) for r in refusals] == \
        [("plot2", "second-master", "xe pool-emergency-transition-to-master")] * 2
    [override] = journal_records(path, "override")
    assert (override["typed"], override["reason"], override["accepted"]) == ("plot1", "testing the guard", False)
    assert not journal_records(path, "command-start")


async def test_allowed_change_is_confirmed_then_runs_and_is_journaled(sim, inventory, tmp_path):
    messages = []
    path = tmp_path / "incident.jsonl"
    app = live_app(inventory, journal=Journal.open(path))
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await healthy(pilot, app)
        assert app.run_xe("plot1", "xe pool-sync-database")
        dialog = await wait_for(pilot, lambda: isinstance(app.screen, Confirm) and app.screen,
                                what="the confirmation")
        assert dialog.body.startswith("xe pool-sync-database\n")
        assert f"On plot1 ({sim.address_of('plot1')}): xe pool-sync-database." in dialog.body
        assert not of(messages, CommandStarted)  # nothing is sent while the operator reads
        await pilot.press("y")
        await wait_for(pilot, lambda: of(messages, CommandFinished), what="the command to finish")
        assert of(messages, CommandFinished)[0].exit_status == 0
        assert of(messages, CommandStarted)[0].command == "xe pool-sync-database"
        # a query goes through the same gate, without a question
        assert app.run_xe("plot3", "xe host-is-in-emergency-mode")
        await wait_for(pilot, lambda: len(of(messages, CommandFinished)) == 2, what="the query")
    [confirm] = journal_records(path, "confirm")
    assert (confirm["host"], confirm["answer"], confirm["by"]) == ("plot1", True, "operator")
    started = journal_records(path, "command-start")
    assert [(r["host"], r["command"], r["changes_pool"]) for r in started] == \
        [("plot1", "xe pool-sync-database", True), ("plot3", "xe host-is-in-emergency-mode", False)]
    assert [r["exit_status"] for r in journal_records(path, "command-end")] == [0, 0]
    assert journal_records(path, "verdict")[0]["verdict"] == "healthy"


async def test_read_only_disables_mutating_commands_only(inventory):
    messages = []
    app = live_app(inventory, read_only=True)
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await healthy(pilot, app)
        assert app.check_action("run_xe", ("xe host-forget uuid=00000000-0000-0000-0000-000000000000",)) is None
        assert app.check_action("run_xe", ("xe pool-recover-slaves",)) is None
        assert app.check_action("run_xe", ("xe host-list",)) is True
        assert app.check_action("xe_prompt", ()) is True
        assert "[READ-ONLY]" in plain(app.banner)
        assert app.run_xe("plot1", "xe pool-designate-new-master host-uuid=x") is False
        await wait_for(pilot, lambda: of(messages, CommandRefused))
        assert "this console is read-only (--read-only)" in of(messages, CommandRefused)[0].reason
        assert app.check_action("start_playbook", ()) is None
        assert not of(messages, CommandStarted)
        assert app.run_xe("plot1", "xe host-is-in-emergency-mode") is True
        await wait_for(pilot, lambda: of(messages, CommandFinished))
        assert of(messages, CommandFinished)[0].exit_status == 0


async def test_pause_stops_probes_and_freezes_the_display(inventory):
    app = live_app(inventory)
    async with app.run_test(size=SIZE) as pilot:
        await healthy(pilot, app)
        await pilot.press("p")
        assert app.paused and app.source.paused
        assert "PAUSED" in plain(app.banner)
        assert app.check_action("refresh", ()) is None
        frozen = app.diagnosis
        # A probe already under way may still finish: wait until the count holds still ...
        settled = {"rounds": app.source.rounds, "since": time.monotonic()}

        def quiet():
            if app.source.rounds != settled["rounds"]:
                settled.update(rounds=app.source.rounds, since=time.monotonic())
            return time.monotonic() - settled["since"] > 3 * INTERVAL

        await wait_for(pilot, quiet, what="in-flight probes to finish")
        rounds = app.source.rounds
        # ... then nothing probes, even when asked to (asserting an absence needs a window of time).
        app.source.wake()
        await pilot.press("r")
        await asyncio.sleep(4 * INTERVAL)
        assert app.source.rounds == rounds
        assert app.diagnosis is frozen
        await pilot.press("p")
        assert not app.paused
        await wait_for(pilot, lambda: app.source.rounds > rounds, what="probing to resume")
        await wait_for(pilot, lambda: app.diagnosis is not frozen, what="the display to resume")


async def test_cancel_a_hung_command_and_quit_confirmation(sim, inventory):
    messages = []
    app = live_app(inventory)
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await healthy(pilot, app)
        await sim.ctl("hang-xapi", "plot1")
        await select(pilot, app, "plot2")
        # A forwarded call on a slave whose master's xapi hangs never returns by itself.
        assert app.run_xe("plot2", "xe pool-list")
        await wait_for(pilot, lambda: of(messages, CommandStarted))
        assert "[RUNNING]" in plain(app.banner)
        await pilot.press("q")
        assert isinstance(app.screen, Confirm)
        await pilot.press("n")
        assert not isinstance(app.screen, Confirm) and app.is_running
        await pilot.press("x")
        await wait_for(pilot, lambda: of(messages, CommandFinished), what="the cancelled command to end")
        assert of(messages, CommandFinished)[0].outcome == "cancelled by the operator"
        assert app.check_action("cancel_command", ()) is False
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, what="the app to quit")


async def test_demo_fault_injection_from_the_console(sim, inventory):
    messages = []
    app = live_app(inventory, demo=sim, demo_dir=sim.directory)
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await healthy(pilot, app)
        await select(pilot, app, "plot4")
        await pilot.press("i")
        assert isinstance(app.screen, ChoiceMenu)
        await pilot.press("enter")  # crash, the first fault
        await wait_for(pilot, lambda: of(messages, FaultInjected))
        assert (of(messages, FaultInjected)[0].action, of(messages, FaultInjected)[0].host) == ("crash", "plot4")
        status = {h["name"]: h for h in sim.status()["hosts"]}
        assert status["plot4"]["power"] == "off"
        await wait_for(pilot, lambda: app.banner.headline == "DEGRADED", what="DEGRADED after a slave crash")


async def test_fault_injection_exists_only_in_the_demo(inventory):
    app = live_app(inventory)
    async with app.run_test(size=SIZE) as pilot:
        await healthy(pilot, app)
        assert app.check_action("inject_fault", ()) is False
        assert not any(title.startswith("Simulator:") for title, _, _ in app.palette_commands())
        await pilot.press("i")
        assert not isinstance(app.screen, ChoiceMenu)


# ---- static: the console itself --------------------------------------------------------------------


async def test_filter_shows_state_and_clears_with_escape_or_ctrl_u():
    app = make_static_app("master-lost")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash")
        await type_line(pilot, "plot3")
        assert app.grid.shown == 1 and app.filter_text == "plot3"
        assert "FILTER 'plot3'" in plain(app.banner)
        await pilot.press("escape")
        assert app.grid.shown == 8 and app.filter_text == ""
        assert "FILTER" not in plain(app.banner)
        await pilot.press("slash")
        await type_line(pilot, "state:down")
        await pilot.press("enter")
        assert app.grid.shown == 1 and app.focused is app.grid
        await pilot.press("ctrl+u")
        assert app.grid.shown == 8
        assert app.check_action("clear_filter", ()) is False


async def test_theme_switch_from_the_palette():
    app = make_static_app("healthy")
    async with app.run_test(size=SIZE) as pilot:
        assert app.theme == "poolterm-dark"
        await palette_run(pilot, app, "Theme poolterm-colorblind")
        await wait_for(pilot, lambda: app.theme == "poolterm-colorblind")
        assert app.get_css_variables()["host-up"] == "#56b4e9"


async def test_palette_opens_with_colon_and_lists_console_actions():
    app = make_static_app("healthy")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("colon")
        assert type(app.screen).__name__ == "CommandPalette"
        titles = [title for title, _, _ in app.palette_commands()]
        for expected in ("Pause", "Filter", "Save", "Help", "Detail", "Select host plot5", "Theme poolterm-ansi"):
            assert expected in titles


async def test_help_lists_the_bindings_of_the_current_view():
    app = make_static_app("master-lost")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert app.screen.context is app.screen_stack[0]
        await pilot.press("q")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_help_table_names_keys_ids_and_why_an_action_is_off():
    from poolterm.ui.help import bindings_table

    app = make_static_app("healthy")
    async with app.run_test(size=SIZE):
        table = bindings_table(app.screen, app.unavailable_reason)
        keys, actions, ids = ([str(c) for c in column._cells] for column in table.columns)
        assert "pause" in ids and "xe-prompt" in ids and "clear-filter" not in ids
        row = ids.index("refresh")
        assert "unavailable: probing is paused (p) or this is a static view" in actions[row]
        assert keys[ids.index("help")] in ("?, f1", "f1, ?")


async def test_save_writes_log_and_screenshot_into_the_directory(tmp_path):
    messages = []
    app = make_static_app("split-brain", save_dir=tmp_path / "captures")
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: of(messages, Saved))
    [saved] = of(messages, Saved)
    assert saved.log == str(tmp_path / "captures" / "poolterm-20260314-092653.log")
    assert "verdict SPLIT BRAIN" in Path(saved.log).read_text()
    assert Path(saved.screenshot).read_text().startswith("<svg")


async def test_keymap_from_the_settings_file(tmp_path, monkeypatch):
    config = tmp_path / "config.yaml"
    config.write_text("keymap:\n  pause: z\n  help: f2\n")
    monkeypatch.setenv("POOLTERM_CONFIG", str(config))
    app = make_static_app("healthy", settings=load_settings())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("z")
        assert app.paused
        await pilot.press("f2")
        assert isinstance(app.screen, HelpScreen)


async def test_bad_user_theme_is_reported_and_the_default_used(tmp_path):
    user = tmp_path / "themes"
    user.mkdir()
    (user / "broken.yaml").write_text("name: broken\nprimary: not-a-colour\n")
    app = make_static_app("healthy", theme="broken", theme_dirs=(SHIPPED_DIR, user))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        assert app.theme == "poolterm-dark"
        notes = [n.message for n in app._notifications]
        assert any("broken.yaml:2: primary: not a colour: 'not-a-colour'" in n for n in notes)
        assert any("no theme named 'broken'" in n for n in notes)


async def test_user_theme_overrides_and_fills_missing_variables(tmp_path):
    user = tmp_path / "themes"
    user.mkdir()
    (user / "mine.yaml").write_text("name: mine\nprimary: '#123456'\nerror: '#ff0000'\n")
    app = make_static_app("master-lost", theme="mine", theme_dirs=(SHIPPED_DIR, user))
    async with app.run_test(size=SIZE):
        assert app.theme == "mine"
        variables = app.get_css_variables()
        assert variables["verdict-critical"] == variables["error"]
        assert variables["host-down"] == variables["error"]


async def test_no_color_keeps_every_state_in_words(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_static_app("master-lost")
    async with app.run_test(size=SIZE):
        assert app.no_color
        assert "MASTER LOST" in app.banner.text
        assert "Next:" in app.banner.text


async def test_ascii_glyphs():
    app = make_static_app("master-lost", ascii_only=True)
    async with app.run_test(size=SIZE):
        rendered = plain(app.banner)
        assert "XX MASTER LOST" in rendered
        assert all(ord(c) < 128 for c in rendered)


async def test_teaching_mode_explains_the_verdict_and_the_next_key():
    app = make_static_app("master-lost")
    async with app.run_test(size=SIZE) as pilot:
        assert not app.playbook_panel.has_class("-active")
        await pilot.press("t")
        panel = app.playbook_panel
        assert panel.has_class("-active") and "[TEACH]" in plain(app.banner)
        assert "Why MASTER LOST: Master plot1 is lost" in panel.text
        assert "Next key: none here: playbook master-lost fixes this" in panel.text
        evidence = [line for line in panel.text.splitlines() if line.startswith("  - ")]
        assert evidence, panel.text
        # the verdict in plain words: in the banner, and with the mistake it invites in the panel
        meaning = explain(Verdict.MASTER_LOST).meaning
        assert meaning.startswith("The master, the one host that holds the pool's database")
        # the banner says it in one sentence, after what to do next (its height is capped)
        banner = app.banner.text.splitlines()
        assert banner[-1] == f"In plain words: {first_sentence(meaning)}" and banner[-2].startswith("Next:")
        assert first_sentence(meaning) == "The master, the one host that holds the pool's database and takes every " \
                                          "command, does not answer."
        assert f"In plain words: {meaning}" in panel.text.splitlines()
        assert "Careful: Promote exactly one host, then run pool-recover-slaves on it." in panel.text
        await pilot.press("t")
        assert not panel.has_class("-active") and "TEACH" not in plain(app.banner)
        assert "In plain words" not in app.banner.text


async def test_static_view_cannot_start_a_playbook():
    app = make_static_app("master-lost")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        assert app.check_action("recommended", ()) is True
        assert app.check_action("start_playbook", ()) is None
        await pilot.press("R")
        assert app.playbook_panel.progress is None
        assert any("cannot change the pool" in n.message for n in app._notifications)


async def test_static_view_offers_no_commands():
    app = make_static_app("healthy")
    async with app.run_test(size=SIZE):
        assert app.check_action("query_menu", ()) is None
        assert app.check_action("xe_prompt", ()) is None
        assert app.check_action("refresh", ()) is None


async def test_diagnosis_reaches_grid_and_banner_once_per_recompute():
    messages = []
    app = make_static_app("split-brain")
    async with app.run_test(size=SIZE, message_hook=messages.append):
        [update] = of(messages, DiagnosisUpdated)
        assert update.diagnosis.verdict is Verdict.SPLIT_BRAIN
        assert app.banner.headline == "SPLIT BRAIN"
        assert "run pool-recover-slaves on plot3 only" in app.banner.text


# ---- the pure parts: prompt parsing, settings, theme files -----------------------------------------


@pytest.mark.parametrize("line, text, read_only", [
    ("xe host-list", "xe host-list", True),
    ("xe host-list params=uuid,name-label --minimal", "xe host-list params=uuid,name-label --minimal", True),
    ("xe host-param-get uuid=abc param-name=address", "xe host-param-get uuid=abc param-name=address", True),
    ("xe vm-list name-label='my vm; rm -rf /'", "xe vm-list name-label='my vm; rm -rf /'", True),
    ("xe pool-recover-slaves", "xe pool-recover-slaves", False),
    ("xe host-list --force", "xe host-list --force", False),
])
def test_prompt_lines_become_one_quoted_xe_command(line, text, read_only):
    request = parse_prompt(line)
    assert request.text == text
    assert request.read_only is read_only
    assert request.remote().startswith("timeout -k 2 20 xe ")


@pytest.mark.parametrize("line, message", [
    ("", "type an xe command"),
    ("ls /", "'ls' is not xe"),
    ("xe", "xe needs a command"),
    ("xe host-list; reboot", "'host-list;' is not a valid xe command name"),
    ("xe host-list $(reboot)", "neither key=value nor --flag"),
    ("xe host-list 'unterminated", "cannot read the line"),
    ("xe host-list Bad=1", "not a valid xe parameter name"),
])
def test_prompt_refuses_what_is_not_one_xe_command(line, message):
    with pytest.raises(PromptError) as info:
        parse_prompt(line)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_read_only_refusal_wording_and_queries_defer_to_the_guards():
    assert read_only_refusal(parse_prompt("xe host-forget uuid=1")) == (
        "refused: xe host-forget uuid=1 changes the pool and this console is read-only (--read-only); "
        "only queries run here")
    assert parse_prompt("xe host-list --minimal").argv == ("xe", "host-list", "--minimal")
    assert parse_prompt("xe vm-list name-label=a").read_only
    assert not parse_prompt("xe pool-sync-database").read_only


def test_settings_defaults_when_the_file_is_missing(tmp_path):
    settings = load_settings(tmp_path / "absent.yaml")
    assert settings.theme == "poolterm-dark" and settings.keymap == {} and not settings.low_bandwidth


def test_settings_are_read(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("theme: poolterm-light\nlow_bandwidth: true\nascii: yes\nsave_dir: caps\n"
                    "keymap:\n  pause: ctrl+s\n  refresh: space, r\n")
    settings = load_settings(path)
    assert settings.theme == "poolterm-light" and settings.low_bandwidth and settings.ascii
    assert settings.keymap == {"pause": "ctrl+s", "refresh": "space,r"}
    assert settings.save_dir == tmp_path / "caps"


@pytest.mark.parametrize("text, message", [
    ("theme: [a]\n", ":1: theme: expected a single value"),
    ("colour: red\n", ":1: colour: unknown setting"),
    ("ascii: maybe\n", ":1: ascii: expected true or false"),
    ("keymap:\n  pause: 'ctrl s!'\n", ":2: keymap.pause: not a key list"),
    ("theme: a\ntheme: b\n", ":2: theme: given twice"),
    ("theme: [\n", "YAML syntax error"),
])
def test_settings_errors_are_one_line(tmp_path, text, message):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert message in str(info.value) and str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_shipped_themes_all_load_with_every_poolterm_variable():
    from poolterm.ui.themes import poolterm_variable_names

    loaded = load_themes([SHIPPED_DIR])
    assert loaded.errors == ()
    assert set(loaded.themes) == {"poolterm-dark", "poolterm-light", "poolterm-high-contrast",
                                  "poolterm-colorblind", "poolterm-ansi"}
    for theme in loaded.themes.values():
        missing = set(poolterm_variable_names()) - set(theme.variables)
        assert not missing, f"{theme.name} lacks {missing}"
    assert loaded.themes["poolterm-ansi"].ansi is True


def test_colorblind_theme_has_no_red_green_pair():
    from textual.color import Color

    theme = load_themes([SHIPPED_DIR]).themes["poolterm-colorblind"]
    up, down = Color.parse(theme.variables["host-up"]), Color.parse(theme.variables["host-down"])
    ok, bad = Color.parse(theme.variables["verdict-ok"]), Color.parse(theme.variables["verdict-critical"])
    for good, failed in ((up, down), (ok, bad)):
        assert good.b > good.r  # healthy sits on the blue side
        assert failed.r > failed.b  # failed on the orange side
        assert not (good.g > good.r + 40 and good.g > good.b)  # healthy is not green


@pytest.mark.parametrize("text, message", [
    ("- a\n", "expected a mapping"),
    ("name: Bad Name\nprimary: red\n", "name: expected lower-case"),
    ("name: x\n", "primary: missing"),
    ("name: x\nprimary: red\ndark: maybe\n", "dark: expected true or false"),
    ("name: x\nprimary: red\nshade: 1\n", ":3: shade: unknown key (expected one of: name, dark"),
    ("name: x\nprimary: red\nsecundary: blue\n", ":3: secundary: unknown key; did you mean 'secondary'?"),
    ("name: x\nprimary: red\nvariables:\n  host-up: nope\n", "variables.host-up: not a colour"),
    ("name: x\nprimary: [\n", "YAML syntax error"),
])
def test_bad_theme_files_give_one_line(tmp_path, text, message):
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(ThemeError) as info:
        load_theme_file(path)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_a_bad_theme_value_is_reported_at_its_line(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("# a user theme\nname: x\nprimary: red\nvariables:\n  host-up: green\n  host-down: nope\n")
    with pytest.raises(ThemeError) as info:
        load_theme_file(path)
    assert str(info.value) == f"{path}:6: variables.host-down: not a colour: 'nope'"
    assert (info.value.line, info.value.key) == (6, "variables.host-down")


# ---- keys and the command line ------------------------------------------------------------------


def test_every_binding_has_an_id_and_escape_is_never_the_only_key():
    app = make_static_app("healthy")
    bindings = app._all_bindings()
    assert len(bindings) > 20
    for binding in bindings:
        keys = binding.key.split(",")
        assert binding.id, f"{binding.action} has no id (keymaps need one)"
        assert "ctrl+enter" not in keys
        if "escape" in keys:
            assert len(keys) > 1, f"{binding.id} can only be reached with escape"


async def test_every_available_action_is_a_palette_command():
    app = make_static_app("master-lost", demo=object(), demo_dir="/tmp/demo")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        titles = {title for title, _, _ in app.palette_commands()}
        for binding in app.BINDINGS:
            if binding.action != "command_palette" and app.check_action(binding.action, ()) is True:
                assert binding.description in titles, binding.action
        assert "Simulator: crash plot1" in titles


def test_low_bandwidth_is_set_before_textual_starts(monkeypatch):
    from poolterm.cli.console import prepare_environment
    from poolterm.config.settings import Settings

    for name in ("TEXTUAL_FPS", "TEXTUAL_ANIMATIONS", "TEXTUAL_SMOOTH_SCROLL"):
        monkeypatch.delenv(name, raising=False)
    prepare_environment(Settings(), low_bandwidth=False)
    assert "TEXTUAL_FPS" not in __import__("os").environ
    prepare_environment(Settings(low_bandwidth=True), low_bandwidth=False)
    environ = __import__("os").environ
    assert (environ["TEXTUAL_FPS"], environ["TEXTUAL_ANIMATIONS"], environ["TEXTUAL_SMOOTH_SCROLL"]) == \
        ("10", "none", "0")


def run_cli(*args, env=None):
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-c", "import sys; from poolterm.cli.main import main; sys.exit(main())", *args],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                          env={**os.environ, **(env or {})})


def test_help_lists_the_sub_commands_and_console_options():
    result = run_cli("--help")
    assert result.returncode == 0
    for word in ("console", "check", "demo", "sim", "--theme", "--read-only", "--ascii", "--low-bandwidth", "-i"):
        assert word in result.stdout


@pytest.mark.parametrize("args, message", [
    (("-i", "/nonexistent/hosts.yaml"), "/nonexistent/hosts.yaml: cannot read"),
    (("demo", "--hosts", "0"), "--hosts must be between 1 and 5000"),
    (("demo", "--fuse", "-1"), "--fuse must be a positive number"),
    (("demo", "--probe-workers", "65"), "--probe-workers must be between 0 and 64, not 65"),
    (("--probe-workers", "-1", "-i", "/nonexistent/hosts.yaml"), "--probe-workers must be between 0 and 64, not -1"),
])
def test_bad_command_lines_give_one_line_and_status_2(args, message):
    result = run_cli(*args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_the_console_refuses_to_start_without_a_terminal(tmp_path, inventory_file):
    result = run_cli("-i", str(inventory_file))
    assert result.returncode == 2
    assert "needs a terminal" in result.stderr and "poolterm check" in result.stderr


def test_a_broken_settings_file_stops_the_console_with_one_line(tmp_path, inventory_file):
    config = tmp_path / "bad.yaml"
    config.write_text("theme: [\n")
    result = run_cli("-i", str(inventory_file), env={"POOLTERM_CONFIG": str(config)})
    assert result.returncode == 2
    assert f"{config}" in result.stderr and "YAML syntax error" in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.fixture
def inventory_file(tmp_path):
    known = tmp_path / "known_hosts"
    known.write_text("")
    path = tmp_path / "hosts.yaml"
    path.write_text(f"ssh:\n  known_hosts: {known}\npools:\n  - name: lab\n    hosts:\n"
                    "      - {name: plot1, address: 127.77.0.11}\n")
    return path


async def test_probing_from_its_own_process_behaves_the_same(sim, inventory):
    """Big inventories are probed from a child process: commands, cancelling, pausing and faults still work."""
    from poolterm.probing.source import LiveSource

    messages = []
    source = LiveSource(inventory, interval=INTERVAL, timeout=TIMEOUT, probe_workers=1)
    app = PoolApp(source=source)
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await healthy(pilot, app)
        child = source.children[0]
        assert child is not None and child.returncode is None
        assert source.watcher is None and source.rounds >= len(source.host_names)
        assert app.run_xe("plot2", "xe host-list params=name-label --minimal")
        await wait_for(pilot, lambda: of(messages, CommandFinished), what="the command to finish")
        assert of(messages, CommandFinished)[0].exit_status == 0
        assert "plot1,plot2,plot3" in log_text(app)
        await sim.ctl("hang-xapi", "plot1")
        assert app.run_xe("plot3", "xe pool-list")
        await wait_for(pilot, lambda: len(of(messages, CommandStarted)) == 2)
        await pilot.press("x")
        await wait_for(pilot, lambda: len(of(messages, CommandFinished)) == 2, what="the cancel")
        assert of(messages, CommandFinished)[1].outcome == "cancelled by the operator"
        await sim.ctl("unhang-xapi", "plot1")
        await sim.ctl("crash", "plot1")
        await wait_for(pilot, lambda: app.banner.headline == "MASTER LOST", what="MASTER LOST")
        await pilot.press("p")
        # Rounds under way when the pause arrived may still finish (a crashed host's take
        # seconds); after that, none for four intervals, which unpaused would be 32 rounds.
        for _ in range(10):
            frozen = source.rounds
            await pilot.pause(4 * INTERVAL)
            if source.rounds == frozen:
                break
        assert source.rounds == frozen, "the probe process kept probing while paused"
        await pilot.press("p")
        await wait_for(pilot, lambda: source.rounds > frozen, what="probing to resume")
    assert child.returncode == 0, "the probe process did not stop cleanly when the console closed"
