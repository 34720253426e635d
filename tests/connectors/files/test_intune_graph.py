"""Intune's detected apps from Microsoft Graph: detectedApps pages (an aggregate of counted apps) and
managedDevices with $expand=detectedApps (devices with apps by display name), never a false "clean"."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.connectors.files import read_input
from scanner.model import MDM_SCOPE, NOT_CHECKED, App, Inventory

APPS_CONTEXT = "https://graph.microsoft.com/v1.0/$metadata#deviceManagement/detectedApps"


def detected(name: str = "TikTok", platform: str = "ios", count: object = 3, version: str = "38.1.0") -> dict:
    return {"id": "1780bc94", "displayName": name, "version": version, "sizeInByte": 0, "deviceCount": count,
            "publisher": "", "platform": platform}


def apps_page(*apps: dict, next_link: bool = False, context: bool = True) -> dict:
    doc: dict = {"value": list(apps)}
    if context:
        doc["@odata.context"] = APPS_CONTEXT
    if next_link:
        doc["@odata.nextLink"] = "https://graph.microsoft.com/v1.0/deviceManagement/detectedApps?$skiptoken=x"
    return doc


def device(**change: object) -> dict:
    return {"id": "2f6c", "deviceName": "IPHONE-JDOE", "operatingSystem": "iOS", "osVersion": "18.5",
            "model": "iPhone 14", "serialNumber": "F2LXK0ABCDEF", "userPrincipalName": "jdoe@agency.gov",
            "managedDeviceOwnerType": "company", "lastSyncDateTime": "2026-11-30T08:15:00Z",
            "detectedApps": [detected(count=0)], **change}


def read(doc: object, name: str = "graph.json") -> list[Inventory]:
    return list(read_input(name, io.BytesIO(json.dumps(doc).encode())))


def test_detected_apps_page_is_one_aggregate_with_desktop_rows_counted():
    invs = read(apps_page(detected(), detected("com.tencent.mm", "androidWorkProfile", 1),
                          detected("WPS", "windows", 9), detected("QQ", "macOS", 2)))
    [inv] = invs
    assert inv.reason == "aggregate" and inv.device.serial is None
    assert [(a.platform, a.id, a.devices, a.evidence) for a in inv.apps] == [
        ("ios", "TikTok", 3, "name"), ("android", "com.tencent.mm", 1, "name")]
    assert sum(s.apps or 0 for s in inv.coverage if s.name == "apps" and not s.read) == 2
    assert any(s.name == "devices" and not s.read for s in inv.coverage)


@pytest.mark.parametrize("plat", ["androidDeviceAdministrator", "androidDedicatedAndFullyManaged", "androidOSP"])
def test_android_platform_types(plat):
    [inv] = read(apps_page(detected(platform=plat), context=False))
    assert inv.apps[0].platform == "android"


def test_pages_with_an_unfollowed_next_link_add_a_truncated_result():
    invs = read([apps_page(detected(), next_link=True), apps_page(detected("X"))])
    assert [i.reason for i in invs] == ["aggregate"]
    invs = read([apps_page(detected(), next_link=True), apps_page(detected("X"), next_link=True)])
    assert [i.reason for i in invs] == ["aggregate", "truncated"]


@pytest.mark.parametrize("bad", [detected(platform="unknown"), detected(count="3"), detected(count=True), "TikTok",
                                 detected(count=None)])
def test_bad_detected_apps_are_counted(bad):
    [inv] = read(apps_page(detected("Maps"), bad))
    assert inv.problem_count == 1 and inv.status == "partial" and len(inv.apps) == 1


def test_a_managed_device_with_detected_apps():
    [inv] = read(device())
    assert inv.device.serial == "Intune id 2f6c" and inv.device.name == "IPHONE-JDOE"
    assert inv.device.identity == (("serial", "F2LXK0ABCDEF"), ("user", "jdoe@agency.gov"))
    assert inv.device.inventoried == datetime(2026, 11, 30, 8, 15, tzinfo=UTC)
    assert inv.apps == (App("ios", "TikTok", "TikTok", "38.1.0", "38.1.0", evidence="name"),)
    assert inv.status == "partial" and inv.reason == "mdm-scope"


def test_a_personal_device_names_its_blind_spot_and_a_value_list_of_devices():
    invs = read({"@odata.context": "https://graph.microsoft.com/beta/$metadata#deviceManagement/managedDevices",
                 "value": [device(managedDeviceOwnerType="personal"), device(id="d2", operatingSystem="Android")]})
    [scope] = [s for s in invs[0].coverage if s.name == MDM_SCOPE]
    assert scope.reason == "a personal device: Intune reports managed apps only"
    assert invs[1].device.platform == "android" and invs[1].apps[0].platform == "android"


def test_desktop_device_unknown_os_and_bad_date():
    [inv] = read(device(operatingSystem="Windows"))
    assert inv.reason == NOT_CHECKED and inv.device.platform == "windows"
    [inv] = read(device(operatingSystem="Symbian", detectedApps=[detected("com.tencent.mm")]))
    assert inv.status == "failed" and "com.tencent.mm" in inv.residue
    [inv] = read(device(lastSyncDateTime="yesterday"))
    assert inv.status == "partial" and "lastSyncDateTime" in inv.problems[0]
    [inv] = read(device(lastSyncDateTime="2026-11-30T08:15:00"))
    assert inv.device.inventoried == datetime(2026, 11, 30, 8, 15, tzinfo=UTC)


def test_hostile_names_and_missing_names():
    [inv] = read(device(detectedApps=[detected("Tik\u202eTok"), {"version": "1"}, detected("Maps")]))
    assert inv.problem_count == 2 and [a.id for a in inv.apps] == ["Tik\u202eTok", "Maps"]


def test_no_device_and_no_apps():
    [inv] = read({"@odata.context": "x#deviceManagement/managedDevices", "value": []})
    assert inv.status == "failed" and inv.reason == "empty"
    [inv] = read(device(detectedApps=[]))
    assert inv.status == "failed"


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                     lambda c: st.lists(c, max_size=4) | st.dictionaries(st.sampled_from(
                         ["displayName", "deviceCount", "platform", "id", "operatingSystem", "detectedApps",
                          "lastSyncDateTime", "version"]), c, max_size=6), max_leaves=15)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_JSON, max_size=4), st.booleans())
def test_arbitrary_records_never_raise_and_never_complete(records, apps):
    context = APPS_CONTEXT if apps else "x#deviceManagement/managedDevices"
    invs = read({"@odata.context": context, "value": records})
    assert invs and all(i.status != "complete" for i in invs)
