"""A saved 1.2 report of MDM exports reads back as it was (issue 13 section 2): evidence, aggregate counts,
device identity and inventory date, devices not checked; --accept-scope mdm is an option of the run, never a
fact of a saved device; and every edit of those fields that leaves a trace is a bad record.

The reports are built by the audit itself from inventories shaped as the MDM readers yield them (the mdm
contract), matched against a small catalog with curated display names, then written by the JSON writer.
"""

from __future__ import annotations

import copy
import io
import json
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.audit import run
from scanner.connectors.files import read_input
from scanner.formats.json_report import write_json
from scanner.matcher import Matcher
from scanner.model import MDM_SCOPE, NOT_CHECKED, App, DeviceInfo, Inventory, Report, Scope
from scanner.signatures import load_signatures

ESC = "\x1b[2J\x1b]0;pwned\x07"
BIDI = "sam\u202egpj.exe"
NOW = datetime.now(UTC)
RECENT = (NOW - timedelta(days=5)).replace(microsecond=0)
OLD = (NOW - timedelta(days=40)).replace(microsecond=0)
SCHEMA = Path(__file__).resolve().parents[3] / "docs" / "report-schema.json"

APP = """\
kind = "app"
schema = 2
id = "acme-chat"
name = "Acme Chat"
maker = "acme"

[[identifiers]]
platform = "android"
id = "com.acme.chat"
edition = "primary"
confidence = "confirmed"
sources = ["one", "two"]

[[identifiers]]
platform = "ios"
id = "com.acme.chat.ios"
edition = "primary"
confidence = "confirmed"
sources = ["one", "two"]

[[names]]
name = "Acme Chat"
platforms = ["android", "ios"]
confidence = "confirmed"
sources = ["store listing"]
"""
MAKER = 'kind = "maker"\nschema = 2\nid = "acme"\nname = "Acme"\nsources = ["test"]\n'
POLICY = """\
kind = "policy"
schema = 2
id = "acme-ban"
title = "Acme ban"
authority = "Test"
citation = "Test 1"
signed = 2025-01-31
status = "in-force"
url = "https://example.test/p"
jurisdiction = "us-wy"

[[entries]]
key = "chat"
listed = "Acme Chat"
app = "acme-chat"
relation = "app"
severity = "prohibited"
"""


@pytest.fixture(scope="module")
def matcher(tmp_path_factory) -> Matcher:
    folder = tmp_path_factory.mktemp("sigs")
    for name, text in {"makers/acme.toml": MAKER, "catalog/acme-chat.toml": APP,
                       "policies/acme-ban.toml": POLICY}.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return Matcher(load_signatures([folder], bundled=False), ["acme-ban"])


def _scoped(device: DeviceInfo, apps: tuple[App, ...], blind: str) -> Inventory:
    """An MDM device as the readers yield it: partial, reason mdm-scope, the MDM's blind spot unread."""
    return Inventory(device, apps, (Scope("records", True, apps=len(apps)), Scope(MDM_SCOPE, False, reason=blind)),
                     status="partial", reason="mdm-scope",
                     message=f"intune.csv, device {device.label}: {blind}; Intune cannot see other apps")


