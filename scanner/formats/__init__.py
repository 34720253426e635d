"""Report formats: one module each, registered here by name.

Adding a format is one module that sets `FORMAT = Format(...)` (see
interface.py) and one line below. The registry names "module:attribute"
instead of importing the modules, so that listing the choices (`scanner
--help`, an `--output` that names no format) imports no format, and no
tabulate. The order is the order of `--format` choices.

watch's per-device outputs (the verdict line and the jsonl record) are in
verdict.py and jsonl.py: they write one device at a time, not a report.
"""

from __future__ import annotations

import importlib

from scanner.formats.interface import Format, FormatOptions

__all__ = ["FORMATS", "Format", "FormatOptions", "load_format"]

FORMATS: dict[str, str] = {
    "table": "scanner.formats.table:FORMAT",
    "json": "scanner.formats.json_report:FORMAT",
    "csv": "scanner.formats.csv_report:FORMAT",
    "sarif": "scanner.formats.sarif:FORMAT",
    "html": "scanner.formats.html:FORMAT",
}


def load_format(name: str) -> Format:
    """The registered format `name` (KeyError when none is), its module imported now."""
    module, _, attribute = FORMATS[name].partition(":")
    return getattr(importlib.import_module(module), attribute)
