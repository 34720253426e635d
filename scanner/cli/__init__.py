"""Command line: parse options, call the audit, write formats, exit with the contract's code.

Imports of anything heavy (tabulate, device libraries) happen inside the
commands that need them, so `scanner --help` and `scanner signatures list`
start fast.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import math
import os
import signal
import sys
import tempfile
from typing import IO, Callable, Sequence

import click

from scanner import __version__
from scanner.model import EXIT_INCOMPLETE, EXIT_USAGE, FAIL_ON

# format name -> (module, function): one module per format.
FORMATS: dict[str, tuple[str, str]] = {
    "table": ("scanner.formats.table", "write_table"),
    "json": ("scanner.formats.json_report", "write_json"),
    "csv": ("scanner.formats.csv_report", "write_csv"),
    "sarif": ("scanner.formats.sarif", "write_sarif"),
}

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


def writer(fmt: str) -> Callable:
    module, function = FORMATS[fmt]
    return getattr(importlib.import_module(module), function)


def echo_error(message: str) -> None:
    from scanner.terminal.text import safe  # the message may quote a path or option the user typed

    click.echo(f"scanner: error: {safe(message, limit=1000)}", err=True)


def fail_usage(message: str) -> None:
    echo_error(message)
    sys.exit(EXIT_USAGE)


def load_or_exit(signature_paths: Sequence[str]):
    from scanner.signatures import SignatureError, load_signatures

    try:
        return load_signatures(signature_paths)
    except SignatureError as err:
        from scanner.terminal.text import safe

        click.echo("scanner: error: the signature files cannot be used:", err=True)
        for problem in err.problems:
            click.echo(f"  {safe(problem, limit=1000)}", err=True)
        sys.exit(EXIT_USAGE)


def parse_outputs(values: Sequence[str]) -> list[tuple[str, str]]:
    outputs = []
    for value in values:
        fmt, sep, path = value.partition("=")
        if not sep or not path or fmt not in FORMATS:
            fail_usage(
                f"--output {value!r}: expected FORMAT=PATH with FORMAT one of {', '.join(FORMATS)} (e.g. json=report.json)"
            )
        outputs.append((fmt, path))
    return outputs


def check_outputs(outputs: list[tuple[str, str]], inputs: Sequence[str]) -> None:
    """Refuse before scanning what could only fail or destroy something after it."""
    reading = {os.path.realpath(i): i for i in inputs if i != "-"}
    seen: dict[str, str] = {}
    for fmt, path in outputs:
        if path == "-":
            fail_usage(f"--output {fmt}=-: stdout gets the --format report; give --output a file name")
        real = os.path.realpath(path)
        if real in reading:
            fail_usage(f"--output {fmt}={path}: that is also an --input; write the report to another file")
        if real in seen:
            fail_usage(f"--output {fmt}={path}: the same file as --output {seen[real]}")
        seen[real] = f"{fmt}={path}"
        if os.path.isdir(real):
            fail_usage(f"--output {fmt}={path}: is a folder; give a file name")
        folder = os.path.dirname(real)
        if not os.path.isdir(folder):
            fail_usage(f"--output {fmt}={path}: cannot write: the folder {folder} does not exist")
        if not os.access(real if os.path.exists(real) else folder, os.W_OK):
            fail_usage(f"--output {fmt}={path}: cannot write: permission denied")


def write_file(write: Callable[[IO[str]], None], path: str) -> None:
    """Write a report file whole or not at all: into a temporary file beside
    it, then renamed over it. The file is readable by its owner only, since it
    describes people's phones. Special files (a FIFO, /dev/stdout) are written
    directly."""
    if os.path.exists(path) and not os.path.isfile(path):
        with open(path, "w", encoding="utf-8", newline="") as out:
            write(out)
        return
    fd, tmp = tempfile.mkstemp(prefix=".scanner-", suffix=".tmp", dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            write(out)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def silence_stdout() -> None:
    """Point stdout at /dev/null, so the flush at exit cannot fail a second time."""
    with contextlib.suppress(OSError, AttributeError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def write_stdout(write: Callable[[IO[str]], None]) -> None:
    """Write to stdout; a reader that went away (`| head`) is not an error,
    a full disk or a closed stdout is (exit 2: the report was not delivered)."""
    if sys.stdout is None:
        fail_usage("stdout is closed; nothing could be written (use --output FORMAT=PATH)")
    try:
        write(sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
    except OSError as err:
        silence_stdout()
        fail_usage(f"could not write the report to stdout: {err.strerror or err}")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="scanner")
def main() -> None:
    """Find prohibited apps (US EO 13971, the federal TikTok ban, or your own
    policies) on Android and iOS devices and in saved app inventories.

    Read-only and offline: it never changes a device and never phones home.
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