def inventories() -> list[Inventory]:
    phone = _scoped(
        DeviceInfo("android", "Intune id 2f6c", name="Sam " + ESC, source="intune.csv", inventoried=RECENT,
                   identity=(("serial", "R58N" + ESC), ("user", BIDI), ("mdm id", "2f6c"))),
        (App("android", "Acme Chat", "Acme Chat", version="3.1", evidence="name"),
         App("android", "Notes", "Notes", evidence="name")),
        "a personal device: Intune reports its managed apps only")
    stale = _scoped(DeviceInfo("ios", "Intune id 77aa", name="Old iPad", source="intune.csv", inventoried=OLD),
                    (App("ios", "acme chat", "acme chat", evidence="name"),), "User Enrollment")
    supervised = Inventory(
        DeviceInfo("ios", "Jamf id 7", name="Kiosk", source="jamf.json", inventoried=RECENT,
                   identity=(("udid", "00008110-000A"),)),
        (App("ios", "com.acme.chat.ios", "Acme Chat"), App("ios", "com.apple.mobilesafari", "Safari")),
        (Scope("records", True, apps=2), Scope(MDM_SCOPE, True, reason="supervised: the MDM lists every app")))
    aggregate = Inventory(
        DeviceInfo(None, None, name="the tenant's aggregate", source="aggregate.csv"),
        (App("android", "com.acme.chat", "Acme Chat", devices=3),),
        (Scope("records", True, apps=1), Scope("devices", False, reason="an aggregate names no devices")),
        status="partial", reason="aggregate",
        message="aggregate.csv counts apps, not devices: export AppInvRawData to see which devices hold them")
    desktop = Inventory(
        DeviceInfo("windows", "Intune id 9a", name="LT-0042" + BIDI, source="intune.csv",
                   identity=(("serial", "5CG" + ESC),), inventoried=RECENT),
        (), (Scope("apps", False, reason="a Windows computer", apps=812),), status="failed", reason=NOT_CHECKED,
        message="intune.csv, device LT-0042: a Windows computer, and scanner checks phones and tablets: its 812 app "
                "rows were not checked")
    return [phone, stale, supervised, aggregate, desktop]


def audit(matcher: Matcher, invs: list[Inventory], **kw: Any) -> Report:
    return run([], matcher, inventory=True, read=lambda _: iter(invs), inputs=("intune.csv",), **kw)


def as_json(report: Report) -> dict[str, Any]:
    out = io.StringIO()
    write_json(report, out)
    return json.loads(out.getvalue())


def saved(matcher: Matcher) -> dict[str, Any]:
    return as_json(audit(matcher, inventories(), accept_scopes=("mdm",), max_age=30))


def reread(tmp_path: Path, doc: dict[str, Any]) -> list[Inventory]:
    path = tmp_path / "saved.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return list(read_input(str(path)))


def rematch(tmp_path: Path, matcher: Matcher, doc: dict[str, Any], **kw: Any) -> Report:
    return audit(matcher, reread(tmp_path, doc), **kw)


def outcome(report: Report) -> list[tuple]:
    return [(r.device.serial, r.device.name, r.device.identity, r.device.inventoried, r.status, r.reason,
             sorted((f.app.id, f.app.evidence, f.app.devices, f.rule, f.match, f.evidence) for f in r.findings))
            for r in report.results]


def not_checked(report: Report) -> list[tuple]:
    return [(n.device.platform, n.device.serial, n.device.name, n.device.identity, n.device.inventoried, n.rows,
             n.why) for n in report.not_checked]


def by_serial(doc: dict[str, Any], serial: str) -> dict[str, Any]:
    return next(d for d in doc["devices"] if d["device"]["serial"] == serial)


def test_the_saved_mdm_report_is_what_the_contract_says(matcher):
    doc = saved(matcher)
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8"))).validate(doc)
    assert doc["accepted_scopes"] == ["mdm"] and doc["max_age"] == 30 and doc["summary"]["not_checked"] == 1
    phone = by_serial(doc, "Intune id 2f6c")
    assert phone["status"] == "complete"  # accepted
    assert [f["evidence"] for f in phone["findings"]] == ["name"]
    assert by_serial(doc, "Intune id 77aa")["reason"] == "stale"
    assert by_serial(doc, None)["findings"][0]["evidence"] == "count"


def test_a_1_2_report_re_matched_gives_the_same_findings_statuses_and_devices_not_checked(tmp_path, matcher):
    original = audit(matcher, inventories(), accept_scopes=("mdm",), max_age=30)
    again = rematch(tmp_path, matcher, as_json(original), accept_scopes=("mdm",), max_age=30)
    assert outcome(again) == outcome(original)
    assert not_checked(again) == not_checked(original)
    assert again.exit_code == original.exit_code and again.summary.not_checked == 1
    assert again.not_checked[0].device.name == "LT-0042" + BIDI  # hostile text kept exactly, for the writers
    assert again.results[0].device.identity == (("serial", "R58N" + ESC), ("user", BIDI), ("mdm id", "2f6c"))
    # And once more: re-reading a re-read report changes nothing either.
    third = rematch(tmp_path, matcher, as_json(again), accept_scopes=("mdm",), max_age=30)
    assert outcome(third) == outcome(original) and not_checked(third) == not_checked(original)


