"""The Workspace ONE UEM reader: saved answers of `apps/search` (v2, app_items) and of the legacy
`devices/{id}/apps` (v1, DeviceApps), read as research/mdm-inventories.md §7 documents them, never a
false "clean".

The samples are written here in the documented shapes (the note's samples, with invented ids and
versions): every device is partial with reason mdm-scope (personal devices' privacy settings can hide
unmanaged apps); an app listed as not installed is not on the device; a total that promises more apps
than the pages hold adds a failed result; an answer names no device, so a file is one device unless
its answers carry a device field; a record that is not what the API writes is a bad record whose text
is still searched.
"""

from __future__ import annotations

import io
import json
import re
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
from scanner.model import MDM_SCOPE, NOT_CHECKED, App, DeviceResult, Inventory, Report, Scope

BLIND = ("Workspace ONE's privacy settings for personal devices can keep it from collecting the apps it does not "
         "manage")
V2 = {"app_items": [
    {"name": "TikTok", "bundle_id": "com.zhiliaoapp.musically", "installed_version": "38.1.0",
     "installed_status": "Installed", "assignment_status": "Not Assigned", "assigned_version": None,
     "latest_uem_action": None},
    {"name": "Outlook", "bundle_id": "com.microsoft.Office.Outlook", "installed_version": "4.2405.0",
     "installed_status": "Installed", "assignment_status": "Assigned", "assigned_version": "4.2405.0",
     "latest_uem_action": "Install"},
]}
V1 = {"DeviceApps": [
    {"ApplicationName": "WeChat", "Version": "8.0.50", "ApplicationIdentifier": "com.tencent.mm",
     "Status": "Installed", "Size": "312 MB", "Type": "Public", "IsManaged": False},
    {"ApplicationName": "Chrome", "Version": "125.0", "ApplicationIdentifier": "com.android.chrome",
     "Status": "Installed", "Size": 1024, "Type": "System", "IsManaged": False},
]}


def read_doc(doc: Any, name: str = "ws1.json") -> list[Inventory]:
    return list(read_input(name, io.BytesIO(json.dumps(doc).encode())))


def ids(inv: Inventory) -> list[str]:
    return [a.id for a in inv.apps]


@cache
def matcher() -> Matcher:
    return Matcher(scanner.load_signatures(), None)


def report(data: bytes, name: str = "ws1.json", **options: Any) -> Report:
    return run([FileConnector(name, io.BytesIO(data))], matcher(), inventory=True, inputs=(name,), **options)


def audited(data: bytes, name: str = "ws1.json") -> list[DeviceResult]:
    return list(report(data, name).results)


def found(results: list[DeviceResult]) -> set[tuple[str, str]]:
    return {(f.app.id, f.match) for r in results for f in r.findings}


def prohibited(app_id: str) -> bool:
    return bool(matcher().match([App("ios", app_id)]))


def v2(*items: Any, **fields: Any) -> dict[str, Any]:
    return {"app_items": list(items), **fields}


def item(bundle_id: Any, **fields: Any) -> dict[str, Any]:
    return {"name": "App", "bundle_id": bundle_id, "installed_version": "1.0", "installed_status": "Installed",
            **fields}


def v1(*apps: Any, **fields: Any) -> dict[str, Any]:
    return {"DeviceApps": list(apps), **fields}


def legacy(identifier: Any, **fields: Any) -> dict[str, Any]:
    return {"ApplicationName": "App", "Version": "1.0", "ApplicationIdentifier": identifier, "Status": "Installed",
            "Type": "Public", "IsManaged": True, **fields}


# --- the documented shapes -----------------------------------------------------------------------


def test_an_apps_search_answer_is_one_unnamed_device_and_says_what_workspace_one_cannot_see():
    (inv,) = read_doc(V2)
    assert inv.status == "partial" and inv.reason == "mdm-scope"
    assert (inv.device.platform, inv.device.serial, inv.device.source) == (None, "unnamed device", "ws1.json")
    assert inv.apps[0] == App("ios", "com.zhiliaoapp.musically", "TikTok", "38.1.0")
    assert ids(inv) == ["com.zhiliaoapp.musically", "com.microsoft.Office.Outlook"]
    assert Scope(MDM_SCOPE, read=False, reason=BLIND) in inv.coverage
    assert inv.message == (f"ws1.json, device 'unnamed device': {BLIND}, so apps outside its view may not have "
                           f"been checked; scan the phone itself (over adb or USB) to check every app")
    (result,) = audited(json.dumps(V2).encode())
    assert found([result]) == {("com.zhiliaoapp.musically", "exact")} and result.status == "partial"


