"""The Android Management API reader: saved `enterprises.devices` JSON (one Device, or a page of
devices.list), read as the API documents it, never a false "clean".

The samples in tests/data/inputs are built from the documented shape (Google's REST reference for
enterprises.devices, Device and ApplicationReport): what the export cannot prove is said on the
device (no application reports, a work profile, a management mode not given, further pages), a
report that is not what the API writes is a bad record whose text is still searched, and a cut or
damaged file is never complete.
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scanner
from scanner.audit import run
from scanner.connectors.files import ACCEPTED_FORMATS, INPUT_HELP, FileConnector, read_input
from scanner.connectors.files.readers import READERS
from scanner.matcher import Matcher
from scanner.model import MDM_SCOPE, App, DeviceResult, Inventory, Scope

DATA = Path(__file__).parents[2] / "data" / "inputs"
LIST = DATA / "android-management-devices-list.json"
DEVICE = DATA / "android-management-device.json"
NAME = "enterprises/LC01abcd/devices/"


def read(path: Path) -> list[Inventory]:
    return list(read_input(str(path)))


def read_doc(doc: Any) -> list[Inventory]:
    return list(read_input("devices.json", io.BytesIO(json.dumps(doc).encode())))


def ids(inv: Inventory) -> list[str]:
    return [a.id for a in inv.apps]


@cache
def matcher() -> Matcher:
    return Matcher(scanner.load_signatures(), None)


def audited(data: bytes, name: str = "devices.json") -> list[DeviceResult]:
    """The audit's results for `data` with the default policy (what scanner.scan() runs)."""
    return list(run([FileConnector(name, io.BytesIO(data))], matcher(), inventory=True, inputs=(name,)).results)


def found(results: list[DeviceResult]) -> set[tuple[str, str]]:
    return {(f.app.id, f.match) for r in results for f in r.findings}


def prohibited(app_id: str) -> bool:
    return bool(matcher().match([App("android", app_id)]))


def device(number: int, *reports: Any, mode: Any = "DEVICE_OWNER", **fields: Any) -> dict[str, Any]:
    entry = {"name": f"{NAME}{number:04x}", "managementMode": mode, "ownership": "COMPANY_OWNED",
             "hardwareInfo": {"serialNumber": f"SN{number}", "model": "Pixel 8"}, **fields}
    if reports != (None,):
        entry["applicationReports"] = list(reports)
    return entry


def app(package: Any, **fields: Any) -> dict[str, Any]:
    return {"packageName": package, "versionName": "1.0", "versionCode": 1, "state": "INSTALLED", **fields}


# --- the documented shape ------------------------------------------------------------------------


def test_a_page_of_devices_list_reads_each_device_and_says_the_next_pages_were_not_checked():
    owned, profile, page = read(LIST)
    assert owned.status == "complete" and owned.reason is None
    assert owned.device.platform == "android" and owned.device.serial == f"{NAME}3a9f0c2b1d"
    assert ("serial", "R58N000000") in owned.device.identity
    assert owned.device.model == "SM-S911U" and owned.device.name == f"{NAME}3a9f0c2b1d"
    assert owned.device.source == str(LIST)
    # CamScanner's report says REMOVED: it is not on the device.
    assert ids(owned) == ["com.zhiliaoapp.musically", "com.tencent.mm", "com.android.chrome"]
    tiktok, wechat, chrome = owned.apps
    assert tiktok == App("android", "com.zhiliaoapp.musically", "TikTok", "38.1.3", "2023801030",
                         "com.android.packageinstaller", None, "installed", None)
    assert wechat.system is False and wechat.installer == "com.android.vending" and wechat.build == "2580"
    assert chrome.system is True and chrome.installer is None
    assert profile.status == "partial" and profile.reason == "work-profile-only"
    assert ids(profile) == ["com.google.android.gm", "com.microsoft.teams"] and profile.apps[0].system is True
    assert Scope(MDM_SCOPE, read=False, reason="the Android Management API reports only the work "
                 "profile's apps and the system apps") in profile.coverage
    assert profile.message == (
        f"{LIST}, device '{NAME}51c7e0d2aa' is managed through a work profile, and the Android Management API reports "
        f"only the work profile's apps and the system apps: the apps in its personal profile were not checked; "
        f"scan the phone itself (over adb) to check them")
    assert page.status == "failed" and page.reason == "truncated" and page.device.serial is None
    assert page.apps == () and page.device.platform == "android"
    assert page.coverage == (Scope("devices", read=False, reason="the devices on the pages after this one"),)
    assert "one page of the device list (it has a nextPageToken)" in page.message


def test_one_device_as_devices_get_returns_it():
    (inv,) = read(DEVICE)
    assert inv.status == "complete" and ids(inv) == ["com.android.chrome", "com.lenovo.anyshare.gps"]
    results = audited(DEVICE.read_bytes())
    assert found(results) == {("com.lenovo.anyshare.gps", "exact")}


