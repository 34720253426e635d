"""Intune's Discovered-apps reports as CSV (AppInvRawData and the like, AppInvAggregate): streamed one device's
run of rows at a time, every mobile device partial mdm-scope with apps by display name, desktop devices not
checked, aggregates as one counted inventory, damaged rows counted with their text kept, never a false "clean"."""

from __future__ import annotations

import io
import textwrap
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.audit import run
from scanner.connectors.files import FileConnector, read_input
from scanner.matcher import Matcher
from scanner.model import MDM_SCOPE, NOT_CHECKED, App, Inventory
from scanner.signatures import load_signatures

HEADER = ("ApplicationKey,ApplicationName,ApplicationPublisher,ApplicationShortVersion,ApplicationVersion,DeviceId,"
          "DeviceName,OSDescription,OSVersion,Platform,UserId,EmailAddress,UserName")


def row(name: str, dev: str = "d1", platform: str = "iOS", short: str = "1.0", version: str = "1.0.7",
        key: str = "0a1b", email: str = "ann@example.com") -> str:
    return f"{key},{name},Pub,{short},{version},{dev},Phone {dev},iOS,17.4,{platform},u-{dev},{email},Ann"


def csv_of(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join((header, *rows)) + "\n").encode()


def read(data: bytes, name: str = "AppInvRawData.csv") -> list[Inventory]:
    return list(read_input(name, io.BytesIO(data)))


@cache
def bundled() -> Matcher:
    return Matcher(load_signatures(), None)


def audited(matcher: Matcher, *inputs: tuple[str, bytes]):
    return run([FileConnector(n, io.BytesIO(d)) for n, d in inputs], matcher, inventory=True,
               inputs=tuple(n for n, _ in inputs))


def test_raw_data_rows_are_name_evidence_apps_of_partial_mdm_devices():
    invs = read(csv_of(row("TikTok", short="32.1", version="32.1.0"), row("Maps", short=""),
                       row("WeChat", dev="d2", platform="AndroidForWork", email="")))
    assert [i.device.serial for i in invs] == ["Intune id d1", "Intune id d2"]
    first, second = invs
    assert first.apps[0] == App("ios", "TikTok", "TikTok", "32.1", "32.1.0", evidence="name")
    assert first.apps[1].version == "1.0.7" and first.apps[1].build == "1.0.7"  # no short version: the version
    assert first.device.platform == "ios" and second.device.platform == "android"
    assert first.device.identity == (("user", "ann@example.com"),) and second.device.identity == (("user", "Ann"),)
    assert first.device.name == "Phone d1" and first.device.os_version == "17.4"
    for inv in invs:
        assert inv.status == "partial" and inv.reason == "mdm-scope"
        [scope] = [s for s in inv.coverage if s.name == MDM_SCOPE]
        assert not scope.read and "personal" in scope.reason and "work profile" in scope.reason
        assert "display names only" in scope.reason
        assert all("0a1b" not in (a.id, a.name) for a in inv.apps)  # the ApplicationKey hash is never the id


@pytest.mark.parametrize("plat,expected", [("iPadOS", "ios"), ("iPhone", "ios"), ("IOS", "ios"), ("iPad", "ios"),
                                           ("Android", "android"), ("androidWorkProfile", "android"),
                                           ("Android Enterprise", "android"), ("AndroidForWork", "android")])
def test_platform_values_map_loosely(plat, expected):
    [inv] = read(csv_of(row("X", platform=plat)))
    assert inv.device.platform == expected and inv.apps[0].platform == expected


def test_bom_semicolons_casing_quotes_and_extra_columns_are_read():
    header = '"DEVICEID";"applicationname";"Extra";"platform";"ApplicationShortVersion"'
    data = b"\xef\xbb\xbf" + csv_of('"d1";"Tik;Tok";"x";"iOS";"2"', 'd1;Maps;y;iOS;3', header=header)
    [inv] = read(data)
    assert [(a.id, a.version) for a in inv.apps] == [("Tik;Tok", "2"), ("Maps", "3")]
    assert inv.device.serial == "Intune id d1"


def test_loc_twins_are_used_only_without_the_raw_column():
    header = "DeviceId,Platform_loc,Platform,ApplicationName_loc"
    [inv] = read(csv_of("d1,Téléphone,iOS,Carte", header=header))
    assert inv.device.platform == "ios" and inv.apps[0].id == "Carte"
    header = "DeviceId,Platform,ApplicationName_loc,ApplicationName"
    [inv] = read(csv_of("d1,iOS,Carte,Maps", header=header))
    assert inv.apps[0].id == "Maps"