def test_a_legacy_device_apps_answer_reads_package_names_and_the_matcher_finds_them_on_either_platform():
    (inv,) = read_doc(V1)
    assert inv.reason == "mdm-scope" and ids(inv) == ["com.tencent.mm", "com.android.chrome"]
    assert inv.apps[0] == App("ios", "com.tencent.mm", "WeChat", "8.0.50")  # no platform given: listed as iOS
    (inv,) = read_doc(v1(legacy("com.tencent.xin", BuildVersion="8.0.50.33")))
    assert inv.apps[0].build == "8.0.50.33"
    # An Android package, an iOS bundle id and an iOS app's extension are all found, whatever the platform.
    doc = v1(legacy("com.tencent.mm"), legacy("com.tencent.xin"), legacy("com.tencent.xin.widget"))
    assert found(audited(json.dumps(doc).encode())) == {
        ("com.tencent.mm", "other-platform"), ("com.tencent.xin", "exact"), ("com.tencent.xin.widget", "extension")}


@pytest.mark.parametrize("status", ["Not Installed", "NotInstalled", "Removed", "uninstalled", "Pending Install",
                                    "INSTALL_FAILED"])
def test_an_app_listed_as_not_installed_is_not_on_the_device_and_is_counted(status):
    doc = v2(item("com.apple.Pages"), item("com.tencent.xin", installed_status=status))
    (inv,) = read_doc(doc)
    assert ids(inv) == ["com.apple.Pages"] and inv.reason == "mdm-scope" and inv.problem_count == 0
    assert Scope("apps listed as not installed", read=True, apps=1,
                 reason="Workspace ONE lists them as not installed, so they are not on the device") in inv.coverage
    assert found(audited(json.dumps(doc).encode())) == set()
    (inv,) = read_doc(v1(legacy("com.apple.Pages"), legacy("com.tencent.xin", Status=status)))
    assert ids(inv) == ["com.apple.Pages"]


@pytest.mark.parametrize("status", ["Installed", "Managed", "Pending Removal", None, "Something new"])
def test_any_other_status_is_read_as_installed(status):
    (inv,) = read_doc(v2(item("com.tencent.xin", installed_status=status)))
    assert ids(inv) == ["com.tencent.xin"]


def test_only_not_installed_apps_is_an_empty_list_never_clean():
    (inv,) = read_doc(v2(item("com.tencent.xin", installed_status="Removed")))
    assert inv.status == "failed" and inv.reason == "empty" and "lists no installed app" in inv.message
    (inv,) = read_doc([v2(item("com.a")), v2()])  # the empty page after the last one is no fault
    assert inv.reason == "mdm-scope" and ids(inv) == ["com.a"]


def test_a_total_that_promises_more_apps_than_held_adds_a_failed_result_for_that_device():
    doc = [v2(item("com.a"), item("com.b"), total=5, page=0, page_size=2),
           v2(item("com.tencent.xin"), total=5, page=1, page_size=2)]
    first, missing = read_doc(doc)
    assert ids(first) == ["com.a", "com.b", "com.tencent.xin"] and first.reason == "mdm-scope"
    assert missing.status == "failed" and missing.reason == "truncated"
    assert missing.device == first.device  # merged into the device by the audit
    assert "says it lists 5 apps (total), and the answers here hold 3, so 2 apps are on pages not in this" in (
        missing.message)
    rep = report(json.dumps(doc).encode())
    (result,) = rep.results
    assert result.status == "partial" and result.reason == "truncated" and rep.exit_code == 5
    assert [i.reason for i in read_doc(v1(legacy("com.a"), Page=0, PageSize=500, Total=1))] == ["mdm-scope"]
    *_, missing = read_doc(v1(legacy("com.a"), Total=2))
    assert missing.reason == "truncated" and "1 app is on pages" in missing.message


