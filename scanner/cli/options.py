"""The options several commands share, and what they turn into: the chosen platforms, the signatures, the matcher.

Light at import (click, the format and transport registries): `scanner
--help` imports this, and no device library or tabulate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import click

from scanner.cli.output import CommandError
from scanner.cli.terminal import NO_COLOR_OPTION
from scanner.connectors import TRANSPORTS
from scanner.formats import FORMATS
from scanner.vocabulary import FAIL_ON

if TYPE_CHECKING:
    from scanner.config import Config
    from scanner.matcher import Matcher
    from scanner.signatures import Signatures

__all__ = [
    "ADB_SERVER_OPTION",
    "CONFIG_OPTION",
    "EXIT_CODES_HELP",
    "PLATFORM_CHOICE",
    "POLICY_OPTION",
    "SIGNATURES_OPTION",
    "LazyHelpOption",
    "Seconds",
    "check_adb_server",
    "chosen_config",
    "chosen_platforms",
    "device_options",
    "fail_on_option",
    "loaded_signatures",
    "make_matcher",
    "platform_option",
    "quiet_option",
    "report_options",
    "timeout_option",
]

EXIT_CODES_HELP = """\b
Exit codes:
  0  every target fully read, nothing at or above --fail-on
  1  findings at or above --fail-on, every target fully read
  2  usage, configuration or signature-file error: nothing was scanned;
     or the report could not be written
  4  some target could not be fully read (or none was found), no findings
  5  findings, and some target could not be fully read
  130  interrupted (Ctrl-C); 143: terminated (SIGTERM): nothing was reported
"""

_PLATFORMS = [entry.platform for entry in TRANSPORTS]
PLATFORM_CHOICE = click.Choice([*_PLATFORMS, "all"])
_PLATFORMS_TEXT = f"{', '.join(_PLATFORMS)} or all (default: all)"

ADB_SERVER_OPTION = click.option(
    "--adb-server", metavar="HOST:PORT",
    help="Use this adb server (default: 127.0.0.1 and $ANDROID_ADB_SERVER_PORT or 5037; "
         "started with the bundled adb if none runs there).")
SIGNATURES_OPTION = click.option(
    "--signatures", "signature_paths", multiple=True, metavar="PATH",
    help="Add your own catalog and policy files (a file or a folder). Repeatable.")
POLICY_OPTION = click.option(
    "--policy", "policies", multiple=True, metavar="ID",
    help="Policy to check against: an id, a jurisdiction (us-tx: all of Texas's) or 'all' (default: the config "
         "file's, else the federal set). Repeatable.")

_CONFIG_KEY = "scanner.config"


def _remember_config(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    ctx.meta[_CONFIG_KEY] = value
    return value


CONFIG_OPTION = click.option(
    "--config", metavar="FILE", expose_value=False, callback=_remember_config,
    help="Default policies and signature folders from FILE (default: $SCANNER_CONFIG, else the per-user "
         "config file; see scanner signatures list).")


def platform_option(help_text: str) -> Callable:
    """--platform: one registered transport's devices, or all of them; `{}` in the help becomes the choices."""
    return click.option("--platform", type=PLATFORM_CHOICE, default=None, help=help_text.format(_PLATFORMS_TEXT))


class LazyHelpOption(click.Option):
    """An option whose help text lives elsewhere ("module:attribute") and is imported only when help is shown:
    `scanner --help` must not import what `scanner scan --help` describes (the file readers, for --input)."""

    def __init__(self, *args, help_from: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.help_from = help_from

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        if self.help is None:
            import importlib

            module, _, attribute = self.help_from.partition(":")
            self.help = getattr(importlib.import_module(module), attribute)
        return super().get_help_record(ctx)


class Seconds(click.FloatRange):
    """A time limit in seconds. FloatRange alone lets `nan` through (nan fails
    no comparison, so no range refuses it), and a nan deadline never expires
    or always has: a usage error, as inf, 0 and negative numbers are."""

    name = "seconds"

    def convert(self, value, param, ctx):  # type: ignore[override]
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value} is not a number of seconds; give one from {self.min:g} to {self.max:g}", param, ctx)
        return number


def timeout_option(help_text: str, *, default: float = 60, maximum: float = 3600) -> Callable:
    """--timeout for every command that has one: a finite number of seconds from 1 to `maximum`."""
    return click.option("--timeout", type=Seconds(min=1, max=maximum), default=default, show_default=True,
                        metavar="SECONDS", help=help_text)


