"""The Jamf Pro API reader: saved `v2/mobile-devices/{id}/detail` answers and pages of
`v2/mobile-devices/detail?section=APPLICATIONS`, read as the API documents them, never a false "clean".

The samples in tests/data/inputs (jamf-pro-*) are built from the documented shapes (the schemas
ruby-jss generated from Jamf Pro 10.40 and 11.6.1, research/mdm-inventories.md §3.2), pretty-printed
the way Jamf Pro writes its answers: every device is partial with reason mdm-scope (Jamf Pro holds
what the device reported, managed apps only on a personal device or a User Enrollment); pages whose
totalCount promises more devices than they hold add a failed result; a device on two pages is one
device; a record that is not what the API writes is a bad record whose text is still searched.
"""

from __future__ import annotations

import io
import json
import re
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
from scanner.model import App, DeviceResult, Inventory, Scope

DATA = Path(__file__).parents[2] / "data" / "inputs"
DETAIL = DATA / "jamf-pro-mobile-device-detail.json"
PAGE = DATA / "jamf-pro-inventory-page.json"
PAGES = DATA / "jamf-pro-inventory-pages.json"
BLIND = ("Jamf Pro's inventory is what the device last reported to it: a personal device or a User Enrollment "
         "reports managed apps only, and iOS before 26 reports no system apps")


def read(path: Path) -> list[Inventory]:
    return list(read_input(str(path)))


def read_doc(doc: Any) -> list[Inventory]:
    return list(read_input("jamf.json", io.BytesIO(json.dumps(doc).encode())))


def ids(inv: Inventory) -> list[str]:
    return [a.id for a in inv.apps]


@cache
def matcher() -> Matcher:
    return Matcher(scanner.load_signatures(), None)


def audited(data: bytes, name: str = "jamf.json") -> list[DeviceResult]:
    return list(run([FileConnector(name, io.BytesIO(data))], matcher(), inventory=True, inputs=(name,)).results)


def found(results: list[DeviceResult]) -> set[tuple[str, str]]:
    return {(f.app.id, f.match) for r in results for f in r.findings}


def prohibited(app_id: str) -> bool:
    return bool(matcher().match([App("ios", app_id)]))


def app(identifier: Any, **fields: Any) -> dict[str, Any]:
    return {"identifier": identifier, "name": "App", "version": "100", "shortVersion": "1.0",
            "managementStatus": "UNMANAGED", **fields}


def record(jamf_id: Any, *apps: Any, **fields: Any) -> dict[str, Any]:
    entry = {"mobileDeviceId": jamf_id, "deviceType": "iOS", **fields}
    if apps != (None,):
        entry["applications"] = list(apps)
    return entry


def page(total: Any, *records: Any) -> dict[str, Any]:
    return {"totalCount": total, "results": list(records)}


def detail(jamf_id: Any, *apps: Any, **fields: Any) -> dict[str, Any]:
    return {"id": jamf_id, "name": f"iPhone {jamf_id}", "serialNumber": f"SN{jamf_id}", "type": "ios",
            "ios": {"model": "iPhone 15", "applications": list(apps)}, **fields}


# --- the documented shapes -----------------------------------------------------------------------


def test_a_detail_answer_reads_the_device_its_identity_and_its_apps_and_says_what_jamf_cannot_see():
    (inv,) = read(DETAIL)
    assert inv.status == "partial" and inv.reason == "mdm-scope"
    assert inv.device.platform == "ios" and inv.device.serial == "Jamf id 42" and inv.device.source == str(DETAIL)
    assert inv.device.name == "JDOE-iPhone"
    assert inv.device.identity == (("serial", "F2LXXXXXXX01"), ("udid", "00008110-000A1B2C3D4E5F60"), ("user", "jdoe"))
    assert (inv.device.model, inv.device.os_version) == ("iPhone 15", "18.5")
    assert ids(inv) == ["com.zhiliaoapp.musically", "com.tencent.xin", "com.microsoft.Office.Outlook"]
    assert inv.apps[1] == App("ios", "com.tencent.xin", "微信", "8.0.50", "8.0.50.33")
    assert Scope("apps outside the MDM's view", read=False, reason=BLIND) in inv.coverage
    assert inv.message == (f"{DETAIL}, device 'Jamf id 42': {BLIND}, so apps outside its view were not checked; "
                           f"scan the iPhone itself over USB to check every app")
    assert {("com.zhiliaoapp.musically", "exact"), ("com.tencent.xin", "exact")} <= found(
        audited(DETAIL.read_bytes()))


