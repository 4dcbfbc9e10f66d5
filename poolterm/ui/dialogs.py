"""Small modal screens: a one-line prompt, a menu of choices, a yes/no confirmation.

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

    def __init__(self, question: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question, classes="dialog-title")
            yield Static("y: yes | n, esc or q: no", classes="dialog-hint")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