EXIT_INTERRUPTED = 130


def interrupted(signum: int, frame: object) -> None:
    name = "interrupted" if signum == signal.SIGINT else "terminated"
    click.echo(f"\nscanner: {name}: nothing was reported", err=True)
    raise SystemExit(EXIT_INTERRUPTED if signum == signal.SIGINT else 128 + signum)


PLATFORM_CHOICE = click.Choice(["android", "ios", "all"])


class _Terminal:
    """What the person at the terminal is shown besides the report: notes, and live progress."""

    quiet = False  # --quiet: no notes, no progress (errors and the report still)
    display = None  # the ProgressDisplay drawing now, if any


def notify(message: str) -> None:
    """A note for the person at the terminal; never on stdout, which carries the report."""
    if _Terminal.quiet:
        return
    from scanner.terminal.text import safe

    line = f"scanner: {safe(message, limit=1000)}"
    if _Terminal.display is not None:
        _Terminal.display.note(line)  # above the live lines, never through them
    else:
        click.echo(line, err=True)


@contextlib.contextmanager
def live_progress(quiet: bool, *, draw: bool = True):
    """Progress lines on stderr while devices are read, when stderr is a terminal and not --quiet.

    Yields the Progress callback for the connectors (None when there is no
    display); the lines are erased before the report is written.
    """
    from scanner.terminal.progress import progress_for

    _Terminal.quiet = quiet
    display = progress_for(sys.stderr, quiet=quiet) if draw else None
    _Terminal.display = display
    try:
        yield display
    finally:
        _Terminal.display = None
        if display is not None:
            display.close()


def check_adb_server(value: str | None) -> None:
    if value is None:
        return
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        fail_usage(f"--adb-server {value!r}: expected HOST:PORT, e.g. 127.0.0.1:5037")


def pick_platforms(platform: str | None, serials: Sequence[str], udids: Sequence[str]) -> dict[str, bool]:
    """Which transports to use, and whether each was asked for by name.

    A platform asked for by name (--platform, --serial, --udid) that cannot be
    reached is a failed target; one only scanned by default is a note, so an
    admin with no iPhones and no usbmuxd still gets a clean exit.
    """
    if any(not value.strip() for value in (*serials, *udids)):
        fail_usage("--serial and --udid need a value; `scanner devices` lists the attached devices")
    if serials and platform == "ios":
        fail_usage("--serial selects Android devices; it cannot be used with --platform ios (use --udid)")
    if udids and platform == "android":
        fail_usage("--udid selects iPhones and iPads; it cannot be used with --platform android (use --serial)")
    if platform in ("android", "ios"):
        return {platform: True}
    if platform is None and (serials or udids):
        return {p: True for p, sel in (("android", serials), ("ios", udids)) if sel}
    return {"android": bool(serials), "ios": bool(udids)}