def fail_on_option(help_text: str) -> Callable:
    return click.option("--fail-on", type=click.Choice(FAIL_ON), default="prohibited", show_default=True,
                        help=help_text)


def quiet_option(help_text: str) -> Callable:
    return click.option("--quiet", "-q", is_flag=True, help=help_text)


def device_options(command: Callable) -> Callable:
    """The options that pick attached devices, shared by `scan` and `devices`."""
    for option in reversed((
        platform_option("Which attached devices: {}."),
        click.option("--serial", "serials", multiple=True, metavar="SERIAL",
                     help="Only this Android device (adb serial or ro.serialno). Repeatable."),
        click.option("--udid", "udids", multiple=True, metavar="UDID",
                     help="Only this iPhone or iPad. Repeatable."),
        ADB_SERVER_OPTION,
    )):
        command = option(command)
    return command


def report_options(command: Callable) -> Callable:
    """What to check against and how to report it, shared by `scan` and `demo`."""
    for option in reversed((
        timeout_option("Time allowed for each device; a device not read in time is reported as such."),
        SIGNATURES_OPTION,
        POLICY_OPTION,
        CONFIG_OPTION,
        click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default="table", show_default=True,
                     help="Format written to stdout."),
        click.option("--output", "-o", "outputs", multiple=True, metavar="[FORMAT=]PATH",
                     help="Also write FORMAT to PATH (e.g. json=report.json; report.json alone: the format from "
                          "the extension). Repeatable."),
        click.option("--inventory", is_flag=True,
                     help="Include every app read, not only findings (off by default: reports about "
                          "employees' phones should hold as little as they need)."),
        fail_on_option("Lowest severity that makes the exit code 1 (or 5)."),
        quiet_option("No progress lines and no notes on stderr (errors and the report still). "
                     "Progress is only ever drawn when stderr is a terminal."),
        NO_COLOR_OPTION,
    )):
        command = option(command)
    return command


def check_adb_server(value: str | None) -> None:
    if value is None:
        return
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise CommandError(f"--adb-server {value!r}: expected HOST:PORT, e.g. 127.0.0.1:5037")


def chosen_platforms(platform: str | None, select: Mapping[str, Sequence[str]]) -> dict[str, bool]:
    """scanner.live.pick_platforms, its UsageError a CommandError (exit 2, nothing scanned)."""
    from scanner.live import UsageError, pick_platforms

    try:
        return pick_platforms(platform, select)
    except UsageError as err:
        raise CommandError(str(err)) from None


def chosen_config() -> Config:
    """The config file in force for this command (--config, $SCANNER_CONFIG, the per-user file), or a
    CommandError saying what is wrong with it."""
    from scanner.config import ConfigError, load_config

    ctx = click.get_current_context(silent=True)
    try:
        return load_config(ctx.meta.get(_CONFIG_KEY) if ctx is not None else None)
    except ConfigError as err:
        raise CommandError(str(err)) from None


def loaded_signatures(signature_paths: Sequence[str], *, config: bool = True) -> Signatures:
    """The bundled signatures, the config file's and the --signatures files, or a CommandError listing every
    problem. `config` False: only what was given (`signatures validate` checks the files it is given)."""
    from scanner.signatures import SignatureError, load_signatures

    extra = (*chosen_config().signatures, *signature_paths) if config else tuple(signature_paths)
    try:
        return load_signatures(extra)
    except SignatureError as err:
        raise CommandError("the signature files cannot be used:", details=err.problems) from None


def make_matcher(signature_paths: Sequence[str], policies: Sequence[str]) -> Matcher:
    """Load the signatures and build the matcher (it keeps them: matcher.signatures), or say what is wrong.

    No --policy (or only empty ones: `--policy "$UNSET"`): the config file's policies, else the bundled
    defaults. A config policy that is not loaded is the config file's error, and said so."""
    signatures = loaded_signatures(signature_paths)
    from scanner.matcher import Matcher
    from scanner.signatures import SignatureError

    given = [p for p in policies if p]
    config = chosen_config() if not given else None
    try:
        return Matcher(signatures, given or (config.policies if config else ()) or None)
    except SignatureError as err:
        if config is not None and config.policies:
            raise CommandError(f"the config file {config.path} names policies that are not loaded:",
                               details=err.problems) from None
        raise CommandError(*err.problems) from None
