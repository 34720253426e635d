"""Android Management API devices, saved as JSON: one `enterprises.devices.get`
response (a Device), or a page of `enterprises.devices.list` (`{"devices":
[...], "nextPageToken": ...}`). Each Device's `applicationReports` are its apps,
by package name.

What such an export cannot prove is said on every device it holds, as the API
documents it:

- a device whose policy does not turn on application reports
  (statusReportingSettings.applicationReportsEnabled) has no
  `applicationReports` at all: none of its apps were checked, it is failed;
- a device managed through a work profile (managementMode PROFILE_OWNER) is
  reported with the work profile's apps and the system apps only: the personal
  profile was not checked, it is partial; so is a device whose management mode
  is not given, since which of the two it is cannot be known;
- a page with a `nextPageToken` is one page of a longer list: the devices on
  the later pages were not checked (a failed result of the file's own).

A report that cannot be read as the API documents it (not an object, a key
given twice, a package name that is no package name, a state the API does not
have) is a bad record: counted, its text kept as evidence for the matcher, and
its device never complete. An app the report says was REMOVED is not on the
device and is not listed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scanner.connectors.files.common import failed_inventory, json_record, label_of, make_inventory
from scanner.connectors.grammars.json_values import (
    Repeats,
    check_text,
    int_of,
    json_type,
    keys_text,
    no_repeats,
    strings_in,
    text_of,
)
from scanner.connectors.interface import FileReader
from scanner.connectors.records import BadRecord, Problems, clean_id, residue_of, snippet
from scanner.model import App, DeviceInfo, Inventory, Scope

__all__ = ["READER", "read_android_management"]

# ApplicationReport.applicationSource: whether the app came with the system image.
_SYSTEM = {"SYSTEM_APP_FACTORY_VERSION": True, "SYSTEM_APP_UPDATED_VERSION": True,
           "INSTALLED_FROM_PLAY_STORE": False}
# ApplicationReport.state: REMOVED apps are reported only with includeRemovedApps, and are not on the device.
_STATES = ("INSTALLED", "REMOVED", "APPLICATION_STATE_UNSPECIFIED")
_PROFILE_ONLY = "the Android Management API reports only the work profile's apps and the system apps"


def _device_name(value: Any) -> bool:
    """A Device's resource name: enterprises/{enterprise}/devices/{device}."""
    return isinstance(value, str) and value.startswith("enterprises/") and "/devices/" in value


def _is_devices(doc: object) -> bool:
    """One Device, or a page of devices.list; a scanner report (which also has "devices") names its schema."""
    if not isinstance(doc, dict) or "schema_version" in doc:
        return False
    if _device_name(doc.get("name")):
        return True
    devices = doc.get("devices")
    return "nextPageToken" in doc or (isinstance(devices, list) and any(
        isinstance(d, dict) and _device_name(d.get("name")) for d in devices))


def read_android_management(name: str, doc: dict[str, Any]) -> Iterator[Inventory]:
    label = label_of(name)
    if "devices" not in doc and "nextPageToken" not in doc:  # one Device
        yield _device(name, None, doc)
        return
    if isinstance(doc, Repeats):  # "devices" twice hides a whole list of devices
        yield failed_inventory(name, "bad-json", (
            f"{label} is an Android Management API device list that gives {keys_text(doc.repeated)} more than "
            f"once, so part of it would be silently ignored: it was edited or damaged; export the devices again"
        ))
        return
    devices = doc.get("devices")
    if not isinstance(devices, list):  # the devices may be under another key: the whole text is searched
        what = f"whose 'devices' is {json_type(devices)}, not a list" if "devices" in doc else "with no 'devices'"
        yield failed_inventory(name, "unknown-format", (
            f"{label} is an Android Management API device list {what}; export the devices again"
        ))
        return
    for number, entry in enumerate(devices, 1):
        yield _device(name, number, entry)
    token = doc.get("nextPageToken")
    if token is not None and token != "":
        yield Inventory(
            device=DeviceInfo(platform="android", serial=None, source=name), apps=(),
            coverage=(Scope("devices", read=False, reason="the devices on the pages after this one"),),
            status="failed", reason="truncated", message=(
                f"{label} is one page of the device list (it has a nextPageToken), so the devices on the pages "
                f"after it are not in this file and were not checked: list them again with pageToken set to each "
                f"nextPageToken until there is none, and scan every page"),
        )
    elif not devices:
        yield failed_inventory(name, "empty", f"{label} lists no devices; export the devices again",
                               platform="android")