def test_the_sample_page_finds_wechat_and_is_never_a_clean_report():
    report = scanner.scan([str(LIST)])
    assert ("com.tencent.mm", "exact") in found(list(report.results))
    assert report.exit_code == 5  # findings, and not every target fully read (a work profile, more pages)


def test_two_devices_with_one_hardware_serial_stay_two_and_one_device_on_two_pages_is_one():
    clones = {"devices": [device(1, app("com.a")), device(2, app("com.tencent.mm"))]}
    for entry in clones["devices"]:
        entry["hardwareInfo"]["serialNumber"] = "R58N000000"  # a clone, an emulator image, a re-used board
    results = audited(json.dumps(clones).encode())
    assert [(r.device.serial, [a.id for a in r.apps]) for r in results] == [
        (f"{NAME}0001", ["com.a"]), (f"{NAME}0002", ["com.tencent.mm"])]
    assert [f.app.id for f in results[0].findings] == [] and found(results[1:]) == {("com.tencent.mm", "exact")}
    pages = (json.dumps({"devices": [device(1, app("com.a"))], "nextPageToken": "p2"}) + "\n"
             + json.dumps({"devices": [device(1, app("com.tencent.mm")), device(3, app("com.b"))]}))
    results = audited(pages.encode())
    by_key = {r.device.serial: r for r in results if r.device.serial}
    assert set(by_key) == {f"{NAME}0001", f"{NAME}0003"}
    assert sorted(a.id for a in by_key[f"{NAME}0001"].apps) == ["com.a", "com.tencent.mm"]
    assert not [r for r in results if r.reason == "truncated"]  # the second page has no nextPageToken: the last
    every = json.dumps([{"devices": [device(1, app("com.a"))], "nextPageToken": "p2"},
                        {"devices": [device(2, app("com.b"))], "nextPageToken": "p3"}, ["com.tencent.mm"]])
    invs = read_doc(json.loads(every))
    assert [i.reason for i in invs] == [None, None, "bad-records", "truncated"]
    assert "com.tencent.mm" in invs[2].residue and "every page has a nextPageToken" in invs[3].message


def test_a_device_whose_policy_does_not_report_apps_is_failed():
    (inv,) = read_doc(device(1, None))
    assert inv.status == "failed" and inv.reason == "no-app-reports" and inv.apps == ()
    assert inv.device.serial == f"{NAME}0001" and ("serial", "SN1") in inv.device.identity
    assert inv.coverage == (Scope("apps", read=False, reason="no applicationReports"),)
    assert "set statusReportingSettings.applicationReportsEnabled in its policy" in inv.message
    assert inv.problems == ("no applicationReports: the device's policy does not report its apps",)


@pytest.mark.parametrize(("mode", "shown"), [(None, "not given"), ("MANAGEMENT_MODE_UNSPECIFIED",
                                              "'MANAGEMENT_MODE_UNSPECIFIED'"), (3, "a number")])
def test_a_device_whose_management_mode_is_not_known_is_partial(mode, shown):
    entry = device(1, app("com.android.chrome"), mode=mode)
    if mode is None:
        del entry["managementMode"]
    (inv,) = read_doc(entry)
    assert inv.status == "partial" and inv.reason == "management-mode-unknown" and ids(inv) == ["com.android.chrome"]
    assert Scope(MDM_SCOPE, read=False, reason=f"managementMode {shown}") in inv.coverage
    assert f"its managementMode is {shown}, so whether it is managed through a work profile" in inv.message


def test_states_and_sources():
    (inv,) = read_doc(device(1, app("com.a", state="REMOVED"), app("com.b", state="APPLICATION_STATE_UNSPECIFIED"),
                             app("com.c"), {"packageName": "com.d"},
                             app("com.e", applicationSource="SYSTEM_APP_FACTORY_VERSION"),
                             app("com.f", applicationSource="APPLICATION_SOURCE_UNSPECIFIED")))
    assert inv.status == "complete" and ids(inv) == ["com.b", "com.c", "com.d", "com.e", "com.f"]
    assert [a.system for a in inv.apps] == [None, None, None, True, None]
    assert inv.apps[2] == App("android", "com.d")


def test_an_unknown_state_is_a_bad_record_and_its_id_is_still_searched():
    doc = device(1, app("com.android.chrome"), app("com.tencent.mm", state="DISABLED"))
    (inv,) = read_doc(doc)
    assert inv.status == "partial" and inv.reason == "bad-records" and ids(inv) == ["com.android.chrome"]
    assert inv.problems == (("app #2: state 'DISABLED' is not one the Android Management API reports (INSTALLED, "
                             "REMOVED, APPLICATION_STATE_UNSPECIFIED), so the record was edited or damaged"),)
    assert found(audited(json.dumps(doc).encode())) == {("com.tencent.mm", "recovered")}


