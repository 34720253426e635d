"""Google Workspace endpoint management devices, saved as JSON: pages of the
Admin SDK Directory API's `GET admin/directory/v1/customer/{customer}/devices/
mobile?projection=FULL` (`{"kind": "admin#directory#mobiledevices",
"mobiledevices": [...], "nextPageToken": ...}`), one page or a JSON array of
them, and the answer of `.../devices/mobile/{resourceId}` (one
`admin#directory#mobiledevice`). Each device's `applications` are its apps:
`packageName`, `displayName`, `versionName`, `versionCode`, `permission`.

Verified against: the MobileDevice resource as Google's REST reference and the
client libraries generated from it (dotnet, ruby, dart, elixir) give its fields
and types, as research/mdm-inventories.md §6 cites them ("confirmed"); no real
export. The values of `type` are not listed there: ANDROID, IOS_SYNC and
GOOGLE_SYNC are read (unverified, from the API's own names for its device
kinds); any other is a bad record.

What such a list cannot prove is said on every device, as the reference says
it: "The list includes any Android applications that access Google Workspace
data", and it "is not applicable to Google Sync and iOS devices". So an Android
device is `partial` with reason `mdm-scope` (apps that touch no Workspace data
are not listed), and an iOS or Google Sync device, which lists no apps, is
`failed`: never clean. A device without `applications` (a list fetched without
projection=FULL, or whose apps touch no Workspace data) is failed too. The list
holds user-owned devices only (company-owned ones are in the Cloud Identity
Devices API, which lists no apps): that is said in the README, not per device.

A page with a `nextPageToken` has a page after it: when every page here has
one, the last page is missing and a failed result says so. (The API gives no
count of devices, so a page missing between two saved ones cannot be seen.)
A device is told apart by its `resourceId` (else `deviceId`, else its serial):
the same device on two pages is one device. Its serial, device id and users
(`email`) are its identity, and `lastSync` is when it was inventoried. A record
that is not what the API writes (not an object, a key given twice, a package
name that is no package name, a value of the wrong type, a time that is no
time) is a bad record: counted, its text kept as evidence for the matcher, and
its device never complete.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from scanner.connectors.files.common import failed_inventory, json_record, label_of, make_inventory, value_evidence
from scanner.connectors.files.readers.refused import page_refused
from scanner.connectors.grammars.json_values import (
    check_text,
    json_type,
    no_repeats,
    strings_in,
    text_of,
)
from scanner.connectors.interface import FileReader
from scanner.connectors.records import BadRecord, Problems, clean_id, residue_of, snippet
from scanner.model import MDM_SCOPE, App, DeviceInfo, Inventory, Scope

__all__ = ["READER", "read_google_admin"]

_LIST, _ONE = "admin#directory#mobiledevices", "admin#directory#mobiledevice"
_TYPES = {"ANDROID": "android", "IOS_SYNC": "ios", "GOOGLE_SYNC": None}
_BLIND = "the Admin SDK lists only the Android apps that access Google Workspace data"
_NO_APPS = {"ios": "the Admin SDK lists no apps for iOS devices",
            None: "the Admin SDK lists no apps for Google Sync devices"}
_ADVICE = "scan the phone itself (over adb or USB) to check every app"


def _kind(doc: object) -> object:
    return doc.get("kind") if isinstance(doc, dict) and "schema_version" not in doc else None


def _is_google(doc: object) -> bool:
    if isinstance(doc, list):
        return any(_kind(d) in (_LIST, _ONE) for d in doc)
    return _kind(doc) in (_LIST, _ONE)


def read_google_admin(name: str, doc: Any) -> Iterator[Inventory]:
    label = label_of(name)
    many = isinstance(doc, list)
    paged = ended = False  # a page was read; a page without a nextPageToken (the last one) was
    listed = 0
    for number, page in enumerate(doc if many else [doc], 1):
        where = f"{label} page #{number}" if many else label
        kind = _kind(page)
        if kind == _ONE:
            yield _device(name, where, None, page)
            continue
        refused = page_refused(name, where, page, is_page=kind == _LIST, advice="list the devices again", what=(
            "neither an Admin SDK mobile device nor a page of them (kind admin#directory#mobiledevices)"))
        if refused is not None:
            yield refused
            continue
        devices = page.get("mobiledevices", [])  # the API leaves out an empty list
        if not isinstance(devices, list):
            evidence = value_evidence(devices)
            yield failed_inventory(name, "bad-records", (
                f"{where}: its mobiledevices is {json_type(devices)}, not a list; list the devices again"),
                evidence=evidence)
            continue
        paged = True
        token = page.get("nextPageToken")
        ended = ended or token is None or token == ""
        listed += len(devices)
        for i, entry in enumerate(devices, 1):
            yield _device(name, where, f"page #{number} device #{i}" if many else f"device #{i}", entry)
    if paged and not ended:
        yield Inventory(
            device=DeviceInfo(platform=None, serial=None, source=name), apps=(),
            coverage=(Scope("devices", read=False, reason="the devices on the pages after the last one here"),),
            status="failed", reason="truncated", message=(
                f"{label}: {'every page here has' if many else 'the page has'} a nextPageToken, so the devices on "
                f"the pages after {'the last one' if many else 'it'} are not in this file and were not checked: list "
                f"them again with pageToken set to each nextPageToken until there is none, and scan every page"))
    elif paged and not listed:
        yield failed_inventory(name, "empty", f"{label} lists no mobile devices; list the devices again")


def _device(name: str, where: str, record_label: str | None, entry: Any) -> Inventory:
    """One MobileDevice: its apps, and what the Admin SDK does not list for it."""
    number = record_label.rpartition(" #")[2] if record_label else None
    at = f"device #{number} " if number else ""
    where = where + (f" device #{number}" if number else "")
    problems = json_record(name, where, at, entry, platform="android", advice="list the devices again")
    if isinstance(problems, Inventory):
        return problems
    device = _device_info(name, record_label, entry, problems)
    label = label_of(name)
    what = f"device {snippet(device.label)}"
    kind = entry.get("type")
    if device.platform != "android" and kind in _TYPES:  # an iOS or Google Sync device: no app list at all
        blind = _NO_APPS[device.platform]
        if not entry.get("applications"):
            return _no_apps(device, problems, blind, reason="mdm-scope", message=(
                f"{label}, {what} is {'an iOS' if device.platform else 'a Google Sync'} device, and {blind}: none "
                f"of its apps were checked; scan the {'iPhone' if device.platform else 'phone'} itself, or the "
                f"inventory of the MDM that manages its apps"))
    else:
        blind = _BLIND
    if "applications" not in entry:
        problems.add(f"{at}no applications: the list was fetched without projection=FULL, or no app of the device "
                     f"touches Workspace data")
        return _no_apps(device, problems, blind, reason="no-app-list", message=(
            f"{label}, {what} holds no app list (no applications): the list was fetched without projection=FULL, "
            f"or none of its apps touches Google Workspace data, so none of its apps were checked; list the "
            f"devices again with projection=FULL, or {_ADVICE}"))
    apps = _apps(entry["applications"], device.platform or "android", at, problems)
    if not apps and not problems.count:
        return _no_apps(device, problems, blind, reason="empty", message=(
            f"{label}, {what} lists no app, so none of its apps were checked: {blind}; {_ADVICE}"))
    scope = Scope(MDM_SCOPE, read=False, reason=blind)
    return make_inventory(name, device, apps, problems, None, scopes=(scope,),
                          reason=None if problems.count else "mdm-scope",
                          message=None if problems.count else (
                              f"{label}, {what}: {blind}, so its other apps were not checked; {_ADVICE}"),
                          unit="records", reason_bad="bad-records", what=what)


def _no_apps(device: DeviceInfo, problems: Problems, blind: str, *, reason: str, message: str) -> Inventory:
    return Inventory(
        device=device, apps=(), coverage=(Scope("apps", read=False, reason="no apps listed"),
                                          Scope(MDM_SCOPE, read=False, reason=blind)),
        status="failed", reason=reason if not problems.count or reason != "mdm-scope" else "bad-records",
        message=message, problems=tuple(problems.kept), problem_count=problems.count, residue=residue_of(problems))


def _device_info(name: str, record_label: str | None, entry: dict[str, Any], problems: Problems) -> DeviceInfo:
    """Who the device is: its resourceId (else deviceId, else serial), what else names it, and its last sync."""
    at = f"device #{record_label.rpartition(' #')[2]}" if record_label else "the device"
    resource = device_id = serial = model = os_version = when = None
    platform: str | None = "android"
    users: list[str] = []
    try:
        resource, device_id, serial = (text_of(entry, k) for k in ("resourceId", "deviceId", "serialNumber"))
        model, os_version = text_of(entry, "model"), text_of(entry, "os")
        users = _texts(entry, "email")
        kind = text_of(entry, "type")
        if kind is None:
            folded = (os_version or "").lower()
            platform = "ios" if folded.startswith(("ios", "ipados")) else "android" if folded.startswith(
                "android") else None
            if platform is None:
                raise BadRecord("no type, and its os does not say whether it is Android or iOS")
        elif kind not in _TYPES:
            platform = None
            raise BadRecord(f"type {snippet(kind)} is not one the Admin SDK lists ({', '.join(_TYPES)})")
        else:
            platform = _TYPES[kind]
        when = _when(entry.get("lastSync"))
    except BadRecord as err:
        problems.add(f"{at}: {err}", evidence=" ".join(strings_in(
            [entry.get(k) for k in ("resourceId", "deviceId", "serialNumber", "email", "type", "lastSync")])))
    ids = [(what, value.strip()) for what, value in (("mdm id", resource), ("device id", device_id),
                                                     ("serial", serial)) if value and value.strip()]
    key = {"mdm id": "Google id", "device id": "Google device id", "serial": "serial"}
    serial_key = f"{key[ids[0][0]]} {ids[0][1]}" if ids else (record_label or "the device")
    identity = tuple(ids) + tuple(("user", u) for u in users if u.strip())
    return DeviceInfo(platform=platform, serial=serial_key, model=model, os_version=os_version, source=name,
                      identity=identity, inventoried=when)


def _texts(entry: dict[str, Any], key: str) -> list[str]:
    value = entry.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRecord(f"{key} is {json_type(value)}, expected a list of text")
    return [check_text(key, v) or "" for v in value]


def _when(value: Any) -> datetime | None:
    """lastSync: an RFC 3339 time ("2025-05-01T19:22:03.000Z"); a time without a zone is UTC."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRecord(f"lastSync is {json_type(value)}, expected a time")
    try:
        when = datetime.fromisoformat(check_text("lastSync", value) or "")
    except ValueError:
        raise BadRecord(f"lastSync {snippet(value)} is not an ISO 8601 time") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def _apps(listed: Any, platform: str, at: str, problems: Problems) -> list[App]:
    if not isinstance(listed, list):
        problems.add(f"{at}applications is {json_type(listed)}, not a list", evidence=" ".join(strings_in(listed)))
        return []
    apps: list[App] = []
    for i, record in enumerate(listed, 1):
        try:
            apps.append(_app(record, platform))
        except BadRecord as err:
            # The record is not trusted, but its ids are still searched (packageName, displayName...).
            problems.add(f"{at}app #{i}: {err}", evidence=" ".join(strings_in(record)))
    return apps


def _app(record: Any, platform: str) -> App:
    if not isinstance(record, dict):
        raise BadRecord(f"expected an object of app attributes, got {json_type(record)}")
    no_repeats(record)
    package = record.get("packageName")
    if not isinstance(package, str):
        raise BadRecord(f"packageName is {json_type(package)}, expected a package name")
    check_text("packageName", package)
    package, why = clean_id(package, "packageName")
    if why:
        raise BadRecord(why)
    app_name, version = text_of(record, "displayName"), text_of(record, "versionName")
    code = record.get("versionCode")
    digits = isinstance(code, str) and code.isascii() and code.isdigit()  # an int64 is written as text
    if code is not None and not (type(code) is int and code >= 0) and not digits:
        raise BadRecord(f"versionCode is {json_type(code)}, expected a whole number")
    _texts(record, "permission")
    return App(platform, package, app_name, version, None if code is None else str(code))


READER = FileReader(
    name="google-admin",
    description="Google Admin SDK mobile devices JSON (Directory API devices/mobile, projection FULL)",
    help="Google Admin SDK mobile devices JSON",
    document=_is_google,
    shape="Admin SDK mobile devices (a page of devices/mobile, or one device)",
    read=read_google_admin,
)
