"""Command line: parse options, call the audit, write formats, exit with the contract's code.

One module per command (scan, devices, pair, signatures, watch, simulate,
demo), registered on `main` here. The commands share options.py (options
and what they turn into), output.py (report files, stdout, CommandError) and
terminal.py (the Terminal: notes and progress); they never import each
other or this package. A command returns its exit code, which `main` exits
with, or raises CommandError: nothing below `main` exits the process.

Imports of anything heavy (tabulate, device libraries) happen inside the
commands that need them, so `scanner --help` and `scanner signatures list`
start fast.
"""

from __future__ import annotations

import io
import signal
import sys

import click

from scanner import __version__
from scanner.cli import demo, devices, pair, remove, scan, signatures, simulate, watch
from scanner.cli.terminal import NO_COLOR_OPTION, Terminal

__all__ = ["main"]

EXIT_INTERRUPTED = 130


def show_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """`scanner --version` / `-V`: the tool's version, and the bundled signature data's (its newest date and
    one sha256 over its files), which together say what a scan checks."""
    if not value or ctx.resilient_parsing:
        return
    click.echo(f"scanner, version {__version__}")  # click's words, which scripts may already read
    import hashlib

    from scanner.signatures import SignatureError, bundled_dir, load_signatures

    try:
        sigs = load_signatures()
    except SignatureError as err:
        click.echo(f"signatures: cannot be loaded: {err.problems[0] if err.problems else err}")
        ctx.exit(2)
    base = bundled_dir().resolve()

    def name(path: str) -> str:
        from pathlib import Path

        try:
            return Path(path).resolve().relative_to(base).as_posix()
        except ValueError:
            return Path(path).name

    listing = "".join(f"{f.sha256}  {name(f.path)}\n" for f in sorted(sigs.files, key=lambda f: name(f.path)))
    dates = [d for p in sigs.policies.values() for d in (p.checked, p.signed) if d is not None]
    newest = f", checked up to {max(dates).isoformat()}" if dates else ""
    click.echo(f"signatures: {len(sigs.files)} bundled files ({len(sigs.apps)} apps, {len(sigs.policies)} policies"
               f"{newest}), sha256 {hashlib.sha256(listing.encode()).hexdigest()}")
    ctx.exit(0)


_EPILOG = """\b
Shell completion (bash; zsh and fish: zsh_source, fish_source):
  eval "$(_SCANNER_COMPLETE=bash_source scanner)"   (add it to ~/.bashrc)
"""


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
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


# The package's names `scan`, `watch`... are the command modules (so that a test can patch one); the
# commands are main.commands["scan"]...
for _command in (demo.demo, devices.devices, pair.pair, remove.remove, scan.scan, signatures.signatures,
                 simulate.simulate, watch.watch):
    main.add_command(_command)
