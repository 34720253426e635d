"""The person at the terminal: notes and live progress on stderr, never on stdout (which carries the report).

`main` makes one Terminal per invocation and hands it to the commands as
click's context object (`@pass_terminal`); the commands give its `notify`
and progress display to the connectors, which call them from their own
threads.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, TextIO

import click

from scanner.formats.interface import FormatOptions

if TYPE_CHECKING:
    from scanner.terminal.progress import ProgressDisplay

__all__ = ["NO_COLOR_OPTION", "Terminal", "current_terminal", "pass_terminal"]


class Terminal:
    """What the person at the terminal is shown besides the report: notes, and live progress."""

    def __init__(self, *, quiet: bool = False) -> None:
        self.quiet = quiet  # --quiet: no notes, no progress (errors and the report still)
        self.no_color = False  # --no-color (NO_COLOR is read where colour is decided)
        self.display: ProgressDisplay | None = None  # the display drawing now, if any

    def options(self, stream: TextIO | None) -> FormatOptions:
        """How a report written to `stream` is laid out: coloured on a terminal that wants it, as wide as it."""
        from scanner.terminal.colour import color_wanted
        from scanner.terminal.layout import width_of

        return FormatOptions(color=color_wanted(stream, disabled=self.no_color), width=width_of(stream))

    def notify(self, message: str) -> None:
        """A note for the person at the terminal; never on stdout, which carries the report."""
        if self.quiet:
            return
        from scanner.terminal.layout import width_of, wrap
        from scanner.terminal.text import safe

        line = "\n".join(wrap(safe(message, limit=1000), "scanner: ", "  ", width_of(sys.stderr)))
        display = self.display
        if display is not None:
            display.note(line)  # above the live lines, never through them
        else:
            click.echo(line, err=True)

    @contextlib.contextmanager
    def progress(self, *, draw: bool = True) -> Iterator[ProgressDisplay | None]:
        """Progress lines on stderr while devices are read, when stderr is a terminal and not --quiet.

        Yields the Progress callback for the connectors (None when there is no
        display); the lines are erased before the report is written.
        """
        from scanner.terminal.progress import progress_for

        display = progress_for(sys.stderr, quiet=self.quiet) if draw else None
        self.display = display
        try:
            yield display
        finally:
            self.display = None
            if display is not None:
                display.close()


# `@pass_terminal` gives a command the invocation's Terminal (made by `main`; made here when a command is
# invoked on its own, as tests do).
pass_terminal = click.make_pass_decorator(Terminal, ensure=True)


def current_terminal() -> Terminal:
    """The invocation's Terminal (a fresh one outside a command, as in a test calling a helper directly)."""
    ctx = click.get_current_context(silent=True)
    found = ctx.find_object(Terminal) if ctx is not None else None
    return found if found is not None else Terminal()


def _no_color(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.ensure_object(Terminal).no_color = True
    return value


# `--no-color`: on `scanner` itself and on every command that colours; NO_COLOR=1 in the environment does the same.
NO_COLOR_OPTION = click.option("--no-color", is_flag=True, expose_value=False, callback=_no_color, is_eager=True,
                               help="No colour, even at a terminal (as NO_COLOR=1 does).")
