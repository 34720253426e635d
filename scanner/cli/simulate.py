"""`scanner simulate` and `scanner demo`: the emulated fleet, served to other programs or scanned at once.

Registered on the `scanner` group by scanner/cli.py. Module-level imports stay
light (click and scanner.cli): the simulators are imported when a command runs.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from typing import Sequence

import click

from scanner.cli import (
    EXIT_CODES_HELP,
    EXIT_USAGE,
    _Terminal,
    check_outputs,
    deliver,
    echo_error,
    live_connectors,
    live_progress,
    main,
    make_matcher,
    notify,
    parse_outputs,
    report_options,
)

PROFILE_HELP = ("A device profile (TOML; see the bundled one: `scanner simulate --print-profile`). "
                "Default: the demo fleet.")


def load_fleet_profile(path: str | None):
    """The profile's devices, or exit 2 listing every problem in the file."""
    from scanner.terminal.text import safe
    from scanner.simulator.profile import ProfileError, default_profile_path, load_profile

    path = path or str(default_profile_path())
    try:
        profile = load_profile(path)
    except ProfileError as err:
        click.echo(f"scanner: error: the profile {safe(path)} cannot be used:", err=True)
        for problem in err.problems:
            click.echo(f"  {safe(problem, limit=1000)}", err=True)
        sys.exit(EXIT_USAGE)
    if not profile.devices:
        echo_error(f"the profile {path} has no [[device]]; add at least one")
        sys.exit(EXIT_USAGE)
    return profile.devices


def describe(devices: Sequence) -> list[str]:
    from scanner.terminal.text import safe

    lines = []
    for d in devices:
        label = " ".join(safe(x) for x in (d.name, d.model) if x)
        lines.append(f"  {d.platform:<7} {safe(d.serial):<28} {label}")
    return lines


def start_fleet(devices: Sequence, adb_port: int | None = None, usbmuxd_port: int | None = None):
    from scanner.simulator.android import SimulatorError
    from scanner.simulator.fleet import Fleet

    fleet = Fleet(devices, adb_port=adb_port, usbmuxd_port=usbmuxd_port, every_transport=True)
    try:
        return fleet.start()
    except (SimulatorError, OSError, ValueError) as err:
        echo_error(f"the emulated devices could not be started: {err}")
        sys.exit(EXIT_USAGE)


@main.command()
@click.option("--profile", "profile_path", type=click.Path(dir_okay=False), metavar="FILE", help=PROFILE_HELP)
@click.option("--adb-port", type=click.IntRange(1024, 65535), metavar="PORT",
              help="Port for the emulated devices' adb server (default: a free one; never 5037).")
@click.option("--usbmuxd-port", type=click.IntRange(1024, 65535), metavar="PORT",
              help="Port for the emulated usbmuxd (default: a free one).")
@click.option("--commands", is_flag=True,
              help="Read commands on stdin, one per line: `detach SERIAL`, `attach SERIAL`, `authorize SERIAL` "
                   "(an unauthorized phone's prompt accepted), `list`, `stop`; "
                   "each is answered on stdout with `ok ...` or `error: ...`.")
@click.option("--print-profile", is_flag=True, help="Print the bundled demo profile (a template) and exit.")
@click.option("--quiet", "-q", is_flag=True, help="Only the export lines and `ready` (and errors).")
def simulate(profile_path: str | None, adb_port: int | None, usbmuxd_port: int | None, commands: bool,
             print_profile: bool, quiet: bool) -> None:
    """Serve emulated Android and iOS devices until Ctrl-C, for your own scripts.

    Android devices sit behind a private adb server (the real one, bundled
    with adbutils), iPhones behind an emulated usbmuxd, both on 127.0.0.1.
    First come the lines a client needs, then `ready`:

    \b
        export ANDROID_ADB_SERVER_PORT=41234
        export USBMUXD_SOCKET_ADDRESS=127.0.0.1:41235
        ready

    Set those in another shell and `scanner scan`, `scanner watch`, `adb
    devices` and `pymobiledevice3 usbmux list` see the devices. Ctrl-C or
    SIGTERM stops everything it started; on Linux its adb server dies with
    it even when it is killed outright (SIGKILL). `ready` is printed only
    once the adb server answers. Exit 0 when stopped, 2 when the profile is
    unusable, the devices could not be started, or the adb server died.
    """
    if print_profile:
        from scanner.simulator.profile import default_profile_path

        click.echo(default_profile_path().read_text(encoding="utf-8"), nl=False)
        return
    from scanner.simulator.adbd import FORBIDDEN_PORTS

    if adb_port in FORBIDDEN_PORTS:
        echo_error(f"--adb-port {adb_port}: that port belongs to a real adb server or emulator; pick another")
        sys.exit(EXIT_USAGE)
    _Terminal.quiet = quiet
    devices = load_fleet_profile(profile_path)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    # Ctrl-C and SIGTERM end the serving loop; the fleet is then stopped in this thread.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    fleet = start_fleet(devices, adb_port, usbmuxd_port)
    try:
        from scanner.simulator.android import SimulatorError

        try:
            fleet.check()  # `ready` is a promise that the servers answer: never made for a dead one
        except SimulatorError as err:
            echo_error(f"the emulated devices could not be started: {err}")
            sys.exit(EXIT_USAGE)
        try:
            for name, value in fleet.env.items():
                click.echo(f"export {name}={value}")
            click.echo("ready")
            sys.stdout.flush()
        except OSError as err:  # nobody can learn the addresses: no point serving
            echo_error(f"could not write the addresses to stdout: {err.strerror or err}")
            sys.exit(EXIT_USAGE)
        notify(f"serving {len(devices)} emulated device(s) on 127.0.0.1 until Ctrl-C:")
        if not quiet:
            click.echo("\n".join(describe(devices)), err=True)
        if commands:
            threading.Thread(target=_serve_commands, args=(fleet, stop), name="simulate-commands",
                             daemon=True).start()
        while not stop.wait(0.2):
            gone = fleet.exited()
            # A Ctrl-C at a terminal reaches the server too (same process group): that is a stop, not a death.
            if gone and not stop.wait(1.0):  # a client following this fleet must see it end, not a dead fleet
                echo_error(f"{gone}; the emulated Android devices cannot be reached any more, stopping")
                sys.exit(EXIT_USAGE)
    finally:
        fleet.stop()
    notify("stopped; every emulated device and the adb server are gone")
    sys.exit(0)