def _device(name: str, number: int | None, entry: Any) -> Inventory:
    """One Device: its app reports, and what the API does not report for it."""
    where = label_of(name) + (f" device #{number}" if number else "")
    at = f"device #{number} " if number else ""  # how its problems name the record
    problems = json_record(name, where, at, entry, platform="android", advice="export the devices again")
    if isinstance(problems, Inventory):
        return problems
    device = _device_info(name, number, entry, problems)
    what = f"device {snippet(device.label)}"
    if "applicationReports" not in entry:
        problems.add(f"{at}no applicationReports: the device's policy does not report its apps")
        return Inventory(
            device=device, apps=(), coverage=(Scope("apps", read=False, reason="no applicationReports"),),
            status="failed", reason="no-app-reports", message=(
                f"{label_of(name)}, {what} holds no app list (no applicationReports): its policy does not turn on "
                f"application reports, so none of its apps were checked; set statusReportingSettings."
                f"applicationReportsEnabled in its policy, wait for its next status report and export it again"),
            problems=tuple(problems.kept), problem_count=problems.count, residue=residue_of(problems),
        )
    apps = _apps(entry["applicationReports"], at, problems)
    mode = entry.get("managementMode")
    if mode == "DEVICE_OWNER" or not (apps or problems.count):  # no app at all: an empty export, whatever the mode
        return make_inventory(name, device, apps, problems, None, unit="records", reason_bad="bad-records",
                              what=what)
    if mode == "PROFILE_OWNER":
        scope = Scope("personal profile", read=False, reason=_PROFILE_ONLY)
        reason = "work-profile-only"
        message = (f"{label_of(name)}, {what} is managed through a work profile, and {_PROFILE_ONLY}: the apps in "
                   f"its personal profile were not checked; scan the phone itself (over adb) to check them")
    else:
        shown = "not given" if mode is None else snippet(mode) if isinstance(mode, str) else json_type(mode)
        scope = Scope("personal profile", read=False, reason=f"managementMode {shown}")
        reason = "management-mode-unknown"
        message = (f"{label_of(name)}, {what}: its managementMode is {shown}, so whether it is managed through a "
                   f"work profile (for which {_PROFILE_ONLY}) cannot be known: apps outside a work profile may "
                   f"not have been checked; export the devices again, or scan the phone itself (over adb)")
    return make_inventory(name, device, apps, problems, None, scopes=(scope,), reason=reason, message=message,
                          unit="records", reason_bad="bad-records", what=what)


def _device_info(name: str, number: int | None, entry: dict[str, Any], problems: Problems) -> DeviceInfo:
    """Who the device is: its hardware serial, else its resource name (two devices of one file must never
    be taken for one)."""
    resource = serial = model = None
    try:
        resource = text_of(entry, "name")
        hardware = entry.get("hardwareInfo")
        if hardware is not None and not isinstance(hardware, dict):
            raise BadRecord(f"hardwareInfo is {json_type(hardware)}, expected an object")
        if hardware:
            serial, model = text_of(hardware, "serialNumber"), text_of(hardware, "model")
    except BadRecord as err:
        problems.add(f"device #{number}: {err}" if number else f"the device: {err}",
                     evidence=" ".join(strings_in([entry.get("name"), entry.get("hardwareInfo")])))
    serial = (serial or "").strip() or resource or (f"device #{number}" if number else None)
    return DeviceInfo(platform="android", serial=serial, model=model, name=resource, source=name)


def _apps(reports: Any, at: str, problems: Problems) -> list[App]:
    if not isinstance(reports, list):
        problems.add(f"{at}applicationReports is {json_type(reports)}, not a list",
                     evidence=" ".join(strings_in(reports)))
        return []
    apps: list[App] = []
    for i, report in enumerate(reports, 1):
        try:
            app = _app(report)
        except BadRecord as err:
            # The record is not trusted, but its ids are still searched (packageName, installerPackageName...).
            problems.add(f"{at}app #{i}: {err}", evidence=" ".join(strings_in(report)))
            continue
        if app is not None:
            apps.append(app)
    return apps


def _app(report: Any) -> App | None:
    """The App of one ApplicationReport; None for an app the report says was removed."""
    if not isinstance(report, dict):
        raise BadRecord(f"expected an object of app attributes, got {json_type(report)}")
    no_repeats(report)
    package = report.get("packageName")
    if not isinstance(package, str):
        raise BadRecord(f"packageName is {json_type(package)}, expected a package name")
    check_text("packageName", package)
    package, why = clean_id(package, "packageName")
    if why:
        raise BadRecord(why)
    state = text_of(report, "state")
    if state is not None and state not in _STATES:
        raise BadRecord(f"state {snippet(state)} is not one the Android Management API reports "
                        f"({', '.join(_STATES)}), so the record was edited or damaged")
    source = text_of(report, "applicationSource")
    code = int_of(report, "versionCode")
    installer = text_of(report, "installerPackageName")
    name, version = text_of(report, "displayName"), text_of(report, "versionName")
    if state == "REMOVED":
        return None
    return App("android", package, name, version, None if code is None else str(code), installer, None,
               "installed", _SYSTEM.get(source or ""))


READER = FileReader(
    name="android-management",
    description="Android Management API device JSON (enterprises.devices get or list)",
    help="Android Management API devices JSON",
    document=_is_devices,
    shape="Android Management API devices (a Device, or a devices.list page)",
    read=read_android_management,
)
