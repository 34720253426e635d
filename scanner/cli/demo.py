"""`scanner demo`: the emulated fleet started in this process and scanned at once, exactly as `scan` scans."""

from __future__ import annotations

import contextlib

import click

from scanner.cli.fleet import PROFILE_HELP, load_fleet_profile, start_fleet
from scanner.cli.options import EXIT_CODES_HELP, make_matcher, report_options
from scanner.cli.output import check_outputs, deliver, parse_outputs
from scanner.cli.terminal import Terminal, pass_terminal

__all__ = ["demo"]


@click.command(epilog=EXIT_CODES_HELP)
@click.option("--profile", "profile_path", type=click.Path(dir_okay=False), metavar="FILE", help=PROFILE_HELP)
@report_options
@pass_terminal
def demo(terminal: Terminal, profile_path: str | None, timeout: float, signature_paths: tuple[str, ...],
         policies: tuple[str, ...], fmt: str, outputs: tuple[str, ...], inventory: bool, fail_on: str,
         quiet: bool) -> int:
    """Scan a fleet of emulated devices: see what a real scan shows, no phone needed.

    Starts four emulated devices in this process (a clean Pixel; a Galaxy
    with CamScanner, SHAREit, WPS Office, decoys and a work profile it
    refuses to list; an iPhone with WeChat, QQ and Alipay; a locked iPhone),
    scans them through the real adb server and pymobiledevice3 exactly as
    `scanner scan` scans attached devices, and exits with the code that scan
    gives: 5 for the demo fleet (prohibited apps found, and devices that
    could not be fully read). Nothing on this computer or any real device is
    read or changed.
    """
    terminal.quiet = quiet
    out_specs = parse_outputs(outputs)
    check_outputs(out_specs, ())
    matcher = make_matcher(signature_paths, policies)
    devices = load_fleet_profile(profile_path)

    from scanner import live

    platforms = sorted({d.platform for d in devices})
    fleet = start_fleet(devices)
    try:
        counts = ", ".join(f"{sum(d.platform == p for d in devices)} {'Android' if p == 'android' else 'iOS'}"
                           for p in platforms)
        terminal.notify(f"demo: scanning {len(devices)} emulated devices ({counts}) through a private adb server "
                        f"on {fleet.adb_server or '-'} and an emulated usbmuxd on {fleet.usbmuxd or '-'}; "
                        "no real device is read")
        records: contextlib.AbstractContextManager = contextlib.nullcontext()
        if "ios" in platforms:  # the emulated iPhones' pair records: never in the user's real folder
            from scanner.connectors.ios.pairing import private_pair_records

            records = private_pair_records()
        with records, terminal.progress() as progress:
            transports = live.open_transports({p: True for p in platforms}, timeout=timeout,
                                              addresses={"android": fleet.adb_server, "ios": fleet.usbmuxd},
                                              notify=terminal.notify, progress=progress)
            report = live.scan(transports, matcher, inventory=inventory, fail_on=fail_on)
    finally:
        fleet.stop()
    return deliver(report, fmt, out_specs)
