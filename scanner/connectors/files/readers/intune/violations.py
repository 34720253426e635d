"""Intune's restricted-apps violations, saved from Microsoft Graph (beta)
`GET /deviceManagement/deviceConfigurationRestrictedAppsViolations`: a page
`{"value": [restrictedAppsViolation, ...]}` (or a JSON array of pages), each
{id, userId, userName, managedDeviceId, deviceName, deviceConfigurationId,
deviceConfigurationName, platformType, restrictedAppsState, restrictedApps:
[{appId}]}. `appId` is the bundle or package id of an installed app on the
profile's list, so these apps are identifiers (the only Intune surface that
gives ids).

Verified against: the resource's documented fields (research/mdm-inventories.md
§2.5, from Microsoft's beta reference; no real answer). platformType values
(iOS, iOSPlus, android...) are mapped loosely; a desktop one (macOS, windows...)
is not checked; an unknown one is a bad record. Recognised by an
@odata.context naming deviceConfigurationRestrictedAppsViolations, or a value
whose first record has managedDeviceId and restrictedApps.

The report lists only the apps on the profile's prohibited (or not approved)
list: it can prove an app is there, never that one is absent. So every device is
partial with reason mdm-scope. A device in two profiles' violations (or on two
pages) has one key, "Intune id <managedDeviceId>", and the audit merges it. An
@odata.nextLink the file does not follow adds a failed result.
"""

from __future__ import annotations

from collections.abc import Iterator

from scanner.connectors.files.common import failed_inventory, json_record, label_of, make_inventory, value_evidence
from scanner.connectors.files.readers.intune.pages import pages_of, unsaved, value_page
from scanner.connectors.files.readers.intune.rows import platform_of
from scanner.connectors.grammars.json_values import json_type, strings_in
from scanner.connectors.interface import FileReader
from scanner.connectors.records import clean_id, snippet
from scanner.model import NOT_CHECKED, App, DeviceInfo, Inventory, Scope

# Not MDM_SCOPE: the report lists only the apps on the profile's list, so it can prove an app present, never
# absent; --accept-scope mdm accepts what an MDM does not see, never this.
_UNPROVEN = "apps not on the restricted-apps list"

__all__ = ["READER", "read_violations"]

BLIND = "the restricted-apps violations report lists only the apps on the profile's list"
_CONTEXT = "deviceConfigurationRestrictedAppsViolations"


def _is_record(record: object) -> bool:
    return isinstance(record, dict) and "managedDeviceId" in record and "restrictedApps" in record


def _is_page(doc: dict) -> bool:
    return value_page(doc, _CONTEXT, _is_record)


def _is_violations(doc: object) -> bool:
    return pages_of(doc, _is_page) is not None


def _text(record: dict, key: str) -> str:
    value = record.get(key)
    return value.strip() if isinstance(value, str) else ""


def read_violations(name: str, doc: object) -> Iterator[Inventory]:
    pages = pages_of(doc, _is_page) or []
    for p, page in enumerate(pages, 1):
        for r, record in enumerate(page["value"], 1):
            where = f"{label_of(name)} page {p} violation {r}" if len(pages) > 1 else f"{label_of(name)} violation {r}"
            yield _violation(name, where, record)
    missing = unsaved(name, pages, "violations")
    if missing is not None:
        yield missing
    if not any(page["value"] for page in pages):
        yield failed_inventory(name, "empty", f"{label_of(name)} lists no restricted-apps violation: it proves no "
                                              f"device clean (it names only devices with an app on the profile's "
                                              f"list); export the devices' discovered apps to check them")


def _violation(name: str, where: str, record: object) -> Inventory:
    problems = json_record(name, where, "", record, platform="ios", advice="save the report again")
    if isinstance(problems, Inventory):
        return problems
    assert isinstance(record, dict)
    device_id = _text(record, "managedDeviceId")
    user = _text(record, "userName")
    plat_text = _text(record, "platformType")
    plat = platform_of(plat_text)
    if not device_id or plat is None:
        evidence = value_evidence(record)
        why = "no managedDeviceId" if not device_id else f"the platformType {snippet(plat_text)} is no platform"
        return failed_inventory(name, "bad-records", f"{where}: {why}; the apps it lists were not checked: save the "
                                                     f"report again", platform=plat[0] if plat else None,
                                problems=(f"{where}: {why}",), evidence=evidence)
    platform, kind = plat
    identity = (("user", user),) if user else ()
    device = DeviceInfo(platform=platform, serial=f"Intune id {device_id}", name=_text(record, "deviceName") or None,
                        source=name, identity=identity)
    listed = record.get("restrictedApps")
    if kind is not None:
        rows = len(listed) if isinstance(listed, list) else 0
        return Inventory(device=device, apps=(), coverage=(Scope("apps", read=False, reason=kind, apps=rows),),
                         status="failed", reason=NOT_CHECKED,
                         message=(f"{where}, device {snippet(device_id)}: {kind}, and scanner checks phones and "
                                  f"tablets: its {rows} app rows were not checked"))
    apps: list[App] = []
    if not isinstance(listed, list):
        problems.add(f"{where}: restrictedApps is {json_type(listed)}, not a list",
                     evidence=" ".join(strings_in(listed)))
    else:
        for i, item in enumerate(listed, 1):
            value = item.get("appId") if isinstance(item, dict) else None
            if not isinstance(value, str):
                problems.add(f"{where}: restricted app {i} has no appId text", evidence=" ".join(strings_in(item)))
                continue
            app_id, why = clean_id(value, "appId")
            if why:
                problems.add(f"{where}: restricted app {i}: {why}", evidence=value)
                continue
            apps.append(App(platform, app_id))
        if not listed:
            problems.add(f"{where}: a violation that lists no app")
    clean = not problems.count
    return make_inventory(name, device, apps, problems, None, what=f"device {snippet(device_id)}", unit="records",
                         reason_bad="bad-records", scopes=(Scope(_UNPROVEN, read=False, reason=BLIND),),
                         reason="mdm-scope" if clean else None,
                         message=(f"{where}, device {snippet(device_id)}: the restricted-apps violations report lists "
                                  f"only the apps on the profile's list, so it proves no other app absent: export the "
                                  f"device's discovered apps to check the rest") if clean else None)


READER = FileReader(
    name="intune-violations",
    description="Intune restricted-apps violations (Graph deviceConfigurationRestrictedAppsViolations)",
    help="Intune restricted-apps violations JSON",
    document=_is_violations,
    shape="Intune restricted-apps violations (deviceConfigurationRestrictedAppsViolations pages)",
    read=read_violations,
)
