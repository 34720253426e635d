"""CSV: one row per finding, and one row for each device without a finding.

Every device of the report appears, so a spreadsheet of the findings never
hides the phones that could not be read: a device with findings has one row
per finding; a device without any has one row whose finding columns (policy
to explanation) are empty. Every row carries the device's `device_status`
(complete, partial, failed), `device_reason` (why not complete),
`device_message` (what to do) and `app_count` (apps read), so a filter on
`device_status` finds every device that needs a person. `evidence` says
what a finding rests on (`identifier`; `name`: a display name only; `count`:
an aggregate row, on `app_devices` devices, none named), and
`device_inventoried` when the MDM last inventoried the device. Devices an
input lists that scanner does not check (computers in an MDM export) are in
the table, JSON and SARIF reports, not here: a row is a phone or tablet. The exit code still
says when a device could not be read; the JSON report has every detail.

Cells are for people and terminals (`cat`, `column -s, -t`), not for exact
values (that is the JSON report):

- Control characters, bidi controls and other invisible characters are
  written as visible escapes, the same as in the table: `\\n`, `\\r`, `\\t`,
  `\\x1b`, `\\u202e` (backslashes themselves are left alone). No raw control
  character reaches a terminal, and no newline inside a cell can pass for a
  row of its own.
- A cell a spreadsheet would run as a formula gets a `'` in front (CSV
  injection): one starting with `=`, `+`, `-`, `@`, a tab or a carriage
  return, also after leading spaces. The same holds after every `;` in a
  cell, for locales whose spreadsheets split on `;`: `a;=cmd` is written
  `a;'=cmd`.
"""

from __future__ import annotations

import csv
import re
from typing import TextIO

from scanner.formats.interface import Format, FormatOptions
from scanner.formats.json_report import timestamp
from scanner.model import DeviceResult, Finding, Report
from scanner.terminal.text import safe

__all__ = ["FORMAT", "HEADER", "write_csv"]

# New columns go at the end, so that `cut -d, -f N` of an older report still means the same.
HEADER = (
    "device_source",
    "platform",
    "serial",
    "model",
    "device_status",
    "policy",
    "policy_status",
    "rule",
    "listed",
    "relation",
    "severity",
    "match",
    "confidence",
    "app_id",
    "app_name",
    "app_version",
    "user",
    "state",
    "explanation",
    "device_reason",
    "device_message",
    "app_count",
    "device_transport",  # what tells two clones with one serial apart (adb transport serial or USB path)
    "evidence",  # what the finding rests on: identifier, name (a display name only), count (an aggregate)
    "app_devices",  # an aggregate row: on how many devices (none named)
    "device_inventoried",  # when the MDM last inventoried the device (UTC), as in the JSON report
)

_FINDING_COLUMNS = HEADER.index("explanation") - HEADER.index("policy") + 1

# OWASP's list: a formula starts with one of these; spreadsheets skip spaces before it.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Within a cell, after a `;` (and any spaces): where a `;`-splitting spreadsheet starts a new cell.
_AFTER_SEMICOLON = re.compile(r";( *)(?=[=+\-@])")


def _cell(value: object) -> str:
    """One cell: visible escapes for what a terminal would act on, then formula starts neutralised."""
    if value is None:
        return ""
    raw = value if isinstance(value, str) else str(value)
    text = safe(raw, limit=None)
    text = _AFTER_SEMICOLON.sub(r";\1'", text)
    # Judged on the raw text too (past any leading whitespace): a tab or CR is escaped, and still marked.
    if raw.lstrip().startswith(_FORMULA_START) or raw.startswith(_FORMULA_START) \
            or text.lstrip(" ").startswith(_FORMULA_START):
        return "'" + text
    return text


def _device_columns(result: DeviceResult) -> tuple[object, ...]:
    return (result.reason, result.message, result.app_count, result.device.transport)


def _inventoried(result: DeviceResult) -> str | None:
    when = result.device.inventoried
    return None if when is None else timestamp(when)


def _finding_columns(f: Finding) -> tuple[object, ...]:
    app = f.app
    return (f.policy, f.policy_status, f.rule, f.listed, f.relation, f.severity, f.match, f.confidence,
            app.id, app.name, app.version, app.user, app.state, f.explanation)


def _rows(result: DeviceResult):
    """A row per finding of the device, or one row for the device when it has none."""
    device = result.device
    if not result.findings:
        yield (device.source, device.platform, device.serial, device.model, result.status,
               *([None] * _FINDING_COLUMNS), *_device_columns(result), None, None, _inventoried(result))
        return
    for f in result.findings:
        yield (device.source, device.platform or f.app.platform, device.serial, device.model, result.status,
               *_finding_columns(f), *_device_columns(result), f.evidence, f.app.devices, _inventoried(result))


def write_csv(report: Report, out: TextIO) -> None:
    """Write the header, then every device's rows in report order."""
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for result in report.results:
        for row in _rows(result):
            writer.writerow([_cell(v) for v in row])


def _write(report: Report, out: TextIO, options: FormatOptions) -> None:
    write_csv(report, out)


FORMAT = Format("csv", "a row per finding and per device without one, for spreadsheets", _write)