def test_a_page_saved_twice_does_not_hide_a_missing_one():
    page = v2(item("com.a"), item("com.b"), total=4)
    *_, missing = read_doc([page, page])
    assert missing.reason == "truncated" and "hold 2, so 2 apps" in missing.message


def test_answers_that_name_their_device_are_told_apart_and_one_device_on_two_pages_is_one():
    doc = [v2(item("com.a"), device_uuid="u-1"), v2(item("com.tencent.xin"), device_uuid="u-2"),
           v1(legacy("com.b"), DeviceUuid="u-1", SerialNumber="C39X", DeviceId=17)]
    results = audited(json.dumps(doc).encode())
    assert [r.device.serial for r in results] == ["Workspace ONE uuid u-1", "Workspace ONE uuid u-2"]
    assert {a.id for a in results[0].apps} == {"com.a", "com.b"} and found(results) == {("com.tencent.xin", "exact")}
    assert [len(r.findings) for r in results] == [0, 1]
    (inv,) = read_doc(v1(legacy("com.a"), DeviceId=17, SerialNumber="C39X"))
    assert inv.device.serial == "Workspace ONE id 17" and inv.device.identity == (("mdm id", "17"), ("serial", "C39X"))


def test_answers_without_a_device_field_in_one_file_are_its_one_device():
    results = audited(json.dumps([v2(item("com.a")), v1(legacy("com.tencent.mm"))]).encode())
    (result,) = results
    assert result.device.serial == "unnamed device" and {a.id for a in result.apps} == {"com.a", "com.tencent.mm"}
    # two files are two devices
    rep = run([FileConnector("a.json", io.BytesIO(json.dumps(V2).encode())),
               FileConnector("b.json", io.BytesIO(json.dumps(V1).encode()))], matcher())
    assert [r.device.source for r in rep.results] == ["a.json", "b.json"]


@pytest.mark.parametrize(("value", "platform"), [("Android", "android"), ("Apple", "ios"), ("iOS", "ios")])
def test_a_platform_field_gives_the_apps_platform(value, platform):
    (inv,) = read_doc(v2(item("com.tencent.mm"), platform=value))
    assert inv.device.platform == platform and inv.apps[0].platform == platform


@pytest.mark.parametrize(("value", "kind"), [("AppleOsX", "a macOS computer"), ("WinRT", "a Windows computer")])
def test_a_desktop_is_listed_as_not_checked_never_dropped(value, kind):
    doc = v1(legacy("com.kingsoft.wpsoffice.mac"), legacy("com.tencent.xinWeChat"), Platform=value, DeviceId=9)
    (inv,) = read_doc(doc)
    assert inv.status == "failed" and inv.reason == NOT_CHECKED and inv.apps == ()
    assert inv.coverage == (Scope("apps", read=False, reason=kind, apps=2),)
    assert inv.message == (f"ws1.json, device 'Workspace ONE id 9': {kind}, and scanner checks phones and tablets: "
                           f"its 2 app rows were not checked")
    rep = report(json.dumps(doc).encode())
    assert rep.results == () and [(n.device.serial, n.rows) for n in rep.not_checked] == [("Workspace ONE id 9", 2)]


def test_an_unknown_platform_is_a_bad_record():
    (inv,) = read_doc(v2(item("com.a"), platform="Toaster\u202e"))
    assert inv.status == "partial" and inv.reason == "bad-records" and inv.device.platform is None
    assert inv.problems == ("platform 'Toaster\\u202e' is not one Workspace ONE has",)
    (inv,) = read_doc(v2(item("com.a"), platform=["Android"]))
    assert inv.reason == "bad-records"


def test_accepting_the_mdm_scope_makes_a_whole_device_complete_and_a_cut_one_not():
    rep = report(json.dumps(V2).encode(), accept_scopes=("mdm",))
    assert rep.results[0].status == "complete" and rep.exit_code == 1  # TikTok, every target fully read
    rep = report(json.dumps(v2(item("com.a"), total=3)).encode(), accept_scopes=("mdm",))
    assert rep.results[0].status == "partial" and rep.exit_code == 4