def test_no_app_at_all_is_never_a_clean_device():
    for mode in ("DEVICE_OWNER", "PROFILE_OWNER"):
        (inv,) = read_doc(device(1, mode=mode))
        assert inv.status == "failed" and inv.reason == "empty", mode
    (inv,) = read_doc(device(1, app("com.a", state="REMOVED")))
    assert inv.status == "failed" and inv.reason == "empty"


def test_devices_without_a_serial_are_never_taken_for_one_another():
    first, second, third = read_doc({"devices": [
        device(1, app("com.a"), hardwareInfo={}), device(2, app("com.b"), hardwareInfo={"serialNumber": "  "}),
        {"managementMode": "DEVICE_OWNER", "applicationReports": [app("com.c")]}]})
    assert first.device.serial == f"{NAME}0001" and second.device.serial == f"{NAME}0002"
    assert third.device.serial == "device #3" and third.device.name is None
    report = run([FileConnector("d.json", io.BytesIO(json.dumps({"devices": [
        device(1, app("com.a"), hardwareInfo={}), device(2, app("com.tencent.mm"), hardwareInfo={})]}).encode()))],
        matcher())
    assert [(r.device.serial, len(r.findings)) for r in report.results] == [(f"{NAME}0001", 0), (f"{NAME}0002", 1)]


def test_it_is_recognised_before_the_report_reader_and_a_scanner_report_is_not_taken_for_it():
    names = [r.name for r in READERS]
    assert names.index("android-management") < names.index("report")
    (inv,) = read_doc({"devices": [device(1, app("com.a"))]})
    assert inv.status == "complete" and ids(inv) == ["com.a"]
    (inv,) = read_doc({"schema_version": "1.0", "devices": [device(1, app("com.a"))]})
    assert inv.reason == "no-inventory"  # the report reader's: a scanner report names its schema


def test_it_is_named_in_the_accepted_formats_and_the_input_help():
    assert "Android Management API device JSON (enterprises.devices get or list)" in ACCEPTED_FORMATS
    assert ", Android Management API devices JSON, " in INPUT_HELP
    (inv,) = read_doc([device(1, app("com.a"))])  # Devices saved one after another (devices.get >> file)
    assert inv.status == "complete" and inv.device.serial == f"{NAME}0001"
    (inv,) = read_doc({"items": [device(1, app("com.a"))]})
    assert inv.reason == "unknown-format"
    assert "Android Management API devices (a Device, or a devices.list page), " in inv.message


# --- the MDM contract: its scope, who a device is, when it reported ------------------------------

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
FULLY_MANAGED = Scope(MDM_SCOPE, read=True, reason="a fully managed device (managementMode DEVICE_OWNER) has no "
                      "personal profile: the Android Management API reports every app on it, system apps included")


def report_of(doc: Any, **options: Any) -> scanner.model.Report:
    return run([FileConnector("devices.json", io.BytesIO(json.dumps(doc).encode()))], matcher(), now=NOW, **options)


def test_a_fully_managed_device_is_complete_and_says_it_is_an_mdm_inventory_that_sees_every_app():
    owned, profile, _ = read(LIST)
    assert owned.coverage == (Scope("records", read=True, apps=3), FULLY_MANAGED)
    assert [s for s in profile.coverage if s.name == MDM_SCOPE] == [
        Scope(MDM_SCOPE, read=False, reason="the Android Management API reports only the work profile's apps and "
              "the system apps")]


def test_identity_and_the_time_of_the_last_status_report():
    owned, profile, page = read(LIST)
    assert owned.device.identity == (("serial", "R58N000000"), ("mdm id", f"{NAME}3a9f0c2b1d"))
    assert owned.device.inventoried == datetime(2025, 5, 2, 13, 55, 10, tzinfo=UTC)
    assert profile.device.inventoried == datetime(2025, 5, 2, 12, 10, 44, tzinfo=UTC)
    assert page.device.identity == () and page.device.inventoried is None
    (inv,) = read_doc(device(1, app("com.a"), userName="enterprises/LC01abcd/users/1187", hardwareInfo={}))
    assert inv.device.identity == (("user", "enterprises/LC01abcd/users/1187"), ("mdm id", f"{NAME}0001"))
    assert inv.device.serial == f"{NAME}0001" and inv.status == "complete"
    (inv,) = read_doc(device(1, None, userName="  ", hardwareInfo={"serialNumber": " SN7 "}))  # no reports: failed
    assert inv.device.identity == (("serial", "SN7"), ("mdm id", f"{NAME}0001")) and inv.reason == "no-app-reports"


