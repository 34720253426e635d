"""The Apple MDM reader: an InstalledApplicationList answer saved as an XML or binary plist, and the
NanoMDM / MicroMDM webhook JSON that carries it base64-encoded, read as Apple documents it, never a
false "clean".

The samples in tests/data/inputs (apple-mdm-*) are built from the documented shapes (Apple's
application.installed.list schema, the MicroMDM webhook Event): the answer never says whether the
command was limited (ManagedAppsOnly, Identifiers) or the device is a User Enrollment, so a device is
partial with reason mdm-scope; an answer with an error is failed with what to do; XML with entities
or a DTD of its own is refused whole and still searched; a cut plist is never read.
"""

from __future__ import annotations

import base64
import io
import json
import plistlib
import re
from datetime import UTC, datetime
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
from scanner.model import MDM_SCOPE, DeviceResult, Inventory, Report

DATA = Path(__file__).parents[2] / "data" / "inputs"
XML = DATA / "apple-mdm-installed-apps.plist"
BINARY = DATA / "apple-mdm-installed-apps.bplist"
WEBHOOK = DATA / "apple-mdm-webhook.json"
UDID = "00008110-000A1B2C3D4E5F60"
SAMPLE_IDS = ["com.zhiliaoapp.musically", "com.tencent.xin", "com.microsoft.Office.Outlook"]


def read(data: bytes, name: str = "answer.plist") -> list[Inventory]:
    return list(read_input(name, io.BytesIO(data)))


@cache
def matcher() -> Matcher:
    return Matcher(scanner.load_signatures(), None)


def audited(data: bytes, name: str = "answer.plist") -> list[DeviceResult]:
    return list(run([FileConnector(name, io.BytesIO(data))], matcher(), inventory=True, inputs=(name,)).results)


def found(results: list[DeviceResult]) -> set[tuple[str, str]]:
    return {(f.app.id, f.match) for r in results for f in r.findings}


def answer(*apps: Any, **fields: Any) -> dict[str, Any]:
    return {"CommandUUID": "5E1C0F3A-8D2B-4C61-9A7E-2F4B6D8C1E03", "InstalledApplicationList": list(apps),
            "Status": "Acknowledged", "UDID": UDID, **fields}


def app(identifier: Any, **fields: Any) -> dict[str, Any]:
    return {"Identifier": identifier, "Name": "App", "ShortVersion": "1.0", "Version": "100", **fields}


def event(payload: bytes | str, **fields: Any) -> dict[str, Any]:
    raw = payload if isinstance(payload, str) else base64.b64encode(payload).decode()
    return {"topic": "mdm.Connect", "event_id": "e1", "created_at": "2026-03-02T09:14:07Z",
            "acknowledge_event": {"udid": UDID, "status": "Acknowledged", "command_uuid": "c1",
                                  "raw_payload": raw, **fields}}


# --- the documented shapes --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [XML, BINARY, WEBHOOK])
def test_the_samples_read_every_app_and_say_what_the_mdm_cannot_see(path):
    [inv] = list(read_input(str(path)))
    assert inv.device.serial == UDID and inv.device.platform == "ios"
    assert [(a.id, a.name, a.version, a.build) for a in inv.apps] == [
        ("com.zhiliaoapp.musically", "TikTok", "38.1.0", "380100"), ("com.tencent.xin", "微信", "8.0.50", "8.0.50.34"),
        ("com.microsoft.Office.Outlook", "Outlook", "4.2431.0", "4.2431.0")]
    assert inv.status == "partial" and inv.reason == "mdm-scope" and inv.problem_count == 0
    assert "ManagedAppsOnly" in inv.message and "Identifiers" in inv.message and "scan the iPhone" in inv.message
    assert next(s for s in inv.coverage if not s.read).name == MDM_SCOPE


@pytest.mark.parametrize("path", [XML, BINARY, WEBHOOK])
def test_a_prohibited_app_in_an_answer_is_found_by_its_bundle_id(path):
    results = audited(path.read_bytes(), path.name)
    assert ("com.zhiliaoapp.musically", "exact") in found(results) and results[0].status == "partial"


