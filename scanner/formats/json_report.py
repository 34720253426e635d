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
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii as _ascii
from typing import Any, TextIO

from scanner.formats.interface import Format, FormatOptions
from scanner.model import (
    App,
    DeviceInfo,
    DeviceResult,
    Finding,
    NotChecked,
    Report,
    Scope,
    Summary,
    device_verdict,
    merge_results,
    severity_at_least,
)

__all__ = ["FORMAT", "SCHEMA_VERSION", "DeviceSpool", "SpooledReport", "app_to_dict", "clone_serials",
           "device_info_to_dict", "device_to_dict", "finding_id", "not_checked_to_dict", "report_to_dict",
           "result_from_dict", "timestamp", "write_json"]

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


def result_from_dict(entry: dict[str, Any], inventory: bool, problem_count: int) -> DeviceResult:
    """The DeviceResult a `devices` entry was written from (device_to_dict's inverse: what the entry shows, with
    the problem count as counted, which the entry shows only when it is at least the problems kept)."""
    d = entry["device"]
    device = DeviceInfo(
        platform=d["platform"], serial=d["serial"], model=d["model"], os_version=d["os_version"], name=d["name"],
        source=d["source"], transport=d["transport"],
        identity=tuple((i["kind"], i["value"]) for i in d["identity"]),
        inventoried=None if d["inventoried"] is None else datetime.fromisoformat(d["inventoried"]),
    )
    findings = tuple(
        Finding(app=_app(f["app"]), policy=f["policy"], policy_status=f["policy_status"], rule=f["rule"],
                listed=f["listed"], relation=f["relation"], catalog_app=f["catalog_app"],
                catalog_name=f["catalog_name"], match=f["match"], identifier=f["identifier"],
                confidence=f["confidence"], severity=f["severity"], edition=f["edition"])
        for f in entry["findings"])
    return DeviceResult(
        device=device, status=entry["status"], reason=entry["reason"], message=entry["message"],
        coverage=tuple(Scope(s["scope"], s["read"], s["reason"], s["apps"]) for s in entry["coverage"]),
        findings=findings, app_count=entry["app_count"], problems=tuple(entry["problems"]),
        problem_count=problem_count,
        apps=tuple(_app(a) for a in entry["inventory"]) if inventory else None,
    )


def _app(a: dict[str, Any]) -> App:
    return App(a["platform"], a["id"], a["name"], a["version"], a["build"], a["installer"], a["user"], a["state"],
               a["system"], a["path"], a["team_id"], a["signer"], a["uid"], a["evidence"], a["devices"])


# --- a report written as its devices are finished --------------------------------------------------------

_SEEN_BITS = 1 << 25  # a 4 MiB bitmap of device keys seen: what tells, without a set that grows, a device seen before
_MASK = (1 << 64) - 1


@dataclass(frozen=True)
class _Counts:
    """What the report's summary and exit code need of its devices, added up as they are spooled."""

    devices: int = 0
    complete: int = 0
    partial: int = 0
    failed: int = 0
    findings: int = 0
    prohibited: int = 0
    review: int = 0
    devices_with_findings: int = 0
    apps_read: int = 0
    failing: int = 0


def _counts(r: DeviceResult, fail_on: str) -> list[int]:
    findings = r.findings
    prohibited = sum(f.severity == "prohibited" for f in findings) if findings else 0
    return [1, r.status == "complete", r.status == "partial", r.status == "failed", len(findings), prohibited,
            sum(f.severity == "review" for f in findings) if findings else 0, bool(findings), r.app_count,
            sum(severity_at_least(f.severity, fail_on) for f in findings) if findings else 0]


def _text(value: object) -> str:
    """A str or None as the JSON encoder writes it; TypeError for anything else."""
    if value is None:
        return "null"
    if type(value) is not str:
        raise TypeError(value)
    return _ascii(value)


def _whole(value: object) -> str:
    """An int or None as the JSON encoder writes it; TypeError for anything else."""
    if value is None:
        return "null"
    if type(value) is not int:
        raise TypeError(value)
    return int.__repr__(value)


_NO_DETAILS = '"transport": null, "model": null, "os_version": null, "name": null, '  # a device of a fleet CSV


