"""`scanner pair`: the one command that changes a device, and only when the person holding it taps Trust."""

from __future__ import annotations

import sys

import click

from scanner.cli.options import timeout_option
from scanner.cli.output import CommandError
from scanner.cli.terminal import Terminal, pass_terminal
from scanner.model import EXIT_INCOMPLETE

__all__ = ["pair"]


@click.command()
@click.option("--udid", metavar="UDID", help="The iPhone or iPad to pair (needed when more than one is attached).")
@timeout_option("How long to wait for Trust to be tapped on the device.", maximum=600)
@pass_terminal
def pair(terminal: Terminal, udid: str | None, timeout: float) -> int:
    """Pair this computer with an iPhone or iPad, so that it can be scanned.

    The only command that changes a device: the iPhone shows "Trust This
    Computer?", and the person holding it taps Trust and enters the passcode.
    Exit 0 when paired, 4 when it was not (refused, not tapped in time, locked).
    """
    from scanner import live
    from scanner.connectors.interface import ScannerError
    from scanner.terminal.text import safe

    (iphones,) = live.open_transports({"ios": True}, timeout=timeout, notify=terminal.notify)
    try:
        result = iphones.pair(udid)
    except ScannerError as err:
        raise CommandError(str(err), exit_code=EXIT_INCOMPLETE) from None
    from scanner.terminal.layout import width_of, wrap

    def say(text: str, err: bool) -> None:  # an instruction: wrapped to the terminal, never cut
        click.echo("\n".join(wrap(text, "", "  ", width_of(sys.stderr if err else sys.stdout))), err=err)

    label = " ".join(safe(x) for x in dict.fromkeys((result.name, result.model, result.serial)) if x)
    if result.state == "ready":
        if result.message:
            say(safe(result.message, limit=400), True)
        say(f"paired: {label}; `scanner scan --udid {safe(result.serial)}` can read it now", False)
        return 0
    say(f"not paired: {label}: {safe(result.message or result.state, limit=400)}", True)
    return EXIT_INCOMPLETE