def test_the_registry_names_the_format():
    assert "apple-mdm" in [r.name for r in READERS]
    assert "InstalledApplicationList" in ACCEPTED_FORMATS and "Apple MDM" in INPUT_HELP


def test_a_user_enrollment_names_its_blind_spot():
    doc = answer(app("com.tencent.xin"), EnrollmentID="ENR-4F2A", UDID=None)
    del doc["UDID"]
    [inv] = read(plistlib.dumps(doc))
    assert inv.device.serial == "ENR-4F2A" and inv.reason == "mdm-scope" and inv.status == "partial"
    assert "User Enrollment" in inv.message and "App Store" in inv.message


def test_an_empty_list_is_never_clean():
    [inv] = read(plistlib.dumps(answer()))
    assert inv.status == "failed" and inv.reason == "empty" and "ManagedAppsOnly" in inv.message


@pytest.mark.parametrize(("status", "reason", "said"), [
    ("Error", "mdm-error", "The operation couldn't be completed"),
    ("CommandFormatError", "mdm-error", "could not parse"),
    ("NotNow", "mdm-not-now", "NotNow"),
    ("Idle", "no-inventory", "Idle"),
])
def test_an_answer_without_a_list_is_failed_with_what_to_do(status, reason, said):
    doc = {"CommandUUID": "c1", "Status": status, "UDID": UDID}
    if status == "Error":
        doc["ErrorChain"] = [{"ErrorCode": 12021, "ErrorDomain": "MCMDMErrorDomain",
                              "LocalizedDescription": "The operation couldn't be completed",
                              "USEnglishDescription": "The operation couldn't be completed"}]
    for data in (plistlib.dumps(doc), json.dumps(event(plistlib.dumps(doc), status=status)).encode()):
        [inv] = read(data)
        assert inv.status == "failed" and inv.reason == reason and said in inv.message, inv.message
        assert inv.device.serial == UDID and not inv.apps


def test_the_answer_to_another_command_is_no_inventory_and_is_searched():
    [inv] = read(plistlib.dumps({"Status": "Acknowledged", "UDID": UDID, "ProfileList": ["com.tencent.xin"]}))
    assert inv.status == "failed" and inv.reason == "no-inventory" and "com.tencent.xin" in inv.residue


# --- the webhook: variants ---------------------------------------------------------------------------------


def test_a_json_array_of_events_skips_check_ins_and_keeps_errors_only_for_devices_not_listed():
    listing = plistlib.dumps(answer(app("com.tencent.xin")), fmt=plistlib.FMT_BINARY)
    other = {"topic": "mdm.Authenticate", "checkin_event": {"udid": UDID, "raw_payload": "AAAA"}}
    not_now = event(plistlib.dumps({"Status": "NotNow", "UDID": "B2"}), udid="B2", status="NotNow")
    late = event(plistlib.dumps({"Status": "NotNow", "UDID": UDID}), status="NotNow")
    invs = read(json.dumps([other, event(listing), late, not_now]).encode(), "events.json")
    assert [(i.device.serial, i.status, i.reason) for i in invs] == [
        (UDID, "partial", "mdm-scope"), ("B2", "failed", "mdm-not-now")]


def test_nanomdm_enrollment_id_and_a_plist_saved_as_text_are_read():
    doc = answer(app("com.tencent.xin"))
    del doc["UDID"]
    ev = event(plistlib.dumps(doc).decode(), udid=None, enrollment_id="ENR-1")
    [inv] = read(json.dumps(ev).encode(), "hook.json")
    assert inv.device.serial == "ENR-1" and [a.id for a in inv.apps] == ["com.tencent.xin"]


def test_events_with_no_app_list_are_no_inventory():
    other = {"topic": "mdm.TokenUpdate", "acknowledge_event": {"udid": UDID, "status": "Acknowledged",
                                                                "raw_payload": base64.b64encode(
                                                                    plistlib.dumps({"Status": "Acknowledged"})).decode()}}
    [inv] = read(json.dumps([other]).encode(), "hook.json")
    assert inv.status == "failed" and inv.reason == "no-inventory"


