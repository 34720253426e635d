"""Android Management API devices, saved as JSON: one `enterprises.devices.get`
response (a Device), or a page of `enterprises.devices.list` (`{"devices":
[...], "nextPageToken": ...}`), or several of them (saved one after another,
or as a JSON array: unverified, a plausible variant). Each Device's
`applicationReports` are its apps, by package name.

Verified against: Google's REST reference for enterprises.devices, Device and
ApplicationReport as research/mdm-inventories.md section 5 gives them (field
names, the state and applicationSource values, the list wrapper) and its
illustrative sample; no real export. Accepted as documented by the API but not
shown by the note, unverified: `userName` (the user's resource name).

Who a device is: its resource name (enterprises/{e}/devices/{d}), which is
also its name, else its hardware serial (hardwareInfo.serialNumber): the same
device on two pages is one device, and two devices that report one hardware
serial (a clone, an emulator, a re-used board) stay two; its identity lists the
serial, the user (userName) and the resource name ("mdm id"). When it was inventoried is its `lastStatusReportTime`, the time the note
gives: application reports are part of the status report (lastPolicySyncTime,
when the device last fetched its policy, is not when it reported its apps, and
is not used). A time that cannot be read, or one more than a day ahead of the
clock (it would dodge --max-age), is a bad record.

What such an export cannot prove is said on every device it holds, as the API
documents it:

- a device whose policy does not turn on application reports
  (statusReportingSettings.applicationReportsEnabled) has no
  `applicationReports` at all: none of its apps were checked, it is failed;
- a device managed through a work profile (managementMode PROFILE_OWNER) is
  reported with the work profile's apps and the system apps only: the personal
  profile was not checked, it is partial (reason work-profile-only) with the
  MDM's scope unread; so is a device whose management mode is not given
  (reason management-mode-unknown), since which of the two it is cannot be
  known; `--accept-scope mdm` accepts either;
- a fully managed device (managementMode DEVICE_OWNER) has no personal
  profile: the note's only blind spot of the API (section 5, "with a work
  profile, only work-profile apps and system apps are reported") does not
  apply, and its reports cover the system apps and every installed app,
  whatever their source. So it is complete, with the MDM's scope read and that
  reason, which lets --max-age check its lastStatusReportTime. (Fleet saw apps
  missing from some reports, fleet#36806: an MDM's report is as fresh as the
  device's last status report, which is what --max-age is for.)
- a page with a `nextPageToken` is one page of a longer list: when every page
  of the file has one, the devices on the later pages were not checked (a
  failed result of the file's own; the API gives no count, so a page missing
  between two saved ones cannot be seen).

A report that cannot be read as the API documents it (not an object, a key
given twice, a package name that is no package name, a state the API does not
have) is a bad record: counted, its text kept as evidence for the matcher, and
its device never complete. An app the report says was REMOVED is not on the
device and is not listed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from scanner.connectors.files.common import failed_inventory, json_record, label_of, make_inventory, value_evidence
from scanner.connectors.files.readers.refused import page_refused
from scanner.connectors.grammars.json_values import (
    check_text,
    int_of,
    json_type,
    no_repeats,
    strings_in,
    text_of,
)
from scanner.connectors.interface import FileReader
from scanner.connectors.records import BadRecord, Problems, clean_id, residue_of, snippet
from scanner.model import MDM_SCOPE, App, DeviceInfo, Inventory, Scope

__all__ = ["READER", "read_android_management"]

# ApplicationReport.applicationSource: whether the app came with the system image.
_SYSTEM = {"SYSTEM_APP_FACTORY_VERSION": True, "SYSTEM_APP_UPDATED_VERSION": True,
           "INSTALLED_FROM_PLAY_STORE": False}
# ApplicationReport.state: REMOVED apps are reported only with includeRemovedApps, and are not on the device.
_STATES = ("INSTALLED", "REMOVED", "APPLICATION_STATE_UNSPECIFIED")
_PROFILE_ONLY = "the Android Management API reports only the work profile's apps and the system apps"
_FULLY_MANAGED = ("a fully managed device (managementMode DEVICE_OWNER) has no personal profile: the Android "
                  "Management API reports every app on it, system apps included")
_SKEW = timedelta(days=1)  # a status report time further ahead of the clock than this is an edit


def _device_name(value: Any) -> bool:
    """A Device's resource name: enterprises/{enterprise}/devices/{device}."""
    return isinstance(value, str) and value.startswith("enterprises/") and "/devices/" in value


def _is_devices(doc: object) -> bool:
    """One Device, or a page of devices.list, or a JSON array of them (pages saved one after another); a
    scanner report (which also has "devices") names its schema."""
    if isinstance(doc, list):
        return any(isinstance(d, dict) and _is_devices(d) for d in doc)
    if not isinstance(doc, dict) or "schema_version" in doc:
        return False
    if _device_name(doc.get("name")):
        return True
    devices = doc.get("devices")
    return "nextPageToken" in doc or (isinstance(devices, list) and any(
        isinstance(d, dict) and _device_name(d.get("name")) for d in devices))