@pytest.mark.parametrize(("value", "when"), [
    ("2025-05-02T13:55:10.123456789Z", datetime(2025, 5, 2, 13, 55, 10, 123456, tzinfo=UTC)),  # Google's nanoseconds
    ("2025-05-02T15:55:10+02:00", datetime(2025, 5, 2, 13, 55, 10, tzinfo=UTC)),
    ("2025-05-02T13:55:10", datetime(2025, 5, 2, 13, 55, 10, tzinfo=UTC)),  # no offset: UTC
    (" 2025-05-02T13:55:10Z\n", datetime(2025, 5, 2, 13, 55, 10, tzinfo=UTC)),
])
def test_status_report_times_are_read_as_rfc_3339(value, when):
    (inv,) = read_doc(device(1, app("com.a"), lastStatusReportTime=value))
    assert inv.status == "complete" and inv.device.inventoried == when and inv.device.inventoried.tzinfo is not None


@pytest.mark.parametrize(("value", "why"), [
    ("yesterday com.tencent.mm", "lastStatusReportTime 'yesterday com.tencent.mm' is not an RFC 3339 time"),
    ("2025-13-02T00:00:00Z", "is not an RFC 3339 time"),
    ("2025-05-02T13:55:10Z\u202e", "is not an RFC 3339 time"),
    ("2025-05-02T13:55:10\ud800", "is not an RFC 3339 time"),
    ("2999-01-01T00:00:00Z", "is in the future, so the record was edited or damaged (it would dodge --max-age)"),
    (1746194110, "lastStatusReportTime is a number, expected a time"),
    ({"seconds": 1746194110}, "lastStatusReportTime is an object, expected a time"),
    ("", "lastStatusReportTime is empty, expected a time"),
])
def test_a_status_report_time_that_cannot_be_trusted_is_a_bad_record_never_a_crash(value, why):
    doc = device(1, app("com.a"), lastStatusReportTime=value)
    (inv,) = read_doc(doc)
    assert inv.status == "partial" and inv.reason == "bad-records" and inv.device.inventoried is None
    assert inv.problem_count == 1 and why in inv.problems[0], inv.problems
    if "com.tencent.mm" in str(value):
        assert found(audited(json.dumps(doc).encode())) == {("com.tencent.mm", "recovered")}
    # A time it cannot read leaves the device's age unknown: --max-age and --accept-scope never make it complete.
    assert report_of(doc, max_age=3650, accept_scopes=("mdm",)).results[0].status == "partial"


def test_a_user_name_of_the_wrong_type_is_a_problem_and_the_serial_is_still_read():
    (inv,) = read_doc(device(1, app("com.a"), userName=["com.tencent.mm"]))
    assert inv.status == "partial" and inv.reason == "bad-records" and ("serial", "SN1") in inv.device.identity
    assert inv.problems == ("the device: userName is a list, expected text",) and "com.tencent.mm" in inv.residue


@pytest.mark.parametrize(("mode", "reason"), [("PROFILE_OWNER", "work-profile-only"),
                                              (None, "management-mode-unknown")])
def test_accept_scope_mdm_makes_a_device_whose_only_blind_spot_is_the_mdms_complete(mode, reason):
    doc = {"devices": [device(1, app("com.android.chrome"), mode=mode),
                       device(2, app("com.android.chrome"), app("com.tencent.mm\u202e"), mode=mode)]}
    if mode is None:
        for entry in doc["devices"]:
            del entry["managementMode"]
    plain = report_of(doc)
    assert [(r.status, r.reason) for r in plain.results] == [("partial", reason), ("partial", "bad-records")]
    assert plain.exit_code == 5
    report = report_of(doc, accept_scopes=("mdm",))
    clean, damaged = report.results
    assert clean.status == "complete" and clean.reason is None and clean.message is None
    [scope] = [s for s in clean.coverage if s.name == MDM_SCOPE]
    assert scope.read and scope.reason.startswith("accepted with --accept-scope mdm: ")
    # The record with a bad app report stays partial: accepting the MDM's view does not accept damage.
    assert damaged.status == "partial" and damaged.reason == "bad-records"
    assert ("com.tencent.mm", "recovered") in {(f.app.id, f.match) for f in damaged.findings}
    assert report.exit_code == 5 and report.accepted_scopes == ("mdm",)


def test_a_work_profile_device_with_a_bad_record_says_bad_records_first():
    (inv,) = read_doc(device(1, app("com.a"), app(7), mode="PROFILE_OWNER"))
    assert inv.status == "partial" and inv.reason == "bad-records"
    assert Scope(MDM_SCOPE, read=False, reason="the Android Management API reports only the work profile's apps "
                 "and the system apps") in inv.coverage


