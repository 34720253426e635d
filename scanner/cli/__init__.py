"""Command line: parse options, call the audit, write formats, exit with the contract's code.

One module per command (scan, devices, pair, signatures, watch, simulate,
demo), registered on `main` here. The commands share options.py (options
and what they turn into), output.py (report files, stdout, CommandError) and
terminal.py (the Terminal: notes and progress); they never import each
other or this package. A command returns its exit code, which `main` exits
with, or raises CommandError: nothing below `main` exits the process.

Imports of anything heavy (tabulate, device libraries) happen inside the
commands that need them, so `scanner --help` and `scanner signatures list`
start fast; and a command's module is imported only when that command is
looked up (COMMANDS): `scanner --help` lists them from their summaries and
imports none, `scanner signatures list` imports the signatures command alone.
"""

from __future__ import annotations

import importlib
import io
import signal
import sys

import click

from scanner import __version__
from scanner.cli.terminal import NO_COLOR_OPTION, Terminal

__all__ = ["main"]

EXIT_INTERRUPTED = 130


def show_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """`scanner --version` / `-V`: the tool's version, and the bundled signature data's (its newest date and
    one sha256 over its files), which together say what a scan checks."""
    if not value or ctx.resilient_parsing:
        return
    click.echo(f"scanner, version {__version__}")  # click's words, which scripts may already read
    from scanner.model import signature_digest
    from scanner.signatures import SignatureError, load_signatures

    try:
        sigs = load_signatures()
    except SignatureError as err:
        click.echo(f"signatures: cannot be loaded: {err.problems[0] if err.problems else err}")
        ctx.exit(2)
    dates = [d for p in sigs.policies.values() for d in (p.checked, p.signed) if d is not None]
    newest = f", checked up to {max(dates).isoformat()}" if dates else ""
    click.echo(f"signatures: {len(sigs.files)} bundled files ({len(sigs.apps)} apps, {len(sigs.policies)} policies"
               f"{newest}), sha256 {signature_digest(sigs.files)}")
    ctx.exit(0)


_EPILOG = """\b
Shell completion (bash; zsh and fish: zsh_source, fish_source):
  eval "$(_SCANNER_COMPLETE=bash_source scanner)"   (add it to ~/.bashrc)
"""


#: Every command: its name, where it is ("module:attribute", a module of the command's name), and the first
#: paragraph of its help, which `scanner --help` lists without importing it (a test holds each to the
#: command's own help). A new command is one module and one line here.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("scanner.cli.demo:demo", "Scan a fleet of emulated devices: see what a real scan shows, no phone needed."),
    "devices": ("scanner.cli.devices:devices", "List attached Android and iOS devices, and what to do for each one\n"
                                               "that cannot be scanned yet."),
    "pair": ("scanner.cli.pair:pair", "Pair this computer with an iPhone or iPad, so that it can be scanned."),
    "remove": ("scanner.cli.remove:remove", "Remove the prohibited apps a scan finds on the attached devices."),
    "scan": ("scanner.cli.scan:scan", "Scan every attached Android and iOS device (or saved inventories, with\n"
                                      "--input) and report prohibited apps."),
    "signatures": ("scanner.cli.signatures:signatures", "List, show and validate signature catalogs and policies."),
    "simulate": ("scanner.cli.simulate:simulate",
                 "Serve emulated Android and iOS devices until Ctrl-C, for your own scripts."),
    "watch": ("scanner.cli.watch:watch",
              "Scan each device as it is plugged in, until Ctrl-C: the USB-hub intake station."),
}


class _Commands(dict):
    """`main.commands`: a command is imported the first time it is looked up, and kept."""

    def __getitem__(self, name: str) -> click.Command:
        value = super().__getitem__(name)
        if isinstance(value, str):
            module, _, attribute = value.partition(":")
            value = getattr(importlib.import_module(module), attribute)
            super().__setitem__(name, value)
        return value

    def get(self, name: str, default: click.Command | None = None) -> click.Command | None:
        return self[name] if name in self else default

    def values(self) -> list[click.Command]:  # type: ignore[override]
        return [self[name] for name in self]

    def items(self) -> list[tuple[str, click.Command]]:  # type: ignore[override]
        return [(name, self[name]) for name in self]

    def loaded(self, name: str) -> bool:
        return not isinstance(super().get(name), str)


class _Group(click.Group):
    """The top-level group: its help lists a command not yet imported by its summary (COMMANDS), which gives
    the same line as the command's own help (click shortens the first paragraph)."""

    commands: _Commands

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_commands(ctx, formatter)
        finally:
            self._listing = False

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if getattr(self, "_listing", False) and cmd_name in COMMANDS and not self.commands.loaded(cmd_name):
            return click.Command(cmd_name, help=COMMANDS[cmd_name][1])
        return super().get_command(ctx, cmd_name)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
             invoke_without_command=True, epilog=_EPILOG)
@click.option("--version", "-V", is_flag=True, expose_value=False, is_eager=True, callback=show_version,
              help="Show the version, and the signature data's version and hash, and exit.")
@NO_COLOR_OPTION
@click.pass_context
def main(ctx: click.Context) -> None:
    """Find prohibited apps (US EO 13971, the federal TikTok ban, or your own
    policies) on Android and iOS devices and in saved app inventories.

    Offline: it never phones home; only `pair` and `remove` change a device, and only when run.
    """
    # A terminal or file that cannot encode a character (a cp1252 console, an
    # ASCII locale) gets an escape instead of a crash.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    # Ctrl-C: exit 130 as shells expect, never click's "Aborted!" with exit 1,
    # which the contract reserves for "findings, every target read". SIGTERM (an
    # MDM agent's timeout): 143, after the same clean-up (emulated devices stopped).
    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    ctx.ensure_object(Terminal)  # --no-color, eager, may have made it already
    if ctx.invoked_subcommand is None:  # a bare `scanner`: its help, and success, as other CLIs do
        click.echo(ctx.get_help())
        ctx.exit(0)


@main.result_callback()
@click.pass_context
def exit_with(ctx: click.Context, code: int | None) -> None:
    """The one place a command's exit code becomes the process's."""
    if code:
        ctx.exit(code)


def interrupted(signum: int, frame: object) -> None:
    name = "interrupted" if signum == signal.SIGINT else "terminated"
    click.echo(f"\nscanner: {name}: nothing was reported", err=True)
    raise SystemExit(EXIT_INTERRUPTED if signum == signal.SIGINT else 128 + signum)


# The commands are main.commands["scan"]..., each imported when first looked up; their modules are
# scanner.cli.scan, scanner.cli.watch... (so that a test can patch one).
main.commands = _Commands({name: where for name, (where, _) in COMMANDS.items()})
