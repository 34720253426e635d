"""Workspace ONE UEM (Omnissa, formerly VMware AirWatch) device app lists,
saved as JSON: the answer of `GET /api/mdm/devices/{uuid}/apps/search` (v2:
`{"app_items": [{"name", "bundle_id", "installed_version", "installed_status",
"assignment_status", ...}]}`) and of the legacy `GET /api/mdm/devices/{id}/apps`
(v1: `{"DeviceApps": [{"ApplicationName", "ApplicationIdentifier", "Version",
"Status", "Type", "IsManaged", ...}]}`); one answer, or a JSON array of them
(the pages of one device, or answers saved one after another).

Verified against: nothing first-hand. research/mdm-inventories.md §7 has the
v2 fields from an open-source connector and the v1 fields from a DTO, a mock
fixture and a script ("observed"); it marks as *unverified* `BuildVersion` and
whether `Page`/`PageSize`/`Total` wrap the v1 answer. Accepted as plausible,
unverified: `BuildVersion` (the build), `Total` (v1) and `total` (v2) as the
number of apps on all pages, and on the answer itself a device field
(`DeviceUuid`/`device_uuid`, `DeviceId`/`device_id`, `SerialNumber`/
`serial_number`) and a `Platform`/`platform` (Workspace ONE's platform names:
Apple, Android, AppleOsX, WinRT...). No wrapper that holds the device record
beside its apps is read: the note shows none.

The answer names no device in the documented shapes: a file then holds one
device, told apart by the file (its label "unnamed device"); answers that give
a device field are keyed by it, so the same device on two pages is one device
and two devices are never taken for one. The app status: an app whose
installed_status or Status says it is not installed (Not Installed, Removed,
Uninstalled, Pending Install, Install Failed) is not on the device: it is not
listed, and counted in the coverage; any other status, or none, is read as
installed, since the note lists no other value.

The platform: an app list answer carries none; without a platform field the
device's platform is unknown, and its apps are listed as iOS apps, since
bundle ids and package names are both what Workspace ONE gives, and the
matcher's iOS lookup tries the iOS id, its app extensions and the Android id
(the "other-platform" rule) while the Android lookup skips extensions. A
Windows or macOS computer (by its platform field) is not checked: listed in
the report as such.

What such a list cannot prove is said on every device: Workspace ONE's privacy
settings for personal (employee-owned) devices can keep it from collecting the
apps it does not manage, so a device read from it is `partial` with reason
`mdm-scope`, never `complete`. An answer whose total promises more apps than
the pages here hold adds a failed result for that device's missing apps. An
answer or app record that is not what the API writes (not an object, a key
given twice, an id that is no bundle id or package name, a wrong type) is a
bad record: counted, its text kept as evidence for the matcher, and its device
never complete.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from scanner.connectors.files.common import label_of, make_inventory, not_a_phone
from scanner.connectors.files.readers.refused import page_refused
from scanner.connectors.grammars.json_values import (
    check_text,
    flag_of,
    json_type,
    no_repeats,
    strings_in,
    text_of,
)
from scanner.connectors.interface import FileReader
from scanner.connectors.records import BadRecord, Problems, clean_id, snippet
from scanner.model import MDM_SCOPE, App, DeviceInfo, Inventory, Scope

__all__ = ["READER", "read_workspace_one"]

_V2, _V1 = "app_items", "DeviceApps"
# (the app list's key, id, name, version, build, status) of each answer shape
_FIELDS = {_V2: ("bundle_id", "name", "installed_version", None, "installed_status"),
           _V1: ("ApplicationIdentifier", "ApplicationName", "Version", "BuildVersion", "Status")}
_TOTALS = {_V2: "total", _V1: "Total"}
# Device fields an answer may carry (unverified), most specific first: (key, what it is, the key's prefix)
_DEVICE_KEYS = (("DeviceUuid", "uuid", "Workspace ONE uuid"), ("device_uuid", "uuid", "Workspace ONE uuid"),
                ("DeviceId", "mdm id", "Workspace ONE id"), ("device_id", "mdm id", "Workspace ONE id"),
                ("SerialNumber", "serial", "serial"), ("serial_number", "serial", "serial"))
_UNNAMED = "unnamed device"
_NOT_INSTALLED = frozenset({"notinstalled", "removed", "uninstalled", "pendinginstall", "installpending",
                            "installfailed"})
_SEPARATORS = str.maketrans("", "", " -_")
# Workspace ONE's platform names (folded), and what scanner makes of them
_PLATFORMS = {"apple": "ios", "ios": "ios", "ipados": "ios", "iphone": "ios", "ipad": "ios", "android": "android",
              "appleosx": "macos", "macos": "macos", "osx": "macos", "winrt": "windows", "windows": "windows",
              "windowspc": "windows", "windowsdesktop": "windows", "chromeos": "chromeos", "linux": "linux"}
_DESKTOPS = {"macos": "a macOS computer", "windows": "a Windows computer", "chromeos": "a ChromeOS device",
             "linux": "a Linux computer"}
_BLIND = ("Workspace ONE's privacy settings for personal devices can keep it from collecting the apps it does not "
          "manage")
_ADVICE = "scan the phone itself (over adb or USB) to check every app"


def _listed(answer: object) -> bool:
    """An answer of one of the two endpoints: its app list holds a record of that endpoint's shape."""
    if not isinstance(answer, dict) or "schema_version" in answer:
        return False
    for key, marks in ((_V2, ("bundle_id", "installed_version")), (_V1, ("ApplicationIdentifier",))):
        items = answer.get(key)
        if isinstance(items, list) and any(isinstance(i, dict) and any(m in i for m in marks) for i in items):
            return True
    return False


