"""Intune's app inventories as Microsoft Graph answers, saved as JSON: one
page, or several (a JSON array of pages, or pages saved one after another).

- `GET deviceManagement/detectedApps` (`@odata.context` ending in
  detectedApps, `value` of detectedApp {id, displayName, version, sizeInByte,
  deviceCount, publisher, platform}): an aggregate. Every app is counted
  (App.devices = deviceCount) in ONE inventory naming no device, partial with
  reason aggregate. `platform` is a detectedAppPlatformType: ios; android*
  (DeviceAdministrator, WorkProfile, DedicatedAndFullyManaged, OSP) android;
  windows*, macOS and chromeOS rows are counted and not checked; unknown is a
  bad record.
- `GET deviceManagement/managedDevices/{id}?$expand=detectedApps` (one
  managedDevice, or a `value` list of them): per device its id (the key,
  "Intune id <id>"), deviceName, operatingSystem, osVersion, model,
  serialNumber, userPrincipalName, managedDeviceOwnerType (personal: Intune
  reports managed apps only), lastSyncDateTime (when it was inventoried; Graph
  writes 0001-01-01T00:00:00Z for never); its detectedApps by display name.
  A managedDevices page fetched without $expand holds no app list: each of its
  devices is failed (no-inventory).
- `GET deviceManagement/managedDevices('{id}')/detectedApps`, the per-device
  list (`@odata.context` naming the device): its apps, by display name; this
  endpoint is reported to stop at 50 apps without paging, which a device with
  50 says.
(The restricted-apps violations answer, which carries bundle/package ids, is
read by violations.py.)

Verified against: the resource shapes and illustrative samples of
research/mdm-inventories.md §2.4 (Microsoft Graph's documentation, v1.0
and beta; the 50-app cap and the $expand quirks are reported by public
scripts, not checked); no real tenant's answer. Recognised by the
`@odata.context` or, without it, by the records: detectedApp (displayName,
deviceCount, sizeInByte) or a managedDevice with detectedApps.

Blind spots, said on every device: Intune's discovered apps leave out system
apps on a corporate iOS device, list only managed apps on a personal one and
only the work profile on Android Enterprise; Intune gives display names only
(an app renamed or localized beyond the catalog's names is not found). A page
with an `@odata.nextLink` when no saved page of its kind lacks one (the last
page has none) means pages were not saved: a failed "truncated" result. A
record that is not what Graph writes is a bad record: counted, its strings kept
as evidence, its device never complete.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from scanner.connectors.files.common import failed_inventory, json_record, label_of, make_inventory, not_a_phone
from scanner.connectors.files.readers.intune.rows import BLIND, Columns, Rows, platform_of, suspect
from scanner.connectors.files.readers.refused import page_refused
from scanner.connectors.grammars.json_values import Repeats, json_text, json_type, keys_text, strings_in, text_of
from scanner.connectors.interface import FileReader
from scanner.connectors.records import BadRecord, Problems, residue_of, snippet
from scanner.model import MDM_SCOPE, App, DeviceInfo, Inventory, Scope

__all__ = ["READER", "read_graph"]

PERSONAL = "a personal device: Intune reports managed apps only"
VIOLATIONS = "the restricted-apps violations report lists only the apps on the profile's list"
CAPPED = ("Graph's per-device detectedApps list is reported to stop at 50 apps without paging, and this one holds "
          "{n}: fetch managedDevices/{{id}}?$expand=detectedApps (beta) instead")
_ADVICE = "check those apps on the device itself, or scan with --accept-scope mdm to accept what Intune sees"
_DEVICE_APPS = re.compile(r"managedDevices\('([^']*)'\)/detectedApps", re.IGNORECASE)
_KINDS = {"detected": "detectedApps", "devices": "managedDevices", "device apps": "a device's detectedApps"}


def _context(page: dict[str, Any]) -> str:
    ctx = page.get("@odata.context")
    return ctx if isinstance(ctx, str) else ""


def _kind(page: object) -> str | None:
    """Which Graph answer a page is: "detected", "devices", "device" (one managedDevice), "device apps", or
    None (restricted-apps violations are violations.py's)."""
    if not isinstance(page, dict):
        return None
    ctx = _context(page).casefold()
    value = page.get("value")
    if not isinstance(value, list):
        is_device = isinstance(page.get("detectedApps"), list) and any(
            k in page for k in ("deviceName", "operatingSystem", "managedDeviceOwnerType"))
        return "device" if is_device and "value" not in page else None
    if "restrictedappsviolation" in ctx:
        return None
    if _DEVICE_APPS.search(ctx):
        return "device apps"
    if "manageddevices" in ctx and ctx.rfind("manageddevices") > ctx.rfind("detectedapps"):
        return "devices"  # managedDevices, or detectedApps('{id}')/managedDevices
    if "detectedapps" in ctx:
        return "detected"
    records = [v for v in value[:50] if isinstance(v, dict)]
    if any("managedDeviceId" in r and "restrictedApps" in r for r in records):
        return None
    if any(isinstance(r.get("detectedApps"), list) for r in records):
        return "devices"
    if any(all(k in r for k in ("displayName", "deviceCount", "sizeInByte")) for r in records):
        return "detected"
    return None


def _is_graph(doc: object) -> bool:
    if isinstance(doc, list):
        return any(_kind(d) is not None for d in doc)
    return _kind(doc) is not None


def read_graph(name: str, doc: Any) -> Iterator[Inventory]:
    label = label_of(name)
    many = isinstance(doc, list)
    pages = doc if many else [doc]
    aggregate: Rows | None = None
    counted = 0  # detectedApp records read so far, over the pages
    paged: dict[str, list[int]] = {}  # kind -> [pages, pages with a nextLink]
    for number, page in enumerate(pages, 1):
        where = f"{label} page #{number}" if many else label
        kind = _kind(page)
        refused = page_refused(name, where, page, is_page=kind is not None, advice="save the pages again",
                               refetch="fetch the page again", what="no Intune detectedApps or managedDevices page")
        if refused is not None:
            yield refused
            continue
        if kind == "device":
            yield _device(name, where, page)
            continue
        count = paged.setdefault(kind, [0, 0])
        count[0] += 1
        count[1] += page.get("@odata.nextLink") is not None
        value = page["value"]
        prefix = f"page #{number} " if many else ""
        if kind == "detected":
            if aggregate is None:
                aggregate = Rows(name, Columns(["ApplicationName", "ApplicationVersion", "DeviceCount", "Platform"]),
                                 what="apps")
            counted = _counted(aggregate, prefix, value, counted)
        elif kind == "devices":
            if not value:
                yield failed_inventory(name, "empty", (
                    f"{where} lists no managed device: no device to check; fetch managedDevices again"))
            for i, record in enumerate(value, 1):
                yield _device(name, f"{where} device #{i}", record, at=f"{prefix}device #{i} ")
        else:
            yield _device_apps(name, where, page)
    if aggregate is not None:
        yield from aggregate.end(None)
    for kind, (saved, linked) in paged.items():
        if linked >= saved:
            yield Inventory(
                device=DeviceInfo(platform=None, serial=None, source=name), apps=(),
                coverage=(Scope("records", read=False, reason="pages not in this file"),),
                status="failed", reason="truncated", message=(
                    f"{label}: every saved page of {_KINDS[kind]} ({saved}) has an @odata.nextLink, so the pages "
                    f"after the last were not saved and their records were not checked: follow @odata.nextLink "
                    f"until a page has none, save every page, and scan them all"))


def _counted(rows: Rows, prefix: str, value: list[Any], before: int) -> int:
    """detectedApp records into the aggregate, as rows of (name, version, count, platform); how many were
    read, with the `before` of the pages before."""
    for i, record in enumerate(value, before + 1):
        text = " ".join(strings_in(record))
        if not isinstance(record, dict) or isinstance(record, Repeats):
            why = "a key is given more than once" if isinstance(record, Repeats) else json_type(record)
            rows.agg_problems.add(f"{prefix}app {i}: {why}, not a detectedApp", evidence=text)
            continue
        try:
            cells = [text_of(record, "displayName") or "", text_of(record, "version") or "", "",
                     text_of(record, "platform") or ""]
        except BadRecord as err:
            rows.agg_problems.add(f"{prefix}app {i}: {err}", evidence=text)
            continue
        count = record.get("deviceCount")
        cells[2] = str(count) if type(count) is int else json_text(count)
        rows.row(i, cells, text)  # an aggregate's rows give nothing until its end
    return before + len(value)


def _when(value: Any) -> datetime | None:
    """lastSyncDateTime: ISO 8601, Z is UTC, a naive time is UTC; Graph's 0001-01-01 means never."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRecord(f"lastSyncDateTime is {json_type(value)}, expected a time")
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadRecord(f"lastSyncDateTime {snippet(value)} is not an ISO 8601 time") from None
    if when.year <= 1:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def _named_apps(listed: Any, platform: str, at: str, problems: Problems) -> list[App]:
    """detectedApp records as apps by display name."""
    if not isinstance(listed, list):
        problems.add(f"{at}detectedApps is {json_type(listed)}, not a list", evidence=" ".join(strings_in(listed)))
        return []
    apps: list[App] = []
    for i, record in enumerate(listed, 1):
        text = " ".join(strings_in(record))
        try:
            if not isinstance(record, dict):
                raise BadRecord(f"{json_type(record)}, not a detectedApp")
            if isinstance(record, Repeats):
                raise BadRecord(f"{keys_text(record.repeated)} given more than once")
            app_name = (text_of(record, "displayName") or "").strip()
            version = (text_of(record, "version") or "").strip() or None
        except BadRecord as err:
            problems.add(f"{at}app #{i}: {err}", evidence=text)
            continue
        if not app_name:
            problems.add(f"{at}app #{i}: no displayName", evidence=text)
            continue
        if suspect(app_name):
            problems.add(f"{at}app #{i}: the displayName {snippet(app_name)} holds a control or format character, "
                         f"so the record is damaged or forged", evidence=text)
        apps.append(App(platform, app_name, app_name, version, version, evidence="name"))
    return apps


def _device(name: str, where: str, record: Any, at: str = "") -> Inventory:
    """One managedDevice, with its detectedApps when it was fetched with $expand=detectedApps."""
    problems = json_record(name, where, at, record, platform=None, advice="save the pages again")
    if isinstance(problems, Inventory):
        return problems
    fields: dict[str, str | None] = {}
    inventoried = None
    for key in ("id", "deviceName", "operatingSystem", "osVersion", "model", "serialNumber", "userPrincipalName",
                "emailAddress", "managedDeviceOwnerType"):
        try:
            fields[key] = (text_of(record, key) or "").strip() or None
        except BadRecord as err:
            fields[key] = None
            problems.add(f"{at}{err}", evidence=" ".join(strings_in(record.get(key))))
    try:
        inventoried = _when(record.get("lastSyncDateTime"))
    except BadRecord as err:
        problems.add(f"{at}{err}")
    dev_id = fields["id"]
    os_cell = fields["operatingSystem"] or ""
    plat = platform_of(os_cell)
    if plat is None:
        problems.add(f"{at}the operatingSystem {snippet(os_cell) if os_cell else '(none)'} is no platform scanner "
                     f"knows", evidence=" ".join(strings_in(record)))
    if dev_id is None or suspect(dev_id):
        problems.add(f"{at}no id names the device", evidence=" ".join(strings_in(record)))
    user = fields["userPrincipalName"] or fields["emailAddress"]
    identity = tuple((k, v) for k, v in (("serial", fields["serialNumber"]), ("user", user)) if v)
    platform, kind = plat if plat is not None else (None, None)
    device = DeviceInfo(platform=platform, serial=f"Intune id {dev_id}" if dev_id else None,
                        name=fields["deviceName"], model=fields["model"], os_version=fields["osVersion"],
                        source=name, identity=identity, inventoried=inventoried)
    what = f"device {snippet(dev_id or fields['deviceName'] or where)}"
    listed = record.get("detectedApps")
    if "detectedApps" not in record:
        problems.add(f"{at}no detectedApps: the device was fetched without $expand=detectedApps")
        return Inventory(
            device=device, apps=(), coverage=(Scope("apps", read=False, reason="no detectedApps"),),
            status="failed", reason="no-inventory", message=(
                f"{label_of(name)}, {what} holds no app list (no detectedApps), so none of its apps were checked; "
                f"fetch beta/deviceManagement/managedDevices/{{id}}?$expand=detectedApps and scan that"),
            problems=tuple(problems.kept), problem_count=problems.count, residue=residue_of(problems))
    if kind is not None:
        return not_a_phone(device, f"{label_of(name)}, {what}", kind, len(listed) if isinstance(listed, list) else 0,
                           problems)
    if platform is None:
        # No platform to check its apps on: the device is not read, its strings are searched.
        problems.search(" ".join(strings_in(listed)))
        return Inventory(
            device=device, apps=(), coverage=(Scope("records", read=False, reason="no platform"),),
            status="failed", reason="bad-records", message=(
                f"{label_of(name)}, {what}: its operatingSystem {snippet(os_cell) if os_cell else '(none)'} names no "
                f"platform scanner checks, so its apps were not checked; fetch the device again"),
            problems=tuple(problems.kept), problem_count=problems.count, residue=residue_of(problems))
    apps = _named_apps(listed, platform, at, problems)
    owner = (fields["managedDeviceOwnerType"] or "").casefold()
    blind = PERSONAL if owner == "personal" else BLIND
    return _mdm_inventory(name, device, apps, problems, blind, what)


def _mdm_inventory(name: str, device: DeviceInfo, apps: list[App], problems: Problems, blind: str,
                   what: str) -> Inventory:
    if not apps and not problems.count:
        return Inventory(
            device=device, apps=(), coverage=(Scope("apps", read=False, reason="no apps listed"),),
            status="failed", reason="empty", message=(
                f"{label_of(name)}, {what} lists no detected app, and a phone always has some: Intune has not "
                f"inventoried it yet, or the answer was cut; fetch it again, or check the device itself"))
    message = f"{label_of(name)}, {what}: {blind}, so apps outside its view were not checked; {_ADVICE}"
    return make_inventory(name, device, apps, problems, None, scopes=(Scope(MDM_SCOPE, read=False, reason=blind),),
                          reason=None if problems.count else "mdm-scope", message=None if problems.count else message,
                          unit="records", reason_bad="bad-records", what=what)


def _device_apps(name: str, where: str, page: dict[str, Any]) -> Inventory:
    """managedDevices('{id}')/detectedApps: one device's apps; its platform from theirs."""
    match = _DEVICE_APPS.search(_context(page))
    dev_id = match.group(1).strip() if match else ""
    problems = Problems()
    value = page["value"]
    platforms: dict[tuple[str, str | None], int] = {}
    for record in value:
        plat = platform_of(record.get("platform") or "") if isinstance(record, dict) and isinstance(
            record.get("platform"), str) else None
        if plat is not None:
            platforms[plat] = platforms.get(plat, 0) + 1
    mobile = [p for p in platforms if p[1] is None]
    what = f"device {snippet(dev_id or where)}"
    device = DeviceInfo(platform=mobile[0][0] if mobile else (next(iter(platforms))[0] if platforms else None),
                        serial=f"Intune id {dev_id}" if dev_id and not suspect(dev_id) else None, source=name)
    if not mobile and platforms:
        return not_a_phone(device, f"{label_of(name)}, {what}", next(iter(platforms))[1] or "", len(value), problems)
    if not mobile:
        problems.search(" ".join(strings_in(value)))
        if not value:
            return failed_inventory(name, "empty", f"{where}: {what} lists no detected app; fetch it again, or "
                                                   f"check the device itself")
        return Inventory(
            device=device, apps=(), coverage=(Scope("records", read=False, reason="no platform"),),
            status="failed", reason="bad-records", message=(
                f"{label_of(name)}, {what}: no detected app names a platform scanner checks, so none was checked; "
                f"fetch managedDevices/{{id}}?$expand=detectedApps (beta) and scan that"),
            residue=residue_of(problems))
    apps = _named_apps(value, mobile[0][0], "", problems)
    blind = BLIND + ("; " + CAPPED.format(n=len(value)) if len(value) >= 50 else "")
    return _mdm_inventory(name, device, apps, problems, blind, what)


READER = FileReader(
    name="intune-graph",
    description="Microsoft Graph Intune detectedApps or managedDevices (with detectedApps) JSON",
    help="Intune Graph detectedApps or managedDevices JSON",
    document=_is_graph,
    shape="a Microsoft Graph Intune answer (detectedApps, or managedDevices with $expand=detectedApps)",
    read=read_graph,
)
