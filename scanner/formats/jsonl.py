"""watch's evidence file: one JSON object per scanned device, one line each (`--output jsonl=PATH`).

The object is the device's entry of the JSON report (device, status, reason,
message, verdict, app_count, coverage, problems, problem_count, findings;
see docs/json-report.md) plus:

    scanned_at   when the scan finished (UTC, ISO 8601)
    trigger      "attached", or "authorized" for a phone scanned again once its
                 "Allow USB debugging?" prompt was accepted
    exit_code    the code a scan of this device alone gives (0, 1, 4, 5)
    policies     the ids of the policies checked
    tool         {"name": "scanner", "version": ...}

Written by `scanner watch` in one write per line, synced, to a file readable
by its owner only; a line is UTF-8 and ends with a newline.
"""

from __future__ import annotations

import json

from scanner.formats.json_report import device_to_dict, timestamp
from scanner.model import DeviceResult, Report

__all__ = ["device_record"]


def device_record(result: DeviceResult, report: Report, trigger: str) -> bytes:
    """The line for `result`, one device of `report` (the report of one scan), scanned because of `trigger`."""
    record = {
        "scanned_at": timestamp(report.finished),
        "trigger": trigger,
        "exit_code": report.exit_code,
        "policies": [p.id for p in report.policies],
        "tool": {"name": report.tool, "version": report.version},
        **device_to_dict(result, report),
    }
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
