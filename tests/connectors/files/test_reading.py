"""The offline-input connector: every accepted format, and every way a file can be broken.

Sample exports live in tests/data/inputs; broken and hostile variants are
written to tmp_path as bytes, so that what is tested is exactly what is on disk.
"""

from __future__ import annotations

import io
import json
import random
import types
from pathlib import Path

import pytest

from scanner.connectors.interface import Connector, ScannerError
from scanner.connectors.files import MAX_PROBLEMS, FileConnector, read_input
from scanner.model import APP_STATES, PLATFORMS, STATUSES, App, Inventory, Scope

DATA = Path(__file__).parents[2] / "data" / "inputs"

WECHAT_PM = (
    "package:/data/app/~~wPsmersxdVPHCSsZyCiQxQ==/com.tencent.mm-UrZAfkGI7uXTMX9NiVFxUQ==/base.apk=com.tencent.mm"
    " versionCode:2280  installer=com.android.vending uid:10234"
)
FRAMEWORK_PM = "package:/system/framework/framework-res.apk=android versionCode:34  installer=null uid:1000"


def read(path: Path | str) -> list[Inventory]:
    return list(read_input(str(path)))


def read_bytes(tmp_path: Path, data: bytes, name: str = "input.txt") -> list[Inventory]:
    path = tmp_path / name
    path.write_bytes(data)
    return read(path)


def one(invs: list[Inventory]) -> Inventory:
    assert len(invs) == 1, invs
    return invs[0]


def ids(inv: Inventory) -> list[str]:
    return [a.id for a in inv.apps]


# --- adb shell pm list packages ------------------------------------------------------------------


def test_pm_sample_with_paths_installers_and_uids():
    path = DATA / "pm-list-packages-f-i-U.txt"
    inv = one(read(path))
    assert inv.status == "complete" and inv.reason is None and inv.message is None
    assert inv.device.platform == "android" and inv.device.serial is None and inv.device.source == str(path)
    assert ids(inv) == ["android", "com.tencent.mm", "com.google.android.gm", "com.zhiliaoapp.musically",
                        "com.android.chrome"]
    framework, wechat, gmail, tiktok, chrome = inv.apps
    assert framework.installer is None and framework.build == "34" and framework.uid == 1000 and framework.user == 0
    assert wechat.path == "/data/app/~~wPsmersxdVPHCSsZyCiQxQ==/com.tencent.mm-UrZAfkGI7uXTMX9NiVFxUQ==/base.apk"
    assert wechat.installer == "com.android.vending" and wechat.build == "2280" and wechat.uid == 10234
    assert (gmail.user, gmail.uid) == (10, 1010101)  # work profile
    assert (tiktok.user, tiktok.build) == (150, "330104")  # Secure Folder
    assert chrome.installer is None and chrome.state == "installed"
    assert inv.coverage == (Scope("records", read=True, apps=5),)
    assert inv.problems == () and inv.problem_count == 0


def test_pm_crlf_bom_blank_lines_and_no_final_newline(tmp_path):
    # CRLF, a BOM and blank lines cannot hide an app; a last line without its line break may be cut.
    data = b"\xef\xbb\xbf" + f"{FRAMEWORK_PM}\r\n\r\n   \r\n{WECHAT_PM}\r\npackage:com.whatsapp".encode()
    inv = one(read_bytes(tmp_path, data))
    assert inv.status == "partial" and inv.reason == "truncated"
    assert one(read_bytes(tmp_path, data + b"\r\n")).status == "complete"
    assert ids(inv) == ["android", "com.tencent.mm", "com.whatsapp"]
    assert inv.apps[1].uid == 10234 and inv.apps[1].installer == "com.android.vending"
    assert inv.apps[2] == App("android", "com.whatsapp")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("package:com.tencent.mm", App("android", "com.tencent.mm")),
        ("package:com.tencent.mm versionCode:2280", App("android", "com.tencent.mm", build="2280")),
        ("package:com.tencent.mm  installer=com.android.vending",
         App("android", "com.tencent.mm", installer="com.android.vending")),
        ("package:com.tencent.mm uid:1010234", App("android", "com.tencent.mm", user=10, uid=1010234)),
        # `=` inside the path and an installer: a greedy parser returns the installer as the package.
        ("package:/data/app/~~a=b==/x-y==/base.apk=com.tencent.mm  installer=com.android.vending",
         App("android", "com.tencent.mm", installer="com.android.vending", path="/data/app/~~a=b==/x-y==/base.apk")),
        ("package:/data/app/x/base.apk=com.tencent.tim versionCode:1  installer=null uid:10300",
         App("android", "com.tencent.tim", build="1", user=0, path="/data/app/x/base.apk", uid=10300)),
    ],
)
def test_pm_line_variants(tmp_path, line, expected):
    inv = one(read_bytes(tmp_path, (line + "\n").encode()))
    assert inv.status == "complete"
    assert inv.apps == (expected,)


def test_pm_invalid_utf8_in_the_middle_is_partial_with_its_line_number(tmp_path):
    data = f"{FRAMEWORK_PM}\n{WECHAT_PM}\n".encode() + b"package:com.bad\xff\xfename\n" + b"package:com.whatsapp\n"
    inv = one(read_bytes(tmp_path, data))
    assert inv.status == "partial" and inv.reason == "bad-lines"
    assert ids(inv) == ["android", "com.tencent.mm", "com.whatsapp"]
    assert inv.problems == ("line 3: not valid UTF-8",) and inv.problem_count == 1
    assert "1 lines could not be read" in inv.message and "line 3" in inv.message
    assert Scope("records", read=False, reason="1 lines could not be read") in inv.coverage


def test_pm_garbage_line_is_counted_with_line_number_and_excerpt(tmp_path):
    data = f"{FRAMEWORK_PM}\n\nhello world\n{WECHAT_PM}\n".encode()
    inv = one(read_bytes(tmp_path, data))
    assert inv.status == "partial" and inv.reason == "bad-lines"
    assert inv.problems == (
        "line 3: expected 'package:<name>' (adb shell pm list packages output), got 'hello world'",
    )


def test_pm_security_exception_says_a_user_was_refused(tmp_path):
    data = (
        f"{FRAMEWORK_PM}\n{WECHAT_PM}\n"
        "Exception occurred while executing 'list':\n"
        "java.lang.SecurityException: Shell does not have permission to access user 10\n"
        "\tat com.android.server.am.ActivityManagerService.handleIncomingUser(ActivityManagerService.java:14764)\n"
    ).encode()
    inv = one(read_bytes(tmp_path, data))
    assert inv.status == "partial" and inv.reason == "user-refused"
    assert ids(inv) == ["android", "com.tencent.mm"]
    assert "user 10" in inv.message and "refused" in inv.message
    assert inv.problem_count == 3
    assert inv.problems[1].startswith("line 4: expected 'package:<name>'")
    refused = [s for s in inv.coverage if s.name == "user 10"]
    assert len(refused) == 1 and refused[0].read is False and "Shell does not have permission" in refused[0].reason


def test_pm_refusal_only_is_a_failed_refused_user(tmp_path):
    text = (
        b"Exception occurred while executing 'list':\n"
        b"java.lang.SecurityException: Shell does not have permission to access user 150\n"
        b"\tat com.android.server.am.ActivityManagerService.handleIncomingUser(ActivityManagerService.java:14634)\n"
    )
    inv = one(read_bytes(tmp_path, text))
    assert inv.status == "failed" and inv.reason == "user-refused" and inv.apps == ()
    assert inv.device.platform == "android"
    assert "refused to list user 150" in inv.message and "none of its apps were checked" in inv.message


def test_pm_error_only_is_a_failed_tool_error(tmp_path):
    inv = one(read_bytes(tmp_path, b"Error: Unknown option: -x\n"))
    assert inv.status == "failed" and inv.reason == "tool-error" and inv.apps == ()
    assert "Error: Unknown option: -x" in inv.message and "line 1" in inv.message