def test_display_style_headers_of_the_selected_columns_export():
    [inv] = read(csv_of("Maps,5.0,d9,Pixel,Android", header="Application name,Application version,Device ID,"
                                                             "Device name,Platform"))
    assert inv.device.serial == "Intune id d9" and inv.apps[0] == App("android", "Maps", "Maps", "5.0", "5.0",
                                                                       evidence="name")


def test_rows_of_one_device_not_contiguous_and_per_version_make_one_device():
    data = csv_of(row("A"), row("B", dev="d2"), row("C"), row("C", version="2.0"), row("D", dev="d2"))
    invs = read(data)
    assert len(invs) == 4  # runs, merged by the audit
    report = audited(bundled(), ("AppInvRawData.csv", data))
    assert sorted((r.device.serial, r.app_count) for r in report.results) == [("Intune id d1", 3),
                                                                              ("Intune id d2", 2)]
    assert all(r.status == "partial" for r in report.results)


def test_a_desktop_row_is_not_checked_and_counted():
    data = csv_of(row("Chrome", dev="w1", platform="Windows"), row("Edge", dev="w1", platform="Windows10"),
                  row("Safari", dev="m1", platform="macOS"), row("Maps"))
    invs = read(data)
    desktop = [i for i in invs if i.reason == NOT_CHECKED]
    assert [(i.device.platform, i.coverage[0].apps) for i in desktop] == [("windows", 2), ("macos", 1)]
    assert "a Windows computer" in desktop[0].message and "2 app rows were not checked" in desktop[0].message
    report = audited(bundled(), ("AppInvRawData.csv", data))
    assert len(report.not_checked) == 2 and [r.device.serial for r in report.results] == ["Intune id d1"]


def test_two_tenants_stay_apart():
    report = audited(bundled(), ("a/AppInvRawData.csv", csv_of(row("A"))), ("b/AppInvRawData.csv", csv_of(row("B"))))
    assert len(report.results) == 2


def test_aggregate_is_one_counted_inventory():
    header = "ApplicationKey,ApplicationName,ApplicationPublisher,ApplicationShortVersion,ApplicationVersion," \
             "DeviceCount,Platform"
    [inv] = read(csv_of("k,TikTok,B,3,3.1,12,iOS", "k,WeChat,T,8,8,4,Android", "k,Edge,M,1,1,40,Windows",
                        header=header), "AppInvAggregate.csv")
    assert [(a.platform, a.id, a.devices, a.evidence) for a in inv.apps] == [("ios", "TikTok", 12, "name"),
                                                                             ("android", "WeChat", 4, "name")]
    assert inv.status == "partial" and inv.reason == "aggregate" and inv.device.serial is None
    assert inv.device.name == "the tenant's aggregate"
    assert any(s.name == "devices" and not s.read and s.reason == "an aggregate names no devices"
               for s in inv.coverage)
    assert any(s.apps == 1 and not s.read for s in inv.coverage if s.name == "apps")  # the Windows row
    assert "names no device" in inv.message and "AppInvRawData" in inv.message


def test_aggregate_bad_count_is_a_bad_record():
    [inv] = read(csv_of("TikTok,many,iOS", "Maps,3,iOS", header="ApplicationName,DeviceCount,Platform"))
    assert inv.problem_count == 1 and "DeviceCount" in inv.problems[0] and len(inv.apps) == 1


SIGS_APP = """\
kind = "app"
schema = 2
id = "tiktok-test"
name = "TikTok"
maker = "bd"

[[identifiers]]
platform = "ios"
id = "com.zhiliaoapp.musically.test"
edition = "primary"
confidence = "confirmed"
sources = ["one", "two"]

[[names]]
name = "TikTok"
platforms = ["android", "ios"]
confidence = "confirmed"
sources = ["store listing"]
"""
SIGS_MAKER = 'kind = "maker"\nschema = 2\nid = "bd"\nname = "BD"\nsources = ["test"]\n'
SIGS_POLICY = """\
kind = "policy"
schema = 2
id = "tt-ban"
title = "TikTok ban"
authority = "Test"
citation = "Test 1"
signed = 2025-01-31
status = "in-force"
url = "https://example.test/p"
jurisdiction = "us-wy"

[[entries]]
key = "tt"
listed = "TikTok"
app = "tiktok-test"
relation = "app"
severity = "prohibited"
"""


def write(folder: Path, name: str, text: str) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")