def test_it_is_named_in_the_accepted_formats_and_claims_only_its_own_documents():
    assert "Workspace ONE UEM device apps JSON (apps/search app_items, or the legacy DeviceApps)" in ACCEPTED_FORMATS
    assert "Workspace ONE UEM device apps JSON" in INPUT_HELP
    claims = [[r.name for r in READERS if r.document and r.document(doc)] for doc in (V1, V2, [V1, V2])]
    assert claims == [["workspace-one"]] * 3
    others = [{"schema_version": "1.2", **V2}, {"totalCount": 1, "results": [{"mobileDeviceId": "1"}]},
              {"devices": [{"name": "enterprises/e/devices/d"}]}, {"app_items": []}, {"app_items": [{"name": "x"}]},
              {"DeviceApps": ["com.tencent.mm"]}, {"device_id": "1", "apps": [{"bundle_id": "com.a"}]}]
    assert all(not [r for r in READERS if r.name == "workspace-one" and r.document(d)] for d in others)
    (inv,) = read_doc({"app_items": []})
    assert inv.reason == "unknown-format"


# --- what is not what the API writes -------------------------------------------------------------


@pytest.mark.parametrize("identifier", [
    "com.tencent.xin\x00", "com.tencent.xin\u202e", "\x1bcom.tencent.xin", "com.tencent.xin x",
    "com.tencent.xin\ncom.a", "com.tencent.xin\u200b", "com.tencent.xin/..",
])
def test_a_hostile_identifier_is_a_bad_record_whose_id_is_recovered(identifier):
    doc = v2(item("com.apple.Pages"), item(identifier))
    (inv,) = read_doc(doc)
    assert inv.status == "partial" and inv.reason == "bad-records" and ids(inv) == ["com.apple.Pages"]
    assert inv.problem_count == 1 and inv.problems[0].startswith("app #2: bundle_id ")
    results = audited(json.dumps(doc).encode())
    assert found(results) == {("com.tencent.xin", "recovered")} and results[0].status == "partial"


@pytest.mark.parametrize(("entry", "why"), [
    ("com.tencent.xin", "expected an object of app attributes, got a string"),
    ({"name": "com.tencent.xin"}, "bundle_id is null, expected a bundle id or package name"),
    (item(42), "bundle_id is a number, expected a bundle id or package name"),
    (item(""), "empty bundle_id"),
    (item("x" * 300 + ".com.tencent.xin"), "longer than any real package name"),
    (item("com.tencent.xin", name={"x": 1}), "name is an object, expected text"),
    (item("com.tencent.xin", installed_version="\ud800"), "installed_version holds a lone surrogate escape"),
    (item("com.tencent.xin", installed_status=[1]), "installed_status is a list, expected text"),
    (item("com.tencent.xin", assignment_status=True), "assignment_status is a boolean, expected text"),
])
def test_an_app_item_that_is_not_what_the_api_writes_is_a_bad_record(entry, why):
    doc = v2(item("com.apple.Pages"), entry)
    (inv,) = read_doc(doc)
    assert inv.status == "partial" and inv.reason == "bad-records" and ids(inv) == ["com.apple.Pages"]
    assert why in inv.problems[0], inv.problems
    if "com.tencent.xin" in json.dumps(entry) and "x" * 300 not in json.dumps(entry):  # no id runs 300 long
        assert ("com.tencent.xin", "recovered") in found(audited(json.dumps(doc).encode()))


@pytest.mark.parametrize(("entry", "why"), [
    (legacy(None), "ApplicationIdentifier is null"),
    (legacy("com.tencent.mm", IsManaged="yes"), "IsManaged is a string, expected true or false"),
    (legacy("com.tencent.mm", Type={"t": 1}), "Type is an object, expected text"),
    (legacy("com.tencent.mm", BuildVersion=[2]), "BuildVersion is a list, expected text"),
])
def test_a_legacy_app_that_is_not_what_the_api_writes_is_a_bad_record(entry, why):
    (inv,) = read_doc(v1(legacy("com.a"), entry))
    assert inv.reason == "bad-records" and why in inv.problems[0], inv.problems