def test_pm_security_exception_first_then_packages(tmp_path):
    data = f"java.lang.SecurityException: Shell does not have permission to access user 150\n{WECHAT_PM}\n".encode()
    inv = one(read_bytes(tmp_path, data))
    assert inv.status == "partial" and inv.reason == "user-refused" and "user 150" in inv.message
    assert ids(inv) == ["com.tencent.mm"]


def test_pm_problems_are_capped_but_all_counted(tmp_path):
    data = (FRAMEWORK_PM + "\n" + "".join(f"junk {i}\n" for i in range(50))).encode()
    inv = one(read_bytes(tmp_path, data))
    assert inv.status == "partial"
    assert inv.problem_count == 50 and len(inv.problems) == MAX_PROBLEMS
    assert inv.problems[0].startswith("line 2:") and inv.problems[-1].startswith("line 21:")


def test_pm_only_bad_lines_after_a_package_line_that_is_itself_bad_fails(tmp_path):
    data = b"package:com.a extra words here\npackage:\xff\n"
    inv = one(read_bytes(tmp_path, data))
    assert inv.status == "failed" and inv.reason == "bad-lines" and inv.problem_count == 2
    assert "no app could be read" in inv.message


def test_pm_odd_printable_ids_are_kept_intact_and_control_characters_are_bad_lines(tmp_path):
    odd = ["com." + "a" * 251, "android", "Com.Mixed_Case-1"]  # long (255) or odd, but package names: kept
    # Control, format (bidi) and NUL characters are never in a package name: a forged or damaged line.
    hostile = ["com.evil\x1b[31mRED\x1b[0m", "com.rtl\u202egnp.exe", "com.bell\x07\x08", "com.tencent.mm\x00"]
    # Printable, but not a package name either: nothing else may pass for one.
    # ... and no package name is longer than 255 characters (it is a folder name on the phone).
    foreign = ["com.例え.アプリ", "+cmd|calc!A0", "com..tencent.mm", "com.tencent.mm;", "com." + "a" * 10_000]
    data = "".join(f"package:{h}\n" for h in odd + hostile + foreign).encode()
    inv = one(read_bytes(tmp_path, data))
    assert inv.status == "partial" and inv.reason == "bad-lines" and ids(inv) == odd
    assert inv.problem_count == 9
    assert inv.problems[0] == ("line 4: package 'com.evil\\x1b[31mRED\\x1b[0m' holds whitespace or a control "
                               "character, so it is not a real package name or bundle id")
    assert inv.problems[4].startswith("line 8: package 'com.例え.アプリ' is not a package name or bundle id")
    assert "10004 characters long" in inv.problems[8]
    assert [p.split(":")[0] for p in inv.problems] == [f"line {n}" for n in range(4, 13)]


# --- ideviceinstaller -l -------------------------------------------------------------------------


def test_ideviceinstaller_old_form():
    inv = one(read(DATA / "ideviceinstaller-old.txt"))  # CRLF line ends
    assert inv.status == "complete" and inv.device.platform == "ios"
    assert [(a.id, a.name, a.version) for a in inv.apps] == [
        ("com.tencent.xin", "WeChat", "8.0.50"),
        ("com.atebits.Tweetie2", "X - Twitter", "10.58"),
        ("jp.naver.line", "LINE ｜ 日本語", "14.3.0"),
    ]


def test_ideviceinstaller_truncated_total_is_partial(tmp_path):
    data = b"Total: 5 apps\ncom.tencent.xin - WeChat 8.0.50\ncom.burbn.instagram - Instagram 345.0\n"
    inv = one(read_bytes(tmp_path, data))
    assert inv.status == "partial" and inv.reason == "truncated"
    assert ids(inv) == ["com.tencent.xin", "com.burbn.instagram"]
    assert "Total: 5 apps" in inv.message and "3 apps were not checked" in inv.message
    assert inv.problem_count == 3


@pytest.mark.parametrize("data", [
    b"Total: 0 apps\n",
    b"CFBundleIdentifier, CFBundleShortVersionString, CFBundleDisplayName\n",
    b"CFBundleIdentifier, CFBundleVersion, CFBundleDisplayName\r\n",
])
def test_an_ideviceinstaller_list_of_no_apps_is_never_a_clean_device(tmp_path, data):
    inv = one(read_bytes(tmp_path, data))
    assert inv.status == "failed" and inv.reason == "empty" and inv.apps == () and inv.device.platform == "ios"
    assert "lists no apps at all" in inv.message


def test_ids_pasted_from_other_output_are_bad_lines_in_a_fleet_csv(tmp_path):
    data = CSV_HEAD + (
        "android,d1,package:com.tencent.mm,WeChat,1\n"
        'android,d1,"""com.tencent.mm""",WeChat,1\n'
        "android,d1,com.tencent.mm;,WeChat,1\n"
        "android,d1,/data/app/x/base.apk=com.tencent.mm,WeChat,1\n"
        "android,d1,com.whatsapp,WhatsApp,2\n"
    )
    inv = one(read_bytes(tmp_path, data.encode(), "f.csv"))
    assert inv.status == "partial" and ids(inv) == ["com.whatsapp"] and inv.problem_count == 4
    assert all("is not a package name or bundle id" in p for p in inv.problems)


def test_ideviceinstaller_old_form_without_header_or_version(tmp_path):
    data = "com.tencent.xin - WeChat 8.0.50\ncom.example.noversion - Just A Name\ncom.x.dash - A - B - C 2\n"
    inv = one(read_bytes(tmp_path, data.encode()))
    assert inv.status == "complete"
    assert [(a.id, a.name, a.version) for a in inv.apps] == [
        ("com.tencent.xin", "WeChat", "8.0.50"),
        ("com.example.noversion", "Just A Name", None),
        ("com.x.dash", "A - B - C", "2"),
    ]


def test_ideviceinstaller_csv_forms_map_columns_by_header():
    short = one(read(DATA / "ideviceinstaller-csv.txt"))
    assert short.status == "complete"
    assert [(a.id, a.version, a.build, a.name) for a in short.apps] == [
        ("com.tencent.xin", "8.0.50", None, "WeChat"),
        ("com.burbn.instagram", "345.0", None, "Instagram"),
        ("com.example.quote", "1.0", None, 'Say "Hi", friend'),
    ]
    build = one(read(DATA / "ideviceinstaller-csv-build.txt"))
    assert [(a.id, a.version, a.build, a.name) for a in build.apps] == [
        ("com.tencent.xin", None, "8.0.50.2600", "WeChat"),
        ("com.apple.mobilesafari", None, "8617.1.17.10.9", "Safari"),
    ]


def test_ideviceinstaller_csv_hostile_values_and_bad_rows(tmp_path):
    long_name = "名" * 10_000
    data = (
        "CFBundleDisplayName, CFBundleIdentifier, CFBundleShortVersionString\r\n"
        f'"{long_name}", com.long, "1.0"\r\n'
        '"Two\nlines \u200fRTL\u200e", com.multi, "2.0"\r\n'
        '"only two", com.short\r\n'
        '"Esc \x1b]0;title\x07", com.esc, "3.0"\r\n'
    ).encode() + b'"\xc3\x28bad", com.badutf, "1"\r\n'
    inv = one(read_bytes(tmp_path, data))
    assert inv.status == "partial" and inv.reason == "bad-lines"
    # A line break, a bidi mark or ESC in any value is a damaged or forged line, never an app (issue 10 item 1).
    assert [(a.id, a.name, a.version) for a in inv.apps] == [("com.long", long_name, "1.0")]
    assert [p[:7] for p in inv.problems] == ["line 3:", "line 5:", "line 6:", "line 7:"]
    assert inv.problems[1] == (
        "line 5: expected 3 values (CFBundleDisplayName, CFBundleIdentifier, CFBundleShortVersionString), found 2")
    assert inv.problems[3] == "line 7: not valid UTF-8"
    assert {"com.multi", "com.esc", "com.badutf", "com.short"} <= set(inv.residue)