def live_connectors(platforms: dict[str, bool], serials: Sequence[str], udids: Sequence[str],
                    timeout: float, adb_server: str | None, progress=None, usbmuxd: str | None = None) -> list:
    connectors = []
    if "android" in platforms:
        from scanner.connectors.android.connector import AndroidConnector

        connectors.append(AndroidConnector(adb_server, serials=serials, timeout=timeout, notify=notify,
                                           progress=progress, required=platforms["android"]))
    if "ios" in platforms:
        from scanner.connectors.ios.connector import IOSConnector

        connectors.append(IOSConnector(usbmuxd, udids=udids, timeout=timeout, notify=notify,
                                       progress=progress, required=platforms["ios"]))
    return connectors


ADB_SERVER_OPTION = click.option(
    "--adb-server", metavar="HOST:PORT",
    help="Use this adb server (default: 127.0.0.1 and $ANDROID_ADB_SERVER_PORT or 5037; "
         "started with the bundled adb if none runs there).")
SIGNATURES_OPTION = click.option(
    "--signatures", "signature_paths", multiple=True, metavar="PATH",
    help="Add your own catalog and policy files (a file or a folder). Repeatable.")
POLICY_OPTION = click.option(
    "--policy", "policies", multiple=True, metavar="ID",
    help="Policy to check against (default: us-eo-13971). Repeatable; 'all' for every loaded policy.")


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
        click.option("--platform", type=PLATFORM_CHOICE, default=None,
                     help="Which attached devices: android, ios or all (default: all)."),
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
        click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default="table", show_default=True,
                     help="Format written to stdout."),
        click.option("--output", "-o", "outputs", multiple=True, metavar="FORMAT=PATH",
                     help="Also write FORMAT to PATH (e.g. json=report.json). Repeatable."),
        click.option("--inventory", is_flag=True,
                     help="Include every app read, not only findings (off by default: reports about "
                          "employees' phones should hold as little as they need)."),
        fail_on_option("Lowest severity that makes the exit code 1 (or 5)."),
        quiet_option("No progress lines and no notes on stderr (errors and the report still). "
                     "Progress is only ever drawn when stderr is a terminal."),
    )):
        command = option(command)
    return command


def make_matcher(signature_paths: Sequence[str], policies: Sequence[str]):
    """Load the signatures and build the matcher, or exit 2 saying what is wrong."""
    signatures = load_or_exit(signature_paths)
    from scanner.matcher import Matcher
    from scanner.signatures import SignatureError

    try:
        return signatures, Matcher(signatures, policies)
    except SignatureError as err:
        for problem in err.problems:
            echo_error(problem)
        sys.exit(EXIT_USAGE)


def deliver(report, fmt: str, out_specs: list[tuple[str, str]]) -> None:
    """Write the report files, then stdout, then exit with the report's code."""
    for out_fmt, path in out_specs:
        try:
            write_file(lambda out, f=out_fmt: writer(f)(report, out), path)
        except OSError as err:
            fail_usage(f"--output {out_fmt}={path}: could not write the report: {err.strerror or err}")
    write_stdout(lambda out: writer(fmt)(report, out))
    sys.exit(report.exit_code)


@main.command(epilog=EXIT_CODES_HELP)
@click.option("--input", "-i", "inputs", multiple=True, metavar="FILE",
              help="Scan a saved or exported app inventory instead of attached devices (pm list packages, "
                   "ideviceinstaller -l, pymobiledevice3 apps list, a scanner JSON report written with "
                   "--inventory, or a platform,device,app_id CSV). Repeatable; '-' reads stdin.")