@pytest.mark.parametrize(("raw", "why"), [("not base64 !!", "not base64"), ("", "no raw_payload")])
def test_a_payload_that_cannot_be_read_is_a_bad_record(raw, why):
    [inv] = read(json.dumps(event(raw)).encode(), "hook.json")
    assert inv.status == "failed" and inv.reason == "bad-records" and why in inv.message
    assert inv.device.serial == UDID


def test_a_webhook_and_its_answer_naming_two_devices_is_never_complete():
    [inv] = read(json.dumps(event(plistlib.dumps(answer(app("com.a.b")))), ).replace(UDID, "X", 1).encode())
    assert inv.status == "partial" and inv.reason == "bad-records"


# --- the MDM contract: its scope, who a device is, no date ------------------------------------------------

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def report_of(data: bytes, name: str = "answer.plist", **options: Any) -> Report:
    return run([FileConnector(name, io.BytesIO(data))], matcher(), now=NOW, **options)


@pytest.mark.parametrize("path", [XML, BINARY, WEBHOOK])
def test_the_samples_name_the_device_by_its_udid_and_only_the_webhook_gives_a_date(path):
    [inv] = list(read_input(str(path)))
    assert inv.device.identity == (("udid", UDID),)  # the webhook's udid is the answer's: listed once
    assert inv.device.inventoried == (datetime(2026, 3, 2, 9, 14, 7, 123000, tzinfo=UTC) if path == WEBHOOK
                                      else None)
    assert [s for s in inv.coverage if s.name == MDM_SCOPE] == [
        next(s for s in inv.coverage if s.name == MDM_SCOPE and not s.read)]


@pytest.mark.parametrize("path", [XML, BINARY])
def test_a_saved_answer_has_no_date_so_max_age_makes_it_age_unknown(path):
    (result,) = report_of(path.read_bytes(), max_age=3650).results
    assert result.status == "partial" and result.reason == "age-unknown"
    assert any("gives no inventory date" in (s.reason or "") for s in result.coverage)
    (result,) = report_of(path.read_bytes(), max_age=3650, accept_scopes=("mdm",)).results
    assert result.status == "partial"  # accepting the MDM's view does not vouch for an age nobody gave


@pytest.mark.parametrize(("created", "reason"), [
    ("2026-11-30T08:00:00Z", "mdm-scope"),  # two days before NOW: within --max-age 7
    ("2026-03-02T09:14:07Z", "stale"),
    ("2026-11-30 08:00:00", "mdm-scope"),  # naive: UTC
    ("yesterday", "age-unknown"), (None, "age-unknown"), (1764662400, "age-unknown"),
    ("2999-01-01T00:00:00Z", "age-unknown"),  # ahead of the clock: it would dodge --max-age, so not used
])
def test_the_webhook_created_at_is_the_inventory_date_when_it_can_be_trusted(created, reason):
    doc = event(plistlib.dumps(answer(app("com.a.b"))))
    doc["created_at"] = created
    (result,) = report_of(json.dumps(doc).encode(), "h.json", max_age=7).results
    assert result.status == "partial" and result.reason == reason


def test_identity_of_a_user_enrollment_and_of_a_webhook_whose_device_ids_disagree():
    doc = answer(app("com.tencent.xin"), EnrollmentID="ENR-4F2A")
    del doc["UDID"]
    [inv] = read(plistlib.dumps(doc))
    assert inv.device.identity == (("enrollment id", "ENR-4F2A"),)
    [inv] = read(json.dumps(event(plistlib.dumps(doc), udid=None, enrollment_id="ENR-4F2A")).encode(), "h.json")
    assert inv.device.identity == (("enrollment id", "ENR-4F2A"),) and inv.reason == "mdm-scope"
    [inv] = read(json.dumps(event(plistlib.dumps(answer(app("com.a.b"))), udid="OTHER")).encode(), "h.json")
    assert inv.device.identity == (("udid", UDID), ("udid", "OTHER")) and inv.reason == "bad-records"
    # Only text: a UDID that is no string is a problem, and not part of the identity.
    [inv] = read(plistlib.dumps(answer(app("com.a.b"), UDID=7)), "a.plist")
    assert inv.device.identity == () and inv.reason == "bad-records"


