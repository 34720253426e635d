"""`scanner scan`: every attached device, or saved inventories (--input), matched and reported."""

from __future__ import annotations

import os
from collections.abc import Sequence

import click

from scanner.cli.options import (
    EXIT_CODES_HELP,
    LazyHelpOption,
    check_adb_server,
    chosen_platforms,
    device_options,
    make_matcher,
    report_options,
)
from scanner.cli.output import CommandError, check_outputs, deliver, parse_outputs
from scanner.cli.terminal import Terminal, pass_terminal

__all__ = ["scan"]

# The options that pick attached devices: refused with --input.
_LIVE_OPTIONS = (("platform", "--platform"), ("serials", "--serial"), ("udids", "--udid"),
                 ("adb_server", "--adb-server"), ("timeout", "--timeout"))


def check_inputs(ctx: click.Context, inputs: Sequence[str]) -> None:
    """Refuse, before anything is read, what --input cannot be given with or given twice."""
    if inputs:
        live_given = [option for name, option in _LIVE_OPTIONS
                      if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE]
        if live_given:
            raise CommandError(f"{', '.join(live_given)} select attached devices and cannot be used with --input; "
                               "scan files and devices in separate runs")
    if inputs.count("-") > 1:
        raise CommandError("--input -: stdin can be read only once")
    given: dict[str, str] = {}
    for name in inputs:
        real = name if name == "-" else os.path.realpath(name)
        if real in given:
            raise CommandError(f"--input {name}: the same file as --input {given[real]}; give each input once")
        given[real] = name


@click.command(epilog=EXIT_CODES_HELP)
@click.option("--input", "-i", "inputs", multiple=True, metavar="FILE", cls=LazyHelpOption,
              help_from="scanner.connectors.files:INPUT_HELP")  # generated from the file readers' registry
@click.option("--accept-scope", "accept_scopes", multiple=True, type=click.Choice(["mdm"]),
              help="With --input: count a device read from an MDM export as complete when the only thing it cannot "
                   "show is what the MDM does not see (a personal device's unmanaged apps, the personal profile, "
                   "system apps). The report records that the option was used.")
@click.option("--max-age", "max_age", type=click.IntRange(min=0), metavar="DAYS",
              help="With --input: a device whose MDM inventory is older than DAYS (or gives no date) is partial, "
                   "never clean.")
@device_options
@report_options
@pass_terminal
@click.pass_context
def scan(ctx: click.Context, terminal: Terminal, inputs: tuple[str, ...], accept_scopes: tuple[str, ...],
         max_age: int | None, platform: str | None,
         serials: tuple[str, ...], udids: tuple[str, ...], adb_server: str | None, timeout: float,
         signature_paths: tuple[str, ...], policies: tuple[str, ...], fmt: str, outputs: tuple[str, ...],
         inventory: bool, fail_on: str, quiet: bool) -> int:
    """Scan every attached Android and iOS device (or saved inventories, with
    --input) and report prohibited apps.

    Devices are read concurrently, each within --timeout. A device that could
    not be fully read (locked, not trusted, a refused work profile) is reported
    as such and never counts as clean.
    """
    terminal.quiet = quiet
    check_inputs(ctx, inputs)
    if not inputs and (accept_scopes or max_age is not None):
        given = "--accept-scope" if accept_scopes else "--max-age"
        raise CommandError(f"{given} is about MDM exports and applies with --input only; an attached device is read "
                           f"whole and now")
    check_adb_server(adb_server)
    select = {"android": serials, "ios": udids}
    platforms = chosen_platforms(platform, select) if not inputs else {}
    out_specs = parse_outputs(outputs)
    check_outputs(out_specs, inputs)
    matcher = make_matcher(signature_paths, policies)

    if inputs:
        from scanner.audit import run
        from scanner.connectors.files import FileConnector

        # A JSON report only: each device written out as it is finished (memory stays flat as the fleet grows).
        spooled = fmt == "json" and all(f == "json" for f, _ in out_specs)
        # Without --inventory the report lists only what was found: the large readers keep only what may be.
        lean = None if inventory else matcher.may_find
        report = run([FileConnector(name, keep=matcher.knows, lean=lean) for name in inputs], matcher,
                     inventory=inventory, fail_on=fail_on, inputs=inputs, accept_scopes=tuple(dict.fromkeys(accept_scopes)),
                     max_age=max_age, spooled=spooled)
    else:
        from scanner import live

        with terminal.progress() as progress:
            transports = live.open_transports(platforms, select=select, addresses={"android": adb_server},
                                              timeout=timeout, notify=terminal.notify, progress=progress)
            report = live.scan(transports, matcher, inventory=inventory, fail_on=fail_on)
    if not report.summary.devices:
        terminal.notify("no device found: connect a device by USB (Android: enable USB debugging; iPhone: unlock "
                        "it and tap Trust), then run again; `scanner devices` shows what is attached")
    try:
        return deliver(report, fmt, out_specs)
    finally:
        spool = getattr(report, "spool", None)
        if spool is not None:
            spool.close()
