"""A scanner JSON report saved with --inventory: each device as it was when
scanned, never more complete than the report can show it was.

A saved report is not signed: whoever can write the file can change it, and
an edit that keeps every field in agreement with every other cannot be told
from the original (keep the sha256 of a report that is evidence). What this
reader does is refuse every edit that leaves a trace, in the direction that
matters: a result is only ever made less complete than it was saved, never
more, and evidence still in the file is never dropped.

- A device saved `partial` or `failed` stays so; one with no app left is
  `failed` (nothing of it can be matched), as an empty export is.
- A device saved `complete` stays complete only when every field that says
  something about completeness agrees, as the writer (formats/json_report.py)
  makes them: `reason` and `message` null; `verdict` `clean` without
  findings, else `findings` or `review` as its findings' severities and the
  report's `fail_on` say; every `coverage` scope read, each read scope
  counting its apps, the counts adding up to the inventory; `app_count`
  equal to the number of inventory records; no `problems` and a
  `problem_count` of 0 (a phone read live through adb may keep notes on a
  complete read, e.g. an old pm without -U: then the count must agree with
  the list); every finding readable, its app (platform, id, user) in the
  inventory, and none `recovered` from an unreadable line (`match` or
  `matched_by`). Otherwise the device is `partial` (`failed` with no app),
  reason `bad-records`, and the message says the report was edited or
  damaged. An app whose platform is not its device's makes the device
  partial on any status; it is matched as written and its id searched as the
  device's platform's too, since which of the two was edited is unknown.
- A device saved complete with no apps at all is `failed`, reason `empty`,
  as an empty live listing is: a phone always has apps.
- The top level must agree with the devices: the `summary` counts, `fail_on`,
  and what `exit_code` and `verdict` say about findings. Which device was
  edited cannot then be told, so every device saved as complete is partial.
  A top level that says the scan was not fully read while every device says
  complete, a `transports` entry that did not answer (or cannot be read),
  or a summary counting more devices than are listed, mean targets the file
  does not hold: a failed result is added for them, so re-reading a report
  is never cleaner than the scan it saved.
- Evidence is kept: an app named by a saved finding but missing from the
  inventory is read from the finding; the ids of `recovered` findings and
  the strings of records that cannot be read are searched again for whole
  catalog ids (Inventory.residue), and what is found is reported, recovered.

A key the writer always writes but that is missing reads as its empty value
(null, [] or 0), except `status` and `app_count`: only fields that are there
can disagree. The optional keys of newer 1.x writers (1.1: `transports`, a
device's `device.transport`, a finding's `matched_by`; 1.2: an app's
`evidence` and `devices`, a finding's `evidence`, a device's `identity` and
`inventoried`, `not_checked`, `accepted_scopes`, `max_age`) are read when
present and never required.

Schema 1.2 (MDM exports):
- An app keeps its evidence ("name": its id is a display name, kept exactly
  as given) and its `devices` count (an aggregate row); a finding's
  `evidence` and `match` must agree with its app (a bad record otherwise).
  A device keeps its `identity` and `inventoried` (a time later than the
  report's `finished`, past a day of clock skew, is a bad record: it would
  dodge --max-age).
- `--accept-scope mdm` is an option of a run, not a fact of a device: a scope
  the saved scan accepted ("accepted with --accept-scope mdm: ...") is unread
  again, so a device that was complete only by it reads `partial` with reason
  `mdm-scope` until this run accepts it again; a device saved `partial` for
  another reason gets an unread scope of its own so that accepting cannot
  make it complete. `--max-age` applies again to `inventoried`.
- `not_checked` entries (computers) are read back as not checked (reason
  NOT_CHECKED, their rows counted in the coverage); one that names a phone or
  tablet, or no platform, or cannot be read, is a failed device instead.

The package: devices (one device), checks (what a device saved as complete
must agree with), top_level (the top level against the devices), records
(an app, a coverage scope, identity and times), not_checked (the devices a
report lists as not checked).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scanner.connectors.files.common import failed_inventory, label_of
from scanner.connectors.files.readers.report.devices import report_device
from scanner.connectors.files.readers.report.not_checked import not_checked
from scanner.connectors.files.readers.report.records import report_finished
from scanner.connectors.files.readers.report.top_level import TopLevel, unseen
from scanner.connectors.grammars.json_values import Repeats, json_type, keys_text
from scanner.connectors.interface import FileReader
from scanner.connectors.records import snippet
from scanner.model import Inventory

__all__ = ["READER", "is_report", "read_report"]


def is_report(doc: object) -> bool:
    """A scanner report names its schema or its devices."""
    return isinstance(doc, dict) and ("schema_version" in doc or "devices" in doc)


def _read(name: str, doc: dict[str, Any]) -> Iterator[Inventory]:
    if isinstance(doc, Repeats):  # "devices" twice hides a whole list of devices
        yield failed_inventory(name, "bad-json", (
            f"{label_of(name)} is a scanner report that gives {keys_text(doc.repeated)} more than once, so part of "
            f"it would be silently ignored: it was edited or damaged; save the scan again"
        ))
        return
    yield from read_report(name, doc)


READER = FileReader(
    name="report",
    description="a scanner JSON report saved with --inventory",
    help="a scanner JSON report written with --inventory",
    document=is_report,
    shape="a scanner report",
    read=_read,
)


def read_report(name: str, doc: dict[str, Any]) -> Iterator[Inventory]:
    label = label_of(name)
    version = doc.get("schema_version")
    if not isinstance(version, str) or version.split(".")[0] != "1":
        yield failed_inventory(name, "unsupported-schema", (
            f"{label} is a scanner report with schema_version {snippet(str(version))}; this scanner reads 1.x "
            f"reports: scan the devices again with this version, or use the version that wrote it"
        ))
        return
    if doc.get("inventory_included") is not True:
        yield failed_inventory(name, "no-inventory", (
            f"{label} is a scanner report saved without its app list, so it cannot be matched again; rerun the "
            f"scan with --inventory (e.g. scanner scan ... --inventory --output json=FILE) and use that file"
        ))
        return
    devices = doc.get("devices")
    if not isinstance(devices, list) or not devices:
        what = "no devices" if isinstance(devices, list) else f"'devices' as {json_type(devices)}, not a list"
        yield failed_inventory(name, "empty" if isinstance(devices, list) else "unknown-format", (
            f"{label} is a scanner report with {what}; nothing to match: save the scan again with --inventory"
        ))
        return
    top = TopLevel.of(doc, devices)
    finished = report_finished(doc.get("finished"))
    complete = True
    for number, entry in enumerate(devices, 1):
        inv = report_device(name, number, entry, doc.get("fail_on"), top.distrust, finished)
        complete = complete and inv.status == "complete"
        yield inv
    yield from not_checked(name, doc, finished)
    yield from unseen(name, doc, devices, top, complete)
