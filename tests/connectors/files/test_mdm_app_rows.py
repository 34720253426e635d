"""The MDM exports of one row per app per device (readers/app_rows.py and the readers built on it): Kandji's
Prism apps (JSON pages and the export's CSV), the Jamf Pro advanced-search CSV and the Workspace ONE console
CSV, read in the shapes research/mdm-inventories.md documents and in the plausible variants it asks for
(header case and spelling, BOM, `;` and tab, quoted cells), none of them verified against a real export.

Every device is partial with reason mdm-scope (complete only with --accept-scope mdm), dated when the export
gives a date (--max-age then applies), desktops are listed as not checked with their rows, an app is an id
when the row gives one and a display name otherwise (evidence "name"), and damaged input (bad encoding, a cut
file, garbage rows, a missing page) is never clean: what cannot be read is still searched for whole catalog
ids.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from file_reading import ids, matcher, reader
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.audit import run
from scanner.connectors.files import FileConnector
from scanner.connectors.files.readers import READERS
from scanner.model import MDM_SCOPE, NOT_CHECKED, Report

DATA = Path(__file__).parents[2] / "data" / "inputs"
WECHAT, TIKTOK, WECHAT_ANDROID = "com.tencent.xin", "com.zhiliaoapp.musically", "com.tencent.mm"
NOW = datetime(2025, 5, 10, tzinfo=UTC)


@dataclass(frozen=True)
class Shape:
    """One export's CSV: its column for each field the tests use, the column that marks it, how its devices
    are keyed, and the reader that must read it."""

    reader: str
    columns: dict[str, str]  # field -> header
    mark: tuple[str, str]  # (header, value) of the column that tells this export apart
    key: str

    def header(self, fields: list[str]) -> str:
        return ",".join([self.mark[0], *(self.columns[f] for f in fields)])

    def line(self, fields: list[str], values: dict[str, str]) -> str:
        return ",".join([self.mark[1], *(values.get(f, "") for f in fields)])


KANDJI = Shape("kandji-prism", {"device id": "Device ID", "device name": "Device Name", "serial": "Serial Number",
                                "platform": "Device Family", "app id": "Bundle ID", "app name": "App Name",
                                "version": "Version", "date": "Last Check-In"},
               ("Blueprint Name", "Staff"), "Kandji id {}")
JAMF = Shape("jamf-search-csv", {"device id": "Jamf Pro ID", "device name": "Display Name", "serial": "Serial Number",
                                 "platform": "OS Type", "app id": "App Identifier", "app name": "App Name",
                                 "version": "App Short Version", "date": "Last Inventory Update"},
             ("Username", "jdoe"), "Jamf id {}")
WS1 = Shape("workspace-one-csv", {"device id": "Device ID", "device name": "Friendly Name",
                                  "serial": "Serial Number", "platform": "Platform", "app id": "Application Identifier",
                                  "app name": "Application Name", "version": "Version", "date": "Last Seen"},
            ("Organization Group", "Agency"), "Workspace ONE id {}")
SHAPES = [KANDJI, JAMF, WS1]
FIELDS = ["device id", "device name", "serial", "platform", "app name", "app id", "version", "date"]


def csv_of(shape: Shape, *rows: dict[str, str], fields: list[str] = FIELDS) -> str:
    return "\n".join([shape.header(fields), *(shape.line(fields, r) for r in rows)]) + "\n"


def row(device: str = "d1", app_id: str = "com.a", platform: str = "iPhone", **more: str) -> dict[str, str]:
    return {"device id": device, "device name": f"name-{device}", "serial": f"S-{device}", "platform": platform,
            "app id": app_id, "app name": "App", "version": "1.0", "date": "2025-05-02T14:03:11Z", **more}


read = reader("export.csv")


def report(*files: tuple[str, bytes | str], **options: object) -> Report:
    connectors = [FileConnector(n, io.BytesIO(d.encode() if isinstance(d, str) else d)) for n, d in files]
    return run(connectors, matcher(), inventory=True, inputs=tuple(n for n, _ in files), **options)  # type: ignore


def found(rep: Report) -> set[tuple[str, str]]:
    return {(f.app.id, f.match) for r in rep.results for f in r.findings}


def reader_of(data: str) -> str:
    """Which reader READERS hands the input to (the first whose head takes its first line)."""
    first = data.lstrip("\ufeff").splitlines()[0]
    return next(r.name for r in READERS if r.head is not None and r.head(first))


# --- the documented shapes, per export --------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.reader)
def test_each_export_is_read_by_its_reader_with_ids_names_and_dates(shape):
    data = csv_of(shape, row("d1", TIKTOK), row("d1", "com.apple.Pages"), row("d2", WECHAT, "iPad"))
    assert reader_of(data) == shape.reader
    invs = read(data)
    assert [(i.device.serial, i.status, i.reason, ids(i)) for i in invs] == [
        (shape.key.format("d1"), "partial", "mdm-scope", [TIKTOK, "com.apple.Pages"]),
        (shape.key.format("d2"), "partial", "mdm-scope", [WECHAT])]
    first = invs[0]
    assert first.device.name == "name-d1" and ("serial", "S-d1") in first.device.identity
    assert first.device.inventoried == datetime(2025, 5, 2, 14, 3, 11, tzinfo=UTC)
    assert any(s.name == MDM_SCOPE and not s.read for s in first.coverage)
    assert all(a.evidence == "identifier" and a.platform == "ios" for a in first.apps)
    assert found(report(("e.csv", data))) == {(TIKTOK, "exact"), (WECHAT, "exact")}


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.reader)
@pytest.mark.parametrize("variant", ["upper", "semicolon", "tab", "bom", "quoted", "crlf", "snake"])
def test_header_variants(shape, variant):
    data = csv_of(shape, row("d1", TIKTOK))
    if variant == "upper":
        head, rest = data.split("\n", 1)
        data = head.upper() + "\n" + rest
    elif variant in ("semicolon", "tab"):
        data = data.replace(",", ";" if variant == "semicolon" else "\t")
    elif variant == "bom":
        data = "\ufeff" + data
    elif variant == "quoted":
        data = "\n".join(",".join(f'"{c}"' for c in line.split(",")) for line in data.splitlines()) + "\n"
    elif variant == "crlf":
        data = data.replace("\n", "\r\n")
    else:
        head, rest = data.split("\n", 1)
        data = head.lower().replace(" ", "_").replace("-", "_") + "\n" + rest
    (inv,) = read(data)
    assert inv.reason == "mdm-scope" and ids(inv) == [TIKTOK], variant


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.reader)
def test_a_row_without_an_id_is_an_app_by_name(shape):
    data = csv_of(shape, row("d1", "", **{"app name": "WeChat"}), row("d1", "com.a"))
    (inv,) = read(data)
    assert [(a.id, a.evidence) for a in inv.apps] == [("WeChat", "name"), ("com.a", "identifier")]
    assert found(report(("e.csv", data))) == {("WeChat", "name")}


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.reader)
def test_scope_accept_and_age(shape):
    data = csv_of(shape, row("d1", TIKTOK), row("d2", "com.a", date=""))
    rep = report(("e.csv", data), accept_scopes=("mdm",))
    assert [r.status for r in rep.results] == ["complete", "complete"] and rep.accepted_scopes == ("mdm",)
    aged = report(("e.csv", data), max_age=3, now=NOW)
    assert [(r.status, r.reason) for r in aged.results] == [("partial", "stale"), ("partial", "age-unknown")]
    fresh = report(("e.csv", data), max_age=30, now=NOW)
    assert [r.reason for r in fresh.results] == ["mdm-scope", "age-unknown"]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.reader)
def test_desktops_and_other_devices_are_listed_not_checked(shape):
    data = csv_of(shape, row("m1", "com.tencent.xinWeChat", "Mac"), row("m1", "com.apple.Safari", "macOS"),
                  row("w1", "wps", "Windows"), row("t1", "com.a", "AppleTV"), row("p1", WECHAT))
    rep = report(("e.csv", data))
    assert [r.device.serial for r in rep.results] == [shape.key.format("p1")]
    assert {(n.device.serial, n.rows) for n in rep.not_checked} == {
        (shape.key.format("m1"), 2), (shape.key.format("w1"), 1), (shape.key.format("t1"), 1)}


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.reader)
def test_garbage_rows_are_bad_records_and_still_searched(shape):
    data = csv_of(shape, row("d1", "com.a"), row("d1", f"{WECHAT} x"), row("d1", "com.b", "Blackberry"),
                  row("", TIKTOK, **{"device name": "", "serial": ""})) + f"{shape.mark[1]},only,two\n"
    invs = read(data)
    device = next(i for i in invs if i.device.serial == shape.key.format("d1"))
    assert device.status == "partial" and device.reason == "bad-records" and ids(device) == ["com.a"]
    assert device.problem_count == 2 and WECHAT in device.residue
    orphans = next(i for i in invs if i.device.serial is None)
    assert orphans.status == "failed" and orphans.reason == "bad-records" and TIKTOK in orphans.residue
    assert {(WECHAT, "recovered"), (TIKTOK, "recovered")} <= found(report(("e.csv", data)))


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.reader)
def test_bad_encoding_and_a_cut_file_are_never_clean(shape):
    data = csv_of(shape, row("d1", "com.a"), row("d1", WECHAT)).encode()
    damaged = data.replace(b"name-d1,S-d1,iPhone,App,com.tencent.xin", b"name-d1,S-d1,iPhone,\xff\xfe,com.tencent.xin")
    invs = read(damaged)
    assert all(i.status != "complete" for i in invs) and any(i.problem_count for i in invs)
    assert damaged != data and found(report(("e.csv", damaged))) == {(WECHAT, "recovered")}
    cut = data[:-20]
    invs = read(cut)
    assert invs and all(i.status != "complete" for i in invs)
    assert [(i.reason, i.status) for i in invs] == [("truncated", "partial")]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.reader)
def test_a_header_with_no_rows_and_a_column_given_twice(shape):
    (inv,) = read(csv_of(shape))
    assert inv.status == "failed" and inv.reason == "empty"
    doubled = csv_of(shape, row("d1", WECHAT), fields=[*FIELDS, "app id"])
    doubled = doubled.replace(f"{WECHAT}\n", f"{WECHAT},{TIKTOK}\n").replace("Z,com", "Z,com")
    invs = read(doubled)
    assert all(i.status == "failed" for i in invs) and "more than once" in invs[0].message
    assert TIKTOK in invs[0].residue and WECHAT in invs[0].residue


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.reader)
def test_intune_and_fleet_headers_are_left_to_their_readers(shape):
    intune = "ApplicationKey,ApplicationName,ApplicationVersion,DeviceId,Platform," + shape.mark[0]
    assert reader_of(intune + "\n") == "intune-csv"
    assert reader_of("platform,device,app_id,name,version\n") == "fleet-csv"


# --- Kandji Prism: the samples, the JSON pages -----------------------------------------------------


def test_the_kandji_samples_read_the_same_devices():
    for sample in ("kandji-prism-apps-pages.json", "kandji-prism-apps.csv"):
        rep = report((sample, (DATA / sample).read_bytes()))
        assert [(r.device.serial, r.status) for r in rep.results] == [
            ("Kandji id 6f1c2a9e-0001", "partial"), ("Kandji id 6f1c2a9e-0003", "partial")], sample
        assert found(rep) == {(TIKTOK, "exact"), (WECHAT, "exact")}, sample
        assert [(n.device.serial, n.rows) for n in rep.not_checked] == [("Kandji id 6f1c2a9e-0002", 1)], sample


def page(rows: list[object], cursor: object = None) -> dict[str, object]:
    return {"data": rows, "cursor": cursor}


def prism(device: str = "d1", bundle: object = "com.a", **more: object) -> dict[str, object]:
    return {"device_id": device, "device_name": "n", "device_family": "iPhone", "app_name": "App",
            "bundle_id": bundle, "version": "1", **more}


def test_prism_pages_one_an_array_and_concatenated():
    one = json.dumps(page([prism("d1", TIKTOK), prism("d2", WECHAT)]))
    assert [(i.device.serial, ids(i)) for i in read(one, "p.json")] == [
        ("Kandji id d1", [TIKTOK]), ("Kandji id d2", [WECHAT])]
    array = json.dumps([page([prism("d1", TIKTOK)], "c1"), page([prism("d1", WECHAT)])])
    rep = report(("p.json", array))
    assert len(rep.results) == 1 and found(rep) == {(TIKTOK, "exact"), (WECHAT, "exact")}


def test_a_missing_page_fails_the_file_as_cut():
    invs = read(json.dumps(page([prism("d1", "com.a")], "next-cursor")), "p.json")
    assert invs[0].reason == "mdm-scope"
    assert invs[-1].status == "failed" and invs[-1].reason == "truncated" and "next-cursor" in invs[-1].message
    assert not report(("p.json", json.dumps(page([prism()], "c")))).complete


def test_a_mac_row_by_its_path_and_rows_of_the_wrong_type():
    mac = prism("m1", "com.tencent.xinWeChat", device_family=None, path="/Applications/WeChat.app")
    invs = read(json.dumps(page([mac, prism("d1", "com.a"), prism("d1", [WECHAT]), "x", prism("d1", TIKTOK)])),
                "p.json")
    assert invs[0].reason == NOT_CHECKED and invs[0].device.platform == "macos"
    device = invs[1]
    assert device.reason == "bad-records" and ids(device) == ["com.a", TIKTOK] and WECHAT in device.residue
    assert invs[-1].reason == "bad-records" and invs[-1].device.serial is None


def test_a_key_given_twice_in_a_row_keeps_both_values_as_evidence():
    text = json.dumps(page([prism("d1", "com.a")])).replace('"bundle_id": "com.a"',
                                                            f'"bundle_id": "{WECHAT}", "bundle_id": "com.a"')
    invs = read(text, "p.json")
    assert all(i.status != "complete" for i in invs) and (WECHAT, "recovered") in found(report(("p.json", text)))


def test_a_prism_page_merges_with_the_device_apps_answer_of_the_same_device():
    apps = json.dumps({"device_id": "d1", "apps": [{"app_name": "WeChat", "bundle_id": WECHAT, "version": "1"}]})
    rep = report(("k.json", apps), ("k.json", json.dumps(page([prism("d1", TIKTOK)]))))  # one source: one key
    assert [r.device.serial for r in rep.results] == ["Kandji id d1"]
    assert found(rep) == {(TIKTOK, "exact"), (WECHAT, "exact")}


# --- Jamf advanced search, Workspace ONE console ----------------------------------------------------


def test_the_jamf_sample_and_its_key_shared_with_the_classic_api():
    sample = (DATA / "jamf-advanced-search-apps.csv").read_bytes()
    rep = report(("j.csv", sample))
    assert [(r.device.serial, r.status) for r in rep.results] == [("Jamf id 42", "partial"), ("Jamf id 43", "partial")]
    assert found(rep) == {(TIKTOK, "exact"), (WECHAT, "exact")}
    (first, _) = read(sample)
    assert [(a.version, a.build) for a in first.apps] == [("38.1.0", "380100"), ("14.0", "14")]
    classic = ("<mobile_device><general><id>42</id></general><applications><size>1</size><application>"
               "<identifier>com.tencent.xin</identifier></application></applications></mobile_device>")
    both = report(("jamf", sample), ("jamf", classic))
    assert [r.device.serial for r in both.results] == ["Jamf id 42", "Jamf id 43"]


def test_a_jamf_computer_search_lists_every_computer_as_not_checked():
    data = ("Computer Name,Serial Number,Application Title,Application Version\n"
            "LT-1,C1,WeChat.app,4.0\nLT-1,C1,Safari.app,18\nLT-2,C2,WPS Office.app,12\n")
    rep = report(("c.csv", data))
    assert not rep.results and [(n.device.serial, n.rows) for n in rep.not_checked] == [("C1", 2), ("C2", 1)]


def test_the_workspace_one_sample_platforms_and_a_row_of_no_platform():
    rep = report(("w.csv", (DATA / "workspace-one-app-devices.csv").read_bytes()))
    assert [(r.device.serial, r.device.platform) for r in rep.results] == [("R58N000000", "android"),
                                                                           ("F2LXAAAA01", "ios")]
    assert found(rep) == {(WECHAT_ANDROID, "exact"), (TIKTOK, "exact")}
    assert [n.device.serial for n in rep.not_checked] == ["C02XXXXXXX"]
    none = csv_of(WS1, row("d1", WECHAT_ANDROID, ""), fields=FIELDS)
    (inv,) = read(none)
    assert {a.platform for a in inv.apps} == {"android", "ios"} and inv.device.platform is None
    assert any(s.name == "platform" and not s.read for s in inv.coverage)
    assert (WECHAT_ANDROID, "exact") in found(report(("w.csv", none)))


@pytest.mark.parametrize("value, platform", [("Apple", "ios"), ("Apple iOS", "ios"), ("iPadOS", "ios"),
                                             ("Android", "android"), ("Apple macOS", None), ("AppleOsX", None),
                                             ("WinRT", None), ("Apple tvOS", None)])
def test_workspace_one_platform_names(value, platform):
    (inv,) = read(csv_of(WS1, row("d1", "com.a", value)))
    if platform is None:
        assert inv.reason == NOT_CHECKED
    else:
        assert inv.device.platform == platform and inv.reason == "mdm-scope"


def test_an_app_list_without_devices_is_a_catalog_and_fails():
    data = "Organization Group,Application Name,Application Identifier,Version\n" + f"Agency,WeChat,{WECHAT},1\n"
    (inv,) = read(data)
    assert inv.status == "failed" and "no column names a device" in inv.message and WECHAT in inv.residue


# --- properties --------------------------------------------------------------------------------------

_CELL = st.sampled_from(["", "d1", "d2", WECHAT, "iPhone", "Mac", "x y", '"', "\u202e", "2025-05-02T00:00:00Z",
                         "1"]) | st.text(max_size=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SHAPES), st.lists(st.lists(_CELL, min_size=0, max_size=10), max_size=6))
def test_arbitrary_rows_never_raise_and_never_make_a_complete_device(shape, rows):
    data = shape.header(FIELDS) + "\n" + "\n".join(",".join(r) for r in rows) + "\n"
    invs = read(data)
    assert invs and all(i.status != "complete" for i in invs)
    if WECHAT in data:
        assert any(WECHAT in ids(i) or WECHAT in i.residue or i.reason == NOT_CHECKED for i in invs)


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | _CELL,
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                         st.sampled_from(["device_id", "bundle_id", "app_name", "device_family", "data", "cursor",
                                          "path", "serial_number"]), inner, max_size=4), max_leaves=16)


@settings(max_examples=150, deadline=None)
@given(st.lists(_JSON, max_size=5), _JSON)
def test_arbitrary_prism_pages_never_raise_and_never_make_a_complete_device(rows, cursor):
    text = json.dumps({"data": rows, "cursor": cursor})
    invs = read(text, "p.json")
    assert invs and all(i.status != "complete" for i in invs)