def test_what_the_saved_scan_accepted_is_not_accepted_again_without_the_option(tmp_path, matcher):
    invs = reread(tmp_path, saved(matcher))
    phone = next(i for i in invs if i.device.serial == "Intune id 2f6c")
    assert phone.status == "partial" and phone.reason == "mdm-scope"
    assert "--accept-scope mdm" in phone.message and "personal device" in phone.message
    assert Scope(MDM_SCOPE, False, reason="a personal device: Intune reports its managed apps only") in phone.coverage
    again = audit(matcher, invs)
    assert again.exit_code == 5  # a finding, and a device read only as far as its MDM sees
    # A device whose source says the MDM lists every app stays complete: nothing was accepted for it.
    kiosk = next(r for r in again.results if r.device.serial == "Jamf id 7")
    assert kiosk.status == "complete"


def test_a_device_saved_partial_for_another_reason_is_never_made_complete_by_accepting(tmp_path, matcher):
    # The iPad was stale under --max-age 30; re-matched without --max-age, accepting the MDM's view again.
    again = rematch(tmp_path, matcher, saved(matcher), accept_scopes=("mdm",))
    ipad = next(r for r in again.results if r.device.serial == "Intune id 77aa")
    assert ipad.status == "partial" and ipad.reason == "stale"
    # An edit that drops the stale scope but keeps "partial" cannot make it complete either.
    doc = saved(matcher)
    device = by_serial(doc, "Intune id 77aa")
    device["coverage"] = [s for s in device["coverage"] if s["scope"] != "apps"]
    device["reason"] = "bad-lines"
    again = rematch(tmp_path, matcher, doc, accept_scopes=("mdm",))
    ipad = next(r for r in again.results if r.device.serial == "Intune id 77aa")
    assert ipad.status == "partial" and ipad.findings


def test_max_age_measures_the_saved_inventory_date_again(tmp_path, matcher):
    again = rematch(tmp_path, matcher, saved(matcher), accept_scopes=("mdm",), max_age=2)
    phone = next(r for r in again.results if r.device.serial == "Intune id 2f6c")
    assert phone.status == "partial" and phone.reason == "stale"


def _as_1_1(doc: dict[str, Any]) -> dict[str, Any]:
    doc["schema_version"] = "1.1"
    for key in ("accepted_scopes", "max_age", "not_checked"):
        del doc[key]
    del doc["summary"]["not_checked"]
    for device in doc["devices"]:
        del device["device"]["identity"], device["device"]["inventoried"]
        for f in device["findings"]:
            del f["evidence"]
            f["app"] = {k: v for k, v in f["app"].items() if k not in ("evidence", "devices")}
        device["inventory"] = [{k: v for k, v in a.items() if k not in ("evidence", "devices")}
                               for a in device["inventory"]]
    return doc


def test_a_1_1_report_still_reads(tmp_path, matcher):
    kiosk, aggregate = inventories()[2:4]
    original = audit(matcher, [kiosk, aggregate])
    invs = reread(tmp_path, _as_1_1(as_json(original)))
    assert [i.status for i in invs] == [r.status for r in original.results] == ["complete", "partial"]
    assert all(a.evidence == "identifier" and a.devices is None for i in invs for a in i.apps)
    assert all(i.device.identity == () and i.device.inventoried is None for i in invs)
    again = audit(matcher, invs)
    assert [sorted((f.app.id, f.rule, f.match) for f in r.findings) for r in again.results] == [
        sorted((f.app.id, f.rule, f.match) for f in r.findings) for r in original.results]
    # A display name without its evidence reads as an id: not a clean id, so a bad record, its device partial.
    phone = audit(matcher, inventories()[:1])
    (inv,) = reread(tmp_path, _as_1_1(as_json(phone)))
    assert inv.status == "partial" and "holds whitespace" in inv.problems[0]


def _complete(doc: dict[str, Any]) -> dict[str, Any]:
    return by_serial(doc, "Jamf id 7")


def _set(path: tuple, value: Any):
    def edit(doc: dict[str, Any]) -> None:
        target: Any = _complete(doc)
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return edit


