"""A one-widget Textual app with poolterm's theme variables, for widget benchmarks."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widget import Widget

from poolterm.ui.theme_vars import with_host_defaults


class WidgetApp(App):
    def __init__(self, widget: Widget):
        super().__init__()
        self.widget = widget

    def get_css_variables(self) -> dict[str, str]:
        return with_host_defaults(super().get_css_variables())

    def compose(self) -> ComposeResult:
        yield self.widget
