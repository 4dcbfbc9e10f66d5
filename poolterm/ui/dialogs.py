"""Small modal screens: a one-line prompt, a menu of choices, a yes/no confirmation,
a guard override (host name and reason) and a manual playbook step.

Every one closes with ``escape`` and with a second key, because Escape is
unreliable through some ssh + tmux stacks.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    """A playbook step only a person can do; ``enter`` or ``d``: done, ``s``, ``escape``: stop here."""

    BINDINGS = [
        Binding("enter,d", "answer(True)", "Done", id="manual.done"),
        Binding("s,escape", "answer(False)", "Stop here", id="manual.stop"),
    ]

    def __init__(self, title: str, text: str, expect: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.step_title = title
        self.text = text
        self.expect = expect

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"You do: {self.step_title}", classes="dialog-title")
            yield Static(self.text, id="manual-text", markup=False)
            yield Static(f"Then poolterm checks: {self.expect}", id="manual-expect", markup=False)
            yield Static("enter or d: done | s or esc: stop the playbook here", classes="dialog-hint")

    def action_answer(self, done: bool) -> None:
        self.dismiss(done)