@device_options
@report_options
@click.pass_context
def scan(ctx: click.Context, inputs: tuple[str, ...], platform: str | None, serials: tuple[str, ...],
         udids: tuple[str, ...], adb_server: str | None, timeout: float, signature_paths: tuple[str, ...],
         policies: tuple[str, ...], fmt: str, outputs: tuple[str, ...], inventory: bool, fail_on: str,
         quiet: bool) -> None:
    """Scan every attached Android and iOS device (or saved inventories, with
    --input) and report prohibited apps.

    Devices are read concurrently, each within --timeout. A device that could
    not be fully read (locked, not trusted, a refused work profile) is reported
    as such and never counts as clean.
    """
    if inputs:
        live_given = [option for name, option in (("platform", "--platform"), ("serials", "--serial"),
                                                  ("udids", "--udid"), ("adb_server", "--adb-server"),
                                                  ("timeout", "--timeout"))
                      if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE]
        if live_given:
            fail_usage(f"{', '.join(live_given)} select attached devices and cannot be used with --input; "
                       "scan files and devices in separate runs")
    if inputs.count("-") > 1:
        fail_usage("--input -: stdin can be read only once")
    given: dict[str, str] = {}
    for name in inputs:
        real = name if name == "-" else os.path.realpath(name)
        if real in given:
            fail_usage(f"--input {name}: the same file as --input {given[real]}; give each input once")
        given[real] = name
    check_adb_server(adb_server)
    platforms = pick_platforms(platform, serials, udids) if not inputs else {}
    out_specs = parse_outputs(outputs)
    check_outputs(out_specs, inputs)
    signatures, matcher = make_matcher(signature_paths, policies)

    from scanner.audit import run

    with live_progress(quiet, draw=not inputs) as progress:
        if inputs:
            from scanner.connectors.files import FileConnector

            connectors: Sequence = [FileConnector(name, keep=matcher.knows) for name in inputs]
        else:
            connectors = live_connectors(platforms, serials, udids, timeout, adb_server, progress)
        if inputs:
            report = run(connectors, matcher, inventory=inventory, fail_on=fail_on, inputs=inputs)
        else:
            from scanner.live import scan as scan_live

            report = scan_live(connectors, matcher, inventory=inventory, fail_on=fail_on)
    if not report.results:
        notify("no device found: connect a device by USB (Android: enable USB debugging; iPhone: unlock it "
               "and tap Trust), then run again; `scanner devices` shows what is attached")
    deliver(report, fmt, out_specs)


def attached_devices(platforms: dict[str, bool], serials: Sequence[str], udids: Sequence[str],
                     adb_server: str | None, timeout: float) -> tuple[list, list[str]]:
    """Every device the transports see, both platforms at once; and the transports that could not be asked.

    A connector raises ScannerError when its failure must be reported (the
    platform was asked for, or its transport answered but was broken);
    otherwise it says so with notify() and records it in `asked`, and it is a
    problem all the same: devices attached there may be unseen, so the list is
    not the whole answer (exit 4), as `scan` is not. Daemon threads, so that
    Ctrl-C ends the command at once instead of waiting for a slow device.
    """
    import queue
    import threading

    from scanner.connectors.interface import ScannerError

    connectors = live_connectors(platforms, serials, udids, timeout, adb_server)
    answers: queue.Queue = queue.Queue()

    def ask(index: int, connector) -> None:
        try:
            found = list(connector.devices())
            asked = getattr(connector, "asked", None)
            answers.put((index, found, asked.message if asked is not None and not asked.answered else None))
        except ScannerError as err:
            answers.put((index, [], str(err)))
        except Exception as err:  # noqa: BLE001 - reported as a problem, never as "no device"
            answers.put((index, [], f"{connector.name}: internal error: {type(err).__name__}: {err}; please report this"))

    for index, connector in enumerate(connectors):
        threading.Thread(target=ask, args=(index, connector), daemon=True).start()
    results = sorted(answers.get() for _ in connectors)
    found = [d for _, devices, _ in results for d in devices]
    problems = [problem for _, _, problem in results if problem]
    return found, problems


