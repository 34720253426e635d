"""Jamf Pro API mobile device inventories, saved as JSON: the answer of
`GET /api/v2/mobile-devices/{id}/detail` (one device, MobileDeviceDetailsV2:
its apps under `ios.applications`), and pages of `GET /api/v2/mobile-devices/
detail?section=APPLICATIONS` (`{"totalCount": N, "results": [...]}`, each
record a MobileDeviceInventory with `mobileDeviceId` and `applications`): one
page, or a JSON array of pages (or of detail answers). Each app is an
`identifier` (the bundle id), `name`, `shortVersion` (the version people see)
and `version` (CFBundleVersion, the build).

Verified against: the field names and types of the schemas ruby-jss generated
from Jamf Pro servers (MobileDeviceDetailsV2 from 10.40, MobileDeviceInventory
and MobileDeviceApplicationInventoryDetail from 11.6.1) and Jamf's reference
for the paged endpoint, as research/mdm-inventories.md §3.2 gives them; no
real export. Accepted as plausible variants, unverified: an inventory record's
`hardware.serialNumber`, `general.udid` and `general.displayName` (asked with
section=GENERAL or HARDWARE too), `userAndLocation.username`, the detail's
`location.username`, ids given as numbers. Several pages concatenated in one
file (`curl ... >> pages.json`) are not one JSON document: the file connector
fails them as bad JSON (their text still searched); put the pages in a JSON
array to read them.

What such an inventory cannot prove is said on every device: it is what the
device last reported to Jamf Pro, and Apple's MDM reports only managed apps for
a personal device or a User Enrollment and no system apps before iOS 26. So a
device read from it is `partial` with reason `mdm-scope`, never `complete`.
Pages whose `totalCount` promises more devices than they hold add a failed
result for the devices on the pages not saved.

A device is told apart by its Jamf Pro id (`id`, `mobileDeviceId`), which both
endpoints give, and so does the Classic API (jamf_classic, the same key): the
same device on two pages, in a detail answer and a page, or read from both
APIs, has one key, and the audit merges its parts. Its serial, UDID and user
are its identity, and lastInventoryUpdateDate (a detail answer's, or
lastInventoryUpdateTimestamp; an inventory record's general section's) the
date of its inventory, for --max-age: a date that is no ISO 8601 time is a
bad record. A record that is not what the API
writes (not an object, a key given twice, an identifier that is no bundle id) is
a bad record: counted, its text kept as evidence for the matcher, and its
device never complete.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from scanner.connectors.files.common import (
    failed_inventory,
    json_apps,
    json_record,
    label_of,
    make_inventory,
    value_evidence,
)
from scanner.connectors.files.readers.jamf_common import ADVICE, BLIND, JAMF_KEY, PERSONAL, iso_time, personal
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
from scanner.model import App, DeviceInfo, Inventory, Scope

__all__ = ["READER", "read_jamf_pro"]

def _is_detail(doc: object) -> bool:
    """One MobileDeviceDetailsV2: its apps under ios.applications."""
    return isinstance(doc, dict) and isinstance(doc.get("ios"), dict) and "applications" in doc["ios"]


def _is_page(doc: object) -> bool:
    """A page of /v2/mobile-devices/detail: totalCount and results of MobileDeviceInventory records."""
    if not isinstance(doc, dict) or "totalCount" not in doc:
        return False
    results = doc.get("results")
    return isinstance(results, list) and any(isinstance(r, dict) and "mobileDeviceId" in r for r in results)


def _is_jamf(doc: object) -> bool:
    if isinstance(doc, dict):
        return "schema_version" not in doc and (_is_detail(doc) or _is_page(doc))
    return isinstance(doc, list) and any(_is_detail(d) or _is_page(d) for d in doc)


def read_jamf_pro(name: str, doc: Any) -> Iterator[Inventory]:
    label = label_of(name)
    pages = doc if isinstance(doc, list) else [doc]
    many = isinstance(doc, list)
    seen: set[str] = set()  # what tells apart the devices listed (a device on two pages is one)
    unkeyed = 0  # device records with nothing to tell them apart
    promised = 0  # the largest totalCount of a page
    paged = False
    for number, page in enumerate(pages, 1):
        where = f"{label} {'answer' if _is_detail(page) else 'page'} #{number}" if many else label
        if _is_detail(page):
            inv = _device(name, where, None, page, detail=True)
            if inv.device.serial:
                seen.add(inv.device.serial)
            unkeyed += not inv.device.serial
            yield inv
            continue
        refused = page_refused(
            name, where, page, is_page=isinstance(page, dict) and "results" in page, platform="ios",
            advice="save the pages again", refetch="fetch the page again", what=(
                "neither a Jamf Pro mobile device detail nor a page of mobile-devices/detail (totalCount and "
                "results)"))
        if refused is not None:
            yield refused
            continue
        results = page["results"]
        if not isinstance(results, list):
            evidence = value_evidence(results)
            yield failed_inventory(name, "bad-records", (
                f"{where}: its results is {json_type(results)}, not a list; fetch the page again"),
                platform="ios", evidence=evidence)
            continue
        paged = True
        total = page.get("totalCount")
        if type(total) is int and total > promised:
            promised = total
        for i, record in enumerate(results, 1):
            inv = _device(name, where, f"page #{number} device #{i}" if many else f"device #{i}", record,
                          detail=False)
            if inv.device.serial:
                seen.add(inv.device.serial)
            unkeyed += not inv.device.serial
            yield inv
    listed = len(seen) + unkeyed
    missing = promised - listed
    if paged and missing > 0:
        yield Inventory(
            device=DeviceInfo(platform="ios", serial=None, source=name), apps=(),
            coverage=(Scope("devices", read=False, reason=f"{missing} devices on pages not in this file"),),
            status="failed", reason="truncated", message=(
                f"{label}: Jamf Pro says it holds {promised} mobile devices (totalCount), and the pages here list "
                f"{listed}, so {missing} {'device is' if missing == 1 else 'devices are'} on pages not in this "
                f"file and were not checked: fetch "
                f"every page (page=0, 1, ... until page times page-size reaches totalCount) and scan them all"),
        )


def _device(name: str, where: str, record_label: str | None, record: Any, *, detail: bool) -> Inventory:
    """One device: its apps, and what Jamf Pro does not report for it. `record_label`: which record of the
    file it is ("page #2 device #3"), for a record of a page."""
    number = record_label.rpartition(" #")[2] if record_label else None
    at = f"device #{number} " if number else ""
    where = where + (f" device #{number}" if number else "")
    problems = json_record(name, where, at, record, platform="ios", advice="save the pages again")
    if isinstance(problems, Inventory):
        return problems
    device = _device_info(name, record_label, record, detail, problems)
    what = f"device {snippet(device.label)}"
    holder = record.get("ios") if detail else record
    if not isinstance(holder, dict) or "applications" not in holder:
        problems.add(f"{at}no applications: the record was fetched without its apps")
        return Inventory(
            device=device, apps=(), coverage=(Scope("apps", read=False, reason="no applications"),),
            status="failed", reason="no-inventory", message=(
                f"{label_of(name)}, {what} holds no app list (no applications), so none of its apps were checked; fetch "
                f"/api/v2/mobile-devices/detail?section=APPLICATIONS and scan that"),
            problems=tuple(problems.kept), problem_count=problems.count, residue=residue_of(problems))
    apps = _apps(holder["applications"], at, problems)
    personal = _personal(record)
    blind = PERSONAL.format(what=personal) if personal else BLIND
    if not apps and not problems.count:
        return Inventory(
            device=device, apps=(), coverage=(Scope("apps", read=False, reason="no apps listed"),),
            status="failed", reason="empty", message=(
                f"{label_of(name)}, {what} lists no app, and a phone always has some: the device has not sent "
                f"Jamf Pro its inventory yet, or the export was cut; update its inventory in Jamf Pro and fetch "
                f"it again, or {ADVICE}"))
    scope = Scope("apps outside the MDM's view", read=False, reason=blind)
    message = f"{label_of(name)}, {what}: {blind}, so apps outside its view were not checked; {ADVICE}"
    return make_inventory(name, device, apps, problems, None, scopes=(scope,),
                          reason=None if problems.count else "mdm-scope", message=None if problems.count else message,
                          unit="records", reason_bad="bad-records", what=what)


def _personal(record: dict[str, Any]) -> str | None:
    """What says the device is personal or a User Enrollment (deviceOwnershipLevel, enrollmentMethod), if
    anything does."""
    return personal(record, ("deviceOwnershipLevel", "enrollmentMethod"))


def _device_info(name: str, record_label: str | None, record: dict[str, Any], detail: bool,
                 problems: Problems) -> DeviceInfo:
    """Who the device is: its Jamf Pro id, which every shape gives (the same device on two pages is one
    device); its name, and its serial, UDID and user, where given, as its identity; when Jamf Pro last took its
    inventory (lastInventoryUpdateDate, in a detail answer or an inventory record's general section)."""
    jamf_id = device_name = serial = udid = user = model = os_version = when = None
    fault = f"device #{record_label.rpartition(' #')[2]}: " if record_label else "the device: "
    try:
        jamf_id = text_of(record, "id" if detail else "mobileDeviceId")
        if detail:
            device_name, serial, udid = (text_of(record, k) for k in ("name", "serialNumber", "udid"))
            os_version = text_of(record, "osVersion")
            user = text_of(_part(record, "location"), "username")
            model = text_of(_part(record, "ios"), "model")
            when = _when(record, ("lastInventoryUpdateDate", "lastInventoryUpdateTimestamp"))
        else:
            general, hardware = _part(record, "general"), _part(record, "hardware")
            device_name, udid = text_of(general, "displayName"), text_of(general, "udid")
            serial, model = text_of(hardware, "serialNumber"), text_of(hardware, "model")
            user = text_of(_part(record, "userAndLocation"), "username")
            when = _when(general, ("lastInventoryUpdateDate",))
    except BadRecord as err:
        problems.add(f"{fault}{err}", evidence=" ".join(strings_in(record)))
    jamf_id = (jamf_id or "").strip()
    key = (JAMF_KEY.format(jamf_id) if jamf_id else (serial or "").strip() or (udid or "").strip()
           or record_label)
    identity = tuple((what, value.strip()) for what, value in (("serial", serial), ("udid", udid), ("user", user))
                     if value and value.strip())
    return DeviceInfo(platform="ios", serial=key, model=model, os_version=os_version,
                      name=(device_name or "").strip() or None, source=name, identity=identity, inventoried=when)


def _when(fields: dict[str, Any], keys: tuple[str, ...]) -> datetime | None:
    """When Jamf Pro last took the device's inventory: the first of `keys` given (BadRecord if it is no time)."""
    for key in keys:
        value = text_of(fields, key)
        if value:
            return iso_time(key, value)
    return None


def _part(record: dict[str, Any], key: str) -> dict[str, Any]:
    value = record.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRecord(f"{key} is {json_type(value)}, expected an object")
    return value


def _apps(listed: Any, at: str, problems: Problems) -> list[App]:
    return json_apps(listed, "applications", at, problems, _app)


def _app(record: Any) -> App:
    if not isinstance(record, dict):
        raise BadRecord(f"expected an object of app attributes, got {json_type(record)}")
    no_repeats(record)
    identifier = record.get("identifier")
    if not isinstance(identifier, str):
        raise BadRecord(f"identifier is {json_type(identifier)}, expected a bundle id")
    check_text("identifier", identifier)
    identifier, why = clean_id(identifier, "identifier")
    if why:
        raise BadRecord(why)
    app_name, short, build = (text_of(record, k) for k in ("name", "shortVersion", "version"))
    text_of(record, "managementStatus")
    return App("ios", identifier, app_name, short, build)


READER = FileReader(
    name="jamf-pro",
    description="Jamf Pro API mobile device JSON (v2 mobile-devices detail, or its paged inventory)",
    help="Jamf Pro API mobile devices JSON",
    document=_is_jamf,
    shape="Jamf Pro mobile device details (v2 mobile-devices/{id}/detail, or pages of mobile-devices/detail)",
    read=read_jamf_pro,
)