def test_a_whole_page_reads_each_device_and_no_device_is_missing():
    first, second = read(PAGE)
    assert [first.device.serial, second.device.serial] == ["Jamf id 42", "Jamf id 57"]
    assert ids(first) == ["com.zhiliaoapp.musically", "com.microsoft.Office.Outlook"] and ids(second) == [
        "com.apple.Pages"]
    assert first.apps[0] == App("ios", "com.zhiliaoapp.musically", "TikTok", "38.1.0", "380100")
    assert {i.reason for i in (first, second)} == {"mdm-scope"}


def test_pages_whose_total_count_promises_more_add_a_failed_result_and_a_device_on_two_pages_is_one():
    invs = read(PAGES)
    missing = invs[-1]
    assert missing.status == "failed" and missing.reason == "truncated" and missing.device.serial is None
    assert "says it holds 4 mobile devices (totalCount), and the pages here list 3, so 1 device is on pages" in (
        missing.message)
    results = audited(PAGES.read_bytes(), str(PAGES))
    listed = [r.device.serial for r in results if r.device.serial]
    assert listed == ["Jamf id 42", "Jamf id 57", "Jamf id 63"]  # 57 is on both pages: one result
    assert {("com.tencent.xin", "exact"), ("com.intsig.CamScanner", "other-platform")} <= found(results)
    report = scanner.scan([str(PAGES)])
    assert report.exit_code == 5  # findings, and not every device fully read


def test_one_page_alone_short_of_its_total_count_and_a_whole_set_of_pages():
    *_, missing = read_doc(page(812, record("1", app("com.a"))))
    assert missing.reason == "truncated" and "holds 812 mobile devices" in missing.message
    assert "811 devices are on pages not in this file" in missing.message
    invs = read_doc([page(3, record("1", app("com.a")), record(2, app("com.b"))), page(3, record("3", app("com.c")))])
    assert [i.device.serial for i in invs] == ["Jamf id 1", "Jamf id 2", "Jamf id 3"]  # a number id is its text
    assert all(i.reason == "mdm-scope" for i in invs)


def test_an_array_of_detail_answers_and_of_a_detail_and_a_page_merge_by_jamf_id():
    results = audited(json.dumps([detail("7", app("com.a")), page(1, record("7", app("com.tencent.xin")))]).encode())
    (result,) = results
    assert result.device.serial == "Jamf id 7" and {a.id for a in result.apps} == {"com.a", "com.tencent.xin"}


@pytest.mark.parametrize(("fields", "shown"), [
    ({"deviceOwnershipLevel": "PersonalDeviceProfile"}, "deviceOwnershipLevel 'PersonalDeviceProfile'"),
    ({"deviceOwnershipLevel": "User Enrollment"}, "deviceOwnershipLevel 'User Enrollment'"),
    ({"enrollmentMethod": "BYOD"}, "enrollmentMethod 'BYOD'"),
])
def test_a_personal_device_or_user_enrollment_is_said_to_report_managed_apps_only(fields, shown):
    (inv,) = read_doc(detail("9", app("com.a"), **fields))
    assert inv.status == "partial" and inv.reason == "mdm-scope"
    assert f"it is a personal device or a User Enrollment ({shown}), for which Jamf Pro's inventory holds the " \
           f"managed apps only" in inv.message


def test_user_fields_of_an_inventory_record_with_more_sections():
    (inv,) = read_doc(page(1, record("3", app("com.a"), general={"displayName": "Lab iPad", "udid": "U1"},
                                     hardware={"serialNumber": "DMP1", "model": "iPad Air"},
                                     userAndLocation={"username": "lab"})))
    assert inv.device.name == "Lab iPad" and inv.device.model == "iPad Air"
    assert inv.device.identity == (("serial", "DMP1"), ("udid", "U1"), ("user", "lab"))


