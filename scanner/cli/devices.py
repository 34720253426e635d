"""`scanner devices`: what is attached, and what to do for each device not ready to scan."""

from __future__ import annotations

import sys

import click

from scanner.cli.options import check_adb_server, chosen_platforms, device_options, timeout_option
from scanner.cli.output import write_stdout
from scanner.cli.terminal import NO_COLOR_OPTION, Terminal, pass_terminal
from scanner.model import EXIT_INCOMPLETE

__all__ = ["devices"]


@click.command()
@device_options
@timeout_option("Time allowed for each device to answer.", default=10)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Format written to stdout.")
@NO_COLOR_OPTION
@pass_terminal
def devices(terminal: Terminal, platform: str | None, serials: tuple[str, ...], udids: tuple[str, ...],
            adb_server: str | None, timeout: float, fmt: str) -> int:
    """List attached Android and iOS devices, and what to do for each one
    that cannot be scanned yet.

    Exit 0 when every device is ready to scan, 4 when one is not or none is
    attached, 2 on a usage error.
    """
    check_adb_server(adb_server)
    select = {"android": serials, "ios": udids}
    platforms = chosen_platforms(platform, select)
    from scanner import live

    transports = live.open_transports(platforms, select=select, addresses={"android": adb_server}, timeout=timeout,
                                      notify=terminal.notify)
    found, problems = live.list_devices(transports)
    from scanner.cli.devices_screen import write_devices

    screen = terminal.options(sys.stdout)
    write_stdout(lambda out: write_devices(found, problems, out, fmt, color=screen.color, width=screen.width))
    ready = bool(found) and not problems and all(d.state == "ready" for d in found)
    if not found and not problems:
        terminal.notify("no device found: connect a device by USB (Android: enable USB debugging; iPhone: unlock "
                        "it and tap Trust)")
    return 0 if ready else EXIT_INCOMPLETE