def _is_workspace_one(doc: object) -> bool:
    return _listed(doc) or (isinstance(doc, list) and any(_listed(d) for d in doc))


@dataclass
class _Device:
    """One device's parts, over the answers that name it."""

    key: str
    identity: tuple[tuple[str, str], ...]
    platform: str | None = None
    apps: list[App] = field(default_factory=list)
    problems: Problems = field(default_factory=Problems)
    not_installed: int = 0
    seen: set[str] = field(default_factory=set)  # the ids of its app records (a page saved twice counts once)
    bad: int = 0  # its app records that could not be read
    promised: int = 0  # the largest total an answer gave


def read_workspace_one(name: str, doc: Any) -> Iterator[Inventory]:
    label = label_of(name)
    many = isinstance(doc, list)
    devices: dict[str, _Device] = {}
    for number, answer in enumerate(doc if many else [doc], 1):
        where = f"{label} answer #{number}" if many else label
        at = f"answer #{number} " if many else ""
        refused = page_refused(name, where, answer, is_page=isinstance(answer, dict) and (
            _V2 in answer or _V1 in answer), what="not a Workspace ONE app list (app_items or DeviceApps)",
            advice="fetch the device's apps again")
        if refused is not None:
            yield refused
            continue
        _read_answer(answer, at, devices)
    for device in devices.values():
        yield from _inventories(name, device)


def _read_answer(answer: dict[str, Any], at: str, devices: dict[str, _Device]) -> None:
    faults: list[str] = []
    key, identity = _UNNAMED, ()
    try:
        key, identity = _device_key(answer)
    except BadRecord as err:
        faults.append(f"{at}device: {err}")
    device = devices.get(key)
    if device is None:
        device = devices[key] = _Device(key, identity)
    problems = device.problems
    for fault in faults:
        problems.add(fault, evidence=" ".join(strings_in({k: answer.get(k) for k, _, _ in _DEVICE_KEYS})))
    raw = answer.get("Platform", answer.get("platform"))
    if raw is not None:
        platform = _PLATFORMS.get(raw.lower().translate(_SEPARATORS)) if isinstance(raw, str) else None
        if platform is None:
            shown = snippet(raw) if isinstance(raw, str) else json_type(raw)
            problems.add(f"{at}platform {shown} is not one Workspace ONE has", evidence=str(raw))
        elif device.platform is None:
            device.platform = platform
    for shape in (_V2, _V1):
        if shape not in answer:
            continue
        total = answer.get(_TOTALS[shape])
        if type(total) is int and total >= 0:
            device.promised = max(device.promised, total)
        elif total is not None:
            problems.add(f"{at}{_TOTALS[shape]} is {json_type(total)}, expected a whole number")
        _read_apps(answer[shape], shape, at, device)


def _device_key(answer: dict[str, Any]) -> tuple[str, tuple[tuple[str, str], ...]]:
    """What tells the device apart (the first device field given), and every device field, in its order."""
    identity: list[tuple[str, str]] = []
    key = None
    for field_name, what, prefix in _DEVICE_KEYS:
        value = (text_of(answer, field_name) or "").strip()
        if value:
            identity.append((what, value))
            key = key or f"{prefix} {value}"
    return key or _UNNAMED, tuple(identity)