@main.command()
@device_options
@timeout_option("Time allowed for each device to answer.", default=10)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Format written to stdout.")
def devices(platform: str | None, serials: tuple[str, ...], udids: tuple[str, ...], adb_server: str | None,
            timeout: float, fmt: str) -> None:
    """List attached Android and iOS devices, and what to do for each one
    that cannot be scanned yet.

    Exit 0 when every device is ready to scan, 4 when one is not or none is
    attached, 2 on a usage error.
    """
    check_adb_server(adb_server)
    platforms = pick_platforms(platform, serials, udids)
    found, problems = attached_devices(platforms, serials, udids, adb_server, timeout)
    found.sort(key=lambda d: (d.platform, d.serial))
    from scanner.formats.devices import write_devices

    write_stdout(lambda out: write_devices(found, problems, out, fmt))
    ready = bool(found) and not problems and all(d.state == "ready" for d in found)
    if not found and not problems:
        notify("no device found: connect a device by USB (Android: enable USB debugging; iPhone: unlock it "
               "and tap Trust)")
    sys.exit(0 if ready else EXIT_INCOMPLETE)


@main.command()
@click.option("--udid", metavar="UDID", help="The iPhone or iPad to pair (needed when more than one is attached).")
@timeout_option("How long to wait for Trust to be tapped on the device.", maximum=600)
def pair(udid: str | None, timeout: float) -> None:
    """Pair this computer with an iPhone or iPad, so that it can be scanned.

    The only command that changes a device: the iPhone shows "Trust This
    Computer?", and the person holding it taps Trust and enters the passcode.
    Exit 0 when paired, 4 when it was not (refused, not tapped in time, locked).
    """
    from scanner.connectors.interface import ScannerError
    from scanner.connectors.ios.connector import pair as pair_device
    from scanner.terminal.text import safe

    try:
        result = pair_device(None, udid, timeout=timeout, notify=notify)
    except ScannerError as err:
        echo_error(str(err))
        sys.exit(EXIT_INCOMPLETE)
    label = " ".join(safe(x) for x in (result.name, result.serial) if x)
    if result.state == "ready":
        if result.message:
            click.echo(safe(result.message, limit=400), err=True)
        click.echo(f"paired: {label}; `scanner scan --udid {safe(result.serial)}` can read it now")
        sys.exit(0)
    click.echo(f"not paired: {label}: {safe(result.message or result.state)}", err=True)
    sys.exit(EXIT_INCOMPLETE)


@main.group()
def signatures() -> None:
    """List, show and validate signature catalogs and policies."""


@signatures.command("list")
@click.option("--signatures", "signature_paths", multiple=True, metavar="PATH",
              help="Also load your own catalog and policy files.")
def signatures_list(signature_paths: tuple[str, ...]) -> None:
    """List the loaded policies with their status, date and entry counts."""
    sigs = load_or_exit(signature_paths)
    from scanner.formats.signatures_text import write_policy_list

    write_stdout(lambda out: write_policy_list(sigs, out))


@signatures.command("show")
@click.argument("policy_id")
@click.option("--signatures", "signature_paths", multiple=True, metavar="PATH",
              help="Also load your own catalog and policy files.")
def signatures_show(policy_id: str, signature_paths: tuple[str, ...]) -> None:
    """Show one policy's entries with their identifiers and sources."""
    sigs = load_or_exit(signature_paths)
    if policy_id not in sigs.policies:
        fail_usage(f"unknown policy {policy_id!r}; loaded policies: {', '.join(sorted(sigs.policies))}")
    from scanner.formats.signatures_text import write_policy

    write_stdout(lambda out: write_policy(sigs, sigs.policies[policy_id], out))


@signatures.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
def signatures_validate(paths: tuple[str, ...]) -> None:
    """Check your own catalog and policy files, with the bundled ones they may point at."""
    sigs = load_or_exit(paths)
    from pathlib import Path

    from scanner.signatures import toml_files

    checked = {f.resolve() for p in paths for f in toml_files(Path(p))}
    apps = sum(a.source and Path(a.source).resolve() in checked for a in sigs.apps.values())
    policies = sum(Path(p.source).resolve() in checked for p in sigs.policies.values())
    click.echo(f"ok: {len(checked)} file(s) valid: {apps} catalog app(s), {policies} polic{'y' if policies == 1 else 'ies'}")


# Commands in modules of their own, registered on `main` when imported (light imports only).
from scanner import cli_intake, cli_sim  # noqa: E402,F401