def test_ideviceinstaller_csv_with_total_header_truncated(tmp_path):
    data = (b"Total: 3 apps\nCFBundleIdentifier, CFBundleVersion, CFBundleDisplayName\n"
            b'com.tencent.xin, "8.0.50", "WeChat"\n')
    inv = one(read_bytes(tmp_path, data))
    assert inv.status == "partial" and inv.reason == "truncated" and ids(inv) == ["com.tencent.xin"]


# --- pymobiledevice3 apps list -------------------------------------------------------------------


def test_pymobiledevice3_json():
    inv = one(read(DATA / "pymobiledevice3-apps-list.json"))
    assert inv.status == "complete" and inv.device.platform == "ios"
    apps = {a.id: a for a in inv.apps}
    assert list(apps) == ["com.tencent.xin", "com.zhiliaoapp.musically", "com.apple.mobilesafari",
                          "com.apple.webapp", "com.acme.enterprise"]
    wechat = apps["com.tencent.xin"]
    assert (wechat.name, wechat.version, wechat.build) == ("WeChat", "8.0.50", "8.0.50.2600")
    assert wechat.team_id == "88L2Q4487U" and wechat.signer == "Apple iPhone OS Application Signing"
    assert wechat.system is False and wechat.state == "installed" and wechat.path.endswith("/WeChat.app")
    tiktok = apps["com.zhiliaoapp.musically"]
    assert tiktok.state == "offloaded" and tiktok.team_id == "XXX9D7YVAS"  # from application-identifier
    assert apps["com.apple.mobilesafari"].system is True and apps["com.apple.mobilesafari"].team_id is None
    assert apps["com.apple.webapp"].state == "hidden" and apps["com.apple.webapp"].name == "Web"  # CFBundleName
    assert apps["com.acme.enterprise"].signer == "iPhone Distribution: Acme Corp"
    assert apps["com.acme.enterprise"].team_id == "ACME123456"


def test_pymobiledevice3_bad_records_make_it_partial(tmp_path):
    doc = {
        "com.tencent.xin": {"CFBundleIdentifier": "com.tencent.xin", "CFBundleDisplayName": "WeChat"},
        "com.not.a.dict": "just a string",
        "com.bad.id": {"CFBundleIdentifier": 12},
        "com.bad.entitlements": {"CFBundleIdentifier": "com.bad.entitlements", "Entitlements": ["x"]},
        "com.number.version": {"CFBundleIdentifier": "com.number.version", "CFBundleShortVersionString": 3},
        "com.bad.flag": {"CFBundleIdentifier": "com.bad.flag", "IsPlaceholder": "yes"},
    }
    inv = one(read_bytes(tmp_path, json.dumps(doc).encode(), "apps.json"))
    assert inv.status == "partial" and inv.reason == "bad-records"
    assert ids(inv) == ["com.tencent.xin", "com.number.version"]
    assert inv.apps[1].version == "3"
    assert inv.problem_count == 4
    assert inv.problems[0] == "app 'com.not.a.dict': expected an object of app attributes, got a string"
    assert inv.problems[1] == "app 'com.bad.id': CFBundleIdentifier is a number, expected a bundle id"


def test_pymobiledevice3_all_records_bad_fails(tmp_path):
    doc = {"com.a": {"CFBundleIdentifier": None}, "com.b": {"CFBundleIdentifier": ["x"]}}
    inv = one(read_bytes(tmp_path, json.dumps(doc).encode()))
    assert inv.status == "failed" and inv.reason == "bad-records" and inv.problem_count == 2


@pytest.mark.parametrize(
    ("content", "reason", "words"),
    [
        (b"[1, 2, 3]", "unknown-format", "JSON that is a list"),
        (b'{"a": 1, "b": [2]}', "unknown-format", "pymobiledevice3 apps list output"),
        (b"{}", "empty", "empty JSON object"),
        (b'{\n  "com.tencent.xin": {\n    "CFBundleIdentifier": "com.tencent.xin",\n', "bad-json", "line 4"),
        (b'{"x": tru}', "bad-json", "not valid JSON"),
        (b"[" * 100_000, "bad-json", "JSON"),
        (b'{"n": ' + b"9" * 5000 + b"}", "bad-json", "JSON"),
        (b'{"com.x": {"CFBundleIdentifier": "com.x",\n"CFBundleName": "\xff"}}', "bad-json", "line 2"),
    ],
)
def test_broken_json_fails_with_a_clear_message(tmp_path, content, reason, words):
    inv = one(read_bytes(tmp_path, content, "x.json"))
    assert inv.status == "failed" and inv.reason == reason
    assert words in inv.message and str(tmp_path / "x.json") in inv.message


# --- a saved scanner report ----------------------------------------------------------------------


def test_saved_report_keeps_devices_statuses_and_apps():
    path = DATA / "report-with-inventory.json"
    android, iphone, offline = read(path)
    assert android.device.serial == "R58M123ABC" and android.device.model == "SM-G991B"
    assert android.device.source == f"{path}: adb"  # the input, then where it was first read
    assert android.status == "partial" and android.reason == "user-refused"  # never upgraded
    assert android.message == "user 10 (Work profile) could not be read: ask the device owner"
    assert android.coverage == (Scope("user 0", True, None, 3), Scope("user 10 (Work profile)", False, "refused"))
    assert android.problem_count == 1 and "SecurityException" in android.problems[0]
    assert ids(android) == ["android", "com.google.android.gm", "com.zhiliaoapp.musically"]
    assert android.apps[0].system is True and android.apps[0].uid == 1000
    assert iphone.status == "complete" and iphone.device.name == "Sam's iPhone" and iphone.device.platform == "ios"
    assert iphone.apps[0] == App("ios", "com.tencent.xin", "WeChat", "8.0.50", "8.0.50.2600", system=False,
                                 team_id="88L2Q4487U", signer="Apple iPhone OS Application Signing")
    assert iphone.apps[1].state == "offloaded"
    assert offline.status == "failed" and offline.reason == "unauthorized" and offline.apps == ()


def test_saved_report_without_inventory_cannot_be_rematched():
    inv = one(read(DATA / "report-without-inventory.json"))
    assert inv.status == "failed" and inv.reason == "no-inventory"
    assert "--inventory" in inv.message and inv.device.platform is None


def _report(devices: list, **top) -> bytes:
    doc = {"schema_version": "1.0", "tool": {"name": "scanner", "version": "0.1.0"}, "inventory_included": True,
           "devices": devices, **top}
    return json.dumps(doc).encode()


def _device(status="complete", inventory=None, **extra) -> dict:
    if inventory is None:
        inventory = [{"platform": "android", "id": "com.tencent.mm", "state": "installed"}]
    return {"device": {"platform": "android", "serial": "S1", "model": None, "os_version": None, "name": None,
                       "source": "adb"}, "status": status, "reason": None, "message": None, "coverage": [],
            "problems": [], "problem_count": 0, "app_count": len(inventory), "findings": [],
            "inventory": inventory, **extra}


def test_saved_report_unknown_major_version_fails(tmp_path):
    inv = one(read_bytes(tmp_path, _report([_device()], schema_version="2.0"), "r.json"))
    assert inv.status == "failed" and inv.reason == "unsupported-schema" and "'2.0'" in inv.message


def test_saved_report_bad_app_records_make_a_complete_device_partial(tmp_path):
    inventory = [
        {"platform": "android", "id": "com.tencent.mm", "state": "installed", "user": 10, "build": 2280},
        {"platform": "android", "id": 42},
        {"platform": "android", "id": "com.x", "state": "exploded"},
        "not an object",
        {"platform": None, "id": "com.inherits.platform", "system": None},
    ]
    inv = one(read_bytes(tmp_path, _report([_device(inventory=inventory)]), "r.json"))
    assert inv.status == "partial" and inv.reason == "bad-records"
    assert [(a.id, a.user, a.build, a.platform) for a in inv.apps] == [
        ("com.tencent.mm", 10, "2280", "android"), ("com.inherits.platform", None, None, "android")]
    assert inv.problem_count == 3
    assert inv.problems[0] == "device #1 app #2: id is a number, expected an app id"
    assert any(not s.read for s in inv.coverage)