def _read_apps(items: Any, shape: str, at: str, device: _Device) -> None:
    problems = device.problems
    if not isinstance(items, list):
        problems.add(f"{at}{shape} is {json_type(items)}, not a list", evidence=" ".join(strings_in(items)))
        device.bad += 1
        return
    for i, record in enumerate(items, 1):
        try:
            app, installed = _app(record, shape)
        except BadRecord as err:
            # The record is not trusted, but its ids are still searched.
            problems.add(f"{at}app #{i}: {err}", evidence=" ".join(strings_in(record)))
            device.bad += 1
            continue
        device.seen.add(app.id)
        if installed:
            device.apps.append(app)
        else:
            device.not_installed += 1


def _app(record: Any, shape: str) -> tuple[App, bool]:
    if not isinstance(record, dict):
        raise BadRecord(f"expected an object of app attributes, got {json_type(record)}")
    no_repeats(record)
    id_key, name_key, version_key, build_key, status_key = _FIELDS[shape]
    identifier = record.get(id_key)
    if not isinstance(identifier, str):
        raise BadRecord(f"{id_key} is {json_type(identifier)}, expected a bundle id or package name")
    check_text(id_key, identifier)
    identifier, why = clean_id(identifier, id_key)
    if why:
        raise BadRecord(why)
    app_name, version, status = text_of(record, name_key), text_of(record, version_key), text_of(record, status_key)
    build = text_of(record, build_key) if build_key else None
    if shape == _V1:
        text_of(record, "Type")
        flag_of(record, "IsManaged")
    else:
        text_of(record, "assignment_status")
    installed = (status or "").lower().translate(_SEPARATORS) not in _NOT_INSTALLED
    return App("ios", identifier, app_name, version, build), installed


def _inventories(name: str, device: _Device) -> Iterator[Inventory]:
    label = label_of(name)
    info = DeviceInfo(platform=device.platform if device.platform in ("android", "ios") else None,
                      serial=device.key, source=name, identity=device.identity)
    what = f"device {snippet(device.key)}"
    if device.platform in _DESKTOPS:
        rows = len(device.apps) + device.not_installed + device.bad
        kind = _DESKTOPS[device.platform]
        yield not_a_phone(DeviceInfo(platform=device.platform, serial=device.key, source=name,
                                     identity=device.identity), f"{label}, {what}", kind, rows)
        return
    apps = [app._replace(platform=device.platform) for app in device.apps] if info.platform else device.apps
    scopes = [Scope(MDM_SCOPE, read=False, reason=_BLIND)]
    if device.not_installed:
        scopes.append(Scope("apps listed as not installed", read=True, apps=device.not_installed,
                            reason="Workspace ONE lists them as not installed, so they are not on the device"))
    if not apps and not device.problems.count:
        yield Inventory(
            device=info, apps=(), coverage=(Scope("apps", read=False, reason="no apps listed"), *scopes),
            status="failed", reason="empty", message=(
                f"{label}, {what} lists no installed app, and a phone always has some: the device has not sent "
                f"Workspace ONE its apps yet, or the pages were not all saved; fetch its apps again, or {_ADVICE}"))
    else:
        yield make_inventory(
            name, info, apps, device.problems, None, scopes=tuple(scopes),
            reason=None if device.problems.count else "mdm-scope",
            message=None if device.problems.count else (
                f"{label}, {what}: {_BLIND}, so apps outside its view may not have been checked; {_ADVICE}"),
            unit="records", reason_bad="bad-records", what=what)
    missing = device.promised - len(device.seen) - device.bad
    if missing > 0:
        yield Inventory(
            device=info, apps=(), coverage=(Scope("apps", read=False, reason=f"{missing} apps on pages not in "
                                                                             f"this file"),),
            status="failed", reason="truncated", message=(
                f"{label}, {what}: Workspace ONE says it lists {device.promised} apps (total), and the answers here "
                f"hold {device.promised - missing}, so {missing} {'app is' if missing == 1 else 'apps are'} on pages "
                f"not in this file and were not checked: fetch every page (page=0, 1, ... until the list is empty) "
                f"and scan them all"))


READER = FileReader(
    name="workspace-one",
    description="Workspace ONE UEM device apps JSON (apps/search app_items, or the legacy DeviceApps)",
    help="Workspace ONE UEM device apps JSON",
    document=_is_workspace_one,
    shape="a Workspace ONE app list (app_items or DeviceApps)",
    read=read_workspace_one,
)