def test_an_intune_name_row_gives_a_name_finding(tmp_path):
    write(tmp_path, "makers/bd.toml", SIGS_MAKER)
    write(tmp_path, "catalog/tiktok-test.toml", SIGS_APP)
    write(tmp_path, "policies/tt-ban.toml", SIGS_POLICY)
    matcher = Matcher(load_signatures([tmp_path], bundled=False), ["tt-ban"])
    report = audited(matcher, ("AppInvRawData.csv", csv_of(row("TikTok"), row("Maps"))))
    [result] = report.results
    [finding] = result.findings
    assert finding.app.id == "TikTok" and finding.evidence == "name" and finding.matched_by == "name"


def test_an_id_shaped_android_name_matches_the_bundled_catalog_as_an_identifier():
    report = audited(bundled(), ("AppInvRawData.csv", csv_of(row("com.tencent.mm", platform="Android"))))
    [result] = report.results
    assert any(f.app.id == "com.tencent.mm" and f.matched_by == "identifier" for f in result.findings)


def test_garbage_rows_are_counted_and_their_text_still_searched():
    report = audited(bundled(), ("AppInvRawData.csv", csv_of(row("Maps"), "com.tencent.mm garbage", "")))
    assert report.results[0].status == "partial"
    [orphan] = [r for r in report.results if r.device.serial is None]
    assert orphan.reason == "bad-lines" and "expected 13 columns" in orphan.problems[0]
    assert any(f.identifier == "com.tencent.mm" for f in orphan.findings)


@pytest.mark.parametrize("plat", ["", "Symbian", "???"])
def test_a_blank_or_unknown_platform_is_a_bad_record(plat):
    invs = read(csv_of(row("Maps"), row("X", platform=plat)))
    [inv] = invs
    assert inv.problem_count == 1 and "Platform" in inv.problems[0] and inv.reason == "bad-lines"
    [alone] = read(csv_of(row("com.tencent.mm", dev="z", platform=plat)))
    assert alone.status == "failed" and "com.tencent.mm" in alone.residue


@pytest.mark.parametrize("name", ["Tik\x00Tok", "\u202ekoTkiT", "Tik\x1bTok", "Tik\u200bTok"])
def test_control_and_bidi_characters_in_names_are_counted_and_kept(name):
    [inv] = read(csv_of(row(name)))
    assert inv.status == "partial" and inv.problem_count == 1 and inv.apps[0].id == name
    assert "control or format character" in inv.problems[0]


def test_a_cut_last_line_is_truncated():
    data = csv_of(row("Maps"))[:-1] + b"\n" + row("Tik", dev="d2").encode()
    invs = read(data)
    assert invs[-1].device.serial == "Intune id d2" and invs[-1].reason == "truncated"
    cut = csv_of(row("Maps")) + b"k,TikTok,Pu"
    invs = read(cut)
    assert invs[-1].device.serial is None and invs[-1].status == "partial"


@pytest.mark.parametrize("data", [HEADER.encode(), (HEADER + "\n").encode(), (HEADER + "\n\n\n").encode()])
def test_a_header_only_is_failed_never_clean(data):
    [inv] = read(data)
    assert inv.status == "failed" and inv.reason == "empty"


def test_other_csvs_are_not_claimed():
    [inv] = read(b"platform,device,app_id\nandroid,s1,com.x.y\n", "fleet.csv")
    assert inv.device.serial == "s1"
    [inv] = read(b"ApplicationName,Publisher\nMaps,Apple\n", "other.csv")
    assert inv.status == "failed" and inv.device.serial is None


_CELL = st.text(st.characters(codec="utf-8"), max_size=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(_CELL, min_size=0, max_size=15), max_size=8), st.sampled_from([",", ";"]),
       st.booleans())
def test_arbitrary_rows_never_raise_and_never_make_a_complete_device(rows, sep, cut):
    text = HEADER.replace(",", sep) + "\n" + "\n".join(sep.join(r) for r in rows)
    data = text.encode("utf-8", "surrogatepass")
    if not cut:
        data += b"\n"
    invs = read(data)
    assert invs and all(i.status != "complete" for i in invs)
    assert sum(len(i.apps) for i in invs) <= len(rows) + text.count("\r") + text.count("\x85") + 50


def test_an_aggregate_without_platform_checks_each_app_on_both_platforms():
    header = "ApplicationKey,ApplicationName,ApplicationPublisher,ApplicationShortVersion,ApplicationVersion,DeviceCount"
    [inv] = read(csv_of("k,com.tencent.mm,T,8,8.0,5", header=header), "AppInvAggregate.csv")
    assert [(a.platform, a.devices) for a in inv.apps] == [("android", 5), ("ios", 5)]
    assert any(s.name == "platform" and not s.read for s in inv.coverage)