def test_saved_report_shorter_than_its_app_count_is_partial(tmp_path):
    device = _device()
    device["app_count"] = 40
    inv = one(read_bytes(tmp_path, _report([device]), "r.json"))
    assert inv.status == "partial" and inv.problem_count == 39
    assert "app_count is 40 but the inventory lists 1" in inv.problems[0]


def test_saved_report_wrong_shapes_never_raise(tmp_path):
    devices = [
        "a string", None, {"device": "nope", "status": "complete", "inventory": {"x": 1}},
        {"device": {"platform": "symbian", "serial": ["x"]}, "status": "exploded", "inventory": [],
         "problems": "not a list", "coverage": [{"scope": 1}]},
        {"device": {"platform": ["unhashable"]}, "status": "partial", "reason": "", "message": None,
         "inventory": [{"id": "com.a", "platform": {}}, {"id": "com.b", "state": []},
                       {"id": "com.c", "platform": "ios"}]},
    ]
    invs = read_bytes(tmp_path, _report(devices), "r.json")
    # Device #4 (unknown status) has no app left: failed, as an export with no app read is (issue 10, item 5).
    assert [i.status for i in invs] == ["failed", "failed", "failed", "failed", "partial"]
    assert [i.reason for i in invs] == ["bad-records"] * 5
    assert ids(invs[4]) == ["com.c"] and invs[4].problem_count == 3
    assert "has the unknown status" in invs[3].message and "'exploded'" in invs[3].message
    assert invs[3].device.platform is None and invs[3].device.serial is None


# --- the fleet CSV -------------------------------------------------------------------------------


def test_csv_multi_device():
    path = DATA / "fleet.csv"
    a, b, c = read(path)
    assert (a.device.platform, a.device.serial, a.device.source) == ("android", "R58M123ABC", str(path))
    assert ids(a) == ["com.tencent.mm", "com.google.android.gm", "com.whatsapp"]  # "Android" is the same device
    assert a.apps[0] == App("android", "com.tencent.mm", "WeChat", "8.0.49")
    assert (b.device.platform, b.device.serial) == ("ios", "00008110-001A2B3C4D5E801E")
    assert ids(b) == ["com.tencent.xin", "com.zhiliaoapp.musically"]
    assert c.apps[1] == App("ios", "com.example.comma", "Name, with comma", "1.0")
    assert [i.status for i in (a, b, c)] == ["complete"] * 3
    assert a.coverage == (Scope("records", read=True, apps=3),)


CSV_HEAD = "platform,device,app_id,name,version\n"


def test_csv_bad_row_makes_only_its_device_partial(tmp_path):
    data = CSV_HEAD + (
        "android,A1,com.tencent.mm,WeChat,8.0\n"
        "android,A1,com.broken,too,many,columns\n"
        "android,A1,com.whatsapp,WhatsApp,2.24\n"
        "ios,I1,com.tencent.xin,WeChat,8.0.50\n"
    )
    a, i = read_bytes(tmp_path, data.encode(), "f.csv")
    assert a.status == "partial" and a.reason == "bad-lines" and ids(a) == ["com.tencent.mm", "com.whatsapp"]
    assert a.problems == ("line 3: expected 5 columns (platform,device,app_id,name,version), found 6",)
    assert "'A1'" in a.message and "line 3" in a.message
    assert i.status == "complete" and ids(i) == ["com.tencent.xin"]


def test_csv_invalid_utf8_with_readable_device_cell(tmp_path):
    data = CSV_HEAD.encode() + b"android,A1,com.a,A,1\nandroid,A1,com.b,Caf\xe9,1\nandroid,A1,com.c,C,1\n"
    inv = one(read_bytes(tmp_path, data, "f.csv"))
    assert inv.status == "partial" and ids(inv) == ["com.a", "com.c"]
    assert inv.problems == ("line 3: not valid UTF-8",)


def test_csv_unattributable_bad_lines_yield_an_input_inventory(tmp_path):
    data = CSV_HEAD.encode() + (
        b"android,A1,com.a,A,1\n"
        b"garbage without commas\n"
        b"android,\xff\xfe,com.b,B,1\n"
        b"ios,,com.c,C,1\n"
        b"ios,I1,com.d,D,1\n"
    )
    a, i, rest = read_bytes(tmp_path, data, "f.csv")
    assert a.status == "complete" and ids(a) == ["com.a"]
    assert i.status == "complete" and ids(i) == ["com.d"]
    assert rest.device.platform is None and rest.device.serial is None and rest.device.source.endswith("f.csv")
    assert rest.status == "partial" and rest.reason == "bad-lines" and rest.apps == ()
    assert rest.problems == (
        "line 3: expected 5 columns (platform,device,app_id,name,version), found 1",
        "line 4: not valid UTF-8",
        "line 5: empty device",
    )
    assert "any device" in rest.message


def test_csv_interleaved_devices_are_separate_runs(tmp_path):
    data = CSV_HEAD + "android,A,com.a1,,\nandroid,A,com.a2,,\nios,B,com.b1,,\nandroid,A,com.a3,,\n"
    invs = read_bytes(tmp_path, data.encode(), "f.csv")
    assert [(i.device.serial, ids(i)) for i in invs] == [("A", ["com.a1", "com.a2"]), ("B", ["com.b1"]),
                                                          ("A", ["com.a3"])]
    assert invs[0].apps[0].name is None and invs[0].apps[0].version is None  # empty cells are unknown


def test_csv_unknown_platform_and_empty_app_id(tmp_path):
    data = CSV_HEAD + (
        "android,A,com.a,,\n"
        "windows,A,com.w,,\n"
        "android,A,,,\n"
        "blackberry,Z,com.z,,\n"
    )
    a, z = read_bytes(tmp_path, data.encode(), "f.csv")
    assert a.status == "partial" and ids(a) == ["com.a"] and a.problem_count == 2
    assert a.problems == ("line 3: platform 'windows' is not android or ios", "line 4: empty app_id")
    assert z.device.serial == "Z" and z.device.platform is None
    assert z.status == "failed" and z.apps == ()


def test_csv_optional_columns_any_order_and_case(tmp_path):
    data = (
        "App_ID,STATE,Device,user,Platform,installer,team_id,build,notes\n"
        "com.tencent.xin,offloaded,I1,,IOS,,88L2Q4487U,8.0.50.2600,x\n"
        "com.tencent.mm,disabled,A1,10,android,com.android.vending,,2280,y\n"
        "com.bad.user,,A1,ten,android,,,,z\n"
        "com.bad.state,broken,A1,0,android,,,,z\n"
    )
    i, a = read_bytes(tmp_path, data.encode(), "f.csv")
    assert i.apps == (App("ios", "com.tencent.xin", build="8.0.50.2600", state="offloaded", team_id="88L2Q4487U"),)
    assert a.apps == (App("android", "com.tencent.mm", build="2280", installer="com.android.vending", user=10,
                          state="disabled"),)
    assert a.status == "partial" and a.problems[0].startswith("line 4: user 'ten' is not a user number")
    assert a.problems[1].startswith("line 5: state 'broken' is not one of")