def _plain_entry(r: DeviceResult, fail_on: str) -> str | None:
    """The device entry of a result with no findings and no problems kept (most devices of an export), written
    directly: the same text as encoding device_to_dict (tests/formats/test_spooled_entries.py), a fifth of the
    time. None for any other result (or a value of a type the encoder would write otherwise)."""
    if r.findings or r.problems:
        return None
    d = r.device
    try:
        if d.transport is None and d.model is None and d.os_version is None and d.name is None:
            details = _NO_DETAILS
        else:
            details = (f'"transport": {_text(d.transport)}, "model": {_text(d.model)}, '
                       f'"os_version": {_text(d.os_version)}, "name": {_text(d.name)}, ')
        identity = ", ".join([f'{{"kind": {_text(kind)}, "value": {_text(value)}}}' for kind, value in d.identity]
                             ) if d.identity else ""
        coverage = ", ".join([f'{{"scope": {_text(s.name)}, "read": {_truth(s.read)}, '
                              f'"reason": {_text(s.reason)}, "apps": {_whole(s.apps)}}}' for s in r.coverage])
        when = "null" if d.inventoried is None else _text(timestamp(d.inventoried))
        return (f'{{"device": {{"platform": {_text(d.platform)}, "serial": {_text(d.serial)}, {details}'
                f'"source": {_text(d.source)}, "identity": [{identity}], "inventoried": {when}}}, '
                f'"status": {_text(r.status)}, "reason": {_text(r.reason)}, "message": {_text(r.message)}, '
                f'"verdict": {_text(device_verdict(r, fail_on))}, "app_count": {_whole(r.app_count)}, '
                f'"coverage": [{coverage}], "problems": [], "problem_count": {_whole(max(r.problem_count, 0))}, '
                f'"findings": []}}')
    except (TypeError, ValueError, AttributeError):
        return None


def _truth(value: object) -> str:
    """A bool as the JSON encoder writes it; TypeError for anything else."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    raise TypeError(value)


class DeviceSpool:
    """The `devices` of a JSON report, each encoded when its result is finished and kept in a temporary file
    instead of memory, so that a scan of a million devices costs the memory of one (scan --input).

    The report's head comes first but is known last (the summary, the verdict): the lines wait in the file,
    and write() copies them after the head. The output is byte for byte write_json's of the same results:

    - A device seen again (an export that lists it twice, apart) is merged into its first place, as
      audit.run merges it: a bitmap of key hashes tells a device that may have been seen before, and such a
      result waits in memory (with a mark in the file where it came); at the end its first part is read back
      from its line and the parts merged in order. (A hash that only collides costs a wait, no change.)
    - A device with a transport and findings (a saved live report of two clones) waits too: its finding ids
      depend on whether another device shares its serial, known at the end.
    """

    def __init__(self, fail_on: str, inventory: bool) -> None:
        self.fail_on, self.inventory = fail_on, inventory
        self.file = tempfile.TemporaryFile("w+", encoding="ascii", newline="\n")  # noqa: SIM115 - closed by close()
        self._seen = bytearray(_SEEN_BITS >> 3)
        self._late: dict[tuple, list[DeviceResult]] = {}  # a key seen before -> its later parts, in order
        self._parked: list[object] = []  # what a mark in the file stands for: a key of _late, or a held result
        self._held = False  # a result waits for its finding ids
        self._transport = False  # a device with a transport was added
        self._totals = [0] * 10
        self._finals: dict[tuple, DeviceResult] = {}
        self._places: dict[int, tuple] = {}  # line number -> the key whose merged result is written there
        self._clones: frozenset = frozenset()
        self._head = Report(tool="", version="", started=datetime.now(UTC), finished=datetime.now(UTC),
                            policies=(), signature_files=(), results=(), fail_on=fail_on,
                            inventory_included=inventory)
        self._encode = json.JSONEncoder(ensure_ascii=True, separators=(", ", ": ")).encode

    def add(self, result: DeviceResult) -> None:
        key = result.device.key
        if key[3] is not None:
            self._transport = True
        h = hash(key) & _MASK
        bit = h & (_SEEN_BITS - 1)
        byte, mask = bit >> 3, 1 << (bit & 7)
        seen = self._seen
        if seen[byte] & mask:
            late = self._late.get(key)
            if late is None:
                self._late[key] = [result]
                self._mark(h, key)
            else:
                late.append(result)
            return
        seen[byte] |= mask
        if result.device.transport and result.findings:
            self._held = True
            self._mark(h, result)
            return
        self._write(h, result)

    def _mark(self, h: int, what: object) -> None:
        self.file.write(f"{h:x} ~{len(self._parked)}\n")
        self._parked.append(what)

    def _write(self, h: int, result: DeviceResult) -> None:
        self._totals = list(map(int.__add__, self._totals, _counts(result, self.fail_on)))
        entry = None if self.inventory else _plain_entry(result, self.fail_on)
        if entry is None:
            entry = self._encode(device_to_dict(result, self._head))
        self.file.write(f"{h:x} {result.problem_count} {entry}\n")

    def _lines(self) -> Iterator[tuple[int, str, str, str]]:
        """(line number, hash, count or mark, the rest) of each line of the file."""
        self.file.seek(0)
        for n, line in enumerate(self.file):
            h, count, rest = (line.rstrip("\n").split(" ", 2) + [""])[:3]
            yield n, h, count, rest

    def finish(self) -> _Counts:
        """Merge what waited, and return the counts of the report's devices."""
        self.file.flush()
        if not self._late and not self._held:
            return _Counts(*self._totals)
        late, finals, places, totals = self._late, self._finals, self._places, self._totals
        hashes = {f"{hash(k) & _MASK:x}" for k in late}
        transports: dict[tuple, set] = {}
        every = self._transport  # a device has a transport: which serials are shared decides finding ids

        def count(result: DeviceResult, sign: int) -> None:
            for i, n in enumerate(_counts(result, self.fail_on)):
                totals[i] += sign * n

        for n, h, mark, rest in self._lines():
            if mark.startswith("~"):
                what = self._parked[int(mark[1:])]
                if isinstance(what, DeviceResult):
                    key, first = what.device.key, what
                elif what in finals:
                    continue  # a later part: merged into the device's first place, further up
                else:
                    key, first = what, late[what].pop(0)  # no first part in the file: a hash that only collided
            elif h in hashes or every:
                entry = json.loads(rest)
                d = entry["device"]
                key = (d["source"], d["platform"], d["serial"], d["transport"])
                if d["serial"] is not None:
                    transports.setdefault((d["platform"], d["serial"]), set()).add(d["transport"])
                if key not in late or key in finals:
                    continue
                first = result_from_dict(entry, self.inventory, int(mark))
                count(first, -1)  # counted when it was written: its merged result counts instead
            else:
                continue
            final = first
            for part in late.get(key, ()):
                final = merge_results(final, part)
            place = key if key in late else ("held", n)
            finals[place] = final
            places[n] = place
            count(final, +1)
            if final.device.serial is not None:
                transports.setdefault((final.device.platform, final.device.serial), set()).add(final.device.transport)
        self._clones = frozenset(k for k, seen in transports.items() if len(seen) > 1) if every else frozenset()
        return _Counts(*totals)

    def write(self, report: Report, out: TextIO) -> int:
        """Write the devices' lines (as write_json does, after the head); the number written."""
        written = 0
        encode = self._encode
        for n, _, mark, rest in self._lines():
            place = self._places.get(n)
            if place is not None:
                rest = encode(device_to_dict(self._finals[place], report, self._clones))
            elif mark.startswith("~"):
                continue  # a later part of a device merged into its first place
            out.write(",\n    " if written else "\n    ")
            out.write(rest)
            written += 1
        return written

    def close(self) -> None:
        self.file.close()


