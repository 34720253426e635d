"""The readers of the other listing tools admins use (issue 13): go-ios `ios apps` JSON, `tidevice applist`
(and go-ios `ios apps --list`) lines, `ios-deploy --list_bundle_id` lines and its `--json` answer.

The samples in tests/data/inputs have the shapes verified in each tool's source (see each reader's
docstring). Each file is one iPhone, its serial unknown; complete only when every line or record was read;
a bad line is counted and its ids still searched; a cut last line is never complete; a file of nothing but
a tool's error is a tool error as before.
"""

from __future__ import annotations

import io
import json
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scanner
from scanner.audit import run
from scanner.connectors.files import ACCEPTED_FORMATS, INPUT_HELP, FileConnector, read_input
from scanner.connectors.files.detect import sniff
from scanner.connectors.files.readers import READERS
from scanner.connectors.files.source import InputLines
from scanner.connectors.interface import HeadLine
from scanner.matcher import Matcher
from scanner.model import DeviceResult, Inventory

DATA = Path(__file__).parents[2] / "data" / "inputs"
BY_NAME = {r.name: r for r in READERS}


def read(data: bytes, name: str = "apps.txt") -> list[Inventory]:
    return list(read_input(name, io.BytesIO(data)))


def one(data: bytes, name: str = "apps.txt") -> Inventory:
    (inv,) = read(data, name)
    return inv


def apps(inv: Inventory) -> list[tuple[str, str | None, str | None]]:
    return [(a.id, a.name, a.version) for a in inv.apps]


def reader_of(data: bytes) -> str | None:
    sniffed = sniff("apps.txt", InputLines(io.BytesIO(data)))
    return sniffed.reader.name if sniffed.reader is not None else sniffed.kind


@cache
def matcher() -> Matcher:
    return Matcher(scanner.load_signatures(), None)


def audited(data: bytes, name: str = "apps.txt") -> list[DeviceResult]:
    return list(run([FileConnector(name, io.BytesIO(data))], matcher(), inventory=True, inputs=(name,)).results)


def found(results: list[DeviceResult]) -> set[tuple[str, str]]:
    return {(f.app.id, f.match) for r in results for f in r.findings}


# --- the verified shapes -------------------------------------------------------------------------


def test_tidevice_applist_reads_ids_names_and_versions():
    inv = one((DATA / "tidevice-applist.txt").read_bytes())
    assert inv.status == "complete" and inv.device.platform == "ios" and inv.device.serial is None
    assert apps(inv) == [
        ("com.apple.Pages", "Pages", "13.1"), ("com.tencent.xin", "微信", "8.0.50"),
        ("com.google.Maps", "Google Maps", "6.120.0"), ("com.alipay.iphoneclient", "支付宝", "10.6.10"),
        ("com.example.notes", "Notes", None),  # print(id, name, "") ends the line in a space
    ]


def test_go_ios_list_lines_are_read_as_tidevice_lines():
    inv = one(b"com.tencent.xin WeChat 8.0.50\ncom.apple.Pages Pages 13.1\n")
    assert inv.status == "complete" and apps(inv)[0] == ("com.tencent.xin", "WeChat", "8.0.50")


def test_a_tidevice_line_whose_trailing_space_was_lost_is_all_name():
    assert apps(one(b"com.example.notes Quick Notes\n")) == [("com.example.notes", "Quick Notes", None)]


@pytest.mark.parametrize("sample", ["go-ios-apps.json", "go-ios-apps-struct.json"])
def test_go_ios_json_in_both_shapes(sample):
    inv = one((DATA / sample).read_bytes(), sample)
    assert inv.status == "complete" and inv.device.serial is None and inv.device.platform == "ios"
    if sample == "go-ios-apps.json":
        assert apps(inv) == [("com.tencent.xin", "WeChat", "8.0.50"), ("com.apple.Pages", "Pages", "13.1")]
        assert inv.apps[0].team_id == "532LCLCWL8" and inv.apps[0].system is False
    else:  # the old struct: every key written, an empty CFBundleDisplayName falls back to CFBundleName
        assert apps(inv) == [("com.alipay.iphoneclient", "支付宝", "10.6.10"), ("com.example.notes", "Notes", "2.4")]


def test_ios_deploy_bundle_ids_without_status_lines():
    inv = one((DATA / "ios-deploy-bundle-ids.txt").read_bytes())
    assert inv.status == "complete" and inv.device.serial is None
    assert [a.id for a in inv.apps] == ["com.apple.mobilesafari", "com.tencent.xin", "com.apple.Pages",
                                        "com.alipay.iphoneclient"]


def test_ios_deploy_status_lines_are_passed_over_by_the_reader():
    data = (DATA / "ios-deploy-list-bundle-id.txt").read_bytes()
    (inv,) = BY_NAME["ios_deploy"].read("apps.txt", InputLines(io.BytesIO(data)), HeadLine(0, ""))
    assert inv.status == "complete" and len(inv.apps) == 4 and inv.problem_count == 0