def read_android_management(name: str, doc: Any) -> Iterator[Inventory]:
    label = label_of(name)
    many = isinstance(doc, list)
    number = 0  # devices are numbered across the pages, so that two without a name or serial stay two
    paged = ended = False
    for p, page in enumerate(doc if many else [doc], 1):
        where = f"{label} page #{p}" if many else label
        is_page = isinstance(page, dict) and _is_devices(page)
        if is_page and "devices" not in page and "nextPageToken" not in page:  # one Device (its own repeats)
            number += 1
            yield _device(name, number if many else None, page)
            continue
        refused = page_refused(name, where, page, is_page=is_page, platform="android", advice="export the devices "
                               "again", what="neither an Android Management API Device nor a page of devices.list")
        if refused is not None:  # a key twice in a page hides a whole list of devices
            yield refused
            continue
        devices = page.get("devices")
        if not isinstance(devices, list):  # the devices may be under another key: the whole text is searched
            what = (f"whose 'devices' is {json_type(devices)}, not a list" if "devices" in page
                    else "with no 'devices'")
            yield failed_inventory(name, "unknown-format", (
                f"{where} is an Android Management API device list {what}; export the devices again"
            ), evidence=value_evidence(page) if many else None)
            continue
        paged = True
        token = page.get("nextPageToken")
        ended = ended or token is None or token == ""
        for entry in devices:
            number += 1
            yield _device(name, number, entry)
    if paged and not ended:
        yield Inventory(
            device=DeviceInfo(platform="android", serial=None, source=name), apps=(),
            coverage=(Scope("devices", read=False, reason="the devices on the pages after this one"),),
            status="failed", reason="truncated", message=(
                f"{label} is {'pages' if many else 'one page'} of the device list "
                f"({'every page has' if many else 'it has'} a nextPageToken), so the devices on the pages after "
                f"{'the last one' if many else 'it'} are not in this file and were not checked: list them again "
                f"with pageToken set to each nextPageToken until there is none, and scan every page"),
        )
    elif paged and not number:
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
    if not (apps or problems.count):  # no app at all: an empty export, whatever the mode
        return make_inventory(name, device, apps, problems, None, unit="records", reason_bad="bad-records",
                              what=what)
    if mode == "DEVICE_OWNER":
        return make_inventory(name, device, apps, problems, None, scopes=(Scope(MDM_SCOPE, read=True,
                              reason=_FULLY_MANAGED),), unit="records", reason_bad="bad-records", what=what)
    if mode == "PROFILE_OWNER":
        scope = Scope(MDM_SCOPE, read=False, reason=_PROFILE_ONLY)
        reason = "work-profile-only"
        message = (f"{label_of(name)}, {what} is managed through a work profile, and {_PROFILE_ONLY}: the apps in "
                   f"its personal profile were not checked; scan the phone itself (over adb) to check them")
    else:
        shown = "not given" if mode is None else snippet(mode) if isinstance(mode, str) else json_type(mode)
        scope = Scope(MDM_SCOPE, read=False, reason=f"managementMode {shown}")
        reason = "management-mode-unknown"
        message = (f"{label_of(name)}, {what}: its managementMode is {shown}, so whether it is managed through a "
                   f"work profile (for which {_PROFILE_ONLY}) cannot be known: apps outside a work profile may "
                   f"not have been checked; export the devices again, or scan the phone itself (over adb)")
    # A record with bad parts: make_inventory's own reason (bad-records) and message win.
    return make_inventory(name, device, apps, problems, None, scopes=(scope,),
                          reason=None if problems.count else reason, message=None if problems.count else message,
                          unit="records", reason_bad="bad-records", what=what)


def _device_info(name: str, number: int | None, entry: dict[str, Any], problems: Problems) -> DeviceInfo:
    """Who the device is: its resource name, else its hardware serial (two devices of one file must never
    be taken for one, not even when they report one serial); what else names it, and when it last reported
    its status."""
    where = f"device #{number}: " if number else "the device: "

    def text(obj: dict[str, Any], key: str) -> str | None:
        """One field; a bad one is a problem of its own and does not hide the others."""
        try:
            return text_of(obj, key)
        except BadRecord as err:
            problems.add(where + str(err), evidence=" ".join(strings_in(obj.get(key))))
            return None

    resource, user = text(entry, "name"), text(entry, "userName")
    hardware = entry.get("hardwareInfo")
    if hardware is not None and not isinstance(hardware, dict):
        problems.add(f"{where}hardwareInfo is {json_type(hardware)}, expected an object",
                     evidence=" ".join(strings_in(hardware)))
        hardware = None
    serial, model = (text(hardware, "serialNumber"), text(hardware, "model")) if hardware else (None, None)
    serial = (serial or "").strip() or None
    resource = (resource or "").strip() or None
    identity = tuple((kind, value) for kind, value in (("serial", serial), ("user", (user or "").strip()),
                                                       ("mdm id", resource)) if value)
    return DeviceInfo(platform="android", serial=resource or serial or (f"device #{number}" if number else None),
                      model=model, name=resource, source=name, identity=identity,
                      inventoried=_reported(entry, where, problems))


def _reported(entry: dict[str, Any], where: str, problems: Problems) -> datetime | None:
    """lastStatusReportTime (RFC 3339, "2025-05-02T13:55:10Z"; a time without an offset is UTC), or None."""
    value = entry.get("lastStatusReportTime")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        problems.add(f"{where}lastStatusReportTime is {json_type(value) if not isinstance(value, str) else 'empty'}"
                     f", expected a time", evidence=" ".join(strings_in(value)))
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        problems.add(f"{where}lastStatusReportTime {snippet(value)} is not an RFC 3339 time", evidence=value)
        return None
    when = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    if when > datetime.now(UTC) + _SKEW:
        problems.add(f"{where}lastStatusReportTime {snippet(value)} is in the future, so the record was edited or "
                     f"damaged (it would dodge --max-age)", evidence=value)
        return None
    return when


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
    shape="Android Management API devices (a Device, or a devices.list page)",  # or an array of them
    read=read_android_management,
)