def test_it_is_named_in_the_accepted_formats_and_does_not_take_a_scanner_report():
    names = [r.name for r in READERS]
    assert names.index("report") < names.index("jamf-pro")
    assert "Jamf Pro API mobile device JSON (v2 mobile-devices detail, or its paged inventory)" in ACCEPTED_FORMATS
    assert "Jamf Pro API mobile devices JSON" in INPUT_HELP
    (inv,) = read_doc({"schema_version": "1.0", **page(1, record("1", app("com.a")))})
    assert inv.device.platform != "ios" or inv.reason != "mdm-scope"
    (inv,) = read_doc({"totalCount": 1, "results": [{"id": "1", "name": "iPhone"}]})  # the device list, no apps
    assert inv.reason == "unknown-format" and "pages of mobile-devices/detail" in inv.message


# --- what is not what the API writes -------------------------------------------------------------


def test_a_record_without_applications_is_failed():
    (inv,) = read_doc(page(1, record("5", None)))
    assert inv.status == "failed" and inv.reason == "no-inventory" and inv.device.serial == "Jamf id 5"
    assert "fetch /api/v2/mobile-devices/detail?section=APPLICATIONS" in inv.message


def test_an_empty_app_list_is_never_a_clean_device():
    (inv,) = read_doc(page(1, record("5")))
    assert inv.status == "failed" and inv.reason == "empty"


@pytest.mark.parametrize("identifier", [
    "com.tencent.xin\x00", "com.tencent.xin\u202e", "\x1bcom.tencent.xin", "com.tencent.xin x",
    "com.tencent.xin\ncom.a", "com.tencent.xin\u200b", "com.tencent.xin/..",
])
def test_a_hostile_identifier_is_a_bad_record_whose_id_is_recovered(identifier):
    doc = page(1, record("1", app("com.apple.Pages"), app(identifier, name="WeChat")))
    (inv,) = read_doc(doc)
    assert inv.status == "partial" and inv.reason == "bad-records" and ids(inv) == ["com.apple.Pages"]
    assert inv.problem_count == 1 and inv.problems[0].startswith("device #1 app #2: identifier ")
    results = audited(json.dumps(doc).encode())
    assert found(results) == {("com.tencent.xin", "recovered")} and results[0].status == "partial"


@pytest.mark.parametrize(("entry", "why"), [
    ("com.tencent.xin", "expected an object of app attributes, got a string"),
    ({"name": "com.tencent.xin"}, "identifier is null, expected a bundle id"),
    (app(42), "identifier is a number, expected a bundle id"),
    (app(""), "empty identifier"),
    (app("x" * 300 + ".com.tencent.xin"), "longer than any real package name"),
    (app("com.tencent.xin", name={"x": 1}), "name is an object, expected text"),
    (app("com.tencent.xin", shortVersion="\ud800"), "shortVersion holds a lone surrogate escape"),
    (app("com.tencent.xin", managementStatus=[1]), "managementStatus is a list, expected text"),
])
def test_an_app_that_is_not_what_the_api_writes_is_a_bad_record(entry, why):
    doc = detail("1", app("com.apple.Pages"), entry)
    (inv,) = read_doc(doc)
    assert inv.status == "partial" and inv.reason == "bad-records" and ids(inv) == ["com.apple.Pages"]
    assert why in inv.problems[0], inv.problems
    if "com.tencent.xin" in json.dumps(entry) and "x" * 300 not in json.dumps(entry):  # no id runs 300 long
        assert ("com.tencent.xin", "recovered") in found(audited(json.dumps(doc).encode()))


def test_hostile_device_fields_are_problems_not_crashes():
    (inv,) = read_doc(detail("1", app("com.a"), location="jdoe"))
    assert inv.reason == "bad-records" and inv.problems == ("the device: location is a string, expected an object",)
    (inv,) = read_doc(page(1, record({"x": "com.tencent.xin"}, app("com.a"))))
    assert inv.reason == "bad-records" and inv.device.serial == "device #1"
    assert found(audited(json.dumps(page(1, record({"x": "com.tencent.xin"}, app("com.a")))).encode())) == {
        ("com.tencent.xin", "recovered")}
    (inv,) = read_doc(detail("\x1b[2J1\u202e", app("com.a")))
    assert inv.device.serial == "Jamf id \x1b[2J1\u202e"  # shown escaped by the formats


