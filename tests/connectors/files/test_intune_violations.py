"""Intune's restricted-apps violations (Graph deviceConfigurationRestrictedAppsViolations): appIds are
identifiers, every device partial because the report lists only the profile's apps, pages not saved counted."""

from __future__ import annotations

import io
import json
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.audit import run
from scanner.connectors.files import FileConnector, read_input
from scanner.matcher import Matcher
from scanner.model import MDM_SCOPE, NOT_CHECKED, App, Inventory
from scanner.signatures import load_signatures

CONTEXT = "https://graph.microsoft.com/beta/$metadata#deviceManagement/deviceConfigurationRestrictedAppsViolations"


def violation(dev: str = "2f6c", platform: str = "iOS", *apps: object) -> dict:
    return {"@odata.type": "#microsoft.graph.restrictedAppsViolation", "id": f"v-{dev}", "userId": "7a7c",
            "userName": "Jane Doe", "managedDeviceId": dev, "deviceName": "IPHONE-JDOE",
            "deviceConfigurationId": "c1", "deviceConfigurationName": "EO13971 prohibited",
            "platformType": platform, "restrictedAppsState": "prohibitedApps",
            "restrictedApps": [a if isinstance(a, dict) else {"@odata.type": "microsoft.graph.managedDeviceReportedApp",
                                                               "appId": a} for a in (apps or ("com.zhiliaoapp.musically",))]}


def page(*records: dict, context: bool = True, next_link: bool = False) -> dict:
    doc: dict = {"value": list(records)}
    if context:
        doc["@odata.context"] = CONTEXT
    if next_link:
        doc["@odata.nextLink"] = "https://graph.microsoft.com/beta/...?$skiptoken=x"
    return doc


def read(doc: object, name: str = "violations.json") -> list[Inventory]:
    return list(read_input(name, io.BytesIO(json.dumps(doc).encode())))


@cache
def matcher() -> Matcher:
    return Matcher(load_signatures(), None)


def test_the_note_sample_gives_identifier_apps_on_a_partial_device():
    [inv] = read(page(violation()))
    assert inv.apps == (App("ios", "com.zhiliaoapp.musically"),)
    assert inv.device.serial == "Intune id 2f6c" and inv.device.identity == (("user", "Jane Doe"),)
    assert inv.status == "partial" and inv.reason == "mdm-scope"
    [scope] = [s for s in inv.coverage if not s.read]
    assert scope.reason == "the restricted-apps violations report lists only the apps on the profile's list"
    assert scope.name != MDM_SCOPE  # it proves presence, never absence: --accept-scope mdm never accepts it


def test_accepting_the_mdm_view_never_makes_a_violations_device_complete():
    from scanner.audit import accepted

    [inv] = read(page(violation()))
    assert accepted(inv, ("mdm",)).status == "partial"


def test_recognised_without_context_and_platforms_map_loosely():
    first, second = read(page(violation("a", "iOSPlus"), violation("b", "androidForWork", "com.tencent.mm"),
                              context=False))
    assert first.device.platform == "ios" and second.apps == (App("android", "com.tencent.mm"),)


def test_a_finding_by_identifier_and_one_device_over_two_profiles():
    data = json.dumps([page(violation("d1", "android", "com.tencent.mm"), next_link=True),
                       page(violation("d1", "android", "com.example.other"))]).encode()
    report = run([FileConnector("v.json", io.BytesIO(data))], matcher(), inventory=True, inputs=("v.json",))
    [result] = report.results
    assert result.app_count == 2 and result.status == "partial"
    assert any(f.app.id == "com.tencent.mm" and f.matched_by == "identifier" for f in result.findings)


def test_a_next_link_not_followed_adds_a_failed_result():
    invs = read(page(violation(), next_link=True))
    assert [i.reason for i in invs] == ["mdm-scope", "truncated"]
    assert "@odata.nextLink" in invs[1].message


def test_a_desktop_violation_is_not_checked():
    [inv] = read(page(violation("m", "macOS")))
    assert inv.reason == NOT_CHECKED and inv.device.platform == "macos"


@pytest.mark.parametrize("apps", [({"appId": "com.bad id"},), ({"appId": 5},), ("com.x\u202e.y",), ("",)])
def test_bad_app_ids_are_bad_records_kept_as_evidence(apps):
    [inv] = read(page(violation("d", "iOS", *apps, "com.tencent.mm")))
    assert inv.status == "partial" and inv.reason == "bad-records" and inv.problem_count == 1
    assert inv.apps == (App("ios", "com.tencent.mm"),)


@pytest.mark.parametrize("change", [{"platformType": "symbian"}, {"managedDeviceId": ""}, {"platformType": None}])
def test_a_record_without_device_or_platform_is_failed_and_searched(change):
    record = {**violation("d", "iOS", "com.tencent.mm"), **change}
    [inv] = read(page(record))
    assert inv.status == "failed" and "com.tencent.mm" in inv.residue


def test_empty_and_non_list_and_non_object_records():
    [inv] = read(page())
    assert inv.status == "failed" and inv.reason == "empty"
    first, second, third = read(page({**violation("d"), "restrictedApps": []}, violation("c", "iOS", []),
                                     {**violation("e"), "restrictedApps": "com.tencent.mm"}))
    assert first.status == second.status == third.status == "failed"
    assert "lists no app" in first.problems[0] and "com.tencent.mm" in third.residue
    invs = read(page(violation(), "com.tencent.mm"))
    assert invs[1].status == "failed" and "com.tencent.mm" in invs[1].residue


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                     lambda c: st.lists(c, max_size=4) | st.dictionaries(st.sampled_from(
                         ["appId", "managedDeviceId", "platformType", "restrictedApps", "userName"]), c, max_size=5),
                     max_leaves=15)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_JSON, max_size=4))
def test_arbitrary_records_never_raise_and_never_complete(records):
    invs = read({"@odata.context": CONTEXT, "value": records})
    assert invs and all(i.status != "complete" for i in invs)
