"""CSV: one row per finding, for spreadsheets and quick `cut`/`awk` audits.

Values are kept intact (a newline inside an app name survives a csv.reader
round trip) except that a cell a spreadsheet would run as a formula gets a
leading `'` (CSV injection). Devices without findings, and device status
details, are in the JSON report; the exit code still says when a device could
not be read.
"""

from __future__ import annotations

import csv
import re
from typing import TextIO

from scanner.model import Report

__all__ = ["HEADER", "write_csv"]

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
)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _cell(value: object) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    # Undecodable bytes (lone surrogates) cannot be written as UTF-8.
    text = _SURROGATE.sub("\ufffd", text)
    # Spreadsheets skip leading spaces before reading a formula: look past them.
    if text.startswith(_FORMULA_START) or text.lstrip().startswith(_FORMULA_START):
        return "'" + text
    return text


def write_csv(report: Report, out: TextIO) -> None:
    """Write the header, then one row per finding across all devices."""
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for result in report.results:
        device = result.device
        for f in result.findings:
            app = f.app
            row = (
                device.source,
                device.platform or app.platform,
                device.serial,
                device.model,
                result.status,
                f.policy,
                f.policy_status,
                f.rule,
                f.listed,
                f.relation,
                f.severity,
                f.match,
                f.confidence,
                app.id,
                app.name,
                app.version,
                app.user,
                app.state,
                f.explanation,
            )
            writer.writerow([_cell(v) for v in row])