def test_devices_without_an_id_on_two_pages_are_never_taken_for_one_another():
    doc = [page(2, record(None, app("com.a"))), page(2, record(None, app("com.tencent.xin")))]
    results = audited(json.dumps(doc).encode())
    assert [(r.device.serial, len(r.findings)) for r in results] == [("page #1 device #1", 0),
                                                                     ("page #2 device #1", 1)]


def test_keys_given_twice_and_records_that_are_not_objects():
    text = ('{"totalCount": 1, "results": [{"mobileDeviceId": "1", "applications": [{"identifier": '
            '"com.tencent.xin", "identifier": "com.a"}, {"identifier": "com.b"}]}]}')
    (inv,) = list(read_input("j.json", io.BytesIO(text.encode())))
    assert inv.status == "partial" and ids(inv) == ["com.b"]
    assert inv.problems[0] == "device #1 app #1: 'identifier' given more than once, so the record was edited or " \
        "damaged" and inv.problem_count == 1
    assert ("com.tencent.xin", "recovered") in found(audited(text.encode()))
    text = ('{"totalCount": 1, "results": [{"mobileDeviceId": "1", "applications": [{"identifier": '
            '"com.tencent.xin"}]}], "results": [{"mobileDeviceId": "1", "applications": []}]}')
    (inv,) = list(read_input("j.json", io.BytesIO(text.encode())))
    assert inv.status == "failed" and inv.reason == "bad-json" and "'results' more than once" in inv.message
    assert found(audited(text.encode())) == {("com.tencent.xin", "recovered")}
    doc = [page(1, record("1", app("com.a")), ["com.tencent.xin"]), "com.intsig.CamScanner"]
    first, second, third = read_doc(doc)
    assert first.reason == "mdm-scope" and second.reason == third.reason == "bad-records"
    assert second.message == "jamf.json page #1 device #2 is a list, not an object; save the pages again"
    assert {("com.tencent.xin", "recovered"), ("com.intsig.CamScanner", "recovered")} <= found(
        audited(json.dumps(doc).encode()))


def test_applications_that_are_not_a_list_and_a_cut_file():
    (inv,) = read_doc(page(1, record("1", None, applications={"identifier": "com.tencent.xin"})))
    assert inv.status == "failed" and inv.reason == "bad-records"
    assert inv.problems == ("device #1 applications is an object, not a list",)
    data = PAGES.read_bytes()
    (result,) = audited(data[: data.index(b"com.tencent.xin") + 20])
    assert result.status == "failed" and result.reason == "bad-json"
    assert ("com.tencent.xin", "recovered") in found([result])


def test_concatenated_pages_are_read_as_the_pages_they_are():
    # `curl ... >> pages.json` writes the pages one after the other: each is read, as a JSON array of them is.
    text = json.dumps(page(2, record("1", app("com.a")))) + "\n" + json.dumps(page(2, record("2", app(
        "com.tencent.xin"))))
    results = audited(text.encode())
    assert [r.device.serial for r in results] == ["Jamf id 1", "Jamf id 2"]
    assert all(r.reason == "mdm-scope" for r in results)
    assert found(results) == {("com.tencent.xin", "exact")}


def test_concatenated_pages_cut_inside_the_last_one_keep_what_was_whole():
    text = json.dumps(page(2, record("1", app("com.tencent.xin")))) + "\n" + json.dumps(page(2, record("2", app(
        "com.zhiliaoapp.musically"))))[:-20]
    results = audited(text.encode())
    assert any(r.status == "failed" and r.reason == "bad-json" for r in results)
    assert all(r.status != "complete" for r in results)
    assert ("com.tencent.xin", "exact") in found(results)
    assert ("com.zhiliaoapp.musically", "recovered") in found(results)  # the cut page's text is still searched


# --- property: generated page sets read as documented; mutated ones never lose an app unseen -----

_IDS = ("com.apple.Pages", "com.microsoft.Office.Outlook", "com.tencent.xin", "com.zhiliaoapp.musically",
        "com.intsig.CamScanner", "com.tencent.mqq", "com.google.chrome.ios")
_HOSTILE = ("\x00", "\u202e", "\x1b", "\u200b", "/")