def test_an_answer_with_no_list_keeps_the_devices_identity():
    not_now = event(plistlib.dumps({"Status": "NotNow", "UDID": "B2"}), udid="B2", status="NotNow")
    [inv] = read(json.dumps(not_now).encode(), "h.json")
    assert inv.reason == "mdm-not-now" and inv.device.identity == (("udid", "B2"),)
    [inv] = read(json.dumps(event("not base64 !!", udid=None, enrollment_id="ENR-9")).encode(), "h.json")
    assert inv.reason == "bad-records" and inv.device.identity == (("enrollment id", "ENR-9"),)


@pytest.mark.parametrize("path", [XML, BINARY, WEBHOOK])
def test_accept_scope_mdm_makes_an_answer_whose_only_blind_spot_is_the_mdms_complete(path):
    plain = report_of(path.read_bytes(), path.name)
    assert plain.results[0].status == "partial" and plain.exit_code == 5
    report = report_of(path.read_bytes(), path.name, accept_scopes=("mdm",))
    [result] = report.results
    assert result.status == "complete" and result.reason is None and result.message is None
    [scope] = [s for s in result.coverage if s.name == MDM_SCOPE]
    assert scope.read and scope.reason.startswith("accepted with --accept-scope mdm: an InstalledApplicationList "
                                                  "answer does not say how the command was asked")
    assert ("com.zhiliaoapp.musically", "exact") in found(list(report.results))
    assert report.exit_code == 1 and report.accepted_scopes == ("mdm",)  # findings, every device fully read


def test_accepting_the_mdm_view_never_completes_a_bad_record_or_an_answer_without_a_list():
    damaged = plistlib.dumps(answer(app("com.apple.Pages"), app("com.tencent.xin\u202e")))
    [result] = report_of(damaged, accept_scopes=("mdm",)).results
    assert result.status == "partial" and result.reason == "bad-records"
    assert ("com.tencent.xin", "recovered") in found([result])
    not_now = plistlib.dumps({"Status": "NotNow", "UDID": UDID})
    [result] = report_of(not_now, accept_scopes=("mdm",)).results
    assert result.status == "failed" and result.reason == "mdm-not-now"
    doc = answer(app("com.tencent.xin"), EnrollmentID="ENR-4F2A")  # a User Enrollment: its blind spot accepted
    del doc["UDID"]
    [result] = report_of(plistlib.dumps(doc), accept_scopes=("mdm",)).results
    assert result.status == "complete"


def test_max_age_finds_the_age_of_an_answer_unknown():
    report = report_of(XML.read_bytes(), accept_scopes=("mdm",), max_age=30)
    [result] = report.results
    assert result.status == "partial" and result.reason == "age-unknown" and report.exit_code == 5
    assert "gives no date for its inventory" in result.message


# --- hostile and broken ------------------------------------------------------------------------------------

_BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE plist [<!ENTITY a "com.tencent.xin "><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<plist version="1.0"><dict><key>InstalledApplicationList</key><array><dict><key>Identifier</key>
<string>&b;</string></dict><dict><key>Identifier</key><string>com.tencent.xin</string></dict></array><key>Status</key><string>Acknowledged</string></dict></plist>
"""
_EXTERNAL = _BOMB.replace(b'<!ENTITY a "com.tencent.xin ">', b'<!ENTITY a SYSTEM "file:///etc/passwd">')
_OWN_DTD = b'<?xml version="1.0"?>\n<!DOCTYPE plist SYSTEM "http://127.0.0.1:9/x.dtd">\n' + _BOMB.split(b"]>\n", 1)[1]
_UNDECLARED = XML.read_bytes().replace(b"<string>TikTok</string>", b"<string>&tiktok;</string>")


@pytest.mark.parametrize(("data", "said"), [
    (_BOMB, "declares XML entities"), (_EXTERNAL, "declares XML entities"),
    (_OWN_DTD, "DOCTYPE other than Apple's"), (_UNDECLARED, "entity reference '&tiktok;'"),
])
def test_xml_with_entities_or_a_dtd_of_its_own_is_refused_and_still_searched(data, said):
    [inv] = read(data)
    assert inv.status == "failed" and inv.reason == "unsafe-xml" and said in inv.message, inv.message
    assert "none of it was read" in inv.message and "com.tencent.xin" in inv.residue
    [inv] = read(json.dumps(event(data)).encode(), "hook.json")  # the same inside a webhook
    assert inv.reason == "unsafe-xml" and inv.device.serial == UDID


@pytest.mark.parametrize("path", [XML, BINARY])
@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_a_cut_plist_is_never_read(path, keep):
    data = path.read_bytes()
    [inv] = read(data[: int(len(data) * keep)])
    assert inv.status == "failed" and inv.reason in ("truncated", "bad-plist") and not inv.apps
    assert "cut short" in inv.message
    if keep > 0.5:
        assert "com.zhiliaoapp.musically" in inv.residue


@pytest.mark.parametrize("identifier", [
    "com.tencent.xin\x00", "com.tencent.xin\u202e", "\x1bcom.tencent.xin", "com.tencent.xin x", "a" * 300, 42, None,
])
def test_a_hostile_identifier_is_a_bad_record_whose_text_is_searched(identifier):
    record = app(identifier)
    if identifier is None:
        record = {"Name": "com.tencent.xin", "ShortVersion": "1.0"}
    for fmt in (plistlib.FMT_XML, plistlib.FMT_BINARY):
        if fmt is plistlib.FMT_XML and isinstance(identifier, str) and ("\x00" in identifier or "\x1b" in identifier):
            continue  # XML 1.0 cannot carry these characters at all
        [inv] = read(plistlib.dumps(answer(app("com.apple.Pages"), record), fmt=fmt))
        assert inv.status == "partial" and inv.reason == "bad-records" and [a.id for a in inv.apps] == [
            "com.apple.Pages"]
        assert inv.problems[0].startswith("app #2:")
        if isinstance(identifier, str) and len(identifier) < 100 or identifier is None:
            assert "com.tencent.xin" in inv.residue


def test_hostile_display_names_are_kept_as_read_for_the_formats_to_escape():
    name = "\u202etxt.exe\x1b[31m微信"
    [inv] = read(plistlib.dumps(answer(app("com.tencent.xin", Name=name)), fmt=plistlib.FMT_BINARY))
    assert inv.apps[0].name == name and inv.reason == "mdm-scope"


def test_a_key_given_twice_is_a_bad_record():
    xml = XML.read_bytes().replace(b"<key>Name</key>\n\t\t\t<string>TikTok</string>",
                                   b"<key>Identifier</key><string>com.ss.iphone.ugc.Ame</string>")
    [inv] = read(xml)
    assert inv.status == "partial" and inv.reason == "bad-records" and "com.zhiliaoapp.musically" in inv.residue
    doubled = XML.read_bytes().replace(b"<key>Status</key>", b"<key>InstalledApplicationList</key><array/>"
                                       b"<key>Status</key>")
    [inv] = read(doubled)
    assert inv.status == "failed" and "more than once" in inv.problems[0] and "com.tencent.xin" in inv.residue


def test_a_binary_plist_that_refers_to_itself_is_read_without_looping():
    # A dict whose app list holds the dict itself: object 0 is the top dict, its array (object 2) refers
    # back to object 0. Written by hand, since plistlib will not write a cycle.
    top = b"\xd1\x01\x02"  # a dict of one key (object 1) and one value (object 2)
    key = b"\x5f\x10\x18" + b"InstalledApplicationList"
    array = b"\xa1\x00"  # an array of one element: object 0
    body = b"bplist00" + top + key + array
    offsets = [8, 8 + len(top), 8 + len(top) + len(key)]
    table = bytes(offsets)
    trailer = b"\x00" * 6 + b"\x01\x01" + (3).to_bytes(8, "big") + (0).to_bytes(8, "big") + len(body).to_bytes(8, "big")
    [inv] = read(body + table + trailer)
    assert inv.status in ("partial", "failed") and inv.problem_count >= 1


def test_a_binary_first_line_that_is_no_plist_is_still_not_text():
    [inv] = read(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    assert inv.reason == "not-text"


# --- a property ---------------------------------------------------------------------------------------------

PROPERTY = settings(max_examples=150, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
_IDS = st.sampled_from(["com.tencent.xin", "com.zhiliaoapp.musically", "com.apple.Pages", "com.a.b"])


@st.composite
def _mutated(draw: st.DrawFn) -> tuple[bytes, bytes]:
    apps = [app(i) for i in draw(st.lists(_IDS, min_size=1, max_size=4, unique=True))]
    fmt = draw(st.sampled_from([plistlib.FMT_XML, plistlib.FMT_BINARY, "webhook"]))
    plist = plistlib.dumps(answer(*apps), fmt=plistlib.FMT_BINARY if fmt == plistlib.FMT_BINARY else plistlib.FMT_XML)
    original = json.dumps(event(plist)).encode() if fmt == "webhook" else plist
    data = bytearray(original)
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        op = draw(st.sampled_from(["truncate", "flip", "insert", "delete"]))
        at = draw(st.integers(min_value=0, max_value=max(len(data) - 1, 0)))
        if op == "truncate":
            del data[at:]
        elif op == "flip" and data:
            data[at] ^= draw(st.integers(min_value=1, max_value=255))
        elif op == "insert":
            data[at:at] = draw(st.sampled_from([b"\x00", b"\x1b", "\u202e".encode(), b"<", b"&", b"\n", b"\xff"]))
        elif data:
            del data[at:at + draw(st.integers(min_value=1, max_value=40))]
    return original, bytes(data)


@PROPERTY
@given(_mutated())
def test_mutated_answers_never_raise_and_are_never_complete(case):
    """Nothing raises (no internal error); no device read from an MDM answer is complete; an unchanged
    answer reads every app; a prohibited id still whole in the text of a refused input is found."""
    original, data = case
    results = audited(data)
    assert not [r for r in results if r.reason == "error"]
    assert all(r.status != "complete" for r in results)
    if data == original:
        assert results[0].status == "partial" and results[0].reason == "mdm-scope"
    elif all(r.status == "failed" and r.reason in ("truncated", "bad-plist", "unsafe-xml", "not-text", "bad-json")
             for r in results) and b"\\" not in data:
        ids_found = {f.identifier for r in results for f in r.findings} | {f.app.id for r in results for f in r.findings}
        for token in set(re.findall(rb"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*", data)):
            if token in (b"com.tencent.xin", b"com.zhiliaoapp.musically") and not original.startswith(b"{"):
                assert token.decode() in ids_found, token


@PROPERTY
@given(_mutated())
def test_accepting_the_mdm_view_only_completes_what_the_mdm_alone_kept_partial(case):
    """With --accept-scope mdm, a device is complete only when, without it, it was partial for the MDM's blind
    spot alone (no problem counted); every other device keeps its status."""
    _, data = case
    plain = report_of(data).results
    accepted = report_of(data, accept_scopes=("mdm",)).results
    assert not [r for r in plain + accepted if r.reason == "error"]
    for before, after in zip(plain, accepted, strict=True):
        assert before.device == after.device
        if before.reason == "mdm-scope" and before.problem_count == 0:
            assert after.status == "complete", (before, after)
        else:
            assert (after.status, after.reason) == (before.status, before.reason), (before, after)
