"""Jamf Pro Classic API lists and computers: `{"mobile_devices": [...]}` JSON, `<computers>` and `<computer>`
records (Macs: listed as not checked, never dropped), and XML documents saved one per line (each line its
own `<?xml` declaration, which apple_mdm must leave to jamf_classic).

The samples in tests/data/inputs (jamf-classic-*) are written here in the documented shapes of
research/mdm-inventories.md §3.1 (illustrative values); the computer record's fields (general, hardware,
software/applications with name, path, version, bundle_id) are the Classic API's as the public SDKs model
them, unverified against a real export.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from file_reading import ids, matcher, reader
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.audit import run
from scanner.connectors.files import FileConnector
from scanner.model import MDM_SCOPE, NOT_CHECKED, Report

DATA = Path(__file__).parents[2] / "data" / "inputs"
WECHAT, TIKTOK = "com.tencent.xin", "com.zhiliaoapp.musically"
DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'


read = reader("jamf.json")


def report(*files: tuple[str, bytes | str]) -> Report:
    connectors = [FileConnector(n, io.BytesIO(d.encode() if isinstance(d, str) else d)) for n, d in files]
    return run(connectors, matcher(), inventory=True, inputs=tuple(n for n, _ in files))


def found(rep: Report) -> set[tuple[str, str]]:
    return {(f.app.id, f.match) for r in rep.results for f in r.findings}


def app(identifier: Any) -> dict[str, Any]:
    return {"application_name": "App", "application_version": "1", "application_short_version": "1.0",
            "identifier": identifier}


def mobile(jamf_id: Any, *apps: Any) -> dict[str, Any]:
    return {"general": {"id": jamf_id, "name": f"phone-{jamf_id}", "serial_number": f"S{jamf_id}", "os_type": "iOS"},
            "applications": list(apps)}


def computer_xml(jamf_id: str = "7", *bundles: str, size: int | None = None) -> str:
    apps = "".join(f"<application><name>{b}.app</name><path>/Applications/{b}.app</path><version>1</version>"
                   f"<bundle_id>{b}</bundle_id></application>" for b in bundles)
    return (f"<computer><general><id>{jamf_id}</id><name>LT-{jamf_id}</name><serial_number>C02{jamf_id}"
            f"</serial_number><report_date_utc>2025-05-01T09:00:00.000+0000</report_date_utc></general>"
            f"<hardware><os_name>macOS</os_name><os_version>15.4</os_version></hardware><software><applications>"
            f"<size>{len(bundles) if size is None else size}</size>{apps}</applications></software></computer>")


# --- the JSON list ----------------------------------------------------------------------------------


def test_the_json_list_sample_reads_each_record_wrapped_or_bare():
    invs = read((DATA / "jamf-classic-mobile-devices.json").read_bytes())
    assert [(i.device.serial, i.reason, ids(i)) for i in invs] == [
        ("Jamf id 42", "mdm-scope", [TIKTOK]), ("Jamf id 43", "mdm-scope", [WECHAT])]
    assert invs[0].device.inventoried == datetime(2025, 5, 2, 14, 3, 11, tzinfo=UTC)
    assert all(any(s.name == MDM_SCOPE and not s.read for s in i.coverage) for i in invs)
    assert "record #2" in invs[1].message
    rep = report(("l.json", (DATA / "jamf-classic-mobile-devices.json").read_bytes()))
    assert found(rep) == {(TIKTOK, "exact"), (WECHAT, "exact")} and not rep.complete


def test_the_device_list_without_apps_fails_each_device_and_an_empty_list_fails():
    listing = {"mobile_devices": [{"id": 1, "name": "a", "udid": "u1", "serial_number": "S1"},
                                  {"id": 2, "name": "b", "udid": "u2", "serial_number": "S2"}]}
    invs = read(json.dumps(listing))
    assert [(i.device.serial, i.status, i.reason) for i in invs] == [
        ("Jamf id 1", "failed", "no-inventory"), ("Jamf id 2", "failed", "no-inventory")]
    (inv,) = read('{"mobile_devices": []}')
    assert inv.status == "failed" and inv.reason == "no-inventory" and "holds no record" in inv.message


def test_a_list_given_twice_keeps_the_dropped_one_as_evidence():
    text = '{"mobile_devices": [' + json.dumps({"mobile_device": mobile(1, app(TIKTOK))}) + '], "mobile_devices": [' \
        + json.dumps({"mobile_device": mobile(2, app("com.a"))}) + "]}"
    invs = read(text)
    bad = [i for i in invs if i.reason == "bad-records"]
    assert bad and TIKTOK in bad[0].residue and all(i.status != "complete" for i in invs)
    assert (TIKTOK, "recovered") in found(report(("t.json", text)))


def test_bad_items_of_the_list_are_bad_records_and_their_text_searched():
    text = json.dumps({"mobile_devices": [mobile(1, app("com.a")), WECHAT, [TIKTOK], {"mobile_device": "x"}]})
    invs = read(text)
    assert [i.reason for i in invs] == ["mdm-scope", "bad-records", "bad-records", "bad-records"]
    assert WECHAT in invs[1].residue and TIKTOK in invs[2].residue
    assert {(WECHAT, "recovered"), (TIKTOK, "recovered")} <= found(report(("b.json", text)))


# --- computers ----------------------------------------------------------------------------------------


def test_the_computers_sample_is_listed_as_not_checked_with_its_rows():
    (inv,) = read((DATA / "jamf-classic-computers.xml").read_bytes(), "c.xml")
    assert inv.status == "failed" and inv.reason == NOT_CHECKED and inv.device.platform == "macos"
    assert inv.device.serial == "Jamf computer id 7" and inv.device.name == "LT-0042"
    assert inv.coverage[0].apps == 2 and "a Mac" in inv.message and "2 app rows were not checked" in inv.message
    assert inv.device.inventoried == datetime(2025, 5, 1, 9, tzinfo=UTC)
    assert ("serial", "C02XXXXXXX") in inv.device.identity and ("user", "bob") in inv.device.identity
    rep = report(("c.xml", (DATA / "jamf-classic-computers.xml").read_bytes()))
    assert not rep.results and len(rep.not_checked) == 1 and rep.not_checked[0].rows == 2


def test_a_computer_never_merges_with_the_phone_of_the_same_jamf_id():
    phones = json.dumps({"mobile_device": mobile(7, app(WECHAT))})
    rep = report(("a.xml", computer_xml("7", "com.tencent.xinWeChat")), ("a.xml", phones))
    assert [r.device.serial for r in rep.results] == ["Jamf id 7"] and found(rep) == {(WECHAT, "exact")}
    assert [n.device.serial for n in rep.not_checked] == ["Jamf computer id 7"]


def test_computers_as_json_one_and_a_list():
    one = {"computer": {"general": {"id": 3, "name": "mac"}, "software": {"applications": [
        {"name": "WPS Office.app", "bundle_id": "com.kingsoft.wpsoffice.mac"}]}}}
    (inv,) = read(json.dumps(one))
    assert inv.reason == NOT_CHECKED and inv.coverage[0].apps == 1 and inv.device.serial == "Jamf computer id 3"
    listed = {"computers": [one["computer"], {"computer": one["computer"] | {"general": {"id": 4}}}]}
    assert [(i.reason, i.device.serial) for i in read(json.dumps(listed))] == [
        (NOT_CHECKED, "Jamf computer id 3"), (NOT_CHECKED, "Jamf computer id 4")]


def test_a_cut_computers_list_is_never_dropped_and_a_mixed_file_reads_both():
    data = f"{DECLARATION}\n<computers><size>3</size>{computer_xml('1', 'a.b')}{computer_xml('2', 'c.d')}"
    invs = read(data[:-40], "c.xml")  # cut inside the second computer: listed, and the file failed as cut
    assert [i.reason for i in invs] == [NOT_CHECKED, NOT_CHECKED, "truncated"] and invs[2].status == "failed"
    whole = read(data + "</computers>", "c.xml")
    assert [i.reason for i in whole] == [NOT_CHECKED, NOT_CHECKED, "truncated"]
    assert "holds 3 computers (<size>) and holds 2" in whole[-1].message


def test_a_computer_with_a_bad_date_is_still_listed():
    bad = computer_xml("5", "a.b").replace("2025-05-01T09:00:00.000+0000", "soon")
    (inv,) = read(bad, "c.xml")
    assert inv.reason == NOT_CHECKED and inv.problem_count == 1 and inv.device.serial == "Jamf computer id 5"


# --- what a list holds besides its records ----------------------------------------------------------


def test_elements_of_a_list_that_are_no_record_are_searched_never_dropped():
    data = (f"<mobile_devices><size>1</size><note>{WECHAT}</note>{TIKTOK}"
            f"<mobile_device><general><id>1</id></general><applications><size>1</size><application>"
            f"<identifier>com.a</identifier></application></applications></mobile_device>"
            f"<computer><general><id>9</id></general></computer></mobile_devices>")
    invs = read(data, "m.xml")
    assert [i.reason for i in invs] == ["mdm-scope", "bad-records"]
    assert {WECHAT, TIKTOK} <= set(invs[1].residue) and invs[1].status == "failed"
    assert {(WECHAT, "recovered"), (TIKTOK, "recovered")} <= found(report(("m.xml", data)))


# --- documents one per line (apple_mdm leaves them to this reader) ----------------------------------


def test_documents_saved_one_per_line_are_each_read():
    invs = read((DATA / "jamf-classic-one-per-line.xml").read_bytes(), "p.xml")
    assert [(i.device.serial, i.reason) for i in invs] == [("Jamf id 42", "mdm-scope"), ("Jamf id 43", "mdm-scope")]
    assert ids(invs[0]) == [TIKTOK, "com.apple.Pages"] and ids(invs[1]) == [WECHAT]
    rep = report(("p.xml", (DATA / "jamf-classic-one-per-line.xml").read_bytes()))
    assert found(rep) == {(TIKTOK, "exact"), (WECHAT, "exact")}
    mixed = DECLARATION + computer_xml("1", "a.b") + "\n" + DECLARATION + computer_xml("2", "c.d") + "\n"
    assert [i.device.serial for i in read(mixed, "p.xml")] == ["Jamf computer id 1", "Jamf computer id 2"]


def test_a_plist_after_a_declaration_on_one_line_is_still_apple_mdms():
    plist = (f'{DECLARATION}<plist version="1.0"><dict><key>Status</key><string>Acknowledged</string>'
             f'<key>InstalledApplicationList</key><array><dict><key>Identifier</key><string>{WECHAT}</string>'
             f'</dict></array></dict></plist>\n')
    (inv,) = read(plist, "a.plist")
    assert ids(inv) == [WECHAT] and "InstalledApplicationList" in inv.message


def test_a_second_line_that_is_a_plist_breaks_the_jamf_file_and_is_searched():
    data = DECLARATION + computer_xml("1", "a.b") + "\n" + f'{DECLARATION}<plist><string>{TIKTOK}</string></plist>\n'
    invs = read(data, "p.xml")
    assert all(i.status != "complete" for i in invs)
    assert (TIKTOK, "recovered") in found(report(("p.xml", data)))


# --- property: lists of arbitrary values never raise, never make a complete device ------------------

_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.sampled_from([WECHAT, "iOS", "1", ""]) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["general", "id", "applications", "identifier", "software", "mobile_device", "computer",
                         "size", "application", "os_type"]), inner, max_size=4), max_leaves=16)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["mobile_devices", "computers"]), st.lists(_VALUE, max_size=4))
def test_arbitrary_lists_never_raise_and_never_make_a_complete_device(key, items):
    text = json.dumps({key: items})
    invs = read(text)
    assert invs and all(i.status != "complete" for i in invs)
    if WECHAT in text:  # the id is somewhere: read, searched, or on a device not checked (a Mac)
        assert any(WECHAT in ids(i) or WECHAT in i.residue or i.reason == NOT_CHECKED for i in invs)