@st.composite
def _app(draw: st.DrawFn) -> tuple[Any, bool, str]:
    """(the app record, whether it is good, its bundle id)."""
    identifier = draw(st.sampled_from(_IDS))
    kind = draw(st.sampled_from(["ok", "ok", "ok", "bad-id", "not-object", "bad-name"]))
    entry: Any = {"identifier": identifier}
    for key in ("name", "version", "shortVersion"):
        if draw(st.booleans()):
            entry[key] = draw(st.text(max_size=6))
    if kind == "bad-id":
        entry["identifier"] = identifier + draw(st.sampled_from(_HOSTILE))
    elif kind == "not-object":
        entry = draw(st.sampled_from([identifier, [identifier]]))
    elif kind == "bad-name":
        entry["name"] = draw(st.sampled_from([1.5, {"x": 1}, ["a"]]))
        if entry["name"] == 1.5:  # a number is taken as its text
            return entry, True, identifier
    return entry, kind == "ok", identifier


@st.composite
def _pages(draw: st.DrawFn) -> tuple[Any, dict[str, list[tuple[Any, bool, str]]], int]:
    """(the document, each Jamf id's app records over all pages, totalCount)."""
    devices = draw(st.lists(st.integers(min_value=1, max_value=6), min_size=1, max_size=5))  # repeats: two pages
    expected: dict[str, list[tuple[Any, bool, str]]] = {}
    pages = []
    for start in range(0, len(devices), 2):
        records = []
        for jamf_id in devices[start:start + 2]:
            apps = draw(st.lists(_app(), min_size=1, max_size=4))
            records.append(record(str(jamf_id), *[a for a, _, _ in apps]))
            expected.setdefault(f"Jamf id {jamf_id}", []).extend(apps)
        pages.append(records)
    total = len(expected) + draw(st.sampled_from([0, 0, 1, 5]))
    doc: Any = [page(total, *r) for r in pages]
    if len(doc) == 1 and draw(st.booleans()):
        doc = doc[0]
    return doc, expected, total


PROPERTY = settings(max_examples=150, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(_pages(), st.booleans())
def test_generated_pages_read_as_documented(generated, indented):
    doc, expected, total = generated
    results = audited(json.dumps(doc, indent=2 if indented else None).encode())
    assert not [r for r in results if r.reason == "error"]
    by_serial = {r.device.serial: r for r in results}
    assert set(by_serial) - {None} == set(expected)  # one result per Jamf id, whatever the pages repeat
    for serial, apps in expected.items():
        result = by_serial[serial]
        good = [i for _, ok, i in apps if ok]
        assert result.status == ("partial" if good else "failed") and result.status != "complete"
        assert {a.id for a in result.apps} == set(good)
        for _, _, identifier in apps:
            if prohibited(identifier):
                assert identifier in {f.identifier for f in result.findings} | {f.app.id for f in result.findings}
    assert (total > len(expected)) == (None in by_serial and by_serial[None].reason == "truncated")


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    doc, _, _ = draw(_pages())
    data = bytearray(json.dumps(doc, indent=draw(st.sampled_from([None, 2]))).encode())
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        op = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "letter", "letter"]))
        at = draw(st.integers(min_value=0, max_value=max(len(data) - 1, 0)))
        if op == "letter":
            letters = [i for i, b in enumerate(data) if chr(b).isalpha()]
            if letters:
                data[letters[at % len(letters)]] = ord(draw(st.sampled_from("abcdeintsxIMR")))
        elif op == "truncate":
            del data[at:]
        elif op == "flip" and data:
            data[at] ^= draw(st.integers(min_value=1, max_value=255))
        elif op == "insert":
            data[at:at] = draw(st.sampled_from([b"\x00", b"\x1b", "\u202e".encode(), b'"', b",", b"}", b"]"]))
        elif data:
            del data[at:at + draw(st.integers(min_value=1, max_value=40))]
    return bytes(data)


@PROPERTY
@given(_mutated())
def test_mutated_pages_never_raise_never_read_complete_and_keep_prohibited_ids(data):
    results = audited(data)
    assert not [r for r in results if r.reason == "error"]
    assert all(r.status != "complete" for r in results if r.device.platform == "ios")
    ids_found = {f.identifier for r in results for f in r.findings} | {f.app.id for r in results for f in r.findings}
    try:
        json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        assert all(r.status == "failed" for r in results)
        for token in re.findall(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*", data.decode("utf-8", "replace")):
            if token in _IDS and prohibited(token):
                assert token in ids_found, token
