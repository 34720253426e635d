"""The devices a saved 1.2 report lists as not checked (`not_checked`: Windows and macOS computers of an MDM
export), read back as not checked again: an Inventory with reason NOT_CHECKED each, which the audit lists in
the new report's not_checked. An entry that names a phone or tablet (which would take it out of the verdict)
or that cannot be read is a failed device instead: the report was edited or damaged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from scanner.connectors.files.common import failed_inventory, label_of
from scanner.connectors.files.readers.report.devices import device_info
from scanner.connectors.files.readers.report.records import keep_evidence
from scanner.connectors.grammars.json_values import Repeats, json_type, keys_text
from scanner.connectors.records import Problems, decodable, residue_of
from scanner.model import NOT_CHECKED, DeviceInfo, Inventory, Scope


def not_checked(name: str, doc: dict[str, Any], finished: datetime | None) -> Iterator[Inventory]:
    if doc.get("not_checked") is None:  # 1.0 and 1.1 reports have none
        return
    entries = doc["not_checked"]
    label = label_of(name)
    if not isinstance(entries, list):
        evidence = Problems()
        keep_evidence(evidence, entries)
        yield failed_inventory(name, "bad-records", (
            f"{label}: its list of devices not checked is {json_type(entries)}, not a list, so what it held cannot "
            f"be shown to be computers and not phones: it was edited or damaged; scan again and save the scan again"
        ), evidence=evidence)
        return
    for number, entry in enumerate(entries, 1):
        yield _entry(name, number, entry, finished)


def _entry(name: str, number: int, entry: Any, finished: datetime | None) -> Inventory:
    where = f"{label_of(name)} not-checked device #{number}"
    problems = Problems()
    if not isinstance(entry, dict):
        keep_evidence(problems, entry)
        return _refused(name, where, f"it is {json_type(entry)}, not an object", problems)
    if isinstance(entry, Repeats):
        problems.add(f"not-checked device #{number}: {keys_text(entry.repeated)} given more than once")
    device, _ = device_info(name, number, entry, problems, finished, what="not-checked device", known=False)
    rows, why = entry.get("rows"), entry.get("why")
    if not (type(rows) is int and rows >= 0):
        problems.add(f"not-checked device #{number}: rows is {json_type(rows)}, expected a whole number")
    if not (isinstance(why, str) and why.strip() and decodable(why)):
        problems.add(f"not-checked device #{number}: why is {json_type(why)}, expected text")
    if problems.count:
        keep_evidence(problems, entry)
        return _refused(name, where, problems.kept[0], problems)
    return Inventory(
        device=device, apps=(), status="failed", reason=NOT_CHECKED, message=why,
        coverage=(Scope("apps", read=False, reason=f"a {device.platform} device, not a phone or tablet", apps=rows),),
    )


def _refused(name: str, where: str, what: str, problems: Problems) -> Inventory:
    return Inventory(
        device=DeviceInfo(platform=None, serial=None, source=f"{name}: {where.rpartition(' ')[2]} not checked"),
        apps=(), coverage=(Scope("records", read=False, reason="a device listed as not checked cannot be read"),),
        status="failed", reason="bad-records",
        message=(f"{where} cannot be read ({what}): a device listed as not checked is left out of the verdict, and "
                 f"this one cannot be shown to be a computer; the report was edited or damaged: scan again"),
        problems=tuple(problems.kept), problem_count=max(problems.count, 1), residue=residue_of(problems),
    )