def test_max_age_makes_a_complete_device_with_an_old_status_report_stale():
    old = device(1, app("com.android.chrome"), lastStatusReportTime="2026-11-20T08:00:00Z")
    fresh = device(2, app("com.android.chrome"), lastStatusReportTime=(NOW - timedelta(hours=3)).isoformat())
    undated = device(3, app("com.android.chrome"))
    assert [r.status for r in report_of({"devices": [old, fresh, undated]}).results] == ["complete"] * 3
    report = report_of({"devices": [old, fresh, undated]}, max_age=1)
    stale, kept, unknown = report.results
    assert (stale.status, stale.reason) == ("partial", "stale")
    assert "was inventoried 12 days ago (2026-11-20), more than --max-age 1" in stale.message
    assert any(s.reason == "inventory 12 days old (taken 2026-11-20), older than --max-age 1" for s in stale.coverage)
    assert (kept.status, kept.reason) == ("complete", None)
    # The read MDM scope says it is an MDM inventory: without a date its age cannot be checked.
    assert (unknown.status, unknown.reason) == ("partial", "age-unknown")
    assert report.exit_code == 4 and report.max_age == 1
    # Accepting the MDM's view does not accept an old inventory.
    assert report_of({"devices": [old]}, max_age=1, accept_scopes=("mdm",)).results[0].reason == "stale"


# --- what is not what the API writes -------------------------------------------------------------


@pytest.mark.parametrize("package", [
    "com.tencent.mm\x00", "com.tencent.mm\u202e", "\x1bcom.tencent.mm", "com.tencent.mm x", "com.tencent.mm\ncom.a",
    "com.tencent.mm\u200b", "com.tencent.mm\tx", "com.tencent.mm\u00a0x", "com.tencent.mm/..", "package:com.tencent.mm",
])
def test_a_hostile_package_name_is_a_bad_record_whose_id_is_recovered(package):
    doc = {"devices": [device(1, app("com.android.chrome"), app(package, displayName="WeChat"))]}
    (inv,) = read_doc(doc)
    assert inv.status == "partial" and inv.reason == "bad-records" and ids(inv) == ["com.android.chrome"]
    assert inv.problem_count == 1 and inv.problems[0].startswith("device #1 app #2: packageName ")
    assert "com.tencent.mm" in inv.residue
    results = audited(json.dumps(doc).encode())
    assert found(results) == {("com.tencent.mm", "recovered")} and results[0].status == "partial"


@pytest.mark.parametrize(("report", "why"), [
    ("com.tencent.mm", "expected an object of app attributes, got a string"),
    (["com.tencent.mm"], "expected an object of app attributes, got a list"),
    ({"displayName": "com.tencent.mm"}, "packageName is null, expected a package name"),
    (app(42), "packageName is a number, expected a package name"),
    (app(""), "empty packageName"),
    (app("x" * 300 + ".com.tencent.mm"), "is 315 characters long, longer than any real package name"),
    (app("com.tencent.mm", versionCode="2580"), "versionCode is a string, expected a whole number"),
    (app("com.tencent.mm", versionCode=-1), "versionCode is a number, expected a whole number"),
    (app("com.tencent.mm", versionCode=True), "versionCode is a boolean, expected a whole number"),
    (app("com.tencent.mm", displayName={"x": 1}), "displayName is an object, expected text"),
    (app("com.tencent.mm", versionName="\ud800"), "versionName holds a lone surrogate escape, which is not text"),
    (app("com.tencent.mm", state=1), "state '1' is not one the Android Management API reports"),
])
def test_a_report_that_is_not_what_the_api_writes_is_a_bad_record(report, why):
    doc = device(1, app("com.android.chrome"), report)
    (inv,) = read_doc(doc)
    assert inv.status == "partial" and inv.reason == "bad-records" and ids(inv) == ["com.android.chrome"]
    assert why in inv.problems[0], inv.problems
    if "com.tencent.mm" in json.dumps(report) and "x" * 300 not in json.dumps(report):  # no id runs 300 long
        assert ("com.tencent.mm", "recovered") in found(audited(json.dumps(doc).encode()))


