"""Small modal screens: a one-line prompt, a menu of choices, a yes/no confirmation,
a guard override (host name and reason), a manual playbook step and a password.

Every one closes with ``escape`` and with a second key, because Escape is
unreliable through some ssh + tmux stacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option


class LinePrompt(ModalScreen[str | None]):
    """Ask for one line; dismisses with the text, or None when cancelled (or left empty)."""

    BINDINGS = [Binding("escape,ctrl+g", "cancel", "Cancel", id="prompt.cancel")]

    def __init__(self, title: str, *, placeholder: str = "", value: str = "", hint: str = "",
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.prompt_title = title
        self.placeholder = placeholder
        self.initial = value
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.prompt_title, classes="dialog-title")
            # Not selected on focus: a prefilled "xe " must survive the first keystroke.
            yield Input(value=self.initial, placeholder=self.placeholder, id="prompt-input",
                        select_on_focus=False)
            yield Static(self.hint + ("\n" if self.hint else "") + "enter: run | esc or ctrl+g: cancel",
                         classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class Choice:
    key: str
    title: str
    disabled_reason: str = ""  # shown greyed out with this reason when set


class ChoiceMenu(ModalScreen[str | None]):
    """Pick one of a few choices; dismisses with its key, or None."""

    BINDINGS = [Binding("escape,q", "cancel", "Cancel", id="menu.cancel")]

    def __init__(self, title: str, choices: list[Choice], *, hint: str = "", id: str | None = None) -> None:
        super().__init__(id=id)
        self.menu_title = title
        self.choices = choices
        self.hint = hint

    def compose(self) -> ComposeResult:
        options = [
            Option(c.title + (f"  ({c.disabled_reason})" if c.disabled_reason else ""), id=c.key,
                   disabled=bool(c.disabled_reason))
            for c in self.choices
        ]
        with Vertical(classes="dialog"):
            yield Label(self.menu_title, classes="dialog-title")
            yield OptionList(*options, id="menu-options")
            yield Static(self.hint + ("\n" if self.hint else "") + "enter: choose | esc or q: cancel",
                         classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class Confirm(ModalScreen[bool]):
    """A yes/no question; ``y`` confirms, ``n``, ``escape`` or ``q`` declines."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape,q", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, question: str, *, body: str = "", id: str | None = None) -> None:
        super().__init__(id=id)
        self.question = question
        self.body = body

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question, classes="dialog-title")
            if self.body:
                yield Static(self.body, id="confirm-body", markup=False)
            yield Static("y: yes | n, esc or q: no", classes="dialog-hint")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class OverrideDialog(ModalScreen[tuple[str, str] | None]):
    """A guard refused: say why and what to do instead; an override needs the host's name and a reason.

    Dismisses with (typed name, reason), or None to keep the refusal. Whether the
    typed name is the right one is the guards' decision, not this screen's.
    """

    BINDINGS = [Binding("escape,ctrl+g", "keep", "Keep the refusal", id="override.keep")]

    def __init__(self, command: str, host: str, reason: str, instead: str, protects: str, *,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.command = command
        self.host = host
        self.reason = reason
        self.instead = instead
        self.protects = protects

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog override-dialog"):
            yield Label(f"REFUSED: {self.command} on {self.host}", classes="dialog-title")
            yield Static(self.reason, id="override-reason", markup=False)
            yield Static(f"Instead: {self.instead}", id="override-instead", markup=False)
            yield Static(f"To override anyway, type the name of the host this protects ({self.protects}) "
                         "and a reason; both are journaled.", classes="dialog-hint", markup=False)
            yield Input(placeholder=f"host name ({self.protects})", id="override-host", select_on_focus=False)
            yield Input(placeholder="reason (journaled)", id="override-reason-input", select_on_focus=False)
            yield Static("enter: next field / override | esc or ctrl+g: keep the refusal", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#override-host", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        host = self.query_one("#override-host", Input).value.strip()
        reason = self.query_one("#override-reason-input", Input).value.strip()
        if event.input.id == "override-host":
            if host:
                self.query_one("#override-reason-input", Input).focus()
            else:
                self.dismiss(None)
            return
        self.dismiss((host, reason) if host else None)

    def action_keep(self) -> None:
        self.dismiss(None)


class ManualStep(ModalScreen[bool]):
    """A playbook step only a person can do; ``enter`` or ``d``: done, ``s``, ``escape``: stop here.

    In the demo, ``simulate`` opens the simulator's actions for the hosts the step
    names, so a trainee can power a host on (or reinstall it) without leaving the step.
    """

    BINDINGS = [
        Binding("enter,d", "answer(True)", "Done", id="manual.done"),
        Binding("s,escape", "answer(False)", "Stop here", id="manual.stop"),
        Binding("i", "simulate", "Simulator", id="manual.simulate"),
    ]

    def __init__(self, title: str, text: str, expect: str, *, simulate: Callable[[], None] | None = None,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.step_title = title
        self.text = text
        self.expect = expect
        self.simulate = simulate

    def compose(self) -> ComposeResult:
        keys = "enter or d: done | s or esc: stop the playbook here"
        if self.simulate is not None:
            keys += " | i: do it in the simulator"
        with Vertical(classes="dialog"):
            yield Label(f"You do: {self.step_title}", classes="dialog-title")
            yield Static(self.text, id="manual-text", markup=False)
            yield Static(f"Then poolterm checks: {self.expect}", id="manual-expect", markup=False)
            yield Static(keys, classes="dialog-hint")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.simulate is not None if action == "simulate" else True

    def action_answer(self, done: bool) -> None:
        self.dismiss(done)

    def action_simulate(self) -> None:
        if self.simulate is not None:
            self.simulate()


class PasswordPrompt(ModalScreen[str | None]):
    """Ask for a password a step needs; dismisses with it, or None to stop the playbook.

    The field masks what is typed and is emptied as the dialog closes: the value
    goes to the caller and nowhere else (not the screen, not a screenshot).
    """

    BINDINGS = [Binding("escape,ctrl+g", "cancel", "Stop", id="password.cancel")]

    def __init__(self, title: str, purpose: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.prompt_title = title
        self.purpose = purpose

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.prompt_title, classes="dialog-title")
            yield Static(self.purpose, id="password-purpose", markup=False)
            yield Input(password=True, placeholder="password (not shown, not journaled)", id="password-input",
                        select_on_focus=False)
            yield Static("enter: send | esc or ctrl+g: stop the playbook here (it can be resumed)",
                         classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value
        event.input.value = ""
        self.dismiss(value or None)

    def action_cancel(self) -> None:
        self.query_one(Input).value = ""
        self.dismiss(None)


class TrustKeyDialog(ModalScreen[bool]):
    """A host key known_hosts does not vouch for: the fingerprint offered (and the one recorded, for a
    change), what a change means, and the host's name to type to trust it. Dismisses with True only
    when the name typed is the host's; esc, ctrl+g or an empty line trusts nothing."""

    BINDINGS = [Binding("escape,ctrl+g", "cancel", "Trust nothing", id="trust.cancel")]
    AUTO_FOCUS = "#trust-host"

    def __init__(self, host: str, title: str, body: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.host = host
        self.key_title = title
        self.body = body

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog override-dialog"):
            yield Label(self.key_title, classes="dialog-title")
            yield Static(self.body, id="trust-body", markup=False)
            yield Input(placeholder=f"host name ({self.host}) to trust this key", id="trust-host",
                        select_on_focus=False)
            yield Static("", id="trust-error", markup=False)
            yield Static("enter: trust | esc or ctrl+g: trust nothing", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        typed = event.value.strip()
        if not typed:
            self.dismiss(False)
        elif typed == self.host:
            self.dismiss(True)
        else:
            event.input.value = ""
            self.query_one("#trust-error", Static).update(f"that is not {self.host}'s name: nothing trusted yet")

    def action_cancel(self) -> None:
        self.dismiss(False)


class TakeWheelDialog(ModalScreen[tuple[str, str] | None]):
    """Taking the wheel of an incident: the driver's user name, typed, and a reason (both journaled).
    ``alive``: the driver's console still runs, and will be asked to stop what it runs and let go."""

    BINDINGS = [Binding("escape,ctrl+g", "keep", "Keep following", id="wheel.keep")]
    AUTO_FOCUS = "#wheel-driver"  # focused as the screen shows: a name typed at once is not lost

    def __init__(self, driver: str, *, alive: bool, id: str | None = None) -> None:
        super().__init__(id=id)
        self.driver = driver
        self.alive = alive

    def compose(self) -> ComposeResult:
        if self.alive:
            text = (f"{self.driver}'s console drives this incident and still runs. Taking the wheel asks it to stop "
                    "what it runs now (a playbook stops at its step and can be resumed) and to let go; then "
                    "this console drives. Tell them first if you can: they will see your reason.")
        else:
            text = (f"{self.driver}'s console is gone or let go of the wheel: no one drives. Taking the wheel "
                    "makes this console the one that sends commands; an unfinished playbook is offered for resume "
                    "at the step the journal says.")
        with Vertical(classes="dialog override-dialog"):
            yield Label(f"Take the wheel from {self.driver}?", classes="dialog-title")
            yield Static(text, id="wheel-text", markup=False)
            yield Input(placeholder=f"the driver's user name ({self.driver})", id="wheel-driver",
                        select_on_focus=False)
            yield Input(placeholder="reason (journaled, shown to everyone)", id="wheel-reason", select_on_focus=False)
            yield Static("enter: next field / take the wheel | esc or ctrl+g: keep following", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#wheel-driver", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        typed = self.query_one("#wheel-driver", Input).value.strip()
        reason = self.query_one("#wheel-reason", Input).value.strip()
        if not typed:
            self.dismiss(None)
        elif event.input.id == "wheel-driver" or not reason:
            self.query_one("#wheel-reason", Input).focus()
        else:
            self.dismiss((typed, reason))

    def action_keep(self) -> None:
        self.dismiss(None)