def test_csv_hostile_cells_are_kept_and_line_numbers_survive_multiline_cells(tmp_path):
    long = "x" * 10_000
    data = CSV_HEAD + (
        f'android,A,com.evil,"\u202eevil\x1b[2J name",1\n'
        f'android,A,com.multi,"line one\nline two\r\nline three",2\n'
        f"android,A,com.long,{long},3\n"
        "android,A,com.short\n"
        'android,A,"com.evil\x1b[2J",x,1\n'
    )
    inv = one(read_bytes(tmp_path, data.encode(), "f.csv"))
    # A bidi mark in a name is text, kept as read (escaping it is the formats' job), but a control character
    # (ESC here) is refused in every value: the row is a bad line whose words are still searched (issue 10).
    assert [(a.id, a.name) for a in inv.apps] == [
        ("com.multi", "line one\nline two\r\nline three"),  # a line break in a name alone may be real
        ("com.long", long),
    ]
    assert inv.problems == (
        "line 2: name '\\u202eevil\\x1b[2J name' holds a control character (NUL padding, ESC, a tab or CR for a "
        "line break...), so the line is damaged or forged and may hide other rows",
        "line 7: expected 5 columns (platform,device,app_id,name,version), found 3",
        "line 8: app_id 'com.evil\\x1b[2J' holds whitespace or a control character, so it is not a real package "
        "name or bundle id",
    )


def test_csv_nul_in_an_app_id_and_a_runaway_quote_on_one_line_make_the_device_partial(tmp_path):
    data = CSV_HEAD + 'android,A,com.a,,\nandroid,A,com.\x00nul,,\nandroid,A,"com.open,' + ("y" * 200_000) + "\n"
    data += "android,A,com.after,,\n"
    device = one(read_bytes(tmp_path, data.encode(), "f.csv"))
    assert ids(device) == ["com.a", "com.after"]
    assert device.status == "partial" and device.reason == "bad-lines" and device.problem_count == 2
    assert device.problems[0].startswith("line 3: app_id 'com.\\x00nul' holds whitespace or a control character")
    # The quote opened on line 4 and csv gave up on that same line: it is A's, and swallowed nothing else.
    assert device.problems[1].startswith("line 4: field larger than field limit")
    assert "never closed" in device.problems[1]


def test_csv_header_only_fails(tmp_path):
    inv = one(read_bytes(tmp_path, CSV_HEAD.encode(), "f.csv"))
    assert inv.status == "failed" and inv.reason == "empty" and "no rows" in inv.message


class CountingRaw(io.RawIOBase):
    """A raw stream that counts the bytes handed out, to see how far a reader got."""

    def __init__(self, data: bytes, fail_after: int | None = None) -> None:
        self.data = memoryview(data)
        self.pos = 0
        self.fail_after = fail_after

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.fail_after is not None and self.pos >= self.fail_after:
            raise OSError(5, "Input/output error")
        n = min(len(buffer), len(self.data) - self.pos)
        buffer[:n] = self.data[self.pos : self.pos + n]
        self.pos += n
        return n


def test_csv_is_streamed_one_device_at_a_time():
    rows = [CSV_HEAD] + [
        f"android,DEV{d:03d},com.example.app{i},App {i},1.{i}\n" for d in range(100) for i in range(2000)
    ]
    data = "".join(rows).encode()
    raw = CountingRaw(data)
    gen = read_input("fleet.csv", io.BufferedReader(raw))
    assert isinstance(gen, types.GeneratorType)
    assert raw.pos == 0  # nothing is read before the first inventory is asked for
    first = next(gen)
    assert first.device.serial == "DEV000" and len(first.apps) == 2000 and first.status == "complete"
    assert raw.pos < len(data) // 20  # only the first device's rows (and a buffer) were read
    rest = list(gen)
    assert len(rest) == 99 and raw.pos == len(data)
    assert sum(len(i.apps) for i in rest) == 198_000 and all(i.status == "complete" for i in rest)


def test_read_error_midway_keeps_what_was_read_and_says_where_it_stopped():
    data = (CSV_HEAD + "".join(f"android,A,com.app{i},,\n" for i in range(5000))).encode()
    invs = list(read_input("f.csv", io.BufferedReader(CountingRaw(data, fail_after=32 * 1024), buffer_size=8192)))
    device, rest = invs
    assert device.status == "partial" and device.reason == "read-error" and 0 < len(device.apps) < 5000
    assert "reading stopped at line" in device.message
    assert rest.status == "partial" and rest.reason == "read-error" and "input/output error" in rest.message


# --- whole-file failures, stdin, the connector ---------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason", "words"),
    [
        (b"", "empty", "is empty"),
        (b"\n\r\n  \n", "empty", "is empty"),
        (b"\xef\xbb\xbf", "empty", "is empty"),
        (bytes(range(256)) * 40, "not-text", "not UTF-8"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "not-text", "not UTF-8"),
        ("package:com.tencent.mm\r\n".encode("utf-16"), "not-text", "UTF-16"),
        (b"hello\nworld\n", "unknown-format", "line 1"),
        (b"\n\nplatform,serial,bundle\nios,x,y\n", "unknown-format", "line 3"),
    ],
)
def test_whole_file_failures_name_the_file_and_the_accepted_formats(tmp_path, content, reason, words):
    path = tmp_path / "input.bin"
    inv = one(read_bytes(tmp_path, content, path.name))
    assert inv.status == "failed" and inv.reason == reason and inv.apps == ()
    assert words in inv.message and str(path) in inv.message
    assert inv.device.source == str(path) and inv.device.platform is None
    if reason in ("empty", "unknown-format"):
        assert "pm list packages" in inv.message and "platform,device,app_id" in inv.message


def test_missing_file_and_directory(tmp_path):
    missing = one(read(tmp_path / "nope.txt"))
    assert missing.status == "failed" and missing.reason == "unreadable" and "does not exist" in missing.message
    folder = one(read(tmp_path))
    assert folder.status == "failed" and folder.reason == "unreadable" and "is a folder" in folder.message
    assert folder.device.source == str(tmp_path)


def test_stdin_stream():
    inv = one(list(read_input("-", stream=io.BytesIO(f"{WECHAT_PM}\n".encode()))))
    assert inv.device.source == "-" and ids(inv) == ["com.tencent.mm"] and inv.status == "complete"
    empty = one(list(read_input("-", stream=io.BytesIO(b""))))
    assert empty.reason == "empty" and empty.message.startswith("stdin is empty")


def test_file_connector_is_a_connector():
    connector: Connector = FileConnector(str(DATA / "fleet.csv"))
    assert connector.name.endswith("fleet.csv")
    assert [i.device.serial for i in connector.inventories()] == [
        "R58M123ABC", "00008110-001A2B3C4D5E801E", "00008101-000A1B2C3D4E5F60"]
    streamed = FileConnector("-", io.BytesIO(b"Total: 1 apps\ncom.tencent.xin - WeChat 8.0.50\n"))
    assert ids(one(list(streamed.inventories()))) == ["com.tencent.xin"]


def test_scanner_error_str_is_the_message():
    err = ScannerError("cannot reach the adb server on port 5037: start it with `adb start-server`")
    assert str(err) == "cannot reach the adb server on port 5037: start it with `adb start-server`"


def _check(invs: list[Inventory], name: str) -> None:
    assert invs, "every input yields at least one inventory"
    for inv in invs:
        assert inv.device.source == name or inv.device.source.startswith(f"{name}: ")
        assert inv.status in STATUSES
        assert inv.problem_count >= len(inv.problems) and len(inv.problems) <= MAX_PROBLEMS
        if inv.status != "complete":
            assert inv.reason and inv.message
        for app in inv.apps:
            assert app.platform in PLATFORMS and app.state in APP_STATES and app.id
            app.id.encode("utf-8")  # no surrogate escapes of undecodable bytes leak out


def test_random_and_mangled_inputs_never_raise(tmp_path):
    seeds = [
        f"{FRAMEWORK_PM}\n{WECHAT_PM}\n".encode(),
        (DATA / "fleet.csv").read_bytes(),
        (DATA / "pymobiledevice3-apps-list.json").read_bytes(),
        (DATA / "report-with-inventory.json").read_bytes(),
        (DATA / "ideviceinstaller-csv.txt").read_bytes(),
        (DATA / "ideviceinstaller-old.txt").read_bytes(),
    ]
    rng = random.Random(13971)
    path = tmp_path / "mangled"
    for round_ in range(300):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 8)):
            pos = rng.randrange(len(data))
            op = rng.randrange(3)
            if op == 0:
                data[pos] = rng.randrange(256)
            elif op == 1:
                del data[pos : pos + rng.randint(1, 40)]
            else:
                data[pos:pos] = rng.choice([b"\n", b",", b'"', b"\x00", b"\xff", b"=", b"{", b"\x1b[0m", b"\r"])
        path.write_bytes(bytes(data))
        _check(read(path), str(path))
    for size in (1, 7, 100, 5000):
        path.write_bytes(rng.randbytes(size))
        _check(read(path), str(path))