def test_keys_given_twice():
    # In one report: which packageName is the app's cannot be known.
    text = ('{"name": "enterprises/e/devices/1", "managementMode": "DEVICE_OWNER", "applicationReports": ['
            '{"packageName": "com.tencent.mm", "packageName": "com.android.chrome"}, {"packageName": "com.a"}]}')
    (inv,) = list(read_input("d.json", io.BytesIO(text.encode())))
    assert inv.status == "partial" and ids(inv) == ["com.a"]
    assert inv.problems == ("app #1: 'packageName' given more than once, so the record was edited or damaged",)
    assert ("com.tencent.mm", "recovered") in found(audited(text.encode()))
    # applicationReports twice on a device: the first list is hidden by the second, and still searched.
    text = ('{"devices": [{"name": "enterprises/e/devices/1", "managementMode": "DEVICE_OWNER", '
            '"applicationReports": [{"packageName": "com.tencent.mm"}], "applicationReports": [{"packageName": '
            '"com.a"}]}]}')
    (inv,) = list(read_input("d.json", io.BytesIO(text.encode())))
    assert inv.status == "partial" and ids(inv) == ["com.a"]
    assert inv.problems[0] == ("device #1 gives 'applicationReports' more than once, so the record was edited or "
                               "damaged")
    assert found(audited(text.encode())) == {("com.tencent.mm", "recovered")}
    # devices twice: a whole list of devices hidden; the file is failed and all its text searched.
    text = ('{"devices": [{"name": "enterprises/e/devices/1", "applicationReports": [{"packageName": '
            '"com.tencent.mm"}]}], "devices": [], "nextPageToken": "x"}')
    (inv,) = list(read_input("d.json", io.BytesIO(text.encode())))
    assert inv.status == "failed" and inv.reason == "bad-json" and "gives 'devices' more than once" in inv.message
    assert found(audited(text.encode())) == {("com.tencent.mm", "recovered")}


def test_a_device_record_that_is_not_an_object_is_failed_and_searched():
    doc = {"devices": [device(1, app("com.a")), ["com.tencent.mm"]], "nextPageToken": ""}
    first, second = read_doc(doc)
    assert first.status == "complete" and second.status == "failed" and second.reason == "bad-records"
    assert second.message == "devices.json device #2 is a list, not an object; export the devices again"
    assert found(audited(json.dumps(doc).encode())) == {("com.tencent.mm", "recovered")}


@pytest.mark.parametrize(("doc", "what"), [
    ({"devices": {"x": 1}, "nextPageToken": "t"}, "whose 'devices' is an object, not a list"),
    ({"nextPageToken": "t", "devicez": [device(1, app("com.tencent.mm"))]}, "with no 'devices'"),
])
def test_a_list_without_a_list_of_devices_is_failed_and_searched_whole(doc, what):
    (inv,) = read_doc(doc)
    assert inv.status == "failed" and inv.reason == "unknown-format" and what in inv.message
    if "devicez" in doc:
        assert found(audited(json.dumps(doc).encode())) == {("com.tencent.mm", "recovered")}


def test_application_reports_that_are_not_a_list_are_unread_records():
    doc = device(1, None, applicationReports={"packageName": "com.tencent.mm"})
    (inv,) = read_doc(doc)
    assert inv.status == "failed" and inv.reason == "bad-records"
    assert inv.problems == ("applicationReports is an object, not a list",)
    assert found(audited(json.dumps(doc).encode())) == {("com.tencent.mm", "recovered")}


def test_a_cut_file_is_failed_and_its_text_is_searched():
    data = LIST.read_bytes()
    cut = data[: data.index(b"com.android.chrome") + 5]
    results = audited(cut)
    (result,) = results
    assert result.status == "failed" and result.reason == "bad-json"
    assert {("com.tencent.mm", "recovered")} <= found(results)


def test_whitespace_around_a_package_name_is_not_part_of_it():
    (inv,) = read_doc(device(1, app("  com.tencent.mm\t"), app("com.a\n")))
    assert inv.status == "complete" and ids(inv) == ["com.tencent.mm", "com.a"]


def test_a_hostile_serial_or_name_is_a_problem_not_a_crash():
    (inv,) = read_doc(device(1, app("com.a"), hardwareInfo={"serialNumber": {"x": "com.tencent.mm"}}))
    assert inv.status == "partial" and inv.device.serial == f"{NAME}0001"
    assert inv.problems == ("the device: serialNumber is an object, expected text",)
    (inv,) = read_doc(device(1, app("com.a"), hardwareInfo="R58"))
    assert inv.status == "partial" and "hardwareInfo is a string, expected an object" in inv.problems[0]
    (inv,) = read_doc(device(1, app("com.a"), hardwareInfo={"serialNumber": "\x1b[2JR58\u202e"}))
    assert inv.status == "complete" and ("serial", "\x1b[2JR58\u202e") in inv.device.identity  # shown escaped


# --- property: generated exports read as documented; mutated ones never lose an app unseen -------

_PACKAGES = ("com.android.chrome", "com.google.android.gm", "com.tencent.mm", "com.tencent.mobileqq",
             "com.intsig.camscanner", "com.lenovo.anyshare.gps", "com.whatsapp", "com.eg.android.AlipayGphone")
_HOSTILE = ("\x00", "\u202e", "\x1b", "\u200b", "/")  # none of them whitespace, which is not part of a value


