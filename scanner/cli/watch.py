"""`scanner watch`: the USB-hub intake station. Plug a phone in, read its verdict.

The engine is scanner/intake.py. stdout gets one verdict line per scanned
device (scanner/formats/verdict.py), flushed at once; notes (attached,
unplugged, transport trouble) go to stderr. `--output jsonl=PATH` appends
one JSON object per scanned device (scanner/formats/jsonl.py).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from typing import IO

import click

from scanner.cli.options import (
    ADB_SERVER_OPTION,
    CONFIG_OPTION,
    POLICY_OPTION,
    SIGNATURES_OPTION,
    check_adb_server,
    chosen_platforms,
    fail_on_option,
    make_matcher,
    platform_option,
    quiet_option,
    timeout_option,
)
from scanner.cli.output import CommandError, echo_error
from scanner.cli.terminal import NO_COLOR_OPTION, Terminal, pass_terminal
from scanner.model import EXIT_INCOMPLETE, EXIT_USAGE

__all__ = ["watch"]


def open_jsonl(values: tuple[str, ...]) -> tuple[str, IO[bytes]] | None:
    """The --output jsonl=PATH file, opened for appending now (a path that cannot be written fails before any scan)."""
    if not values:
        return None
    if len(values) > 1:
        raise CommandError("--output can be given once for watch (jsonl=PATH)")
    fmt, sep, path = values[0].partition("=")
    if fmt != "jsonl" or not sep or not path:
        raise CommandError(f"--output {values[0]!r}: watch writes jsonl=PATH (one JSON object per scanned device)")
    if path == "-":
        raise CommandError("--output jsonl=-: stdout gets the verdict lines; give a file name")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError as err:
        raise CommandError(f"--output jsonl={path}: cannot write: {err.strerror or err}") from None
    return path, os.fdopen(fd, "ab", buffering=0)


def device_name(result, transport: str) -> str:
    """ "SM-S911B SIMGALAXYS23B (via 127.0.0.1:43511)": model and hardware serial, the transport where it differs."""
    from scanner.terminal.text import safe

    d = result.device
    name = " ".join(safe(x, limit=60) for x in dict.fromkeys((d.model, d.serial)) if x) or safe(transport, limit=80)
    return name + (f" (via {safe(transport, limit=80)})" if d.serial and transport != d.serial else "")


def named(message: str, known: dict[tuple[str, str], str]) -> str:
    """`android 127.0.0.1:43511: unplugged` as `android SM-S911B SIMGALAXYS23B (via 127.0.0.1:43511): unplugged`."""
    from scanner.terminal.text import safe

    for (platform, transport), name in list(known.items()):
        prefix = f"{platform} {safe(transport, limit=200)}:"
        if message.startswith(prefix):
            return f"{platform} {name}:{message[len(prefix):]}"
    return message


def never_read_text(never: list[tuple[tuple[str, str], str]], known: dict[tuple[str, str], str] | None = None) -> str:
    """`android 127.0.0.1:5555 (seen offline, never read), ios 0000... (stopped while it was being read)`; a device
    read earlier in the session by what was last known of it."""
    from scanner.intake import READING
    from scanner.terminal.text import safe

    def why(state: str) -> str:
        return "(stopped while it was being read)" if state == READING else f"(seen {safe(state)}, never read)"

    known = known or {}
    return ", ".join(f"{platform} {known.get((platform, serial)) or safe(serial, limit=80)} {why(state)}"
                     for (platform, serial), state in never)


@click.command()
@platform_option("Which devices to watch for: {}.")
@ADB_SERVER_OPTION
@timeout_option("Time allowed for each device's scan.")
@SIGNATURES_OPTION
@POLICY_OPTION
@CONFIG_OPTION
@fail_on_option("Lowest severity that counts as a finding in the verdicts and the exit code.")
@click.option("--output", "-o", "outputs", multiple=True, metavar="jsonl=PATH",
              help="Append one JSON object per scanned device to PATH.")
@quiet_option("Only the verdict lines (and errors): no notes, no progress.")
@click.option("--remove", "remove", is_flag=True,
              help="Remove what each device's scan finds (as `scanner remove` would, without asking: needs --yes), "
                   "rescan it, and give the after-state as its verdict.")
@click.option("--yes", "-y", is_flag=True, help="With --remove: remove without asking.")
@click.option("--record", "record_path", metavar="PATH",
              help="With --remove: the removal record [default: $XDG_STATE_HOME/scanner/removals.jsonl].")
@NO_COLOR_OPTION
@pass_terminal
def watch(terminal: Terminal, platform: str | None, adb_server: str | None, timeout: float,
          signature_paths: tuple[str, ...], policies: tuple[str, ...], fail_on: str, outputs: tuple[str, ...],
          quiet: bool, remove: bool, yes: bool, record_path: str | None) -> int:
    """Scan each device as it is plugged in, until Ctrl-C: the USB-hub intake station.

    Devices already attached are scanned at once, then every device plugged
    in (adb track-devices, usbmuxd Listen) gets one verdict line on stdout.
    A device plugged in again is scanned again; an Android phone shown as
    unauthorized is scanned again once the prompt is accepted.

    On Ctrl-C or SIGTERM: a summary on stderr, and the exit code over the
    last verdict of every device seen (0 clean, 1 findings, 4 some device
    not fully read or none scanned, 5 both; 2 usage), where a finding seen
    earlier in the session is never wiped by a later verdict of the same
    name (clones that share a serial look alike). A scan cut short by
    the stop is not reported, and its device, like one that stayed offline,
    counts as not fully read: the summary names every device never read.
    """
    terminal.quiet = quiet
    check_adb_server(adb_server)
    platforms = chosen_platforms(platform, {})
    jsonl = open_jsonl(outputs)
    matcher = make_matcher(signature_paths, policies)
    remover = None
    if remove:  # the only door from watch into removal code (tests/test_remove_import_rules.py)
        if not yes:
            raise CommandError("watch --remove removes from every phone plugged in without asking: give --yes too")
        from scanner.removal import RecordError, WatchRemover, default_record_path

        try:
            remover = WatchRemover(record_path or default_record_path(), timeout=timeout, notify=terminal.notify,
                                   policies=[p.id for p in matcher.policy_refs()])
        except RecordError as err:
            raise CommandError(f"{err}; nothing was watched (--record PATH writes it elsewhere)") from None
    elif yes or record_path:
        raise CommandError("--yes and --record go with --remove")

    from scanner import connectors
    from scanner.formats.jsonl import device_record
    from scanner.formats.verdict import verdict_line
    from scanner.intake import Intake

    write_lock = threading.Lock()
    known: dict[tuple[str, str], str] = {}  # (platform, transport) -> the device's name as last read
    failures: list[str] = []
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    screen = terminal.options(sys.stdout)  # colour and width of the verdict lines: a terminal's, or none
    import datetime

    day = datetime.date.today()  # a line of another day carries its date
    with terminal.progress() as display:

        def on_report(report, trigger: str, key: tuple[str, str]) -> None:
            for result in report.results[:1]:
                known[key] = device_name(result, key[1])
            with write_lock:
                if display is not None:
                    display.forget(*key)
                for result in report.results:
                    try:
                        with display.suspended() if display is not None else contextlib.nullcontext():
                            click.echo(verdict_line(result, fail_on, key[1], color=screen.color, width=screen.width,
                                                    day=day))
                            sys.stdout.flush()
                    except OSError:
                        pass  # a reader that went away: the jsonl file and the exit code still count
                    if jsonl is not None:
                        try:
                            jsonl[1].write(device_record(result, report, trigger))
                            os.fsync(jsonl[1].fileno())
                        except OSError as err:
                            if not failures:
                                echo_error(f"--output jsonl={jsonl[0]}: could not append: {err.strerror or err}")
                            failures.append(str(err))

        def notify(message: str) -> None:
            """A tracker's note names the device by its transport: by what was last known of it, where known."""
            terminal.notify(named(message, known))

        intake = Intake(platforms=platforms, addresses={"android": adb_server}, timeout=timeout, matcher=matcher,
                        fail_on=fail_on, on_report=on_report, notify=notify, progress=display,
                        remover=remover)
        watching = " and ".join(e.platform for e in connectors.TRANSPORTS if e.platform in platforms)
        terminal.notify(f"watching for {watching} devices; plug one in to scan it, Ctrl-C to stop")
        intake.start()
        try:
            while not stop.wait(0.2):
                pass
        finally:
            if remover is not None:
                remover.close()  # no removal after the stop; those under way are answered and recorded
            intake.close()
            if jsonl is not None:
                jsonl[1].close()
    summary = intake.report()
    if summary is None:
        terminal.notify("watch stopped: no device was scanned")
        return EXIT_INCOMPLETE
    from collections import Counter

    from scanner.model import device_verdict

    words = Counter(device_verdict(r, fail_on) for r in summary.results)
    scans, devices = intake.scans, len(summary.results)
    terminal.notify(f"watch stopped: {scans} scan{'' if scans == 1 else 's'} of {devices} "
                    f"device{'' if devices == 1 else 's'}: "
                    + ", ".join(f"{n} {w}" for w, n in sorted(words.items())) + f"; exit {summary.exit_code}")
    never = intake.never_read()
    if never:
        terminal.notify(f"never read, so not fully read (counted in the exit code): {never_read_text(never, known)}")
    for transport in intake.unanswered():
        terminal.notify(f"not answering when watch stopped, so devices behind it may be unseen (counted in the "
                        f"exit code): {transport.message}")
    if failures:
        return EXIT_USAGE  # the evidence file is incomplete: the contract's "report not written"
    return summary.exit_code
