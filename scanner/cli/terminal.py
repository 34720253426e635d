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
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from scanner.terminal.progress import ProgressDisplay

__all__ = ["Terminal", "pass_terminal"]


class Terminal:
    """What the person at the terminal is shown besides the report: notes, and live progress."""

    def __init__(self, *, quiet: bool = False) -> None:
        self.quiet = quiet  # --quiet: no notes, no progress (errors and the report still)
        self.display: ProgressDisplay | None = None  # the display drawing now, if any

    def notify(self, message: str) -> None:
        """A note for the person at the terminal; never on stdout, which carries the report."""
        if self.quiet:
            return
        from scanner.terminal.text import safe

        line = f"scanner: {safe(message, limit=1000)}"
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