@st.composite
def _report(draw: st.DrawFn, clean: bool = False) -> tuple[Any, str, str | None]:
    """(the report, "ok" | "removed" | "bad", its package); `clean`: never a bad one."""
    package = draw(st.sampled_from(_PACKAGES))
    kind = draw(st.sampled_from(["ok", "ok", "ok", "removed"] + ([] if clean else ["bad-name", "bad-state",
                                                                                   "bad-code", "not-object"])))
    report: Any = {"packageName": package}
    if draw(st.booleans()):
        report["versionCode"] = draw(st.integers(min_value=0, max_value=(1 << 31) - 1))
    if draw(st.booleans()):
        report["displayName"] = draw(st.text(max_size=8))
    if draw(st.booleans()):
        report["applicationSource"] = draw(st.sampled_from(["INSTALLED_FROM_PLAY_STORE", "SYSTEM_APP_FACTORY_VERSION",
                                                            "APPLICATION_SOURCE_UNSPECIFIED"]))
    if kind == "ok":
        report["state"] = draw(st.sampled_from(["INSTALLED", "APPLICATION_STATE_UNSPECIFIED", None]))
        if report["state"] is None:
            del report["state"]
        return report, "ok", package
    if kind == "removed":
        report["state"] = "REMOVED"
        return report, "removed", package
    if kind == "bad-name":
        hostile = draw(st.sampled_from(_HOSTILE))
        report["packageName"] = draw(st.sampled_from([package + hostile, hostile + package, f"{package} x",
                                                      f"{package}\tx", f"{package}\ncom.a"]))
    elif kind == "bad-state":
        report["state"] = draw(st.sampled_from(["DISABLED", "installed", "1"]))
    elif kind == "bad-code":
        report["versionCode"] = draw(st.sampled_from(["7", -3, 1.5, True]))
    else:
        report = draw(st.sampled_from([package, [package], f"{package} 1.0"]))
    return report, "bad", package