def test_json_lone_surrogate_escapes_are_bad_records_not_text(tmp_path):
    doc = '{"com.a": {"CFBundleIdentifier": "com.a\\udc80"}, "com.b": {"CFBundleIdentifier": "com.b", ' \
          '"CFBundleDisplayName": "B\\ud800"}, "com.c": {"CFBundleIdentifier": "com.c", "CFBundleName": "C\\u202e"}}'
    inv = one(read_bytes(tmp_path, doc.encode(), "apps.json"))
    assert inv.status == "partial" and inv.reason == "bad-records"
    assert inv.apps == (App("ios", "com.c", "C\u202e"),)  # a bidi mark is text and is kept
    assert inv.problems == ("app 'com.a': CFBundleIdentifier holds a lone surrogate escape, which is not text",
                            "app 'com.b': CFBundleDisplayName holds a lone surrogate escape, which is not text")


# --- a quote never closed: what it swallowed is never "complete" -----------------------------------

DAMAGED = DATA / "damaged"  # inputs damaged or edited by hand, one way each


@pytest.mark.parametrize("file", ["fleet-quote-never-closed-in-version.csv", "fleet-quote-never-closed-in-name.csv",
                                  "fleet-quote-never-closed-in-app-id.csv"])
def test_csv_quote_never_closed_is_a_bad_line_of_its_device_at_the_line_it_opened(file):
    path = DAMAGED / file
    device, rest = read(path)
    # The quote opened on line 2 (dev1's row) and the file ended inside it: com.tencent.mm was swallowed.
    assert device.device.serial == "dev1" and device.status == "failed" and device.reason == "bad-lines"
    assert device.problems[0].startswith("line 2: a quote opened on this line is never closed")
    assert device.problems[0].endswith(("it swallowed line 3, which was not read",
                                        "it swallowed lines 3-4, which were not read"))
    assert rest.device.serial is None and rest.status == "partial" and rest.reason == "bad-lines"
    assert rest.problems[0].startswith(("line 3: swallowed by the quote opened on line 2",
                                        "lines 3-4: swallowed by the quote opened on line 2"))
    assert rest.problem_count == (2 if file == "fleet-quote-never-closed-in-name.csv" else 1)
    assert "could hold rows of any device" in rest.problems[0]


def test_csv_quote_never_closed_after_good_rows_keeps_them_and_is_partial(tmp_path):
    data = CSV_HEAD + "android,A,com.a,A,1\nandroid,A,com.b,\"B,1\nandroid,A,com.tencent.mm,WeChat,8.0\n"
    device, rest = read_bytes(tmp_path, data.encode(), "f.csv")
    assert ids(device) == ["com.a"] and device.status == "partial" and device.problem_count == 1
    assert device.problems[0].startswith("line 3: a quote opened on this line is never closed")
    assert rest.status == "partial" and rest.problems == (
        "line 4: swallowed by the quote opened on line 3, so it could hold rows of any device",)


def _runaway(first_device_rows: int) -> bytes:
    """A fleet CSV where a quote opened on a row of dev2 swallows rows until csv's field size limit."""
    rows = [CSV_HEAD] + [f"android,dev1,com.one{i},One,1\n" for i in range(first_device_rows)]
    rows.append('android,dev2,com.a,"x,1\n')
    rows += [f"android,dev2,com.b{i},B,1\n" for i in range(20_000)]
    rows.append("android,dev2,com.tencent.mm,W,1\n")
    return "".join(rows).encode()


@pytest.mark.parametrize("before", [0, 3])
def test_csv_runaway_quote_over_the_field_limit_makes_its_own_device_partial(tmp_path, before):
    invs = read_bytes(tmp_path, _runaway(before), "huge.csv")
    *devices, rest = invs
    if before:
        assert devices[0].device.serial == "dev1" and devices[0].status == "complete" and len(devices[0].apps) == 3
    dev2 = devices[-1]
    assert dev2.device.serial == "dev2" and dev2.status == "partial" and dev2.reason == "bad-lines"
    opened = before + 2
    assert dev2.problems[0].startswith(f"line {opened}: field larger than field limit (131072), probably a quote "
                                       f"that is never closed; it swallowed lines {opened + 1}-")
    assert ids(dev2)[-1] == "com.tencent.mm"  # csv reads on after the line where it gave up
    assert rest.status == "partial" and rest.problems[0].startswith(f"lines {opened + 1}-")
    swallowed = rest.problem_count
    assert swallowed > 1000 and len(dev2.apps) + swallowed + 1 == 20_002


def test_csv_quote_closed_rows_later_with_the_right_width_is_still_caught(tmp_path):
    data = CSV_HEAD + (
        "android,A,com.a,A,1\n"
        # A stray quote in a name, closed on the next line: WeChat's row ends up inside the name.
        'android,A,com.foo,"Foo,1.0\nandroid,A,com.tencent.mm,WeChat",8.0\n'
        # A line break inside the device cell: the row's device and app come from different lines.
        'android,"B\nandroid",com.b,B,1\n'
        'android,"A",com.x"y,X,1\n'  # a quote inside an unquoted value: read, but not a package name
        'android,A,"com.z"z,Z,1\n'  # a quoted value followed by text
        'android,A,com.multi,"Two\nlines",1\n'  # a line break in a name alone may be real data
    )
    device, rest = read_bytes(tmp_path, data.encode(), "f.csv")
    assert ids(device) == ["com.a", "com.multi"] and device.status == "partial"
    assert device.problems == (
        "line 3: a quoted value runs over several lines and holds what look like rows of the file (a stray "
        "quote?); it swallowed line 4, which was not read",
        "line 7: app_id 'com.x\"y' is not a package name or bundle id (letters, digits, '_' and '-' in "
        "dot-separated labels): was something else pasted into this column?",
        "line 8: a quoted value is followed by other text before the next comma (',' expected after '\"')",
    )
    assert rest.problems == (
        "line 4: swallowed by the quote opened on line 3, so it could hold rows of any device",
        "line 6: swallowed by the quote opened on line 5, so it could hold rows of any device",
        "line 5: a line break inside the platform, device or app_id value; it swallowed line 6, which was not read",
    )


def test_ideviceinstaller_csv_quote_never_closed_is_not_complete():
    inv = one(read(DAMAGED / "ideviceinstaller-csv-quote-never-closed.txt"))
    assert inv.status == "failed" and inv.reason == "bad-lines" and inv.apps == ()
    assert inv.problem_count == 2
    assert inv.problems == ("line 2: a quote opened on this line is never closed (the file ends inside it); it "
                            "swallowed line 3, which was not read",)


def test_ideviceinstaller_csv_quote_swallowing_rows_into_a_name(tmp_path):
    data = (
        "CFBundleIdentifier, CFBundleShortVersionString, CFBundleDisplayName\n"
        'com.a, "1.0", "A\ncom.tencent.xin, 8, WeChat"\n'
        'com.b, "1.0", "B"\n'
    ).encode()
    inv = one(read_bytes(tmp_path, data))
    assert inv.status == "partial" and ids(inv) == ["com.b"] and inv.problem_count == 2
    assert inv.problems[0].startswith("line 2: a quoted value runs over several lines")


# --- whitespace around cells and ids that are not ids --------------------------------------------