@dataclass(frozen=True)
class SpooledReport(Report):
    """A Report whose devices are in a DeviceSpool (`results` is empty): `counts` stand in for them wherever
    the report's summary, completeness or exit code is asked. Only the JSON format can write it."""

    spool: DeviceSpool | None = None
    counts: _Counts = _Counts()

    @property
    def summary(self) -> Summary:
        c = self.counts
        return Summary(devices=c.devices, complete=c.complete, partial=c.partial, failed=c.failed,
                       findings=c.findings, prohibited=c.prohibited, review=c.review,
                       devices_with_findings=c.devices_with_findings, apps_read=c.apps_read,
                       not_checked=len(self.not_checked))

    @property
    def complete(self) -> bool:
        c = self.counts
        return bool(c.devices) and c.complete == c.devices and all(t.answered for t in self.transports)

    @property
    def failing_findings(self) -> int:
        return self.counts.failing


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
    spool = getattr(report, "spool", None)
    if spool is not None:
        out.write("\n  ]\n}\n" if spool.write(report, out) else "]\n}\n")
        return
    encode = json.JSONEncoder(ensure_ascii=True, separators=(", ", ": ")).encode
    for i, device in enumerate(devices):
        out.write(",\n    " if i else "\n    ")
        out.write(encode(device))
    out.write("\n  ]\n}\n" if devices else "]\n}\n")


def _write(report: Report, out: TextIO, options: FormatOptions) -> None:
    write_json(report, out)


FORMAT = Format("json", "the complete record, for scripts (docs/json-report.md)", _write)