@st.composite
def _export(draw: st.DrawFn, clean: bool = False) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the document, what each device should read as); `clean`: every device complete."""
    devices, expected = [], []
    for number in range(1, draw(st.integers(min_value=1, max_value=3)) + 1):
        mode = "DEVICE_OWNER" if clean else draw(st.sampled_from(["DEVICE_OWNER", "DEVICE_OWNER", "PROFILE_OWNER",
                                                                  None]))
        entry: dict[str, Any] = {"name": f"{NAME}{number}", "hardwareInfo": {"serialNumber": f"SN{number}"}}
        if mode:
            entry["managementMode"] = mode
        reports = draw(st.lists(_report(clean=True), min_size=1, max_size=6) if clean else
                       st.none() | st.lists(_report(), max_size=6))
        if reports is not None:
            entry["applicationReports"] = [r for r, _, _ in reports]
        devices.append(entry)
        expected.append({"serial": f"{NAME}{number}", "mode": mode, "reports": reports})
    doc: dict[str, Any] = {"devices": devices}
    if draw(st.booleans()):
        doc["nextPageToken"] = "CAESBg"
    return doc, expected


def _expected_status(mode: str | None, reports: list[tuple[Any, str, str | None]] | None) -> tuple[str, list[str]]:
    if reports is None:
        return "failed", []
    apps = [p for _, kind, p in reports if kind == "ok"]
    bad = any(kind == "bad" for _, kind, _ in reports)
    if not apps and not bad:
        return "failed", []
    if mode == "DEVICE_OWNER" and not bad:
        return "complete", apps
    return ("partial" if apps else "failed"), apps


PROPERTY = settings(max_examples=200, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(_export(), st.booleans())
def test_generated_exports_read_as_documented(export, indented):
    doc, expected = export
    data = json.dumps(doc, indent=2 if indented else None).encode()
    results = audited(data)
    assert not [r for r in results if r.reason == "error"]
    by_serial = {r.device.serial: r for r in results}
    for want in expected:
        result = by_serial[want["serial"]]
        status, apps = _expected_status(want["mode"], want["reports"])
        assert result.status == status, (want, result)
        assert [a.id for a in result.apps] == apps
        for _, kind, package in want["reports"] or ():
            if kind == "ok" and prohibited(package):
                assert (package, "exact") in {(f.app.id, f.match) for f in result.findings}
            if kind == "bad" and prohibited(package):  # the damaged record's id is still found, on its device
                assert package in {f.identifier for f in result.findings} | {f.app.id for f in result.findings}
    assert ("nextPageToken" in doc) == any(r.device.serial is None and r.reason == "truncated" for r in results)


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    doc, _ = draw(st.booleans().flatmap(lambda clean: _export(clean=clean)))  # clean ones: complete devices
    data = bytearray(json.dumps(doc, indent=draw(st.sampled_from([None, 2]))).encode())
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        # "letter" keeps the JSON whole (another key, value, id or serial): the reader must then tell
        # what it still reads from what it cannot.
        op = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "letter", "letter", "letter"]))
        at = draw(st.integers(min_value=0, max_value=max(len(data) - 1, 0)))
        if op == "letter":
            letters = [i for i, b in enumerate(data) if chr(b).isalpha()]
            if letters:
                data[letters[at % len(letters)]] = ord(draw(st.sampled_from("abcemnqtxADEINOPRSV")))
        elif op == "truncate":
            del data[at:]
        elif op == "flip" and data:
            data[at] ^= draw(st.integers(min_value=1, max_value=255))
        elif op == "insert":
            data[at:at] = draw(st.sampled_from([b"\x00", b"\x1b", "\u202e".encode(), b'"', b",", b"}", b"]", b"\n"]))
        elif data:
            del data[at:at + draw(st.integers(min_value=1, max_value=40))]
    return bytes(data)


def _tokens(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*", text))


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        obj["\x00repeated"] = True  # the oracle's own mark: a key given twice
    return obj


@PROPERTY
@given(_mutated())
def test_mutated_exports_never_read_complete_what_they_lost(data):
    """Nothing raises; a device read as complete lists every app its reports still name; a prohibited id
    still whole in the packageName of a report that is not REMOVED (or anywhere in text that is not JSON)
    is found."""
    results = audited(data)
    assert not [r for r in results if r.reason == "error"]
    ids_found = {f.identifier for r in results for f in r.findings} | {f.app.id for r in results for f in r.findings}
    try:
        doc = json.loads(data.decode("utf-8"), object_pairs_hook=_pairs)
    except (UnicodeDecodeError, ValueError, RecursionError):
        # Not one JSON document: never complete (a whole document before damaged text may be read, partial).
        assert all(r.status != "complete" for r in results)
        for token in _tokens(data.decode("utf-8", "replace")):
            if token in _PACKAGES and prohibited(token):
                assert token in ids_found, token
        return
    if not isinstance(doc, dict) or not any(r.device.source == "devices.json" and r.device.platform == "android"
                                            for r in results):
        return  # no longer this format: another reader's (tested there)
    entries = doc.get("devices") if "devices" in doc or "nextPageToken" in doc else [doc]
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, dict):
            continue
        reports = entry.get("applicationReports")
        for report in reports if isinstance(reports, list) else ():
            if not isinstance(report, dict) or report.get("state") == "REMOVED":
                continue
            package = report.get("packageName")
            for token in _tokens(package) if isinstance(package, str) else ():
                if token in _PACKAGES and prohibited(token):
                    assert token in ids_found, (token, report)
        hardware = entry.get("hardwareInfo")
        serial = hardware.get("serialNumber") if isinstance(hardware, dict) else None
        mine = [r for r in results if isinstance(serial, str) and r.device.serial == serial.strip()]
        if len(mine) == 1 and mine[0].status == "complete":
            assert entry.get("managementMode") == "DEVICE_OWNER" and "\x00repeated" not in entry
            assert isinstance(reports, list) and all(isinstance(r, dict) and "\x00repeated" not in r for r in reports)
            listed = [r["packageName"].strip() for r in reports if r.get("state") != "REMOVED"]
            assert [a.id for a in mine[0].apps] == listed


_ANY_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
                         lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                     max_size=3), max_leaves=6)
_TIMES = st.datetimes(min_value=datetime(2026, 10, 1), timezones=st.none() | st.just(UTC)).map(lambda t: t.isoformat())


@PROPERTY
@given(st.data(), _export())
def test_accepting_the_mdm_view_only_ever_completes_a_device_the_mdm_alone_kept_partial(data, export):
    """Any value where a device's time, user or serial goes never raises; with --accept-scope mdm and --max-age,
    a device is complete only if it is complete without them or was partial for the MDM's blind spot alone,
    and only with a time it could read, at most max_age days before now."""
    doc, _ = export
    for entry in doc["devices"]:
        for key in ("lastStatusReportTime", "userName"):
            if data.draw(st.booleans()):
                entry[key] = data.draw(_TIMES | _ANY_JSON if key == "lastStatusReportTime" else _ANY_JSON)
        if data.draw(st.booleans()):
            entry["hardwareInfo"] = data.draw(_ANY_JSON | st.fixed_dictionaries({"serialNumber": _ANY_JSON}))
    plain = report_of(doc).results
    accepted = report_of(doc, accept_scopes=("mdm",), max_age=30).results
    assert not [r for r in plain + accepted if r.reason == "error"]
    assert len(plain) == len(accepted)
    for before, after in zip(plain, accepted, strict=True):
        assert before.device == after.device
        if after.status == "complete":
            assert before.status == "complete" or before.reason in ("work-profile-only", "management-mode-unknown")
            assert before.problem_count == 0 and after.device.inventoried is not None
            assert NOW - after.device.inventoried <= timedelta(days=30)
            assert after.device.inventoried <= datetime.now(UTC) + timedelta(days=1)  # never one ahead of the clock
        if before.status != "complete" and before.reason not in ("work-profile-only", "management-mode-unknown"):
            assert after.status != "complete", (before, after)
