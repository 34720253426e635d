"""The pm and ideviceinstaller readers never answer a false "clean" (issue 10).

A line that holds a control character, or more than one record (a lost line
break, a copy from a narrow console), is a bad line, never an app with a
poisoned field; its text is still searched for whole catalog ids, so a
prohibited app on it is reported as "recovered" and the device is never
complete. Harmless noise a person's copy carries (adb's own status lines
before the listing, spaces after a closing quote, CRLF) costs no app.

Every input is written to tmp_path as bytes: what is tested is exactly what is on disk.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scanner import scan
from scanner.connectors.android.parse import parse_listing
from scanner.connectors.files import read_input
from scanner.model import EXIT_CLEAN, EXIT_FINDINGS_INCOMPLETE, EXIT_INCOMPLETE, App, Inventory
from scanner.simulator.ios import IOSSimulator
from scanner.simulator.profile import AppProfile, DeviceProfile

WECHAT_F = "package:/data/app/~~x==/com.tencent.mm-y==/base.apk=com.tencent.mm"
GMAIL_F = "package:/data/app/~~a==/com.google.android.gm-b==/base.apk=com.google.android.gm"
CHROME = "package:/product/app/Chrome/Chrome.apk=com.android.chrome versionCode:631208233  installer=null uid:10087"
IDEVICE_CSV_HEAD = "CFBundleIdentifier, CFBundleShortVersionString, CFBundleDisplayName\n"
SAFARI_CSV = 'com.apple.mobilesafari, "17.5", "Safari"\n'


def read_bytes(tmp_path: Path, data: bytes, name: str = "input.txt") -> list[Inventory]:
    path = tmp_path / name
    path.write_bytes(data)
    return list(read_input(str(path)))


def one(tmp_path: Path, data: bytes) -> Inventory:
    invs = read_bytes(tmp_path, data)
    assert len(invs) == 1, invs
    return invs[0]


def ids(inv: Inventory) -> list[str]:
    return [a.id for a in inv.apps]


def scanned(tmp_path: Path, data: bytes):
    """(exit code, [(platform, id, match) of each finding], status) of a scan of `data` with the default policies."""
    path = tmp_path / "scan.txt"
    path.write_bytes(data)
    report = scan([str(path)])
    (result,) = report.results
    found = sorted({(f.app.platform, f.app.id, f.match) for f in result.findings})
    return report.exit_code, found, result.status


def cli_json(tmp_path: Path, data: bytes) -> tuple[int, dict]:
    """The real command line: `scanner scan -i FILE --format json`."""
    path = tmp_path / "cli.txt"
    path.write_bytes(data)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-m", "scanner", "scan", "-i", str(path), "--format", "json"],
                          capture_output=True, env=env, timeout=120, cwd=tmp_path)
    assert b"Traceback" not in proc.stderr, proc.stderr.decode()
    return proc.returncode, json.loads(proc.stdout)


# --- 1. control characters are refused in every field ----------------------------------------------


@pytest.mark.parametrize("line", [
    "package:com.a  installer=com.android.vending\x00\x00\x00\x00",  # NUL padding after a crash
    "package:/data/app/x/base.apk=com.a versionCode:1  installer=com.android.vending\x00 uid:10001",
    "package:/data/app/\x1b[31m/base.apk=com.a",  # ESC inside a -f path
    "package:/data/app/\u202egpj.apk=com.a",  # a bidi override in the path
    "package:com.a  installer=com.android.vending\u200f",  # a bidi mark after the installer
    "package:com.a\x1c",  # a control character Python calls whitespace: never stripped away
    "package:com.a\x0b",
    "package:com.a\u2028",
    "package:com.a  installer=com.android.vending\x85",
])
def test_a_control_character_in_any_field_of_a_pm_line_makes_a_bad_line(tmp_path, line):
    inv = one(tmp_path, f"package:com.google.android.gm\n{line}\n".encode())
    assert inv.status == "partial" and inv.reason == "bad-lines" and ids(inv) == ["com.google.android.gm"]
    assert inv.problems[0].startswith("line 2:") and "com.a" in inv.residue


def test_pm_nul_padding_message_says_what_is_wrong(tmp_path):
    inv = one(tmp_path, b"package:com.a\npackage:com.b  installer=com.android.vending\x00\x00\n")
    assert inv.problems[0].startswith("line 2: a control, format or line-break character (NUL padding")


@pytest.mark.parametrize("row", [
    'com.a, "1.0\x00\x00\x00", "A"',  # NUL padding in the version
    'com.a, "1.0", "\x1b[2JA"',  # ESC in the name
    'com.a, "1.0", "A\u202e"',  # a bidi override in the name
    'com.a, "1.0\x1c", "A"',
    'com.a\x1c, "1.0", "A"',  # after the id: clean_id strips it, the row is still refused
])
def test_a_control_character_in_any_value_of_an_ideviceinstaller_csv_row_makes_a_bad_line(tmp_path, row):
    inv = one(tmp_path, (IDEVICE_CSV_HEAD + SAFARI_CSV + row + "\n").encode())
    assert inv.status == "partial" and ids(inv) == ["com.apple.mobilesafari"]
    assert inv.problems[0].startswith("line 3:") and "com.a" in inv.residue


@pytest.mark.parametrize("line", [
    "com.a - A 1.0\x1c",  # whitespace to str.strip(), a control character to everyone else
    "com.a - A 1.0\x85",
    "com.a - A 1.0\u2028",
    "com.a - A\x00\x00 1.0",
])
def test_a_control_character_in_an_old_form_ideviceinstaller_line_makes_a_bad_line(tmp_path, line):
    inv = one(tmp_path, f"com.apple.mobilesafari - Safari 17.5\n{line}\n".encode())
    assert inv.status == "partial" and ids(inv) == ["com.apple.mobilesafari"]
    assert inv.problems[0].startswith("line 2: a line break or control character inside")


# --- 2. two pm lines joined into one ---------------------------------------------------------------


def test_two_f_lines_joined_into_one_hide_no_app(tmp_path):
    data = f"{WECHAT_F}{GMAIL_F}\n{CHROME}\n".encode()
    inv = one(tmp_path, data)
    assert inv.status == "partial" and ids(inv) == ["com.android.chrome"]  # never "Gmail only"
    assert inv.problems[0].startswith("line 1: 2 'package:' records on one line")
    # the join glues WeChat's id to the next record ("com.tencent.mmpackage:"): it is still found
    assert {"com.tencent.mm", "com.google.android.gm"} <= set(inv.residue)
    assert scanned(tmp_path, data) == (EXIT_FINDINGS_INCOMPLETE, [("android", "com.tencent.mm", "recovered")],
                                       "partial")


def test_the_joined_f_lines_from_the_review_exit_5_on_the_command_line(tmp_path):
    code, doc = cli_json(tmp_path, f"{WECHAT_F}{GMAIL_F}\n".encode())
    assert code == EXIT_FINDINGS_INCOMPLETE == doc["exit_code"]
    (device,) = doc["devices"]
    assert device["status"] == "failed"  # its only line could not be read
    assert [(f["app"]["id"], f["match"]) for f in device["findings"]] == [("com.tencent.mm", "recovered")]


@pytest.mark.parametrize("line", [
    "package:com.google.android.gmpackage:com.tencent.mm",  # names only, joined
    "package:com.google.android.gm package:com.tencent.mm",  # a narrow console
    f"package:com.google.android.gm {WECHAT_F}",
    "whatever package:com.tencent.mm",
])
def test_several_pm_records_on_one_line_are_a_bad_line_that_is_searched(tmp_path, line):
    data = f"{CHROME}\n{line}\n".encode()
    inv = one(tmp_path, data)
    assert inv.status == "partial" and ids(inv) == ["com.android.chrome"] and "com.tencent.mm" in inv.residue
    assert scanned(tmp_path, data)[:2] == (EXIT_FINDINGS_INCOMPLETE, [("android", "com.tencent.mm", "recovered")])


def test_the_live_listing_shares_the_stricter_pm_grammar():
    # android/parse.py reads a live `pm list packages` with the same pm_line: an ESC in a path is a problem there too.
    listing = parse_listing((b"package:/data/app/\x1b[2J/base.apk=com.a", b"package:com.b  installer=null\r"), "pm")
    assert list(listing.entries) == ["com.b"] and listing.problems[0].startswith("pm line 1:")


# --- 3. the old ideviceinstaller form: joined lines ------------------------------------------------


def test_old_form_lines_joined_into_one_hide_no_app(tmp_path):
    data = b"com.apple.mobilesafari - Safari 17.5com.tencent.xin - WeChat 8.0.50\ncom.apple.Maps - Maps 1.0\n"
    inv = one(tmp_path, data)
    assert inv.status == "partial" and ids(inv) == ["com.apple.Maps"]
    assert inv.problems[0].startswith("line 1: more than one record on one line")
    assert "com.tencent.xin" in inv.residue  # "17.5com.tencent.xin" is taken apart for the search
    assert scanned(tmp_path, data) == (EXIT_FINDINGS_INCOMPLETE, [("ios", "com.tencent.xin", "recovered")],
                                       "partial")


@pytest.mark.parametrize("line", [
    "com.apple.mobilesafari - Safari 17.5com.tencent.xin",  # joined, the second record cut short
    "com.apple.mobilesafari - Safari 17.5 com.tencent.xin - WeChat 8.0.50",  # a narrow console
    "com.apple.mobilesafari - Safari 17.5 com.tencent.xin - WeChat 8.0.50 com.alipay.iphoneclient - Alipay 10.5",
    "com.apple.mobilesafari - Safari com.tencent.xin - WeChat 8.0.50",
])
def test_old_form_records_side_by_side_are_a_bad_line_that_is_searched(tmp_path, line):
    data = f"Total: 2 apps\n{line}\ncom.apple.Maps - Maps 1.0\n".encode()
    inv = one(tmp_path, data)
    assert inv.status == "partial" and ids(inv) == ["com.apple.Maps"] and "com.tencent.xin" in inv.residue
    code, found, _ = scanned(tmp_path, data)
    assert code == EXIT_FINDINGS_INCOMPLETE and ("ios", "com.tencent.xin", "recovered") in found


@pytest.mark.parametrize("lines", [
    # a line break inserted before a version, and the next line break lost: the version leads the next id
    "com.google.Gmail - Gmail \n6.0.240616com.alipay.iphoneclient - \u652f\u4ed8\u5b9d 10.6.10\n",
    "com.google.Gmail - Gmail\n17com.alipay.iphoneclient - Alipay 10\n",
    'com.google.Gmail - Gmail 6.0.240616com.alipay.iphoneclient" - Alipay 10\n',  # glued, then a quote
])
def test_old_form_version_glued_to_the_next_id_is_a_bad_line_that_is_searched(tmp_path, lines):
    data = f"com.apple.Maps - Maps 1.0\n{lines}".encode()
    inv = one(tmp_path, data)
    assert inv.status == "partial" and "com.apple.Maps" in ids(inv) and "com.alipay.iphoneclient" in inv.residue
    assert not any(a.id.endswith("com.alipay.iphoneclient") for a in inv.apps)
    code, found, _ = scanned(tmp_path, data)
    assert code == EXIT_FINDINGS_INCOMPLETE and ("ios", "com.alipay.iphoneclient", "recovered") in found


def test_old_form_id_cut_and_glued_to_the_next_record_is_still_searched(tmp_path):
    # The old form has no separator: "com.tencent.xin" cut from its line and glued to Instagram's record
    # reads as one valid-looking id. Its pieces are searched: the prohibited app is found, never "clean".
    data = b"com.apple.Maps - Maps 1.0\ncom.tencent.xincom.burbn.instagram - Instagram 345.0\n"
    assert scanned(tmp_path, data) == (EXIT_FINDINGS_INCOMPLETE, [("ios", "com.tencent.xin", "recovered")],
                                       "partial")
    # an ordinary id with such a place in it costs nothing when no piece is a prohibited app
    ordinary = b"com.apple.Maps - Maps 1.0\ncom.example.telecom.app - Telecom 2.0\n"
    assert scanned(tmp_path, ordinary) == (EXIT_CLEAN, [], "complete")


def test_old_form_display_names_with_dashes_and_dots_are_still_apps(tmp_path):
    data = ("com.atebits.Tweetie2 - X - Twitter 10.58\ncom.booking.BookingApp - Booking.com - Hotels 50.1\n"
            "com.x.y - Pages 2.0 - Beta 14.0\n").encode()
    inv = one(tmp_path, data)
    assert inv.status == "complete"
    assert [(a.name, a.version) for a in inv.apps] == [
        ("X - Twitter", "10.58"), ("Booking.com - Hotels", "50.1"), ("Pages 2.0 - Beta", "14.0")]


# --- 4. a key column given twice; a second header ---------------------------------------------------


@pytest.mark.parametrize("header", [
    "CFBundleIdentifier, CFBundleShortVersionString, CFBundleIdentifier",
    "CFBundleIdentifier, CFBundleShortVersionString, cfbundleshortversionstring",  # any name, any case
])
def test_a_column_given_twice_in_the_ideviceinstaller_header_fails_the_file(tmp_path, header):
    data = f'{header}\ncom.apple.mobilesafari, "17.5", com.tencent.xin\n'.encode()
    inv = one(tmp_path, data)
    assert inv.status == "failed" and inv.reason == "bad-header" and inv.apps == ()
    assert "more than once" in inv.message and "line 1" in inv.message
    assert "com.tencent.xin" in inv.residue  # the whole file is still searched
    assert scanned(tmp_path, data) == (EXIT_FINDINGS_INCOMPLETE, [("ios", "com.tencent.xin", "recovered")],
                                       "failed")


def test_a_second_ideviceinstaller_header_mid_file_is_a_bad_line_not_an_app(tmp_path):
    data = (IDEVICE_CSV_HEAD + SAFARI_CSV + IDEVICE_CSV_HEAD + 'com.apple.Maps, "1.0", "Maps"\n').encode()
    inv = one(tmp_path, data)
    assert inv.status == "partial" and ids(inv) == ["com.apple.mobilesafari", "com.apple.Maps"]
    assert inv.problems[0].startswith("line 3: a second header line")


def test_a_total_line_inside_an_old_form_list_is_a_bad_line(tmp_path):
    inv = one(tmp_path, b"Total: 2 apps\ncom.a - A 1\nTotal: 2 apps\ncom.b - B 2\n")
    assert inv.status == "partial" and ids(inv) == ["com.a", "com.b"]
    assert inv.problems[0].startswith("line 3: a 'Total:' line inside the list")


# --- a last line without its line break may be cut -------------------------------------------------


@pytest.mark.parametrize("data", [
    b"package:com.google.android.gm\npackage:com.tencent.m",
    f"{CHROME}\n{WECHAT_F} versionCode:2280  installer=com.andr".encode(),  # -f -i listing
    b"Total: 2 apps\ncom.apple.Maps - Maps 1.0\ncom.tencent.xin - WeChat 8.0.5",
    b"com.apple.Maps - Maps 1.0\ncom.tencent.xin - WeChat 8.0.5",  # the old form without Total:
    (IDEVICE_CSV_HEAD + SAFARI_CSV + 'com.tencent.xin, "8.0.50", "WeCh').encode(),  # cut inside a quote
    (IDEVICE_CSV_HEAD + SAFARI_CSV + 'com.tencent.xin, "8.0.50", "WeChat"').encode(),
])
def test_a_last_line_without_a_line_break_makes_the_file_partial(tmp_path, data):
    inv = one(tmp_path, data)
    assert inv.status == "partial" and inv.reason == "truncated" and "line break" in inv.message
    assert one(tmp_path, data + b"\n").status in ("complete", "partial")  # the same file, ended, is not cut


def test_an_ended_listing_is_complete_in_each_form(tmp_path):
    for data in (b"package:com.google.android.gm\n", f"{CHROME}\r\n".encode(), b"Total: 1 apps\ncom.a - A 1\n",
                 b"com.a - A 1\r\n", (IDEVICE_CSV_HEAD + SAFARI_CSV).encode()):
        assert one(tmp_path, data).status == "complete", data


# --- never drop evidence ---------------------------------------------------------------------------


def test_a_curly_quote_in_an_ideviceinstaller_csv_line_does_not_hide_alipay(tmp_path):
    data = (IDEVICE_CSV_HEAD + SAFARI_CSV + 'com.alipay.iphoneclient, "10.5\u201d, "Alipay"\n'
            + 'com.apple.Maps, "1.0", "Maps"\n').encode()
    inv = one(tmp_path, data)
    assert inv.status == "partial" and "com.apple.mobilesafari" in ids(inv)
    code, found, status = scanned(tmp_path, data)
    assert code == EXIT_FINDINGS_INCOMPLETE and status == "partial"
    assert ("ios", "com.alipay.iphoneclient", "recovered") in found


def test_the_curly_quote_exits_5_on_the_command_line(tmp_path):
    data = (IDEVICE_CSV_HEAD + SAFARI_CSV + 'com.alipay.iphoneclient, \u201c10.5", "Alipay\n').encode()
    code, doc = cli_json(tmp_path, data)
    assert code == EXIT_FINDINGS_INCOMPLETE == doc["exit_code"]
    (device,) = doc["devices"]
    assert device["status"] == "partial"
    assert ("com.alipay.iphoneclient", "recovered") in [(f["app"]["id"], f["match"]) for f in device["findings"]]


@pytest.mark.parametrize("line", [
    'com.apple.Maps, "1.0", "Maps"com.tencent.xin, "8.0.50", "WeChat"',  # a lost line break
    'com.apple.Maps, "1.0", "Maps" com.tencent.xin, "8.0.50", "WeChat"',  # a narrow console
    'com.apple.Maps, 1.0, Maps com.tencent.xin, 8.0.50, WeChat',
    'com.apple.Maps, "1.0", "Maps\ncom.tencent.xin, "8.0.50", "WeChat"',  # a quote that swallowed a row
])
def test_several_ideviceinstaller_csv_records_on_one_line_are_searched(tmp_path, line):
    data = (IDEVICE_CSV_HEAD + SAFARI_CSV + line + "\n").encode()
    inv = one(tmp_path, data)
    assert inv.status == "partial" and ids(inv) == ["com.apple.mobilesafari"] and "com.tencent.xin" in inv.residue
    assert scanned(tmp_path, data)[:2] == (EXIT_FINDINGS_INCOMPLETE, [("ios", "com.tencent.xin", "recovered")])


@pytest.mark.parametrize(("data", "platform", "app"), [
    (b"package:com.a\npackage:com.tencent.mm\xff\n", "android", "com.tencent.mm"),  # not UTF-8
    (b"package:com.a\npackage:com.tencent.mm\x00\n", "android", "com.tencent.mm"),  # a NUL in the package
    (b"com.a - A 1\ncom.tencent.xin\xc3\x28 - WeChat 8\n", "ios", "com.tencent.xin"),
    ((IDEVICE_CSV_HEAD + SAFARI_CSV).encode() + b'com.tencent.xin, "8\xff", "WeChat"\n', "ios", "com.tencent.xin"),
    ((IDEVICE_CSV_HEAD + SAFARI_CSV + '"com.tencent.xin\x00", "8", "WeChat"\n').encode(), "ios", "com.tencent.xin"),
    ((IDEVICE_CSV_HEAD + SAFARI_CSV + 'com.tencent.xin, "8"\n').encode(), "ios", "com.tencent.xin"),  # short row
    (("ERROR: lost com.tencent.xin\n" + IDEVICE_CSV_HEAD + SAFARI_CSV).encode(), "ios", "com.tencent.xin"),
])
def test_every_line_that_cannot_be_read_is_searched(tmp_path, data, platform, app):
    code, found, status = scanned(tmp_path, data)
    assert code == EXIT_FINDINGS_INCOMPLETE and status == "partial" and (platform, app, "recovered") in found


# --- harmless noise costs no app --------------------------------------------------------------------


@pytest.mark.parametrize("banner", [
    "* daemon not running; starting now at tcp:5037\n* daemon started successfully\n",
    "* daemon not running; starting now at tcp:5037\r\n* daemon started successfully  \r\n",  # a console copy
    "* daemon not running. starting it now on port 5037 *\n* daemon started successfully *\n",  # adb < 1.0.36
    "adb server version (40) doesn't match this client (41); killing...\n* daemon started successfully\n",
])
def test_adbs_own_status_lines_before_the_listing_cost_no_app(tmp_path, banner):
    data = f"{banner}package:com.google.android.gm\n{CHROME}\n".encode()
    inv = one(tmp_path, data)
    assert inv.status == "complete" and ids(inv) == ["com.google.android.gm", "com.android.chrome"]
    assert inv.problems == ()


def test_a_status_line_is_skipped_only_when_it_is_exactly_adbs_and_before_the_listing(tmp_path):
    inside = one(tmp_path, b"package:com.a\n* daemon started successfully\npackage:com.b\n")
    assert inside.status == "partial" and inside.problems[0].startswith("line 2:")
    near = b"* daemon started successfully com.tencent.mm\npackage:com.a\n"
    code, found, _ = scanned(tmp_path, near)
    assert code == EXIT_FINDINGS_INCOMPLETE and ("android", "com.tencent.mm", "recovered") in found
    port = b"* daemon not running; starting now at tcp:com.tencent.mm\npackage:com.a\n"
    assert scanned(tmp_path, port)[0] == EXIT_FINDINGS_INCOMPLETE


def test_a_file_of_adb_status_lines_only_fails_and_says_so(tmp_path):
    inv = one(tmp_path, b"* daemon not running; starting now at tcp:5037\n* daemon started successfully\n")
    assert inv.status == "failed" and inv.reason == "empty" and "no app list" in inv.message


def test_spaces_after_a_closing_quote_cost_no_app(tmp_path):
    data = (IDEVICE_CSV_HEAD + '"com.apple.mobilesafari" , "17.5"\t,  "Safari"  \r\n'
            + 'com.tencent.xin, "8.0.50"  , "WeChat"\r\n').encode()
    inv = one(tmp_path, data)
    assert inv.status == "complete" and inv.problems == ()
    assert inv.apps == (App("ios", "com.apple.mobilesafari", "Safari", "17.5"),
                        App("ios", "com.tencent.xin", "WeChat", "8.0.50"))


def test_text_after_a_closing_quote_is_still_refused(tmp_path):
    # Only blanks are tolerated there: text glued to a quote may be another record.
    data = (IDEVICE_CSV_HEAD + SAFARI_CSV + '"com.a"com.tencent.xin, "1", "A"\n').encode()
    inv = one(tmp_path, data)
    assert inv.status == "partial" and ids(inv) == ["com.apple.mobilesafari"] and "com.tencent.xin" in inv.residue


def test_crlf_and_a_bom_cost_no_app_in_any_form(tmp_path):
    for text in (f"{CHROME}\r\n{WECHAT_F}\r\n", "Total: 1 apps\r\ncom.a - A 1\r\n", IDEVICE_CSV_HEAD + SAFARI_CSV):
        data = b"\xef\xbb\xbf" + text.replace("\r\n", "\n").replace("\n", "\r\n").encode()
        assert one(tmp_path, data).status == "complete", text


def test_a_clean_listing_exits_0_on_the_command_line(tmp_path):
    code, doc = cli_json(tmp_path, f"* daemon started successfully\n{CHROME}\n".encode())
    assert code == EXIT_CLEAN and doc["devices"][0]["status"] == "complete"


def test_a_damaged_listing_without_a_prohibited_id_exits_4(tmp_path):
    assert scanned(tmp_path, f"{CHROME}\npackage:com.a  installer=x\x00\n".encode())[0] == EXIT_INCOMPLETE


@pytest.mark.skipif(shutil.which("ideviceinstaller") is None, reason="libimobiledevice's ideviceinstaller "
                    "is not installed (Debian/Ubuntu: apt install ideviceinstaller)")
def test_what_the_real_ideviceinstaller_prints_reads_complete(tmp_path):
    # The stricter reader still reads the real tool's output, against the emulated iPhone, as complete.
    apps = (AppProfile(id="com.tencent.xin", name="WeChat", version="8.0.50", build="8.0.50.34"),
            AppProfile(id="com.atebits.Tweetie2", name="X - Twitter", version="10.58", build="10.58.1"),
            AppProfile(id="jp.naver.line", name="LINE \u751f\u6d3b", version="14.3.0", build="14.3.0.1"))
    device = DeviceProfile(platform="ios", serial="00008110-5CA77E5100000A1B", apps=apps)
    with IOSSimulator([device]) as sim:
        env = {**os.environ, **sim.env, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")}
        out = subprocess.run(["ideviceinstaller", "-u", device.serial, "-l"], env=env, capture_output=True,
                             timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    inv = one(tmp_path, out.stdout)
    assert inv.status == "complete" and [(a.id, a.name) for a in inv.apps] == [(a.id, a.name) for a in apps]
