"""The Jamf Pro Classic API reader: saved `JSSResource/mobiledevices/id/N` records (and their subsets), XML and
JSON, read as research/mdm-inventories.md §3.1 documents them, never a false "clean".

The samples are written here in the documented shapes (illustrative values): every device is partial with
reason mdm-scope; XML with a DTD or entities is refused and its raw text searched; XML cut short or damaged is
read up to the fault and never complete; a <size> larger than the list held is "truncated"; the key is the
one the Jamf Pro API reader gives, so a device read from both APIs merges.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from file_reading import ids, matcher, reader
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.audit import run
from scanner.connectors.files import FileConnector, read_input
from scanner.connectors.files.readers import READERS
from scanner.model import MDM_SCOPE, NOT_CHECKED, DeviceResult

WECHAT, TIKTOK = "com.tencent.xin", "com.zhiliaoapp.musically"
DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
BLIND = ("Jamf Pro's inventory is what the device last reported to it: a personal device or a User Enrollment "
         "reports managed apps only, and iOS before 26 reports no system apps")


def xml_app(identifier: str, name: str = "App", version: str = "100", short: str = "1.0") -> str:
    return (f"<application><application_name>{name}</application_name><application_version>{version}"
            f"</application_version><application_short_version>{short}</application_short_version>"
            f"<application_status>Managed</application_status><identifier>{identifier}</identifier></application>")


def xml_record(jamf_id: str = "42", *apps: str, size: int | None = None, general: str = "",
               location: str = "<location><username>jdoe</username></location>", subset: bool = False) -> str:
    """A mobile_device record; `subset`: /subset/Applications, no general section."""
    head = "" if subset else (
        f"<general><id>{jamf_id}</id><name>JDOE-iPhone</name><serial_number>F2LX{jamf_id}</serial_number>"
        f"<udid>00008110-{jamf_id}</udid><os_type>iOS</os_type><os_version>18.5</os_version><model>iPhone 15</model>"
        f"<managed>true</managed><supervised>true</supervised>"
        f"<last_inventory_update_epoch>1746194591000</last_inventory_update_epoch>"
        f"<last_inventory_update_utc>2025-05-02T14:03:11.000+0000</last_inventory_update_utc>{general}</general>"
        f"{location}")
    listed = f"<size>{len(apps) if size is None else size}</size>" + "".join(apps)
    return f"<mobile_device>{head}<applications>{listed}</applications></mobile_device>"


def json_app(identifier: Any, **fields: Any) -> dict[str, Any]:
    return {"application_name": "App", "application_version": "100", "application_short_version": "1.0",
            "identifier": identifier, **fields}


def json_record(jamf_id: Any = 42, *apps: Any, **general: Any) -> dict[str, Any]:
    return {"mobile_device": {
        "general": {"id": jamf_id, "name": "JDOE-iPhone", "serial_number": f"F2LX{jamf_id}",
                    "udid": f"00008110-{jamf_id}", "os_type": "iOS", "os_version": "18.5", "managed": True,
                    "supervised": True, "last_inventory_update_epoch": 1746194591000,
                    "last_inventory_update_utc": "2025-05-02T14:03:11.000+0000", **general},
        "location": {"username": "jdoe", "email_address": "jdoe@example.gov"},
        "applications": list(apps)}}


read = reader("jamf.xml")


def audited(*files: tuple[str, bytes | str]) -> list[DeviceResult]:
    connectors = [FileConnector(n, io.BytesIO(d.encode() if isinstance(d, str) else d)) for n, d in files]
    return list(run(connectors, matcher(), inventory=True, inputs=tuple(n for n, _ in files)).results)


def found(results: list[DeviceResult]) -> set[tuple[str, str]]:
    return {(f.app.id, f.match) for r in results for f in r.findings}


# --- the documented shapes -----------------------------------------------------------------------


def test_the_documented_xml_record_reads_the_device_its_identity_date_and_apps():
    data = (f"{DECLARATION}\n" + xml_record("42", xml_app(TIKTOK, "TikTok", "380100", "38.1.0"),
                                            xml_app(WECHAT, "WeChat", "8.0.50.33", "8.0.50"))).replace("><", ">\n<")
    (inv,) = read(data)
    assert inv.status == "partial" and inv.reason == "mdm-scope" and inv.problem_count == 0
    assert inv.device.serial == "Jamf id 42" and inv.device.name == "JDOE-iPhone" and inv.device.platform == "ios"
    assert inv.device.identity == (("serial", "F2LX42"), ("udid", "00008110-42"), ("user", "jdoe"))
    assert inv.device.inventoried == datetime(2025, 5, 2, 14, 3, 11, tzinfo=UTC)
    assert inv.device.model == "iPhone 15" and inv.device.os_version == "18.5"
    assert [(a.id, a.name, a.version, a.build) for a in inv.apps] == [
        (TIKTOK, "TikTok", "38.1.0", "380100"), (WECHAT, "WeChat", "8.0.50", "8.0.50.33")]
    (scope,) = [s for s in inv.coverage if not s.read]
    assert scope.name == MDM_SCOPE and scope.reason == BLIND and BLIND in inv.message


def test_the_api_answer_on_one_line_and_a_record_without_its_declaration():
    one_line = DECLARATION + xml_record("7", xml_app(WECHAT))
    for data in (one_line, xml_record("7", xml_app(WECHAT)), "\ufeff" + one_line + "\n"):
        (inv,) = read(data)
        assert inv.reason == "mdm-scope" and inv.device.serial == "Jamf id 7" and ids(inv) == [WECHAT], data[:60]


def test_the_applications_subset_has_no_general_section_and_no_key_but_its_place():
    (inv,) = read(DECLARATION + "\n" + xml_record("1", xml_app(WECHAT), subset=True))
    assert inv.reason == "mdm-scope" and ids(inv) == [WECHAT] and inv.device.serial is None
    assert "jamf.xml, device 'jamf.xml': " in inv.message
    two = f"<mobile_devices>{xml_record('1', xml_app('com.a'), subset=True)}{xml_record('2', xml_app(WECHAT), subset=True)}"
    assert [i.device.serial for i in read(two + "</mobile_devices>")] == ["record #1", "record #2"]  # never one
    assert inv.device.identity == () and inv.device.inventoried is None


def test_several_records_under_a_root_concatenated_and_as_json():
    listed = f"{DECLARATION}\n<mobile_devices><size>2</size>\n{xml_record('1', xml_app('com.a'))}\n" \
             f"{xml_record('2', xml_app(WECHAT))}\n</mobile_devices>\n"
    invs = read(listed)
    assert [(i.device.serial, i.reason) for i in invs] == [("Jamf id 1", "mdm-scope"), ("Jamf id 2", "mdm-scope")]
    assert "record #2" in invs[1].message
    concatenated = "".join(f"{DECLARATION}{xml_record(str(n), xml_app(WECHAT))}" for n in (1, 2, 3))  # curl >>
    assert [i.device.serial for i in read(concatenated)] == ["Jamf id 1", "Jamf id 2", "Jamf id 3"]
    pretty = "".join(f"{DECLARATION}\n{xml_record(str(n), xml_app(WECHAT))}\n" for n in (1, 2))
    assert [i.device.serial for i in read(pretty)] == ["Jamf id 1", "Jamf id 2"]
    per_line = "".join(f"{DECLARATION}{xml_record(str(n), xml_app(str(n) + WECHAT))}\n" for n in (1, 2))
    invs = read(per_line)  # documents saved one per line: the second is this reader's too, not apple_mdm's
    assert [(i.device.serial, ids(i)) for i in invs] == [("Jamf id 1", ["1" + WECHAT]), ("Jamf id 2", ["2" + WECHAT])]
    as_json = json.dumps([json_record(1, json_app("com.a")), json_record(2, json_app(WECHAT))])
    invs = read(as_json, "jamf.json")
    assert [(i.device.serial, ids(i)) for i in invs] == [("Jamf id 1", ["com.a"]), ("Jamf id 2", [WECHAT])]
    both = json.dumps(json_record(1, json_app("com.a"))) + "\n" + json.dumps(json_record(2, json_app(WECHAT)))
    assert [i.device.serial for i in read(both, "jamf.json")] == ["Jamf id 1", "Jamf id 2"]


def test_a_list_whose_size_promises_more_records_than_it_holds():
    listed = f"<mobile_devices><size>5</size>{xml_record('1', xml_app('com.a'))}</mobile_devices>"
    first, missing = read(listed)
    assert first.reason == "mdm-scope"
    assert missing.status == "failed" and missing.reason == "truncated" and "4 devices are not in this file" in \
        missing.message


def test_the_json_record_reads_as_the_xml_one():
    (inv,) = read(json.dumps(json_record(42, json_app(TIKTOK, application_name="TikTok"))), "jamf.json")
    assert inv.reason == "mdm-scope" and inv.device.serial == "Jamf id 42" and ids(inv) == [TIKTOK]
    assert inv.device.identity == (("serial", "F2LX42"), ("udid", "00008110-42"), ("user", "jdoe"))
    assert inv.device.inventoried == datetime(2025, 5, 2, 14, 3, 11, tzinfo=UTC)
    epoch_only = json_record(42, json_app("com.a"), last_inventory_update_utc=None)
    (inv,) = read(json.dumps(epoch_only), "jamf.json")
    assert inv.device.inventoried == datetime(2025, 5, 2, 14, 3, 11, tzinfo=UTC)
    converted = json_record(42)
    converted["mobile_device"]["applications"] = {"size": 2, "application": [json_app(WECHAT)]}
    (inv,) = read(json.dumps(converted), "jamf.json")
    assert inv.reason == "truncated" and ids(inv) == [WECHAT] and "holds 2 apps (size) and holds 1" in inv.message


def test_findings_through_the_audit_with_the_bundled_catalog():
    results = audited(("a.xml", xml_record("1", xml_app(WECHAT, "WeChat"), xml_app("com.apple.Pages"))),
                      ("b.json", json.dumps(json_record(2, json_app(TIKTOK)))))
    assert found(results) == {(WECHAT, "exact"), (TIKTOK, "exact")}
    assert {r.device.serial: r.status for r in results} == {"Jamf id 1": "partial", "Jamf id 2": "partial"}
    names = {f.app.id: f.catalog_name for r in results for f in r.findings}
    assert "WeChat" in names[WECHAT] and "TikTok" in names[TIKTOK]


def test_a_device_read_from_both_apis_is_one_device():
    pro = {"id": "42", "name": "JDOE-iPhone", "serialNumber": "F2LX42", "type": "ios",
           "lastInventoryUpdateTimestamp": "2025-05-03T09:00:00Z",
           "ios": {"applications": [{"identifier": TIKTOK, "name": "TikTok", "version": "1", "shortVersion": "1"}]}}
    (inv,) = read(json.dumps(pro), "pro.json")
    assert inv.device.identity == (("serial", "F2LX42"),)
    assert inv.device.inventoried == datetime(2025, 5, 3, 9, tzinfo=UTC)
    results = audited(("both.xml", xml_record("42", xml_app(WECHAT))), ("both.xml", json.dumps(pro)))
    assert len(results) == 1 and results[0].device.serial == "Jamf id 42"
    assert found(results) == {(WECHAT, "exact"), (TIKTOK, "exact")}


def test_jamf_pro_api_inventory_dates_and_a_bad_one():
    record = {"mobileDeviceId": "5", "general": {"displayName": "Lab", "lastInventoryUpdateDate": "2025-01-02T03:04:05Z"},
              "applications": [{"identifier": "com.a"}]}
    (inv,) = read(json.dumps({"totalCount": 1, "results": [record]}), "pro.json")
    assert inv.device.inventoried == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC) and inv.reason == "mdm-scope"
    record["general"]["lastInventoryUpdateDate"] = "yesterday"
    (inv,) = read(json.dumps({"totalCount": 1, "results": [record]}), "pro.json")
    assert inv.reason == "bad-records" and inv.device.inventoried is None and ids(inv) == ["com.a"]
    assert "lastInventoryUpdateDate 'yesterday' is not an ISO 8601 time" in inv.problems[0]


# --- the blind spot, the platform, the date --------------------------------------------------------


@pytest.mark.parametrize(("general", "said"), [
    ("<device_ownership_level>Personal</device_ownership_level>", "device_ownership_level 'Personal'"),
    ("<device_ownership_level>User Enrollment</device_ownership_level>", "device_ownership_level 'User Enrollment'"),
    ("<enrollment_method>User Enrollment: BYOD</enrollment_method>", "enrollment_method"),
])
def test_a_personal_device_or_user_enrollment_names_its_blind_spot(general, said):
    (inv,) = read(xml_record("1", xml_app("com.a"), general=general))
    (scope,) = [s for s in inv.coverage if s.name == MDM_SCOPE]
    assert inv.reason == "mdm-scope" and said in scope.reason and "managed apps only" in scope.reason


def test_an_unmanaged_device_says_so_and_an_institutional_one_gets_the_general_blind_spot():
    (inv,) = read(xml_record("1", xml_app("com.a")).replace("<managed>true", "<managed>false"))
    assert "managed false" in inv.message and inv.reason == "mdm-scope"
    (inv,) = read(xml_record("1", xml_app("com.a"), general="<device_ownership_level>Institutional"
                                                           "</device_ownership_level>"))
    assert [s.reason for s in inv.coverage if s.name == MDM_SCOPE] == [BLIND]


def test_an_apple_tv_is_listed_as_not_checked_and_an_unknown_os_is_a_bad_record():
    (inv,) = read(xml_record("9", xml_app(WECHAT)).replace("<os_type>iOS", "<os_type>tvOS"))
    assert inv.status == "failed" and inv.reason == NOT_CHECKED and inv.device.platform == "tvos"
    assert inv.device.serial == "Jamf id 9" and inv.coverage[0].apps == 1 and "an Apple TV" in inv.message
    (inv,) = read(xml_record("9", xml_app("com.a")).replace("<os_type>iOS", "<os_type>Android"))
    assert inv.reason == "bad-records" and "os_type 'Android'" in inv.problems[0]


@pytest.mark.parametrize(("utc", "epoch", "expected"), [
    ("2025-05-02T14:03:11Z", "", datetime(2025, 5, 2, 14, 3, 11, tzinfo=UTC)),
    ("2025-05-02 14:03:11", "", datetime(2025, 5, 2, 14, 3, 11, tzinfo=UTC)),  # naive: UTC
    ("", "1746194591000", datetime(2025, 5, 2, 14, 3, 11, tzinfo=UTC)),
    ("", "0", None),  # never inventoried
])
def test_inventory_dates(utc, epoch, expected):
    record = xml_record("1", xml_app("com.a"))
    record = record.replace("2025-05-02T14:03:11.000+0000", utc).replace("1746194591000", epoch)
    (inv,) = read(record)
    assert inv.device.inventoried == expected and inv.reason == "mdm-scope"


@pytest.mark.parametrize("bad", ["last Friday", "2025-13-45T00:00:00Z"])
def test_an_unreadable_date_is_a_counted_problem(bad):
    (inv,) = read(xml_record("1", xml_app("com.a")).replace("2025-05-02T14:03:11.000+0000", bad))
    assert inv.reason == "bad-records" and inv.problem_count == 1 and inv.device.inventoried is None
    assert ids(inv) == ["com.a"] and inv.device.serial == "Jamf id 1"


def test_a_record_without_applications_or_with_none():
    (inv,) = read(xml_record("3").replace("<applications><size>0</size></applications>", ""))
    assert inv.status == "failed" and inv.reason == "no-inventory" and "subset/Applications" in inv.message
    (inv,) = read(xml_record("3"))
    assert inv.status == "failed" and inv.reason == "empty"


# --- hostile and broken ----------------------------------------------------------------------------

_BOMB = (f'{DECLARATION}\n<!DOCTYPE lolz [<!ENTITY a "{WECHAT} "><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
         f'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>\n' + xml_record("1", xml_app("&c;"), xml_app(TIKTOK)))
_XXE = (f'{DECLARATION}\n<!DOCTYPE mobile_device [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        + xml_record("1", xml_app("&x;"), xml_app(TIKTOK)))
_DTD = f'{DECLARATION}\n<!DOCTYPE mobile_device SYSTEM "http://127.0.0.1:9/x.dtd">\n' + xml_record("1", xml_app(TIKTOK))
_ONE_LINE_BOMB = _BOMB.replace("\n", "").replace("DOCTYPE lolz", "DOCTYPE mobile_device")


@pytest.mark.parametrize("data", [_BOMB, _XXE, _DTD, _ONE_LINE_BOMB])
def test_a_dtd_or_entities_are_refused_and_the_raw_text_still_searched(data):
    (inv,) = read(data)
    assert inv.status == "failed" and inv.reason == "unsafe-xml" and not inv.apps
    assert "the XML declares entities, which a Jamf Pro export never does: it was edited or is hostile" in inv.message
    assert TIKTOK in inv.residue and "passwd" not in " ".join(inv.residue)
    assert (TIKTOK, "recovered") in found(audited(("h.xml", data)))
    if data is _BOMB:
        assert WECHAT in inv.residue  # as written in the declaration, never expanded


def test_a_plist_still_goes_to_the_apple_mdm_reader():
    plist = (f'{DECLARATION}\n<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" '
             f'"http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n<plist version="1.0"><dict><key>Status</key>'
             f'<string>Acknowledged</string><key>InstalledApplicationList</key><array><dict><key>Identifier</key>'
             f'<string>{WECHAT}</string></dict></array></dict></plist>\n')
    (inv,) = read(plist)
    assert ids(inv) == [WECHAT] and "InstalledApplicationList" in inv.message
    (inv,) = read(f"{DECLARATION}\n<plist version=\"1.0\"><dict/></plist>\n")
    assert "InstalledApplicationList" in inv.message  # apple_mdm's words, not this reader's


@pytest.mark.parametrize("keep", [0.2, 0.5, 0.8, 0.97])
def test_cut_xml_keeps_the_whole_records_and_the_cut_one_is_never_complete(keep):
    data = f"{DECLARATION}\n<mobile_devices>\n" + "\n".join(
        xml_record(str(n), xml_app("com.a"), xml_app(WECHAT if n == 3 else "com.b")) for n in range(1, 5))
    cut = data[: int(len(data) * keep)]
    invs = read(cut)
    assert invs and all(i.status != "complete" for i in invs)
    assert any(i.reason == "truncated" and "line " in i.message and "column " in i.message for i in invs)
    whole = [i for i in invs if i.reason == "mdm-scope"]
    assert all(set(ids(i)) == {"com.a", "com.b"} or set(ids(i)) == {"com.a", WECHAT} for i in whole)
    results = audited(("cut.xml", cut))
    if f"{WECHAT}</identifier>" in cut:  # the whole id is in the file: found, as an app or in the searched text
        assert {(WECHAT, "exact"), (WECHAT, "recovered")} & found(results)
    if "<id>3</id>" in cut and "<id>4</id>" in cut:  # its record was whole
        assert (WECHAT, "exact") in found(results)


def test_an_id_cut_in_the_last_app_is_not_read_as_an_app():
    data = xml_record("1", xml_app("com.a"), xml_app("com.tencent.mm"))
    (inv,) = read(data[: data.index("com.tencent.mm") + len("com.tencent.m")])
    assert ids(inv) == ["com.a"] and inv.status == "partial" and inv.reason == "truncated"
    assert "com.tencent.m" in inv.residue  # searched as text, never matched as an id


def test_damaged_xml_stops_with_the_line_and_column_and_is_searched_past_the_fault():
    data = f"{DECLARATION}\n<mobile_devices>\n{xml_record('1', xml_app('com.a'))}\n" \
           f"{xml_record('2', xml_app('com.b'), xml_app('co<m.x'))}\n{xml_record('3', xml_app(TIKTOK))}\n" \
           f"</mobile_devices>"
    first, broken = read(data)
    assert first.reason == "mdm-scope" and first.device.serial == "Jamf id 1"
    assert broken.reason == "bad-xml" and broken.device.serial == "Jamf id 2" and broken.status == "partial"
    assert "line 4 column" in broken.message and ids(broken) == ["com.b"] and TIKTOK in broken.residue


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x07"])
def test_a_control_character_xml_forbids_breaks_the_document(char):
    data = xml_record("1", xml_app(WECHAT, name=f"We{char}Chat"), xml_app(TIKTOK))
    (inv,) = read(data)
    assert inv.status != "complete" and inv.reason == "bad-xml" and "not well-formed" in inv.message
    assert found(audited(("c.xml", data))) == {(WECHAT, "recovered"), (TIKTOK, "recovered")}


def test_bidi_and_control_characters_in_a_name_are_kept_as_read_and_in_an_identifier_are_bad():
    (inv,) = read(xml_record("1", xml_app(WECHAT, name="We\u202eChat\u200b")))
    assert inv.reason == "mdm-scope" and inv.apps[0].name == "We\u202eChat\u200b"  # the formats escape it
    (inv,) = read(json.dumps(json_record(1, json_app(WECHAT, application_name="We\x1bChat"))), "j.json")
    assert inv.reason == "mdm-scope" and inv.apps[0].name == "We\x1bChat"
    for identifier in (f"{WECHAT}\u202e", f"\u200b{WECHAT}", "WeChat by Tencent", "com.tencent.xin/..", "&#x41;"):
        data = xml_record("1", xml_app("com.a"), xml_app(identifier.replace("&#x41;", "&amp;#x41;")))
        (inv,) = read(data)
        assert inv.status == "partial" and inv.reason == "bad-records" and ids(inv) == ["com.a"], identifier
        assert "app #2: identifier" in inv.problems[0]


def test_a_size_mismatch():
    (inv,) = read(xml_record("1", xml_app("com.a"), size=3))
    assert inv.status == "partial" and inv.reason == "truncated" and "holds 3 apps (size) and holds 1" in inv.message
    (inv,) = read(xml_record("1", xml_app("com.a"), xml_app("com.b"), size=1))
    assert inv.reason == "bad-records" and "so it was edited" in inv.problems[0]
    (inv,) = read(xml_record("1", xml_app("com.a")).replace("<size>1</size>", "<size>many</size>"))
    assert inv.reason == "bad-records" and "is not a number of apps" in inv.problems[0]


def test_keys_and_elements_given_twice():
    text = json.dumps(json_record(1, json_app("com.a"))).replace('"identifier": "com.a"',
                                                                 f'"identifier": "{WECHAT}", "identifier": "com.a"')
    (inv,) = read(text, "j.json")
    assert inv.reason == "bad-records" and ids(inv) == [] and "'identifier' given more than once" in inv.problems[0]
    assert (WECHAT, "recovered") in found(audited(("j.json", text)))
    text = json.dumps(json_record(1, json_app("com.a"))).replace('"id": 1,', '"id": 1, "id": 2,')
    (inv,) = read(text, "j.json")
    assert inv.reason == "bad-records" and "'id' given more than once" in inv.problems[0]
    doubled = xml_record("1", xml_app("com.a")).replace("<id>1</id>", "<id>1</id><id>2</id>")
    (inv,) = read(doubled)
    assert inv.reason == "bad-records" and "'id' given more than once" in inv.problems[0]
    text = '{"mobile_device": ' + json.dumps(json_record(1)["mobile_device"]) + ', "mobile_device": ' + json.dumps(
        json_record(2, json_app(WECHAT))["mobile_device"]) + "}"
    (inv,) = read(text, "j.json")
    assert inv.reason == "bad-records" and "'mobile_device' more than once" in inv.problems[0]


def test_records_of_the_wrong_shape():
    invs = read(json.dumps([json_record(1, json_app("com.a")), {"mobile_device": [WECHAT]}, "x"]), "j.json")
    assert [i.reason for i in invs] == ["mdm-scope", "bad-records", "bad-records"]
    (inv,) = read(json.dumps({"mobile_device": {"general": "x", "applications": [json_app("com.a")]}}), "j.json")
    assert inv.reason == "bad-records" and "general is a string, expected an object" in inv.problems[0]
    (inv,) = read(json.dumps({"mobile_device": {"general": {"id": 1}, "applications": WECHAT}}), "j.json")
    assert inv.status == "failed" and "applications is a string, not a list" in inv.problems[0]
    (inv,) = read(f"{DECLARATION}\n<computer_group><id>1</id><identifier>{WECHAT}</identifier></computer_group>")
    assert inv.status == "failed" and inv.reason == "unknown-format" and WECHAT in inv.residue


def test_deep_nesting_is_not_built_but_searched():
    deep = "<x>" * 5000 + WECHAT + "</x>" * 5000
    (inv,) = read(xml_record("1", xml_app("com.a"), general=deep))
    assert inv.reason == "bad-records" and ids(inv) == ["com.a"] and WECHAT in inv.residue


class _Lazy(io.RawIOBase):
    """A stream of generated records, counting what was read."""

    def __init__(self, records: int) -> None:
        self.parts = iter([b"<mobile_devices>\n", *(xml_record(str(n), xml_app("com.a")).encode() + b"\n"
                                                     for n in range(records)), b"</mobile_devices>\n"])
        self.read_bytes = 0
        self.buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def, override]
        while len(self.buffer) < len(b):
            part = next(self.parts, None)
            if part is None:
                break
            self.buffer += part
        n = min(len(b), len(self.buffer))
        b[:n], self.buffer = self.buffer[:n], self.buffer[n:]
        self.read_bytes += n
        return n


def test_a_large_file_streams_one_record_at_a_time():
    raw = _Lazy(6000)  # about 4.6 MB: over four times the 1 MB a streaming reader may take for its first record
    reading = read_input("big.xml", io.BufferedReader(raw))
    first = next(reading)
    assert first.device.serial == "Jamf id 0" and raw.read_bytes < 1 << 20  # the first record before the rest
    assert sum(1 for _ in reading) == 5999


def test_the_reader_is_registered_after_apple_mdm():
    names = [r.name for r in READERS]
    assert names.index("apple-mdm") < names.index("jamf-classic")


# --- property: arbitrary text and elements never raise, never yield a complete device ------------

_TAGS = ("mobile_device", "mobile_devices", "general", "id", "applications", "application", "size", "identifier",
         "application_name", "location", "username", "os_type", "x")
_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12) | st.sampled_from(
    [WECHAT, "1", "iOS", "tvOS", "&amp;", "<", "&", "]]>", "<!ENTITY", "<?xml ?>"])


@st.composite
def _elements(draw: st.DrawFn, depth: int = 0) -> str:
    tag = draw(st.sampled_from(_TAGS))
    if depth > 3 or draw(st.booleans()):
        inner = draw(_TEXT)
    else:
        inner = "".join(draw(st.lists(_elements(depth + 1), max_size=4)))
    return f"<{tag}>{inner}</{tag}>" if draw(st.integers(0, 9)) else f"<{tag}>{inner}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_elements(), min_size=1, max_size=3), st.booleans())
def test_arbitrary_elements_never_raise_and_never_make_a_complete_device(elements, declared):
    data = (DECLARATION + "\n" if declared else "") + "<mobile_devices>" + "".join(elements)
    for inv in read(data):
        assert inv.status != "complete"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_after_a_declaration_never_raise(tail):
    for inv in read(DECLARATION.encode() + b"\n<mobile_device>" + tail):
        assert inv.status != "complete"


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | _TEXT,
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_TAGS), inner,
                                                                                max_size=4), max_leaves=20))
def test_arbitrary_json_in_the_shape_never_raises(value):
    doc = {"mobile_device": value if isinstance(value, dict) else {"general": value, "applications": value}}
    for inv in read(json.dumps(doc), "j.json"):
        assert inv.status != "complete"