def test_csv_spaces_after_commas_and_trailing_spaces_are_not_part_of_the_values(tmp_path):
    # "platform, device, app_id" / "android, dev1, com.tencent.mm"
    sp = one(read(DATA / "fleet-spaces-after-commas.csv"))
    assert sp.status == "complete" and sp.device.serial == "dev1" and ids(sp) == ["com.tencent.mm"]
    ts = one(read(DATA / "fleet-trailing-space-in-id.csv"))  # "com.tencent.mm " (trailing space)
    assert ts.status == "complete" and ids(ts) == ["com.tencent.mm", "COM.TENCENT.MM"]
    data = CSV_HEAD + "android,dev1,com.a,  Name A  ,  1.0 \nandroid,dev1 , com.b ,B,2\n Android , dev1,com.c,,\n"
    inv = one(read_bytes(tmp_path, data.encode(), "f.csv"))  # one device, however it is spaced
    assert inv.status == "complete" and inv.device.serial == "dev1"
    assert inv.apps == (App("android", "com.a", "Name A", "1.0"), App("android", "com.b", "B", "2"),
                        App("android", "com.c"))


def test_csv_optional_columns_are_stripped_too(tmp_path):
    data = "platform,device,app_id,user,state,team_id\nios, I1 , com.x ,  , offloaded , TEAM1 \n"
    inv = one(read_bytes(tmp_path, data.encode(), "f.csv"))
    assert inv.apps == (App("ios", "com.x", state="offloaded", team_id="TEAM1"),) and inv.device.serial == "I1"


@pytest.mark.parametrize("bad_id", ["com.a\x00", "com.\tx", "com.a b", "com.a\u202e", "com.a\u200b", "com.a\u00a0b",
                                    "com.a\nb", "\x1b[2Jcom.a"])
def test_csv_app_id_with_whitespace_or_control_characters_is_a_bad_line(tmp_path, bad_id):
    quoted = '"' + bad_id + '"' if "\n" in bad_id else bad_id
    data = f"platform,device,app_id\nandroid,d,com.ok\nandroid,d,{quoted}\n"
    invs = read_bytes(tmp_path, data.encode(), "f.csv")
    assert invs[0].status == "partial" and ids(invs[0]) == ["com.ok"] and invs[0].problems[0].startswith("line 3:")


def test_csv_ids_followed_by_a_nul_are_not_apps():
    inv = one(read(DAMAGED / "fleet-nul-after-ids.csv"))
    assert inv.status == "failed" and inv.apps == () and inv.problem_count == 2
    assert "'com.tencent.mm\\x00' holds whitespace or a control character" in inv.problems[1]


def test_csv_a_clean_id_repeated_across_devices_is_still_checked_each_time(tmp_path):
    data = CSV_HEAD + "android,A,com.x,,\nandroid,B,com.x,,\nandroid,B,com.x\x00,,\nandroid,C,com.x,,\n"
    a, b, c = read_bytes(tmp_path, data.encode(), "f.csv")
    assert [i.status for i in (a, b, c)] == ["complete", "partial", "complete"]


def test_pm_nul_after_the_package_is_a_bad_line():
    inv = one(read(DAMAGED / "pm-nul-after-package.txt"))
    assert inv.status == "partial" and ids(inv) == ["com.a"]
    assert inv.problems[0].startswith("line 2: package 'com.tencent.mm\\x00' holds whitespace or a control")


def test_pm_without_final_newline_may_be_cut(tmp_path):
    # pm ends every line it prints: "package:com.tencent.m" may be what is left of com.tencent.mm.
    inv = one(read_bytes(tmp_path, b"package:com.a\npackage:com.tencent.m"))
    assert inv.status == "partial" and inv.reason == "truncated" and ids(inv) == ["com.a", "com.tencent.m"]
    assert "line 2" in inv.message and "line break" in inv.message


def test_ideviceinstaller_ids_are_stripped_and_control_characters_are_bad_lines(tmp_path):
    old = "Total: 3 apps\n  com.tencent.xin - WeChat 8.0.50  \ncom.bad\x1b[2J - Bad 1\ncom.ok - OK 2\n"
    inv = one(read_bytes(tmp_path, old.encode()))
    assert inv.status == "partial" and [(a.id, a.name, a.version) for a in inv.apps] == [
        ("com.tencent.xin", "WeChat", "8.0.50"), ("com.ok", "OK", "2")]
    assert inv.problems[0].startswith("line 3: bundle id 'com.bad\\x1b[2J' holds whitespace or a control")
    csv_form = ("CFBundleIdentifier, CFBundleShortVersionString, CFBundleDisplayName\n"
                "com.tencent.xin , 8.0 , WeChat \n\"com.nul\x00\", \"1\", \"N\"\n")
    inv = one(read_bytes(tmp_path, csv_form.encode()))
    assert inv.status == "partial" and inv.apps == (App("ios", "com.tencent.xin", "WeChat", "8.0"),)
    assert inv.problems[0].startswith("line 3: CFBundleIdentifier 'com.nul\\x00' holds whitespace")


def test_pymobiledevice3_ids_are_stripped_and_whitespace_inside_is_a_bad_record(tmp_path):
    inv = one(read(DATA / "pymobiledevice3-id-with-leading-spaces.json"))  # "CFBundleIdentifier": "  com.tencent.xin"
    assert inv.status == "complete" and ids(inv) == ["com.a", "com.tencent.xin"]
    doc = {" com.b ": {"CFBundleIdentifier": "com.b"}, "com.c\t": {}, "com.d\u202e": {"CFBundleName": "D"},
           "com.e": {"CFBundleIdentifier": "com.e\x00"}}
    inv = one(read_bytes(tmp_path, json.dumps(doc).encode(), "apps.json"))
    assert inv.status == "partial" and ids(inv) == ["com.b", "com.c"] and inv.problem_count == 2
    assert inv.problems == (
        "app 'com.d\\u202e': the key 'com.d\\u202e' holds whitespace or a control character, so it is not a real "
        "package name or bundle id",
        "app 'com.e': CFBundleIdentifier 'com.e\\x00' holds whitespace or a control character, so it is not a real "
        "package name or bundle id",
    )


def test_saved_report_ids_are_stripped_and_control_characters_are_bad_records(tmp_path):
    inventory = [{"platform": "android", "id": " com.a "}, {"platform": "android", "id": "com.tencent.mm\x00"}]
    inv = one(read_bytes(tmp_path, _report([_device(inventory=inventory)]), "r.json"))
    assert inv.status == "partial" and inv.reason == "bad-records" and ids(inv) == ["com.a"]
    assert inv.problems[0].startswith("device #1 app #2: id 'com.tencent.mm\\x00' holds whitespace")


# --- a saved report edited by hand ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "why"),
    [
        # problem_count 1, problems listed
        ("report-complete-with-unread-records-and-problems.json", "its coverage says 'records' was not read"),
        ("report-complete-with-unread-records.json", "its coverage says 'records' was not read"),
        ("report-complete-without-app-count.json",
         "its coverage counts 2 apps in 'records' but the inventory lists 0"),
        ("report-complete-app-count-as-string.json", "its coverage counts 2 apps"),  # app_count "2"
        ("report-complete-app-count-as-float.json", "its coverage counts 2 apps"),  # app_count 2.0
        ("report-complete-app-count-below-coverage.json",
         "its coverage counts 2 apps in 'records' but the inventory lists 1"),
        ("report-complete-coverage-as-string.json", "its coverage is a string, not a list"),
    ],
)
def test_saved_report_edited_to_complete_is_partial(file, why):
    inv = one(read(DAMAGED / file))
    assert inv.status == "partial" and inv.reason == "bad-records"
    assert f"saved as complete, but the saved report is inconsistent ({why}" in inv.message
    assert inv.message.endswith("scan the device again")
    assert Scope("records", read=False, reason="the saved report is inconsistent") in inv.coverage
    assert any(p.startswith(f"device #1: saved as complete but {why}") for p in inv.problems)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"app_count": None}, "its app_count is null, not a whole number"),
        ({"app_count": "1"}, 'its app_count is "1", not a whole number'),
        ({"app_count": 1.0}, "its app_count is 1.0, not a whole number"),
        ({"app_count": True}, "its app_count is true, not a whole number"),
        ({"app_count": -1}, "its app_count is -1, not a whole number"),
        ({"app_count": 0}, "its app_count is 0 but the inventory lists 1"),
        ({"problem_count": 1}, "its problem_count is 1"),
        ({"problems": ["line 2: bad"]}, 'it lists problems (["line 2: bad"])'),
        ({"coverage": [{"scope": "user 10", "read": False, "reason": "refused", "apps": None}]},
         "its coverage says 'user 10' was not read"),
    ],
)
def test_saved_report_complete_device_must_be_consistent(tmp_path, change, why):
    inv = one(read_bytes(tmp_path, _report([_device(**change)]), "r.json"))
    assert inv.status == "partial" and inv.reason == "bad-records" and ids(inv) == ["com.tencent.mm"]
    assert inv.problems[0] == f"device #1: saved as complete but {why}"


