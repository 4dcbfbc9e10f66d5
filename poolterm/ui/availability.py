"""Which console actions may run now, and why one is greyed out: one table.

Textual asks ``check_action`` for every binding: ``True`` runs it, ``None`` shows
it greyed out, ``False`` hides it. Each rule here reads only :class:`ConsoleState`,
a snapshot of the console's few facts, so the footer is rebuilt only when that
snapshot changes and the help screen can say why an action is unavailable.
No Textual here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

#: Actions on the main screen's grid and log: hidden while another screen is on top.
MAIN_SCREEN_ONLY = frozenset({"filter", "clear_filter", "detail", "log_only_host", "log_search", "fleet"})
#: What a follower may not do: anything that sends a command, or writes to the journal but a note.
FOLLOWER_REFUSES = frozenset({"query_menu", "xe_prompt", "recommended", "start_playbook", "trust_key",
                              "inject_fault"})
#: Actions the drill holds back while it sets its fault up.
HELD_BY_DRILL = frozenset({"recommended", "start_playbook"})
DRILL_SETUP = "the drill is still setting up its fault: wait for \"recover the pool\""
FALLBACK = "not available here"


@dataclass(frozen=True)
class ConsoleState:
    """Everything an availability rule may read."""

    live: bool = True  # probing real (or simulated) hosts, not a fixed diagnosis
    main_in_front: bool = True  # no screen (detail, help, a dialog) hides the grid
    demo: bool = False
    command_running: bool = False
    playbook_running: bool = False
    paused: bool = False
    filter_set: bool = False  # a filter is typed, or its bar is open
    has_selection: bool = False
    journal: bool = False
    read_only: bool = False
    drill_injecting: bool = False
    recommended: bool = False  # the verdict recommends a playbook
    resumable: bool = False  # a run of this session stopped and can be resumed
    key_problem: bool = False  # the selected host's SSH key is unknown or changed: it has a key to check
    crew: bool = False  # this console shares its journal with others (it drives or follows)
    following: str = ""  # this console follows: who drives, as a refusal says it ("" while it drives)
    zoomed: bool = False  # one pool's grid is shown out of several: escape goes back to the fleet's rows


Availability = bool | None
Rule = Callable[[ConsoleState], Availability]


def _enabled_or_greyed(test: Callable[[ConsoleState], bool]) -> Rule:
    return lambda s: True if test(s) else None


def _shown_or_hidden(test: Callable[[ConsoleState], bool]) -> Rule:
    return lambda s: True if test(s) else False


#: action -> (rule, why it is greyed out or hidden)
RULES: dict[str, tuple[Rule, str]] = {
    "inject_fault": (_shown_or_hidden(lambda s: s.demo), "fault injection exists only in `poolterm demo`"),
    "cancel_command": (_shown_or_hidden(lambda s: s.command_running or s.playbook_running),
                       "no command or playbook is running"),
    "clear_filter": (_shown_or_hidden(lambda s: s.filter_set), "no filter is set"),
    "fleet": (_shown_or_hidden(lambda s: s.zoomed), "the fleet's rows are shown already, or there is one pool"),
    "pause": (_shown_or_hidden(lambda s: not s.playbook_running),
              "a playbook is running: it needs fresh probes to verify its steps"),
    "refresh": (_enabled_or_greyed(lambda s: s.live and not s.paused),
                "probing is paused (p) or this is a static view"),
    "query_menu": (_enabled_or_greyed(lambda s: s.live and s.has_selection and s.journal),
                   "no host selected, or no connections in this view"),
    "xe_prompt": (_enabled_or_greyed(lambda s: s.live and s.has_selection and s.journal),
                  "no host selected, or no connections in this view"),
    "detail": (_enabled_or_greyed(lambda s: s.has_selection), "no host selected"),
    "note": (_shown_or_hidden(lambda s: s.crew or s.journal), "no journal to write a note to"),
    "take_wheel": (_shown_or_hidden(lambda s: bool(s.following)), "this console drives the incident already"),
    "pass_wheel": (_shown_or_hidden(lambda s: s.crew and not s.following),
                   "this console does not drive the incident"),
    "trust_key": (_shown_or_hidden(lambda s: s.live and s.key_problem),
                  "only a host in host-key-unknown or host-key-changed has a key to check and trust"),
    "log_only_host": (_enabled_or_greyed(lambda s: s.has_selection), "no host selected"),
    "recommended": (_enabled_or_greyed(lambda s: (s.recommended or s.resumable) and not s.playbook_running),
                    "no playbook is recommended for the current verdict, or one is running already"),
    "start_playbook": (_enabled_or_greyed(lambda s: s.live and s.journal and not s.read_only
                                          and not s.playbook_running),
                       "a playbook is running already, or this view cannot change the pool (static view, "
                       "--read-only, or no journal)"),
}


def available(action: str, state: ConsoleState) -> Availability:
    """Textual's answer for ``action``: True (run), None (greyed out), False (hidden)."""
    if action in MAIN_SCREEN_ONLY and not state.main_in_front:
        return False
    if action in HELD_BY_DRILL and state.drill_injecting:
        return None
    rule = RULES.get(action)
    allowed = rule[0](state) if rule else True
    if state.following and action in FOLLOWER_REFUSES and allowed is not False:
        return None  # shown, greyed: the help screen and a refusal say who drives
    return allowed


def why_not(action: str, state: ConsoleState) -> str:
    """Why ``action`` is greyed out or hidden, in words for the help screen and notices."""
    if action in HELD_BY_DRILL and state.drill_injecting:
        return DRILL_SETUP
    if state.following and action in FOLLOWER_REFUSES:
        return state.following
    rule = RULES.get(action)
    return rule[1] if rule else FALLBACK