def test_device_fields_and_totals_of_the_wrong_type_are_problems_not_crashes():
    (inv,) = read_doc(v2(item("com.a"), device_uuid={"x": "com.tencent.xin"}))
    assert inv.reason == "bad-records" and inv.device.serial == "unnamed device"
    assert inv.problems == ("device: device_uuid is an object, expected text",)
    assert found(audited(json.dumps(v2(item("com.a"), device_uuid={"x": "com.tencent.xin"})).encode())) == {
        ("com.tencent.xin", "recovered")}
    (inv,) = read_doc(v2(item("com.a"), total="9"))
    assert inv.reason == "bad-records" and inv.problems == ("total is a string, expected a whole number",)
    (inv,) = read_doc(v1(legacy("com.a"), DeviceUuid="\x1b[2Ju\u202e"))
    assert inv.device.serial == "Workspace ONE uuid \x1b[2Ju\u202e"  # shown escaped by the formats


def test_keys_given_twice_answers_that_are_not_objects_and_lists_that_are_not_lists():
    text = '{"app_items": [{"bundle_id": "com.tencent.xin", "bundle_id": "com.a"}, {"bundle_id": "com.b"}]}'
    (inv,) = list(read_input("w.json", io.BytesIO(text.encode())))
    assert ids(inv) == ["com.b"] and inv.problem_count == 1
    assert inv.problems[0] == "app #1: 'bundle_id' given more than once, so the record was edited or damaged"
    assert ("com.tencent.xin", "recovered") in found(audited(text.encode()))
    text = '{"app_items": [{"bundle_id": "com.tencent.xin"}], "app_items": [{"bundle_id": "com.a"}]}'
    (inv,) = list(read_input("w.json", io.BytesIO(text.encode())))
    assert inv.status == "failed" and inv.reason == "bad-json" and "'app_items' more than once" in inv.message
    assert found(audited(text.encode())) == {("com.tencent.xin", "recovered")}
    doc = [V2, ["com.tencent.mm"], {"apps": "com.intsig.CamScanner"}]
    first, second, third = read_doc(doc)  # the answers that are no app list first, then the device
    assert first.reason == second.reason == "bad-records" and third.reason == "mdm-scope"
    assert first.message == ("ws1.json answer #2 is a list that is not a Workspace ONE app list (app_items or "
                              "DeviceApps); fetch the device's apps again")
    assert {("com.tencent.mm", "recovered"), ("com.intsig.CamScanner", "recovered")} <= found(
        audited(json.dumps(doc).encode()))
    (inv,) = read_doc([V2, {"DeviceApps": {"ApplicationIdentifier": "com.tencent.mm"}}])
    assert inv.reason == "bad-records" and "answer #2 DeviceApps is an object, not a list" in inv.problems


def test_a_cut_file_is_failed_and_its_ids_still_found():
    data = json.dumps([V1, V2], indent=2).encode()
    (result,) = audited(data[: data.index(b"com.zhiliaoapp.musically") + 30])
    assert result.status == "failed" and result.reason == "bad-json"
    assert {("com.tencent.mm", "recovered"), ("com.zhiliaoapp.musically", "recovered")} <= found([result])


def test_concatenated_answers_are_read_as_the_pages_they_are():
    text = json.dumps(v2(item("com.a"), total=2)) + "\n" + json.dumps(v2(item("com.tencent.xin"), total=2))
    (result,) = audited(text.encode())
    assert result.reason == "mdm-scope" and found([result]) == {("com.tencent.xin", "exact")}


# --- property: generated answers read as documented; mutated ones never lose an app unseen ------

_IDS = ("com.apple.Pages", "com.microsoft.Office.Outlook", "com.tencent.xin", "com.zhiliaoapp.musically",
        "com.intsig.camscanner", "com.tencent.mm", "com.android.chrome")
_HOSTILE = ("\x00", "\u202e", "\x1b", "\u200b", "/")


