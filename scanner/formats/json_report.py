"""The JSON report: the stable, complete record that audit scripts read.

The shape is documented in docs/json-report.md and pinned by
docs/report-schema.json. Within schema 1.x fields are only ever added, never
renamed or removed, and every documented key is always present (null when
unknown), so a script can index without guarding. The connector that reads
saved reports back depends on these exact names.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, TextIO

from scanner.formats.interface import Format, FormatOptions
from scanner.model import App, DeviceInfo, DeviceResult, Finding, NotChecked, Report, device_verdict

__all__ = ["FORMAT", "SCHEMA_VERSION", "app_to_dict", "clone_serials", "device_info_to_dict", "device_to_dict",
           "finding_id", "not_checked_to_dict", "report_to_dict", "timestamp", "write_json"]

SCHEMA_VERSION = "1.2"


def timestamp(moment: datetime) -> str:
    """ISO-8601 in UTC with milliseconds and a `Z`: `2025-03-01T09:30:00.125Z`.

    A naive datetime is taken as local time, which is what Python means by it.
    """
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _id_part(value: object) -> str:
    # Escape the separator so that ("a|b", "c") and ("a", "b|c") differ;
    # ordinary values, which never hold "|" or "\", hash exactly as joined.
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|")


def clone_serials(report: Report) -> frozenset[tuple[str | None, str]]:
    """(platform, serial) of the devices whose serial another device of the
    report, on another transport, shares."""
    seen: dict[tuple[str | None, str], str | None] = {}
    clones = set()
    for r in report.results:
        d = r.device
        if d.serial is None:
            continue
        key = (d.platform, d.serial)
        if key in seen and seen[key] != d.transport:
            clones.add(key)
        seen.setdefault(key, d.transport)
    return frozenset(clones)


def finding_id(result: DeviceResult, finding: Finding,
               clones: frozenset[tuple[str | None, str]] = frozenset()) -> str:
    """A stable id for one finding, so that re-runs and merged reports dedupe.

    The first 16 hex characters of sha256 over
    `source|platform|serial|rule|app id|user` (UTF-8; None as ""; "\\" and "|"
    inside a part escaped with a backslash), and `|transport` after it when
    the report holds another device of the same platform with the same
    serial (`clones`, from clone_serials): two cheap clones that both report
    ro.serialno 0123456789ABCDEF get ids of their own, while every other
    device keeps the id it always had, even a phone reached over the network
    whose address changes from run to run. The source is left empty when the
    device has a serial: the serial names the device, wherever it was read
    (live, or from a saved report). The platform is the device's, or the
    app's when the device's is unknown. Nothing time- or order-dependent goes
    in, so the same app on the same device under the same rule has the same
    id in every report.
    """
    device = result.device
    parts: tuple[object, ...] = (
        None if device.serial else device.source,
        device.platform or finding.app.platform,
        device.serial,
        finding.rule,
        finding.app.id,
        finding.app.user,
    )
    if device.transport and (device.platform, device.serial) in clones:
        parts += (device.transport,)
    text = "|".join(_id_part(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def app_to_dict(app: App) -> dict[str, Any]:
    return {
        "platform": app.platform,
        "id": app.id,
        "name": app.name,
        "version": app.version,
        "build": app.build,
        "installer": app.installer,
        "user": app.user,
        "state": app.state,
        "system": app.system,
        "path": app.path,
        "team_id": app.team_id,
        "signer": app.signer,
        "uid": app.uid,
        "evidence": app.evidence,
        "devices": app.devices,
    }


def _finding(result: DeviceResult, finding: Finding, clones: frozenset) -> dict[str, Any]:
    return {
        "id": finding_id(result, finding, clones),
        "policy": finding.policy,
        "policy_status": finding.policy_status,
        "rule": finding.rule,
        "listed": finding.listed,
        "relation": finding.relation,
        "catalog_app": finding.catalog_app,
        "catalog_name": finding.catalog_name,
        "match": finding.match,
        "matched_by": finding.matched_by,
        "identifier": finding.identifier,
        "confidence": finding.confidence,
        "severity": finding.severity,
        "edition": finding.edition,
        "explanation": finding.explanation,
        "evidence": finding.evidence,
        "app": app_to_dict(finding.app),
    }


def device_info_to_dict(d: DeviceInfo) -> dict[str, Any]:
    """Who a device is: the `device` object of a device entry, and of a `not_checked` entry."""
    return {
        "platform": d.platform,
        "serial": d.serial,
        "transport": d.transport,
        "model": d.model,
        "os_version": d.os_version,
        "name": d.name,
        "source": d.source,
        "identity": [{"kind": kind, "value": value} for kind, value in d.identity],
        "inventoried": None if d.inventoried is None else timestamp(d.inventoried),
    }


def not_checked_to_dict(entry: NotChecked) -> dict[str, Any]:
    return {"device": device_info_to_dict(entry.device), "rows": entry.rows, "why": entry.why}


def device_to_dict(result: DeviceResult, report: Report, clones: frozenset = frozenset()) -> dict[str, Any]:
    """One entry of the report's `devices`; also the body of watch's jsonl record (scanner/formats/jsonl.py).

    `clones`: from clone_serials(report), so that finding ids tell devices that share a serial apart.
    """
    out: dict[str, Any] = {
        "device": device_info_to_dict(result.device),
        "status": result.status,
        "reason": result.reason,
        "message": result.message,
        "verdict": device_verdict(result, report.fail_on),
        "app_count": result.app_count,
        "coverage": [
            {"scope": s.name, "read": s.read, "reason": s.reason, "apps": s.apps} for s in result.coverage
        ],
        "problems": list(result.problems),
        "problem_count": max(result.problem_count, len(result.problems)),
        "findings": [_finding(result, f, clones) for f in result.findings],
    }
    if report.inventory_included:
        out["inventory"] = [app_to_dict(a) for a in result.apps or ()]
    return out


def report_to_dict(report: Report) -> dict[str, Any]:
    """The report as plain JSON-ready data, in the documented key order."""
    summary = report.summary
    clones = clone_serials(report)
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": report.tool, "version": report.version},
        "started": timestamp(report.started),
        "finished": timestamp(report.finished),
        "fail_on": report.fail_on,
        "verdict": report.verdict,
        "exit_code": report.exit_code,
        "inventory_included": report.inventory_included,
        "inputs": list(report.inputs),
        "transports": [
            {"platform": t.platform, "transport": t.transport, "address": t.address, "answered": t.answered,
             "message": t.message}
            for t in report.transports
        ],
        "policies": [
            {
                "id": p.id,
                "title": p.title,
                "status": p.status,
                "status_note": p.status_note,
                "signed": p.signed,
                "source": p.source,
                "sha256": p.sha256,
                "entries": p.entries,
            }
            for p in report.policies
        ],
        "signature_files": [{"path": f.path, "sha256": f.sha256, "kind": f.kind} for f in report.signature_files],
        "accepted_scopes": list(report.accepted_scopes),
        "max_age": report.max_age,
        "summary": {
            "devices": summary.devices,
            "complete": summary.complete,
            "partial": summary.partial,
            "failed": summary.failed,
            "findings": summary.findings,
            "prohibited": summary.prohibited,
            "review": summary.review,
            "devices_with_findings": summary.devices_with_findings,
            "apps_read": summary.apps_read,
            "not_checked": summary.not_checked,
        },
        "not_checked": [not_checked_to_dict(n) for n in report.not_checked],
        "devices": [device_to_dict(r, report, clones) for r in report.results],
    }


def write_json(report: Report, out: TextIO) -> None:
    """Write the report as JSON: the top level indented, each device on one line.

    One line per device keeps a fleet report fast to write (the C encoder
    does the devices; Python's indenting encoder is ten times slower) and easy
    to grep and diff per device. `ensure_ascii` keeps every value intact
    (json.loads gives back the exact strings) while no raw control or bidi
    character reaches a terminal that `cat`s the file.
    """
    doc = report_to_dict(report)
    devices = doc.pop("devices")
    head = json.dumps(doc, ensure_ascii=True, indent=2)
    out.write(head[:-2])  # without the closing "\n}"
    out.write(',\n  "devices": [')
    encode = json.JSONEncoder(ensure_ascii=True, separators=(", ", ": ")).encode
    for i, device in enumerate(devices):
        out.write(",\n    " if i else "\n    ")
        out.write(encode(device))
    out.write("\n  ]\n}\n" if devices else "]\n}\n")


def _write(report: Report, out: TextIO, options: FormatOptions) -> None:
    write_json(report, out)


FORMAT = Format("json", "the complete record, for scripts (docs/json-report.md)", _write)
