"""The Kandji reader: saved answers of `GET /api/v1/devices/{device_id}/apps`, read as Kandji's own
script and research/mdm-inventories.md §9 document them, never a false "clean".

The samples are written here in the documented shape (invented ids): every device is partial with
reason mdm-scope (preinstalled Apple apps are not reported, a User Enrollment reports managed apps
only); a device in two answers is one device; the Prism export, whose row fields the note does not
give, is not claimed; a record that is not what the API writes is a bad record whose text is still
searched.
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
from scanner.model import MDM_SCOPE, App, DeviceResult, Inventory, Report, Scope

BLIND = ("Kandji's inventory is what the device reports over Apple's MDM: it leaves out an iPhone's or iPad's "
         "preinstalled Apple apps, and a User Enrollment reports managed apps only")
DEVICE = "5b8a1c2e-0000-4000-8000-00000000abcd"


def app(bundle_id: Any, **fields: Any) -> dict[str, Any]:
    return {"app_id": "42", "app_name": "App", "bundle_id": bundle_id, "version": "1.0", **fields}


def answer(device_id: Any, *apps: Any, **fields: Any) -> dict[str, Any]:
    doc = {"device_id": device_id, **fields}
    if apps != (None,):
        doc["apps"] = list(apps)
    return doc


SAMPLE = answer(DEVICE, app("com.tencent.xin", app_name="WeChat", version="8.0.50"),
                app("com.microsoft.Office.Outlook", app_name="Microsoft Outlook", version="4.2405.0"))


def read_doc(doc: Any, name: str = "kandji.json") -> list[Inventory]:
    return list(read_input(name, io.BytesIO(json.dumps(doc).encode())))


def ids(inv: Inventory) -> list[str]:
    return [a.id for a in inv.apps]


@cache
def matcher() -> Matcher:
    return Matcher(scanner.load_signatures(), None)


def report(data: bytes, name: str = "kandji.json", **options: Any) -> Report:
    return run([FileConnector(name, io.BytesIO(data))], matcher(), inventory=True, inputs=(name,), **options)


def audited(data: bytes) -> list[DeviceResult]:
    return list(report(data).results)


def found(results: list[DeviceResult]) -> set[tuple[str, str]]:
    return {(f.app.id, f.match) for r in results for f in r.findings}


def prohibited(app_id: str) -> bool:
    return bool(matcher().match([App("ios", app_id)]))


# --- the documented shape ------------------------------------------------------------------------


def test_an_answer_reads_the_device_and_its_apps_and_says_what_kandji_cannot_see():
    (inv,) = read_doc(SAMPLE)
    assert inv.status == "partial" and inv.reason == "mdm-scope"
    assert (inv.device.platform, inv.device.serial) == ("ios", f"Kandji id {DEVICE}")
    assert inv.device.identity == (("mdm id", DEVICE),)
    assert inv.apps == (App("ios", "com.tencent.xin", "WeChat", "8.0.50"),
                        App("ios", "com.microsoft.Office.Outlook", "Microsoft Outlook", "4.2405.0"))
    assert Scope(MDM_SCOPE, read=False, reason=BLIND) in inv.coverage
    assert inv.message == (f"kandji.json, device 'Kandji id {DEVICE}': {BLIND}, so apps outside its view were not "
                           f"checked; scan the iPhone itself over USB to check every app")
    rep = report(json.dumps(SAMPLE).encode())
    assert found(list(rep.results)) == {("com.tencent.xin", "exact")} and rep.exit_code == 5


def test_answers_of_several_devices_and_one_device_in_two_answers():
    doc = [answer("d1", app("com.a")), answer("d2", app("com.zhiliaoapp.musically")), answer("d1", app("com.b"))]
    results = audited(json.dumps(doc).encode())
    assert [r.device.serial for r in results] == ["Kandji id d1", "Kandji id d2"]
    assert {a.id for a in results[0].apps} == {"com.a", "com.b"}
    assert found(results) == {("com.zhiliaoapp.musically", "exact")}
    text = json.dumps(answer("d1", app("com.a"))) + "\n" + json.dumps(answer("d2", app("com.tencent.xin")))
    assert [r.device.serial for r in audited(text.encode())] == ["Kandji id d1", "Kandji id d2"]  # concatenated


def test_accepting_the_mdm_scope_makes_a_whole_device_complete():
    rep = report(json.dumps(answer("d1", app("com.a"))).encode(), accept_scopes=("mdm",))
    assert rep.results[0].status == "complete" and rep.exit_code == 0


def test_an_empty_app_list_and_an_answer_without_one_are_never_clean():
    (inv,) = read_doc(answer("d1"))  # alone, nothing shows it is Kandji's: an unknown format, failed all the same
    assert inv.status == "failed" and inv.reason == "unknown-format"
    _, inv = read_doc([answer("d1", app("com.a")), answer("d2")])
    assert inv.status == "failed" and inv.reason == "empty" and inv.device.serial == "Kandji id d2"
    first, second = read_doc([answer("d1", app("com.a")), answer("d2", None)])
    assert second.status == "failed" and second.reason == "no-app-list" and first.reason == "mdm-scope"
    assert "fetch /api/v1/devices/{device_id}/apps" in second.message


def test_it_is_named_in_the_accepted_formats_and_claims_only_its_own_documents():
    assert "Kandji device apps JSON (devices/{id}/apps)" in ACCEPTED_FORMATS and "Kandji device apps JSON" in INPUT_HELP
    for doc in (SAMPLE, [SAMPLE, SAMPLE]):
        assert [r.name for r in READERS if r.document and r.document(doc)] == ["kandji"]
    prism = {"data": [{"device_id": "d1", "bundle_id": "com.tencent.xin", "name": "WeChat"}], "cursor": "c2"}
    others = [{"schema_version": "1.2", **SAMPLE}, prism, {"device_id": "d1", "apps": []},
              {"device_id": "d1", "apps": ["com.tencent.xin"]}, {"apps": [app("com.a")]}]
    assert all(not [r for r in READERS if r.name == "kandji" and r.document(d)] for d in others)
    assert [r.name for r in READERS if r.document and r.document(prism)] == ["kandji-prism"]  # its own reader
    results = audited(json.dumps(prism).encode())
    assert found(results) == {("com.tencent.xin", "exact")} and all(r.status != "complete" for r in results)


# --- what is not what the API writes -------------------------------------------------------------


@pytest.mark.parametrize("identifier", [
    "com.tencent.xin\x00", "com.tencent.xin\u202e", "\x1bcom.tencent.xin", "com.tencent.xin x",
    "com.tencent.xin\ncom.a", "com.tencent.xin\u200b", "com.tencent.xin/..",
])
def test_a_hostile_bundle_id_is_a_bad_record_whose_id_is_recovered(identifier):
    doc = answer("d1", app("com.apple.Pages"), app(identifier))
    (inv,) = read_doc(doc)
    assert inv.status == "partial" and inv.reason == "bad-records" and ids(inv) == ["com.apple.Pages"]
    assert inv.problem_count == 1 and inv.problems[0].startswith("app #2: bundle_id ")
    results = audited(json.dumps(doc).encode())
    assert found(results) == {("com.tencent.xin", "recovered")} and results[0].status == "partial"


@pytest.mark.parametrize(("entry", "why"), [
    ("com.tencent.xin", "expected an object of app attributes, got a string"),
    ({"app_name": "com.tencent.xin"}, "bundle_id is null, expected a bundle id"),
    (app(42, app_name="com.tencent.xin"), "bundle_id is a number, expected a bundle id"),
    (app("", app_name="com.tencent.xin"), "empty bundle_id"),
    (app("com.tencent.xin", app_name={"x": 1}), "app_name is an object, expected text"),
    (app("com.tencent.xin", version="\ud800"), "version holds a lone surrogate escape"),
    (app("com.tencent.xin", version=[8]), "version is a list, expected text"),
])
def test_an_app_that_is_not_what_the_api_writes_is_a_bad_record(entry, why):
    doc = answer("d1", app("com.apple.Pages"), entry)
    (inv,) = read_doc(doc)
    assert inv.status == "partial" and inv.reason == "bad-records" and ids(inv) == ["com.apple.Pages"]
    assert why in inv.problems[0], inv.problems
    assert ("com.tencent.xin", "recovered") in found(audited(json.dumps(doc).encode()))


def test_hostile_device_ids_keys_given_twice_and_records_that_are_not_objects():
    (inv,) = read_doc(answer({"x": "com.tencent.xin"}, app("com.a")))
    assert inv.reason == "bad-records" and inv.device.serial == "the device"
    assert inv.problems == ("the device: device_id is an object, expected text",)
    assert found(audited(json.dumps(answer({"x": "com.tencent.xin"}, app("com.a"))).encode())) == {
        ("com.tencent.xin", "recovered")}
    (inv,) = read_doc(answer("\x1b[2J1\u202e", app("com.a")))
    assert inv.device.serial == "Kandji id \x1b[2J1\u202e"  # shown escaped by the formats
    results = audited(json.dumps([answer(None, app("com.a")), answer("", app("com.tencent.xin"))]).encode())
    assert [(r.device.serial, len(r.findings)) for r in results] == [("answer #1", 0), ("answer #2", 1)]
    text = ('{"device_id": "d1", "apps": [{"bundle_id": "com.tencent.xin", "bundle_id": "com.a"}, '
            '{"bundle_id": "com.b"}]}')
    (inv,) = list(read_input("k.json", io.BytesIO(text.encode())))
    assert ids(inv) == ["com.b"] and inv.problem_count == 1
    assert ("com.tencent.xin", "recovered") in found(audited(text.encode()))
    text = '{"device_id": "d1", "apps": [{"bundle_id": "com.tencent.xin"}], "apps": [{"bundle_id": "com.a"}]}'
    (inv,) = list(read_input("k.json", io.BytesIO(text.encode())))
    assert inv.status == "partial" and "'apps' more than once" in inv.problems[0]
    assert ("com.tencent.xin", "recovered") in found(audited(text.encode()))
    doc = [SAMPLE, ["com.zhiliaoapp.musically"], answer("d3", None, apps={"bundle_id": "com.intsig.CamScanner"})]
    first, second, third = read_doc(doc)
    assert first.reason == "mdm-scope" and second.reason == third.reason == "bad-records"
    assert second.message == "kandji.json answer #2 is a list, not an object; fetch the device's apps again"
    assert third.problems == ("answer #3 apps is an object, not a list",)
    assert {("com.zhiliaoapp.musically", "recovered"), ("com.intsig.CamScanner", "recovered")} <= found(
        audited(json.dumps(doc).encode()))


def test_a_cut_file_is_failed_and_its_ids_still_found():
    data = json.dumps(SAMPLE, indent=2).encode()
    (result,) = audited(data[: data.index(b"com.tencent.xin") + 20])
    assert result.status == "failed" and result.reason == "bad-json"
    assert ("com.tencent.xin", "recovered") in found([result])


# --- property: generated answers read as documented; mutated ones never lose an app unseen ------

_IDS = ("com.apple.Pages", "com.microsoft.Office.Outlook", "com.tencent.xin", "com.zhiliaoapp.musically",
        "com.intsig.CamScanner", "com.tencent.mqq", "com.google.chrome.ios")
_HOSTILE = ("\x00", "\u202e", "\x1b", "\u200b", "/")


@st.composite
def _app(draw: st.DrawFn) -> tuple[Any, bool, str]:
    identifier = draw(st.sampled_from(_IDS))
    kind = draw(st.sampled_from(["ok", "ok", "ok", "bad-id", "not-object", "bad-name"]))
    entry: Any = app(identifier)
    if kind == "bad-id":
        entry["bundle_id"] = identifier + draw(st.sampled_from(_HOSTILE))
    elif kind == "not-object":
        entry = draw(st.sampled_from([identifier, [identifier]]))
    elif kind == "bad-name":
        entry["app_name"] = draw(st.sampled_from([{"x": 1}, ["a"], True]))
    return entry, kind == "ok", identifier


@st.composite
def _answers(draw: st.DrawFn) -> tuple[Any, dict[str, list[tuple[Any, bool, str]]]]:
    expected: dict[str, list[tuple[Any, bool, str]]] = {}
    answers = []
    for device_id in draw(st.lists(st.sampled_from(["d1", "d2", "d3"]), min_size=1, max_size=4)):
        apps = draw(st.lists(_app(), min_size=1, max_size=4))
        answers.append(answer(device_id, *[a for a, _, _ in apps]))
        expected.setdefault(f"Kandji id {device_id}", []).extend(apps)
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
    if not any(isinstance(entry, dict) for apps in expected.values() for entry, _, _ in apps):
        (result,) = results  # no app record at all: not recognised, and all its text searched
        assert result.reason == "unknown-format"
        return
    by_serial = {r.device.serial: r for r in results}
    assert set(by_serial) == set(expected)
    for serial, apps in expected.items():
        result = by_serial[serial]
        good = {i for _, ok, i in apps if ok}
        assert result.status == ("partial" if good else "failed")
        assert {a.id for a in result.apps} == good
        for _, _, identifier in apps:
            if prohibited(identifier):
                assert identifier in {f.identifier for f in result.findings} | {f.app.id for f in result.findings}


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    doc, _ = draw(_answers())
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
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                        st.sampled_from(["device_id", "apps", "bundle_id", "app_name", "version", "data", "cursor"]),
                        inner, max_size=5), max_leaves=25))
def test_arbitrary_json_in_the_shape_never_raises_and_never_reads_complete(doc):
    results = audited(json.dumps(doc).encode())
    assert not [r for r in results if r.reason == "error"]
    assert all(r.status != "complete" for r in results)
