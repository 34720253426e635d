"""Intune Graph answers about devices beyond the note's samples: the per-device detectedApps list (its device in
the @odata.context, the reported 50-app cap), detectedApps('{id}')/managedDevices (devices without apps), several
pages of devices with a device on two of them, --accept-scope mdm and --max-age, and findings through the audit."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from functools import cache

from scanner.audit import run
from scanner.connectors.files import FileConnector, read_input
from scanner.matcher import Matcher
from scanner.model import MDM_SCOPE, NOT_CHECKED, Inventory
from scanner.signatures import load_signatures

BETA = "https://graph.microsoft.com/beta/$metadata#"


def app(name: str, platform: str = "androidWorkProfile", version: str = "1.0") -> dict:
    return {"id": "ab12", "displayName": name, "version": version, "sizeInByte": 0, "deviceCount": 0,
            "publisher": "", "platform": platform}


def device(dev: str = "2f6c", os: str = "Android", apps: tuple[dict, ...] = (), **change: object) -> dict:
    return {"id": dev, "deviceName": f"PHONE-{dev}", "operatingSystem": os, "managedDeviceOwnerType": "company",
            "lastSyncDateTime": "2026-11-30T08:15:00Z", "detectedApps": list(apps), **change}


def read(doc: object, name: str = "graph.json") -> list[Inventory]:
    return list(read_input(name, io.BytesIO(json.dumps(doc).encode())))


@cache
def bundled() -> Matcher:
    return Matcher(load_signatures(), None)


def audited(doc: object, **options: object):
    data = json.dumps(doc).encode()
    return run([FileConnector("graph.json", io.BytesIO(data))], bundled(), inventory=True, inputs=("graph.json",),
               **options)  # type: ignore[arg-type]


def test_the_per_device_detected_apps_list_names_its_device_in_the_context():
    doc = {"@odata.context": BETA + "deviceManagement/managedDevices('9d8e-77')/detectedApps",
           "value": [app("com.tencent.mm"), app("Maps")]}
    [inv] = read(doc)
    assert inv.device.serial == "Intune id 9d8e-77" and inv.device.platform == "android"
    assert [a.id for a in inv.apps] == ["com.tencent.mm", "Maps"] and inv.reason == "mdm-scope"
    [scope] = [s for s in inv.coverage if s.name == MDM_SCOPE]
    assert "50" not in scope.reason


def test_fifty_apps_on_the_per_device_list_say_the_reported_cap():
    doc = {"@odata.context": BETA + "deviceManagement/managedDevices('d1')/detectedApps",
           "value": [app(f"App {i}", "ios") for i in range(50)]}
    [inv] = read(doc)
    [scope] = [s for s in inv.coverage if s.name == MDM_SCOPE]
    assert "stop at 50 apps" in scope.reason and "$expand=detectedApps" in scope.reason


def test_a_per_device_list_of_windows_apps_is_not_checked():
    doc = {"@odata.context": BETA + "deviceManagement/managedDevices('w1')/detectedApps",
           "value": [app("WPS", "windows"), app("QQ", "windows")]}
    [inv] = read(doc)
    assert inv.reason == NOT_CHECKED and inv.coverage[0].apps == 2


def test_devices_fetched_without_their_apps_are_failed_not_clean():
    doc = {"@odata.context": BETA + "deviceManagement/detectedApps('ab12')/managedDevices(id,deviceName)",
           "value": [{"id": "d1", "deviceName": "A", "operatingSystem": "iOS"}]}
    [inv] = read(doc)
    assert inv.status == "failed" and inv.reason == "no-inventory" and inv.device.serial == "Intune id d1"


def test_a_device_on_two_pages_is_one_device_and_a_last_page_missing_is_truncated():
    first = {"@odata.context": BETA + "deviceManagement/managedDevices", "@odata.nextLink": "https://x/?$skip=1",
             "value": [device(apps=(app("Maps"),))]}
    second = {"@odata.context": BETA + "deviceManagement/managedDevices", "value": [device(apps=(app("Slack"),))]}
    report = audited([first, second])
    [result] = report.results
    assert result.device.serial == "Intune id 2f6c" and result.app_count == 2 and result.status == "partial"
    second["@odata.nextLink"] = "https://x/?$skip=2"
    invs = read([first, second])
    assert [i.reason for i in invs] == ["mdm-scope", "mdm-scope", "truncated"]
    assert "@odata.nextLink" in invs[-1].message


def test_a_graph_name_is_found_and_the_mdm_scope_can_be_accepted():
    doc = device(apps=(app("com.tencent.mm"),))
    report = audited(doc)
    [result] = report.results
    assert result.status == "partial" and any(f.app.id == "com.tencent.mm" for f in result.findings)
    accepted = audited(doc, accept_scopes=("mdm",))
    assert accepted.results[0].status == "complete"


def test_an_old_check_in_is_aged_and_graphs_never_date_is_no_date():
    report = audited(device(apps=(app("Maps"),)), accept_scopes=("mdm",), max_age=7,
                     now=datetime(2026, 12, 30, tzinfo=UTC))
    assert report.results[0].status == "partial"
    [inv] = read(device(apps=(app("Maps"),), lastSyncDateTime="0001-01-01T00:00:00Z"))
    assert inv.device.inventoried is None and inv.problem_count == 0


def test_a_key_given_twice_in_a_page_and_a_page_of_something_else():
    data = (b'{"@odata.context": "x#deviceManagement/detectedApps", "value": [], "value": '
            b'[{"displayName": "com.tencent.mm", "deviceCount": 1, "sizeInByte": 0, "platform": "android"}]}')
    [inv] = list(read_input("g.json", io.BytesIO(data)))
    assert inv.status == "failed" and "com.tencent.mm" in inv.residue
    invs = read([{"@odata.context": "x#deviceManagement/detectedApps", "value": [app("Maps", "ios")]},
                 {"something": "com.tencent.mm"}])
    assert {i.status for i in invs} == {"failed", "partial"}
    assert any("com.tencent.mm" in i.residue for i in invs)