def test_saved_report_missing_app_count_is_inconsistent_and_consistent_ones_stay_complete(tmp_path):
    # Its coverage counts its one app: an empty coverage under an app is inconsistent too (issue 10, item 5).
    device = _device(coverage=[{"scope": "records", "read": True, "reason": None, "apps": 1}])
    del device["app_count"]
    inv = one(read_bytes(tmp_path, _report([device]), "r.json"))
    assert inv.status == "partial" and inv.problems == ("device #1: saved as complete but its app_count is missing",)
    ok = _device(coverage=[{"scope": "records", "read": True, "reason": None, "apps": 1}])
    assert one(read_bytes(tmp_path, _report([ok]), "r.json")).status == "complete"
    # Never upgraded: a partial device whose fields were "cleaned" stays partial.
    partial = _device(status="partial", reason="bad-lines", message="1 line could not be read")
    assert one(read_bytes(tmp_path, _report([partial]), "r.json")).status == "partial"


# --- duplicate JSON keys and keys that disagree with their record --------------------------------


def test_pymobiledevice3_duplicate_keys_are_bad_records_and_every_value_is_read(tmp_path):
    inv = one(read(DAMAGED / "pymobiledevice3-key-twice.json"))
    assert inv.status != "complete" and inv.reason == "bad-records"
    assert inv.problems[0] == ("app 'x': listed more than once (the same JSON key twice), so the file was edited "
                               "or damaged")
    text = ('{"com.tencent.xin": {"CFBundleIdentifier": "com.tencent.xin"}, "com.a": {"CFBundleIdentifier": "com.a"}, '
            '"com.tencent.xin": {"CFBundleIdentifier": "com.tencent.xin", "CFBundleDisplayName": "WeChat"}}')
    inv = one(read_bytes(tmp_path, text.encode(), "apps.json"))
    assert inv.status == "partial" and ids(inv) == ["com.tencent.xin", "com.a", "com.tencent.xin"]
    inner = '{"com.a": {"CFBundleIdentifier": "com.tencent.xin", "CFBundleIdentifier": "com.a"}, "com.b": {}}'
    inv = one(read_bytes(tmp_path, inner.encode(), "apps.json"))
    assert inv.status == "partial" and ids(inv) == ["com.b"]
    assert inv.problems == ("app 'com.a': 'CFBundleIdentifier' given more than once, so the record was edited or "
                            "damaged",)


def test_pymobiledevice3_key_that_differs_from_its_bundle_id_is_a_bad_record_naming_both(tmp_path):
    inv = one(read(DAMAGED / "pymobiledevice3-key-and-id-differ.json"))
    assert inv.status == "partial" and inv.reason == "bad-records" and ids(inv) == ["com.a"]
    assert inv.problems == ("app 'com.tencent.xin': the key and CFBundleIdentifier 'com.a' name different apps, so "
                            "the file was edited or damaged",)
    same = {" COM.Tencent.Xin ": {"CFBundleIdentifier": "com.tencent.xin "}}  # the same id, spelled another way
    inv = one(read_bytes(tmp_path, json.dumps(same).encode(), "apps.json"))
    assert inv.status == "complete" and ids(inv) == ["com.tencent.xin"]


def test_saved_report_duplicate_keys_are_never_trusted(tmp_path):
    device = json.dumps(_device())
    text = _report([]).decode().replace('"devices": []', f'"devices": [{device[:-1]}, "status": "complete"}}]')
    assert text.count('"status": "complete"') == 2
    inv = one(read_bytes(tmp_path, text.replace('"status": "complete"', '"status": "partial"', 1).encode(), "r.json"))
    assert inv.status == "partial" and inv.reason == "bad-records"
    assert inv.problems[0] == "device #1: 'status' given more than once"
    app = '{"platform": "android", "id": "com.tencent.mm", "id": "com.a"}'
    original = '{"platform": "android", "id": "com.tencent.mm", "state": "installed"}'
    text = _report([_device()]).decode().replace(original, app)
    inv = one(read_bytes(tmp_path, text.encode(), "r.json"))
    assert inv.status == "failed" and inv.problems[0].startswith("device #1 app #1: 'id' given more than once")
    top = _report([_device()]).decode()
    top = top[:-1] + ', "devices": []}'
    inv = one(read_bytes(tmp_path, top.encode(), "r.json"))
    assert inv.status == "failed" and inv.reason == "bad-json" and "'devices' more than once" in inv.message


def test_csv_carriage_return_inside_an_unquoted_value_is_not_dropped_in_silence(tmp_path):
    data = CSV_HEAD.encode() + b"android,A,com.a,,\nandroid,A,com.tencent.mm\r,x,1\nandroid,A,com.b,,\n"
    (device,) = read_bytes(tmp_path, data, "f.csv")  # the line's device is readable: the fault is A's
    assert ids(device) == ["com.a", "com.b"] and device.status == "partial"
    assert device.problems == ("line 3: a carriage return (CR) inside a value that is not quoted",)


def test_csv_carriage_return_swallowing_a_row_makes_that_device_partial(tmp_path):
    data = CSV_HEAD.encode() + b"ios,d1,com.apple.Maps,Maps,1\rios,d1,com.tencent.xin,WeChat,8\r\nios,d1,com.x,X,2\n"
    (device,) = read_bytes(tmp_path, data, "f.csv")
    assert device.device.serial == "d1" and device.status == "partial" and ids(device) == ["com.x"]


@pytest.mark.parametrize("data", [
    b"com.apple.Maps - Maps 1.0\rcom.tencent.xin - WeChat 8.0.1\rcom.example.x - X 2.0\r",
    b'CFBundleIdentifier, CFBundleShortVersionString, CFBundleDisplayName\rcom.tencent.xin, "8.0", "WeChat"\r',
    b"platform,device,app_id\rios,d1,com.tencent.xin\r",
    b"package:com.a\rpackage:com.tencent.mm\r",
])
def test_bare_carriage_return_line_ends_are_refused_not_read_as_one_record(tmp_path, data):
    inv = one(read_bytes(tmp_path, data))
    assert inv.status == "failed" and inv.reason == "unknown-format" and "bare carriage return" in inv.message


def test_a_carriage_return_inside_an_old_form_line_hides_nothing(tmp_path):
    data = b"com.apple.Maps - Maps 1.0\ncom.example.x - X 2.0\rcom.tencent.xin - WeChat 8.0\n"
    inv = one(read_bytes(tmp_path, data))
    assert inv.status == "partial" and ids(inv) == ["com.apple.Maps"]
    assert inv.problems[0].startswith("line 2: a line break or control character inside")


def test_csv_unreadable_platform_cell_is_a_problem_of_the_device_seen_before(tmp_path):
    data = b"platform,device,app_id\nandroid,d1,com.a\nandroid,d2,com.b\nandr\xffoid,d1,com.tencent.mm\n"
    first, second, third = read_bytes(tmp_path, data, "f.csv")
    assert [(i.device.platform, i.device.serial) for i in (first, second, third)] == [
        ("android", "d1"), ("android", "d2"), ("android", "d1")]
    assert third.problems == ("line 4: not valid UTF-8",) and first.status == "complete"
