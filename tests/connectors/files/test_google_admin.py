"""The Google Admin SDK reader: saved pages of the Directory API's `devices/mobile` list (projection
FULL) and single `mobiledevice` answers, read as Google's reference documents them, never a false
"clean".

The samples are written here in the documented shape (research/mdm-inventories.md §6, invented ids):
an Android device is partial with reason mdm-scope (only apps that access Workspace data are listed);
an iOS or Google Sync device lists no apps and is failed; a page set whose every page has a
nextPageToken adds a failed result for the missing pages; a record that is not what the API writes is
a bad record whose text is still searched.
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scanner
from scanner.audit import run
from scanner.connectors.files import ACCEPTED_FORMATS, INPUT_HELP, FileConnector, read_input
from scanner.connectors.files.readers import READERS
from scanner.matcher import Matcher
from scanner.model import MDM_SCOPE, App, DeviceResult, Inventory, Report, Scope

BLIND = "the Admin SDK lists only the Android apps that access Google Workspace data"
LIST, ONE = "admin#directory#mobiledevices", "admin#directory#mobiledevice"


def device(resource: Any, *apps: Any, **fields: Any) -> dict[str, Any]:
    entry = {"kind": ONE, "resourceId": resource, "deviceId": f"d-{resource}", "serialNumber": f"R58N{resource}",
             "email": ["asmith@county.gov"], "model": "Pixel 8", "os": "Android 15", "type": "ANDROID",
             "status": "APPROVED", "lastSync": "2025-05-01T19:22:03.000Z", **fields}
    if apps != (None,):
        entry["applications"] = list(apps)
    return entry


def app(package: Any, **fields: Any) -> dict[str, Any]:
    return {"packageName": package, "displayName": "App", "versionName": "1.0", "versionCode": 1,
            "permission": ["android.permission.CAMERA"], **fields}


def page(*devices: Any, token: Any = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"kind": LIST, "etag": '"e"', "mobiledevices": list(devices)}
    if token is not None:
        doc["nextPageToken"] = token
    return doc


SAMPLE = page(device("AFiQxQ8", app("com.tencent.mm", displayName="WeChat", versionName="8.0.50",
                                    versionCode=2580)), token="tok1")


def read_doc(doc: Any, name: str = "mobile.json") -> list[Inventory]:
    return list(read_input(name, io.BytesIO(json.dumps(doc).encode())))


def ids(inv: Inventory) -> list[str]:
    return [a.id for a in inv.apps]


@cache
def matcher() -> Matcher:
    return Matcher(scanner.load_signatures(), None)


def report(data: bytes, name: str = "mobile.json", **options: Any) -> Report:
    return run([FileConnector(name, io.BytesIO(data))], matcher(), inventory=True, inputs=(name,), **options)


def audited(data: bytes) -> list[DeviceResult]:
    return list(report(data).results)


def found(results: list[DeviceResult]) -> set[tuple[str, str]]:
    return {(f.app.id, f.match) for r in results for f in r.findings}


def prohibited(app_id: str) -> bool:
    return bool(matcher().match([App("android", app_id)]))


# --- the documented shape ------------------------------------------------------------------------


def test_a_page_reads_each_device_its_identity_and_apps_and_says_what_the_admin_sdk_cannot_see():
    inv, missing = read_doc(SAMPLE)
    assert inv.status == "partial" and inv.reason == "mdm-scope"
    d = inv.device
    assert (d.platform, d.serial, d.model, d.os_version) == ("android", "Google id AFiQxQ8", "Pixel 8", "Android 15")
    assert d.identity == (("mdm id", "AFiQxQ8"), ("device id", "d-AFiQxQ8"), ("serial", "R58NAFiQxQ8"),
                          ("user", "asmith@county.gov"))
    assert d.inventoried == datetime(2025, 5, 1, 19, 22, 3, tzinfo=UTC)
    assert inv.apps == (App("android", "com.tencent.mm", "WeChat", "8.0.50", "2580"),)
    assert Scope(MDM_SCOPE, read=False, reason=BLIND) in inv.coverage
    assert inv.message == (f"mobile.json, device 'Google id AFiQxQ8': {BLIND}, so its other apps were not checked; "
                           f"scan the phone itself (over adb or USB) to check every app")
    assert missing.status == "failed" and missing.reason == "truncated" and missing.device.serial is None
    assert "the page has a nextPageToken, so the devices on the pages after it are not in this file" in (
        missing.message)
    rep = report(json.dumps(SAMPLE).encode())
    assert found(list(rep.results)) == {("com.tencent.mm", "exact")} and rep.exit_code == 5


def test_one_device_answer_and_a_whole_set_of_pages():
    (inv,) = read_doc(device("A1", app("com.a")))
    assert inv.reason == "mdm-scope" and inv.device.serial == "Google id A1"
    invs = read_doc([page(device("A1", app("com.a")), token="t"), page(device("A2", app("com.b")))])
    assert [i.device.serial for i in invs] == ["Google id A1", "Google id A2"]
    assert all(i.reason == "mdm-scope" for i in invs)  # the last page has no token: nothing is missing


def test_pages_that_all_have_a_token_miss_the_last_one_and_a_device_on_two_pages_is_one():
    doc = [page(device("A1", app("com.a")), token="t1"), page(device("A1", app("com.tencent.mm")), token="t2")]
    *_, missing = read_doc(doc)
    assert missing.reason == "truncated" and "every page here has a nextPageToken" in missing.message
    results = audited(json.dumps(doc).encode())
    assert [r.device.serial for r in results] == ["Google id A1", None]
    assert {a.id for a in results[0].apps} == {"com.a", "com.tencent.mm"}


def test_concatenated_pages_are_read_as_the_pages_they_are():
    text = json.dumps(page(device("A1", app("com.a")), token="t")) + "\n" + json.dumps(page(device(
        "A2", app("com.zhiliaoapp.musically"))))
    results = audited(text.encode())
    assert [r.device.serial for r in results] == ["Google id A1", "Google id A2"]
    assert found(results) == {("com.zhiliaoapp.musically", "exact")}


@pytest.mark.parametrize(("fields", "kind", "what"), [
    ({"type": "IOS_SYNC", "os": "iOS 17.5", "model": "iPhone 15"}, "an iOS", "the Admin SDK lists no apps for iOS"),
    ({"type": "GOOGLE_SYNC", "os": "", "model": ""}, "a Google Sync", "the Admin SDK lists no apps for Google Sync"),
])
def test_an_ios_or_google_sync_device_lists_no_apps_and_is_never_clean(fields, kind, what):
    doc = device("I1", None, **fields)
    (inv,) = read_doc(doc)
    assert inv.status == "failed" and inv.reason == "mdm-scope" and inv.apps == ()
    assert f"device 'Google id I1' is {kind} device, and {what} devices: none of its apps were checked" in inv.message
    rep = report(json.dumps(doc).encode(), accept_scopes=("mdm",))
    assert rep.results[0].status == "failed" and rep.exit_code == 4  # accepting the MDM's view does not make it read
    (inv,) = read_doc(device("I1", **fields))  # an empty list: the same
    assert inv.status == "failed" and inv.reason == "mdm-scope"


def test_an_ios_device_that_does_list_apps_is_read_as_ios_and_partial():
    (inv,) = read_doc(device("I1", app("com.tencent.xin"), type="IOS_SYNC", os="iOS 17.5"))
    assert inv.status == "partial" and inv.reason == "mdm-scope" and inv.apps[0].platform == "ios"


def test_an_android_device_without_applications_or_with_none_is_failed():
    (inv,) = read_doc(device("A1", None))
    assert inv.status == "failed" and inv.reason == "no-app-list" and "projection=FULL" in inv.message
    (inv,) = read_doc(device("A1"))
    assert inv.status == "failed" and inv.reason == "empty"
    (inv,) = read_doc({"kind": LIST, "etag": "e"})  # the API leaves out an empty list
    assert inv.status == "failed" and inv.reason == "empty" and "lists no mobile devices" in inv.message


def test_accepting_the_mdm_scope_makes_an_android_device_complete_and_max_age_applies_to_last_sync():
    data = json.dumps(page(device("A1", app("com.a")))).encode()
    rep = report(data, accept_scopes=("mdm",))
    assert rep.results[0].status == "complete" and rep.exit_code == 0
    rep = report(data, accept_scopes=("mdm",), max_age=30, now=datetime(2025, 7, 1, tzinfo=UTC))
    assert rep.results[0].status == "partial" and rep.results[0].reason == "stale"


@pytest.mark.parametrize(("value", "when"), [
    ("2025-05-01T19:22:03Z", datetime(2025, 5, 1, 19, 22, 3, tzinfo=UTC)),
    ("2025-05-01T19:22:03", datetime(2025, 5, 1, 19, 22, 3, tzinfo=UTC)),  # naive: UTC
    ("2025-05-01T21:22:03+02:00", datetime(2025, 5, 1, 19, 22, 3, tzinfo=UTC)),
])
def test_last_sync_is_when_it_was_inventoried(value, when):
    (inv,) = read_doc(device("A1", app("com.a"), lastSync=value))
    assert inv.device.inventoried == when and inv.device.inventoried.tzinfo is not None


@pytest.mark.parametrize(("fields", "problem"), [
    ({"lastSync": "yesterday"}, "lastSync 'yesterday' is not an ISO 8601 time"),
    ({"lastSync": 1714590123}, "lastSync is a number, expected a time"),
    ({"email": "asmith@county.gov"}, "email is a string, expected a list of text"),
    ({"email": [1]}, "email is a list, expected a list of text"),
    ({"type": "BLACKBERRY\u202e"},
     "type 'BLACKBERRY\\u202e' is not one the Admin SDK lists (ANDROID, IOS_SYNC, GOOGLE_SYNC)"),
    ({"type": None, "os": "Tizen"}, "no type, and its os does not say whether it is Android or iOS"),
    ({"resourceId": {"x": 1}}, "resourceId is an object, expected text"),
])
def test_device_fields_that_are_not_what_the_api_writes_are_problems_not_crashes(fields, problem):
    (inv,) = read_doc(device("A1", app("com.a"), **fields))
    assert inv.status == "partial" and inv.reason == "bad-records"
    assert inv.problems == (f"the device: {problem}",)


def test_a_type_left_out_is_taken_from_the_os():
    (inv,) = read_doc(device("A1", app("com.a"), type=None))
    assert inv.device.platform == "android" and inv.reason == "mdm-scope"


def test_devices_without_an_id_are_never_taken_for_one_another():
    doc = [page(device(None, app("com.a"), deviceId=None, serialNumber=None), token="t"),
           page(device(None, app("com.tencent.mm"), deviceId=None, serialNumber=None))]
    results = audited(json.dumps(doc).encode())
    assert [(r.device.serial, len(r.findings)) for r in results] == [("page #1 device #1", 0),
                                                                     ("page #2 device #1", 1)]
    (inv,) = read_doc(device(None, app("com.a"), deviceId=" ", serialNumber="SN1"))
    assert inv.device.serial == "serial SN1"


def test_it_is_named_in_the_accepted_formats_and_claims_only_its_own_documents():
    assert "Google Admin SDK mobile devices JSON (Directory API devices/mobile, projection FULL)" in ACCEPTED_FORMATS
    assert "Google Admin SDK mobile devices JSON" in INPUT_HELP
    for doc in (SAMPLE, device("A1", app("com.a")), [SAMPLE]):  # the first reader that takes it reads it
        assert next(r.name for r in READERS if r.document and r.document(doc)) == "google-admin"
    others = [{"schema_version": "1.2", **SAMPLE}, {"mobiledevices": [device("A1")]}, {"kind": "admin#directory#user"},
              {"devices": [{"name": "enterprises/e/devices/d"}], "nextPageToken": "t"}]
    assert all(not [r for r in READERS if r.name == "google-admin" and r.document(d)] for d in others)


# --- what is not what the API writes -------------------------------------------------------------


@pytest.mark.parametrize("package", [
    "com.tencent.mm\x00", "com.tencent.mm\u202e", "\x1bcom.tencent.mm", "com.tencent.mm x",
    "com.tencent.mm\ncom.a", "com.tencent.mm\u200b", "com.tencent.mm/..",
])
def test_a_hostile_package_name_is_a_bad_record_whose_id_is_recovered(package):
    doc = page(device("A1", app("com.android.chrome"), app(package)))
    (inv,) = read_doc(doc)
    assert inv.status == "partial" and inv.reason == "bad-records" and ids(inv) == ["com.android.chrome"]
    assert inv.problem_count == 1 and inv.problems[0].startswith("device #1 app #2: packageName ")
    results = audited(json.dumps(doc).encode())
    assert found(results) == {("com.tencent.mm", "recovered")} and results[0].status == "partial"


@pytest.mark.parametrize(("entry", "why"), [
    ("com.tencent.mm", "expected an object of app attributes, got a string"),
    ({"displayName": "com.tencent.mm"}, "packageName is null, expected a package name"),
    (app(42), "packageName is a number, expected a package name"),
    (app(""), "empty packageName"),
    (app("com.tencent.mm", displayName={"x": 1}), "displayName is an object, expected text"),
    (app("com.tencent.mm", versionName="\ud800"), "versionName holds a lone surrogate escape"),
    (app("com.tencent.mm", versionCode=-1), "versionCode is a number, expected a whole number"),
    (app("com.tencent.mm", versionCode="12a"), "versionCode is a string, expected a whole number"),
    (app("com.tencent.mm", permission="CAMERA"), "permission is a string, expected a list of text"),
])
def test_an_app_that_is_not_what_the_api_writes_is_a_bad_record(entry, why):
    doc = device("A1", app("com.android.chrome"), entry)
    (inv,) = read_doc(doc)
    assert inv.status == "partial" and inv.reason == "bad-records" and ids(inv) == ["com.android.chrome"]
    assert why in inv.problems[0], inv.problems
    if "com.tencent.mm" in json.dumps(entry):
        assert ("com.tencent.mm", "recovered") in found(audited(json.dumps(doc).encode()))


def test_a_version_code_written_as_text_is_read():
    (inv,) = read_doc(device("A1", app("com.a", versionCode="4294967296")))
    assert inv.apps[0].build == "4294967296" and inv.reason == "mdm-scope"


def test_keys_given_twice_records_that_are_not_objects_and_lists_that_are_not_lists():
    text = ('{"kind": "admin#directory#mobiledevices", "mobiledevices": [{"kind": "admin#directory#mobiledevice", '
            '"resourceId": "A1", "type": "ANDROID", "applications": [{"packageName": "com.tencent.mm", '
            '"packageName": "com.a"}, {"packageName": "com.b"}]}]}')
    (inv,) = list(read_input("m.json", io.BytesIO(text.encode())))
    assert ids(inv) == ["com.b"] and inv.problem_count == 1
    assert ("com.tencent.mm", "recovered") in found(audited(text.encode()))
    text = ('{"kind": "admin#directory#mobiledevices", "mobiledevices": [{"resourceId": "A1", "applications": '
            '[{"packageName": "com.tencent.mm"}]}], "mobiledevices": []}')
    (inv,) = list(read_input("m.json", io.BytesIO(text.encode())))
    assert inv.status == "failed" and inv.reason == "bad-json" and "'mobiledevices' more than once" in inv.message
    assert found(audited(text.encode())) == {("com.tencent.mm", "recovered")}
    doc = [page(device("A1", app("com.a")), ["com.tencent.mm"]), "com.intsig.camscanner"]
    first, second, third = read_doc(doc)
    assert first.reason == "mdm-scope" and second.reason == third.reason == "bad-records"
    assert second.message == "mobile.json page #1 device #2 is a list, not an object; list the devices again"
    assert {("com.tencent.mm", "recovered"), ("com.intsig.camscanner", "recovered")} <= found(
        audited(json.dumps(doc).encode()))
    (inv,) = read_doc({"kind": LIST, "mobiledevices": {"resourceId": "com.tencent.mm"}})
    assert inv.reason == "bad-records" and "its mobiledevices is an object, not a list" in inv.message
    (inv,) = read_doc(device("A1", None, applications={"packageName": "com.tencent.mm"}))
    assert inv.status == "failed" and inv.problems == ("applications is an object, not a list",)


def test_a_cut_file_is_failed_and_its_ids_still_found():
    data = json.dumps(SAMPLE, indent=2).encode()
    (result,) = audited(data[: data.index(b"com.tencent.mm") + 20])
    assert result.status == "failed" and result.reason == "bad-json"
    assert ("com.tencent.mm", "recovered") in found([result])


# --- property: generated pages read as documented; mutated ones never lose an app unseen --------

_IDS = ("com.android.chrome", "com.google.android.gm", "com.tencent.mm", "com.zhiliaoapp.musically",
        "com.intsig.camscanner", "com.tencent.mobileqq", "com.whatsapp")
_HOSTILE = ("\x00", "\u202e", "\x1b", "\u200b", "/")


@st.composite
def _app(draw: st.DrawFn) -> tuple[Any, bool, str]:
    package = draw(st.sampled_from(_IDS))
    kind = draw(st.sampled_from(["ok", "ok", "ok", "bad-id", "not-object", "bad-code"]))
    entry: Any = app(package)
    if kind == "bad-id":
        entry["packageName"] = package + draw(st.sampled_from(_HOSTILE))
    elif kind == "not-object":
        entry = draw(st.sampled_from([package, [package]]))
    elif kind == "bad-code":
        entry["versionCode"] = draw(st.sampled_from([-3, 1.5, "x", [1]]))
    return entry, kind == "ok", package


@st.composite
def _pages(draw: st.DrawFn) -> tuple[Any, dict[str, list[tuple[Any, bool, str]]], bool]:
    """(the document, each device's app records over all pages, whether the last page is missing)."""
    resources = draw(st.lists(st.sampled_from(["A1", "A2", "A3", "A4"]), min_size=1, max_size=5))
    expected: dict[str, list[tuple[Any, bool, str]]] = {}
    pages = []
    for start in range(0, len(resources), 2):
        devices = []
        for resource in resources[start:start + 2]:
            apps = draw(st.lists(_app(), min_size=1, max_size=4))
            devices.append(device(resource, *[a for a, _, _ in apps]))
            expected.setdefault(f"Google id {resource}", []).extend(apps)
        pages.append(devices)
    cut = draw(st.booleans())
    doc: Any = [page(*d, token=None if (i == len(pages) - 1 and not cut) else f"t{i}") for i, d in enumerate(pages)]
    if len(doc) == 1 and draw(st.booleans()):
        doc = doc[0]
    return doc, expected, cut


PROPERTY = settings(max_examples=150, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(_pages(), st.booleans())
def test_generated_pages_read_as_documented(generated, indented):
    doc, expected, cut = generated
    results = audited(json.dumps(doc, indent=2 if indented else None).encode())
    assert not [r for r in results if r.reason == "error"]
    by_serial = {r.device.serial: r for r in results}
    assert set(by_serial) - {None} == set(expected)
    for serial, apps in expected.items():
        result = by_serial[serial]
        good = {i for _, ok, i in apps if ok}
        assert result.status == ("partial" if good else "failed")
        assert {a.id for a in result.apps} == good
        for _, _, package in apps:
            if prohibited(package):
                assert package in {f.identifier for f in result.findings} | {f.app.id for f in result.findings}
    assert cut == (None in by_serial and by_serial[None].reason == "truncated")


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
    assert all(r.status != "complete" for r in results)
    ids_found = {f.identifier for r in results for f in r.findings} | {f.app.id for r in results for f in r.findings}
    try:
        json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        for token in re.findall(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*", data.decode("utf-8", "replace")):
            if token in _IDS and prohibited(token):
                assert token in ids_found, token


@PROPERTY
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.sampled_from([LIST, ONE]),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                        st.sampled_from(["kind", "mobiledevices", "nextPageToken", "applications", "packageName",
                                         "type", "resourceId", "lastSync", "email", "versionCode", "os"]),
                        inner, max_size=6), max_leaves=25))
def test_arbitrary_json_in_the_shape_never_raises_and_never_reads_complete(doc):
    results = audited(json.dumps(doc).encode())
    assert not [r for r in results if r.reason == "error"]
    assert all(r.status != "complete" for r in results)