@st.composite
def _app(draw: st.DrawFn, shape: str, gone: bool) -> tuple[Any, str, str]:
    """(the app record, "ok" | "bad" | "gone" (not installed), its id)."""
    identifier = draw(st.sampled_from(_IDS))
    kind = draw(st.sampled_from(["ok", "ok", "ok", "bad-id", "not-object", "bad-name"] + ["gone"] * gone))
    entry: Any = item(identifier) if shape == "v2" else legacy(identifier)
    id_key, status_key = ("bundle_id", "installed_status") if shape == "v2" else ("ApplicationIdentifier", "Status")
    if kind == "gone":
        entry[status_key] = draw(st.sampled_from(["Not Installed", "Removed", "NotInstalled"]))
    elif kind == "bad-id":
        entry[id_key] = identifier + draw(st.sampled_from(_HOSTILE))
    elif kind == "not-object":
        entry = draw(st.sampled_from([identifier, [identifier]]))
    elif kind == "bad-name":
        entry["name" if shape == "v2" else "ApplicationName"] = draw(st.sampled_from([{"x": 1}, ["a"], True]))
    return entry, {"ok": "ok", "gone": "gone"}.get(kind, "bad"), identifier


@st.composite
def _answers(draw: st.DrawFn, gone: bool = True) -> tuple[Any, dict[str, list[tuple[Any, str, str]]]]:
    """(the document, each device key's app records over all answers)."""
    expected: dict[str, list[tuple[Any, str, str]]] = {}
    answers = []
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        shape = draw(st.sampled_from(["v2", "v1"]))
        uuid = draw(st.sampled_from([None, "u-1", "u-2"]))
        apps = draw(st.lists(_app(shape, gone), min_size=1, max_size=4))
        fields = {} if uuid is None else {"device_uuid" if shape == "v2" else "DeviceUuid": uuid}
        answers.append((v2 if shape == "v2" else v1)(*[a for a, _, _ in apps], **fields))
        expected.setdefault("unnamed device" if uuid is None else f"Workspace ONE uuid {uuid}", []).extend(apps)
    doc: Any = answers[0] if len(answers) == 1 and draw(st.booleans()) else answers
    return doc, expected


PROPERTY = settings(max_examples=150, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(_answers(), st.booleans())
def test_generated_answers_read_as_documented(generated, indented):
    doc, expected = generated
    results = audited(json.dumps(doc, indent=2 if indented else None).encode())
    assert not [r for r in results if r.reason == "error"]
    by_serial = {r.device.serial: r for r in results}
    records = [entry for apps in expected.values() for entry, _, _ in apps]
    if not any(isinstance(entry, dict) for entry in records):  # no app record at all: not recognised, all searched
        (result,) = results
        assert result.reason == "unknown-format"
        return
    assert set(by_serial) == set(expected)
    for serial, apps in expected.items():
        result = by_serial[serial]
        good = {i for _, kind, i in apps if kind == "ok"}
        assert result.status != "complete"
        assert {a.id for a in result.apps} == good
        if any(kind == "bad" for _, kind, _ in apps):
            assert result.reason == "bad-records"
        for _, kind, identifier in apps:
            if kind != "gone" and prohibited(identifier):
                assert identifier in {f.identifier for f in result.findings} | {f.app.id for f in result.findings}


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    doc, _ = draw(_answers(gone=False))  # (an app listed as not installed is rightly not found)
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
def test_mutated_answers_never_raise_never_read_complete_and_keep_prohibited_ids(data):
    rep = report(data)
    assert not [r for r in rep.results if r.reason == "error"]
    assert all(r.status != "complete" for r in rep.results)
    ids_found = {f.identifier for r in rep.results for f in r.findings} | {
        f.app.id for r in rep.results for f in r.findings}
    try:
        json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        for token in re.findall(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*", data.decode("utf-8", "replace")):
            if token in _IDS and prohibited(token):
                assert token in ids_found, token


@PROPERTY
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                        st.sampled_from(["app_items", "DeviceApps", "bundle_id", "ApplicationIdentifier", "Status",
                                         "installed_status", "total", "Total", "platform", "device_uuid", "name"]),
                        inner, max_size=5), max_leaves=25))
def test_arbitrary_json_in_the_shape_never_raises_and_never_reads_complete(doc):
    rep = report(json.dumps(doc).encode())
    assert not [r for r in rep.results if r.reason == "error"]
    assert all(r.status != "complete" for r in rep.results)
