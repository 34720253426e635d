"""What a report format is: a name, a line for help, and a writer of a whole report to a text stream.

A format is one module that sets `FORMAT = Format(...)`, plus one line in the
FORMATS registry (scanner/formats/__init__.py). The CLI knows formats only
through the registry: `--format` and `--output` offer its names, in its order,
and a format module is imported only when its report is written.

Options the person chose (colour, for now) reach every format in one
FormatOptions; a format ignores what does not concern it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:  # only a name in annotations: `scanner --help` reaches this module and needs no model
    from scanner.model import Report

__all__ = ["Format", "FormatOptions", "Writer"]


@dataclass(frozen=True)
class FormatOptions:
    """How the person wants a report written, beyond its format."""

    color: bool = False  # colour the table's own words (never untrusted text)
    width: int | None = None  # the terminal's columns, for the table to fit; None: a pipe or a file (no limit)


Writer = Callable[["Report", TextIO, FormatOptions], None]


@dataclass(frozen=True)
class Format:
    """A report format: `write(report, out, options)` writes the whole report to `out`."""

    name: str  # what --format and --output FORMAT=PATH call it
    description: str  # one line, for help
    write: Writer