def _serve_commands(fleet, stop: threading.Event) -> None:
    """Plug and unplug devices of the profile while serving: for testing `scanner watch` and intake scripts."""
    from scanner.terminal.text import safe

    lock = threading.Lock()

    def answer(text: str) -> None:
        with lock:
            try:
                click.echo(text)
                sys.stdout.flush()
            except OSError:
                pass

    for raw in sys.stdin:
        words = raw.split()
        if not words:
            continue
        verb, args = words[0].lower(), words[1:]
        try:
            if verb == "stop":
                answer("ok stopping")
                stop.set()
                return
            if verb == "list":
                for serial in sorted(fleet.profiles):
                    state = "attached" if serial in fleet.attached else "detached"
                    answer(f"ok {fleet.profiles[serial].platform} {safe(serial)} {state}")
                answer("ok")
            elif verb in ("attach", "detach", "authorize") and len(args) == 1:
                getattr(fleet, verb)(args[0])
                answer(f"ok {verb}{'d' if verb.endswith('e') else 'ed'} {safe(args[0])}")
            else:
                answer(f"error: unknown command {safe(raw.strip(), limit=200)}; "
                       "expected attach SERIAL, detach SERIAL, authorize SERIAL, list or stop")
        except (KeyError, ValueError, RuntimeError, OSError) as err:
            text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)  # KeyError quotes
            answer(f"error: {safe(text, limit=400)}")
        except Exception as err:  # noqa: BLE001 - a simulator failure must not kill the command loop silently
            answer(f"error: {type(err).__name__}: {safe(str(err), limit=400)}")


@main.command(epilog=EXIT_CODES_HELP)
@click.option("--profile", "profile_path", type=click.Path(dir_okay=False), metavar="FILE", help=PROFILE_HELP)
@report_options
def demo(profile_path: str | None, timeout: float, signature_paths: tuple[str, ...], policies: tuple[str, ...],
         fmt: str, outputs: tuple[str, ...], inventory: bool, fail_on: str, quiet: bool) -> None:
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
    _Terminal.quiet = quiet
    out_specs = parse_outputs(outputs)
    check_outputs(out_specs, ())
    signatures, matcher = make_matcher(signature_paths, policies)
    devices = load_fleet_profile(profile_path)

    from scanner.live import scan as scan_live

    platforms = sorted({d.platform for d in devices})
    fleet = start_fleet(devices)
    try:
        counts = ", ".join(f"{sum(d.platform == p for d in devices)} {'Android' if p == 'android' else 'iOS'}"
                           for p in platforms)
        notify(f"demo: scanning {len(devices)} emulated devices ({counts}) through a private adb server on "
               f"{fleet.adb_server or '-'} and an emulated usbmuxd on {fleet.usbmuxd or '-'}; "
               "no real device is read")
        records: contextlib.AbstractContextManager = contextlib.nullcontext()
        if "ios" in platforms:  # the emulated iPhones' pair records: never in the user's real folder
            from scanner.connectors.ios.connector import private_pair_records

            records = private_pair_records()
        with records, live_progress(quiet) as progress:
            connectors = live_connectors({p: True for p in platforms}, (), (), timeout, fleet.adb_server,
                                         progress, usbmuxd=fleet.usbmuxd)
            report = scan_live(connectors, matcher, inventory=inventory, fail_on=fail_on)
    finally:
        fleet.stop()
    deliver(report, fmt, out_specs)
