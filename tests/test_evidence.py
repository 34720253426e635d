"""Evidence is never dropped: text that cannot be parsed is still searched for
whole catalog ids, and what is found there is a `recovered` finding on a
device that is never complete.

The reader-specific cases (joined lines, curly quotes, narrow consoles) are in
tests/connectors/files/test_damaged_lines.py and test_fleet_csv.py; this file covers
the shared mechanism: the tokens, the matcher's rule, the audit, the whole-file
search of inputs of unknown format, and how the reports show it.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner import scan
from scanner.audit import run
from scanner.connectors.records import Problems, id_tokens
from scanner.matcher import Matcher
from scanner.model import EXIT_FINDINGS_INCOMPLETE, EXIT_INCOMPLETE, App, DeviceInfo, Inventory, Scope
from scanner.signatures import load_signatures

SCHEMA = Path(__file__).parent.parent / "docs" / "report-schema.json"


@pytest.fixture(scope="module")
def sigs():
    return load_signatures()


@pytest.fixture(scope="module")
def matcher(sigs):
    return Matcher(sigs, ["all"])


# --- the tokens ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "tokens"), [
    ("foo package:com.tencent.mm bar", ["com.tencent.mm"]),
    ("com.tencent.mm-y==/base.apk", ["com.tencent.mm-y", "base.apk"]),  # never a part of a longer id
    ("“com.alipay.iphoneclient”, 1", ["com.alipay.iphoneclient"]),  # curly quotes delimit
    ("see com.tencent.xin.", ["com.tencent.xin"]),  # a sentence's full stop is not part of the id
    ("a..com.tencent.mm", ["com.tencent.mm"]),  # two dots are no part of an id
    ("com.tencent.mm\x00\x00\x00", ["com.tencent.mm"]),
    ("plain words only", []),
    ("x" * 300 + ".y", []),  # longer than any id
])
def test_id_tokens_are_whole_words_with_a_dot(text, tokens):
    assert list(id_tokens(text)) == tokens


def test_id_tokens_of_bytes_that_are_not_utf8():
    assert list(id_tokens(b"\xff\xfecom.tencent.mm\x80com.lenovo.anyshare.gps")) == [
        "com.tencent.mm", "com.lenovo.anyshare.gps"]


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.text(max_size=200))
def test_every_token_is_an_id_that_is_really_in_the_text(text):
    for token in id_tokens(text):
        assert "." in token and token in text
        start = text.index(token)
        before = text[start - 1] if start else " "
        assert not (before.isascii() and (before.isalnum() or before in "_-"))


def test_problems_keep_evidence_only_when_given_and_once():
    problems = Problems()
    problems.add("line 1: bad", evidence="com.tencent.mm com.tencent.mm")
    problems.add("line 2: bad")
    problems.add("line 3: bad", evidence=b"com.tencent.xin")
    assert list(problems.evidence) == ["com.tencent.mm", "com.tencent.xin"] and problems.count == 3


# --- the matcher ---------------------------------------------------------------------------------


def test_recover_matches_whole_ids_as_the_matcher_does(matcher):
    found = matcher.recover(["COM.TENCENT.MM", "com.tencent.mmx", "com.tencent", "com.tencent.xin.share"], None)
    pairs = {(f.app.platform, f.app.id, f.identifier, f.match) for f in found}
    assert ("android", "COM.TENCENT.MM", "com.tencent.mm", "recovered") in pairs
    # an iOS app extension is recognised the way the matcher recognises it
    assert ("ios", "com.tencent.xin.share", "com.tencent.xin", "recovered") in pairs
    assert not any(f.app.id in ("com.tencent.mmx", "com.tencent") for f in found)
    assert all(f.matched_by == "recovered" for f in found)


def test_recover_uses_the_device_platform_when_asked(matcher):
    assert matcher.recover(["com.tencent.mm"], "ios") == []
    assert {f.app.platform for f in matcher.recover(["com.tencent.mm"], "android")} == {"android"}


def test_an_android_listing_pasted_under_an_ios_header_is_still_searched(tmp_path):
    # The audit searches the unreadable text for both platforms' ids: the text may come from another format.
    report = scan_bytes(tmp_path, "mixed.csv",
                        b"CFBundleIdentifier, CFBundleShortVersionString, CFBundleDisplayName\n"
                        b"\"com.apple.mobilesafari\", \"17.5\", \"Safari\"\n"
                        b"package:/data/app/~~x==/com.tencent.mm-y==/base.apk=com.tencent.mm\n")
    assert ("android", "com.tencent.mm", "recovered") in findings_of(report)
    assert report.exit_code == EXIT_FINDINGS_INCOMPLETE


def test_recover_skips_ids_that_were_read_as_apps(matcher):
    assert matcher.recover(["com.tencent.mm"], "android", {("android", "com.tencent.mm")}) == []


# --- the audit -----------------------------------------------------------------------------------


class Fixed:
    name = "fixed"

    def __init__(self, *inventories: Inventory) -> None:
        self._inventories = inventories

    def inventories(self):
        yield from self._inventories


def test_a_device_with_a_recovered_finding_is_never_complete(sigs, matcher):
    # A reader that kept evidence but still said complete: the audit does not believe it.
    inv = Inventory(DeviceInfo("android", "A1", source="f"), (App("android", "com.google.android.gm"),),
                    (Scope("records", True, apps=1),), residue=("com.tencent.mm",))
    report = run([Fixed(inv)], matcher)
    (result,) = report.results
    assert result.status == "partial" and {(f.match, f.app.id) for f in result.findings} == {("recovered", "com.tencent.mm")}
    assert len(result.findings) == len(matcher.match([App("android", "com.tencent.mm")]))  # one per rule that lists it
    assert report.exit_code == EXIT_FINDINGS_INCOMPLETE


def test_residue_without_a_catalog_id_changes_nothing(sigs, matcher):
    inv = Inventory(DeviceInfo("android", "A1", source="f"), (App("android", "com.google.android.gm"),),
                    (Scope("records", True, apps=1), Scope("records", False, reason="1 lines could not be read")),
                    status="partial", reason="bad-lines", residue=("com.example.app",))
    (result,) = run([Fixed(inv)], matcher).results
    assert result.findings == () and result.status == "partial"


# --- inputs that cannot be read as a list are searched whole ------------------------------------


def findings_of(report):
    return [(f.app.platform, f.app.id, f.match) for r in report.results for f in r.findings]


def scan_bytes(tmp_path: Path, name: str, data: bytes, **kwargs):
    """The report of one input file holding exactly `data`."""
    path = tmp_path / name
    path.write_bytes(data)
    return scan([str(path)], **kwargs)


@pytest.mark.parametrize(("name", "data", "reason", "expected"), [
    ("notes.txt", b"hello\nthe phone has com.tencent.mm and com.tencent.mmx\n", "unknown-format",
     [("android", "com.tencent.mm", "recovered")]),
    ("utf16.txt", "\ufeffpackage:com.tencent.mm\r\n".encode("utf-16-le"), "not-text",
     [("android", "com.tencent.mm", "recovered")]),
    ("cut.json", b'{"com.tencent.xin": {"CFBundleIdentifier": "com.tencent.xin"', "bad-json",
     [("ios", "com.tencent.xin", "recovered")]),
    ("other.json", b'[{"bundle": "com.alipay.iphoneclient"}]\n', "unknown-format",
     [("ios", "com.alipay.iphoneclient", "recovered")]),
    ("crash.txt", b"Error: device offline com.intsig.camscanner\n", "tool-error",
     [("android", "com.intsig.camscanner", "recovered")]),
])
def test_an_input_of_unknown_format_is_still_searched(tmp_path, name, data, reason, expected):
    path = tmp_path / name
    path.write_bytes(data)
    report = scan([str(path)], policies=["us-eo-13971"])
    (result,) = report.results
    assert result.status == "failed" and result.reason == reason
    assert sorted(set(findings_of(report))) == expected
    assert report.exit_code == EXIT_FINDINGS_INCOMPLETE


def test_a_binary_file_is_searched_to_its_end_in_chunks(tmp_path):
    import random

    rng = random.Random(7)
    blob = bytes(rng.getrandbits(8) for _ in range(3_000_000))
    path = tmp_path / "dump.bin"
    # the id sits across the 1 MiB chunk boundary the search reads in
    path.write_bytes(blob[: (1 << 20) - 8] + b"\ncom.intsig.camscanner\n" + blob[:1000])
    report = scan([str(path)], policies=["us-eo-13971"])
    assert ("android", "com.intsig.camscanner", "recovered") in findings_of(report)


def test_a_file_without_an_id_is_failed_without_findings(tmp_path):
    report = scan_bytes(tmp_path, "notes.txt", b"nothing to see here\n")
    assert findings_of(report) == [] and report.exit_code == EXIT_INCOMPLETE


def test_a_saved_report_device_that_failed_is_not_charged_with_other_devices_ids(tmp_path):
    # The whole-file search is for inputs that cannot be read at all, never for one failed device of a
    # report whose other devices hold prohibited apps.
    pm = tmp_path / "a.txt"
    pm.write_bytes(b"package:com.tencent.mm\npackage:com.google.android.gm\n")
    bad = tmp_path / "b.txt"
    bad.write_bytes(b"")
    from scanner.formats.json_report import write_json

    out = io.StringIO()
    write_json(scan([str(pm), str(bad)], inventory=True), out)
    saved = tmp_path / "saved.json"
    saved.write_text(out.getvalue())
    report = scan([str(saved)])
    by_source = {r.device.source: r for r in report.results}
    failed = [r for r in by_source.values() if r.status == "failed"]
    assert failed and all(r.findings == () for r in failed)


def test_a_damaged_pymobiledevice3_record_is_searched(tmp_path):
    path = tmp_path / "apps.json"
    path.write_text(json.dumps({
        "com.tencent.xin": {"CFBundleIdentifier": "com.tencent.xin", "Entitlements": 5},
        "com.apple.mobilesafari": {"CFBundleIdentifier": "com.apple.mobilesafari"},
    }))
    report = scan([str(path)])
    (result,) = report.results
    assert result.status == "partial" and [f.match for f in result.findings] == ["recovered"]


# --- how the reports show a recovered finding ----------------------------------------------------


@pytest.fixture()
def recovered_report(tmp_path):
    path = tmp_path / "pm.txt"
    path.write_bytes(b"package:com.google.android.gm\nfoo package:com.tencent.mm bar\n")
    return scan([str(path)])


def test_json_says_matched_by_recovered_and_validates(recovered_report):
    from jsonschema import validate

    from scanner.formats.json_report import write_json

    out = io.StringIO()
    write_json(recovered_report, out)
    doc = json.loads(out.getvalue())
    validate(doc, json.loads(SCHEMA.read_text()))
    (finding,) = doc["devices"][0]["findings"]
    assert finding["match"] == "recovered" and finding["matched_by"] == "recovered"
    assert "could not be read" in finding["explanation"] and doc["exit_code"] == EXIT_FINDINGS_INCOMPLETE


def test_table_and_sarif_say_the_finding_was_recovered(recovered_report):
    from scanner.formats.sarif import write_sarif
    from scanner.formats.table import write_table

    table = io.StringIO()
    write_table(recovered_report, table)
    assert "recovered" in table.getvalue() and "com.tencent.mm" in table.getvalue()
    sarif = io.StringIO()
    write_sarif(recovered_report, sarif)
    (result,) = json.loads(sarif.getvalue())["runs"][0]["results"]
    assert result["properties"]["match"] == "recovered" and "could not be read" in result["message"]["text"]


# --- live devices: a line the phone printed that cannot be read is searched too ----------------


def test_a_phone_line_that_cannot_be_read_is_searched_through_the_real_adb_server(sigs, matcher):
    from scanner.connectors.android.connector import AndroidConnector
    from scanner.simulator.android import AndroidSimulator
    from scanner.simulator.profile import AppProfile, DeviceProfile, filler_apps

    system = AppProfile("android", system=True, users=(0,), uid=1000)
    # An app id with a line break makes the phone print a line of its own: two -f lines run together, WeChat's
    # id glued to the next "package:".
    odd = AppProfile("org.example.ok\npackage:/data/app/~~x==/com.tencent.mm-y==/base.apk=com.tencent.mmpackage:"
                     "/data/app/~~a==/com.google.android.gm-b==/base.apk=com.google.android.gm",
                     path="/data/app/ok/base.apk")
    profile = DeviceProfile("android", "GARBAGE02", apps=(system, *filler_apps("android", 5, "GARBAGE02"), odd))
    with AndroidSimulator([profile]) as sim:
        report = run([AndroidConnector(f"127.0.0.1:{sim.adb_port}", timeout=20)], matcher)
    (result,) = report.results
    assert result.status == "partial" and result.reason == "bad-lines"
    assert [(f.app.id, f.match) for f in result.findings if f.catalog_app == "wechat"][:1] == [
        ("com.tencent.mm", "recovered")]
    assert report.exit_code == EXIT_FINDINGS_INCOMPLETE


def test_an_iphone_record_that_cannot_be_read_is_searched():
    from scanner.connectors.ios.apps import build_inventory

    inv = build_inventory(DeviceInfo("ios", "00008110-X", source="usbmux"), {
        "com.apple.mobilesafari": {"CFBundleIdentifier": "com.apple.mobilesafari", "ApplicationType": "System"},
        "com.tencent.xin": {"CFBundleIdentifier": "com.tencent.xin", "Entitlements": "not a dictionary"},
    }, None)
    assert inv.status == "partial" and inv.reason == "bad-records" and "com.tencent.xin" in inv.residue


def test_a_live_listing_with_two_lines_run_together_is_read_line_by_line():
    from scanner.connectors.android.parse import parse_listing

    joined = (b"package:/data/app/~~x==/com.tencent.mm-y==/base.apk=com.tencent.mmpackage:/data/app/~~a==/"
              b"com.google.android.gm-b==/base.apk=com.google.android.gm")
    listing = parse_listing((b"package:/system/framework/framework-res.apk=android", joined), "pm")
    assert list(listing.entries) == ["android"] and listing.problems and listing.evidence == [joined]


def test_an_id_recovered_in_one_run_and_read_whole_in_another_is_one_finding(tmp_path):
    # A fleet CSV lists a device in two runs: a damaged row of it in one, the same app read whole in the other.
    report = scan_bytes(tmp_path, "fleet.csv",
                        b"platform,device,app_id\n"
                        b"android,A1,com.google.android.gm\n"
                        b"android,A1,com.tencent.mm\x1b\n"
                        b"android,B2,com.whatsapp\n"
                        b"android,A1,com.tencent.mm\n")
    (a1,) = [r for r in report.results if r.device.serial == "A1"]
    assert a1.status == "partial" and [f.match for f in a1.findings] == ["exact"]


# --- what the property test found (tests/connectors/files/test_fuzzed_inputs.py pins the shrunk inputs too)


def test_fleet_rows_under_an_ideviceinstaller_header_are_no_ios_apps(tmp_path):
    report = scan_bytes(tmp_path, "mixed.txt",
                        b"CFBundleIdentifier, CFBundleVersion, CFBundleDisplayName\nandroid,A1,com.tencent.mm\n")
    assert ("android", "com.tencent.mm", "recovered") in findings_of(report)
    assert report.exit_code == EXIT_FINDINGS_INCOMPLETE


def test_an_app_record_nested_in_another_is_no_part_of_its_entitlements(tmp_path):
    path = tmp_path / "apps.json"
    path.write_text(json.dumps({"com.apple.mobilesafari": {
        "CFBundleIdentifier": "com.apple.mobilesafari",
        "Entitlements": {"com.tencent.xin": {"CFBundleIdentifier": "com.tencent.xin"}}}}))
    report = scan([str(path)])
    assert ("ios", "com.tencent.xin", "recovered") in findings_of(report)
    assert report.exit_code == EXIT_FINDINGS_INCOMPLETE


def test_a_serial_broken_by_a_carriage_return_in_a_joined_row_is_still_that_device(tmp_path):
    report = scan_bytes(tmp_path, "fleet.csv",
                        b"platform,device,app_id\nios,IPH1,com.apple.Pages\nandroid,A1,com.whatsapp\n"
                        b"android,A1,com.google.android.gmios,IP\rH1,com.tencent.mqq\n")
    statuses = {r.device.serial: r.status for r in report.results}
    assert statuses["IPH1"] != "complete" and statuses["A1"] != "complete"
    assert ("ios", "com.tencent.mqq", "recovered") in findings_of(report)


# --- what the second review found ----------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_is_searched_too(tmp_path, encoding):
    report = scan_bytes(tmp_path, "apps.txt",
                        "package:com.google.android.gm\npackage:com.tencent.mm\n".encode(encoding))
    assert ("android", "com.tencent.mm", "recovered") in findings_of(report)


def test_a_50_mb_line_is_refused_in_bounded_memory(tmp_path):
    # The regex used to keep state per character (a lookahead inside a repeat); and no package name is that long.
    path = tmp_path / "big.txt"
    path.write_bytes(b"package:" + b"a" * 5_000_000 + b"\n")
    (result,) = scan([str(path)]).results
    assert result.status == "failed" and "characters long" in result.problems[0]


def test_a_pm_path_is_absolute(tmp_path):
    report = scan_bytes(tmp_path, "apps.txt", b"package:com.google.android.gm\npackage:com.tencent.mm=com.google.x\n")
    assert ("android", "com.tencent.mm", "recovered") in findings_of(report)
    assert report.exit_code == EXIT_FINDINGS_INCOMPLETE


def test_a_saved_complete_device_with_a_part_read_with_no_app_is_not_complete(tmp_path):
    from scanner.formats.json_report import write_json

    pm = tmp_path / "a.txt"
    pm.write_bytes(b"package:com.tencent.mm\npackage:com.google.android.gm\n")
    out = io.StringIO()
    write_json(scan([str(pm)], inventory=True), out)
    doc = json.loads(out.getvalue())
    doc["devices"][0]["coverage"].append({"scope": "user 10", "read": True, "reason": None, "apps": 0})
    saved = tmp_path / "saved.json"
    saved.write_text(json.dumps(doc))
    (result,) = scan([str(saved)]).results
    assert result.status == "partial"


def test_csv_rows_carry_the_transport_that_tells_clones_apart():
    import csv as csvlib
    from datetime import datetime, timezone

    from scanner.formats.csv_report import write_csv
    from scanner.model import DeviceResult, Report

    now = datetime.now(timezone.utc)
    results = tuple(DeviceResult(DeviceInfo("android", "0123456789ABCDEF", source="adb", transport=t), "complete",
                                 None, None, (Scope("user 0", True, apps=3),), (), 3) for t in ("usb:1-1.2", "usb:1-1.3"))
    out = io.StringIO()
    write_csv(Report("scanner", "0", now, now, (), (), results), out)
    rows = list(csvlib.DictReader(io.StringIO(out.getvalue())))
    assert [r["device_transport"] for r in rows] == ["usb:1-1.2", "usb:1-1.3"]


def test_an_id_of_the_other_platform_is_a_finding_not_a_clean_device(tmp_path):
    # A careless export: the platform column says ios for an Android phone's WeChat (and the reverse).
    report = scan_bytes(tmp_path, "fleet.csv",
                        b"platform,device,app_id\nios,A1,com.tencent.mm\nios,A1,com.google.android.gm\n"
                        b"android,I1,com.tencent.xin\n")
    assert sorted(set(findings_of(report))) == [("android", "com.tencent.xin", "other-platform"),
                                                ("ios", "com.tencent.mm", "other-platform")]
    assert report.exit_code == 1
    finding = report.results[0].findings[0]
    assert finding.matched_by == "identifier" and "Android app's id" in finding.explanation


def test_an_id_both_platforms_share_matches_as_exact(matcher):
    shared = {(ident.platform, ident.id) for app in load_signatures().apps.values() for ident in app.identifiers}
    both = sorted(i for p, i in shared if p == "android" and ("ios", i) in shared)
    for app_id in both[:3]:
        assert {f.match for f in matcher.match([App("ios", app_id), App("android", app_id)])} == {"exact"}


def test_a_prohibited_id_after_more_distinct_words_than_the_cap_is_still_found(tmp_path):
    # The review: 2^18 distinct id-like words of garbage first, and the id after them used to be dropped.
    from scanner.connectors.records import MAX_EVIDENCE

    junk = b" ".join(b"a%d.b" % i for i in range(MAX_EVIDENCE + 10))
    report = scan_bytes(tmp_path, "apps.txt",
                        b"package:com.google.android.gm\n" + junk + b"\npackage:com.tencent.mm\x00\n")
    assert ("android", "com.tencent.mm", "recovered") in findings_of(report)
    assert report.exit_code == EXIT_FINDINGS_INCOMPLETE


# --- what the final review found -----------------------------------------------------------------


def test_a_team_id_never_turns_an_other_platform_finding_into_a_review_one(tmp_path):
    # Every real iPhone record has a team id; the Android app's id on it must still be prohibited, not a lead.
    path = tmp_path / "apps.json"
    path.write_text(json.dumps({
        "com.tencent.mm": {"CFBundleIdentifier": "com.tencent.mm", "CFBundleName": "WeChat",
                           "Entitlements": {"com.apple.developer.team-identifier": "88L2Q4487U"}},
        "com.apple.mobilesafari": {"CFBundleIdentifier": "com.apple.mobilesafari", "ApplicationType": "System"}}))
    report = scan([str(path)])
    assert {(f.match, f.severity) for r in report.results for f in r.findings} == {("other-platform", "prohibited")}
    assert report.exit_code == 1


def test_one_finding_each_keeps_the_most_severe(tmp_path):
    report = scan_bytes(tmp_path, "fleet.csv",
                        b"platform,device,app_id,team_id\nios,I1,com.tencent.mm,88L2Q4487U\nios,I1,com.tencent.mm,\n"
                        b"ios,I1,com.apple.mobilesafari,\nios,I1,com.tencent.mm\x01,\n")
    severities = {f.severity for r in report.results for f in r.findings}
    assert "prohibited" in severities and report.exit_code == EXIT_FINDINGS_INCOMPLETE


def test_watch_keeps_one_finding_for_an_app_updated_between_two_scans(sigs):
    from dataclasses import replace as swap

    from scanner.intake import Intake
    from scanner.matcher import Matcher

    matcher = Matcher(sigs)
    intake = Intake(platforms={"android": True}, timeout=5,
                    matcher=matcher, fail_on="prohibited", on_report=lambda *a: None, notify=lambda m: None)
    device = DeviceInfo("android", "R5CT1", source="adb", transport="R5CT1")

    def verdict(*apps: App):
        findings = tuple(matcher.match(apps))
        return swap(run([Fixed(Inventory(device, apps, (Scope("user 0", True, apps=len(apps)),)))],
                        matcher).results[0], findings=findings)

    key = ("android", "R5CT1")
    intake._replace(key, verdict(App("android", "com.tencent.mm", version="8.0.1", user=0)))
    intake._replace(key, verdict(App("android", "com.tencent.mm", version="8.0.2", user=0)))
    assert [f.app.version for f in intake.latest[key].findings] == ["8.0.2"]
    intake._replace(key, verdict(App("android", "com.google.android.gm", user=0)))  # WeChat gone: kept, once
    assert [f.app.id for f in intake.latest[key].findings] == ["com.tencent.mm"]


def test_the_live_fast_path_refuses_an_id_too_long_to_be_one():
    from scanner.connectors.android.parse import parse_listing

    listing = parse_listing((b"package:com." + b"a" * 300, b"package:com.google.android.gm"), "pm")
    assert list(listing.entries) == ["com.google.android.gm"] and "characters long" in listing.problems[0]


def test_utf16_of_mostly_cjk_text_without_a_bom_is_searched(tmp_path):
    line = "微信" * 20 + " com.tencent.xin, 微信\n"
    report = scan_bytes(tmp_path, "apps.txt", (line * 5).encode("utf-16-le"))
    assert ("ios", "com.tencent.xin", "recovered") in findings_of(report)