# Each edit of a 1.2 field of the complete kiosk: the device never reads complete, and its finding is kept.
EDITS = {
    "app evidence unknown": _set(("inventory", 0, "evidence"), "guess"),
    "app evidence a number": _set(("inventory", 0, "evidence"), 1),
    "app devices negative": _set(("inventory", 0, "devices"), -1),
    "app devices text": _set(("inventory", 0, "devices"), "3"),
    "finding evidence contradicts": _set(("findings", 0, "evidence"), "count"),
    "finding name match of an id": _set(("findings", 0, "match"), "name"),
    "identity not a list": _set(("device", "identity"), "serial C39"),
    "identity item a pair": _set(("device", "identity"), [["udid", "X"]]),
    "identity value missing": _set(("device", "identity"), [{"kind": "udid"}]),
    "identity value a number": _set(("device", "identity"), [{"kind": "udid", "value": 7}]),
    "identity lone surrogate": _set(("device", "identity"), [{"kind": "udid", "value": "\ud800"}]),
    "inventoried not a time": _set(("device", "inventoried"), "last tuesday"),
    "inventoried a number": _set(("device", "inventoried"), 1740000000),
    "inventoried after the report": _set(("device", "inventoried"), "2999-01-01T00:00:00.000Z"),
    "accepted scope of another name": _set(("coverage", 1, "scope"), "apps outside the MDMs view"),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_an_edit_of_a_1_2_field_never_reads_complete_and_keeps_the_finding(tmp_path, matcher, edit):
    doc = saved(matcher)
    EDITS[edit](doc)
    again = rematch(tmp_path, matcher, doc, accept_scopes=("mdm",), max_age=30)
    kiosk = next(r for r in again.results if r.device.serial == "Jamf id 7")
    assert kiosk.status == "partial" and kiosk.reason == "bad-records", (edit, kiosk.problems)
    assert [f.app.id for f in kiosk.findings] == ["com.acme.chat.ios"]


def test_a_key_given_twice_in_an_identity_is_a_bad_record(tmp_path, matcher):
    doc = saved(matcher)
    _complete(doc)["device"]["identity"] = [{"kind": "udid", "value": "MARK"}]
    text = json.dumps(doc).replace('"value": "MARK"', '"value": "A", "value": "B"')
    path = tmp_path / "twice.json"
    path.write_text(text, encoding="utf-8")
    kiosk = next(i for i in read_input(str(path)) if i.device.serial == "Jamf id 7")
    assert kiosk.status == "partial" and "given more than once" in kiosk.problems[0]


def test_a_display_name_keeps_its_spaces_and_a_blank_one_is_a_bad_record(tmp_path, matcher):
    doc = saved(matcher)
    phone = by_serial(doc, "Intune id 2f6c")
    phone["inventory"][1]["id"] = "  Acme   Chat "  # still the catalog's name, normalized
    phone["inventory"][1]["name"] = None
    invs = reread(tmp_path, doc)
    read = next(i for i in invs if i.device.serial == "Intune id 2f6c")
    assert App("android", "  Acme   Chat ", None, evidence="name") in read.apps
    again = audit(matcher, invs)
    assert sum(f.app.id == "  Acme   Chat " for r in again.results for f in r.findings) == 1
    phone["inventory"][1]["id"] = "   "
    read = next(i for i in reread(tmp_path, doc) if i.device.serial == "Intune id 2f6c")
    assert read.problems[0].endswith("id is a blank display name")


# --- devices not checked -------------------------------------------------------------------------------


def _entry(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["not_checked"][0]


@pytest.mark.parametrize("edit, why", [
    (lambda e: e["device"].update(platform="android"), "platform 'android' is not a computer's"),
    (lambda e: e["device"].update(platform="ios"), "platform 'ios' is not a computer's"),
    (lambda e: e["device"].update(platform=None), "platform 'None' is not a computer's"),
    (lambda e: e["device"].update(platform="Windows\x1b[2J"), "is not a computer's"),
    (lambda e: e.update(rows="812"), "rows is a string"),
    (lambda e: e.update(rows=-1), "rows is a number"),
    (lambda e: e.pop("why"), "why is null"),
    (lambda e: e.update(why=""), "why is a string"),
    (lambda e: e.update(device="LT-0042"), "'device' is a string"),
    (lambda e: e["device"].update(identity={"serial": "x"}), "identity is an object"),
])
def test_a_device_not_checked_that_cannot_be_shown_to_be_a_computer_is_a_failed_device(tmp_path, matcher,
                                                                                       edit, why):
    doc = saved(matcher)
    edit(_entry(doc))
    again = rematch(tmp_path, matcher, doc, accept_scopes=("mdm",), max_age=30)
    assert again.not_checked == ()
    (bad,) = [r for r in again.results if "not-checked device #1" in (r.message or "")]
    assert bad.status == "failed" and bad.reason == "bad-records" and why in bad.problems[0]
    assert "edited or damaged" in bad.message and "scan again" in bad.message
    assert not again.complete


def test_a_phone_moved_into_not_checked_is_still_searched_for_prohibited_ids(tmp_path, matcher):
    doc = saved(matcher)
    _entry(doc)["device"]["platform"] = "android"
    _entry(doc)["why"] = "com.acme.chat"
    again = rematch(tmp_path, matcher, doc)
    bad = next(r for r in again.results if "not-checked device #1" in (r.message or ""))
    assert [(f.app.id, f.match) for f in bad.findings] == [("com.acme.chat", "recovered")]


@pytest.mark.parametrize("value", [{"device": {}}, "none", 3])
def test_a_list_of_devices_not_checked_that_is_not_a_list_is_a_failed_result(tmp_path, matcher, value):
    doc = saved(matcher)
    doc["not_checked"] = value
    doc["summary"]["not_checked"] = 0
    again = rematch(tmp_path, matcher, doc)
    assert again.not_checked == () and not again.complete
    assert any(r.reason == "bad-records" and "not a list" in r.message for r in again.results)


def test_a_summary_that_miscounts_the_devices_not_checked_distrusts_every_complete_device(tmp_path, matcher):
    doc = saved(matcher)
    doc["not_checked"] = []  # a computer taken out, and the summary left as it was
    invs = reread(tmp_path, doc)
    kiosk = next(i for i in invs if i.device.serial == "Jamf id 7")
    assert kiosk.status == "partial" and "1 devices not checked where its devices say 0" in kiosk.message


@pytest.mark.parametrize("key, value", [("accepted_scopes", "mdm"), ("accepted_scopes", [1]), ("max_age", "30"),
                                        ("max_age", -1), ("max_age", True)])
def test_unreadable_options_of_the_saved_scan_distrust_it(tmp_path, matcher, key, value):
    doc = saved(matcher)
    doc[key] = value
    kiosk = next(i for i in reread(tmp_path, doc) if i.device.serial == "Jamf id 7")
    assert kiosk.status == "partial" and kiosk.reason == "bad-records" and key in kiosk.message


JSON = st.recursive(st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=6),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                 max_size=3), max_leaves=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(not_checked_value=JSON, identity=JSON, inventoried=JSON)
def test_arbitrary_values_never_raise_and_never_pass_a_phone_as_not_checked(tmp_path, matcher, not_checked_value,
                                                                           identity, inventoried):
    doc = copy.deepcopy(SAVED_CACHE.setdefault("doc", saved(matcher)))
    doc["not_checked"] = not_checked_value
    doc["summary"]["not_checked"] = len(not_checked_value) if isinstance(not_checked_value, list) else 0
    kiosk = _complete(doc)
    kiosk["device"]["identity"], kiosk["device"]["inventoried"] = identity, inventoried
    invs = reread(tmp_path, doc)
    for inv in invs:
        if inv.reason == NOT_CHECKED:
            assert inv.device.platform not in ("android", "ios", None) and inv.apps == ()
    good_identity = identity is None or identity == [] or (
        isinstance(identity, list) and all(isinstance(i, dict) and set(i) >= {"kind", "value"} for i in identity))
    read = next(i for i in invs if i.device.serial == "Jamf id 7")
    if not good_identity:
        assert read.status != "complete"
    if inventoried is not None and not isinstance(inventoried, str):
        assert read.status != "complete"
    if isinstance(not_checked_value, list):
        assert sum(i.reason == NOT_CHECKED or "not-checked device" in (i.message or "") for i in invs) \
            == len(not_checked_value)


SAVED_CACHE: dict[str, dict[str, Any]] = {}