def test_ios_deploy_output_with_its_status_lines_is_recognised():
    inv = one((DATA / "ios-deploy-list-bundle-id.txt").read_bytes())
    assert inv.status == "complete" and len(inv.apps) == 4


def test_ios_deploy_json_answer():
    inv = one((DATA / "ios-deploy-list-bundle-id.json").read_bytes(), "apps.json")
    assert inv.status == "complete" and apps(inv) == [("com.tencent.xin", "微信", "8.0.50"),
                                                       ("com.apple.Pages", "Pages", "13.1")]


def test_each_sample_finds_wechat():
    for sample in ("tidevice-applist.txt", "go-ios-apps.json", "ios-deploy-bundle-ids.txt",
                   "ios-deploy-list-bundle-id.json"):
        assert ("com.tencent.xin", "exact") in found(audited((DATA / sample).read_bytes(), sample)), sample


def test_they_are_named_in_the_accepted_formats_and_the_input_help():
    assert "go-ios `ios apps` JSON" in ACCEPTED_FORMATS and "`tidevice applist`" in ACCEPTED_FORMATS
    assert "`ios-deploy --list_bundle_id` output" in ACCEPTED_FORMATS
    assert "go-ios ios apps, tidevice applist, or ios-deploy --list_bundle_id)" in INPUT_HELP


# --- telling the formats apart -------------------------------------------------------------------


@pytest.mark.parametrize(("line", "reader"), [
    ("com.tencent.xin 微信 8.0.1", "tidevice"),
    ("com.tencent.xin WeChat 8.0.50", "tidevice"),
    ("com.tencent.xin - WeChat 8.0.50", "ideviceinstaller"),  # the old ideviceinstaller form is not tidevice's
    ("com.tencent.xin", "ios_deploy"),
    ("com.tencent.xin ", "ios_deploy"),
    ("package:com.tencent.mm", "pm"),
    ("CFBundleIdentifier, CFBundleShortVersionString, CFBundleDisplayName", "ideviceinstaller"),
    ("platform,device,app_id", "fleet-csv"),
])
def test_each_head_line_has_one_reader(line, reader):
    assert reader_of(line.encode() + b"\n") == reader
    assert sum(1 for r in READERS if r.head is not None and r.head(line)) == 1


def test_a_json_array_of_webhook_events_is_not_taken_for_go_ios():
    assert not BY_NAME["go_ios"].document([{"acknowledge_event": {}}])
    assert BY_NAME["go_ios"].document([{"CFBundleIdentifier": "com.tencent.xin"}])


# --- damaged, cut and hostile --------------------------------------------------------------------


@pytest.mark.parametrize("name", [
    "\x1b[31mWeChat", "We\u202eChat", "WeChat\x00", "微信\u200f",
])
def test_a_hostile_name_in_a_tidevice_line_is_a_bad_line_whose_id_is_recovered(name):
    data = f"com.apple.Pages Pages 13.1\ncom.tencent.xin {name} 8.0.50\n".encode()
    results = audited(data)
    assert ("com.tencent.xin", "recovered") in found(results)
    assert results[0].status == "partial" and [a.id for a in results[0].apps] == ["com.apple.Pages"]


def test_a_hostile_bundle_id_in_an_ios_deploy_list_is_a_bad_line_whose_id_is_recovered():
    results = audited(b"com.apple.Pages\ncom.tencent.xin\x1b[0m\n")
    assert ("com.tencent.xin", "recovered") in found(results) and results[0].status == "partial"


def test_two_tidevice_records_on_one_line_are_not_read_as_one_app():
    inv = one(b"com.apple.Pages Pages 13.1com.tencent.xin WeChat 8.0.50\ncom.apple.Maps Maps 17.5\n")
    assert inv.status == "partial" and [a.id for a in inv.apps] == ["com.apple.Maps"]
    assert "com.tencent.xin" in inv.residue
    inv = one(b"com.apple.Pages Pages 13.1 com.tencent.xin WeChat 8.0.50\ncom.apple.Maps Maps 17.5\n")
    assert inv.status == "partial" and "com.tencent.xin" in inv.residue


def test_two_ios_deploy_ids_glued_by_a_lost_line_break_keep_both_as_evidence():
    inv = one(b"com.apple.Pagescom.tencent.xin\ncom.apple.Maps\n")
    assert "com.tencent.xin" in inv.residue


@pytest.mark.parametrize("data", [
    b"com.apple.Pages Pages 13.1\ncom.tencent.xin WeChat 8.0",
    b"com.apple.Pages\ncom.tencent.xi",
])
def test_a_cut_last_line_is_never_complete(data):
    inv = one(data)
    assert inv.status == "partial" and inv.reason == "truncated"


def test_a_cut_go_ios_json_is_failed_and_searched():
    data = (DATA / "go-ios-apps.json").read_bytes()[:300]
    results = audited(data, "apps.json")
    assert results[0].status == "failed" and ("com.tencent.xin", "recovered") in found(results)


