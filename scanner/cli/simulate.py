"""`scanner simulate`: the emulated fleet, served to other programs until Ctrl-C.

Module-level imports stay light (click and the CLI's helpers): the
simulators are imported when the command runs.
"""

from __future__ import annotations

import signal
import sys
import threading

import click

from scanner.cli.fleet import PROFILE_HELP, fleet_lines, load_fleet_profile, start_fleet
from scanner.cli.output import CommandError
from scanner.cli.terminal import Terminal, pass_terminal

__all__ = ["simulate"]


@click.command()
@click.option("--profile", "profile_path", type=click.Path(dir_okay=False), metavar="FILE", help=PROFILE_HELP)
@click.option("--adb-port", type=click.IntRange(1024, 65535), metavar="PORT",
              help="Port for the emulated devices' adb server (default: a free one; never 5037).")
@click.option("--usbmuxd-port", type=click.IntRange(1024, 65535), metavar="PORT",
              help="Port for the emulated usbmuxd (default: a free one).")
@click.option("--commands", is_flag=True,
              help="Read commands on stdin, one per line: `detach SERIAL`, `attach SERIAL`, `authorize SERIAL` "
                   "(an unauthorized phone's prompt accepted), `list`, `help`, `stop`; "
                   "each is answered on stdout with `ok ...` or `error: ...`.")
@click.option("--print-profile", is_flag=True, help="Print the bundled demo profile (a template) and exit.")
@click.option("--quiet", "-q", is_flag=True, help="Only the export lines and `ready` (and errors).")
@pass_terminal
def simulate(terminal: Terminal, profile_path: str | None, adb_port: int | None, usbmuxd_port: int | None,
             commands: bool, print_profile: bool, quiet: bool) -> int:
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
        return 0
    from scanner.simulator.adbd import FORBIDDEN_PORTS

    if adb_port in FORBIDDEN_PORTS:
        raise CommandError(f"--adb-port {adb_port}: that port belongs to a real adb server or emulator; pick another")
    terminal.quiet = quiet
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
            raise CommandError(f"the emulated devices could not be started: {err}") from None
        try:
            for name, value in fleet.env.items():
                click.echo(f"export {name}={value}")
            click.echo("ready")
            sys.stdout.flush()
        except OSError as err:  # nobody can learn the addresses: no point serving
            raise CommandError(f"could not write the addresses to stdout: {err.strerror or err}") from None
        terminal.notify(f"serving {len(devices)} emulated device(s) on 127.0.0.1 until Ctrl-C:")
        if not quiet:
            click.echo("\n".join(fleet_lines(devices)), err=True)
        if commands:
            threading.Thread(target=_serve_commands, args=(fleet, stop), name="simulate-commands",
                             daemon=True).start()
        while not stop.wait(0.2):
            gone = fleet.exited()
            # A Ctrl-C at a terminal reaches the server too (same process group): that is a stop, not a death.
            if gone and not stop.wait(1.0):  # a client following this fleet must see it end, not a dead fleet
                raise CommandError(f"{gone}; the emulated Android devices cannot be reached any more, stopping")
    finally:
        fleet.stop()
    terminal.notify("stopped; every emulated device and the adb server are gone")
    return 0


_COMMANDS_HELP = (
    "attach SERIAL     plug the device in (a device of the profile)",
    "detach SERIAL     unplug it",
    "authorize SERIAL  accept an unauthorized phone's USB debugging prompt",
    "list              every device of the profile, attached or detached",
    "help              this list",
    "stop              stop serving (as Ctrl-C does)",
)


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
            if verb in ("help", "?"):
                for line in _COMMANDS_HELP:
                    answer(f"ok {line}")
                answer("ok")
            elif verb == "list":
                for serial in sorted(fleet.profiles):
                    state = "attached" if serial in fleet.attached else "detached"
                    answer(f"ok {fleet.profiles[serial].platform} {safe(serial)} {state}")
                answer("ok")
            elif verb in ("attach", "detach", "authorize") and len(args) == 1:
                getattr(fleet, verb)(args[0])
                answer(f"ok {verb}{'d' if verb.endswith('e') else 'ed'} {safe(args[0])}")
            else:
                answer(f"error: unknown command {safe(raw.strip(), limit=200)}; "
                       "expected attach SERIAL, detach SERIAL, authorize SERIAL, list, help or stop")
        except (KeyError, ValueError, RuntimeError, OSError) as err:
            text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)  # KeyError quotes
            answer(f"error: {safe(text, limit=400)}")
        except Exception as err:  # noqa: BLE001 - a simulator failure must not kill the command loop silently
            answer(f"error: {type(err).__name__}: {safe(str(err), limit=400)}")
