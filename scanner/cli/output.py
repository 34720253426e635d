"""What the CLI writes besides notes: report files, the report on stdout, and errors that stop a command.

A command never exits the process itself: it returns its exit code (the
report's), which `main` exits with, or raises CommandError, which click
prints and exits with.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import IO, TYPE_CHECKING

import click

from scanner.formats import FORMATS, FormatOptions, load_format
from scanner.vocabulary import EXIT_USAGE

if TYPE_CHECKING:
    from scanner.model import Report

__all__ = ["CommandError", "check_outputs", "deliver", "echo_error", "parse_outputs", "write_file", "write_stdout"]


def echo_error(message: str) -> None:
    """`scanner: error: <message>` on stderr; the message may quote a path or option the user typed."""
    from scanner.terminal.text import safe

    click.echo(f"scanner: error: {safe(message, limit=1000)}", err=True)


class CommandError(click.ClickException):
    """A command that cannot go on: each message as `scanner: error: ...` on stderr, each detail indented
    below them, and the exit code (2 unless told: a usage, configuration or signature-file error, or a
    report that could not be written)."""

    def __init__(self, *messages: str, details: Sequence[str] = (), exit_code: int = EXIT_USAGE) -> None:
        super().__init__(messages[0] if messages else "")
        self.messages = messages
        self.details = tuple(details)
        self.exit_code = exit_code

    def show(self, file: IO[str] | None = None) -> None:
        from scanner.terminal.text import safe

        for message in self.messages:
            click.echo(f"scanner: error: {safe(message, limit=1000)}", file=file, err=file is None)
        for detail in self.details:
            click.echo(f"  {safe(detail, limit=1000)}", file=file, err=file is None)


_EXTENSIONS = {".json": "json", ".csv": "csv", ".sarif": "sarif", ".html": "html", ".htm": "html"}


def parse_outputs(values: Sequence[str]) -> list[tuple[str, str]]:
    """--output FORMAT=PATH values as (format, path), the format one of the registry's; a bare PATH names its
    format by its extension (report.json, report.sarif), or is refused with what to write instead."""
    outputs = []
    for value in values:
        fmt, sep, path = value.partition("=")
        if sep and fmt in FORMATS and path:
            outputs.append((fmt, path))
            continue
        extension = os.path.splitext(value)[1].lower()
        inferred = _EXTENSIONS.get(extension)
        if inferred in FORMATS and not value.endswith(os.sep):
            outputs.append((inferred, value))
            continue
        example = f"json={value}" if value and not sep else "json=report.json"
        why = "expected" if sep else (f"the extension {extension} names no format; write" if extension
                                      else "a file name without an extension names no format; write")
        raise CommandError(f"--output {value!r}: {why} FORMAT=PATH with FORMAT one of {', '.join(FORMATS)} "
                           f"(e.g. {example}), or a file name ending in "
                           f"{', '.join(e for e, f in _EXTENSIONS.items() if f in FORMATS)}")
    return outputs


def check_outputs(outputs: list[tuple[str, str]], inputs: Sequence[str]) -> None:
    """Refuse before scanning what could only fail or destroy something after it."""
    reading = {os.path.realpath(i): i for i in inputs if i != "-"}
    seen: dict[str, str] = {}
    for fmt, path in outputs:
        if path == "-":
            raise CommandError(f"--output {fmt}=-: stdout gets the --format report; give --output a file name")
        real = os.path.realpath(path)
        if real in reading:
            raise CommandError(f"--output {fmt}={path}: that is also an --input; write the report to another file")
        if real in seen:
            raise CommandError(f"--output {fmt}={path}: the same file as --output {seen[real]}")
        seen[real] = f"{fmt}={path}"
        if os.path.isdir(real):
            raise CommandError(f"--output {fmt}={path}: is a folder; give a file name")
        folder = os.path.dirname(real)
        if not os.path.isdir(folder):
            raise CommandError(f"--output {fmt}={path}: cannot write: the folder {folder} does not exist")
        if not os.access(real if os.path.exists(real) else folder, os.W_OK):
            raise CommandError(f"--output {fmt}={path}: cannot write: permission denied")


def write_file(write: Callable[[IO[str]], None], path: str) -> None:
    """Write a report file whole or not at all: into a temporary file beside
    it, then renamed over it. The file is readable by its owner only, since it
    describes people's phones. Special files (a FIFO, /dev/stdout) are written
    directly."""
    if os.path.exists(path) and not os.path.isfile(path):
        with open(path, "w", encoding="utf-8", newline="") as out:
            write(out)
        return
    import tempfile  # here: its imports (shutil, random) cost every command's start, most of which write no file

    fd, tmp = tempfile.mkstemp(prefix=".scanner-", suffix=".tmp", dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            write(out)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the flush at exit cannot fail a second time."""
    with contextlib.suppress(OSError, AttributeError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def write_stdout(write: Callable[[IO[str]], None]) -> None:
    """Write to stdout; a reader that went away (`| head`) is not an error,
    a full disk or a closed stdout is (exit 2: the report was not delivered)."""
    if sys.stdout is None:
        raise CommandError("stdout is closed; nothing could be written (use --output FORMAT=PATH)")
    try:
        write(sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
    except OSError as err:
        _silence_stdout()
        raise CommandError(f"could not write the report to stdout: {err.strerror or err}") from None


def deliver(report: Report, fmt: str, outputs: Sequence[tuple[str, str]], options: FormatOptions | None = None) -> int:
    """Write the report files, then stdout; the report's exit code, for the command to return. A file is
    written wide and plain; stdout is laid out for the terminal it is (scanner.cli.terminal), unless told."""
    from scanner.cli.terminal import current_terminal

    screen = options or current_terminal().options(sys.stdout)
    options = options or FormatOptions()
    for out_fmt, path in outputs:
        try:
            write_file(lambda out, f=out_fmt: load_format(f).write(report, out, options), path)
        except OSError as err:
            raise CommandError(
                f"--output {out_fmt}={path}: could not write the report: {err.strerror or err}") from None
    write_stdout(lambda out: load_format(fmt).write(report, out, screen))
    return report.exit_code
