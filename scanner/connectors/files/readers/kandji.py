"""Kandji (now Iru) device app lists, saved as JSON: the answer of
`GET /api/v1/devices/{device_id}/apps` (`{"device_id": "...", "apps":
[{"app_name", "bundle_id", "version", ...}]}`), one answer or a JSON array of
them (one per device, or saved one after another).

Verified against: Kandji's own public script (kandji-inc/support
api-tools/installed-apps, which reads `device_id`, `apps`, `app_name`,
`bundle_id` and `version` from this answer) and the SDK docs that
research/mdm-inventories.md §9 cites ("confirmed" for those fields); no real
export. The answer names no platform: Kandji manages Apple devices, and the
apps are read as iOS apps (a Mac's answer is read the same way: its app list
gives nothing that tells it apart with certainty, and reading it as an iPhone's
may show a finding, never hide one). The fleet-wide Prism apps export
(`/api/v1/prism/apps`, `{"data": [...], "cursor": ...}`, and its CSV) is
kandji_prism's, which keys a device the same way ("Kandji id ..."), so a device
read from both in one input is one device.

What such a list cannot prove is said on every device: Kandji's inventory is
what the device reports over Apple's MDM, which leaves out an iPhone's or
iPad's preinstalled Apple apps ("For iPhone and iPad, the preinstalled Apple
apps are not reported") and holds the managed apps only for a User Enrollment.
So a device read from it is `partial` with reason `mdm-scope`, never
`complete`.

A device is told apart by its Kandji `device_id` (its "mdm id"): the same
device in two answers is one device. An answer or app record that is not what
the API writes (not an object, a key given twice, a bundle id that is no
bundle id, a value of the wrong type) is a bad record: counted, its text kept
as evidence for the matcher, and its device never complete.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scanner.connectors.files.common import json_apps, json_record, label_of, make_inventory
from scanner.connectors.grammars.json_values import check_text, json_type, no_repeats, strings_in, text_of
from scanner.connectors.interface import FileReader
from scanner.connectors.records import BadRecord, Problems, clean_id, residue_of, snippet
from scanner.model import MDM_SCOPE, App, DeviceInfo, Inventory, Scope

__all__ = ["READER", "read_kandji"]

_BLIND = ("Kandji's inventory is what the device reports over Apple's MDM: it leaves out an iPhone's or iPad's "
          "preinstalled Apple apps, and a User Enrollment reports managed apps only")
_ADVICE = "scan the iPhone itself over USB to check every app"


def _answer(doc: object) -> bool:
    if not isinstance(doc, dict) or "schema_version" in doc or "device_id" not in doc:
        return False
    apps = doc.get("apps")
    return isinstance(apps, list) and any(isinstance(a, dict) and "bundle_id" in a for a in apps)


def _is_kandji(doc: object) -> bool:
    return _answer(doc) or (isinstance(doc, list) and any(_answer(d) for d in doc))


def read_kandji(name: str, doc: Any) -> Iterator[Inventory]:
    many = isinstance(doc, list)
    for number, answer in enumerate(doc if many else [doc], 1):
        yield _device(name, number if many else None, answer)


def _device(name: str, number: int | None, answer: Any) -> Inventory:
    label = label_of(name)
    where = label + (f" answer #{number}" if number else "")
    at = f"answer #{number} " if number else ""
    problems = json_record(name, where, at, answer, platform="ios", advice="fetch the device's apps again")
    if isinstance(problems, Inventory):
        return problems
    device_id = None
    try:
        device_id = (text_of(answer, "device_id") or "").strip() or None
    except BadRecord as err:
        problems.add(f"{at or 'the device: '}{err}", evidence=" ".join(strings_in(answer.get("device_id"))))
    key = f"Kandji id {device_id}" if device_id else (f"answer #{number}" if number else "the device")
    device = DeviceInfo(platform="ios", serial=key, source=name,
                        identity=(("mdm id", device_id),) if device_id else ())
    what = f"device {snippet(key)}"
    if "apps" not in answer:
        problems.add(f"{at}no apps: this is not the answer of devices/{{device_id}}/apps")
        return Inventory(
            device=device, apps=(), coverage=(Scope("apps", read=False, reason="no apps"),), status="failed",
            reason="no-app-list", message=(
                f"{label}, {what} holds no app list (no apps), so none of its apps were checked; fetch "
                f"/api/v1/devices/{{device_id}}/apps and scan that"),
            problems=tuple(problems.kept), problem_count=problems.count, residue=residue_of(problems))
    apps = _apps(answer["apps"], at, problems)
    if not apps and not problems.count:
        return Inventory(
            device=device, apps=(), coverage=(Scope("apps", read=False, reason="no apps listed"),
                                              Scope(MDM_SCOPE, read=False, reason=_BLIND)),
            status="failed", reason="empty", message=(
                f"{label}, {what} lists no app, and a phone always has some: the device has not sent Kandji its "
                f"inventory yet, or the answer was cut; fetch its apps again, or {_ADVICE}"))
    scope = Scope(MDM_SCOPE, read=False, reason=_BLIND)
    return make_inventory(name, device, apps, problems, None, scopes=(scope,),
                          reason=None if problems.count else "mdm-scope",
                          message=None if problems.count else (
                              f"{label}, {what}: {_BLIND}, so apps outside its view were not checked; {_ADVICE}"),
                          unit="records", reason_bad="bad-records", what=what)


def _apps(listed: Any, at: str, problems: Problems) -> list[App]:
    return json_apps(listed, "apps", at, problems, _app)


def _app(record: Any) -> App:
    if not isinstance(record, dict):
        raise BadRecord(f"expected an object of app attributes, got {json_type(record)}")
    no_repeats(record)
    identifier = record.get("bundle_id")
    if not isinstance(identifier, str):
        raise BadRecord(f"bundle_id is {json_type(identifier)}, expected a bundle id")
    check_text("bundle_id", identifier)
    identifier, why = clean_id(identifier, "bundle_id")
    if why:
        raise BadRecord(why)
    return App("ios", identifier, text_of(record, "app_name"), text_of(record, "version"))


READER = FileReader(
    name="kandji",
    description="Kandji device apps JSON (devices/{id}/apps)",
    help="Kandji device apps JSON",
    document=_is_kandji,
    shape="a Kandji device app list (device_id and apps)",
    read=read_kandji,
)