@pytest.mark.parametrize("data", [
    b"com.apple.Pages Pages 13.1\nnot an app line\n\xff\xfe\ncom.tencent.xin WeChat 8.0.50\n",
    b"com.apple.Pages\nnot an app line\ncom.tencent.xin WeChat\n",
])
def test_junk_lines_are_counted_and_the_device_is_partial(data):
    inv = one(data)
    assert inv.status == "partial" and inv.reason == "bad-lines" and inv.problem_count >= 1


@pytest.mark.parametrize("record", [
    "not an object", {"CFBundleName": "Ghost"}, {"CFBundleIdentifier": ""},
    {"CFBundleIdentifier": "com.tencent.xin\u202e"}, {"CFBundleIdentifier": 7},
])
def test_a_go_ios_record_that_cannot_be_read_is_counted(record):
    doc = [{"CFBundleIdentifier": "com.apple.Pages", "CFBundleName": "Pages"}, record]
    inv = one(json.dumps(doc).encode(), "apps.json")
    assert inv.status == "partial" and inv.reason == "bad-records" and [a.id for a in inv.apps] == ["com.apple.Pages"]


def test_empty_listings_are_never_a_clean_device():
    assert one(b"[]", "apps.json").reason == "empty"
    assert one(b'{"Event": "ListBundleId", "Apps": {}}', "apps.json").reason == "empty"
    assert one(b"com.apple.Pages\n").status == "complete"


def test_a_file_of_only_a_tool_error_is_a_tool_error():
    inv = one(b"ERROR: Could not connect to lockdownd, error code -8\n")
    assert inv.status == "failed" and inv.reason == "tool-error"


# --- a property, as in test_fuzzed_inputs.py -----------------------------------------------------

_IDS = st.from_regex(r"\A(com|cn|jp)\.[a-z][a-z0-9]{0,8}\.[A-Za-z][A-Za-z0-9]{0,8}\Z")
_NAMES = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
_VERSIONS = st.from_regex(r"\A[0-9]{1,3}(\.[0-9]{1,3}){0,2}\Z")


@st.composite
def _listing(draw: st.DrawFn) -> tuple[str, bytes, list[tuple[str, str, str]]]:
    fmt = draw(st.sampled_from(["tidevice", "ios_deploy", "go_ios"]))
    records = draw(st.lists(st.tuples(_IDS, _NAMES, _VERSIONS), min_size=1, max_size=6, unique_by=lambda r: r[0]))
    if fmt == "tidevice":
        data = "".join(f"{i} {n} {v}\n" for i, n, v in records).encode()
    elif fmt == "ios_deploy":
        data = "".join(f"{i}\n" for i, _, _ in records).encode()
    else:
        data = json.dumps([{"CFBundleIdentifier": i, "CFBundleDisplayName": n, "CFBundleShortVersionString": v}
                           for i, n, v in records], ensure_ascii=False).encode()
    return fmt, data, records


PROPERTY = settings(max_examples=200, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(_listing(), st.data())
def test_generated_and_mutated_listings_never_read_complete_what_they_lost(listing, data):
    """A clean listing reads back exactly (complete when every name is printable text, for line formats);
    a mutant (cut, a hostile character inserted, two lines joined) never raises, and a device it reads
    as complete lists every original id that is still whole on a line of its own (or in its JSON)."""
    fmt, clean, records = listing
    inv = one(clean, "apps.json" if fmt == "go_ios" else "apps.txt")
    # (a dot in a name may make it look like a second record: such a line is then rightly a bad line)
    printable = all(n.isprintable() and n.strip() == n and "." not in n for _, n, _ in records)
    if fmt != "tidevice" or printable:
        assert inv.status == "complete", (clean, inv.problems)
        assert [a.id for a in inv.apps] == [i for i, _, _ in records]
    mutant = bytearray(clean)
    op = data.draw(st.sampled_from(["truncate", "insert", "join"]))
    at = data.draw(st.integers(min_value=0, max_value=len(mutant) - 1))
    if op == "truncate":
        del mutant[at:]
    elif op == "insert":
        mutant[at:at] = data.draw(st.sampled_from([b"\x00", b"\x1b", "\u202e".encode(), b"\r", b"\n", b" "]))
    elif b"\n" in mutant[at:-1]:
        del mutant[mutant.index(b"\n", at)]
    results = read(bytes(mutant), "apps.json" if fmt == "go_ios" else "apps.txt")
    assert len(results) == 1
    (got,) = results
    if got.status != "complete":
        return
    listed = {a.id for a in got.apps}
    lines = bytes(mutant).split(b"\n")
    for app_id, name, version in records:
        if fmt == "go_ios":
            if f'"CFBundleIdentifier": "{app_id}"'.encode() in mutant:
                assert app_id in listed
        elif fmt == "ios_deploy":
            if app_id.encode() in lines[:-1]:
                assert app_id in listed
        elif f"{app_id} {name} {version}".encode() in lines[:-1]:
            assert app_id in listed
