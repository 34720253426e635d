"""`scanner watch`: the USB-hub intake station. Plug a phone in, read its verdict.

Registered on the `scanner` group by scanner/cli.py; the engine is
scanner/intake.py. stdout gets one verdict line per scanned device, flushed
at once; notes (attached, unplugged, transport trouble) go to stderr.

`--output jsonl=PATH` appends one JSON object per scanned device, one line
each, written in one write and synced, to a file readable by its owner only.
The object is the device's entry of the JSON report (device, status, reason,
message, verdict, app_count, coverage, problems, problem_count, findings;
see docs/json-report.md) plus:

    scanned_at   when the scan finished (UTC, ISO 8601)
    trigger      "attached", or "authorized" for a phone scanned again once its
                 "Allow USB debugging?" prompt was accepted
    exit_code    the code a scan of this device alone gives (0, 1, 4, 5)
    policies     the ids of the policies checked
    tool         {"name": "scanner", "version": ...}
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
from typing import IO

import click

from scanner.cli import (
    ADB_SERVER_OPTION,
    EXIT_USAGE,
    PLATFORM_CHOICE,
    POLICY_OPTION,
    SIGNATURES_OPTION,
    check_adb_server,
    echo_error,
    fail_on_option,
    fail_usage,
    live_progress,
    main,
    make_matcher,
    notify,
    pick_platforms,
    quiet_option,
    timeout_option,
)
from scanner.model import EXIT_INCOMPLETE


def open_jsonl(values: tuple[str, ...]) -> tuple[str, IO[bytes]] | None:
    """The --output jsonl=PATH file, opened for appending now (a path that cannot be written fails before any scan)."""
    if not values:
        return None
    if len(values) > 1:
        fail_usage("--output can be given once for watch (jsonl=PATH)")
    fmt, sep, path = values[0].partition("=")
    if fmt != "jsonl" or not sep or not path:
        fail_usage(f"--output {values[0]!r}: watch writes jsonl=PATH (one JSON object per scanned device)")
    if path == "-":
        fail_usage("--output jsonl=-: stdout gets the verdict lines; give a file name")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError as err:
        fail_usage(f"--output jsonl={path}: cannot write: {err.strerror or err}")
    return path, os.fdopen(fd, "ab", buffering=0)


def verdict_line(result, fail_on: str, transport: str | None = None) -> str:
    """One line an admin at the hub reads: when, which device, the verdict, what was found or what to do.

    `transport`: what watch knows the device by (adb transport serial, USB path); shown beside the hardware
    serial when it differs, since two clones report one ro.serialno and only this tells their lines apart.
    """
    from scanner.terminal.text import safe
    from scanner.model import SEVERITIES, device_verdict

    d = result.device
    label = " ".join(safe(x, limit=60) for x in dict.fromkeys((d.name, d.model)) if x) or "-"
    if transport and transport != d.serial:
        label += f" (via {safe(transport, limit=80)})"
    word = device_verdict(result, fail_on)
    parts = [time.strftime("%H:%M:%S"), f"{d.platform or '?':<7}", safe(d.serial or d.source, limit=80), label,
             word.upper()]
    details = []
    for severity in SEVERITIES:
        names = dict.fromkeys(safe(f.listed) for f in result.findings if f.severity == severity)
        if names:
            details.append(f"{severity}: " + ", ".join(names))
    if result.status != "complete":
        details.append(safe(result.message or result.reason or result.status, limit=400))
    elif not result.findings:
        details.append(f"{result.app_count} apps read, nothing listed")
    return "  ".join(parts) + ("  " + "; ".join(details) if details else "")


def never_read_text(never: list[tuple[tuple[str, str], str]]) -> str:
    """`android 127.0.0.1:5555 (seen offline, never read), ios 0000... (stopped while it was being read)`."""
    from scanner.terminal.text import safe
    from scanner.intake import READING

    def why(state: str) -> str:
        return "(stopped while it was being read)" if state == READING else f"(seen {safe(state)}, never read)"

    return ", ".join(f"{platform} {safe(serial, limit=80)} {why(state)}" for (platform, serial), state in never)


def jsonl_record(result, report, why: str) -> bytes:
    from scanner.formats.json_report import _device, timestamp

    record = {
        "scanned_at": timestamp(report.finished),
        "trigger": why,
        "exit_code": report.exit_code,
        "policies": [p.id for p in report.policies],
        "tool": {"name": report.tool, "version": report.version},
        **_device(result, report),
    }
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


@main.command()
@click.option("--platform", type=PLATFORM_CHOICE, default=None,
              help="Which devices to watch for: android, ios or all (default: all).")
@ADB_SERVER_OPTION
@timeout_option("Time allowed for each device's scan.")
@SIGNATURES_OPTION
@POLICY_OPTION
@fail_on_option("Lowest severity that counts as a finding in the verdicts and the exit code.")
@click.option("--output", "-o", "outputs", multiple=True, metavar="jsonl=PATH",
              help="Append one JSON object per scanned device to PATH.")
@quiet_option("Only the verdict lines (and errors): no notes, no progress.")
def watch(platform: str | None, adb_server: str | None, timeout: float, signature_paths: tuple[str, ...],
          policies: tuple[str, ...], fail_on: str, outputs: tuple[str, ...], quiet: bool) -> None:
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
    check_adb_server(adb_server)
    platforms = pick_platforms(platform, (), ())
    jsonl = open_jsonl(outputs)
    signatures, matcher = make_matcher(signature_paths, policies)

    from scanner.intake import Intake

    write_lock = threading.Lock()
    failures: list[str] = []
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with live_progress(quiet) as display:

        def on_report(report, why: str, key: tuple[str, str]) -> None:
            with write_lock:
                if display is not None:
                    display.forget(*key)
                for result in report.results:
                    try:
                        with display.suspended() if display is not None else contextlib.nullcontext():
                            click.echo(verdict_line(result, fail_on, key[1]))
                            sys.stdout.flush()
                    except OSError:
                        pass  # a reader that went away: the jsonl file and the exit code still count
                    if jsonl is not None:
                        try:
                            jsonl[1].write(jsonl_record(result, report, why))
                            os.fsync(jsonl[1].fileno())
                        except OSError as err:
                            if not failures:
                                echo_error(f"--output jsonl={jsonl[0]}: could not append: {err.strerror or err}")
                            failures.append(str(err))

        intake = Intake(platforms=platforms, adb_server=adb_server, usbmuxd=None, timeout=timeout,
                        signatures=signatures, matcher=matcher, fail_on=fail_on, on_report=on_report,
                        notify=notify, progress=display)
        watching = " and ".join(p for p in ("android", "ios") if p in platforms)
        notify(f"watching for {watching} devices; plug one in to scan it, Ctrl-C to stop")
        intake.start()
        try:
            while not stop.wait(0.2):
                pass
        finally:
            intake.close()
            if jsonl is not None:
                jsonl[1].close()
    summary = intake.report()
    if summary is None:
        notify("watch stopped: no device was scanned")
        sys.exit(EXIT_INCOMPLETE)
    from collections import Counter

    from scanner.model import device_verdict

    words = Counter(device_verdict(r, fail_on) for r in summary.results)
    notify(f"watch stopped: {intake.scans} scan(s) of {len(summary.results)} device(s): "
           + ", ".join(f"{n} {w}" for w, n in sorted(words.items())) + f"; exit {summary.exit_code}")
    never = intake.never_read()
    if never:
        notify(f"never read, so not fully read (counted in the exit code): {never_read_text(never)}")
    for transport in intake.unanswered():
        notify(f"not answering when watch stopped, so devices behind it may be unseen (counted in the exit "
               f"code): {transport.message}")
    if failures:
        sys.exit(EXIT_USAGE)  # the evidence file is incomplete: the contract's "report not written"
    sys.exit(summary.exit_code)

